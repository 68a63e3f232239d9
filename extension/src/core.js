// WorkMonitor extension logic with no browser globals: URL stripping, the site rules, what one report says,
// and the Reporter state machine (coalescing, the native port, reconnect with backoff, the agent's settings).
// background.js wires it to chrome.*/browser.*; test/*.test.js drives it under `node --test`.
'use strict';

const HOST_NAME = 'com.workmonitor.host';

/// The URL without query string and fragment; '' for anything that is not an http(s) page (browser pages,
/// file:, data:, about:...), so nothing of those leaves the browser.
function stripUrl(url) {
  if (typeof url !== 'string') return '';
  const cut = url.search(/[?#]/);
  const u = cut < 0 ? url : url.slice(0, cut);
  return /^https?:\/\/[^/]/i.test(u) ? u : '';
}

/// A title with the query string and fragment cut from every word that is an address (a page without <title>
/// shows its URL as the title). An address: a word with "://", or a host (letters, digits, '-', '.', ':', with
/// a dot) then '/' before its '?' or '#'. "C#" or "Why?" stay. The agent applies the same rule
/// (tests/data/title_query_cases.json holds the cases both sides pass).
function titleWithoutUrlQueries(title) {
  if (typeof title !== 'string') return '';
  return title
    .split(/([ \t])/)
    .map((word) => {
      const cut = word.search(/[?#]/);
      if (cut < 0) return word;
      const head = word.slice(0, cut);
      const slash = head.indexOf('/');
      const host = slash > 0 ? head.slice(0, slash) : '';
      const address = head.includes('://') || (/^[A-Za-z0-9.:-]+$/.test(host) && host.includes('.'));
      return address ? head : word;
    })
    .join('');
}

/// scheme://host[:port] of an http(s) URL (user info dropped), '' otherwise.
function originOf(url) {
  const m = /^(https?):\/\/([^/?#]*)/i.exec(stripUrl(url));
  if (!m) return '';
  const authority = m[2].slice(m[2].lastIndexOf('@') + 1);
  return m[1].toLowerCase() + '://' + authority.toLowerCase();
}

/// The host of an http(s) URL in lower case, without port and trailing dot ('' if none).
function hostOf(url) {
  const o = originOf(url);
  if (!o) return '';
  let h = o.slice(o.indexOf('://') + 3);
  if (h.startsWith('[')) h = h.slice(0, h.indexOf(']') + 1);
  else if (h.includes(':')) h = h.slice(0, h.lastIndexOf(':'));
  return h.replace(/\.$/, '');
}

/// An excluded_sites entry matches that host and every subdomain, not look-alike suffixes; '*.' means the same.
function siteMatches(host, entry) {
  if (typeof host !== 'string' || typeof entry !== 'string') return false;
  const h = host.trim().toLowerCase().replace(/\.$/, '');
  let e = entry.trim().toLowerCase().replace(/\.$/, '');
  if (e.startsWith('*.')) e = e.slice(2);
  if (!h || !e) return false;
  return h === e || h.endsWith('.' + e);
}

/// Settings from an ack, checked: {domain_only: bool, excluded_sites: [string]}.
function normalizeSettings(s) {
  const out = { domain_only: false, excluded_sites: [] };
  if (!s || typeof s !== 'object') return out;
  out.domain_only = s.domain_only === true;
  if (Array.isArray(s.excluded_sites)) out.excluded_sites = s.excluded_sites.filter((x) => typeof x === 'string');
  return out;
}

/// The message for the active tab (null: no focused browser window). Incognito: nothing but the flag.
function tabMessage(tab, settings) {
  const empty = { type: 'tab', url: '', title: '', incognito: false };
  if (!tab) return empty;
  if (tab.incognito) return { type: 'tab', incognito: true };
  const s = normalizeSettings(settings);
  const url = stripUrl(tab.url);
  if (!url) return empty;
  const host = hostOf(url);
  if (s.excluded_sites.some((e) => siteMatches(host, e))) return empty;
  if (s.domain_only) return { type: 'tab', url: originOf(url), title: '', incognito: false };
  return { type: 'tab', url, title: titleWithoutUrlQueries(tab.title), incognito: false };
}

/// The host's `browser` guess from navigator.userAgentData brands (Firefox is told apart by the caller).
function browserFromBrands(brands) {
  const names = (Array.isArray(brands) ? brands : []).map((b) => String((b && b.brand) || '').toLowerCase());
  if (names.some((n) => n.includes('edge'))) return 'edge';
  if (names.some((n) => n.includes('brave'))) return 'brave';
  if (names.some((n) => n.includes('opera'))) return 'opera';
  if (names.some((n) => n === 'google chrome')) return 'chrome';
  return 'chromium';
}

/// Capped exponential backoff for reconnecting the native port: base * 2^(failures-1), at most max.
function backoffMs(failures, base = 250, max = 30000) {
  if (failures <= 0) return 0;
  return Math.min(max, base * Math.pow(2, Math.min(failures - 1, 20)));
}

/**
 * The reporter. api = {
 *   queryActive(): Promise<{url,title,incognito,loading}|null>   the active tab of the focused window, null if none
 *   connect(): {postMessage(m), onMessage(cb), onDisconnect(cb), disconnect()}   the native port (throws: failed)
 *   loadSettings(): Promise<object|undefined>, saveSettings(s): Promise   kept in extension storage
 *   setTimeout(fn, ms), clearTimeout(id), now(): ms, browser: 'chromium'|..., log(msg)  (never URLs or titles)
 * }
 * Every browser event calls changed(); reports are coalesced for debounceMs and only the latest state is
 * sent, never the same state twice on one port. While the active tab is still loading (its title may still be
 * its address, a script may still redirect it) the report waits for it, at most loadHoldMs from the burst's
 * first event. Until the agent's settings are known (first install) only an empty report goes out, to fetch
 * them.
 */
class Reporter {
  constructor(api, opts = {}) {
    this.api = api;
    this.debounceMs = opts.debounceMs ?? 150;
    this.loadHoldMs = opts.loadHoldMs ?? 750;
    this.holdUntil = null; // while a burst's tab loads, not reported before this (api.now() ms)
    this.backoffBase = opts.backoffBase ?? 250;
    this.backoffMax = opts.backoffMax ?? 30000;
    this.port = null;
    this.lastSent = null; // JSON of the last message on this port
    this.settings = null; // null: not known yet
    this.failures = 0;
    this.nextConnectAt = 0;
    this.timer = null;
    this.running = false; // a flush in progress
    this.again = false; // an event came during the flush
    this.ready = Promise.resolve(api.loadSettings ? api.loadSettings() : undefined)
      .catch(() => undefined)
      .then((s) => {
        if (s && typeof s === 'object') this.settings = normalizeSettings(s);
      });
  }

  /// Something may have changed: report the current state after the debounce.
  changed() {
    if (this.holdUntil === null) this.holdUntil = this.api.now() + this.loadHoldMs;
    if (this.timer !== null) this.api.clearTimeout(this.timer);
    this.timer = this.api.setTimeout(() => {
      this.timer = null;
      this.flush();
    }, this.debounceMs);
  }

  async flush() {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      do {
        this.again = false;
        await this.ready;
        let tab = null;
        try {
          tab = await this.api.queryActive();
        } catch (e) {
          tab = null;
        }
        const now = this.api.now();
        if (tab && tab.loading && this.holdUntil !== null && now < this.holdUntil) {
          // Its 'complete' event calls changed(); this wake-up bounds the wait if none comes.
          if (this.timer === null) {
            this.timer = this.api.setTimeout(() => {
              this.timer = null;
              this.flush();
            }, Math.min(this.debounceMs, this.holdUntil - now));
          }
          return;
        }
        this.holdUntil = null;
        const msg = this.settings ? tabMessage(tab, this.settings) : tabMessage(null);
        this.send(msg);
      } while (this.again);
    } finally {
      this.running = false;
    }
  }

  send(msg) {
    const text = JSON.stringify(msg);
    if (!this.ensurePort()) return;
    if (text === this.lastSent) return;
    try {
      this.port.postMessage(msg);
      this.lastSent = text;
    } catch (e) {
      this.dropped();
    }
  }

  /// The port, connecting if the backoff allows; otherwise a retry is armed and false returned.
  ensurePort() {
    if (this.port) return true;
    const now = this.api.now();
    if (now < this.nextConnectAt) {
      this.retryAt(this.nextConnectAt - now);
      return false;
    }
    let port;
    try {
      port = this.api.connect();
    } catch (e) {
      this.dropped();
      return false;
    }
    this.port = port;
    this.lastSent = null;
    port.onMessage((m) => this.onHostMessage(port, m));
    port.onDisconnect(() => {
      if (this.port === port) this.dropped();
    });
    try {
      port.postMessage({ type: 'hello', browser: this.api.browser || 'chromium' });
    } catch (e) {
      this.dropped();
      return false;
    }
    return true;
  }

  /// The port closed or could not be opened: back off, then report the current state again.
  dropped() {
    this.port = null;
    this.lastSent = null;
    this.failures += 1;
    const wait = backoffMs(this.failures, this.backoffBase, this.backoffMax);
    this.nextConnectAt = this.api.now() + wait;
    if (this.api.log) this.api.log('native port closed; retry in ' + wait + ' ms');
    this.retryAt(wait);
  }

  retryAt(ms) {
    if (this.timer !== null) return; // an earlier wake-up will flush anyway
    this.timer = this.api.setTimeout(() => {
      this.timer = null;
      this.flush();
    }, Math.max(ms, this.debounceMs));
  }

  onHostMessage(port, m) {
    if (port !== this.port || !m || typeof m !== 'object') return;
    if (m.type === 'ack') {
      this.failures = 0;
      const before = JSON.stringify(this.settings);
      const s = normalizeSettings(m.settings);
      if (m.settings !== undefined || this.settings === null) {
        this.settings = s;
        if (JSON.stringify(s) !== before) {
          if (this.api.saveSettings) Promise.resolve(this.api.saveSettings(s)).catch(() => {});
          this.changed();
        }
      }
    } else if (m.type === 'status' && m.agent === 'running') {
      this.failures = 0;
    } else if (m.type === 'error' && this.api.log) {
      this.api.log('host error ' + String(m.code));
    }
  }
}

const WorkMonitorCore = {
  HOST_NAME,
  stripUrl,
  titleWithoutUrlQueries,
  originOf,
  hostOf,
  siteMatches,
  normalizeSettings,
  tabMessage,
  browserFromBrands,
  backoffMs,
  Reporter,
};
if (typeof module !== 'undefined' && module.exports) module.exports = WorkMonitorCore;
else globalThis.WorkMonitorCore = WorkMonitorCore;
