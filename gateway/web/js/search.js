// "Search calls": the search form (time range, access point, caller's number
// with a partial option, agent, queue, has recording), the result table with
// paging, and the "Select Action" bar for the selected rows.

import { actionBar } from './actions.js';
import { api, describe } from './api.js';
import { CallsTable } from './calls.js';
import { h, newId } from './dom.js';
import { Pager } from './pager.js';
import { localToRfc3339 } from './time.js';

function field(label, control, extra) {
  const id = control.id || newId('field');
  control.id = id;
  return h('div', { class: 'field' }, h('label', { for: id, class: 'field-label' }, label), control, extra);
}

function check(label, control) {
  control.id ||= newId('check');
  return h('div', { class: 'field check' }, control, h('label', { for: control.id }, label));
}

/** A view shown under "Search calls" and by "My call recordings" (see `mine`). */
export function searchView(ctx) {
  const tz = ctx.session.time_zone;
  const input = (name, attrs = {}) => h('input', { name, id: `search-${name}`, autocomplete: 'off', ...attrs });
  const from = input('from', { type: 'datetime-local' });
  const to = input('to', { type: 'datetime-local' });
  const accessPoint = input('access_point', { type: 'text', inputmode: 'numeric', placeholder: 'e.g. 81511569' });
  const caller = input('caller_number', { type: 'text', inputmode: 'tel', placeholder: 'e.g. 957211' });
  const partial = input('partial', { type: 'checkbox' });
  const agent = input('agent', { type: 'text', placeholder: 'e.g. Andreas Wallin' });
  const queue = input('queue', { type: 'text', placeholder: 'e.g. Sales' });
  const hasRecording = input('has_recording', { type: 'checkbox' });
  const order = h(
    'select',
    { name: 'order', id: 'search-order' },
    h('option', { value: 'newest' }, 'Newest first'),
    h('option', { value: 'oldest' }, 'Oldest first'),
  );
  const pageSize = h(
    'select',
    { name: 'page_size', id: 'search-page-size' },
    [25, 50, 100].map((n) => h('option', { value: n }, String(n))),
  );
  const tzNote = h('span', { class: 'hint' }, `Times in ${tz}`);

  const form = h(
    'form',
    { class: 'search-form', role: 'search', 'aria-label': 'Search calls' },
    h(
      'div',
      { class: 'form-grid' },
      field('From', from),
      field('To', to),
      field('Access point', accessPoint),
      field("Caller's number", caller),
      check('Partial number', partial),
      check('Has recording', hasRecording),
      field('Agent', agent),
      field('Queue', queue),
      field('Order', order),
      field('Rows per page', pageSize),
      h(
        'div',
        { class: 'form-actions' },
        tzNote,
        h('button', { type: 'reset', class: 'button' }, 'Clear'),
        h('button', { type: 'submit', class: 'button primary' }, 'Search'),
      ),
    ),
  );

  let query = {};
  const readForm = () => ({
    from: localToRfc3339(from.value, tz),
    to: localToRfc3339(to.value, tz),
    access_point: accessPoint.value.trim(),
    caller_number: caller.value.trim(),
    partial: partial.checked,
    agent: agent.value.trim(),
    queue: queue.value.trim(),
    has_recording: hasRecording.checked,
    order: order.value,
    page_size: pageSize.value,
  });

  const summary = h('p', { class: 'results-summary', 'aria-live': 'polite' });
  let bar;
  const table = new CallsTable(ctx, {
    label: 'Calls found',
    empty: 'No calls match the search. Widen the time range or clear some fields.',
    onSelection: (rows) => bar?.update(rows),
  });
  const pager = new Pager({
    label: 'Result pages',
    load: async (pageToken) => {
      table.setBusy(true);
      try {
        const found = await api('/api/v1/calls', { query: { ...query, page_token: pageToken } });
        table.render(found.rows);
        const n = found.rows.length;
        summary.textContent = n === 1 ? '1 call on this page' : `${n} calls on this page`;
        return found.next_page_token;
      } catch (error) {
        const text = describe(error, 'search the Archive');
        table.message(text, 'error');
        summary.textContent = '';
        ctx.notices.error(text);
        return '';
      } finally {
        table.setBusy(false);
      }
    },
  });
  bar = actionBar(ctx, table);

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    ctx.notices.clear();
    query = readForm();
    pager.first();
  });
  form.addEventListener('reset', () => {
    // After the browser has cleared the fields.
    setTimeout(() => {
      query = readForm();
      pager.first();
    });
  });

  const headingId = newId('heading');
  const element = h(
    'section',
    { class: 'view', 'aria-labelledby': headingId },
    h('h1', { id: headingId, tabindex: '-1' }, 'Search calls'),
    form,
    h('div', { class: 'results-head' }, h('h2', {}, 'Calls'), summary, pager.element),
    table.element,
  );
  let loaded = false;
  return {
    element,
    dock: bar.element,
    show() {
      if (!loaded) {
        loaded = true;
        query = readForm();
        pager.first();
      }
    },
  };
}

/** "My call recordings": the calls recorded with the signed-in agent. */
export function myCallsView(ctx) {
  const summary = h('p', { class: 'results-summary', 'aria-live': 'polite' });
  let bar;
  const table = new CallsTable(ctx, {
    label: 'My call recordings',
    empty: 'You have no call recordings yet.',
    onSelection: (rows) => bar?.update(rows),
  });
  const pager = new Pager({
    label: 'My call recordings pages',
    load: async (pageToken) => {
      table.setBusy(true);
      try {
        const found = await api('/api/v1/my/calls', { query: { page_size: 25, page_token: pageToken } });
        table.render(found.rows);
        const n = found.rows.length;
        summary.textContent = n === 1 ? '1 call on this page' : `${n} calls on this page`;
        return found.next_page_token;
      } catch (error) {
        const text = describe(error, 'list your call recordings');
        table.message(text, 'error');
        ctx.notices.error(text);
        return '';
      } finally {
        table.setBusy(false);
      }
    },
  });
  bar = actionBar(ctx, table);
  const headingId = newId('heading');
  const element = h(
    'section',
    { class: 'view', 'aria-labelledby': headingId },
    h('h1', { id: headingId, tabindex: '-1' }, 'My call recordings'),
    h(
      'p',
      { class: 'intro' },
      'Calls recorded while you were the agent, including agent-to-agent calls you started with forced recording on.',
    ),
    h('div', { class: 'results-head' }, h('h2', {}, 'Calls'), summary, pager.element),
    table.element,
  );
  return {
    element,
    dock: bar.element,
    show() {
      pager.first();
    },
  };
}
