/* fuzz_cursor — any cursor text from the query string: cursor_decode never crashes or reads
 * past the text, and accepts only what cursor_encode wrote for that key and scope, so a
 * decoded position encodes back to the very same text. The input bytes also serve as a
 * position: it must survive encode and decode, and any one changed character must not.
 * Uuid text that parses formats back to the same uuid. The first byte picks the scope, so
 * both list kinds and an overlong scope (cut at 255 bytes inside the MAC) are exercised. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tessera/cursor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_decode(const struct cursor_key *key, const char *scope, const char *text)
{
    struct cursor_position pos;
    if (!cursor_decode(key, scope, text, &pos))
        return;
    char again[CURSOR_TEXT_MAX];
    cursor_encode(key, scope, &pos, again);
    if (strcmp(again, text) != 0)
        abort();
}

static void check_round_trip(const struct cursor_key *key, const char *scope, const uint8_t *bytes, size_t size)
{
    struct cursor_position pos, back;
    if (size < sizeof pos.micros + sizeof pos.id)
        return;
    memcpy(&pos.micros, bytes, sizeof pos.micros);
    memcpy(pos.id, bytes + sizeof pos.micros, sizeof pos.id);
    char text[CURSOR_TEXT_MAX];
    cursor_encode(key, scope, &pos, text);
    if (strlen(text) != 55 || !cursor_decode(key, scope, text, &back) || back.micros != pos.micros ||
        memcmp(back.id, pos.id, sizeof pos.id) != 0)
        abort();
    /* A damaged cursor is refused, wherever the damage is. */
    size_t at = bytes[sizeof pos.micros + sizeof pos.id - 1] % 55;
    text[at] = text[at] == 'A' ? 'B' : 'A';
    if (cursor_decode(key, scope, text, &back))
        abort();
}

static void check_uuid(const char *text)
{
    unsigned char id[16], again[16];
    char formatted[37];
    if (!cursor_uuid_parse(text, id))
        return;
    cursor_uuid_format(id, formatted);
    if (strlen(formatted) != 36 || strcasecmp(formatted, text) != 0 || !cursor_uuid_parse(formatted, again) ||
        memcmp(id, again, 16) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    char long_scope[300];
    memset(long_scope, 's', sizeof long_scope - 1);
    long_scope[sizeof long_scope - 1] = '\0';
    const char *scopes[] = {"conversations:archived=false", "messages:00000000-0000-0000-0000-000000000001", long_scope};
    const char *scope = scopes[data[0] % 3];
    /* Exactly the input bytes, no slack: ASan sees any read past the terminating NUL. */
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    struct cursor_key key;
    cursor_key_derive(&key, "fuzz secret");
    check_decode(&key, scope, text);
    check_round_trip(&key, scope, data + 1, size - 1);
    check_uuid(text);
    free(text);
    return 0;
}
