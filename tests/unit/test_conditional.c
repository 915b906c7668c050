/* conditional: RFC 9110 validators and byte ranges, decided without I/O. */
#include <criterion/criterion.h>

#include "tessera/conditional.h"

#define TAG "\"5f-1a\""

Test(conditional, if_none_match_forms)
{
    cr_expect(cond_if_none_match(TAG, TAG));
    cr_expect(cond_if_none_match("*", TAG));
    cr_expect(cond_if_none_match("W/\"5f-1a\"", TAG), "weak comparison ignores W/");
    cr_expect(cond_if_none_match("\"x\", \"5f-1a\"", TAG));
    cr_expect(cond_if_none_match("\"x\",W/\"5f-1a\" ,\"y\"", TAG));
    cr_expect(cond_if_none_match("  \"5f-1a\"  ", TAG));
    cr_expect_not(cond_if_none_match("\"5f-1b\"", TAG));
    cr_expect_not(cond_if_none_match("5f-1a", TAG), "unquoted is malformed");
    cr_expect_not(cond_if_none_match("\"5f-1a", TAG), "unterminated");
    cr_expect_not(cond_if_none_match("\"5f-1a-br\"", TAG));
    cr_expect_not(cond_if_none_match("", TAG));
    cr_expect_not(cond_if_none_match(NULL, TAG));
    cr_expect(cond_if_none_match("junk, \"5f-1a\"", TAG), "a malformed member does not hide the next");
}

Test(conditional, ranges)
{
    int64_t s, n;
    cr_expect_eq(cond_parse_range("bytes=0-9", 100, &s, &n), 1);
    cr_expect_eq(s, 0); cr_expect_eq(n, 10);
    cr_expect_eq(cond_parse_range("bytes=90-", 100, &s, &n), 1);
    cr_expect_eq(s, 90); cr_expect_eq(n, 10);
    cr_expect_eq(cond_parse_range("bytes=-5", 100, &s, &n), 1);
    cr_expect_eq(s, 95); cr_expect_eq(n, 5);
    cr_expect_eq(cond_parse_range("bytes=-500", 100, &s, &n), 1);
    cr_expect_eq(s, 0); cr_expect_eq(n, 100);
    cr_expect_eq(cond_parse_range("bytes=50-500", 100, &s, &n), 1);
    cr_expect_eq(s, 50); cr_expect_eq(n, 50);
    cr_expect_eq(cond_parse_range("bytes = 1-1", 100, &s, &n), 1);
    cr_expect_eq(n, 1);
    cr_expect_eq(cond_parse_range("bytes=100-", 100, &s, &n), -1);
    cr_expect_eq(cond_parse_range("bytes=200-300", 100, &s, &n), -1);
    cr_expect_eq(cond_parse_range("bytes=-0", 100, &s, &n), -1);
    cr_expect_eq(cond_parse_range("bytes=0-", 0, &s, &n), -1);
    cr_expect_eq(cond_parse_range("bytes=0-1,5-6", 100, &s, &n), 0, "multi-range: whole file");
    cr_expect_eq(cond_parse_range("bytes=9-1", 100, &s, &n), 0);
    cr_expect_eq(cond_parse_range("items=0-1", 100, &s, &n), 0);
    cr_expect_eq(cond_parse_range("bytes=", 100, &s, &n), 0);
    cr_expect_eq(cond_parse_range("bytes=a-b", 100, &s, &n), 0);
    cr_expect_eq(cond_parse_range("bytes=-", 100, &s, &n), 0);
    /* Offsets past INT64_MAX saturate, as nginx reads them: a huge first byte is past the end,
     * a huge last byte means "to the end" (RFC 9110 14.1.2). */
    cr_expect_eq(cond_parse_range("bytes=99999999999999999999-", 100, &s, &n), -1);
    cr_expect_eq(cond_parse_range("bytes=10-99999999999999999999", 100, &s, &n), 1);
    cr_expect_eq(s, 10); cr_expect_eq(n, 90);
    cr_expect_eq(cond_parse_range("bytes=-99999999999999999999", 100, &s, &n), 1);
    cr_expect_eq(s, 0); cr_expect_eq(n, 100);
    cr_expect_eq(cond_parse_range("Bytes=0-1", 100, &s, &n), 1, "range units are case-insensitive");
    cr_expect_eq(cond_parse_range("BYTES=-1", 100, &s, &n), 1);
    cr_expect_eq(cond_parse_range(NULL, 100, &s, &n), 0);
}

static const struct cond_entity ent = {TAG, 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT */, 100, true};

