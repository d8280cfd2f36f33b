/**
 * The Redis store: one Lua script per operation (src/adapters/redis-scripts.ts), so each load, commit and
 * log read is a single round trip and each commit is atomic across instances.
 */
import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { RoomEvent } from '../domain/events.js';
import { resolutionOf } from '../domain/resolution.js';
import { emptyRoom, type RoomState } from '../domain/room.js';
import { DomainError, StoreUnavailableError } from '../errors.js';
import type { CommitResult, HistoryPage, LogRead, RequestKey, RoomCommit, RoomStore, StoredRoom } from '../ports/room-store.js';
import { outboxMember, type RedisKeys } from './redis-keys.js';
import { clusterCommitScript, commitScript, loadIfChangedScript, loadScript, readHistoryScript, readSinceScript } from './redis-scripts.js';

export interface RedisStoreOptions {
  /** The command connection (never the subscriber). Built with `enableOfflineQueue: false` and a `commandTimeout`, so an unreachable Redis fails fast. */
  client: Redis | Cluster;
  keys: RedisKeys;
  /** Seconds a room (hash and log) lives after its last write. */
  ttlSeconds: number;
  /** How far back a resume reaches (events); further back it gets a snapshot. */
  eventLogLength: number;
  /** Events kept per room as its history (approximately, at least this many). Default and minimum: eventLogLength. */
  historyMaxEvents?: number;
  /** Record every resolution in the webhook outbox, in the commit that resolves. Default false. */
  recordResolutions?: boolean;
  /** Seconds a succeeded requestId is remembered. */
  requestIdTtlSeconds: number;
  /** The client's commandTimeout: a commit still unexecuted this long after it was sent writes nothing. */
  timeoutMs: number;
  newEpoch?: () => string;
  /** On a Redis Cluster: SPUBLISH, and the outbox index written after the commit (another shard). Default false. */
  cluster?: boolean;
}

type Reply = Array<string | number | null>;
interface ScriptedClient {
  crLoad(room: string, request: string, hasRequest: string): Promise<Reply>;
  crCommit(...keysAndArgs: Array<string | number>): Promise<Reply>;
  crReadSince(room: string, log: string, afterVersion: number, epoch: string, logLength: number): Promise<Reply>;
  crReadHistory(room: string, log: string, afterVersion: number, first: number): Promise<Reply>;
  crLoadIfChanged(room: string, revision: number, epoch: string): Promise<Reply>;
}

// Replies that mean "not now" rather than "your script is wrong".
const unavailableReply = /^(LOADING|READONLY|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|BUSY)\b/;

export class RedisRoomStore implements RoomStore {
  private readonly scripts: ScriptedClient;
  private readonly newEpoch: () => string;

  constructor(private readonly options: RedisStoreOptions) {
    const { client } = options;
    client.defineCommand('crLoad', { numberOfKeys: 2, lua: loadScript });
    client.defineCommand('crCommit', { numberOfKeys: 5, lua: options.cluster ? clusterCommitScript : commitScript });
    client.defineCommand('crReadSince', { numberOfKeys: 2, lua: readSinceScript });
    client.defineCommand('crReadHistory', { numberOfKeys: 2, lua: readHistoryScript });
    client.defineCommand('crLoadIfChanged', { numberOfKeys: 1, lua: loadIfChangedScript });
    this.scripts = client as unknown as ScriptedClient;
    this.newEpoch = options.newEpoch ?? (() => randomUUID());
    client.on('ready', () => void this.measureClock());
    if (client.status === 'ready') void this.measureClock();
  }

  /** Redis's clock minus ours, so that commit deadlines can be read on Redis's clock. */
  private clockOffsetMs = 0;

  private async measureClock(): Promise<void> {
    try {
      const before = Date.now();
      const [seconds, micros] = await this.options.client.time();
      const after = Date.now();
      this.clockOffsetMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - (before + after) / 2;
    } catch {
      // Measured again at the next 'ready'.
    }
  }

