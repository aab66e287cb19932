// The "Select Action" bar: Download (the browser saves <uuid>.zip, opened
// here to check its entries), the reason dialog before a download, Delete
// Recording(s) with its confirmation, and the deletion text afterwards.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { apiAs, artifact, callRow, caseNumber, launch, readZip, search, signIn, unzipList } from './helpers.js';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function chooseAction(page, name) {
  await page.getByRole('button', { name: /^Select Action/ }).click();
  await page.getByRole('menu', { name: 'Select Action' }).getByRole('menuitem', { name }).click();
}

const ZIP_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.zip$/;
// queuename_yyyymmdd-hhmm_accessnum_anum_sessionid_nr.mp3
const ENTRY_NAME = /^Sales_\d{8}-\d{4}_81511569_\d+_seed-[\w-]+_\d\.mp3$/;

function isMp3(bytes) {
  const id3 = bytes[0] === 0x49 && bytes[1] === 0x44 && bytes[2] === 0x33;
  const frameSync = bytes[0] === 0xff && (bytes[1] & 0xe0) === 0xe0;
  return id3 || frameSync;
}

test('download the selected recordings: the browser saves <uuid>.zip with the seed-named MP3 files', async () => {
  const page = await signIn(browser, 'sara');
  await search(page, { "Caller's number": '957211' });
  for (const start of ['09.02.2021 12:25', '08.02.2021 12:09']) {
    await callRow(page, start).getByRole('checkbox', { name: /^Select the call/ }).check();
  }
  await page.getByText('2 calls selected').waitFor();

  const [download] = await Promise.all([page.waitForEvent('download'), chooseAction(page, 'Download')]);
  const name = download.suggestedFilename();
  assert.match(name, ZIP_NAME);
  const saved = artifact(name);
  await download.saveAs(saved);

  const entries = readZip(saved);
  assert.deepEqual(
    entries.map((e) => e.name).sort(),
    ['Sales_20210208-1209_81511569_957211_seed-20210208-1209_1.mp3', 'Sales_20210209-1226_81511569_957211_seed-20210209-1225_1.mp3'],
  );
  for (const entry of entries) {
    assert.match(entry.name, ENTRY_NAME);
    assert.ok(entry.size > 1000, `${entry.name}: ${entry.size} bytes`);
    assert.equal(entry.crcOk, true, `${entry.name}: CRC-32 does not match`);
    assert.ok(isMp3(entry.data), `${entry.name} is not MP3`);
  }
  const listing = unzipList(saved);
  if (listing !== null) for (const entry of entries) assert.ok(listing.includes(entry.name), listing);

  await page.getByRole('status').getByText(/Downloading 2 recordings/).waitFor();
  assert.equal(await page.getByRole('status').getByRole('link', { name }).count(), 1);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('a user who must give a reason gives it before the download starts', async () => {
  const page = await signIn(browser, 'rita');
  await search(page, { "Caller's number": '95214830' });
  await callRow(page, '24.11.2023 09:30').getByRole('checkbox', { name: /^Select the call/ }).check();
  let downloads = 0;
  page.on('download', () => {
    downloads += 1;
  });
  await chooseAction(page, 'Download');
  const dialog = page.getByRole('dialog', { name: 'A reason is required' });
  await dialog.waitFor();
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'detached' });
  await page.waitForTimeout(300);
  assert.equal(downloads, 0, 'cancelled, yet a download started');

  const reason = `Customer asked for a copy`;
  const caseId = `CASE-${caseNumber()}`;
  await chooseAction(page, 'Download');
  await dialog.getByLabel('Reason for download').selectOption('COMPLAINT');
  await dialog.getByLabel('Details (optional)').fill(reason);
  await dialog.getByLabel('Case or ticket id (optional)').fill(caseId);
  const [download] = await Promise.all([page.waitForEvent('download'), dialog.getByRole('button', { name: 'Download' }).click()]);
  const saved = artifact(download.suggestedFilename());
  await download.saveAs(saved);
  const names = readZip(saved).map((e) => e.name);
  assert.deepEqual(names, ['Sales_20231124-0930_81511569_95214830_seed-transfer-20231124-0930_1.mp3']);
  await page.context().close();

  // One export: its EXPORT_CREATED and one RECORDING_DOWNLOADED, with the
  // structured reason, found by case id.
  const { events } = await apiAs('paal', `/api/v1/audit?case_id=${caseId}`);
  assert.deepEqual(
    events.map((e) => [e.kind, e.reason_code, e.reason, e.case_id]).sort(),
    [
      ['export_created', 'COMPLAINT', reason, caseId],
      ['recording_downloaded', 'COMPLAINT', reason, caseId],
    ],
  );
  assert.equal(new Set(events.map((e) => e.request_id)).size, 1, 'one user action, one request id');
  assert.ok(events.every((e) => e.client_address === '127.0.0.1'), JSON.stringify(events.map((e) => e.client_address)));
});

