/*
 * lineproto.c - the ingest parser: one line of InfluxDB 2.x line protocol in,
 * one traffic sample out (contract section 1). The ingest paths (replay's file
 * reader, the daemon's ZeroMQ receiver) split their input into lines and call
 * lp_parse() on each, so this is the hottest loop of the daemon: one pass over
 * the bytes, a byte-class table instead of chains of comparisons, integers
 * converted by hand, and strtod() only for the rare float that the exact fast
 * path below cannot convert. Nothing is allocated and the line is never
 * copied, except for the tag values that carry escapes (into the caller's
 * scratch) and a float of at most NUM_MAX bytes (onto the stack, for strtod).
 *
 * The syntax is InfluxDB 2.x's, with the reference decoder's strictness:
 * measurement, keys and tag values must be valid UTF-8 without control
 * characters, every token is checked even where its value is ignored, and
 * timestamps outside InfluxDB's range [INT64_MIN + 2, INT64_MAX - 1] are
 * refused, which leaves INT64_MIN and INT64_MAX free as sentinels downstream.
 * The order in which faults are reported is stated in lineproto.h.
 *
 * DESIGN: no mutable state outside the call (the tables below are const), so
 * any number of threads may parse at once, each with its own scratch buffer.
 */
#include "lineproto.h"
#include "lineproto_int.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MEASUREMENT "dsp_traffic"
#define MEASUREMENT_LEN (sizeof MEASUREMENT - 1)

/* Longest number token handed to strtod(); longer ones are refused. */
#define NUM_MAX 64

/* Largest timestamp magnitude, in ns: InfluxDB's range is symmetric,
 * INT64_MAX - 1 == -(INT64_MIN + 2). */
#define TS_MAG_MAX ((uint64_t)INT64_MAX - 1)

/* Returned by scan_token() for a control character or invalid UTF-8. */
#define SCAN_BAD SIZE_MAX

/* Byte classes: everything that ends or interrupts a name token. */
enum { B_PLAIN, B_COMMA, B_EQUALS, B_SPACE, B_BSLASH, B_CTRL, B_HIGH };

#define P B_PLAIN
#define K B_CTRL
#define H B_HIGH
#define C B_COMMA
#define E B_EQUALS
#define S B_SPACE
#define B B_BSLASH
static const unsigned char byte_class[256] = {
    K, K, K, K, K, K, K, K, K, K, K, K, K, K, K, K, /* 0x00 */
    K, K, K, K, K, K, K, K, K, K, K, K, K, K, K, K, /* 0x10 */
    S, P, P, P, P, P, P, P, P, P, P, P, C, P, P, P, /* 0x20 ' ' ',' */
    P, P, P, P, P, P, P, P, P, P, P, P, P, E, P, P, /* 0x30 '=' */
    P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 0x40 */
    P, P, P, P, P, P, P, P, P, P, P, P, B, P, P, P, /* 0x50 '\\' */
    P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, /* 0x60 */
    P, P, P, P, P, P, P, P, P, P, P, P, P, P, P, K, /* 0x70 DEL */
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, /* 0x80 */
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H,
    H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, H, /* 0xf0 */
};
#undef P
#undef K
#undef H
#undef C
#undef E
#undef S
#undef B

/* Powers of ten that a double holds exactly. */
static const double pow10_exact[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};
#define POW10_EXACT_MAX 22

/* The fast float path relies on one correctly rounded multiply or divide,
 * which x87 extended precision would round twice. */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define FAST_FLOAT 1
#else
#define FAST_FLOAT 0
#endif

/* What a field value turned out to be. */
typedef enum {
    V_NUMBER,        /* a finite number: magnitude and sign returned */
    V_NONNUMERIC,    /* a well-formed string or boolean */
    V_UNREPRESENTABLE, /* a number out of range, NaN or infinite */
    V_MALFORMED,     /* not a line-protocol value */
} vkind_t;

static const char *const result_msg[LP_NRESULTS] = {
#define LP_MSG(name, bad, short_name, msg) msg,
    LP_RESULTS(LP_MSG)
#undef LP_MSG
};

static const char *const result_name[LP_NRESULTS] = {
#define LP_NAME(name, bad, short_name, msg) short_name,
    LP_RESULTS(LP_NAME)
#undef LP_NAME
};

