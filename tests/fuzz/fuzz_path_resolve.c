/* fuzz_path_resolve — libFuzzer target: whatever the request path, path_resolve either
 * refuses it or returns a path under the root with no "." or ".." segment, no backslash,
 * no control character and no hidden segment. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/path.h"

static void check_resolved(const char *out, const struct path_resolved *res)
{
    static const char root[] = "/srv/www";
    if (strncmp(out, root, sizeof root - 1) != 0 || out[sizeof root - 1] != '/') abort();
    if (res->root_len != sizeof root - 1 || res->full_len != strlen(out)) abort();
    for (const char *p = out; *p; p++)
        if (*p == '\\' || (unsigned char)*p < 0x20 || *p == 0x7f) abort();
    const char *seg = out + sizeof root;
    while (*seg) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);
        if (n == 0) abort(); /* "//" survived */
        if (seg[0] == '.' && !(seg == out + sizeof root && n == 11 && memcmp(seg, ".well-known", 11) == 0)) abort();
        seg += n + (end ? 1 : 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 2 * PATH_MAX) return 0;
    char *url = malloc(size + 1);
    if (!url) return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    char out[PATH_MAX];
    struct path_resolved res;
    for (int wk = 0; wk < 2; wk++) {
        struct path_options opt = {.well_known = wk == 1};
        enum path_status st = path_resolve("/srv/www", url, &opt, out, sizeof out, &res);
        if (st == PATH_OK) check_resolved(out, &res);
        else if (st != PATH_BAD_REQUEST && st != PATH_NOT_FOUND && st != PATH_TOO_LONG) abort();
    }
    free(url);
    return 0;
}
