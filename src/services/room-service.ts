/**
 * Runs commands against rooms: the rules from src/domain/rules.ts on the room as stored, committed
 * with a compare-and-set. The room last seen by this instance is cached, so a mutation costs one store
 * round trip when nothing else wrote the room meanwhile; when something did, the commit's reply carries
 * the room as it is and the command is decided again.
 */
import { DomainError, ErrorCode, StoreUnavailableError } from '../errors.js';
import type { Limits } from '../domain/limits.js';
import { noPresence, type RoomView, roomView } from '../domain/room.js';
import { decide, type RoomCommand, type UserPresence } from '../domain/rules.js';
import type { PresenceStore } from '../ports/presence-store.js';
import type { CommitResult, HistoryPage, RequestKey, RoomCommit, RoomStore, StoredRoom } from '../ports/room-store.js';
import type { RateLimit } from './rate-limit.js';

export interface RoomServiceOptions {
  store: RoomStore;
  /** Where joins read the caller's presence, and sweeps every participant's. */
  presence: PresenceStore;
  limits: Limits;
  /** Applied to every user command, not to presence. */
  rateLimit?: RateLimit;
  /** Called after a commit that resolved a room (the resolution webhook's worker looks at once). */
  onResolved?(transactionId: string): void;
  /**
   * Called after every commit sent to the store (metrics): its status ('error' when it threw), its
   * duration, and whether it was a retry after a conflict.
   */
  onCommit?(status: 'committed' | 'conflict' | 'duplicate' | 'error', seconds: number, retry: boolean): void;
  /** Rooms whose last state is cached. Default 10,000. */
  cacheSize?: number;
  /** Decisions tried before giving up under contention. Default 50. */
  maxAttempts?: number;
  now?: () => Date;
}

/** A room this instance saw last, with its view made at most once. */
type CachedRoom = StoredRoom & { view?: RoomView };

export interface ExecuteOptions {
  requestId?: string;
  /** False for what the server does on the user's behalf (presence). Default true. */
  rateLimited?: boolean;
}

export class RoomService {
  private readonly cache = new Map<string, CachedRoom>();
  /** Commands of one room run one after another on this instance: concurrent ones would only conflict. */
  private readonly tails = new Map<string, Promise<unknown>>();
  /** When a command of the room last found the store unavailable: those queued before then fail at once. */
  private readonly unavailableAt = new Map<string, number>();

  constructor(private readonly options: RoomServiceOptions) {}

  /**
   * The room as stored now: this is how clients sync, so the store is always asked, but when the room
   * is still the one this instance has, no state moves and the view already made is returned again.
   */
  async room(transactionId: string): Promise<RoomView> {
    const cached = this.cache.get(transactionId);
    if (cached && cached.revision > 0) {
      const changed = await this.options.store.loadIfChanged(transactionId, cached.revision, cached.room.epoch);
      if (!changed) return this.viewOf(cached);
      this.remember(transactionId, changed);
      return this.viewOf(this.cache.get(transactionId)!);
    }
    const stored = await this.options.store.load(transactionId);
    if (stored.revision === 0) return roomView(stored.room);
    this.remember(transactionId, stored);
    return this.viewOf(this.cache.get(transactionId)!);
  }

  /** A page of the room's history; an untouched room reports the provisional epoch `room()` would. */
  async history(transactionId: string, afterVersion: number, first: number): Promise<HistoryPage> {
    const page = await this.options.store.readHistory(transactionId, afterVersion, first);
    if (page.version > 0) return page;
    return { ...page, epoch: (await this.room(transactionId)).epoch };
  }

  private viewOf(entry: CachedRoom): RoomView {
    return (entry.view ??= roomView(entry.room));
  }

  /**
   * Joins with the caller's presence as counted now, so a watcher who subscribed first joins online.
   * A flip that raced the join (counted after the read, written before the join landed, so skipped as
   * not yet a participant) is read again afterwards and follows as its own PresenceChanged.
   */
  async join(transactionId: string, userId: string, userName: string): Promise<RoomView> {
    const { presence } = this.options;
    const [before = noPresence] = await presence.read(transactionId, [userId]);
    const joined = await this.execute(transactionId, userId, { kind: 'join', userName, presence: before });
    const [after = noPresence] = await presence.read(transactionId, [userId]);
    if (after.seq !== before.seq) await this.applyPresence(transactionId, [{ userId, ...after }]);
    return joined;
  }

  /** Writes presence marks into the room: PresenceChanged for each participant whose `online` flips. */
  applyPresence(transactionId: string, marks: readonly UserPresence[], byServer = false): Promise<RoomView> {
    const userId = marks[0]?.userId ?? '';
    return this.execute(transactionId, userId, { kind: 'presence', marks, byServer }, { rateLimited: false });
  }

