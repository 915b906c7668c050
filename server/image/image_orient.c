/* image_orient — EXIF orientation via libexif rather than a hand-written TIFF walker: the
 * IFD parsing is where hostile files bite, and libexif is fuzzed upstream and in Debian. */
#include "tessera/image_orient.h"

#include <libexif/exif-data.h>
#include <stdlib.h>
#include <string.h>

int image_orient_from_exif(const uint8_t *data, size_t len)
{
    if (!data || len < 8 || len > (64u << 10) * 16)
        return 1;
    /* exif_data_load_data wants the "Exif\0\0" header; PNG eXIf and WebP EXIF omit it. */
    uint8_t *copy = NULL;
    const uint8_t *p = data;
    size_t n = len;
    if (memcmp(data, "Exif\0\0", 6) != 0) {
        copy = malloc(len + 6);
        if (!copy) return 1;
        memcpy(copy, "Exif\0\0", 6);
        memcpy(copy + 6, data, len);
        p = copy;
        n = len + 6;
    }
    int orientation = 1;
    ExifData *ed = exif_data_new();
    if (ed) {
        /* Only the orientation is needed: skip maker notes, do not "fix" the data. */
        exif_data_unset_option(ed, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
        exif_data_set_option(ed, EXIF_DATA_OPTION_IGNORE_UNKNOWN_TAGS);
        exif_data_load_data(ed, p, (unsigned int)n);
        ExifEntry *e = exif_content_get_entry(ed->ifd[EXIF_IFD_0], EXIF_TAG_ORIENTATION);
        if (e && e->format == EXIF_FORMAT_SHORT && e->components >= 1 && e->data && e->size >= 2) {
            int v = exif_get_short(e->data, exif_data_get_byte_order(ed));
            if (v >= 1 && v <= 8) orientation = v;
        }
        exif_data_unref(ed);
    }
    free(copy);
    return orientation;
}

int image_orient_from_avif(int irot_angle, int imir_mode)
{
    static const int rotated[4] = {1, 8, 3, 6};
    static const int then_flip_tb[4] = {4, 5, 2, 7};
    static const int then_flip_lr[4] = {2, 7, 4, 5};
    int a = irot_angle >= 0 && irot_angle <= 3 ? irot_angle : 0;
    if (imir_mode == 0) return then_flip_tb[a];
    if (imir_mode == 1) return then_flip_lr[a];
    return rotated[a];
}

int image_orient_swaps_axes(int orientation) { return orientation >= 5 && orientation <= 8; }

/* Where destination pixel (x, y) comes from in a w x h source. */
static void source_of(int o, int x, int y, int w, int h, int *sx, int *sy)
{
    switch (o) {
    case 2: *sx = w - 1 - x; *sy = y; break;
    case 3: *sx = w - 1 - x; *sy = h - 1 - y; break;
    case 4: *sx = x; *sy = h - 1 - y; break;
    case 5: *sx = y; *sy = x; break;
    case 6: *sx = y; *sy = h - 1 - x; break;
    case 7: *sx = w - 1 - y; *sy = h - 1 - x; break;
    case 8: *sx = w - 1 - y; *sy = x; break;
    default: *sx = x; *sy = y; break;
    }
}

int image_orient_apply(WebPPicture *pic, int orientation)
{
    if (orientation <= 1 || orientation > 8)
        return 0;
    int w = pic->width, h = pic->height;
    int dw = image_orient_swaps_axes(orientation) ? h : w;
    int dh = image_orient_swaps_axes(orientation) ? w : h;
    WebPPicture out;
    if (!WebPPictureInit(&out)) return -1;
    out.use_argb = 1;
    out.width = dw;
    out.height = dh;
    if (!WebPPictureAlloc(&out)) return -1;
    /* Walk the source by steps so the inner loop is one add per pixel. */
    int x0, y0, x1, y1, y0b, x0b;
    source_of(orientation, 0, 0, w, h, &x0, &y0);
    source_of(orientation, 1 % dw, 0, w, h, &x1, &y1);
    source_of(orientation, 0, 1 % dh, w, h, &x0b, &y0b);
    ptrdiff_t stride = pic->argb_stride;
    ptrdiff_t step_x = dw > 1 ? (ptrdiff_t)(y1 - y0) * stride + (x1 - x0) : 0;
    ptrdiff_t step_y = dh > 1 ? (ptrdiff_t)(y0b - y0) * stride + (x0b - x0) : 0;
    const uint32_t *origin = pic->argb + (ptrdiff_t)y0 * stride + x0;
    for (int y = 0; y < dh; y++) {
        const uint32_t *s = origin + step_y * y;
        uint32_t *d = out.argb + (ptrdiff_t)y * out.argb_stride;
        for (int x = 0; x < dw; x++, s += step_x)
            d[x] = *s;
    }
    WebPPictureFree(pic);
    *pic = out;
    return 0;
}
