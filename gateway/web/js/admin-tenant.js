// The Tenant settings and Legal holds screens of Administration: the
// settings form (time zone, consult recording, retention of recordings and
// of metadata, which actions need a reason, the reason codes), and the held
// calls with a way to find a call and place it on hold, or release it.

import { api, describe } from './api.js';
import { newRequestId } from './actions.js';
import { h, replace } from './dom.js';
import { checkbox, clearErrors, field, formStatus, showError } from './admin-form.js';
import { localToRfc3339 } from './time.js';

/** One editable reason code line (code, label, remove). */
function codeRow(index, code = { code: '', label: '' }, onRemove) {
  const codeInput = h('input', { type: 'text', value: code.code, autocomplete: 'off', maxlength: 32 });
  const label = h('input', { type: 'text', value: code.label, autocomplete: 'off', maxlength: 100 });
  const row = h(
    'div',
    { class: 'reason-code', role: 'group', 'aria-label': `Reason code ${index + 1}` },
    field('Code', codeInput, `settings.reason_codes[${index}].code`),
    field('Label', label, `settings.reason_codes[${index}].label`),
    h('button', { type: 'button', class: 'button subtle', 'aria-label': `Remove reason code ${index + 1}`, onclick: () => onRemove(row) }, 'Remove'),
  );
  row.value = () => ({ code: codeInput.value.trim(), label: label.value.trim() });
  return row;
}

export function settingsScreen(ctx) {
  const holder = h('div', {});
  const element = h('div', { class: 'admin-screen' }, h('h2', {}, 'Tenant settings'), holder);

  const render = (s) => {
    const timeZone = h('input', { type: 'text', value: s.time_zone, autocomplete: 'off', placeholder: 'e.g. Europe/Oslo' });
    const recordings = h('input', { type: 'number', min: 1, value: s.recording_retention_days });
    const metadata = h('input', { type: 'number', min: 1, value: s.metadata_retention_days });
    const [consult, consultField] = checkbox('Record consult calls', s.consult_recording, 'settings.consult_recording');
    const [noSearchAudit, noSearchAuditField] = checkbox('Do not record searches in the audit log', s.search_audit_disabled, 'settings.search_audit_disabled');
    const actions = s.reason_actions ?? { play: true, download: true, delete: true };
    const [play, playField] = checkbox('Play', actions.play, 'settings.reason_actions.play');
    const [download, downloadField] = checkbox('Download', actions.download, 'settings.reason_actions.download');
    const [del, deleteField] = checkbox('Delete', actions.delete, 'settings.reason_actions.delete');
    const codes = h('div', { class: 'reason-codes', dataset: { field: 'settings.reason_codes' }, tabindex: '-1' });
    const renumber = () => {
      const rows = [...codes.children];
      replace(codes, rows.map((row, i) => codeRow(i, row.value(), removeRow)));
    };
    const removeRow = (row) => {
      row.remove();
      renumber();
      addCode.focus();
    };
    replace(codes, s.reason_codes.map((c, i) => codeRow(i, c, removeRow)));
    const addCode = h('button', { type: 'button', class: 'button', onclick: () => { const row = codeRow(codes.children.length, undefined, removeRow); codes.append(row); row.querySelector('input').focus(); } }, 'Add a reason code');
    const form = h(
      'form',
      { class: 'admin-form', 'aria-label': 'Tenant settings', novalidate: true },
      h(
        'div',
        { class: 'admin-grid' },
        field('Time zone (IANA)', timeZone, 'settings.time_zone', 'Times on the page are shown in this zone.'),
        field('Keep recordings (days)', recordings, 'settings.recording_retention_days'),
        field('Keep call metadata (days)', metadata, 'settings.metadata_retention_days', 'At least as long as the recordings.'),
      ),
      consultField,
      noSearchAuditField,
      h('fieldset', { class: 'reason-actions', dataset: { field: 'settings.reason_actions' } }, h('legend', {}, 'Actions a user who must give reasons gives one for'), playField, downloadField, deleteField),
      h('fieldset', {}, h('legend', {}, 'Reason codes (empty: free text only)'), codes, addCode),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button primary' }, 'Save settings')),
      h('p', { class: 'form-status', role: 'status' }),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearErrors(form);
      const body = {
        settings: {
          time_zone: timeZone.value.trim(),
          consult_recording: consult.checked,
          recording_retention_days: Number(recordings.value),
          metadata_retention_days: Number(metadata.value),
          search_audit_disabled: noSearchAudit.checked,
          reason_codes: [...codes.children].map((row) => row.value()),
          reason_actions: { play: play.checked, download: download.checked, delete: del.checked },
        },
        request_id: newRequestId(),
      };
      formStatus(form, 'Saving…');
      try {
        const saved = await api('/api/v1/admin/settings', { method: 'PUT', body });
        // The page's own session follows: reason codes and actions.
        ctx.session.reason_codes = saved.settings.reason_codes;
        ctx.session.reason_actions = saved.settings.reason_actions;
        formStatus(form, 'The settings were saved.');
      } catch (error) {
        showError(form, error, 'save the settings');
      }
    });
    replace(holder, form);
  };

  const load = async () => {
    replace(holder, h('p', { class: 'muted' }, 'Loading the settings…'));
    try {
      render((await api('/api/v1/admin/settings')).settings);
    } catch (error) {
      replace(holder, h('p', { class: 'error-text' }, describe(error, 'read the settings')));
    }
  };
  return { element, load };
}

