// Browser tab switches (issue 16): Debian's Chromium with the extension, the real workmonitor-nmhost and the
// real workmonitor-agent under Xvfb + openbox (the rig of tests/browser/harness.js), 5 tabs on 5 hosts
// (alpha.test .. echo.test), then 1,000 scripted tab switches (CDP Page.bringToFront through Playwright), each
// to another host than the one before (so the agent's heartbeat merge never joins two switches) and each only
// after the agent's status shows the previous one (a switch not seen within 3 s is a miss).
// Measured, on the same wall clock:
// - latency: the agent's span start_ms (its outbox, read at the end) minus Date.now() just before the switch;
// - the host's RSS (VmRSS, VmHWM) and CPU (utime+stime) from /proc, every 100 switches: the curve;
// - the extension's worker memory as Chromium reports it (Runtime.getHeapUsage on the service-worker target,
//   as is and after a forced GC), and the RSS of the renderer process that hosts it, at the same points.
// Baselines in the same run: the same `tab` request sent straight to the agent's control socket (200 times,
// same pacing) and the RSS of a trivial process (`sleep`). Target: host RSS <= 3 MB (3072 KiB).
// Exit 1 only when the benchmark could not run (setup failed, > 5 % misses); a missed target is reported.
// Run: `bash scripts/bench.sh browser` (CTest test browser_tab_switch_bench, label bench).
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { Rig, sleep } = require('../../tests/browser/harness.js');

// 1,000 switches; WM_BROWSER_BENCH_SWITCHES may ask for more (a longer curve), never fewer.
const SWITCHES = Math.max(1000, Number(process.env.WM_BROWSER_BENCH_SWITCHES) || 0);
const SAMPLE_EVERY = 100;
const DIRECT_REQUESTS = 200;
const SEEN_TIMEOUT_MS = 3000;
const POLL_MS = 10;
const DIRECT_PACE_MS = 150;
const TARGET_RSS_KIB = 3072;
const DEBOUNCE_MS = 150; // extension/src/core.js Reporter: reports are coalesced for 150 ms
const HOSTS = ['alpha', 'beta', 'gamma', 'delta', 'echo'].map((h) => h + '.test');
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const NAME = 'browser_tab_switch_bench';

// ---- /proc ------------------------------------------------------------------------------------------------
const readOr = (file, dflt = '') => {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    return dflt;
  }
};
const loadavg = () => readOr('/proc/loadavg').trim();
function statusKib(pid, key) {
  const m = new RegExp('^' + key + ':\\s+(\\d+) kB', 'm').exec(readOr('/proc/' + pid + '/status'));
  return m ? Number(m[1]) : NaN;
}
/// utime + stime of a process in ms.
function cpuMs(pid) {
  const s = readOr('/proc/' + pid + '/stat');
  if (!s) return NaN;
  const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}
function procs() {
  return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
}
// Chromium rewrites its children's argv into one string with blanks: split on both.
const cmdline = (pid) => readOr('/proc/' + pid + '/cmdline').split(/[\0 ]/).filter(Boolean);
const environ = (pid) => readOr('/proc/' + pid + '/environ').split('\0');
/// The workmonitor-nmhost this rig's Chromium started (its HOME is the rig's).
function hostPid(rig) {
  for (const pid of procs()) {
    const c = cmdline(pid);
    if (c[0] === rig.hostBin && environ(pid).includes('HOME=' + rig.home)) return pid;
  }
  return null;
}
/// The renderer process that hosts the extension's service worker (Chromium marks it --extension-process).
function extensionRendererPid(rig) {
  for (const pid of procs()) {
    const c = cmdline(pid);
    if (c[0] && c[0].endsWith('chromium') && c.includes('--type=renderer') && c.includes('--extension-process') &&
        c.some((a) => a.startsWith('--user-data-dir=' + rig.home))) return pid;
  }
  return null;
}
/// RssAnon/RssFile/RssShmem (status), Pss (smaps_rollup) in KiB and the largest mappings by RSS: where a
/// process's memory is.
function memoryBreakdown(pid) {
  const roll = {};
  for (const k of ['RssAnon', 'RssFile', 'RssShmem']) roll[k] = statusKib(pid, k);
  const pss = /^Pss:\s+(\d+) kB/m.exec(readOr('/proc/' + pid + '/smaps_rollup'));
  roll.Pss = pss ? Number(pss[1]) : NaN;
  const byPath = new Map();
  let cur = null;
  for (const line of readOr('/proc/' + pid + '/smaps').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      cur = head[1] || '[anonymous]';
      continue;
    }
    const m = /^Rss:\s+(\d+) kB/.exec(line);
    if (m && cur) byPath.set(cur, (byPath.get(cur) || 0) + Number(m[1]));
  }
  const top = [...byPath.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6);
  return { roll, top };
}
function buildTypeOf(binary) {
  for (let d = path.dirname(binary); d !== path.dirname(d); d = path.dirname(d)) {
    const cache = readOr(path.join(d, 'CMakeCache.txt'));
    if (cache) {
      const m = /^CMAKE_BUILD_TYPE:STRING=(.*)$/m.exec(cache);
      return m && m[1] ? m[1] : '(none)';
    }
  }
  return 'unknown';
}

