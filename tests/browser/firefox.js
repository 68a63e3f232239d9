// The extension end to end in Debian's Firefox ESR (issue 16): `node firefox.js <Case>`, one CTest test per
// case (BrowserExtensionFirefox.<Case>, tests/browser/CMakeLists.txt). Real Firefox ESR driven over WebDriver
// BiDi by puppeteer-core, extension/ installed as a temporary add-on, real agent, real host, Xvfb.
'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { Rig, EXTENSION_DIR, sleep, waitUntil, start, waitDomain, runCase } = require('./harness.js');

const FIREFOX = process.env.WM_FIREFOX || '/usr/bin/firefox-esr';
const GECKO_ID = JSON.parse(fs.readFileSync(path.join(EXTENSION_DIR, 'manifest.json'), 'utf8'))
  .browser_specific_settings.gecko.id;
const HOSTS = ['alpha.test', 'beta.test', 'gamma.test', 'private.test'];
const HOST_LOG_PREFIX = 'stderr output from native app com.workmonitor.host: ';

function loadPuppeteer() {
  try {
    return require('puppeteer-core');
  } catch (e) {
    throw new Error('puppeteer-core is missing: run `npm ci` in tests/browser (scripts/test.sh does)');
  }
}

/// Rig (harness.js) with Firefox ESR in place of Chromium: the host registered for Firefox, a fresh profile,
/// the extension as a temporary add-on, Firefox's X window focused.
class FirefoxRig extends Rig {
  /// The host's manifest for this user's Firefox, written by `workmonitor-agent browser-host install --browser
  /// firefox`, and checked: ~/.mozilla/native-messaging-hosts/com.workmonitor.host.json allowing the add-on id.
  registerHost() {
    const run = (...args) => execFileSync(this.agentBin, ['browser-host', ...args, '--browser', 'firefox'],
      { env: this.env(), encoding: 'utf8' });
    run('install', '--host-path', this.hostBin);
    const st = JSON.parse(run('status', '--json'));
    if (!st.browsers[0].installed) throw new Error('browser-host status: ' + JSON.stringify(st));
    const want = path.join(this.home, '.mozilla', 'native-messaging-hosts', 'com.workmonitor.host.json');
    if (st.browsers[0].manifest !== want) throw new Error('the manifest is at ' + st.browsers[0].manifest + ', not ' + want);
    const manifest = JSON.parse(fs.readFileSync(want, 'utf8'));
    if (manifest.name !== 'com.workmonitor.host' || manifest.type !== 'stdio' || manifest.path !== this.hostBin ||
        !(manifest.allowed_extensions || []).includes(GECKO_ID))
      throw new Error('the manifest does not allow the add-on: ' + JSON.stringify(manifest));
  }

