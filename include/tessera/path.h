/* path — turning a raw request path into a file path that cannot leave the document root.
 * path_resolve is pure (string work only) and fuzzed; path_check_inside does the one piece
 * of I/O the rule needs: following symlinks with realpath. */
#ifndef TESSERA_PATH_H
#define TESSERA_PATH_H

#include <stdbool.h>
#include <stddef.h>

enum path_status {
    PATH_OK = 0,
    PATH_BAD_REQUEST = 400, /* malformed: bad escape, invalid UTF-8, "..", encoded separator */
    PATH_NOT_FOUND = 404,   /* well-formed but never served: dotfiles, dot-folders */
    PATH_TOO_LONG = 414,    /* decoded and joined to the root, longer than a path can be */
};

struct path_options {
    bool well_known;        /* allow the first segment ".well-known" */
};

struct path_resolved {
    size_t root_len;        /* full[0..root_len) is the root, full[root_len] is '/' */
    size_t full_len;
    bool trailing_slash;    /* the request named a directory ("/docs/") */
    bool has_extension;     /* the last segment contains a '.' (not counting a leading one) */
};

/* Decodes raw_url (from '/' up to an optional '?' or '#') and joins it to root into
 * out (size out_size). The relative part is out + root_len + 1 ("" for the root itself).
 * Returns PATH_OK or the status to answer; out holds nothing useful on refusal. */
enum path_status path_resolve(const char *root, const char *raw_url, const struct path_options *opt,
                              char *out, size_t out_size, struct path_resolved *res);

/* True when `full` (an existing path) resolves, symlinks followed, to real_root or below it.
 * real_root must itself come from realpath(). */
bool path_check_inside(const char *real_root, const char *full);
#endif
