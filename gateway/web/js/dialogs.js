// Modal dialogs: the reason a user must give before playback, download or
// delete (one of the tenant's reason codes and/or free text, and a case or
// ticket id; stored in the Archive Audit log), and the delete confirmation.
// Native <dialog>.showModal() keeps focus inside and closes on Escape; focus
// returns to whatever opened the dialog.

import { h, newId } from './dom.js';

export const MAX_REASON = 1000;
export const MAX_CASE_ID = 64;

/** The reason given when none was asked for. */
export const NO_REASON = Object.freeze({ text: '', code: '', case_id: '' });

/**
 * Shows a modal and resolves with the reason — `{ text, code, case_id }`
 * (NO_REASON when none was asked for) — or null when the user cancelled.
 * With the tenant's reason codes (`reason.codes`), a code must be picked and
 * the text is optional; without them the text is required. A case or ticket
 * id is always optional.
 */
function modal({ title, message, reason, confirmLabel, danger = false }) {
  const opener = document.activeElement;
  const titleId = newId('dialog-title');
  const messageId = newId('dialog-message');
  const reasonId = newId('reason');
  const codeId = newId('reason-code');
  const caseId = newId('case-id');
  const hintId = newId('reason-hint');
  const errorId = newId('reason-error');
  const codes = reason?.codes ?? [];

  const select = reason && codes.length
    ? h(
        'select',
        { id: codeId, name: 'reason_code', 'aria-describedby': `${hintId} ${errorId}`, 'aria-required': 'true' },
        h('option', { value: '' }, 'Choose a reason…'),
        codes.map((c) => h('option', { value: c.code }, c.label || c.code)),
      )
    : null;
  const textarea = reason
    ? h('textarea', {
        id: reasonId,
        name: 'reason',
        rows: 3,
        maxlength: MAX_REASON,
        'aria-describedby': `${hintId} ${errorId}`,
        'aria-required': select ? 'false' : 'true',
      })
    : null;
  const caseInput = reason
    ? h('input', { id: caseId, name: 'case_id', type: 'text', maxlength: MAX_CASE_ID, autocomplete: 'off', placeholder: 'e.g. TICKET-4711' })
    : null;
  const error = h('p', { id: errorId, class: 'field-error', hidden: true });
  const cancel = h('button', { type: 'button', class: 'button', value: 'cancel' }, 'Cancel');
  const confirm = h('button', { type: 'submit', class: danger ? 'button danger' : 'button primary', value: 'ok' }, confirmLabel);
  const form = h(
    'form',
    { method: 'dialog', novalidate: true },
    h('h2', { id: titleId, class: 'dialog-title' }, title),
    h('p', { id: messageId }, message),
    reason && [
      select && [h('label', { for: codeId, class: 'field-label' }, reason.label), select],
      h('label', { for: reasonId, class: 'field-label' }, select ? 'Details (optional)' : reason.label),
      textarea,
      h('label', { for: caseId, class: 'field-label' }, 'Case or ticket id (optional)'),
      caseInput,
      h('p', { id: hintId, class: 'hint' }, 'The reason is stored in the Archive Audit log with your name and the time.'),
      error,
    ],
    h('div', { class: 'dialog-actions' }, cancel, confirm),
  );
  const dialog = h(
    'dialog',
    { class: 'dialog', 'aria-labelledby': titleId, 'aria-describedby': messageId, 'data-kind': reason ? 'reason' : 'confirm' },
    form,
  );
  document.body.append(dialog);

  const refuse = (control, text) => {
    error.textContent = text;
    error.hidden = false;
    control.setAttribute('aria-invalid', 'true');
    control.focus();
  };

  return new Promise((resolve) => {
    let result = null;
    cancel.addEventListener('click', () => dialog.close());
    form.addEventListener('submit', (event) => {
      if (!textarea) {
        result = NO_REASON;
        return;
      }
      const given = { text: textarea.value.trim(), code: select?.value ?? '', case_id: caseInput.value.trim() };
      if (select && !given.code) {
        event.preventDefault();
        refuse(select, 'Please choose a reason before you continue.');
        return;
      }
      if (!select && !given.text) {
        event.preventDefault();
        refuse(textarea, 'Please write a reason before you continue.');
        return;
      }
      result = given;
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
      resolve(result);
    });
    dialog.showModal();
    // A destructive action starts on Cancel; a reason starts in its box.
    (select ?? textarea ?? (danger ? cancel : confirm)).focus();
  });
}

/**
 * Asks for the reason before `action` ("playback", "download", "delete");
 * `codes` are the tenant's reason codes.
 */
export function askReason({ action, confirmLabel, subject, codes }) {
  return modal({
    title: 'A reason is required',
    message: `Your user must give a reason before ${action} starts${subject ? ` (${subject})` : ''}.`,
    reason: { label: `Reason for ${action}`, codes },
    confirmLabel,
  });
}

/** Confirms deleting `count` recordings, with a reason box when one is required. */
export function confirmDelete({ count, needReason, codes }) {
  const what = count === 1 ? '1 recording' : `${count} recordings`;
  return modal({
    title: `Delete ${what}?`,
    message: `The recording files are deleted for good and cannot be played or downloaded again. The calls stay in the Archive and show who deleted the recording and when.`,
    reason: needReason ? { label: 'Reason for delete', codes } : null,
    confirmLabel: count === 1 ? 'Delete Recording' : 'Delete Recordings',
    danger: true,
  });
}