test('actions need a selection and the permission', async () => {
  const page = await signIn(browser, 'sara');
  await chooseAction(page, 'Download');
  await page.getByRole('alert').getByText(/Tick the Select box of one or more calls first/).waitFor();
  await page.getByRole('button', { name: /^Select Action/ }).click();
  const remove = page.getByRole('menuitem', { name: /^Delete Recording\(s\)/ });
  assert.equal(await remove.getAttribute('aria-disabled'), 'true');
  assert.match(await remove.innerText(), /not allowed for your user/);
  await page.keyboard.press('Escape');
  await page.getByRole('menu', { name: 'Select Action' }).waitFor({ state: 'hidden' });
  await page.context().close();
});

test('delete: confirm, then every new search shows the deletion text', async () => {
  const page = await signIn(browser, 'paal');
  await search(page, { Agent: 'Kari Nordmann', 'Has recording': true });
  const target = page.locator('tr.call').first();
  const callId = await target.getAttribute('data-call-id');
  const row = page.locator(`tr.call[data-call-id="${callId}"]`);
  const startText = await row.locator('td.col-start').innerText();
  await row.getByRole('checkbox', { name: /^Select the call/ }).check();

  // Cancel first: nothing is deleted.
  await chooseAction(page, 'Delete Recording(s)');
  const dialog = page.getByRole('dialog', { name: 'Delete 1 recording?' });
  await dialog.waitFor();
  assert.equal(await dialog.getByRole('button', { name: 'Cancel' }).evaluate((el) => el === document.activeElement), true, 'a delete starts on Cancel');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  const row1 = await apiAs('paal', `/api/v1/calls/${callId}`);
  assert.equal(row1.deletion_text, '');

  await chooseAction(page, 'Delete Recording(s)');
  await dialog.getByRole('button', { name: 'Delete Recording' }).click();
  await page.getByRole('status').getByText('1 recording deleted.').waitFor();

  // A new search, as anyone: the sentence in place of Time before answer and Agent(s).
  const other = await signIn(browser, 'sara');
  await search(other, { Agent: 'Kari Nordmann' });
  const deleted = other.locator(`tr.call[data-call-id="${callId}"]`);
  assert.equal(await deleted.locator('td.col-start').innerText(), startText);
  const text = deleted.locator('td.deletion');
  assert.equal(await text.getAttribute('colspan'), '2');
  assert.match(await text.innerText(), /^This recording is deleted by customer: 10009, user: Paal Admin\(paal\), on \d\d\.\d\d\.\d{4} \d\d:\d\d$/);
  assert.equal(await deleted.getByRole('button', { name: /^Play/ }).count(), 0);
  assert.equal(await deleted.getByRole('checkbox').isDisabled(), true);
  await deleted.getByRole('button', { name: /^Details/ }).click();
  await other.getByRole('tab', { name: 'Recording' }).click();
  assert.match(await other.locator('tr.details:not([hidden]) .deletion-note').innerText(), /This recording is deleted by customer: 10009/);
  await other.context().close();

  // The deleting page showed it again at once, too.
  await page.locator(`tr.call[data-call-id="${callId}"] td.deletion`).waitFor();
  const { events } = await apiAs('paal', `/api/v1/audit?actor=paal`);
  assert.ok(events.some((e) => e.kind === 'recording_deleted' && e.call_id === callId), 'no audit event of the delete');
  await page.context().close();
});

test('a user who must give a reason gives it in the delete confirmation', async () => {
  const page = await signIn(browser, 'rita');
  await search(page, { Agent: 'Ola Hansen', 'Has recording': true });
  const callId = await page.locator('tr.call').first().getAttribute('data-call-id');
  const row = page.locator(`tr.call[data-call-id="${callId}"]`);
  await row.getByRole('checkbox', { name: /^Select the call/ }).check();
  await chooseAction(page, 'Delete Recording(s)');
  const dialog = page.getByRole('dialog', { name: 'Delete 1 recording?' });
  const reasonCode = dialog.getByLabel('Reason for delete');
  assert.equal(await reasonCode.evaluate((el) => el === document.activeElement), true);
  await dialog.getByRole('button', { name: 'Delete Recording' }).click();
  await dialog.getByText('Please choose a reason before you continue.').waitFor();
  const reason = `GDPR erasure request, case ${caseNumber()}`;
  await reasonCode.selectOption('LEGAL');
  await dialog.getByLabel('Details (optional)').fill(reason);
  await dialog.getByRole('button', { name: 'Delete Recording' }).click();
  await page.getByRole('status').getByText('1 recording deleted.').waitFor();
  await row.locator('td.deletion', { hasText: 'user: Rita Reason(rita)' }).waitFor();
  await page.context().close();

  // The deletion's event comes from archive-svc's outbox: moments later, once.
  let deletedEvents = [];
  for (let i = 0; i < 50 && deletedEvents.length === 0; i++) {
    const { events } = await apiAs('paal', `/api/v1/audit?actor=rita&kind=recording_deleted&reason_code=LEGAL`);
    deletedEvents = events.filter((e) => e.reason === reason && e.call_id === callId);
    if (deletedEvents.length === 0) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(deletedEvents.length, 1, 'one RECORDING_DELETED event for the one deletion');
});
