/* migrate — the migration runner behind `tessera migrate` and `serve` start-up. */
#include "tessera/migrate.h"

#include <ctype.h>
#include <errno.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

static const char *skip_blank(const char *s, const char *end);
static const char *keyword_at(const char *s, const char *end, const char *word);

/* At p (just past a BEGIN): is ATOMIC the next word? BEGIN ATOMIC opens a SQL-standard
 * function body (PostgreSQL 14+), whose statements end in semicolons of their own. */
static bool atomic_follows(const char *p)
{
    const char *end = p + strlen(p);
    return keyword_at(skip_blank(p, end), end, "ATOMIC") != NULL;
}

const char *migrate_statement_end(const char *sql)
{
    const char *p = sql;
    int atomic_depth = 0; /* inside BEGIN ATOMIC ... END; CASE ... END nests in it */
    while (*p) {
        if (*p == ';' && atomic_depth == 0)
            return p + 1;
        if (isalpha((unsigned char)*p) || *p == '_') {
            const char *word = p;
            while (isalnum((unsigned char)*p) || *p == '_' || *p == '$')
                p++;
            size_t n = (size_t)(p - word);
            if (n == 5 && strncasecmp(word, "BEGIN", 5) == 0 && atomic_follows(p))
                atomic_depth++;
            else if (atomic_depth > 0 && n == 4 && strncasecmp(word, "CASE", 4) == 0)
                atomic_depth++;
            else if (atomic_depth > 0 && n == 3 && strncasecmp(word, "END", 3) == 0)
                atomic_depth--;
            continue;
        }
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

/* Past whitespace and comments, up to end. */
static const char *skip_blank(const char *s, const char *end)
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
            break;
        }
    }
    return s < end ? s : end;
}

/* True when the text holds something besides whitespace and comments. */
static bool has_code(const char *s, const char *end) { return skip_blank(s, end) < end; }

/* The keyword word (upper case) at s, case-insensitively and as a whole word; past it or NULL. */
static const char *keyword_at(const char *s, const char *end, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(end - s) < n || strncasecmp(s, word, n) != 0)
        return NULL;
    if (s + n < end && (isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '$'))
        return NULL;
    return s + n;
}

static bool is_transaction_control(const char *s, const char *end)
{
    static const char *const enders[] = {"BEGIN", "START", "COMMIT", "END", "ABORT"};
    for (size_t i = 0; i < sizeof enders / sizeof enders[0]; i++)
        if (keyword_at(s, end, enders[i]))
            return true;
    const char *after = keyword_at(s, end, "ROLLBACK");
    if (after) /* ROLLBACK TO [SAVEPOINT] stays inside the transaction */
        return !keyword_at(skip_blank(after, end), end, "TO");
    after = keyword_at(s, end, "PREPARE");
    return after && keyword_at(skip_blank(after, end), end, "TRANSACTION");
}

const char *migrate_transaction_control(const char *sql)
{
    for (const char *p = sql; *p;) {
        const char *end = migrate_statement_end(p);
        const char *word = skip_blank(p, end);
        if (word < end && is_transaction_control(word, end))
            return word;
        p = end;
    }
    return NULL;
}

/* ------------------------------------------------------------------ database side */

/* One run over one connection. The lock is transaction-level and taken again by each file's
 * own transaction, and settings are SET LOCAL: nothing outlives a transaction, so the run is
 * safe behind PgBouncer in transaction mode, where a session-level lock stayed on whichever
 * server connection took it, held for ever. Every statement is awaited under a deadline (a
 * database host that stops answering must not hold serve's start-up for as long as TCP
 * would) except a file's own SQL, which may rightly take minutes. */
