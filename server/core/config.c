/* config — one table declares every key: section, name, type, default, bounds, env alias.
 * Loading walks the table; no key has a parser of its own (the redis config.c idea). */
#include "tessera/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tessera/libpq_lazy.h"

enum key_type { T_STRING, T_INT, T_BOOL, T_ENUM, T_SIZE, T_DURATION, T_INT_LIST, T_WORD_LIST };

struct key_def {
    const char *section;
    const char *name;
    enum key_type type;
    size_t offset;
    const char *def;        /* default, in the same text form a file uses */
    int64_t min, max;       /* bounds for numbers (list items too); ignored for others */
    const char *choices;    /* "a|b|c" for T_ENUM and T_WORD_LIST */
    const char *env_alias;  /* a name deployers already use, or NULL */
    int (*check)(const char *value, const char **why); /* extra validation for strings */
};

/* "HOST:PORT" or "PORT", port 0..65535 (0 = any free port). */
static int check_listen(const char *value, const char **why)
{
    const char *colon = strrchr(value, ':');
    const char *port = colon ? colon + 1 : value;
    char *end;
    long n = strtol(port, &end, 10);
    if (!*port || *end || n < 0 || n > 65535 || (colon && colon == value)) {
        *why = "expected HOST:PORT, e.g. 127.0.0.1:8080";
        return -1;
    }
    return 0;
}

/* libpq's port option: one entry per host, comma-separated, each empty (the default) or a
 * TCP port. libpq parses any text there and fails only when it connects. */
static bool port_list_valid(const char *ports)
{
    for (const char *p = ports;; p++) {
        long n = 0;
        const char *start = p;
        for (; *p >= '0' && *p <= '9'; p++)
            if ((n = n * 10 + (*p - '0')) > 65535) return false;
        if (*p != ',' && *p) return false;
        if (p > start && n == 0) return false;
        if (!*p) return true;
    }
}

/* Empty, or something libpq can parse: a bad URL is a configuration error (exit 2) at start,
 * not a connect failure found later. libpq's own message says what is wrong. */
static int check_database_url(const char *value, const char **why)
{
    if (!*value)
        return 0;
    if (!libpq_available(why))
        return -1;
    char *message = NULL;
    PQconninfoOption *options = PQconninfoParse(value, &message);
    PQfreemem(message); /* libpq's text quotes the value, which may hold a password */
    if (!options) {
        *why = "not a valid libpq connection URL or key=value string";
        return -1;
    }
    bool ports_ok = true;
    for (const PQconninfoOption *o = options; o->keyword; o++)
        if (strcmp(o->keyword, "port") == 0 && o->val) ports_ok = port_list_valid(o->val);
    PQconninfoFree(options);
    if (!ports_ok) {
        *why = "its port is not a number from 1 to 65535";
        return -1;
    }
    return 0;
}

/* Empty, or an http:// origin (no path): unknown /api routes are forwarded there. */
static int check_upstream(const char *value, const char **why)
{
    if (!*value)
        return 0;
    if (strncmp(value, "http://", 7) != 0 || !value[7] || strchr(value + 7, '/') || strchr(value + 7, '?')) {
        *why = "expected http://HOST:PORT (no path), or empty";
        return -1;
    }
    return 0;
}

#define OFF(field) offsetof(struct config, field)
#define KB 1024LL
#define MB (1024LL * 1024)
#define GB (1024LL * 1024 * 1024)
#define SEC 1000LL
#define DAY (86400LL * 1000)

