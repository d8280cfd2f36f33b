import { describe, it, expect } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected loadConfig to throw a ConfigError');
}

describe('loadConfig defaults', () => {
  it('an empty environment gives the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toEqual({
      nodeEnv: 'development',
      port: 4000,
      host: '127.0.0.1',
      redis: { url: null, clusterNodes: null, keyPrefix: 'cr:', timeoutMs: 1500 },
      room: { ttlSeconds: 604_800, eventLogLength: 1000, historyMaxEvents: 10_000, requestIdTtlSeconds: 86_400 },
      limits: {
        transactionIdMaxLength: 128,
        fieldMaxLength: 64,
        valueMaxLength: 1024,
        userNameMaxLength: 64,
        maxFields: 100,
        maxParticipants: 16,
      },
      security: {
        maxBodyBytes: 65_536,
        wsMaxMessageBytes: 65_536,
        document: { maxTokens: 2000, maxDepth: 10, maxAliases: 15, maxCost: 5000, maxDirectives: 50 },
        maxSubscriptionsPerConnection: 50,
        maxConnectionsPerUser: 20,
        wsMessagesPerSecond: 20,
        wsMessageBurst: 60,
        corsOrigins: '*',
        graphiql: true,
        introspection: true,
        fieldSuggestions: true,
      },
      rateLimit: { perSecond: 20, burst: 60 },
      authMode: 'dev',
      trustedDocuments: { mode: 'allow', manifests: [] },
      jwt: null,
      devAuthOnNetwork: false,
      instanceId: expect.any(String),
      presenceTimeoutMs: 15_000,
      subscriberMaxBufferedBytes: 8 * 1024 * 1024,
      wsKeepAliveMs: 25_000,
      resolutionWebhook: null,
      shutdownTimeoutMs: 15_000,
      metricsEnabled: true,
      logLevel: 'info',
    });
  });

  it('a missing INSTANCE_ID gets a fresh random id each time', () => {
    const a = loadConfig({}).instanceId;
    const b = loadConfig({}).instanceId;
    expect(a.length).toBeGreaterThan(0);
    expect(b.length).toBeGreaterThan(0);
    expect(a).not.toBe(b);
  });

  it('empty variables count as unset', () => {
    const config = loadConfig({ PORT: '', HOST: '', REDIS_URL: '', REDIS_KEY_PREFIX: '', EVENT_LOG_LENGTH: '  ' });
    expect(config.port).toBe(4000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.redis.url).toBeNull();
    expect(config.redis.keyPrefix).toBe('cr:');
    expect(config.room.eventLogLength).toBe(1000);
  });
});

