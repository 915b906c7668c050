/* The indexes of 0003/0004 at realistic volumes: EXPLAIN (FORMAT JSON) must show the intended
 * index for each hot query, and the two API lists must need no Sort node.
 *
 * Volumes: 10k users and accounts, 200k sessions (10% expired), 1M conversations of which one
 * user holds 20k, 205k messages (one conversation with 5k), 300k agent_logs. Each query is
 * checked with its literal values, and as a prepared statement the way a pooled connection
 * runs it. Point lookups are checked with the generic plan too. The lists are not: with an
 * average of about 50 rows per (user, archived) the generic plan is a bitmap scan plus Sort, which
 * for the 20k-row user sorts 18k rows per page. The API's list statements find the user from
 * the session inside the statement, so even their custom plans are costed for the average
 * user; they read pages through conversation_page() and message_page() (migration 0005),
 * which switch bitmap scans off for their own statement. Those functions are checked here by
 * the blocks a page reads, called as often as a pooled connection would (PL/pgSQL caches the
 * plan and may move to the generic one after five calls). Every other statement is prepared
 * and may settle on its generic plan: the pool leaves plan_cache_mode at auto, checked at the
 * end of this test.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tessera/auth.h"
#include "tessera/config.h"
#include "tessera/db_pool.h"

static PGconn *pg;
static char *db_url;

static void exec_or_die(const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s\n%s", sql,
              PQerrorMessage(pg));
    PQclear(r);
}

static char *value_of(const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(pg));
    char *v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static void seed(void)
{
    exec_or_die("INSERT INTO users (email, name) SELECT 'u' || i || '@example.com', 'User ' || i"
                " FROM generate_series(1, 10000) i");
    exec_or_die("INSERT INTO accounts (user_id, provider_id, account_id, password)"
                " SELECT id, 'credential', id::text, '$argon2id$x' FROM users");
    exec_or_die("CREATE TEMP TABLE uids AS SELECT row_number() OVER (ORDER BY email) AS n, id FROM users");
    /* Ids and token hashes in insertion order keep the unique-index inserts sequential:
     * seeding is several times faster, and the planner sees the same statistics. */
    exec_or_die("INSERT INTO sessions (id, token_hash, user_id, expires_at)"
                " SELECT lpad(to_hex(i), 32, '0')::uuid, decode(lpad(to_hex(i), 64, '0'), 'hex'), u.id,"
                "        now() + CASE WHEN i % 10 = 0 THEN interval '-1 day'"
                "   ELSE interval '7 days' END"
                " FROM generate_series(1, 200000) i JOIN uids u ON u.n = 1 + i % 10000");
    /* user n = 1 holds 20k conversations; 980k go to the other 9,999. */
    exec_or_die("INSERT INTO conversations (id, user_id, title, archived, updated_at, created_at)"
                " SELECT lpad(to_hex(i), 32, '0')::uuid, u.id, 'c' || i, i % 10 = 0,"
                "        now() - (i % 100000) * interval '1 minute',"
                "        now() - interval '1 year'"
                " FROM generate_series(1, 1000000) i"
                " JOIN uids u ON u.n = CASE WHEN i <= 20000 THEN 1 ELSE 2 + i % 9999 END");
    exec_or_die("CREATE TEMP TABLE big AS SELECT id FROM conversations"
                " WHERE user_id = (SELECT id FROM uids WHERE n = 1) LIMIT 1");
    exec_or_die("INSERT INTO messages (conversation_id, role, content, created_at)"
                " SELECT (SELECT id FROM big), 'user', 'm' || i, now() - (5000 - i) * interval '1 second'"
                " FROM generate_series(1, 5000) i");
    exec_or_die("INSERT INTO messages (conversation_id, role, content)"
                " SELECT id, 'assistant', 'hello' FROM conversations WHERE user_id <> (SELECT id FROM uids WHERE n = 1)"
                " LIMIT 200000");
    exec_or_die("INSERT INTO agent_logs (session_id, tier, level, content, created_at)"
                " SELECT md5((i % 5000)::text)::uuid, (ARRAY['hot','warm','cold'])[1 + i % 3], 'info', 'log ' || i,"
                "        now() - (i % 90) * interval '1 day'"
                " FROM generate_series(1, 300000) i");
    exec_or_die("VACUUM ANALYZE");
}