// ---- the agent's control socket, one connection kept open (as the host keeps its own) --------------------
class Control {
  constructor(socket) {
    this.socket = socket;
    this.nextId = 1;
    this.waiting = new Map();
  }
  open() {
    return new Promise((resolve, reject) => {
      this.s = net.connect(this.socket);
      let buf = '';
      this.s.on('error', (e) => {
        for (const w of this.waiting.values()) w.reject(e);
        this.waiting.clear();
        reject(e);
      });
      this.s.on('connect', resolve);
      this.s.on('data', (d) => {
        buf += d;
        for (let nl; (nl = buf.indexOf('\n')) >= 0;) {
          const r = JSON.parse(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          const w = this.waiting.get(r.id);
          if (!w) continue;
          this.waiting.delete(r.id);
          if (r.ok === false) w.reject(new Error(JSON.stringify(r.error)));
          else w.resolve(r.result !== undefined ? r.result : r);
        }
      });
    });
  }
  call(cmd, args = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.s.write(JSON.stringify({ v: 1, id, cmd, args }) + '\n');
    });
  }
  close() {
    if (this.s) this.s.destroy();
  }
}

// ---- the extension's service worker over the DevTools protocol --------------------------------------------
// Playwright gives no CDP session for a worker; the browser session attaches to the worker's target
// (non-flattened) and talks to it with Target.sendMessageToTarget.
class WorkerProbe {
  constructor(cdp, extensionId) {
    this.cdp = cdp;
    this.prefix = 'chrome-extension://' + extensionId + '/';
    this.nextId = 1;
    this.waiting = new Map();
    this.targetId = null;
    this.restarts = 0;
    this.seenTargets = [];
    cdp.on('Target.receivedMessageFromTarget', (e) => {
      const m = JSON.parse(e.message);
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.error) w.reject(new Error(JSON.stringify(m.error)));
      else w.resolve(m.result);
    });
    cdp.on('Target.detachedFromTarget', (e) => {
      if (e.sessionId === this.sessionId) this.sessionId = null;
    });
  }
  async attach() {
    const { targetInfos } = await this.cdp.send('Target.getTargets');
    const sw = targetInfos.find((t) => t.type === 'service_worker' && t.url.startsWith(this.prefix));
    if (!sw) return false;
    if (this.sessionId && sw.targetId === this.targetId) return true;
    if (this.targetId && sw.targetId !== this.targetId) this.restarts += 1;
    this.targetId = sw.targetId;
    this.seenTargets.push(sw.targetId);
    const { sessionId } = await this.cdp.send('Target.attachToTarget', { targetId: sw.targetId, flatten: false });
    this.sessionId = sessionId;
    return true;
  }
  send(method, params = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(method + ' timed out'));
      }, 5000);
      this.waiting.set(id, { resolve: (v) => (clearTimeout(t), resolve(v)), reject: (e) => (clearTimeout(t), reject(e)) });
      this.cdp.send('Target.sendMessageToTarget', { sessionId: this.sessionId, message: JSON.stringify({ id, method, params }) })
        .catch((e) => {
          this.waiting.delete(id);
          clearTimeout(t);
          reject(e);
        });
    });
  }
  /// {used, total} as is, then {usedAfterGc} after HeapProfiler.collectGarbage; null if there is no worker.
  async heap() {
    try {
      if (!(await this.attach())) return null;
      const a = await this.send('Runtime.getHeapUsage');
      await this.send('HeapProfiler.collectGarbage');
      const b = await this.send('Runtime.getHeapUsage');
      return { used: a.usedSize, total: a.totalSize, embedder: a.embedderHeapUsedSize, usedAfterGc: b.usedSize };
    } catch (e) {
      this.sessionId = null;
      return null;
    }
  }
}

