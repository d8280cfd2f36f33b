/**
 * A stream of writes to one room through the real server, for outage and failover tests: it records
 * every acknowledged write (and every refusal, with when and how long it took), then checks that
 * each acknowledged write is in the room's history and that a follower saw every version once.
 */
import type { Client } from 'graphql-ws';
import { expect } from 'vitest';
import { mutate, post, type User } from './clients.js';
import { EVENTS, type EventData, SELECT } from './operations.js';

export interface WriteOutcome {
  i: number;
  field: string;
  value: string;
  /** When the request was sent and answered (Date.now()). */
  sentAt: number;
  doneAt: number;
  /** The room's version in the answer, or null when refused. */
  version: number | null;
  /** The error code when refused. */
  code: string | null;
}

export interface WriteStream {
  readonly outcomes: WriteOutcome[];
  /** Resolves once `count` writes more than now were acknowledged; rejects after timeoutMs. */
  acknowledged(count: number, timeoutMs?: number): Promise<void>;
  /** Stops after the write in flight. */
  stop(): Promise<WriteOutcome[]>;
}

/** Writes `f<i % 80> = v<i>` one after another (requestId `w<i>`), `pauseMs` apart, to the server at one of `urls` in turn. */
export function startWriteStream(urls: string[], user: User, tx: string, pauseMs = 10): WriteStream {
  const outcomes: WriteOutcome[] = [];
  let stopped = false;
  const loop = (async () => {
    for (let i = 0; !stopped; i++) {
      const field = `f${i % 80}`;
      const value = `v${i}`;
      const sentAt = Date.now();
      const result = await post<{ selectField: { version: number } }>(urls[i % urls.length]!, user, SELECT, { tx, field, value, requestId: `w${i}` }).catch(
        (error: Error) => ({ data: undefined, errors: [{ message: error.message, extensions: { code: 'NETWORK' } }] }),
      );
      const version = result.data?.selectField?.version ?? null;
      const code = version === null ? String(result.errors?.[0]?.extensions?.code ?? 'NONE') : null;
      outcomes.push({ i, field, value, sentAt, doneAt: Date.now(), version, code });
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  })();
  const ackCount = () => outcomes.filter((o) => o.version !== null).length;
  return {
    outcomes,
    acknowledged: async (count, timeoutMs = 30_000) => {
      const target = ackCount() + count;
      const deadline = Date.now() + timeoutMs;
      while (ackCount() < target) {
        if (Date.now() > deadline) throw new Error(`expected ${count} more acknowledged writes within ${timeoutMs} ms; last: ${JSON.stringify(outcomes.at(-1))}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    stop: async () => {
      stopped = true;
      await loop;
      return outcomes;
    },
  };
}

const HISTORY = `query History($tx: ID!, $after: Int!, $first: Int!) {
  conflictRoomHistory(transactionId: $tx, afterVersion: $after, first: $first) { hasMore events { __typename version ... on FieldSelected { selection { field value } } } } }`;
type HistoryData = { conflictRoomHistory: { hasMore: boolean; events: Array<{ __typename: string; version: number; selection?: { field: string; value: string } }> } };

/** Every acknowledged write is in the room's history, at the version its answer gave. */
export async function expectAcknowledgedWritesKept(url: string, user: User, tx: string, outcomes: WriteOutcome[]): Promise<void> {
  const byVersion = new Map<number, { field: string; value: string } | undefined>();
  for (let after = 0, more = true; more; ) {
    const page = (await mutate<HistoryData>(url, user, HISTORY, { tx, after, first: 500 })).conflictRoomHistory;
    for (const event of page.events) byVersion.set(event.version, event.selection);
    more = page.hasMore;
    after = page.events.at(-1)?.version ?? after;
  }
  const acked = outcomes.filter((o) => o.version !== null);
  expect(acked.map((o) => [o.version, byVersion.get(o.version!)])).toEqual(acked.map((o) => [o.version, { field: o.field, value: o.value }]));
}

/**
 * Follows a room from version 0 over graphql-ws, as a client does: on an error result or the end of
 * the stream, subscribes again after the last version received.
 */
export class RoomFollower {
  readonly versions: number[] = [];
  readonly errors: string[] = [];
  resumes = 0;
  private stopSub: (() => void) | undefined;
  private closed = false;

  constructor(private readonly client: Client, private readonly tx: string) {
    this.open(0);
  }

  private open(after: number): void {
    if (this.closed) return;
    const again = () => {
      this.resumes++;
      setTimeout(() => this.open(this.versions.at(-1) ?? after), 200);
    };
    this.stopSub = this.client.subscribe<{ conflictRoomEvents: EventData }>(
      { query: EVENTS, variables: { tx: this.tx, after } },
      {
        next: (result) => {
          if (result.errors) this.errors.push(String(result.errors[0]?.extensions?.code));
          const event = result.data?.conflictRoomEvents;
          if (event) this.versions.push(event.__typename === 'RoomSnapshot' ? -event.version : event.version);
        },
        error: () => again(),
        complete: () => again(),
      },
    );
  }

  /** Resolves once version `version` arrived; rejects after timeoutMs. */
  async reach(version: number, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.versions.at(-1) ?? 0) < version) {
      if (Date.now() > deadline) throw new Error(`follower at ${this.versions.at(-1)} of ${version} after ${timeoutMs} ms; errors ${this.errors.join(',')}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  close(): void {
    this.closed = true;
    this.stopSub?.();
  }
}
