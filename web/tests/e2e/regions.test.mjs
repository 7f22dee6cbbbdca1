// End-to-end tests of the region editor on the product page: hidden when signed out; signed
// in as admin, a box's corner is dragged and the box moved, Save follows the re-crop and
// re-embed job, and the new crop appears (other bytes, other size); a new box is drawn and
// labelled, and a region is deleted; the boxes answer the keyboard. Each step is checked
// through the API too.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_TOKEN, APPLE_IMAGE, INDEX_TIMEOUT, apiCreateProduct, page, pageErrors, server, shot, signInAsAdmin, useApp } from './harness.mjs';

const state = { productId: null, imageId: null };

async function apiGet(path) {
  const r = await fetch(`${server.url}${path}`);
  assert.equal(r.status, 200, `${path}: ${r.status}`);
  return r.json();
}

async function apiRegions() {
  const product = await apiGet(`/api/v1/products/${state.productId}`);
  return product.images[0].regions;
}

/** The crop image of a region in the crop list: its src, natural size and a digest of its bytes. */
async function cropOf(regionId) {
  const img = page.locator(`.crop-list .crop[data-region-id="${regionId}"] img`);
  await img.scrollIntoViewIfNeeded();
  await page.waitForFunction((id) => {
    const el = document.querySelector(`.crop-list .crop[data-region-id="${id}"] img`);
    return el && el.complete && el.naturalWidth > 0;
  }, regionId);
  return img.evaluate(async (el) => {
    const bytes = new Uint8Array(await (await fetch(el.src)).arrayBuffer());
    let sum = 0;
    for (const b of bytes) sum = (sum * 31 + b) >>> 0;
    return { src: el.getAttribute('src'), width: el.naturalWidth, height: el.naturalHeight, length: bytes.length, sum };
  });
}

/** Drags from the centre of a locator by (dx, dy) CSS pixels, in steps. */
async function drag(locator, dx, dy) {
  await locator.scrollIntoViewIfNeeded();
  const box = await locator.boundingBox();
  assert.ok(box, 'the element to drag is visible');
  const x = box.x + box.width / 2;
  const y = box.y + box.height / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x + dx / 2, y + dy / 2, { steps: 4 });
  await page.mouse.move(x + dx, y + dy, { steps: 4 });
  await page.mouse.up();
}