static const unsigned char result_bad[LP_NRESULTS] = {
#define LP_BAD(name, bad, short_name, msg) bad,
    LP_RESULTS(LP_BAD)
#undef LP_BAD
};

const char *lp_result_str(lp_result_t r)
{
    if ((unsigned)r >= LP_NRESULTS)
        return "unknown parse result";
    return result_msg[r];
}

const char *lp_result_name(lp_result_t r)
{
    if ((unsigned)r >= LP_NRESULTS)
        return "unknown";
    return result_name[r];
}

int lp_result_is_bad(lp_result_t r)
{
    if ((unsigned)r >= LP_NRESULTS)
        return 1;
    return result_bad[r];
}

static int is_digit(unsigned char c)
{
    return (unsigned)(c - '0') < 10u;
}

/* The bytes a backslash escapes in names and tag values. */
static int is_escapable(unsigned char c)
{
    return c == ',' || c == '=' || c == ' ' || c == '\\';
}

/* Length of the valid UTF-8 sequence at s (s[0] >= 0x80, `avail` bytes
 * readable), or 0 when it is invalid, overlong, a surrogate or truncated. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned c = s[0], lo = 0x80, hi = 0xbf;
    size_t len, k;

    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (avail < len || s[1] < lo || s[1] > hi)
        return 0;
    for (k = 2; k < len; k++)
        if ((s[k] & 0xc0) != 0x80)
            return 0;
    return len;
}

/*
 * Scans a measurement, key or tag value from s[i] up to its first unescaped
 * comma, equals sign or space. Sets *esc when the token holds an escape.
 * Returns the index of the byte that ended it (n at the end of the line), or
 * SCAN_BAD when the token holds a control character or invalid UTF-8.
 */
static size_t scan_token(const unsigned char *s, size_t i, size_t n, int *esc)
{
    size_t k;

    for (;;) {
        while (i < n && byte_class[s[i]] == B_PLAIN)
            i++;
        if (i == n)
            return n;
        switch (byte_class[s[i]]) {
        case B_BSLASH:
            /* A backslash before anything else is a literal backslash. */
            if (i + 1 < n && is_escapable(s[i + 1])) {
                *esc = 1;
                i += 2;
            } else {
                i++;
            }
            break;
        case B_HIGH:
            k = utf8_seq(s + i, n - i);
            if (k == 0)
                return SCAN_BAD;
            i += k;
            break;
        case B_CTRL:
            return SCAN_BAD;
        default:
            return i;
        }
    }
}

/* Writes the unescaped form of a tag value to dst; returns its length. */
static uint32_t unescape(char *dst, const unsigned char *src, size_t n)
{
    size_t i, j = 0;

    for (i = 0; i < n; i++) {
        if (src[i] == '\\' && i + 1 < n && is_escapable(src[i + 1]))
            i++;
        dst[j++] = (char)src[i];
    }
    return (uint32_t)j;
}

/* Index just past the plain field-value token at s[i] (up to ',' or ' '). */
static size_t value_end(const unsigned char *s, size_t i, size_t n)
{
    while (i < n && s[i] != ',' && s[i] != ' ')
        i++;
    return i;
}

static int ends_value(const unsigned char *s, size_t i, size_t n)
{
    return i == n || s[i] == ',' || s[i] == ' ';
}

/* Compares p[0..len) case-insensitively with the lower-case word w. */
static int eq_nocase(const unsigned char *p, size_t len, const char *w)
{
    size_t k;

    if (strlen(w) != len)
        return 0;
    for (k = 0; k < len; k++)
        if ((p[k] | 0x20) != (unsigned char)w[k])
            return 0;
    return 1;
}

/* Whether the token is NaN or an infinity as strtod() would read it. */
static int is_nan_or_inf(const unsigned char *p, size_t len)
{
    if (len > 0 && (p[0] == '-' || p[0] == '+')) {
        p++;
        len--;
    }
    return eq_nocase(p, len, "nan") || eq_nocase(p, len, "inf") ||
           eq_nocase(p, len, "infinity");
}

