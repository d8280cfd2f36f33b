/**
 * What every WebSocket route lets in, before and after the upgrade: browser origins (the CORS list),
 * the size of one message, sockets per user and operations per socket. Library options and hooks
 * only (ws's maxPayload and verifyClient, graphql-ws's onConnect/onSubscribe/onClose).
 */
import type { IncomingMessage } from 'node:http';
import { GraphQLError } from 'graphql';
import type { ServerOptions } from 'ws';
import type { SecurityConfig } from '../config.js';
import { ErrorCode } from '../errors.js';
import { originAllowed } from './http-guards.js';

/** graphql-ws's client does not retry this code: a client over its socket limit must stop opening more. */
export const TooManyConnections = 4429;

/**
 * Options for every WebSocketServer: a message over `wsMaxMessageBytes` closes its socket with 1009
 * (ws's maxPayload), and an upgrade whose Origin header is not allowed is refused with HTTP 403. An
 * upgrade without Origin comes from a program, not a browser page, and is let through.
 */
export function webSocketServerOptions(security: Pick<SecurityConfig, 'wsMaxMessageBytes' | 'corsOrigins'>): Pick<ServerOptions, 'maxPayload' | 'verifyClient'> {
  return {
    maxPayload: security.wsMaxMessageBytes,
    verifyClient: (info: { origin: string; req: IncomingMessage }, callback: (ok: boolean, code?: number, message?: string) => void) => {
      const origin = info.req.headers.origin;
      if (origin !== undefined && !originAllowed(origin, security.corsOrigins)) callback(false, 403, 'Origin not allowed');
      else callback(true);
    },
  };
}

/** Open sockets per user on this instance; a user at the limit gets no more. */
export class ConnectionsPerUser {
  private readonly open = new Map<string, number>();
  constructor(private readonly max: number) {}
  /** Counts one more socket for `userId`; false (and nothing counted) when that would pass the limit. */
  tryOpen(userId: string): boolean {
    const count = this.open.get(userId) ?? 0;
    if (count >= this.max) return false;
    this.open.set(userId, count + 1);
    return true;
  }
  close(userId: string): void {
    const count = (this.open.get(userId) ?? 0) - 1;
    if (count > 0) this.open.set(userId, count);
    else this.open.delete(userId);
  }
  count(userId: string): number {
    return this.open.get(userId) ?? 0;
  }
}

/**
 * The refusal of an operation over the per-socket limit. graphql-ws has already recorded the new one
 * in `active` (ctx.subscriptions) when onSubscribe runs, so more than `max` means one too many.
 */
export function operationLimitError(active: Readonly<Record<string, unknown>>, max: number): GraphQLError | undefined {
  if (Object.keys(active).length <= max) return undefined;
  return new GraphQLError(`Too many operations on this connection: at most ${max} at once. Complete one first.`, {
    extensions: { code: ErrorCode.LimitExceeded, limit: max },
  });
}
