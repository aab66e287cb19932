// The recording player, docked at the bottom of the page so nothing above it
// moves while it plays: play/pause, a seek slider (drag it, or use the arrow
// keys), playback speed from the "⋮" menu, and Stop, which closes it. The MP3
// streams straight from media-svc's signed URL; the browser seeks with Range
// requests. A link lives a minute: when one the browser still uses has
// expired (its next Range request fails), the player trades it for a fresh
// one (`renew`, which asks the server again whether the user may still play
// it) and goes on from where it was; a refusal stops it, in words.

import { h, icon, replace } from './dom.js';
import { menuButton } from './menu.js';
import { minutesSeconds } from './time.js';

export const SPEEDS = [0.5, 0.75, 1, 1.25, 1.5, 1.75, 2];
const KEY_STEP_SECONDS = 5;
/** A renewed link that fails this soon is not renewed again (media-svc is failing, not the link). */
const RENEW_AGAIN_AFTER_MS = 3000;

function speedLabel(rate) {
  return `${rate}×`;
}

export class Player {
  constructor(container) {
    this.container = container;
    this.opener = null;
    this.dragging = false;
    this.renew = null;
    this.renewedAt = 0;
    this.renewing = false;
    // Whether the user wants it playing (an error pauses the element, not the user).
    this.wantPlaying = false;
    this.audio = h('audio', { id: 'player-audio', preload: 'auto' });
    this.toggle = h('button', { type: 'button', class: 'icon-button player-toggle', 'aria-label': 'Pause' }, icon('pause'));
    this.title = h('span', { class: 'player-title' });
    this.detail = h('span', { class: 'player-detail' });
    this.current = h('span', { class: 'player-time', 'aria-hidden': 'true' }, '0:00');
    this.duration = h('span', { class: 'player-time', 'aria-hidden': 'true' }, '0:00');
    this.seek = h('input', {
      type: 'range',
      class: 'player-seek',
      id: 'player-seek',
      min: '0',
      max: '0',
      step: '0.1',
      value: '0',
      disabled: true,
      'aria-label': 'Position in the recording',
    });
    this.speed = h('span', { class: 'player-speed', title: 'Playback speed' }, '1×');
    this.more = h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Playback speed' }, icon('more'));
    this.menu = menuButton({
      button: this.more,
      menuLabel: 'Playback speed',
      align: 'end',
      items: () =>
        SPEEDS.map((rate) => ({
          label: speedLabel(rate),
          checked: this.audio.playbackRate === rate,
          onSelect: () => this.setSpeed(rate),
        })),
    });
    this.stopButton = h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Stop and close the player' }, icon('stop'));
    this.status = h('span', { class: 'player-status', role: 'status' });

    this.region = h(
      'section',
      { class: 'player', 'aria-label': 'Recording player', hidden: true },
      this.audio,
      this.toggle,
      h('div', { class: 'player-text' }, this.title, this.detail),
      this.current,
      this.seek,
      this.duration,
      this.speed,
      this.menu.element,
      this.stopButton,
      this.status,
    );
    container.append(this.region);
    this.wire();
  }

  wire() {
    const { audio, seek } = this;
    this.toggle.addEventListener('click', () => {
      if (audio.paused || audio.ended) this.resume();
      else {
        this.wantPlaying = false;
        audio.pause();
      }
    });
    this.stopButton.addEventListener('click', () => this.stop());
    audio.addEventListener('play', () => this.showPlaying(true));
    audio.addEventListener('pause', () => this.showPlaying(false));
    audio.addEventListener('ended', () => {
      this.wantPlaying = false;
      this.showPlaying(false);
    });
    audio.addEventListener('loadedmetadata', () => {
      seek.max = String(audio.duration || 0);
      seek.disabled = !Number.isFinite(audio.duration);
      this.duration.textContent = minutesSeconds(audio.duration);
      this.showPosition();
    });
    audio.addEventListener('timeupdate', () => {
      if (!this.dragging) this.showPosition();
    });
    audio.addEventListener('playing', () => this.say(''));
    audio.addEventListener('waiting', () => this.say('Loading…'));
    audio.addEventListener('error', () => {
      if (!audio.getAttribute('src') || this.renewing) return;
      if (this.renew && Date.now() - this.renewedAt > RENEW_AGAIN_AFTER_MS) {
        this.renewLink();
        return;
      }
      this.say('This recording could not be played. The link may have expired: stop and press Play again.');
    });
    audio.addEventListener('ratechange', () => {
      this.speed.textContent = speedLabel(audio.playbackRate);
    });

    // Seeks while the thumb is dragged; the clock does not fight the drag.
    seek.addEventListener('pointerdown', () => {
      this.dragging = true;
    });
    seek.addEventListener('input', () => {
      this.dragging = true;
      audio.currentTime = Number(seek.value);
      this.showPosition(Number(seek.value));
    });
    const release = () => {
      this.dragging = false;
    };
    seek.addEventListener('change', release);
    seek.addEventListener('pointerup', release);
    seek.addEventListener('pointercancel', release);
    seek.addEventListener('keydown', (event) => {
      const jumps = {
        ArrowLeft: -KEY_STEP_SECONDS,
        ArrowDown: -KEY_STEP_SECONDS,
        ArrowRight: KEY_STEP_SECONDS,
        ArrowUp: KEY_STEP_SECONDS,
        PageDown: -30,
        PageUp: 30,
      };
      let to = null;
      if (event.key in jumps) to = audio.currentTime + jumps[event.key];
      else if (event.key === 'Home') to = 0;
      else if (event.key === 'End') to = audio.duration;
      if (to === null || !Number.isFinite(audio.duration)) return;
      event.preventDefault();
      audio.currentTime = Math.min(Math.max(to, 0), audio.duration);
      this.showPosition();
    });
  }

