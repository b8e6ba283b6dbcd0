/*
 * errburst.h - logs an operation that keeps failing once per burst, not
 * once per failure: a full disk under a write a second must not write a
 * log line a second, and the line that says it works again must not be
 * missing either.
 *
 * A burst starts with the first failure after a success (or after start):
 * that failure is logged in full. While failures go on, a reminder with
 * how many there were is logged at most every ERRBURST_REMIND_NS. The first
 * success after a burst ends it with one line that says how many failed
 * and for how long. Counting every failure for /metrics is the caller's
 * job: a burst only decides what is logged.
 *
 * Time is passed in (monotonic nanoseconds, errburst_now()), so tests can
 * drive it.
 *
 * DESIGN: a plain value embedded in the object whose operation it watches,
 * no lock: it belongs to the one thread that performs that operation (a
 * sink's writer). An object shared by threads guards it with its own lock.
 */
#ifndef SW_ERRBURST_H
#define SW_ERRBURST_H

#include <stdint.h>

#include "log.h"

/* While an operation keeps failing, one reminder a minute: an hour of full
 * disk writes 60 lines, and an operator tailing the log still sees within
 * a minute that it is going on. */
#define ERRBURST_REMIND_NS (INT64_C(60) * 1000000000)

typedef struct {
    int failing;        /* inside a burst */
    uint64_t failures;  /* failures in this burst */
    uint64_t unlogged;  /* failures since the last line logged */
    int64_t started_ns; /* the burst's first failure */
    int64_t logged_ns;  /* the last line logged */
} errburst_t;

/* Monotonic time in nanoseconds, for the calls below. */
int64_t errburst_now(void);

/*
 * A failure at `now_ns`. The first of a burst logs the message at `level`;
 * later ones log it again with "(N failures in the last S s, M since the
 * burst began)" once ERRBURST_REMIND_NS has passed since the last line, and
 * otherwise log nothing. The message is formatted only when it is logged.
 * Returns 1 when a line was logged, else 0.
 */
__attribute__((format(printf, 4, 5))) int errburst_fail(errburst_t *b, int64_t now_ns,
                                                        log_level_t level, const char *fmt, ...);

/*
 * A success at `now_ns`. Ends a burst with one line at LOG_INFO: the
 * message, then " after N failures over S s". Outside a burst it does
 * nothing (a success costs a test of one flag). Returns 1 when it logged.
 */
__attribute__((format(printf, 3, 4))) int errburst_ok(errburst_t *b, int64_t now_ns,
                                                      const char *fmt, ...);

#endif