  /** When a commit sent now must have run by, on Redis's clock: before our own timeout, with a margin for the reply. */
  private deadline(): number {
    const { timeoutMs } = this.options;
    return Math.round(Date.now() + this.clockOffsetMs + timeoutMs - Math.min(300, timeoutMs / 4));
  }

  async load(transactionId: string, request?: RequestKey): Promise<StoredRoom> {
    const { keys } = this.options;
    const [state, rev, done] = await this.call(() =>
      this.scripts.crLoad(keys.room(transactionId), this.requestKey(transactionId, request), request ? '1' : '0'),
    );
    return { ...this.toStored(transactionId, (state as string | null) ?? null, rev ?? 0), requestDone: done === 1 };
  }

  async loadIfChanged(transactionId: string, revision: number, epoch: string): Promise<StoredRoom | null> {
    const reply = await this.call(() => this.scripts.crLoadIfChanged(this.options.keys.room(transactionId), revision, epoch));
    if (reply[0] === 'same') return null;
    return { ...this.toStored(transactionId, (reply[0] as string | null) ?? null, reply[1] ?? 0), requestDone: false };
  }

  async commit(commit: RoomCommit): Promise<CommitResult> {
    const { keys, ttlSeconds, eventLogLength, historyMaxEvents, requestIdTtlSeconds } = this.options;
    const { transactionId, room, events, request } = commit;
    const eventJson = events.map((event) => JSON.stringify(event));
    const resolution = this.options.recordResolutions ? resolutionOf(room, events) : null;
    const requestKey = this.requestKey(transactionId, request);
    // Each event is serialized once, here; the script splices the batch every instance receives from
    // the same strings (src/adapters/redis-scripts.ts), so an event is sent to Redis once, not twice.
    const batchEpoch = room && events.length > 0 ? JSON.stringify(room.epoch) : '';
    const reply = await this.call(() =>
      this.scripts.crCommit(
        keys.room(transactionId),
        keys.log(transactionId),
        requestKey,
        // Without a resolution the script still needs keys of the room's slot; they are never touched.
        resolution ? keys.outboxEntry(transactionId, resolution.epoch) : requestKey,
        resolution && !this.options.cluster ? keys.outboxDue : requestKey,
        commit.baseRevision,
        room ? JSON.stringify(room) : '',
        room?.version ?? 0,
        room?.epoch ?? '',
        ttlSeconds,
        Math.max(historyMaxEvents ?? 0, eventLogLength),
        keys.channel(transactionId),
        batchEpoch,
        requestIdTtlSeconds,
        request ? '1' : '0',
        this.deadline(),
        resolution?.webhookId ?? '',
        resolution?.body ?? '',
        resolution ? outboxMember(transactionId, resolution.epoch) : '',
        ...eventJson,
      ),
    );
    const [status, stateOrRev, rev] = reply;
    if (status === 'expired') throw new StoreUnavailableError('the commit reached Redis after its deadline; nothing was written');
    if (status === 'ok') {
      if (resolution && this.options.cluster) await this.indexResolution(outboxMember(transactionId, resolution.epoch));
      return { status: 'committed', revision: Number(stateOrRev) };
    }
    const current = { ...this.toStored(transactionId, (stateOrRev as string | null) ?? null, rev ?? 0), requestDone: status === 'duplicate' };
    return { status: status === 'duplicate' ? 'duplicate' : 'conflict', current };
  }

  /**
   * On a Cluster, the resolution's place in the `{outbox}` index, on another shard than the room. The
   * commit has happened whatever this does, so a failure is left to the outbox's repair pass (which
   * finds pending entries outside the index) rather than turned into an error that says nothing was written.
   */
  private async indexResolution(member: string): Promise<void> {
    const { client, keys, timeoutMs } = this.options;
    // Due now on Redis's clock; a second early, since the offset is measured to a round trip and a
    // claim made at once must find it.
    const due = Math.round(Date.now() + this.clockOffsetMs) - 1000;
    await storeCall(() => client.zadd(keys.outboxDue, 'NX', due, member), timeoutMs).catch(() => undefined);
  }

