// End-to-end test of match feedback on the search results page: signed out, result cards
// have no feedback buttons; signed in as admin, "Right match" on the best product confirms
// it (acknowledged on the card, audited as match.confirm, the product gains a reference
// image), "Wrong match" on another rejects it (match.reject), and Undo takes a verdict back.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN_TOKEN,
  APPLE_IMAGE,
  INDEX_TIMEOUT,
  PRODUCT_IMAGE,
  QUERY_IMAGE,
  SEARCH_TIMEOUT,
  apiCreateProduct,
  page,
  pageErrors,
  server,
  shot,
  signInAsAdmin,
  useApp,
} from './harness.mjs';

const state = { banana: null, apple: null };

async function api(path, options = {}) {
  const r = await fetch(`${server.url}${path}`, {
    ...options,
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json', ...(options.headers ?? {}) },
  });
  return { status: r.status, body: await r.json().catch(() => null) };
}

async function waitSearchable(id) {
  const deadline = Date.now() + INDEX_TIMEOUT;
  while (Date.now() < deadline) {
    const { body } = await api(`/api/v1/products/${id}`);
    if (body?.index_status === 'searchable') return body;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`product ${id} not searchable after ${INDEX_TIMEOUT} ms`);
}

async function searchWith(file) {
  await page.goto('/');
  await page.getByRole('heading', { name: 'Visual search' }).waitFor();
  const before = page.url();
  await page.setInputFiles('#search-file', file);
  await page.waitForFunction(
    (prev) => (location.href !== prev && location.search.includes('search=') && !!document.querySelector('.timing')) || !!document.querySelector('.search-results .banner'),
    before,
    { timeout: SEARCH_TIMEOUT },
  );
  const banner = page.locator('.search-results .banner');
  if (await banner.count()) assert.fail(`the search showed: ${await banner.innerText()}`);
}

describe('Visor match feedback', { concurrency: false }, () => {
  useApp();

  test('two products are indexed', { timeout: INDEX_TIMEOUT * 2 }, async () => {
    state.banana = await apiCreateProduct({ sku: 'FB-BANANA', name: 'Feedback banana' }, PRODUCT_IMAGE);
    state.apple = await apiCreateProduct({ sku: 'FB-APPLE', name: 'Feedback apple' }, APPLE_IMAGE);
    await waitSearchable(state.banana);
    await waitSearchable(state.apple);
  });

  test('signed out, result cards have no feedback buttons', { timeout: SEARCH_TIMEOUT + 30_000 }, async () => {
    await searchWith(QUERY_IMAGE);
    await page.locator('.overall-list .result-card').first().waitFor();
    assert.equal(await page.locator('.match-feedback').count(), 0);
  });

  test('an admin confirms the best match and rejects another, each acknowledged and audited', { timeout: SEARCH_TIMEOUT * 2 + 30_000 }, async () => {
    await signInAsAdmin('fiona');
    await searchWith(QUERY_IMAGE);
    const cards = page.locator('.overall-list .result-card');
    await cards.nth(1).waitFor();
    const first = cards.nth(0);
    const second = cards.nth(1);
    const firstId = await first.getAttribute('data-product-id');
    const secondId = await second.getAttribute('data-product-id');
    const imagesBefore = (await api(`/api/v1/products/${firstId}`)).body.images.length;

    await first.getByRole('button', { name: 'Right match' }).click();
    await first.getByRole('status').getByText('Confirmed: this photo is now a reference of the product.').waitFor();
    assert.equal(await first.getByRole('button', { name: 'Right match' }).count(), 0);
    const product = (await api(`/api/v1/products/${firstId}`)).body;
    assert.equal(product.images.length, imagesBefore + 1, 'the query photo became a reference image');
    assert.ok(product.images.some((image) => image.regions.some((r) => r.source === 'admin')));

    await second.getByRole('button', { name: 'Wrong match' }).click();
    await second.getByRole('status').getByText('Rejected: this product is demoted for photos like this one.').waitFor();
    await shot('feedback-acknowledged');

    const audit = (await api('/api/v1/admin/audit?limit=10')).body.items;
    const confirm = audit.find((e) => e.action === 'match.confirm');
    const reject = audit.find((e) => e.action === 'match.reject');
    assert.ok(confirm && reject, JSON.stringify(audit.map((e) => e.action)));
    assert.equal(confirm.subject_id, firstId);
    assert.equal(reject.subject_id, secondId);
    assert.match(confirm.actor, /fiona/);

    // Undo the reject from the card: the buttons come back.
    await second.getByRole('button', { name: 'Undo' }).click();
    await second.getByRole('status').getByText('Undone.').waitFor();
    await second.getByRole('button', { name: 'Wrong match' }).waitFor();
    const undone = (await api(`/api/v1/admin/audit/${reject.id}`)).body;
    assert.ok(undone.undone_at, 'the reject is undone');
  });

  test('no uncaught errors in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
