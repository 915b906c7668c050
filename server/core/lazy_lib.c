/* lazy_lib — dlopen on first use (see the header for why). */
#include "tessera/lazy_lib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* One lock for every library: opening happens once per library per process, so there is
 * nothing to contend for, and it keeps `failed`/`error` consistent without per-library
 * initialisation. */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;

bool lazy_lib_open(struct lazy_lib *lib)
{
    if (atomic_load_explicit(&lib->handle, memory_order_acquire)) return true;
    pthread_mutex_lock(&open_lock);
    if (!atomic_load_explicit(&lib->handle, memory_order_relaxed) && !lib->failed) {
        /* RTLD_NOW: a library missing one of its own dependencies fails here, where the
         * caller can still answer with an error, not at some later call. */
        void *handle = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
        if (handle) {
            atomic_store_explicit(&lib->handle, handle, memory_order_release);
        } else {
            const char *why = dlerror();
            snprintf(lib->error, sizeof lib->error, "cannot load %s: %s", lib->soname, why ? why : "unknown error");
            lib->failed = true;
        }
    }
    bool ok = atomic_load_explicit(&lib->handle, memory_order_relaxed) != NULL;
    pthread_mutex_unlock(&open_lock);
    return ok;
}

bool lazy_lib_open_all(struct lazy_lib *const *libs, size_t n, const char **why)
{
    for (size_t i = 0; i < n; i++) {
        if (!lazy_lib_open(libs[i])) {
            if (why) *why = libs[i]->error;
            return false;
        }
    }
    if (why) *why = NULL;
    return true;
}

void *lazy_lib_symbol(struct lazy_lib *lib, const char *name)
{
    if (!lazy_lib_open(lib)) {
        fprintf(stderr, "tessera: %s (needed for %s)\n", lib->error, name);
        abort();
    }
    void *address = dlsym(atomic_load_explicit(&lib->handle, memory_order_acquire), name);
    if (!address) {
        fprintf(stderr, "tessera: %s has no symbol %s (a library older than the headers tessera was built with)\n",
                lib->soname, name);
        abort();
    }
    return address;
}
