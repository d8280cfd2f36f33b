/**
 * The messages a socket sends in one tick leave in one TCP write: a mutation's `next` and `complete`,
 * or the events of one batch. The kernel's write per message is the largest cost of a small message.
 * This corks the socket's own net.Socket (which the HTTP server's 'upgrade' event hands us: public
 * Node API, no reaching into `ws`) at the first write of a tick and uncorks every corked socket once
 * the tick's work is done.
 */
import type { Duplex } from 'node:stream';

export class TickWriteBatcher {
  private readonly corked = new Set<Duplex>();

  /** Call before writing to `socket`: its writes until the end of this tick are gathered. */
  gather(socket: Duplex): void {
    if (this.corked.has(socket) || socket.destroyed) return;
    socket.cork();
    this.corked.add(socket);
    if (this.corked.size === 1) process.nextTick(() => this.flush());
  }

  /** Sends what was gathered (called at the end of the tick; also safe to call early). */
  flush(): void {
    for (const socket of this.corked) socket.uncork();
    this.corked.clear();
  }
}