// ---- figures ----------------------------------------------------------------------------------------------
function pct(sorted, p) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}
function stats(values) {
  const s = [...values].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return { n: s.length, p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), max: s[s.length - 1], min: s[0], mean };
}
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const kib = (bytes) => (Number.isFinite(bytes) ? (bytes / 1024).toFixed(0) : 'n/a');
const ratio = (a, b) => (b > 0 && Number.isFinite(a) ? (a / b).toFixed(2) + 'x' : 'n/a');
/// Least-squares slope of y over x.
function slope(xs, ys) {
  const pts = xs.map((x, i) => [x, ys[i]]).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (pts.length < 2) return NaN;
  const mx = pts.reduce((a, p) => a + p[0], 0) / pts.length;
  const my = pts.reduce((a, p) => a + p[1], 0) / pts.length;
  let num = 0, den = 0;
  for (const [x, y] of pts) {
    num += (x - mx) * (y - my);
    den += (x - mx) * (x - mx);
  }
  return den ? num / den : NaN;
}

/// The first span of `domain` that starts at or after t0 (1 ms of rounding allowed) and before `before`.
function matchSpans(switches, spans) {
  const byDomain = new Map();
  for (const s of spans) {
    const d = s.data.domain;
    if (!byDomain.has(d)) byDomain.set(d, []);
    byDomain.get(d).push(s);
  }
  for (let i = 0; i < switches.length; i++) {
    const sw = switches[i];
    const before = i + 1 < switches.length ? switches[i + 1].t0 : Infinity;
    const span = (byDomain.get(sw.domain) || []).find((s) => s.start_ms >= sw.t0 - 1 && s.start_ms < before);
    sw.startMs = span ? span.start_ms : null;
  }
}