  get isOpen() {
    return !this.region.hidden;
  }

  /**
   * Starts `url` playing; `opener` gets focus back when the player closes;
   * `renew(url)` resolves with a fresh link for the same playback (or
   * rejects with the reason it may not go on).
   */
  open({ url, title, detail, opener, renew }) {
    this.renew = renew ?? null;
    this.renewedAt = 0;
    this.markRow(false);
    this.opener = opener ?? null;
    this.markRow(true);
    const rate = this.audio.playbackRate || 1;
    this.audio.pause();
    this.seek.value = '0';
    this.seek.max = '0';
    this.seek.disabled = true;
    this.current.textContent = '0:00';
    this.duration.textContent = '0:00';
    replace(this.title, title);
    replace(this.detail, detail ?? '');
    this.region.hidden = false;
    document.body.classList.add('player-open');
    this.say('Loading…');
    this.audio.src = url;
    this.audio.defaultPlaybackRate = rate;
    this.audio.playbackRate = rate;
    this.showPlaying(true);
    this.toggle.focus();
    this.resume();
  }

  /** A fresh link for the expired one, played on from the same position. */
  async renewLink() {
    const { audio } = this;
    const at = audio.currentTime;
    const playing = this.wantPlaying;
    const expired = audio.getAttribute('src');
    this.renewing = true;
    this.say('Loading…');
    try {
      const fresh = await this.renew(expired);
      // Stopped, or another recording opened, meanwhile.
      if (audio.getAttribute('src') !== expired) return;
      this.renewedAt = Date.now();
      audio.src = fresh;
      // Before the metadata arrives this is where playback will start.
      audio.currentTime = at;
      if (playing) this.resume();
      else this.showPlaying(false);
    } catch (error) {
      if (audio.getAttribute('src') !== expired) return;
      audio.pause();
      this.showPlaying(false);
      this.say(error?.message ?? 'This recording can no longer be played.');
    } finally {
      this.renewing = false;
    }
  }

  resume() {
    this.wantPlaying = true;
    this.audio.play().catch((error) => {
      if (error?.name === 'NotAllowedError') {
        this.wantPlaying = false;
        this.say('Press Play to start the recording.');
      }
      else if (error?.name !== 'AbortError') this.say('This recording could not be played.');
      this.showPlaying(false);
    });
  }

  setSpeed(rate) {
    this.audio.defaultPlaybackRate = rate;
    this.audio.playbackRate = rate;
    // `ratechange` arrives a task later; the label should not lag the choice.
    this.speed.textContent = speedLabel(rate);
  }

  /** Stops playback and closes the player. */
  stop() {
    if (!this.isOpen) return;
    this.wantPlaying = false;
    this.audio.pause();
    this.audio.removeAttribute('src');
    this.audio.load();
    this.renew = null;
    this.menu.close(false);
    this.region.hidden = true;
    document.body.classList.remove('player-open');
    this.markRow(false);
    this.say('');
    const back = this.opener?.isConnected ? this.opener : document.querySelector('main h1, main h2');
    if (back) {
      if (!back.hasAttribute('tabindex') && !back.matches('button, a, input')) back.setAttribute('tabindex', '-1');
      back.focus();
    }
    this.opener = null;
  }

  /** Marks the table row whose recording is in the player. */
  markRow(on) {
    const row = this.opener?.closest('tr.call') ?? this.opener?.closest('tr.details')?.previousElementSibling;
    row?.classList.toggle('playing', on);
  }

  showPlaying(playing) {
    this.toggle.setAttribute('aria-label', playing ? 'Pause' : 'Play');
    this.toggle.replaceChildren(icon(playing ? 'pause' : 'play'));
  }

  showPosition(at = this.audio.currentTime) {
    const duration = this.audio.duration;
    if (!this.dragging) this.seek.value = String(at);
    this.current.textContent = minutesSeconds(at);
    this.seek.setAttribute(
      'aria-valuetext',
      `${minutesSeconds(at)} of ${Number.isFinite(duration) ? minutesSeconds(duration) : 'unknown length'}`,
    );
  }

  say(text) {
    this.status.textContent = text;
  }
}
