/*
 * lineproto_fast.c - the fast path of lp_parse() for the lines a DSP feed
 * is made of: "dsp_traffic,tag=value,... field=123i,... 1568592010006000000"
 * with plain ASCII ids, integer fields and a nanosecond timestamp.
 *
 * One pass of SSE2 compares classifies the whole line 16 bytes at a time
 * into bit masks (delimiters: ',' '=' ' '; trouble: control bytes, bytes
 * >= 0x7f, '\\' and '"'); tokens are then walked from delimiter to
 * delimiter by counting trailing zeros, instead of a table lookup per byte.
 * The fast path only ever accepts: whenever a line holds anything it does
 * not handle (trouble bytes, a float, a sign, a repeated or empty tag, an
 * unknown dir, a missing part), it answers LP_FAST_UNSURE and lp_parse()
 * runs the full parser, which gives the precise verdict. So for every line
 * the result is the full parser's; tests/test_lineproto.c checks that on
 * generated and mutated lines.
 *
 * DESIGN: pure function, no state; any thread.
 */
#include "lineproto_int.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>

#define FAST_MAX 256 /* longest line handled: four 64-bit masks */
#define MAX_DIGITS 18 /* any 18 digits fit an int64 */

typedef struct {
    uint64_t delim[FAST_MAX / 64]; /* ',' '=' ' ', cleared as they are taken */
    size_t n;
    size_t w;                      /* the first word that may hold any left */
} masks_t;

/* Classifies s[0..n) (16 <= n <= FAST_MAX); 0 when the line holds a byte
 * the fast path leaves alone. */
static int classify(const unsigned char *s, size_t n, masks_t *m)
{
    const __m128i comma = _mm_set1_epi8(','), eq = _mm_set1_epi8('='), sp = _mm_set1_epi8(' ');
    const __m128i bs = _mm_set1_epi8('\\'), quote = _mm_set1_epi8('"');
    const __m128i ctl = _mm_set1_epi8(0x20), del = _mm_set1_epi8(0x7f);
    __m128i bad = _mm_setzero_si128();
    memset(m->delim, 0, sizeof(m->delim));
    m->n = n;
    m->w = 0;
    for (size_t k = 0; k < n; k += 16) {
        /* the last chunk is loaded so that it ends with the line (overlapping
         * the one before): never a read past the line; its overlap is shifted out */
        size_t at = n - k >= 16 ? k : n - 16, skip = k - at;
        __m128i x = _mm_loadu_si128((const __m128i *)(s + at));
        /* signed compare: bytes >= 0x80 are negative, so below 0x20 too */
        bad = _mm_or_si128(bad, _mm_or_si128(_mm_or_si128(_mm_cmplt_epi8(x, ctl),
                                                          _mm_cmpeq_epi8(x, del)),
                                             _mm_or_si128(_mm_cmpeq_epi8(x, bs),
                                                          _mm_cmpeq_epi8(x, quote))));
        __m128i d = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, comma), _mm_cmpeq_epi8(x, eq)),
                                 _mm_cmpeq_epi8(x, sp));
        uint64_t bits = (unsigned)_mm_movemask_epi8(d) >> skip;
        m->delim[k / 64] |= bits << (k % 64);
    }
    return _mm_movemask_epi8(bad) == 0;
}

/* The next delimiter, in order (each is taken once), or m->n when none is left. */
static size_t pop_delim(masks_t *m)
{
    while (m->w < FAST_MAX / 64 && !m->delim[m->w])
        m->w++;
    if (m->w == FAST_MAX / 64)
        return m->n;
    uint64_t *bits = &m->delim[m->w];
    size_t at = m->w * 64 + (size_t)__builtin_ctzll(*bits);
    *bits &= *bits - 1;
    return at < m->n ? at : m->n;
}

/* Whether p[0..8) are eight ASCII digits (each byte 0x30..0x39). */
static int eight_digits(uint64_t v)
{
    return ((v & UINT64_C(0xf0f0f0f0f0f0f0f0)) |
            (((v + UINT64_C(0x0606060606060606)) & UINT64_C(0xf0f0f0f0f0f0f0f0)) >> 4)) ==
           UINT64_C(0x3333333333333333);
}

/* The value of eight ASCII digits, first digit in the lowest byte (little endian). */
static uint64_t eight_value(uint64_t v)
{
    v = (v & UINT64_C(0x0f0f0f0f0f0f0f0f)) * 2561 >> 8;               /* pairs: 10a + b */
    v = (v & UINT64_C(0x00ff00ff00ff00ff)) * 6553601 >> 16;           /* fours */
    return (v & UINT64_C(0x0000ffff0000ffff)) * UINT64_C(42949672960001) >> 32; /* eight */
}

/* s[a..b) as a plain decimal of at most MAX_DIGITS digits; -1 otherwise. */
static int64_t digits(const unsigned char *s, size_t a, size_t b)
{
    if (a == b || b - a > MAX_DIGITS)
        return -1;
    int64_t v = 0;
    for (size_t i = a; i < b; i++) {
        unsigned d = (unsigned)s[i] - '0';
        if (d > 9)
            return -1;
        v = v * 10 + d;
    }
    return v;
}

static int field_index(const unsigned char *k, size_t len)
{
    switch (len) {
    case 5: return memcmp(k, "count", 5) == 0 ? 0 : -1;
    case 9: return memcmp(k, "delivered", 9) == 0 ? 1 : -1;
    case 8: return memcmp(k, "rejected", 8) == 0 ? 2 : -1;
    case 7: return memcmp(k, "backlog", 7) == 0 ? 3 : -1;
    default: return -1;
    }
}

