/* libpq_lazy — libpq (and its TLS, Kerberos and LDAP dependencies) loaded on first use;
 * see lazy_lib.h. The rest of tessera calls libpq's functions as usual. */
#ifndef TESSERA_LIBPQ_LAZY_H
#define TESSERA_LIBPQ_LAZY_H

#include <stdbool.h>

/* Loads libpq now. False, with *why set to a one-line reason, when it cannot be loaded;
 * code about to use a database asks this first so a missing library is an error message,
 * not an abort inside a request. */
bool libpq_available(const char **why);
#endif
