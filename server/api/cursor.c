/* cursor — keyset cursors: pure encoding, decoding and their MAC (HMAC over core/sha256,
 * checked against the RFC 4231 vectors in tests/unit/test_api_cursor.c). */
#include "tessera/cursor.h"

#include <string.h>

#include "tessera/sha256.h"

void cursor_hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len, unsigned char out[32])
{
    unsigned char k[64] = {0}, pad[64], inner[32];
    struct sha256_ctx s;
    if (key_len > 64) {
        sha256_init(&s);
        sha256_update(&s, key, key_len);
        sha256_final(&s, k);
    } else {
        memcpy(k, key, key_len);
    }
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    sha256_init(&s);
    sha256_update(&s, pad, 64);
    sha256_update(&s, msg, msg_len);
    sha256_final(&s, inner);
    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    sha256_init(&s);
    sha256_update(&s, pad, 64);
    sha256_update(&s, inner, 32);
    sha256_final(&s, out);
}

void cursor_key_derive(struct cursor_key *key, const char *secret)
{
    static const char label[] = "tessera-cursor-v1";
    struct sha256_ctx s;
    sha256_init(&s);
    sha256_update(&s, label, sizeof label); /* with its NUL: label and secret cannot run together */
    sha256_update(&s, secret ? secret : "", secret ? strlen(secret) : 0);
    sha256_final(&s, key->bytes);
}

/* ------------------------------------------------------------------ cursor text */

enum { CURSOR_VERSION = 1, PAYLOAD_LEN = 1 + 8 + 16, MAC_LEN = 16, RAW_LEN = PAYLOAD_LEN + MAC_LEN };

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void mac_payload(const struct cursor_key *key, const char *scope, const unsigned char *payload,
                        unsigned char mac[32])
{
    /* scope, a NUL separator, then the payload: no two (scope, payload) pairs share a message. */
    unsigned char msg[256 + PAYLOAD_LEN];
    size_t scope_len = strnlen(scope, 255);
    memcpy(msg, scope, scope_len);
    msg[scope_len] = 0;
    memcpy(msg + scope_len + 1, payload, PAYLOAD_LEN);
    cursor_hmac_sha256(key->bytes, sizeof key->bytes, msg, scope_len + 1 + PAYLOAD_LEN, mac);
}

static void pack_payload(const struct cursor_position *pos, unsigned char *p)
{
    p[0] = CURSOR_VERSION;
    uint64_t v = (uint64_t)pos->micros;
    for (int i = 0; i < 8; i++)
        p[1 + i] = (unsigned char)(v >> (56 - 8 * i));
    memcpy(p + 9, pos->id, 16);
}

void cursor_encode(const struct cursor_key *key, const char *scope, const struct cursor_position *pos,
                   char out[CURSOR_TEXT_MAX])
{
    unsigned char raw[RAW_LEN + 2] = {0}, mac[32];
    pack_payload(pos, raw);
    mac_payload(key, scope, raw, mac);
    memcpy(raw + PAYLOAD_LEN, mac, MAC_LEN);
    size_t n = 0;
    for (size_t i = 0; i < RAW_LEN; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
        size_t chars = RAW_LEN - i >= 3 ? 4 : RAW_LEN - i + 1; /* unpadded base64url */
        for (size_t c = 0; c < chars; c++)
            out[n++] = B64URL[(v >> (18 - 6 * c)) & 63];
    }
    out[n] = '\0';
}

static int b64url_value(char c)
{
    const char *at = c ? strchr(B64URL, c) : NULL;
    return at ? (int)(at - B64URL) : -1;
}

/* Strict unpadded base64url of exactly RAW_LEN bytes; unused low bits must be zero so each
 * cursor has exactly one text form. */
static bool b64url_decode_raw(const char *text, unsigned char raw[RAW_LEN])
{
    size_t expect = (RAW_LEN * 4 + 2) / 3;
    if (strnlen(text, expect + 1) != expect)
        return false;
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < expect; i++) {
        int v = b64url_value(text[i]);
        if (v < 0)
            return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n < RAW_LEN)
                raw[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return n == RAW_LEN && acc == 0;
}

bool cursor_decode(const struct cursor_key *key, const char *scope, const char *text, struct cursor_position *pos)
{
    unsigned char raw[RAW_LEN], mac[32];
    if (!text || !b64url_decode_raw(text, raw) || raw[0] != CURSOR_VERSION)
        return false;
    mac_payload(key, scope, raw, mac);
    unsigned char diff = 0; /* compare in constant time: no timing hint about the MAC */
    for (int i = 0; i < MAC_LEN; i++)
        diff |= (unsigned char)(mac[i] ^ raw[PAYLOAD_LEN + i]);
    if (diff)
        return false;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | raw[1 + i];
    pos->micros = (int64_t)v;
    memcpy(pos->id, raw + 9, 16);
    return true;
}

/* ------------------------------------------------------------------ uuids */

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool cursor_uuid_parse(const char *text, unsigned char out[16])
{
    if (!text || strnlen(text, 37) != 36)
        return false;
    size_t n = 0;
    for (size_t i = 0; i < 36;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i++] != '-')
                return false;
            continue;
        }
        int hi = hex_digit(text[i]), lo = hex_digit(text[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[n++] = (unsigned char)(hi << 4 | lo);
        i += 2;
    }
    return true;
}

void cursor_uuid_format(const unsigned char id[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[n++] = '-';
        out[n++] = hex[id[i] >> 4];
        out[n++] = hex[id[i] & 15];
    }
    out[n] = '\0';
}
