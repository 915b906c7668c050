/* migrate — the migration runner behind `tessera migrate` and `serve` start-up. */
#include "tessera/migrate.h"

#include <ctype.h>
#include <errno.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/cli.h"
#include "tessera/clock.h"
#include "tessera/db_pool.h"
#include "tessera/embedded.h"
#include "tessera/log.h"
#include "tessera/sha256.h"

/* Any constant works as long as every tessera uses the same one: "tessera!" in ASCII. */
#define MIGRATE_LOCK_KEY "8387236823431344417"
#define NO_TRANSACTION_MARKER "-- tessera:no-transaction"

struct migration {
    char *name;
    char *sql;                 /* NUL-terminated, owned */
    char sha256[65];
    bool applied;
    char applied_at[40];
};

struct migration_set {
    struct migration *items;
    size_t count;
};

static void migration_set_free(struct migration_set *set)
{
    for (size_t i = 0; i < set->count; i++) {
        free(set->items[i].name);
        free(set->items[i].sql);
    }
    free(set->items);
    set->items = NULL;
    set->count = 0;
}

static int migration_add(struct migration_set *set, const char *name, const char *sql, size_t len)
{
    struct migration *grown = realloc(set->items, (set->count + 1) * sizeof *grown);
    if (!grown)
        return -1;
    set->items = grown;
    struct migration *m = &set->items[set->count];
    memset(m, 0, sizeof *m);
    m->name = strdup(name);
    m->sql = malloc(len + 1);
    if (!m->name || !m->sql) {
        free(m->name);
        free(m->sql);
        return -1;
    }
    memcpy(m->sql, sql, len);
    m->sql[len] = '\0';
    sha256_hex(sql, len, m->sha256);
    set->count++;
    return 0;
}

static int load_embedded(struct migration_set *set)
{
    for (size_t i = 0; i < migrations_embedded_count; i++) {
        const struct embedded_file *f = &migrations_embedded[i];
        if (migration_add(set, f->name, (const char *)f->data, f->size) < 0)
            return -1;
    }
    return 0;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct strbuf sb;
    strbuf_init(&sb);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        strbuf_append(&sb, chunk, n);
    int failed = ferror(f) || sb.failed;
    fclose(f);
    if (failed) {
        strbuf_free(&sb);
        return NULL;
    }
    return strbuf_steal(&sb, len);
}

static int is_sql_name(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 4 && strcmp(d->d_name + n - 4, ".sql") == 0;
}

