// The Users and Roles screens of Administration: a table of each, and a form
// to create or edit one (rights with a scope per right, roles, agent name,
// disabled), deletes confirmed first. Refusals show next to the field named.

import { api, ApiError, describe } from './api.js';
import { newRequestId } from './actions.js';
import { h, newId, replace } from './dom.js';
import { checkbox, clearErrors, field, formStatus, rightsEditor, rightsText, showError } from './admin-form.js';

/** A row's "Delete" that asks again in place before it deletes. */
function confirmingDelete(what, onConfirm) {
  const cell = h('span', { class: 'confirm-delete' });
  const ask = h('button', { type: 'button', class: 'button subtle', onclick: () => confirm() }, 'Delete');
  const confirm = () => {
    const yes = h('button', { type: 'button', class: 'button danger', onclick: () => onConfirm() }, `Delete ${what}`);
    const no = h('button', { type: 'button', class: 'button', onclick: () => { replace(cell, ask); ask.focus(); } }, 'Cancel');
    replace(cell, h('span', { role: 'group', 'aria-label': `Confirm deleting ${what}` }, `Delete ${what}? `, yes, ' ', no));
    no.focus();
  };
  replace(cell, ask);
  return cell;
}

function table(caption, head, rows) {
  return h(
    'div',
    { class: 'table-wrap' },
    h('table', { class: 'admin-table' }, h('caption', { class: 'visually-hidden' }, caption), h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))), h('tbody', {}, rows)),
  );
}

/** The tenant's roles, or null when authz-svc has none yet (409). */
async function loadRoles() {
  try {
    return (await api('/api/v1/admin/roles')).roles;
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) return null;
    throw error;
  }
}

export function usersScreen(ctx) {
  const status = h('p', { class: 'muted', role: 'status' });
  const list = h('div', { class: 'admin-list' });
  const editor = h('div', { class: 'admin-editor' });
  const create = h('button', { type: 'button', class: 'button primary', onclick: () => edit(null) }, 'New user');
  const element = h('div', { class: 'admin-screen' }, h('h2', {}, 'Users'), h('div', { class: 'results-head' }, create, status), editor, list);

  const load = async () => {
    status.textContent = 'Loading users…';
    try {
      const users = [];
      let page_token = '';
      do {
        const page = await api('/api/v1/admin/users', { query: { page_size: 200, page_token } });
        users.push(...page.users);
        page_token = page.next_page_token;
      } while (page_token);
      status.textContent = `${users.length} users`;
      replace(
        list,
        table(
          'Users of the tenant',
          ['User id', 'Name', 'Agent', 'Rights', 'Roles', 'Status', 'Actions'],
          users.map((u) =>
            h(
              'tr',
              { dataset: { userId: u.user_id } },
              h('td', {}, u.user_id),
              h('td', {}, u.display_name),
              h('td', {}, u.agent_name || '—'),
              h('td', {}, rightsText(u.effective_permissions ?? u.permissions)),
              h('td', {}, u.roles.join(', ') || '—'),
              h('td', {}, u.disabled ? 'Disabled' : 'Active'),
              h(
                'td',
                { class: 'row-actions' },
                h('button', { type: 'button', class: 'button subtle', 'aria-label': `Edit ${u.user_id}`, onclick: () => edit(u) }, 'Edit'),
                confirmingDelete(u.user_id, () => remove(u)),
              ),
            ),
          ),
        ),
      );
    } catch (error) {
      status.textContent = describe(error, 'list the users');
    }
  };

  const remove = async (user) => {
    try {
      await api(`/api/v1/admin/users/${encodeURIComponent(user.user_id)}`, { method: 'DELETE', body: { request_id: newRequestId() } });
      ctx.notices.info(`User ${user.user_id} was deleted.`);
      replace(editor);
      load();
    } catch (error) {
      ctx.notices.error(describe(error, `delete ${user.user_id}`));
    }
  };

  const edit = async (user) => {
    const creating = !user;
    const u = user ?? { user_id: '', display_name: '', agent_name: '', permissions: {}, scopes: null, roles: [], disabled: false };
    const userId = h('input', { type: 'text', value: u.user_id, autocomplete: 'off', required: true, readonly: !creating });
    const name = h('input', { type: 'text', value: u.display_name, autocomplete: 'off', required: true });
    const agent = h('input', { type: 'text', value: u.agent_name, autocomplete: 'off' });
    const rights = rightsEditor('user', u.permissions, u.scopes);
    const [disabled, disabledField] = checkbox('Disabled (keeps the user, refuses everything)', u.disabled, 'user.disabled');
    const rolesBox = h('fieldset', { class: 'roles', dataset: { field: 'user.roles' } }, h('legend', {}, 'Roles'), h('p', { class: 'muted' }, 'Loading roles…'));
    const roleChecks = [];
    const form = h(
      'form',
      { class: 'admin-form', 'aria-label': creating ? 'New user' : `Edit user ${u.user_id}`, novalidate: true },
      h('h3', {}, creating ? 'New user' : `Edit ${u.user_id}`),
      h(
        'div',
        { class: 'admin-grid' },
        field('User id', userId, 'user.user_id', creating ? 'Letters, digits, . _ @ -; cannot be changed later.' : null),
        field('Display name', name, 'user.display_name'),
        field('Agent name', agent, 'user.agent_name', 'The agent whose calls are this user’s own calls.'),
      ),
      rights.element,
      rolesBox,
      disabledField,
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button primary' }, creating ? 'Create user' : 'Save user'), ' ', h('button', { type: 'button', class: 'button', onclick: () => replace(editor) }, 'Cancel')),
      h('p', { class: 'form-status', role: 'status' }),
    );
    replace(editor, form);
    (creating ? userId : name).focus();
    loadRoles()
      .then((roles) => {
        if (!roles) {
          replace(rolesBox, h('legend', {}, 'Roles'), h('p', { class: 'muted' }, 'Roles are not available on this server yet.'));
          return;
        }
        replace(
          rolesBox,
          h('legend', {}, 'Roles'),
          roles.map((r, i) => {
            const [control, wrapper] = checkbox(`${r.display_name || r.role_id} (${r.role_id})`, u.roles.includes(r.role_id), `user.roles[${i}]`);
            control.value = r.role_id;
            roleChecks.push(control);
            return wrapper;
          }),
        );
      })
      .catch((error) => replace(rolesBox, h('legend', {}, 'Roles'), h('p', { class: 'error-text' }, describe(error, 'list the roles'))));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearErrors(form);
      const body = {
        user: {
          user_id: userId.value.trim(),
          display_name: name.value.trim(),
          agent_name: agent.value.trim(),
          permissions: rights.permissions(),
          scopes: rights.scopes(),
          roles: roleChecks.length ? roleChecks.filter((c) => c.checked).map((c) => c.value) : u.roles,
          disabled: disabled.checked,
        },
        request_id: newRequestId(),
      };
      formStatus(form, 'Saving…');
      try {
        const path = creating ? '/api/v1/admin/users' : `/api/v1/admin/users/${encodeURIComponent(u.user_id)}`;
        const saved = await api(path, { method: creating ? 'POST' : 'PUT', body });
        replace(editor);
        ctx.notices.info(`User ${saved.user.user_id} was ${creating ? 'created' : 'saved'}.`);
        load();
      } catch (error) {
        showError(form, error, creating ? 'create the user' : 'save the user');
      }
    });
  };

  return { element, load };
}

