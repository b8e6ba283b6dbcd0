/*
 * jsonout.c - the bounded JSON writer (jsonout.h).
 */
#include "jsonout.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "timefmt.h"

void jo_put(jo_t *o, const char *s, size_t n)
{
    if (o->len < o->cap) {
        size_t room = o->cap - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

void jo_puts(jo_t *o, const char *s)
{
    jo_put(o, s, strlen(s));
}

/* A JSON number with `decimals` places; null when it is not finite (JSON
 * has no NaN or infinity). The buffer holds any double's %f form. */
void jo_num(jo_t *o, double x, int decimals)
{
    char tmp[DBL_MAX_10_EXP + 32];
    if (!isfinite(x)) {
        jo_puts(o, "null");
        return;
    }
    int n = snprintf(tmp, sizeof(tmp), "%.*f", decimals, x);
    if (n > 0)
        jo_put(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* A JSON string, escaped; NULL becomes null. */
void jo_str(jo_t *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (!s) {
        jo_puts(o, "null");
        return;
    }
    jo_put(o, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': jo_puts(o, "\\\""); break;
        case '\\': jo_puts(o, "\\\\"); break;
        case '\n': jo_puts(o, "\\n"); break;
        case '\r': jo_puts(o, "\\r"); break;
        case '\t': jo_puts(o, "\\t"); break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                char e[6] = { '\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15] };
                jo_put(o, e, 6);
            } else {
                jo_put(o, (const char *)p, 1);
            }
        }
    }
    jo_put(o, "\"", 1);
}

void jo_time(jo_t *o, int64_t ns)
{
    char b[TF_BUFLEN];
    size_t n = tf_format(ns, b);
    jo_put(o, "\"", 1);
    jo_put(o, b, n);
    jo_put(o, "\"", 1);
}


size_t jo_end(jo_t *o)
{
    if (o->cap)
        o->buf[o->len < o->cap ? o->len : o->cap - 1] = '\0';
    return o->len;
}
