/* migrate — applies the SQL files of server/db/migrations (embedded in the binary) in name
 * order, each in its own transaction, recorded in tessera_migrations (name, sha256,
 * applied_at). Each file's transaction takes a transaction-level advisory lock and reads the
 * record again, so two instances never apply one file, and nothing outlives a transaction
 * (safe through PgBouncer in transaction mode). A file whose first line is
 * "-- tessera:no-transaction" runs outside a transaction, statement by statement (for CREATE
 * INDEX CONCURRENTLY), under the session-level lock: only on a session of its own, never
 * through a pooler. An applied file whose checksum changed, or a recorded file newer than
 * the binary's newest, stops everything with a clear error. */
#ifndef TESSERA_MIGRATE_H
#define TESSERA_MIGRATE_H

#include <stdbool.h>
#include <stdio.h>

#include "tessera/config.h"

enum migrate_mode { MIGRATE_APPLY = 0, MIGRATE_STATUS = 1, MIGRATE_CHECK = 2 };

/* dir: read *.sql from this directory instead of the embedded set (tests, and operators
 * trying a migration before building it in); NULL = embedded. Progress lines go to out
 * (may be NULL); errors to stderr. Returns 0, or -1 when anything failed or a checksum
 * changed. In STATUS mode nothing is applied. */
int migrate_run(const struct config *cfg, const char *dir, enum migrate_mode mode, FILE *out);

/* serve at start (database.migrate_on_start): the embedded set, progress in the log. */
int migrate_on_start(const struct config *cfg);
/* serve at start with migrate_on_start off: reads only (no lock, fit for PgBouncer). -1 when
 * the database was migrated by a newer tessera or an applied file changed; pending files, an
 * unreachable database and a check that cannot be made (no answer in time, no right to read
 * tessera_migrations) are warnings (0). */
int migrate_check_on_start(const struct config *cfg);

/* Pure: where the SQL statement starting at sql ends — just past its ';', or at the NUL —
 * skipping quoted strings, identifiers, dollar-quoted bodies and comments. */
const char *migrate_statement_end(const char *sql);

/* Pure: the first statement of sql that begins or ends a transaction (BEGIN, START, COMMIT,
 * END, ABORT, ROLLBACK but not ROLLBACK TO, PREPARE TRANSACTION), at its first word, or NULL.
 * A file run in a transaction of its own must hold none: its COMMIT would end the runner's. */
const char *migrate_transaction_control(const char *sql);
#endif
