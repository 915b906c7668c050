/* images_stages — bench-only: times each stage of one transcode (probe, decode, resize,
 * orient, encode) through the same library calls the server makes, to find where a cold
 * miss spends its time. Not built by `make`; build it beside the server's objects:
 *
 *   cc -O2 -std=c17 -D_GNU_SOURCE -Iinclude $(pkg-config --cflags libavif libwebp libpng) \
 *      tests/bench/images_stages.c build/libtessera.a <the Makefile's LDLIBS> -o images_stages
 *   ./images_stages FILE WIDTH avif|webp [REPS] [THREADS] [AVIF_SPEED] [WEBP_METHOD]
 *
 * Prints the median of REPS per stage in ms, the output size and writes out.avif|out.webp. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/clock.h"
#include "tessera/image_decode.h"
#include "tessera/image_encode.h"
#include "tessera/image_orient.h"
#include "tessera/image_resize.h"
#include "tessera/image_transcode.h"
#include "tessera/log.h"

enum { STAGES = 5, MAX_REPS = 64 };
static const char *stage_name[STAGES] = {"probe", "decode", "resize", "orient", "encode"};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = n > 0 ? malloc((size_t)n) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) { free(b); b = NULL; }
    fclose(f);
    *len = (size_t)n;
    return b;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s FILE WIDTH avif|webp [REPS] [THREADS] [AVIF_SPEED] [WEBP_METHOD]\n", argv[0]);
        return 2;
    }
    size_t len;
    uint8_t *src = slurp(argv[1], &len);
    if (!src) { perror(argv[1]); return 1; }
    int width = atoi(argv[2]);
    enum image_format fmt = strcmp(argv[3], "avif") == 0 ? IMAGE_FORMAT_AVIF : IMAGE_FORMAT_WEBP;
    int reps = argc > 4 ? atoi(argv[4]) : 5;
    if (reps < 1 || reps > MAX_REPS) reps = 5;
    struct image_encode_opts eo = {
        .format = fmt, .quality = 75, .threads = argc > 5 ? atoi(argv[5]) : 2,
        .avif_speed = argc > 6 ? atoi(argv[6]) : 8, .webp_method = argc > 7 ? atoi(argv[7]) : 4,
    };
    int64_t t[STAGES][MAX_REPS];
    size_t out_len = 0;
    char reason[256];
    for (int r = 0; r < reps; r++) {
        struct image_limits lim = {.max_pixels = 100000000};
        struct image_info info;
        int64_t t0 = clock_monotonic_us();
        if (image_probe(src, len, &lim, &info, reason, sizeof reason)) { fprintf(stderr, "%s\n", reason); return 1; }
        int tw, th;
        image_transcode_size(&info, width, &tw, &th);
        bool swap = image_orient_swaps_axes(info.orientation);
        int sw = swap ? th : tw, sh = swap ? tw : th;
        bool shrinking = sw < info.width;
        WebPPicture pic;
        int64_t t1 = clock_monotonic_us();
        if (image_decode(src, len, &info, &lim, shrinking ? sw : 0, shrinking ? sh : 0, &pic, reason, sizeof reason)) {
            fprintf(stderr, "%s\n", reason);
            return 1;
        }
        int64_t t2 = clock_monotonic_us();
        if (image_resize(&pic, sw, sh, eo.threads)) return 1;
        int64_t t3 = clock_monotonic_us();
        if (image_orient_apply(&pic, info.orientation)) return 1;
        int64_t t4 = clock_monotonic_us();
        uint8_t *out;
        if (image_encode(&pic, &eo, &out, &out_len, reason, sizeof reason)) { fprintf(stderr, "%s\n", reason); return 1; }
        int64_t t5 = clock_monotonic_us();
        int64_t ts[STAGES + 1] = {t0, t1, t2, t3, t4, t5};
        for (int s = 0; s < STAGES; s++) t[s][r] = ts[s + 1] - ts[s];
        if (r == reps - 1) {
            char name[32];
            snprintf(name, sizeof name, "out.%s", argv[3]);
            FILE *f = fopen(name, "wb");
            if (f) { fwrite(out, 1, out_len, f); fclose(f); }
        }
        free(out);
        WebPPictureFree(&pic);
    }
    double total = 0;
    for (int s = 0; s < STAGES; s++) {
        qsort(t[s], (size_t)reps, sizeof t[s][0], cmp_i64);
        double ms = (double)t[s][reps / 2] / 1000.0;
        total += ms;
        printf("%s %.1f  ", stage_name[s], ms);
    }
    printf("| total %.1f ms, %zu bytes\n", total, out_len);
    free(src);
    return 0;
}