async function main() {
  const t0run = Date.now();
  const loadStart = loadavg();
  for (const v of ['WM_AGENT_BINARY', 'WM_NMHOST_BINARY']) {
    try {
      fs.accessSync(process.env[v] || '', fs.constants.X_OK);
    } catch (e) {
      console.error(NAME + ': could not run: ' + v + '=' + (process.env[v] || '(unset)') + ' is not an executable');
      process.exitCode = 1;
      return;
    }
  }
  const rig = new Rig();
  // A spawn that fails (a binary being relinked) is an 'error' event nobody handles: end the rig's processes
  // (Xvfb, openbox, Chromium) before exiting rather than leaving them behind.
  process.once('uncaughtException', (e) => {
    console.error(NAME + ': could not run: ' + (e && e.stack));
    rig.close().finally(() => process.exit(1));
  });
  let ctl = null;
  const samples = [];
  const switches = [];
  const direct = [];
  let floorKib = NaN;
  let host = null, breakdown = null, rendererPid = null, hostPids = new Set(), workerProbe = null;
  try {
    await rig.startDesktop();
    await rig.startPages();
    await rig.startAgent();
    rig.registerHost();
    const first = await rig.startBrowser();
    await rig.focusBrowser();
    ctl = new Control(rig.socket);
    await ctl.open();
    const domainNow = async () => {
      const st = await ctl.call('status');
      return st.website && st.website.recording ? st.website.domain : null;
    };
    const waitDomain = async (domain, timeoutMs) => {
      const end = Date.now() + timeoutMs;
      for (;;) {
        if ((await domainNow()) === domain) return Date.now();
        if (Date.now() > end) return null;
        await sleep(POLL_MS);
      }
    };

    // 5 tabs in the one window, each on its own host.
    const pages = [first];
    for (let i = 1; i < HOSTS.length; i++) pages.push(await rig.context.newPage());
    for (let i = 0; i < HOSTS.length; i++) {
      await pages[i].goto(rig.url(HOSTS[i], '/tab/' + i + '?t=' + encodeURIComponent('Tab ' + HOSTS[i])));
    }
    await pages[0].bringToFront();
    if (!(await waitDomain(HOSTS[0], 10000))) throw new Error('the agent never saw the first tab: ' + JSON.stringify(await ctl.call('status')));
    host = hostPid(rig);
    if (!host) throw new Error('no workmonitor-nmhost process of this rig found');
    hostPids.add(host);
    rendererPid = extensionRendererPid(rig);
    workerProbe = new WorkerProbe(await rig.context.browser().newBrowserCDPSession(), require('../../tests/browser/harness.js').EXTENSION_ID);

    const sample = async (k) => {
      const pid = hostPid(rig);
      if (pid) hostPids.add(pid);
      if (pid && pid !== host) host = pid;
      const rp = extensionRendererPid(rig);
      if (rp) rendererPid = rp;
      samples.push({
        k, at: Date.now(), pid,
        rss: pid ? statusKib(pid, 'VmRSS') : NaN, hwm: pid ? statusKib(pid, 'VmHWM') : NaN, cpu: pid ? cpuMs(pid) : NaN,
        heap: await workerProbe.heap(),
        rendererRss: rp ? statusKib(rp, 'VmRSS') : NaN, rendererCpu: rp ? cpuMs(rp) : NaN,
      });
    };

    await sample(0);
    let prev = 0;
    for (let k = 1; k <= SWITCHES; k++) {
      let idx = k % HOSTS.length;
      if (idx === prev) idx = (idx + 1) % HOSTS.length; // never the same host twice in a row
      prev = idx;
      const t0 = Date.now();
      await pages[idx].bringToFront();
      const seen = await waitDomain(HOSTS[idx], SEEN_TIMEOUT_MS);
      switches.push({ k, domain: HOSTS[idx], t0, seenMs: seen === null ? null : seen - t0 });
      if (k % SAMPLE_EVERY === 0) await sample(k);
    }
    breakdown = host ? memoryBreakdown(host) : null;

    // Baseline (a): the same request straight to the agent, paced like the switches.
    for (let i = 0; i < DIRECT_REQUESTS; i++) {
      const domain = ['kilo.test', 'lima.test'][i % 2];
      const args = { browser: 'chromium', url: 'http://' + domain + ':' + rig.port + '/direct/' + i, title: 'Direct ' + i, incognito: false };
      const t0 = Date.now();
      const h0 = process.hrtime.bigint();
      await ctl.call('tab', args);
      const rtt = Number(process.hrtime.bigint() - h0) / 1e6;
      direct.push({ domain, t0, rtt });
      await sleep(DIRECT_PACE_MS);
    }

    // Baseline (b): what a trivial process costs.
    const sl = spawn('sleep', ['30'], { stdio: 'ignore' });
    await sleep(300);
    floorKib = statusKib(sl.pid, 'VmRSS');
    sl.kill('SIGKILL');

    ctl.close();
    ctl = null;
    await rig.stopAgent();
    const spans = rig.storedSites();
    matchSpans(switches, spans);
    matchSpans(direct, spans);
    // For each miss, the spans that start within 2 s of it: what the agent recorded instead.
    for (const sw of switches) {
      if (sw.seenMs !== null && sw.startMs !== null) continue;
      sw.near = spans.filter((x) => Math.abs(x.start_ms - sw.t0) <= 2000)
        .map((x) => x.data.domain + '@' + (x.start_ms - sw.t0) + '..' + (x.end_ms === null ? 'open' : x.end_ms - sw.t0));
    }
  } catch (e) {
    console.error(NAME + ': could not run: ' + (e && e.stack));
    console.error('--- agent log (tail) ---\n' + rig.logOf('agent').split('\n').slice(-30).join('\n'));
    process.exitCode = 1;
    return;
  } finally {
    if (ctl) ctl.close();
    await rig.close();
  }
  const loadEnd = loadavg();
  report({ t0run, loadStart, loadEnd, rig, samples, switches, direct, floorKib, breakdown, hostPids, workerProbe, rendererPid });
}