static const struct key_def keys[] = {
    {"server", "listen", T_STRING, OFF(server.listen), "127.0.0.1:8080", 0, 0, NULL, NULL, check_listen},
    {"server", "mode", T_ENUM, OFF(server.mode), "development", 0, 0, "development|production", NULL, NULL},
    {"server", "threads", T_INT, OFF(server.threads), "128", 1, 1024, NULL, NULL, NULL},
    {"server", "grace_period", T_DURATION, OFF(server.grace_ms), "10s", 0, 600 * SEC, NULL, NULL, NULL},
    {"server", "request_timeout", T_DURATION, OFF(server.request_timeout_ms), "30s", 100, 3600 * SEC, NULL, NULL, NULL},
    {"server", "content_security_policy", T_STRING, OFF(server.content_security_policy), "", 0, 0, NULL, NULL, NULL},
    {"server", "strict_transport_security", T_STRING, OFF(server.strict_transport_security), "", 0, 0, NULL, NULL, NULL},

    {"static", "root", T_STRING, OFF(static_files.root), "build/www", 0, 0, NULL, NULL, NULL},
    {"static", "spa_fallback", T_BOOL, OFF(static_files.spa_fallback), "on", 0, 0, NULL, NULL, NULL},
    {"static", "max_age", T_DURATION, OFF(static_files.max_age_s), "1h", 0, 365 * DAY, NULL, NULL, NULL},
    {"static", "well_known", T_BOOL, OFF(static_files.well_known), "off", 0, 0, NULL, NULL, NULL},
    {"static", "cache_bytes", T_SIZE, OFF(static_files.cache_bytes), "32M", 0, 16 * GB, NULL, NULL, NULL},
    {"static", "cache_file_max", T_SIZE, OFF(static_files.cache_file_max), "256K", 0, 64 * MB, NULL, NULL, NULL},
    {"static", "revalidate", T_DURATION, OFF(static_files.revalidate_ms), "1s", 0, 3600 * SEC, NULL, NULL, NULL},

    {"compression", "enabled", T_BOOL, OFF(compression.enabled), "on", 0, 0, NULL, NULL, NULL},
    {"compression", "encodings", T_WORD_LIST, OFF(compression.encodings), "br,gzip", 0, 0, "br|gzip", NULL, NULL},
    {"compression", "precompressed", T_BOOL, OFF(compression.precompressed), "on", 0, 0, NULL, NULL, NULL},
    {"compression", "dynamic", T_BOOL, OFF(compression.dynamic), "on", 0, 0, NULL, NULL, NULL},
    {"compression", "min_length", T_SIZE, OFF(compression.min_length), "1024", 0, 1 * GB, NULL, NULL, NULL},
    {"compression", "gzip_level", T_INT, OFF(compression.gzip_level), "6", 1, 9, NULL, NULL, NULL},
    {"compression", "brotli_quality", T_INT, OFF(compression.brotli_quality), "5", 0, 11, NULL, NULL, NULL},
    {"compression", "types", T_STRING, OFF(compression.types),
     "text/html,text/css,text/plain,text/xml,text/javascript,application/javascript,application/json,"
     "application/manifest+json,application/xml,image/svg+xml,application/wasm,font/ttf",
     0, 0, NULL, NULL, NULL},
    {"compression", "cache_bytes", T_SIZE, OFF(compression.cache_bytes), "64M", 0, 16 * GB, NULL, NULL, NULL},

    {"images", "enabled", T_BOOL, OFF(images.enabled), "on", 0, 0, NULL, NULL, NULL},
    {"images", "widths", T_INT_LIST, OFF(images.widths),
     "32,48,64,96,128,256,384,640,750,828,1080,1200,1920,2048,3840", 1, 16384, NULL, NULL, NULL},
    {"images", "qualities", T_INT_LIST, OFF(images.qualities), "75", 1, 100, NULL, NULL, NULL},
    {"images", "formats", T_WORD_LIST, OFF(images.formats), "avif,webp", 0, 0, "avif|webp", NULL, NULL},
    {"images", "cache_dir", T_STRING, OFF(images.cache_dir), "var/cache/images", 0, 0, NULL, NULL, NULL},
    {"images", "cache_max_bytes", T_SIZE, OFF(images.cache_max_bytes), "1G", 1 * MB, 1024 * GB, NULL, NULL, NULL},
    {"images", "max_source_bytes", T_SIZE, OFF(images.max_source_bytes), "50M", 1 * KB, 4 * GB, NULL, NULL, NULL},
    {"images", "max_source_pixels", T_INT, OFF(images.max_source_pixels), "50000000", 1, 1000000000, NULL, NULL, NULL},
    {"images", "transcode_timeout", T_DURATION, OFF(images.transcode_timeout_ms), "20s", 100, 600 * SEC, NULL, NULL, NULL},
    {"images", "max_concurrent", T_INT, OFF(images.max_concurrent), "0", 0, 256, NULL, NULL, NULL},
    {"images", "queue_timeout", T_DURATION, OFF(images.queue_timeout_ms), "10s", 1, 600 * SEC, NULL, NULL, NULL},
    {"images", "ttl", T_DURATION, OFF(images.ttl_s), "1d", 0, 365 * DAY, NULL, NULL, NULL},
    {"images", "avif_first_miss", T_ENUM, OFF(images.avif_first_miss), "wait", 0, 0, "wait|webp", NULL, NULL},
    {"images", "avif_speed", T_INT, OFF(images.avif_speed), "6", 0, 10, NULL, NULL, NULL},
    {"images", "webp_method", T_INT, OFF(images.webp_method), "4", 0, 6, NULL, NULL, NULL},

    {"database", "url", T_STRING, OFF(database.url), "", 0, 0, NULL, "DATABASE_URL", check_database_url},
    {"database", "pool_max", T_INT, OFF(database.pool_max), "20", 1, 1000, NULL, "DB_POOL_MAX", NULL},
    {"database", "idle_timeout", T_DURATION, OFF(database.idle_timeout_ms), "30s", 0, 86400 * SEC, NULL, "DB_IDLE_TIMEOUT", NULL},
    {"database", "connect_timeout", T_DURATION, OFF(database.connect_timeout_ms), "5s", 100, 600 * SEC, NULL, "DB_CONNECT_TIMEOUT", NULL},
    {"database", "acquire_timeout", T_DURATION, OFF(database.acquire_timeout_ms), "2s", 1, 600 * SEC, NULL, NULL, NULL},
    {"database", "statement_timeout", T_DURATION, OFF(database.statement_timeout_ms), "10s", 0, 3600 * SEC, NULL, NULL, NULL},
    {"database", "prepared_statements", T_BOOL, OFF(database.prepared_statements), "on", 0, 0, NULL, NULL, NULL},
    {"database", "migrate_on_start", T_BOOL, OFF(database.migrate_on_start), "on", 0, 0, NULL, NULL, NULL},
    {"database", "gc_interval", T_DURATION, OFF(database.gc_interval_ms), "10m", 1 * SEC, 7 * DAY, NULL, NULL, NULL},
    {"database", "gc_batch", T_INT, OFF(database.gc_batch), "5000", 1, 1000000, NULL, NULL, NULL},

    {"api", "upstream", T_STRING, OFF(api.upstream), "", 0, 0, NULL, NULL, check_upstream},
    {"api", "upstream_timeout", T_DURATION, OFF(api.upstream_timeout_ms), "30s", 100, 3600 * SEC, NULL, NULL, NULL},
    {"api", "max_body", T_SIZE, OFF(api.max_body), "256K", 1 * KB, 64 * MB, NULL, NULL, NULL},
    {"api", "session_ttl", T_DURATION, OFF(api.session_ttl_ms), "7d", 60 * SEC, 365 * DAY, NULL, NULL, NULL},
    {"api", "secure_cookie", T_ENUM, OFF(api.secure_cookie), "auto", 0, 0, "auto|on|off", NULL, NULL},
    {"api", "cursor_secret", T_STRING, OFF(api.cursor_secret), "", 0, 0, NULL, NULL, NULL},

    {"log", "access", T_ENUM, OFF(log.access), "text", 0, 0, "off|text|json", NULL, NULL},
    {"log", "level", T_ENUM, OFF(log.level), "info", 0, 0, "error|warn|info|debug", NULL, NULL},
};
#define KEY_COUNT (sizeof keys / sizeof keys[0])

