/* config: defaults, bounds, precedence, file:line errors, and the docs covering every key. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "tessera/config.h"

static char *write_temp_bytes(const char *data, size_t len)
{
    char *path = strdup("/tmp/tessera-cfg-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

static char *write_temp(const char *text)
{
    return write_temp_bytes(text, strlen(text));
}

/* Loads a file holding exactly data[0..data_len) and returns what config_load printed. */
static char *load_errors_bytes(const char *data, size_t data_len, int *rc)
{
    char *path = write_temp_bytes(data, data_len);
    char *buf = NULL;
    size_t len = 0;
    FILE *err = open_memstream(&buf, &len);
    struct config cfg;
    *rc = config_load(&cfg, path, NULL, err);
    fclose(err);
    config_free(&cfg);
    unlink(path);
    free(path);
    return buf;
}

static char *load_errors(const char *text, int *rc)
{
    return load_errors_bytes(text, strlen(text), rc);
}

Test(config, defaults_are_the_documented_ones)
{
    struct config cfg;
    cr_assert_eq(config_load(&cfg, NULL, NULL, stderr), 0);
    cr_assert_str_eq(cfg.server.listen, "127.0.0.1:8080");
    cr_assert_eq(cfg.server.mode, CONFIG_MODE_DEVELOPMENT);
    cr_assert_eq(cfg.database.pool_max, 20);
    cr_assert_eq(cfg.database.idle_timeout_ms, 30000);
    cr_assert_eq(cfg.database.connect_timeout_ms, 5000);
    cr_assert_eq(cfg.compression.min_length, 1024);
    cr_assert_eq(cfg.images.widths.count, 15);
    cr_assert_eq(cfg.images.widths.values[0], 32);
    cr_assert_eq(cfg.images.qualities.values[0], 75);
    cr_assert_eq(cfg.static_files.max_age_s, 3600);
    config_free(&cfg);
}

Test(config, units_are_parsed)
{
    struct config cfg;
    cr_assert_eq(config_load(&cfg, NULL, NULL, stderr), 0);
    cr_assert_eq(config_set(&cfg, "database", "idle_timeout", "500ms", "t", 1, stderr), 0);
    cr_assert_eq(cfg.database.idle_timeout_ms, 500);
    cr_assert_eq(config_set(&cfg, "database", "idle_timeout", "2m", "t", 1, stderr), 0);
    cr_assert_eq(cfg.database.idle_timeout_ms, 120000);
    cr_assert_eq(config_set(&cfg, "database", "idle_timeout", "45", "t", 1, stderr), 0);
    cr_assert_eq(cfg.database.idle_timeout_ms, 45000, "bare numbers are seconds");
    cr_assert_eq(config_set(&cfg, "static", "cache_bytes", "64K", "t", 1, stderr), 0);
    cr_assert_eq(cfg.static_files.cache_bytes, 65536);
    cr_assert_eq(config_set(&cfg, "images", "widths", "640, 1080", "t", 1, stderr), 0);
    cr_assert_eq(cfg.images.widths.count, 2);
    cr_assert_eq(cfg.images.widths.values[1], 1080);
    cr_assert_eq(config_set(&cfg, "server", "mode", "production", "t", 1, stderr), 0);
    cr_assert_eq(cfg.server.mode, CONFIG_MODE_PRODUCTION);
    config_free(&cfg);
}

Test(config, errors_name_file_line_and_key)
{
    int rc;
    char *out = load_errors("[server]\nthreads = 4\nthreads = -1\n[database]\npool_max = many\n"
                            "[nope]\nx = 1\n[log]\nlevel = loud\nextra = 1\n", &rc);
    cr_assert_eq(rc, -1);
    cr_assert(strstr(out, ":3: threads: must be between 1 and 1024"), "%s", out);
    cr_assert(strstr(out, ":5: pool_max: expected a whole number"), "%s", out);
    cr_assert(strstr(out, ":7: x: unknown section"), "%s", out);
    cr_assert(strstr(out, ":9: level: expected one of error|warn|info|debug"), "%s", out);
    cr_assert(strstr(out, ":10: extra: unknown key"), "%s", out);
    free(out);
}

/* Found by fuzz_config: inih reads a line through a 200-byte buffer and took the rest of a
 * longer one for a line of its own, so a long value was cut short without a word, every line
 * number after it was off, and the tail of a long comment could set a key. */
Test(config, long_lines_are_refused_not_split)
{
    char text[1024];
    int rc;
    snprintf(text, sizeof text, "[server]\ncontent_security_policy = %0250d\nthreads = x\n", 7);
    char *out = load_errors(text, &rc);
    cr_assert_eq(rc, -1);
    cr_assert(strstr(out, ":2: syntax: line longer than 198 characters"), "%s", out);
    cr_assert(strstr(out, ":3: threads: expected a whole number"), "the next line keeps its number: %s", out);
    free(out);

    char comment[251];
    memset(comment, 'c', sizeof comment - 1);
    comment[sizeof comment - 1] = '\0';
    snprintf(text, sizeof text, "[server]\n; %s threads = 5\nmode = production\n", comment);
    char *path = write_temp(text);
    struct config cfg;
    cr_assert_eq(config_load(&cfg, path, NULL, stderr), 0, "a long comment is still a comment");
    cr_assert_eq(cfg.server.threads, 128, "nothing in a comment sets a key");
    cr_assert_eq(cfg.server.mode, CONFIG_MODE_PRODUCTION);
    config_free(&cfg);
    unlink(path);
    free(path);

    /* 198 characters and the newline fill inih's buffer but for its NUL: the longest line kept. */
    for (size_t length = 198; length <= 199; length++) {
        char line[200];
        memset(line, 'h', length);
        memcpy(line, "listen = ", 9);
        memcpy(line + length - 5, ":8080", 5);
        snprintf(text, sizeof text, "[server]\n%.*s\n", (int)length, line);
        out = load_errors(text, &rc);
        cr_assert_eq(rc, length == 198 ? 0 : -1, "%zu: %s", length, out);
        free(out);
    }
}

