#!/usr/bin/env node
/**
 * `npm run build`: bundles the server (src/main.ts) with esbuild into dist/main.js, for
 * `npm run start:prod` (`node dist/main.js`) and the Docker image. No tsx, no TypeScript at run time.
 *
 *   node scripts/build.mjs                    dist/main.js, dist/cli/webhooks.js, dist/chunks/ (dist/sdk, build:sdk's, stays)
 *   node scripts/build.mjs --outdir <dir>     elsewhere (the tests build to a temporary directory)
 *   node scripts/build.mjs --external         leave node_modules out of the bundle (for comparison only)
 *
 * Dependencies are bundled: measured (bench/results/idle-start.md, medians of 5 runs), the bundle
 * answers sooner than the same code importing node_modules (0.29 s against 0.76 s) and peaks lower
 * (88 MB against 126 MB RSS); after 10 s idle the two end close (88 MB; 83 MB once a garbage collection
 * gave the external build's start-up memory back). And the bundle runs with no node_modules at all. Code loaded only when used (the GraphiQL renderer, graphql-jit) is split into chunks that are
 * read only then.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

function parseArgs(argv) {
  const options = { outdir: join(root, 'dist'), external: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--outdir') options.outdir = argv[++i];
    else if (arg.startsWith('--outdir=')) options.outdir = arg.slice('--outdir='.length);
    else if (arg === '--external') options.external = true;
    else throw new Error(`unknown argument ${arg}; usage: node scripts/build.mjs [--outdir <dir>] [--external]`);
  }
  if (!options.outdir) throw new Error('--outdir needs a directory');
  return options;
}

// Bundled CommonJS dependencies call require() and read __dirname/__filename; an ES module has none.
const banner = [
  "import { createRequire as __createRequire } from 'node:module';",
  "import { fileURLToPath as __fileURLToPath } from 'node:url';",
  "import { dirname as __pathDirname } from 'node:path';",
  'const require = __createRequire(import.meta.url);',
  'const __filename = __fileURLToPath(import.meta.url);',
  'const __dirname = __pathDirname(__filename);',
].join('\n');

export async function buildServer({ outdir, external = false }) {
  // Only what this build writes: dist/sdk (npm run build:sdk) stays.
  rmSync(join(outdir, 'main.js'), { force: true });
  rmSync(join(outdir, 'main.js.map'), { force: true });
  rmSync(join(outdir, 'chunks'), { recursive: true, force: true });
  rmSync(join(outdir, 'cli'), { recursive: true, force: true });
  const started = Date.now();
  const common = {
    absWorkingDir: root,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    ...(external ? { packages: 'external' } : { banner: { js: banner } }),
    sourcemap: 'linked',
    // For debugging: `node --enable-source-maps dist/main.js` maps stack traces back to src/.
    sourcesContent: false,
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
  };
  const result = await build({ ...common, entryPoints: { main: 'src/main.ts' }, outdir, splitting: true, chunkNames: 'chunks/[name]-[hash]' });
  // The operators' CLI ships too (`node dist/cli/webhooks.js failed`, in a container without tsx), as a
  // bundle of its own: sharing chunks with the server costs the server about 5 MB at idle (measured).
  await build({ ...common, entryPoints: ['src/cli/webhooks.ts'], outfile: join(outdir, 'cli', 'webhooks.js') });
  // The bundle is an ES module wherever it is copied to (a container, a temporary directory): without
  // this, Node parses it as CommonJS first, fails, and keeps about 25 MB more after reparsing it.
  mkdirSync(outdir, { recursive: true });
  writeFileSync(join(outdir, 'package.json'), `${JSON.stringify({ type: 'module', private: true }, null, 2)}\n`);
  const bytes = Object.entries(result.metafile.outputs)
    .filter(([file]) => file.endsWith('.js'))
    .reduce((sum, [, output]) => sum + output.bytes, 0);
  return { outdir, ms: Date.now() - started, bytes };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const options = parseArgs(process.argv.slice(2));
  const { outdir, ms, bytes } = await buildServer(options);
  console.log(`built ${join(outdir, 'main.js')} (${(bytes / 1e6).toFixed(1)} MB of JavaScript with its chunks${options.external ? ', node_modules external' : ''}) in ${ms} ms`);
}
