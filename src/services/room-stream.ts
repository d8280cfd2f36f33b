/**
 * One conflictRoomEvents subscription: every event after a version, then live events, each exactly
 * once and in version order. Live delivery is confirmed before the log is read, so nothing committed
 * in between is missed; versions already sent are dropped; a gap in live delivery, a batch of another
 * epoch or a reconnected bus is settled from the log; a history that cannot be replayed becomes one
 * RoomSnapshot.
 *
 * Events go to a sink, synchronously in the common case (a live batch that follows what was sent), so
 * a transport can write them straight to the client: one room event costs no promise per subscriber.
 * Transports that want an AsyncIterable iterate the RoomStreamSource instead.
 */
import type { EventBatch, RoomEvent } from '../domain/events.js';
import { type RoomState, roomView } from '../domain/room.js';
import { DomainError, ErrorCode, SlowConsumerError, StoreUnavailableError } from '../errors.js';
import type { RoomEvents } from '../ports/room-events.js';
import type { RoomStore } from '../ports/room-store.js';
import type { PresenceTracker } from './presence.js';

/** Ends a stream with an error the client can read, instead of tearing down its connection. */
export interface StreamFailure {
  type: 'StreamFailure';
  error: unknown;
}

export interface RoomStreamSink {
  /** The next event, in version order. */
  event(event: RoomEvent): void;
  /** The stream ended with this error; nothing follows. */
  fail(error: unknown): void;
}

export interface RoomStreamDeps {
  store: RoomStore;
  events: RoomEvents;
  presence: PresenceTracker;
  onError(error: unknown, context: string): void;
  /** Called as a stream starts (metrics); the returned function is called once when it closes. */
  onStreamOpen?(): () => void;
}

export interface RoomStreamRequest {
  transactionId: string;
  userId: string;
  /** Unset: live events from now on. */
  afterVersion?: number;
  epoch?: string;
  /** Epoch ms when the subscriber's credentials expire: the stream then ends with UNAUTHENTICATED. */
  endsAt?: number;
}

/** Events waiting for a slow iterating consumer before the stream gives up on it (it can resume). */
const maxQueuedEvents = 10_000;

/** A subscription not yet running: start it with a sink, or iterate it. */
export class RoomStreamSource implements AsyncIterable<RoomEvent | StreamFailure> {
  constructor(
    private readonly deps: RoomStreamDeps,
    readonly request: RoomStreamRequest,
  ) {}

  start(sink: RoomStreamSink): { close(): void } {
    return new RoomStream(this.deps, this.request, sink);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<RoomEvent | StreamFailure> {
    const queue: Array<RoomEvent | StreamFailure> = [];
    let waiter: (() => void) | undefined;
    let ended = false;
    const wake = () => {
      waiter?.();
      waiter = undefined;
    };
    const stream = this.start({
      event: (event) => {
        if (queue.length >= maxQueuedEvents) {
          stream.close();
          queue.push({ type: 'StreamFailure', error: new SlowConsumerError() });
          ended = true;
        } else queue.push(event);
        wake();
      },
      fail: (error) => {
        queue.push({ type: 'StreamFailure', error });
        ended = true;
        wake();
      },
    });
    const iterator: AsyncIterableIterator<RoomEvent | StreamFailure> = {
      [Symbol.asyncIterator]: () => iterator,
      async next() {
        while (queue.length === 0) {
          if (ended) return { done: true, value: undefined };
          await new Promise<void>((resolve) => (waiter = resolve));
        }
        return { done: false, value: queue.shift()! };
      },
      async return() {
        ended = true;
        stream.close();
        wake();
        return { done: true, value: undefined };
      },
    };
    return iterator;
  }
}

class RoomStream {
  private lastVersion: number;
  /** '' while unknown: a room never written has no epoch yet. */
  private epoch: string;
  private readonly pending: EventBatch[] = [];
  private needCatchUp = false;
  private running = false;
  private opened = false;
  private closed = false;
  private acquired = false;
  private unsubscribe: (() => void) | undefined;
  private expiry: ReturnType<typeof setTimeout> | undefined;
  private readonly onStreamClose: (() => void) | undefined;

  constructor(
    private readonly deps: RoomStreamDeps,
    private readonly request: RoomStreamRequest,
    private readonly sink: RoomStreamSink,
  ) {
    this.lastVersion = request.afterVersion ?? 0;
    this.epoch = request.epoch ?? '';
    this.onStreamClose = deps.onStreamOpen?.();
    if (request.endsAt !== undefined) this.endAt(request.endsAt);
    this.kick();
  }

