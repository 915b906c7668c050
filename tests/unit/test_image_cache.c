/* image_cache: key identity, the self-checking entry format, and a real directory:
 * round trip, corruption detection, unwritable directory, LRU eviction by mtime. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tessera/image_cache.h"

static void make_key(struct image_cache_key *k, const char *path, int64_t mtime, int w)
{
    image_cache_key_make(k, path, 1234, mtime, w, 75, IMAGE_FORMAT_AVIF, "test-fp");
}

Test(image_cache, keys_differ_by_every_input)
{
    struct image_cache_key a, b;
    make_key(&a, "/a.jpg", 1, 640);
    make_key(&b, "/a.jpg", 1, 640);
    cr_assert_str_eq(a.hex, b.hex);
    cr_assert_eq(strlen(a.hex), 32);
    make_key(&b, "/a.jpg", 2, 640);
    cr_assert_str_neq(a.hex, b.hex, "a source edit (mtime) changes the key");
    make_key(&b, "/a.jpg", 1, 1080);
    cr_assert_str_neq(a.hex, b.hex);
    make_key(&b, "/b.jpg", 1, 640);
    cr_assert_str_neq(a.hex, b.hex);
    image_cache_key_make(&b, "/a.jpg", 1234, 1, 640, 75, IMAGE_FORMAT_WEBP, "test-fp");
    cr_assert_str_neq(a.hex, b.hex);
    image_cache_key_make(&b, "/a.jpg", 1234, 1, 640, 75, IMAGE_FORMAT_AVIF, "other-encoder");
    cr_assert_str_neq(a.hex, b.hex);
}

static uint8_t *entry_bytes(const struct image_cache_key *k, const struct image_blob *b, size_t *len)
{
    size_t klen = strlen(k->text);
    *len = IMAGE_CACHE_HEADER_SIZE + klen + b->len;
    uint8_t *file = malloc(*len);
    image_cache_entry_header(file, k->text, b);
    memcpy(file + IMAGE_CACHE_HEADER_SIZE, k->text, klen);
    memcpy(file + IMAGE_CACHE_HEADER_SIZE + klen, b->data, b->len);
    return file;
}

Test(image_cache, entry_check_detects_truncation_corruption_and_other_keys)
{
    struct image_cache_key k, other;
    make_key(&k, "/a.jpg", 1, 640);
    make_key(&other, "/a.jpg", 2, 640);
    struct image_blob *b = image_blob_create((const uint8_t *)"hello image", 11, "image/avif", k.hex);
    cr_assert_eq(b->etag[0], '"');
    size_t len, off, blen;
    char ct[24], etag[48];
    uint8_t *file = entry_bytes(&k, b, &len);
    cr_assert_eq(image_cache_entry_check(file, len, k.text, &off, &blen, ct, etag), 0);
    cr_assert_eq(blen, 11);
    cr_assert_eq(memcmp(file + off, "hello image", 11), 0);
    cr_assert_str_eq(ct, "image/avif");
    cr_assert_str_eq(etag, b->etag);
    cr_assert_eq(image_cache_entry_check(file, len - 1, k.text, &off, &blen, ct, etag), -1, "truncated");
    cr_assert_eq(image_cache_entry_check(file, 40, k.text, &off, &blen, ct, etag), -1, "torn header");
    cr_assert_eq(image_cache_entry_check(file, len, other.text, &off, &blen, ct, etag), -1, "collision");
    file[len - 1] ^= 1;
    cr_assert_eq(image_cache_entry_check(file, len, k.text, &off, &blen, ct, etag), -1, "bit flip in the body");
    free(file);
    image_blob_unref(b);
}

static char *temp_dir(void)
{
    char *dir = strdup("/tmp/tessera-imgcache-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    return dir;
}

static void remove_tree(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(image_cache, put_get_round_trip_and_corrupt_file_is_a_miss)
{
    char *dir = temp_dir();
    struct image_cache_key k;
    make_key(&k, "/a.jpg", 1, 640);
    struct image_cache *c = image_cache_open(dir, 1 << 20, 0); /* no memory tier: every get reads disk */
    cr_assert_null(image_cache_get(c, &k));
    struct image_blob *b = image_blob_create((const uint8_t *)"0123456789", 10, "image/webp", k.hex);
    image_cache_put(c, &k, b);
    struct image_blob *got = image_cache_get(c, &k);
    cr_assert_not_null(got);
    cr_assert_eq(got->len, 10);
    cr_assert_eq(memcmp(got->data, "0123456789", 10), 0);
    cr_assert_str_eq(got->etag, b->etag);
    image_blob_unref(got);
    char path[4096];
    snprintf(path, sizeof path, "%s/%.2s/%.32s", dir, k.hex, k.hex);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(truncate(path, st.st_size - 3), 0);
    cr_assert_null(image_cache_get(c, &k), "a truncated entry is never served");
    cr_assert_neq(access(path, F_OK), 0, "and it is removed");
    image_blob_unref(b);
    image_cache_close(c);
    remove_tree(dir);
    free(dir);
}

Test(image_cache, unusable_directory_still_serves_from_memory_and_says_so)
{
    struct image_cache_key k;
    make_key(&k, "/a.jpg", 1, 640);
    struct image_cache *c = image_cache_open("/proc/tessera-cannot-exist", 1 << 20, 1 << 20);
    struct image_blob *b = image_blob_create((const uint8_t *)"abc", 3, "image/webp", k.hex);
    image_cache_put(c, &k, b);
    struct image_blob *got = image_cache_get(c, &k);
    cr_assert_not_null(got, "the memory tier still works");
    image_blob_unref(got);
    struct strbuf m;
    strbuf_init(&m);
    image_cache_metrics(c, &m);
    cr_assert(strstr(m.data, "tessera_image_cache_ok 0"), "%s", m.data);
    strbuf_free(&m);
    image_blob_unref(b);
    image_cache_close(c);
}

Test(image_cache, eviction_removes_least_recently_used_first)
{
    char *dir = temp_dir();
    struct image_cache *c = image_cache_open(dir, 1 << 20, 0);
    static uint8_t big[300 << 10];
    struct image_cache_key keys[5];
    for (int i = 0; i < 5; i++) {
        make_key(&keys[i], "/big.png", i, 640);
        struct image_blob *b = image_blob_create(big, sizeof big, "image/png", keys[i].hex);
        image_cache_put(c, &keys[i], b);
        image_blob_unref(b);
        char path[4096];
        snprintf(path, sizeof path, "%s/%.2s/%.32s", dir, keys[i].hex, keys[i].hex);
        struct timespec times[2] = {{1000 + i, 0}, {1000 + i, 0}}; /* distinct, increasing ages */
        cr_assert_eq(utimensat(AT_FDCWD, path, times, 0), 0);
    }
    int64_t left = image_cache_evict_now(c);
    cr_assert_leq(left, (1 << 20), "under the cap after a pass: %lld", (long long)left);
    struct image_blob *newest = image_cache_get(c, &keys[4]);
    cr_assert_not_null(newest, "the most recent entry survives");
    image_blob_unref(newest);
    cr_assert_null(image_cache_get(c, &keys[0]), "the oldest entry was evicted");
    image_cache_close(c);
    remove_tree(dir);
    free(dir);
}
