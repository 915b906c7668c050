/* negotiate — Accept-Encoding (RFC 9110 12.5.3) reduced to a choice among the
 * representations on offer. Pure: it only reads the header, never allocates, and treats
 * any element it cannot parse as absent, so a hostile header can only cost a linear scan. */
#include "tessera/negotiate.h"

#include <stdbool.h>
#include <stddef.h>
#include <strings.h>

/* q-values are kept in thousandths (0..1000): the grammar allows three decimals, so
 * integer weights compare exactly. */
#define Q_UNSET (-1)
#define Q_MAX 1000

/* What the header says about the codings tessera cares about. Q_UNSET = not mentioned. */
struct accept_weights {
    int br, gzip, identity, star;
};

static bool is_ows(char c) { return c == ' ' || c == '\t'; }

/* RFC 9110 tchar. */
static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        return true;
    default:
        return false;
    }
}

static bool token_is(const char *s, size_t n, const char *word)
{
    size_t w = 0;
    while (word[w])
        w++;
    return n == w && strncasecmp(s, word, n) == 0;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ). Anything else (1.5, .5,
 * 0.0001, abc) is malformed and returns -1 so the whole element is ignored. */
static int parse_qvalue(const char *s, size_t n)
{
    if (n == 0 || (s[0] != '0' && s[0] != '1'))
        return -1;
    int q = (s[0] - '0') * Q_MAX;
    if (n == 1)
        return q;
    if (s[1] != '.' || n > 5)
        return -1;
    int scale = 100;
    for (size_t i = 2; i < n; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        q += (s[i] - '0') * scale;
    }
    return q <= Q_MAX ? q : -1;
}

/* End of the element starting at p: the next ',' outside a quoted string, or the NUL. */
static const char *element_end(const char *p)
{
    bool quoted = false;
    for (; *p; p++) {
        if (quoted && *p == '\\' && p[1])
            p++;
        else if (*p == '"')
            quoted = !quoted;
        else if (*p == ',' && !quoted)
            break;
    }
    return p;
}

static const char *skip_ows(const char *p, const char *end)
{
    while (p < end && is_ows(*p))
        p++;
    return p;
}

static const char *trim_end(const char *start, const char *end)
{
    while (end > start && is_ows(end[-1]))
        end--;
    return end;
}

/* A parameter value other than q: a token or a closed quoted-string, nothing after it. */
static bool param_value_ok(const char *v, const char *end)
{
    end = trim_end(v, end);
    if (v == end)
        return false;
    if (*v == '"') {
        for (v++; v < end && *v != '"'; v++)
            if (*v == '\\' && v + 1 < end)
                v++;
        return v + 1 == end;
    }
    for (; v < end; v++)
        if (!is_tchar((unsigned char)*v))
            return false;
    return true;
}

/* Reads the parameters after a coding's token (from ';' to end). Returns the weight, Q_MAX
 * when there is no q parameter, or -1 when the element is malformed. Parameters other
 * than q (allowed by older grammars) are skipped. */
static int parse_params(const char *p, const char *end)
{
    int q = Q_MAX;
    while (p < end) {
        p = skip_ows(p, end);
        if (p == end)
            break;
        if (*p != ';')
            return -1;
        p++;
        p = skip_ows(p, end);
        const char *name = p;
        while (p < end && is_tchar((unsigned char)*p))
            p++;
        size_t name_len = (size_t)(p - name);
        const char *stop = p;
        while (stop < end && *stop != ';')
            stop++;
        if (name_len == 0) { /* ";;" or a stray ';': an empty parameter, ignore it */
            if (trim_end(p, stop) != p)
                return -1;
            p = stop;
            continue;
        }
        const char *value = p;
        value = skip_ows(value, stop);
        if (value == stop || *value != '=')
            return -1;
        value++;
        value = skip_ows(value, stop);
        if (token_is(name, name_len, "q")) {
            q = parse_qvalue(value, (size_t)(trim_end(value, stop) - value));
            if (q < 0)
                return -1;
        } else if (!param_value_ok(value, stop)) {
            return -1;
        }
        p = stop;
    }
    return q;
}

