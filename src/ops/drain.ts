/**
 * The draining state of an instance and the work it still owes: operations (queries and mutations, on
 * any transport) and plain HTTP requests in flight. SIGTERM flips `draining`; the stop sequence waits
 * for `idle()` before it closes sockets, so a mutation under way still gets its reply.
 */
export class Drain {
  private draining = false;
  private inFlight = 0;
  private waiters: Array<() => void> = [];

  /** True from begin() on: new HTTP requests get 503, new WebSocket upgrades are refused. */
  get isDraining(): boolean {
    return this.draining;
  }

  /** Work in flight now. */
  get pending(): number {
    return this.inFlight;
  }

  begin(): void {
    this.draining = true;
  }

  /** Counts one piece of work; call the returned function once when it ends (a second call does nothing). */
  enter(): () => void {
    this.inFlight++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.inFlight--;
      if (this.inFlight === 0) for (const wake of this.waiters.splice(0)) wake();
    };
  }

  /** Resolves to true once nothing is in flight, or to false after `timeoutMs` with work still pending. */
  async idle(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return true;
    return new Promise<boolean>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== wake);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(wake);
    });
  }
}
