// What the Play button and the "Select Action" menu do: ask for a reason
// first when the user must give one (or when the API answers 428), confirm a
// delete, call the API, and tell the user in words how it went. Each user
// action carries one request id (its idempotency key) through its retries,
// so the server records it once however often it is sent.

import { api, ApiError, describe } from './api.js';
import { askReason, confirmDelete, NO_REASON } from './dialogs.js';
import { h } from './dom.js';
import { liveRecordings } from './calls.js';
import { menuButton } from './menu.js';

/** Whether to ask before `action` (play, download, delete): the tenant's admin chooses which actions need one. */
function mustGiveReason(ctx, verdicts, action) {
  if (ctx.session.reason_actions && ctx.session.reason_actions[action] === false) return false;
  return ctx.session.permissions.require_reason || verdicts.some((v) => v === 'reason_required');
}

/** A new idempotency key for one user action. */
export function newRequestId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The reason's parts as the API's bodies name them. */
function reasonBody(reason) {
  return { reason: reason.text, reason_code: reason.code, case_id: reason.case_id };
}

const given = (reason) => Boolean(reason.text || reason.code);

/**
 * Runs `call(body)` with the reason's fields and one request id; asks for a
 * reason first when `needed`, or when the API answers that one is required.
 * Resolves with the answer, or null when the user cancelled.
 */
async function withReason(needed, ask, call) {
  const request_id = newRequestId();
  let reason = NO_REASON;
  if (needed) {
    reason = await ask();
    if (reason === null) return null;
  }
  try {
    return await call({ ...reasonBody(reason), request_id });
  } catch (error) {
    if (!(error instanceof ApiError) || !error.reasonRequired || given(reason)) throw error;
    reason = await ask();
    if (reason === null) return null;
    return call({ ...reasonBody(reason), request_id });
  }
}

export async function play(ctx, recording, row, opener) {
  const subject = `the call at ${row.start}`;
  try {
    const started = await withReason(
      mustGiveReason(ctx, [recording.play], 'play'),
      () => askReason({ action: 'playback', confirmLabel: 'Play', subject, codes: ctx.session.reason_codes }),
      (body) => api(`/api/v1/recordings/${encodeURIComponent(recording.recording_id)}/playback`, { method: 'POST', body }),
    );
    if (!started) return;
    ctx.notices.clear();
    const who = row.agents || row.callers_number || row.access_point;
    ctx.player.open({
      url: started.playback_url,
      title: `${row.start} · ${row.callers_number || row.access_point}`,
      detail: `Recording ${recording.nr}${who ? ` · ${who}` : ''}`,
      opener,
      renew: (url) => renewPlayback(url),
    });
  } catch (error) {
    ctx.notices.error(describe(error, 'play this recording'));
  }
}

/**
 * A fresh link for the playback `url` belongs to; rejects with what to tell
 * the user when it may not go on (permission withdrawn, recording deleted,
 * the hour of one Play over).
 */
async function renewPlayback(url) {
  try {
    const renewed = await api('/api/v1/playback/renew', { method: 'POST', body: { playback_url: url } });
    return renewed.playback_url;
  } catch (error) {
    throw new Error(describe(error, 'play this recording any more'));
  }
}

