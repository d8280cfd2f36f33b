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
    /** EVENT_LOG_LENGTH, default 1000 events kept per room for resumes. */
    eventLogLength: number;
    /** REQUEST_ID_TTL_SECONDS, default 86400: how long a succeeded requestId is remembered. */
    requestIdTtlSeconds: number;
  };
  limits: Limits;
  /** What any caller may send before anyone knows who they are (SECURITY.md, "Limits"). */
  security: SecurityConfig;
  rateLimit: {
    /** RATE_LIMIT_PER_SECOND, default 20 mutations a second per user (across instances with Redis); 0 turns it off. */
    perSecond: number;
    /** RATE_LIMIT_BURST, default 60. */
    burst: number;
  };
  /** AUTH_MODE, default "dev" outside production. */
  authMode: AuthMode;
  /** DEV_AUTH_ON_NETWORK=true: let dev identities be served on a HOST other than loopback. */
  devAuthOnNetwork: boolean;
  /** INSTANCE_ID, default random: names this process in presence records. */
  instanceId: string;
  /** LOG_LEVEL, default "info". */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

export interface SecurityConfig {
  /** MAX_BODY_BYTES, default 65536: a larger HTTP body gets 413 BAD_USER_INPUT before it is parsed. */
  maxBodyBytes: number;
  /** WS_MAX_MESSAGE_BYTES, default MAX_BODY_BYTES: a larger WebSocket message closes the socket with 1009. */
  wsMaxMessageBytes: number;
  /** Document limits (graphql-armor); a document over one is refused with BAD_USER_INPUT before it is planned. */
  document: {
    /** MAX_TOKENS, default 2000 lexical tokens. */
    maxTokens: number;
    /** MAX_DEPTH, default 10 levels of fields (fragments flattened). */
    maxDepth: number;
    /** MAX_ALIASES, default 15. */
    maxAliases: number;
    /** MAX_COST, default 5000 (graphql-armor's cost: objects 2, scalars 1, times 1.5 per level). */
    maxCost: number;
    /** MAX_DIRECTIVES, default 50. */
    maxDirectives: number;
  };
  /** MAX_SUBSCRIPTIONS_PER_CONNECTION, default 50 operations at once on one WebSocket; more get LIMIT_EXCEEDED. */
  maxSubscriptionsPerConnection: number;
  /** MAX_CONNECTIONS_PER_USER, default 20 WebSockets per user on one instance; more are closed with 4429. */
  maxConnectionsPerUser: number;
  /** CORS_ORIGINS: "*" (any; the development default) or the allowed origins (the production default: none). */
  corsOrigins: '*' | readonly string[];
  /** GRAPHIQL=true|false; default: on in development, off in production. */
  graphiql: boolean;
  /** INTROSPECTION=true|false; default: on in development, off in production. */
  introspection: boolean;
  /** FIELD_SUGGESTIONS=true|false ("Did you mean …?" in errors); default: on in development, off in production. */
  fieldSuggestions: boolean;
}

/**
 * The developer surfaces (GraphiQL, introspection, field suggestions, CORS for any origin): on in
 * development, off in production, each unless its variable says otherwise. Pure, for unit tests.
 */
