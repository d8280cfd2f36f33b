/** Real clients for e2e tests: fetch for HTTP, graphql-ws for WebSockets, with waits that fail loudly. */
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';

export interface User {
  userId: string;
  userName?: string;
}

export interface GraphQLResponse<T = Record<string, any>> {
  data?: T | null;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
}

/** POSTs one operation as `user` (dev-mode headers); no user: no credentials. */
export async function post<T = Record<string, any>>(
  url: string,
  user: User | null,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GraphQLResponse<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (user) {
    headers['x-user-id'] = user.userId;
    if (user.userName) headers['x-user-name'] = user.userName;
  }
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  return (await response.json()) as GraphQLResponse<T>;
}

/** Like post, but throws on errors and returns data. */
export async function mutate<T = Record<string, any>>(url: string, user: User, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const result = await post<T>(url, user, query, variables);
  if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  return result.data as T;
}

export function wsClient(wsUrl: string, user: User | null, options: { retryAttempts?: number } = {}): Client {
  return createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: user ? { userId: user.userId, userName: user.userName } : {},
    retryAttempts: options.retryAttempts ?? 0,
    lazy: true,
  });
}

/**
 * A subscription whose results queue up; `next()` waits for one and fails when none comes in time,
 * so a test that expects an event cannot pass without it.
 */
export class Subscription<T = Record<string, any>> {
  private readonly results: GraphQLResponse<T>[] = [];
  private waiter: (() => void) | undefined;
  private ended = false;
  private failure: unknown;
  readonly unsubscribe: () => void;

  constructor(client: Client, query: string, variables: Record<string, unknown> = {}) {
    this.unsubscribe = client.subscribe<T>(
      { query, variables },
      {
        next: (result) => {
          this.results.push(result as GraphQLResponse<T>);
          this.waiter?.();
        },
        error: (error) => {
          this.failure = error;
          this.ended = true;
          this.waiter?.();
        },
        complete: () => {
          this.ended = true;
          this.waiter?.();
        },
      },
    );
  }

  /** The next result, or a thrown error after timeoutMs. */
  async next(timeoutMs = 5000): Promise<GraphQLResponse<T>> {
    const deadline = Date.now() + timeoutMs;
    while (this.results.length === 0) {
      if (this.ended) throw new Error(`subscription ended without another result${this.failure ? `: ${describe(this.failure)}` : ''}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no subscription result within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.results.shift()!;
  }

  /** The data of the next `count` results, failing on any error result. */
  async take(count: number, timeoutMs = 5000): Promise<T[]> {
    const out: T[] = [];
    for (let i = 0; i < count; i++) {
      const result = await this.next(timeoutMs);
      if (result.errors?.length) throw new Error(`subscription error: ${JSON.stringify(result.errors)}`);
      out.push(result.data as T);
    }
    return out;
  }

  /** Results already received and not yet taken. */
  pending(): number {
    return this.results.length;
  }

  get done(): boolean {
    return this.ended;
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (error && typeof error === 'object' && 'code' in error) return `close ${(error as { code: number }).code} ${(error as { reason?: string }).reason ?? ''}`;
  return JSON.stringify(error);
}

/** Polls `check` until it holds (for state outside the GraphQL stream, e.g. Redis NUMSUB). */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not hold within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
