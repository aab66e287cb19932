// The pieces of Administration's forms: labelled controls that remember
// which API field they edit, so a refusal naming a field
// (`user.scopes.play.queues[0]`) is shown next to that control; and the
// rights-and-scopes editor users and roles share.

import { describe } from './api.js';
import { h, newId } from './dom.js';

/** A labelled control editing API field `field`. */
export function field(label, control, fieldName, hint) {
  control.id ||= newId('admin');
  if (fieldName) control.dataset.field = fieldName;
  const hintEl = hint ? h('p', { class: 'field-hint muted', id: newId('hint') }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: control.id, class: 'field-label' }, label), control, hintEl);
}

/** A labelled checkbox editing API field `fieldName`. */
export function checkbox(label, checked, fieldName) {
  const control = h('input', { type: 'checkbox', id: newId('admin-check'), checked: Boolean(checked) });
  if (fieldName) control.dataset.field = fieldName;
  return [control, h('div', { class: 'field check' }, control, h('label', { for: control.id }, label))];
}

/** Comma-separated words as a list (blank ones dropped). */
export const words = (text) =>
  String(text ?? '')
    .split(',')
    .map((w) => w.trim())
    .filter(Boolean);

/**
 * Shows `error` in `form`: next to the control whose API field the error
 * names (or the closest one: `user.scopes.play.queues[0]` finds
 * `user.scopes.play.queues`), else in the form's own message line.
 */
export function showError(form, error, doing) {
  clearErrors(form);
  const message = describe(error, doing);
  let name = error?.field ?? '';
  while (name) {
    const control = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
    if (control) {
      const note = h('p', { class: 'field-error', id: newId('error'), role: 'alert' }, message);
      control.setAttribute('aria-invalid', 'true');
      control.setAttribute('aria-describedby', `${control.getAttribute('aria-describedby') ?? ''} ${note.id}`.trim());
      (control.closest('.field, fieldset') ?? control).append(note);
      control.focus();
      return;
    }
    name = name.replace(/(\[\d+\]|\.[^.[\]]*)$/, '');
  }
  const status = form.querySelector('.form-status');
  if (status) {
    status.className = 'form-status error-text';
    status.textContent = message;
  }
}

export function clearErrors(form) {
  for (const note of form.querySelectorAll('.field-error')) note.remove();
  for (const control of form.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
  const status = form.querySelector('.form-status');
  if (status) {
    status.className = 'form-status';
    status.textContent = '';
  }
}

export function formStatus(form, text) {
  const status = form.querySelector('.form-status');
  if (status) {
    status.className = 'form-status';
    status.textContent = text;
  }
}

const RIGHTS = [
  ['play_recordings', 'Play recordings', 'play'],
  ['download_recordings', 'Download recordings', 'download'],
  ['delete_recordings', 'Delete recordings', 'delete'],
  ['view_audit_log', 'View the Archive Audit log', 'view_audit'],
  ['require_reason', 'Must give a reason (for the actions the tenant settings name)', null],
  ['admin', 'Administer the tenant', null],
];

/**
 * Which calls one right reaches: every call (no scope), or the union of the
 * user's own calls, queues and access points.
 */
function scopeEditor(prefix, right, label, scope, { auditOnly = false } = {}) {
  const base = `${prefix}.scopes.${right}`;
  const [all, allField] = checkbox('All calls of the tenant', !scope || scope.all_calls, `${base}.all_calls`);
  const [own, ownField] = checkbox(auditOnly ? 'Own actions only' : 'Own calls (the user is one of the agents)', scope?.own_calls, `${base}.own_calls`);
  const queues = h('input', { type: 'text', value: (scope?.queues ?? []).join(', '), placeholder: 'e.g. Sales, Support' });
  const points = h('input', { type: 'text', inputmode: 'numeric', value: (scope?.access_points ?? []).join(', '), placeholder: 'e.g. 81511569' });
  const narrow = h(
    'div',
    { class: 'admin-scope-parts' },
    ownField,
    auditOnly ? null : field('Queues (comma-separated)', queues, `${base}.queues`),
    auditOnly ? null : field('Access points (comma-separated)', points, `${base}.access_points`),
  );
  const sync = () => {
    narrow.hidden = all.checked;
  };
  all.addEventListener('change', sync);
  sync();
  const element = h('fieldset', { class: 'admin-scope', tabindex: '-1', dataset: { right, field: base } }, h('legend', {}, `${label}: which calls`), allField, narrow);
  return {
    element,
    value: () =>
      all.checked
        ? null
        : {
            all_calls: false,
            own_calls: own.checked,
            queues: auditOnly ? [] : words(queues.value),
            access_points: auditOnly ? [] : words(points.value),
          },
  };
}

/** Checkboxes for the rights of `permissions` and a scope per scoped right. */
export function rightsEditor(prefix, permissions = {}, scopes = {}) {
  const checks = {};
  const scopeEditors = {};
  const search = scopeEditor(prefix, 'search', 'Search', scopes?.search);
  scopeEditors.search = search;
  const rows = RIGHTS.map(([name, label, right]) => {
    const [control, wrapper] = checkbox(label, permissions?.[name], `${prefix}.permissions.${name}`);
    checks[name] = control;
    if (!right) return wrapper;
    const scope = scopeEditor(prefix, right, label, scopes?.[right], { auditOnly: right === 'view_audit' });
    scopeEditors[right] = scope;
    const sync = () => {
      scope.element.hidden = !control.checked;
    };
    control.addEventListener('change', sync);
    sync();
    return h('div', { class: 'admin-right' }, wrapper, scope.element);
  });
  const element = h(
    'fieldset',
    { class: 'rights', dataset: { field: `${prefix}.permissions` } },
    h('legend', {}, 'Rights'),
    h('div', { class: 'admin-right' }, h('p', { class: 'muted' }, 'Every user may search; choose which calls they find.'), search.element),
    rows,
  );
  return {
    element,
    permissions: () => Object.fromEntries(Object.entries(checks).map(([name, c]) => [name, c.checked])),
    // A right not granted keeps no scope.
    scopes: () =>
      Object.fromEntries(
        Object.entries(scopeEditors).map(([right, s]) => {
          const name = RIGHTS.find(([, , r]) => r === right)?.[0];
          return [right, name && !checks[name].checked ? null : s.value()];
        }),
      ),
  };
}

/** Names of the rights a user or role has, for a table cell. */
export function rightsText(p) {
  const on = RIGHTS.filter(([name]) => p?.[name]).map(([, label]) => label.split(' (')[0]);
  return on.length ? on.join(', ') : 'Search only';
}