/* A coding listed more than once keeps its lowest weight: never send something the
 * client refused anywhere in the header. */
static void note_weight(int *slot, int q)
{
    if (*slot == Q_UNSET || q < *slot)
        *slot = q;
}

static void parse_element(const char *p, const char *end, struct accept_weights *w)
{
    p = skip_ows(p, end);
    const char *tok = p;
    while (p < end && is_tchar((unsigned char)*p))
        p++;
    size_t n = (size_t)(p - tok);
    if (n == 0)
        return;
    int q = parse_params(p, end);
    if (q < 0)
        return;
    if (token_is(tok, n, "br"))
        note_weight(&w->br, q);
    else if (token_is(tok, n, "gzip") || token_is(tok, n, "x-gzip"))
        note_weight(&w->gzip, q);
    else if (token_is(tok, n, "identity"))
        note_weight(&w->identity, q);
    else if (token_is(tok, n, "*"))
        note_weight(&w->star, q);
}

static void parse_header(const char *header, struct accept_weights *w)
{
    *w = (struct accept_weights){Q_UNSET, Q_UNSET, Q_UNSET, Q_UNSET};
    for (const char *p = header; *p;) {
        const char *end = element_end(p);
        parse_element(p, end, w);
        p = *end ? end + 1 : end;
    }
}

/* The weight a coding ends up with: its own entry, else what "*" says, else refused. */
static int coding_weight(const struct accept_weights *w, enum encoding e)
{
    int own = e == ENCODING_BR ? w->br : w->gzip;
    if (own != Q_UNSET)
        return own;
    return w->star != Q_UNSET ? w->star : 0;
}

static const enum encoding default_order[] = {ENCODING_BR, ENCODING_GZIP};

enum encoding negotiate_encoding(const char *accept_encoding, unsigned available,
                                 const enum encoding *order, int n_order)
{
    if (!accept_encoding)
        return ENCODING_IDENTITY;
    if (!order) {
        order = default_order;
        n_order = 2;
    }
    struct accept_weights w;
    parse_header(accept_encoding, &w);

    enum encoding best = ENCODING_IDENTITY;
    int best_q = 0;
    for (int i = 0; i < n_order; i++) {
        enum encoding e = order[i];
        if ((e != ENCODING_BR && e != ENCODING_GZIP) || !(available & ENCODING_SET(e)))
            continue;
        int q = coding_weight(&w, e);
        if (q > best_q) { /* strictly greater: ties keep the earlier server preference */
            best = e;
            best_q = q;
        }
    }
    /* identity: acceptable unless "identity;q=0", or "*;q=0" with no identity entry.
     * Unlisted it ranks below any acceptable coding; listed, it competes on its weight
     * and loses ties (it is the largest representation). */
    bool identity_listed = w.identity != Q_UNSET;
    bool identity_ok = identity_listed ? w.identity > 0 : w.star != 0;
    if (best_q > 0 && !(identity_listed && w.identity > best_q))
        return best;
    return identity_ok ? ENCODING_IDENTITY : ENCODING_NONE;
}

int negotiate_parse_order(const char *list, enum encoding *order, int max)
{
    int n = 0;
    if (!list)
        return 0;
    for (const char *p = list; *p && n < max;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *tok = p;
        while (*p && *p != ',' && !is_ows(*p))
            p++;
        size_t len = (size_t)(p - tok);
        enum encoding e = token_is(tok, len, "br") ? ENCODING_BR
                        : token_is(tok, len, "gzip") ? ENCODING_GZIP : ENCODING_NONE;
        bool seen = false;
        for (int i = 0; i < n; i++)
            seen |= order[i] == e;
        if (e != ENCODING_NONE && !seen)
            order[n++] = e;
    }
    return n;
}

const char *encoding_name(enum encoding e)
{
    return e == ENCODING_BR ? "br" : e == ENCODING_GZIP ? "gzip" : "identity";
}
