// Unit tests of src/core.js under `node --test` (no npm packages). Registered in CTest by tests/browser.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const core = require('../src/core.js');

test('stripUrl cuts query and fragment and refuses non-web URLs', () => {
  assert.equal(core.stripUrl('https://a.example/p/q?session=s3cr3t#part'), 'https://a.example/p/q');
  assert.equal(core.stripUrl('http://a.example#x?y'), 'http://a.example');
  assert.equal(core.stripUrl('HTTPS://A.example/'), 'HTTPS://A.example/');
  for (const u of ['chrome://settings', 'about:blank', 'file:///etc/passwd', 'data:text/html,hi', '', undefined, 'https://'])
    assert.equal(core.stripUrl(u), '', String(u));
});

test('originOf and hostOf drop user info, port and case', () => {
  assert.equal(core.originOf('https://user:pw@Docs.Example.com:8443/x?y'), 'https://docs.example.com:8443');
  assert.equal(core.hostOf('https://user:pw@Docs.Example.com:8443/x'), 'docs.example.com');
  assert.equal(core.hostOf('http://[::1]:8080/'), '[::1]');
  assert.equal(core.hostOf('chrome://newtab'), '');
});

// The rule is defined once by its cases: tests/data/excluded_sites_cases.json once the agent's side has it.
const shared = path.join(__dirname, '..', '..', 'tests', 'data', 'excluded_sites_cases.json');
const localCases = [
  { host: 'bank.example', entry: 'bank.example', match: true },
  { host: 'www.bank.example', entry: 'bank.example', match: true },
  { host: 'a.b.bank.example', entry: '*.bank.example', match: true },
  { host: 'bank.example', entry: '*.bank.example', match: true },
  { host: 'mybank.example', entry: 'bank.example', match: false },
  { host: 'bank.example.evil', entry: 'bank.example', match: false },
  { host: 'BANK.Example', entry: 'bank.EXAMPLE', match: true },
  { host: 'example', entry: 'bank.example', match: false },
];
test('siteMatches: the host and its subdomains, never look-alikes', () => {
  const cases = fs.existsSync(shared) ? JSON.parse(fs.readFileSync(shared, 'utf8')) : localCases;
  assert.ok(cases.length > 0);
  for (const c of cases) assert.equal(core.siteMatches(c.host, c.entry), c.match, JSON.stringify(c));
});

// The same cases the agent's titleWithoutUrlQueries passes (tests/data/title_query_cases.json).
test('titleWithoutUrlQueries: queries and fragments of addresses in a title are cut, other words kept', () => {
  const cases = JSON.parse(
    fs.readFileSync(path.join(__dirname, '..', '..', 'tests', 'data', 'title_query_cases.json'), 'utf8'));
  assert.ok(cases.length >= 10);
  for (const c of cases) assert.equal(core.titleWithoutUrlQueries(c.title), c.kept, JSON.stringify(c));
  assert.equal(core.titleWithoutUrlQueries(undefined), '');
});

test("tabMessage: a title that is the page's address loses its query before it leaves the browser", () => {
  assert.deepEqual(core.tabMessage({ url: 'https://a.example/p?t=secret', title: 'a.example/p?t=secret' }, {}), {
    type: 'tab', url: 'https://a.example/p', title: 'a.example/p', incognito: false,
  });
});

test('tabMessage: incognito says nothing but the flag', () => {
  const m = core.tabMessage({ url: 'https://private.example/x', title: 'Secret', incognito: true }, {});
  assert.deepEqual(m, { type: 'tab', incognito: true });
});

test('tabMessage: query stripped, title kept; browser pages and no window are empty', () => {
  assert.deepEqual(core.tabMessage({ url: 'https://a.example/p?q=1#f', title: 'T' }, {}), {
    type: 'tab', url: 'https://a.example/p', title: 'T', incognito: false,
  });
  const empty = { type: 'tab', url: '', title: '', incognito: false };
  assert.deepEqual(core.tabMessage({ url: 'chrome://newtab/', title: 'New Tab' }, {}), empty);
  assert.deepEqual(core.tabMessage(null, {}), empty);
});

test('tabMessage: domain_only sends the origin only; excluded sites send nothing about the site', () => {
  const s = { domain_only: true, excluded_sites: ['bank.example'] };
  assert.deepEqual(core.tabMessage({ url: 'https://docs.example/guide?x', title: 'Guide' }, s), {
    type: 'tab', url: 'https://docs.example', title: '', incognito: false,
  });
  assert.deepEqual(core.tabMessage({ url: 'https://www.bank.example/acct', title: 'Account' }, s), {
    type: 'tab', url: '', title: '', incognito: false,
  });
  assert.equal(core.normalizeSettings({ domain_only: 'yes', excluded_sites: [1, 'a'] }).domain_only, false);
  assert.deepEqual(core.normalizeSettings({ excluded_sites: [1, 'a'] }).excluded_sites, ['a']);
});

