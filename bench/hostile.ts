/**
 * Measures (does not assert) how fast the server refuses each hostile shape of issue 8, and whether its
 * memory stays flat under distinct hostile documents. The server is a child process (src/main.ts,
 * default limits, embedded store); RSS is read from /proc. Writes bench/results/hostile.md.
 *
 *   npm run bench:hostile
 */
import { writeFileSync } from 'node:fs';
import WebSocket from 'ws';
import { freePort, repoRoot, startServer, stopAll } from './lib/children.js';
import { rssBytes } from './lib/proc.js';
import { median } from './lib/stats.js';
import { aliases, bigAliasDocument, fragmentDoubling, manyDirectives, nestedBraces } from '../test/utils/hostile-shapes.js';
import { rawRequest } from '../test/utils/raw-http.js';

const runs = 7;
const json = { 'content-type': 'application/json' };
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

async function main(): Promise<void> {
  const port = await freePort();
  const server = await startServer({
    script: 'src/main.ts',
    env: { PORT: String(port), LOG_LEVEL: 'warn' },
    nodeFlags: ['--expose-gc', '--import', './bench/servers/gc-on-signal.mjs'],
    readyPath: '/health',
    port,
  });
  /** The server's RSS after a full GC in it (SIGUSR2, see bench/servers/gc-on-signal.mjs). */
  const rssAfterGc = async () => {
    for (let i = 0; i < 2; i++) {
      server.child.kill('SIGUSR2');
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    return rssBytes(server.pid);
  };
  const url = `http://127.0.0.1:${port}/graphql`;
  const postQuery = (query: string) => rawRequest(url, { method: 'POST', headers: json, body: JSON.stringify({ query }) });
  const mebibyte = Buffer.from(JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(2 ** 20) } }));
  const chunks = Array.from({ length: Math.ceil(mebibyte.length / 16384) }, (_, i) => mebibyte.subarray(i * 16384, (i + 1) * 16384));

  const etag = (await rawRequest(url, { headers: { accept: 'text/html' } })).headers.etag as string;
  const shapes: Array<[string, () => Promise<{ status: number | string; code?: unknown }>]> = [
    ['2^30 fragment doubling, GET, CSRF header, no identity', async () => {
      const r = await rawRequest(`${url}?query=${encodeURIComponent(fragmentDoubling(30))}`, { headers: { 'x-graphql-yoga-csrf': '1' } });
      return { status: r.status, code: r.json?.errors?.[0]?.extensions?.code };
    }],
    ['2^30 fragment doubling, GET, no header (CSRF refusal)', async () => {
      const r = await rawRequest(`${url}?query=${encodeURIComponent(fragmentDoubling(30))}`);
      return { status: r.status, code: r.json?.errors?.[0]?.extensions?.code };
    }],
    ['5,000 nested braces', async () => {
      const r = await postQuery(nestedBraces(5000));
      return { status: r.status, code: r.json?.errors?.[0]?.extensions?.code };
    }],
    ['20,000 aliases of conflictRoom (~880 KB)', async () => {
      const r = await postQuery(aliases(20_000));
      return { status: r.status, code: r.json?.errors?.[0]?.extensions?.code };
    }],
    ['1,200 aliases (54 KB, under the body limit: token limit)', async () => {
      const r = await postQuery(aliases(1200));
      return { status: r.status, code: r.json?.errors?.[0]?.extensions?.code };
    }],
    ['51 directives', async () => {
      const r = await postQuery(manyDirectives(51));
      return { status: r.status, code: r.json?.errors?.[0]?.extensions?.code };
    }],
    ['1 MiB POST, Content-Length', async () => {
      const r = await rawRequest(url, { method: 'POST', headers: json, body: mebibyte });
      return { status: r.status, code: r.json?.errors?.[0]?.extensions?.code };
    }],
    ['1 MiB POST, chunked', async () => {
      const r = await rawRequest(url, { method: 'POST', headers: json, body: chunks });
      return { status: r.status, code: r.json?.errors?.[0]?.extensions?.code };
    }],
    ['form-urlencoded mutation', async () => {
      const r = await rawRequest(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-user-id': 'm' }, body: 'query=mutation%7B__typename%7D' });
      return { status: r.status, code: r.json?.errors?.[0]?.extensions?.code };
    }],
    ['1 MiB WebSocket frame (until close)', () =>
      new Promise((resolve) => {
        const socket = new WebSocket(url.replace('http', 'ws'), 'graphql-transport-ws');
        socket.on('open', () => socket.send(mebibyte));
        socket.on('error', () => undefined);
        socket.on('close', (code) => resolve({ status: `close ${code}` }));
      })],
    ['GraphiQL page (9 MB, built once)', async () => {
      const r = await rawRequest(url, { headers: { accept: 'text/html' } });
      return { status: r.status, code: `${mb(r.text.length)} MB` };
    }],
    ['GraphiQL page, If-None-Match', async () => {
      const r = await rawRequest(url, { headers: { accept: 'text/html', 'if-none-match': etag } });
      return { status: r.status };
    }],
  ];

  const lines = ['# Hostile input: time to refuse, and memory', '', `Measured by \`npm run bench:hostile\` (bench/hostile.ts) on ${new Date().toISOString()}, Node ${process.version}, default limits, embedded store; server in a child process; median of ${runs} runs, each on a new connection.`, '', '| shape | answer | median ms | max ms |', '| --- | --- | ---: | ---: |'];
  for (const [name, run] of shapes) {
    const times: number[] = [];
    let answer = '';
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      const result = await run();
      times.push(performance.now() - started);
      answer = `${result.status}${result.code ? ` ${result.code}` : ''}`;
    }
    lines.push(`| ${name} | ${answer} | ${median(times).toFixed(1)} | ${Math.max(...times).toFixed(1)} |`);
    console.log(lines.at(-1));
  }
  const answers = await postQuery('{ __typename }');
  lines.push('', `After all of them the server answers \`{ __typename }\`: ${JSON.stringify(answers.json)}.`);

  // Distinct documents: each is new to every cache. Refused ones must leave nothing behind; accepted ones
  // are kept in the bounded parse cache (src/app.ts), compiled by graphql-jit once each.
  const distinct = (round: number, i: number) => {
    const salt = `r${round}d${i}`;
    switch (i % 4) {
      case 0: return fragmentDoubling(30, salt);
      case 1: return bigAliasDocument(55_000, salt);
      case 2: return `query ${salt} ${nestedBraces(2000 + i)}`;
      default: return manyDirectives(60, salt);
    }
  };
  const accepted = (round: number, i: number) => `query A${round}x${i} { conflictRoom(transactionId: "t${i}") { ${'version '.repeat(1800)} } }`;
  const rss: Array<[string, number]> = [['start (after the shapes above)', await rssAfterGc()]];
  for (let round = 1; round <= 3; round++) {
    for (let i = 0; i < 100; i++) await postQuery(distinct(round, i));
    rss.push([`after ${round * 100} distinct hostile documents`, await rssAfterGc()]);
  }
  for (let round = 1; round <= 4; round++) {
    for (let i = 0; i < 100; i++) await rawRequest(url, { method: 'POST', headers: { ...json, 'x-user-id': 'bench' }, body: JSON.stringify({ query: accepted(round, i) }) });
    rss.push([`after ${round * 100} distinct accepted documents near the token limit (1,800 fields)`, await rssAfterGc()]);
  }
  lines.push('', 'RSS of the server after a full GC in it (SIGUSR2 with --expose-gc; bench only):', '', '| server RSS | MB |', '| --- | ---: |', ...rss.map(([when, bytes]) => `| ${when} | ${mb(bytes)} |`));
  console.log(rss.map(([when, bytes]) => `${when}: ${mb(bytes)} MB`).join('\n'));
  await server.stop();
  writeFileSync(`${repoRoot}/bench/results/hostile.md`, `${lines.join('\n')}\n`);
  console.log('wrote bench/results/hostile.md');
}

main().then(
  () => process.exit(0),
  async (error: unknown) => {
    console.error(error);
    await stopAll();
    process.exit(1);
  },
);