/* ------------------------------------------------------------------ value parsing */

static int choice_index(const char *choices, const char *word, size_t word_len)
{
    int index = 0;
    const char *p = choices;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == word_len && strncasecmp(p, word, len) == 0)
            return index;
        if (!bar)
            break;
        p = bar + 1;
        index++;
    }
    return -1;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *yes[] = {"on", "true", "yes", "1"}, *no[] = {"off", "false", "no", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) { *out = true; return 0; }
        if (strcasecmp(s, no[i]) == 0) { *out = false; return 0; }
    }
    return -1;
}

/* A whole number with an optional unit; `units` maps suffixes to multipliers. */
struct unit { const char *suffix; int64_t factor; };

static int parse_scaled(const char *s, const struct unit *units, int64_t bare_factor, int64_t *out)
{
    while (isspace((unsigned char)*s)) s++;
    if (!isdigit((unsigned char)(*s == '-' ? s[1] : *s)))
        return -1; /* a sign is accepted so that "-1" is reported as out of bounds */
    errno = 0;
    char *end;
    long long n = strtoll(s, &end, 10);
    if (errno)
        return -1;
    while (isspace((unsigned char)*end)) end++;
    int64_t factor = bare_factor;
    if (*end) {
        factor = 0;
        for (const struct unit *u = units; u->suffix; u++)
            if (strcasecmp(end, u->suffix) == 0) { factor = u->factor; break; }
        if (!factor)
            return -1;
    }
    if (n > INT64_MAX / factor || n < INT64_MIN / factor)
        return -1;
    *out = n * factor;
    return 0;
}