test('browserFromBrands', () => {
  assert.equal(core.browserFromBrands([{ brand: 'Chromium' }, { brand: 'Not.A/Brand' }]), 'chromium');
  assert.equal(core.browserFromBrands([{ brand: 'Chromium' }, { brand: 'Google Chrome' }]), 'chrome');
  assert.equal(core.browserFromBrands([{ brand: 'Microsoft Edge' }]), 'edge');
  assert.equal(core.browserFromBrands(undefined), 'chromium');
});

test('backoffMs doubles from the base up to the cap', () => {
  assert.deepEqual([0, 1, 2, 3, 4].map((n) => core.backoffMs(n, 250, 1000)), [0, 250, 500, 1000, 1000]);
  assert.equal(core.backoffMs(1000, 250, 30000), 30000);
});

// A fake browser + host with a manual clock for the Reporter.
function rig(opts = {}) {
  const settings = 'settings' in opts ? opts.settings : { domain_only: false, excluded_sites: [] };
  const failConnect = opts.failConnect || 0;
  const r = { t: 0, timers: [], ports: [], sent: [], saved: [], tab: null, connects: 0, failConnect, stored: settings };
  r.api = {
    browser: 'chromium',
    queryActive: async () => r.tab,
    connect() {
      r.connects += 1;
      if (r.failConnect > 0) {
        r.failConnect -= 1;
        throw new Error('no host');
      }
      const port = { msgCb: null, discCb: null, open: true, sent: [] };
      port.postMessage = (m) => {
        port.sent.push(m);
        r.sent.push(m);
      };
      port.onMessage = (cb) => (port.msgCb = cb);
      port.onDisconnect = (cb) => (port.discCb = cb);
      port.disconnect = () => (port.open = false);
      r.ports.push(port);
      return port;
    },
    loadSettings: async () => r.stored,
    saveSettings: async (s) => r.saved.push(s),
    setTimeout: (fn, ms) => {
      const id = r.timers.length + 1;
      r.timers.push({ id, at: r.t + ms, fn, live: true });
      return id;
    },
    clearTimeout: (id) => {
      const x = r.timers.find((y) => y.id === id);
      if (x) x.live = false;
    },
    now: () => r.t,
  };
  // Advances the clock, running due timers and letting their promises settle.
  r.advance = async (ms) => {
    const end = r.t + ms;
    for (;;) {
      await new Promise((res) => setImmediate(res));
      const due = r.timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      r.t = Math.max(r.t, due.at);
      due.live = false;
      due.fn();
    }
    r.t = end;
    await new Promise((res) => setImmediate(res));
  };
  r.tabs = () => r.sent.filter((m) => m.type === 'tab');
  return r;
}

test('Reporter: a burst (redirect chain) is one report of the latest state, never resent when unchanged', async () => {
  const r = rig();
  const rep = new core.Reporter(r.api, { debounceMs: 150 });
  for (const u of ['https://a.example/1', 'https://a.example/2?r=1', 'https://b.example/final?token=x#y']) {
    r.tab = { url: u, title: 'T' };
    rep.changed();
    await r.advance(50);
  }
  await r.advance(200);
  assert.deepEqual(r.sent[0], { type: 'hello', browser: 'chromium' });
  assert.deepEqual(r.tabs(), [{ type: 'tab', url: 'https://b.example/final', title: 'T', incognito: false }]);
  rep.changed();
  await r.advance(200);
  assert.equal(r.tabs().length, 1, 'same state: nothing resent');
  r.tab = null; // focus went to another app (WINDOW_ID_NONE)
  rep.changed();
  await r.advance(200);
  assert.deepEqual(r.tabs()[1], { type: 'tab', url: '', title: '', incognito: false });
});

test('Reporter: a loading tab is reported once it has loaded, its title settled, or after loadHoldMs', async () => {
  const r = rig();
  const rep = new core.Reporter(r.api, { debounceMs: 150, loadHoldMs: 750 });
  // Navigation starts: the tab shows its address as its title while it loads.
  r.tab = { url: 'https://a.example/docs?s=1', title: 'a.example/docs?s=1', loading: true };
  rep.changed();
  await r.advance(400);
  assert.equal(r.tabs().length, 0, 'nothing while it loads');
  r.tab = { url: 'https://a.example/docs?s=1', title: 'Docs', loading: false }; // status 'complete'
  rep.changed();
  await r.advance(200);
  assert.deepEqual(r.tabs(), [{ type: 'tab', url: 'https://a.example/docs', title: 'Docs', incognito: false }]);
  // A page that never finishes loading is reported all the same, within loadHoldMs + debounceMs.
  r.tab = { url: 'https://b.example/stream', title: 'b.example/stream', loading: true };
  rep.changed();
  await r.advance(700);
  assert.equal(r.tabs().length, 1);
  await r.advance(200);
  assert.equal(r.tabs().length, 2);
  assert.equal(r.tabs()[1].url, 'https://b.example/stream');
  // The hold is per burst: the next event after a report starts a new one.
  r.tab = { url: 'https://c.example/', title: 'c.example', loading: true };
  rep.changed();
  await r.advance(600);
  assert.equal(r.tabs().length, 2);
  await r.advance(300);
  assert.equal(r.tabs().length, 3);
});

