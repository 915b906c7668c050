/* lazy_lib — heavy shared libraries opened on first use instead of before main().
 *
 * libpq and the AV1/scaling stack drag in some seventy shared libraries between them
 * (OpenSSL, GnuTLS, Kerberos and LDAP behind libpq; three AV1 encoders, libyuv and libstdc++
 * behind libavif; X11, VA-API and VDPAU behind libavutil). Linked normally, the dynamic loader
 * maps, relocates and initialises every one of them at start-up: about 10 MB of resident
 * memory in a server that may never open a database or transcode an image. Instead each of
 * those libraries is reached through wrapper functions with the library's own names and
 * prototypes (declared by its real header, so the compiler checks every signature), which
 * dlopen the library the first time one of them is called.
 *
 * Callers that can fail gracefully ask first, through libpq_available() or
 * codec_libs_available() (the pool, config validation, the image service); a wrapper whose symbol is missing from a library that did load is a
 * packaging error and stops the process with the library and symbol named. */
#ifndef TESSERA_LAZY_LIB_H
#define TESSERA_LAZY_LIB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct lazy_lib {
    const char *soname;        /* e.g. "libpq.so.5", taken from the build machine's library */
    void *_Atomic handle;      /* NULL until opened */
    bool failed;               /* guarded by the module's lock; the error is kept */
    char error[256];
};

#define LAZY_LIB_INIT(soname_) {.soname = (soname_)}

/* Opens lib once (later calls are one atomic load). False, with lib->error set, when the
 * library cannot be loaded; the failure is remembered, not retried. */
bool lazy_lib_open(struct lazy_lib *lib);

/* Opens each of the n libraries. False at the first that cannot be loaded, with *why (when
 * not NULL) pointing at its error; true with *why NULL. For the modules' *_available(). */
bool lazy_lib_open_all(struct lazy_lib *const *libs, size_t n, const char **why);

/* The address of `name` in lib, opening lib if needed. Exits with a message naming both
 * when either is missing. */
void *lazy_lib_symbol(struct lazy_lib *lib, const char *name);

/* The function behind *slot, resolved from lib by name on the first call and kept in *slot
 * (one atomic load afterwards). A void pointer holds it, as dlsym returns it (POSIX). */
static inline void *lazy_lib_cached(void *_Atomic *slot, struct lazy_lib *lib, const char *name)
{
    void *fn = atomic_load_explicit(slot, memory_order_acquire);
    if (!fn) {
        fn = lazy_lib_symbol(lib, name);
        atomic_store_explicit(slot, fn, memory_order_release);
    }
    return fn;
}

/* Defines `ret name params` forwarding `args` to the library's function of that name. */
#define LAZY_FUNCTION(lib, ret, name, params, args)                                         \
    ret name params                                                                         \
    {                                                                                       \
        static void *_Atomic real_;                                                         \
        return ((__typeof__(&name))lazy_lib_cached(&real_, &(lib), #name)) args;            \
    }

/* The same for functions returning void. */
#define LAZY_VOID_FUNCTION(lib, name, params, args)                                         \
    void name params                                                                        \
    {                                                                                       \
        static void *_Atomic real_;                                                         \
        ((__typeof__(&name))lazy_lib_cached(&real_, &(lib), #name)) args;                   \
    }
#endif