static void init(void)
{
    db_url = test_db_create();
    cr_assert(db_url);
    setenv("TESSERA_DATABASE_URL", db_url, 1);
    char *err = NULL;
    cr_assert_eq(test_run_tessera((const char *[]){"migrate", "--config", "/dev/null", NULL}, NULL, NULL, &err), 0,
                 "%s", err);
    free(err);
    pg = PQconnectdb(db_url);
    cr_assert_eq(PQstatus(pg), CONNECTION_OK);
    seed();
}

static void fini(void)
{
    PQfinish(pg);
    free(db_url);
}

/* Walks a plan: does any node use index `index`, does any node have type `node_type`? */
static void walk(json_t *plan, const char *index, const char *node_type, bool *uses, bool *has)
{
    const char *name = json_string_value(json_object_get(plan, "Index Name"));
    const char *type = json_string_value(json_object_get(plan, "Node Type"));
    if (name && strcmp(name, index) == 0)
        *uses = true;
    if (type && strcmp(type, node_type) == 0)
        *has = true;
    size_t i;
    json_t *child;
    json_array_foreach(json_object_get(plan, "Plans"), i, child)
        walk(child, index, node_type, uses, has);
}

/* Runs an EXPLAIN (FORMAT JSON) statement; *doc is the parsed document, the result stays
 * for the messages (caller frees both). Returns the top plan node. */
static json_t *explain(const char *what, const char *explain_sql, PGresult **r, json_t **doc)
{
    *r = PQexec(pg, explain_sql);
    cr_assert_eq(PQresultStatus(*r), PGRES_TUPLES_OK, "%s: %s", what, PQerrorMessage(pg));
    json_error_t e;
    *doc = json_loads(PQgetvalue(*r, 0, 0), 0, &e);
    cr_assert(*doc, "%s: %s", what, e.text);
    return json_object_get(json_array_get(*doc, 0), "Plan");
}

static void check_plan(const char *what, const char *explain_sql, const char *index, bool no_sort)
{
    PGresult *r;
    json_t *doc;
    json_t *plan = explain(what, explain_sql, &r, &doc);
    bool uses = false, sorts = false;
    walk(plan, index, "Sort", &uses, &sorts);
    cr_assert(uses, "%s: expected %s in\n%s", what, index, PQgetvalue(r, 0, 0));
    if (no_sort)
        cr_assert_not(sorts, "%s: has a Sort node\n%s", what, PQgetvalue(r, 0, 0));
    json_decref(doc);
    PQclear(r);
}

static void check_prepared(const char *what, const char *mode, const char *prepare_sql, const char *execute_args,
                           const char *index, bool no_sort)
{
    char sql[2048], label[256];
    exec_or_die("DEALLOCATE ALL");
    snprintf(sql, sizeof sql, "SET plan_cache_mode = %s", mode);
    exec_or_die(sql);
    snprintf(sql, sizeof sql, "PREPARE q AS %s", prepare_sql);
    exec_or_die(sql);
    snprintf(sql, sizeof sql, "EXPLAIN (FORMAT JSON) EXECUTE q(%s)", execute_args);
    snprintf(label, sizeof label, "%s (prepared, %s)", what, mode);
    check_plan(label, sql, index, no_sort);
    exec_or_die("RESET plan_cache_mode");
}

/* Shared blocks (hit + read) an EXPLAIN (ANALYZE, BUFFERS) of `call_sql` reports for the
 * whole statement, after `warm_sql` ran seven times on this connection: a pooled connection
 * serves mostly ordinary users, so the plan PL/pgSQL has settled on by the time a heavy user
 * comes is the one their pages chose. */
static long page_blocks(const char *what, const char *warm_sql, const char *call_sql)
{
    for (int i = 0; i < 7; i++)
        exec_or_die(warm_sql);
    char sql[1024];
    snprintf(sql, sizeof sql, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) %s", call_sql);
    PGresult *r;
    json_t *doc;
    json_t *plan = explain(what, sql, &r, &doc);
    long blocks = (long)json_integer_value(json_object_get(plan, "Shared Hit Blocks")) +
                  (long)json_integer_value(json_object_get(plan, "Shared Read Blocks"));
    json_decref(doc);
    PQclear(r);
    return blocks;
}

/* The same query with literals and prepared as the pool runs it; point lookups (no_sort
 * false) also with the generic plan. */