describe('loadConfig overrides', () => {
  it('parses every numeric variable to a number', () => {
    const config = loadConfig({
      NODE_ENV: 'test',
      PORT: '8080',
      HOST: '0.0.0.0',
      DEV_AUTH_ON_NETWORK: 'true',
      REDIS_URL: 'redis://localhost:6379/2',
      REDIS_KEY_PREFIX: 'rooms:',
      STORE_TIMEOUT_MS: '2500',
      ROOM_TTL_SECONDS: '3600',
      EVENT_LOG_LENGTH: '50',
      HISTORY_MAX_EVENTS: '5000',
      REQUEST_ID_TTL_SECONDS: '600',
      MAX_TRANSACTION_ID_LENGTH: '32',
      MAX_FIELD_LENGTH: '16',
      MAX_VALUE_LENGTH: '256',
      MAX_USER_NAME_LENGTH: '20',
      MAX_FIELDS_PER_ROOM: '10',
      MAX_PARTICIPANTS_PER_ROOM: '3',
      RATE_LIMIT_PER_SECOND: '0',
      RATE_LIMIT_BURST: '5',
      AUTH_MODE: 'dev',
      INSTANCE_ID: 'node-a',
      PRESENCE_TIMEOUT_MS: '3000',
      SUBSCRIBER_MAX_BUFFERED_BYTES: '65536',
      WS_KEEPALIVE_MS: '10000',
      RESOLUTION_WEBHOOK_URL: 'https://market.example/hooks/resolved',
      RESOLUTION_WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      RESOLUTION_WEBHOOK_TIMEOUT_MS: '4000',
      RESOLUTION_WEBHOOK_RETRY_BASE_MS: '500',
      RESOLUTION_WEBHOOK_RETRY_MAX_MS: '60000',
      RESOLUTION_WEBHOOK_MAX_ATTEMPTS: '3',
      RESOLUTION_WEBHOOK_LEASE_MS: '8000',
      SHUTDOWN_TIMEOUT_MS: '5000',
      METRICS_ENABLED: 'false',
      LOG_LEVEL: 'debug',
    });
    expect(config).toEqual({
      nodeEnv: 'test',
      port: 8080,
      host: '0.0.0.0',
      redis: { url: 'redis://localhost:6379/2', clusterNodes: null, keyPrefix: 'rooms:', timeoutMs: 2500 },
      room: { ttlSeconds: 3600, eventLogLength: 50, historyMaxEvents: 5000, requestIdTtlSeconds: 600 },
      limits: {
        transactionIdMaxLength: 32,
        fieldMaxLength: 16,
        valueMaxLength: 256,
        userNameMaxLength: 20,
        maxFields: 10,
        maxParticipants: 3,
      },
      security: {
        maxBodyBytes: 65_536,
        wsMaxMessageBytes: 65_536,
        document: { maxTokens: 2000, maxDepth: 10, maxAliases: 15, maxCost: 5000, maxDirectives: 50 },
        maxSubscriptionsPerConnection: 50,
        maxConnectionsPerUser: 20,
        wsMessagesPerSecond: 20,
        wsMessageBurst: 60,
        corsOrigins: '*',
        graphiql: true,
        introspection: true,
        fieldSuggestions: true,
      },
      rateLimit: { perSecond: 0, burst: 5 },
      authMode: 'dev',
      trustedDocuments: { mode: 'allow', manifests: [] },
      jwt: null,
      devAuthOnNetwork: true,
      instanceId: 'node-a',
      presenceTimeoutMs: 3000,
      subscriberMaxBufferedBytes: 65536,
      wsKeepAliveMs: 10_000,
      resolutionWebhook: {
        url: 'https://market.example/hooks/resolved',
        secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        timeoutMs: 4000,
        retryBaseMs: 500,
        retryMaxMs: 60_000,
        maxAttempts: 3,
        leaseMs: 8000,
      },
      shutdownTimeoutMs: 5000,
      metricsEnabled: false,
      logLevel: 'debug',
    });
  });

  it('the resolution webhook: defaults, and the settings that only go together', () => {
    const webhook = loadConfig({ RESOLUTION_WEBHOOK_URL: 'http://127.0.0.1:9/hook', RESOLUTION_WEBHOOK_SECRET: 'whsec_c2VjcmV0' }).resolutionWebhook;
    expect(webhook).toEqual({
      url: 'http://127.0.0.1:9/hook',
      secret: 'whsec_c2VjcmV0',
      timeoutMs: 10_000,
      retryBaseMs: 1000,
      retryMaxMs: 300_000,
      maxAttempts: 10,
      leaseMs: 30_000,
    });
    expect(configError({ RESOLUTION_WEBHOOK_URL: 'http://127.0.0.1:9/hook' }).problems).toEqual([
      'RESOLUTION_WEBHOOK_SECRET: required with RESOLUTION_WEBHOOK_URL (a whsec_… secret the receiver shares)',
    ]);
    expect(configError({ RESOLUTION_WEBHOOK_SECRET: 'whsec_c2VjcmV0' }).problems).toEqual([
      'RESOLUTION_WEBHOOK_URL: RESOLUTION_WEBHOOK_SECRET is set but there is no URL to deliver to',
    ]);
    expect(configError({ RESOLUTION_WEBHOOK_URL: 'ftp://x', RESOLUTION_WEBHOOK_SECRET: 'plain' }).problems).toEqual([
      'RESOLUTION_WEBHOOK_URL: must be an http:// or https:// URL',
      'RESOLUTION_WEBHOOK_SECRET: must be whsec_ followed by base64 (a Standard Webhooks secret)',
    ]);
    for (const secret of ['whsec_', 'whsec_abc', 'whsec_YQ', 'whsec_c2Vj-mV0', 'c2VjcmV0']) {
      expect(configError({ RESOLUTION_WEBHOOK_URL: 'http://127.0.0.1:9/hook', RESOLUTION_WEBHOOK_SECRET: secret }).problems).toEqual([
        'RESOLUTION_WEBHOOK_SECRET: must be whsec_ followed by base64 (a Standard Webhooks secret)',
      ]);
    }
    expect(loadConfig({ RESOLUTION_WEBHOOK_URL: 'http://127.0.0.1:9/hook', RESOLUTION_WEBHOOK_SECRET: 'whsec_YQ==' }).resolutionWebhook?.secret).toBe('whsec_YQ==');
    expect(configError({ RESOLUTION_WEBHOOK_LEASE_MS: '5000', RESOLUTION_WEBHOOK_TIMEOUT_MS: '4500' }).problems).toEqual([
      'RESOLUTION_WEBHOOK_LEASE_MS: 5000 must exceed RESOLUTION_WEBHOOK_TIMEOUT_MS (4500) by more than 1000, so that one instance delivers at a time',
    ]);
    expect(configError({ HISTORY_MAX_EVENTS: '10', EVENT_LOG_LENGTH: '20' }).problems).toEqual([
      'HISTORY_MAX_EVENTS: 10 is below EVENT_LOG_LENGTH (20); the history holds the resume log',
    ]);
  });

  it('PORT=0 (a free port) is allowed', () => {
    expect(loadConfig({ PORT: '0' }).port).toBe(0);
  });

  it('accepts redis:// and rediss:// URLs', () => {
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).redis.url).toBe('redis://127.0.0.1:6379');
    expect(loadConfig({ REDIS_URL: 'rediss://user:pw@cache.example:6380/0' }).redis.url).toBe(
      'rediss://user:pw@cache.example:6380/0',
    );
  });
});

