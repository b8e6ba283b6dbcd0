/*
 * log.h - the daemon's log: one line per event on standard error, with
 * the time and a level, filtered by the configured level, as text
 * ("2026-12-05T10:00:00.123Z info  running: ..."), logfmt
 * ("ts=... level=info msg=\"running: ...\"") or JSON Lines
 * ({"ts":"...","level":"info","msg":"running: ..."}) for log shippers.
 *
 * DESIGN: any thread may log; each line is one fprintf, which stdio keeps
 * whole. The level is read without a lock (set once at start).
 */
#ifndef SW_LOG_H
#define SW_LOG_H

#include <stddef.h>

typedef enum { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG } log_level_t;
typedef enum { LOG_TEXT, LOG_LOGFMT, LOG_JSON } log_format_t;

/* Sets the format of the lines from then on. */
void log_set_format(log_format_t f);

/* Sets the level from "error", "warn", "info" or "debug": 0, or -1. */
int log_set_level(const char *name);

__attribute__((format(printf, 2, 3))) void sw_log(log_level_t level, const char *fmt, ...);

/* Writes at most `max` bytes of data into out (cap bytes, NUL-terminated)
 * with every byte that is not printable ASCII as \xNN; returns out. */
char *log_escape(char *out, size_t cap, const char *data, size_t len, size_t max);

#endif
