/**
 * GraphiQL in a real headless Chromium (Debian's, driven by playwright-core): served by the server
 * itself, it loads and runs a query with no request anywhere but the server, as the README promises.
 */
import { accessSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mutate } from '../utils/clients.js';
import { JOIN, SELECT } from '../utils/operations.js';
import { startServer, type TestServer } from '../utils/server.js';

const alice = { userId: 'alice', userName: 'Alice' };
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];
const WAIT_MS = 15_000;

/** Debian's `chromium` on PATH (normally /usr/bin/chromium), or undefined. */
function findChromium(): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/bin']) {
    if (!dir) continue;
    const candidate = join(dir, 'chromium');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

let server: TestServer;
let browser: Browser | undefined;

beforeAll(async () => {
  server = await startServer(); // the embedded store
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** The browser, launched on first use; a missing chromium fails the test that asked for it. */
async function launch(): Promise<Browser> {
  if (browser) return browser;
  const executablePath = findChromium();
  if (!executablePath) {
    throw new Error('No `chromium` on PATH (expected /usr/bin/chromium). Install Debian\'s chromium: apt-get install -y chromium');
  }
  browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  return browser;
}

interface OfflinePage {
  page: Page;
  context: BrowserContext;
  /** Requests to anything but the server (blocked, so an online-only GraphiQL cannot pass). */
  foreign: string[];
  /** Every URL the page requested or opened, including blob: workers and WebSockets. */
  seen: string[];
}

/** A fresh context (no stored GraphiQL tabs) whose every request not to the server is blocked and recorded. */
async function offlinePage(): Promise<OfflinePage> {
  const context = await (await launch()).newContext();
  const origin = new URL(server.url).origin;
  const foreign: string[] = [];
  const seen: string[] = [];
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (url.origin === origin) return route.continue();
    // Not the server (another host, or another port of 127.0.0.1): record it and refuse it.
    foreign.push(url.href);
    return route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.on('request', (request) => seen.push(request.url()));
  page.on('websocket', (socket) => seen.push(socket.url()));
  return { page, context, foreign, seen };
}

/** Seeds one room as Alice: joined, price=45000 (version 2). */
async function seed(tx: string): Promise<void> {
  await mutate(server.url, alice, JOIN, { tx });
  await mutate(server.url, alice, SELECT, { tx, field: 'price', value: '45000' });
}

/** Runs `step`; on failure saves a screenshot and fails with its path. */
async function orScreenshot<T>(page: Page, what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    const path = join(tmpdir(), `graphiql-${what.replace(/\W+/g, '-')}-${Date.now()}.png`);
    await page.screenshot({ path, fullPage: true }).catch(() => undefined);
    throw new Error(`GraphiQL: ${what} failed (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); screenshot: ${path}`);
  }
}

/** The text of a GraphiQL pane; Monaco renders spaces as U+00A0, so they are turned back into spaces. */
const paneText = (selector: string) => `(document.querySelector(${JSON.stringify(selector)})?.innerText ?? '').replace(/\\u00a0/g, ' ')`;

/**
 * Waits until the active tab is titled `operationName`. GraphiQL takes the operation to run from the
 * tab state, which it updates a moment after the editor text changes (the title shows it): executing
 * before then runs the previous operation name ("Cannot infer operation Join", no request at all).
 */
async function untilOperation(page: Page, operationName: string): Promise<void> {
  await page.waitForFunction(`${paneText('.graphiql-tab-active .graphiql-tab-button')}.trim() === ${JSON.stringify(operationName)}`);
}

/** Clicks the execute button and waits for the response pane to show `expected`; returns the response JSON. */
async function execute(page: Page, expected: string): Promise<unknown> {
  await page.locator('.graphiql-execute-button').click();
  await page.waitForFunction(`${paneText('.graphiql-response')}.includes(${JSON.stringify(expected)})`);
  return JSON.parse(await page.evaluate<string>(paneText('.graphiql-response')));
}

function expectOffline({ foreign, seen }: OfflinePage): void {
  const origin = new URL(server.url).origin;
  expect(foreign).toEqual([]);
  // blob: URLs are the Monaco workers GraphiQL creates in the page; anything else must be the server.
  expect(seen.filter((url) => !(url.startsWith(`${origin}/`) || url.startsWith(`blob:${origin}/`)))).toEqual([]);
  expect(seen.filter((url) => url.startsWith(`${origin}/`)).length).toBeGreaterThanOrEqual(3); // page, introspection, query
}

describe('GraphiQL in Chromium', () => {
  it('runs a query given in the ?query= URL parameter, offline, with the default headers (x-user-id alice)', async () => {
    const tx = 'graphiql-1';
    await seed(tx);
    const offline = await offlinePage();
    const { page } = offline;
    const query = `query SeededRoom { conflictRoom(transactionId: "${tx}") { version selections { field value } } }`;

    const response = await orScreenshot(page, 'url-query', async () => {
      await page.goto(`${server.url}?query=${encodeURIComponent(query)}`);
      await page.locator('.graphiql-execute-button').waitFor();
      await page.waitForFunction(`${paneText('.graphiql-query-editor')}.includes(${JSON.stringify(query)})`);
      await untilOperation(page, 'SeededRoom');
      return execute(page, '"value": "45000"');
    });
    expect(response).toEqual({ data: { conflictRoom: { version: 2, selections: [{ field: 'price', value: '45000' }] } } });
    expectOffline(offline);
    await offline.context.close();
  });

  it('runs a query typed into the editor (select all, insert text)', async () => {
    const tx = 'graphiql-2';
    await seed(tx);
    const offline = await offlinePage();
    const { page } = offline;
    const query = `query TypedRoom { conflictRoom(transactionId: "${tx}") { version selections { field value userName } } }`;

    const response = await orScreenshot(page, 'typed-query', async () => {
      await page.goto(server.url);
      // The server's default document (several operations, the first named Join) is in the editor.
      await untilOperation(page, 'Join');
      await page.locator('.graphiql-query-editor .monaco-editor').click();
      await page.keyboard.press('ControlOrMeta+KeyA');
      // insertText, not type(): Monaco would auto-close every typed bracket and quote.
      await page.keyboard.insertText(query);
      await page.waitForFunction(`${paneText('.graphiql-query-editor')}.includes(${JSON.stringify(query)})`);
      await untilOperation(page, 'TypedRoom');
      return execute(page, '"value": "45000"');
    });
    expect(response).toEqual({ data: { conflictRoom: { version: 2, selections: [{ field: 'price', value: '45000', userName: 'Alice' }] } } });
    expectOffline(offline);
    await offline.context.close();
  });
});
