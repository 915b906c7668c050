/* auth_cli — `tessera user add EMAIL [--name NAME] [--update-password]` and
 * `tessera session new EMAIL [--ttl 7d]`. Each is one statement on a direct connection. */
#include "tessera/cli.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "tessera/auth.h"
#include "tessera/db_pool.h"

#define PASSWORD_MIN 8
#define PASSWORD_MAX 1024
#define EMAIL_MAX 320 /* RFC 5321's limit, and what sign-in keeps of an address */

/* Normalizes into out[EMAIL_MAX + 1]; false when the address does not fit. Cut to fit it
 * would name another account, so it is refused rather than shortened. */
static bool email_normalize_whole(const char *in, char out[EMAIL_MAX + 1])
{
    char probe[EMAIL_MAX + 2];
    auth_email_normalize(in, probe, sizeof probe);
    if (strlen(probe) > EMAIL_MAX)
        return false;
    memcpy(out, probe, strlen(probe) + 1);
    return true;
}

static bool email_plausible(const char *email)
{
    const char *at = strchr(email, '@');
    return at && at != email && at[1] && !strchr(at + 1, '@') && !strpbrk(email, " \t\r\n");
}

/* The first line of stdin, or a no-echo prompt on the terminal. */
static int read_password(char *buf, size_t size)
{
    bool tty = isatty(STDIN_FILENO);
    struct termios saved, quiet;
    if (tty) {
        fputs("password: ", stderr);
        fflush(stderr);
        if (tcgetattr(STDIN_FILENO, &saved) == 0) {
            quiet = saved;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        } else {
            tty = false;
        }
    }
    char *line = fgets(buf, (int)size, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
        fputc('\n', stderr);
    }
    if (!line)
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

static PGconn *connect_or_report(const struct config *cfg, const char *cmd)
{
    char err[512];
    PGconn *pg = db_connect_direct(cfg, err, sizeof err);
    if (!pg)
        fprintf(stderr, "tessera %s: cannot connect to the database: %s\n", cmd, err);
    return pg;
}

/* The one statement, awaited at most statement_timeout (10 s when 0) + connect_timeout: a
 * database host that stops answering would otherwise hold a deploy script for as long as TCP
 * does, since it cannot enforce statement_timeout itself. NULL (reported) when no result came. */
static PGresult *exec_bounded(const struct config *cfg, PGconn *pg, const char *cmd, const char *sql,
                              const char *const values[3])
{
    int64_t limit_ms = db_answer_deadline_ms(cfg);
    bool timed_out;
    PQsetnonblocking(pg, 1);
    PGresult *res = db_pg_exec(pg, sql, 3, values, limit_ms, &timed_out);
    if (!res && timed_out)
        fprintf(stderr, "tessera %s: no answer from the database within %lld ms\n", cmd, (long long)limit_ms);
    else if (!res)
        fprintf(stderr, "tessera %s: %s", cmd, PQerrorMessage(pg));
    return res;
}

static const char sql_user_add[] =
    "WITH u AS (INSERT INTO users (email, name) VALUES ($1, $2) RETURNING id)"
    " INSERT INTO accounts (user_id, provider_id, account_id, password)"
    " SELECT id, 'credential', id::text, $3 FROM u RETURNING user_id";

/* Replaces the credential of an existing user, creating the account row if it had none. */
static const char sql_user_update_password[] =
    "WITH u AS (SELECT id FROM users WHERE email = $1),"
    " updated AS (UPDATE accounts a SET password = $3, updated_at = now() FROM u"
    "   WHERE a.user_id = u.id AND a.provider_id = 'credential' RETURNING a.user_id),"
    " inserted AS (INSERT INTO accounts (user_id, provider_id, account_id, password)"
    "   SELECT id, 'credential', id::text, $3 FROM u WHERE NOT EXISTS (SELECT 1 FROM updated)"
    "   RETURNING user_id),"
    " renamed AS (UPDATE users SET name = $2, updated_at = now() FROM u"
    "   WHERE users.id = u.id AND $2::text IS NOT NULL RETURNING users.id)"
    " SELECT user_id FROM updated UNION ALL SELECT user_id FROM inserted";

static int user_add(const struct config *cfg, const char *email, const char *name, bool update)
{
    char password[PASSWORD_MAX + 2];
    if (read_password(password, sizeof password) < 0) {
        fprintf(stderr, "tessera user add: no password given (first line of stdin)\n");
        return 1;
    }
    if (strlen(password) < PASSWORD_MIN || strlen(password) > PASSWORD_MAX) {
        fprintf(stderr, "tessera user add: the password must be %d to %d characters\n", PASSWORD_MIN, PASSWORD_MAX);
        return 1;
    }
    char hash[AUTH_PASSWORD_HASH_MAX];
    int hashed = auth_password_hash(password, hash, sizeof hash);
    memset(password, 0, sizeof password);
    if (hashed < 0) {
        fprintf(stderr, "tessera user add: cannot hash the password\n");
        return 1;
    }
    PGconn *pg = connect_or_report(cfg, "user add");
    if (!pg)
        return 1;
    const char *values[3] = {email, update ? name : (name ? name : ""), hash};
    PGresult *res = exec_bounded(cfg, pg, "user add", update ? sql_user_update_password : sql_user_add, values);
    int rc = 0;
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (!res) {
        rc = 1;
    } else if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        printf("%s %s (id %s)\n", update ? "updated" : "created", email, PQgetvalue(res, 0, 0));
    } else if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        fprintf(stderr, "tessera user add: no user with email %s\n", email);
        rc = 1;
    } else if (state && strcmp(state, "23505") == 0) {
        fprintf(stderr, "tessera user add: a user with email %s already exists "
                        "(add --update-password to change the password)\n", email);
        rc = 1;
    } else {
        fprintf(stderr, "tessera user add: %s", PQresultErrorMessage(res));
        rc = 1;
    }
    PQclear(res);
    PQfinish(pg);
    return rc;
}