Test(conditional, evaluate_order)
{
    struct cond_request r = {0};
    cr_expect_eq(cond_evaluate(&r, &ent).status, 200);
    r.if_none_match = TAG;
    cr_expect_eq(cond_evaluate(&r, &ent).status, 304);
    /* a mismatching ETag wins over a matching date */
    r.if_none_match = "\"other\"";
    r.if_modified_since = "Sun, 06 Nov 1994 08:49:37 GMT";
    cr_expect_eq(cond_evaluate(&r, &ent).status, 200);
    r.if_none_match = NULL;
    cr_expect_eq(cond_evaluate(&r, &ent).status, 304);
    r.if_modified_since = "Sat, 05 Nov 1994 08:49:37 GMT";
    cr_expect_eq(cond_evaluate(&r, &ent).status, 200);
    r.if_modified_since = "garbage";
    cr_expect_eq(cond_evaluate(&r, &ent).status, 200);
    r.if_modified_since = "Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT";
    cr_expect_eq(cond_evaluate(&r, &ent).status, 200, "a list of dates is ignored (RFC 9110 13.1.3)");
    r.if_modified_since = "Sun, 06 Nov 1994 08:49:37 GMT  ";
    cr_expect_eq(cond_evaluate(&r, &ent).status, 304, "trailing blanks are not a second member");
}

Test(conditional, evaluate_ranges)
{
    struct cond_request r = {.range = "bytes=10-19"};
    struct cond_outcome o = cond_evaluate(&r, &ent);
    cr_expect_eq(o.status, 206);
    cr_expect_eq(o.start, 10);
    cr_expect_eq(o.length, 10);
    r.range = "bytes=100-";
    cr_expect_eq(cond_evaluate(&r, &ent).status, 416);
    r.range = "bytes=0-1";
    r.if_range = TAG;
    cr_expect_eq(cond_evaluate(&r, &ent).status, 206);
    r.if_range = "\"stale\"";
    cr_expect_eq(cond_evaluate(&r, &ent).status, 200);
    r.if_range = "W/\"5f-1a\"";
    cr_expect_eq(cond_evaluate(&r, &ent).status, 200, "If-Range needs a strong match");
    r.if_range = "Sun, 06 Nov 1994 08:49:37 GMT";
    cr_expect_eq(cond_evaluate(&r, &ent).status, 206);
    r.if_range = "Wed, 09 Nov 1994 08:49:37 GMT";
    cr_expect_eq(cond_evaluate(&r, &ent).status, 200);
    struct cond_entity compressed = ent;
    compressed.ranges = false;
    r.if_range = NULL;
    cr_expect_eq(cond_evaluate(&r, &compressed).status, 200);
    /* 304 takes precedence over Range */
    r.if_none_match = TAG;
    cr_expect_eq(cond_evaluate(&r, &ent).status, 304);
}

Test(conditional, if_match_forms)
{
    cr_expect(cond_if_match(TAG, TAG));
    cr_expect(cond_if_match("*", TAG));
    cr_expect(cond_if_match("\"x\", \"5f-1a\"", TAG));
    cr_expect_not(cond_if_match("W/\"5f-1a\"", TAG), "If-Match compares strongly");
    cr_expect_not(cond_if_match("\"5f-1b\"", TAG));
    cr_expect_not(cond_if_match("", TAG));
    cr_expect_not(cond_if_match("junk", TAG));
}

/* RFC 9110 13.2.2 steps 1-2: a failed If-Match or If-Unmodified-Since is 412, before any
 * 304 or range is considered. */
Test(conditional, evaluate_preconditions)
{
    struct cond_request r = {.if_match = "\"other\""};
    cr_expect_eq(cond_evaluate(&r, &ent).status, 412);
    r.range = "bytes=0-9";
    cr_expect_eq(cond_evaluate(&r, &ent).status, 412, "never a slice of another version");
    r.if_match = TAG;
    cr_expect_eq(cond_evaluate(&r, &ent).status, 206);
    r.if_match = "*";
    cr_expect_eq(cond_evaluate(&r, &ent).status, 206);
    r = (struct cond_request){.if_unmodified_since = "Sat, 05 Nov 1994 08:49:37 GMT"};
    cr_expect_eq(cond_evaluate(&r, &ent).status, 412);
    r.if_unmodified_since = "Sun, 06 Nov 1994 08:49:37 GMT";
    cr_expect_eq(cond_evaluate(&r, &ent).status, 200);
    r.if_unmodified_since = "garbage";
    cr_expect_eq(cond_evaluate(&r, &ent).status, 200, "an invalid date is ignored");
    /* If-Match present: If-Unmodified-Since is not evaluated */
    r.if_unmodified_since = "Sat, 05 Nov 1994 08:49:37 GMT";
    r.if_match = TAG;
    cr_expect_eq(cond_evaluate(&r, &ent).status, 200);
    /* a precondition that holds lets If-None-Match decide */
    r.if_none_match = TAG;
    cr_expect_eq(cond_evaluate(&r, &ent).status, 304);
}
