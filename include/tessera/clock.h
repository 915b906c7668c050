/* clock — monotonic time and the absolute deadlines that bounded waits take. */
#ifndef TESSERA_CLOCK_H
#define TESSERA_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Microseconds on the monotonic clock. */
int64_t clock_monotonic_us(void);

/* The time `us` microseconds from now on `clock`, as the timed waits want it:
 * CLOCK_MONOTONIC for condition variables made by cond_init_monotonic (a wall-clock jump
 * neither shortens nor stretches the wait), CLOCK_REALTIME for the calls that accept no
 * other clock (sem_timedwait, pthread_timedjoin_np, a default condition variable). */
struct timespec clock_deadline_after_us(clockid_t clock, int64_t us);

/* pthread_cond_init on CLOCK_MONOTONIC; pthread_cond_init's result. */
int cond_init_monotonic(pthread_cond_t *cond);
#endif