export function developerSurfaces(
  nodeEnv: string,
  overrides: { graphiql?: boolean; introspection?: boolean; fieldSuggestions?: boolean; corsOrigins?: '*' | readonly string[] } = {},
): Pick<SecurityConfig, 'graphiql' | 'introspection' | 'fieldSuggestions' | 'corsOrigins'> {
  const development = nodeEnv !== 'production';
  return {
    graphiql: overrides.graphiql ?? development,
    introspection: overrides.introspection ?? development,
    fieldSuggestions: overrides.fieldSuggestions ?? development,
    corsOrigins: overrides.corsOrigins ?? (development ? '*' : []),
  };
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

const flag = z.enum(['true', 'false', '']).optional().transform((v) => (v === 'true' ? true : v === 'false' ? false : undefined));

/** CORS_ORIGINS: "*", or a comma list of origins such as https://app.example.com (scheme, host, port). */
const origins = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined || v.trim() === '') return undefined;
    if (v.trim() === '*') return '*' as const;
    const list = v.split(',').map((o) => o.trim());
    for (const origin of list) {
      let parsed: URL | undefined;
      try {
        parsed = new URL(origin);
      } catch {
        parsed = undefined;
      }
      if (!parsed || parsed.origin !== origin) {
        ctx.addIssue({ code: 'custom', message: `"${origin}" is not an origin like https://app.example.com (no path, no trailing slash)` });
        return z.NEVER;
      }
    }
    return list;
  });

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
  REQUEST_ID_TTL_SECONDS: int(86_400, 1),
  MAX_TRANSACTION_ID_LENGTH: int(128, 1, 1024),
  MAX_FIELD_LENGTH: int(64, 1, 1024),
  MAX_VALUE_LENGTH: int(1024, 0, 1_000_000),
  MAX_USER_NAME_LENGTH: int(64, 1, 1024),
  MAX_FIELDS_PER_ROOM: int(100, 1, 10_000),
  MAX_PARTICIPANTS_PER_ROOM: int(16, 2, 10_000),
  RATE_LIMIT_PER_SECOND: int(20, 0),
  RATE_LIMIT_BURST: int(60, 1),
  MAX_BODY_BYTES: int(65_536, 1024, 100 * 1024 * 1024),
  WS_MAX_MESSAGE_BYTES: int(0, 1024, 100 * 1024 * 1024),
  MAX_TOKENS: int(2000, 100, 1_000_000),
  MAX_DEPTH: int(10, 2, 1000),
  MAX_ALIASES: int(15, 0, 100_000),
  MAX_COST: int(5000, 100, 100_000_000),
  MAX_DIRECTIVES: int(50, 0, 100_000),
  MAX_SUBSCRIPTIONS_PER_CONNECTION: int(50, 1, 100_000),
  MAX_CONNECTIONS_PER_USER: int(20, 1, 100_000),
  CORS_ORIGINS: origins,
  GRAPHIQL: flag,
  INTROSPECTION: flag,
  FIELD_SUGGESTIONS: flag,
  AUTH_MODE: z.enum(['dev']).optional(),
  DEV_AUTH_ON_NETWORK: z.enum(['true', 'false', '']).optional(),
  INSTANCE_ID: text(''),
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
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  return {
    nodeEnv: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    redis: { url: e.REDIS_URL || null, keyPrefix: e.REDIS_KEY_PREFIX, timeoutMs: e.STORE_TIMEOUT_MS },
    room: { ttlSeconds: e.ROOM_TTL_SECONDS, eventLogLength: e.EVENT_LOG_LENGTH, requestIdTtlSeconds: e.REQUEST_ID_TTL_SECONDS },
    limits: {
      transactionIdMaxLength: e.MAX_TRANSACTION_ID_LENGTH,
      fieldMaxLength: e.MAX_FIELD_LENGTH,
      valueMaxLength: e.MAX_VALUE_LENGTH,
      userNameMaxLength: e.MAX_USER_NAME_LENGTH,
      maxFields: e.MAX_FIELDS_PER_ROOM,
      maxParticipants: e.MAX_PARTICIPANTS_PER_ROOM,
    },
    security: {
      maxBodyBytes: e.MAX_BODY_BYTES,
      wsMaxMessageBytes: e.WS_MAX_MESSAGE_BYTES || e.MAX_BODY_BYTES,
      document: { maxTokens: e.MAX_TOKENS, maxDepth: e.MAX_DEPTH, maxAliases: e.MAX_ALIASES, maxCost: e.MAX_COST, maxDirectives: e.MAX_DIRECTIVES },
      maxSubscriptionsPerConnection: e.MAX_SUBSCRIPTIONS_PER_CONNECTION,
      maxConnectionsPerUser: e.MAX_CONNECTIONS_PER_USER,
      ...developerSurfaces(e.NODE_ENV, {
        ...(e.GRAPHIQL !== undefined ? { graphiql: e.GRAPHIQL } : {}),
        ...(e.INTROSPECTION !== undefined ? { introspection: e.INTROSPECTION } : {}),
        ...(e.FIELD_SUGGESTIONS !== undefined ? { fieldSuggestions: e.FIELD_SUGGESTIONS } : {}),
        ...(e.CORS_ORIGINS !== undefined ? { corsOrigins: e.CORS_ORIGINS } : {}),
      }),
    },
    rateLimit: { perSecond: e.RATE_LIMIT_PER_SECOND, burst: e.RATE_LIMIT_BURST },
    authMode: e.AUTH_MODE ?? 'dev',
    devAuthOnNetwork: e.DEV_AUTH_ON_NETWORK === 'true',
    instanceId: e.INSTANCE_ID || randomUUID(),
    logLevel: e.LOG_LEVEL,
  };
}
