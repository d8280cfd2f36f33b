#!/usr/bin/env node
/**
 * Runs before `npm test` (npm's pretest): makes sure what the tests need is on this machine, or stops
 * at once with the one command that gets it.
 *   - a Redis: REDIS_URL, or one answering on 127.0.0.1:6379, or `redis-server` for the tests to start;
 *   - `redis-server` and `redis-cli` on PATH (tests start Redis processes and Redis Clusters of their own);
 *   - `chromium` on PATH (the GraphiQL test drives Debian's chromium through playwright-core);
 *   - `docker-compose` (1.29) and `haproxy` (the deployment test validates docker-compose.yml and
 *     deploy/haproxy.cfg offline with them; no Docker engine is needed).
 * As root with apt-get (a fresh Debian machine, CI), missing packages are installed; otherwise nothing
 * is installed and the command to run is printed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';

const log = (message) => console.log(`[pretest] ${message}`);

function onPath(command) {
  return spawnSync('/bin/sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** haproxy lives in /usr/sbin, which a non-root PATH often leaves out (the test looks there too). */
function hasHaproxy() {
  return onPath('haproxy') || existsSync('/usr/sbin/haproxy');
}

function redisAnswers(host, port) {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(/^(\+PONG|-NOAUTH)/.test(String(data))));
  });
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const canApt = isRoot && onPath('apt-get');
let aptUpdated = false;

function install(packages, why) {
  if (!canApt) {
    console.error(`\n[pretest] ${why}. Install it, then run npm test again:\n\n    sudo apt-get install -y ${packages.join(' ')}\n`);
    process.exit(1);
  }
  log(`${why}: apt-get install ${packages.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  aptUpdated = true;
  execFileSync('apt-get', ['install', '-y', '-qq', ...packages], { stdio: ['ignore', 'ignore', 'inherit'], env });
}

async function main() {
  if (process.env.REDIS_URL) {
    log(`Redis: REDIS_URL is set (${process.env.REDIS_URL.replace(/\/\/[^@]*@/, '//***@')}); the tests check that it answers`);
  } else if (await redisAnswers('127.0.0.1', 6379)) {
    log('Redis: one answers on 127.0.0.1:6379');
  } else if (!onPath('redis-server')) {
    install(['redis-server'], 'No Redis answers on 127.0.0.1:6379 and there is no redis-server for the tests to start');
  }
  // Tests that kill a Redis start their own redis-server processes.
  if (!onPath('redis-server')) install(['redis-server'], 'Some tests start redis-server processes of their own, and there is none');
  // redis-server's package brings redis-tools; a Redis installed some other way may come without it.
  if (!onPath('redis-cli')) install(['redis-tools'], 'The Redis Cluster tests join their nodes with redis-cli (redis-tools), and there is none');
  const missing = [
    ...(onPath('chromium') ? [] : [['chromium', "the GraphiQL test needs Debian's chromium on PATH"]]),
    ...(onPath('docker-compose') ? [] : [['docker-compose', 'the deployment test validates docker-compose.yml with docker-compose']]),
    ...(hasHaproxy() ? [] : [['haproxy', 'the deployment test validates deploy/haproxy.cfg with haproxy -c']]),
  ];
  if (missing.length > 0) {
    const why = missing.map(([, reason]) => reason).join('; ');
    install(missing.map(([name]) => name), why.charAt(0).toUpperCase() + why.slice(1));
  }
}

await main();
