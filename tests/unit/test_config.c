/* config: defaults, bounds, precedence, file:line errors, and the docs covering every key. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "tessera/config.h"

static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/tessera-cfg-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static char *load_errors(const char *text, int *rc)
{
    char *path = write_temp(text);
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
