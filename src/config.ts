/**
 * The only reader of the environment. loadConfig parses it once into a typed Config and reports every
 * bad variable at once; it throws ConfigError and never exits (src/main.ts decides that).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Limits } from './domain/limits.js';

export type AuthMode = 'dev';

export interface Config {
  /** NODE_ENV; "production" forbids the development identity mode. */
  nodeEnv: string;
  /** PORT, default 4000 (0 picks a free port). */
  port: number;
  /** HOST, default 127.0.0.1; 0.0.0.0 to serve other machines (docker-compose sets it). */
  host: string;
  redis: {
    /** REDIS_URL; unset: the embedded in-memory store. */
    url: string | null;
    /** REDIS_KEY_PREFIX, default "cr:", before every key and channel. */
    keyPrefix: string;
    /** STORE_TIMEOUT_MS, default 1500: a store call that takes longer fails with STORE_UNAVAILABLE. */
    timeoutMs: number;
  };
  room: {
    /** ROOM_TTL_SECONDS, default 604800 (7 days) after the room's last write. */
    ttlSeconds: number;
    /** EVENT_LOG_LENGTH, default 1000: how many events back a resume reaches before it gets a snapshot. */
    eventLogLength: number;
    /**
     * HISTORY_MAX_EVENTS, default 10000 (at least EVENT_LOG_LENGTH): events a room keeps as its history
     * (conflictRoomHistory); past it the oldest go, so a hostile room cannot grow without bound.
     */
    historyMaxEvents: number;
    /** REQUEST_ID_TTL_SECONDS, default 86400: how long a succeeded requestId is remembered. */
    requestIdTtlSeconds: number;
  };
  limits: Limits;
  rateLimit: {
    /** RATE_LIMIT_PER_SECOND, default 20 mutations a second per user and instance; 0 turns it off. */
    perSecond: number;
    /** RATE_LIMIT_BURST, default 60. */
    burst: number;
  };
  /** AUTH_MODE, default "dev" outside production. */
  authMode: AuthMode;
  /** DEV_AUTH_ON_NETWORK=true: let dev identities be served on a HOST other than loopback. */
  devAuthOnNetwork: boolean;
  /** INSTANCE_ID, default random: names this process in presence records (with a per-process nonce). */
  instanceId: string;
  /**
   * PRESENCE_TIMEOUT_MS, default 15000: participants of an instance that died without closing its
   * subscriptions go offline within this bound (heartbeats every 1/6 of it; dead after 2/3 of it).
   */
  presenceTimeoutMs: number;
  /**
   * SUBSCRIBER_MAX_BUFFERED_BYTES, default 8388608 (8 MiB): bytes waiting on one WebSocket before a
   * subscription on it is ended as too slow (RATE_LIMITED, reason SLOW_CONSUMER).
   */
  subscriberMaxBufferedBytes: number;
  /** The resolution webhook; null without RESOLUTION_WEBHOOK_URL. */
  resolutionWebhook: ResolutionWebhookConfig | null;
  /** LOG_LEVEL, default "info". */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

export interface ResolutionWebhookConfig {
  /** RESOLUTION_WEBHOOK_URL: http(s) URL every resolution is POSTed to; the only URL ever called. */
  url: string;
  /** RESOLUTION_WEBHOOK_SECRET: `whsec_` + base64, the Standard Webhooks signing secret. Required with the URL. */
  secret: string;
  /** RESOLUTION_WEBHOOK_TIMEOUT_MS, default 10000: an attempt with no answer by then failed. */
  timeoutMs: number;
  /** RESOLUTION_WEBHOOK_RETRY_BASE_MS, default 1000: the first retry after this, then doubling. */
  retryBaseMs: number;
  /** RESOLUTION_WEBHOOK_RETRY_MAX_MS, default 300000: the longest wait between two attempts. */
  retryMaxMs: number;
  /** RESOLUTION_WEBHOOK_MAX_ATTEMPTS, default 10: after this many failed attempts the delivery is failed. */
  maxAttempts: number;
  /** RESOLUTION_WEBHOOK_LEASE_MS, default 30000: another instance takes over a delivery whose holder died after this. */
  leaseMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const int = (fallback: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

const text = (fallback: string) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v === '' ? fallback : v));