struct run_ctx {
    PGconn *pg;
    FILE *out;                 /* progress (CLI); NULL: the log (serve) */
    struct migration_set *set;
    const char *newest_known;  /* the last name of the set */
    int64_t answer_ms;         /* bookkeeping: statement_timeout (10 s when 0) + connect_timeout */
    int64_t net_ms;            /* the network's share of a deadline: connect_timeout */
    int64_t lock_wait_ms;      /* how long to wait for another instance's lock; 0: no limit */
    struct strbuf unknown;     /* "unknown" lines for --status */
    bool warned;               /* the unknown-file lines are printed once per run */
    bool broken;               /* no answer came: the connection's state is unknown */
    bool schema_refused;       /* the database holds a newer or changed migration */
    int pooled;                /* -1 not checked yet, 0 a session of its own, 1 behind a pooler */
};

static void report_failure(const char *what, PGconn *pg, PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    if (res && (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH)) {
        fprintf(stderr, "tessera migrate: %s failed: COPY FROM STDIN / TO STDOUT has no client to talk to in a "
                        "migration; use INSERT, or COPY from a file on the database server\n", what);
        return;
    }
    const char *msg = res ? PQresultErrorMessage(res) : "";
    if (!msg[0])
        msg = PQerrorMessage(pg);
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    fprintf(stderr, "tessera migrate: %s failed: %.*s%s%s%s\n", what, (int)strcspn(msg, "\n"), msg,
            state ? " (SQLSTATE " : "", state ? state : "", state ? ")" : "");
}

static bool result_ok(const PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    /* EMPTY_QUERY: a file of comments only, e.g. a placeholder for a withdrawn number. */
    return res && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY);
}

/* The statement's result, or NULL with the failure reported. timeout_ms 0: no deadline. */
static PGresult *run_sql(struct run_ctx *x, const char *sql, int n, const char *const *values, int64_t timeout_ms,
                         const char *what)
{
    if (x->broken)
        return NULL;
    bool timed_out;
    PGresult *res = db_pg_exec(x->pg, sql, n, values, timeout_ms, &timed_out);
    if (result_ok(res))
        return res;
    if (timed_out) {
        x->broken = true;
        fprintf(stderr, "tessera migrate: %s: no answer from the database within %lld ms; giving up\n", what,
                (long long)timeout_ms);
    } else {
        report_failure(what, x->pg, res);
        x->broken = PQtransactionStatus(x->pg) == PQTRANS_ACTIVE; /* stuck in COPY: closing ends it */
    }
    PQclear(res);
    return NULL;
}

static bool exec_ok(struct run_ctx *x, const char *sql, const char *what)
{
    PGresult *res = run_sql(x, sql, 0, NULL, x->answer_ms, what);
    PQclear(res);
    return res != NULL;
}

static void rollback_quietly(struct run_ctx *x)
{
    bool timed_out;
    if (!x->broken && PQtransactionStatus(x->pg) != PQTRANS_IDLE)
        PQclear(db_pg_exec(x->pg, "ROLLBACK", 0, NULL, x->answer_ms, &timed_out));
}

static bool record_applied(struct run_ctx *x, const struct migration *m)
{
    const char *values[2] = {m->name, m->sha256};
    PGresult *res = run_sql(x, "INSERT INTO tessera_migrations (name, sha256) VALUES ($1, $2)", 2, values,
                            x->answer_ms, m->name);
    PQclear(res);
    return res != NULL;
}

static struct migration *find_migration(struct migration_set *set, const char *name)
{
    for (size_t i = 0; i < set->count; i++)
        if (strcmp(set->items[i].name, name) == 0)
            return &set->items[i];
    return NULL;
}

/* A recorded name this binary does not have. Past its newest file, the database was migrated
 * by a newer tessera: serving an API over a schema it was not written for is refused. One
 * among known names (a number withdrawn here) is only a warning. Returns true if refused. */