/* Reads a string value "..." at s[*pi]; on success *pi is past the quote. */
static vkind_t skip_string(const unsigned char *s, size_t *pi, size_t n)
{
    size_t i = *pi + 1, k;

    while (i < n) {
        unsigned char c = s[i];

        if (c == '"') {
            if (!ends_value(s, i + 1, n))
                return V_MALFORMED;
            *pi = i + 1;
            return V_NONNUMERIC;
        }
        if (c == '\\' && i + 1 < n && (s[i + 1] == '"' || s[i + 1] == '\\')) {
            i += 2;
        } else if (c == '\0') {
            return V_MALFORMED;
        } else if (c >= 0x80) {
            k = utf8_seq(s + i, n - i);
            if (k == 0)
                return V_MALFORMED;
            i += k;
        } else {
            i++;
        }
    }
    return V_MALFORMED;
}

/* Reads a boolean at s[*pi]: t T true True TRUE f F false False FALSE. */
static vkind_t skip_bool(const unsigned char *s, size_t *pi, size_t n)
{
    static const char *const words[] = {
        "t", "T", "true", "True", "TRUE", "f", "F", "false", "False", "FALSE",
    };
    size_t end = value_end(s, *pi, n), len = end - *pi, k;

    for (k = 0; k < sizeof words / sizeof words[0]; k++) {
        if (strlen(words[k]) == len && memcmp(s + *pi, words[k], len) == 0) {
            *pi = end;
            return V_NONNUMERIC;
        }
    }
    return V_MALFORMED;
}

/* Appends decimal digit d to *w, or sets *ovf when *w would pass 2^64 - 1. */
static void push_digit(uint64_t *w, int *ovf, unsigned d)
{
    if (*w > UINT64_MAX / 10 || (*w == UINT64_MAX / 10 && d > UINT64_MAX % 10))
        *ovf = 1;
    else
        *w = *w * 10 + d;
}

/* Converts the unsigned decimal token p[0..len) with strtod(). */
static vkind_t number_by_strtod(const unsigned char *p, size_t len, double *mag)
{
    char buf[NUM_MAX + 1], *end;

    if (len > NUM_MAX)
        return V_UNREPRESENTABLE;
    memcpy(buf, p, len);
    buf[len] = '\0';
    *mag = strtod(buf, &end);
    /* A short read means an LC_NUMERIC whose decimal point is not '.':
     * refuse the value rather than take half of it. */
    if (end != buf + len || !isfinite(*mag))
        return V_UNREPRESENTABLE;
    return V_NUMBER;
}

/*
 * Reads a number at s[*pi]: -?digits[.digits][e[+-]digits] with an optional
 * i (int64) or u (uint64) suffix on integers; a lone '.' side may be empty
 * (".5", "5.") but not both. On V_NUMBER and V_UNREPRESENTABLE *pi is past
 * the token; the magnitude goes to *mag and the sign to *neg.
 */
static vkind_t parse_number(const unsigned char *s, size_t *pi, size_t n,
                            double *mag, int *neg)
{
    size_t i = *pi, start;
    uint64_t w = 0;
    int ovf = 0, integral = 1;
    int64_t ndigits = 0, fracd = 0, e10 = 0, exp10;

    *neg = 0;
    if (s[i] == '-') {
        *neg = 1;
        i++;
    }
    start = i;
    for (; i < n && is_digit(s[i]); i++, ndigits++)
        push_digit(&w, &ovf, s[i] - '0');
    if (i < n && s[i] == '.') {
        integral = 0;
        for (i++; i < n && is_digit(s[i]); i++, fracd++)
            push_digit(&w, &ovf, s[i] - '0');
    }
    if (ndigits + fracd == 0)
        return V_MALFORMED;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        int eneg = 0;
        size_t e0;

        integral = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        for (e0 = i; i < n && is_digit(s[i]); i++)
            if (e10 < 100000) /* beyond any double; strtod decides */
                e10 = e10 * 10 + (s[i] - '0');
        if (i == e0)
            return V_MALFORMED;
        if (eneg)
            e10 = -e10;
    }

    if (integral && i < n && (s[i] == 'i' || s[i] == 'u')) {
        int is_unsigned = s[i++] == 'u';

        if (!ends_value(s, i, n) || (is_unsigned && *neg))
            return V_MALFORMED;
        *pi = i;
        if (ovf || (!is_unsigned && w > (uint64_t)INT64_MAX + (uint64_t)*neg))
            return V_UNREPRESENTABLE;
        *mag = (double)w; /* correctly rounded above 2^53 */
        return V_NUMBER;
    }
    if (!ends_value(s, i, n))
        return V_MALFORMED;
    *pi = i;

    if (!ovf && integral) {
        *mag = (double)w;
        return V_NUMBER;
    }
    exp10 = e10 - fracd;
    if (FAST_FLOAT && !ovf && w <= (UINT64_C(1) << 53) &&
        exp10 >= -POW10_EXACT_MAX && exp10 <= POW10_EXACT_MAX) {
        /* Both operands exact, so one IEEE operation rounds correctly. */
        if (exp10 < 0)
            *mag = (double)w / pow10_exact[-exp10];
        else
            *mag = (double)w * pow10_exact[exp10];
        return V_NUMBER;
    }
    return number_by_strtod(s + start, i - start, mag);
}

