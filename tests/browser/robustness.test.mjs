// The dashboard against hostile data, refusals and mangled addresses: what a person runs into
// when the API holds markup or very long titles, says no for good (400, 403), or the session
// ends while a dialog is open.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from './chromium.mjs';
import { start, USER } from './harness.mjs';

let world, browser, page;
const problems = [];      // page errors, CSP violations, console errors other than HTTP statuses

function post(path, data) {
  return page.request.post(world.base + path, { data, headers: { origin: world.base } });
}

async function signIn() {
  await page.fill('#email', USER.email);
  await page.fill('#password', USER.password);
  await page.click('form.signin button[type=submit]');
  await page.locator('.convs li').first().waitFor();
}

describe('dashboard robustness in Chromium', { timeout: 240_000 }, () => {
  before(async () => {
    world = await start();
    browser = await launch();
    page = browser.context.pages()[0] || (await browser.context.newPage());
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    page.on('console', (m) => {
      // Chromium logs every 4xx/5xx response as a console error; the tests cause those on purpose.
      if (m.type() === 'error' && !/Failed to load resource: the server responded/.test(m.text())) problems.push('console: ' + m.text());
    });
    page.on('dialog', (d) => { problems.push('JS dialog: ' + d.message()); d.dismiss(); });
    await page.goto(world.base + '/');
    await signIn();
  });

  after(async () => {
    if (browser) await browser.close();
    if (world) await world.stop();
  });

  test('titles and messages holding markup are shown as text', async () => {
    const markup = ['<img src=x onerror="window.__xss=1">', '"><script>window.__xss=2</script>', 'javascript:window.__xss=3'];
    const conv = await (await post('/api/conversations', { title: markup[0] })).json();
    for (const content of markup) assert.equal((await post(`/api/conversations/${conv.id}/messages`, { role: 'assistant', content })).status(), 201);
    await page.goto(`${world.base}/#/c/${conv.id}`);
    await page.reload();   // the list too, not only the thread
    await page.locator('.msg').nth(2).waitFor();
    assert.equal(await page.locator('.thread-head h2').textContent(), markup[0]);
    assert.equal(await page.locator('.convs .title').first().textContent(), markup[0]);
    assert.deepEqual(await page.$$eval('.msg .content', (els) => els.map((e) => e.textContent)), markup);
    assert.equal(await page.evaluate(() => window.__xss), undefined);
    assert.equal(await page.locator('img[src=x], #app script').count(), 0);
  });

  test('right-to-left titles and messages run right to left', async () => {
    const conv = await (await post('/api/conversations', { title: 'שלום עולם!' })).json();
    await post(`/api/conversations/${conv.id}/messages`, { role: 'assistant', content: 'مرحبا بالعالم!' });
    await post(`/api/conversations/${conv.id}/messages`, { role: 'assistant', content: 'Left to right.' });
    await page.goto(`${world.base}/#/c/${conv.id}`);
    await page.reload();
    await page.locator('.msg').nth(1).waitFor();
    const dir = (sel) => page.$$eval(sel, (els) => els.map((e) => getComputedStyle(e).direction));
    assert.deepEqual(await dir('.msg .content'), ['rtl', 'ltr']);
    assert.deepEqual(await dir('.thread-head h2'), ['rtl']);
    assert.equal((await dir('.convs .title'))[0], 'rtl');
  });

  test('a mangled conversation address says the conversation is gone, without a page error', async () => {
    await page.goto(world.base + '/#/c/%E0%A4%A');
    await page.waitForFunction(() => location.hash === '#/');
    await page.locator('[role=status]', { hasText: /no longer exists/ }).waitFor();
    assert.deepEqual(problems.filter((p) => /URI/.test(p)), []);
  });

  test('a very long title leaves the messages their room, and wraps in the delete dialog', async () => {
    const conv = await (await post('/api/conversations', { title: 'x'.repeat(1000) })).json();
    await post(`/api/conversations/${conv.id}/messages`, { role: 'assistant', content: 'Still readable' });
    await page.goto(`${world.base}/#/c/${conv.id}`);
    await page.locator('.msg', { hasText: 'Still readable' }).waitFor();
    const [head, scroll] = await page.evaluate(() =>
      ['.thread-head', '.thread .scroll'].map((s) => document.querySelector(s).getBoundingClientRect().height));
    assert.ok(head < 200, `header is ${head} px high`);
    assert.ok(scroll > 300, `messages get ${scroll} px`);
    await page.click('.thread-head button:has-text("Delete")');
    const fits = await page.$eval('dialog h2', (h) => h.scrollWidth <= h.clientWidth);
    await page.click('dialog button[value=cancel]');
    assert.ok(fits, 'the dialog title wraps');
  });

  test('a message the API refuses goes back to the composer, without a Retry that cannot work', async () => {
    // 40,000 two-byte characters: within the composer's maxlength, over the API's 64 KiB.
    const text = 'é'.repeat(40_000);
    await page.fill('#composer', text);
    await page.press('#composer', 'Enter');
    const alert = page.locator('.thread > [role=alert]');
    await alert.locator('text=/Not sent: .*65536 bytes/').waitFor();
    assert.equal(await alert.locator('button').count(), 0);
    assert.equal(await page.locator('.msg.failed, .msg.pending').count(), 0);
    assert.equal(await page.inputValue('#composer'), text);
    // Shortened, it goes.
    await page.fill('#composer', 'Short enough');
    await page.press('#composer', 'Enter');
    await page.locator('.msg.user:not(.pending)', { hasText: 'Short enough' }).waitFor();
  });

  test('two messages sent quickly are stored in the order written, on a slow link too', async () => {
    // The first request is held back: sent side by side, the second would be stored first.
    let n = 0;
    await page.route('**/api/conversations/*/messages', async (route) => {
      if (route.request().method() === 'POST' && n++ === 0) await new Promise((r) => setTimeout(r, 800));
      return route.continue();
    });
    for (const text of ['Written first', 'Written second']) {
      await page.fill('#composer', text);
      await page.press('#composer', 'Enter');
    }
    await page.waitForFunction(() => document.querySelectorAll('.msg.pending').length === 0);
    await page.unroute('**/api/conversations/*/messages');
    await page.reload();
    await page.locator('.msg', { hasText: 'Written second' }).waitFor();
    const texts = await page.$$eval('.msg .content', (els) => els.map((e) => e.textContent));
    assert.deepEqual(texts.slice(-2), ['Written first', 'Written second']);
  });

  test('a message sent while the conversation is still loading stays in view', async () => {
    const conv = await (await post('/api/conversations', { title: 'Slow to open' })).json();
    await post(`/api/conversations/${conv.id}/messages`, { role: 'assistant', content: 'Already there' });
    // The server answers the pages at once; they reach the page after the message is stored.
    await page.route(/\/messages\?/, async (route) => {
      const response = await route.fetch();
      await new Promise((r) => setTimeout(r, 1500));
      return route.fulfill({ response });
    });
    await page.goto(`${world.base}/#/c/${conv.id}`);
    await page.fill('#composer', 'Typed while it opened');
    await page.press('#composer', 'Enter');
    await page.locator('.msg', { hasText: 'Already there' }).waitFor();
    await page.unroute(/\/messages\?/);
    assert.deepEqual(await page.$$eval('.msg .content', (els) => els.map((e) => e.textContent)), ['Already there', 'Typed while it opened']);
  });

  test('a conversation left before it opened cannot send the page elsewhere or rename its tab', async () => {
    // An address to a conversation that is gone (not in the list), answered slowly: 404.
    const gone = '00000000-0000-4000-8000-000000000000';
    await page.route('**/api/conversations/' + gone, async (route) => {
      const response = await route.fetch();
      await new Promise((r) => setTimeout(r, 800));
      return route.fulfill({ response });
    });
    const answered = page.waitForResponse((r) => r.url().endsWith('/api/conversations/' + gone));
    await page.goto(`${world.base}/#/c/${gone}`);
    await page.click('.convs li:first-child a');
    const hash = await page.evaluate(() => location.hash);
    assert.equal((await answered).status(), 404);
    await page.waitForTimeout(300);
    await page.unroute('**/api/conversations/' + gone);
    assert.equal(await page.evaluate(() => location.hash), hash);
    assert.equal(await page.title(), (await page.locator('.thread-head h2').textContent()) + ' · tessera');
  });

  test('"Load more" with a cursor the server no longer accepts starts the list over', async () => {
    for (let i = 1; i <= 21; i++) assert.equal((await post('/api/conversations', { title: `Filler ${i}` })).status(), 201);
    await page.goto(world.base + '/#/');
    await page.reload();
    await page.locator('.convs li').nth(19).waitFor();
    // What a redeploy with another api.cursor_secret does to a cursor handed out before it.
    await page.route(/cursor=/, (route) => route.fulfill({ status: 400, contentType: 'application/json',
      body: JSON.stringify({ error: { code: 'invalid_cursor', message: 'cursor is not valid for this list', field: 'cursor' } }) }));
    const first = page.waitForRequest((r) => /\/api\/conversations\?/.test(r.url()) && !r.url().includes('cursor='));
    await page.click('button.more:has-text("Load more")');
    await first;
    await page.unroute(/cursor=/);
    await page.locator('.convs li').nth(19).waitFor();
    assert.ok(await page.locator('.sidebar [role=alert]').isHidden());
    await page.click('button.more:has-text("Load more")');
    await page.locator('.convs li').nth(20).waitFor();
  });

  test('archiving or deleting a conversation deleted elsewhere takes it off the list', async () => {
    for (const action of ['Archive', 'Delete']) {
      const conv = await (await post('/api/conversations', { title: 'Deleted in another tab ' + action })).json();
      await page.goto(`${world.base}/#/c/${conv.id}`);
      await page.reload();
      await page.locator('.thread-head h2', { hasText: 'Deleted in another tab' }).waitFor();
      const del = await page.request.delete(`${world.base}/api/conversations/${conv.id}`, { headers: { origin: world.base } });
      assert.equal(del.status(), 204);
      await page.click(`.thread-head button:has-text("${action}")`);
      if (action === 'Delete') await page.click('dialog button[value=delete]');
      await page.waitForFunction(() => location.hash === '#/');
      await page.locator('[role=status]', { hasText: /no longer exists/ }).waitFor();
      assert.equal(await page.locator('.convs .title', { hasText: 'Deleted in another tab' }).count(), 0);
    }
  });

  test('"Skip to content" moves focus into the conversation without leaving it', async () => {
    await page.click('.convs li:first-child a');
    await page.locator('.thread-head h2').waitFor();
    const hash = await page.evaluate(() => location.hash);
    await page.focus('a.skip');   // the first Tab stop of the page
    await page.keyboard.press('Enter');
    await page.waitForTimeout(200);
    assert.equal(await page.evaluate(() => location.hash), hash);
    assert.equal(await page.locator('#composer').count(), 1);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
  });

  // The API refuses blank titles now; rows written before that (or by SQL) still hold them.
  test('a blank title, stored before the API refused them, reads "Untitled"', async () => {
    const conv = await (await post('/api/conversations', { title: 'soon blank' })).json();
    world.sql(`UPDATE conversations SET title = '  ' WHERE id = '${conv.id}'`);
    await page.goto(`${world.base}/#/c/${conv.id}`);
    await page.reload();
    await page.locator('.thread-head h2', { hasText: 'Untitled' }).waitFor();
    assert.equal(await page.locator(`.convs a[data-id="${conv.id}"] .title`).textContent(), 'Untitled');
    assert.equal(await page.title(), 'Untitled · tessera');
  });

  test('changing the language redraws the dates and keeps the draft being written', async () => {
    const conv = await (await post('/api/conversations', { title: 'Dates' })).json();
    await post(`/api/conversations/${conv.id}/messages`, { role: 'assistant', content: 'Dated' });
    await page.goto(`${world.base}/#/c/${conv.id}`);
    await page.locator('.msg time').first().waitFor();
    await page.fill('#composer', 'A draft');
    await page.click('button:has-text("Preferences")');
    const saved = page.waitForResponse((r) => r.url().endsWith('/api/preferences/language'));
    await page.selectOption('#pref-language', 'de');
    await saved;
    await page.click('dialog button:has-text("Done")');
    assert.equal(await page.inputValue('#composer'), 'A draft');
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'de');
    assert.doesNotMatch(await page.locator('.msg time').first().textContent(), /AM|PM/);
    await page.click('button:has-text("Preferences")');
    await page.selectOption('#pref-language', 'en');
    await page.click('dialog button:has-text("Done")');
    await page.fill('#composer', '');
  });

  test('a theme the server refuses to change (403 immutable) is undone on screen and on reload', async () => {
    await page.route('**/api/preferences/theme', (route) => route.fulfill({ status: 403, contentType: 'application/json',
      body: JSON.stringify({ error: { code: 'immutable', message: 'theme is set by your administrator' } }) }));
    await page.click('button:has-text("Preferences")');
    const before = await page.evaluate(() => document.documentElement.dataset.theme || 'system');
    await page.click('dialog input[name=theme][value=dark]');   // not check(): it is undone at once
    await page.locator('dialog [role=alert]', { hasText: 'Theme is set by your administrator' }).waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme || 'system'), before);
    assert.ok(await page.isChecked(`dialog input[name=theme][value=${before}]`));
    assert.equal(await page.evaluate(() => JSON.parse(localStorage.getItem('tessera.ui')).theme), before);
    await page.click('dialog button:has-text("Done")');
    await page.unroute('**/api/preferences/theme');
  });

  test('when the session ends with the Preferences dialog open, the sign-in form is usable', async () => {
    await page.click('button:has-text("Preferences")');
    await page.context().clearCookies();
    await page.click('dialog input[name=density][value=compact]');
    await page.locator('form.signin').waitFor();
    assert.equal(await page.locator('dialog[open]').count(), 0);
    await signIn();
  });

  test('no page errors, CSP violations or unexpected console errors', () => {
    assert.deepEqual(problems, []);
  });
});