static int load_dir(struct migration_set *set, const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, is_sql_name, alphasort);
    if (n < 0) {
        fprintf(stderr, "tessera migrate: cannot read %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        size_t len = 0;
        char *sql = rc == 0 ? read_file(path, &len) : NULL;
        if (rc == 0 && (!sql || migration_add(set, names[i]->d_name, sql ? sql : "", len) < 0)) {
            fprintf(stderr, "tessera migrate: cannot read %s\n", path);
            rc = -1;
        }
        free(sql);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* ------------------------------------------------------------------ splitting (pure) */

static const char *skip_dollar_quote(const char *p)
{
    /* p at '$': a tag is $$ or $ident$; anything else is not a quote (e.g. $1). */
    const char *t = p + 1;
    while (isalnum((unsigned char)*t) || *t == '_')
        t++;
    if (*t != '$' || (t > p + 1 && isdigit((unsigned char)p[1])))
        return p + 1;
    size_t tag_len = (size_t)(t - p) + 1;
    const char *body = t + 1;
    for (const char *q = body; *q; q++)
        if (*q == '$' && strncmp(q, p, tag_len) == 0)
            return q + tag_len;
    return body + strlen(body);
}

const char *migrate_statement_end(const char *sql)
{
    const char *p = sql;
    while (*p) {
        if (*p == ';')
            return p + 1;
        if (*p == '\'' || *p == '"') {
            /* In E'...' a backslash also escapes (E'it\'s'); E must start a word, since
             * name'...' is a literal after an identifier. */
            bool backslash = *p == '\'' && p > sql && (p[-1] == 'E' || p[-1] == 'e') &&
                             (p - 1 == sql || !(isalnum((unsigned char)p[-2]) || p[-2] == '_' || p[-2] == '$'));
            char quote = *p++;
            while (*p && !(*p == quote && p[1] != quote))
                p += (*p == quote || (backslash && *p == '\\' && p[1])) ? 2 : 1; /* an escaped quote */
            if (*p)
                p++;
        } else if (p[0] == '-' && p[1] == '-') {
            p += strcspn(p, "\n");
        } else if (p[0] == '/' && p[1] == '*') {
            int depth = 0; /* PostgreSQL block comments nest */
            do {
                if (p[0] == '/' && p[1] == '*') { depth++; p += 2; }
                else if (p[0] == '*' && p[1] == '/') { depth--; p += 2; }
                else p++;
            } while (*p && depth > 0);
        } else if (*p == '$') {
            p = skip_dollar_quote(p);
        } else {
            p++;
        }
    }
    return p;
}

/* True when the text holds something besides whitespace and comments. */
static bool has_code(const char *s, const char *end)
{
    while (s < end) {
        if (isspace((unsigned char)*s)) {
            s++;
        } else if (s[0] == '-' && s + 1 < end && s[1] == '-') {
            s += strcspn(s, "\n");
        } else if (s[0] == '/' && s + 1 < end && s[1] == '*') {
            const char *close = strstr(s + 2, "*/");
            s = close ? close + 2 : end;
        } else {
            return true;
        }
    }
    return false;
}

/* ------------------------------------------------------------------ database side */

static void report_failure(const char *what, PGconn *pg, PGresult *res)
{
    const char *msg = res ? PQresultErrorMessage(res) : "";
    if (!msg[0])
        msg = PQerrorMessage(pg);
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    fprintf(stderr, "tessera migrate: %s failed: %.*s%s%s%s\n", what, (int)strcspn(msg, "\n"), msg,
            state ? " (SQLSTATE " : "", state ? state : "", state ? ")" : "");
}

static bool exec_ok(PGconn *pg, const char *sql, const char *what)
{
    PGresult *res = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(res);
    /* EMPTY_QUERY: a file of comments only, e.g. a placeholder for a withdrawn number. */
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
    if (!ok)
        report_failure(what, pg, res);
    PQclear(res);
    return ok;
}

static bool record_applied(PGconn *pg, const struct migration *m)
{
    const char *values[2] = {m->name, m->sha256};
    PGresult *res = PQexecParams(pg, "INSERT INTO tessera_migrations (name, sha256) VALUES ($1, $2)", 2, NULL,
                                 values, NULL, NULL, 0);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        report_failure(m->name, pg, res);
    PQclear(res);
    return ok;
}

/* Reads what is recorded and checks every applied file still has its checksum. */
static int load_applied(PGconn *pg, struct migration_set *set)
{
    PGresult *res = PQexec(pg, "SELECT name, sha256, to_char(applied_at, 'YYYY-MM-DD HH24:MI:SS TZ') "
                               "FROM tessera_migrations ORDER BY name");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        report_failure("reading tessera_migrations", pg, res);
        PQclear(res);
        return -1;
    }
    int changed = 0;
    for (int r = 0; r < PQntuples(res); r++) {
        const char *name = PQgetvalue(res, r, 0), *sha = PQgetvalue(res, r, 1);
        struct migration *m = NULL;
        for (size_t i = 0; i < set->count && !m; i++)
            if (strcmp(set->items[i].name, name) == 0)
                m = &set->items[i];
        if (!m) {
            fprintf(stderr, "tessera migrate: warning: %s is recorded as applied but no such file exists\n", name);
            continue;
        }
        m->applied = true;
        snprintf(m->applied_at, sizeof m->applied_at, "%s", PQgetvalue(res, r, 2));
        if (strcmp(m->sha256, sha) != 0) {
            fprintf(stderr,
                    "tessera migrate: %s was changed after it was applied (recorded sha256 %s, file now %s); "
                    "applied migrations must never be edited: restore the file and add a new migration\n",
                    name, sha, m->sha256);
            changed++;
        }
    }
    PQclear(res);
    return changed ? -1 : 0;
}

static bool first_line_is_marker(const char *sql)
{
    size_t n = strlen(NO_TRANSACTION_MARKER);
    return strncmp(sql, NO_TRANSACTION_MARKER, n) == 0 && (sql[n] == '\n' || sql[n] == '\r' || sql[n] == ' ' ||
                                                           sql[n] == '\0');
}

/* Outside a transaction each statement goes alone: several in one simple-protocol message
 * would form an implicit transaction, which CREATE INDEX CONCURRENTLY refuses. */
static bool apply_without_transaction(PGconn *pg, const struct migration *m)
{
    const char *p = m->sql;
    while (*p) {
        const char *end = migrate_statement_end(p);
        if (has_code(p, end)) {
            char *stmt = strndup(p, (size_t)(end - p));
            bool ok = stmt && exec_ok(pg, stmt, m->name);
            free(stmt);
            if (!ok)
                return false;
        }
        p = end;
    }
    return record_applied(pg, m);
}

static bool apply_one(PGconn *pg, const struct migration *m)
{
    if (first_line_is_marker(m->sql))
        return apply_without_transaction(pg, m);
    if (!exec_ok(pg, "BEGIN", m->name))
        return false;
    if (exec_ok(pg, m->sql, m->name) && record_applied(pg, m) && exec_ok(pg, "COMMIT", m->name))
        return true;
    PGresult *res = PQexec(pg, "ROLLBACK");
    PQclear(res);
    fprintf(stderr, "tessera migrate: %s rolled back; nothing of it was applied\n", m->name);
    return false;
}

/* Another instance may be migrating, for minutes with a big table: say so before waiting,
 * or the wait looks like a hang. */
static bool take_lock(PGconn *pg, FILE *out)
{
    PGresult *res = PQexec(pg, "SELECT pg_try_advisory_lock(" MIGRATE_LOCK_KEY ")");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        report_failure("taking the migration lock", pg, res);
        PQclear(res);
        return false;
    }
    bool taken = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (taken)
        return true;
    if (out)
        fprintf(stderr, "tessera migrate: another instance holds the migration lock; waiting for it\n");
    else
        log_info("migrations: another instance holds the migration lock; waiting for it");
    return exec_ok(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", "taking the migration lock");
}

/* The session: no statement timeout (waiting for the lock or building an index may take
 * long), quiet notices, then the lock and the bookkeeping table. */
static bool prepare_session(PGconn *pg, FILE *out)
{
    return exec_ok(pg, "SET statement_timeout = 0", "SET statement_timeout") &&
           exec_ok(pg, "SET client_min_messages = warning", "SET client_min_messages") && take_lock(pg, out) &&
           exec_ok(pg,
                   "CREATE TABLE IF NOT EXISTS tessera_migrations ("
                   " name text PRIMARY KEY, sha256 text NOT NULL,"
                   " applied_at timestamptz NOT NULL DEFAULT now())",
                   "creating tessera_migrations");
}

static int run_with_connection(PGconn *pg, struct migration_set *set, enum migrate_mode mode, FILE *out)
{
    if (!prepare_session(pg, out))
        return -1;
    int rc = load_applied(pg, set);
    if (mode == MIGRATE_STATUS) {
        for (size_t i = 0; i < set->count && out; i++) {
            const struct migration *m = &set->items[i];
            fprintf(out, "%-8s %s%s%s\n", m->applied ? "applied" : "pending", m->name, m->applied ? "  " : "",
                    m->applied_at);
        }
        return rc;
    }
    if (rc < 0)
        return -1;
    int applied = 0;
    for (size_t i = 0; i < set->count; i++) {
        struct migration *m = &set->items[i];
        if (m->applied)
            continue;
        int64_t start = clock_monotonic_us();
        if (!apply_one(pg, m))
            return -1;
        applied++;
        if (out)
            fprintf(out, "applied %s (%.1f ms)\n", m->name, (double)(clock_monotonic_us() - start) / 1000.0);
        else
            log_info("migration %s applied", m->name);
    }
    if (applied == 0 && out)
        fprintf(out, "database is up to date (%zu migrations)\n", set->count);
    return 0;
}

int migrate_run(const struct config *cfg, const char *dir, enum migrate_mode mode, FILE *out)
{
    struct migration_set set = {0};
    if ((dir ? load_dir(&set, dir) : load_embedded(&set)) < 0) {
        migration_set_free(&set);
        return -1;
    }
    char err[512];
    PGconn *pg = db_connect_direct(cfg, err, sizeof err);
    if (!pg) {
        fprintf(stderr, "tessera migrate: cannot connect to the database: %s\n", err);
        migration_set_free(&set);
        return -1;
    }
    int rc = run_with_connection(pg, &set, mode, out);
    PQfinish(pg); /* ends the session, which releases the advisory lock */
    migration_set_free(&set);
    return rc;
}

int migrate_on_start(const struct config *cfg)
{
    if (migrate_run(cfg, NULL, MIGRATE_APPLY, NULL) < 0) {
        log_error("database migrations failed (see above); not starting");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ CLI */

int migrate_cli_main(const struct config *cfg, int argc, char **argv)
{
    enum migrate_mode mode = MIGRATE_APPLY;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--status") == 0) {
            mode = MIGRATE_STATUS;
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            dir = argv[++i];
        } else if (strncmp(argv[i], "--dir=", 6) == 0) {
            dir = argv[i] + 6;
        } else {
            fprintf(stderr, "usage: tessera migrate [--config FILE] [--status] [--dir DIR]\n"
                            "  --dir DIR  read *.sql from DIR instead of the set built into the binary\n");
            return 2;
        }
    }
    if (!cfg->database.url[0]) {
        fprintf(stderr, "tessera migrate: database.url is not set (config [database] url, or DATABASE_URL)\n");
        return 2;
    }
    return migrate_run(cfg, dir, mode, stdout) == 0 ? 0 : 1;
}
