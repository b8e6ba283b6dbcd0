/*
 * jsonout.h - a bounded JSON writer for the output lines (alerts, change
 * checks): writes into the caller's buffer, allocates nothing, and counts
 * what it would have written past the end, as snprintf does.
 */
#ifndef SW_JSONOUT_H
#define SW_JSONOUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *buf;
    size_t cap, len; /* len: what the whole text needs, written or not */
} jo_t;

void jo_put(jo_t *o, const char *s, size_t n);
void jo_puts(jo_t *o, const char *s);
/* A number with `decimals` places; null when it is not finite. */
void jo_num(jo_t *o, double x, int decimals);
/* A string, escaped; NULL becomes null. */
void jo_str(jo_t *o, const char *s);
/* An RFC 3339 time in UTC, quoted. */
void jo_time(jo_t *o, int64_t ns);
/* NUL-terminates the buffer (truncated when it was too small) and returns
 * the length the whole text needs. */
size_t jo_end(jo_t *o);

#endif