function callsTable(caption, calls, action) {
  if (!calls.length) return h('p', { class: 'muted' }, 'None.');
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'admin-table' },
      h('caption', { class: 'visually-hidden' }, caption),
      h('thead', {}, h('tr', {}, ['Start', 'Access point', "Caller's number", 'Queues', 'Agent(s)', 'Action'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, calls.map((c) => h('tr', { dataset: { callId: c.call_id } }, h('td', {}, c.start), h('td', {}, c.access_point), h('td', {}, c.caller_number), h('td', {}, c.queues.join(', ')), h('td', {}, c.agents.join(', ')), h('td', {}, action(c))))),
    ),
  );
}

export function holdsScreen(ctx) {
  const held = h('div', {});
  const found = h('div', {});
  const status = h('p', { class: 'muted', role: 'status' });
  const caller = h('input', { type: 'text', inputmode: 'tel', autocomplete: 'off', placeholder: 'e.g. 95214830' });
  const from = h('input', { type: 'datetime-local' });
  const reason = h('input', { type: 'text', autocomplete: 'off', placeholder: 'e.g. litigation 2026-17' });
  const findForm = h(
    'form',
    { class: 'admin-form', role: 'search', 'aria-label': 'Find calls to hold' },
    h('div', { class: 'admin-grid' }, field("Caller's number", caller, 'filter.caller_number'), field('From', from, 'filter.start_time_from'), field('Reason (stored in the audit log)', reason, 'reason')),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button' }, 'Find calls')),
    h('p', { class: 'form-status', role: 'status' }),
  );
  const element = h(
    'div',
    { class: 'admin-screen' },
    h('h2', {}, 'Legal holds'),
    h('p', { class: 'muted' }, 'A call on legal hold and its recordings are kept whatever the retention settings say.'),
    status,
    held,
    h('h3', {}, 'Place a call on hold'),
    findForm,
    found,
  );

  const setHold = async (call, on) => {
    try {
      await api(`/api/v1/admin/calls/${encodeURIComponent(call.call_id)}/legal-hold`, { method: 'PUT', body: { legal_hold: on, reason: reason.value.trim(), request_id: newRequestId() } });
      ctx.notices.info(on ? `The call at ${call.start} is on legal hold.` : `The legal hold of the call at ${call.start} was released.`);
      load();
      replace(found);
    } catch (error) {
      ctx.notices.error(describe(error, on ? 'place the call on hold' : 'release the hold'));
    }
  };

  const load = async () => {
    status.textContent = 'Loading the held calls…';
    try {
      const { calls } = await api('/api/v1/admin/legal-holds', { query: { page_size: 500 } });
      status.textContent = `${calls.length} calls on legal hold`;
      replace(held, callsTable('Calls on legal hold', calls, (c) => h('button', { type: 'button', class: 'button', 'aria-label': `Release: the hold of the call at ${c.start}`, onclick: () => setHold(c, false) }, 'Release')));
    } catch (error) {
      status.textContent = describe(error, 'list the held calls');
    }
  };

  findForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(findForm);
    try {
      const { rows } = await api('/api/v1/calls', { query: { caller_number: caller.value.trim(), partial: true, from: localToRfc3339(from.value, ctx.session.time_zone), page_size: 25 } });
      const calls = rows.map((r) => ({ call_id: r.call_id, start: r.start, access_point: r.access_point, caller_number: r.callers_number, queues: r.raw.queues, agents: r.raw.agents }));
      formStatus(findForm, `${calls.length} calls found`);
      replace(found, callsTable('Calls found', calls, (c) => h('button', { type: 'button', class: 'button', 'aria-label': `Place on hold: the call at ${c.start}`, onclick: () => setHold(c, true) }, 'Place on hold')));
    } catch (error) {
      showError(findForm, error, 'find calls');
    }
  });

  return { element, load };
}
