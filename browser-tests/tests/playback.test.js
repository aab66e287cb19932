// Playback in a real browser: the audio plays (currentTime advances), pause,
// seeking by dragging the slider, speed from the "⋮" menu, Stop closes the
// player; the reason dialog for a user who must give one, and the reason in
// the Archive Audit log; nothing on the page moves while audio plays; an
// expired link renewed on the fly.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { apiAs, audioState, callRow, caseNumber, eventually, keepScreenshot, launch, search, signIn } from './helpers.js';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

const player = (page) => page.getByRole('region', { name: 'Recording player' });
const focusedLabel = (page) => page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? document.activeElement?.textContent);

async function waitPlaying(page, beyond = 0.5) {
  return eventually(
    () => audioState(page),
    (s) => !s.paused && s.currentTime > beyond,
    { what: `currentTime past ${beyond} s` },
  );
}

test('play, pause, seek by dragging, change speed, stop', async () => {
  const page = await signIn(browser, 'paal');
  await search(page, { "Caller's number": '95214830' });
  const row = callRow(page, '23.11.2023 08:46');
  await row.getByRole('button', { name: /^Details/ }).click();
  await page.getByRole('tab', { name: 'Recording' }).click();
  const play = row.getByRole('button', { name: 'Play the recording of the call at 23.11.2023 08:46' });
  await play.click();

  await player(page).waitFor();
  assert.match(await player(page).innerText(), /23\.11\.2023 08:46 · 95214830/);
  // The audio really plays: its clock advances.
  const started = await waitPlaying(page, 0.3);
  assert.match(started.src, /\/media\/[0-9a-f-]+\?token=/);
  assert.ok(started.duration > 5, `duration ${started.duration}`);
  assert.equal(await focusedLabel(page), 'Pause', 'focus moves to the player');

  // Nothing moves while the audio plays.
  const boxes = async () => ({
    row: await row.boundingBox(),
    seek: await page.locator('#player-seek').boundingBox(),
    time: await player(page).locator('.player-time').first().boundingBox(),
    height: await page.evaluate(() => document.documentElement.scrollHeight),
  });
  const before = await boxes();
  await eventually(() => audioState(page), (s) => s.currentTime > started.currentTime + 1, { what: 'one more second' });
  assert.deepEqual(await boxes(), before);

  // Pause: the clock stops.
  await player(page).getByRole('button', { name: 'Pause' }).click();
  const paused = await eventually(() => audioState(page), (s) => s.paused, { what: 'paused' });
  await page.waitForTimeout(400);
  assert.equal((await audioState(page)).currentTime, paused.currentTime);

  // Speed from the three-dots menu.
  await player(page).getByRole('button', { name: 'Playback speed' }).click();
  const menu = page.getByRole('menu', { name: 'Playback speed' });
  assert.deepEqual(
    await menu.getByRole('menuitemradio').allInnerTexts(),
    ['0.5×', '0.75×', '1×', '1.25×', '1.5×', '1.75×', '2×'],
  );
  assert.equal(await menu.getByRole('menuitemradio', { name: '1×', exact: true }).getAttribute('aria-checked'), 'true');
  await menu.getByRole('menuitemradio', { name: '1.5×' }).click();
  assert.equal((await audioState(page)).playbackRate, 1.5);
  assert.equal(await player(page).locator('.player-speed').innerText(), '1.5×');
  assert.equal(await menu.isHidden(), true);

  // Resume, then drag the slider's thumb to 70 %: the position jumps there.
  await player(page).getByRole('button', { name: 'Play', exact: true }).click();
  await waitPlaying(page, paused.currentTime + 0.1);
  const { duration } = await audioState(page);
  const slider = await page.locator('#player-seek').boundingBox();
  const y = slider.y + slider.height / 2;
  const at = (await audioState(page)).currentTime;
  const thumbX = slider.x + 8 + (slider.width - 16) * (at / duration);
  await page.mouse.move(thumbX, y);
  await page.mouse.down();
  for (let step = 1; step <= 10; step += 1) {
    const fraction = at / duration + ((0.7 - at / duration) * step) / 10;
    await page.mouse.move(slider.x + 8 + (slider.width - 16) * fraction, y);
  }
  await page.mouse.up();
  const jumped = await audioState(page);
  assert.ok(Math.abs(jumped.currentTime - 0.7 * duration) < 0.8, `currentTime ${jumped.currentTime} after dragging to 70 % of ${duration}`);
  assert.ok(jumped.currentTime > at + 1.5, `no jump from ${at} to ${jumped.currentTime}`);

  // Keyboard: Home on the slider goes back to the start.
  await page.locator('#player-seek').focus();
  await page.keyboard.press('Home');
  assert.ok((await audioState(page)).currentTime < 0.5);

  // Stop closes the player and returns focus to the row's Play button.
  await player(page).getByRole('button', { name: 'Stop and close the player' }).click();
  await player(page).waitFor({ state: 'hidden' });
  const stopped = await audioState(page);
  assert.equal(stopped.paused, true);
  assert.equal(stopped.srcAttribute, null);
  assert.equal(stopped.networkState, 0, 'the player let go of the recording');
  assert.equal(await focusedLabel(page), 'Play the recording of the call at 23.11.2023 08:46');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('the player and its speed menu work from the keyboard', async () => {
  const page = await signIn(browser, 'sara');
  await search(page, { "Caller's number": '98214836' });
  await callRow(page, '15.11.2022 11:00').getByRole('button', { name: /^Play the recording/ }).focus();
  await page.keyboard.press('Enter');
  await waitPlaying(page, 0.2);
  // Space on the focused Pause button pauses.
  await page.keyboard.press('Space');
  await eventually(() => audioState(page), (s) => s.paused, { what: 'paused by keyboard' });

  const more = player(page).getByRole('button', { name: 'Playback speed' });
  await more.focus();
  await page.keyboard.press('ArrowDown');
  const menu = page.getByRole('menu', { name: 'Playback speed' });
  await menu.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.textContent), '0.5×');
  await page.keyboard.press('End');
  await page.keyboard.press('Enter');
  assert.equal((await audioState(page)).playbackRate, 2);
  assert.equal(await more.evaluate((el) => el === document.activeElement), true, 'focus returns to ⋮');
  // Escape closes the menu without changing the speed.
  await page.keyboard.press('Enter');
  await menu.waitFor();
  await page.keyboard.press('ArrowUp');
  await page.keyboard.press('Escape');
  await menu.waitFor({ state: 'hidden' });
  assert.equal((await audioState(page)).playbackRate, 2);
  assert.equal(await more.getAttribute('aria-expanded'), 'false');

  // The slider: the right arrow moves 5 s on.
  await page.locator('#player-seek').focus();
  const before = (await audioState(page)).currentTime;
  await page.keyboard.press('ArrowRight');
  const afterKey = (await audioState(page)).currentTime;
  assert.ok(afterKey > before + 4, `${before} → ${afterKey}`);
  await page.context().close();
});

