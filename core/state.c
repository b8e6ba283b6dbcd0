/*
 * state.c - the state encoding of learned baselines (state.h).
 * Written by hand, field by field, so the bytes do not depend on the
 * compiler's struct layout or the machine's endianness.
 */
#include "state.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "lineproto.h"

static const char magic[8] = { 'S', 'W', 'S', 'T', 'A', 'T', 'E', '1' };
#define HEADER_LEN (8 + 4 + 4 + 8 + 8)

/* CRC-32 (IEEE, reflected), bit by bit: state files are written rarely. */
static uint32_t crc32_ieee(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

typedef struct {
    unsigned char *p;
    size_t len, cap;
    int failed;
} wbuf_t;

static void w_bytes(wbuf_t *w, const void *src, size_t n)
{
    if (w->failed)
        return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n)
            cap *= 2;
        unsigned char *p = realloc(w->p, cap);
        if (!p) {
            w->failed = 1;
            return;
        }
        w->p = p;
        w->cap = cap;
    }
    memcpy(w->p + w->len, src, n);
    w->len += n;
}

static void w_u(wbuf_t *w, uint64_t v, int bytes)
{
    unsigned char b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    w_bytes(w, b, (size_t)bytes);
}

static void w_f64(wbuf_t *w, double d)
{
    uint64_t v;
    memcpy(&v, &d, 8);
    w_u(w, v, 8);
}

static void w_f32(wbuf_t *w, float f)
{
    uint32_t v;
    memcpy(&v, &f, 4);
    w_u(w, v, 4);
}

int state_encode(series_table_t *const *tables, size_t ntables, unsigned char **buf, size_t *len)
{
    wbuf_t w = { 0 };
    size_t kept = 0;
    for (size_t k = 0; k < ntables; k++)
        for (size_t i = 0, n = st_series_extent(tables[k]); i < n; i++) {
            const series_t *s = st_series(tables[k], (uint32_t)i);
            kept += s->live && s->base.age > 0;
        }
    w_bytes(&w, magic, sizeof(magic));
    w_u(&w, STATE_VERSION, 4);
    w_u(&w, BASE_BINS, 4);
    w_u(&w, (uint64_t)BASE_BIN_NS, 8);
    w_u(&w, kept, 8);
    for (size_t tk = 0; tk < ntables; tk++)
    for (size_t i = 0, n = st_series_extent(tables[tk]); i < n; i++) {
        series_table_t *t = tables[tk];
        const series_t *s = st_series(t, (uint32_t)i);
        if (!s->live || s->base.age <= 0)
            continue;
        const user_t *u = st_user(t, s->user);
        const base_t *b = &s->base;
        w_u(&w, u->len, 2);
        w_bytes(&w, u->name, u->len);
        w_u(&w, s->dir, 1);
        w_u(&w, s->cls_len, 2);
        w_bytes(&w, s->cls, s->cls_len);
        w_f64(&w, b->rate);
        w_f32(&w, b->phi);
        w_u(&w, (uint64_t)b->age, 8);
        w_u(&w, (uint64_t)b->bin, 8);
        w_f32(&w, b->acc_count);
        w_f32(&w, b->acc_secs);
        w_f32(&w, b->all_count);
        w_f32(&w, b->all_secs);
        for (int k = 0; k < BASE_BINS; k++)
            w_f32(&w, b->prof[k]);
        w_bytes(&w, b->days, BASE_BINS);
    }
    if (!w.failed)
        w_u(&w, crc32_ieee(w.p, w.len), 4);
    if (w.failed) {
        free(w.p);
        return SW_ENOMEM;
    }
    *buf = w.p;
    *len = w.len;
    return SW_OK;
}

typedef struct {
    const unsigned char *p;
    size_t len, pos;
} rbuf_t;

static int r_need(rbuf_t *r, size_t n)
{
    return r->len - r->pos >= n;
}

static uint64_t r_u(rbuf_t *r, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)r->p[r->pos + (size_t)i] << (8 * i);
    r->pos += (size_t)bytes;
    return v;
}

