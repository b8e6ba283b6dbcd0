/*
 * state.c - the state encoding of learned baselines (state.h).
 * Written by hand, field by field, so the bytes do not depend on the
 * compiler's struct layout or the machine's endianness.
 */
#include "state.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "err.h"
#include "half.h"
#include "lineproto.h"
#include "msoff.h"

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

/* A baseline: STATE_BASE_LEN bytes. */
static void w_base(wbuf_t *w, const base_t *b)
{
    w_f64(w, b->rate);
    w_f32(w, b->phi);
    w_f32(w, b->sc_obs);
    w_f32(w, b->sc_exp);
    w_u(w, (uint64_t)b->age, 8);
    w_u(w, (uint64_t)b->bin, 8);
    w_f32(w, b->acc_count);
    w_f32(w, b->acc_secs);
    w_f32(w, b->all_count);
    w_f32(w, b->all_secs);
    for (int k = 0; k < BASE_KINDS; k++)
        for (int i = 0; i < BASE_BINS; i++)
            w_u(w, half_from_float((float)base_prof(b, k, i)), 2); /* exact: a 12-bit half */
    for (int k = 0; k < BASE_KINDS; k++) /* a byte a bin, as before they were packed */
        for (int i = 0; i < BASE_BINS; i++)
            w_u(w, base_days(b, k, i), 1);
    w_f32(w, b->disp); /* last: version 2 ended before it */
}

/* The header both encodings share: magic, a version, the bin layout. */
static void w_header(wbuf_t *w, const char m[8], uint32_t version)
{
    w_bytes(w, m, 8);
    w_u(w, version, 4);
    w_u(w, BASE_BINS, 4);
    w_u(w, (uint64_t)BASE_BIN_NS, 8);
}

