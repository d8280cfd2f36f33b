/**
 * The Redis resolution outbox. Each resolution's entry lives in its room's slot
 * (`cr:{tx}:outbox:<epoch>`, written by the commit that resolves); the global index of deliveries to
 * make, their attempt counts and the failed ones live in the `{outbox}` slot. Claims touch only the
 * `{outbox}` keys; settling touches the entry too (one script on a single Redis: see the README for
 * how each step splits on a Cluster).
 */
import type { Cluster, Redis } from 'ioredis';
import type { ClaimedDelivery, FailedDelivery, ResolutionOutbox } from '../ports/resolution-outbox.js';
import { parseOutboxMember, type RedisKeys } from './redis-keys.js';
import { claimScript, deliveredScript, failedScript, requeueScript, retryLaterScript } from './redis-outbox-scripts.js';
import { storeCall } from './redis-room-store.js';

export interface RedisOutboxOptions {
  /** The command connection (fails fast while Redis is away; see src/adapters/index.ts). */
  client: Redis | Cluster;
  keys: RedisKeys;
  /** Seconds a delivered entry is kept for audits: the room's own TTL. */
  ttlSeconds: number;
  /** STORE_TIMEOUT_MS: a call still unanswered by then fails with STORE_UNAVAILABLE (bounds a Cluster's retries). */
  timeoutMs?: number;
}

interface ScriptedClient {
  crOutboxClaim(due: string, attempts: string, max: number, leaseMs: number): Promise<Array<string | number>>;
  crOutboxDelivered(due: string, attempts: string, entry: string, member: string, lease: number, ttl: number): Promise<number>;
  crOutboxRetryLater(due: string, attempts: string, entry: string, member: string, lease: number, delayMs: number, error: string): Promise<number>;
  crOutboxFailed(due: string, attempts: string, failed: string, entry: string, member: string, lease: number, error: string): Promise<number>;
  crOutboxRequeue(due: string, attempts: string, failed: string, entry: string, member: string): Promise<number>;
}

export class RedisResolutionOutbox implements ResolutionOutbox {
  protected readonly scripts: ScriptedClient;

  constructor(protected readonly options: RedisOutboxOptions) {
    const { client } = options;
    client.defineCommand('crOutboxClaim', { numberOfKeys: 2, lua: claimScript });
    client.defineCommand('crOutboxDelivered', { numberOfKeys: 3, lua: deliveredScript });
    client.defineCommand('crOutboxRetryLater', { numberOfKeys: 3, lua: retryLaterScript });
    client.defineCommand('crOutboxFailed', { numberOfKeys: 4, lua: failedScript });
    client.defineCommand('crOutboxRequeue', { numberOfKeys: 4, lua: requeueScript });
    this.scripts = client as unknown as ScriptedClient;
  }

  protected call<T>(run: () => Promise<T>): Promise<T> {
    return storeCall(run, this.options.timeoutMs);
  }

  async claimDue(max: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    const { keys, client } = this.options;
    const reply = await this.call(() => this.scripts.crOutboxClaim(keys.outboxDue, keys.outboxAttempts, max, leaseMs));
    const claims: ClaimedDelivery[] = [];
    for (let i = 0; i + 2 < reply.length; i += 3) {
      const key = String(reply[i]);
      const { transactionId, epoch } = parseOutboxMember(key);
      const [webhookId, body, state] = await this.call(() => client.hmget(keys.outboxEntry(transactionId, epoch), 'id', 'body', 'state'));
      const claim = { key, transactionId, epoch, webhookId: webhookId ?? '', body: body ?? '', attempt: Number(reply[i + 2]), lease: Number(reply[i + 1]) };
      // Delivered already (the holder died between the two steps of a Cluster settle), or lost with its
      // data: nothing to send; settle it so that nobody claims it again.
      if (state !== 'pending' || !webhookId || body === null) {
        await this.delivered(claim);
        continue;
      }
      claims.push(claim);
    }
    return claims;
  }

  async delivered(claim: ClaimedDelivery): Promise<boolean> {
    const { keys, ttlSeconds } = this.options;
    const entry = keys.outboxEntry(claim.transactionId, claim.epoch);
    return (await this.call(() => this.scripts.crOutboxDelivered(keys.outboxDue, keys.outboxAttempts, entry, claim.key, claim.lease, ttlSeconds))) === 1;
  }

  async retryLater(claim: ClaimedDelivery, delayMs: number, error: string): Promise<boolean> {
    const { keys } = this.options;
    const entry = keys.outboxEntry(claim.transactionId, claim.epoch);
    return (
      (await this.call(() =>
        this.scripts.crOutboxRetryLater(keys.outboxDue, keys.outboxAttempts, entry, claim.key, claim.lease, Math.max(0, Math.round(delayMs)), error),
      )) === 1
    );
  }

  async failed(claim: ClaimedDelivery, error: string): Promise<boolean> {
    const { keys } = this.options;
    const entry = keys.outboxEntry(claim.transactionId, claim.epoch);
    return (
      (await this.call(() => this.scripts.crOutboxFailed(keys.outboxDue, keys.outboxAttempts, keys.outboxFailed, entry, claim.key, claim.lease, error))) === 1
    );
  }

  async listFailed(max: number): Promise<FailedDelivery[]> {
    const { keys, client } = this.options;
    const members = await this.call(() => client.zrevrange(keys.outboxFailed, 0, max - 1));
    const out: FailedDelivery[] = [];
    for (const key of members) {
      const { transactionId, epoch } = parseOutboxMember(key);
      const [id, attempts, lastError, at] = await this.call(() => client.hmget(keys.outboxEntry(transactionId, epoch), 'id', 'attempts', 'lastError', 'at'));
      out.push({
        key,
        transactionId,
        epoch,
        webhookId: id ?? '',
        attempts: Number(attempts ?? 0),
        failedAt: new Date(Number(at ?? 0)).toISOString(),
        lastError: lastError ?? '',
      });
    }
    return out;
  }

  async requeue(key: string): Promise<boolean> {
    const { keys } = this.options;
    const { transactionId, epoch } = parseOutboxMember(key);
    const entry = keys.outboxEntry(transactionId, epoch);
    return (await this.call(() => this.scripts.crOutboxRequeue(keys.outboxDue, keys.outboxAttempts, keys.outboxFailed, entry, key))) === 1;
  }

  async pendingCount(): Promise<number> {
    return this.call(() => this.options.client.zcard(this.options.keys.outboxDue));
  }
}
