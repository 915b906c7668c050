// page.mjs — page-load benchmark of the dashboard in Debian's Chromium (make bench-page).
//
// The server, database and production build come from the browser-test harness. Each
// scenario opens a fresh browser profile, signs in by cookie (a returning user opening the
// dashboard) and loads "/" cold (empty cache), then again (repeat visit, warm cache):
//   emulated: DevTools network emulation 150 ms RTT, 1.6 Mbps down, 750 kbps up, 4x CPU slowdown
//   loopback: no throttling
// A third scenario is a first-time visitor (no cookie) reaching the sign-in page, emulated.
// Reported per load, median of RUNS: TTFB (from navigation start, so it includes the browser's
// own start-up of the navigation) and the server's part of it, first contentful paint,
// largest contentful paint, load event, "ready" (the conversation list, or the sign-in form,
// is in the DOM), and bytes on the wire.
import { start } from '../browser/harness.mjs';
import { launch } from '../browser/chromium.mjs';

const RUNS = Number(process.env.RUNS || 5);
const EMULATED = { offline: false, latency: 150, downloadThroughput: 1.6e6 / 8, uploadThroughput: 750e3 / 8 };
const GOALS = { coldLoad: 1200, coldLcp: 1200, repeatLoad: 600, loopbackTtfb: 5 };

// Runs in the page before its own scripts: records LCP candidates and when the list appears.
function observe() {
  window.__lcp = 0;
  new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__lcp = e.startTime; })
    .observe({ type: 'largest-contentful-paint', buffered: true });
  // Ready: the conversation list (signed in) or the sign-in form (signed out) is in the DOM.
  new MutationObserver((_, mo) => {
    if (document.querySelector('.convs li, #email')) { window.__list = performance.now(); mo.disconnect(); }
  }).observe(document, { childList: true, subtree: true });
}

async function measure(page, cdp, url) {
  let bytes = 0;
  const onDone = (e) => { bytes += e.encodedDataLength; };
  cdp.on('Network.loadingFinished', onDone);
  await page.goto(url, { waitUntil: 'load', timeout: 60_000 });
  await page.waitForFunction(() => window.__list > 0, null, { timeout: 60_000 });
  await page.waitForTimeout(300);   // let late LCP candidates and image bytes land
  cdp.off('Network.loadingFinished', onDone);
  const m = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
    return {
      ttfb: nav.responseStart,   // from navigation start, as web-vitals counts it
      wait: nav.responseStart - nav.requestStart,   // the server's part: request sent -> first byte
      fcp: fcp ? fcp.startTime : NaN,
      lcp: window.__lcp,
      load: nav.loadEventStart,
      list: window.__list,
    };
  });
  return { ...m, bytes };
}

async function scenario(world, name, throttle, signedIn = true) {
  const cold = [], repeat = [];
  for (let i = 0; i < RUNS; i++) {
    const browser = await launch({ viewport: { width: 1280, height: 800 } });
    try {
      const { context } = browser;
      if (signedIn) await context.addCookies([{ name: 'tessera_session', value: world.token, url: world.base }]);
      await context.addInitScript(observe);
      const page = context.pages()[0] || (await context.newPage());
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.clearBrowserCache');
      if (throttle) {
        await cdp.send('Network.emulateNetworkConditions', EMULATED);
        await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
      }
      cold.push(await measure(page, cdp, world.base + '/'));
      // A repeat visit: a new navigation to the same address with the cache as the first left it.
      await page.goto('about:blank');
      repeat.push(await measure(page, cdp, world.base + '/'));
    } finally {
      await browser.close();
    }
  }
  return { name, cold: median(cold), repeat: median(repeat) };
}

function median(runs) {
  const out = {};
  for (const k of Object.keys(runs[0])) {
    const v = runs.map((r) => r[k]).sort((a, b) => a - b);
    out[k] = v[Math.floor(v.length / 2)];
  }
  return out;
}

// Server-side TTFB without a browser: the median of many loopback requests for index.html.
async function loopbackTtfb(base) {
  const times = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    const res = await fetch(base + '/', { headers: { 'accept-encoding': 'br' } });
    const reader = res.body.getReader();
    await reader.read();                // first body bytes
    times.push(performance.now() - t0);
    while (!(await reader.read()).done) { /* drain */ }
  }
  times.sort((a, b) => a - b);
  return { p50: times[100], p99: times[198] };
}

const ms = (v) => (Number.isFinite(v) ? v.toFixed(v < 10 ? 2 : 0) : '—');
const kb = (v) => (v / 1024).toFixed(1) + ' KiB';

async function main() {
  const world = await start();
  try {
    const results = [await scenario(world, 'emulated', true), await scenario(world, 'loopback', false),
      await scenario(world, 'emulated, signed out', true, false)];
    const fetchTtfb = await loopbackTtfb(world.base);
    console.log(`\npage load of the dashboard, median of ${RUNS} runs (ms); "ready" = list (or sign-in form) in the DOM\n`);
    console.log('| scenario | visit | TTFB | request→first byte | FCP | LCP | load event | ready | bytes |');
    console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const r of results) {
      for (const visit of ['cold', 'repeat']) {
        const m = r[visit];
        console.log(`| ${r.name} | ${visit} | ${ms(m.ttfb)} | ${ms(m.wait)} | ${ms(m.fcp)} | ${ms(m.lcp)} | ${ms(m.load)} | ${ms(m.list)} | ${kb(m.bytes)} |`);
      }
    }
    console.log(`\nloopback TTFB of GET / by fetch, 200 requests: p50 ${ms(fetchTtfb.p50)} ms, p99 ${ms(fetchTtfb.p99)} ms`);
    const [emu, loop] = results;
    const checks = [
      ['emulated cold load event', emu.cold.load, GOALS.coldLoad],
      ['emulated cold LCP', emu.cold.lcp, GOALS.coldLcp],
      ['emulated repeat load event', emu.repeat.load, GOALS.repeatLoad],
      ['loopback TTFB (browser, request sent -> first byte)', loop.cold.wait, GOALS.loopbackTtfb],
      ['loopback TTFB (fetch p50)', fetchTtfb.p50, GOALS.loopbackTtfb],
    ];
    console.log('');
    for (const [what, v, goal] of checks) console.log(`${v <= goal ? 'met ' : 'MISS'}  ${what}: ${ms(v)} ms (goal <= ${goal} ms)`);
  } finally {
    await world.stop();
  }
}

main().catch((err) => { console.error('bench-page:', err.stack || err.message); process.exit(1); });
