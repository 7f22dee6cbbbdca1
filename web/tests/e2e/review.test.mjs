// End-to-end test of the admin review queue (/admin/review): real indexing of an oat milk
// carton, whose labeller labels are wrong and weak (the ImageNet labeller knows no oat
// milk), puts its regions in the queue; an admin signs in, fixes a label in place, sees
// the item leave, and the API then reports the new label with source admin, the queue no
// longer lists it, and a search filtered by the new region label finds it. The other tabs
// show an indexed product and a weak search. Screenshots land in web/test-artifacts/.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ADMIN_TOKEN, GROCERY, INDEX_TIMEOUT, answerChecks, apiCreateProduct, page, pageErrors, schemaErrors, server, shot, signInAsAdmin, useApp,
} from './harness.mjs';

const OAT_MILK = join(GROCERY, 'iconic-images-and-descriptions/Packages/Oat-Milk/Oatly-Oat-Milk/Oatly-Oat-Milk_Iconic.jpg');
const CARROTS = join(GROCERY, 'iconic-images-and-descriptions/Vegetables/Carrots/Carrots_Iconic.jpg');
const WEAK_QUERY = join(GROCERY, 'test/Vegetables/Cucumber/Cucumber_002.jpg');
const NEW_LABEL = 'oat milk';

const admin = (path, init = {}) =>
  fetch(`${server.url}${path}`, { ...init, headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, ...(init.headers ?? {}) } });

