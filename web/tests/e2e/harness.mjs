// The harness of the web app's end-to-end tests (the *.test.mjs files here): a real
// `visor serve` (its own child, on a temp data dir, with an admin token) and Debian's
// chromium driven by playwright-core, with every JSON answer the app gets checked against
// the served OpenAPI document. Builds nothing: run `npm run build` first, and give the
// server binary:
//
//   VISOR_BIN=/path/to/visor [VISOR_SHARED_DIR=../shared] [CHROMIUM_PATH=/usr/bin/chromium] \
//     npm run test:e2e
//
// A test file calls useApp() inside its describe() and then uses the live bindings
// page, server, browser (set by the hooks). Screenshots go to web/test-artifacts/.
// Every wait is bounded.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { checkAnswer } from './openapi-check.mjs';

export const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const REPO = resolve(WEB, '..');
export const DIST = join(WEB, 'dist');
export const ARTIFACTS = join(WEB, 'test-artifacts');
export const SHARED = resolve(REPO, process.env.VISOR_SHARED_DIR ?? '../shared');
export const GROCERY = join(SHARED, 'datasets/grocery');
export const VISOR_BIN = process.env.VISOR_BIN ? resolve(process.env.VISOR_BIN) : '';
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const INDEX_TIMEOUT = Number(process.env.VISOR_E2E_INDEX_TIMEOUT_MS ?? 90_000);
export const SEARCH_TIMEOUT = Number(process.env.VISOR_E2E_SEARCH_TIMEOUT_MS ?? 90_000);

export const ADMIN_TOKEN = 'e2e-admin-token-0123456789';
export const APPLE_IMAGE = join(GROCERY, 'iconic-images-and-descriptions/Fruit/Apple/Granny-Smith/Granny-Smith_Iconic.jpg');
export const PRODUCT_IMAGE = join(GROCERY, 'iconic-images-and-descriptions/Fruit/Banana/Banana_Iconic.jpg');
export const QUERY_IMAGE = join(GROCERY, 'test/Fruit/Banana/Banana_001.jpg');
export const OTHER_IMAGE = join(GROCERY, 'iconic-images-and-descriptions/Packages/Oatghurt/Oatly-Natural-Oatghurt/Oatly-Natural-Oatghurt_Iconic.jpg');

// In the page: true when every image matching the selector has loaded (or is a lazy one
// still off screen, which a screenshot does not need).
export const IMAGES_SETTLED = `window.imagesSettled = (selector) => Array.from(document.querySelectorAll(selector)).every(
  (i) => (i.complete && i.naturalWidth > 0) || (i.loading === 'lazy' && i.getBoundingClientRect().top > innerHeight));`;

export let server = null; // { child, url, dataDir }
export let browser = null;
export let context = null;
export let page = null;
let tmp = null;
export const pageErrors = [];
// Every JSON answer of the API the app gets is checked against the served OpenAPI document.
export let openapi = null;
export const schemaErrors = [];
export const answerChecks = [];
export let answersChecked = 0;

function checkApiResponse(response) {
  const url = new URL(response.url());
  if (!url.pathname.startsWith('/api/') || !openapi) return;
  if (!(response.headers()['content-type'] ?? '').includes('application/json')) return;
  const method = response.request().method();
  answerChecks.push(
    response
      .json()
      .then((body) => {
        answersChecked++;
        schemaErrors.push(...checkAnswer(openapi, method, url.pathname, response.status(), body));
      })
      .catch(() => {
        /* a body no longer available (the page navigated away) */
      }),
  );
}

