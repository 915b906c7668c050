// The world a browser test needs: a production asset build in a temp directory, a fresh
// database on the test PostgreSQL, `tessera serve --mode production` on a free loopback port,
// and a user with seeded conversations. Everything is removed again by stop().
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { seedDemo } from '../../scripts/seed-demo.mjs';

export const SOURCE = resolve(process.env.TESSERA_SOURCE_DIR || '.');
export const BIN = resolve(process.env.TESSERA_BIN || join(SOURCE, 'build/tessera'));
const PG_URL = process.env.TESSERA_TEST_PG_URL;

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { cwd: SOURCE, encoding: 'utf8', timeout: 120_000, stdio: ['pipe', 'pipe', 'pipe'], ...opts });
}

// MODE=production: minified, no maps; then the same precompress and image steps as make assets.
export function buildAssets(www, mode, env) {
  run('node', ['assets/build.mjs'], { env: { ...process.env, MODE: mode, WWW: www } });
  run(BIN, ['precompress', www, ...(mode === 'production' ? ['--production'] : [])], { env });
  run(BIN, ['images', 'build', www, '--widths', '32,64,96,384,640,828,1080'], { env });
}

// postgresql:///tessera?host=/sock&user=tessera -> the same URL naming another database.
function withDatabase(url, name) {
  const u = new URL(url);
  u.pathname = '/' + name;
  return u.toString();
}

function psql(sql) {
  run('psql', [PG_URL, '-qAtX', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
}

// Starts the server and resolves with its base URL once it prints its listening line.
function serve(args, env) {
  const child = spawn(BIN, args, { cwd: SOURCE, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  const base = new Promise((ok, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error('tessera serve did not start in 30 s:\n' + stderr)), 30_000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) { clearTimeout(timer); out = ''; ok(m[1]); }
      if (out.length > 65536) out = out.slice(-1024);   // access log lines after start: drop
    });
    child.on('exit', (code) => { clearTimeout(timer); fail(new Error(`tessera serve exited (${code}):\n${stderr}`)); });
  });
  return { child, base, stderr: () => stderr };
}

export const USER = { email: 'browser@tessera.test', name: 'Robin Tester', password: 'correct horse battery staple' };

export async function start() {
  if (!PG_URL) throw new Error('TESSERA_TEST_PG_URL is not set (scripts/test.sh or tests/browser/run.sh set it)');
  const tmp = mkdtempSync(join(tmpdir(), 'tessera-browser-'));
  const www = join(tmp, 'www');
  const db = 'tessera_browser_' + randomBytes(4).toString('hex');
  const env = {
    ...process.env,
    DATABASE_URL: withDatabase(PG_URL, db),
    TESSERA_IMAGES_CACHE_DIR: join(tmp, 'image-cache'),
    TESSERA_LOG_ACCESS: 'off',
  };
  psql(`CREATE DATABASE ${db}`);
  let server;
  const stop = async () => {
    if (server && server.child.exitCode === null) {
      const exited = new Promise((r) => server.child.once('exit', r));
      server.child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      server.child.kill('SIGKILL');
    }
    try { psql(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`); } catch { /* the cluster goes away anyway */ }
    rmSync(tmp, { recursive: true, force: true });
  };
  try {
    buildAssets(www, 'production', env);
    // The production configuration as shipped (CSP, HSTS, JSON logs), pointed at the temp tree.
    server = serve(['serve', '--config', 'config/production.ini', '--mode', 'production',
      '--root', www, '--listen', '127.0.0.1:0'], env);
    const base = await server.base;
    run(BIN, ['user', 'add', USER.email, '--name', USER.name, '--config', 'config/production.ini'], { env, input: USER.password + '\n' });
    const token = run(BIN, ['session', 'new', USER.email, '--config', 'config/production.ini'], { env }).trim().split('\n').pop();
    await seedDemo(base, token);
    // SQL on the test database itself, for rows the API no longer writes (a blank title).
    const sql = (statement) => run('psql', [env.DATABASE_URL, '-qAtX', '-v', 'ON_ERROR_STOP=1', '-c', statement]);
    return { base, www, tmp, env, token, stop, sql, stderr: server.stderr };
  } catch (err) {
    await stop();
    throw err;
  }
}
