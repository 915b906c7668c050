/* config — every setting tessera reads, declared once in a table (server/core/config.c).
 *
 * Precedence: built-in defaults < INI file < environment < command-line flags.
 * Environment names are TESSERA_<SECTION>_<KEY>; database keys also answer to
 * DATABASE_URL, DB_POOL_MAX, DB_IDLE_TIMEOUT and DB_CONNECT_TIMEOUT.
 * Errors are reported as "file:line: key: reason" and the caller exits 2. */
#ifndef TESSERA_CONFIG_H
#define TESSERA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_LIST_MAX 32

enum config_mode { CONFIG_MODE_DEVELOPMENT = 0, CONFIG_MODE_PRODUCTION = 1 };
enum config_access_log { ACCESS_LOG_OFF = 0, ACCESS_LOG_TEXT = 1, ACCESS_LOG_JSON = 2 };
enum config_log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };
enum config_secure_cookie { SECURE_COOKIE_AUTO = 0, SECURE_COOKIE_ON, SECURE_COOKIE_OFF };
enum config_avif_first_miss { AVIF_FIRST_MISS_WAIT = 0, AVIF_FIRST_MISS_WEBP = 1 };

/* A comma-separated list of whole numbers, e.g. widths = 640,1080. */
struct config_int_list {
    int count;
    int64_t values[CONFIG_LIST_MAX];
};

/* Durations are stored in milliseconds; sizes in bytes. */
struct config {
    struct {
        char *listen;              /* "127.0.0.1:8080"; port 0 picks a free port */
        int mode;                  /* enum config_mode */
        int64_t threads;
        int64_t grace_ms;          /* SIGTERM: time allowed for in-flight requests */
        int64_t request_timeout_ms;
        char *content_security_policy; /* empty = header not sent */
        char *strict_transport_security;
    } server;
    struct {
        char *root;
        bool spa_fallback;
        int64_t max_age_s;         /* Cache-Control max-age for names without a content hash */
        bool well_known;           /* allow /.well-known/ despite the dotfile rule */
        int64_t cache_bytes;       /* in-memory cache of small hot files */
        int64_t cache_file_max;    /* largest file kept in that cache */
        int64_t revalidate_ms;     /* a cached file is stat'ed again after this long; 0 = every request */
    } static_files;
    struct {
        bool enabled;
        char *encodings;           /* server preference order, e.g. "br,gzip" */
        bool precompressed;
        bool dynamic;
        int64_t min_length;
        int64_t gzip_level;
        int64_t brotli_quality;
        char *types;               /* compressible MIME types, comma-separated */
        int64_t cache_bytes;       /* in-memory cache of variants compressed on first use */
    } compression;
    struct {
        bool enabled;
        struct config_int_list widths;
        struct config_int_list qualities;
        char *formats;             /* output formats offered, "avif,webp" */
        char *cache_dir;
        int64_t cache_max_bytes;
        int64_t max_source_bytes;
        int64_t max_source_pixels;
        int64_t transcode_timeout_ms;
        int64_t max_concurrent;    /* 0 = number of CPUs */
        int64_t queue_timeout_ms;
        int64_t ttl_s;
        int avif_first_miss;       /* enum config_avif_first_miss */
        int64_t avif_speed;
        int64_t webp_method;
    } images;
    struct {
        char *url;
        int64_t pool_max;
        int64_t idle_timeout_ms;
        int64_t connect_timeout_ms;
        int64_t acquire_timeout_ms;
        int64_t statement_timeout_ms;
        bool prepared_statements;
        bool migrate_on_start;
        int64_t gc_interval_ms;
        int64_t gc_batch;
    } database;
    struct {
        char *upstream;            /* empty = unknown /api routes are 404 */
        int64_t upstream_timeout_ms;
        int64_t max_body;
        int64_t session_ttl_ms;
        int secure_cookie;         /* enum config_secure_cookie */
        char *cursor_secret;       /* list cursor MAC key; empty = derived from database.url */
    } api;
    struct {
        int access;                /* enum config_access_log */
        int level;                 /* enum config_log_level */
    } log;
};

/* Command-line overrides; NULL fields are not set. */
struct config_overrides {
    const char *root;
    const char *listen;
    const char *mode;
};

/* Fills *cfg with defaults, then the file (may be NULL), env, overrides.
 * Returns 0, or -1 after printing "file:line: key: reason" lines to err. */
int config_load(struct config *cfg, const char *path, const struct config_overrides *ov, FILE *err);
void config_free(struct config *cfg);

/* Sets one key by section and name as if read from `origin` (used by tests). */
int config_set(struct config *cfg, const char *section, const char *key, const char *value,
               const char *origin, int line, FILE *err);

/* Iterates over the table for documentation checks: returns "section.key" names, NULL at end. */
const char *config_key_name(size_t index, const char **env_name);

const char *config_mode_name(int mode);
#endif
