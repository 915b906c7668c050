// build.mjs — bundles the dashboard into $BUILD/www (default build/www) with esbuild.
//
//   MODE=production  minified, no source maps (nothing to strip or hide later)
//   MODE=development minified, with linked source maps and their sourceMappingURL trailers
//
// Output names carry a hash of their content (app.<hash>.js, app.<hash>.css, theme.<hash>.js,
// img/<name>.<hash>.jpg), which tessera serves as immutable; index.html, the only file that
// names them, is served no-cache. Hashes are lowercase hex so any "name.<hash>.ext" rule matches.
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rm, stat, utimes, writeFile, copyFile } from 'node:fs/promises';
import { dirname, join, resolve, extname, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { BOOT } from './src/boot-urls.js';

const here = dirname(fileURLToPath(import.meta.url));
const mode = process.env.MODE || 'development';
if (mode !== 'production' && mode !== 'development') {
  console.error(`build.mjs: MODE must be production or development, not ${mode}`);
  process.exit(2);
}
const dev = mode === 'development';
const out = resolve(process.env.WWW || join(process.env.BUILD || 'build', 'www'));

// Widths the app asks /_image for; `tessera images build` pre-generates exactly these.
const HERO = { widths: [384, 640, 828, 1080], sizes: '(min-width: 520px) 480px, calc(100vw - 2rem)' };

const hashOf = (buf) => createHash('sha256').update(buf).digest('hex').slice(0, 10);
const TRAILER = /\n?(\/\/# sourceMappingURL=[^\n]*|\/\*# sourceMappingURL=[^*]*\*\/)\s*$/;

// Writes one esbuild output under a hashed name; its map (dev) is renamed to match.
async function emit(name, ext, files) {
  const code = files.find((f) => f.path.endsWith(ext));
  const map = files.find((f) => f.path.endsWith(ext + '.map'));
  let text = code.text.replace(TRAILER, '');
  const file = `${name}.${hashOf(text)}${ext}`;
  if (map) {
    text += ext === '.css' ? `\n/*# sourceMappingURL=${file}.map */\n` : `\n//# sourceMappingURL=${file}.map\n`;
    await writeFile(join(out, file + '.map'), map.text);
  }
  await writeFile(join(out, file), text);
  return file;
}

// Images are copied under hashed names with their source mtime kept, so rebuilding does not
// invalidate tessera's image cache (keyed by path, size and mtime).
async function copyImages() {
  const manifest = {};
  const dir = join(here, 'img');
  await mkdir(join(out, 'img'), { recursive: true });
  for (const name of (await readdir(dir)).sort()) {
    const src = join(dir, name);
    const ext = extname(name);
    const file = `img/${basename(name, ext)}.${hashOf(await readFile(src))}${ext}`;
    await copyFile(src, join(out, file));
    const st = await stat(src);
    await utimes(join(out, file), st.atime, st.mtime);
    manifest[name] = '/' + file;
  }
  return manifest;
}

async function bundle(entry, opts) {
  const result = await esbuild.build({
    entryPoints: [join(here, entry)],
    bundle: true,
    minify: true,
    write: false,
    outdir: out,
    sourcemap: dev ? 'linked' : false,
    sourcesContent: true,
    target: ['chrome100', 'firefox100', 'safari15'],
    legalComments: 'none',
    logLevel: 'warning',
    ...opts,
  });
  return result.outputFiles;
}

const imageUrl = (src, w) => `/_image?url=${encodeURIComponent(src)}&amp;w=${w}&amp;q=75`;

async function main() {
  const started = Date.now();
  // A clean directory: stale hashed files would otherwise pile up and be served forever.
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });

  const images = await copyImages();
  const js = await emit('app', '.js', await bundle('src/main.js', {
    format: 'esm', define: { __IMAGES__: JSON.stringify(images) },
  }));
  const theme = await emit('theme', '.js', await bundle('src/theme.js', { format: 'iife' }));
  const css = await emit('app', '.css', await bundle('styles/app.css', {}));

  const hero = images['dandelion.jpg'];
  const values = {
    js: '/' + js, css: '/' + css, theme: '/' + theme,
    heroSrc: imageUrl(hero, 640),
    heroSrcset: HERO.widths.map((w) => `${imageUrl(hero, w)} ${w}w`).join(', '),
    heroSizes: HERO.sizes,
    // crossorigin (anonymous) gives the preload fetch()'s own mode and credentials.
    preloads: Object.values(BOOT).map((u) => `<link rel="preload" href="${u.replace(/&/g, '&amp;')}" as="fetch" crossorigin>`).join(''),
  };
  let html = await readFile(join(here, 'index.html'), 'utf8');
  html = html.replace(/\{\{(\w+)\}\}/g, (_, k) => {
    if (!(k in values)) throw new Error(`index.html: unknown placeholder {{${k}}}`);
    return values[k];
  });
  // Comments and the whitespace between tags are for the source, not for the wire.
  html = html.replace(/<!--[\s\S]*?-->/g, '').replace(/>\s+</g, '><').trim() + '\n';
  await writeFile(join(out, 'index.html'), html);
  await copyFile(join(here, 'CREDITS'), join(out, 'CREDITS.txt'));

  console.log(`assets: ${mode} build in ${Date.now() - started} ms -> ${out}: ${js} ${css} ${theme}, ${Object.keys(images).length} images`);
}

main().catch((err) => {
  console.error('build.mjs:', err.message);
  process.exit(1);
});
