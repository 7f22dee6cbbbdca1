// End-to-end tests of the admin panel's audit log, job dashboard and product tools:
// merge two products from the product page (the survivor shows both products' images and
// a search finds it), undo the merge from the audit log (both products back), edit a
// product's fields and see a refused undo (already undone) explained, pause the queue
// from the dashboard (a product added meanwhile stays queued, then indexes after resume),
// and retry every failed job from the dashboard.
import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ADMIN_TOKEN,
  APPLE_IMAGE,
  INDEX_TIMEOUT,
  OTHER_IMAGE,
  PRODUCT_IMAGE,
  QUERY_IMAGE,
  answerChecks,
  answersChecked,
  apiCreateProduct,
  openapi,
  page,
  pageErrors,
  schemaErrors,
  server,
  shot,
  signInAsAdmin,
  useApp,
} from './harness.mjs';
import { checkAnswer } from './openapi-check.mjs';

const getJson = async (path) => (await fetch(`${server.url}${path}`)).json();
const adminFetch = (method, path, body) =>
  fetch(`${server.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

/** Waits until the product's images are all indexed (done) or one failed (then `failed`). */
async function waitIndexed(id, want = 'searchable') {
  const deadline = Date.now() + INDEX_TIMEOUT;
  for (;;) {
    const p = await getJson(`/api/v1/products/${id}`);
    if (p.index_status === want) return p;
    assert.ok(want === 'failed' || p.index_status !== 'failed', `product ${id} failed to index: ${p.index_error}`);
    assert.ok(Date.now() < deadline, `product ${id} is still ${p.index_status}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function topProduct(imagePath) {
  const form = new FormData();
  form.append('image', new Blob([readFileSync(imagePath)], { type: 'image/jpeg' }), 'query.jpg');
  const r = await fetch(`${server.url}/api/v1/searches?wait=60`, { method: 'POST', body: form });
  const body = await r.json();
  assert.equal(body.status, 'done', JSON.stringify(body).slice(0, 300));
  return body.products?.[0]?.product_id ?? null;
}

describe('Visor admin panel: merge, audit and undo, job dashboard', { concurrency: false }, () => {
  useApp();
  const state = {};

  test('merging two products from the product page shows the survivor with both products’ images', { timeout: 2 * INDEX_TIMEOUT + 60_000 }, async () => {
    state.bananaId = await apiCreateProduct({ sku: 'BANANA-M', name: 'Banana (duplicate)', category: 'Fruit' }, PRODUCT_IMAGE);
    state.appleId = await apiCreateProduct({ sku: 'APPLE-M', name: 'Granny Smith', category: 'Fruit' }, APPLE_IMAGE);
    const banana = await waitIndexed(state.bananaId);
    await waitIndexed(state.appleId);
    state.bananaImageId = banana.images[0].id;
    await signInAsAdmin('alice');
    await page.goto(`/products/${state.bananaId}`);
    await page.getByRole('button', { name: 'Merge into another product…' }).click();
    const dialog = page.locator('dialog.admin-dialog');
    await dialog.getByLabel('Find the product').fill('Granny');
    await dialog.locator(`.pick-list button[data-product-id="${state.appleId}"]`).click();
    await dialog.getByText('into “Granny Smith”?').waitFor();
    assert.equal(await dialog.locator(`.pick-list button[data-product-id="${state.bananaId}"]`).count(), 0, 'a product is never offered as its own survivor');
    await page.waitForFunction(() => imagesSettled('dialog img'));
    await shot('admin-merge-dialog');
    await dialog.getByRole('button', { name: 'Merge', exact: true }).click();
    await page.waitForURL((url) => url.pathname === `/products/${state.appleId}` && url.searchParams.has('merged'));
    await page.getByRole('heading', { name: 'Granny Smith' }).waitFor();
    await page.locator(`article.image-card[data-image-id="${state.bananaImageId}"]`).waitFor();
    assert.equal(await page.locator('article.image-card').count(), 2);
    await page.getByText('Merged: the other product').waitFor();
    await page.waitForFunction(() => imagesSettled('.image-card img'));
    await shot('admin-merged-survivor');
    assert.equal((await fetch(`${server.url}/api/v1/products/${state.bananaId}`)).status, 404, 'the merged product is gone');
    assert.equal(await topProduct(QUERY_IMAGE), state.appleId, 'a banana photo finds the survivor');
  });

  test('undoing the merge from the audit log brings both products back', { timeout: 60_000 }, async () => {
    assert.ok(state.appleId, 'needs the merge');
    await page.goto('/admin/audit');
    await page.getByRole('heading', { name: 'Audit log' }).waitFor();
    const row = page.locator('tr[data-action="product.merge"]').first();
    await row.waitFor();
    assert.match(await row.innerText(), /alice/);
    assert.match(await row.innerText(), /from_deleted: false → true/);
    await shot('admin-audit');
    await row.getByRole('button', { name: /^Undo/ }).click();
    await row.getByRole('button', { name: 'Yes, undo' }).click();
    await page.getByText('Undone: merged products').waitFor();
    await page.locator('tr[data-action="product.merge"][data-undone="true"]').waitFor();
    await page.locator('tr[data-action="undo"]').first().waitFor();
    assert.equal(await page.locator('tr[data-action="product.merge"] button', { hasText: 'Undo' }).count(), 0, 'an undone entry has no Undo');
    await shot('admin-audit-undone');
    const banana = await getJson(`/api/v1/products/${state.bananaId}`);
    assert.equal(banana.images.length, 1);
    assert.equal(banana.images[0].id, state.bananaImageId);
    await page.goto(`/products/${state.appleId}`);
    await page.getByRole('heading', { name: 'Granny Smith' }).waitFor();
    assert.equal(await page.locator('article.image-card').count(), 1);
    await page.goto(`/products/${state.bananaId}`);
    await page.getByRole('heading', { name: 'Banana (duplicate)' }).waitFor();
    await page.locator(`article.image-card[data-image-id="${state.bananaImageId}"]`).waitFor();
    assert.equal(await topProduct(QUERY_IMAGE), state.bananaId, 'a banana photo finds the banana again');
  });

  test('an admin edits a product’s fields; a refused undo says why', async () => {
    assert.ok(state.bananaId, 'needs the products');
    await page.goto(`/products/${state.bananaId}`);
    await page.getByRole('button', { name: 'Edit name, category, labels…' }).click();
    const dialog = page.locator('dialog.admin-dialog');
    await dialog.getByLabel('Name').fill('Banana (checked)');
    await dialog.getByLabel('Labels (key=value, one per line)').fill('origin=Ecuador');
    await shot('admin-edit-product');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('heading', { name: 'Banana (checked)' }).waitFor();
    await page.locator('.chip', { hasText: 'origin=Ecuador' }).waitFor();
    // The audit page is open when someone else undoes the edit: Undo there is refused (409).
    await page.goto(`/admin/audit?action=product.update`);
    const row = page.locator('tr[data-action="product.update"]').first();
    await row.waitFor();
    assert.match(await row.innerText(), /Banana \(duplicate\) → Banana \(checked\)/);
    const auditId = await row.getAttribute('data-audit-id');
    assert.equal((await adminFetch('POST', `/api/v1/admin/audit/${auditId}/undo`)).status, 200);
    await row.getByRole('button', { name: /^Undo/ }).click();
    await row.getByRole('button', { name: 'Yes, undo' }).click();
    await page.getByText('This correction was already undone.').waitFor();
    await page.locator(`tr[data-audit-id="${auditId}"][data-undone="true"]`).waitFor();
    await shot('admin-audit-refused');
    // The State filter: entries still in force leave the undone edit out.
    await page.getByLabel('State').selectOption('false');
    await page.waitForURL(/undone=false/);
    await page.getByText('No entry matches these filters.').waitFor();
    assert.equal(await page.locator(`tr[data-audit-id="${auditId}"]`).count(), 0);
    assert.equal((await getJson(`/api/v1/products/${state.bananaId}`)).name, 'Banana (duplicate)');
  });

  test('the dashboard pauses the queue (a new product stays queued) and resumes it (the product indexes)', { timeout: INDEX_TIMEOUT + 60_000 }, async () => {
    await page.goto('/admin/jobs');
    await page.getByRole('heading', { name: 'Job dashboard' }).waitFor();
    await page.locator('.kinds-table tr[data-kind="index"]').waitFor();
    await page.getByRole('button', { name: 'Pause the queue' }).click();
    await page.locator('[data-queue-state="paused"]').waitFor();
    try {
      state.pausedId = await apiCreateProduct({ sku: 'OATLY-P', name: 'Oatghurt added while paused', category: 'Packages' }, OTHER_IMAGE);
      // The dashboard refreshes itself: the new job appears as the oldest waiting one.
      await page.locator('.stat-queued .stat-value', { hasText: /^[1-9]/ }).waitFor({ timeout: 10_000 });
      await page.locator('.oldest-queued [data-oldest-id]').waitFor({ timeout: 10_000 });
      await new Promise((r) => setTimeout(r, 2500));
      const p = await getJson(`/api/v1/products/${state.pausedId}`);
      assert.equal(p.images[0].job.status, 'queued', 'nothing runs while the queue is paused');
      await shot('admin-jobs-paused');
    } finally {
      await page.getByRole('button', { name: 'Resume the queue' }).click();
    }
    await page.locator('[data-queue-state="running"]').waitFor();
    await waitIndexed(state.pausedId);
    await page.locator('.stat-queued .stat-value', { hasText: /^0$/ }).waitFor({ timeout: 10_000 });
    await page.getByText('nothing is waiting').waitFor();
    await page.locator('.minute-bar:last-child .bar-done').waitFor();
    await shot('admin-jobs-resumed');
  });

  test('“Retry all failed” on the dashboard queues the failed jobs again and they finish', { timeout: 2 * INDEX_TIMEOUT + 60_000 }, async () => {
    assert.equal((await adminFetch('POST', '/api/v1/admin/queue/pause')).status, 200);
    let original;
    try {
      state.brokenId = await apiCreateProduct({ sku: 'APPLE-LOST', name: 'Apple with a lost photo', category: 'Fruit' }, APPLE_IMAGE);
      const created = await getJson(`/api/v1/products/${state.brokenId}`);
      original = join(server.dataDir, 'blobs', created.images[0].object_key);
      renameSync(original, `${original}.away`);
    } finally {
      assert.equal((await adminFetch('POST', '/api/v1/admin/queue/resume')).status, 200);
    }
    await waitIndexed(state.brokenId, 'failed');
    await page.goto('/admin/jobs');
    await page.locator('.stat-failed .stat-value', { hasText: /^1$/ }).waitFor();
    await page.locator('.dash-jobs li[data-status="failed"]').first().waitFor();
    await page.getByLabel('Retry the failed jobs of').selectOption('index');
    await shot('admin-jobs-failed');
    renameSync(`${original}.away`, original);
    await page.getByRole('button', { name: 'Retry all failed' }).click();
    await page.getByText('Retried 1 failed job.').waitFor();
    await waitIndexed(state.brokenId);
    await page.locator('.stat-failed .stat-value', { hasText: /^0$/ }).waitFor({ timeout: 10_000 });
    await page.getByText('No failed job.').waitFor();
    await shot('admin-jobs-retried');
    // Idempotent: nothing is failed now, so the API retries nothing.
    const again = await (await adminFetch('POST', '/api/v1/admin/jobs/retry-failed', {})).json();
    assert.equal(again.retried, 0);
  });

  test('the admin home lists the dashboard and the audit log', async () => {
    await page.goto('/admin');
    await page.getByRole('link', { name: 'Job dashboard' }).click();
    await page.waitForURL(/\/admin\/jobs$/);
    await page.getByRole('link', { name: 'Re-index…' }).waitFor();
    await page.goto('/admin');
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.waitForURL(/\/admin\/audit$/);
    // Phone width: neither page scrolls sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      for (const path of ['/admin/jobs', '/admin/audit']) {
        await page.goto(path);
        await page.locator('h1').waitFor();
        await page.waitForTimeout(300);
        const wide = await page.evaluate(() => document.documentElement.scrollWidth);
        await shot(`admin-phone-${path.split('/').pop()}`);
        assert.ok(wide <= 390, `${path} is ${wide} px wide at 390 px`);
      }
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
  });

  test('no uncaught errors in the page, and every answer matches the OpenAPI document', async () => {
    assert.deepEqual(pageErrors, []);
    await Promise.all(answerChecks);
    assert.ok(answersChecked >= 20, `only ${answersChecked} answers were checked`);
    const statsAnswer = await adminFetch('GET', '/api/v1/admin/jobs/stats');
    schemaErrors.push(...checkAnswer(openapi, 'GET', '/api/v1/admin/jobs/stats', statsAnswer.status, await statsAnswer.json()));
    assert.deepEqual(schemaErrors, []);
  });
});
