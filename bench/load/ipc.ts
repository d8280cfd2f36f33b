/**
 * The load-generator side of the orchestrator's IPC: commands {id, cmd, args} in, {id, ok, result}
 * out. A load process exits when the orchestrator goes away, on 'exit', and in any case after
 * BENCH_LOAD_MAX_MS (default 10 minutes), so none outlives a run.
 */
export type Handler = (args: any) => unknown | Promise<unknown>;

export function serve(handlers: Record<string, Handler>, onExit: () => void | Promise<void> = () => undefined): void {
  if (!process.send) throw new Error('a load generator runs as a forked child of bench/run.ts');
  const maxMs = Number(process.env.BENCH_LOAD_MAX_MS ?? 600_000);
  const bail = setTimeout(() => process.exit(3), maxMs);
  bail.unref();
  const exit = async (code: number) => {
    try {
      await Promise.race([onExit(), new Promise((resolve) => setTimeout(resolve, 2000))]);
    } finally {
      process.exit(code);
    }
  };
  process.on('disconnect', () => void exit(0));
  process.on('message', async (message: { id: number; cmd: string; args: unknown }) => {
    if (message.cmd === 'exit') {
      process.send!({ id: message.id, ok: true });
      await exit(0);
      return;
    }
    const handler = handlers[message.cmd];
    try {
      if (!handler) throw new Error(`unknown command ${message.cmd}`);
      const result = await handler(message.args);
      process.send!({ id: message.id, ok: true, result });
    } catch (error) {
      process.send!({ id: message.id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
  });
}

/** Monotonic milliseconds shared by every process on the machine (CLOCK_MONOTONIC), so a
 * timestamp written by the writer can be subtracted from one read in a subscriber process. */
export function nowMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `task` over `items` with at most `limit` at a time. */
export async function pool<T, R>(items: T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!, index);
    }
  });
  await Promise.all(workers);
  return results;
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
