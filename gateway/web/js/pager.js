// Previous/next paging over the API's opaque page tokens: the tokens of the
// pages already seen are kept, so Previous goes back without a reverse query.

import { h } from './dom.js';

export class Pager {
  /** `load(token)` fetches one page and resolves with its next_page_token. */
  constructor({ label, load }) {
    this.load = load;
    this.tokens = [''];
    this.index = 0;
    this.next = '';
    this.busy = false;
    this.previousButton = h('button', { type: 'button', class: 'button', onclick: () => this.go(-1) }, '‹ Previous');
    this.nextButton = h('button', { type: 'button', class: 'button', onclick: () => this.go(1) }, 'Next ›');
    this.position = h('span', { class: 'pager-position', 'aria-live': 'polite' });
    this.element = h('nav', { class: 'pager', 'aria-label': label }, this.previousButton, this.position, this.nextButton);
    this.show();
  }

  /** Loads the first page again (a new search). */
  async first() {
    this.tokens = [''];
    this.index = 0;
    await this.run();
  }

  async go(step) {
    const target = this.index + step;
    if (target < 0 || (step > 0 && !this.next) || this.busy) return;
    if (step > 0) this.tokens[target] = this.next;
    this.index = target;
    await this.run();
  }

  async run() {
    this.busy = true;
    this.show();
    try {
      const next = await this.load(this.tokens[this.index]);
      this.next = next ?? '';
    } catch (error) {
      this.next = '';
      throw error;
    } finally {
      this.busy = false;
      this.show();
    }
  }

  show() {
    this.previousButton.disabled = this.busy || this.index === 0;
    this.nextButton.disabled = this.busy || !this.next;
    this.position.textContent = `Page ${this.index + 1}`;
  }
}