static const struct unit size_units[] = {
    {"b", 1}, {"k", KB}, {"kb", KB}, {"kib", KB}, {"m", MB}, {"mb", MB}, {"mib", MB},
    {"g", GB}, {"gb", GB}, {"gib", GB}, {NULL, 0}};
static const struct unit duration_units[] = {
    {"ms", 1}, {"s", SEC}, {"m", 60 * SEC}, {"h", 3600 * SEC}, {"d", DAY}, {NULL, 0}};

static int parse_int_list(const char *s, const struct key_def *k, struct config_int_list *out, const char **why)
{
    struct config_int_list list = {0};
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno) { *why = "expected a comma-separated list of whole numbers"; return -1; }
        if (v < k->min || v > k->max) { *why = "list item out of range"; return -1; }
        if (list.count == CONFIG_LIST_MAX) { *why = "too many items (at most 32)"; return -1; }
        list.values[list.count++] = v;
        p = end;
        while (*p == ' ') p++;
        if (*p && *p != ',') { *why = "expected a comma-separated list of whole numbers"; return -1; }
    }
    if (list.count == 0) { *why = "list is empty"; return -1; }
    *out = list;
    return 0;
}

static int check_word_list(const char *s, const struct key_def *k, const char **why)
{
    const char *p = s;
    int count = 0;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        size_t len = strcspn(p, " ,");
        if (choice_index(k->choices, p, len) < 0) { *why = "unknown item"; return -1; }
        count++;
        p += len;
    }
    if (count == 0) { *why = "list is empty"; return -1; }
    return 0;
}

static void describe_bounds(char *buf, size_t size, const struct key_def *k)
{
    if (k->type == T_ENUM || k->type == T_WORD_LIST)
        snprintf(buf, size, "expected one of %s", k->choices);
    else
        snprintf(buf, size, "must be between %lld and %lld", (long long)k->min, (long long)k->max);
}