lp_result_t lp_parse_fast(const char *line, size_t n, int64_t ts_mult, lp_sample_t *out)
{
    static const char head[] = "dsp_traffic,";
    const unsigned char *s = (const unsigned char *)line;
    if (n > 0 && s[n - 1] == '\r')
        n--;
    if (n > FAST_MAX || n < 16 || memcmp(s, head, sizeof(head) - 1) != 0 || ts_mult < 1)
        return LP_FAST_UNSURE;
    masks_t m;
    if (!classify(s, n, &m))
        return LP_FAST_UNSURE;

    /* tags: ,key=value ... up to the first space */
    size_t i = sizeof(head) - 1, user = 0, ulen = 0, cls = 0, clen = 0;
    m.delim[0] &= ~(UINT64_C(1) << (i - 1)); /* the comma of the head is taken */
    int dir = -1;
    for (;;) {
        size_t eq = pop_delim(&m);
        if (eq == n || s[eq] != '=' || eq == i)
            return LP_FAST_UNSURE;
        size_t end = pop_delim(&m);
        if (end == n || s[end] == '=' || end == eq + 1)
            return LP_FAST_UNSURE;
        size_t klen = eq - i, v = eq + 1, vlen = end - v;
        if (klen == 4 && memcmp(s + i, "user", 4) == 0) {
            if (user)
                return LP_FAST_UNSURE;
            user = v;
            ulen = vlen;
        } else if (klen == 5 && memcmp(s + i, "class", 5) == 0) {
            if (cls)
                return LP_FAST_UNSURE;
            cls = v;
            clen = vlen;
        } else if (klen == 3 && memcmp(s + i, "dir", 3) == 0) {
            if (dir >= 0 || vlen != 5)
                return LP_FAST_UNSURE;
            if (memcmp(s + v, "north", 5) == 0)
                dir = DIR_NORTH;
            else if (memcmp(s + v, "south", 5) == 0)
                dir = DIR_SOUTH;
            else
                return LP_FAST_UNSURE;
        }
        i = end + 1;
        if (s[end] == ' ')
            break;
    }
    if (!user || dir < 0 || ulen > LP_MAX_ID || clen > LP_MAX_ID)
        return LP_FAST_UNSURE;
    size_t d;
    while (i < n && s[i] == ' ') { /* more spaces: take their delimiters too */
        d = pop_delim(&m);
        (void)d;
        i++;
    }

    /* fields: key=digits[i|u], ... up to the space before the timestamp */
    double val[4] = { 0, 0, 0, 0 };
    unsigned fields = 0;
    for (;;) {
        size_t eq = pop_delim(&m);
        if (eq == n || s[eq] != '=' || eq == i)
            return LP_FAST_UNSURE;
        size_t end = pop_delim(&m);
        if (end == n || s[end] == '=')
            return LP_FAST_UNSURE;
        size_t vend = end;
        if (vend > eq + 1 && (s[vend - 1] == 'i' || s[vend - 1] == 'u'))
            vend--;
        int64_t v = digits(s, eq + 1, vend);
        if (v < 0)
            return LP_FAST_UNSURE;
        int f = field_index(s + i, eq - i);
        if (f >= 0) {
            if (fields & (1u << f))
                return LP_FAST_UNSURE;
            fields |= 1u << f;
            val[f] = (double)v;
        }
        i = end + 1;
        if (s[end] == ' ')
            break;
    }
    if (!fields)
        return LP_FAST_UNSURE;

    /* the timestamp, then nothing but spaces: 19 digits fit a uint64 */
    while (i < n && s[i] == ' ')
        i++;
    size_t t1 = n;
    while (t1 > i && s[t1 - 1] == ' ')
        t1--;
    if (t1 == i || t1 - i > 19)
        return LP_FAST_UNSURE;
    uint64_t ts = 0;
    for (; t1 - i >= 8; i += 8) {
        uint64_t v;
        memcpy(&v, s + i, 8);
        if (!eight_digits(v))
            return LP_FAST_UNSURE;
        ts = ts * 100000000 + eight_value(v);
    }
    for (; i < t1; i++) {
        unsigned dg = (unsigned)s[i] - '0';
        if (dg > 9)
            return LP_FAST_UNSURE;
        ts = ts * 10 + dg;
    }
    if (ts > ((uint64_t)INT64_MAX - 1) / (uint64_t)ts_mult)
        return LP_FAST_UNSURE;

    out->user.p = line + user;
    out->user.len = (uint32_t)ulen;
    if (cls) {
        out->cls.p = line + cls;
        out->cls.len = (uint32_t)clen;
    } else {
        out->cls.p = "all";
        out->cls.len = 3;
    }
    out->dir = dir;
    out->fields = fields;
    out->count = val[0];
    out->delivered = val[1];
    out->rejected = val[2];
    out->backlog = val[3];
    out->ts = (int64_t)(ts * (uint64_t)ts_mult);
    return LP_OK;
}

#else /* no SSE2: every line takes the full parser */

lp_result_t lp_parse_fast(const char *line, size_t n, int64_t ts_mult, lp_sample_t *out)
{
    (void)line;
    (void)n;
    (void)ts_mult;
    (void)out;
    return LP_FAST_UNSURE;
}

#endif
