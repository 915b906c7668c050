// Responsive images through tessera's /_image endpoint (AVIF/WebP by Accept). Every <img>
// carries width/height so the layout is reserved before the bytes arrive.
import { h } from './dom.js';

// Filled in at build time by build.mjs: source name -> content-hashed URL under /img/.
// eslint-disable-next-line no-undef
export const IMAGES = __IMAGES__;

export const imageUrl = (src, w) => '/_image?url=' + encodeURIComponent(src) + '&w=' + w + '&q=75';

export function picture(name, { widths, sizes, width, height, alt = '', cls, lazy }) {
  const src = IMAGES[name];
  return h('img', {
    class: cls,
    src: imageUrl(src, widths[widths.length - 1]),
    srcset: widths.map((w) => imageUrl(src, w) + ' ' + w + 'w').join(', '),
    sizes,
    width: String(width),
    height: String(height),
    alt,
    loading: lazy ? 'lazy' : null,
    decoding: 'async',
  });
}

// A round 32 px avatar: 1x, 2x and 3x screens. Lazy in long message lists.
export const avatar = (name, alt, lazy = false) =>
  picture(name, { widths: [32, 64, 96], sizes: '32px', width: 32, height: 32, alt, cls: 'avatar', lazy });

export const AVATAR = { user: 'avatar-ladybird.jpg', assistant: 'avatar-flower.jpg', system: 'avatar-flower.jpg' };
