// Scoped access on the page: the queue-scoped supervisor sees only the Sales
// queue's calls, the agent only his own, and the session card says where
// each right reaches.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { apiAs, launch, signIn } from './helpers.js';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** The rows the page shows (their start texts), after the first search. */
const shownStarts = (page) => page.locator('table.calls tbody tr.call td.col-start').allInnerTexts();

test('a queue-scoped supervisor sees only that queue, and her card says so', async () => {
  const page = await signIn(browser, 'siri');
  const [siri, paal] = await Promise.all([
    apiAs('siri', '/api/v1/calls?page_size=1000'),
    apiAs('paal', '/api/v1/calls?page_size=1000'),
  ]);
  assert.ok(siri.rows.length > 0 && siri.rows.length < paal.rows.length);
  assert.ok(siri.rows.every((r) => r.raw.queues.includes('Sales')), 'the API answers Sales calls only');
  // The page's first page is the newest of those.
  const shown = await shownStarts(page);
  assert.deepEqual(shown, siri.rows.slice(0, shown.length).map((r) => r.start));

  await page.getByText('Your access').click();
  const card = page.locator('details.access-card dl');
  assert.equal(await card.locator('dd[data-right="play"]').innerText(), 'queues Sales');
  assert.equal(await card.locator('dd[data-right="search"]').innerText(), 'queues Sales');
  assert.equal(await card.locator('dd[data-right="delete"]').count(), 0, 'no delete right');
  assert.deepEqual(page.errors, []);
  await page.context().close();
});

test('an agent sees only his own calls', async () => {
  const page = await signIn(browser, 'andreas');
  const mine = await apiAs('andreas', '/api/v1/calls?page_size=1000');
  assert.ok(mine.rows.length > 0);
  assert.ok(
    mine.rows.every((r) => r.raw.agents.includes('Andreas Wallin') || r.raw.session_id.startsWith('seed-a2a-')),
    'his calls and the agent-to-agent call he started',
  );
  const shown = await shownStarts(page);
  assert.deepEqual(shown, mine.rows.slice(0, shown.length).map((r) => r.start));
  await page.getByText('Your access').click();
  const card = page.locator('details.access-card dl');
  assert.match(await card.innerText(), /Roles\s+agent/);
  assert.equal(await card.locator('dd[data-right="play"]').innerText(), 'own calls');
  await page.context().close();
});
