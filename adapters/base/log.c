/*
 * log.c - levelled log lines on standard error (log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static log_level_t threshold = LOG_INFO;
static log_format_t format = LOG_TEXT;
static const char *const names[] = { "error", "warn", "info", "debug" };

int log_set_level(const char *name)
{
    for (int i = 0; i <= LOG_DEBUG; i++)
        if (strcmp(name, names[i]) == 0) {
            threshold = (log_level_t)i;
            return 0;
        }
    return -1;
}

void log_set_format(log_format_t f)
{
    format = f;
}

/* msg quoted for logfmt or JSON: quotes and backslashes escaped, control
 * bytes as \u00XX (valid in both). */
static void quote(char *out, size_t cap, const char *msg)
{
    size_t o = 0;
    out[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)msg; *p && o + 8 < cap; p++) {
        if (*p == '"' || *p == '\\') {
            out[o++] = '\\';
            out[o++] = (char)*p;
        } else if (*p < 0x20 || *p == 0x7f) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", *p);
        } else {
            out[o++] = (char)*p;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
}

char *log_escape(char *out, size_t cap, const char *data, size_t len, size_t max)
{
    size_t o = 0;
    for (size_t i = 0; i < len && i < max && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c >= 0x20 && c < 0x7f)
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    if (cap)
        out[o < cap ? o : cap - 1] = '\0';
    return out;
}

void sw_log(log_level_t level, const char *fmt, ...)
{
    if (level > threshold)
        return;
    char msg[1024], stamp[32];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    long ms = ts.tv_nsec / 1000000;
    if (format == LOG_TEXT) {
        fprintf(stderr, "%s.%03ldZ %-5s %s\n", stamp, ms, names[level], msg);
        return;
    }
    char q[2 * sizeof(msg) + 8];
    quote(q, sizeof(q), msg);
    if (format == LOG_LOGFMT)
        fprintf(stderr, "ts=%s.%03ldZ level=%s msg=%s\n", stamp, ms, names[level], q);
    else
        fprintf(stderr, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":%s}\n", stamp, ms,
                names[level], q);
}
