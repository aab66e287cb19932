// The result table of calls, shared by "Search calls" and "My call
// recordings": the seed's columns, a Play button on recorded rows, the Select
// boxes, the deletion text in place of Time before answer / Agent(s), and the
// expandable details with the "General information" and "Recording" tabs.

import { api } from './api.js';
import { h, icon, newId, replace } from './dom.js';

const COLUMNS = [
  ['Start', 'col-start'],
  ['Access Point', 'col-ap'],
  ['Recording Time', 'col-dur'],
  ['Speak Time', 'col-dur'],
  ["Caller's Number", 'col-number'],
  ['Time before answer', 'col-dur'],
  ['Agent(s)', 'col-agents'],
  ['Select', 'col-select'],
];

const NOT_ALLOWED_TO_PLAY = 'You are not allowed to play recordings';
const NOT_AVAILABLE_YET = 'Recording not available yet';
const NOT_DELIVERED = 'The recording platform has not delivered its file.';

/** A recorded row with nothing to play yet: its only live recordings' files have not arrived. */
function awaitsUpload(row) {
  return row.recordings.some((r) => r.play_state === 'not_available') && !row.recordings.some((r) => r.play_state === 'enabled' || r.play_state === 'disabled');
}

/** Recordings an action can still work on (deleted ones are gone). */
export function liveRecordings(row) {
  return row.recordings.filter((r) => r.play_state !== 'deleted');
}

