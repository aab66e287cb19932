// The Archive page: signs the user in, loads what they may do, and shows one
// of the views (Search calls, My call recordings, Archive Audit log) by the
// URL's hash. The player and the "Select Action" bar sit in a dock at the
// bottom; messages appear as notices over the page so nothing shifts.

import * as actions from './js/actions.js';
import { adminView } from './js/admin.js';
import { api, ApiError, describe, token, whenUnauthenticated } from './js/api.js';
import { auditView } from './js/audit.js';
import { h, replace } from './js/dom.js';
import { Player } from './js/player.js';
import { myCallsView, searchView } from './js/search.js';
import { signInView } from './js/signin.js';

const root = document.getElementById('app');
const topbar = document.getElementById('topbar');
const actionSlot = document.getElementById('action-slot');
const player = new Player(document.getElementById('player-slot'));
const notices = createNotices(document.getElementById('notices'));

let session = null;

const RIGHTS = { search: 'Search', play: 'Play', download: 'Download', delete: 'Delete', view_audit: 'Audit log' };

/** The session card: the user's roles and each right with where it reaches. */
function accessCard(s) {
  const roles = (s.roles || []).join(', ');
  return h(
    'details',
    { class: 'access-card' },
    h('summary', {}, 'Your access'),
    h(
      'dl',
      {},
      ...(roles ? [h('dt', {}, 'Roles'), h('dd', {}, roles)] : []),
      ...(s.agent_name ? [h('dt', {}, 'Agent'), h('dd', {}, s.agent_name)] : []),
      ...(s.access || []).flatMap((a) => [h('dt', {}, RIGHTS[a.right] || a.right), h('dd', { dataset: { right: a.right } }, a.scope)]),
      ...(s.permissions.require_reason ? [h('dt', {}, 'Reason'), h('dd', {}, 'asked before play, download, delete')] : []),
      ...(s.permissions.admin ? [h('dt', {}, 'Admin'), h('dd', {}, 'manages users and roles')] : []),
    ),
  );
}
let ctx = null;
let views = {};

function createNotices(container) {
  // Live regions exist from the start so screen readers announce what goes in.
  const alert = h('div', { class: 'notice-region', role: 'alert' });
  const status = h('div', { class: 'notice-region', role: 'status' });
  container.append(alert, status);
  const show = (region, kind, parts) => {
    const dismiss = h('button', { type: 'button', class: 'notice-close', 'aria-label': 'Dismiss message' }, '×');
    const box = h('div', { class: `notice ${kind}` }, h('p', {}, parts), dismiss);
    dismiss.addEventListener('click', () => box.remove());
    replace(region, box);
  };
  return {
    error: (...parts) => {
      replace(status);
      show(alert, 'error', parts);
    },
    info: (...parts) => {
      replace(alert);
      show(status, 'info', parts);
    },
    clear: () => {
      replace(alert);
      replace(status);
    },
  };
}

const ROUTES = {
  search: { label: 'Search calls', allowed: () => true, make: searchView },
  my: { label: 'My call recordings', allowed: () => ctx.isAgent, make: myCallsView },
  audit: { label: 'Archive Audit log', allowed: () => session.permissions.view_audit_log, make: auditView },
  admin: { label: 'Administration', allowed: () => session.permissions.admin, make: adminView },
};

function renderTopbar() {
  const brand = h('a', { class: 'brand', href: session ? '#/search' : '#' }, 'Archive');
  if (!session) {
    replace(topbar, brand);
    return;
  }
  const links = Object.entries(ROUTES)
    .filter(([, route]) => route.allowed())
    .map(([name, route]) => h('a', { href: `#/${name}`, class: 'nav-link', dataset: { route: name } }, route.label));
  const signOutButton = h('button', { type: 'button', class: 'button subtle', onclick: () => signOut() }, 'Sign out / Switch user');
  replace(
    topbar,
    brand,
    h('span', { class: 'tenant' }, `Customer ${session.customer}`),
    h('nav', { class: 'nav', 'aria-label': 'Archive sections' }, links),
    h('div', { class: 'topbar-user' }, h('span', { class: 'topbar-user-name' }, session.display_name), h('span', { class: 'topbar-user-id' }, `(${session.user_id})`), accessCard(session), signOutButton),
  );
}