static bool note_unknown(struct run_ctx *x, const char *name, const char *applied_at)
{
    bool newer = !x->newest_known || strcmp(name, x->newest_known) > 0;
    if (x->warned)
        return newer;
    if (newer)
        fprintf(stderr,
                "tessera migrate: %s is applied in the database but unknown to this tessera, whose newest migration "
                "is %s: the database was migrated by a newer version; run that version or a later one\n",
                name, x->newest_known ? x->newest_known : "(none)");
    else
        fprintf(stderr, "tessera migrate: warning: %s is recorded as applied but no such file exists\n", name);
    strbuf_printf(&x->unknown, "%-8s %s  %s%s\n", "unknown", name, applied_at,
                  newer ? "  (newer than this tessera)" : "");
    return newer;
}

/* Reads what is recorded and checks every applied file still has its checksum. */
static int load_applied(struct run_ctx *x)
{
    for (size_t i = 0; i < x->set->count; i++)
        x->set->items[i].applied = false;
    PGresult *res = run_sql(x,
                            "SELECT name, sha256, to_char(applied_at, 'YYYY-MM-DD HH24:MI:SS TZ') "
                            "FROM tessera_migrations ORDER BY name",
                            0, NULL, x->answer_ms, "reading tessera_migrations");
    if (!res)
        return -1;
    int refused = 0;
    for (int r = 0; r < PQntuples(res); r++) {
        const char *name = PQgetvalue(res, r, 0), *sha = PQgetvalue(res, r, 1);
        struct migration *m = find_migration(x->set, name);
        if (!m) {
            refused += note_unknown(x, name, PQgetvalue(res, r, 2));
            continue;
        }
        m->applied = true;
        snprintf(m->applied_at, sizeof m->applied_at, "%s", PQgetvalue(res, r, 2));
        if (strcmp(m->sha256, sha) != 0) {
            fprintf(stderr,
                    "tessera migrate: %s was changed after it was applied (recorded sha256 %s, file now %s); "
                    "applied migrations must never be edited: restore the file and add a new migration\n",
                    name, sha, m->sha256);
            refused++;
        }
    }
    x->warned = true;
    PQclear(res);
    x->schema_refused = refused > 0;
    return refused ? -1 : 0;
}

static bool first_line_is_marker(const char *sql)
{
    size_t n = strlen(NO_TRANSACTION_MARKER);
    return strncmp(sql, NO_TRANSACTION_MARKER, n) == 0 && (sql[n] == '\n' || sql[n] == '\r' || sql[n] == ' ' ||
                                                           sql[n] == '\0');
}

/* " (held by pid N, application, state since T)" for the waiting line, or "" (never fails the
 * transaction: the question runs under a savepoint). An idle holder is not migrating, since a
 * migration runs in a transaction: it is a lock left behind, which deserves saying so. */
static void describe_holder(struct run_ctx *x, char *buf, size_t size)
{
    static const char sql[] =
        "SELECT a.pid, coalesce(nullif(a.application_name, ''), 'no application_name'),"
        " coalesce(a.state, 'state not visible'), coalesce(to_char(a.state_change, 'YYYY-MM-DD HH24:MI:SS TZ'), '?')"
        " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
        " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        " AND l.classid::bigint = " MIGRATE_LOCK_KEY "::bigint >> 32"
        " AND l.objid::bigint = " MIGRATE_LOCK_KEY "::bigint & 4294967295 LIMIT 1";
    buf[0] = '\0';
    bool timed_out;
    if (!exec_ok(x, "SAVEPOINT describe_holder", "SAVEPOINT"))
        return;
    PGresult *res = db_pg_exec(x->pg, sql, 0, NULL, x->answer_ms, &timed_out);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        const char *state = PQgetvalue(res, 0, 2);
        snprintf(buf, size, " (held by pid %s, %s, %s since %s%s)", PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
                 state, PQgetvalue(res, 0, 3),
                 strcmp(state, "idle") == 0 ? ": an idle session is not migrating but has left the lock behind, "
                                              "e.g. an older tessera through PgBouncer in transaction mode; "
                                              "pg_terminate_backend(pid) frees it"
                                            : "");
    }
    x->broken = timed_out;
    PQclear(res);
    exec_ok(x, "ROLLBACK TO SAVEPOINT describe_holder", "ROLLBACK TO SAVEPOINT");
}