test('a user who must give a reason is asked before playback; the reason reaches the Archive Audit log', async () => {
  const page = await signIn(browser, 'rita');
  await search(page, { "Caller's number": '957211' });
  const row = callRow(page, '08.02.2021 12:09');
  const play = row.getByRole('button', { name: /^Play the recording/ });

  // Cancel: nothing plays.
  await play.click();
  const dialog = page.getByRole('dialog', { name: 'A reason is required' });
  await dialog.waitFor();
  const reasonCode = dialog.getByLabel('Reason for playback');
  assert.equal(await reasonCode.evaluate((el) => el === document.activeElement), true, 'focus starts in the reason');
  await dialog.getByRole('button', { name: 'Play' }).click();
  await dialog.getByText('Please choose a reason before you continue.').waitFor();
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await player(page).isHidden(), true);
  assert.equal(await play.evaluate((el) => el === document.activeElement), true, 'focus returns to Play');

  const reason = `Quality check of complaint, case ${caseNumber()}`;
  await play.click();
  await dialog.waitFor();
  const caseId = `TICKET-${caseNumber()}`;
  await reasonCode.selectOption('QA');
  await dialog.getByLabel('Details (optional)').fill(reason);
  await dialog.getByLabel('Case or ticket id (optional)').fill(caseId);
  await keepScreenshot(page, 'screenshot-reason.png');
  await dialog.getByRole('button', { name: 'Play' }).click();
  await dialog.waitFor({ state: 'detached' });
  await waitPlaying(page, 0.3);
  const src = (await audioState(page)).src;
  const recordingId = src.match(/\/media\/([0-9a-f-]+)\?/)[1];
  await page.context().close();

  // In the API...
  const { events } = await apiAs('paal', `/api/v1/audit?actor=rita&recording_id=${recordingId}`);
  const played = events.filter((e) => e.kind === 'playback_started' && e.reason === reason);
  assert.equal(played.length, 1, JSON.stringify(events));
  assert.equal(played[0].actor_display_name, 'Rita Reason');
  assert.equal(played[0].reason_code, 'QA');
  assert.equal(played[0].case_id, caseId);
  assert.match(played[0].request_id, /^[0-9a-f-]{36}$/);
  assert.equal(played[0].client_address, '127.0.0.1');
  assert.match(played[0].user_agent, /Chrome/);

  // ...and in the page's audit view, searched by who.
  const admin = await signIn(browser, 'paal');
  await admin.getByRole('link', { name: 'Archive Audit log' }).click();
  await admin.getByRole('heading', { level: 1, name: 'Archive Audit log' }).waitFor();
  const form = admin.getByRole('search', { name: 'Search the Archive Audit log' });
  await form.getByLabel('Who (user id)').fill('rita');
  await form.getByRole('button', { name: 'Search', exact: true }).click();
  const line = admin.locator('table.audit tbody tr', { hasText: reason });
  await line.waitFor();
  await keepScreenshot(admin, 'screenshot-audit.png');
  const cellsText = await line.locator('td').allInnerTexts();
  assert.match(cellsText[0], /^\d\d\.\d\d\.\d{4} \d\d:\d\d:\d\d$/);
  assert.equal(cellsText[1], 'Rita Reason (rita)');
  assert.equal(cellsText[2], 'Played a recording');
  assert.equal(cellsText[3], `QA\n${reason}\nCase ${caseId}`);
  assert.match(cellsText[4], new RegExp(`Recording ${recordingId}`));
  // Every row of the filtered view is Rita's.
  for (const who of await admin.locator('table.audit tbody tr td:nth-child(2)').allInnerTexts()) assert.equal(who, 'Rita Reason (rita)');
  // Filtered by reason code and case id: this playback only.
  await form.getByLabel('Reason code').fill('QA');
  await form.getByLabel('Case or ticket id').fill(caseId);
  await form.getByRole('button', { name: 'Search', exact: true }).click();
  // The filtered answer replaces Rita's rows (which include this one) when it arrives.
  await admin.waitForFunction(() => document.querySelectorAll('table.audit tbody tr').length === 1);
  assert.match(await admin.locator('table.audit tbody tr').innerText(), new RegExp(caseId));
  await form.getByRole('button', { name: 'Clear' }).click();
  // The proof: the trail checked against its signed checkpoints, and taken away.
  await admin.getByRole('button', { name: 'Verify the trail' }).click();
  await admin.getByRole('status').filter({ hasText: /^Intact: \d+ events, \d+ signed checkpoints\. Checkpoint key [0-9a-f]{64}\.$/ }).waitFor();
  const [trail] = await Promise.all([admin.waitForEvent('download'), admin.getByRole('button', { name: 'Download the trail' }).click()]);
  assert.equal(trail.suggestedFilename(), 'audit-trail-10009.jsonl');
  // Searching by recording from the Recording tab's link.
  await admin.getByRole('link', { name: 'Search calls' }).click();
  await search(admin, { "Caller's number": '957211' });
  const rowAdmin = callRow(admin, '08.02.2021 12:09');
  await rowAdmin.getByRole('button', { name: /^Details/ }).click();
  await admin.getByRole('tab', { name: 'Recording' }).click();
  await admin.getByRole('link', { name: 'Audit log of this recording' }).click();
  await admin.locator('table.audit tbody tr', { hasText: reason }).waitFor();
  assert.equal(await admin.getByLabel('Recording id').inputValue(), recordingId);
  await admin.context().close();
});

