// Building DOM nodes without a framework: h() makes an element from a tag,
// attributes and children; everything user-visible goes in as text nodes, so
// data from the server is never parsed as HTML.

/**
 * h('button', {class: 'x', onclick: fn, 'aria-label': 'Play'}, 'text', child)
 * Attribute values: functions for on* become listeners; true sets a boolean
 * attribute; false/null/undefined leave it out.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      el.className = value;
    } else if (name === 'text') {
      el.textContent = value;
    } else if (name === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(name, '');
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Inline SVG icon (the page loads nothing from outside, fonts included). */
export function icon(name) {
  const paths = {
    play: 'M4 2.5v11l9-5.5z',
    pause: 'M3.5 2h3v12h-3zM9.5 2h3v12h-3z',
    stop: 'M3 3h10v10H3z',
    more: 'M8 2.5a1.5 1.5 0 1 1 0 3 1.5 1.5 0 0 1 0-3zm0 4a1.5 1.5 0 1 1 0 3 1.5 1.5 0 0 1 0-3zm0 4a1.5 1.5 0 1 1 0 3 1.5 1.5 0 0 1 0-3z',
    chevron: 'M5.5 3 10.5 8l-5 5-1-1 4-4-4-4z',
  };
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('width', '16');
  svg.setAttribute('height', '16');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.classList.add('icon', `icon-${name}`);
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', paths[name]);
  path.setAttribute('fill', 'currentColor');
  svg.append(path);
  return svg;
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let uid = 0;
/** A page-unique id for label/aria wiring. */
export function newId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}