async function loadSession(bearer) {
  token.set(bearer);
  try {
    session = await api('/api/v1/session');
  } catch (error) {
    token.clear();
    session = null;
    throw error;
  }
  // "My call recordings" is for users linked to an agent; others get a 400.
  let isAgent = false;
  try {
    await api('/api/v1/my/calls', { query: { page_size: 1 } });
    isAgent = true;
  } catch {
    isAgent = false;
  }
  views = {};
  // Views of a session that has ended (say, a search answered 401 after
  // sign-out) post nothing over the sign-in page.
  const own = {
    session,
    isAgent,
    player,
    notices: {
      error: (...parts) => ctx === own && notices.error(...parts),
      info: (...parts) => ctx === own && notices.info(...parts),
      clear: () => ctx === own && notices.clear(),
    },
    play: (recording, row, opener) => actions.play(own, recording, row, opener),
  };
  ctx = own;
  renderTopbar();
}

function signOut(message) {
  player.stop();
  token.clear();
  session = null;
  ctx = null;
  views = {};
  notices.clear();
  replace(actionSlot);
  renderTopbar();
  if (window.location.hash) window.history.replaceState(null, '', window.location.pathname);
  showSignIn(message);
}

function showSignIn(message) {
  document.title = 'Sign in · Archive';
  const view = signInView({
    message,
    signIn: async (bearer) => {
      await loadSession(bearer);
      if (window.location.hash === '#/search') route();
      else window.location.hash = '#/search';
    },
  });
  replace(root, view.element);
  view.element.querySelector('h1')?.focus();
}

function route() {
  if (!session) return;
  const [path, search] = window.location.hash.replace(/^#\/?/, '').split('?');
  let name = path || 'search';
  if (!ROUTES[name]) name = 'search';
  const target = ROUTES[name];
  if (!target.allowed()) {
    const refusals = {
      audit: 'You do not have permission to view the Archive Audit log.',
      admin: 'Only administrators of the tenant may open Administration.',
    };
    notices.error(refusals[name] ?? 'My call recordings is only for users who are agents.');
    window.location.hash = '#/search';
    return;
  }
  views[name] ??= target.make(ctx);
  const view = views[name];
  replace(root, view.element);
  replace(actionSlot, view.dock ?? []);
  document.body.classList.toggle('has-actions', Boolean(view.dock));
  for (const link of topbar.querySelectorAll('.nav-link')) {
    if (link.dataset.route === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = `${target.label} · Archive`;
  view.show(new URLSearchParams(search ?? ''));
  view.element.querySelector('h1')?.focus();
}

function reportUnexpected(error) {
  if (error instanceof ApiError) notices.error(describe(error));
  else notices.error(describe(error ?? new Error('unknown failure')));
}

async function start() {
  window.addEventListener('error', (event) => reportUnexpected(event.error ?? event.message));
  window.addEventListener('unhandledrejection', (event) => reportUnexpected(event.reason));
  window.addEventListener('hashchange', route);
  whenUnauthenticated(() => {
    if (session) signOut('Your sign-in has expired or is no longer valid. Please sign in again.');
  });
  const saved = token.get();
  if (!saved) {
    renderTopbar();
    showSignIn();
    return;
  }
  try {
    await loadSession(saved);
    route();
  } catch (error) {
    renderTopbar();
    showSignIn(error instanceof ApiError && error.status === 401 ? 'Your sign-in has expired. Please sign in again.' : describe(error, 'load your session'));
  }
}

start();
