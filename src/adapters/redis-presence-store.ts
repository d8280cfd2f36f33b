/**
 * The Redis presence store: a hash per room in the room's slot, and the owners' heartbeats in one
 * sorted set (src/adapters/redis-presence-scripts.ts). Every call is one round trip.
 */
import type { Cluster, Redis } from 'ioredis';
import type { PresenceMark } from '../domain/room.js';
import type { PresenceChange, PresenceStore } from '../ports/presence-store.js';
import type { RedisKeys } from './redis-keys.js';
import {
  claimStaleScript,
  forgetScript,
  heartbeatScript,
  holdScript,
  registerScript,
  releaseOwnerScript,
  releaseScript,
} from './redis-presence-scripts.js';
import { storeCall } from './redis-room-store.js';

export interface RedisPresenceOptions {
  /** The command connection (fails fast while Redis is away; see src/adapters/index.ts). */
  client: Redis | Cluster;
  keys: RedisKeys;
  /** Seconds a room's presence hash lives after its last hold: the room's own TTL. */
  ttlSeconds: number;
  /** STORE_TIMEOUT_MS: a call still unanswered by then fails with STORE_UNAVAILABLE (bounds a Cluster's retries). */
  timeoutMs?: number;
  /** On a Redis Cluster: the owner's room list and the room's presence hash are on different shards. */
  cluster?: boolean;
}

type Reply = Array<string | number>;
interface ScriptedClient {
  crPresenceHold(key: string, userId: string, owner: string, ttl: number): Promise<Reply>;
  crPresenceRelease(key: string, userId: string, owner: string): Promise<Reply>;
  crPresenceReleaseOwner(key: string, owner: string): Promise<string[]>;
  crPresenceRegister(owners: string, owner: string): Promise<number>;
  crPresenceHeartbeat(owners: string, claims: string, owner: string): Promise<number>;
  crPresenceClaimStale(owners: string, claims: string, staleMs: number, max: number): Promise<string[]>;
  crPresenceForget(owners: string, claims: string, rooms: string, owner: string): Promise<number>;
}

export class RedisPresenceStore implements PresenceStore {
  private readonly scripts: ScriptedClient;

  constructor(private readonly options: RedisPresenceOptions) {
    const { client } = options;
    client.defineCommand('crPresenceHold', { numberOfKeys: 1, lua: holdScript });
    client.defineCommand('crPresenceRelease', { numberOfKeys: 1, lua: releaseScript });
    client.defineCommand('crPresenceReleaseOwner', { numberOfKeys: 1, lua: releaseOwnerScript });
    client.defineCommand('crPresenceRegister', { numberOfKeys: 1, lua: registerScript });
    client.defineCommand('crPresenceHeartbeat', { numberOfKeys: 2, lua: heartbeatScript });
    client.defineCommand('crPresenceClaimStale', { numberOfKeys: 2, lua: claimStaleScript });
    client.defineCommand('crPresenceForget', { numberOfKeys: 3, lua: forgetScript });
    this.scripts = client as unknown as ScriptedClient;
  }

  private call<T>(run: () => Promise<T>): Promise<T> {
    return storeCall(run, this.options.timeoutMs);
  }

  async hold(transactionId: string, userId: string, owner: string): Promise<PresenceChange> {
    const { client, keys, ttlSeconds } = this.options;
    if (this.options.cluster) {
      // The two keys live on different shards, which keep no order between them: list the room first.
      await this.call(() => client.sadd(keys.presenceRooms(owner), transactionId));
      return change(await this.call(() => this.scripts.crPresenceHold(keys.presence(transactionId), userId, owner, ttlSeconds)));
    }
    // Sent together (one write with auto-pipelining, in this order on one node): a crash can leave the
    // room listed without a hold, which a sweep skips, but never a hold that no sweep would find.
    const [, reply] = await this.call(() =>
      Promise.all([
        client.sadd(keys.presenceRooms(owner), transactionId),
        this.scripts.crPresenceHold(keys.presence(transactionId), userId, owner, ttlSeconds),
      ]),
    );
    return change(reply);
  }

  async release(transactionId: string, userId: string, owner: string): Promise<PresenceChange> {
    return change(await this.call(() => this.scripts.crPresenceRelease(this.options.keys.presence(transactionId), userId, owner)));
  }

  async dropRoom(owner: string, transactionId: string): Promise<void> {
    await this.call(() => this.options.client.srem(this.options.keys.presenceRooms(owner), transactionId));
  }

  async read(transactionId: string, userIds: readonly string[]): Promise<PresenceMark[]> {
    if (userIds.length === 0) return [];
    const fields = userIds.flatMap((id) => [`n:${id}`, `s:${id}`]);
    const values = await this.call(() => this.options.client.hmget(this.options.keys.presence(transactionId), ...fields));
    return userIds.map((_, i) => ({ online: Number(values[2 * i] ?? 0) > 0, seq: Number(values[2 * i + 1] ?? 0) }));
  }

  async register(owner: string): Promise<void> {
    await this.call(() => this.scripts.crPresenceRegister(this.options.keys.presenceOwners, owner));
  }

  async heartbeat(owner: string): Promise<boolean> {
    const { keys } = this.options;
    return (await this.call(() => this.scripts.crPresenceHeartbeat(keys.presenceOwners, keys.presenceClaims, owner))) === 1;
  }

  async claimStale(staleMs: number, max: number): Promise<string[]> {
    const { keys } = this.options;
    return this.call(() => this.scripts.crPresenceClaimStale(keys.presenceOwners, keys.presenceClaims, staleMs, max));
  }

  async roomsOf(owner: string): Promise<string[]> {
    return this.call(() => this.options.client.smembers(this.options.keys.presenceRooms(owner)));
  }

  async releaseOwner(transactionId: string, owner: string): Promise<string[]> {
    return this.call(() => this.scripts.crPresenceReleaseOwner(this.options.keys.presence(transactionId), owner));
  }

  async forget(owner: string): Promise<void> {
    const { keys } = this.options;
    await this.call(() => this.scripts.crPresenceForget(keys.presenceOwners, keys.presenceClaims, keys.presenceRooms(owner), owner));
  }
}

function change(reply: Reply): PresenceChange {
  return { mark: { online: Number(reply[0]) === 1, seq: Number(reply[1]) }, flipped: Number(reply[2]) === 1 };
}
