/** The limits of issue 8 ("Hostile input bounded") as configuration: defaults, overrides, refusals. */
import { describe, expect, it } from 'vitest';
import { ConfigError, developerSurfaces, loadConfig } from '../../src/config.js';

const problems = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => p.split(':')[0]!).sort();
    throw error;
  }
  throw new Error('expected a ConfigError');
};

describe('developerSurfaces (pure: production cannot start yet, so its defaults are tested here)', () => {
  it('development: GraphiQL, introspection, field suggestions on; CORS for any origin', () => {
    expect(developerSurfaces('development')).toEqual({ graphiql: true, introspection: true, fieldSuggestions: true, corsOrigins: '*' });
    expect(developerSurfaces('test')).toEqual({ graphiql: true, introspection: true, fieldSuggestions: true, corsOrigins: '*' });
  });

  it('production: all off, and no origin allowed', () => {
    expect(developerSurfaces('production')).toEqual({ graphiql: false, introspection: false, fieldSuggestions: false, corsOrigins: [] });
  });

  it('each override wins over the environment default', () => {
    expect(developerSurfaces('production', { graphiql: true, corsOrigins: ['https://app.example.com'] })).toEqual({
      graphiql: true,
      introspection: false,
      fieldSuggestions: false,
      corsOrigins: ['https://app.example.com'],
    });
    expect(developerSurfaces('development', { introspection: false, fieldSuggestions: false, corsOrigins: [] })).toEqual({
      graphiql: true,
      introspection: false,
      fieldSuggestions: false,
      corsOrigins: [],
    });
  });
});

describe('loadConfig security', () => {
  it('reads every limit and switch', () => {
    const { security } = loadConfig({
      MAX_BODY_BYTES: '2048',
      WS_MAX_MESSAGE_BYTES: '4096',
      MAX_TOKENS: '300',
      MAX_DEPTH: '4',
      MAX_ALIASES: '2',
      MAX_COST: '700',
      MAX_DIRECTIVES: '3',
      MAX_SUBSCRIPTIONS_PER_CONNECTION: '5',
      MAX_CONNECTIONS_PER_USER: '6',
      WS_MESSAGES_PER_SECOND: '7',
      WS_MESSAGE_BURST: '8',
      CORS_ORIGINS: 'https://a.example, http://localhost:5173',
      GRAPHIQL: 'false',
      INTROSPECTION: 'false',
      FIELD_SUGGESTIONS: 'false',
    });
    expect(security).toEqual({
      maxBodyBytes: 2048,
      wsMaxMessageBytes: 4096,
      document: { maxTokens: 300, maxDepth: 4, maxAliases: 2, maxCost: 700, maxDirectives: 3 },
      maxSubscriptionsPerConnection: 5,
      maxConnectionsPerUser: 6,
      wsMessagesPerSecond: 7,
      wsMessageBurst: 8,
      corsOrigins: ['https://a.example', 'http://localhost:5173'],
      graphiql: false,
      introspection: false,
      fieldSuggestions: false,
    });
  });

  it('the WebSocket message limit follows MAX_BODY_BYTES unless set', () => {
    expect(loadConfig({ MAX_BODY_BYTES: '10000' }).security.wsMaxMessageBytes).toBe(10_000);
  });

  it('CORS_ORIGINS=* allows any origin explicitly', () => {
    expect(loadConfig({ CORS_ORIGINS: '*' }).security.corsOrigins).toBe('*');
  });

  it('refuses limits out of range, origins that are not origins, and switches that are not true/false', () => {
    expect(
      problems({
        MAX_BODY_BYTES: '10',
        WS_MAX_MESSAGE_BYTES: 'big',
        MAX_TOKENS: '0',
        MAX_DEPTH: '1',
        MAX_ALIASES: '-1',
        MAX_COST: '1.5',
        MAX_DIRECTIVES: 'x',
        MAX_SUBSCRIPTIONS_PER_CONNECTION: '0',
        MAX_CONNECTIONS_PER_USER: '0',
        CORS_ORIGINS: 'https://a.example/app',
        GRAPHIQL: 'yes',
        INTROSPECTION: '1',
      }),
    ).toEqual([
      'CORS_ORIGINS',
      'GRAPHIQL',
      'INTROSPECTION',
      'MAX_ALIASES',
      'MAX_BODY_BYTES',
      'MAX_CONNECTIONS_PER_USER',
      'MAX_COST',
      'MAX_DEPTH',
      'MAX_DIRECTIVES',
      'MAX_SUBSCRIPTIONS_PER_CONNECTION',
      'MAX_TOKENS',
      'WS_MAX_MESSAGE_BYTES',
    ]);
  });
});
