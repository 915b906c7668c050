/* static_fixture — files are real, on disk, in a temp directory; nothing is mocked. */
#include "static_fixture.h"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static int run(const char *cmd) { return system(cmd) == 0 ? 0 : -1; }

static void site_path(const struct static_site *s, const char *rel, char *buf, size_t size)
{
    if ((size_t)snprintf(buf, size, "%s/%s", s->root, rel) >= size) buf[0] = '\0';
}

int static_site_create(struct static_site *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/tessera-static-XXXXXX");
    if (!mkdtemp(s->dir)) return -1;
    snprintf(s->root, sizeof s->root, "%s/www", s->dir);
    char src[512], cmd[2048];
    test_source_path("tests/fixtures/www", src, sizeof src);
    snprintf(cmd, sizeof cmd, "cp -R '%s' '%s' && mkdir -p '%s/.git' && echo 'secret = do-not-serve' > '%s/.git/config'"
             " && echo 'root:x:0:0:outside-the-root' > '%s/outside.txt'",
             src, s->root, s->root, s->root, s->dir);
    if (run(cmd) < 0) return -1;
    /* Links that lead out of the root, and one that stays inside. */
    char link[400], target[400];
    snprintf(link, sizeof link, "%s/escape", s->root);
    if (symlink("/etc", link) != 0) return -1;
    snprintf(link, sizeof link, "%s/sneaky.txt", s->root);
    snprintf(target, sizeof target, "%s/outside.txt", s->dir);
    if (symlink(target, link) != 0) return -1;
    snprintf(link, sizeof link, "%s/alias.txt", s->root);
    if (symlink("robots.txt", link) != 0) return -1;
    /* Larger than static.cache_file_max (256K by default): streamed from disk. */
    size_t big_len = 600 * 1024;
    char *big = malloc(big_len);
    if (!big) return -1;
    for (size_t i = 0; i < big_len; i++) big[i] = (char)('a' + (i * 7 + i / 1000) % 26);
    int rc = site_write(s, "big.txt", big, big_len);
    /* Cached, but over the size that is copied into the header's write. */
    if (rc == 0) rc = site_write(s, "medium.txt", big + 1000, 100 * 1024);
    free(big);
    return rc;
}

int static_site_start(struct static_site *s, const char *extra_ini, const char *const extra_args[])
{
    char ini[2048];
    snprintf(ini, sizeof ini, "[log]\naccess = off\n[static]\nroot = %s\n%s", s->root, extra_ini ? extra_ini : "");
    int rc = test_server_start(&s->server, ini, extra_args);
    s->started = rc == 0;
    return rc;
}

/* A server that does not exit 0 on SIGTERM crashed or, in the sanitizer build, reported an
 * error. Said in the output as "tessera exited with N": this runs in .fini, and Criterion
 * (checked: cr_expect and even abort() here) does not count it against the test, so a
 * sanitizer run must be read for that line as well as for failures. */
void static_site_destroy(struct static_site *s)
{
    if (s->started) {
        int code = test_server_stop(&s->server);
        cr_expect_eq(code, 0, "tessera exited with %d (a sanitizer report or a crash)", code);
    }
    s->started = false;
    if (s->dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
        if (run(cmd) < 0) { /* a leftover temp dir is not a test failure */ }
    }
}

char *site_read(const struct static_site *s, const char *rel, size_t *len)
{
    char path[1024];
    site_path(s, rel, path, sizeof path);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)n + 1);
    size_t got = data ? fread(data, 1, (size_t)n, f) : 0;
    fclose(f);
    if (data) data[got] = '\0';
    if (len) *len = got;
    return data;
}

int site_write(const struct static_site *s, const char *rel, const void *data, size_t len)
{
    char path[1024];
    site_path(s, rel, path, sizeof path);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t put = fwrite(data, 1, len, f);
    return fclose(f) == 0 && put == len ? 0 : -1;
}

int site_set_mtime(const struct static_site *s, const char *rel, time_t t)
{
    char path[1024];
    site_path(s, rel, path, sizeof path);
    struct timespec times[2] = {{t, 0}, {t, 0}};
    return utimensat(AT_FDCWD, path, times, AT_SYMLINK_NOFOLLOW);
}

time_t site_mtime(const struct static_site *s, const char *rel)
{
    char path[1024];
    site_path(s, rel, path, sizeof path);
    struct stat st;
    return stat(path, &st) == 0 ? st.st_mtime : (time_t)-1;
}

static char *gzip_bytes(const void *data, size_t len, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY) != Z_OK) return NULL;
    size_t cap = deflateBound(&zs, len) + 32;
    char *out = malloc(cap);
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    int rc = deflate(&zs, Z_FINISH);
    *out_len = zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) { free(out); return NULL; }
    return out;
}

static char *brotli_bytes(const void *data, size_t len, size_t *out_len)
{
    size_t cap = BrotliEncoderMaxCompressedSize(len) + 64;
    char *out = malloc(cap);
    *out_len = cap;
    if (!BrotliEncoderCompress(11, 22, BROTLI_MODE_TEXT, len, data, out_len, (uint8_t *)out)) {
        free(out);
        return NULL;
    }
    return out;
}

int site_write_sibling(const struct static_site *s, const char *rel, const char *encoding, const void *data,
                       size_t len, time_t mtime)
{
    bool br = strcmp(encoding, "br") == 0;
    size_t n = 0;
    char *bytes = br ? brotli_bytes(data, len, &n) : gzip_bytes(data, len, &n);
    if (!bytes) return -1;
    char name[256];
    snprintf(name, sizeof name, "%s%s", rel, br ? ".br" : ".gz");
    int rc = site_write(s, name, bytes, n);
    free(bytes);
    return rc == 0 ? site_set_mtime(s, name, mtime) : -1;
}

const char *site_url(const struct static_site *s, const char *path, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s", s->server.base_url, path);
    return buf;
}

char *body_decode(const char *encoding, const char *body, size_t len, size_t *out_len)
{
    if (!encoding || !encoding[0] || strcmp(encoding, "identity") == 0) {
        char *copy = malloc(len + 1);
        memcpy(copy, body, len);
        copy[len] = '\0';
        *out_len = len;
        return copy;
    }
    size_t cap = 16 * 1024 * 1024;
    char *out = malloc(cap);
    if (strcmp(encoding, "br") == 0) {
        size_t n = cap;
        if (BrotliDecoderDecompress(len, (const uint8_t *)body, &n, (uint8_t *)out) != BROTLI_DECODER_RESULT_SUCCESS) {
            free(out);
            return NULL;
        }
        *out_len = n;
        return out;
    }
    if (strcmp(encoding, "gzip") != 0) { free(out); return NULL; }
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) { free(out); return NULL; }
    zs.next_in = (Bytef *)body;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    int rc = inflate(&zs, Z_FINISH);
    *out_len = zs.total_out;
    inflateEnd(&zs);
    if (rc != Z_STREAM_END || zs.avail_in != 0) { free(out); return NULL; }
    return out;
}

size_t expected_stripped_len(const char *content, size_t len)
{
    /* The fixtures end with exactly one trailer line; find its start. */
    for (size_t i = len; i > 0; i--) {
        if (i >= 2 && content[i - 1] == '\n' && i < len &&
            (strncmp(content + i, "//# sourceMappingURL=", 21) == 0 ||
             strncmp(content + i, "/*# sourceMappingURL=", 21) == 0))
            return i;
    }
    return len;
}
