/*
 * fuzz_lineproto.c - the ingest parser, core/lineproto.h.
 *
 * Feeds: the input split into lines on '\n' (as the ingest paths split
 * theirs); each line is copied into a heap block of exactly its length, so
 * ASan sees any read past it, and parsed with ts_mult 1 (ns) and 1e9 (s)
 * into a scratch block of exactly the capacity the contract asks for.
 *
 * Checks, beyond "no crash": a differential of the two halves of the
 * parser - lp_parse() (the SSE2 fast path with its fallback) must give the
 * same result as lp_parse_strict() (always the full parser) and, on LP_OK,
 * the same sample (fields, the four values bit for bit, ts, dir, user and
 * class bytes); and what lineproto.h promises of every LP_OK sample
 * (non-empty ids of at most LP_MAX_ID bytes, class "all" when absent, a
 * known dir, at least one field, values finite and >= 0, absent fields 0,
 * ts inside InfluxDB's range, strings inside the line or the scratch).
 * A scratch one byte too small must give LP_BAD_TOO_LONG from both.
 * Any difference abort()s with the line printed.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lineproto.h"

static void fail(const char *what, const char *line, size_t len, int64_t ts_mult)
{
    fprintf(stderr, "fuzz_lineproto: %s (ts_mult %lld) on line of %zu bytes: '", what,
            (long long)ts_mult, len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fprintf(stderr, "'\n");
    abort();
}

static int inside(sw_str_t s, const char *base, size_t len)
{
    return s.p >= base && s.len <= len && s.p + s.len <= base + len;
}

static int same_str(sw_str_t a, sw_str_t b)
{
    return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

static int same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

/* What lineproto.h promises of an LP_OK sample. */
static const char *check_sample(const lp_sample_t *s, const char *line, size_t len,
                                const char *scratch, size_t cap)
{
    if (s->user.len == 0 || s->user.len > LP_MAX_ID)
        return "user length out of range";
    if (s->cls.len == 0 || s->cls.len > LP_MAX_ID)
        return "class length out of range";
    if (!inside(s->user, line, len) && !inside(s->user, scratch, cap))
        return "user points outside the line and the scratch";
    if (!inside(s->cls, line, len) && !inside(s->cls, scratch, cap) &&
        !(s->cls.len == 3 && memcmp(s->cls.p, "all", 3) == 0))
        return "class points outside the line and the scratch";
    if (s->dir != DIR_SOUTH && s->dir != DIR_NORTH)
        return "bad dir";
    if (s->fields == 0 || (s->fields & ~(unsigned)(LP_F_COUNT | LP_F_DELIVERED | LP_F_REJECTED |
                                                   LP_F_BACKLOG)))
        return "bad field bits";
    const double v[4] = { s->count, s->delivered, s->rejected, s->backlog };
    for (int k = 0; k < 4; k++) {
        if (!isfinite(v[k]) || v[k] < 0 || signbit(v[k]))
            return "field value not finite and >= +0";
        if (!(s->fields & (1u << k)) && v[k] != 0)
            return "absent field not 0";
    }
    if (s->ts < INT64_MIN + 2 || s->ts > INT64_MAX - 1)
        return "timestamp outside [INT64_MIN + 2, INT64_MAX - 1]";
    return NULL;
}

static void one_line(const char *line, size_t len, int64_t ts_mult)
{
    size_t cap = len;
    char *s1 = malloc(cap ? cap : 1), *s2 = malloc(cap ? cap : 1);
    if (!s1 || !s2)
        abort();
    lp_sample_t a, b;
    memset(&a, 0xa5, sizeof(a));
    memset(&b, 0x5a, sizeof(b));
    lp_result_t ra = lp_parse(line, len, ts_mult, &a, s1, cap);
    lp_result_t rb = lp_parse_strict(line, len, ts_mult, &b, s2, cap);
    if ((unsigned)ra >= LP_NRESULTS || (unsigned)rb >= LP_NRESULTS)
        fail("result out of range", line, len, ts_mult);
    if (!lp_result_str(ra) || lp_result_is_bad(ra) != (ra >= LP_BAD_SYNTAX))
        fail("lp_result_str / lp_result_is_bad disagree", line, len, ts_mult);
    if (ra != rb) {
        char why[160];
        snprintf(why, sizeof(why), "lp_parse says %s, lp_parse_strict says %s",
                 lp_result_str(ra), lp_result_str(rb));
        fail(why, line, len, ts_mult);
    }
    if (ra == LP_OK) {
        const char *why = check_sample(&a, line, len, s1, cap);
        if (!why)
            why = check_sample(&b, line, len, s2, cap);
        if (why)
            fail(why, line, len, ts_mult);
        if (a.fields != b.fields || !same_double(a.count, b.count) ||
            !same_double(a.delivered, b.delivered) || !same_double(a.rejected, b.rejected) ||
            !same_double(a.backlog, b.backlog))
            fail("fields differ between lp_parse and lp_parse_strict", line, len, ts_mult);
        if (a.ts != b.ts || a.dir != b.dir)
            fail("ts or dir differ between lp_parse and lp_parse_strict", line, len, ts_mult);
        if (!same_str(a.user, b.user) || !same_str(a.cls, b.cls))
            fail("user or class differ between lp_parse and lp_parse_strict", line, len,
                 ts_mult);
    }
    /* a scratch smaller than the line: refused before anything else */
    if (len > 0) {
        if (lp_parse(line, len, ts_mult, &a, s1, cap - 1) != LP_BAD_TOO_LONG ||
            lp_parse_strict(line, len, ts_mult, &b, s2, cap - 1) != LP_BAD_TOO_LONG)
            fail("scratch of len - 1 bytes not LP_BAD_TOO_LONG", line, len, ts_mult);
    }
    free(s1);
    free(s2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        /* exactly the line's bytes, nothing readable after them */
        char *line = malloc(len ? len : 1);
        if (!line)
            abort();
        memcpy(line, p, len);
        one_line(line, len, 1);
        one_line(line, len, 1000000000);
        free(line);
        p += len + 1;
    }
    return 0;
}
