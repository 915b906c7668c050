/* sha256 — FIPS 180-4 SHA-256, for session token hashes and migration checksums.
 * OpenSSL is not in the stack and libargon2 ships only BLAKE2b, so tessera carries this
 * small implementation, tested against the FIPS 180-2 example vectors. */
#ifndef TESSERA_SHA256_H
#define TESSERA_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE 32

struct sha256_ctx {
    uint32_t state[8];
    uint64_t total;          /* bytes fed so far */
    unsigned char block[64];
    size_t used;             /* bytes waiting in block */
};

void sha256_init(struct sha256_ctx *ctx);
void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len);
void sha256_final(struct sha256_ctx *ctx, unsigned char digest[SHA256_DIGEST_SIZE]);

/* One-shot helpers. hex is 64 lowercase hex chars plus NUL. */
void sha256_digest(const void *data, size_t len, unsigned char digest[SHA256_DIGEST_SIZE]);
void sha256_hex(const void *data, size_t len, char hex[2 * SHA256_DIGEST_SIZE + 1]);
#endif