/* Reads the field value at s[*pi] (not at the end of the line). */
static vkind_t parse_value(const unsigned char *s, size_t *pi, size_t n,
                           double *mag, int *neg)
{
    vkind_t k;
    size_t end;

    switch (s[*pi]) {
    case '"':
        k = skip_string(s, pi, n);
        break;
    case 't': case 'T': case 'f': case 'F':
        k = skip_bool(s, pi, n);
        break;
    default:
        k = parse_number(s, pi, n, mag, neg);
        break;
    }
    if (k != V_MALFORMED)
        return k;
    /* Not line protocol, but say "not a finite number" for what strtod
     * would have read as one. */
    end = value_end(s, *pi, n);
    if (!is_nan_or_inf(s + *pi, end - *pi))
        return V_MALFORMED;
    *pi = end;
    return V_UNREPRESENTABLE;
}

/* Index 0..3 of a known field key (LP_F_* bit order), or -1. */
static int known_field(const unsigned char *k, size_t len)
{
    switch (len) {
    case 5:
        return memcmp(k, "count", 5) == 0 ? 0 : -1;
    case 9:
        return memcmp(k, "delivered", 9) == 0 ? 1 : -1;
    case 8:
        return memcmp(k, "rejected", 8) == 0 ? 2 : -1;
    case 7:
        return memcmp(k, "backlog", 7) == 0 ? 3 : -1;
    default:
        return -1;
    }
}

/* A tag value as found in the line. */
typedef struct {
    const unsigned char *p;
    size_t len;
    int esc;  /* holds an escape: unescape before use */
    int seen;
} tagval_t;

enum { DIR_ABSENT = -1, DIR_UNKNOWN = -2 };

/* The state of one lp_parse() call, filled section by section. */
typedef struct {
    const unsigned char *s;
    size_t n;
    tagval_t user, cls;
    int dir;                /* DIR_SOUTH, DIR_NORTH or DIR_* */
    lp_result_t field_fault; /* first value fault among the fields, or LP_OK */
} parse_t;

/* Skips a measurement other than ours; it must still end in ',' or ' '. */
static lp_result_t other_measurement(const unsigned char *s, size_t i, size_t n)
{
    size_t start = i;
    int esc = 0;

    for (;;) {
        i = scan_token(s, i, n, &esc);
        if (i == SCAN_BAD || i == n)
            return LP_BAD_SYNTAX;
        if (s[i] != '=')
            break;
        i++; /* '=' is an ordinary byte in a measurement */
    }
    return i == start ? LP_BAD_SYNTAX : LP_SKIP_MEASUREMENT;
}

/*
 * Reads the tag set from the ',' at s[*pi] up to the space that ends it.
 * Keeps user, dir and class; checks and ignores the other tags.
 */
