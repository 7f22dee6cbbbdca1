// End-to-end tests of the shopper's and merchant's pages: catalogue, product form, product
// page, search, jobs, phone-sized screens, and the API answers against the OpenAPI document.
// The harness (harness.mjs) starts the server and the browser.
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkAnswer } from './openapi-check.mjs';
import {
  ADMIN_TOKEN, APPLE_IMAGE, ARTIFACTS, IMAGES_SETTLED, INDEX_TIMEOUT, OTHER_IMAGE, PRODUCT_IMAGE, QUERY_IMAGE, SEARCH_TIMEOUT,
  answerChecks, answersChecked, apiCreateProduct, browser, composeSideBySide, openapi, page, pageErrors, schemaErrors, server, shot, useApp,
} from './harness.mjs';

const state = { productId: null, otherId: null, indexed: false };

async function resultsFor(productId) {
  return page.locator(`.result-card[data-product-id="${productId}"]`).count();
}

/** Runs a search from the home page and waits for its answer (results or an error). */
async function searchWith(file, timeout = SEARCH_TIMEOUT) {
  const before = page.url();
  await page.setInputFiles('#search-file', file);
  await page.waitForFunction(
    (prev) =>
      (location.href !== prev && location.search.includes('search=') && !!document.querySelector('.timing')) ||
      !!document.querySelector('.search-results .banner'),
    before,
    { timeout },
  );
}