/* Stores one value; on error fills `why` (static text or `scratch`). */
static int apply_value(struct config *cfg, const struct key_def *k, const char *value,
                       char *scratch, size_t scratch_size, const char **why)
{
    void *field = (char *)cfg + k->offset;
    int64_t n = 0;
    switch (k->type) {
    case T_STRING:
    case T_WORD_LIST:
        if (k->check && k->check(value, why) < 0)
            return -1;
        if (k->type == T_WORD_LIST && check_word_list(value, k, why) < 0) {
            describe_bounds(scratch, scratch_size, k);
            *why = scratch;
            return -1;
        }
        {
            char *copy = strdup(value);
            if (!copy) { *why = "out of memory"; return -1; }
            free(*(char **)field);
            *(char **)field = copy;
        }
        return 0;
    case T_BOOL:
        if (parse_bool(value, (bool *)field) < 0) { *why = "expected on or off"; return -1; }
        return 0;
    case T_ENUM: {
        int index = choice_index(k->choices, value, strlen(value));
        if (index < 0) { describe_bounds(scratch, scratch_size, k); *why = scratch; return -1; }
        *(int *)field = index;
        return 0;
    }
    case T_INT:
        if (parse_scaled(value, (const struct unit[]){{NULL, 0}}, 1, &n) < 0) {
            *why = "expected a whole number";
            return -1;
        }
        break;
    case T_SIZE:
        if (parse_scaled(value, size_units, 1, &n) < 0) {
            *why = "expected a size such as 512, 64K, 32M or 1G";
            return -1;
        }
        break;
    case T_DURATION:
        if (parse_scaled(value, duration_units, SEC, &n) < 0) {
            *why = "expected a duration such as 500ms, 30s, 10m, 1h or 7d (bare numbers are seconds)";
            return -1;
        }
        break;
    case T_INT_LIST:
        return parse_int_list(value, k, (struct config_int_list *)field, why);
    }
    if (n < k->min || n > k->max) {
        if (k->type == T_DURATION)
            snprintf(scratch, scratch_size, "must be between %lldms and %lldms", (long long)k->min, (long long)k->max);
        else
            describe_bounds(scratch, scratch_size, k);
        *why = scratch;
        return -1;
    }
    /* max_age and ttl are documented in seconds; they are read as durations and kept in seconds. */
    if (k->type == T_DURATION && (k->offset == OFF(static_files.max_age_s) || k->offset == OFF(images.ttl_s)))
        n /= SEC;
    *(int64_t *)field = n;
    return 0;
}

static const struct key_def *find_key(const char *section, const char *name, bool *section_known)
{
    *section_known = false;
    for (size_t i = 0; i < KEY_COUNT; i++) {
        if (strcasecmp(keys[i].section, section) != 0)
            continue;
        *section_known = true;
        if (strcasecmp(keys[i].name, name) == 0)
            return &keys[i];
    }
    return NULL;
}

int config_set(struct config *cfg, const char *section, const char *key, const char *value,
               const char *origin, int line, FILE *err)
{
    bool section_known;
    const struct key_def *k = find_key(section, key, &section_known);
    if (!k) {
        if (err)
            fprintf(err, "%s:%d: %s: %s\n", origin, line, key,
                    section_known ? "unknown key" : "unknown section");
        return -1;
    }
    char scratch[160];
    const char *why = NULL;
    if (apply_value(cfg, k, value, scratch, sizeof scratch, &why) < 0) {
        /* Connection strings and secrets are not echoed: they may hold passwords. */
        bool secret = k->check == check_database_url || strstr(k->name, "secret") != NULL;
        if (err)
            fprintf(err, "%s:%d: %s: %s (got \"%s\")\n", origin, line, key, why, secret ? "<not shown>" : value);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ sources */

struct file_state {
    struct config *cfg;
    const char *path;
    FILE *file;
    FILE *err;
    int line;   /* lines read so far: Debian's inih has no line-number handler, */
    int errors; /* so the reader below counts them itself */
    char *buf;  /* one whole line, whatever its length (getline) */
    size_t buf_size;
};

static bool is_comment_line(const char *line)
{
    while (isspace((unsigned char)*line))
        line++;
    return *line == ';' || *line == '#';
}

/* inih reads through a fixed buffer of `num` bytes (200 in Debian's build) and would take the
 * rest of a longer line for a line of its own: a value cut short, and the tail of a long
 * comment parsed as "key = value". So whole lines are read here. One too long for inih (a
 * comment excepted: it only loses its end) or holding a NUL byte, which would cut the C string
 * short, is reported and handed on as a blank line, so that the lines after it are checked. */
static char *read_counted_line(char *str, int num, void *stream)
{
    struct file_state *st = stream;
    ssize_t len = getline(&st->buf, &st->buf_size, st->file);
    if (len < 0)
        return NULL;
    st->line++;
    bool has_nul = memchr(st->buf, '\0', (size_t)len) != NULL;
    if (has_nul || (len >= num && !is_comment_line(st->buf))) {
        if (has_nul)
            fprintf(st->err, "%s:%d: syntax: a NUL byte in the line\n", st->path, st->line);
        else
            fprintf(st->err, "%s:%d: syntax: line longer than %d characters\n", st->path, st->line, num - 2);
        st->errors++;
        len = 0;
    }
    len = len < num ? len : num - 1;
    memcpy(str, st->buf, (size_t)len);
    str[len] = '\0';
    return str;
}

static int on_ini_entry(void *user, const char *section, const char *name, const char *value)
{
    struct file_state *st = user;
    int line = st->line;
    if (!name) {
        bool known;
        find_key(section, "", &known);
        if (!known) {
            fprintf(st->err, "%s:%d: [%s]: unknown section\n", st->path, line, section);
            st->errors++;
        }
        return 1;
    }
    if (!*section) {
        fprintf(st->err, "%s:%d: %s: key outside any section\n", st->path, line, name);
        st->errors++;
        return 1;
    }
    if (config_set(st->cfg, section, name, value, st->path, line, st->err) < 0)
        st->errors++;
    return 1; /* keep going: report every error in one run */
}

static int load_file(struct config *cfg, const char *path, FILE *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(err, "%s:0: config: cannot open: %s\n", path, strerror(errno));
        return -1;
    }
    struct file_state st = {cfg, path, f, err, 0, 0, NULL, 0};
    int rc = ini_parse_stream(read_counted_line, &st, on_ini_entry, &st);
    free(st.buf);
    fclose(f);
    if (rc > 0) {
        fprintf(err, "%s:%d: syntax: expected [section] or key = value\n", path, rc);
        return -1;
    }
    return st.errors ? -1 : 0;
}

static void env_name_of(const struct key_def *k, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "TESSERA_%s_%s", k->section, k->name);
    for (size_t i = 0; i < n && i < size; i++)
        buf[i] = (char)toupper((unsigned char)buf[i]);
}

