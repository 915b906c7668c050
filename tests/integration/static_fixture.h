/* static_fixture — a private copy of tests/fixtures/www per test, with what git cannot
 * carry made at test time: a dot-folder (.git/), symlinks leaving the root, precompressed
 * siblings with chosen mtimes, and a file larger than the in-memory cache. */
#ifndef TESSERA_TEST_STATIC_FIXTURE_H
#define TESSERA_TEST_STATIC_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "harness.h"

struct static_site {
    char dir[128];
    char root[160];
    struct test_server server;
    bool started;
};

/* Copies the fixture and adds the test-time files. Returns 0 or -1. */
int static_site_create(struct static_site *s);
/* Starts tessera on the site; extra_ini is appended to the [static] root line (may be NULL). */
int static_site_start(struct static_site *s, const char *extra_ini, const char *const extra_args[]);
void static_site_destroy(struct static_site *s);

char *site_read(const struct static_site *s, const char *rel, size_t *len);
int site_write(const struct static_site *s, const char *rel, const void *data, size_t len);
int site_set_mtime(const struct static_site *s, const char *rel, time_t t);
time_t site_mtime(const struct static_site *s, const char *rel);
/* Writes rel.gz (zlib level 9) or rel.br (brotli 11) from `data`, mtime set to mtime. */
int site_write_sibling(const struct static_site *s, const char *rel, const char *encoding, const void *data,
                       size_t len, time_t mtime);

/* "http://127.0.0.1:PORT" + path into buf. */
const char *site_url(const struct static_site *s, const char *path, char *buf, size_t size);

/* Decodes a body by its Content-Encoding ("" or NULL = identity). malloc'd, NULL on error. */
char *body_decode(const char *encoding, const char *body, size_t len, size_t *out_len);
/* The content without a trailing sourceMappingURL line, as production must send it. */
size_t expected_stripped_len(const char *content, size_t len);
#endif
