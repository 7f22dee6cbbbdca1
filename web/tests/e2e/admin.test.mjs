// End-to-end tests of the admin area's sign-in: a wrong token is refused, the right one
// opens the admin home and shows who is signed in, a signed-out visit to an admin page
// goes to the sign-in form and back, and sign-out forgets the token.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { page, pageErrors, shot, signInAsAdmin, useApp } from './harness.mjs';

describe('Visor admin sign-in', { concurrency: false }, () => {
  useApp();

  test('a wrong token is refused with a clear message and nothing is stored', async () => {
    await page.goto('/admin/sign-in');
    await page.fill('#admin-token', 'not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('That admin token was not accepted').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('visor.admin')), null);
    await shot('admin-sign-in-refused');
  });

  test('the admin token signs in, the header names who acts, and sign-out forgets it', async () => {
    await page.goto('/admin');
    await page.waitForURL(/\/admin\/sign-in\?next=%2Fadmin$/);
    await signInAsAdmin('alice');
    await page.locator('.admin-who').getByText('Admin: alice').waitFor();
    await shot('admin-home');
    await page.locator('.admin-status').getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((url) => url.pathname === '/');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('visor.admin')), null);
    assert.equal(await page.locator('.admin-who').count(), 0);
  });

  test('no uncaught errors in the page', () => {
    assert.deepEqual(pageErrors, []);
  });
});