async function waitIndexed(id) {
  const deadline = Date.now() + INDEX_TIMEOUT;
  for (;;) {
    const p = await (await fetch(`${server.url}/api/v1/products/${id}`)).json();
    if (p.index_status === 'searchable') return p;
    assert.notEqual(p.index_status, 'failed', `indexing ${id} failed`);
    assert.ok(Date.now() < deadline, `product ${id} not indexed in ${INDEX_TIMEOUT} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function search(image, fields = {}) {
  const form = new FormData();
  form.append('image', new Blob([readFileSync(image)], { type: 'image/jpeg' }), 'query.jpg');
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  const r = await fetch(`${server.url}/api/v1/searches?wait=60`, { method: 'POST', body: form });
  assert.equal(r.status, 200, await r.clone().text());
  const body = await r.json();
  assert.equal(body.status, 'done');
  return body;
}

async function reviewList(kind) {
  const r = await admin(`/api/v1/admin/review?kind=${kind}&limit=100`);
  assert.equal(r.status, 200);
  return r.json();
}

describe('Visor admin review queue', { concurrency: false }, () => {
  useApp();
  const state = {};

  test('indexing puts an oat milk carton with wrong, weak labels in the queue', async () => {
    state.oatId = await apiCreateProduct({ sku: 'OATLY-1L', name: 'Oatly oat milk', category: 'packages' }, OAT_MILK);
    state.carrotsId = await apiCreateProduct({ sku: 'CARROTS', name: 'Carrots', category: 'vegetables' }, CARROTS);
    await waitIndexed(state.oatId);
    await waitIndexed(state.carrotsId);
    const queue = await reviewList('regions');
    const oat = queue.items.filter((i) => i.product.id === state.oatId);
    assert.ok(oat.length >= 1, `no oat milk region in the queue: ${JSON.stringify(queue.items.map((i) => [i.product.sku, i.region.label, i.score]))}`);
    // worst first; the whole photo's region is the one to name (the labeller's label is not oat milk)
    for (let i = 1; i < queue.items.length; i++) assert.ok(queue.items[i - 1].score <= queue.items[i].score);
    state.item = oat.find((i) => i.region.whole_image) ?? oat[0];
    assert.notEqual(state.item.region.label, NEW_LABEL);
    assert.ok(state.item.score < queue.thresholds.label_score || state.item.score < queue.thresholds.detector_score);
    // a weak search for the Searches tab
    state.weak = await search(WEAK_QUERY);
  });

  test('the admin fixes the label in the queue and the item leaves it', async () => {
    await signInAsAdmin('reviewer');
    await page.getByRole('link', { name: 'Review queue' }).click();
    await page.waitForURL(/\/admin\/review$/);
    const card = page.locator(`.review-item[data-region-id="${state.item.region.id}"]`);
    await card.waitFor();
    await page.waitForFunction(() => window.imagesSettled('.review-item img'));
    const count = Number(await page.locator('.review-tab[data-kind="regions"] .review-count').textContent());
    await shot('review-queue-regions');
    assert.equal(await card.locator('.review-label').textContent().then((t) => t.includes(state.item.region.label)), true);
    await card.getByRole('combobox').fill(NEW_LABEL);
    await card.getByRole('button', { name: 'Save label' }).click();
    await card.getByText(`Label set to “${NEW_LABEL}”`).waitFor();
    await card.getByText('it has left the queue').waitFor();
    assert.equal(Number(await page.locator('.review-tab[data-kind="regions"] .review-count').textContent()), count - 1);
    assert.equal(await card.getByRole('button', { name: 'Save label' }).isDisabled(), true);
    await shot('review-queue-fixed');
    // after a reload the region is no longer listed
    await page.reload();
    await page.locator('.review-item, .empty').first().waitFor();
    assert.equal(await page.locator(`.review-item[data-region-id="${state.item.region.id}"]`).count(), 0);
  });

  test('the API has the new label with source admin, and a search by it finds the region', async () => {
    const region = await (await fetch(`${server.url}/api/v1/regions/${state.item.region.id}`)).json();
    assert.equal(region.label, NEW_LABEL);
    assert.equal(region.source, 'admin');
    const audit = await (await admin(`/api/v1/admin/audit?subject_id=${state.item.region.id}`)).json();
    assert.equal(audit.items[0].actor, 'admin/reviewer');
    assert.equal(audit.items[0].after.label, NEW_LABEL);
    const queue = await reviewList('regions');
    assert.ok(!queue.items.some((i) => i.region.id === state.item.region.id));
    const found = await search(OAT_MILK, { filter: `region_label = "${NEW_LABEL}"` });
    const regionIds = found.regions.flatMap((r) => r.results.map((x) => x.region_id));
    assert.ok(regionIds.includes(state.item.region.id), `the filtered search returned ${JSON.stringify(regionIds)}`);
    assert.deepEqual([...new Set(found.products.map((p) => p.product_id))], [state.oatId]);
    // before the fix nothing carried that label
    const none = await search(CARROTS, { filter: `region_label = "not a label anyone set"` });
    assert.equal(none.products.length, 0);
  });

  test('the Products and Searches tabs link to the product and the search', async () => {
    await page.locator('.review-tab[data-kind="searches"]').click();
    await page.waitForURL(/kind=searches/);
    const searches = await reviewList('searches');
    if (searches.total > 0) {
      const card = page.locator(`.review-item[data-search-id="${searches.items[0].search.id}"]`);
      await card.waitFor();
      await page.waitForFunction(() => window.imagesSettled('.review-item img'));
      assert.equal(await card.getByRole('link', { name: 'Open the search' }).getAttribute('href'), `/?search=${searches.items[0].search.id}`);
    } else {
      await page.getByText('Nothing to review in searches').waitFor();
    }
    await shot('review-queue-searches');
    await page.locator('.review-tab[data-kind="products"]').click();
    await page.waitForURL(/kind=products/);
    const products = await reviewList('products');
    if (products.total > 0) {
      const first = products.items[0].product;
      const card = page.locator(`.review-item[data-product-id="${first.id}"]`);
      await card.waitFor();
      await card.getByRole('link', { name: first.name }).click();
      await page.waitForURL(new RegExp(`/products/${first.id}$`));
    } else {
      await page.getByText('Nothing to review in products').waitFor();
    }
    await shot('review-queue-products');
  });

  test('a signed-out visit goes to the sign-in form; every API answer matched the document', async () => {
    await page.evaluate(() => sessionStorage.clear());
    await page.goto('/admin/review');
    await page.waitForURL(/\/admin\/sign-in\?next=%2Fadmin%2Freview$/);
    await Promise.all(answerChecks);
    assert.deepEqual(schemaErrors, []);
    assert.deepEqual(pageErrors, []);
  });
});
