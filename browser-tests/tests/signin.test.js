// Signing in: the demo-user picker of embedded mode, the token kept for the
// tab only, switching user, a pasted token, and an expired token.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BASE_URL, launch, signIn, tokenFor, waitForRows } from './helpers.js';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const storedToken = (page) => page.evaluate(() => sessionStorage.getItem('archive.token'));

test('the picker offers the demo users, and the choice holds for the tab', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(BASE_URL);
  await page.getByRole('heading', { level: 1, name: 'Sign in to the Archive' }).waitFor();
  const users = page.getByRole('list', { name: 'Demo users' }).getByRole('button');
  await users.first().waitFor();
  assert.deepEqual(await users.evaluateAll((b) => b.map((x) => x.dataset.userId)), ['paal', 'sara', 'siri', 'andreas', 'paal-agent', 'rita', 'nils']);
  assert.match(await users.nth(6).innerText(), /Nils Noplay[\s\S]*may search but not play/);
  // The first user has focus, so Enter signs in.
  assert.equal(await users.first().evaluate((el) => el === document.activeElement), true);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Search calls' }).waitFor();
  await waitForRows(page);
  assert.ok(await storedToken(page));
  assert.match(await page.locator('#topbar').innerText(), /Paal Admin\s*\(paal\)/);

  // A reload keeps the session.
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Search calls' }).waitFor();

  // Switching user clears the token and shows the picker again.
  await page.getByRole('button', { name: 'Sign out / Switch user' }).click();
  await page.getByRole('heading', { level: 1, name: 'Sign in to the Archive' }).waitFor();
  assert.equal(await storedToken(page), null);
  await page.locator('button.user-card[data-user-id="nils"]').click();
  await page.getByRole('heading', { level: 1, name: 'Search calls' }).waitFor();
  assert.match(await page.locator('#topbar').innerText(), /Nils Noplay/);
  await context.close();
});

test('a pasted token signs in; an expired or forged one returns to sign-in with a message', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await page.goto(BASE_URL);
  await page.getByText('Sign in with a token').click();
  await page.getByLabel('Bearer token').fill(`Bearer ${await tokenFor('sara')}`);
  await page.getByRole('button', { name: 'Sign in with this token' }).click();
  await page.getByRole('heading', { level: 1, name: 'Search calls' }).waitFor();
  assert.match(await page.locator('#topbar').innerText(), /Sara Supervisor/);

  await page.evaluate(() => sessionStorage.setItem('archive.token', 'not.a.token'));
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Sign in to the Archive' }).waitFor();
  await page.getByText('Your sign-in has expired. Please sign in again.').waitFor();
  assert.equal(await storedToken(page), null);
  await context.close();
});

test('a token that stops working mid-session returns to sign-in', async () => {
  const page = await signIn(browser, 'sara');
  await page.route('**/api/v1/calls?*', (route) =>
    route.fulfill({ status: 401, json: { error: { code: 'Unauthenticated', message: 'token expired' } } }),
  );
  await page.getByRole('search', { name: 'Search calls' }).getByRole('button', { name: 'Search', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: 'Sign in to the Archive' }).waitFor();
  await page.getByText('Your sign-in has expired or is no longer valid. Please sign in again.').waitFor();
  // The failed search posts nothing over the sign-in page.
  await page.waitForTimeout(200);
  assert.equal((await page.getByRole('alert').innerText()).trim(), '');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
