/*
 * allocfail.h - allocation-failure injection for the tests linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup (see
 * tests/CMakeLists.txt): every allocation is counted, and the chosen one
 * fails. The counters are atomic: servers under test allocate on their own
 * threads. With -Wl,--wrap=strcmp too, string comparisons are counted: a
 * lookup that scans where it should hash shows without timing anything.
 */
#ifndef SW_ALLOCFAIL_H
#define SW_ALLOCFAIL_H

/* Counts from zero again and makes allocation number fail_at fail (-1: none). */
void allocfail_reset(long fail_at);
/* No allocation fails from now on; the count goes on. */
void allocfail_disarm(void);
/* Allocations counted since the last reset. */
long allocfail_count(void);
/* Non-zero when the wrappers are linked in (otherwise nothing is injected). */
int allocfail_active(void);
/* Counts one allocation made by other means (e.g. a library's allocator
 * hook); non-zero when it must fail. */
int allocfail_next(void);

/* strcmp calls made by the code under test (and the test) since the last reset. */
void strcmp_count_reset(void);
long strcmp_count(void);

#endif
