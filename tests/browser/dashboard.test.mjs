// The dashboard in Debian's Chromium against `tessera serve --mode production` and a real
// PostgreSQL: what a person does, and what the wire carries while they do it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launch } from './chromium.mjs';
import { start, USER, SOURCE } from './harness.mjs';
import { DEMO } from '../../scripts/seed-demo.mjs';

const SCREENSHOT = join(SOURCE, 'build', 'dashboard.png');
// Newest first: the seed creates them oldest first and the archived one is not listed.
const EXPECTED = DEMO.conversations.filter((c) => !c.archived).map((c) => c.title).reverse();

let world, browser, page;
const responses = [];     // every response the page received, for the wire checks
const bodies = new Map(); // JS and CSS response -> promise of its (decoded) body
const problems = [];      // console errors other than expected 401s, CSP violations, page errors

async function signIn(password = USER.password) {
  await page.fill('#email', USER.email);
  await page.fill('#password', password);
  await page.click('form.signin button[type=submit]');
}

const listTitles = () => page.$$eval('.convs .title', (els) => els.map((e) => e.textContent));

describe('dashboard in Chromium', { timeout: 240_000 }, () => {
  before(async () => {
    world = await start();
    browser = await launch();
    page = browser.context.pages()[0] || (await browser.context.newPage());
    page.setDefaultTimeout(15_000);
    page.on('response', (r) => {
      responses.push(r);
      // Bodies must be read before the next navigation discards them.
      if (/\.(js|css)$/.test(new URL(r.url()).pathname)) bodies.set(r, r.body().catch(() => null));
    });
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    page.on('console', (m) => {
      // Signed-out boot asks /api/me and gets 401 by design; Chromium logs that as an error.
      // The 503 is the one the error test fakes on purpose.
      if (m.type() === 'error' && !/status of (401|503)/.test(m.text())) problems.push('console: ' + m.text());
    });
  });

  after(async () => {
    if (browser) await browser.close();
    if (world) await world.stop();
  });

  test('a wrong password shows the error in words and stays on sign-in (keyboard only)', async () => {
    await page.goto(world.base + '/');
    // Focus starts in the email field; Tab reaches the password; Enter submits.
    await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'email');
    await page.keyboard.type(USER.email);
    await page.keyboard.press('Tab');
    await page.keyboard.type('not the password');
    await page.keyboard.press('Enter');
    const err = page.locator('form.signin .error');
    await err.waitFor();
    assert.match(await err.textContent(), /incorrect|invalid|wrong/i);
    assert.equal(await page.locator('.convs').count(), 0);
  });

  test('signing in shows the seeded conversations, newest first', async () => {
    await signIn();
    await page.locator('.convs li').nth(EXPECTED.length - 1).waitFor();
    assert.deepEqual(await listTitles(), EXPECTED);
    assert.match(await page.locator('.top .name').textContent(), /Robin Tester/);
  });

  test('the Archived tab lists the archived conversation', async () => {
    await page.click('.tabs button:has-text("Archived")');
    await page.waitForFunction(() => document.querySelector('.tabs button[aria-pressed=true]').textContent === 'Archived');
    await page.locator('.convs li').first().waitFor();
    assert.deepEqual(await listTitles(), DEMO.conversations.filter((c) => c.archived).map((c) => c.title));
    await page.click('.tabs button:has-text("Active")');
    await page.locator('.convs li').nth(EXPECTED.length - 1).waitFor();
  });

  test('creating a conversation opens it and puts it first', async () => {
    await page.fill('#new-title', 'Made by the browser test');
    await page.click('form.new button[type=submit]');
    await page.waitForFunction(() => /^#\/c\//.test(location.hash));
    await page.locator('.thread-head h2:has-text("Made by the browser test")').waitFor();
    assert.equal((await listTitles())[0], 'Made by the browser test');
  });

  test('a sent message shows at once and is still there after a reload', async () => {
    const text = 'Hello from Chromium ' + Date.now();
    await page.fill('#composer', text);
    await page.press('#composer', 'Enter');
    const mine = page.locator('.msg.user', { hasText: text });
    await mine.waitFor();                         // shown before or as the server answers
    await page.locator('.msg.user:not(.pending) time', { hasText: /\d/ }).first().waitFor();
    await page.reload();
    await page.locator('.msg.user', { hasText: text }).waitFor();
    assert.equal(await page.locator('.msg.failed').count(), 0);
  });

  test('screenshot of the signed-in dashboard', async () => {
    await page.click(`.convs a:has-text("${EXPECTED[1]}")`);
    await page.locator('.msg').nth(1).waitFor();
    // Settled, loaded or not: whether they are right is the AVIF test's business.
    await page.waitForFunction(() => [...document.images].every((i) => i.complete));
    mkdirSync(join(SOURCE, 'build'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
  });

  test('every control has a name, every image an alt, and Tab reaches the composer', async () => {
    const missing = await page.evaluate(() => {
      const named = (el) => (el.labels && el.labels.length) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
      return [
        ...[...document.querySelectorAll('input, select, textarea')].filter((el) => !named(el)).map((el) => el.outerHTML),
        ...[...document.querySelectorAll('button, a[href]')].filter((el) => !el.textContent.trim() && !named(el)).map((el) => el.outerHTML),
        ...[...document.querySelectorAll('img')].filter((el) => !el.hasAttribute('alt')).map((el) => el.outerHTML),
      ];
    });
    assert.deepEqual(missing, []);
    // Keyboard: from the top of the page, Tab eventually lands in the composer.
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    let reached = false;
    for (let i = 0; i < 40 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement && document.activeElement.id === 'composer');
    }
    assert.ok(reached, 'Tab reaches the message composer');
  });

  test('at 360 px the list and a conversation take turns, with no sideways scrolling', async () => {
    const noOverflow = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
    await page.setViewportSize({ width: 360, height: 740 });
    try {
      await page.goto(world.base + '/#/');
      await page.locator('.convs li').first().waitFor();
      assert.ok(await noOverflow(), 'list view fits');
      await page.click(`.convs a:has-text("${EXPECTED[0]}")`);
      await page.locator('#composer').waitFor({ state: 'visible' });
      assert.ok(!(await page.locator('.sidebar').isVisible()), 'list hidden while reading');
      assert.ok(await noOverflow(), 'conversation view fits');
      await page.screenshot({ path: join(SOURCE, 'build', 'dashboard-360.png') });
      await page.click('a.back');
      await page.locator('.sidebar').waitFor({ state: 'visible' });
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });

  test('a theme change applies at once and holds across a reload, before the app runs', async () => {
    await page.click('button:has-text("Preferences")');
    const saved = page.waitForResponse((r) => r.url().endsWith('/api/preferences/theme') && r.request().method() === 'PUT');
    await page.check('dialog input[name=theme][value=dark]');
    assert.equal((await saved).status(), 200);
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    await page.click('dialog button:has-text("Done")');
    // Records the theme attribute when the HTML is parsed, before any module script has run.
    // The stylesheet blocks rendering, so nothing is painted before this attribute is set.
    await page.addInitScript(() => {
      document.addEventListener('readystatechange', () => {
        if (document.readyState === 'interactive' && !window.__early) {
          window.__early = { theme: document.documentElement.dataset.theme };
        }
      });
    });
    await page.reload();
    await page.locator('.convs li').first().waitFor();
    const early = await page.evaluate(() => window.__early);
    assert.equal(early.theme, 'dark');
    assert.equal(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(15, 20, 25)');
    const prefs = await (await page.request.get(world.base + '/api/preferences')).json();
    assert.equal(prefs.theme, 'dark');
  });

  test('language and density are saved and applied at once', async () => {
    await page.click('button:has-text("Preferences")');
    const saves = ['language', 'density'].map((k) =>
      page.waitForResponse((r) => r.url().endsWith('/api/preferences/' + k) && r.request().method() === 'PUT'));
    await page.selectOption('#pref-language', 'de');
    await page.check('dialog input[name=density][value=compact]');
    for (const s of saves) assert.equal((await s).status(), 200);
    await page.click('dialog button:has-text("Done")');
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'de');
    assert.equal(await page.evaluate(() => document.documentElement.dataset.density), 'compact');
    // Today's times in German have no AM/PM.
    assert.doesNotMatch(await page.locator('.convs time').first().textContent(), /AM|PM/);
    const prefs = await (await page.request.get(world.base + '/api/preferences')).json();
    assert.equal(prefs.language, 'de');
    assert.equal(prefs.density, 'compact');
  });

  test('JS and CSS arrive brotli-compressed, without source maps', async () => {
    const assets = responses.filter((r) => /\/(app|theme)\.[0-9a-f]{10}\.(js|css)$/.test(r.url()) && r.status() === 200);
    assert.ok(assets.some((r) => r.url().endsWith('.js')) && assets.some((r) => r.url().endsWith('.css')), 'JS and CSS were loaded');
    for (const r of assets) {
      const h = await r.allHeaders();
      // theme.js (about 300 bytes) is under compression's min_length: identity is right there.
      if (/\/app\./.test(r.url())) assert.equal(h['content-encoding'], 'br', r.url());
      assert.match(h['vary'] || '', /accept-encoding/i, r.url());
      assert.ok(!h['sourcemap'] && !h['x-sourcemap'], r.url());
      const body = await bodies.get(r);
      assert.ok(body && body.length > 0, r.url() + ' body');
      assert.ok(!body.toString().includes('sourceMappingURL'), r.url() + ' carries a sourceMappingURL');
    }
    for (const r of responses.filter((r) => /\.map(\?|$)/.test(r.url()))) assert.notEqual(r.status(), 200, r.url());
    // Ask for maps outright, including one that exists on disk: production answers 404.
    const js = assets.find((r) => r.url().endsWith('.js')).url();
    writeFileSync(join(world.www, 'probe.js.map'), '{"version":3,"sources":[],"mappings":""}');
    for (const url of [js + '.map', world.base + '/probe.js.map']) {
      assert.equal((await page.request.get(url)).status(), 404, url);
    }
  });

  test('images arrive as AVIF with their size reserved', async () => {
    const images = responses.filter((r) => r.url().includes('/_image?'));
    assert.ok(images.length >= 2, 'avatars and the illustration were requested');
    for (const r of images) {
      assert.equal(r.status(), 200, r.url());
      assert.equal((await r.allHeaders())['content-type'], 'image/avif', r.url());
    }
    const unsized = await page.$$eval('img', (imgs) => imgs.filter((i) => !i.getAttribute('width') || !i.getAttribute('height')).length);
    assert.equal(unsized, 0);
  });

  test('rename, archive and delete a conversation from its header', async () => {
    await page.click('.convs a:has-text("Made by the browser test")');
    await page.click('.thread-head button:has-text("Rename")');
    await page.fill('#rename', 'Renamed by the browser test');
    await page.press('#rename', 'Enter');
    await page.locator('.thread-head h2:has-text("Renamed by the browser test")').waitFor();
    await page.locator('.convs .title:has-text("Renamed by the browser test")').waitFor();

    await page.click('.thread-head button:has-text("Archive")');
    await page.locator('.thread-head button:has-text("Unarchive")').waitFor();
    await page.waitForFunction(() => ![...document.querySelectorAll('.convs .title')].some((t) => t.textContent.startsWith('Renamed')));
    await page.click('.tabs button:has-text("Archived")');
    await page.locator('.convs .title:has-text("Renamed by the browser test")').waitFor();

    await page.click('.thread-head button:has-text("Delete")');
    await page.click('dialog button[value=delete]');
    await page.waitForFunction(() => location.hash === '#/');
    await page.waitForFunction(() => ![...document.querySelectorAll('.convs .title')].some((t) => t.textContent.startsWith('Renamed')));
    const gone = await page.request.get(world.base + '/api/conversations?archived=true');
    assert.ok(!(await gone.json()).items.some((c) => c.title.startsWith('Renamed')));
    await page.click('.tabs button:has-text("Active")');
    await page.locator('.convs li').first().waitFor();
  });

  test('"Load more" fetches the next page through the cursor', async () => {
    // 20 per page in the app: 21 more conversations make at least two pages.
    for (let i = 1; i <= 21; i++) {
      const r = await page.request.post(world.base + '/api/conversations', {
        data: { title: `Bulk ${String(i).padStart(2, '0')}` }, headers: { origin: world.base },
      });
      assert.equal(r.status(), 201);
    }
    await page.reload();
    await page.locator('.convs li').nth(19).waitFor();
    assert.equal(await page.locator('.convs li').count(), 20);
    const next = page.waitForResponse((r) => /\/api\/conversations\?.*cursor=/.test(r.url()));
    await page.click('button.more:has-text("Load more")');
    assert.equal((await next).status(), 200);
    await page.locator('.convs li').nth(20).waitFor();
    const titles = await listTitles();
    assert.equal(titles.length, 21 + EXPECTED.length);   // the browser's own one was deleted above
    assert.equal(new Set(titles).size, titles.length, 'no conversation twice');
    assert.equal(titles[0], 'Bulk 21');
    assert.deepEqual(titles.slice(-EXPECTED.length), EXPECTED);
  });

  test('a long conversation opens at its newest messages; "Load earlier" shows the rest in order', async () => {
    const headers = { origin: world.base };
    const conv = await (await page.request.post(world.base + '/api/conversations', { data: { title: 'Long talk' }, headers })).json();
    for (let i = 1; i <= 55; i++) {
      const r = await page.request.post(`${world.base}/api/conversations/${conv.id}/messages`, {
        data: { role: i % 2 ? 'user' : 'assistant', content: `Line ${String(i).padStart(2, '0')}` }, headers,
      });
      assert.equal(r.status(), 201);
    }
    await page.goto(`${world.base}/#/c/${conv.id}`);
    await page.locator('.msg', { hasText: 'Line 55' }).waitFor();
    const shown = () => page.$$eval('.msg .content', (els) => els.map((e) => e.textContent));
    let lines = await shown();
    assert.equal(lines.length, 50);
    assert.equal(lines[0], 'Line 06');
    await page.click('button:has-text("Load earlier messages")');
    lines = await shown();
    assert.equal(lines.length, 55);
    assert.deepEqual(lines, [...lines].sort());
    assert.ok(await page.locator('button:has-text("Load earlier messages")').isHidden());
  });

  test('an API failure is shown in words with a Retry that works', async () => {
    // The server's own 503 shape (database unavailable), once, then the real API again.
    let failures = 0;
    await page.route('**/api/conversations?archived=true*', (route) => {
      failures++;
      return route.fulfill({ status: 503, contentType: 'application/json', headers: { 'retry-after': '1' },
        body: JSON.stringify({ error: { code: 'db_unavailable', message: 'database unavailable' } }) });
    });
    await page.click('.tabs button:has-text("Archived")');
    const alert = page.locator('.sidebar [role=alert]');
    await alert.locator('text=/busy|try again/i').waitFor();
    await page.unroute('**/api/conversations?archived=true*');
    await alert.locator('button:has-text("Retry")').click();
    await page.locator('.convs .title', { hasText: DEMO.conversations.find((c) => c.archived).title }).waitFor();
    assert.ok(await alert.isHidden());
    assert.equal(failures, 1);
    await page.click('.tabs button:has-text("Active")');
    await page.locator('.convs li').first().waitFor();
  });

  test('a lost session returns to sign-in with a note', async () => {
    await page.context().clearCookies();
    await page.click('.convs li:nth-child(2) a');
    await page.locator('form.signin').waitFor();
    assert.match(await page.locator('form.signin').textContent(), /session has ended/i);
    // Signing in again returns to the conversation that was being opened.
    const hash = await page.evaluate(() => location.hash);
    assert.match(hash, /^#\/c\//);
    await signIn();
    await page.locator('.thread-head h2').waitFor();
    assert.equal(await page.evaluate(() => location.hash), hash);
    await page.locator('.msg, .messages .empty').first().waitFor();
  });

  test('when the server cannot be reached at start, the page says so and Retry recovers', async () => {
    let down = true;
    await page.route('**/api/me', (route) => (down
      ? route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":{"code":"db_unavailable","message":"database unavailable"}}' })
      : route.continue()));
    await page.goto(world.base + '/');
    const alert = page.locator('[role=alert]', { hasText: /busy|try again/i });
    await alert.waitFor();
    down = false;
    await alert.locator('button:has-text("Retry")').click();
    await page.locator('.convs li').first().waitFor();
    await page.unroute('**/api/me');
  });

  test('signing out ends the session on the server too', async () => {
    await page.locator('.convs li').first().waitFor();   // signed in again by the tests above
    await page.click('button:has-text("Sign out")');
    await page.locator('form.signin').waitFor();
    assert.equal(await page.title(), 'Sign in · tessera');
    assert.equal((await page.request.get(world.base + '/api/me')).status(), 401);
  });

  test('no page errors, CSP violations or unexpected console errors', () => {
    assert.deepEqual(problems, []);
  });
});