test('when the API answers that a reason is required, the dialog appears and the play is retried with it', async () => {
  const page = await signIn(browser, 'sara');
  const bodies = [];
  await page.route('**/api/v1/recordings/*/playback', async (route) => {
    const body = route.request().postDataJSON();
    bodies.push(body);
    if (!body.reason && !body.reason_code) {
      await route.fulfill({
        status: 428,
        json: { error: { code: 'FailedPrecondition', message: 'a reason is required before this action starts', reason_required: true } },
      });
    } else {
      await route.continue();
    }
  });
  await search(page, { "Caller's number": '957211' });
  await callRow(page, '09.02.2021 12:25').getByRole('button', { name: /^Play the recording/ }).click();
  const dialog = page.getByRole('dialog', { name: 'A reason is required' });
  await dialog.waitFor();
  await dialog.getByLabel('Reason for playback').selectOption('TRAINING');
  await dialog.getByRole('button', { name: 'Play' }).click();
  await waitPlaying(page, 0.2);
  assert.deepEqual(
    bodies.map((b) => b.reason_code),
    ['', 'TRAINING'],
  );
  // The retry is the same user action: one request id.
  assert.equal(bodies[0].request_id, bodies[1].request_id);
  await page.context().close();
});

test('the archive page with a recording playing, at 1280×800 (docs/screenshot-archive.png)', async () => {
  const page = await signIn(browser, 'paal');
  // The seed's own calls, oldest first: recorded, unanswered, transferred and deleted rows.
  await search(page, { From: '2021-01-01T00:00', To: '2023-12-31T23:59', Order: 'oldest' });
  const row = callRow(page, '09.02.2021 12:25');
  await row.getByRole('button', { name: /^Details/ }).click();
  await page.getByRole('tab', { name: 'Recording' }).click();
  await callRow(page, '15.11.2022 11:00').getByRole('checkbox').check();
  await row.getByRole('button', { name: /^Play the recording/ }).click();
  await waitPlaying(page, 2.5);
  await page.locator('#player-seek').blur();
  const path = await keepScreenshot(page, 'screenshot-archive.png');
  assert.ok(path.endsWith('screenshot-archive.png'));
  assert.equal((await audioState(page)).paused, false);
  await page.context().close();
});