function report(r) {
  const { samples, switches, direct } = r;
  const out = (s) => console.log(s);
  const misses = switches.filter((s) => s.seenMs === null || s.startMs === null);
  const lat = stats(switches.filter((s) => s.startMs !== null).map((s) => s.startMs - s.t0));
  const seen = stats(switches.filter((s) => s.seenMs !== null).map((s) => s.seenMs));
  const dStart = stats(direct.filter((s) => s.startMs !== null).map((s) => s.startMs - s.t0));
  const dRtt = stats(direct.map((s) => s.rtt));
  const dMiss = direct.filter((s) => s.startMs === null).length;
  const first = samples[0], last = samples[samples.length - 1];
  const rssMax = Math.max(...samples.map((s) => s.rss).filter(Number.isFinite));
  const hwmMax = Math.max(...samples.map((s) => s.hwm).filter(Number.isFinite));
  const cpuPer1000 = ((last.cpu - first.cpu) * 1000) / (last.k - first.k);
  const rCpuPer1000 = ((last.rendererCpu - first.rendererCpu) * 1000) / (last.k - first.k);
  const ks = samples.map((s) => s.k);
  const rssSlope = slope(ks, samples.map((s) => s.rss)) * 1000;
  const heapOf = (s) => (s.heap ? s.heap.usedAfterGc : NaN);
  const heapSlope = slope(ks, samples.map(heapOf)) * 1000;
  // The second half alone: a warm-up step early on is not a leak, a slope that persists is.
  const late = samples.filter((s) => s.k >= SWITCHES / 2);
  const heapSlopeLate = slope(late.map((s) => s.k), late.map(heapOf)) * 1000;
  const rssSlopeLate = slope(late.map((s) => s.k), late.map((s) => s.rss)) * 1000;
  const rendSlope = slope(ks, samples.map((s) => s.rendererRss)) * 1000;
  const loopMs = last.at - first.at;

  out(NAME + ': Chromium ' + chromiumVersion() + ' + extension + workmonitor-nmhost + workmonitor-agent on Xvfb/openbox, '
    + HOSTS.length + ' tabs, ' + SWITCHES + ' tab switches (Page.bringToFront), each after the agent saw the previous');
  out('  machine: nproc=' + os.availableParallelism() + ' loadavg start="' + r.loadStart + '" end="' + r.loadEnd + '"');
  out('  binaries: ' + r.rig.hostBin + ' (' + buildTypeOf(r.rig.hostBin) + '), ' + r.rig.agentBin + ' (' + buildTypeOf(r.rig.agentBin) + ')');
  out('  switch loop ' + (loopMs / 1000).toFixed(1) + ' s (' + f1(loopMs / SWITCHES) + ' ms/switch incl. sampling), whole run '
    + ((Date.now() - r.t0run) / 1000).toFixed(1) + ' s');
  out('latency_ms (Date.now() before the switch -> the agent\'s span start_ms), n=' + lat.n + ' of ' + SWITCHES);
  out('  browser path      p50=' + lat.p50 + ' p90=' + lat.p90 + ' p99=' + lat.p99 + ' max=' + lat.max + ' min=' + lat.min
    + ' mean=' + f1(lat.mean) + ' misses=' + misses.length);
  out('    of which the extension\'s ' + DEBOUNCE_MS + ' ms debounce (by design): without it p50=' + (lat.p50 - DEBOUNCE_MS)
    + ' p99=' + (lat.p99 - DEBOUNCE_MS));
  out('  seen in status    p50=' + seen.p50 + ' p99=' + seen.p99 + ' max=' + seen.max + ' (bench poll every ' + POLL_MS + ' ms)');
  out('  baseline direct `tab` on the control socket (n=' + dStart.n + ' of ' + DIRECT_REQUESTS + ', misses=' + dMiss
    + '): span start p50=' + dStart.p50 + ' p99=' + dStart.p99 + ' ms; round trip p50=' + f2(dRtt.p50) + ' p99=' + f2(dRtt.p99)
    + ' max=' + f2(dRtt.max) + ' ms');
  out('  ratio browser/direct (p50 span start vs p50 round trip): p50 ' + ratio(lat.p50, dRtt.p50) + ', p99 ' + ratio(lat.p99, dRtt.p99)
    + '; what browser + extension + host add: p50 ' + f1(lat.p50 - dRtt.p50) + ' ms');
  const met = hwmMax <= TARGET_RSS_KIB;
  out('host_rss_kib start=' + first.rss + ' end=' + last.rss + ' max=' + rssMax + ' hwm=' + hwmMax + ' target=' + TARGET_RSS_KIB
    + ' met=' + (met ? 'yes' : 'no') + ' (baseline `sleep` rss=' + r.floorKib + ', ratio host/sleep=' + ratio(last.rss, r.floorKib) + ')');
  out('  growth ' + f1(rssSlope) + ' KiB per 1,000 switches (least squares over the curve; second half ' + f1(rssSlopeLate)
    + '); host processes seen: '
    + r.hostPids.size + ' (pid ' + [...r.hostPids].join(', ') + ')');
  if (r.breakdown) {
    const b = r.breakdown;
    out('  at the end: anonymous ' + b.roll.RssAnon + ' KiB, file-backed ' + b.roll.RssFile + ' KiB, shmem '
      + b.roll.RssShmem + ' KiB; PSS ' + b.roll.Pss + ' KiB (shared library pages divided among their users); largest: '
      + b.top.map(([p, v]) => path.basename(p) + ' ' + v).join(', '));
  }
  out('host_cpu_ms per 1,000 switches=' + f1(cpuPer1000) + ' (total ' + f1(last.cpu - first.cpu) + ' ms over ' + (last.k - first.k)
    + ' switches, ' + f2(((last.cpu - first.cpu) / loopMs) * 100) + ' % of one core over the loop; /proc tick ' + (1000 / CLK_TCK) + ' ms)'
    + (first.pid !== last.pid ? ' -- THE HOST RESTARTED (pid ' + first.pid + ' -> ' + last.pid + '): this figure mixes two processes' : ''));
  const h0 = first.heap, h1 = last.heap;
  out('worker_heap_kib (Runtime.getHeapUsage on the service worker, after a forced GC) start=' + (h0 ? kib(h0.usedAfterGc) : 'n/a')
    + ' end=' + (h1 ? kib(h1.usedAfterGc) : 'n/a') + ' growth ' + f2(heapSlope / 1024) + ' KiB per 1,000 switches (second half '
    + f2(heapSlopeLate / 1024) + '); worker restarts seen: '
    + r.workerProbe.restarts + ', samples without a worker: ' + samples.filter((s) => !s.heap).length);
  out('extension_renderer_rss_kib (pid ' + (r.rendererPid || 'n/a') + ', the process that hosts the worker) start=' + first.rendererRss
    + ' end=' + last.rendererRss + ' growth ' + f1(rendSlope) + ' KiB per 1,000 switches; cpu ' + f1(rCpuPer1000) + ' ms per 1,000 switches');
  out('curve (switches -> host VmRSS/VmHWM KiB, host cpu ms, worker heap used KiB as is/after GC/total, extension renderer RSS KiB):');
  for (const s of samples) {
    out('  ' + String(s.k).padStart(5) + '  host rss=' + s.rss + ' hwm=' + s.hwm + ' cpu=' + f1(s.cpu - first.cpu)
      + '  worker heap=' + (s.heap ? kib(s.heap.used) + '/' + kib(s.heap.usedAfterGc) + '/' + kib(s.heap.total) : 'n/a')
      + '  renderer rss=' + s.rendererRss);
  }
  for (const m of misses.slice(0, 10)) {
    out('  miss: switch ' + m.k + ' to ' + m.domain + ', seen in status ' + (m.seenMs === null ? 'never (3 s)' : 'after ' + m.seenMs + ' ms')
      + ', its span ' + (m.startMs === null ? 'not found' : 'at ' + (m.startMs - m.t0) + ' ms') + '; spans within 2 s (ms from the switch): '
      + (m.near || []).join(' '));
  }
  const missPct = (misses.length * 100) / SWITCHES;
  if (missPct > 5) {
    out(NAME + ': COULD NOT RUN: ' + misses.length + ' of ' + SWITCHES + ' switches missed (> 5 %)');
    process.exitCode = 1;
  } else {
    out(NAME + ': host RSS target ' + (met ? 'met' : 'NOT MET (' + hwmMax + ' KiB peak > ' + TARGET_RSS_KIB + ' KiB)')
      + '; ' + misses.length + ' misses');
  }
}

function chromiumVersion() {
  try {
    return execFileSync(process.env.WM_CHROMIUM || '/usr/bin/chromium', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .trim().replace(/^Chromium\s+/, '').split(' ')[0];
  } catch (e) {
    return '?';
  }
}

main();
