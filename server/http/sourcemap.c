/* sourcemap — production source-map policy. Pure: decides on bytes and names only.
 * Only the LAST line of a body is ever looked at: bundlers put the annotation there, and a
 * "sourceMappingURL" mentioned anywhere else may be code or a string literal. */
#include "tessera/sourcemap.h"

#include <string.h>
#include <strings.h>

/* Case-insensitive: on a file system that ignores case "APP.JS.MAP" names the map, and a
 * file named so is a map all the same. */
static bool has_suffix(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && strncasecmp(s + n - k, suffix, k) == 0;
}

bool sourcemap_is_map_path(const char *path)
{
    if (!path)
        return false;
    size_t n = strlen(path);
    return has_suffix(path, n, ".map") || has_suffix(path, n, ".map.br") || has_suffix(path, n, ".map.gz");
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

static bool starts_with(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(s, prefix, k) == 0;
}

/* True when line (no newline, trailing blanks already trimmed) is a source-map annotation:
 * "//# sourceMappingURL=..." or the legacy "//@ ...", or "/\*# sourceMappingURL=... *\/"
 * (also "@"), with optional blanks before it. */
static bool is_annotation(const char *line, size_t n)
{
    while (n > 0 && (*line == ' ' || *line == '\t')) {
        line++;
        n--;
    }
    if (n < 4)
        return false;
    bool line_comment = line[0] == '/' && line[1] == '/';
    bool block_comment = line[0] == '/' && line[1] == '*';
    if ((!line_comment && !block_comment) || (line[2] != '#' && line[2] != '@'))
        return false;
    const char *rest = line + 3;
    size_t rest_n = n - 3;
    while (rest_n > 0 && (*rest == ' ' || *rest == '\t')) {
        rest++;
        rest_n--;
    }
    if (!starts_with(rest, rest_n, "sourceMappingURL="))
        return false;
    if (line_comment) /* JS also ends lines at CR, U+2028, U+2029: code could follow */
        return !memchr(rest, '\r', rest_n) && !memmem(rest, rest_n, "\xe2\x80\xa8", 3) &&
               !memmem(rest, rest_n, "\xe2\x80\xa9", 3);
    /* a block comment must close at the end of the line and nowhere before */
    const char *close = NULL;
    for (size_t i = 0; i + 1 < rest_n; i++)
        if (rest[i] == '*' && rest[i + 1] == '/') {
            close = rest + i;
            break;
        }
    return close && close + 2 == rest + rest_n;
}

/* Start of the last line of body[0, len) when that line is an annotation, else len. */
static size_t annotation_start(const char *body, size_t len)
{
    size_t end = len;
    while (end > 0 && is_space(body[end - 1]))
        end--;
    size_t start = end;
    while (start > 0 && body[start - 1] != '\n')
        start--;
    return end > start && is_annotation(body + start, end - start) ? start : len;
}

size_t sourcemap_strip_trailer(const char *body, size_t len)
{
    if (!body)
        return len;
    /* Repackaged files can end in more than one annotation (a distribution appending its
     * own below the bundler's): all of the trailing ones go. What is kept ends with the
     * newline that ended the code, as the bundler wrote it. */
    size_t kept = len;
    for (size_t start; kept > 0 && (start = annotation_start(body, kept)) < kept;)
        kept = start;
    return kept;
}
