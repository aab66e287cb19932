// Shared by the browser tests: launching Debian's Chromium for a closed
// network, signing in as a demo user, reading the suite's API directly,
// a small zip reader for downloaded exports, and axe-core's check of a page.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { chromium } from 'playwright-core';

export const BASE_URL = process.env.ARCHIVE_URL ?? 'http://127.0.0.1:51056';
export const ARTIFACTS = process.env.ARCHIVE_ARTIFACTS ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');
export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // The tests press Play through the page; no real user gesture reaches headless Chromium.
  '--autoplay-policy=no-user-gesture-required',
];

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

/**
 * A fresh context (1280×800, downloads on, plus `options`) signed in as
 * `userId` through the page's own picker; page errors are collected in
 * `page.errors`.
 */
export async function signIn(browser, userId, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true, ...options });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (error) => page.errors.push(error));
  await page.goto(BASE_URL);
  await page.locator(`button.user-card[data-user-id="${userId}"]`).click();
  await page.getByRole('heading', { level: 1, name: 'Search calls' }).waitFor();
  await waitForRows(page);
  return page;
}

/** Waits until the calls table shows result rows (not the loading state). */
export async function waitForRows(page) {
  await page.locator('table.calls[aria-busy="false"] tbody tr.call').first().waitFor();
}

/** Fills the search form's fields by label and runs the search. */
export async function search(page, fields = {}) {
  const form = page.getByRole('search', { name: 'Search calls' });
  for (const [label, value] of Object.entries(fields)) {
    const control = form.getByLabel(label, { exact: true });
    if (typeof value === 'boolean') await control.setChecked(value);
    else if ((await control.evaluate((el) => el.tagName)) === 'SELECT') await control.selectOption(String(value));
    else await control.fill(String(value));
  }
  await form.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('table.calls[aria-busy="false"]').waitFor();
  // The first response replaces the rows; wait for it to settle.
  await page.waitForFunction(() => !document.querySelector('table.calls.busy'));
}

/** The table row of the call that started at `start` (dd.mm.yyyy HH:MM). */
export function callRow(page, start) {
  return page.locator('tr.call', { has: page.locator('td.col-start', { hasText: start }) });
}

/** A demo user's bearer token, straight from the embedded-mode picker API. */
export async function tokenFor(userId) {
  const response = await fetch(`${BASE_URL}/api/v1/demo/users`);
  const { users } = await response.json();
  const user = users.find((u) => u.user_id === userId);
  if (!user) throw new Error(`no demo user ${userId}`);
  return user.token;
}

export async function apiAs(userId, path) {
  const response = await fetch(`${BASE_URL}${path}`, { headers: { Authorization: `Bearer ${await tokenFor(userId)}` } });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** Polls `read()` until `check(value)` holds (or throws after `timeout` ms). */
export async function eventually(read, check, { timeout = 10_000, interval = 100, what = 'condition' } = {}) {
  const until = Date.now() + timeout;
  let last;
  for (;;) {
    last = await read();
    if (check(last)) return last;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/** The audio element's state, as the page's player sees it. */
export function audioState(page) {
  return page.locator('#player-audio').evaluate((audio) => ({
    currentTime: audio.currentTime,
    duration: audio.duration,
    paused: audio.paused,
    playbackRate: audio.playbackRate,
    src: audio.currentSrc,
    srcAttribute: audio.getAttribute('src'),
    networkState: audio.networkState,
    error: audio.error?.code ?? null,
  }));
}

/**
 * The entries of a zip file, read from its central directory (Zip64 too),
 * each with its stored bytes checked against the CRC-32 the archive records.
 */
export function readZip(path) {
  const zip = readFileSync(path);
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i -= 1) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip file: no end of central directory');
  let count = zip.readUInt16LE(eocd + 10);
  let offset = zip.readUInt32LE(eocd + 16);
  if (offset === 0xffffffff || count === 0xffff) {
    const locator = eocd - 20;
    if (zip.readUInt32LE(locator) !== 0x07064b50) throw new Error('Zip64 locator missing');
    const record = Number(zip.readBigUInt64LE(locator + 8));
    count = Number(zip.readBigUInt64LE(record + 32));
    offset = Number(zip.readBigUInt64LE(record + 48));
  }
  const entries = [];
  for (let i = 0; i < count; i += 1) {
    if (zip.readUInt32LE(offset) !== 0x02014b50) throw new Error(`bad central directory entry ${i}`);
    const method = zip.readUInt16LE(offset + 10);
    const crc = zip.readUInt32LE(offset + 16);
    let compressed = zip.readUInt32LE(offset + 20);
    let size = zip.readUInt32LE(offset + 24);
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    let local = zip.readUInt32LE(offset + 42);
    const name = zip.toString('utf8', offset + 46, offset + 46 + nameLength);
    // Zip64 extra field: the 0xffffffff values, in order.
    let extra = offset + 46 + nameLength;
    const extraEnd = extra + extraLength;
    while (extra < extraEnd) {
      const id = zip.readUInt16LE(extra);
      const length = zip.readUInt16LE(extra + 2);
      if (id === 0x0001) {
        let at = extra + 4;
        if (size === 0xffffffff) { size = Number(zip.readBigUInt64LE(at)); at += 8; }
        if (compressed === 0xffffffff) { compressed = Number(zip.readBigUInt64LE(at)); at += 8; }
        if (local === 0xffffffff) { local = Number(zip.readBigUInt64LE(at)); }
      }
      extra += 4 + length;
    }
    const dataStart = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(dataStart, dataStart + compressed);
    entries.push({ name, method, size, crcOk: method === 0 && crc32(data) === crc, data });
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** `unzip -l`'s view of the same file, when unzip is installed (else null). */
export function unzipList(path) {
  try {
    return execFileSync('unzip', ['-l', path], { encoding: 'utf8' });
  } catch (error) {
    if (error.code === 'ENOENT') return null;
    throw error;
  }
}

/** Where a test keeps what it saved (downloads, screenshots). */
export function artifact(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}

/**
 * Saves a screenshot of the page as artifacts/NAME and, with
 * ARCHIVE_UPDATE_SCREENSHOTS=1, as the repository's docs/NAME too.
 */
export async function keepScreenshot(page, name) {
  const path = artifact(name);
  await page.screenshot({ path });
  if (process.env.ARCHIVE_UPDATE_SCREENSHOTS === '1') copyFileSync(path, join(REPO, 'docs', name));
  return path;
}

/** A case number unique to this run, so a test finds its own audit events. */
export function caseNumber() {
  return `${process.pid % 1000}-${Math.floor(Math.random() * 9000 + 1000)}`;
}

const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** Fails with axe-core's violations on the page as it is now (its context needs `bypassCSP` so axe can be injected). */
export async function violations(page, what) {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const { violations } = await axe.run(document, { resultTypes: ['violations'] });
    return violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  assert.deepEqual(result, [], `${what}: ${JSON.stringify(result, null, 2)}`);
}
