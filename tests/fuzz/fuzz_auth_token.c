/* libFuzzer target for the pure parsers behind auth and migrations: session tokens from
 * arbitrary Cookie/Authorization values, email normalization, and the SQL statement splitter
 * used for no-transaction migrations. Invariants, not just "no crash". */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/auth.h"
#include "tessera/migrate.h"

static void check_tokens(const char *text)
{
    char token[65], hash[65];
    bool by_cookie;
    /* The same bytes as a cookie header and as an Authorization header. */
    if (auth_token_parse(text, NULL, token, &by_cookie)) {
        if (strlen(token) != 64 || !by_cookie || !auth_token_hash(token, hash) || strlen(hash) != 64)
            abort();
        for (int i = 0; i < 64; i++)
            if (!isxdigit((unsigned char)token[i]) || isupper((unsigned char)token[i]))
                abort();
    }
    if (auth_token_parse(NULL, text, token, &by_cookie) && (by_cookie || strlen(token) != 64))
        abort();
}

static void check_split(const char *sql)
{
    size_t total = strlen(sql);
    const char *p = sql;
    while (*p) {
        const char *end = migrate_statement_end(p);
        /* Always progresses, never past the end, and a statement ends at ';' or the NUL. */
        if (end <= p || end > sql + total || (*end && end[-1] != ';'))
            abort();
        p = end;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    check_tokens(text);
    check_split(text);
    char email[64];
    auth_email_normalize(text, email, sizeof email);
    if (strlen(email) >= sizeof email)
        abort();
    free(text);
    return 0;
}
