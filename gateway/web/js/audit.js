// "Archive Audit log": who did what, when, from where, and the reason they
// gave (reason code, text, case id), searchable by who, what, recording,
// reason code, case id and time, newest first, page by page.

import { api, describe, token } from './api.js';
import { h, newId, replace } from './dom.js';
import { Pager } from './pager.js';
import { formatInstant, localToRfc3339 } from './time.js';

const KINDS = {
  playback_started: 'Played a recording',
  recording_downloaded: 'Downloaded a recording',
  export_created: 'Created a download (zip)',
  recording_deleted: 'Deleted a recording',
  permission_changed: 'Changed permissions',
  retention_expired: 'Recording expired (storage time)',
  access_denied: 'Was refused access',
  legal_hold_changed: 'Changed a legal hold',
  search_performed: 'Searched the archive',
  tenant_settings_changed: 'Changed the tenant settings',
  call_purged: 'Call removed (storage time)',
  calls_ingested: 'Calls recorded by the platform',
};

const COLUMNS = [
  ['When', 'audit-when'],
  ['Who', 'audit-who'],
  ['What', 'audit-what'],
  ['Reason', 'audit-reason'],
  ['Call / recording', 'audit-ids'],
  ['Details', 'audit-detail'],
];

export function auditView(ctx) {
  const tz = ctx.session.time_zone;
  const input = (name, label, attrs) => {
    const control = h('input', { name, id: `audit-${name}`, autocomplete: 'off', ...attrs });
    return [control, h('div', { class: 'field' }, h('label', { for: control.id, class: 'field-label' }, label), control)];
  };
  const [actor, actorField] = input('actor', 'Who (user id)', { type: 'text', placeholder: 'e.g. rita' });
  const [recording, recordingField] = input('recording_id', 'Recording id', { type: 'text', placeholder: 'e.g. 89728780-…', class: 'wide' });
  const [reasonCode, reasonCodeField] = input('reason_code', 'Reason code', { type: 'text', placeholder: 'e.g. QA' });
  const [caseId, caseField] = input('case_id', 'Case or ticket id', { type: 'text', placeholder: 'e.g. TICKET-4711' });
  const kind = h(
    'select',
    { name: 'kind', id: 'audit-kind' },
    h('option', { value: '' }, 'Any'),
    Object.entries(KINDS).map(([value, label]) => h('option', { value }, label)),
  );
  const kindField = h('div', { class: 'field' }, h('label', { for: kind.id, class: 'field-label' }, 'What'), kind);
  const [from, fromField] = input('from', 'From', { type: 'datetime-local' });
  const [to, toField] = input('to', 'To', { type: 'datetime-local' });
  const form = h(
    'form',
    { class: 'search-form', role: 'search', 'aria-label': 'Search the Archive Audit log' },
    h(
      'div',
      { class: 'form-grid' },
      fromField,
      toField,
      actorField,
      kindField,
      recordingField,
      reasonCodeField,
      caseField,
      h(
        'div',
        { class: 'form-actions' },
        h('span', { class: 'hint' }, `Times in ${tz}`),
        h('button', { type: 'reset', class: 'button' }, 'Clear'),
        h('button', { type: 'submit', class: 'button primary' }, 'Search'),
      ),
    ),
  );

  const body = h('tbody');
  const table = h(
    'table',
    { class: 'audit' },
    h('caption', { class: 'visually-hidden' }, 'Audit events, newest first'),
    h('colgroup', {}, COLUMNS.map(([, cls]) => h('col', { class: cls }))),
    h('thead', {}, h('tr', {}, COLUMNS.map(([name]) => h('th', { scope: 'col' }, name)))),
    body,
  );
  const line = (text, kind) => replace(body, h('tr', { class: `message-row ${kind}` }, h('td', { colspan: COLUMNS.length }, text)));
  line('Search to see the events.', 'empty');

  let query = {};
  const readForm = () => ({
    actor: actor.value.trim(),
    recording_id: recording.value.trim(),
    kind: kind.value,
    reason_code: reasonCode.value.trim(),
    case_id: caseId.value.trim(),
    from: localToRfc3339(from.value, tz),
    to: localToRfc3339(to.value, tz),
    page_size: 50,
  });
  const pager = new Pager({
    label: 'Audit log pages',
    load: async (pageToken) => {
      table.setAttribute('aria-busy', 'true');
      try {
        const found = await api('/api/v1/audit', { query: { ...query, page_token: pageToken } });
        if (!found.events.length) line('No events match the search.', 'empty');
        else replace(body, found.events.map((e) => eventRow(e, tz)));
        return found.next_page_token;
      } catch (error) {
        const text = describe(error, 'view the Archive Audit log');
        line(text, 'error');
        ctx.notices.error(text);
        return '';
      } finally {
        table.setAttribute('aria-busy', 'false');
      }
    },
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    ctx.notices.clear();
    query = readForm();
    pager.first();
  });
  form.addEventListener('reset', () => {
    setTimeout(() => {
      query = readForm();
      pager.first();
    });
  });

  const headingId = newId('heading');
  const element = h(
    'section',
    { class: 'view', 'aria-labelledby': headingId },
    h('h1', { id: headingId, tabindex: '-1' }, 'Archive Audit log'),
    h('p', { class: 'intro' }, 'Every playback, download, delete and search, with who did it, when, from where, and the reason they gave.'),
    form,
    h('div', { class: 'results-head' }, h('h2', {}, 'Events'), pager.element),
    h('div', { class: 'table-wrap' }, table),
    proofTools(ctx),
  );
  return {
    element,
    dock: null,
    show(params) {
      if (params.has('recording')) recording.value = params.get('recording');
      if (params.has('actor')) actor.value = params.get('actor');
      query = readForm();
      pager.first();
    },
  };
}