export function rolesScreen(ctx) {
  const status = h('p', { class: 'muted', role: 'status' });
  const list = h('div', { class: 'admin-list' });
  const editor = h('div', { class: 'admin-editor' });
  const create = h('button', { type: 'button', class: 'button primary', onclick: () => edit(null) }, 'New role');
  const element = h('div', { class: 'admin-screen' }, h('h2', {}, 'Roles'), h('div', { class: 'results-head' }, create, status), editor, list);

  const load = async () => {
    status.textContent = 'Loading roles…';
    try {
      const roles = await loadRoles();
      if (!roles) {
        create.disabled = true;
        status.textContent = 'Roles are not available on this server yet.';
        replace(list);
        return;
      }
      status.textContent = `${roles.length} roles`;
      replace(
        list,
        table(
          'Roles of the tenant',
          ['Role id', 'Name', 'Rights', 'Kind', 'Actions'],
          roles.map((r) =>
            h(
              'tr',
              { dataset: { roleId: r.role_id } },
              h('td', {}, r.role_id),
              h('td', {}, r.display_name),
              h('td', {}, rightsText(r.permissions)),
              h('td', {}, r.built_in ? 'Built-in' : 'The tenant’s own'),
              h(
                'td',
                { class: 'row-actions' },
                r.built_in ? h('span', { class: 'muted' }, 'Cannot be changed') : [h('button', { type: 'button', class: 'button subtle', 'aria-label': `Edit role ${r.role_id}`, onclick: () => edit(r) }, 'Edit'), confirmingDelete(r.role_id, () => remove(r))],
              ),
            ),
          ),
        ),
      );
    } catch (error) {
      status.textContent = describe(error, 'list the roles');
    }
  };

  const remove = async (role) => {
    try {
      await api(`/api/v1/admin/roles/${encodeURIComponent(role.role_id)}`, { method: 'DELETE', body: { request_id: newRequestId() } });
      ctx.notices.info(`Role ${role.role_id} was deleted.`);
      load();
    } catch (error) {
      ctx.notices.error(describe(error, `delete the role ${role.role_id}`));
    }
  };

  const edit = (role) => {
    const creating = !role;
    const r = role ?? { role_id: '', display_name: '', permissions: {}, scopes: null };
    const roleId = h('input', { type: 'text', value: r.role_id, autocomplete: 'off', readonly: !creating });
    const name = h('input', { type: 'text', value: r.display_name, autocomplete: 'off' });
    const rights = rightsEditor('role', r.permissions, r.scopes);
    const form = h(
      'form',
      { class: 'admin-form', 'aria-label': creating ? 'New role' : `Edit role ${r.role_id}`, novalidate: true },
      h('h3', {}, creating ? 'New role' : `Edit role ${r.role_id}`),
      h('div', { class: 'admin-grid' }, field('Role id', roleId, 'role.role_id', 'a-z, 0-9, _ and -; at most 64.'), field('Name', name, 'role.display_name')),
      rights.element,
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'button primary' }, creating ? 'Create role' : 'Save role'), ' ', h('button', { type: 'button', class: 'button', onclick: () => replace(editor) }, 'Cancel')),
      h('p', { class: 'form-status', role: 'status', id: newId('status') }),
    );
    replace(editor, form);
    (creating ? roleId : name).focus();
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      clearErrors(form);
      const body = {
        role: { role_id: roleId.value.trim(), display_name: name.value.trim(), permissions: rights.permissions(), scopes: rights.scopes() },
        request_id: newRequestId(),
      };
      try {
        const path = creating ? '/api/v1/admin/roles' : `/api/v1/admin/roles/${encodeURIComponent(r.role_id)}`;
        await api(path, { method: creating ? 'POST' : 'PUT', body });
        replace(editor);
        ctx.notices.info(`Role ${body.role.role_id} was ${creating ? 'created' : 'saved'}.`);
        load();
      } catch (error) {
        showError(form, error, creating ? 'create the role' : 'save the role');
      }
    });
  };

  return { element, load };
}
