// "Administration" (admins only): the tenant's Users, Roles, Tenant settings
// and Legal holds, one screen each under a tab list (arrow keys move
// between the tabs).

import { h, newId, replace } from './dom.js';
import { rolesScreen, usersScreen } from './admin-users.js';
import { holdsScreen, settingsScreen } from './admin-tenant.js';

const SCREENS = {
  users: { label: 'Users', make: usersScreen },
  roles: { label: 'Roles', make: rolesScreen },
  settings: { label: 'Tenant settings', make: settingsScreen },
  holds: { label: 'Legal holds', make: holdsScreen },
};

export function adminView(ctx) {
  const headingId = newId('heading');
  const panel = h('div', { class: 'admin-panel', role: 'tabpanel', tabindex: '-1' });
  const made = {};
  const tabs = Object.entries(SCREENS).map(([name, screen]) =>
    h('button', { type: 'button', role: 'tab', class: 'admin-tab', id: `admin-tab-${name}`, dataset: { screen: name }, 'aria-selected': 'false', onclick: () => select(name, true) }, screen.label),
  );
  const tablist = h('div', { class: 'admin-tabs', role: 'tablist', 'aria-label': 'Administration' }, tabs);
  tablist.addEventListener('keydown', (event) => {
    const index = tabs.indexOf(document.activeElement);
    if (index < 0 || !['ArrowLeft', 'ArrowRight'].includes(event.key)) return;
    const next = tabs[(index + (event.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length];
    next.focus();
    next.click();
  });
  const select = (name, focus) => {
    made[name] ??= SCREENS[name].make(ctx);
    for (const tab of tabs) {
      const on = tab.dataset.screen === name;
      tab.setAttribute('aria-selected', String(on));
      tab.tabIndex = on ? 0 : -1;
    }
    panel.setAttribute('aria-labelledby', `admin-tab-${name}`);
    replace(panel, made[name].element);
    made[name].load();
    if (focus) tabs.find((t) => t.dataset.screen === name)?.focus();
  };
  const element = h(
    'section',
    { class: 'view admin', 'aria-labelledby': headingId },
    h('h1', { id: headingId, tabindex: '-1' }, 'Administration'),
    tablist,
    panel,
  );
  return {
    element,
    show: (params) => select(SCREENS[params.get('screen')] ? params.get('screen') : 'users', false),
  };
}