/* The trailer: a CRC of everything before it. 0, or SW_ENOMEM (freed). */
static int w_finish(wbuf_t *w, unsigned char **buf, size_t *len)
{
    if (!w->failed)
        w_u(w, crc32_ieee(w->p, w->len), 4);
    if (w->failed) {
        free(w->p);
        return SW_ENOMEM;
    }
    *buf = w->p;
    *len = w->len;
    return SW_OK;
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
    w_header(&w, magic, STATE_VERSION);
    w_u(&w, kept, 8);
    for (size_t tk = 0; tk < ntables; tk++)
    for (size_t i = 0, n = st_series_extent(tables[tk]); i < n; i++) {
        series_table_t *t = tables[tk];
        const series_t *s = st_series(t, (uint32_t)i);
        if (!s->live || s->base.age <= 0)
            continue;
        const user_t *u = st_user(t, s->user);
        w_u(&w, u->len, 2);
        w_bytes(&w, u->name, u->len);
        w_u(&w, s->dir, 1);
        w_u(&w, s->cls_len, 2);
        w_bytes(&w, s->cls, s->cls_len);
        w_f32(&w, s->cadence);
        w_base(&w, &s->base);
    }
    return w_finish(&w, buf, len);
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

static int r_base(rbuf_t *r, base_t *b, int zero_age, int disp);

/* Reads one series record of a file of `version` at r into the out
 * parameters; 0 or a reason. */
static const char *read_series(rbuf_t *r, uint32_t version, const unsigned char **user,
                               size_t *ulen, int *dir, const unsigned char **cls, size_t *clen,
                               float *cadence, base_t *b)
{
    int disp = version >= 3; /* version 2: no clumping at the end of the baseline */
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
    if (*dir != DIR_SOUTH && *dir != DIR_NORTH)
        return "bad direction";
    *clen = (size_t)r_u(r, 2);
    if (*clen == 0 || *clen > LP_MAX_ID)
        return *clen ? "class too long" : "empty class";
    if (!r_need(r, *clen + STATE_SERIES_FIXED - 5 - (disp ? 0 : 4)))
        return "truncated";
    *cls = r->p + r->pos;
    r->pos += *clen;
    *cadence = r_f32(r);
    if (!finite_nonneg(*cadence))
        return "cadence out of range";
    return r_base(r, b, 0, disp) ? NULL : "value out of range";
}

/* Reads a baseline (STATE_BASE_LEN bytes, 4 fewer without `disp`, checked
 * by the caller); non-zero when its values are in range (an age of 0 only
 * when allowed). */
static int r_base(rbuf_t *r, base_t *b, int zero_age, int disp)
{
    base_init(b);
    b->rate = r_f64(r);
    b->phi = r_f32(r);
    b->sc_obs = r_f32(r);
    b->sc_exp = r_f32(r);
    b->age = (int64_t)r_u(r, 8);
    b->bin = (int64_t)r_u(r, 8);
    b->acc_count = r_f32(r);
    b->acc_secs = r_f32(r);
    b->all_count = r_f32(r);
    b->all_secs = r_f32(r);
    /* age grows by every interval learnt (base_learn): one beyond the span
     * of sample times (LP_TS_MAX, 146 years) no run can have learnt, and
     * near INT64_MAX it would overflow as it grows */
    int ok = finite_nonneg(b->rate) && finite_nonneg(b->phi) && finite_nonneg(b->sc_obs) &&
             finite_nonneg(b->sc_exp) && (b->age > 0 || (zero_age && b->age == 0)) &&
             b->age <= LP_TS_MAX && finite_nonneg(b->acc_count) &&
             finite_nonneg(b->acc_secs) && finite_nonneg(b->all_count) &&
             finite_nonneg(b->all_secs);
    for (int k = 0; k < BASE_KINDS; k++)
        for (int i = 0; i < BASE_BINS; i++) {
            uint16_t h = (uint16_t)r_u(r, 2);
            ok = ok && (h & 0x7c00) != 0x7c00; /* no infinity, no NaN */
            base_set_prof(b, k, i, half_to_float(h));
        }
    for (int k = 0; k < BASE_KINDS; k++)
        for (int i = 0; i < BASE_BINS; i++)
            base_set_days(b, k, i, r->p[r->pos++]);
    if (disp) {
        b->disp = r_f32(r);
        ok = ok && finite_nonneg(b->disp) && b->disp <= BASE_DISP_OBS_MAX;
    }
    return ok;
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
    if (version < STATE_VERSION_OLDEST || version > STATE_VERSION)
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
    float cadence;
    size_t start = r.pos;
    for (uint64_t i = 0; i < count; i++) {
        const char *why = read_series(&r, version, &user, &ulen, &dir, &cls, &clen, &cadence, &b);
        if (why)
            return fail(err, errlen, "series %llu of %llu: %s", (unsigned long long)i + 1,
                        (unsigned long long)count, why);
    }
    if (r.pos != r.len)
        return fail(err, errlen, "%zu unexpected bytes after the last series", r.len - r.pos);

    r.pos = start;
    for (uint64_t i = 0; i < count; i++) {
        read_series(&r, version, &user, &ulen, &dir, &cls, &clen, &cadence, &b);
        series_table_t *t = table_for(ctx, (const char *)user, ulen);
        int64_t si = st_intern(t, (const char *)user, ulen, dir, (const char *)cls, clen,
                               params_for, ctx);
        if (si < 0)
            return si == SW_ENOMEM ? SW_ENOMEM : fail(err, errlen, "series %llu: cannot intern",
                                                      (unsigned long long)i + 1);
        st_series(t, (uint32_t)si)->base = b;
        st_series(t, (uint32_t)si)->cadence = cadence;
    }
    return SW_OK;
}

/* ---- one User's whole state --------------------------------------------- */

static const char user_magic[8] = { 'S', 'W', 'U', 'S', 'E', 'R', '0', '2' };

static void w_life(wbuf_t *w, const life_t *l)
{
    w_u(w, (uint64_t)l->onset, 8);
    w_u(w, (uint64_t)l->since, 8);
    w_u(w, l->state, 1);
}

/* A lifecycle and, when its alert is out (id != 0 and known), what it
 * fired with. */
static void w_life_fire(wbuf_t *w, const life_t *l, uint32_t id,
                        const state_fire_t *(*fire_of)(void *, uint32_t), void *ctx)
{
    w_life(w, l);
    const state_fire_t *f = id && fire_of ? fire_of(ctx, id) : NULL;
    w_u(w, f != NULL, 1);
    if (!f)
        return;
    w_u(w, (uint64_t)f->starts_at, 8);
    w_u(w, (uint64_t)f->detected_at, 8);
    w_u(w, (uint64_t)f->since, 8);
    w_f64(w, f->value);
    w_f64(w, f->baseline);
    w_f64(w, f->backlog);
    w_f64(w, f->limit);
    w_u(w, f->incident, 8);
    w_u(w, f->role, 1);
    w_u(w, f->severity, 1);
    w_u(w, f->learning, 1);
}

static void w_ewin(wbuf_t *w, const ewin_t *e)
{
    w_f32(w, e->k);
    w_f32(w, e->mu);
    w_f32(w, e->secs);
    w_f32(w, e->v1);
    w_f32(w, e->v2);
}

/* A time that may be unset (INT64_MIN): a flag, then the time. */
static void w_opt_ts(wbuf_t *w, int64_t ts)
{
    w_u(w, ts != INT64_MIN, 1);
    if (ts != INT64_MIN)
        w_u(w, (uint64_t)ts, 8);
}

static void w_win(wbuf_t *w, const win_t *win)
{
    w_u(w, win->n, 1);
    for (unsigned k = 0; k < win->n; k++) {
        unsigned slot = (win->head + k) % WIN_CAP;
        w_u(w, (uint64_t)win_ts(win, k), 8);
        for (int i = 0; i < WIN_NV; i++)
            w_f32(w, win->v[slot][i]);
    }
    for (int i = 0; i < WIN_NV; i++)
        w_f64(w, win->sum[i]); /* as kept, so the sums go on exactly */
}

int state_encode_user(series_table_t *t, uint32_t user, unsigned src,
                      const state_fire_t *(*fire_of)(void *, uint32_t), void *ctx,
                      unsigned char **buf, size_t *len)
{
    const user_t *u = st_user(t, user);
    wbuf_t w = { 0 };
    w_header(&w, user_magic, STATE_USER_VERSION);
    w_u(&w, u->len, 2);
    w_bytes(&w, u->name, u->len);
    w_u(&w, src, 2);
    w_u(&w, u->nseries, 2);
    for (size_t i = 0, n = st_series_extent(t); i < n; i++) {
        const series_t *s = st_series(t, (uint32_t)i);
        if (!s->live || s->user != user)
            continue;
        w_u(&w, s->dir, 1);
        w_u(&w, s->cls_len, 2);
        w_bytes(&w, s->cls, s->cls_len);
        w_base(&w, &s->base);
        w_u(&w, s->seen, 1);
        w_u(&w, (uint64_t)s->last_ts, 8);
        w_f64(&w, s->rate);
        w_f64(&w, s->backlog);
        w_f32(&w, s->cadence);
        w_ewin(&w, &s->storm_det.s1);
        w_ewin(&w, &s->storm_det.s2);
        w_opt_ts(&w, s->storm_det.s0_since);
        w_u(&w, s->storm_det.s0_samples, 1);
        w_opt_ts(&w, s->storm_det.rise_since);
        w_opt_ts(&w, s->storm_det.fall_since);
        w_ewin(&w, &s->storm_det.recent);
        w_life_fire(&w, &s->storm, s->alert, fire_of, ctx);
        w_ewin(&w, &s->shift.w);
        w_ewin(&w, &s->shift.hi);
        w_ewin(&w, &s->shift.lo);
        w_f32(&w, s->shift.slow);
        w_life_fire(&w, &s->shift_life, s->shift_alert, fire_of, ctx);
    }
    int naggs = (u->agg[0] != ST_NO_AGG) + (u->agg[1] != ST_NO_AGG);
    w_u(&w, (uint64_t)naggs, 1);
    for (int d = 0; d < 2; d++) {
        if (u->agg[d] == ST_NO_AGG)
            continue;
        const agg_t *g = st_agg(t, u->agg[d]);
        w_u(&w, g->dir, 1);
        w_f32(&w, g->sil.llr);
        w_f32(&w, g->sil.quiet);
        w_f32(&w, g->sil.run);
        w_opt_ts(&w, g->sil.traffic_since);
        w_opt_ts(&w, g->sil.since);
        w_opt_ts(&w, g->sil.back_since);
        w_ewin(&w, &g->sil.recent);
        static const det_route_t none; /* southbound: no route, written as before */
        const det_route_t *route = st_route(t, g) ? st_route(t, g) : &none;
        w_f64(&w, route->prev_backlog);
        w_u(&w, (uint64_t)route->low_since, 8);
        w_win(&w, &route->win);
        w_u(&w, g->dirty, 1);
        if (g->dirty) {
            w_u(&w, (uint64_t)g->bucket_ts, 8);
            w_u(&w, (uint64_t)g->bucket_dt, 8);
            w_f64(&w, g->obs);
            w_f64(&w, g->queued);
            w_f64(&w, g->expected);
            w_f64(&w, g->expected_mid);
            w_f64(&w, g->var_extra);
            w_f32(&w, g->lin);
            w_f64(&w, g->delivered);
            w_f64(&w, g->base_rate);
            w_f64(&w, g->rate);
            w_u(&w, g->storming, 1);
            w_u(&w, g->learning, 1);
        }
        w_life_fire(&w, &g->blocked, g->blocked_alert, fire_of, ctx);
        w_life_fire(&w, &g->silence, g->silence_alert, fire_of, ctx);
        w_life_fire(&w, &g->limit, g->limit_alert, fire_of, ctx);
    }
    return w_finish(&w, buf, len);
}

/* Decoding: every read checks its room first; the first reason sticks. */
typedef struct {
    rbuf_t r;
    const char *why;
} urd_t;

static int u_need(urd_t *d, size_t n)
{
    if (!d->why && !r_need(&d->r, n))
        d->why = "truncated";
    return !d->why;
}

static uint64_t u_u(urd_t *d, int bytes)
{
    return u_need(d, (size_t)bytes) ? r_u(&d->r, bytes) : 0;
}

static double u_f64(urd_t *d, int finite)
{
    double v = u_need(d, 8) ? r_f64(&d->r) : 0;
    if (finite && !isfinite(v) && !d->why)
        d->why = "value out of range";
    return v;
}

/* An open bucket's sum: kept as a float (agg_t), so finite as a float. */
static double u_f64_sum(urd_t *d)
{
    double v = u_f64(d, 1);
    if (!(fabs(v) <= FLT_MAX) && !d->why)
        d->why = "value out of range";
    return v;
}

/* A time (or a duration) of the state: within the span of sample times,
 * so that no difference of two of them overflows. */
static int64_t u_ts(urd_t *d)
{
    int64_t v = (int64_t)u_u(d, 8);
    if (!lp_ts_in_range(v) && !d->why)
        d->why = "time out of range";
    return v;
}

static void u_life(urd_t *d, life_t *l, int *firing, state_fire_t *f)
{
    l->onset = u_ts(d);
    l->since = u_ts(d);
    l->state = (uint8_t)u_u(d, 1);
    if (l->state > LIFE_CLEARING && !d->why)
        d->why = "bad lifecycle state";
    *firing = (int)u_u(d, 1);
    if (*firing > 1 && !d->why)
        d->why = "bad firing flag";
    if (!*firing)
        return;
    f->starts_at = u_ts(d);
    f->detected_at = u_ts(d);
    f->since = u_ts(d);
    f->value = u_f64(d, 1);
    f->baseline = u_f64(d, 1);
    f->backlog = u_f64(d, 1);
    f->limit = u_f64(d, 1);
    f->incident = u_u(d, 8);
    f->role = (uint8_t)u_u(d, 1);
    f->severity = (uint8_t)u_u(d, 1);
    f->learning = (uint8_t)u_u(d, 1);
    if ((f->role > ROLE_MEMBER || f->severity > SEV_CRITICAL || f->learning > 1) && !d->why)
        d->why = "bad incident fields";
    /* what fired must still be out: firing or clearing */
    if (!life_firing(l) && !d->why)
        d->why = "an alert out while its lifecycle is not firing";
}

static float u_f32_nonneg(urd_t *d)
{
    float v = u_need(d, 4) ? r_f32(&d->r) : 0;
    if (!finite_nonneg(v) && !d->why)
        d->why = "value out of range";
    return v;
}

static void u_ewin(urd_t *d, ewin_t *e)
{
    e->k = u_f32_nonneg(d);
    e->mu = u_f32_nonneg(d);
    e->secs = u_f32_nonneg(d);
    e->v1 = u_f32_nonneg(d);
    e->v2 = u_f32_nonneg(d);
}

static int64_t u_opt_ts(urd_t *d)
{
    int set = (int)u_u(d, 1);
    if (set > 1 && !d->why)
        d->why = "bad time flag";
    return set ? u_ts(d) : INT64_MIN;
}

static void u_win(urd_t *d, win_t *w)
{
    win_clear(w);
    unsigned n = (unsigned)u_u(d, 1);
    if (n > WIN_CAP && !d->why)
        d->why = "window too long";
    int64_t prev = INT64_MIN;
    for (unsigned k = 0; k < n && !d->why; k++) {
        int64_t ts = u_ts(d);
        if (!k)
            w->t0 = msoff_floor(ts);
        if ((ts < prev || ts - w->t0 > (int64_t)INT32_MAX * MSOFF_NS) && !d->why)
            d->why = ts < prev ? "window out of order" : "window too long";
        w->ms[k] = msoff_after(w->t0, ts);
        prev = ts;
        for (int i = 0; i < WIN_NV; i++) {
            w->v[k][i] = u_need(d, 4) ? r_f32(&d->r) : 0;
            if (!isfinite(w->v[k][i]) && !d->why)
                d->why = "value out of range"; /* the sums are made again from them */
        }
    }
    w->n = (uint8_t)(d->why ? 0 : n);
    for (int i = 0; i < WIN_NV; i++)
        w->sum[i] = u_f64(d, 1);
}

/* Reads a string of 1..LP_MAX_ID bytes into dst (NUL-terminated). */
static size_t u_str(urd_t *d, char dst[LP_MAX_ID + 1], const char *what)
{
    size_t n = (size_t)u_u(d, 2);
    if ((n == 0 || n > LP_MAX_ID) && !d->why)
        d->why = what;
    if (d->why || !u_need(d, n))
        return 0;
    memcpy(dst, d->r.p + d->r.pos, n);
    dst[n] = '\0';
    d->r.pos += n;
    return n;
}

static void u_series(urd_t *d, state_user_series_t *s)
{
    s->dir = (int)u_u(d, 1);
    if (s->dir != DIR_SOUTH && s->dir != DIR_NORTH && !d->why)
        d->why = "bad direction";
    s->clen = u_str(d, s->cls, "bad class length");
    if (u_need(d, STATE_BASE_LEN) && !r_base(&d->r, &s->base, 1, 1))
        d->why = "baseline value out of range";
    s->seen = (int)u_u(d, 1);
    s->last_ts = u_ts(d);
    s->rate = u_f64(d, 1);
    s->backlog = u_f64(d, 1);
    s->cadence = u_f32_nonneg(d);
    u_ewin(d, &s->storm_det.s1);
    u_ewin(d, &s->storm_det.s2);
    s->storm_det.s0_since = u_opt_ts(d);
    s->storm_det.s0_samples = (uint8_t)u_u(d, 1);
    s->storm_det.rise_since = u_opt_ts(d);
    s->storm_det.fall_since = u_opt_ts(d);
    u_ewin(d, &s->storm_det.recent);
    u_life(d, &s->storm, &s->firing, &s->fire);
    u_ewin(d, &s->shift.w);
    u_ewin(d, &s->shift.hi);
    u_ewin(d, &s->shift.lo);
    s->shift.slow = u_f32_nonneg(d);
    u_life(d, &s->shift_life, &s->shift_firing, &s->shift_fire);
}

static void u_agg(urd_t *d, state_user_agg_t *g)
{
    g->dir = (int)u_u(d, 1);
    if (g->dir != DIR_SOUTH && g->dir != DIR_NORTH && !d->why)
        d->why = "bad direction";
    g->sil.llr = u_f32_nonneg(d);
    g->sil.quiet = u_f32_nonneg(d);
    if (!(g->sil.quiet <= 1) && !d->why)
        d->why = "quiet share over 1";
    g->sil.run = u_f32_nonneg(d);
    g->sil.traffic_since = u_opt_ts(d);
    g->sil.since = u_opt_ts(d);
    g->sil.back_since = u_opt_ts(d);
    u_ewin(d, &g->sil.recent);
    g->route.prev_backlog = u_f64(d, 1);
    g->route.low_since = u_ts(d);
    u_win(d, &g->route.win);
    g->open = (int)u_u(d, 1);
    if (g->open > 1 && !d->why)
        d->why = "bad bucket flag";
    if (g->open) {
        g->bucket_ts = u_ts(d);
        g->bucket_dt = u_ts(d);
        g->obs = u_f64_sum(d);
        g->queued = u_f64_sum(d);
        g->expected = u_f64_sum(d);
        g->expected_mid = u_f64_sum(d);
        g->var_extra = u_f64_sum(d);
        g->lin = u_f32_nonneg(d);
        g->delivered = u_f64_sum(d);
        g->base_rate = u_f64_sum(d);
        g->rate = u_f64_sum(d);
        g->storming = (int)u_u(d, 1);
        g->learning = (int)u_u(d, 1);
        if ((g->storming > 1 || g->learning > 1) && !d->why)
            d->why = "bad bucket flag";
    }
    for (int k = 0; k < STATE_NLIVES; k++)
        u_life(d, &g->life[k], &g->firing[k], &g->fire[k]);
}

int state_decode_user(const unsigned char *buf, size_t len, state_user_t *out, char *err,
                      size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!buf || len < HEADER_LEN - 8 + 4 || memcmp(buf, user_magic, sizeof(user_magic)) != 0)
        return fail(err, errlen, "not a stormwatch User state");
    uint32_t want = (uint32_t)buf[len - 4] | (uint32_t)buf[len - 3] << 8 |
                    (uint32_t)buf[len - 2] << 16 | (uint32_t)buf[len - 1] << 24;
    if (crc32_ieee(buf, len - 4) != want)
        return fail(err, errlen, "checksum mismatch: the User state is corrupt or truncated");
    urd_t d = { { buf, len - 4, sizeof(user_magic) }, NULL };
    uint32_t version = (uint32_t)u_u(&d, 4), bins = (uint32_t)u_u(&d, 4);
    uint64_t bin_ns = u_u(&d, 8);
    if (version != STATE_USER_VERSION)
        return fail(err, errlen, "User state version %u, this stormwatch reads version %d",
                    version, STATE_USER_VERSION);
    if (bins != BASE_BINS || bin_ns != (uint64_t)BASE_BIN_NS)
        return fail(err, errlen, "User state has %u daily bins, this stormwatch uses %d", bins,
                    BASE_BINS);
    out->ulen = u_str(&d, out->user, "bad user id length");
    out->src = (unsigned)u_u(&d, 2);
    size_t n = (size_t)u_u(&d, 2);
    if (!d.why && (n == 0 || n > d.r.len - d.r.pos))
        d.why = n ? "truncated" : "a User with no series";
    if (!d.why && !(out->series = calloc(n, sizeof(*out->series))))
        return SW_ENOMEM;
    for (size_t i = 0; i < n && !d.why; i++) {
        u_series(&d, &out->series[i]);
        for (size_t k = 0; k < i && !d.why; k++)
            if (out->series[k].dir == out->series[i].dir &&
                strcmp(out->series[k].cls, out->series[i].cls) == 0)
                d.why = "a series given twice";
    }
    out->nseries = n;
    out->naggs = (size_t)u_u(&d, 1);
    if (out->naggs > 2 && !d.why)
        d.why = "more than two directions";
    for (size_t i = 0; i < out->naggs && !d.why; i++)
        u_agg(&d, &out->agg[i]);
    if (!d.why && out->naggs == 2 && out->agg[0].dir == out->agg[1].dir)
        d.why = "a direction given twice";
    if (!d.why && d.r.pos != d.r.len)
        d.why = "unexpected bytes at the end";
    if (d.why) {
        state_user_free(out);
        return fail(err, errlen, "User state: %s", d.why);
    }
    return SW_OK;
}

void state_user_free(state_user_t *u)
{
    if (!u)
        return;
    free(u->series);
    u->series = NULL;
    u->nseries = 0;
}
