/*
 * sim_traffic.c - the simulator's traffic: every User's samples, drawn and
 * formatted as line protocol, in event-time order.
 *
 * sim_write() (sim.c) calls sim_write_traffic() with the plan of
 * sim_plan.c. The writer steps through the grid; at each step the Users
 * whose cadence divides it draw their sample (user_step()) in the order of
 * sim_opts_t.order, and their lines are formatted by hand into one large
 * buffer, because a run may hold hundreds of millions of lines. With one
 * cadence for all, every User samples at every step, and the steps, draws
 * and orders are those the simulator always made, so the bytes are too.
 *
 * A sample at time T of a User of cadence c covers the grid points
 * T - c + grid .. T, and an effect [from, to) the time [from - grid,
 * to - grid): an effect weighs by the share of the sample's time it covers
 * (a ramp by its mean over the grid points), the time factors are taken at
 * the sample's middle, and a batch weighs by its overlap. An effect on the
 * grid covers a sample wholly or not at all when the User samples at every
 * grid step, so one cadence for all keeps the old bytes.
 */
#include "sim_priv.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

#define LINE_MAX_LEN 192        /* longest line the writer formats, with room to spare */
#define PREFIX_MAX 96           /* longest line prefix ("dsp_traffic,...,class=... count=") */
#define MAX_LINES (2 + SIM_MAX_ALERT_CODES) /* lines per User and sample */
#define STORM_REJECT_SHARE 0.65 /* share of a south storm's extra requests the DSP rejects */
#define SLOWED_SHARE 0.5        /* a sample is slowed when this much of it is */
#define SIM_SLOW_HELD 4.0       /* messages held back per interval while slowed (x1-2) */
#define OUT_BUFSIZE (1u << 20)

/* ---- counts ------------------------------------------------------------ */

/* Gamma(shape k, scale 1) (Marsaglia and Tsang). */
static double rng_gamma(rng_t *r, double k)
{
    if (k < 1)
        return rng_gamma(r, k + 1) * pow(rng_u01(r), 1 / k);
    double d = k - 1.0 / 3, c = 1 / sqrt(9 * d);
    for (;;) {
        double x, v;
        do {
            x = rng_normal(r);
            v = 1 + c * x;
        } while (v <= 0);
        v = v * v * v;
        double u = rng_u01(r);
        if (u < 1 - 0.0331 * x * x * x * x || log(u) < 0.5 * x * x + d * (1 - v + log(v)))
            return d * v;
    }
}

static int64_t round_nonneg(double x)
{
    return x <= 0 ? 0 : (int64_t)(x + 0.5);
}

/* Poisson(lam): inversion for small means, a normal approximation above. */
static int64_t rng_poisson(rng_t *r, double lam)
{
    if (lam <= 0)
        return 0;
    if (lam >= NORMAL_APPROX_MEAN)
        return round_nonneg(lam + sqrt(lam) * rng_normal(r));
    double u = rng_u01(r), p = exp(-lam), f = p;
    int64_t x = 0;
    while (u > f && x < 1000) {
        x++;
        p *= lam / (double)x;
        f += p;
    }
    return x;
}

/* Negative binomial with mean mu and var mu + phi mu^2 (gamma-Poisson). */
static int64_t rng_nb(rng_t *r, double mu, double phi)
{
    if (mu <= 0)
        return 0;
    double sd = sqrt(mu + phi * mu * mu);
    if (mu >= NORMAL_APPROX_MEAN && mu >= NB_NORMAL_MIN_SDS * sd)
        return round_nonneg(mu + sd * rng_normal(r));
    if (phi > 0)
        mu *= phi * rng_gamma(r, 1 / phi);
    return rng_poisson(r, mu);
}

/* Binomial(n, p), approximately: each of n messages kept with probability p. */
static int64_t rng_binom(rng_t *r, int64_t n, double p)
{
    if (n <= 0 || p <= 0)
        return 0;
    if (p >= 1)
        return n;
    double m = (double)n * p;
    int64_t x = m < NORMAL_APPROX_MEAN ? rng_poisson(r, m)
                                        : round_nonneg(m + sqrt(m * (1 - p)) * rng_normal(r));
    return x < n ? x : n;
}

/* ---- formatting -------------------------------------------------------- */