static int load_env(struct config *cfg, FILE *err)
{
    int errors = 0;
    for (size_t i = 0; i < KEY_COUNT; i++) {
        char name[96];
        env_name_of(&keys[i], name, sizeof name);
        /* The deployer-facing alias is read first so the specific TESSERA_ name wins. */
        const char *names[2] = {keys[i].env_alias, name};
        for (int j = 0; j < 2; j++) {
            const char *value = names[j] ? getenv(names[j]) : NULL;
            if (!value)
                continue;
            char origin[112];
            snprintf(origin, sizeof origin, "env %s", names[j]);
            if (config_set(cfg, keys[i].section, keys[i].name, value, origin, 0, err) < 0)
                errors++;
        }
    }
    return errors ? -1 : 0;
}

static int load_overrides(struct config *cfg, const struct config_overrides *ov, FILE *err)
{
    int errors = 0;
    if (ov->root && config_set(cfg, "static", "root", ov->root, "flag --root", 0, err) < 0) errors++;
    if (ov->listen && config_set(cfg, "server", "listen", ov->listen, "flag --listen", 0, err) < 0) errors++;
    if (ov->mode && config_set(cfg, "server", "mode", ov->mode, "flag --mode", 0, err) < 0) errors++;
    return errors ? -1 : 0;
}

int config_load(struct config *cfg, const char *path, const struct config_overrides *ov, FILE *err)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < KEY_COUNT; i++) {
        if (config_set(cfg, keys[i].section, keys[i].name, keys[i].def, "default", 0, err) < 0)
            return -1; /* a bad default is a bug in the table */
    }
    int rc = 0;
    if (path && load_file(cfg, path, err) < 0) rc = -1;
    if (load_env(cfg, err) < 0) rc = -1;
    if (ov && load_overrides(cfg, ov, err) < 0) rc = -1;
    return rc;
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < KEY_COUNT; i++) {
        if (keys[i].type == T_STRING || keys[i].type == T_WORD_LIST) {
            char **field = (char **)((char *)cfg + keys[i].offset);
            free(*field);
            *field = NULL;
        }
    }
}

const char *config_key_name(size_t index, const char **env_name)
{
    static __thread char names[2][96];
    if (index >= KEY_COUNT)
        return NULL;
    snprintf(names[0], sizeof names[0], "%s.%s", keys[index].section, keys[index].name);
    if (env_name) {
        env_name_of(&keys[index], names[1], sizeof names[1]);
        *env_name = names[1];
    }
    return names[0];
}

const char *config_mode_name(int mode)
{
    return mode == CONFIG_MODE_PRODUCTION ? "production" : "development";
}
