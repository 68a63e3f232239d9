// The extension end to end (issue 16): `node e2e.js <Case>`, one CTest test per case
// (BrowserExtensionE2E.<Case>, tests/browser/CMakeLists.txt). Real Chromium, real agent, real host, Xvfb.
'use strict';
const assert = require('node:assert/strict');
const { Rig, sleep, waitUntil, start, waitDomain, runCase } = require('./harness.js');

// A span ended and no other open: what the report's lanes say about websites.
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
    await rig.focusXterm();
    await rig.recording(false);
    const sites = rig.sites();
    assert.deepEqual(domains(sites), ['alpha.test', 'beta.test', 'gamma.test'], JSON.stringify(sites));
    await rig.stopAgent();
    const stored = rig.storedSites();
    assert.deepEqual(stored.map((r) => [r.data.url, r.data.title]),
      visits.map(([host, p, title]) => ['http://' + host + ':' + rig.port + p, title]), JSON.stringify(stored));
    const bytes = rig.outboxBytes();
    for (const secret of ['s3cr3t', 'frag9', 'session=']) assert.ok(!bytes.includes(secret), secret);
  },

  async IncognitoRecordsNothing(rig) {
    const page = await start(rig);
    await page.goto(rig.url('alpha.test', '/before'));
    await waitDomain(rig, 'alpha.test');
    await sleep(1200);
    // An off-the-record browser context (what incognito is) with its own window; the extension is not
    // allowed there.
    await rig.openPrivateWindow(rig.url('private.test', '/inbox?secret=1'));
    await rig.recording(false, 8000);
    await sleep(1500);
    const st = await rig.call('status');
    assert.equal(st.website.recording, false, JSON.stringify(st.website));
    await rig.focusXterm();
    const sites = rig.sites();
    assert.deepEqual(domains(sites), ['alpha.test'], JSON.stringify(sites));
    await rig.stopAgent();
    const stored = rig.storedSites();
    assert.deepEqual(stored.map((r) => r.data.domain), ['alpha.test']);
    assert.ok(!JSON.stringify(stored).includes('inbox'), 'nothing of the private path in website records');
    // The private page's address is nowhere in the outbox or the logs. (Its *window title* may be in an
    // app_usage record: the agent's app tracker records window titles — not the extension's doing.)
    const bytes = rig.outboxBytes() + rig.logOf('agent');
    assert.ok(!bytes.includes('private.test'), 'nothing of the private page');
    // Chromium marks nothing in a private window's title: the agent withholds it from app usage because the
    // extension sees no window it may report while Chromium is in front.
    const titles = chromiumTitles(rig);
    assert.ok(titles.includes('Page /before - Chromium'), JSON.stringify(titles));
    assert.ok(!titles.some((t) => t.includes('inbox')), 'the private window title is not kept: ' + JSON.stringify(titles));
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
    // Back to the browser: a new span begins within a second.
    await rig.focusBrowser();
    await rig.recording(true, 2000);
  },

  async WorkerStopAndAgentRestartLoseNothing(rig) {
    const page = await start(rig);
    await page.goto(rig.url('alpha.test', '/one'));
    await waitDomain(rig, 'alpha.test');
    await sleep(1200);
    await rig.stopWorkers();
    await sleep(500);
    // The next tab event wakes the worker, which reconnects and reports within a second.
    const t0 = Date.now();
    await page.goto(rig.url('beta.test', '/two'));
    await waitDomain(rig, 'beta.test', 3000);
    const resumedMs = Date.now() - t0;
    await sleep(1200);
    // The agent restarts: the host re-sends the current tab to the new agent.
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
    console.log('resumed after the worker stop in ' + resumedMs + ' ms');
  },

  async BrowserRestartRestoresTabsAndReporting(rig) {
    const page = await start(rig);
    await page.goto(rig.url('alpha.test', '/before-restart'));
    await waitDomain(rig, 'alpha.test');
    await sleep(1200);
    await rig.closeBrowser();
    await rig.recording(false, 5000); // a closed browser leaves no span open
    const t0 = Date.now();
    await rig.startBrowser({ restore: true });
    const restored = await waitUntil(() => rig.context.pages().find((p) => p.url().includes('/before-restart')),
      10000, 'the restored tab');
    await restored.bringToFront();
    await rig.focusBrowser();
    await waitDomain(rig, 'alpha.test', 10000);
    const resumedMs = Date.now() - t0;
    await sleep(1200);
    const t1 = Date.now();
    await restored.goto(rig.url('beta.test', '/after-restart'));
    await waitDomain(rig, 'beta.test', 3000);
    const nextMs = Date.now() - t1;
    await sleep(1200);
    await rig.focusXterm();
    await rig.recording(false);
    const sites = rig.sites();
    // alpha before the restart, alpha restored, beta; nothing open, nothing doubled, nothing overlapping. A
    // restart quicker than the agent's pulse (1 s here) joins the two alpha spans (the heartbeat rule).
    const seen = domains(sites);
    assert.ok(JSON.stringify(seen) === JSON.stringify(['alpha.test', 'alpha.test', 'beta.test']) ||
      JSON.stringify(seen) === JSON.stringify(['alpha.test', 'beta.test']), JSON.stringify(sites));
    for (let i = 1; i < sites.length; i++)
      assert.ok(sites[i].start_ms >= sites[i - 1].end_ms - 50, 'no overlap: ' + JSON.stringify(sites));
    assert.ok(nextMs < 1500, 'the first tab event after the restart was recorded in ' + nextMs + ' ms');
    console.log('after the restart: the restored tab recorded ' + resumedMs + ' ms after launch; the next tab event in ' +
      nextMs + ' ms');
  },

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
    assert.deepEqual(stored.map((r) => r.data), [{ domain: 'alpha.test', browser: 'chromium' },
      { domain: 'beta.test', browser: 'chromium' }], 'no url, no title');
    // Nor the page titles through the window titles of app usage.
    const titles = chromiumTitles(rig);
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
    const titles = chromiumTitles(rig);
    assert.ok(titles.some((t) => t.includes('/a')), JSON.stringify(titles));
    assert.ok(!titles.some((t) => /Balance|account/.test(t)), 'no title of the excluded site: ' + JSON.stringify(titles));
  },
};

// The window titles of Chromium's app-usage records in the outbox (after stopAgent()).
function chromiumTitles(rig) {
  return rig.storedApps().filter((r) => r.data.app === 'Chromium').map((r) => r.data.title);
}

runCase('e2e.js', cases, () => new Rig());
