// Administration on the page: only admins see it; a refused field is shown
// next to its control; an admin (paal) creates a user whose search and play
// reach only the queue "Sales", signs out, signs in as that user from the
// picker, and sees only that queue's calls.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { BASE_URL, apiAs, launch, signIn, tokenFor, violations, waitForRows } from './helpers.js';

const CREATED = 'queue.sales';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  // The picker lists created users: leave it as the other tests expect it.
  await fetch(`${BASE_URL}/api/v1/admin/users/${CREATED}`, {
    method: 'DELETE',
    headers: { Authorization: `Bearer ${await tokenFor('paal')}` },
  });
  await browser?.close();
});

/** Every call the API answers for `token`, page by page. */
async function allCalls(token, query = '') {
  const rows = [];
  let pageToken = '';
  do {
    const url = `${BASE_URL}/api/v1/calls?page_size=200${query}${pageToken ? `&page_token=${encodeURIComponent(pageToken)}` : ''}`;
    const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200, await response.clone().text());
    const page = await response.json();
    rows.push(...page.rows);
    pageToken = page.next_page_token;
  } while (pageToken);
  return rows;
}

test('only an admin is offered Administration', async () => {
  const sara = await signIn(browser, 'sara');
  assert.equal(await sara.getByRole('link', { name: 'Administration' }).count(), 0);
  await sara.goto(`${BASE_URL}/#/admin`);
  await sara.getByRole('heading', { level: 1, name: 'Search calls' }).waitFor();
  await sara.context().close();
});

test('every admin screen passes axe, and the tabs answer the arrow keys', async () => {
  const page = await signIn(browser, 'paal', { bypassCSP: true });
  await page.getByRole('link', { name: 'Administration' }).click();
  await page.locator('tr[data-user-id="sara"]').waitFor();
  await page.getByRole('button', { name: 'Edit sara' }).click();
  await page.getByRole('form', { name: 'Edit user sara' }).waitFor();
  await violations(page, 'users with the edit form');
  await page.getByRole('tab', { name: 'Users' }).focus();
  await page.keyboard.press('ArrowRight');
  await page.getByRole('tab', { name: 'Roles', selected: true }).waitFor();
  await page.locator('tr[data-role-id="admin"]').waitFor();
  await violations(page, 'roles');
  await page.keyboard.press('ArrowRight');
  await page.getByRole('form', { name: 'Tenant settings' }).waitFor();
  await violations(page, 'tenant settings');
  await page.keyboard.press('ArrowRight');
  await page.getByRole('button', { name: 'Find calls' }).click();
  await page.getByRole('button', { name: /^Place on hold: the call at/ }).first().waitFor();
  await violations(page, 'legal holds');
  // Place the first call found on hold, then release it.
  await page.getByRole('button', { name: /^Place on hold: the call at/ }).first().click();
  const release = page.getByRole('button', { name: /^Release: the hold of the call at/ });
  await release.first().waitFor();
  assert.equal(await release.count(), 1);
  await violations(page, 'legal holds with a held call');
  await release.first().click();
  await page.getByText('0 calls on legal hold').waitFor();
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('a refused setting is shown next to its field', async () => {
  const page = await signIn(browser, 'paal');
  await page.getByRole('link', { name: 'Administration' }).click();
  await page.getByRole('heading', { level: 1, name: 'Administration' }).waitFor();
  await page.getByRole('tab', { name: 'Tenant settings' }).click();
  const form = page.getByRole('form', { name: 'Tenant settings' });
  await form.getByLabel('Keep recordings (days)').fill('400');
  await form.getByLabel('Keep call metadata (days)').fill('100');
  await form.getByRole('button', { name: 'Save settings' }).click();
  const metadata = form.getByLabel('Keep call metadata (days)');
  await page.waitForFunction(() => document.querySelector('[data-field="settings.metadata_retention_days"]')?.getAttribute('aria-invalid') === 'true');
  const note = metadata.locator('xpath=..').locator('.field-error');
  assert.match(await note.innerText(), /at least recording_retention_days|Keep|metadata/i);
  // Nothing was written.
  const { settings } = await apiAs('paal', '/api/v1/admin/settings');
  assert.equal(settings.metadata_retention_days >= settings.recording_retention_days, true);
  assert.notEqual(settings.recording_retention_days, 400);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('an admin creates a queue-scoped user, who then sees only that queue', async () => {
  const page = await signIn(browser, 'paal');
  await page.getByRole('link', { name: 'Administration' }).click();
  await page.getByRole('tab', { name: 'Users' }).waitFor();
  await page.getByRole('button', { name: 'New user' }).click();
  const form = page.getByRole('form', { name: 'New user' });

  // A bad user id is refused next to the field.
  await form.getByLabel('User id').fill('no spaces');
  await form.getByLabel('Display name').fill('Sales Supervisor');
  await form.getByRole('button', { name: 'Create user' }).click();
  await page.waitForFunction(() => document.querySelector('[data-field="user.user_id"]')?.getAttribute('aria-invalid') === 'true');
  assert.match(await form.locator('.field-error').first().innerText(), /User id|user_id|characters/i);

  await form.getByLabel('User id').fill(CREATED);
  // Search: only the queue Sales.
  const search = form.locator('fieldset.admin-scope[data-right="search"]');
  await search.getByLabel('All calls of the tenant').setChecked(false);
  await search.getByLabel('Queues (comma-separated)').fill('Sales');
  // Play, over the same queue.
  await form.getByLabel('Play recordings', { exact: true }).setChecked(true);
  const play = form.locator('fieldset.admin-scope[data-right="play"]');
  await play.getByLabel('All calls of the tenant').setChecked(false);
  await play.getByLabel('Queues (comma-separated)').fill('Sales');
  await form.getByRole('button', { name: 'Create user' }).click();
  await page.locator(`tr[data-user-id="${CREATED}"]`).waitFor();
  assert.match(await page.locator(`tr[data-user-id="${CREATED}"]`).innerText(), /Sales Supervisor/);

  // Sign out, and in again as the new user from the picker.
  await page.getByRole('button', { name: 'Sign out / Switch user' }).click();
  await page.getByRole('heading', { level: 1, name: 'Sign in to the Archive' }).waitFor();
  await page.locator(`button.user-card[data-user-id="${CREATED}"]`).click();
  await page.getByRole('heading', { level: 1, name: 'Search calls' }).waitFor();
  await waitForRows(page);
  assert.match(await page.locator('#topbar').innerText(), /Sales Supervisor/);

  // What the page shows is the queue's calls, and only those.
  const token = await page.evaluate(() => sessionStorage.getItem('archive.token'));
  const seen = await allCalls(token);
  const sales = await allCalls(await tokenFor('paal'), '&queue=Sales');
  const everything = await allCalls(await tokenFor('paal'));
  assert.ok(sales.length > 0 && sales.length < everything.length, 'Sales holds some but not all calls');
  assert.deepEqual(seen.map((r) => r.call_id).sort(), sales.map((r) => r.call_id).sort());
  const shown = await page.locator('table.calls tbody tr.call').count();
  assert.equal(shown, Math.min(sales.length, shown));
  for (const row of seen) assert.ok(row.raw.queues.includes('Sales'), JSON.stringify(row.raw));
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
