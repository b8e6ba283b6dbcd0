/*
 * errburst.c - one log line per burst of failures (errburst.h).
 */
#include "errburst.h"
#include "monotime.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#define MSG_MAX 1024 /* the log line's own bound (log.c) */
#define TAIL_MAX 160 /* the counts after a message: three numbers and their words */

int64_t errburst_now(void)
{
    return sw_mono_ns();
}

static double secs(int64_t ns)
{
    return (double)ns / 1e9;
}

/* Logs the message fmt/ap at `level`, followed by `tail`. */
static void emit(log_level_t level, const char *tail, const char *fmt, va_list ap)
{
    char msg[MSG_MAX];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    sw_log(level, "%s%s", msg, tail);
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
    char tail[TAIL_MAX] = "";
    if (!first)
        snprintf(tail, sizeof(tail),
                 " (%" PRIu64 " failures in the last %.0f s, %" PRIu64
                 " since the burst began %.0f s ago)",
                 b->unlogged, secs(now_ns - b->logged_ns), b->failures,
                 secs(now_ns - b->started_ns));
    va_list ap;
    va_start(ap, fmt);
    emit(level, tail, fmt, ap);
    va_end(ap);
    b->unlogged = 0;
    b->logged_ns = now_ns;
    return 1;
}

int errburst_ok(errburst_t *b, int64_t now_ns, const char *fmt, ...)
{
    if (!b->failing)
        return 0;
    char tail[TAIL_MAX];
    snprintf(tail, sizeof(tail), " after %" PRIu64 " failure%s over %.0f s", b->failures,
             b->failures == 1 ? "" : "s", secs(now_ns - b->started_ns));
    va_list ap;
    va_start(ap, fmt);
    emit(LOG_INFO, tail, fmt, ap);
    va_end(ap);
    b->failing = 0;
    b->failures = b->unlogged = 0;
    return 1;
}