  /** Every participant's mark as the presence store has it now, written into the room (after a sweep). */
  async syncPresence(transactionId: string): Promise<void> {
    const { room } = await this.options.store.load(transactionId);
    const userIds = room.participants.map((p) => p.userId);
    if (userIds.length === 0) return;
    const marks = await this.options.presence.read(transactionId, userIds);
    await this.applyPresence(transactionId, userIds.map((userId, i) => ({ userId, ...(marks[i] ?? noPresence) })), true);
  }

  /** Runs the user's command; resolves to the room right after it (or as it is, when it changed nothing). */
  async execute(transactionId: string, userId: string, command: RoomCommand, opts: ExecuteOptions = {}): Promise<RoomView> {
    if (opts.rateLimited !== false) await this.options.rateLimit?.(userId);
    const request = opts.requestId ? { userId, requestId: opts.requestId } : undefined;
    return this.serialized(transactionId, () => this.decideAndCommit(transactionId, userId, command, request));
  }

  private async decideAndCommit(
    transactionId: string,
    userId: string,
    command: RoomCommand,
    request: RequestKey | undefined,
  ): Promise<RoomView> {
    const { store, limits, maxAttempts = 50 } = this.options;
    let stored: StoredRoom | undefined = this.cache.get(transactionId);
    let fresh = false;
    let committedBefore = false;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      if (!stored) {
        stored = await store.load(transactionId, request);
        fresh = true;
        this.remember(transactionId, stored);
      }
      if (fresh && stored.requestDone) return roomView(stored.room);
      const now = (this.options.now?.() ?? new Date()).toISOString();
      let decision;
      try {
        decision = decide(stored.room, command, { userId, now, limits });
      } catch (error) {
        // A refusal must be judged on the room as stored, not on what this instance last saw.
        if (!fresh && error instanceof DomainError) {
          stored = undefined;
          continue;
        }
        throw error;
      }
      if (!decision.changed && !request) {
        if (fresh) return roomView(stored.room);
        // A no-op on the room this instance has (a watcher's presence, say): confirm it is current,
        // which moves no state when it is.
        const current = await store.loadIfChanged(transactionId, stored.revision, stored.room.epoch);
        if (!current) return this.viewOf(this.cache.get(transactionId) ?? { ...stored });
        stored = current;
        fresh = true;
        this.remember(transactionId, stored);
        continue;
      }
      const result = await this.timedCommit(
        {
          transactionId,
          baseRevision: stored.revision,
          room: decision.changed ? decision.room : null,
          events: decision.events,
          ...(request ? { request } : {}),
        },
        committedBefore,
      );
      committedBefore = true;
      if (result.status === 'committed') {
        this.remember(transactionId, { room: decision.room, revision: result.revision, requestDone: false });
        if (decision.events.some((e) => e.type === 'RoomResolved')) this.options.onResolved?.(transactionId);
        return roomView(decision.room);
      }
      stored = result.current;
      fresh = true;
      this.remember(transactionId, stored);
      if (result.status === 'duplicate') return roomView(stored.room);
      // Another instance keeps winning the race for this room: step aside for a random moment.
      if (attempt >= 2) await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(2 ** attempt, 50)));
    }
    throw new DomainError(ErrorCode.StoreUnavailable, 'The room is changing too fast to apply this change; nothing was written. Retry.');
  }

  private async timedCommit(commit: RoomCommit, retry: boolean): Promise<CommitResult> {
    const { store, onCommit } = this.options;
    if (!onCommit) return store.commit(commit);
    const started = performance.now();
    try {
      const result = await store.commit(commit);
      onCommit(result.status, (performance.now() - started) / 1000, retry);
      return result;
    } catch (error) {
      onCommit('error', (performance.now() - started) / 1000, retry);
      throw error;
    }
  }

  private remember(transactionId: string, stored: StoredRoom): void {
    // Map order is insertion order: delete-then-set keeps the most recently used rooms last.
    this.cache.delete(transactionId);
    this.cache.set(transactionId, { ...stored, requestDone: false });
    if (this.cache.size > (this.options.cacheSize ?? 10_000)) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
  }

  private serialized<T>(transactionId: string, run: () => Promise<T>): Promise<T> {
    const enqueuedAt = Date.now();
    const guarded = async () => {
      // Waiting behind a command that timed out must not add another timeout to this one.
      if ((this.unavailableAt.get(transactionId) ?? -1) >= enqueuedAt) throw new StoreUnavailableError('queued behind a failed command');
      try {
        return await run();
      } catch (error) {
        if (error instanceof StoreUnavailableError) {
          this.unavailableAt.set(transactionId, Date.now());
          // The write may have landed after all: next time, read the room again.
          this.cache.delete(transactionId);
        }
        throw error;
      }
    };
    const previous = this.tails.get(transactionId) ?? Promise.resolve();
    const result = previous.then(guarded, guarded);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(transactionId, tail);
    void tail.then(() => {
      if (this.tails.get(transactionId) !== tail) return;
      this.tails.delete(transactionId);
      this.unavailableAt.delete(transactionId);
    });
    return result;
  }
}