/* Called inside a transaction. Another instance may be migrating, for minutes with a big
 * table: say so before waiting, or the wait looks like a hang. With lock_wait_ms the wait ends
 * there (lock_timeout on the server, and the same plus the network's share here, for a server
 * that stopped answering). session: the session-level lock, for a no-transaction file. */
static bool take_lock(struct run_ctx *x, bool session)
{
    const char *what = "taking the migration lock";
    PGresult *res = run_sql(x,
                            session ? "SELECT pg_try_advisory_lock(" MIGRATE_LOCK_KEY ")"
                                    : "SELECT pg_try_advisory_xact_lock(" MIGRATE_LOCK_KEY ")",
                            0, NULL, x->answer_ms, what);
    if (!res)
        return false;
    bool taken = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    if (taken)
        return true;
    char holder[512];
    describe_holder(x, holder, sizeof holder);
    if (x->out)
        fprintf(stderr, "tessera migrate: another session holds the migration lock%s; waiting for it\n", holder);
    else
        log_warn("migrations: another session holds the migration lock%s; waiting for it, at most %lld ms", holder,
                 (long long)x->lock_wait_ms);
    char limit[24];
    snprintf(limit, sizeof limit, "%lld", (long long)x->lock_wait_ms);
    const char *v[1] = {limit};
    if (x->lock_wait_ms > 0) {
        res = run_sql(x, "SELECT set_config('lock_timeout', $1, true)", 1, v, x->answer_ms, what);
        if (!res)
            return false;
        PQclear(res);
    }
    bool timed_out;
    res = db_pg_exec(x->pg,
                     session ? "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")"
                             : "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")",
                     0, NULL, x->lock_wait_ms > 0 ? x->lock_wait_ms + x->net_ms : 0, &timed_out);
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    taken = PQresultStatus(res) == PGRES_TUPLES_OK;
    if (timed_out) {
        x->broken = true;
        fprintf(stderr, "tessera migrate: %s: no answer from the database within %lld ms; giving up\n", what,
                (long long)(x->lock_wait_ms + x->net_ms));
    } else if (state && strcmp(state, "55P03") == 0) {
        fprintf(stderr,
                "tessera migrate: gave up after %lld ms waiting for the migration lock: another session still holds "
                "it (an instance migrating, or one stuck); exiting, to be retried\n",
                (long long)x->lock_wait_ms);
    } else if (!taken) {
        report_failure(what, x->pg, res);
    }
    PQclear(res);
    return taken && (x->lock_wait_ms == 0 || exec_ok(x, "SET LOCAL lock_timeout TO DEFAULT", what));
}

/* Opens a transaction that holds the migration lock and knows what is applied. Timeouts are
 * SET LOCAL: an index build may take long, and a session SET would stay on a pooler's server
 * connection for whoever comes next. */
static bool begin_locked(struct run_ctx *x)
{
    return exec_ok(x, "BEGIN", "BEGIN") &&
           exec_ok(x,
                   "SELECT set_config('statement_timeout', '0', true), "
                   "set_config('client_min_messages', 'warning', true)",
                   "setting statement_timeout") &&
           take_lock(x, false) &&
           exec_ok(x,
                   "CREATE TABLE IF NOT EXISTS tessera_migrations ("
                   " name text PRIMARY KEY, sha256 text NOT NULL,"
                   " applied_at timestamptz NOT NULL DEFAULT now())",
                   "creating tessera_migrations") &&
           load_applied(x) == 0;
}

/* Through a pooler (PgBouncer) the backend key libpq holds is the pooler's own, not the
 * server's: the pids differ. */
