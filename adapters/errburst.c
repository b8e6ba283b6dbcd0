/*
 * errburst.c - one log line per burst of failures (errburst.h).
 */
#include "errburst.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#define MSG_MAX 1024 /* the log line's own bound (log.c) */

int64_t errburst_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double secs(int64_t ns)
{
    return (double)ns / 1e9;
}

int errburst_fail(errburst_t *b, int64_t now_ns, log_level_t level, const char *fmt, ...)
{
    int first = !b->failing;
    if (first) {
        b->failing = 1;
        b->failures = 0;
        b->started_ns = now_ns;
    }
    b->failures++;
    b->unlogged++;
    if (!first && now_ns - b->logged_ns < ERRBURST_REMIND_NS)
        return 0;
    char msg[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (first)
        sw_log(level, "%s", msg);
    else
        sw_log(level, "%s (%" PRIu64 " failures in the last %.0f s, %" PRIu64
               " since the burst began %.0f s ago)",
               msg, b->unlogged, secs(now_ns - b->logged_ns), b->failures,
               secs(now_ns - b->started_ns));
    b->unlogged = 0;
    b->logged_ns = now_ns;
    return 1;
}

int errburst_ok(errburst_t *b, int64_t now_ns, const char *fmt, ...)
{
    if (!b->failing)
        return 0;
    char msg[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sw_log(LOG_INFO, "%s after %" PRIu64 " failure%s over %.0f s", msg, b->failures,
           b->failures == 1 ? "" : "s", secs(now_ns - b->started_ns));
    b->failing = 0;
    b->failures = b->unlogged = 0;
    return 1;
}