  async readSince(transactionId: string, afterVersion: number, epoch?: string): Promise<LogRead> {
    const { keys } = this.options;
    const reply = await this.call(() =>
      this.scripts.crReadSince(keys.room(transactionId), keys.log(transactionId), afterVersion, epoch ?? '', this.options.eventLogLength),
    );
    if (reply[0] === 'snapshot') {
      const state = reply[1] as string | null;
      return { kind: 'snapshot', room: state ? (JSON.parse(state) as RoomState) : emptyRoom(transactionId, this.newEpoch()) };
    }
    const events = reply.slice(3).map((json) => JSON.parse(json as string) as RoomEvent);
    return { kind: 'events', events, version: Number(reply[2]), epoch: String(reply[1] ?? '') };
  }

  async readHistory(transactionId: string, afterVersion: number, first: number): Promise<HistoryPage> {
    const { keys } = this.options;
    const reply = await this.call(() => this.scripts.crReadHistory(keys.room(transactionId), keys.log(transactionId), afterVersion, first));
    const version = Number(reply[1]);
    const events = reply.slice(2).map((json) => JSON.parse(json as string) as RoomEvent);
    // A log lost on its own (the room hash kept) returns nothing: no more to page through either.
    const last = events.at(-1)?.version;
    return { epoch: String(reply[0] ?? ''), version, events, hasMore: last !== undefined && last < version };
  }

  async close(): Promise<void> {
    // The client is injected: whoever made it closes it.
  }

  private toStored(transactionId: string, state: string | null, rev: string | number): Omit<StoredRoom, 'requestDone'> {
    if (!state) return { room: emptyRoom(transactionId, this.newEpoch()), revision: 0 };
    return { room: JSON.parse(state) as RoomState, revision: Number(rev) };
  }

  private requestKey(transactionId: string, request?: RequestKey): string {
    // Without a request the script still needs a key of the room's slot; it is never read.
    return request
      ? this.options.keys.request(transactionId, request.userId, request.requestId)
      : this.options.keys.request(transactionId, '', '');
  }

  /** Answers once Redis (every master of a Cluster) answers; throws StoreUnavailableError otherwise. */
  async ping(): Promise<void> {
    const { client, timeoutMs } = this.options;
    // A Cluster sends PING to one node: ask each master, so that a lost shard is not missed.
    const nodes = 'nodes' in client ? client.nodes('master') : [client];
    if (nodes.length === 0) throw new StoreUnavailableError('no Redis Cluster master known');
    await storeCall(() => Promise.all(nodes.map((node) => node.ping())), timeoutMs);
  }

  private call<T>(run: () => Promise<T>): Promise<T> {
    // A single Redis's commandTimeout bounds its calls already: no timer per call there.
    return storeCall(run, this.options.cluster ? this.options.timeoutMs : undefined);
  }
}

/**
 * Runs a Redis call; a Redis that cannot answer now becomes StoreUnavailableError, a script bug stays
 * itself. With timeoutMs, a call still unanswered by then fails too: a single Redis's commandTimeout
 * already does that, a Cluster's redirections and retries can outlast it.
 */
export async function storeCall<T>(run: () => Promise<T>, timeoutMs?: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    if (timeoutMs === undefined) return await run();
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreUnavailableError(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    const call = run();
    call.catch(() => undefined); // rejected after the timeout won: already answered
    return await Promise.race([call, timeout]);
  } catch (error) {
    if (error instanceof DomainError) throw error;
    const reply = error instanceof Error && error.name === 'ReplyError';
    if (reply && !unavailableReply.test((error as Error).message)) throw error;
    throw new StoreUnavailableError(error);
  } finally {
    clearTimeout(timer);
  }
}