static const char digits2[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";

static inline char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    while (v >= 100) {
        unsigned d = (unsigned)(v % 100) * 2;
        v /= 100;
        tmp[n++] = digits2[d + 1];
        tmp[n++] = digits2[d];
    }
    if (v >= 10) {
        tmp[n++] = digits2[v * 2 + 1];
        tmp[n++] = digits2[v * 2];
    } else {
        tmp[n++] = (char)('0' + v);
    }
    while (n)
        *p++ = tmp[--n];
    return p;
}

static inline char *put_lit(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define PUT_LIT(p, s) ((p) = put_lit((p), (s), sizeof(s) - 1))

/* ---- Users ------------------------------------------------------------- */

/* One User's generator state, in emission order. */
typedef struct {
    rng_t rng;
    double req_mu;      /* expected requests per sample, before the time factors */
    double alert_frac, resp_ratio, rej_rate;
    int64_t ts_off;
    int64_t *backlog;   /* the responses', then each alert series': the User's slice of a pool */
    int64_t cadence, ratio; /* ns, and in grid steps */
    int batch_dir;
    int64_t batch_from_s, batch_len_s;
    double batch_mult;
    sim_weekend_t we;
    size_t eff_lo, eff_hi; /* the User's effects in the sorted effect array */
    size_t pfx_off;        /* the User's line prefixes in the prefix pool */
    int idx, ramp, group;
    char id[SIM_ID_LEN];   /* for SIM_ORDER_ID */
} tuser_t;

/* What the writer shares across Users. Every User's prefixes have the same
 * lengths (ids and classes have fixed lengths). */
typedef struct {
    const sim_opts_t *o;
    const effect_t *eff; /* the Users' effects, by User then start */
    int64_t grid;
    int n_al;            /* alert series per User */
    int lines;           /* lines per User and sample: 2 + n_al */
    double share[SIM_MAX_ALERT_CODES];
    size_t plen[MAX_LINES];
    char *pfx;           /* the prefix pool */
} tctx_t;

/* The time factors of one sample. */
typedef struct {
    int64_t t;           /* its time on the grid */
    double factor;       /* daily, weekly and onboarding */
    double bat_s, bat_n; /* batch multipliers */
} when_t;

typedef struct {
    int64_t req, rej, resp, resp_dl, resp_bl;
    int64_t al[SIM_MAX_ALERT_CODES], al_dl[SIM_MAX_ALERT_CODES], al_bl[SIM_MAX_ALERT_CODES];
} sample_t;

static int cmp_eff(const void *a, const void *b)
{
    const effect_t *x = a, *y = b;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    return x->from < y->from ? -1 : x->from > y->from;
}

static int cmp_tuser(const void *a, const void *b)
{
    const tuser_t *x = a, *y = b;
    if (x->ts_off != y->ts_off)
        return x->ts_off < y->ts_off ? -1 : 1;
    return x->idx - y->idx;
}

/* Users in the order of their ids (SIM_ORDER_ID). */
static int cmp_tuser_id(const void *a, const void *b)
{
    return memcmp(((const tuser_t *)a)->id, ((const tuser_t *)b)->id, sizeof(((tuser_t *)0)->id));
}

/* An effect of magnitude mag over a share frac of a sample. The whole
 * sample gives mag itself, so one cadence for all keeps its bytes. */
static double blend(double mag, double frac)
{
    return frac >= 1 ? mag : 1 + frac * (mag - 1);
}

/* A ramp's mean multiplier over a sample of `ratio` grid points, of which
 * the n points from grid time a on lie in the ramp: x1 + (mag - 1) t/rise
 * (or mag^(t/rise)) at t = a point's time since the ramp's start, reached
 * at the end of its grid interval, then mag. */
static double ramp_mean(const effect_t *e, int64_t a, int64_t n, int64_t ratio, int64_t grid)
{
    double rise = (double)e->rise, g = (double)grid, t0 = (double)(a - e->from + grid);
    int64_t n1 = t0 >= rise ? 0 : (int64_t)ceil((rise - t0) / g); /* points still rising */
    n1 = n1 < n ? n1 : n;
    double sum = (double)(n - n1) * (e->mag - 1);
    if (n1 > 0 && e->sub) { /* exponential: sum of mag^(t/rise) - 1 */
        double q = pow(e->mag, g / rise), first = pow(e->mag, t0 / rise);
        sum += (q == 1 ? (double)n1 : first * (pow(q, (double)n1) - 1) / (q - 1)) - (double)n1;
    } else if (n1 > 0) {
        sum += (e->mag - 1) / rise * ((double)n1 * t0 + g * (double)n1 * (double)(n1 - 1) / 2);
    }
    return 1 + sum / (double)ratio;
}

/* Delivers queue c: up to cap_frac x count during an outage; a share
 * slow_frac (< 1) of what is pending while the DSP is slowed by another
 * User's storm, so the backlog settles at a plateau instead of growing;
 * otherwise the whole queue but a lag of 0-3 messages, at most
 * SIM_DRAIN_FACTOR x the rate. Fractions round at random, not down, so
 * small Users see the same share as large ones. */
static void deliver(tuser_t *u, int c, int64_t count, double mean, double cap_frac, double slow_frac,
                    int64_t *dl, int64_t *bl)
{
    int64_t pending = u->backlog[c] + count;
    int64_t lag = (int64_t)(rng_next(&u->rng) >> 62);
    int64_t d = pending - (lag < pending ? lag : pending);
    double cap;
    if (slow_frac < 1 && cap_frac >= 1) {
        /* a share of what is pending, less a few messages held back by
         * the slowed DSP: the backlog settles at ~15% of the queue + ~6 */
        cap = slow_frac * (double)pending - SIM_SLOW_HELD * (1 + rng_u01(&u->rng)) +
              rng_u01(&u->rng);
        if (cap < 0)
            cap = 0;
    } else if (cap_frac >= 1) {
        double m = (double)count > mean ? (double)count : mean;
        cap = SIM_DRAIN_FACTOR * (m > 1 ? m : 1);
    } else {
        cap = cap_frac * (double)count;
    }
    if ((double)d > cap)
        d = (int64_t)cap;
    u->backlog[c] = pending - d;
    *dl = d;
    *bl = pending - d;
}

/* The multipliers of one sample, from the User's effects. */
typedef struct {
    double burst, storm_s, storm_n, sil_s, sil_n, cap, shift_s, shift_n;
    double code[SIM_MAX_ALERT_CODES];
    int slow;
} mults_t;

static void user_effects(const tctx_t *x, const tuser_t *u, int64_t t, mults_t *m)
{
    *m = (mults_t){ 1, 1, 1, 1, 1, 1, 1, 1, { 0 }, 0 };
    for (int j = 0; j < x->n_al; j++)
        m->code[j] = 1;
    int64_t g = x->grid, lo = t - u->cadence + g, hi = t + g; /* the sample's grid points, [lo, hi) */
    for (size_t i = u->eff_lo; i < u->eff_hi; i++) {
        const effect_t *e = &x->eff[i];
        if (e->to <= lo || e->from >= hi)
            continue;
        int64_t a = e->from > lo ? e->from : lo, b = e->to < hi ? e->to : hi;
        double frac = (double)(b - a) / (double)u->cadence; /* exactly 1 when it covers the sample */
        switch (e->type) {
        case EF_BLOCK: m->cap = fmin(m->cap, blend(0, frac)); break;
        case EF_DEGRADE: m->cap = fmin(m->cap, blend(e->mag, frac)); break;
        case EF_SLOW: m->slow |= frac >= SLOWED_SHARE; break;
        case EF_STORM_S: m->storm_s *= blend(e->mag, frac); break;
        case EF_STORM_N: m->storm_n *= blend(e->mag, frac); break;
        case EF_SIL_S: m->sil_s = fmin(m->sil_s, blend(e->mag, frac)); break;
        case EF_SIL_N: m->sil_n = fmin(m->sil_n, blend(e->mag, frac)); break;
        case EF_BURST: m->burst *= blend(e->mag, frac); break;
        case EF_RAMP_S: m->storm_s *= ramp_mean(e, a, (b - a) / g, u->ratio, g); break;
        case EF_RAMP_N: m->storm_n *= ramp_mean(e, a, (b - a) / g, u->ratio, g); break;
        case EF_STORM_CODE: m->code[e->sub] *= blend(e->mag, frac); break;
        case EF_SHIFT_S: m->shift_s *= blend(e->mag, frac); break;
        case EF_SHIFT_N: m->shift_n *= blend(e->mag, frac); break;
        default: break;
        }
    }
}

/* Draws User u's sample at w->t. */
static void user_step(const tctx_t *x, tuser_t *u, const when_t *w, sample_t *s)
{
    double phi = x->o->dispersion;
    mults_t m;
    user_effects(x, u, w->t, &m);
    double mu = u->req_mu * w->factor * w->bat_s * m.burst * m.shift_s;
    int64_t req = rng_nb(&u->rng, mu, phi);
    int64_t rej = rng_binom(&u->rng, req, u->rej_rate);
    if (m.sil_s < 1) {
        req = rng_binom(&u->rng, req, m.sil_s);
        rej = rej < req ? rej : req;
    }
    int64_t acc = req - rej;
    if (m.storm_s > 1) { /* the flood is extra requests, mostly rejected; the rest are answered */
        int64_t extra = rng_nb(&u->rng, mu * (m.storm_s - 1), phi);
        int64_t extra_rej = rng_binom(&u->rng, extra, STORM_REJECT_SHARE);
        req += extra;
        rej += extra_rej;
        acc += extra - extra_rej;
    }
    double mu_resp = u->resp_ratio * (double)acc * w->bat_n;
    double mu_al = u->alert_frac * u->req_mu * w->factor * w->bat_n * m.storm_n * m.shift_n;
    double mu_code[SIM_MAX_ALERT_CODES];
    int64_t resp = rng_poisson(&u->rng, mu_resp);
    if (!x->o->alert_codes) {
        mu_code[0] = mu_al;
        s->al[0] = rng_nb(&u->rng, mu_al, phi);
    }
    for (int j = 0; x->o->alert_codes && j < x->n_al; j++) {
        mu_code[j] = mu_al * x->share[j] * m.code[j];
        s->al[j] = rng_nb(&u->rng, mu_code[j], phi);
    }
    if (m.sil_n < 1) {
        resp = rng_binom(&u->rng, resp, m.sil_n);
        for (int j = 0; j < x->n_al; j++)
            s->al[j] = rng_binom(&u->rng, s->al[j], m.sil_n);
    }
    double slow_frac = m.slow ? 0.8 + 0.1 * rng_u01(&u->rng) : 1.0;
    s->req = req;
    s->rej = rej;
    s->resp = resp;
    deliver(u, 0, resp, mu_resp, m.cap, slow_frac, &s->resp_dl, &s->resp_bl);
    for (int j = 0; j < x->n_al; j++)
        deliver(u, 1 + j, s->al[j], mu_code[j], m.cap, slow_frac, &s->al_dl[j], &s->al_bl[j]);
}

/* Formats the User's lines at p; ends[c] is set past line c. */
static char *format_user(char *p, const tctx_t *x, const tuser_t *u, const sample_t *s, const char *ts, size_t tl,
                         char *ends[MAX_LINES])
{
    const char *pf = x->pfx + u->pfx_off;
    p = put_lit(p, pf, x->plen[0]);
    pf += x->plen[0];
    p = put_u64(p, (uint64_t)s->req);
    PUT_LIT(p, "i,rejected=");
    p = put_u64(p, (uint64_t)s->rej);
    PUT_LIT(p, "i ");
    p = put_lit(p, ts, tl);
    *p++ = '\n';
    ends[0] = p;
    for (int c = 1; c < x->lines; c++) {
        p = put_lit(p, pf, x->plen[c]);
        pf += x->plen[c];
        p = put_u64(p, (uint64_t)(c == 1 ? s->resp : s->al[c - 2]));
        PUT_LIT(p, "i,delivered=");
        p = put_u64(p, (uint64_t)(c == 1 ? s->resp_dl : s->al_dl[c - 2]));
        PUT_LIT(p, "i,backlog=");
        p = put_u64(p, (uint64_t)(c == 1 ? s->resp_bl : s->al_bl[c - 2]));
        PUT_LIT(p, "i ");
        p = put_lit(p, ts, tl);
        *p++ = '\n';
        ends[c] = p;
    }
    return p;
}

/* ---- output and quirks ------------------------------------------------- */

typedef struct {
    FILE *f;
    char *buf;
    size_t len;
    int err;
} out_t;

static void out_flush(out_t *w)
{
    if (w->len && fwrite(w->buf, 1, w->len, w->f) != w->len)
        w->err = SW_EIO;
    w->len = 0;
}

static inline void out_reserve(out_t *w, size_t n)
{
    if (OUT_BUFSIZE - w->len < n)
        out_flush(w);
}

static void out_put(out_t *w, const char *p, size_t n)
{
    out_reserve(w, n);
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

/* A bad line of kind `sub` for User id at time ts. */
static size_t malformed_line(char *b, size_t cap, int sub, const char *id, const char *ts)
{
    int n;
    switch (sub) {
    case 0: n = snprintf(b, cap, "dsp_traffic,user=%s,dir=south,class=request count=-4i,rejected=0i %s\n", id, ts); break;
    case 1: n = snprintf(b, cap, "dsp_traffic,dir=north,class=alert count=3i,delivered=3i,backlog=0i %s\n", ts); break;
    case 2: n = snprintf(b, cap, "dsp_traffic,user=%s,dir=sideways,class=request count=5i,rejected=0i %s\n", id, ts); break;
    case 3: n = snprintf(b, cap, "dsp_traffic,user=%s,dir=north,class=alert count=1i,delivered=1i,backlog=0i notatime\n", id); break;
    case 4: n = snprintf(b, cap, "\xfe\xfd\x80 stray bytes \x81\xff\n"); break;
    default: n = snprintf(b, cap, "dsp_traffic,user=%s,dir=south,class=req\n", id); break;
    }
    return n < 0 ? 0 : (size_t)n;
}

/* Where the quirk of one grid step goes, as line indices in that step. */
typedef struct {
    int64_t dup_src, dup_at, swap_a, mal_at;
    int mal_sub, dup_pending;
    size_t hold_len, dup_len;
    char hold[LINE_MAX_LEN], dup[LINE_MAX_LEN];
} qstate_t;

/* n_users Users of `lines` lines each sample at the step. */
static void q_init(qstate_t *qs, const pquirk_t *q, int64_t n_users, int64_t lines)
{
    qs->dup_src = qs->dup_at = qs->swap_a = qs->mal_at = -2;
    qs->dup_pending = 0;
    qs->mal_sub = q->sub;
    uint64_t r = q->r;
    if (q->type == Q_DUP) {
        qs->dup_src = lines * (int64_t)(r % (uint64_t)n_users) + (int64_t)((r >> 20) % (uint64_t)lines);
        qs->dup_at = qs->dup_src + (int64_t)((r >> 40) % 6);
    } else if (q->type == Q_SWAP) {
        qs->swap_a = lines * (int64_t)(r % (uint64_t)(n_users - 1)) + lines - 1;
    } else {
        qs->mal_at = (int64_t)(r % (uint64_t)(lines * n_users));
    }
}

/* Emits line j of the step, applying the step's quirk. */
static void q_line(out_t *w, qstate_t *qs, int64_t j, const char *line, size_t len, const sim_opts_t *o,
                   int user, const char *ts)
{
    if (j == qs->mal_at) {
        char id[SIM_ID_LEN], b[2 * LINE_MAX_LEN];
        sim_user_id(o, user, id);
        out_put(w, b, malformed_line(b, sizeof b, qs->mal_sub, id, ts));
    }
    if (j == qs->swap_a) {
        memcpy(qs->hold, line, len);
        qs->hold_len = len;
        return;
    }
    out_put(w, line, len);
    if (j == qs->swap_a + 1)
        out_put(w, qs->hold, qs->hold_len);
    if (j == qs->dup_src) {
        memcpy(qs->dup, line, len);
        qs->dup_len = len;
        qs->dup_pending = 1;
    }
    if (qs->dup_pending && j >= qs->dup_at) {
        out_put(w, qs->dup, qs->dup_len);
        qs->dup_pending = 0;
    }
}

/* ---- the writer -------------------------------------------------------- */

/* The Users' generators in emission order (x->pfx, *us and *backlogs are
 * the caller's to free, also on error). */
static int traffic_users(tctx_t *x, const plan_t *pl, size_t ne, tuser_t **us_out, int64_t **backlogs)
{
    static const char *const cls[2] = { ",dir=south,class=request count=", ",dir=north,class=response count=" };
    const sim_opts_t *o = x->o;
    size_t n = (size_t)o->n_users, po = 0, e = 0, nb = 1 + (size_t)x->n_al;
    tuser_t *us = *us_out = calloc(n, sizeof *us);
    x->pfx = malloc(n * (size_t)x->lines * PREFIX_MAX);
    *backlogs = calloc(n * nb, sizeof **backlogs);
    if (!us || !x->pfx || !*backlogs)
        return SW_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        uparams_t p;
        tuser_t *u = &us[i];
        unsigned codes[SIM_MAX_ALERT_CODES];
        sim_user_params(o, (int)i, &p);
        rng_init(&u->rng, o->seed, ST_NOISE, i);
        u->req_mu = p.rate * ((double)p.cadence / 1e9);
        u->alert_frac = p.alert_frac;
        u->resp_ratio = p.resp_ratio;
        u->rej_rate = p.rej_rate;
        u->ts_off = o->order == SIM_ORDER_OFFSET ? p.ts_off : 0;
        u->backlog = *backlogs + i * nb;
        u->cadence = p.cadence;
        u->ratio = p.cadence / x->grid;
        for (size_t c = 0; c < pl->n_cad; c++)
            if (pl->cad[c].ratio == u->ratio)
                u->group = (int)c;
        u->batch_dir = p.batch_dir;
        u->batch_from_s = p.batch_from_s;
        u->batch_len_s = p.batch_len_s;
        u->batch_mult = p.batch_mult;
        u->we = p.we;
        u->idx = (int)i;
        u->ramp = (int)i == pl->ramp_user;
        sim_user_id(o, (int)i, u->id);
        if (o->alert_codes)
            sim_code_ids(o, (int)i, x->n_al, codes);
        u->pfx_off = po;
        for (int c = 0; c < x->lines; c++) {
            char *at = x->pfx + po;
            int len = c < 2 ? snprintf(at, PREFIX_MAX, "dsp_traffic,user=%s%s", u->id, cls[c])
                    : o->alert_codes ? snprintf(at, PREFIX_MAX, "dsp_traffic,user=%s,dir=north,class=alert_%04X count=",
                                                u->id, codes[c - 2])
                                     : snprintf(at, PREFIX_MAX, "dsp_traffic,user=%s,dir=north,class=alert count=", u->id);
            x->plen[c] = (size_t)len;
            po += (size_t)len;
        }
        while (e < ne && x->eff[e].user < (int)i)
            e++;
        u->eff_lo = e;
        while (e < ne && x->eff[e].user == (int)i)
            e++;
        u->eff_hi = e;
    }
    qsort(us, n, sizeof *us, o->order == SIM_ORDER_ID ? cmp_tuser_id : cmp_tuser);
    return SW_OK;
}

/* The Users (positions in emission order) of each cadence group, group
 * after group, each ascending; off[c] is where group c begins. */
static void group_users(const plan_t *pl, const tuser_t *us, size_t n, size_t *grp, size_t off[SIM_MAX_CADENCES])
{
    size_t fill[SIM_MAX_CADENCES], at = 0;
    for (size_t c = 0; c < pl->n_cad; c++) {
        off[c] = fill[c] = at;
        at += pl->cad[c].n;
    }
    for (size_t i = 0; i < n; i++)
        grp[fill[us[i].group]++] = i;
}

/* The Users due at grid step k, in emission order (merging the groups
 * due), written to due[]; returns how many. */
static size_t due_users(const plan_t *pl, const size_t *grp, const size_t off[SIM_MAX_CADENCES], int64_t k,
                        size_t *due)
{
    size_t head[SIM_MAX_CADENCES], end[SIM_MAX_CADENCES], ng = 0, m = 0;
    for (size_t c = 0; c < pl->n_cad; c++) {
        if (k % pl->cad[c].ratio || !pl->cad[c].n)
            continue;
        head[ng] = off[c];
        end[ng++] = off[c] + pl->cad[c].n;
    }
    for (;;) {
        size_t best = ng;
        for (size_t g = 0; g < ng; g++)
            if (head[g] < end[g] && (best == ng || grp[head[g]] < grp[head[best]]))
                best = g;
        if (best == ng)
            return m;
        due[m++] = grp[head[best]++];
    }
}

/* The share of a sample of User u that its nightly batch covers: by the
 * second of the day at t (clock c) for a User at the grid's cadence, by
 * overlap around the sample's middle t (clock c) for a slower one. */
static double batch_share(const tctx_t *x, const tuser_t *u, const sim_clock_t *c, int64_t t)
{
    if (u->ratio == 1) {
        int64_t d = c->sod - u->batch_from_s;
        if (d < 0)
            d += DAY_S;
        return d < u->batch_len_s ? 1 : 0;
    }
    /* c and t are the sample's middle: its interval in local time is
     * taken around that, so a sample across a clock change is placed by
     * the offset of most of it */
    int64_t at = c->sod * SW_NS_PER_S + t % SW_NS_PER_S, got = 0, half = (u->cadence - x->grid) / 2;
    int64_t lo = at - half, hi = at + (u->cadence - x->grid - half) + x->grid;
    for (int day = -1; day <= 1; day++) {
        int64_t wlo = (u->batch_from_s + day * DAY_S) * SW_NS_PER_S, whi = wlo + u->batch_len_s * SW_NS_PER_S;
        int64_t a = wlo > lo ? wlo : lo, b = whi < hi ? whi : hi;
        got += b > a ? b - a : 0;
    }
    return (double)got / (double)u->cadence;
}

/* The time factors of User u's sample at grid step t: those of the step
 * (clock c, weekday factor and weekend weight, onboarding ramp) for a User
 * at the grid's cadence, those of the middle of its interval otherwise. */
static void sample_when(const tctx_t *x, const tuser_t *u, int64_t t, const sim_clock_t *c, double weekday,
                        double weekend, double ramp, when_t *w)
{
    const sim_opts_t *o = x->o;
    w->t = t;
    int64_t mid = t;
    sim_clock_t cm = *c;
    if (u->ratio == 1) {
        double f = sim_time_factor(o, &u->we, c, weekday, weekend);
        w->factor = u->ramp ? f * ramp : f;
        if (o->timezone) /* the batch by the interval's middle: right across a clock change */
            sim_clock_at(o, t - x->grid / 2, &cm);
    } else {
        mid = t - (u->cadence - x->grid) / 2;
        sim_clock_at(o, mid, &cm);
        double f = sim_time_factor(o, &u->we, &cm, sim_weekday_factor(o, cm.sod), sim_weekend_weight(o, &cm));
        w->factor = u->ramp ? f * (1 + 2.0 * (double)(mid - o->start_ns) / (double)o->duration_ns) : f;
    }
    w->bat_s = w->bat_n = 1;
    if (u->batch_dir) {
        double share = batch_share(x, u, &cm, mid);
        if (share > 0 && u->batch_dir == 1)
            w->bat_s = blend(u->batch_mult, share);
        else if (share > 0)
            w->bat_n = blend(u->batch_mult, share);
    }
}

/* "5 s", "250 ms". */
static void put_cadence(char *b, size_t cap, int64_t ns)
{
    if (ns % SW_NS_PER_S == 0)
        snprintf(b, cap, "%lld s", (long long)(ns / SW_NS_PER_S));
    else
        snprintf(b, cap, "%lld ms", (long long)(ns / 1000000));
}

static size_t traffic_header(const sim_opts_t *o, char *buf)
{
    char lo[32], hi[32];
    int64_t max = sim_min_cadence(o);
    for (size_t k = 0; k < o->n_cadences; k++)
        max = o->cadences[k].ns > max ? o->cadences[k].ns : max;
    put_cadence(lo, sizeof lo, sim_min_cadence(o));
    put_cadence(hi, sizeof hi, max);
    if (!o->n_cadences)
        return (size_t)snprintf(buf, 256, "# dsp_traffic samples (stormwatch simulate, seed %llu): %d Users, "
                                "one sample per series every %s\n", (unsigned long long)o->seed, o->n_users, lo);
    return (size_t)snprintf(buf, 256, "# dsp_traffic samples (stormwatch simulate, seed %llu): %d Users, "
                            "one sample per series every %s to %s (each User at its own cadence)\n",
                            (unsigned long long)o->seed, o->n_users, lo, hi);
}

/* Emits the due Users' samples at grid step k (time t). */
static void write_step(out_t *w, const tctx_t *x, tuser_t *us, const size_t *due, size_t m, int64_t k,
                       const pquirk_t *q, int gap)
{
    const sim_opts_t *o = x->o;
    int64_t t = o->start_ns + k * x->grid;
    sim_clock_t c;
    sim_clock_at(o, t, &c);
    double weekday = sim_weekday_factor(o, c.sod), weekend = sim_weekend_weight(o, &c);
    double ramp = 1 + 2.0 * (double)(k * x->grid) / (double)o->duration_ns;
    qstate_t qs;
    if (q)
        q_init(&qs, q, (int64_t)m, x->lines);
    for (size_t i = 0; i < m; i++) {
        tuser_t *u = &us[due[i]];
        sample_t s;
        when_t when;
        char ts[24], *ends[MAX_LINES];
        sample_when(x, u, t, &c, weekday, weekend, ramp, &when);
        user_step(x, u, &when, &s);
        if (gap)
            continue;
        size_t tl = (size_t)(put_u64(ts, (uint64_t)(t + u->ts_off)) - ts);
        if (!q) {
            out_reserve(w, (size_t)x->lines * LINE_MAX_LEN);
            w->len = (size_t)(format_user(w->buf + w->len, x, u, &s, ts, tl, ends) - w->buf);
            continue;
        }
        char lines[MAX_LINES * LINE_MAX_LEN], *beg = lines;
        ts[tl] = '\0';
        format_user(lines, x, u, &s, ts, tl, ends);
        for (int l = 0; l < x->lines; l++) {
            q_line(w, &qs, (int64_t)x->lines * (int64_t)i + l, beg, (size_t)(ends[l] - beg), o, u->idx, ts);
            beg = ends[l];
        }
    }
    if (q && qs.dup_pending)
        out_put(w, qs.dup, qs.dup_len);
}

int sim_write_traffic(const sim_opts_t *o, const plan_t *pl, FILE *f)
{
    size_t n = (size_t)o->n_users, ne = 0, off[SIM_MAX_CADENCES];
    tctx_t x = { .o = o, .grid = pl->grid, .n_al = o->alert_codes ? o->alert_codes : 1 };
    x.lines = 2 + x.n_al;
    sim_code_shares(x.n_al, x.share);
    effect_t *ue = malloc((pl->n_eff + 1) * sizeof *ue);
    out_t w = { f, malloc(OUT_BUFSIZE), 0, SW_OK };
    size_t *due = malloc(n * sizeof *due), *grp = malloc(n * sizeof *grp);
    tuser_t *us = NULL;
    int64_t *backlogs = NULL;
    int rc = ue && w.buf && due && grp ? SW_OK : SW_ENOMEM;
    if (rc == SW_OK) {
        for (size_t i = 0; i < pl->n_eff; i++)
            if (pl->eff[i].user >= 0)
                ue[ne++] = pl->eff[i];
        qsort(ue, ne, sizeof *ue, cmp_eff);
        x.eff = ue;
        rc = traffic_users(&x, pl, ne, &us, &backlogs);
    }
    if (rc == SW_OK) {
        rng_t order_rng;
        rng_init(&order_rng, o->seed, ST_ORDER, 0);
        /* One cadence for all: every User at every step, and the shuffled
         * order goes on from the last step's, as it always did. */
        int one = pl->n_cad == 1;
        group_users(pl, us, n, grp, off);
        for (size_t i = 0; one && i < n; i++)
            due[i] = i;
        w.len = traffic_header(o, w.buf);
        size_t qi = 0;
        for (int64_t k = 1; k <= pl->n_samples && !w.err; k++) {
            size_t m = one ? n : due_users(pl, grp, off, k, due);
            while (qi < pl->n_q && pl->q[qi].k < k)
                qi++;
            if (!m)
                continue;
            const pquirk_t *q = qi < pl->n_q && pl->q[qi].k == k ? &pl->q[qi++] : NULL;
            for (size_t i = m; o->order == SIM_ORDER_SHUFFLED && i > 1; i--) { /* Fisher-Yates */
                size_t j = (size_t)rng_below(&order_rng, (int64_t)i), t = due[i - 1];
                due[i - 1] = due[j];
                due[j] = t;
            }
            write_step(&w, &x, us, due, m, k, q, sim_plan_in_gap(pl, o->start_ns + k * pl->grid));
        }
        out_flush(&w);
        rc = w.err ? w.err : ferror(f) ? SW_EIO : SW_OK;
    }
    free(ue);
    free(w.buf);
    free(due);
    free(grp);
    free(us);
    free(x.pfx);
    free(backlogs);
    return rc;
}