function formatSize(bytes) {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1024))} kB`;
}

export async function download(ctx, rows) {
  // Only files that are there: not expired, and not still awaited from the recording platform.
  const recordings = rows.flatMap((row) => liveRecordings(row).filter((r) => r.play_state !== 'expired' && r.play_state !== 'not_available'));
  if (!recordings.length) {
    ctx.notices.error('The selected calls have no recording files to download (they are deleted, expired or not available yet).');
    return;
  }
  if (recordings.every((r) => r.download === 'deny')) {
    ctx.notices.error('You do not have permission to download recordings. Ask an administrator if you need it.');
    return;
  }
  const what = recordings.length === 1 ? '1 recording' : `${recordings.length} recordings`;
  try {
    const exported = await withReason(
      mustGiveReason(
        ctx,
        recordings.map((r) => r.download),
        'download',
      ),
      () => askReason({ action: 'download', confirmLabel: 'Download', subject: what, codes: ctx.session.reason_codes }),
      (body) => api('/api/v1/exports', { method: 'POST', body: { recording_ids: recordings.map((r) => r.recording_id), ...body } }),
    );
    if (!exported) return;
    const link = h('a', { href: exported.download_url, download: exported.file_name, class: 'link' }, exported.file_name);
    // A same-origin link with `download` saves the zip without leaving the page.
    const trigger = h('a', { href: exported.download_url, download: exported.file_name, hidden: true });
    document.body.append(trigger);
    trigger.click();
    trigger.remove();
    ctx.notices.info(`Downloading ${what} (${formatSize(exported.size_bytes)}) as `, link, '.');
  } catch (error) {
    ctx.notices.error(describe(error, 'download these recordings'));
  }
}

/** Resolves true when recordings were deleted (the caller shows the rows again). */
export async function remove(ctx, rows) {
  const recordings = rows.flatMap(liveRecordings);
  if (!recordings.length) {
    ctx.notices.error('The selected calls have no recordings left to delete.');
    return false;
  }
  if (recordings.every((r) => r.delete === 'deny')) {
    ctx.notices.error('You do not have permission to delete recordings. Ask an administrator if you need it.');
    return false;
  }
  const needReason = mustGiveReason(
    ctx,
    recordings.map((r) => r.delete),
    'delete',
  );
  const ids = recordings.map((r) => r.recording_id);
  const codes = ctx.session.reason_codes;
  const request_id = newRequestId();
  const send = (reason) =>
    api('/api/v1/recordings/delete', { method: 'POST', body: { recording_ids: ids, ...reasonBody(reason), request_id, confirmed: true } });
  try {
    // The confirmation carries the reason box when one is required.
    let reason = await confirmDelete({ count: ids.length, needReason, codes });
    if (reason === null) return false;
    let deleted;
    try {
      deleted = await send(reason);
    } catch (error) {
      if (!(error instanceof ApiError) || !error.reasonRequired || given(reason)) throw error;
      reason = await confirmDelete({ count: ids.length, needReason: true, codes });
      if (reason === null) return false;
      deleted = await send(reason);
    }
    if (!deleted) return false;
    const n = deleted.recordings?.length ?? ids.length;
    ctx.notices.info(n === 1 ? '1 recording deleted.' : `${n} recordings deleted.`);
    return true;
  } catch (error) {
    ctx.notices.error(describe(error, 'delete these recordings'));
    return false;
  }
}

/**
 * The "Select Action" bar under a result table: Download and Delete
 * Recording(s) for the selected rows; deleted rows are shown again in place.
 */
export function actionBar(ctx, table) {
  const count = h('span', { class: 'selection-count', 'aria-live': 'polite' }, 'No calls selected');
  const button = h('button', { type: 'button', class: 'button action-button' }, 'Select Action ', h('span', { 'aria-hidden': 'true' }, '▾'));
  const { permissions } = ctx.session;
  const menu = menuButton({
    button,
    menuLabel: 'Select Action',
    align: 'start',
    items: () => {
      const rows = table.selectedRows();
      const pick = (run) => () => {
        if (rows.length === 0) ctx.notices.error('Tick the Select box of one or more calls first, then choose the action.');
        else run();
      };
      const notAllowed = (allowed, label) => (allowed ? label : `${label} (not allowed for your user)`);
      return [
        {
          label: notAllowed(permissions.download_recordings, 'Download'),
          disabled: !permissions.download_recordings,
          onSelect: pick(() => download(ctx, rows)),
        },
        {
          label: notAllowed(permissions.delete_recordings, 'Delete Recording(s)'),
          disabled: !permissions.delete_recordings,
          onSelect: pick(async () => {
            if (!(await remove(ctx, rows))) return;
            try {
              await table.refresh(rows.map((row) => row.call_id));
            } catch (error) {
              ctx.notices.error(describe(error, 'show the deleted calls again'), ' Search again to see them.');
            }
          }),
        },
      ];
    },
  });
  const element = h('div', { class: 'action-bar', role: 'group', 'aria-label': 'Actions on the selected calls' }, menu.element, count);
  return {
    element,
    /** Called with the selected rows whenever the selection changes. */
    update(rows) {
      const n = rows.length;
      count.textContent = n === 0 ? 'No calls selected' : n === 1 ? '1 call selected' : `${n} calls selected`;
    },
  };
}
