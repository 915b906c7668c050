/* fuzz_migrate_split — the migration splitter on any text: migrate_statement_end always moves
 * forward and never past the terminating NUL, so a walk over the statements ends; and
 * migrate_transaction_control, when it names a statement, points inside the text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/migrate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *sql = malloc(size + 1);
    if (!sql)
        return 0;
    memcpy(sql, data, size);
    sql[size] = '\0';
    const char *text_end = sql + strlen(sql);
    for (const char *p = sql; *p;) {
        const char *end = migrate_statement_end(p);
        if (end <= p || end > text_end)
            abort();
        p = end;
    }
    const char *control = migrate_transaction_control(sql);
    if (control && (control < sql || control >= text_end))
        abort();
    free(sql);
    return 0;
}
