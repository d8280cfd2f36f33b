/**
 * Whether the store answers, for GET /ready: a ping about every second with a timeout, cached, so a
 * probe never waits on the store and a flood of probes costs the store nothing.
 */
export interface ReadinessOptions {
  /** The store's ping (RoomStore.ping). */
  ping(): Promise<void>;
  /** Between the end of one ping and the start of the next. Default 1000. */
  intervalMs?: number;
  /** A ping without an answer by then failed. Default 1000. */
  timeoutMs?: number;
  /** Called when the answer flips (logs, metrics). */
  onChange?(answers: boolean, error?: unknown): void;
}

export class Readiness {
  private answers = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;

  constructor(private readonly options: ReadinessOptions) {}

  /** True while the last ping succeeded. */
  get storeAnswers(): boolean {
    return this.answers;
  }

  /** Pings once now (resolves after it), then keeps pinging until stop(). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.check();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async check(): Promise<void> {
    const { ping, timeoutMs = 1000, intervalMs = 1000, onChange } = this.options;
    let timeout: NodeJS.Timeout | undefined;
    let failure: unknown;
    try {
      await Promise.race([
        ping(),
        new Promise<never>((_, reject) => {
          timeout = setTimeout(() => reject(new Error(`the store did not answer a ping within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } catch (error) {
      failure = error ?? new Error('ping failed');
    } finally {
      clearTimeout(timeout);
    }
    const answers = failure === undefined;
    if (answers !== this.answers) {
      this.answers = answers;
      onChange?.(answers, failure);
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.check(), intervalMs);
    this.timer.unref();
  }
}
