// The extension's background: Chromium's service worker and Firefox's background script (one file). It wires
// the browser's events to WorkMonitorCore.Reporter (src/core.js), which holds all logic.
'use strict';
/* global chrome, browser, importScripts */
if (typeof WorkMonitorCore === 'undefined' && typeof importScripts === 'function') importScripts('core.js');

const ext = typeof browser !== 'undefined' && browser.runtime ? browser : chrome;
const isFirefox = typeof browser !== 'undefined' && !!(browser.runtime && browser.runtime.getBrowserInfo);
const SETTINGS_KEY = 'wm_settings';

const api = {
  browser: isFirefox ? 'firefox' : WorkMonitorCore.browserFromBrands(globalThis.navigator?.userAgentData?.brands),
  async queryActive() {
    // Firefox ignores windowTypes here and logs a deprecation error for it on every call (since Firefox 62).
    const query = isFirefox ? { populate: true } : { populate: true, windowTypes: ['normal', 'popup'] };
    const win = await ext.windows.getLastFocused(query);
    if (!win || !win.focused) return null;
    const tab = (win.tabs || []).find((t) => t.active);
    if (!tab) return null;
    return {
      url: tab.url || '',
      title: tab.title || '',
      incognito: !!(tab.incognito || win.incognito),
      loading: tab.status === 'loading',
    };
  },
  connect() {
    const port = ext.runtime.connectNative(WorkMonitorCore.HOST_NAME);
    return {
      postMessage: (m) => port.postMessage(m),
      onMessage: (cb) => port.onMessage.addListener(cb),
      onDisconnect: (cb) =>
        port.onDisconnect.addListener(() => {
          void ext.runtime.lastError; // read, so Chromium does not log it as unchecked
          cb();
        }),
      disconnect: () => port.disconnect(),
    };
  },
  async loadSettings() {
    const got = await ext.storage.local.get(SETTINGS_KEY);
    return got && got[SETTINGS_KEY];
  },
  saveSettings: (s) => ext.storage.local.set({ [SETTINGS_KEY]: s }),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id),
  now: () => Date.now(),
  log: (msg) => console.info('WorkMonitor: ' + msg),
};

const reporter = new WorkMonitorCore.Reporter(api);
const changed = () => reporter.changed();

ext.tabs.onActivated.addListener(changed);
ext.tabs.onUpdated.addListener((tabId, info, tab) => {
  if (tab && tab.active && (info.url !== undefined || info.title !== undefined || info.status === 'complete')) changed();
});
ext.tabs.onRemoved.addListener(changed);
ext.windows.onFocusChanged.addListener(changed); // WINDOW_ID_NONE included: queryActive then finds no focus
ext.windows.onRemoved.addListener(changed);
ext.runtime.onStartup.addListener(changed);
ext.runtime.onInstalled.addListener(changed);
changed(); // every (re)start of the worker reports the current state
