/**
 * The soak's writers: two participants per room, choosing, clearing and marking readiness over HTTP at a
 * steady total rate, round robin over the instances. Every write carries a requestId and is retried
 * with it (on the next instance) while the answer is lost or the store is unavailable, as the contract
 * says a client may: a retry of a write that landed makes no second event.
 */
import { randomUUID } from 'node:crypto';
import { sleep } from '../lib/children.js';

const FIELDS = ['productType', 'condition', 'price', 'quantity', 'meetingLocation'];
const RETRYABLE = new Set(['STORE_UNAVAILABLE', 'SHUTTING_DOWN', 'INTERNAL_SERVER_ERROR']);

export interface WriteStats {
  attempted: number;
  acknowledged: number;
  /** Attempts after the first (lost answers, instance down, store unavailable). */
  retries: number;
  /** Still unacknowledged after 60 s of retries. */
  gaveUp: number;
  /** Refused for good, by error code (none expected). */
  rejected: Record<string, number>;
}

export const participantsOf = (room: string) => [`${room}-a`, `${room}-b`];

export class Writers {
  readonly stats: WriteStats = { attempted: 0, acknowledged: 0, retries: 0, gaveUp: 0, rejected: {} };
  private next = 0;
  private inFlight = new Set<Promise<void>>();

  constructor(private readonly urls: string[]) {}

  /** One call; resolves with its data, or undefined once it gives up or is refused. */
  async call(userId: string, query: string, variables: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
    const deadline = Date.now() + 60_000;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        this.stats.retries++;
        if (Date.now() > deadline) return void this.stats.gaveUp++;
        await sleep(Math.min(1000, 100 * attempt));
      }
      const url = this.urls[this.next++ % this.urls.length]!;
      let body: { data?: Record<string, unknown> | null; errors?: Array<{ extensions?: { code?: string } }> };
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-user-id': userId, 'x-user-name': userId },
          body: JSON.stringify({ query, variables }),
          signal: AbortSignal.timeout(10_000),
        });
        body = (await response.json()) as typeof body;
      } catch {
        continue; // refused, reset, timed out: the answer is lost, the requestId makes a retry safe
      }
      if (body.data) return body.data;
      const code = body.errors?.[0]?.extensions?.code ?? 'NO_CODE';
      if (RETRYABLE.has(code)) continue;
      this.stats.rejected[code] = (this.stats.rejected[code] ?? 0) + 1;
      return undefined;
    }
  }

  async joinAll(rooms: string[]): Promise<void> {
    const join = 'mutation ($tx: ID!, $name: String) { joinConflictRoom(transactionId: $tx, userName: $name) { version } }';
    for (let i = 0; i < rooms.length; i += 20) {
      await Promise.all(rooms.slice(i, i + 20).flatMap((room) => participantsOf(room).map((user) => this.call(user, join, { tx: room, name: user }))));
    }
  }

  /** One random write in a random room. Only the first participant ever sets ready, so no room resolves. */
  private async writeOnce(rooms: string[]): Promise<void> {
    const room = rooms[Math.floor(Math.random() * rooms.length)]!;
    const [a, b] = participantsOf(room) as [string, string];
    const roll = Math.random();
    const requestId = randomUUID();
    const field = FIELDS[Math.floor(Math.random() * FIELDS.length)]!;
    const [user, query, variables] =
      roll < 0.8
        ? [Math.random() < 0.5 ? a : b, 'mutation ($tx: ID!, $f: String!, $v: String!, $r: ID) { selectField(transactionId: $tx, field: $f, value: $v, requestId: $r) { version } }', { tx: room, f: field, v: `v${Math.floor(Math.random() * 1e6)}`, r: requestId }]
        : roll < 0.9
          ? [b, 'mutation ($tx: ID!, $f: String!, $r: ID) { clearField(transactionId: $tx, field: $f, requestId: $r) { version } }', { tx: room, f: field, r: requestId }]
          : [a, 'mutation ($tx: ID!, $ready: Boolean!, $r: ID) { setReady(transactionId: $tx, isReady: $ready, requestId: $r) { version } }', { tx: room, ready: Math.random() < 0.5, r: requestId }];
    this.stats.attempted++;
    if (await this.call(user, query, variables)) this.stats.acknowledged++;
  }

  /** Writes at `perSecond` in total (at most `maxInFlight` at once) until `signal` aborts; then waits for the rest. */
  async run(rooms: string[], perSecond: number, signal: AbortSignal, maxInFlight = 64): Promise<void> {
    const started = Date.now();
    let launched = 0;
    while (!signal.aborted) {
      const due = Math.floor(((Date.now() - started) / 1000) * perSecond);
      while (launched < due && this.inFlight.size < maxInFlight) {
        launched++;
        const write = this.writeOnce(rooms).finally(() => this.inFlight.delete(write));
        this.inFlight.add(write);
      }
      // Behind (instances down, in-flight full): the backlog is dropped, not burst later.
      if (launched < due - perSecond) launched = due;
      await sleep(10);
    }
    await Promise.all(this.inFlight);
  }
}