describe('Visor web app', { concurrency: false }, () => {
  useApp();

  test('the catalogue renders its empty state', async () => {
    await page.goto('/catalogue');
    await page.getByRole('heading', { name: 'Catalogue' }).waitFor();
    await page.getByText('The catalogue is empty.').waitFor();
    await shot('catalogue-empty');
  });

  test('the product form shows missing fields and the API\'s field errors next to the field', async () => {
    await page.goto('/products/new');
    await page.getByRole('button', { name: 'Save product' }).click();
    await page.locator('#error-sku').getByText('required').waitFor();
    await page.locator('#error-name').getByText('required').waitFor();
    assert.equal(await page.locator('#field-sku').getAttribute('aria-invalid'), 'true');
    // A SKU the API refuses: the 400 names the field.
    await page.fill('#field-sku', 'bad sku!');
    await page.fill('#field-name', 'Banana');
    await page.fill('#field-currency', 'eu');
    await page.getByRole('button', { name: 'Save product' }).click();
    await page.locator('#error-sku').getByText("characters outside").waitFor();
    await page.fill('#field-sku', 'BANANA-1');
    await page.getByRole('button', { name: 'Save product' }).click();
    await page.locator('#error-currency').waitFor({ state: 'visible' });
    assert.match(await page.locator('#error-currency').innerText(), /currency/i);
  });

  test('a non-image upload shows the 415 message next to the images', async () => {
    await page.goto('/products/new');
    await page.fill('#field-sku', 'NOT-AN-IMAGE');
    await page.fill('#field-name', 'Text file');
    await page.setInputFiles('#field-images', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('this is not an image\n') });
    await page.getByRole('button', { name: 'Save product' }).click();
    await page.locator('#error-images').getByText('not an image').waitFor();
    await shot('add-product-errors');
    // Nothing half-written: the product does not exist.
    const list = await (await fetch(`${server.url}/api/v1/products?q=NOT-AN-IMAGE`)).json();
    assert.equal(list.total, 0);
  });

  test('adding a product with an image through the form opens its page with the indexing status', async () => {
    await page.goto('/products/new');
    await page.fill('#field-sku', 'BANANA-1');
    await page.fill('#field-name', 'Organic banana');
    await page.fill('#field-description', 'An ecologically grown banana.');
    await page.fill('#field-category', 'Fruit');
    await page.fill('.label-key', 'origin');
    await page.fill('.label-value', 'Ecuador');
    await page.fill('#field-price', '0.35');
    await page.fill('#field-currency', 'EUR');
    await page.setInputFiles('#field-images', PRODUCT_IMAGE);
    await page.locator('.file-item').getByText('Banana_Iconic.jpg').waitFor();
    await page.getByRole('button', { name: 'Save product' }).click();
    await page.waitForURL(/\/products\/[0-9a-f-]{36}\?created=1$/);
    state.productId = /\/products\/([0-9a-f-]{36})/.exec(page.url())[1];
    await page.getByRole('heading', { name: 'Organic banana' }).waitFor();
    await page.locator('.image-card img.annotated-img').waitFor();
    await page.locator('.job-line .badge').waitFor();
    await page.waitForFunction(() => {
      const img = document.querySelector('.image-card img.annotated-img');
      return img && img.complete && img.naturalWidth > 0;
    });
    await shot('product-indexing');
  });

  test('a duplicate SKU is shown next to the SKU (409)', async () => {
    assert.ok(state.productId, 'needs the product of the previous test');
    await page.goto('/products/new');
    await page.fill('#field-sku', 'BANANA-1');
    await page.fill('#field-name', 'Another banana');
    await page.getByRole('button', { name: 'Save product' }).click();
    await page.locator('#error-sku').getByText('already exists').waitFor();
  });

  test('the product page shows the detected regions when indexing is done', { timeout: INDEX_TIMEOUT + 30_000 }, async () => {
    assert.ok(state.productId, 'needs the product of the previous test');
    // A second product in another category, to search among and to filter out.
    state.otherId = await apiCreateProduct({ sku: 'OATLY-1', name: 'Oatly natural oatghurt', category: 'Packages', labels: '{"brand":"Oatly"}', price: '2.10', currency: 'EUR' }, OTHER_IMAGE);
    await page.goto(`/products/${state.productId}`);
    await page.locator('.crop-list .crop img').first().waitFor({ timeout: INDEX_TIMEOUT });
    await page.locator('.image-card .box').first().waitFor();
    await page.locator('.badge-done').first().waitFor();
    await page.waitForFunction(() => imagesSettled('.image-card img'));
    state.indexed = true;
    await shot('product');
    // Wait for the second product too, so the searches see both.
    const deadline = Date.now() + INDEX_TIMEOUT;
    for (;;) {
      const p = await (await fetch(`${server.url}/api/v1/products/${state.otherId}`)).json();
      const st = p.images?.[0]?.job?.status;
      if (st === 'done') break;
      assert.notEqual(st, 'failed', 'indexing the second product failed');
      assert.ok(Date.now() < deadline, `the second product is still ${st}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  test('the catalogue lists the products and filters them', async () => {
    await page.goto('/catalogue');
    await page.locator(`.product-card[data-product-id="${state.productId}"]`).waitFor();
    await page.locator(`.product-card[data-product-id="${state.productId}"] .index-status-badge`).getByText('searchable').waitFor();
    await page.waitForFunction(() => imagesSettled('.product-card img'));
    await shot('catalogue');
    await page.getByLabel('Category').selectOption('Packages');
    await page.waitForFunction((id) => !document.querySelector(`.product-card[data-product-id="${id}"]`) && document.querySelectorAll('.product-card').length > 0, state.productId);
    await page.getByLabel('Category').selectOption('');
    await page.getByLabel('Search text').fill('banana');
    await page.waitForFunction(() => document.querySelectorAll('.product-card').length === 1);
    await page.getByLabel('Search text').fill('zzzz-nothing');
    await page.getByText('No product matches these filters.').waitFor();
  });

  test('a photo of the same kind finds the product, with the query\'s objects boxed', { timeout: SEARCH_TIMEOUT + 30_000 }, async () => {
    assert.ok(state.productId, 'needs the product');
    await page.goto('/');
    await page.getByRole('heading', { name: 'Visual search' }).waitFor();
    await searchWith(QUERY_IMAGE);
    const banner = page.locator('.search-results .banner');
    if (await banner.count()) assert.fail(`the search showed: ${await banner.innerText()}`);
    await page.locator('.results-query .box').first().waitFor();
    const boxes = await page.locator('.results-query .box').count();
    assert.ok(boxes >= 1, 'the query image has its regions boxed');
    assert.match(await page.locator('.timing').innerText(), /ms|s/);
    assert.ok((await resultsFor(state.productId)) >= 1, 'the banana is among the results');
    // Each detected object has a tab; selecting one shows its matches.
    const tabs = page.getByRole('tab');
    const count = await tabs.count();
    assert.equal(count, boxes);
    await tabs.nth(count - 1).click();
    assert.equal(await tabs.nth(count - 1).getAttribute('aria-selected'), 'true');
    // Clicking a box selects its tab (the smallest box is on top).
    const top = await page.evaluate(() => {
      const boxes = Array.from(document.querySelectorAll('.results-query .box'));
      boxes.sort((a, b) => Number(b.style.zIndex) - Number(a.style.zIndex));
      return Number(boxes[0].dataset.index);
    });
    await page.locator(`.results-query .box[data-index="${top}"]`).click();
    assert.equal(await tabs.nth(top).getAttribute('aria-selected'), 'true');
    // The keyboard moves between the tabs.
    await tabs.nth(top).press('Home');
    assert.equal(await tabs.nth(0).getAttribute('aria-selected'), 'true');
    await tabs.nth(0).press('ArrowRight');
    assert.equal(await tabs.nth(1).getAttribute('aria-selected'), 'true');
    await tabs.nth(0).click();
    await page.waitForFunction(() => imagesSettled('.search-results img'));
    await shot('search');
  });

  test('a category filter that excludes the product removes it from the results', { timeout: SEARCH_TIMEOUT + 30_000 }, async () => {
    assert.ok(state.productId, 'needs the product');
    await page.goto('/');
    await page.locator('#search-file').waitFor({ state: 'attached' });
    await page.waitForFunction(() => document.querySelectorAll('select[name=category] option').length > 1);
    await page.getByLabel('Category').selectOption('Packages');
    await searchWith(QUERY_IMAGE);
    const banner = page.locator('.search-results .banner');
    if (await banner.count()) assert.fail(`the search showed: ${await banner.innerText()}`);
    assert.equal(await resultsFor(state.productId), 0, 'the banana is filtered out');
    await shot('search-filtered');
  });

  test('dragging a box on the query photo searches that region alone, and a detected object can be searched by itself', { timeout: 2 * SEARCH_TIMEOUT + 30_000 }, async () => {
    assert.ok(state.otherId, 'needs both products');
    await page.goto('/');
    await page.locator('#search-file').waitFor({ state: 'attached' });
    // The banana photo left, the oatghurt photo right.
    const photo = await composeSideBySide(PRODUCT_IMAGE, OTHER_IMAGE);
    await searchWith({ name: 'two-products.png', mimeType: 'image/png', buffer: photo.buffer });
    const banner = page.locator('.search-results .banner');
    if (await banner.count()) assert.fail(`the search showed: ${await banner.innerText()}`);
    const wholeSearch = new URL(page.url()).searchParams.get('search');
    await shot('search-two-products');
    // Draw a box around the right half: only that region is searched, and it finds the oatghurt.
    await page.getByRole('button', { name: 'Draw a box to search' }).click();
    const frame = await page.locator('.results-query .annotated-frame').boundingBox();
    const from = { x: frame.x + frame.width * (photo.leftWidth / photo.width) + 4, y: frame.y + 4 };
    const to = { x: frame.x + frame.width - 4, y: frame.y + frame.height - 4 };
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 5 });
    await page.mouse.move(to.x, to.y, { steps: 5 });
    await shot('search-drawing-box');
    await page.mouse.up();
    await page.waitForFunction((prev) => new URLSearchParams(location.search).get('search') !== prev && !!document.querySelector('.timing'), wholeSearch, { timeout: SEARCH_TIMEOUT });
    assert.match(await page.locator('.timing').innerText(), /region you chose/);
    assert.equal(await page.getByRole('tab').count(), 1, 'exactly one region was searched');
    const drawnSearch = new URL(page.url()).searchParams.get('search');
    const drawn = await (await fetch(`${server.url}/api/v1/searches/${drawnSearch}`)).json();
    assert.ok(drawn.box && drawn.box.x >= photo.leftWidth - 2, `the box is on the right half: ${JSON.stringify(drawn.box)}`);
    assert.equal(drawn.image.id, (await (await fetch(`${server.url}/api/v1/searches/${wholeSearch}`)).json()).image.id, 'the stored photo was searched again, not uploaded');
    assert.equal(await page.locator('.overall-list .result-card').first().getAttribute('data-product-id'), state.otherId, 'the oatghurt is first');
    await page.waitForFunction(() => imagesSettled('.search-results img'));
    await shot('search-drawn-region');
    // Back on the whole photo: a detected object's "Search with this object".
    await page.goto(`/?search=${wholeSearch}`);
    await page.locator('.timing').waitFor({ timeout: SEARCH_TIMEOUT });
    const objectTab = page.locator('.tab').filter({ hasNotText: 'Whole image' }).first();
    assert.ok((await page.locator('.tab').count()) >= 2, 'the detector found an object in the photo');
    await objectTab.click();
    await page.locator('.search-object').click();
    await page.waitForFunction((prev) => new URLSearchParams(location.search).get('search') !== prev && !!document.querySelector('.timing'), wholeSearch, { timeout: SEARCH_TIMEOUT });
    assert.equal(await page.getByRole('tab').count(), 1, 'the object alone was searched');
    await page.waitForFunction(() => imagesSettled('.search-results img'));
    await shot('search-with-object');
  });

  test('the product page shows similar products, not the product itself', async () => {
    assert.ok(state.indexed && state.otherId, 'needs both products indexed');
    await page.goto(`/products/${state.productId}`);
    await page.locator(`.similar-list .similar-card[data-product-id="${state.otherId}"]`).waitFor();
    assert.equal(await page.locator(`.similar-list .similar-card[data-product-id="${state.productId}"]`).count(), 0);
    assert.match(await page.locator('.similar-card').first().innerText(), /score/);
    await page.locator('.index-facts .index-status-badge').getByText('searchable').waitFor();
    await page.locator('.similar-section').scrollIntoViewIfNeeded();
    await page.waitForFunction(() => imagesSettled('.similar-section img'));
    await shot('product-similar');
  });

  test('an image whose original is gone fails to index: the catalogue and the product page say so, and Retry makes it searchable', { timeout: 2 * INDEX_TIMEOUT + 30_000 }, async () => {
    const admin = (action) => fetch(`${server.url}/api/v1/admin/queue/${action}`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal((await admin('pause')).status, 200);
    let brokenId;
    let original;
    try {
      brokenId = await apiCreateProduct({ sku: 'BROKEN-1', name: 'Granny Smith (lost photo)', category: 'Fruit' }, APPLE_IMAGE);
      const created = await (await fetch(`${server.url}/api/v1/products/${brokenId}`)).json();
      assert.equal(created.index_status, 'indexing');
      original = join(server.dataDir, 'blobs', created.images[0].object_key);
      renameSync(original, `${original}.away`);
    } finally {
      assert.equal((await admin('resume')).status, 200);
    }
    const deadline = Date.now() + INDEX_TIMEOUT;
    for (;;) {
      const p = await (await fetch(`${server.url}/api/v1/products/${brokenId}`)).json();
      if (p.images[0].status === 'failed') {
        assert.match(p.images[0].index_error, /does not exist/);
        assert.equal(p.index_status, 'failed');
        break;
      }
      assert.ok(Date.now() < deadline, `the image is still ${p.images[0].status}`);
      await new Promise((r) => setTimeout(r, 300));
    }
    await page.goto('/catalogue');
    await page.locator(`.product-card[data-product-id="${brokenId}"] .index-status-badge`).getByText('failed').waitFor();
    await page.locator(`.product-card[data-product-id="${state.productId}"] .index-status-badge`).getByText('searchable').waitFor();
    // (its thumbnail is the lost photo: only the others load)
    await page.waitForFunction((id) => imagesSettled(`.product-card:not([data-product-id="${id}"]) img`), brokenId);
    await shot('catalogue-failed');
    await page.goto(`/products/${brokenId}`);
    await page.locator('.index-facts .index-status-badge').getByText('failed').waitFor();
    await page.locator('.job-error').first().getByText('does not exist').waitFor();
    await shot('product-failed');
    // The photo back in the object store, and Retry: pending, then searchable.
    renameSync(`${original}.away`, original);
    await page.getByRole('button', { name: 'Retry' }).click();
    await page.locator('.index-facts .index-status-badge').getByText('searchable').waitFor({ timeout: INDEX_TIMEOUT });
    await page.locator('.badge-done').first().waitFor();
    await page.waitForFunction(() => imagesSettled('.image-card img'));
    await shot('product-retried');
  });

  test('a non-image search upload shows a clear error', { timeout: SEARCH_TIMEOUT }, async () => {
    await page.goto('/');
    await page.locator('#search-file').waitFor({ state: 'attached' });
    await page.setInputFiles('#search-file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not an image') });
    await page.locator('.search-results .banner').waitFor({ timeout: SEARCH_TIMEOUT });
    assert.match(await page.locator('.search-results .banner').innerText(), /not an image/);
    await shot('search-error');
  });

  test('the jobs page lists the jobs with their state', async () => {
    await page.goto('/jobs');
    await page.getByRole('heading', { name: 'Jobs' }).waitFor();
    await page.locator('.jobs-table tbody tr').first().waitFor();
    assert.ok((await page.locator('.jobs-table tbody tr').count()) >= 2);
    await shot('jobs');
  });

  test('phone-sized screens: the search and the product page fit', { timeout: SEARCH_TIMEOUT + 30_000 }, async () => {
    const phone = await browser.newContext({ baseURL: server.url, viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    await phone.addInitScript(IMAGES_SETTLED);
    const p = await phone.newPage();
    p.setDefaultTimeout(15_000);
    p.on('pageerror', (e) => pageErrors.push(e.message));
    try {
      await p.goto('/');
      await p.getByRole('heading', { name: 'Visual search' }).waitFor();
      const overflow = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
      await p.screenshot({ path: join(ARTIFACTS, 'phone-search.png'), fullPage: true });
      if (state.productId) {
        await p.goto(`/products/${state.productId}`);
        await p.locator('.image-card').waitFor();
        await p.screenshot({ path: join(ARTIFACTS, 'phone-product.png'), fullPage: true });
      }
      await p.goto('/');
      await p.locator('#search-file').waitFor({ state: 'attached' });
      await p.setInputFiles('#search-file', QUERY_IMAGE);
      await p.waitForFunction(() => !!document.querySelector('.timing') || !!document.querySelector('.search-results .banner'), null, { timeout: SEARCH_TIMEOUT });
      await p.waitForFunction(() => imagesSettled('.search-results img'));
      await p.screenshot({ path: join(ARTIFACTS, 'phone-search-results.png'), fullPage: true });
      const overflow2 = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow2 <= 0, `the results scroll sideways by ${overflow2}px`);
      assert.equal(await p.locator('.search-results .banner').count(), 0, 'the search answered');
    } finally {
      await phone.close();
    }
  });

  test('no uncaught errors in the page', () => {
    assert.deepEqual(pageErrors, []);
  });

  test('every JSON answer matches the served OpenAPI document', async () => {
    // The answers the app got, and the routes it does not call.
    await Promise.all(answerChecks);
    assert.ok(answersChecked >= 20, `only ${answersChecked} answers were checked`);
    const product = await (await fetch(`${server.url}/api/v1/products/${state.productId}`)).json();
    const image = product.images[0];
    const paths = ['/healthz', '/readyz', `/api/v1/images/${image.id}`, `/api/v1/regions/${image.regions[0].id}`, `/api/v1/jobs/${image.job_id}`, `/api/v1/products/${state.productId}/similar?k=3`, '/api/v1/admin/queue', '/api/v1/products/not-an-id', '/api/v1/jobs?status=nope'];
    for (const path of paths) {
      const r = await fetch(`${server.url}${path}`);
      schemaErrors.push(...checkAnswer(openapi, 'GET', new URL(path, server.url).pathname, r.status, await r.json()));
    }
    const patch = await fetch(`${server.url}/api/v1/products/${state.otherId}`, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: '{"price": 2.2}' });
    schemaErrors.push(...checkAnswer(openapi, 'PATCH', `/api/v1/products/${state.otherId}`, patch.status, await patch.json()));
    assert.deepEqual(schemaErrors, []);
  });
});
