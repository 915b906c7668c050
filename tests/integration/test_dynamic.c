/* On-the-fly compression of generated bodies, through /metrics of a real server. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tessera/compress.h"

struct dyn_server {
    struct test_server ts;
    char root[64];
};

static void dyn_start(struct dyn_server *s, const char *compression_ini)
{
    snprintf(s->root, sizeof s->root, "/tmp/tessera-dyn-XXXXXX");
    cr_assert(mkdtemp(s->root));
    char ini[1024];
    snprintf(ini, sizeof ini, "[static]\nroot = %s\n[log]\naccess = off\n[compression]\n%s", s->root, compression_ini);
    cr_assert_eq(test_server_start(&s->ts, ini, NULL), 0);
}

static void dyn_stop(struct dyn_server *s)
{
    test_server_stop(&s->ts);
    rmdir(s->root);
}

/* GETs /metrics with the given Accept-Encoding (NULL: none); returns the decoded body
 * (malloc'd) and the Content-Encoding seen ("" when none) and whether Vary names it. */
struct dyn_answer {
    char encoding[32];
    bool vary;
    char *body;
    size_t raw_len;
};

static void fetch_metrics(const struct dyn_server *s, const char *method, const char *accept, struct dyn_answer *a)
{
    char url[128], header[256], ce_buf[64], buf[256];
    snprintf(url, sizeof url, "%s/metrics", s->ts.base_url);
    snprintf(header, sizeof header, "Accept-Encoding: %s", accept ? accept : "");
    /* curl sends no Accept-Encoding unless asked; "Accept-Encoding:" alone removes one */
    const char *headers[] = {accept ? header : "Accept-Encoding:", NULL};
    struct http_result r;
    cr_assert_eq(http_do(method, url, headers, NULL, 0, &r), 0);
    cr_assert_eq(r.status, 200);
    const char *ce = http_header_value(&r, "Content-Encoding", ce_buf, sizeof ce_buf);
    snprintf(a->encoding, sizeof a->encoding, "%s", ce ? ce : "");
    const char *vary = http_header_value(&r, "Vary", buf, sizeof buf);
    a->vary = vary && strstr(vary, "Accept-Encoding");
    const char *cl = http_header_value(&r, "Content-Length", buf, sizeof buf);
    cr_assert(cl, "Content-Length is always sent");
    a->raw_len = (size_t)atol(cl);
    if (strcmp(method, "HEAD") != 0)
        cr_assert_eq(r.body_len, a->raw_len, "Content-Length matches the bytes sent");
    struct strbuf plain;
    strbuf_init(&plain);
    enum encoding enc = !ce ? ENCODING_IDENTITY : strcmp(ce, "br") == 0 ? ENCODING_BR : ENCODING_GZIP;
    if (ce)
        cr_assert(strcmp(ce, "br") == 0 || strcmp(ce, "gzip") == 0, "unexpected Content-Encoding %s", ce);
    if (strcmp(method, "HEAD") != 0)
        cr_assert_eq(decompress_buffer(enc, r.body, r.body_len, &plain), 0, "body does not decode as %s", a->encoding);
    else
        cr_assert_eq(r.body_len, 0, "HEAD has no body");
    a->body = strbuf_steal(&plain, NULL);
    if (!a->body)
        a->body = strdup("");
    http_result_free(&r);
}

/* The decoded body is the metrics text: the same metric lines as the identity answer
 * (values move between requests, names do not). */
static void assert_is_metrics(const char *body, const char *reference)
{
    cr_assert(strncmp(body, "# TYPE tessera_requests_total counter\n", 38) == 0, "body: %.200s", body);
    for (const char *line = reference; *line;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        const char *space = memchr(line, ' ', n);
        size_t name_len = line[0] == '#' || !space ? n : (size_t)(space - line);
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(name_len < 255 ? name_len : 255), line);
        cr_assert(strstr(body, name), "decoded body lacks %s", name);
        line = end ? end + 1 : line + n;
    }
}

struct expectation {
    const char *accept;
    const char *encoding;
};

Test(dynamic, metrics_follow_accept_encoding)
{
    struct dyn_server s;
    dyn_start(&s, "min_length = 64\n");
    struct dyn_answer ref;
    fetch_metrics(&s, "GET", NULL, &ref);
    cr_assert_str_eq(ref.encoding, "");
    cr_assert(ref.vary, "identity answers of a compressible type carry Vary");
    cr_assert_gt(strlen(ref.body), 64);
    const struct expectation cases[] = {
        {"gzip, deflate, br, zstd", "br"},
        {"gzip, deflate, br", "br"},
        {"gzip, deflate", "gzip"},
        {"gzip", "gzip"},
        {"x-gzip", "gzip"},
        {"br;q=0.5, gzip", "gzip"},
        {"GZIP;q=0.9, BR;q=0.3", "gzip"},
        {"*", "br"},
        {"identity", ""},
        {"deflate", ""},
        {"", ""},
        {"br;q=0, gzip;q=0", ""},
        {"*;q=0", ""},           /* a generated answer is sent identity rather than 406 */
        {"identity;q=0", ""},
        {"br;q=abc, gzip", "gzip"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct dyn_answer a;
        fetch_metrics(&s, "GET", cases[i].accept, &a);
        cr_expect_str_eq(a.encoding, cases[i].encoding, "Accept-Encoding: %s", cases[i].accept);
        cr_expect(a.vary, "Vary: Accept-Encoding for Accept-Encoding: %s", cases[i].accept);
        assert_is_metrics(a.body, ref.body);
        if (a.encoding[0])
            cr_expect_lt(a.raw_len, strlen(a.body), "compressed is smaller");
        free(a.body);
    }
    free(ref.body);
    dyn_stop(&s);
}

Test(dynamic, head_has_the_same_coding_as_get)
{
    struct dyn_server s;
    dyn_start(&s, "min_length = 64\n");
    struct dyn_answer a;
    fetch_metrics(&s, "HEAD", "gzip, deflate, br", &a);
    cr_assert_str_eq(a.encoding, "br");
    cr_assert(a.vary);
    cr_assert_gt(a.raw_len, 0);
    free(a.body);
    dyn_stop(&s);
}

Test(dynamic, configured_order_and_codings)
{
    struct dyn_server s;
    dyn_start(&s, "min_length = 64\nencodings = gzip\n");
    struct dyn_answer a;
    fetch_metrics(&s, "GET", "br, gzip", &a);
    cr_assert_str_eq(a.encoding, "gzip", "br is not configured");
    free(a.body);
    fetch_metrics(&s, "GET", "br", &a);
    cr_assert_str_eq(a.encoding, "");
    free(a.body);
    dyn_stop(&s);
}

Test(dynamic, off_switches_give_identity)
{
    const char *configs[] = {"min_length = 64\ndynamic = off\n", "min_length = 64\nenabled = off\n",
                             "min_length = 1M\n"};
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        struct dyn_server s;
        dyn_start(&s, configs[i]);
        struct dyn_answer a;
        fetch_metrics(&s, "GET", "gzip, deflate, br", &a);
        cr_expect_str_eq(a.encoding, "", "config %s", configs[i]);
        cr_expect(strncmp(a.body, "# TYPE tessera_requests_total", 29) == 0);
        if (i == 2)
            cr_expect(a.vary, "a body under min_length still varies for other sizes");
        free(a.body);
        dyn_stop(&s);
    }
}