static double r_f64(rbuf_t *r)
{
    uint64_t v = r_u(r, 8);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

static float r_f32(rbuf_t *r)
{
    uint32_t v = (uint32_t)r_u(r, 4);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return SW_EPARSE;
}

static int finite_nonneg(double v)
{
    return isfinite(v) && v >= 0;
}

/* Reads one series record at r into the out parameters; 0 or a reason. */
static const char *read_series(rbuf_t *r, const unsigned char **user, size_t *ulen, int *dir,
                               const unsigned char **cls, size_t *clen, base_t *b)
{
    if (!r_need(r, 2))
        return "truncated";
    *ulen = (size_t)r_u(r, 2);
    if (*ulen == 0 || *ulen > LP_MAX_ID)
        return *ulen ? "user id too long" : "empty user id";
    if (!r_need(r, *ulen + 3))
        return "truncated";
    *user = r->p + r->pos;
    r->pos += *ulen;
    *dir = (int)r_u(r, 1);
    if (*dir != LP_SOUTH && *dir != LP_NORTH)
        return "bad direction";
    *clen = (size_t)r_u(r, 2);
    if (*clen == 0 || *clen > LP_MAX_ID)
        return *clen ? "class too long" : "empty class";
    if (!r_need(r, *clen + STATE_SERIES_FIXED - 5))
        return "truncated";
    *cls = r->p + r->pos;
    r->pos += *clen;
    base_init(b);
    b->rate = r_f64(r);
    b->phi = r_f32(r);
    b->age = (int64_t)r_u(r, 8);
    b->bin = (int64_t)r_u(r, 8);
    b->acc_count = r_f32(r);
    b->acc_secs = r_f32(r);
    b->all_count = r_f32(r);
    b->all_secs = r_f32(r);
    /* age grows by every interval learnt (base_learn): one beyond the span
     * of sample times (LP_TS_MAX, 146 years) no run can have learnt, and
     * near INT64_MAX it would overflow as it grows */
    int ok = finite_nonneg(b->rate) && finite_nonneg(b->phi) && b->age > 0 &&
             b->age <= LP_TS_MAX && finite_nonneg(b->acc_count) &&
             finite_nonneg(b->acc_secs) && finite_nonneg(b->all_count) &&
             finite_nonneg(b->all_secs);
    for (int k = 0; k < BASE_BINS; k++) {
        b->prof[k] = r_f32(r);
        ok = ok && finite_nonneg(b->prof[k]);
    }
    memcpy(b->days, r->p + r->pos, BASE_BINS);
    r->pos += BASE_BINS;
    return ok ? NULL : "value out of range";
}

int state_decode(series_table_t *(*table_for)(void *, const char *, size_t),
                 const unsigned char *buf, size_t len,
                 const detect_params_t *(*params_for)(void *, const char *, size_t), void *ctx,
                 char *err, size_t errlen)
{
    if (!table_for || !buf || !params_for)
        return SW_EINVAL;
    if (len < HEADER_LEN + 4 || memcmp(buf, magic, sizeof(magic)) != 0)
        return fail(err, errlen, "not a stormwatch state file");
    uint32_t want = (uint32_t)buf[len - 4] | (uint32_t)buf[len - 3] << 8 |
                    (uint32_t)buf[len - 2] << 16 | (uint32_t)buf[len - 1] << 24;
    rbuf_t r = { buf, len - 4, sizeof(magic) };
    uint32_t version = (uint32_t)r_u(&r, 4), bins = (uint32_t)r_u(&r, 4);
    uint64_t bin_ns = r_u(&r, 8), count = r_u(&r, 8);
    if (version != STATE_VERSION)
        return fail(err, errlen, "state version %u, this stormwatch reads version %d", version,
                    STATE_VERSION);
    if (bins != BASE_BINS || bin_ns != (uint64_t)BASE_BIN_NS)
        return fail(err, errlen, "state has %u daily bins of %llu ns, this stormwatch uses %d",
                    bins, (unsigned long long)bin_ns, BASE_BINS);
    if (crc32_ieee(buf, len - 4) != want)
        return fail(err, errlen, "checksum mismatch: the file is corrupt or truncated");

    /* check everything before touching the table */
    const unsigned char *user, *cls;
    size_t ulen, clen;
    int dir;
    base_t b;
    size_t start = r.pos;
    for (uint64_t i = 0; i < count; i++) {
        const char *why = read_series(&r, &user, &ulen, &dir, &cls, &clen, &b);
        if (why)
            return fail(err, errlen, "series %llu of %llu: %s", (unsigned long long)i + 1,
                        (unsigned long long)count, why);
    }
    if (r.pos != r.len)
        return fail(err, errlen, "%zu unexpected bytes after the last series", r.len - r.pos);

    r.pos = start;
    for (uint64_t i = 0; i < count; i++) {
        read_series(&r, &user, &ulen, &dir, &cls, &clen, &b);
        series_table_t *t = table_for(ctx, (const char *)user, ulen);
        int64_t si = st_intern(t, (const char *)user, ulen, dir, (const char *)cls, clen,
                               params_for, ctx);
        if (si < 0)
            return si == SW_ENOMEM ? SW_ENOMEM : fail(err, errlen, "series %llu: cannot intern",
                                                      (unsigned long long)i + 1);
        st_series(t, (uint32_t)si)->base = b;
    }
    return SW_OK;
}
