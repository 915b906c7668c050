// sharp_next.mjs — the peer for `make bench-images`: sharp with the settings of the Next.js
// image optimizer (rotate, resize without enlargement, AVIF quality q-20 effort 3, WebP
// quality q, PNG quality q, JPEG mozjpeg quality q). Bench-only; never part of tessera.
// SHARP_CONCURRENCY sets libvips' thread count (sharp.concurrency). sharp's own default is 1
// on glibc Linux without jemalloc (this machine), and Next.js only ever lowers it, so that is
// what a Next.js deployment here gets; images.sh passes the CPU count, like tessera's
// transcode, so both sides may use the same cores.
//
// usage: node sharp_next.mjs OUT_DIR JOB...   where JOB is input:width:quality:format
// prints one line per job: input width format milliseconds bytes out_path
// and a last line "maxrss_kb N" (peak RSS of this process).
import sharp from 'sharp';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';

async function optimize(buffer, width, quality, format) {
  const t = sharp(buffer, { sequentialRead: true }).timeout({ seconds: 60 }).rotate();
  t.resize(width, undefined, { withoutEnlargement: true });
  if (format === 'avif') t.avif({ quality: Math.max(quality - 20, 1), effort: 3 });
  else if (format === 'webp') t.webp({ quality });
  else if (format === 'png') t.png({ quality });
  else t.jpeg({ quality, mozjpeg: true });
  return t.toBuffer();
}

if (process.env.SHARP_CONCURRENCY) sharp.concurrency(Number(process.env.SHARP_CONCURRENCY));
const [outDir, ...jobs] = process.argv.slice(2);
for (const job of jobs) {
  const [input, w, q, format] = job.split(':');
  const buffer = readFileSync(input); // read outside the timing, like a warm upstream fetch
  const start = process.hrtime.bigint();
  const out = await optimize(buffer, Number(w), Number(q), format);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const path = `${outDir}/sharp-${basename(input)}-${w}.${format}`;
  writeFileSync(path, out);
  console.log(`${basename(input)} ${w} ${format} ${ms.toFixed(1)} ${out.length} ${path}`);
}
console.log(`maxrss_kb ${process.resourceUsage().maxRSS}`);