  /// Firefox ESR under this rig's display with a fresh profile (in the rig's temp dir), *.test resolved to
  /// loopback, and extension/ installed as a temporary add-on (BiDi webExtension.install); privateBrowsing: the
  /// add-on is also allowed in private windows (Firefox's moz:allowPrivateBrowsing, what about:addons grants).
  async startBrowser({ privateBrowsing = false } = {}) {
    const puppeteer = loadPuppeteer();
    fs.mkdirSync(path.join(this.dir, 'xdg-run'), { recursive: true, mode: 0o700 });
    this.browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: FIREFOX,
      headless: false,
      // Lets the test read Firefox's console service (where Firefox puts the host's stderr) and reach the
      // add-on's background from the browser's chrome scope; pages and the add-on run as usual.
      args: ['-remote-allow-system-access'],
      userDataDir: path.join(this.dir, 'firefox-profile'),
      env: this.env(),
      protocolTimeout: 20000,
      extraPrefsFirefox: {
        'network.dns.localDomains': HOSTS.join(','),
        // puppeteer's profile fakes focus (testmode); here the window manager's focus is the real one.
        'focusmanager.testmode': false,
        // Plain http on a loopback port, in private windows too (no https:// attempt first).
        'dom.security.https_first': false,
        'dom.security.https_first_pbm': false,
      },
    });
    // Firefox's own output into firefox.log (the host's stderr goes to Firefox's console service: hostLog()).
    const proc = this.browser.process();
    const out = fs.createWriteStream(path.join(this.dir, 'firefox.log'), { flags: 'a' });
    for (const s of [proc && proc.stdout, proc && proc.stderr]) if (s) s.on('data', (d) => out.write(d));
    if (privateBrowsing) {
      const r = await this.browser.connection.send('webExtension.install',
        { extensionData: { type: 'path', path: EXTENSION_DIR }, 'moz:allowPrivateBrowsing': true });
      this.addonId = (r.result || r).extension;
    } else {
      this.addonId = await this.browser.installExtension(EXTENSION_DIR);
    }
    if (this.addonId !== GECKO_ID) throw new Error('the add-on was installed as ' + this.addonId);
    this.page = (await this.browser.pages())[0] || await this.browser.newPage();
    return this.page;
  }
  /// Firefox's X windows (WM_CLASS "Navigator", "firefox-esr"), oldest first.
  firefoxWindows() {
    const ids = this.x(['xdotool', 'search', '--onlyvisible', '--class', 'firefox']).trim();
    return ids ? ids.split('\n') : [];
  }
  windowName(id) {
    return this.x(['xdotool', 'getwindowname', id]).trim();
  }
  /// Firefox's (first normal) X window, activated (openbox), so the agent sees Firefox in front.
  async focusBrowser() {
    const id = await waitUntil(() => this.firefoxWindows().find((w) => !this.windowName(w).endsWith('Private Browsing')),
      10000, 'the Firefox window');
    this.x(['xdotool', 'windowactivate', '--sync', id]);
    return id;
  }
  /// A private window opened the way a person does (Ctrl+Shift+P in Firefox's window), then url loaded in it
  /// over BiDi. Returns its X window and page.
  async openPrivateWindow(url) {
    await this.focusBrowser();
    const before = new Set(this.firefoxWindows());
    const target = this.browser.waitForTarget((t) => t.url() === 'about:privatebrowsing', { timeout: 10000 });
    this.x(['xdotool', 'key', '--clearmodifiers', 'ctrl+shift+p']);
    const page = await (await target).page();
    const win = await waitUntil(() => this.firefoxWindows().find((w) => !before.has(w) &&
      this.windowName(w).endsWith('Private Browsing')), 10000, 'the private window');
    await page.goto(url);
    return { page, win };
  }
  /// An expression evaluated in Firefox's chrome scope (needs -remote-allow-system-access); its value.
  async chromeEval(expression) {
    const c = this.browser.connection;
    const tree = await c.send('browsingContext.getTree', { 'moz:scope': 'chrome' });
    const top = tree.result.contexts[0];
    // An older Firefox ignores moz:scope and answers with its tabs: say so rather than fail inside a web page.
    if (!top || !String(top.url).startsWith('chrome://')) {
      throw new Error('this Firefox (' + await this.browser.version() + ') gives WebDriver BiDi no chrome scope ' +
        '(its first context is ' + (top && top.url) + '); the ESR in bookworm-security has it: scripts/deps.sh test');
    }
    const r = await c.send('script.evaluate', { expression, target: { context: top.context },
      awaitPromise: true, resultOwnership: 'none' });
    if (r.result.type !== 'success') throw new Error('chrome eval: ' + JSON.stringify(r.result));
    return r.result.result.value;
  }
  /// What the host wrote on stderr: Firefox logs each line to its console service.
  async hostLog() {
    const p = JSON.stringify(HOST_LOG_PREFIX);
    return this.chromeEval('Services.console.getMessageArray().map((m) => m.message).filter((m) => m.startsWith(' + p +
      ')).map((m) => m.slice(' + p + '.length)).join("\\n")');
  }
  /// The add-on's background page: 'running', 'stopped', ... (Firefox's backgroundState).
  async backgroundState() {
    return this.chromeEval('String(WebExtensionPolicy.getByID(' + JSON.stringify(GECKO_ID) + ').extension.backgroundState)');
  }
  /// Asks Firefox to suspend the add-on's event page as its idle timeout does; force: even though a native port
  /// is open (which exempts it from the idle timeout), the way Firefox's own tests force it.
  async terminateBackground({ force = false } = {}) {
    await this.chromeEval('WebExtensionPolicy.getByID(' + JSON.stringify(GECKO_ID) +
      ').extension.terminateBackground({ disableResetIdleForTest: ' + force + ' }).then(() => "ok")');
  }
  hostRunning() {
    try {
      this.hostProcess();
      return true;
    } catch (e) {
      return false;
    }
  }
  /// The running workmonitor-nmhost: its arguments and its parent's executable (from /proc).
  hostProcess() {
    const hostExe = fs.realpathSync(this.hostBin);
    const firefoxPid = this.browser.process().pid;
    for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        if (fs.readlinkSync('/proc/' + pid + '/exe') !== hostExe) continue;
        const ppid = Number(fs.readFileSync('/proc/' + pid + '/stat', 'utf8').replace(/^.*\) /, '').split(' ')[1]);
        if (ppid !== firefoxPid) continue; // another browser's host
        const args = fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8').split('\0').slice(1, -1);
        return { pid: Number(pid), args, parentExe: fs.readlinkSync('/proc/' + ppid + '/exe') };
      } catch (e) {
        continue; // gone meanwhile, or not ours to read
      }
    }
    throw new Error('no workmonitor-nmhost of this Firefox is running');
  }
  async close() {
    if (this.browser) await this.browser.close().catch(() => {});
    await super.close();
  }
}