int user_cli_main(const struct config *cfg, int argc, char **argv)
{
    const char *email_arg = NULL, *name = NULL;
    bool update = false, bad = argc < 2 || strcmp(argv[1], "add") != 0;
    for (int i = 2; i < argc && !bad; i++) {
        if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
            name = argv[++i];
        else if (strncmp(argv[i], "--name=", 7) == 0)
            name = argv[i] + 7;
        else if (strcmp(argv[i], "--update-password") == 0)
            update = true;
        else if (argv[i][0] != '-' && !email_arg)
            email_arg = argv[i];
        else
            bad = true;
    }
    if (bad || !email_arg) {
        fprintf(stderr, "usage: tessera user add EMAIL [--name NAME] [--update-password]\n"
                        "  the password is read from the first line of stdin, or prompted for on a terminal\n");
        return 2;
    }
    char email[EMAIL_MAX + 1];
    if (!email_normalize_whole(email_arg, email) || !email_plausible(email)) {
        fprintf(stderr, "tessera user add: %s is not an email address\n", email_arg);
        return 2;
    }
    if (!cfg->database.url[0]) {
        fprintf(stderr, "tessera user: database.url is not set\n");
        return 2;
    }
    return user_add(cfg, email, name, update);
}

/* "7d", "12h", "30m", "90s" or plain seconds; at most ten years. */
static long long parse_ttl_seconds(const char *s)
{
    char *end;
    long long n = strtoll(s, &end, 10);
    if (end == s || n <= 0)
        return -1;
    long long unit = 1;
    if (*end == 'd') unit = 86400;
    else if (*end == 'h') unit = 3600;
    else if (*end == 'm') unit = 60;
    else if (*end == 's' || *end == '\0') unit = 1;
    else return -1;
    if (*end && end[1])
        return -1;
    if (n > 3650LL * 86400 / unit)
        return -1;
    return n * unit;
}

static const char sql_session_new[] =
    "INSERT INTO sessions (token_hash, user_id, expires_at, user_agent)"
    " SELECT decode($1, 'hex'), id, now() + $2::bigint * interval '1 second', 'tessera session new'"
    " FROM users WHERE email = $3 RETURNING expires_at";

int session_cli_main(const struct config *cfg, int argc, char **argv)
{
    const char *email_arg = NULL;
    long long ttl = cfg->api.session_ttl_ms / 1000;
    bool bad = argc < 2 || strcmp(argv[1], "new") != 0;
    for (int i = 2; i < argc && !bad; i++) {
        if (strcmp(argv[i], "--ttl") == 0 && i + 1 < argc)
            bad = (ttl = parse_ttl_seconds(argv[++i])) < 0;
        else if (strncmp(argv[i], "--ttl=", 6) == 0)
            bad = (ttl = parse_ttl_seconds(argv[i] + 6)) < 0;
        else if (argv[i][0] != '-' && !email_arg)
            email_arg = argv[i];
        else
            bad = true;
    }
    if (bad || !email_arg) {
        fprintf(stderr, "usage: tessera session new EMAIL [--ttl 7d]   (ttl: N[s|m|h|d])\n");
        return 2;
    }
    if (!cfg->database.url[0]) {
        fprintf(stderr, "tessera session: database.url is not set\n");
        return 2;
    }
    char email[EMAIL_MAX + 1], token[65], hash[65], ttl_text[24];
    if (!email_normalize_whole(email_arg, email)) {
        fprintf(stderr, "tessera session new: %s is not an email address (over %d characters)\n", email_arg,
                EMAIL_MAX);
        return 2;
    }
    if (auth_token_new(token, hash) < 0) {
        fprintf(stderr, "tessera session new: no randomness available\n");
        return 1;
    }
    snprintf(ttl_text, sizeof ttl_text, "%lld", ttl);
    PGconn *pg = connect_or_report(cfg, "session new");
    if (!pg)
        return 1;
    const char *values[3] = {hash, ttl_text, email};
    PGresult *res = exec_bounded(cfg, pg, "session new", sql_session_new, values);
    int rc = 0;
    if (!res) {
        rc = 1;
    } else if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        printf("%s\n", token); /* the only time it exists outside the client */
    } else if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        fprintf(stderr, "tessera session new: no user with email %s\n", email);
        rc = 1;
    } else {
        fprintf(stderr, "tessera session new: %s", PQresultErrorMessage(res));
        rc = 1;
    }
    PQclear(res);
    PQfinish(pg);
    return rc;
}
