// Reusable rig for the extension's end-to-end tests and benchmarks (bench/browser/): Xvfb + openbox, the real
// workmonitor-agent (local-only, auto-tracking, consent pre-approved, temp HOME), the real workmonitor-nmhost
// registered in Chromium's default user location, Debian's Chromium with the extension (Playwright), and a
// loopback page server. Every process started here is ended by close().
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const SOURCE_DIR = process.env.WM_SOURCE_DIR || path.resolve(__dirname, '..', '..');
const EXTENSION_DIR = path.join(SOURCE_DIR, 'extension');
const EXTENSION_ID = 'epdgaaidonekigjopbgbfadelgffdhhi';
const CHROMIUM = process.env.WM_CHROMIUM || '/usr/bin/chromium';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitUntil(fn, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await sleep(100);
  }
}

function loadPlaywright() {
  try {
    return require('playwright-core');
  } catch (e) {
    throw new Error('playwright-core is missing: run `npm ci` in tests/browser (scripts/test.sh does)');
  }
}

class Rig {
  constructor(opts = {}) {
    this.opts = opts;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wm-browser-e2e-'));
    this.home = path.join(this.dir, 'home');
    this.socket = path.join(this.dir, 'run', 'agent.sock');
    this.procs = [];
    fs.mkdirSync(this.home, { recursive: true });
    fs.mkdirSync(path.dirname(this.socket), { recursive: true, mode: 0o700 });
    this.agentBin = process.env.WM_AGENT_BINARY;
    this.hostBin = process.env.WM_NMHOST_BINARY;
    if (!this.agentBin || !this.hostBin) throw new Error('WM_AGENT_BINARY and WM_NMHOST_BINARY must be set');
    // Browsers start the host by its absolute path (and browser-host install insists on one).
    this.agentBin = path.resolve(this.agentBin);
    this.hostBin = path.resolve(this.hostBin);
  }

  env(extra = {}) {
    return {
      PATH: process.env.PATH,
      HOME: this.home,
      DISPLAY: this.display,
      XDG_CONFIG_HOME: path.join(this.home, '.config'),
      XDG_STATE_HOME: path.join(this.home, '.local', 'state'),
      XDG_RUNTIME_DIR: path.join(this.dir, 'xdg-run'),
      WORKMONITOR_SOCKET: this.socket,
      WORKMONITOR_NMHOST_LOG: 'info',
      ...extra,
    };
  }

  spawnLogged(name, argv, env) {
    const log = fs.openSync(path.join(this.dir, name + '.log'), 'a');
    const p = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', log, log] });
    fs.closeSync(log);
    // A program that cannot start (missing, not executable) is said in its log, not an uncaught crash that
    // leaves the rest of the rig running.
    p.on('error', (e) => fs.appendFileSync(path.join(this.dir, name + '.log'), 'cannot start ' + argv[0] + ': ' + e.message + '\n'));
    this.procs.push(p);
    return p;
  }
  logOf(name) {
    try {
      return fs.readFileSync(path.join(this.dir, name + '.log'), 'utf8');
    } catch (e) {
      return '';
    }
  }

  /// Xvfb on a free display (-displayfd) and openbox, which keeps _NET_ACTIVE_WINDOW.
  async startDesktop() {
    const xvfb = spawn('Xvfb', ['-displayfd', '3', '-noreset', '-nolisten', 'tcp', '-screen', '0', '1280x1024x24'], {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
    });
    this.procs.push(xvfb);
    const num = await new Promise((resolve, reject) => {
      let buf = '';
      xvfb.stdio[3].on('data', (d) => {
        buf += d;
        if (buf.includes('\n')) resolve(buf.trim());
      });
      xvfb.on('exit', () => reject(new Error('Xvfb exited')));
      setTimeout(() => reject(new Error('Xvfb did not report a display')), 15000);
    });
    this.display = ':' + num;
    this.spawnLogged('openbox', ['openbox', '--sm-disable'], this.env());
    await waitUntil(() => this.x(['xprop', '-root', '_NET_SUPPORTING_WM_CHECK']).includes('window id'), 10000, 'openbox');
  }
  x(argv) {
    try {
      return execFileSync(argv[0], argv.slice(1), { env: this.env(), encoding: 'utf8', timeout: 10000, stdio: ['ignore', 'pipe', 'ignore'] });
    } catch (e) {
      return '';
    }
  }

