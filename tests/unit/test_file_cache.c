/* file_cache: budgets are kept by evicting the least recently used, held references outlive
 * eviction, and concurrent builders of one file version end up sharing one entry. */
#include <criterion/criterion.h>
#include <string.h>

#include "tessera/file_cache.h"

static struct fc_entry *entry(const char *key, size_t bytes, int64_t mtime)
{
    struct fc_entry *e = fc_entry_new(key);
    cr_assert_not_null(e);
    e->file_bytes = bytes;
    e->stamp = (struct fc_stamp){1, 2, (int64_t)bytes, mtime};
    return e;
}

static bool put(struct file_cache *fc, struct fc_entry *e)
{
    bool cached;
    struct fc_entry *got = file_cache_put(fc, e, &cached);
    cr_assert_eq(got, e);
    file_cache_release(fc, got);
    return cached;
}

static bool present(struct file_cache *fc, const char *key)
{
    struct fc_entry *e = file_cache_get(fc, key);
    file_cache_release(fc, e);
    return e != NULL;
}

Test(file_cache, file_budget_evicts_the_coldest)
{
    struct file_cache *fc = file_cache_create(100, 100);
    cr_assert(put(fc, entry("a", 40, 1)));
    cr_assert(put(fc, entry("b", 40, 1)));
    cr_expect(present(fc, "a")); /* a is now recently used: b is the one to go */
    cr_assert(put(fc, entry("c", 40, 1)));
    cr_expect(present(fc, "a"));
    cr_expect_not(present(fc, "b"));
    cr_expect(present(fc, "c"));
    struct file_cache_stats st;
    file_cache_stats(fc, &st);
    cr_expect_eq(st.entries, 2);
    cr_expect_leq(st.file_bytes, 100);
    cr_expect_eq(st.evictions, 1);
    file_cache_free(fc);
}

Test(file_cache, too_large_stays_private)
{
    struct file_cache *fc = file_cache_create(100, 100);
    cr_expect_not(put(fc, entry("big", 101, 1)));
    cr_expect_not(present(fc, "big"));
    file_cache_free(fc);
}

Test(file_cache, a_held_entry_survives_replacement)
{
    struct file_cache *fc = file_cache_create(100, 100);
    cr_assert(put(fc, entry("a", 10, 1)));
    struct fc_entry *held = file_cache_get(fc, "a");
    cr_assert_not_null(held);
    held->rep[0].body = strdup("old bytes");
    cr_assert(put(fc, entry("a", 12, 2))); /* a newer version replaces it */
    cr_expect_str_eq(held->rep[0].body, "old bytes", "still readable while held");
    struct fc_entry *now = file_cache_get(fc, "a");
    cr_expect_eq(now->stamp.mtime_ns, 2);
    file_cache_release(fc, now);
    file_cache_release(fc, held); /* frees the old version (ASan checks) */
    file_cache_free(fc);
}

Test(file_cache, same_version_is_shared)
{
    struct file_cache *fc = file_cache_create(100, 100);
    struct fc_entry *first = entry("a", 10, 1), *second = entry("a", 10, 1);
    bool cached;
    struct fc_entry *got1 = file_cache_put(fc, first, &cached);
    struct fc_entry *got2 = file_cache_put(fc, second, &cached);
    cr_expect_eq(got1, first);
    cr_expect_eq(got2, first, "the later builder uses the entry already published");
    file_cache_release(fc, got1);
    file_cache_release(fc, got2);
    file_cache_free(fc);
}

Test(file_cache, compressed_budget_is_charged)
{
    struct file_cache *fc = file_cache_create(1000, 50);
    struct fc_entry *a = entry("a", 10, 1), *b = entry("b", 10, 1);
    bool cached;
    a = file_cache_put(fc, a, &cached);
    b = file_cache_put(fc, b, &cached);
    cr_expect(file_cache_charge(fc, a, 40));
    cr_expect_not(file_cache_charge(fc, b, 60), "larger than the whole budget");
    cr_expect(file_cache_charge(fc, b, 40)); /* evicts a to fit */
    struct file_cache_stats st;
    file_cache_stats(fc, &st);
    cr_expect_leq(st.compressed_bytes, 50);
    cr_expect_not(present(fc, "a"));
    cr_expect(present(fc, "b"));
    file_cache_release(fc, a);
    file_cache_release(fc, b);
    file_cache_free(fc);
}
