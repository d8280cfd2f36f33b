/**
 * The resolution outbox on a Redis Cluster. An entry lives in its room's slot and the index in the
 * `{outbox}` slot, on another shard, so no one script may touch both (README, "After the agreement"):
 * - the commit writes the entry; the committing instance adds it to the index right after;
 * - settling writes the entry first (fenced by reading the lease), then the index (fenced again): a
 *   holder dying in between leaves an index member whose entry is not pending, which the next claim
 *   drops without sending (RedisResolutionOutbox.claimDue);
 * - a requeue marks the entry pending first, then moves it from the failed set to the index;
 * - `repair()` puts back into the index every pending entry a crash left out of it (a late delivery,
 *   never a lost one). Claims already touch only `{outbox}` keys.
 */
import type { Cluster, Redis } from 'ioredis';
import type { ClaimedDelivery } from '../ports/resolution-outbox.js';
import { outboxMember, parseOutboxMember } from './redis-keys.js';
import {
  entrySettleScript,
  indexDeliveredScript,
  indexFailedScript,
  indexRequeueScript,
  indexRetryLaterScript,
} from './redis-outbox-scripts.js';
import { RedisResolutionOutbox, type RedisOutboxOptions } from './redis-resolution-outbox.js';

interface ClusterScripts {
  crOutboxIndexDelivered(due: string, attempts: string, member: string, lease: number): Promise<number>;
  crOutboxIndexRetryLater(due: string, attempts: string, member: string, lease: number, delayMs: number): Promise<number>;
  crOutboxIndexFailed(due: string, attempts: string, failed: string, member: string, lease: number): Promise<number>;
  crOutboxIndexRequeue(due: string, attempts: string, failed: string, member: string): Promise<number>;
  crOutboxEntrySettle(entry: string, state: string, attempts: number | string, lastError: string, ttl: number): Promise<number>;
}

export class ClusterResolutionOutbox extends RedisResolutionOutbox {
  private readonly cluster: ClusterScripts;

  constructor(options: RedisOutboxOptions) {
    super(options);
    const { client } = options;
    client.defineCommand('crOutboxIndexDelivered', { numberOfKeys: 2, lua: indexDeliveredScript });
    client.defineCommand('crOutboxIndexRetryLater', { numberOfKeys: 2, lua: indexRetryLaterScript });
    client.defineCommand('crOutboxIndexFailed', { numberOfKeys: 3, lua: indexFailedScript });
    client.defineCommand('crOutboxIndexRequeue', { numberOfKeys: 3, lua: indexRequeueScript });
    client.defineCommand('crOutboxEntrySettle', { numberOfKeys: 1, lua: entrySettleScript });
    this.cluster = client as unknown as ClusterScripts;
  }

  override async delivered(claim: ClaimedDelivery): Promise<boolean> {
    const { keys, ttlSeconds } = this.options;
    const attempts = await this.leasedAttempts(claim);
    if (attempts === null) return false;
    await this.call(() => this.cluster.crOutboxEntrySettle(this.entry(claim), 'delivered', attempts, '', ttlSeconds));
    return (await this.call(() => this.cluster.crOutboxIndexDelivered(keys.outboxDue, keys.outboxAttempts, claim.key, claim.lease))) === 1;
  }

  override async retryLater(claim: ClaimedDelivery, delayMs: number, error: string): Promise<boolean> {
    const { keys } = this.options;
    const delay = Math.max(0, Math.round(delayMs));
    const attempts = await this.call(() => this.cluster.crOutboxIndexRetryLater(keys.outboxDue, keys.outboxAttempts, claim.key, claim.lease, delay));
    if (attempts < 0) return false;
    // Only what an operator reads (attempts, lastError): the index already says when to try again.
    await this.call(() => this.cluster.crOutboxEntrySettle(this.entry(claim), '', attempts, error, 0));
    return true;
  }

  override async failed(claim: ClaimedDelivery, error: string): Promise<boolean> {
    const { keys } = this.options;
    const attempts = await this.leasedAttempts(claim);
    if (attempts === null) return false;
    await this.call(() => this.cluster.crOutboxEntrySettle(this.entry(claim), 'failed', attempts, error, 0));
    return (
      (await this.call(() => this.cluster.crOutboxIndexFailed(keys.outboxDue, keys.outboxAttempts, keys.outboxFailed, claim.key, claim.lease))) === 1
    );
  }

  override async requeue(key: string): Promise<boolean> {
    const { keys, client } = this.options;
    if ((await this.call(() => client.zscore(keys.outboxFailed, key))) === null) return false;
    const { transactionId, epoch } = parseOutboxMember(key);
    await this.call(() => this.cluster.crOutboxEntrySettle(keys.outboxEntry(transactionId, epoch), 'pending', 0, '', 0));
    return (await this.call(() => this.cluster.crOutboxIndexRequeue(keys.outboxDue, keys.outboxAttempts, keys.outboxFailed, key))) === 1;
  }

  /**
   * Puts every pending entry that is missing from the index back into it, due now (SCAN of every
   * master, ZADD NX: an entry already there keeps its lease). Returns how many were missing.
   */
  async repair(): Promise<number> {
    const { keys, client } = this.options;
    const masters: Array<Redis | Cluster> = 'nodes' in client ? client.nodes('master') : [client];
    let added = 0;
    for (const node of masters) {
      let cursor = '0';
      do {
        const [next, found] = await this.call(() => node.scan(cursor, 'MATCH', keys.outboxEntryPattern, 'COUNT', 500, 'TYPE', 'hash'));
        cursor = next;
        for (const key of found) {
          const entry = keys.parseOutboxEntry(key);
          if (!entry || keys.outboxEntry(entry.transactionId, entry.epoch) !== key) continue;
          // Read through the cluster client: the slot may have moved since the SCAN.
          if ((await this.call(() => client.hget(key, 'state'))) !== 'pending') continue;
          const member = outboxMember(entry.transactionId, entry.epoch);
          added += await this.call(() => client.zadd(keys.outboxDue, 'NX', Date.now(), member));
        }
      } while (cursor !== '0');
    }
    return added;
  }

  /** The attempts counted for a claim still leased to the caller, or null when it is not. */
  private async leasedAttempts(claim: ClaimedDelivery): Promise<string | null> {
    const { keys, client } = this.options;
    const [score, attempts] = await this.call(() =>
      Promise.all([client.zscore(keys.outboxDue, claim.key), client.hget(keys.outboxAttempts, claim.key)]),
    );
    return score !== null && Number(score) === claim.lease ? (attempts ?? '0') : null;
  }

  private entry(claim: ClaimedDelivery): string {
    return this.options.keys.outboxEntry(claim.transactionId, claim.epoch);
  }
}