async function queue(action) {
  const r = await fetch(`${server.url}/api/v1/admin/queue/${action}`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(r.status, 200, `queue ${action}: ${r.status}`);
}

/** Saves the editor's changes and waits until the page shows the saved outcome. With
 * paused, the queue is held first, so the job's progress is seen waiting, then done. */
async function saveAndWait(label, { paused = false } = {}) {
  const editor = page.locator('.region-editor');
  if (paused) await queue('pause');
  await editor.getByRole('button', { name: label }).click();
  if (paused) {
    await editor.locator('.re-progress').getByText('Re-cropping and re-embedding: 0 of 1 job done').waitFor({ timeout: 10_000 });
    await editor.locator('.re-jobs .badge').getByText('queued').waitFor();
    await shot('regions-job-waiting');
    await queue('resume');
  }
  await page.locator('.region-editor-note').getByText(/^Saved \d+ change/).waitFor({ timeout: 60_000 });
}

describe('Visor region editor', { concurrency: false }, () => {
  useApp();

  test('an indexed product, and no editor while signed out', { timeout: INDEX_TIMEOUT + 30_000 }, async () => {
    state.productId = await apiCreateProduct({ sku: 'REGION-APPLE', name: 'Editable apple', category: 'fruit' }, APPLE_IMAGE);
    const deadline = Date.now() + INDEX_TIMEOUT;
    for (;;) {
      const product = await apiGet(`/api/v1/products/${state.productId}`);
      if (product.images[0].status === 'indexed' && product.images[0].regions.length) {
        state.imageId = product.images[0].id;
        break;
      }
      assert.ok(Date.now() < deadline, 'the product was not indexed in time');
      await new Promise((r) => setTimeout(r, 300));
    }
    await page.goto(`/products/${state.productId}`);
    await page.locator('.crop-list .crop img').first().waitFor();
    assert.equal(await page.locator('.region-editor').count(), 0);
  });

  test('a box resized and moved: the job is followed and the new crop appears', async () => {
    await signInAsAdmin('region-editor');
    await page.goto(`/products/${state.productId}`);
    const editor = page.locator('.region-editor');
    await editor.getByRole('button', { name: 'Edit regions' }).click();
    const regions = await apiRegions();
    const target = regions[0];
    const before = await cropOf(target.id);
    const box = editor.locator(`.re-box[data-region-id="${target.id}"]`);
    await box.waitFor();
    await editor.locator('.re-frame').scrollIntoViewIfNeeded();
    const frame = await editor.locator('.re-frame').boundingBox();
    // the bottom-right corner in by 40% of the frame, then the box down-right by 10%
    await drag(box.locator('.re-grip-se'), -frame.width * 0.4, -frame.height * 0.4);
    await drag(box, frame.width * 0.1, frame.height * 0.1);
    await editor.locator(`.re-row[data-region-id="${target.id}"]`).locator('.re-dims').getByText(/· changed$/).waitFor();
    await shot('regions-edited');
    await saveAndWait('Save 1 change', { paused: true });
    const after = (await apiRegions()).find((r) => r.id === target.id);
    assert.equal(after.source, 'admin');
    assert.ok(after.box.w < target.box.w * 0.8 && after.box.h < target.box.h * 0.8, `the box shrank: ${JSON.stringify(after.box)}`);
    assert.ok(after.box.x > target.box.x, 'the box moved right');
    assert.notEqual(after.crop_url, target.crop_url);
    await page.waitForFunction(
      ([id, src]) => document.querySelector(`.crop-list .crop[data-region-id="${id}"] img`)?.getAttribute('src') !== src,
      [target.id, before.src],
    );
    const now = await cropOf(target.id);
    assert.notEqual(now.sum, before.sum, 'the crop bytes changed');
    assert.ok(now.width !== before.width || now.height !== before.height || now.length !== before.length, 'the crop changed size');
    await page.locator('.region-editor-note').getByText('crops cut again and vectors re-embedded').waitFor();
    await shot('regions-saved');
    const audit = await (
      await fetch(`${server.url}/api/v1/admin/audit?subject_id=${target.id}`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })
    ).json();
    assert.equal(audit.items[0].action, 'region.update');
    assert.equal(audit.items[0].actor.endsWith('region-editor'), true);
  });

  test('a new box drawn and labelled becomes a region with its own crop', async () => {
    const editor = page.locator('.region-editor');
    const count = (await apiRegions()).length;
    await editor.getByRole('button', { name: 'Draw a new box' }).click();
    const layer = editor.locator('.draw-layer');
    await layer.scrollIntoViewIfNeeded();
    const frame = await layer.boundingBox();
    await page.mouse.move(frame.x + frame.width * 0.1, frame.y + frame.height * 0.1);
    await page.mouse.down();
    await page.mouse.move(frame.x + frame.width * 0.3, frame.y + frame.height * 0.35, { steps: 5 });
    await page.mouse.up();
    const row = editor.locator('.re-row').last();
    await row.locator('.re-dims').getByText(/· new$/).waitFor();
    await row.locator('input[type=text]').fill('stalk');
    await saveAndWait('Save 1 change');
    const regions = await apiRegions();
    assert.equal(regions.length, count + 1);
    const drawn = regions.find((r) => r.label === 'stalk');
    assert.ok(drawn, 'the drawn region is listed with its label');
    assert.equal(drawn.source, 'admin');
    const crop = await cropOf(drawn.id);
    assert.ok(crop.width > 0 && crop.length > 0);
    await shot('regions-drawn');
  });

  test('a region deleted, and the boxes answer the keyboard', async () => {
    const editor = page.locator('.region-editor');
    const regions = await apiRegions();
    const drawn = regions.find((r) => r.label === 'stalk');
    const row = editor.locator(`.re-row[data-region-id="${drawn.id}"]`);
    await row.getByRole('button', { name: /^Delete/ }).click();
    await row.locator('.re-dims').getByText(/· to be deleted$/).waitFor();
    await saveAndWait('Save 1 change');
    const left = await apiRegions();
    assert.equal(left.length, regions.length - 1);
    assert.equal(left.find((r) => r.id === drawn.id), undefined);
    await page.locator(`.crop-list .crop[data-region-id="${drawn.id}"]`).waitFor({ state: 'detached' });
    await page.locator(`.re-row[data-region-id="${drawn.id}"]`).waitFor({ state: 'detached' });

    const first = editor.locator('.re-box').first();
    await first.focus();
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('Shift+ArrowDown');
    await editor.getByRole('button', { name: 'Save 1 change' }).waitFor();
    await editor.getByRole('button', { name: 'Discard changes' }).click();
    assert.equal(await editor.getByRole('button', { name: 'Save changes' }).isDisabled(), true);
    await shot('regions-after-delete');
  });

  test('no uncaught errors in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