test('Reporter: the port drops → reconnect with backoff on the next event, current state resent', async () => {
  const r = rig();
  const rep = new core.Reporter(r.api, { debounceMs: 100, backoffBase: 1000, backoffMax: 4000 });
  r.tab = { url: 'https://a.example/x', title: 'A' };
  rep.changed();
  await r.advance(150);
  assert.equal(r.connects, 1);
  r.failConnect = 2;
  r.ports[0].discCb(); // the host exited
  await r.advance(900);
  assert.equal(r.connects, 1, 'not before the backoff');
  await r.advance(200); // 1000 ms: attempt 2 fails, next wait 2000
  assert.equal(r.connects, 2);
  rep.changed(); // an event inside the backoff does not hammer the host
  await r.advance(500);
  assert.equal(r.connects, 2);
  await r.advance(1600); // attempt 3 fails, wait 4000
  assert.equal(r.connects, 3);
  await r.advance(4100);
  assert.equal(r.connects, 4);
  assert.equal(r.ports.length, 2);
  assert.deepEqual(r.ports[1].sent, [
    { type: 'hello', browser: 'chromium' },
    { type: 'tab', url: 'https://a.example/x', title: 'A', incognito: false },
  ]);
  r.ports[1].msgCb({ type: 'ack', v: 1, recording: true });
  assert.equal(rep.failures, 0, 'an ack resets the backoff');
});

test('Reporter: status not_running is normal; nothing is resent by the extension', async () => {
  const r = rig();
  const rep = new core.Reporter(r.api, { debounceMs: 100 });
  r.tab = { url: 'https://a.example/x', title: 'A' };
  rep.changed();
  await r.advance(150);
  r.ports[0].msgCb({ type: 'status', v: 1, agent: 'not_running', retry_in_ms: 250 });
  r.ports[0].msgCb({ type: 'status', v: 1, agent: 'running' });
  await r.advance(1000);
  assert.equal(r.tabs().length, 1);
  assert.equal(r.connects, 1);
});

test('Reporter: settings from an ack are applied at once and stored for a restarted worker', async () => {
  const r = rig();
  const rep = new core.Reporter(r.api, { debounceMs: 100 });
  r.tab = { url: 'https://www.bank.example/acct?id=1', title: 'Account' };
  rep.changed();
  await r.advance(150);
  assert.equal(r.tabs()[0].url, 'https://www.bank.example/acct');
  r.ports[0].msgCb({ type: 'ack', v: 1, recording: true, settings: { domain_only: false, excluded_sites: ['*.bank.example'] } });
  await r.advance(150);
  assert.deepEqual(r.tabs()[1], { type: 'tab', url: '', title: '', incognito: false });
  assert.deepEqual(r.saved, [{ domain_only: false, excluded_sites: ['*.bank.example'] }]);
  // A new worker starts with what was stored.
  const r2 = rig({ settings: r.saved[0] });
  r2.tab = r.tab;
  new core.Reporter(r2.api, { debounceMs: 100 }).changed();
  await r2.advance(150);
  assert.deepEqual(r2.tabs(), [{ type: 'tab', url: '', title: '', incognito: false }]);
});

test('Reporter: before any settings are known only an empty report goes out, then the real one', async () => {
  const r = rig({ settings: undefined });
  const rep = new core.Reporter(r.api, { debounceMs: 100 });
  r.tab = { url: 'https://bank.example/', title: 'Bank' };
  rep.changed();
  await r.advance(150);
  assert.deepEqual(r.tabs(), [{ type: 'tab', url: '', title: '', incognito: false }]);
  r.ports[0].msgCb({ type: 'ack', v: 1, recording: false, settings: { excluded_sites: ['bank.example'] } });
  r.tab = { url: 'https://docs.example/a', title: 'Docs' };
  await r.advance(150);
  assert.deepEqual(r.tabs()[1], { type: 'tab', url: 'https://docs.example/a', title: 'Docs', incognito: false });
  // An agent that sends no settings: the defaults are used.
  const r3 = rig({ settings: undefined });
  const rep3 = new core.Reporter(r3.api, { debounceMs: 100 });
  r3.tab = { url: 'https://docs.example/b', title: 'B' };
  rep3.changed();
  await r3.advance(150);
  r3.ports[0].msgCb({ type: 'ack', v: 1, recording: false });
  await r3.advance(150);
  assert.equal(r3.tabs()[1].url, 'https://docs.example/b');
});

test('Reporter: an incognito tab never has its URL or title sent', async () => {
  const r = rig();
  const rep = new core.Reporter(r.api, { debounceMs: 100 });
  r.tab = { url: 'https://private.example/inbox?x', title: 'Private inbox', incognito: true };
  rep.changed();
  await r.advance(150);
  assert.deepEqual(r.tabs(), [{ type: 'tab', incognito: true }]);
  assert.ok(!JSON.stringify(r.sent).includes('private'));
});
