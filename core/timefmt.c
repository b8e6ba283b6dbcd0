/*
 * timefmt.c - RFC 3339 and duration parsing/formatting (see timefmt.h).
 * Calendar arithmetic is done by hand (days from civil date) so that no
 * call depends on the process's time zone or locale.
 */
#include "timefmt.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "err.h"

#define NS_PER_S INT64_C(1000000000)

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Reads exactly n digits at *p; returns -1 when they are not all digits. */
static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return v;
}

int tf_parse_rfc3339(const char *s, int64_t *ns)
{
    static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (!s)
        return SW_EPARSE;
    const char *p = s;
    int y = digits(&p, 4);
    if (y < 0 || *p++ != '-')
        return SW_EPARSE;
    int mo = digits(&p, 2);
    if (mo < 1 || mo > 12 || *p++ != '-')
        return SW_EPARSE;
    int d = digits(&p, 2);
    unsigned dim = mdays[mo - 1] + (mo == 2 && is_leap(y));
    if (d < 1 || (unsigned)d > dim)
        return SW_EPARSE;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return SW_EPARSE;
    p++;
    int h = digits(&p, 2);
    if (h < 0 || h > 23 || *p++ != ':')
        return SW_EPARSE;
    int mi = digits(&p, 2);
    if (mi < 0 || mi > 59 || *p++ != ':')
        return SW_EPARSE;
    int se = digits(&p, 2);
    if (se < 0 || se > 60) /* 60: a leap second, folded into the next */
        return SW_EPARSE;
    int64_t frac = 0;
    if (*p == '.') {
        p++;
        int64_t scale = NS_PER_S / 10;
        if (!isdigit((unsigned char)*p))
            return SW_EPARSE;
        while (isdigit((unsigned char)*p)) {
            frac += (*p - '0') * scale;
            scale /= 10;
            p++;
        }
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        int oh = digits(&p, 2);
        if (oh < 0 || oh > 23 || *p++ != ':')
            return SW_EPARSE;
        int om = digits(&p, 2);
        if (om < 0 || om > 59)
            return SW_EPARSE;
        off = sign * (oh * 3600 + om * 60);
    } else {
        return SW_EPARSE;
    }
    if (*p != '\0')
        return SW_EPARSE;
    int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se - off;
    /*
     * int64 nanoseconds span 1677-09-21 to 2262-04-11; beyond, the result
     * would overflow. Before the epoch, (secs + 1) * NS_PER_S + (frac -
     * NS_PER_S) is the same value with no intermediate below INT64_MIN.
     */
    if (secs >= 0) {
        if (secs > (INT64_MAX - frac) / NS_PER_S)
            return SW_ERANGE;
        *ns = secs * NS_PER_S + frac;
    } else {
        if (secs + 1 < INT64_MIN / NS_PER_S ||
            (secs + 1) * NS_PER_S < INT64_MIN + (NS_PER_S - frac))
            return SW_ERANGE;
        *ns = (secs + 1) * NS_PER_S + (frac - NS_PER_S);
    }
    return SW_OK;
}

size_t tf_format(int64_t ns, char buf[TF_BUFLEN])
{
    int64_t secs = ns / NS_PER_S, rem = ns % NS_PER_S;
    if (rem < 0) {
        rem += NS_PER_S;
        secs--;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    int ms = (int)(rem / 1000000);
    int n;
    if (ms)
        n = snprintf(buf, TF_BUFLEN, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
                     (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), ms);
    else
        n = snprintf(buf, TF_BUFLEN, "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)y, m, d,
                     (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
    return n < 0 ? 0 : (size_t)n;
}

/*
 * Reads a plain decimal number ("90", "1.5", ".5") at *p, without strtod():
 * strtod() would also take hex, exponents and "inf", and its decimal point
 * follows the locale. Returns -1 when there is no digit at all.
 */
static int decimal(const char **p, double *v)
{
    const char *q = *p;
    double ip = 0, fp = 0, scale = 1;
    int ndig = 0;
    for (; isdigit((unsigned char)*q); q++, ndig++)
        ip = ip * 10 + (*q - '0');
    if (*q == '.') {
        for (q++; isdigit((unsigned char)*q); q++, ndig++) {
            if (scale < 1e18) { /* digits past 1e-18 change nothing */
                fp = fp * 10 + (*q - '0');
                scale *= 10;
            }
        }
    }
    if (ndig == 0)
        return -1;
    *v = ip + fp / scale;
    *p = q;
    return 0;
}

int tf_parse_duration(const char *s, int64_t *ns)
{
    static const struct {
        const char *unit;
        double ns;
    } units[] = {
        { "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 },
        { "m", 60e9 }, { "h", 3600e9 }, { "d", 86400e9 },
    };
    if (!s || !*s)
        return SW_EPARSE;
    double total = 0;
    const char *p = s;
    while (*p) {
        const char *num = p;
        double v;
        if (decimal(&p, &v) < 0)
            return SW_EPARSE;
        if (*p == '\0' && num == s) {
            total = v * 1e9; /* a bare number: seconds */
            break;
        }
        size_t ulen = 0;
        while (isalpha((unsigned char)p[ulen]))
            ulen++;
        double mult = -1;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (strlen(units[i].unit) == ulen && strncmp(units[i].unit, p, ulen) == 0)
                mult = units[i].ns;
        if (mult < 0)
            return SW_EPARSE;
        total += v * mult;
        p += ulen;
    }
    if (!(total >= 0 && total <= 9.2e18)) /* also false for NaN */
        return SW_EPARSE;
    *ns = (int64_t)(total + 0.5);
    return SW_OK;
}

/*
 * A size in bytes: digits, then optionally a blank and a unit, B or
 * 1000-based kB (KB), MB, GB, TB or 1024-based KiB, MiB, GiB, TiB. 0, -1 when
 * the text is not a size, -2 when it is one but beyond 64 bits.
 */
int tf_parse_size(const char *s, uint64_t *bytes)
{
    static const struct {
        const char *unit;
        uint64_t mult;
    } units[] = {
        { "", 1 },
        { "B", 1 },
        { "kB", UINT64_C(1000) },
        { "KB", UINT64_C(1000) },
        { "MB", UINT64_C(1000000) },
        { "GB", UINT64_C(1000000000) },
        { "TB", UINT64_C(1000000000000) },
        { "KiB", UINT64_C(1) << 10 },
        { "MiB", UINT64_C(1) << 20 },
        { "GiB", UINT64_C(1) << 30 },
        { "TiB", UINT64_C(1) << 40 },
    };
    const char *p = s;
    uint64_t v = 0;
    int big = 0;
    if (!(*p >= '0' && *p <= '9'))
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            big = 1;
        else
            v = v * 10 + d;
    }
    if (*p == ' ' && *++p == '\0')
        return -1; /* a blank, then no unit */
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(p, units[i].unit) != 0)
            continue;
        if (big || v > UINT64_MAX / units[i].mult)
            return -2;
        *bytes = v * units[i].mult;
        return 0;
    }
    return -1;
}

int64_t tf_local_offset(int64_t ts)
{
    time_t t = (time_t)(ts / 1000000000 - (ts % 1000000000 < 0));
    struct tm tm;
    return localtime_r(&t, &tm) ? (int64_t)tm.tm_gmtoff * 1000000000 : 0;
}