const envSchema = z.object({
  NODE_ENV: text('development'),
  PORT: int(4000, 0, 65535),
  HOST: text('127.0.0.1'),
  REDIS_URL: z
    .string()
    .optional()
    .refine((v) => !v || /^rediss?:\/\//.test(v), 'must start with redis:// or rediss://'),
  REDIS_KEY_PREFIX: text('cr:').refine((v) => !/[{}\s]/.test(v), 'must not contain braces or spaces'),
  STORE_TIMEOUT_MS: int(1500, 50, 60_000),
  ROOM_TTL_SECONDS: int(604_800, 1),
  EVENT_LOG_LENGTH: int(1000, 1, 1_000_000),
  HISTORY_MAX_EVENTS: int(10_000, 1, 100_000_000),
  RESOLUTION_WEBHOOK_URL: z
    .string()
    .optional()
    .refine((v) => !v || /^https?:\/\/[^\s]+$/.test(v), 'must be an http:// or https:// URL'),
  RESOLUTION_WEBHOOK_SECRET: z
    .string()
    .optional()
    // Padded base64 of at least one byte, as standardwebhooks decodes it (it throws on anything else).
    .refine(
      (v) => !v || /^whsec_(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)$/.test(v),
      'must be whsec_ followed by base64 (a Standard Webhooks secret)',
    ),
  RESOLUTION_WEBHOOK_TIMEOUT_MS: int(10_000, 100, 300_000),
  RESOLUTION_WEBHOOK_RETRY_BASE_MS: int(1000, 10, 3_600_000),
  RESOLUTION_WEBHOOK_RETRY_MAX_MS: int(300_000, 10, 86_400_000),
  RESOLUTION_WEBHOOK_MAX_ATTEMPTS: int(10, 1, 1000),
  RESOLUTION_WEBHOOK_LEASE_MS: int(30_000, 200, 3_600_000),
  REQUEST_ID_TTL_SECONDS: int(86_400, 1),
  MAX_TRANSACTION_ID_LENGTH: int(128, 1, 1024),
  MAX_FIELD_LENGTH: int(64, 1, 1024),
  MAX_VALUE_LENGTH: int(1024, 0, 1_000_000),
  MAX_USER_NAME_LENGTH: int(64, 1, 1024),
  MAX_FIELDS_PER_ROOM: int(100, 1, 10_000),
  MAX_PARTICIPANTS_PER_ROOM: int(16, 2, 10_000),
  RATE_LIMIT_PER_SECOND: int(20, 0),
  RATE_LIMIT_BURST: int(60, 1),
  AUTH_MODE: z.enum(['dev']).optional(),
  DEV_AUTH_ON_NETWORK: z.enum(['true', 'false', '']).optional(),
  INSTANCE_ID: text('').refine((v) => !/[\s/{}]/.test(v), 'must not contain spaces, slashes or braces'),
  PRESENCE_TIMEOUT_MS: int(15_000, 300, 3_600_000),
  SUBSCRIBER_MAX_BUFFERED_BYTES: int(8 * 1024 * 1024, 1024),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

const loopback = new Set(['127.0.0.1', '::1', 'localhost']);

export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = envSchema.safeParse(env);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  if (env.NODE_ENV === 'production') {
    problems.push(
      env.AUTH_MODE === 'dev'
        ? 'AUTH_MODE: "dev" trusts plain user ids from headers and cannot run with NODE_ENV=production'
        : 'NODE_ENV=production needs a real identity mode, and this version has only AUTH_MODE=dev (JWT is planned)',
    );
  }
  if (parsed.success && (parsed.data.AUTH_MODE ?? 'dev') === 'dev' && !loopback.has(parsed.data.HOST) && parsed.data.DEV_AUTH_ON_NETWORK !== 'true') {
    problems.push(
      `HOST: ${parsed.data.HOST} serves other machines, and AUTH_MODE=dev believes whatever user id a caller sends; set DEV_AUTH_ON_NETWORK=true if that is what you want (a development container, say)`,
    );
  }
  if (parsed.success) problems.push(...webhookProblems(parsed.data));
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  return {
    nodeEnv: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    redis: { url: e.REDIS_URL || null, keyPrefix: e.REDIS_KEY_PREFIX, timeoutMs: e.STORE_TIMEOUT_MS },
    room: {
      ttlSeconds: e.ROOM_TTL_SECONDS,
      eventLogLength: e.EVENT_LOG_LENGTH,
      historyMaxEvents: e.HISTORY_MAX_EVENTS,
      requestIdTtlSeconds: e.REQUEST_ID_TTL_SECONDS,
    },
    limits: {
      transactionIdMaxLength: e.MAX_TRANSACTION_ID_LENGTH,
      fieldMaxLength: e.MAX_FIELD_LENGTH,
      valueMaxLength: e.MAX_VALUE_LENGTH,
      userNameMaxLength: e.MAX_USER_NAME_LENGTH,
      maxFields: e.MAX_FIELDS_PER_ROOM,
      maxParticipants: e.MAX_PARTICIPANTS_PER_ROOM,
    },
    rateLimit: { perSecond: e.RATE_LIMIT_PER_SECOND, burst: e.RATE_LIMIT_BURST },
    authMode: e.AUTH_MODE ?? 'dev',
    devAuthOnNetwork: e.DEV_AUTH_ON_NETWORK === 'true',
    instanceId: e.INSTANCE_ID || randomUUID(),
    presenceTimeoutMs: e.PRESENCE_TIMEOUT_MS,
    subscriberMaxBufferedBytes: e.SUBSCRIBER_MAX_BUFFERED_BYTES,
    resolutionWebhook: e.RESOLUTION_WEBHOOK_URL
      ? {
          url: e.RESOLUTION_WEBHOOK_URL,
          secret: e.RESOLUTION_WEBHOOK_SECRET ?? '',
          timeoutMs: e.RESOLUTION_WEBHOOK_TIMEOUT_MS,
          retryBaseMs: e.RESOLUTION_WEBHOOK_RETRY_BASE_MS,
          retryMaxMs: e.RESOLUTION_WEBHOOK_RETRY_MAX_MS,
          maxAttempts: e.RESOLUTION_WEBHOOK_MAX_ATTEMPTS,
          leaseMs: e.RESOLUTION_WEBHOOK_LEASE_MS,
        }
      : null,
    logLevel: e.LOG_LEVEL,
  };
}

/** Settings that are each valid but wrong together. */
function webhookProblems(e: z.infer<typeof envSchema>): string[] {
  const problems: string[] = [];
  if (e.HISTORY_MAX_EVENTS < e.EVENT_LOG_LENGTH) {
    problems.push(`HISTORY_MAX_EVENTS: ${e.HISTORY_MAX_EVENTS} is below EVENT_LOG_LENGTH (${e.EVENT_LOG_LENGTH}); the history holds the resume log`);
  }
  if (e.RESOLUTION_WEBHOOK_URL && !e.RESOLUTION_WEBHOOK_SECRET) {
    problems.push('RESOLUTION_WEBHOOK_SECRET: required with RESOLUTION_WEBHOOK_URL (a whsec_… secret the receiver shares)');
  }
  if (e.RESOLUTION_WEBHOOK_SECRET && !e.RESOLUTION_WEBHOOK_URL) {
    problems.push('RESOLUTION_WEBHOOK_URL: RESOLUTION_WEBHOOK_SECRET is set but there is no URL to deliver to');
  }
  // A lease that ends before the attempt's timeout would let a second instance deliver alongside the first.
  if (e.RESOLUTION_WEBHOOK_LEASE_MS <= e.RESOLUTION_WEBHOOK_TIMEOUT_MS + 1000) {
    problems.push(
      `RESOLUTION_WEBHOOK_LEASE_MS: ${e.RESOLUTION_WEBHOOK_LEASE_MS} must exceed RESOLUTION_WEBHOOK_TIMEOUT_MS (${e.RESOLUTION_WEBHOOK_TIMEOUT_MS}) by more than 1000, so that one instance delivers at a time`,
    );
  }
  if (e.RESOLUTION_WEBHOOK_RETRY_MAX_MS < e.RESOLUTION_WEBHOOK_RETRY_BASE_MS) {
    problems.push('RESOLUTION_WEBHOOK_RETRY_MAX_MS: must be at least RESOLUTION_WEBHOOK_RETRY_BASE_MS');
  }
  return problems;
}
