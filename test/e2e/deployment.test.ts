/**
 * The deployment to copy (docker-compose.yml, deploy/haproxy.cfg, Dockerfile), validated offline with the
 * real tools (no Docker engine): docker-compose 1.29 resolves the file as `docker compose up` would, and
 * `haproxy -c` parses the load balancer's configuration. Then what they say is checked against what the
 * service needs: instances run the bundle in production mode on one Redis that persists.
 * scripts/test-prerequisites.mjs (npm test's pretest) installs docker-compose and haproxy.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('../..', import.meta.url));
const haproxy = existsSync('/usr/sbin/haproxy') ? '/usr/sbin/haproxy' : 'haproxy';
const secret = 'deployment-test-secret-0123456789abcdef';
// An empty env file, so that a developer's own .env plays no part.
const envDir = mkdtempSync(join(tmpdir(), 'cr-compose-'));
const emptyEnv = join(envDir, 'empty.env');
writeFileSync(emptyEnv, '');
afterAll(() => rmSync(envDir, { recursive: true, force: true }));

function compose(args: string[], env: Record<string, string>) {
  return spawnSync('docker-compose', ['-f', 'docker-compose.yml', '--env-file', emptyEnv, ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

interface Service {
  image?: string;
  build?: { context: string };
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: Array<{ published: number; target: number }>;
  expose?: string[];
  stop_grace_period?: string;
  depends_on?: Record<string, { condition: string }>;
}

describe('docker-compose.yml', () => {
  const resolved = compose(['config'], { JWT_SECRET: secret });
  const config = parse(resolved.stdout) as { services: Record<string, Service>; volumes: Record<string, unknown> };

  it('is valid for docker-compose (config -q exits 0)', () => {
    const result = compose(['config', '-q'], { JWT_SECRET: secret });
    expect([result.status, result.stderr]).toEqual([0, '']);
    expect(Object.keys(config.services).sort()).toEqual(['api1', 'api2', 'haproxy', 'redis']);
  });

  it('refuses to start without JWT_SECRET, and says where to put it', () => {
    const result = compose(['config', '-q'], {});
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/set JWT_SECRET \(32\+ characters\) in \.env, see \.env\.example/);
  });

  it('runs two API instances of the bundle in production mode on the one Redis, each its own instance id', () => {
    for (const [name, service] of [['api1', config.services['api1']!], ['api2', config.services['api2']!]] as const) {
      expect(service.command).toEqual(['node', 'dist/main.js']);
      expect(service.build).toEqual({ context: root.replace(/\/$/, '') });
      expect(service.environment).toEqual({
        NODE_ENV: 'production',
        AUTH_MODE: 'jwt',
        JWT_SECRET: secret,
        REDIS_URL: 'redis://redis:6379',
        HOST: '0.0.0.0',
        PORT: '4000',
        LOG_LEVEL: 'info',
        SHUTDOWN_TIMEOUT_MS: '15000',
        INSTANCE_ID: name,
      });
      expect(service.depends_on).toEqual({ redis: { condition: 'service_healthy' } });
      // Only HAProxy is published; SIGKILL comes after the drain's 15 s.
      expect([service.ports, service.expose, service.stop_grace_period]).toEqual([undefined, ['4000'], '20s']);
    }
  });

  it('keeps Redis 7 persistent: AOF, fsync every second, a volume, noeviction', () => {
    const redis = config.services['redis']!;
    expect(redis.image).toMatch(/^redis:7(\.|-|$)/);
    expect(redis.command).toEqual(['redis-server', '--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory', '512mb', '--maxmemory-policy', 'noeviction']);
    expect(redis.volumes).toEqual(['redis-data:/data:rw']);
    expect(Object.keys(config.volumes)).toEqual(['redis-data']);
  });

  it('publishes HAProxy alone, with deploy/haproxy.cfg', () => {
    const lb = config.services['haproxy']!;
    expect(lb.ports).toEqual([{ published: 4000, target: 4000 }]);
    expect(lb.volumes).toEqual([`${join(root, 'deploy', 'haproxy.cfg')}:/usr/local/etc/haproxy/haproxy.cfg:ro`]);
  });
});

describe('deploy/haproxy.cfg', () => {
  const cfg = readFileSync(join(root, 'deploy', 'haproxy.cfg'), 'utf8');
  const lines = cfg.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);

  it('is valid for haproxy -c (the only warnings: the compose service names do not resolve here)', () => {
    const result = spawnSync(haproxy, ['-c', '-f', 'deploy/haproxy.cfg'], { cwd: root, encoding: 'utf8', timeout: 30_000 });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/Configuration file is valid/);
    const warnings = result.stderr.split('\n').filter((l) => l.includes('[WARNING]'));
    expect(warnings.map((w) => /could not resolve address '(api\d)'/.exec(w)?.[1])).toEqual(['api1', 'api2']);
  });

  it('balances round robin over the compose services, health-checking GET /ready', () => {
    expect(lines).toContain('balance roundrobin');
    expect(lines).toContain('option httpchk');
    expect(lines).toContain('http-check send meth GET uri /ready ver HTTP/1.1 hdr host localhost');
    expect(lines).toContain('http-check expect status 200');
    expect(lines.filter((l) => l.startsWith('server '))).toEqual(['server api1 api1:4000 check', 'server api2 api2:4000 check']);
    expect(lines.some((l) => /stick|cookie|balance source/.test(l))).toBe(false);
    // A draining instance's 503 (nothing ran) is retried elsewhere; a downed instance's tunnels are cut.
    expect(lines).toContain('retry-on conn-failure empty-response 503');
    expect(lines.find((l) => l.startsWith('default-server '))).toMatch(/ on-marked-down shutdown-sessions$/);
    expect(lines).toContain('http-request deny deny_status 404 if { path /metrics }');
  });

  it('keeps WebSockets open longer than the 25 s keep-alive, and SSE longer than its 12 s ping', () => {
    const seconds = (name: string) => {
      const [, value, unit] = new RegExp(`^timeout ${name} (\\d+)(ms|s|m|h)$`).exec(lines.find((l) => l.startsWith(`timeout ${name} `)) ?? '') ?? [];
      return Number(value) * { ms: 0.001, s: 1, m: 60, h: 3600 }[unit as 'ms' | 's' | 'm' | 'h'];
    };
    expect(seconds('tunnel')).toBe(3600);
    expect([seconds('client'), seconds('server')]).toEqual([60, 60]);
    expect(seconds('tunnel')).toBeGreaterThan(25);
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const instructions = dockerfile.split('\n').filter((l) => /^[A-Z]+ /.test(l));
  const runStage = instructions.slice(instructions.findLastIndex((l) => l.startsWith('FROM ')));

  it('builds with every dependency, runs the bundle as a non-root user with no npm install', () => {
    expect(instructions.filter((l) => l.startsWith('FROM '))).toEqual(['FROM node:20-bookworm-slim AS build', 'FROM node:20-bookworm-slim']);
    expect(instructions).toContain('RUN npm run build');
    expect(runStage).toEqual([
      'FROM node:20-bookworm-slim',
      'WORKDIR /app',
      'COPY --from=build /app/dist/ ./dist/',
      'USER node',
      'ENV NODE_ENV=production AUTH_MODE=jwt HOST=0.0.0.0 PORT=4000',
      'EXPOSE 4000',
      'HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \\',
      'CMD ["node", "dist/main.js"]',
    ]);
  });
});
