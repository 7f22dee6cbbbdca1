// End-to-end test of the admin re-index page: signed in, an admin picks one product,
// starts a re-index, watches its progress until it is done, and finds the run in the
// recent runs with the stale count at zero; the product is still found by its photo, and the
// audit log lists the re-index (no Undo) with a link back to its run.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { INDEX_TIMEOUT, PRODUCT_IMAGE, apiCreateProduct, page, pageErrors, schemaErrors, server, shot, signInAsAdmin, useApp } from './harness.mjs';

async function waitSearchable(id) {
  const deadline = Date.now() + INDEX_TIMEOUT;
  while (Date.now() < deadline) {
    const product = await (await fetch(`${server.url}/api/v1/products/${id}`)).json();
    if (product.index_status === 'searchable') return product;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`product ${id} was not indexed in ${INDEX_TIMEOUT} ms`);
}

describe('Visor admin re-index', { concurrency: false }, () => {
  useApp();
  let productId = '';

  test('re-index one product from the admin page and watch it finish', async () => {
    productId = await apiCreateProduct({ sku: 'REINDEX-BANANA', name: 'Re-index banana', category: 'fruit' }, PRODUCT_IMAGE);
    const before = await waitSearchable(productId);
    await signInAsAdmin('reindexer');
    await page.getByRole('link', { name: 'Re-index' }).click();
    await page.waitForURL(/\/admin\/reindex$/);
    await page.getByRole('heading', { name: 'Re-index' }).waitFor();
    await page.getByText('Nothing is stale').waitFor();
    await page.getByLabel('One product').check();
    await page.getByLabel('Product', { exact: true }).selectOption(productId);
    await shot('admin-reindex-form');
    await page.getByRole('button', { name: 'Start re-index' }).click();
    const progress = page.locator('.reindex-progress [data-status="done"]');
    await progress.waitFor({ timeout: INDEX_TIMEOUT });
    assert.match(await progress.innerText(), /1 of 1 image/);
    assert.match(await progress.innerText(), /Re-index banana/);
    const row = page.locator('.reindex-table tbody tr').first();
    await row.locator('[data-status="done"], .badge-done').first().waitFor();
    assert.equal(await row.getAttribute('data-status'), 'done');
    assert.match(await row.innerText(), /reindexer/);
    assert.match(page.url(), /\?run=[0-9a-f-]{36}$/);
    await shot('admin-reindex-done');
    // New region rows of the same size, and the product is still searchable.
    const after = await waitSearchable(productId);
    const ids = (p) => p.images.flatMap((i) => i.regions.map((r) => r.id)).sort();
    assert.equal(ids(after).length, ids(before).length);
    assert.notDeepEqual(ids(after), ids(before));
    assert.equal(after.stale, false);
  });

  test('a run followed by its address shows its progress after a reload', async () => {
    await page.reload();
    await page.locator('.reindex-progress [data-status="done"]').waitFor();
  });

  test('the audit log lists the re-index, linked to its run, without an Undo', async () => {
    await page.goto('/admin/audit?action=reindex');
    const row = page.locator('tr', { hasText: 'started a re-index' }).first();
    await row.waitFor();
    assert.match(await row.innerText(), /reindexer/);
    assert.equal(await row.getByRole('button', { name: /^Undo/ }).count(), 0);
    await row.getByRole('link', { name: /^run / }).click();
    await page.waitForURL(/\/admin\/reindex\?run=/);
    await page.locator('.reindex-progress [data-status="done"]').waitFor();
  });

  test('no uncaught errors in the page, and every answer matches the OpenAPI document', () => {
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(schemaErrors, []);
  });
});
