// A menu button (WAI-ARIA menu pattern): the player's "⋮" speed menu and the
// "Select Action" menu. Opens on click, Enter, Space or the arrow keys; arrow
// keys, Home and End move; Enter or Space picks; Escape closes and returns
// focus to the button; clicking or tabbing elsewhere closes it.

import { h, newId } from './dom.js';

/**
 * `items()` is called at every opening and returns
 * [{label, onSelect, checked?, disabled?, title?}]; `checked` (true/false)
 * makes the items radio items.
 */
export function menuButton({ button, menuLabel, items, align = 'end' }) {
  const menuId = newId('menu');
  const menu = h('ul', { id: menuId, role: 'menu', class: `menu menu-${align}`, 'aria-label': menuLabel, hidden: true });
  button.setAttribute('aria-haspopup', 'menu');
  button.setAttribute('aria-expanded', 'false');
  button.setAttribute('aria-controls', menuId);
  const wrap = h('div', { class: 'menu-wrap' }, button, menu);
  let entries = [];

  const isOpen = () => !menu.hidden;

  function close(returnFocus) {
    if (!isOpen()) return;
    menu.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    if (returnFocus) button.focus();
  }

  function focusItem(index) {
    const nodes = [...menu.children];
    if (!nodes.length) return;
    const i = (index + nodes.length) % nodes.length;
    nodes[i].focus();
  }

  function activate(index) {
    const entry = entries[index];
    if (!entry || entry.disabled) return;
    close(true);
    entry.onSelect();
  }

  function open(focusIndex) {
    entries = items();
    menu.replaceChildren(
      ...entries.map((entry, index) => {
        const radio = typeof entry.checked === 'boolean';
        return h(
          'li',
          {
            role: radio ? 'menuitemradio' : 'menuitem',
            tabindex: '-1',
            class: 'menu-item',
            'aria-checked': radio ? String(entry.checked) : null,
            'aria-disabled': entry.disabled ? 'true' : null,
            title: entry.title ?? null,
            onclick: () => activate(index),
          },
          radio ? h('span', { class: 'menu-check', 'aria-hidden': 'true' }) : null,
          entry.label,
        );
      }),
    );
    menu.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    const checked = entries.findIndex((e) => e.checked === true);
    focusItem(focusIndex ?? (checked >= 0 ? checked : 0));
  }

  button.addEventListener('click', () => (isOpen() ? close(true) : open()));
  button.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown') {
      event.preventDefault();
      open(0);
    } else if (event.key === 'ArrowUp') {
      event.preventDefault();
      open(-1);
    }
  });
  menu.addEventListener('keydown', (event) => {
    const index = [...menu.children].indexOf(document.activeElement);
    switch (event.key) {
      case 'ArrowDown':
        event.preventDefault();
        focusItem(index + 1);
        break;
      case 'ArrowUp':
        event.preventDefault();
        focusItem(index - 1);
        break;
      case 'Home':
        event.preventDefault();
        focusItem(0);
        break;
      case 'End':
        event.preventDefault();
        focusItem(-1);
        break;
      case 'Enter':
      case ' ':
        event.preventDefault();
        activate(index);
        break;
      case 'Escape':
        event.preventDefault();
        event.stopPropagation();
        close(true);
        break;
      case 'Tab':
        close(false);
        break;
      default:
    }
  });
  wrap.addEventListener('focusout', (event) => {
    if (!wrap.contains(event.relatedTarget)) close(false);
  });
  document.addEventListener('pointerdown', (event) => {
    if (!wrap.contains(event.target)) close(false);
  });
  return { element: wrap, close };
}
