// The asset build's promises, checked on its output: size budgets after brotli, hashed names,
// source maps in development builds only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, constants } from 'node:zlib';
import { SOURCE } from './harness.mjs';

const KiB = 1024;
const br = (buf) => brotliCompressSync(buf, {
  params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_LGWIN]: 24 },
}).length;

function build(mode) {
  const www = join(mkdtempSync(join(tmpdir(), 'tessera-budget-')), 'www');
  execFileSync('node', ['assets/build.mjs'], { cwd: SOURCE, env: { ...process.env, MODE: mode, WWW: www }, stdio: 'pipe', timeout: 60_000 });
  return www;
}

const cleanup = (www) => rmSync(join(www, '..'), { recursive: true, force: true });

test('production build: budgets, hashed names, no source maps', () => {
  const www = build('production');
  try {
    const files = readdirSync(www);
    const of = (re) => files.filter((f) => re.test(f));
    const js = of(/^[a-z]+\.[0-9a-f]{10}\.js$/);
    const css = of(/^[a-z]+\.[0-9a-f]{10}\.css$/);
    assert.ok(js.length >= 1 && css.length === 1, 'hashed JS and CSS: ' + files.join(' '));
    assert.deepEqual(of(/\.map$/), []);
    const jsBr = js.reduce((n, f) => n + br(readFileSync(join(www, f))), 0);
    const cssBr = br(readFileSync(join(www, css[0])));
    const html = readFileSync(join(www, 'index.html'));
    console.log(`# budgets: JS ${jsBr} B br (<= 25 KiB), CSS ${cssBr} B br (<= 8 KiB), index.html ${html.length} B (<= 4 KiB)`);
    assert.ok(jsBr <= 25 * KiB, `JS is ${jsBr} bytes after brotli, budget 25 KiB`);
    assert.ok(cssBr <= 8 * KiB, `CSS is ${cssBr} bytes after brotli, budget 8 KiB`);
    assert.ok(html.length <= 4 * KiB, `index.html is ${html.length} bytes, budget 4 KiB`);
    for (const f of [...js, ...css]) {
      assert.ok(!readFileSync(join(www, f), 'utf8').includes('sourceMappingURL'), f);
    }
    // index.html names exactly the files that exist.
    const named = [...html.toString().matchAll(/(?:src|href)="\/([^"?]+)"/g)].map((m) => m[1]).filter((f) => !f.startsWith('api/'));
    for (const f of named) assert.ok(files.includes(f), `index.html names missing ${f}`);
    assert.ok(of(/^img$/).length === 1 && readdirSync(join(www, 'img')).every((f) => /\.[0-9a-f]{10}\.jpg$/.test(f)));
  } finally {
    cleanup(www);
  }
});

test('development build: every JS and CSS file has its linked map', () => {
  const www = build('development');
  try {
    const files = readdirSync(www);
    for (const f of files.filter((f) => /\.(js|css)$/.test(f))) {
      const text = readFileSync(join(www, f), 'utf8');
      assert.match(text, new RegExp(`sourceMappingURL=${f.replace(/\./g, '\\.')}\\.map`), f);
      assert.ok(files.includes(f + '.map'), f + '.map');
      assert.equal(JSON.parse(readFileSync(join(www, f + '.map'), 'utf8')).version, 3);
    }
  } finally {
    cleanup(www);
  }
});
