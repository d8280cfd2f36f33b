/**
 * The only reader of the environment. loadConfig parses it once into a typed Config and reports every
 * bad variable at once; it throws ConfigError and never exits (src/main.ts decides that).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Limits } from './domain/limits.js';
import type { TrustedDocumentsMode } from './transport/trusted-documents.js';

export type AuthMode = 'dev' | 'jwt';

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
    /**
     * REDIS_CLUSTER_NODES: comma-separated host:port seed nodes of a Redis Cluster (ioredis Cluster);
     * null: a single Redis (REDIS_URL). Not both.
     */
    clusterNodes: string[] | null;
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
  /** What any caller may send before anyone knows who they are (SECURITY.md, "Limits"). */
  security: SecurityConfig;
  rateLimit: {
    /** RATE_LIMIT_PER_SECOND, default 20 mutations a second per user (across instances with Redis); 0 turns it off. */
    perSecond: number;
    /** RATE_LIMIT_BURST, default 60. */
    burst: number;
  };
  /** AUTH_MODE: "jwt" (required with NODE_ENV=production), or "dev" (the default elsewhere). */
  authMode: AuthMode;
  trustedDocuments: {
    /**
     * TRUSTED_DOCUMENTS: "allow" (default: the hash of a trusted document, or any text), "only" (the
     * hash of a trusted document, nothing else), "off" (text only).
     */
    mode: TrustedDocumentsMode;
    /** TRUSTED_DOCUMENTS_MANIFESTS: comma-separated paths of an app's own manifests, beside the SDK's. */
    manifests: string[];
  };
  /** The JWT settings when AUTH_MODE=jwt, else null. */
  jwt: JwtConfig | null;
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
  /**
   * WS_KEEPALIVE_MS, default 25000: WebSocket keep-alive interval; a socket silent through an interval
   * is pinged, and terminated if still silent at the next. Under the 55-60 s idle timeouts common to
   * load balancers, and as often as Socket.IO pings.
   */
  wsKeepAliveMs: number;
  /** The resolution webhook; null without RESOLUTION_WEBHOOK_URL. */
  resolutionWebhook: ResolutionWebhookConfig | null;
  /**
   * SHUTDOWN_TIMEOUT_MS, default 15000: on SIGTERM the process drains (README, "Operations") and exits
   * within this, forcing the exit (code 1) when something hangs.
   */
  shutdownTimeoutMs: number;
  /** METRICS_ENABLED=true|false, default true: GET /metrics serves Prometheus text. */
  metricsEnabled: boolean;
  /** LOG_LEVEL, default "info". */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/** AUTH_MODE=jwt: exactly one of `secret` and `jwksUrl` is set. */