  /** Nothing streams past the credentials' life; a later deadline than a timer can hold is re-armed. */
  private endAt(deadline: number): void {
    const delay = deadline - Date.now();
    const maxDelay = 2 ** 31 - 1;
    this.expiry = setTimeout(
      () => (delay > maxDelay ? this.endAt(deadline) : this.fail(new DomainError(ErrorCode.Unauthenticated, 'The token has expired: get a new one, then resume.'))),
      Math.max(0, Math.min(delay, maxDelay)),
    );
    this.expiry.unref?.();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onStreamClose?.();
    clearTimeout(this.expiry);
    this.unsubscribe?.();
    if (this.acquired) this.deps.presence.release(this.request.transactionId, this.request.userId);
  }

  private onBatch(batch: EventBatch): void {
    if (this.closed) return;
    // The common case, with nothing in the way: deliver now, synchronously.
    if (!this.running && this.pending.length === 0 && this.deliverIfNext(batch)) return;
    this.pending.push(batch);
    this.kick();
  }

  private onResync(): void {
    if (this.closed) return;
    this.needCatchUp = true;
    this.kick();
  }

  private kick(): void {
    if (!this.running) void this.run();
  }

  /** The only place that awaits: opening, catching up, and the batches that arrived meanwhile, in order. */
  private async run(): Promise<void> {
    this.running = true;
    try {
      if (!this.opened) {
        await this.open();
        this.opened = true;
      }
      while (!this.closed) {
        if (this.needCatchUp) {
          this.needCatchUp = false;
          await this.catchUpPatiently();
          continue;
        }
        const batch = this.pending.shift();
        if (!batch) break;
        if (this.deliverIfNext(batch)) continue;
        // Another epoch means the room started over; a jump means a lost message. The log settles both.
        await this.catchUpPatiently();
        if (batch.epoch === this.epoch) this.deliver(batch.events);
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.running = false;
    }
  }

  private async open(): Promise<void> {
    const { store, events, presence } = this.deps;
    const { transactionId, userId, afterVersion } = this.request;
    this.unsubscribe = await events.subscribe(transactionId, {
      onBatch: (batch) => this.onBatch(batch),
      onResync: () => this.onResync(),
    });
    if (this.closed) return this.unsubscribe();
    if (afterVersion !== undefined) {
      await this.catchUp();
    } else {
      const { room } = await store.load(transactionId);
      this.lastVersion = room.version;
      if (room.version > 0) this.epoch = room.epoch;
    }
    if (this.closed) return;
    this.acquired = true;
    presence.acquire(transactionId, userId);
  }

  /** Delivers the batch when it follows what was sent (in this epoch); false when the log must be read first. */
  private deliverIfNext(batch: EventBatch): boolean {
    const first = batch.events[0];
    if (!first) return true;
    if ((this.epoch && batch.epoch !== this.epoch) || first.version > this.lastVersion + 1) return false;
    if (!this.epoch) this.epoch = batch.epoch;
    this.deliver(batch.events);
    return true;
  }

  private deliver(list: readonly RoomEvent[]): void {
    for (const event of list) {
      if (this.closed) return;
      if (event.version <= this.lastVersion) continue;
      this.lastVersion = event.version;
      this.sink.event(event);
    }
  }

  private async catchUp(): Promise<void> {
    const { transactionId } = this.request;
    const read = await this.deps.store.readSince(transactionId, this.lastVersion, this.epoch || undefined);
    if (this.closed) return;
    if (read.kind === 'snapshot') return this.sendSnapshot(read.room);
    if (read.epoch) this.epoch = read.epoch;
    this.deliver(read.events);
  }

  /** After a lost connection the command client may come back a moment after the subscriber: retry for about ten seconds. */
  private async catchUpPatiently(): Promise<void> {
    for (let attempt = 0, delay = 100; ; attempt++, delay = Math.min(delay * 2, 2000)) {
      try {
        return await this.catchUp();
      } catch (error) {
        if (!(error instanceof StoreUnavailableError) || attempt >= 7 || this.closed) throw error;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  private sendSnapshot(room: RoomState): void {
    this.lastVersion = room.version;
    this.epoch = room.epoch;
    const view = roomView(room);
    this.sink.event({ type: 'RoomSnapshot', transactionId: room.transactionId, version: view.version, at: new Date().toISOString(), userId: null, room: view });
  }

  private fail(error: unknown): void {
    if (this.closed) return;
    if (!(error instanceof StoreUnavailableError) && !(error instanceof DomainError)) this.deps.onError(error, 'room event stream');
    this.close();
    this.sink.fail(error);
  }
}
