// Accessibility: axe-core's rules (labels, names, roles, contrast…) on each
// view, the expanded row, the player with its menu, and the dialogs; and the
// page is usable at 1280×800 without sideways scrolling.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BASE_URL, callRow, launch, search, violations } from './helpers.js';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** A page signed in as `userId`; CSP is bypassed only so axe can be injected. */
async function open(userId) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
  const page = await context.newPage();
  await page.goto(BASE_URL);
  await page.locator(`button.user-card[data-user-id="${userId}"]`).click();
  await page.getByRole('heading', { level: 1, name: 'Search calls' }).waitFor();
  await page.locator('table.calls[aria-busy="false"] tr.call').first().waitFor();
  return page;
}

test('sign-in, search with an expanded row and the player, and the speed menu pass axe', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, bypassCSP: true });
  const signInPage = await context.newPage();
  await signInPage.goto(BASE_URL);
  await signInPage.locator('button.user-card').first().waitFor();
  await violations(signInPage, 'sign-in');
  await context.close();

  const page = await open('paal');
  await search(page, { "Caller's number": '98214836' });
  const row = callRow(page, '15.11.2022 11:00');
  await row.getByRole('button', { name: /^Details/ }).click();
  await page.getByRole('tab', { name: 'Recording' }).click();
  await row.getByRole('button', { name: /^Play the recording/ }).click();
  await page.getByRole('region', { name: 'Recording player' }).waitFor();
  await row.getByRole('checkbox').check();
  await violations(page, 'search with the player');
  await page.getByRole('button', { name: 'Playback speed' }).click();
  await violations(page, 'speed menu');

  // Readable at 1280×800: nothing wider than the window.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.equal(overflow, 0, 'the page scrolls sideways at 1280×800');
  await page.context().close();
});

test('the reason and delete dialogs, the audit log and a user without rights pass axe', async () => {
  const rita = await open('rita');
  await search(rita, { "Caller's number": '957211' });
  await callRow(rita, '09.02.2021 12:25').getByRole('button', { name: /^Play the recording/ }).click();
  await rita.getByRole('dialog', { name: 'A reason is required' }).waitFor();
  await violations(rita, 'reason dialog');
  await rita.keyboard.press('Escape');
  await callRow(rita, '09.02.2021 12:25').getByRole('checkbox').check();
  await rita.getByRole('button', { name: /^Select Action/ }).click();
  await rita.getByRole('menuitem', { name: 'Delete Recording(s)' }).click();
  await rita.getByRole('dialog', { name: 'Delete 1 recording?' }).waitFor();
  await violations(rita, 'delete dialog');
  await rita.keyboard.press('Escape');
  await rita.context().close();

  const paal = await open('paal');
  await paal.getByRole('link', { name: 'Archive Audit log' }).click();
  await paal.locator('table.audit[aria-busy="false"]').waitFor();
  await violations(paal, 'audit log');
  await paal.context().close();

  const nils = await open('nils');
  await callRow(nils, await nils.locator('tr.call td.col-start').first().innerText())
    .getByRole('button', { name: /^Details/ })
    .click();
  await violations(nils, 'no play rights');
  await nils.context().close();
});
