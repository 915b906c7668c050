/* Splitting a no-transaction migration into statements: quotes, comments, dollar quotes. */
#include <criterion/criterion.h>
#include <string.h>

#include "tessera/migrate.h"

static size_t first_len(const char *sql) { return (size_t)(migrate_statement_end(sql) - sql); }

Test(migrate_split, plain_statements)
{
    const char *sql = "CREATE INDEX a ON t (x); CREATE INDEX b ON t (y);";
    cr_assert_eq(first_len(sql), strlen("CREATE INDEX a ON t (x);"));
    const char *rest = migrate_statement_end(sql);
    cr_assert_eq(*migrate_statement_end(rest), '\0');
}

Test(migrate_split, semicolons_inside_literals_and_comments_do_not_split)
{
    const char *sql = "INSERT INTO t VALUES ('a;b', 'it''s;'); -- c;d\nSELECT 1;";
    cr_assert_eq(first_len(sql), strlen("INSERT INTO t VALUES ('a;b', 'it''s;');"));
    const char *q = "SELECT \"we;ird\" FROM t /* x; /* nested; */ y; */ WHERE 1=1; SELECT 2;";
    cr_assert_eq(first_len(q), strlen("SELECT \"we;ird\" FROM t /* x; /* nested; */ y; */ WHERE 1=1;"));
    const char *line = "-- a; b\nSELECT 1;";
    cr_assert_eq(first_len(line), strlen(line));
}

Test(migrate_split, dollar_quotes)
{
    const char *fn = "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql; SELECT 2;";
    cr_assert_eq(first_len(fn), strlen("CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;"));
    const char *anon = "DO $$ BEGIN PERFORM 1; END $$; SELECT 3;";
    cr_assert_eq(first_len(anon), strlen("DO $$ BEGIN PERFORM 1; END $$;"));
    const char *param = "SELECT $1; SELECT 2;";
    cr_assert_eq(first_len(param), strlen("SELECT $1;"), "a parameter is not a quote");
}

Test(migrate_split, unterminated_runs_to_the_end)
{
    const char *sql = "SELECT 'open;";
    cr_assert_eq(first_len(sql), strlen(sql));
    cr_assert_eq(first_len(""), 0);
}

/* In an E'' string a backslash escapes the quote: E'it\'s; here' is one literal. */
Test(migrate_split, escape_strings_honour_backslashes)
{
    const char *sql = "COMMENT ON TABLE t IS E'it\\'s; here'; SELECT 2;";
    cr_assert_eq(first_len(sql), strlen("COMMENT ON TABLE t IS E'it\\'s; here';"));
    const char *lower = "SELECT e'a\\\\'; SELECT 2;"; /* e'a\\' ends after the escaped backslash */
    cr_assert_eq(first_len(lower), strlen("SELECT e'a\\\\';"));
    const char *ident = "SELECT name'x;y' FROM t; SELECT 2;"; /* not E'': a plain literal after an identifier */
    cr_assert_eq(first_len(ident), strlen("SELECT name'x;y' FROM t;"));
}

/* Statements that begin or end a transaction, which a file run in one of its own must not hold. */
Test(migrate_split, transaction_control_is_found)
{
    const char *sql = "-- x\nCREATE TABLE t (x int);\n/* c */ begin;\nINSERT INTO t VALUES (1);\nCOMMIT;\n";
    const char *at = migrate_transaction_control(sql);
    cr_assert(at);
    cr_assert_eq(strncmp(at, "begin", 5), 0, "%s", at);
    cr_assert(migrate_transaction_control("CREATE TABLE t (x int); END;"));
    cr_assert(migrate_transaction_control("START TRANSACTION; SELECT 1;"));
    cr_assert(migrate_transaction_control("SELECT 1; ROLLBACK;"));
    cr_assert(migrate_transaction_control("SELECT 1; rollback and chain;"));
    cr_assert(migrate_transaction_control("SELECT 1; ABORT;"));
    cr_assert(migrate_transaction_control("PREPARE TRANSACTION 'x';"));
}

Test(migrate_split, transaction_words_elsewhere_are_not_transaction_control)
{
    cr_assert_null(migrate_transaction_control(
        "CREATE FUNCTION f() RETURNS void AS $$ BEGIN PERFORM 1; END; $$ LANGUAGE plpgsql;\n"
        "DO $$ BEGIN RAISE NOTICE 'x'; END $$;\n"
        "SAVEPOINT s; ROLLBACK TO SAVEPOINT s; rollback to s; RELEASE s;\n"
        "CREATE TABLE endpoints (beginning int, commit_sha text);\n"
        "PREPARE q AS SELECT 1;\n"
        "-- BEGIN;\n/* COMMIT; */ SELECT 'BEGIN;';\n"));
    cr_assert_null(migrate_transaction_control(""));
}

/* SQL-standard function bodies (PostgreSQL 14+): the semicolons and the END inside BEGIN
 * ATOMIC ... END belong to the CREATE statement, CASE ... END inside it included. */
Test(migrate_split, begin_atomic_bodies_are_one_statement)
{
    const char *sql = "CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql\n"
                      "BEGIN ATOMIC\n  SELECT 1;\n  SELECT CASE WHEN x > 0 THEN x ELSE 0 END;\nEND;\nSELECT 2;";
    const char *end = migrate_statement_end(sql);
    cr_assert_eq(strncmp(end, "\nSELECT 2;", 10), 0, "split at: %s", end);
    cr_assert_null(migrate_transaction_control(sql));
    cr_assert_null(migrate_transaction_control("create procedure p() begin /* c */ atomic insert into t values (1); end;"));
    cr_assert(migrate_transaction_control("CREATE TABLE t (x int); BEGIN; CREATE TABLE u (y int); END;"));
}