  /// agent.json: local-only, auto-tracking, consent pre-approved, nobody idle; `config` adds keys.
  async startAgent(config = {}) {
    const cfg = path.join(this.dir, 'agent.json');
    fs.writeFileSync(cfg, JSON.stringify({
      consent_preapproved: true, auto_tracking: true, idle_threshold_s: 3600, heartbeat_s: 1, pulse_s: 1,
      screenshots_enabled: false, ...this.opts.agentConfig, ...config,
    }));
    this.agent = this.spawnLogged('agent', [this.agentBin, '--state-dir', path.join(this.dir, 'state'), '--socket',
      this.socket, '--config', cfg, 'run', '--local-only'], this.env());
    await waitUntil(() => this.call('status').then(() => true, () => false), 15000, 'the agent');
  }
  async stopAgent() {
    const a = this.agent;
    if (!a || a.exitCode !== null) return;
    const done = new Promise((r) => a.once('exit', r));
    a.kill('SIGTERM');
    let timer;
    await Promise.race([done, new Promise((r) => { timer = setTimeout(r, 10000); })]);
    clearTimeout(timer); // a pending 10 s timer would keep the test process alive after the test
    this.agent = null;
  }

  /// One request on the agent's control socket (JSON lines).
  call(cmd, args = {}) {
    return new Promise((resolve, reject) => {
      const s = net.connect(this.socket);
      let buf = '';
      s.setTimeout(10000, () => s.destroy(new Error('timeout')));
      s.on('error', reject);
      s.on('connect', () => s.write(JSON.stringify({ v: 1, id: 1, cmd, args }) + '\n'));
      s.on('data', (d) => {
        buf += d;
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        s.end();
        const r = JSON.parse(buf.slice(0, nl));
        if (r.ok === false) reject(new Error(cmd + ': ' + JSON.stringify(r.error)));
        else resolve(r.result !== undefined ? r.result : r);
      });
    });
  }
  /// `workmonitor-agent report --json` (today), parsed.
  report() {
    const out = execFileSync(this.agentBin, ['--socket', this.socket, 'report', '--json'], { env: this.env(), encoding: 'utf8' });
    return JSON.parse(out);
  }
  /// The website spans of today's report, in order.
  sites() {
    return this.report().websites_timeline || [];
  }
  /// The outbox's website records in order, data parsed (url and title are only there, not in the report).
  /// Read with sqlite3 after stopAgent().
  storedSites() {
    const db = path.join(this.dir, 'state', 'outbox.db');
    const out = execFileSync('sqlite3', ['-json', db,
      "SELECT id, start_ms, end_ms, data FROM records WHERE kind = 'website_usage' ORDER BY start_ms"], { encoding: 'utf8' });
    return (out.trim() ? JSON.parse(out) : []).map((r) => ({ ...r, data: JSON.parse(r.data) }));
  }
  /// The app-usage records (window titles), read like storedSites().
  storedApps() {
    const db = path.join(this.dir, 'state', 'outbox.db');
    const out = execFileSync('sqlite3', ['-json', db,
      "SELECT id, start_ms, end_ms, data FROM records WHERE kind = 'app_usage' ORDER BY start_ms"], { encoding: 'utf8' });
    return (out.trim() ? JSON.parse(out) : []).map((r) => ({ ...r, data: JSON.parse(r.data) }));
  }
  outboxBytes() {
    let s = '';
    for (const f of ['outbox.db', 'outbox.db-wal']) {
      try {
        s += fs.readFileSync(path.join(this.dir, 'state', f), 'latin1');
      } catch (e) { /* absent */ }
    }
    return s;
  }

  /// The host's manifest for this user's Chromium, written by the agent's own `browser-host install` (the
  /// command a person or the package runs), then checked with `browser-host status`.
  registerHost() {
    const run = (...args) => execFileSync(this.agentBin, ['browser-host', ...args, '--browser', 'chromium'],
      { env: this.env(), encoding: 'utf8' });
    run('install', '--host-path', this.hostBin);
    const st = JSON.parse(run('status', '--json'));
    if (!st.browsers[0].installed) throw new Error('browser-host status: ' + JSON.stringify(st));
    const manifest = JSON.parse(fs.readFileSync(st.browsers[0].manifest, 'utf8'));
    if (!manifest.allowed_origins.includes('chrome-extension://' + EXTENSION_ID + '/'))
      throw new Error('the manifest does not allow the extension: ' + JSON.stringify(manifest));
  }

