// Sign-in: with the operator's identity provider when the server has one
// (a link to /auth/login; back from it, the token is taken once from
// /auth/session); else, in embedded mode, pick one of the demo users;
// anywhere, paste a bearer token issued for you. The token is kept for this
// browser tab only.

import { api, ApiError, describe } from './api.js';
import { h, newId, replace } from './dom.js';

/** `signIn(token)` resolves when the session is loaded (or rejects). */
export function signInView({ signIn, message }) {
  const headingId = newId('heading');
  const status = h('p', { class: 'signin-status', role: 'status' }, message ?? '');
  const list = h('ul', { class: 'user-list', 'aria-label': 'Demo users' }, h('li', { class: 'muted' }, 'Loading the demo users…'));

  const attempt = async (token) => {
    status.textContent = 'Signing in…';
    try {
      await signIn(token);
    } catch (error) {
      status.textContent = describe(error, 'sign in');
    }
  };

  const tokenId = newId('token');
  const tokenBox = h('textarea', { id: tokenId, rows: 3, spellcheck: 'false', autocomplete: 'off' });
  const tokenForm = h(
    'form',
    { class: 'token-form' },
    h('label', { for: tokenId, class: 'field-label' }, 'Bearer token'),
    tokenBox,
    h('button', { type: 'submit', class: 'button' }, 'Sign in with this token'),
  );
  tokenForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = tokenBox.value.trim().replace(/^Bearer\s+/i, '');
    if (!token) {
      status.textContent = 'Paste a token first.';
      tokenBox.focus();
      return;
    }
    attempt(token);
  });
  const tokenSection = h('details', { class: 'token-details' }, h('summary', {}, 'Sign in with a token'), tokenForm);

  const intro = h('p', { class: 'intro' }, 'Choose who you are. Each demo user has different permissions, so you can try every flow.');
  const element = h(
    'section',
    { class: 'signin', 'aria-labelledby': headingId },
    h('h1', { id: headingId, tabindex: '-1' }, 'Sign in to the Archive'),
    intro,
    list,
    tokenSection,
    status,
  );

  const offerProvider = async (provider) => {
    intro.textContent = 'Sign in with your organisation\'s account.';
    const link = h('a', { class: 'button primary provider-signin', href: provider.login_url }, `Sign in with ${provider.provider_name}`);
    list.replaceWith(link);
    // Back from the provider: the session it ended in, handed over once.
    let handoff = {};
    try {
      handoff = await api('/auth/session', { method: 'POST', auth: false });
    } catch (error) {
      status.textContent = describe(error, 'finish the sign-in');
    }
    if (handoff.token) attempt(handoff.token);
    else link.focus();
  };

  const offerDemoUsers = () => api('/api/v1/demo/users', { auth: false })
    .then(({ users }) => {
      replace(
        list,
        users.map((user) =>
          h(
            'li',
            {},
            h(
              'button',
              { type: 'button', class: 'user-card', dataset: { userId: user.user_id }, onclick: () => attempt(user.token) },
              h('span', { class: 'user-name' }, user.display_name),
              h('span', { class: 'user-id' }, user.user_id),
              h('span', { class: 'user-role' }, user.role),
            ),
          ),
        ),
      );
      list.querySelector('button')?.focus();
    })
    .catch((error) => {
      if (error instanceof ApiError && error.status === 404) {
        replace(list, h('li', { class: 'muted' }, 'This server has no demo users. Sign in with a token issued for you.'));
        tokenSection.open = true;
        tokenBox.focus();
      } else {
        replace(list, h('li', { class: 'error-text' }, describe(error, 'load the demo users')));
        tokenSection.open = true;
      }
    });

  // No provider configured: the demo users, as in embedded mode.
  api('/auth/config', { auth: false }).then(offerProvider, (error) => {
    if (error instanceof ApiError && error.status === 404) offerDemoUsers();
    else replace(list, h('li', { class: 'error-text' }, describe(error, 'load the sign-in options')));
  });

  return { element };
}