function eventRow(e, tz) {
  const who = e.actor_display_name ? `${e.actor_display_name} (${e.actor_id})` : e.actor_id;
  const target = [e.call_id && `Call ${e.call_id}`, e.recording_id && `Recording ${e.recording_id}`].filter(Boolean);
  return h(
    'tr',
    { dataset: { sequence: e.sequence, kind: e.kind } },
    h('td', { class: 'nowrap' }, formatInstant(e.event_time, tz)),
    h('td', { class: 'who', title: who }, who),
    h('td', {}, KINDS[e.kind] ?? e.kind),
    h('td', { class: 'reason' }, reasonCell(e)),
    h('td', { class: 'ids' }, target.length ? target.map((t) => h('div', { title: t }, t)) : '—'),
    h(
      'td',
      { class: 'detail' },
      e.detail || '',
      e.client_address && h('div', { class: 'muted', title: e.user_agent || '' }, `From ${e.client_address}`),
    ),
  );
}

/** Code, text and case id of an event's reason, each on its own line. */
function reasonCell(e) {
  const parts = [
    e.reason_code && h('div', { class: 'reason-code' }, e.reason_code),
    e.reason && h('div', {}, e.reason),
    e.case_id && h('div', { class: 'muted' }, `Case ${e.case_id}`),
  ].filter(Boolean);
  return parts.length ? parts : h('span', { class: 'muted' }, 'No reason given');
}

/**
 * For auditors: have the trail checked against its signed checkpoints, and
 * take it away (JSON lines with the checkpoints) to verify offline with
 * `audit-verify --export FILE --public-key KEY`.
 */
function proofTools(ctx) {
  const result = h('p', { class: 'verify-result', role: 'status', 'aria-live': 'polite' });
  const verify = h('button', { type: 'button', class: 'button' }, 'Verify the trail');
  const download = h('button', { type: 'button', class: 'button' }, 'Download the trail');
  const busy = async (button, work) => {
    button.disabled = true;
    button.setAttribute('aria-busy', 'true');
    try {
      await work();
    } finally {
      button.disabled = false;
      button.removeAttribute('aria-busy');
    }
  };
  verify.addEventListener('click', () =>
    busy(verify, async () => {
      result.textContent = 'Checking every event against the signed checkpoints…';
      try {
        const [checked, signed] = await Promise.all([api('/api/v1/audit/verify'), api('/api/v1/audit/checkpoint?create=true')]);
        result.textContent = checked.intact
          ? `Intact: ${checked.events_checked} events, ${checked.checkpoints_checked} signed checkpoints. Checkpoint key ${signed.public_key}.`
          : `BROKEN at event ${checked.first_bad_sequence}: ${checked.problem}`;
        result.dataset.intact = String(checked.intact);
      } catch (error) {
        result.textContent = '';
        ctx.notices.error(describe(error, 'verify the Archive Audit log'));
      }
    }),
  );
  download.addEventListener('click', () =>
    busy(download, async () => {
      try {
        // The export needs the bearer token, so it is fetched, then saved.
        const response = await fetch('/api/v1/audit/export', { headers: { Authorization: `Bearer ${token.get()}` }, cache: 'no-store' });
        if (!response.ok) throw new Error(`the server answered ${response.status}`);
        const name = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? 'audit-trail.jsonl';
        const url = URL.createObjectURL(await response.blob());
        const link = h('a', { href: url, download: name, hidden: true });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60_000);
      } catch (error) {
        ctx.notices.error(`Could not download the Archive Audit log: ${error.message}.`);
      }
    }),
  );
  return h(
    'section',
    { class: 'proof', 'aria-label': 'Proof of the trail' },
    h('h2', {}, 'Proof'),
    h(
      'p',
      { class: 'hint' },
      'The trail is hash-chained and its head is signed regularly with a key the database cannot read. Verify it here, or download it with its signatures and check it offline with audit-verify.',
    ),
    h('div', { class: 'form-actions' }, verify, download),
    result,
  );
}
