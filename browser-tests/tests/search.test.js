// Search, paging, the seed's columns and rows, expanding a row (General
// information / Recording tabs), a call whose recording never arrived, what
// users without play rights see, and errors shown in words.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { callRow, launch, search, signIn, waitForRows } from './helpers.js';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const rowTexts = (page) => page.locator('tr.call').evaluateAll((rows) => rows.map((r) => r.dataset.callId));
const cells = (row) => row.locator('td').allInnerTexts();

test("the result table has the seed's columns and rows", async () => {
  const page = await signIn(browser, 'paal');
  const headers = await page.locator('table.calls thead th').allInnerTexts();
  assert.deepEqual(
    headers.map((t) => t.replace(/\s+/g, ' ').trim()),
    ['Start', 'Access Point', 'Recording Time', 'Speak Time', "Caller's Number", 'Time before answer', 'Agent(s)', 'Select'],
  );

  await search(page, { "Caller's number": '957211' });
  assert.equal(await page.locator('tr.call').count(), 2);
  const first = callRow(page, '09.02.2021 12:25');
  const second = callRow(page, '08.02.2021 12:09');
  assert.deepEqual((await cells(first)).slice(0, 7), ['09.02.2021 12:25', '81511569 (Main Demo Number)', '0:44', '0:44', '957211', '0:20', 'Andreas Wallin']);
  assert.deepEqual((await cells(second)).slice(0, 7), ['08.02.2021 12:09', '81511569 (Main Demo Number)', '0:41', '0:41', '957211', '0:18', 'Andreas Wallin']);
  // Newest first by default; a Play button and a Select box on each recorded row.
  assert.deepEqual(await page.locator('tr.call td.col-start').allInnerTexts(), ['09.02.2021 12:25', '08.02.2021 12:09']);
  for (const row of [first, second]) {
    assert.equal(await row.getByRole('button', { name: /^Play the recording/ }).isEnabled(), true);
    assert.equal(await row.getByRole('checkbox', { name: /^Select the call/ }).isEnabled(), true);
  }

  await search(page, { Order: 'oldest' });
  assert.deepEqual(await page.locator('tr.call td.col-start').allInnerTexts(), ['08.02.2021 12:09', '09.02.2021 12:25']);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test("a partial caller's number finds the calls; the whole-number search does not", async () => {
  const page = await signIn(browser, 'sara');
  await search(page, { "Caller's number": '9572' });
  assert.equal(await page.locator('tr.call').count(), 0);
  assert.match(await page.locator('table.calls tbody').innerText(), /No calls match the search/);
  await search(page, { 'Partial number': true });
  assert.deepEqual(await page.locator('tr.call td.col-number').allInnerTexts(), ['957211', '957211']);
  await page.context().close();
});

test('filters: access point, agent, queue, has recording and the time range', async () => {
  const page = await signIn(browser, 'paal');
  await search(page, { 'Access point': '95510009', 'Rows per page': '100' });
  const aps = await page.locator('tr.call td.col-ap').allInnerTexts();
  assert.ok(aps.length > 0);
  assert.ok(aps.every((t) => t === '95510009 (Mobile number to Demo)'), aps.join());

  await search(page, { 'Access point': '', Agent: 'Kari Nordmann', Queue: 'Support', 'Has recording': true });
  const rows = page.locator('tr.call');
  assert.ok((await rows.count()) > 0);
  for (const text of await page.locator('tr.call td.col-agents').allInnerTexts()) assert.equal(text, 'Kari Nordmann');
  // Every row has a recording: a Play button, and a Recording Time.
  assert.equal(await page.locator('tr.call .play-placeholder').count(), 0);

  // The seed's two calls of 15.11.2022 (Europe/Oslo), by time range.
  await search(page, { Agent: '', Queue: '', 'Has recording': false, From: '2022-11-15T10:59', To: '2022-11-15T11:08' });
  assert.deepEqual(await page.locator('tr.call td.col-start').allInnerTexts(), ['15.11.2022 11:07', '15.11.2022 11:00']);
  await page.context().close();
});

test("times are the tenant's (Europe/Oslo), whatever the browser's time zone", async () => {
  const page = await signIn(browser, 'sara', { timezoneId: 'America/New_York' });
  const converted = await page.evaluate(async () => {
    const time = await import('/js/time.js');
    return [
      time.localToRfc3339('2022-11-15T11:00', 'Europe/Oslo'),
      time.localToRfc3339('2021-06-09T12:26', 'Europe/Oslo'),
      time.localToRfc3339('2022-03-27T03:30', 'Europe/Oslo'),
      time.formatInstant('2022-12-15T07:45:00Z', 'Europe/Oslo'),
      time.minutesSeconds(157),
    ];
  });
  assert.deepEqual(converted, [
    '2022-11-15T10:00:00.000Z',
    '2021-06-09T10:26:00.000Z',
    '2022-03-27T01:30:00.000Z',
    '15.12.2022 08:45:00',
    '2:37',
  ]);
  await search(page, { From: '2022-11-15T10:59', To: '2022-11-15T11:08' });
  assert.deepEqual(await page.locator('tr.call td.col-start').allInnerTexts(), ['15.11.2022 11:07', '15.11.2022 11:00']);
  await page.context().close();
});

test('paging: next and previous pages with page tokens', async () => {
  const page = await signIn(browser, 'paal');
  const next = page.getByRole('navigation', { name: 'Result pages' }).getByRole('button', { name: /Next/ });
  const previous = page.getByRole('navigation', { name: 'Result pages' }).getByRole('button', { name: /Previous/ });
  assert.equal(await previous.isDisabled(), true);
  const first = await rowTexts(page);
  assert.equal(first.length, 25);

  await next.click();
  await page.getByText('Page 2', { exact: true }).waitFor();
  await waitForRows(page);
  const second = await rowTexts(page);
  assert.equal(second.length, 25);
  assert.ok(second.every((id) => !first.includes(id)), 'page 2 repeats rows of page 1');
  assert.equal(await previous.isEnabled(), true);

  await previous.click();
  await page.getByText('Page 1', { exact: true }).waitFor();
  await waitForRows(page);
  assert.deepEqual(await rowTexts(page), first);

  // With 100 rows a page, the second page is the last.
  await search(page, { 'Rows per page': '100' });
  assert.equal(await page.locator('tr.call').count(), 100);
  await next.click();
  await page.getByText('Page 2', { exact: true }).waitFor();
  await waitForRows(page);
  const rest = await page.locator('tr.call').count();
  assert.ok(rest > 0 && rest < 100, `${rest} rows on the last page`);
  assert.equal(await next.isDisabled(), true);
  await page.context().close();
});

test('expanding a row shows General information and the Recording tab with each segment', async () => {
  const page = await signIn(browser, 'paal');
  await search(page, { "Caller's number": '957211' });
  const row = callRow(page, '09.02.2021 12:25');
  const expand = row.getByRole('button', { name: 'Details of the call at 09.02.2021 12:25' });
  await expand.click();
  assert.equal(await expand.getAttribute('aria-expanded'), 'true');
  const details = page.locator(`#${await expand.getAttribute('aria-controls')}`);
  const general = details.getByRole('tab', { name: 'General information' });
  const recording = details.getByRole('tab', { name: 'Recording' });
  assert.equal(await general.getAttribute('aria-selected'), 'true');
  const facts = await details.getByRole('tabpanel').innerText();
  assert.match(facts, /Queue\(s\)\s+Sales/);
  assert.match(facts, /Session\s+seed-20210209-1225/);

  // Keyboard: the arrow key moves to the Recording tab.
  await general.focus();
  await page.keyboard.press('ArrowRight');
  assert.equal(await recording.getAttribute('aria-selected'), 'true');
  assert.equal(await recording.evaluate((el) => el === document.activeElement), true);
  const segments = details.locator('table.segments');
  assert.deepEqual(await segments.locator('thead th').allInnerTexts(), ['Start', 'Finish', 'Queue', 'Agent']);
  assert.deepEqual(await segments.locator('tbody td').allInnerTexts(), ['09.02.2021 12:26:15', '09.02.2021 12:26:59', 'Sales', 'Andreas Wallin']);
  assert.equal(await details.getByRole('button', { name: /^Play recording 1/ }).isEnabled(), true);

  await expand.click();
  assert.equal(await details.isHidden(), true);

  // A transferred call whose next conversation was recorded too: two agents.
  await search(page, { "Caller's number": '95214830' });
  const transfer = callRow(page, '24.11.2023 09:30');
  await transfer.getByRole('button', { name: /^Details/ }).click();
  await page.getByRole('tab', { name: 'Recording' }).click();
  const agents = await page.locator('tr.details:not([hidden]) table.segments tbody tr td:nth-child(4)').allInnerTexts();
  assert.deepEqual(agents, ['Andreas Wallin', 'paal-agent']);
  await page.context().close();
});

test("a deleted recording's row shows the deletion text in place of Time before answer and Agent(s)", async () => {
  const page = await signIn(browser, 'sara');
  await search(page, { "Caller's number": '98214836' });
  const deleted = callRow(page, '15.11.2022 11:07');
  const kept = callRow(page, '15.11.2022 11:00');
  const text = deleted.locator('td.deletion');
  assert.equal(await text.getAttribute('colspan'), '2');
  assert.match(await text.innerText(), /^This recording is deleted by customer: 10009, user: Paal Admin\(paal\), on \d\d\.\d\d\.\d{4} \d\d:\d\d$/);
  assert.equal(await deleted.locator('td').count(), 7);
  assert.equal(await deleted.getByRole('button', { name: /^Play/ }).count(), 0);
  assert.deepEqual((await cells(kept)).slice(5, 7), ['0:08', 'paal-agent']);
  assert.equal(await kept.getByRole('button', { name: /^Play/ }).count(), 1);
  await page.context().close();
});

test('an expired recording has no Play button', async () => {
  const page = await signIn(browser, 'paal');
  // No demo recording has expired yet: mark one so in the API's answer.
  await page.route('**/api/v1/calls?*', async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    for (const row of body.rows) {
      if (row.callers_number === '957211' && row.start.startsWith('08.02.2021')) row.recordings[0].play_state = 'expired';
    }
    await route.fulfill({ response, json: body });
  });
  await search(page, { "Caller's number": '957211' });
  const expired = callRow(page, '08.02.2021 12:09');
  assert.equal(await expired.getByRole('button', { name: /^Play/ }).count(), 0);
  assert.equal(await callRow(page, '09.02.2021 12:25').getByRole('button', { name: /^Play/ }).count(), 1);
  await expired.getByRole('button', { name: /^Details/ }).click();
  await page.getByRole('tab', { name: 'Recording' }).click();
  const panel = page.locator('tr.details:not([hidden]) [role=tabpanel]:not([hidden])');
  assert.match(await panel.innerText(), /no longer kept/);
  assert.equal(await panel.getByRole('button', { name: /^Play/ }).count(), 0);
  await page.context().close();
});

test('a call whose recording never arrived says "Recording not available yet": no Play, nothing to download', async () => {
  const page = await signIn(browser, 'paal');
  // A seeded call the recording platform ingested but never uploaded the file of.
  await search(page, { "Caller's number": '4791122334' });
  const row = callRow(page, '27.11.2023 14:12');
  const note = row.locator('td.not-available');
  assert.equal(await note.innerText(), 'Recording not available yet');
  // In place of Time before answer and Agent(s), as the deletion text is.
  assert.equal(await note.getAttribute('colspan'), '2');
  assert.deepEqual((await cells(row)).slice(0, 5), ['27.11.2023 14:12', '81511569 (Main Demo Number)', '1:35', '1:35', '4791122334']);
  assert.equal(await row.getByRole('button', { name: /^Play/ }).count(), 0);

  await row.getByRole('button', { name: /^Details/ }).click();
  const details = page.locator('tr.details:not([hidden])');
  const facts = await details.getByRole('tabpanel').innerText();
  assert.match(facts, /Agent\(s\)\s+Ola Hansen/);
  assert.match(facts, /Recording\s+Recording not available yet\. The recording platform has not delivered its file\./);
  await details.getByRole('tab', { name: 'Recording' }).click();
  const panel = details.locator('[role=tabpanel]:not([hidden])');
  assert.match(await panel.innerText(), /Recording not available yet/);
  assert.equal(await panel.getByRole('button', { name: /^Play/ }).count(), 0);

  // Selected alone, there is no file to download.
  await row.getByRole('checkbox', { name: /^Select the call/ }).check();
  await page.getByRole('button', { name: /^Select Action/ }).click();
  await page.getByRole('menu', { name: 'Select Action' }).getByRole('menuitem', { name: 'Download' }).click();
  await page
    .getByRole('alert')
    .getByText('The selected calls have no recording files to download (they are deleted, expired or not available yet).')
    .waitFor();
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('without play rights the Play button is visible but disabled and the Recording tab is disabled', async () => {
  const page = await signIn(browser, 'nils');
  await search(page, { "Caller's number": '957211' });
  const row = callRow(page, '09.02.2021 12:25');
  const play = row.getByRole('button', { name: /^Play the recording/ });
  assert.equal(await play.isVisible(), true);
  assert.equal(await play.isDisabled(), true);
  assert.equal(await play.getAttribute('title'), 'You are not allowed to play recordings');
  await row.getByRole('button', { name: /^Details/ }).click();
  const tab = page.getByRole('tab', { name: 'Recording' });
  assert.equal(await tab.isDisabled(), true);
  assert.match(await page.locator('tr.details:not([hidden]) [role=tabpanel]').first().innerText(), /You are not allowed to play recordings/);
  // Nils sees neither the audit log nor "My call recordings"; the dock has no player.
  assert.equal(await page.getByRole('link', { name: 'Archive Audit log' }).count(), 0);
  assert.equal(await page.getByRole('link', { name: 'My call recordings' }).count(), 0);
  assert.equal(await page.getByRole('region', { name: 'Recording player' }).isHidden(), true);
  await page.goto(`${page.url().split('#')[0]}#/audit`);
  await page.getByRole('alert').getByText('You do not have permission to view the Archive Audit log.').waitFor();
  await page.getByRole('heading', { level: 1, name: 'Search calls' }).waitFor();
  await page.context().close();
});

test('"My call recordings" lists the agent\'s own calls, including the agent-to-agent call he started', async () => {
  const page = await signIn(browser, 'andreas');
  await page.getByRole('link', { name: 'My call recordings' }).click();
  await page.getByRole('heading', { level: 1, name: 'My call recordings' }).waitFor();
  await waitForRows(page);
  const aps = await page.locator('tr.call td.col-ap').allInnerTexts();
  assert.ok(aps.includes('1001 (Andreas Wallin (internal))'), aps.join(' | '));
  assert.equal(await page.getByRole('link', { name: 'My call recordings' }).getAttribute('aria-current'), 'page');
  await page.context().close();

  const supervisor = await signIn(browser, 'sara');
  assert.equal(await supervisor.getByRole('link', { name: 'My call recordings' }).count(), 0);
  assert.equal(await supervisor.getByRole('link', { name: 'Archive Audit log' }).count(), 1);
  await supervisor.context().close();
});

test('failures are shown in words, never as a blank page', async () => {
  const page = await signIn(browser, 'paal');
  await page.route('**/api/v1/calls?*', (route) =>
    route.fulfill({ status: 503, json: { error: { code: 'Unavailable', message: 'archive-svc is unavailable, try again shortly' } } }),
  );
  await search(page, { "Caller's number": '957211' });
  const unavailable = 'The Archive service is unavailable right now. Please try again in a moment.';
  await page.getByRole('alert').getByText(unavailable).waitFor();
  assert.equal(await page.locator('table.calls tbody').innerText(), unavailable);

  await page.unroute('**/api/v1/calls?*');
  await page.route('**/api/v1/calls?*', (route) => route.abort('connectionrefused'));
  await search(page, {});
  await page.getByRole('alert').getByText(/cannot be reached/).waitFor();

  await page.unroute('**/api/v1/calls?*');
  await search(page, { From: '2023-01-02T00:00', To: '2022-01-01T00:00' });
  await page.getByRole('alert').getByText('Please check To: must be after From.').waitFor();

  await page.getByRole('alert').getByRole('button', { name: 'Dismiss message' }).click();
  assert.equal((await page.getByRole('alert').innerText()).trim(), '');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