/** A PNG of two photos side by side at one height, composed by the browser's canvas. */
export async function composeSideBySide(left, right, height = 400) {
  const urls = [left, right].map((f) => `data:image/jpeg;base64,${readFileSync(f).toString('base64')}`);
  const result = await page.evaluate(
    async ({ urls, height }) => {
      const images = await Promise.all(urls.map((u) => new Promise((ok, fail) => Object.assign(new Image(), { onload() { ok(this); }, onerror: fail, src: u }))));
      const widths = images.map((i) => Math.round((i.naturalWidth * height) / i.naturalHeight));
      const canvas = Object.assign(document.createElement('canvas'), { width: widths[0] + widths[1], height });
      const g = canvas.getContext('2d');
      g.fillStyle = '#fff';
      g.fillRect(0, 0, canvas.width, height);
      g.drawImage(images[0], 0, 0, widths[0], height);
      g.drawImage(images[1], widths[0], 0, widths[1], height);
      return { data: canvas.toDataURL('image/png').split(',')[1], leftWidth: widths[0], width: canvas.width };
    },
    { urls, height },
  );
  return { buffer: Buffer.from(result.data, 'base64'), leftWidth: result.leftWidth, width: result.width, height };
}

export function shot(name) {
  return page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true }).catch((e) => console.error(`# screenshot ${name}: ${e.message}`));
}

export async function withTimeout(promise, ms, what) {
  let timer;
  try {
    return await Promise.race([promise, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

async function startServer() {
  const dataDir = join(tmp, 'data');
  mkdirSync(dataDir);
  const child = spawn(VISOR_BIN, ['serve', '--data-dir', dataDir, '--port', '0', '--web-dir', DIST], {
    env: { ...process.env, VISOR_MODELS: join(SHARED, 'models'), VISOR_ADMIN_TOKEN: ADMIN_TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  const url = await withTimeout(
    new Promise((resolveUrl, reject) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        const m = /Visor is running: (http:\/\/\S+?)\/?\s/.exec(out);
        if (m) resolveUrl(m[1]);
      });
      child.on('exit', (code) => reject(new Error(`visor serve exited (${code}) before it was ready:\n${out}\n${log}`)));
      child.on('error', reject);
    }),
    30_000,
    'visor serve printing its URL',
  );
  server = { child, url, dataDir, log: () => log };
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.ok) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error('visor serve did not become ready (/readyz) in 30 s');
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stopServer() {
  if (!server) return;
  const { child } = server;
  server = null;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

/** Creates a product straight through the API (a second product to search among). */
export async function apiCreateProduct(fields, imagePath) {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append('images', new Blob([readFileSync(imagePath)], { type: 'image/jpeg' }), imagePath.split('/').pop());
  const r = await fetch(`${server.url}/api/v1/products`, { method: 'POST', body: form });
  assert.equal(r.status, 201, await r.clone().text());
  return (await r.json()).id;
}

/** Registers the hooks that start the server and the browser (call inside describe). */
export function useApp() {
  before(async () => {
    assert.ok(VISOR_BIN, 'set VISOR_BIN to the visor binary (e.g. build/src/cli/visor)');
    assert.ok(existsSync(VISOR_BIN), `VISOR_BIN ${VISOR_BIN} does not exist`);
    assert.ok(existsSync(join(DIST, 'index.html')), `${DIST}/index.html is missing: run \`npm run build\` in web/ first`);
    assert.ok(existsSync(PRODUCT_IMAGE), `${PRODUCT_IMAGE} is missing: set VISOR_SHARED_DIR`);
    assert.ok(existsSync(CHROMIUM), `no chromium at ${CHROMIUM}: set CHROMIUM_PATH`);
    mkdirSync(ARTIFACTS, { recursive: true });
    tmp = mkdtempSync(join(tmpdir(), 'visor-web-e2e-'));
    process.on('exit', () => server?.child.kill('SIGKILL'));
    await startServer();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        // playwright gives each launch a fresh temporary profile (user-data dir)
      ],
      timeout: 30_000,
    });
    context = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.setDefaultNavigationTimeout(15_000);
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('response', checkApiResponse);
    openapi = await (await fetch(`${server.url}/api/openapi.json`)).json();
    await context.addInitScript(IMAGES_SETTLED);
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await stopServer();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });
}

/** Signs in to the admin area through its form as `actor` (the page ends on the admin home). */
export async function signInAsAdmin(actor = 'e2e-admin', token = ADMIN_TOKEN) {
  await page.goto('/admin/sign-in');
  await page.fill('#admin-token', token);
  await page.fill('#admin-actor', actor);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/admin$/);
  await page.getByRole('heading', { name: 'Admin' }).waitFor();
}