export interface JwtConfig {
  /** JWT_SECRET: the HS256 shared secret (at least 32 characters). */
  secret: string | null;
  /** JWT_JWKS_URL: the identity provider's key set (RS256, ES256), keys chosen by kid. */
  jwksUrl: string | null;
  /** JWT_ISSUER: when set, the `iss` every token must carry. */
  issuer: string | null;
  /** JWT_AUDIENCE: when set, the `aud` every token must carry. */
  audience: string | null;
  /** JWT_CLOCK_SKEW_S, default 5: seconds of tolerance on exp and nbf. */
  clockSkewSeconds: number;
  /**
   * JWT_JWKS_COOLDOWN_MS, default 30000: after fetching the key set, how long an unknown kid is refused
   * without fetching it again (a flood of forged kids cannot make us hammer the provider).
   */
  jwksCooldownMs: number;
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
  /**
   * WS_MESSAGES_PER_SECOND, default 20, and WS_MESSAGE_BURST, default 60: messages one WebSocket may
   * send; past them the server stops reading that socket until its budget refills (nothing is refused,
   * the sender waits), so one socket cannot keep the process busy for everyone else.
   */
  wsMessagesPerSecond: number;
  wsMessageBurst: number;
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
  REDIS_CLUSTER_NODES: z
    .string()
    .optional()
    .refine(
      (v) => !v || v.split(',').every((node) => /^[^\s:,]+:\d{1,5}$/.test(node.trim())),
      'must be a comma-separated list of host:port',
    ),
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
  MAX_BODY_BYTES: int(65_536, 1024, 100 * 1024 * 1024),
  WS_MAX_MESSAGE_BYTES: int(0, 1024, 100 * 1024 * 1024),
  MAX_TOKENS: int(2000, 100, 1_000_000),
  MAX_DEPTH: int(10, 2, 1000),
  MAX_ALIASES: int(15, 0, 100_000),
  MAX_COST: int(5000, 100, 100_000_000),
  MAX_DIRECTIVES: int(50, 0, 100_000),
  MAX_SUBSCRIPTIONS_PER_CONNECTION: int(50, 1, 100_000),
  MAX_CONNECTIONS_PER_USER: int(20, 1, 100_000),
  WS_MESSAGES_PER_SECOND: int(20, 1, 1_000_000),
  WS_MESSAGE_BURST: int(60, 1, 1_000_000),
  CORS_ORIGINS: origins,
  GRAPHIQL: flag,
  INTROSPECTION: flag,
  FIELD_SUGGESTIONS: flag,
  AUTH_MODE: z.enum(['dev', 'jwt']).optional(),
  TRUSTED_DOCUMENTS: z.enum(['off', 'allow', 'only']).default('allow'),
  TRUSTED_DOCUMENTS_MANIFESTS: z
    .string()
    .optional()
    .transform((v) => (v ?? '').split(',').map((path) => path.trim()).filter((path) => path !== '')),
  JWT_SECRET: z.string().optional(),
  JWT_JWKS_URL: z
    .string()
    .optional()
    .refine((v) => !v || /^https?:\/\/[^\s]+$/.test(v), 'must be an http:// or https:// URL'),
  JWT_ISSUER: z.string().optional(),
  JWT_AUDIENCE: z.string().optional(),
  JWT_CLOCK_SKEW_S: int(5, 0, 300),
  JWT_JWKS_COOLDOWN_MS: int(30_000, 0, 3_600_000),
  DEV_AUTH_ON_NETWORK: z.enum(['true', 'false', '']).optional(),
  INSTANCE_ID: text('').refine((v) => !/[\s/{}]/.test(v), 'must not contain spaces, slashes or braces'),
  PRESENCE_TIMEOUT_MS: int(15_000, 300, 3_600_000),
  SUBSCRIBER_MAX_BUFFERED_BYTES: int(8 * 1024 * 1024, 1024),
  WS_KEEPALIVE_MS: int(25_000, 0, 3_600_000),
  SHUTDOWN_TIMEOUT_MS: int(15_000, 1000, 600_000),
  METRICS_ENABLED: flag,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

const loopback = new Set(['127.0.0.1', '::1', 'localhost']);
const knownNodeEnvs = new Set(['production', 'development', 'test']);

export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = envSchema.safeParse(env);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  // Anything else ("Production", "prod", "staging") would run as development, with its trusting
  // identity mode: the development mode must not be reached by a typo.
  if (env.NODE_ENV !== undefined && env.NODE_ENV !== '' && !knownNodeEnvs.has(env.NODE_ENV)) {
    problems.push(
      env.NODE_ENV.trim().toLowerCase() === 'production'
        ? `NODE_ENV: "${env.NODE_ENV}" is not "production"; write it in lower case, without spaces`
        : `NODE_ENV: "${env.NODE_ENV}" is none of production, development, test; production needs "production" exactly`,
    );
  }
  if (env.NODE_ENV === 'production' && env.AUTH_MODE !== 'jwt') {
    problems.push(
      env.AUTH_MODE === 'dev'
        ? 'AUTH_MODE: "dev" trusts plain user ids from headers and cannot run with NODE_ENV=production; set AUTH_MODE=jwt'
        : 'AUTH_MODE: NODE_ENV=production needs AUTH_MODE=jwt (with JWT_SECRET or JWT_JWKS_URL)',
    );
  }
  if (parsed.success) problems.push(...jwtProblems(parsed.data));
  if (parsed.success && (parsed.data.AUTH_MODE ?? 'dev') === 'dev' && !loopback.has(parsed.data.HOST) && parsed.data.DEV_AUTH_ON_NETWORK !== 'true') {
    problems.push(
      `HOST: ${parsed.data.HOST} serves other machines, and AUTH_MODE=dev believes whatever user id a caller sends; set DEV_AUTH_ON_NETWORK=true if that is what you want (a development container, say)`,
    );
  }
  if (parsed.success) problems.push(...webhookProblems(parsed.data));
  if (parsed.success && parsed.data.TRUSTED_DOCUMENTS === 'only' && parsed.data.GRAPHIQL === true) {
    problems.push('GRAPHIQL: GraphiQL sends documents as text, which TRUSTED_DOCUMENTS=only refuses; turn one of them off');
  }
  // Checked on the raw environment, so that it is reported beside any other bad variable.
  if (env.REDIS_URL && env.REDIS_CLUSTER_NODES) {
    problems.push('REDIS_CLUSTER_NODES: set either REDIS_URL (one Redis) or REDIS_CLUSTER_NODES (a Redis Cluster), not both');
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  return {
    nodeEnv: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    redis: {
      url: e.REDIS_URL || null,
      clusterNodes: e.REDIS_CLUSTER_NODES ? e.REDIS_CLUSTER_NODES.split(',').map((node) => node.trim()) : null,
      keyPrefix: e.REDIS_KEY_PREFIX,
      timeoutMs: e.STORE_TIMEOUT_MS,
    },
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
    security: {
      maxBodyBytes: e.MAX_BODY_BYTES,
      wsMaxMessageBytes: e.WS_MAX_MESSAGE_BYTES || e.MAX_BODY_BYTES,
      document: { maxTokens: e.MAX_TOKENS, maxDepth: e.MAX_DEPTH, maxAliases: e.MAX_ALIASES, maxCost: e.MAX_COST, maxDirectives: e.MAX_DIRECTIVES },
      maxSubscriptionsPerConnection: e.MAX_SUBSCRIPTIONS_PER_CONNECTION,
      maxConnectionsPerUser: e.MAX_CONNECTIONS_PER_USER,
      wsMessagesPerSecond: e.WS_MESSAGES_PER_SECOND,
      wsMessageBurst: e.WS_MESSAGE_BURST,
      ...developerSurfaces(e.NODE_ENV, {
        // GraphiQL sends text: under TRUSTED_DOCUMENTS=only it could run nothing.
        ...(e.GRAPHIQL !== undefined ? { graphiql: e.GRAPHIQL } : e.TRUSTED_DOCUMENTS === 'only' ? { graphiql: false } : {}),
        ...(e.INTROSPECTION !== undefined ? { introspection: e.INTROSPECTION } : {}),
        ...(e.FIELD_SUGGESTIONS !== undefined ? { fieldSuggestions: e.FIELD_SUGGESTIONS } : {}),
        ...(e.CORS_ORIGINS !== undefined ? { corsOrigins: e.CORS_ORIGINS } : {}),
      }),
    },
    rateLimit: { perSecond: e.RATE_LIMIT_PER_SECOND, burst: e.RATE_LIMIT_BURST },
    authMode: e.AUTH_MODE ?? 'dev',
    trustedDocuments: { mode: e.TRUSTED_DOCUMENTS, manifests: e.TRUSTED_DOCUMENTS_MANIFESTS },
    jwt:
      e.AUTH_MODE === 'jwt'
        ? {
            secret: e.JWT_SECRET || null,
            jwksUrl: e.JWT_JWKS_URL || null,
            issuer: e.JWT_ISSUER || null,
            audience: e.JWT_AUDIENCE || null,
            clockSkewSeconds: e.JWT_CLOCK_SKEW_S,
            jwksCooldownMs: e.JWT_JWKS_COOLDOWN_MS,
          }
        : null,
    devAuthOnNetwork: e.DEV_AUTH_ON_NETWORK === 'true',
    instanceId: e.INSTANCE_ID || randomUUID(),
    presenceTimeoutMs: e.PRESENCE_TIMEOUT_MS,
    subscriberMaxBufferedBytes: e.SUBSCRIBER_MAX_BUFFERED_BYTES,
    wsKeepAliveMs: e.WS_KEEPALIVE_MS,
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
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    metricsEnabled: e.METRICS_ENABLED ?? true,
    logLevel: e.LOG_LEVEL,
  };
}

/**
 * A placeholder ("your-256-bit-secret" twice, "xxxx…", a padded word, a shell command that was never
 * run) has the length of a key and none of its strength. A random key of 32+ characters passes.
 */
function looksLikePlaceholder(secret: string): boolean {
  if (secret.trim() !== secret || new Set(secret).size < 10 || secret.includes('$(')) return true;
  // A run of 8 characters seen twice ("abcdefgh…abcdefgh"): random keys do not repeat themselves.
  const seen = new Set<string>();
  for (let i = 0; i + 8 <= secret.length; i++) {
    const run = secret.slice(i, i + 8);
    if (seen.has(run)) return true;
    seen.add(run);
  }
  return false;
}

/** AUTH_MODE=jwt needs exactly one key source, and a secret long enough for HS256. */
function jwtProblems(e: z.infer<typeof envSchema>): string[] {
  const jwt = e.AUTH_MODE === 'jwt';
  if (!jwt) {
    const stray = (['JWT_SECRET', 'JWT_JWKS_URL'] as const).filter((name) => e[name]);
    return stray.length > 0 ? [`AUTH_MODE: ${stray.join(' and ')} set, but AUTH_MODE is not "jwt"; set AUTH_MODE=jwt to use tokens`] : [];
  }
  if (e.JWT_SECRET && e.JWT_JWKS_URL) return ['JWT_SECRET, JWT_JWKS_URL: set one of them, not both (HS256 secret, or the key set of an identity provider)'];
  if (!e.JWT_SECRET && !e.JWT_JWKS_URL) return ['JWT_SECRET, JWT_JWKS_URL: AUTH_MODE=jwt needs one of them (HS256 secret, or the key set URL of an identity provider)'];
  // RFC 7518 §3.2: an HS256 key of at least 256 bits.
  if (e.JWT_SECRET && e.JWT_SECRET.length < 32) return ['JWT_SECRET: must be at least 32 characters (HS256 needs a 256-bit key)'];
  if (e.JWT_SECRET && looksLikePlaceholder(e.JWT_SECRET)) {
    return [
      'JWT_SECRET: looks like a placeholder (spaces at an end, 8 characters repeated, fewer than 10 different characters, or an unexpanded $(...)); generate one with `openssl rand -base64 48`',
    ];
  }
  return [];
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