static lp_result_t parse_tags(parse_t *ps, size_t *pi)
{
    const unsigned char *s = ps->s;
    size_t n = ps->n, i = *pi, k0, v0, klen, vlen;
    int kesc, vesc;
    tagval_t *tv;

    do {
        k0 = ++i; /* past the ',' */
        kesc = 0;
        i = scan_token(s, i, n, &kesc);
        if (i == SCAN_BAD || i == n || s[i] != '=' || i == k0)
            return LP_BAD_SYNTAX;
        klen = i - k0;
        v0 = ++i; /* past the '=' */
        vesc = 0;
        i = scan_token(s, i, n, &vesc);
        if (i == SCAN_BAD || i == n || s[i] == '=')
            return LP_BAD_SYNTAX;
        vlen = i - v0;

        /* Escaped keys never spell user, dir or class: compare raw. */
        tv = NULL;
        if (klen == 4 && memcmp(s + k0, "user", 4) == 0) {
            tv = &ps->user;
        } else if (klen == 5 && memcmp(s + k0, "class", 5) == 0) {
            tv = &ps->cls;
        } else if (klen == 3 && memcmp(s + k0, "dir", 3) == 0) {
            if (ps->dir != DIR_ABSENT || vlen == 0)
                return LP_BAD_SYNTAX;
            if (vlen == 5 && memcmp(s + v0, "north", 5) == 0)
                ps->dir = DIR_NORTH;
            else if (vlen == 5 && memcmp(s + v0, "south", 5) == 0)
                ps->dir = DIR_SOUTH;
            else
                ps->dir = DIR_UNKNOWN;
        }
        if (tv != NULL) {
            if (tv->seen)
                return LP_BAD_SYNTAX;
            tv->p = s + v0;
            tv->len = vlen;
            tv->esc = vesc;
            tv->seen = 1;
        }
        /* An empty user is BAD_NO_USER, reported later; others malformed. */
        if (vlen == 0 && tv != &ps->user)
            return LP_BAD_SYNTAX;
    } while (s[i] == ',');
    *pi = i;
    return LP_OK;
}

/*
 * Reads the field set at s[*pi] up to the space before the timestamp.
 * Syntax faults return at once; value faults of known fields (and numbers
 * out of range in any field) are kept in ps->field_fault, first one wins.
 */
static lp_result_t parse_fields(parse_t *ps, size_t *pi, lp_sample_t *out)
{
    const unsigned char *s = ps->s;
    size_t n = ps->n, i = *pi, k0;
    double *const dst[4] = {&out->count, &out->delivered, &out->rejected,
                            &out->backlog};
    double mag = 0;
    int kesc, which, neg = 0;
    vkind_t kind;

    for (;;) {
        k0 = i;
        kesc = 0;
        i = scan_token(s, i, n, &kesc);
        if (i == SCAN_BAD || i == n || s[i] != '=' || i == k0)
            return LP_BAD_SYNTAX;
        which = known_field(s + k0, i - k0);
        if (++i == n)
            return LP_BAD_SYNTAX; /* "key=" and nothing after it */
        kind = parse_value(s, &i, n, &mag, &neg);
        if (kind == V_MALFORMED)
            return LP_BAD_SYNTAX;

        if (which >= 0) {
            if (out->fields & (1u << which))
                return LP_BAD_SYNTAX; /* the same field twice */
            out->fields |= 1u << which;
            if (kind != V_NUMBER) {
                if (ps->field_fault == LP_OK)
                    ps->field_fault = LP_BAD_FIELD_VALUE;
            } else if (neg && mag != 0) {
                if (ps->field_fault == LP_OK)
                    ps->field_fault = LP_BAD_NEGATIVE;
            } else {
                *dst[which] = mag; /* -0 stored as +0 */
            }
        } else if (kind == V_UNREPRESENTABLE && ps->field_fault == LP_OK) {
            ps->field_fault = LP_BAD_FIELD_VALUE;
        }

        if (i == n)
            return LP_BAD_TIMESTAMP; /* valid line protocol, but no time */
        if (s[i] == ' ')
            break;
        i++; /* the ',' before the next field */
    }
    *pi = i;
    return LP_OK;
}