const domains = (sites) => sites.map((s) => s.domain);

const cases = {
  async ThreePagesBecomeThreeSpans(rig) {
    const page = await start(rig);
    const visits = [['alpha.test', '/docs/intro', 'Alpha intro'], ['beta.test', '/wiki/page', 'Beta page'],
      ['gamma.test', '/blog/post', 'Gamma post']];
    for (const [host, p, title] of visits) {
      await page.goto(rig.url(host, p + '?session=s3cr3t&t=' + encodeURIComponent(title) + '#frag9'));
      await waitDomain(rig, host);
      await sleep(1300);
    }
    // The host runs as Firefox's child (arguments: its manifest and the add-on id), which is how it names the
    // browser (the parent decides; the arguments agree, else it would warn).
    const host = rig.hostProcess();
    assert.equal(host.parentExe, '/usr/lib/firefox-esr/firefox-esr', JSON.stringify(host));
    assert.deepEqual(host.args, [path.join(rig.home, '.mozilla', 'native-messaging-hosts', 'com.workmonitor.host.json'),
      GECKO_ID], JSON.stringify(host));
    const log = await rig.hostLog();
    assert.ok(log.includes("for 'firefox' (from parent)") && log.includes("serving browser 'firefox' (from parent)"), log);
    assert.ok(!log.includes('arguments name another browser family'), log);
    await rig.focusXterm();
    await rig.recording(false);
    const sites = rig.sites();
    assert.deepEqual(domains(sites), ['alpha.test', 'beta.test', 'gamma.test'], JSON.stringify(sites));
    await rig.stopAgent();
    const stored = rig.storedSites();
    assert.deepEqual(stored.map((r) => [r.data.browser, r.data.url, r.data.title]),
      visits.map(([h, p, title]) => ['firefox', 'http://' + h + ':' + rig.port + p, title]), JSON.stringify(stored));
    const bytes = rig.outboxBytes();
    for (const secret of ['s3cr3t', 'frag9', 'session=']) assert.ok(!bytes.includes(secret), secret);
    // App usage has Firefox's window titles of the three pages (the agent keeps a browser's title while its
    // extension reports a web page in front).
    const titles = firefoxTitles(rig);
    for (const [, , title] of visits) assert.ok(titles.includes(title + ' — Mozilla Firefox'), JSON.stringify(titles));
  },

  // A private window opened the way a person does (Ctrl+Shift+P): the add-on is not allowed in private windows
  // (Firefox's default), so it does not see the window at all — focusing it looks like Firefox losing focus.
  async PrivateWindowRecordsNothing(rig) {
    await privateWindowCase(rig, { allowed: false });
  },

  // The same with the add-on allowed in private windows (what "Run in Private Windows: Allow" in about:addons
  // grants; BiDi's moz:allowPrivateBrowsing): the extension sees the private tab and sends only the flag.
  async PrivateWindowAllowedSendsOnlyTheFlag(rig) {
    await privateWindowCase(rig, { allowed: true });
  },

  // Firefox's counterpart of Chromium's stopped worker: the event page suspended. Firefox never suspends an
  // event page for idleness while it has a native port open (ext-backgroundPage.js), which ours always has; a
  // forced suspension (what Firefox's own tests do) closes the port, and the next tab event starts the page
  // again, which reconnects and reports. Then the agent restarts: the host re-sends the current tab.
  async BackgroundStopAndAgentRestartLoseNothing(rig) {
    const page = await start(rig);
    await page.goto(rig.url('alpha.test', '/one'));
    await waitDomain(rig, 'alpha.test');
    await sleep(1200);
    const host = rig.hostProcess().pid;
    await rig.terminateBackground();
    assert.equal(await rig.backgroundState(), 'running', 'an open native port keeps the event page');
    assert.equal(rig.hostProcess().pid, host);
    await rig.terminateBackground({ force: true });
    assert.equal(await rig.backgroundState(), 'stopped');
    await waitUntil(() => !rig.hostRunning(), 5000, 'the host to exit with the port');
    await sleep(500);
    const t0 = Date.now();
    await page.goto(rig.url('beta.test', '/two'));
    await waitDomain(rig, 'beta.test', 3000);
    const resumedMs = Date.now() - t0;
    assert.notEqual(rig.hostProcess().pid, host, 'a new host for the new port');
    await sleep(1200);
    await rig.stopAgent();
    await rig.startAgent();
    await waitDomain(rig, 'beta.test', 5000);
    await sleep(1200);
    await page.goto(rig.url('gamma.test', '/three'));
    await waitDomain(rig, 'gamma.test');
    await sleep(1200);
    await rig.focusXterm();
    await rig.recording(false);
    const sites = rig.sites();
    // alpha, beta (before the restart), beta again (the new agent), gamma; nothing open, nothing doubled.
    assert.deepEqual(domains(sites), ['alpha.test', 'beta.test', 'beta.test', 'gamma.test'], JSON.stringify(sites));
    for (let i = 1; i < sites.length; i++)
      assert.ok(sites[i].start_ms >= sites[i - 1].end_ms - 50, 'no overlap: ' + JSON.stringify(sites));
    const log = await rig.hostLog();
    assert.equal(log.split('\n').filter((l) => l.includes("serving browser 'firefox' (from parent)")).length, 2, log);
    console.log('resumed after the event page stop in ' + resumedMs + ' ms');
  },

  async OtherWindowEndsTheSpan(rig) {
    const page = await start(rig);
    await page.goto(rig.url('alpha.test', '/work'));
    await waitDomain(rig, 'alpha.test');
    await sleep(1200);
    await rig.focusXterm();
    await rig.recording(false);
    await sleep(1500);
    const sites = rig.sites();
    assert.equal(sites.length, 1, JSON.stringify(sites));
    assert.ok(sites[0].end_ms - sites[0].start_ms < 3500, 'the span ended with the switch: ' + JSON.stringify(sites[0]));
    // Back to Firefox: a new span begins within two seconds.
    await rig.focusBrowser();
    await waitDomain(rig, 'alpha.test', 2000);
  },

  // The agent's settings reach the add-on in the ack of its first (empty) report, before any page is reported
  // (core.js, as in Chromium).
  async DomainOnlyModeSendsDomains(rig) {
    const page = await start(rig, { website_domain_only: true });
    await page.goto(rig.url('alpha.test', '/deep/path?q=1&t=Alpha'));
    await waitDomain(rig, 'alpha.test');
    await sleep(1200);
    await page.goto(rig.url('beta.test', '/other/place?t=Beta'));
    await waitDomain(rig, 'beta.test');
    await sleep(1200);
    await rig.focusXterm();
    await rig.recording(false);
    assert.deepEqual(domains(rig.sites()), ['alpha.test', 'beta.test']);
    await rig.stopAgent();
    const stored = rig.storedSites();
    assert.deepEqual(stored.map((r) => r.data), [{ domain: 'alpha.test', browser: 'firefox' },
      { domain: 'beta.test', browser: 'firefox' }], 'no url, no title');
    const titles = firefoxTitles(rig);
    assert.ok(!titles.some((t) => /Alpha|Beta|Page/.test(t)), JSON.stringify(titles));
  },

  async ExcludedSitesRecordNothing(rig) {
    const page = await start(rig, { website_excluded_sites: ['beta.test'] });
    for (const [host, p] of [['alpha.test', '/a'], ['beta.test', '/account?t=Balance'], ['gamma.test', '/c']]) {
      await page.goto(rig.url(host, p));
      if (host !== 'beta.test') await waitDomain(rig, host);
      await sleep(1300);
    }
    await rig.focusXterm();
    await rig.recording(false);
    assert.deepEqual(domains(rig.sites()), ['alpha.test', 'gamma.test'], JSON.stringify(rig.sites()));
    await rig.stopAgent();
    // The extension knew the list before its first report: the excluded address never left the browser.
    assert.ok(!(rig.outboxBytes() + rig.logOf('agent')).includes('beta.test'), 'nothing of the excluded site');
    const titles = firefoxTitles(rig);
    assert.ok(titles.some((t) => t.includes('/a')), JSON.stringify(titles));
    assert.ok(!titles.some((t) => /Balance|account/.test(t)), 'no title of the excluded site: ' + JSON.stringify(titles));
  },
};

