/**
 * The HTTP front of an instance, before yoga: the operations endpoints (GET /health, /ready, /metrics),
 * a request id on every request (a sane incoming `x-request-id`, else a new one, echoed in the
 * response), 503 for new requests while draining, and the bookkeeping the drain needs: plain requests
 * in flight, and the SSE responses to end.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../logger.js';
import type { Drain } from './drain.js';
import type { Metrics } from './metrics.js';
import type { Readiness } from './readiness.js';

/** What a caller may name its request: short, and nothing a log reader could mistake for structure. */
const saneRequestId = /^[A-Za-z0-9._:-]{1,128}$/;

/** The incoming x-request-id when it is sane, else a fresh UUID. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && saneRequestId.test(value) ? value : randomUUID();
}

export interface OpsHttpOptions {
  /** Yoga's node handler; the third argument lands in the GraphQL context. */
  yoga: (req: IncomingMessage, res: ServerResponse, serverContext: { requestId: string }) => unknown;
  drain: Drain;
  readiness: Readiness;
  /** null: METRICS_ENABLED=false, and /metrics is 404. */
  metrics: Metrics | null;
  logger: Logger;
}

export interface OpsHttp {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /**
   * Ends every open SSE response by closing its connection (FIN, after what was written): graphql-sse's
   * client sees a stream end without `complete`, takes it as a network error and reconnects, while a
   * `complete` event would tell it the subscription is over. Resolves when they have closed, or after
   * `timeoutMs` (then they are destroyed).
   */
  endSseStreams(timeoutMs: number): Promise<void>;
}

export function opsHttp({ yoga, drain, readiness, metrics, logger }: OpsHttpOptions): OpsHttp {
  const sseSockets = new Set<Socket>();

  const reply = (res: ServerResponse, status: number, body: string, type = 'application/json; charset=utf-8') => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  const ops = (req: IncomingMessage, res: ServerResponse, path: string): boolean => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      if (path !== '/health' && path !== '/ready' && path !== '/metrics') return false;
      res.setHeader('allow', 'GET, HEAD');
      reply(res, 405, JSON.stringify({ status: 'method not allowed' }));
      return true;
    }
    if (path === '/health') {
      reply(res, 200, JSON.stringify({ status: 'ok' }));
      return true;
    }
    if (path === '/ready') {
      const status = drain.isDraining ? 'draining' : readiness.storeAnswers ? 'ready' : 'store unavailable';
      reply(res, status === 'ready' ? 200 : 503, JSON.stringify({ status }));
      return true;
    }
    if (path === '/metrics' && metrics) {
      metrics.metricsText().then(
        (text) => reply(res, 200, text, metrics.contentType),
        (error: unknown) => {
          logger.error({ err: error }, 'metrics could not be collected');
          reply(res, 500, JSON.stringify({ status: 'metrics unavailable' }));
        },
      );
      return true;
    }
    return false;
  };

  return {
    handle(req, res) {
      const requestId = requestIdFrom(req.headers['x-request-id']);
      res.setHeader('x-request-id', requestId);
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      if (ops(req, res, path)) return;
      if (drain.isDraining) {
        res.setHeader('connection', 'close');
        res.setHeader('retry-after', '1');
        reply(
          res,
          503,
          JSON.stringify({
            errors: [
              {
                message: 'This instance is shutting down: retry, another instance will answer.',
                extensions: { code: 'STORE_UNAVAILABLE', reason: 'SHUTTING_DOWN' },
              },
            ],
          }),
        );
        return;
      }
      if (/text\/event-stream/i.test(req.headers.accept ?? '')) {
        const socket = req.socket;
        sseSockets.add(socket);
        const closedGauge = metrics?.sseOpened();
        const opened = Date.now();
        logger.info({ requestId, transport: 'sse' }, 'connection opened');
        res.once('close', () => {
          sseSockets.delete(socket);
          closedGauge?.();
          logger.info({ requestId, transport: 'sse', durationMs: Date.now() - opened }, 'connection closed');
        });
      } else {
        const leave = drain.enter();
        res.once('close', leave);
      }
      void yoga(req, res, { requestId });
    },

    async endSseStreams(timeoutMs) {
      const sockets = [...sseSockets];
      if (sockets.length === 0) return;
      await Promise.all(
        sockets.map(
          (socket) =>
            new Promise<void>((resolve) => {
              if (socket.destroyed) return resolve();
              const timer = setTimeout(() => {
                socket.destroy();
                resolve();
              }, timeoutMs);
              socket.once('close', () => {
                clearTimeout(timer);
                resolve();
              });
              socket.end();
            }),
        ),
      );
    },
  };
}