/* Reads the timestamp at s[i] (after the spaces) and what may follow it. */
static lp_result_t parse_timestamp(const unsigned char *s, size_t i, size_t n,
                                   int64_t ts_mult, int64_t *ts)
{
    uint64_t m = 0;
    int neg = 0, ovf = 0;
    size_t d0;

    if (i < n && s[i] == '-') {
        neg = 1;
        i++;
    }
    for (d0 = i; i < n && is_digit(s[i]); i++)
        push_digit(&m, &ovf, s[i] - '0');
    if (i == d0 || (i < n && s[i] != ' '))
        return LP_BAD_TIMESTAMP;
    if (ovf || ts_mult < 1 || m > TS_MAG_MAX / (uint64_t)ts_mult)
        return LP_BAD_TIMESTAMP;
    m *= (uint64_t)ts_mult;
    while (i < n && s[i] == ' ')
        i++;
    if (i != n)
        return LP_BAD_SYNTAX; /* something after the timestamp */
    *ts = neg ? -(int64_t)m : (int64_t)m;
    return LP_OK;
}

/* Points *dst at the tag value, unescaped into *scratch if it needs it. */
static void take_tag(sw_str_t *dst, const tagval_t *tv, char **scratch)
{
    if (!tv->esc) {
        dst->p = (const char *)tv->p;
        dst->len = (uint32_t)tv->len;
        return;
    }
    dst->p = *scratch;
    dst->len = unescape(*scratch, tv->p, tv->len);
    *scratch += dst->len;
}

lp_result_t lp_parse(const char *line, size_t len, int64_t ts_mult,
                     lp_sample_t *out, char *scratch, size_t scratch_cap)
{
    if (len > scratch_cap || len > UINT32_MAX)
        return LP_BAD_TOO_LONG;
    lp_result_t r = lp_parse_fast(line, len, ts_mult, out);
    return r != LP_FAST_UNSURE ? r : lp_parse_strict(line, len, ts_mult, out, scratch, scratch_cap);
}

lp_result_t lp_parse_strict(const char *line, size_t len, int64_t ts_mult,
                            lp_sample_t *out, char *scratch, size_t scratch_cap)
{
    const unsigned char *s = (const unsigned char *)line;
    size_t n = len, i = 0;
    parse_t ps;
    lp_result_t r;

    if (len > scratch_cap || len > UINT32_MAX)
        return LP_BAD_TOO_LONG;
    if (n > 0 && s[n - 1] == '\r')
        n--;
    while (i < n && s[i] == ' ')
        i++;
    if (i == n || s[i] == '#')
        return LP_SKIP_BLANK;

    /* Our measurement can hold no escape, so a plain compare finds it. */
    if (n - i <= MEASUREMENT_LEN ||
        memcmp(s + i, MEASUREMENT, MEASUREMENT_LEN) != 0 ||
        (s[i + MEASUREMENT_LEN] != ',' && s[i + MEASUREMENT_LEN] != ' '))
        return other_measurement(s, i, n);
    i += MEASUREMENT_LEN;

    memset(&ps, 0, sizeof ps);
    ps.s = s;
    ps.n = n;
    ps.dir = DIR_ABSENT;
    ps.field_fault = LP_OK;
    if (s[i] == ',') {
        r = parse_tags(&ps, &i);
        if (r != LP_OK)
            return r;
    }
    while (i < n && s[i] == ' ')
        i++;
    if (i == n)
        return LP_BAD_SYNTAX; /* no field set */

    out->fields = 0;
    out->count = out->delivered = out->rejected = out->backlog = 0;
    r = parse_fields(&ps, &i, out);
    if (r != LP_OK)
        return r;
    while (i < n && s[i] == ' ')
        i++;
    r = parse_timestamp(s, i, n, ts_mult, &out->ts);
    if (r != LP_OK)
        return r;

    /* The line reads as line protocol; now it must make a sample. */
    if (!ps.user.seen || ps.user.len == 0)
        return LP_BAD_NO_USER;
    if (ps.dir == DIR_ABSENT)
        return LP_BAD_NO_DIR;
    if (ps.dir == DIR_UNKNOWN)
        return LP_BAD_DIR;
    if (ps.field_fault != LP_OK)
        return ps.field_fault;
    if (out->fields == 0)
        return LP_BAD_NO_FIELD;

    out->dir = ps.dir;
    take_tag(&out->user, &ps.user, &scratch);
    if (ps.cls.seen) {
        take_tag(&out->cls, &ps.cls, &scratch);
    } else {
        out->cls.p = "all";
        out->cls.len = 3;
    }
    if (out->user.len > LP_MAX_ID || out->cls.len > LP_MAX_ID)
        return LP_BAD_ID_TOO_LONG;
    return LP_OK;
}