test('an expired link is renewed without a second audit event and plays on from where it was', async () => {
  const since = new Date().toISOString();
  const page = await signIn(browser, 'sara');
  await search(page, { "Caller's number": '95214830' });
  const row = callRow(page, '23.11.2023 08:46');
  // The first link serves the first 12 kB (about 6 s of this recording),
  // then "expires": the browser's next Range request under it is refused
  // (after 3.5 s, while the player plays what it has), as media-svc
  // refuses a link past its minute.
  let first = null;
  let refused = 0;
  await page.route('**/media/**', async (route) => {
    const url = route.request().url();
    first ??= url;
    if (url !== first) return route.continue();
    const range = route.request().headers().range ?? 'bytes=0-';
    if (!range.startsWith('bytes=0-')) {
      refused += 1;
      await new Promise((resolve) => setTimeout(resolve, 3500));
      return route.fulfill({ status: 403, contentType: 'text/plain', body: 'forbidden' });
    }
    const response = await route.fetch({ headers: { ...route.request().headers(), range: 'bytes=0-11999' } });
    return route.fulfill({ response });
  });
  const renewals = [];
  page.on('request', (request) => {
    if (request.url().endsWith('/api/v1/playback/renew')) renewals.push(request.postDataJSON());
  });
  await row.getByRole('button', { name: /^Play the recording/ }).click();
  // The position, sampled until well past the 12 kB: it never jumps back.
  let furthest = 0;
  const after = await eventually(
    () => audioState(page),
    (s) => {
      assert.ok(s.currentTime > furthest - 0.5, `back from ${furthest} s to ${s.currentTime} s`);
      furthest = Math.max(furthest, s.currentTime);
      return s.currentTime > 7 && !s.paused;
    },
    { timeout: 20_000, interval: 50, what: 'currentTime past 7 s' },
  );
  assert.ok(refused >= 1, 'the browser asked the expired link for more');
  assert.equal(renewals.length, 1, JSON.stringify(renewals));
  assert.equal(renewals[0].playback_url, first);
  assert.notEqual(after.src, first);
  assert.match(after.src, /\/media\/[0-9a-f-]+\?token=/);
  assert.equal(after.error, null);
  assert.equal(await player(page).locator('.player-status').innerText(), '');
  const recordingId = after.src.match(/\/media\/([0-9a-f-]+)\?/)[1];
  await page.context().close();

  // One Play in the trail, however many links it took.
  const { events } = await apiAs('paal', `/api/v1/audit?actor=sara&recording_id=${recordingId}`);
  const played = events.filter((e) => e.kind === 'playback_started' && e.event_time >= since);
  assert.equal(played.length, 1, JSON.stringify(events));
});