static bool own_session(struct run_ctx *x)
{
    if (x->pooled < 0) {
        PGresult *res = run_sql(x, "SELECT pg_backend_pid()", 0, NULL, x->answer_ms, "checking the session");
        if (!res)
            return false;
        x->pooled = atoi(PQgetvalue(res, 0, 0)) != PQbackendPID(x->pg);
        PQclear(res);
    }
    return x->pooled == 0;
}

static int count_lines(const char *from, const char *to)
{
    int n = 0;
    for (const char *p = from; p < to; p++)
        n += *p == '\n';
    return n;
}

/* Inside begin_locked's transaction. 1 applied, -1 failed. A statement of the file's own that
 * ended the transaction would have committed part of it, unrecorded, and the lock with it:
 * such a file is refused before anything of it runs. */
static int apply_in_transaction(struct run_ctx *x, const struct migration *m)
{
    const char *control = migrate_transaction_control(m->sql);
    if (control) {
        rollback_quietly(x);
        fprintf(stderr,
                "tessera migrate: %s holds a statement that begins or ends a transaction (%.*s, line %d); each file "
                "runs in a transaction of its own: remove it, or mark the file " NO_TRANSACTION_MARKER "\n",
                m->name, (int)strcspn(control, ";\n"), control, 1 + count_lines(m->sql, control));
        return -1;
    }
    PGresult *res = run_sql(x, m->sql, 0, NULL, 0, m->name);
    bool ok = res != NULL;
    PQclear(res);
    if (ok && record_applied(x, m) && exec_ok(x, "COMMIT", m->name))
        return 1;
    rollback_quietly(x);
    fprintf(stderr, "tessera migrate: %s rolled back; nothing of it was applied\n", m->name);
    return -1;
}

/* Indexes a failed CREATE INDEX CONCURRENTLY left INVALID (not ones being built right now):
 * a re-run's IF NOT EXISTS would keep them, and PostgreSQL never uses them. "" when none;
 * NULL when the question failed (reported). The caller frees the text. */
/* The INVALID indexes (not being built right now) that the file names: another one in the
 * database, an operator's or another application's, is none of this file's business. */
static char *invalid_indexes(struct run_ctx *x, const struct migration *m)
{
    const char *values[] = {m->sql};
    PGresult *res = run_sql(x,
                            "SELECT coalesce(string_agg(i.indexrelid::regclass::text, ', '"
                            " ORDER BY i.indexrelid::regclass::text), '') FROM pg_index i"
                            " JOIN pg_class c ON c.oid = i.indexrelid"
                            " WHERE NOT i.indisvalid AND position(lower(c.relname) in lower($1)) > 0"
                            " AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p"
                            " WHERE p.index_relid = i.indexrelid)",
                            1, values, x->answer_ms, "looking for invalid indexes");
    char *names = res ? strdup(PQgetvalue(res, 0, 0)) : NULL;
    PQclear(res);
    return names;
}

/* Outside a transaction each statement goes alone: several in one simple-protocol message
 * would form an implicit transaction, which CREATE INDEX CONCURRENTLY refuses. The lock then
 * has to be the session-level one, which a pooler (PgBouncer) leaves on whichever server
 * connection took it, held for ever: refused there. 1 applied, 0 applied meanwhile by
 * another instance, -1 failed. */