export class CallsTable {
  /**
   * `ctx.play(recording, row, button)` starts playback; `onSelection(rows)`
   * hears every change of the selection.
   */
  constructor(ctx, { label, empty, onSelection }) {
    this.ctx = ctx;
    this.empty = empty;
    this.onSelection = onSelection ?? (() => {});
    this.rows = [];
    this.selected = new Set();
    this.selectAll = h('input', {
      type: 'checkbox',
      class: 'select-all',
      'aria-label': 'Select all calls on this page',
      onchange: () => this.selectEvery(this.selectAll.checked),
    });
    this.body = h('tbody');
    this.table = h(
      'table',
      { class: 'calls' },
      h('caption', { class: 'visually-hidden' }, label),
      h(
        'colgroup',
        {},
        COLUMNS.map(([, cls]) => h('col', { class: cls })),
      ),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          COLUMNS.map(([name, cls]) =>
            h('th', { scope: 'col', class: cls }, cls === 'col-select' ? h('span', { class: 'select-head' }, name, this.selectAll) : name),
          ),
        ),
      ),
      this.body,
    );
    this.element = h('div', { class: 'table-wrap' }, this.table);
    this.message(empty);
  }

  setBusy(busy) {
    this.table.setAttribute('aria-busy', String(busy));
    this.table.classList.toggle('busy', busy);
  }

  /** One full-width line in place of rows (empty result, or a failure). */
  message(text, kind = 'empty') {
    this.rows = [];
    this.selected.clear();
    this.syncSelection();
    replace(this.body, h('tr', { class: `message-row ${kind}` }, h('td', { colspan: COLUMNS.length }, text)));
  }

  render(rows) {
    this.rows = rows;
    this.selected.clear();
    if (!rows.length) {
      this.message(this.empty);
      return;
    }
    replace(this.body, rows.map((row) => this.callRows(row)));
    this.syncSelection();
  }

  /**
   * Shows the calls `callIds` as the API has them now, in place: after a
   * delete the rows stay where they were and show the deletion text, whatever
   * the search's filters (a new search may leave them out).
   */
  async refresh(callIds) {
    const fresh = await Promise.all(callIds.map((id) => api(`/api/v1/calls/${encodeURIComponent(id)}`)));
    for (const row of fresh) {
      const index = this.rows.findIndex((r) => r.call_id === row.call_id);
      const line = this.body.querySelector(`tr.call[data-call-id="${CSS.escape(row.call_id)}"]`);
      if (index < 0 || !line) continue;
      this.rows[index] = row;
      this.selected.delete(row.call_id);
      const [newLine, newDetails] = this.callRows(row);
      line.nextElementSibling?.remove();
      line.replaceWith(newLine, newDetails);
    }
    this.syncSelection();
  }

  selectedRows() {
    return this.rows.filter((row) => this.selected.has(row.call_id));
  }

  selectEvery(on) {
    for (const box of this.body.querySelectorAll('input.select-call:not(:disabled)')) {
      box.checked = on;
      const id = box.closest('tr').dataset.callId;
      if (on) this.selected.add(id);
      else this.selected.delete(id);
      box.closest('tr').classList.toggle('selected', on);
    }
    this.syncSelection();
  }

  syncSelection() {
    const boxes = [...this.body.querySelectorAll('input.select-call:not(:disabled)')];
    const count = boxes.filter((b) => b.checked).length;
    this.selectAll.disabled = boxes.length === 0;
    this.selectAll.checked = boxes.length > 0 && count === boxes.length;
    this.selectAll.indeterminate = count > 0 && count < boxes.length;
    this.onSelection(this.selectedRows());
  }

  callRows(row) {
    const detailsId = newId('call-details');
    const details = h('tr', { class: 'details', id: detailsId, hidden: true });
    const expand = h(
      'button',
      {
        type: 'button',
        class: 'expand',
        'aria-expanded': 'false',
        'aria-controls': detailsId,
        'aria-label': `Details of the call at ${row.start}`,
        title: 'Show details',
      },
      icon('chevron'),
    );
    const line = h('tr', { class: 'call', dataset: { callId: row.call_id } });
    expand.addEventListener('click', () => {
      const open = expand.getAttribute('aria-expanded') !== 'true';
      expand.setAttribute('aria-expanded', String(open));
      line.classList.toggle('expanded', open);
      if (open && !details.firstChild) details.append(h('td', { colspan: COLUMNS.length }, this.detailTabs(row)));
      details.hidden = !open;
    });

    const box = h('input', {
      type: 'checkbox',
      class: 'select-call',
      'aria-label': `Select the call at ${row.start}`,
      disabled: liveRecordings(row).length === 0,
      title: liveRecordings(row).length === 0 ? 'This call has no recording to download or delete' : null,
    });
    box.addEventListener('change', () => {
      if (box.checked) this.selected.add(row.call_id);
      else this.selected.delete(row.call_id);
      line.classList.toggle('selected', box.checked);
      this.syncSelection();
    });

    const cells = [
      h('td', { class: 'col-start' }, h('span', { class: 'start-cell' }, expand, h('span', {}, row.start))),
      h('td', { class: 'col-ap', title: row.access_point }, row.access_point),
      h('td', { class: 'col-dur' }, row.recording_time),
      h('td', { class: 'col-dur' }, row.speak_time),
      h('td', { class: 'col-number' }, row.callers_number),
    ];
    if (row.deletion_text) {
      // As the seed shows: the sentence takes the place of both columns.
      cells.push(h('td', { class: 'deletion', colspan: 2 }, row.deletion_text));
    } else if (awaitsUpload(row)) {
      // Where the deletion sentence goes: the row's recording cannot be played yet.
      cells.push(h('td', { class: 'not-available', colspan: 2, title: NOT_DELIVERED }, NOT_AVAILABLE_YET));
    } else {
      cells.push(h('td', { class: 'col-dur' }, row.time_before_answer), h('td', { class: 'col-agents', title: row.agents }, row.agents));
    }
    cells.push(h('td', { class: 'col-select' }, h('span', { class: 'select-cell' }, this.rowPlay(row), box)));
    line.append(...cells);
    return [line, details];
  }

  /** The row's ▶: the first playable recording; disabled without play rights; none when expired, deleted or not available yet. */
  rowPlay(row) {
    const playable = row.recordings.find((r) => r.play_state === 'enabled');
    const disabled = row.recordings.find((r) => r.play_state === 'disabled');
    const recording = playable ?? disabled;
    if (!recording) return h('span', { class: 'play-placeholder', 'aria-hidden': 'true' });
    return this.playButton(recording, row, `Play the recording of the call at ${row.start}`, true);
  }

  playButton(recording, row, label, compact) {
    if (recording.play_state === 'disabled') {
      return h(
        'button',
        { type: 'button', class: compact ? 'play icon-button' : 'play button', disabled: true, 'aria-label': `${label} (${NOT_ALLOWED_TO_PLAY.toLowerCase()})`, title: NOT_ALLOWED_TO_PLAY },
        icon('play'),
        compact ? null : ' Play',
      );
    }
    if (recording.play_state !== 'enabled') return null;
    const button = h(
      'button',
      { type: 'button', class: compact ? 'play icon-button' : 'play button', 'aria-label': label, title: 'Play' },
      icon('play'),
      compact ? null : ' Play',
    );
    button.addEventListener('click', () => this.ctx.play(recording, row, button));
    return button;
  }

  detailTabs(row) {
    const tabs = [{ name: 'General information', panel: () => this.general(row), enabled: true }];
    if (row.recordings.length) {
      tabs.push({ name: 'Recording', panel: () => this.recordingsPanel(row), enabled: row.recording_tab_enabled });
    }
    const list = h('div', { role: 'tablist', class: 'tabs', 'aria-label': `Call at ${row.start}` });
    const panels = [];
    const buttons = tabs.map((tab, index) => {
      const tabId = newId('tab');
      const panelId = newId('panel');
      const button = h(
        'button',
        {
          type: 'button',
          role: 'tab',
          id: tabId,
          class: 'tab',
          'aria-selected': String(index === 0),
          'aria-controls': panelId,
          tabindex: index === 0 ? '0' : '-1',
          disabled: !tab.enabled,
          'aria-disabled': tab.enabled ? null : 'true',
          title: tab.enabled ? null : `${NOT_ALLOWED_TO_PLAY}, so the Recording tab is disabled`,
        },
        tab.name,
      );
      const panel = h('div', { role: 'tabpanel', id: panelId, class: 'tab-panel', 'aria-labelledby': tabId, tabindex: '0', hidden: index !== 0 });
      if (index === 0) panel.append(...[tab.panel()].flat());
      panels.push(panel);
      button.addEventListener('click', () => select(index));
      return button;
    });
    const select = (index) => {
      buttons.forEach((b, i) => {
        b.setAttribute('aria-selected', String(i === index));
        b.tabIndex = i === index ? 0 : -1;
        panels[i].hidden = i !== index;
      });
      if (!panels[index].firstChild) panels[index].append(...[tabs[index].panel()].flat());
      buttons[index].focus();
    };
    list.addEventListener('keydown', (event) => {
      const enabled = buttons.filter((b) => !b.disabled);
      const at = enabled.indexOf(document.activeElement);
      if (at < 0) return;
      let to = null;
      if (event.key === 'ArrowRight') to = enabled[(at + 1) % enabled.length];
      else if (event.key === 'ArrowLeft') to = enabled[(at - 1 + enabled.length) % enabled.length];
      else if (event.key === 'Home') to = enabled[0];
      else if (event.key === 'End') to = enabled[enabled.length - 1];
      if (!to) return;
      event.preventDefault();
      select(buttons.indexOf(to));
    });
    list.append(...buttons);
    return h('div', { class: 'call-details' }, list, panels);
  }

  general(row) {
    const raw = row.raw ?? {};
    const items = [
      ['Start', row.start],
      ['Access Point', row.access_point],
      ["Caller's Number", row.callers_number || '—'],
      ['Queue(s)', (raw.queues ?? []).join(', ') || '—'],
      ['Agent(s)', row.agents || '—'],
      ['Time before answer', row.time_before_answer],
      ['Speak Time', row.speak_time],
      ['Recording Time', row.recording_time || 'Not recorded'],
      ['Session', raw.session_id || '—'],
    ];
    if (row.recordings.length && !row.recording_tab_enabled) {
      items.push(['Recording', `${NOT_ALLOWED_TO_PLAY}.`]);
    }
    if (row.deletion_text) items.push(['Deleted', row.deletion_text]);
    else if (awaitsUpload(row)) items.push(['Recording', `${NOT_AVAILABLE_YET}. ${NOT_DELIVERED}`]);
    return h('dl', { class: 'facts' }, items.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]));
  }

  recordingsPanel(row) {
    return row.recordings.map((recording) => {
      const headingId = newId('recording');
      const state = {
        enabled: null,
        disabled: `${NOT_ALLOWED_TO_PLAY}.`,
        expired: 'The recording file is no longer kept (recording files are stored for a shorter time than the call’s general information).',
        not_available: `${NOT_AVAILABLE_YET}. ${NOT_DELIVERED}`,
        deleted: recording.deletion_text,
      }[recording.play_state];
      const auditLink = this.ctx.session.permissions.view_audit_log
        ? h('a', { href: `#/audit?recording=${encodeURIComponent(recording.recording_id)}`, class: 'link' }, 'Audit log of this recording')
        : null;
      return h(
        'section',
        { class: 'recording', 'aria-labelledby': headingId, dataset: { recordingId: recording.recording_id, playState: recording.play_state } },
        h(
          'div',
          { class: 'recording-head' },
          h('h3', { id: headingId }, `Recording ${recording.nr}`),
          this.playButton(recording, row, `Play recording ${recording.nr} of the call at ${row.start}`, false),
          auditLink,
        ),
        state ? h('p', { class: recording.play_state === 'deleted' ? 'deletion-note' : 'note' }, state) : null,
        h(
          'table',
          { class: 'segments' },
          h('caption', { class: 'visually-hidden' }, `Recording ${recording.nr}: segments`),
          h('thead', {}, h('tr', {}, ['Start', 'Finish', 'Queue', 'Agent'].map((c) => h('th', { scope: 'col' }, c)))),
          h(
            'tbody',
            {},
            recording.segments.map((s) => h('tr', {}, h('td', {}, s.start), h('td', {}, s.finish), h('td', {}, s.queue), h('td', {}, s.agent))),
          ),
        ),
      );
    });
  }
}