  /// Pages on loopback: http://<name>.test:<port>/<path> (Chromium maps *.test to 127.0.0.1).
  async startPages() {
    this.server = http.createServer((req, res) => {
      const u = new URL(req.url, 'http://x');
      const title = u.searchParams.get('t') || ('Page ' + u.pathname);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><title>' + title.replace(/[<&]/g, '') + '</title><p>' + u.pathname);
    });
    await new Promise((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = this.server.address().port;
  }
  url(host, p) {
    return 'http://' + host + ':' + this.port + p;
  }

  /// Chromium with the extension on this rig's profile; restore: the last session's tabs come back (what a
  /// person restarting the browser gets with "Continue where you left off").
  async startBrowser({ restore = false } = {}) {
    const { chromium } = loadPlaywright();
    const args = ['--load-extension=' + EXTENSION_DIR, '--disable-extensions-except=' + EXTENSION_DIR,
      '--host-resolver-rules=MAP *.test 127.0.0.1', '--no-first-run', '--disable-features=DisableLoadExtensionCommandLineSwitch'];
    if (restore) args.push('--restore-last-session');
    if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');
    this.context = await chromium.launchPersistentContext(path.join(this.home, '.config', 'chromium'), {
      executablePath: CHROMIUM, headless: false, args, env: this.env(), viewport: null,
      ignoreDefaultArgs: ['--disable-extensions', '--disable-component-extensions-with-background-pages'],
    });
    this.worker = this.context.serviceWorkers()[0] || await this.context.waitForEvent('serviceworker', { timeout: 15000 });
    if (!this.worker.url().startsWith('chrome-extension://' + EXTENSION_ID + '/'))
      throw new Error('unexpected worker ' + this.worker.url());
    this.page = this.context.pages()[0] || await this.context.newPage();
    return this.page;
  }
  /// Quits the browser the way a person does (its session is saved); its host exits with it.
  async closeBrowser() {
    await this.context.close();
    this.context = null;
  }
  /// The browser's X window, activated (openbox), so the agent sees Chromium in front.
  async focusBrowser() {
    const id = await waitUntil(() => this.x(['xdotool', 'search', '--onlyvisible', '--class', 'chromium']).trim().split('\n').pop(), 10000, 'the Chromium window');
    this.x(['xdotool', 'windowactivate', '--sync', id]);
    return id;
  }
  /// An xterm in front of the browser.
  async focusXterm() {
    if (!this.xterm) {
      this.xterm = this.spawnLogged('xterm', ['xterm', '-T', 'Other app', '-e', 'sleep', '600'], this.env());
    }
    const id = await waitUntil(() => this.x(['xdotool', 'search', '--onlyvisible', '--name', '^Other app$']).trim(), 10000, 'the xterm');
    this.x(['xdotool', 'windowactivate', '--sync', id]);
  }
  /// A window of a new off-the-record browser context (what an incognito window is), through the browser's
  /// DevTools protocol; the extension is not allowed there.
  async openPrivateWindow(url) {
    const cdp = await this.context.browser().newBrowserCDPSession();
    const { browserContextId } = await cdp.send('Target.createBrowserContext');
    await cdp.send('Target.createTarget', { url, browserContextId, newWindow: true });
    return cdp;
  }
  /// Stops every service worker (DevTools protocol), as Chromium does after ~30 s idle.
  async stopWorkers() {
    const cdp = await this.context.newCDPSession(this.page);
    await cdp.send('ServiceWorker.enable');
    await cdp.send('ServiceWorker.stopAllWorkers');
    await cdp.detach();
  }

  /// Waits until the agent's status says a website span is (or is not) open.
  async recording(yes, timeoutMs = 5000) {
    return waitUntil(async () => {
      const st = await this.call('status');
      return (st.website && st.website.recording) === yes;
    }, timeoutMs, 'website recording=' + yes);
  }

  async close() {
    if (this.context) await this.context.close().catch(() => {});
    if (this.server) this.server.close();
    await this.stopAgent().catch(() => {});
    for (const p of this.procs.reverse()) if (p.exitCode === null) p.kill('SIGKILL');
    if (!process.env.WM_KEEP) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/// A scenario's usual start: desktop, pages, agent (with agentConfig), host, browser in front.
async function start(rig, agentConfig = {}, browserOpts = {}) {
  await rig.startDesktop();
  await rig.startPages();
  await rig.startAgent(agentConfig);
  rig.registerHost();
  const page = await rig.startBrowser(browserOpts);
  await rig.focusBrowser();
  return page;
}

/// Until the agent's status shows an open website span of `domain`.
async function waitDomain(rig, domain, timeoutMs = 5000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const st = await rig.call('status');
    if (st.website && st.website.recording && st.website.domain === domain) return;
    if (Date.now() > end) throw new Error('no span for ' + domain + ': ' + JSON.stringify(st.website));
    await sleep(100);
  }
}

/// `node <script> <Case>`: runs cases[Case] on makeRig(), prints passed/FAILED with the agent's log tail (and
/// moreLog(rig)'s text, if given), closes the rig. The exit code says the result.
async function runCase(script, cases, makeRig, moreLog) {
  const name = process.argv[2];
  if (!cases[name]) {
    console.error('usage: ' + script + ' <' + Object.keys(cases).join('|') + '>');
    process.exit(2);
  }
  const rig = makeRig();
  const t0 = Date.now();
  try {
    await cases[name](rig);
    console.log(name + ': passed in ' + (Date.now() - t0) + ' ms');
  } catch (e) {
    console.error(name + ': FAILED: ' + (e && e.stack));
    console.error('--- agent log (tail) ---\n' + rig.logOf('agent').split('\n').slice(-30).join('\n'));
    if (moreLog) console.error(await moreLog(rig).catch((err) => String(err)));
    process.exitCode = 1;
  } finally {
    await rig.close();
  }
}

module.exports = { Rig, EXTENSION_ID, EXTENSION_DIR, sleep, waitUntil, start, waitDomain, runCase };