describe('loadConfig errors', () => {
  it('reports every bad variable at once in one ConfigError', () => {
    const error = configError({ PORT: 'abc', EVENT_LOG_LENGTH: '0' });
    expect(error.problems).toHaveLength(2);
    expect(error.problems).toEqual(
      expect.arrayContaining([expect.stringMatching(/^PORT: .*"abc"/), expect.stringMatching(/^EVENT_LOG_LENGTH: .*"0"/)]),
    );
    expect(error.message).toContain('PORT');
    expect(error.message).toContain('EVENT_LOG_LENGTH');
  });

  it('refuses numbers out of range or not whole', () => {
    const error = configError({
      PORT: '70000',
      STORE_TIMEOUT_MS: '1.5',
      MAX_PARTICIPANTS_PER_ROOM: '1',
      RATE_LIMIT_PER_SECOND: '-1',
      MAX_FIELDS_PER_ROOM: 'many',
    });
    expect(error.problems.map((p) => p.split(':')[0]).sort()).toEqual(
      ['MAX_FIELDS_PER_ROOM', 'MAX_PARTICIPANTS_PER_ROOM', 'PORT', 'RATE_LIMIT_PER_SECOND', 'STORE_TIMEOUT_MS'],
    );
  });

  it('REDIS_URL must start with redis:// or rediss://', () => {
    for (const url of ['http://localhost:6379', 'localhost:6379', 'redis:/x', 'REDIS://localhost']) {
      const error = configError({ REDIS_URL: url });
      expect(error.problems).toEqual(['REDIS_URL: must start with redis:// or rediss://']);
    }
  });

  it('REDIS_CLUSTER_NODES is a list of host:port, trimmed', () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000, redis-b:7001' }).redis).toEqual({
      url: null,
      clusterNodes: ['127.0.0.1:7000', 'redis-b:7001'],
      keyPrefix: 'cr:',
      timeoutMs: 1500,
    });
    for (const nodes of ['127.0.0.1', 'redis://a:1', 'a:1,,b:2', 'a:b']) {
      expect(configError({ REDIS_CLUSTER_NODES: nodes }).problems).toEqual(['REDIS_CLUSTER_NODES: must be a comma-separated list of host:port']);
    }
  });

  it('REDIS_URL and REDIS_CLUSTER_NODES together are refused, beside any other bad variable', () => {
    const error = configError({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: '127.0.0.1:7000', PORT: 'x' });
    expect(error.problems.map((p) => p.split(':')[0]).sort()).toEqual(['PORT', 'REDIS_CLUSTER_NODES']);
  });

  it('refuses an unknown AUTH_MODE and LOG_LEVEL', () => {
    const error = configError({ AUTH_MODE: 'none', LOG_LEVEL: 'loud' });
    expect(error.problems.map((p) => p.split(':')[0]).sort()).toEqual(['AUTH_MODE', 'LOG_LEVEL']);
  });

  it('refuses a PRESENCE_TIMEOUT_MS below 300 ms and an INSTANCE_ID that could not name a presence owner', () => {
    expect(configError({ SHUTDOWN_TIMEOUT_MS: '500' }).problems).toEqual(['SHUTDOWN_TIMEOUT_MS: must be a whole number from 1000 to 600000, got "500"']);
    expect(configError({ METRICS_ENABLED: 'yes' }).problems).toEqual([expect.stringMatching(/^METRICS_ENABLED: /)]);
    expect(configError({ PRESENCE_TIMEOUT_MS: '100' }).problems).toEqual([expect.stringMatching(/^PRESENCE_TIMEOUT_MS: must be a whole number from 300/)]);
    for (const id of ['a/b', 'a b', '{a}']) expect(configError({ INSTANCE_ID: id }).problems).toEqual([expect.stringMatching(/^INSTANCE_ID: /)]);
  });

  it('refuses a key prefix with braces or spaces', () => {
    expect(configError({ REDIS_KEY_PREFIX: '{cr}' }).problems).toEqual([expect.stringMatching(/^REDIS_KEY_PREFIX: /)]);
    expect(configError({ REDIS_KEY_PREFIX: 'c r' }).problems).toEqual([expect.stringMatching(/^REDIS_KEY_PREFIX: /)]);
  });

  it('refuses NODE_ENV=production without an identity mode', () => {
    const error = configError({ NODE_ENV: 'production' });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/NODE_ENV=production/);
  });

  it('refuses a NODE_ENV that means production but is not spelled "production"', () => {
    for (const nodeEnv of ['Production', 'PRODUCTION', 'production ']) {
      expect(configError({ NODE_ENV: nodeEnv }).problems).toEqual([`NODE_ENV: "${nodeEnv}" is not "production"; write it in lower case, without spaces`]);
    }
    // A typo would run the development mode: only the three known values start.
    expect(configError({ NODE_ENV: 'prod' }).problems).toEqual(['NODE_ENV: "prod" is none of production, development, test; production needs "production" exactly']);
    for (const nodeEnv of ['development', 'test', '']) expect(loadConfig({ NODE_ENV: nodeEnv }).authMode).toBe('dev');
  });

  it('TRUSTED_DOCUMENTS=only turns GraphiQL off, and refuses GRAPHIQL=true beside it', () => {
    expect(loadConfig({ TRUSTED_DOCUMENTS: 'only', TRUSTED_DOCUMENTS_MANIFESTS: 'a.json, b.json' })).toMatchObject({
      trustedDocuments: { mode: 'only', manifests: ['a.json', 'b.json'] },
      security: { graphiql: false },
    });
    expect(configError({ TRUSTED_DOCUMENTS: 'only', GRAPHIQL: 'true' }).problems).toEqual([expect.stringMatching(/^GRAPHIQL: GraphiQL sends documents as text/)]);
    expect(configError({ TRUSTED_DOCUMENTS: 'some' }).problems).toEqual([expect.stringMatching(/^TRUSTED_DOCUMENTS: /)]);
  });

  it('refuses NODE_ENV=production with AUTH_MODE=dev', () => {
    const error = configError({ NODE_ENV: 'production', AUTH_MODE: 'dev' });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^AUTH_MODE: /);
    expect(error.problems[0]).toMatch(/NODE_ENV=production/);
  });

  it('reports the production refusal together with every other bad variable', () => {
    const error = configError({ NODE_ENV: 'production', PORT: 'abc' });
    expect(error.problems).toHaveLength(2);
    expect(error.problems.join('\n')).toMatch(/PORT/);
    expect(error.problems.join('\n')).toMatch(/NODE_ENV=production/);
  });

  it('runs NODE_ENV=production with AUTH_MODE=jwt, on any HOST, with the documented JWT defaults', () => {
    const secret = 'a-secret-of-at-least-32-characters-0123456789';
    const config = loadConfig({ NODE_ENV: 'production', AUTH_MODE: 'jwt', JWT_SECRET: secret, HOST: '0.0.0.0' });
    expect(config.authMode).toBe('jwt');
    expect(config.jwt).toEqual({ secret, jwksUrl: null, issuer: null, audience: null, clockSkewSeconds: 5, jwksCooldownMs: 30_000 });
    const jwks = loadConfig({
      AUTH_MODE: 'jwt',
      JWT_JWKS_URL: 'https://idp.example.com/.well-known/jwks.json',
      JWT_ISSUER: 'https://idp.example.com/',
      JWT_AUDIENCE: 'conflict-rooms',
      JWT_CLOCK_SKEW_S: '0',
      JWT_JWKS_COOLDOWN_MS: '1000',
    });
    expect(jwks.jwt).toEqual({
      secret: null,
      jwksUrl: 'https://idp.example.com/.well-known/jwks.json',
      issuer: 'https://idp.example.com/',
      audience: 'conflict-rooms',
      clockSkewSeconds: 0,
      jwksCooldownMs: 1000,
    });
  });

  it('AUTH_MODE=jwt needs exactly one key source, and an HS256 secret of at least 32 characters', () => {
    expect(configError({ AUTH_MODE: 'jwt' }).problems).toEqual([expect.stringMatching(/^JWT_SECRET, JWT_JWKS_URL: AUTH_MODE=jwt needs one of them/)]);
    expect(configError({ AUTH_MODE: 'jwt', JWT_SECRET: 's'.repeat(32), JWT_JWKS_URL: 'https://idp.example.com/jwks' }).problems).toEqual([
      expect.stringMatching(/^JWT_SECRET, JWT_JWKS_URL: set one of them, not both/),
    ]);
    expect(configError({ AUTH_MODE: 'jwt', JWT_SECRET: 's'.repeat(31) }).problems).toEqual([expect.stringMatching(/^JWT_SECRET: must be at least 32 characters/)]);
    // Placeholders the length of a key: one character repeated, a short word padded with spaces.
    for (const placeholder of [
      's'.repeat(32),
      'changeme'.repeat(4),
      `${' '.repeat(24)}password`,
      'your-256-bit-secret-your-256-bit-secret',
      '0123456789'.repeat(4),
      '$(node -e "console.log(require(\'crypto\').randomBytes(32).toString(\'base64url\'))")',
    ]) {
      expect(configError({ AUTH_MODE: 'jwt', JWT_SECRET: placeholder }).problems).toEqual([expect.stringMatching(/^JWT_SECRET: looks like a placeholder/)]);
    }
    expect(configError({ AUTH_MODE: 'jwt', JWT_JWKS_URL: 'ftp://idp' }).problems).toEqual([expect.stringMatching(/^JWT_JWKS_URL: /)]);
    // A key without the mode would silently do nothing: say so.
    expect(configError({ JWT_SECRET: 's'.repeat(32) }).problems).toEqual([expect.stringMatching(/^AUTH_MODE: JWT_SECRET set, but AUTH_MODE is not "jwt"/)]);
  });

  it('refuses dev identities on a network-facing HOST unless DEV_AUTH_ON_NETWORK=true', () => {
    const error = configError({ HOST: '0.0.0.0' });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^HOST: 0\.0\.0\.0 .*DEV_AUTH_ON_NETWORK=true/);
    expect(loadConfig({ HOST: '0.0.0.0', DEV_AUTH_ON_NETWORK: 'true' })).toMatchObject({ host: '0.0.0.0', devAuthOnNetwork: true });
    expect(loadConfig({ HOST: '::1' }).devAuthOnNetwork).toBe(false);
  });
});