Test(config, nul_bytes_are_refused)
{
    static const char text[] = "[server]\nthreads = 4\0garbage\nmode = loud\n";
    int rc;
    char *out = load_errors_bytes(text, sizeof text - 1, &rc);
    cr_assert_eq(rc, -1);
    cr_assert(strstr(out, ":2: syntax: a NUL byte in the line"), "%s", out);
    cr_assert(strstr(out, ":3: mode: expected one of"), "%s", out);
    free(out);
}

Test(config, rejects_bad_lists_and_listen)
{
    struct config cfg;
    cr_assert_eq(config_load(&cfg, NULL, NULL, NULL), 0);
    cr_assert_eq(config_set(&cfg, "images", "widths", "640,abc", "t", 1, NULL), -1);
    cr_assert_eq(config_set(&cfg, "images", "qualities", "0", "t", 1, NULL), -1);
    cr_assert_eq(config_set(&cfg, "compression", "encodings", "br,zstd", "t", 1, NULL), -1);
    cr_assert_eq(config_set(&cfg, "server", "listen", "localhost", "t", 1, NULL), -1);
    cr_assert_eq(config_set(&cfg, "server", "listen", "127.0.0.1:99999", "t", 1, NULL), -1);
    cr_assert_eq(config_set(&cfg, "api", "upstream", "http://127.0.0.1:9/x", "t", 1, NULL), -1);
    cr_assert_eq(config_set(&cfg, "api", "upstream", "http://127.0.0.1:9", "t", 1, NULL), 0);
    cr_assert_eq(config_set(&cfg, "database", "gc_batch", "0", "t", 1, NULL), -1);
    cr_assert_eq(config_set(&cfg, "database", "url", "postgresql:///db?nosuchoption=1", "t", 1, NULL), -1);
    cr_assert_eq(config_set(&cfg, "database", "url", "host=/tmp dbname", "t", 1, NULL), -1);
    cr_assert_eq(config_set(&cfg, "database", "url", "postgresql:///tessera?host=/tmp/s&user=tessera", "t", 1, NULL), 0);
    /* libpq parses any port text and fails only at connect: a typo is caught here instead. */
    cr_assert_eq(config_set(&cfg, "database", "url", "postgresql://h:99x/db", "t", 1, NULL), -1);
    cr_assert_eq(config_set(&cfg, "database", "url", "postgresql://h:70000/db", "t", 1, NULL), -1);
    cr_assert_eq(config_set(&cfg, "database", "url", "host=a,b port=5432,x dbname=d", "t", 1, NULL), -1);
    cr_assert_eq(config_set(&cfg, "database", "url", "postgresql://a:5432,b/db", "t", 1, NULL), 0);
    cr_assert_eq(config_set(&cfg, "database", "url", "host=a,b port=5432,6432 dbname=d", "t", 1, NULL), 0);
    config_free(&cfg);
}

Test(config, precedence_defaults_file_env_flags)
{
    char *path = write_temp("[database]\npool_max = 7\n[static]\nroot = /from/file\n[server]\nmode = development\n");
    setenv("DB_POOL_MAX", "9", 1);
    struct config cfg;
    cr_assert_eq(config_load(&cfg, path, NULL, stderr), 0);
    cr_assert_eq(cfg.database.pool_max, 9, "env beats file");
    config_free(&cfg);
    setenv("TESSERA_DATABASE_POOL_MAX", "11", 1);
    cr_assert_eq(config_load(&cfg, path, NULL, stderr), 0);
    cr_assert_eq(cfg.database.pool_max, 11, "the TESSERA_ name beats the alias");
    config_free(&cfg);
    unsetenv("DB_POOL_MAX");
    unsetenv("TESSERA_DATABASE_POOL_MAX");
    setenv("TESSERA_STATIC_ROOT", "/from/env", 1);
    struct config_overrides ov = {.root = "/from/flag", .mode = "production"};
    cr_assert_eq(config_load(&cfg, path, &ov, stderr), 0);
    cr_assert_str_eq(cfg.static_files.root, "/from/flag", "flags beat env");
    cr_assert_eq(cfg.server.mode, CONFIG_MODE_PRODUCTION);
    config_free(&cfg);
    unsetenv("TESSERA_STATIC_ROOT");
    unlink(path);
    free(path);
}

Test(config, every_key_is_documented)
{
    const char *top = getenv("TESSERA_SOURCE_DIR");
    char path[512];
    snprintf(path, sizeof path, "%s/docs/CONFIG.md", top ? top : ".");
    FILE *f = fopen(path, "r");
    cr_assert(f, "docs/CONFIG.md must exist");
    static char doc[256 * 1024];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    doc[n] = '\0';
    fclose(f);
    const char *env;
    for (size_t i = 0; config_key_name(i, &env); i++) {
        char key[128], env_copy[128];
        snprintf(key, sizeof key, "`%s`", config_key_name(i, &env));
        snprintf(env_copy, sizeof env_copy, "%s", env);
        cr_expect(strstr(doc, key), "docs/CONFIG.md does not document %s", key);
        cr_expect(strstr(doc, env_copy), "docs/CONFIG.md does not name %s", env_copy);
    }
}
