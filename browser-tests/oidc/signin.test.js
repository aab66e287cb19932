// Signing in with an identity provider (run by scripts/browser-tests.sh
// against a suite whose --oidc-issuer is the stand-in provider of
// test-support): the page offers the provider instead of the demo users, the
// provider's login form signs Sara in, and the page lands on the search page
// as her, with the token in the tab's storage and never in a URL.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BASE_URL, launch, waitForRows } from '../tests/helpers.js';

const PROVIDER = process.env.ARCHIVE_OIDC_ISSUER;

let browser;
before(async () => {
  assert.ok(PROVIDER, 'ARCHIVE_OIDC_ISSUER names the stand-in identity provider the suite signs in with');
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const storedToken = (page) => page.evaluate(() => sessionStorage.getItem('archive.token'));

test("signing in through the provider's login form lands on the search page as that user", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error));
  const visited = [];
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) visited.push(frame.url());
  });
  await page.goto(BASE_URL);
  await page.getByRole('heading', { level: 1, name: 'Sign in to the Archive' }).waitFor();
  const signInWith = page.getByRole('link', { name: 'Sign in with Stand-in IdP' });
  await signInWith.waitFor();
  assert.equal(await page.getByRole('list', { name: 'Demo users' }).count(), 0, 'no demo users beside a provider');

  await signInWith.click();
  await page.getByRole('heading', { level: 1, name: 'Stand-in IdP' }).waitFor();
  assert.ok(page.url().startsWith(`${PROVIDER}/authorize?`), page.url());
  await page.getByLabel('Username').fill('sara');
  await page.getByRole('button', { name: 'Log in' }).click();

  await page.getByRole('heading', { level: 1, name: 'Search calls' }).waitFor();
  await waitForRows(page);
  assert.match(await page.locator('#topbar').innerText(), /Sara Supervisor\s*\(sara\)/);
  const token = await storedToken(page);
  assert.ok(token);
  for (const url of visited) assert.ok(!url.includes(token), `the token is not in ${url}`);
  // The handoff cookie was taken once: nothing is left for another page.
  const cookies = await context.cookies(BASE_URL + '/auth/session');
  assert.deepEqual(cookies.map((c) => c.name), []);

  // Sign-out clears the session and offers the provider again.
  await page.getByRole('button', { name: 'Sign out / Switch user' }).click();
  await page.getByRole('heading', { level: 1, name: 'Sign in to the Archive' }).waitFor();
  await signInWith.waitFor();
  assert.equal(await storedToken(page), null);
  assert.deepEqual(errors, []);
  await context.close();
});

test('a callback this browser did not start shows a page saying so', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const response = await page.goto(`${BASE_URL}/auth/callback?code=x&state=y`);
  assert.equal(response.status(), 400);
  await page.getByRole('heading', { level: 1, name: 'Sign-in failed' }).waitFor();
  assert.match(await page.locator('#reason').innerText(), /no sign-in was started in this browser/);
  await page.getByRole('link', { name: 'Back to the Archive' }).click();
  await page.getByRole('heading', { level: 1, name: 'Sign in to the Archive' }).waitFor();
  await context.close();
});
