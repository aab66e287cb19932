// Playback with the recordings on S3 and MEDIA_S3_PLAYBACK=redirect (run by
// scripts/browser-tests.sh against a second suite on moto): the page's
// <audio> asks media-svc, is sent on with 307 to a URL presigned for the
// object, and plays and seeks from the store itself.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { audioState, callRow, eventually, launch, search, signIn } from '../tests/helpers.js';

const STORE = process.env.ARCHIVE_S3_ENDPOINT;

let browser;
before(async () => {
  assert.ok(STORE, 'ARCHIVE_S3_ENDPOINT names the S3 server the suite keeps recordings in');
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('a recording on S3 plays and seeks through a redirect to the store', async () => {
  const page = await signIn(browser, 'paal');
  const requests = [];
  page.on('request', (request) => {
    if (request.resourceType() === 'media') requests.push(request);
  });
  await search(page, { "Caller's number": '95214830' });
  const row = callRow(page, '23.11.2023 08:46');
  await row.getByRole('button', { name: /^Details/ }).click();
  await page.getByRole('tab', { name: 'Recording' }).click();
  await row.getByRole('button', { name: 'Play the recording of the call at 23.11.2023 08:46' }).click();

  const playing = await eventually(() => audioState(page), (s) => !s.paused && s.currentTime > 0.3, {
    what: 'the audio playing',
  });
  assert.equal(playing.error, null);
  assert.match(playing.src, /\/media\/[0-9a-f-]+\?token=/, 'the page asks media-svc');
  assert.ok(playing.duration > 5, `duration ${playing.duration}`);

  // The bytes came from the store, on a presigned URL media-svc redirected to.
  const fromStore = requests.filter((r) => r.url().startsWith(`${STORE}/`));
  assert.ok(fromStore.length > 0, `no media request to ${STORE}: ${requests.map((r) => r.url()).join(', ')}`);
  for (const request of fromStore) {
    assert.match(request.url(), /\/tenants\/10009\/recordings\/[0-9a-f-]+\.mp3\?.*X-Amz-Signature=/);
    const redirectedFrom = request.redirectedFrom();
    if (redirectedFrom) assert.match(redirectedFrom.url(), /\/media\/[0-9a-f-]+\?token=/);
    const response = await request.response();
    assert.ok([200, 206].includes(response?.status()), `store answered ${response?.status()}`);
  }
  assert.ok(fromStore.some((r) => r.redirectedFrom()), 'at least one store request followed a redirect');

  // Seek to 70 %: the player fetches from there (a range of the same object) and goes on playing.
  const target = playing.duration * 0.7;
  await page.locator('#player-audio').evaluate((audio, t) => {
    audio.currentTime = t;
  }, target);
  const after = await eventually(() => audioState(page), (s) => !s.paused && s.currentTime > target + 0.3, {
    what: 'playing on after the seek',
  });
  assert.equal(after.error, null);
  assert.deepEqual(page.errors, []);
  await page.context().close();
});