static int apply_without_transaction(struct run_ctx *x, struct migration *m)
{
    if (!own_session(x)) {
        if (!x->broken)
            fprintf(stderr,
                    "tessera migrate: %s runs outside a transaction (" NO_TRANSACTION_MARKER "), which needs the "
                    "migration lock for a whole session; this connection goes through a pooler such as PgBouncer, "
                    "where that lock would outlive the session: run `tessera migrate` with the URL of PostgreSQL "
                    "itself\n",
                    m->name);
        return -1;
    }
    if (!(exec_ok(x, "BEGIN", "BEGIN") && take_lock(x, true) && exec_ok(x, "COMMIT", "COMMIT"))) {
        rollback_quietly(x);
        return -1;
    }
    bool ok = exec_ok(x, "SET statement_timeout = 0", "SET statement_timeout") &&
              exec_ok(x, "SET client_min_messages = warning", "SET client_min_messages") && load_applied(x) == 0;
    int rc = ok && m->applied ? 0 : -1;
    bool statement_failed = false; /* a statement of the file, not the bookkeeping around it */
    for (const char *p = m->sql; ok && !m->applied && *p;) {
        const char *end = migrate_statement_end(p);
        if (has_code(p, end)) {
            char *stmt = strndup(p, (size_t)(end - p));
            PGresult *res = stmt ? run_sql(x, stmt, 0, NULL, 0, m->name) : NULL;
            ok = res != NULL;
            statement_failed = !ok;
            PQclear(res);
            free(stmt);
        }
        p = end;
    }
    char *invalid = !m->applied && (ok || (statement_failed && !x->broken)) ? invalid_indexes(x, m) : NULL;
    if (ok && !m->applied && invalid && invalid[0])
        fprintf(stderr,
                "tessera migrate: %s is not recorded as applied: index %s is INVALID, left by a failed CREATE INDEX "
                "CONCURRENTLY, which IF NOT EXISTS keeps; DROP INDEX CONCURRENTLY it and run again\n",
                m->name, invalid);
    else if (ok && !m->applied && invalid && record_applied(x, m))
        rc = 1;
    if (rc < 0 && statement_failed && !x->broken)
        fprintf(stderr, "tessera migrate: %s stopped; the statements before the failing one stay applied and run "
                        "again next time (write them with IF NOT EXISTS)%s%s\n", m->name,
                invalid && invalid[0] ? "; INVALID index left behind, DROP INDEX CONCURRENTLY it first: " : "",
                invalid && invalid[0] ? invalid : "");
    free(invalid);
    exec_ok(x, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", "releasing the migration lock");
    return rc;
}

static struct migration *first_pending(struct migration_set *set)
{
    for (size_t i = 0; i < set->count; i++)
        if (!set->items[i].applied)
            return &set->items[i];
    return NULL;
}

/* One file per transaction, each taking the lock and reading the record again: another
 * instance may have applied the next file meanwhile. */
static int apply_pending(struct run_ctx *x)
{
    int applied = 0;
    for (;;) {
        if (!begin_locked(x)) {
            rollback_quietly(x);
            return -1;
        }
        struct migration *m = first_pending(x->set);
        if (!m)
            break;
        int64_t start = clock_monotonic_us();
        int rc = first_line_is_marker(m->sql)
                     ? (exec_ok(x, "COMMIT", "COMMIT") ? apply_without_transaction(x, m) : -1)
                     : apply_in_transaction(x, m);
        if (rc < 0)
            return -1;
        if (rc == 0)
            continue;
        applied++;
        if (x->out)
            fprintf(x->out, "applied %s (%.1f ms)\n", m->name, (double)(clock_monotonic_us() - start) / 1000.0);
        else
            log_info("migration %s applied", m->name);
    }
    if (!exec_ok(x, "COMMIT", "COMMIT"))
        return -1;
    if (applied == 0 && x->out)
        fprintf(x->out, "database is up to date (%zu migrations)\n", x->set->count);
    return 0;
}

/* Reads only: no lock to wait for, nothing created. */
static int show_status(struct run_ctx *x)
{
    PGresult *res = run_sql(x, "SELECT to_regclass('tessera_migrations') IS NOT NULL", 0, NULL, x->answer_ms,
                            "reading tessera_migrations");
    if (!res)
        return -1;
    bool recorded = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    int rc = recorded ? load_applied(x) : 0;
    if (x->broken)
        return -1;
    for (size_t i = 0; i < x->set->count && x->out; i++) {
        const struct migration *m = &x->set->items[i];
        fprintf(x->out, "%-8s %s%s%s\n", m->applied ? "applied" : "pending", m->name, m->applied ? "  " : "",
                m->applied_at);
    }
    if (x->out && x->unknown.data)
        fputs(x->unknown.data, x->out);
    return rc;
}

/* For serve with migrate_on_start off: what show_status reads, judged. A newer or changed
 * schema refuses the start; pending files only warn, since the operator migrates separately
 * and the order of a deployment is theirs. */
static int check_schema(struct run_ctx *x)
{
    int rc = show_status(x);
    if (rc < 0 && !x->schema_refused) {
        /* No verdict (no answer in time, no right to read tessera_migrations): like a database
         * that cannot be reached, that is no reason to refuse the start. */
        log_warn("database: schema not checked at start (see the line before)");
        return 0;
    }
    const struct migration *first = first_pending(x->set);
    if (rc == 0 && first) {
        size_t pending = 0;
        for (size_t i = 0; i < x->set->count; i++)
            pending += !x->set->items[i].applied;
        log_warn("database: %zu migration(s) not applied, from %s on; database.migrate_on_start is off, so run "
                 "`tessera migrate` (API routes may fail until then)", pending, first->name);
    }
    return rc;
}

static int run_migrations(const struct config *cfg, const char *dir, enum migrate_mode mode, FILE *out,
                          int64_t lock_wait_ms)
{
    struct migration_set set = {0};
    if ((dir ? load_dir(&set, dir) : load_embedded(&set)) < 0) {
        migration_set_free(&set);
        return -1;
    }
    char err[512];
    PGconn *pg = db_connect_direct(cfg, err, sizeof err);
    if (!pg && mode == MIGRATE_CHECK) {
        /* Not migrating, serve starts without the database, as it would run through an outage. */
        log_warn("database: schema not checked at start: cannot connect: %s", err);
        migration_set_free(&set);
        return 0;
    }
    if (!pg) {
        fprintf(stderr, "tessera migrate: cannot connect to the database: %s\n", err);
        migration_set_free(&set);
        return -1;
    }
    PQsetnonblocking(pg, 1); /* statements are written under the deadline too (db_pg_exec) */
    struct run_ctx x = {.pg = pg, .out = out, .set = &set, .net_ms = cfg->database.connect_timeout_ms,
                        .lock_wait_ms = lock_wait_ms, .pooled = -1, .answer_ms = db_answer_deadline_ms(cfg)};
    for (size_t i = 0; i < set.count; i++)
        if (!x.newest_known || strcmp(set.items[i].name, x.newest_known) > 0)
            x.newest_known = set.items[i].name;
    strbuf_init(&x.unknown);
    int rc = mode == MIGRATE_STATUS ? show_status(&x) : mode == MIGRATE_CHECK ? check_schema(&x) : apply_pending(&x);
    PQfinish(pg);
    strbuf_free(&x.unknown);
    migration_set_free(&set);
    return rc;
}

int migrate_run(const struct config *cfg, const char *dir, enum migrate_mode mode, FILE *out)
{
    return run_migrations(cfg, dir, mode, out, 0);
}

/* serve must come up or go down within a bound, so that its service manager can retry: each
 * pending file waits for another instance's migration lock at most statement_timeout (10 s
 * when 0), so the whole wait is bounded by that times the number of pending files. */
int migrate_on_start(const struct config *cfg)
{
    if (run_migrations(cfg, NULL, MIGRATE_APPLY, NULL, db_statement_bound_ms(cfg)) < 0) {
        log_error("database migrations failed (see above); not starting");
        return -1;
    }
    return 0;
}

int migrate_check_on_start(const struct config *cfg)
{
    if (run_migrations(cfg, NULL, MIGRATE_CHECK, NULL, 0) < 0) {
        log_error("database schema check failed (see above); not starting");
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