static void check_both(const char *what, const char *prepare_sql, const char *execute_args, const char *literal_sql,
                       const char *index, bool no_sort)
{
    char sql[2048];
    snprintf(sql, sizeof sql, "EXPLAIN (FORMAT JSON) %s", literal_sql);
    check_plan(what, sql, index, no_sort);
    check_prepared(what, "force_custom_plan", prepare_sql, execute_args, index, no_sort);
    if (!no_sort)
        check_prepared(what, "force_generic_plan", prepare_sql, execute_args, index, no_sort);
}

Test(db_indexes, hot_queries_use_the_intended_indexes, .init = init, .fini = fini, .timeout = 180)
{
    char *big_user = value_of("SELECT id FROM uids WHERE n = 1");
    char *big_conv = value_of("SELECT id FROM big");
    char *some_hash = value_of("SELECT encode(token_hash, 'hex') FROM sessions LIMIT 1");
    char *some_account = value_of("SELECT account_id FROM accounts LIMIT 1 OFFSET 777");
    char *some_log_session = value_of("SELECT session_id FROM agent_logs LIMIT 1");
    char lit[2048], args[512];

    snprintf(lit, sizeof lit,
             "SELECT u.id FROM sessions s JOIN users u ON u.id = s.user_id"
             " WHERE s.token_hash = decode('%s', 'hex') AND s.expires_at > now()", some_hash);
    snprintf(args, sizeof args, "'%s'", some_hash);
    check_both("session lookup",
               "SELECT u.id FROM (" AUTH_SESSION_USER_SELECT ") s JOIN users u ON u.id = s.user_id",
               args, lit, "sessions_token_hash_key", false);

    check_plan("session GC batch",
               "EXPLAIN (FORMAT JSON) SELECT id FROM sessions WHERE expires_at < now()"
               " ORDER BY expires_at LIMIT 5000 FOR UPDATE SKIP LOCKED",
               "sessions_expires_at_idx", true);

    snprintf(lit, sizeof lit, "SELECT count(*) FROM sessions WHERE user_id = '%s'", big_user);
    snprintf(args, sizeof args, "'%s'", big_user);
    check_both("sessions of a user", "SELECT count(*) FROM sessions WHERE user_id = $1", args, lit,
               "sessions_user_id_idx", false);

    snprintf(lit, sizeof lit, "SELECT user_id FROM accounts WHERE provider_id = 'credential' AND account_id = '%s'",
             some_account);
    snprintf(args, sizeof args, "'%s'", some_account);
    check_both("account lookup", "SELECT user_id FROM accounts WHERE provider_id = 'credential' AND account_id = $1",
               args, lit, "accounts_provider_id_account_id_idx", false);

    check_plan("sign-in credential",
               "EXPLAIN (FORMAT JSON) SELECT u.id, a.password FROM users u"
               " LEFT JOIN accounts a ON a.user_id = u.id AND a.provider_id = 'credential'"
               " WHERE u.email = 'u777@example.com' LIMIT 1",
               "accounts_user_id_idx", false);

    const char *conv_index = "conversations_user_id_archived_updated_at_id_idx";
    snprintf(lit, sizeof lit,
             "SELECT id, title, updated_at FROM conversations WHERE user_id = '%s' AND archived = false"
             " ORDER BY updated_at DESC, id DESC LIMIT 200", big_user);
    snprintf(args, sizeof args, "'%s', false", big_user);
    check_both("conversation list (20k-row user)",
               "SELECT id, title, updated_at FROM conversations WHERE user_id = $1 AND archived = $2"
               " ORDER BY updated_at DESC, id DESC LIMIT 200",
               args, lit, conv_index, true);
    snprintf(lit, sizeof lit,
             "SELECT id, title, updated_at FROM conversations WHERE user_id = '%s' AND archived = false"
             " AND (updated_at, id) < (now() - interval '3 days', 'ffffffff-ffff-ffff-ffff-ffffffffffff')"
             " ORDER BY updated_at DESC, id DESC LIMIT 200", big_user);
    snprintf(args, sizeof args, "'%s', false, now() - interval '3 days', 'ffffffff-ffff-ffff-ffff-ffffffffffff'",
             big_user);
    check_both("conversation list, next page",
               "SELECT id, title, updated_at FROM conversations WHERE user_id = $1 AND archived = $2"
               " AND (updated_at, id) < ($3::timestamptz, $4::uuid) ORDER BY updated_at DESC, id DESC LIMIT 200",
               args, lit, conv_index, true);

    const char *msg_index = "messages_conversation_id_created_at_id_idx";
    snprintf(lit, sizeof lit,
             "SELECT id, role, content FROM messages WHERE conversation_id = '%s'"
             " ORDER BY created_at, id LIMIT 500", big_conv);
    snprintf(args, sizeof args, "'%s'", big_conv);
    check_both("message list (5k-message conversation)",
               "SELECT id, role, content FROM messages WHERE conversation_id = $1 ORDER BY created_at, id LIMIT 500",
               args, lit, msg_index, true);

    /* The page functions the API reads through. The ordered range scan of a 200-row page reads
     * a few index pages and the heap pages of 201 rows (tens here, the 20k rows being stored
     * together); a bitmap scan of the same user reads every one of its 18k rows (about 700
     * heap pages) before sorting them. */
    char *small_user = value_of("SELECT id FROM uids WHERE n = 2");
    char *small_conv = value_of("SELECT conversation_id FROM messages WHERE conversation_id <> (SELECT id FROM big) LIMIT 1");
    char warm[512], call[512];
    snprintf(warm, sizeof warm, "SELECT * FROM conversation_page('%s', false, NULL, NULL, 200)", small_user);
    snprintf(call, sizeof call, "SELECT * FROM conversation_page('%s', false, NULL, NULL, 200)", big_user);
    long blocks = page_blocks("conversation_page, 20k-row user", warm, call);
    cr_assert_lt(blocks, 150, "conversation_page read %ld blocks for one page", blocks);
    snprintf(call, sizeof call,
             "SELECT * FROM conversation_page('%s', false,"
             " (extract(epoch FROM now() - interval '3 days') * 1000000)::bigint, NULL, 200)", big_user);
    blocks = page_blocks("conversation_page, next page", warm, call);
    cr_assert_lt(blocks, 150, "conversation_page (next page) read %ld blocks", blocks);
    snprintf(warm, sizeof warm, "SELECT * FROM message_page('%s', NULL, NULL, 500)", small_conv);
    snprintf(call, sizeof call, "SELECT * FROM message_page('%s', NULL, NULL, 500)", big_conv);
    blocks = page_blocks("message_page, 5k-message conversation", warm, call);
    cr_assert_lt(blocks, 150, "message_page read %ld blocks for one page", blocks);
    free(small_user);
    free(small_conv);

    check_both("agent_logs tier sweep",
               "SELECT id FROM agent_logs WHERE tier = $1 AND created_at < $2 ORDER BY created_at LIMIT 1000",
               "'cold', now() - interval '80 days'",
               "SELECT id FROM agent_logs WHERE tier = 'cold' AND created_at < now() - interval '80 days'"
               " ORDER BY created_at LIMIT 1000",
               "agent_logs_tier_created_at_idx", true);
    snprintf(lit, sizeof lit, "SELECT id, content FROM agent_logs WHERE session_id = '%s' AND tier = 'hot'",
             some_log_session);
    snprintf(args, sizeof args, "'%s', 'hot'", some_log_session);
    check_both("agent_logs of a session and tier",
               "SELECT id, content FROM agent_logs WHERE session_id = $1 AND tier = $2", args, lit,
               "agent_logs_session_id_tier_idx", false);

    /* What the pool's connections run with (see the comment at the top): generic plans
     * allowed, so a point lookup's prepared statement stops being re-planned. */
    struct config cfg;
    cr_assert_eq(config_load(&cfg, NULL, NULL, stderr), 0);
    cr_assert_eq(config_set(&cfg, "database", "url", db_url, "test", 0, stderr), 0);
    char err[256];
    PGconn *pooled = db_connect_direct(&cfg, err, sizeof err);
    cr_assert(pooled, "%s", err);
    PGresult *r = PQexec(pooled, "SHOW plan_cache_mode");
    cr_assert_str_eq(PQgetvalue(r, 0, 0), "auto");
    PQclear(r);
    PQfinish(pooled);
    config_free(&cfg);

    free(big_user);
    free(big_conv);
    free(some_hash);
    free(some_account);
    free(some_log_session);
}
