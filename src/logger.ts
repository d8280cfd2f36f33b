import { type DestinationStream, pino, type Logger } from 'pino';

export type { Logger };

/**
 * What never reaches a log line, wherever it sits up to three levels down: credentials (headers,
 * graphql-ws connectionParams, tokens) and secrets (JWT_SECRET, the webhook secret, Redis URLs with a
 * password). Each is replaced by "[redacted]".
 */
const secretKeys = [
  'authorization',
  'Authorization',
  'cookie',
  'set-cookie',
  'token',
  'accessToken',
  'jwt',
  'secret',
  'password',
  'JWT_SECRET',
  'RESOLUTION_WEBHOOK_SECRET',
  'REDIS_URL',
  'redisUrl',
];

export const redactedPaths = secretKeys.flatMap((key) => {
  const k = /^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`;
  const dot = k.startsWith('[') ? '' : '.';
  return [k, `*${dot}${k}`, `*.*${dot}${k}`, `*.*.*${dot}${k}`];
});

/**
 * Structured JSON logs on stdout (or `destination`, for tests).
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, base: { service: 'conflict-rooms' }, redact: { paths: redactedPaths, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}
