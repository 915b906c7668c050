/* static_files — the dashboard's built files: safe paths, conditional and range requests,
 * representation choice, and a bounded in-memory cache of hot files. */
#ifndef TESSERA_STATIC_FILES_H
#define TESSERA_STATIC_FILES_H

#include "tessera/config.h"
#include "tessera/http.h"

struct static_files;

/* NULL on error (logged). */
struct static_files *static_files_create(const struct config *cfg);
void static_files_free(struct static_files *sf);
/* Answers GET/HEAD for anything the router did not claim. Returns the status sent. */
int static_files_handle(struct static_files *sf, struct http_exchange *ex);
/* Pure policy: the Cache-Control value for a path relative to the root. Content-hashed
 * names ("app.3f2a9c1d.js", "index-BxK3aZ9q.js") are immutable for a year, HTML (and the
 * root, "") is no-cache, anything else gets max_age_s. */
void static_files_cache_control(const char *rel, int64_t max_age_s, char *out, size_t size);
/* Prometheus text lines. */
void static_files_metrics(struct static_files *sf, struct strbuf *out);
#endif
