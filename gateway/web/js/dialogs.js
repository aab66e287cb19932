// Modal dialogs: the reason a user must give before playback, download or
// delete (stored in the Archive Audit log), and the delete confirmation.
// Native <dialog>.showModal() keeps focus inside and closes on Escape; focus
// returns to whatever opened the dialog.

import { h, newId } from './dom.js';

export const MAX_REASON = 1000;

/**
 * Shows a modal and resolves with the (trimmed) reason, '' when no reason
 * was asked for, or null when the user cancelled.
 */
function modal({ title, message, reason, confirmLabel, danger = false }) {
  const opener = document.activeElement;
  const titleId = newId('dialog-title');
  const messageId = newId('dialog-message');
  const reasonId = newId('reason');
  const hintId = newId('reason-hint');
  const errorId = newId('reason-error');

  const textarea = reason
    ? h('textarea', {
        id: reasonId,
        name: 'reason',
        rows: 3,
        maxlength: MAX_REASON,
        'aria-describedby': `${hintId} ${errorId}`,
        'aria-required': 'true',
      })
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
      h('label', { for: reasonId, class: 'field-label' }, reason.label),
      textarea,
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

  return new Promise((resolve) => {
    let result = null;
    cancel.addEventListener('click', () => dialog.close());
    form.addEventListener('submit', (event) => {
      if (!textarea) {
        result = '';
        return;
      }
      const text = textarea.value.trim();
      if (!text) {
        event.preventDefault();
        error.textContent = 'Please write a reason before you continue.';
        error.hidden = false;
        textarea.setAttribute('aria-invalid', 'true');
        textarea.focus();
        return;
      }
      result = text;
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
      resolve(result);
    });
    dialog.showModal();
    // A destructive action starts on Cancel; a reason starts in its box.
    (textarea ?? (danger ? cancel : confirm)).focus();
  });
}

/** Asks for the reason before `action` ("playback", "download", "delete"). */
export function askReason({ action, confirmLabel, subject }) {
  return modal({
    title: 'A reason is required',
    message: `Your user must give a reason before ${action} starts${subject ? ` (${subject})` : ''}.`,
    reason: { label: `Reason for ${action}` },
    confirmLabel,
  });
}

/** Confirms deleting `count` recordings, with a reason box when one is required. */
export function confirmDelete({ count, needReason }) {
  const what = count === 1 ? '1 recording' : `${count} recordings`;
  return modal({
    title: `Delete ${what}?`,
    message: `The recording files are deleted for good and cannot be played or downloaded again. The calls stay in the Archive and show who deleted the recording and when.`,
    reason: needReason ? { label: 'Reason for delete' } : null,
    confirmLabel: count === 1 ? 'Delete Recording' : 'Delete Recordings',
    danger: true,
  });
}