async function privateWindowCase(rig, { allowed }) {
  const page = await start(rig, {}, { privateBrowsing: allowed });
  await page.goto(rig.url('alpha.test', '/before'));
  await waitDomain(rig, 'alpha.test');
  await sleep(1200);
  const { win } = await rig.openPrivateWindow(rig.url('private.test', '/inbox?secret=1'));
  await rig.recording(false, 8000);
  await sleep(1500);
  const st = await rig.call('status');
  assert.equal(st.website.recording, false, JSON.stringify(st.website));
  // Allowed: the extension reported the private tab as incognito; not allowed: it saw no focused window of its
  // own and reported nothing to record.
  assert.equal(st.website.reason, allowed ? 'incognito tabs are never recorded' : 'not a web page', JSON.stringify(st.website));
  assert.ok(rig.windowName(win).endsWith('Private Browsing'), rig.windowName(win));
  assert.equal(st.window.title, '', 'the agent withholds the private window title: ' + JSON.stringify(st.window));
  // Back to the normal window: recorded again.
  await rig.focusBrowser();
  await waitDomain(rig, 'alpha.test', 3000);
  await sleep(1200);
  await rig.focusXterm();
  await rig.recording(false);
  const sites = rig.sites();
  assert.ok(sites.length >= 1 && sites.every((s) => s.domain === 'alpha.test'), JSON.stringify(sites));
  await rig.stopAgent();
  const stored = rig.storedSites();
  assert.ok(stored.every((r) => r.data.domain === 'alpha.test'), JSON.stringify(stored));
  assert.ok(!JSON.stringify(stored).includes('inbox'), 'nothing of the private path in website records');
  const bytes = rig.outboxBytes() + rig.logOf('agent');
  assert.ok(!bytes.includes('private.test'), 'nothing of the private page');
  // Firefox ends a private window's title with "Private Browsing": the agent keeps none of it.
  const titles = firefoxTitles(rig);
  assert.ok(titles.includes('Page /before — Mozilla Firefox'), JSON.stringify(titles));
  assert.ok(!titles.some((t) => /inbox|Private Browsing/.test(t)), 'the private window title is not kept: ' + JSON.stringify(titles));
}

// The window titles of Firefox's app-usage records in the outbox (after stopAgent()).
function firefoxTitles(rig) {
  return rig.storedApps().filter((r) => r.data.app === 'firefox-esr').map((r) => r.data.title);
}

runCase('firefox.js', cases, () => new FirefoxRig(),
  async (rig) => (rig.browser ? '--- host log (Firefox console) ---\n' + await rig.hostLog() : ''))
  .then(() => process.exit()); // puppeteer's handles would keep the process alive a while
