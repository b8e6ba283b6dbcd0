/*
 * sim.c - the traffic simulator (see sim.h for the model and the API).
 *
 * sim_write() works in two steps. plan_build() turns the options into a
 * plan: the effects each User undergoes (with their spans in sample time),
 * the declared changes, the truth (incidents, allowed windows, decoys) and
 * the samples that carry a planted quirk. Then the documents are written
 * from the plan; the traffic writer steps every User through every sample
 * interval and formats the lines by hand into one large buffer, because it
 * must write tens of millions of lines quickly.
 *
 * Randomness comes from xoshiro256** streams seeded with splitmix64 from
 * (seed, purpose, index): one stream per User for its parameters, one per
 * User for its noise, one per incident, and one each for the bursts, the
 * no-op changes, the ramp and the quirks. Adding an incident therefore
 * leaves the lines of the Users it does not touch as they were (but see
 * sim.h: random bursts and no-op changes step aside for incidents).
 */
#include "sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "params.h"
#include "timefmt.h"

#define MIN_NS (60 * SW_NS_PER_S)
#define LINE_MAX_LEN 192       /* longest line the writer formats, with room to spare */
#define STORM_REJECT_SHARE 0.65 /* share of a south storm's extra requests the DSP rejects */
#define NORMAL_APPROX_MEAN 32.0 /* above this mean, counts are drawn from a normal approximation */
#define NB_NORMAL_MAX_PHI 0.05  /* ... when the counts are not more overdispersed than this */
#define BLAST_TAIL (10 * MIN_NS)   /* allowed window after a storm, for the impacted Users */
#define MAINT_TAIL (10 * MIN_NS)   /* allowed window after a DCC maintenance change */
#define GAP_TAIL (5 * MIN_NS)      /* allowed window after a feed gap (feed_stalled only) */
#define DECOY_CLEARANCE (15 * MIN_NS) /* bursts keep this far from their User's incidents */
#define NOOP_CLEARANCE (30 * MIN_NS)  /* no-op changes keep this far from their User's incidents */
#define N_MALFORMED_KINDS 6

/* ---- random numbers ---------------------------------------------------- */

enum { ST_USER = 1, ST_NOISE, ST_INCIDENT, ST_BURST, ST_NOOP, ST_RAMP, ST_QUIRK, ST_ID, ST_ORDER };

typedef struct {
    uint64_t s[4];
    double spare; /* the second normal of the last polar draw */
    int has_spare;
} rng_t;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static void rng_init(rng_t *r, uint64_t seed, uint64_t purpose, uint64_t index)
{
    uint64_t x = seed ^ (purpose * UINT64_C(0xD1B54A32D192ED03)) ^ (index * UINT64_C(0x8CB92BA72F3D8DD7));
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    r->has_spare = 0;
    r->spare = 0;
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in (0, 1), never 0 or 1. */
static inline double rng_u01(rng_t *r)
{
    return ((double)(rng_next(r) >> 11) + 0.5) * 0x1.0p-53;
}

/* Uniform integer in [0, n), n > 0. */
static inline int64_t rng_below(rng_t *r, int64_t n)
{
    int64_t v = (int64_t)(rng_u01(r) * (double)n);
    return v < n ? v : n - 1;
}

/* Standard normal (Marsaglia's polar method, two at a time). */
static double rng_normal(rng_t *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u, v, s;
    do {
        u = 2 * rng_u01(r) - 1;
        v = 2 * rng_u01(r) - 1;
        s = u * u + v * v;
    } while (s >= 1);
    double f = sqrt(-2 * log(s) / s);
    r->spare = v * f;
    r->has_spare = 1;
    return u * f;
}

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
    if (mu >= NORMAL_APPROX_MEAN && phi <= NB_NORMAL_MAX_PHI)
        return round_nonneg(mu + sqrt(mu + phi * mu * mu) * rng_normal(r));
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

/* ---- Users ------------------------------------------------------------- */

typedef struct {
    double rate;       /* south requests per second */
    double alert_frac; /* north alerts per request */
    double resp_ratio; /* north responses per accepted request */
    double rej_rate;   /* share of requests rejected */
    int64_t ts_off;    /* added to every sample time of the User */
    int batch_dir;     /* 0: no daily batch, 1: south, 2: north */
    int64_t batch_from_s, batch_len_s;
    double batch_mult;
} uparams_t;

static void user_params(const sim_opts_t *o, int i, uparams_t *p)
{
    rng_t r;
    rng_init(&r, o->seed, ST_USER, (uint64_t)i);
    p->rate = 0.5 * pow(1000.0, rng_u01(&r)); /* 0.5 to 500 msg/s, log-uniform */
    p->alert_frac = 0.05 + 0.20 * rng_u01(&r);
    p->resp_ratio = 0.90 + 0.10 * rng_u01(&r);
    p->rej_rate = 0.002 + 0.006 * rng_u01(&r);
    int64_t span = o->interval_ns / 1000000;
    span = span > 1000 ? 1000 : span < 1 ? 1 : span;
    p->ts_off = rng_below(&r, span) * 1000000;
    /* Always drawn, so the options do not shift the stream. */
    int has = rng_u01(&r) < 0.6, dir = rng_u01(&r) < 0.5 ? 1 : 2;
    p->batch_from_s = (22 * 3600 + 900 * rng_below(&r, 25)) % 86400; /* 22:00 to 04:00 */
    p->batch_len_s = 1800 + 60 * rng_below(&r, 71);                  /* 30 to 100 min */
    p->batch_mult = round((3 + 7 * rng_u01(&r)) * 10) / 10;           /* x3.0 to x10.0 */
    p->batch_dir = o->daily_batches && has ? dir : 0;
}

double sim_user_rate(const sim_opts_t *o, int i)
{
    uparams_t p;
    user_params(o, i, &p);
    return p.rate;
}

void sim_user_id(const sim_opts_t *o, int i, char out[SIM_ID_LEN])
{
    /* A keyed bijection of 32 bits (xor, odd multiply, xorshift and add are
     * each invertible), so distinct Users get distinct ids. */
    uint64_t k = o->seed ^ ST_ID;
    uint64_t k1 = splitmix64(&k), k2 = splitmix64(&k);
    uint32_t x = (uint32_t)i;
    for (int round_ = 0; round_ < 3; round_++) {
        x ^= (uint32_t)(k1 >> (16 * round_));
        x *= UINT32_C(0x9E3779B1);
        x ^= x >> 16;
        x += (uint32_t)(k2 >> (8 * round_));
    }
    snprintf(out, SIM_ID_LEN, "90-B3-D5-1F-%02X-%02X-%02X-%02X", (unsigned)(x >> 24),
             (unsigned)(x >> 16) & 255u, (unsigned)(x >> 8) & 255u, (unsigned)x & 255u);
}

/* ---- options ----------------------------------------------------------- */

static const char *const kind_names[SIM_KIND_COUNT_] = {
    "blocked", "degraded", "storm-north", "storm-south",
    "silence-north", "silence-south", "feed-gap", "burst",
};

/* Magnitude used when an incident gives 0. */
static const double kind_default_mag[SIM_KIND_COUNT_] = { 0, 0.2, 20, 15, 0, 0, 0, 3 };

const char *sim_kind_name(sim_kind_t k)
{
    return (unsigned)k < SIM_KIND_COUNT_ ? kind_names[k] : "?";
}

int sim_kind_parse(const char *name, sim_kind_t *k)
{
    for (int i = 0; i < SIM_KIND_COUNT_; i++) {
        if (name && strcmp(name, kind_names[i]) == 0) {
            *k = (sim_kind_t)i;
            return SW_OK;
        }
    }
    return SW_EINVAL;
}

void sim_opts_defaults(sim_opts_t *o)
{
    *o = (sim_opts_t){
        .seed = 1,
        .n_users = 12,
        .start_ns = INT64_C(1710223200) * SW_NS_PER_S, /* 2024-03-12T06:00:00Z */
        .duration_ns = 3 * 3600 * SW_NS_PER_S,
        .interval_ns = 5 * SW_NS_PER_S,
        .learn_ns = 30 * MIN_NS,
        .dispersion = 0.005,
    };
}

int64_t sim_sample_time(const sim_opts_t *o, int64_t at)
{
    int64_t k = at <= 0 ? 1 : (at + o->interval_ns - 1) / o->interval_ns;
    return o->start_ns + (k < 1 ? 1 : k) * o->interval_ns;
}

const char *sim_change_id(const sim_opts_t *o, size_t k, char out[SIM_ID_LEN])
{
    if (!o || k >= o->n_incidents)
        return NULL;
    const sim_incident_t *in = &o->incidents[k];
    if (in->declare == SIM_UNDECLARED || in->kind == SIM_FEED_GAP || in->kind == SIM_BURST)
        return NULL;
    snprintf(out, SIM_ID_LEN, "CHG-%zu", 1001 + k);
    return out;
}

#define FAIL(...) do { if (msg && msglen) snprintf(msg, msglen, __VA_ARGS__); return SW_EINVAL; } while (0)

int sim_validate(const sim_opts_t *o, char *msg, size_t msglen)
{
    if (!o)
        FAIL("no options");
    if (o->n_users < 1 || o->n_users > SIM_MAX_USERS)
        FAIL("users must be 1 to %d, not %d", SIM_MAX_USERS, o->n_users);
    if (o->interval_ns < 1000000)
        FAIL("the interval must be at least 1 ms");
    if (o->start_ns < 0 || o->start_ns > INT64_C(4) * 1000000000 * SW_NS_PER_S)
        FAIL("the start must lie between 1970 and 2096");
    if (o->duration_ns < o->interval_ns || o->duration_ns / o->interval_ns > 100000000 ||
        o->duration_ns > INT64_C(3650) * 86400 * SW_NS_PER_S)
        FAIL("the run must hold 1 to 100000000 intervals, in at most 10 years");
    if (o->learn_ns < 0 || o->learn_ns > o->duration_ns)
        FAIL("the learning time must lie within the run");
    if (!(o->daily_amplitude >= 0 && o->daily_amplitude <= 0.95))
        FAIL("the daily amplitude must be 0 to 0.95");
    if (!(o->dispersion >= 0 && o->dispersion <= 10))
        FAIL("the dispersion must be 0 to 10");
    if (o->n_bursts < 0 || o->n_noop_changes < 0 || o->n_duplicates < 0 || o->n_swaps < 0 ||
        o->n_malformed < 0 || o->n_bursts > 1000000 || o->n_noop_changes > 100000 ||
        o->n_duplicates > 10000000 || o->n_swaps > 10000000 || o->n_malformed > 10000000)
        FAIL("counts of bursts, changes and quirks must be 0 to a few million");
    if (o->n_incidents && !o->incidents)
        FAIL("n_incidents is %zu but incidents is NULL", o->n_incidents);
    if (o->n_incidents > 100000)
        FAIL("at most 100000 incidents");
    for (size_t k = 0; k < o->n_incidents; k++) {
        const sim_incident_t *in = &o->incidents[k];
        if ((unsigned)in->kind >= SIM_KIND_COUNT_)
            FAIL("incident %zu: unknown kind %d", k, (int)in->kind);
        const char *kn = kind_names[in->kind];
        if (in->kind != SIM_FEED_GAP && (in->user < 0 || in->user >= o->n_users))
            FAIL("incident %zu (%s): user %d out of range (%d Users)", k, kn, in->user, o->n_users);
        if (in->at < 0 || in->at >= o->duration_ns)
            FAIL("incident %zu (%s): it must start within the run", k, kn);
        if (in->duration <= 0 || in->duration > o->duration_ns)
            FAIL("incident %zu (%s): its duration must be positive and within the run", k, kn);
        double m = in->magnitude;
        if (!(m >= 0) || m > 1e6)
            FAIL("incident %zu (%s): bad magnitude", k, kn);
        if (m > 0 && (in->kind == SIM_STORM_NORTH || in->kind == SIM_STORM_SOUTH || in->kind == SIM_BURST) && m < 1)
            FAIL("incident %zu (%s): the magnitude is a multiplier, at least 1", k, kn);
        if ((in->kind == SIM_DEGRADED || in->kind == SIM_SILENCE_NORTH || in->kind == SIM_SILENCE_SOUTH) && m >= 1)
            FAIL("incident %zu (%s): the magnitude is the fraction left, below 1", k, kn);
        if (in->declare < SIM_UNDECLARED || in->declare > SIM_MAINTENANCE)
            FAIL("incident %zu (%s): declare must be undeclared, declared or maintenance", k, kn);
        if (in->declare_shift < -7 * 86400 * SW_NS_PER_S || in->declare_shift > 7 * 86400 * SW_NS_PER_S)
            FAIL("incident %zu (%s): the declaration shift is over a week", k, kn);
        if (in->impact && in->kind != SIM_STORM_SOUTH)
            FAIL("incident %zu (%s): impact applies to south storms only", k, kn);
    }
    return SW_OK;
}

#undef FAIL

/* ---- the plan ---------------------------------------------------------- */

enum { EF_BLOCK, EF_DEGRADE, EF_SLOW, EF_STORM_S, EF_STORM_N, EF_SIL_S, EF_SIL_N, EF_BURST, EF_GAP };

typedef struct {
    int64_t from, to; /* nominal sample times [from, to) */
    int user;         /* -1 for a feed gap */
    int type;         /* EF_* */
    double mag;
} effect_t;

enum { CK_FIREWALL, CK_MDM, CK_FIRMWARE, CK_NETWORK, CK_MAINT, CK_HEADEND };

static const struct {
    const char *kind, *title, *affects, *expected;
} change_kinds[] = {
    [CK_FIREWALL] = { "firewall", "Gateway firewall rule change", "north", "no effect on traffic" },
    [CK_MDM] = { "mdm", "Meter data system go-live", "south", "request volumes unchanged" },
    [CK_FIRMWARE] = { "firmware", "ESME firmware roll-out", "north", NULL },
    [CK_NETWORK] = { "network", "Network re-addressing at the User's site", "both", "short interruptions" },
    [CK_MAINT] = { "maintenance", "DSP planned maintenance (Forward Schedule of Change)", "both",
                   "lower throughput for all Users" },
    [CK_HEADEND] = { "headend", "Head-end software release", "both", NULL },
};

/* The change kind that fits each incident kind when declared by its User. */
static const int kind_change[SIM_KIND_COUNT_] = {
    CK_FIREWALL, CK_FIREWALL, CK_FIRMWARE, CK_MDM, CK_NETWORK, CK_NETWORK, CK_HEADEND, CK_HEADEND,
};

typedef struct {
    int num;  /* CHG-<num> */
    int user; /* -1: DCC */
    int ck;   /* CK_* */
    int64_t start, end;
} pchange_t;

typedef struct {
    size_t order;     /* incident index: ties in onset keep the input order */
    const char *alert, *dir;
    int user;         /* -1: "*" */
    int64_t onset, end;
    int cause;        /* change number, 0: null */
    size_t imp_off, n_imp; /* impacted Users in plan.pool */
} pinc_t;

typedef struct {
    size_t users_off, n_users; /* n_users 0: every User ("*") */
    int64_t from, to;
    const char *why, *kind;    /* kind: NULL or the only alert kind allowed */
    int only_change;           /* change number, 0: any */
} pallowed_t;

typedef struct {
    const char *what;
    int user;     /* -1: none */
    int64_t from; /* 0: none */
} pdecoy_t;

enum { Q_DUP, Q_SWAP, Q_MAL };

typedef struct {
    int64_t k;   /* the sample interval that carries it */
    int type;    /* Q_* */
    int sub;     /* malformed kind */
    uint64_t r;  /* random bits for the position */
} pquirk_t;

typedef struct {
    int64_t n_samples;
    effect_t *eff; size_t n_eff;
    pchange_t *chg; size_t n_chg;
    pinc_t *inc; size_t n_inc;
    pallowed_t *alw; size_t n_alw;
    pdecoy_t *dec; size_t n_dec;
    int *pool; size_t n_pool;
    pquirk_t *q; size_t n_q;
    effect_t *gap; size_t n_gap; /* the feed gaps, also in eff */
    int ramp_user; /* -1: none */
    int n_dup, n_swap, n_mal;
} plan_t;

static void plan_free(plan_t *pl)
{
    free(pl->eff);
    free(pl->chg);
    free(pl->inc);
    free(pl->alw);
    free(pl->dec);
    free(pl->pool);
    free(pl->q);
    free(pl->gap);
}

static double inc_mag(const sim_incident_t *in)
{
    return in->magnitude > 0 ? in->magnitude : kind_default_mag[in->kind];
}

static void inc_span(const sim_opts_t *o, const sim_incident_t *in, int64_t *on, int64_t *end)
{
    *on = sim_sample_time(o, in->at);
    *end = sim_sample_time(o, in->at + in->duration);
    if (*end <= *on)
        *end = *on + o->interval_ns;
}

/* Non-zero when User u has an incident (not a burst) overlapping [from - clear, to + clear). */
static int user_busy(const sim_opts_t *o, int u, int64_t from, int64_t to, int64_t clear)
{
    for (size_t k = 0; k < o->n_incidents; k++) {
        const sim_incident_t *in = &o->incidents[k];
        if (in->kind == SIM_FEED_GAP || in->kind == SIM_BURST || in->user != u)
            continue;
        int64_t on, end;
        inc_span(o, in, &on, &end);
        if (on < to + clear && end > from - clear)
            return 1;
    }
    return 0;
}

typedef struct {
    char id[SIM_ID_LEN];
    int user;
} idx_id_t;

static int cmp_idx_id(const void *a, const void *b)
{
    return strcmp(((const idx_id_t *)a)->id, ((const idx_id_t *)b)->id);
}

/* Picks about a third of the Users other than `self` into out[], sorted by
 * id, and sets *n_out. Returns 0 or SW_ENOMEM. */
static int pick_impacted(const sim_opts_t *o, rng_t *r, int self, int *out, size_t *n_out)
{
    int n = o->n_users;
    size_t m = 0, want = (size_t)((n - 1) / 3.0 + 0.5);
    if (want < 1 && n > 1)
        want = 1;
    int *all = malloc((size_t)n * sizeof *all);
    idx_id_t *ids = malloc((want + 1) * sizeof *ids);
    if (!all || !ids) {
        free(all);
        free(ids);
        return SW_ENOMEM;
    }
    for (int i = 0; i < n; i++)
        if (i != self)
            all[m++] = i;
    for (size_t j = 0; j < want; j++) { /* partial Fisher-Yates */
        size_t s = j + (size_t)rng_below(r, (int64_t)(m - j));
        int t = all[j];
        all[j] = all[s];
        all[s] = t;
        ids[j].user = all[j];
        sim_user_id(o, all[j], ids[j].id);
    }
    qsort(ids, want, sizeof *ids, cmp_idx_id);
    for (size_t j = 0; j < want; j++)
        out[j] = ids[j].user;
    *n_out = want;
    free(all);
    free(ids);
    return SW_OK;
}

static int in_gap(const plan_t *pl, int64_t t)
{
    for (size_t i = 0; i < pl->n_gap; i++)
        if (t >= pl->gap[i].from && t < pl->gap[i].to)
            return 1;
    return 0;
}

static int cmp_inc(const void *a, const void *b)
{
    const pinc_t *x = a, *y = b;
    if (x->onset != y->onset)
        return x->onset < y->onset ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int cmp_chg(const void *a, const void *b)
{
    const pchange_t *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->num - y->num;
}

static int cmp_quirk(const void *a, const void *b)
{
    const pquirk_t *x = a, *y = b;
    return x->k < y->k ? -1 : x->k > y->k;
}

static const struct {
    int ef;
    const char *alert, *dir;
} kind_truth[SIM_KIND_COUNT_] = {
    [SIM_BLOCKED] = { EF_BLOCK, "blocked_route", "north" },
    [SIM_DEGRADED] = { EF_DEGRADE, "blocked_route", "north" },
    [SIM_STORM_NORTH] = { EF_STORM_N, "storm", "north" },
    [SIM_STORM_SOUTH] = { EF_STORM_S, "storm", "south" },
    [SIM_SILENCE_NORTH] = { EF_SIL_N, "silence", "north" },
    [SIM_SILENCE_SOUTH] = { EF_SIL_S, "silence", "south" },
    [SIM_FEED_GAP] = { EF_GAP, "feed_stalled", NULL },
    [SIM_BURST] = { EF_BURST, NULL, NULL },
};

/* The declared incidents, their changes, effects and truth. */
static int plan_incidents(const sim_opts_t *o, plan_t *pl)
{
    for (size_t k = 0; k < o->n_incidents; k++) {
        const sim_incident_t *in = &o->incidents[k];
        int64_t on, end;
        inc_span(o, in, &on, &end);
        rng_t r;
        rng_init(&r, o->seed, ST_INCIDENT, k);
        double u_margin = rng_u01(&r);
        int user = in->kind == SIM_FEED_GAP ? -1 : in->user;
        pl->eff[pl->n_eff++] = (effect_t){ on, end, user, kind_truth[in->kind].ef, inc_mag(in) };
        if (in->kind == SIM_BURST) {
            pl->dec[pl->n_dec++] = (pdecoy_t){ "short burst", user, on };
            continue;
        }
        if (in->kind == SIM_FEED_GAP) {
            pl->gap[pl->n_gap++] = pl->eff[pl->n_eff - 1];
            pl->alw[pl->n_alw++] = (pallowed_t){ 0, 0, on, end + GAP_TAIL, "recovery after the feed gap",
                                                 "feed_stalled", 0 };
        }
        const pchange_t *c = NULL;
        if (in->declare != SIM_UNDECLARED && in->kind != SIM_FEED_GAP) {
            int maint = in->declare == SIM_MAINTENANCE;
            int64_t start = on + in->declare_shift;
            int64_t margin = maint ? (5 + (int64_t)(u_margin * 10)) * MIN_NS
                                   : (15 + (int64_t)(u_margin * 105)) * MIN_NS;
            pchange_t *nc = &pl->chg[pl->n_chg++];
            *nc = (pchange_t){ (int)(1001 + k), maint ? -1 : user, maint ? CK_MAINT : kind_change[in->kind],
                               start, (on > start ? on : start) + (end - on) + margin };
            c = nc;
        }
        size_t imp_off = pl->n_pool, n_imp = 0;
        if (in->impact && o->n_users > 1) {
            int rc = pick_impacted(o, &r, user, pl->pool + imp_off, &n_imp);
            if (rc)
                return rc;
            pl->n_pool += n_imp;
            for (size_t j = 0; j < n_imp; j++)
                pl->eff[pl->n_eff++] = (effect_t){ on, end, pl->pool[imp_off + j], EF_SLOW, 0 };
            pl->alw[pl->n_alw++] = (pallowed_t){ imp_off, n_imp, on, end + BLAST_TAIL,
                                                 "blast radius of the southbound storm", NULL, 0 };
        }
        if (c && c->user < 0) { /* DCC maintenance: allowed, not an incident to detect */
            pl->alw[pl->n_alw++] = (pallowed_t){ 0, 0, c->start, c->end + MAINT_TAIL, "DCC maintenance",
                                                 NULL, c->num };
            continue;
        }
        pl->inc[pl->n_inc++] = (pinc_t){ k, kind_truth[in->kind].alert, kind_truth[in->kind].dir, user,
                                         on, end, c ? c->num : 0, imp_off, n_imp };
    }
    return SW_OK;
}

/* Bursts, the onboarding ramp and the no-op changes. */
static void plan_decoys(const sim_opts_t *o, plan_t *pl)
{
    rng_t r;
    int n = o->n_users;
    int64_t learn_end = o->start_ns + o->learn_ns;
    rng_init(&r, o->seed, ST_BURST, 0);
    for (int j = 0; j < o->n_bursts; j++) {
        for (int attempt = 0; attempt < 10; attempt++) {
            int u = (int)rng_below(&r, n);
            int64_t len = (1 + rng_below(&r, 3)) * o->interval_ns;
            int64_t span = o->duration_ns - o->learn_ns - len;
            int64_t on = sim_sample_time(o, o->learn_ns + (int64_t)(rng_u01(&r) * (double)(span > 0 ? span : 0)));
            if (user_busy(o, u, on, on + len, DECOY_CLEARANCE))
                continue;
            pl->eff[pl->n_eff++] = (effect_t){ on, on + len, u, EF_BURST, kind_default_mag[SIM_BURST] };
            pl->dec[pl->n_dec++] = (pdecoy_t){ "short burst", u, on };
            break;
        }
    }
    if (o->onboarding) {
        rng_init(&r, o->seed, ST_RAMP, 0);
        int u = 0;
        for (int attempt = 0; attempt < 32; attempt++) {
            u = (int)rng_below(&r, n);
            if (!user_busy(o, u, o->start_ns, o->start_ns + o->duration_ns, 0))
                break;
        }
        pl->ramp_user = u;
        pl->dec[pl->n_dec++] = (pdecoy_t){ "onboarding ramp to x3", u, 0 };
    }
    /* The earliest undeclared incident draws a change by another User. */
    const pinc_t *lure = NULL;
    for (size_t i = 0; i < pl->n_inc; i++)
        if (pl->inc[i].cause == 0 && pl->inc[i].user >= 0 && (!lure || pl->inc[i].onset < lure->onset))
            lure = &pl->inc[i];
    rng_init(&r, o->seed, ST_NOOP, 0);
    for (int j = 0; j < o->n_noop_changes; j++) {
        int64_t len = (20 + rng_below(&r, 41)) * MIN_NS, st = 0;
        int u = -1;
        if (j == 0 && lure && n >= 2) {
            st = lure->onset - 5 * MIN_NS;
            for (int attempt = 0; attempt < 32 && u < 0; attempt++) {
                int c = (int)rng_below(&r, n);
                if (c != lure->user && !user_busy(o, c, st, st + len, NOOP_CLEARANCE))
                    u = c;
            }
        }
        for (int attempt = 0; attempt < 32 && u < 0; attempt++) {
            int c = (int)rng_below(&r, n);
            int64_t span = o->duration_ns - o->learn_ns - len;
            st = learn_end + (int64_t)(rng_u01(&r) * (double)(span > 0 ? span : 0));
            st -= st % SW_NS_PER_S;
            if (!user_busy(o, c, st, st + len, NOOP_CLEARANCE))
                u = c;
        }
        if (u < 0)
            continue;
        pl->chg[pl->n_chg++] = (pchange_t){ (int)(1001 + o->n_incidents + (size_t)j), u, CK_HEADEND, st, st + len };
        pl->dec[pl->n_dec++] = (pdecoy_t){ "declared change with no effect", u, st };
    }
}

/* Which sample intervals carry a quirk: at most one each, none in a feed gap. */
static int plan_quirks(const sim_opts_t *o, plan_t *pl)
{
    unsigned char *used = calloc((size_t)pl->n_samples + 1, 1);
    if (!used)
        return SW_ENOMEM;
    rng_t r;
    rng_init(&r, o->seed, ST_QUIRK, 0);
    int want[3] = { o->n_duplicates, o->n_users >= 2 ? o->n_swaps : 0, o->n_malformed };
    int *got[3] = { &pl->n_dup, &pl->n_swap, &pl->n_mal };
    for (int type = 0; type < 3; type++) {
        for (int j = 0; j < want[type]; j++) {
            for (int attempt = 0; attempt < 32; attempt++) {
                int64_t k = 1 + rng_below(&r, pl->n_samples);
                if (used[k] || in_gap(pl, o->start_ns + k * o->interval_ns))
                    continue;
                used[k] = 1;
                pl->q[pl->n_q++] = (pquirk_t){ k, type, *got[type] % N_MALFORMED_KINDS, rng_next(&r) };
                (*got[type])++;
                break;
            }
        }
    }
    free(used);
    qsort(pl->q, pl->n_q, sizeof *pl->q, cmp_quirk);
    return SW_OK;
}

/* Builds the plan for validated options. On error the plan is freed. */
static int plan_build(const sim_opts_t *o, plan_t *pl)
{
    memset(pl, 0, sizeof *pl);
    pl->ramp_user = -1;
    pl->n_samples = o->duration_ns / o->interval_ns;
    size_t ni = o->n_incidents, nu = (size_t)o->n_users, n_impact = 0;
    for (size_t k = 0; k < ni; k++)
        n_impact += o->incidents[k].impact != 0;
    pl->eff = calloc(ni + n_impact * nu + (size_t)o->n_bursts + 1, sizeof *pl->eff);
    pl->chg = calloc(ni + (size_t)o->n_noop_changes + 1, sizeof *pl->chg);
    pl->inc = calloc(ni + 1, sizeof *pl->inc);
    pl->alw = calloc(3 * ni + 1, sizeof *pl->alw);
    pl->dec = calloc(ni + (size_t)o->n_bursts + (size_t)o->n_noop_changes + 2, sizeof *pl->dec);
    pl->pool = calloc(n_impact * nu + 1, sizeof *pl->pool);
    pl->q = calloc((size_t)o->n_duplicates + (size_t)o->n_swaps + (size_t)o->n_malformed + 1, sizeof *pl->q);
    pl->gap = calloc(ni + 1, sizeof *pl->gap);
    int rc = SW_ENOMEM;
    if (pl->eff && pl->chg && pl->inc && pl->alw && pl->dec && pl->pool && pl->q && pl->gap &&
        (rc = plan_incidents(o, pl)) == SW_OK) {
        plan_decoys(o, pl);
        rc = plan_quirks(o, pl);
    }
    if (rc) {
        plan_free(pl);
        return rc;
    }
    qsort(pl->inc, pl->n_inc, sizeof *pl->inc, cmp_inc);
    qsort(pl->chg, pl->n_chg, sizeof *pl->chg, cmp_chg);
    return SW_OK;
}

/* ---- the change register and the truth ---------------------------------- */

static void put_time(FILE *f, int64_t ns)
{
    char b[TF_BUFLEN];
    tf_format(ns, b);
    fputs(b, f);
}

static void put_user(FILE *f, const sim_opts_t *o, int u)
{
    char id[SIM_ID_LEN];
    if (u < 0) {
        fputs("\"*\"", f);
        return;
    }
    sim_user_id(o, u, id);
    fprintf(f, "\"%s\"", id);
}

static void put_users(FILE *f, const sim_opts_t *o, const int *users, size_t n)
{
    fputc('[', f);
    if (!n)
        put_user(f, o, -1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputs(", ", f);
        put_user(f, o, users[i]);
    }
    fputc(']', f);
}

static int write_changes(const sim_opts_t *o, const plan_t *pl, FILE *f)
{
    fprintf(f, "# Declared changes (stormwatch simulate, seed %llu): User-led changes and DCC Planned Maintenance\n",
            (unsigned long long)o->seed);
    fputs(pl->n_chg ? "changes:\n" : "changes: []\n", f);
    for (size_t i = 0; i < pl->n_chg; i++) {
        const pchange_t *c = &pl->chg[i];
        char id[SIM_ID_LEN] = "DCC";
        if (c->user >= 0)
            sim_user_id(o, c->user, id);
        fprintf(f, "  - id: CHG-%d\n    user: %s\n    title: \"%s\"\n    kind: %s\n    start: ", c->num, id,
                change_kinds[c->ck].title, change_kinds[c->ck].kind);
        put_time(f, c->start);
        fputs("\n    end: ", f);
        put_time(f, c->end);
        fprintf(f, "\n    affects: [%s]\n", change_kinds[c->ck].affects);
        if (change_kinds[c->ck].expected)
            fprintf(f, "    expected: \"%s\"\n", change_kinds[c->ck].expected);
        fputs("    contact: change-desk@example.org\n", f);
    }
    return ferror(f) ? SW_EIO : SW_OK;
}

static int write_truth(const sim_opts_t *o, const plan_t *pl, FILE *f)
{
    fputs("{\n \"start\": \"", f);
    put_time(f, o->start_ns);
    if (o->interval_ns % SW_NS_PER_S == 0)
        fprintf(f, "\",\n \"interval_s\": %lld,\n \"eval_from\": \"", (long long)(o->interval_ns / SW_NS_PER_S));
    else
        fprintf(f, "\",\n \"interval_s\": %.3f,\n \"eval_from\": \"", (double)o->interval_ns / 1e9);
    put_time(f, o->start_ns + o->learn_ns);
    fprintf(f, "\",\n \"seed\": %llu,\n \"users\": %d,\n \"incidents\": [", (unsigned long long)o->seed,
            o->n_users);
    for (size_t i = 0; i < pl->n_inc; i++) {
        const pinc_t *in = &pl->inc[i];
        fprintf(f, "%s\n  {\"id\": \"I%zu\", \"alert\": \"%s\", \"user\": ", i ? "," : "", i + 1, in->alert);
        put_user(f, o, in->user);
        if (in->dir)
            fprintf(f, ", \"dir\": \"%s\", \"onset\": \"", in->dir);
        else
            fputs(", \"dir\": null, \"onset\": \"", f);
        put_time(f, in->onset);
        fputs("\", \"end\": \"", f);
        put_time(f, in->end);
        if (in->cause)
            fprintf(f, "\", \"cause\": \"CHG-%d\"", in->cause);
        else
            fputs("\", \"cause\": null", f);
        if (in->n_imp) {
            fputs(", \"impacted_users\": ", f);
            put_users(f, o, pl->pool + in->imp_off, in->n_imp);
        }
        fputc('}', f);
    }
    fputs(pl->n_inc ? "\n ],\n \"allowed\": [" : "],\n \"allowed\": [", f);
    for (size_t i = 0; i < pl->n_alw; i++) {
        const pallowed_t *a = &pl->alw[i];
        fprintf(f, "%s\n  {\"users\": ", i ? "," : "");
        put_users(f, o, pl->pool + a->users_off, a->n_users);
        fputs(", \"from\": \"", f);
        put_time(f, a->from);
        fputs("\", \"to\": \"", f);
        put_time(f, a->to);
        fprintf(f, "\", \"why\": \"%s\"", a->why);
        if (a->only_change)
            fprintf(f, ", \"only_if_change\": \"CHG-%d\"", a->only_change);
        if (a->kind)
            fprintf(f, ", \"kinds\": [\"%s\"]", a->kind);
        fputc('}', f);
    }
    fputs(pl->n_alw ? "\n ],\n \"decoys\": [" : "],\n \"decoys\": [", f);
    size_t nd = 0;
    for (size_t i = 0; i < pl->n_dec; i++, nd++) {
        const pdecoy_t *d = &pl->dec[i];
        fprintf(f, "%s\n  {\"what\": \"%s\", \"user\": ", nd ? "," : "", d->what);
        put_user(f, o, d->user);
        if (d->from) {
            fputs(", \"from\": \"", f);
            put_time(f, d->from);
            fputc('"', f);
        }
        fputc('}', f);
    }
    for (int u = 0; o->daily_batches && u < o->n_users; u++) {
        uparams_t p;
        user_params(o, u, &p);
        if (!p.batch_dir)
            continue;
        fprintf(f, "%s\n  {\"what\": \"daily scheduled-read batch x%.1f %s\", \"user\": ", nd++ ? "," : "",
                p.batch_mult, p.batch_dir == 1 ? "south" : "north");
        put_user(f, o, u);
        fprintf(f, ", \"from_s_of_day\": %lld, \"length_s\": %lld}", (long long)p.batch_from_s,
                (long long)p.batch_len_s);
    }
    fprintf(f, "%s],\n \"quirks\": {\"duplicated\": %d, \"swapped\": %d, \"malformed\": %d}\n}\n",
            nd ? "\n " : "", pl->n_dup, pl->n_swap, pl->n_mal);
    return ferror(f) ? SW_EIO : SW_OK;
}

/* ---- the traffic ------------------------------------------------------- */

#define OUT_BUFSIZE (1u << 20)

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

/* One User's generator state, in emission order. */
typedef struct {
    rng_t rng;
    double req_mu;     /* expected requests per sample, before the time factors */
    double alert_frac, resp_ratio, rej_rate;
    int64_t ts_off;
    int64_t backlog[2]; /* responses, alerts */
    int batch_dir;
    int64_t batch_from_s, batch_len_s;
    double batch_mult;
    size_t eff_lo, eff_hi; /* the User's effects in the sorted effect array */
    size_t pfx_off;        /* the User's three line prefixes in the prefix pool */
    uint8_t pfx_len[3];
    int idx, ramp;
    char id[SIM_ID_LEN];   /* for SIM_ORDER_ID */
} tuser_t;

typedef struct {
    int64_t req, rej, resp, resp_dl, resp_bl, al, al_dl, al_bl;
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

#define SIM_SLOW_HELD 4.0 /* messages held back per interval while slowed (x1-2) */

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

/* Draws User u's sample at nominal time t; common = daily (and ramp) factor. */
static void user_step(tuser_t *u, const effect_t *eff, int64_t t, int64_t sod, double common, double phi,
                      sample_t *s)
{
    double bat_s = 1, bat_n = 1, burst = 1, storm_s = 1, storm_n = 1, sil_s = 1, sil_n = 1, cap = 1;
    int slow = 0;
    if (u->batch_dir) {
        int64_t d = sod - u->batch_from_s;
        if (d < 0)
            d += 86400;
        if (d < u->batch_len_s) {
            if (u->batch_dir == 1)
                bat_s = u->batch_mult;
            else
                bat_n = u->batch_mult;
        }
    }
    for (size_t i = u->eff_lo; i < u->eff_hi; i++) {
        const effect_t *e = &eff[i];
        if (t < e->from || t >= e->to)
            continue;
        switch (e->type) {
        case EF_BLOCK: cap = 0; break;
        case EF_DEGRADE: cap = e->mag < cap ? e->mag : cap; break;
        case EF_SLOW: slow = 1; break;
        case EF_STORM_S: storm_s *= e->mag; break;
        case EF_STORM_N: storm_n *= e->mag; break;
        case EF_SIL_S: sil_s = e->mag < sil_s ? e->mag : sil_s; break;
        case EF_SIL_N: sil_n = e->mag < sil_n ? e->mag : sil_n; break;
        case EF_BURST: burst *= e->mag; break;
        default: break;
        }
    }
    double mu = u->req_mu * common * bat_s * burst;
    int64_t req = rng_nb(&u->rng, mu, phi);
    int64_t rej = rng_binom(&u->rng, req, u->rej_rate);
    if (sil_s < 1) {
        req = rng_binom(&u->rng, req, sil_s);
        rej = rej < req ? rej : req;
    }
    int64_t acc = req - rej;
    if (storm_s > 1) { /* the flood is extra requests, mostly rejected, answered by nothing */
        int64_t x = rng_nb(&u->rng, mu * (storm_s - 1), phi);
        req += x;
        rej += rng_binom(&u->rng, x, STORM_REJECT_SHARE);
    }
    double mu_resp = u->resp_ratio * (double)acc * bat_n;
    double mu_al = u->alert_frac * u->req_mu * common * bat_n * storm_n;
    int64_t resp = rng_poisson(&u->rng, mu_resp);
    int64_t al = rng_nb(&u->rng, mu_al, phi);
    if (sil_n < 1) {
        resp = rng_binom(&u->rng, resp, sil_n);
        al = rng_binom(&u->rng, al, sil_n);
    }
    double slow_frac = slow ? 0.8 + 0.1 * rng_u01(&u->rng) : 1.0;
    s->req = req;
    s->rej = rej;
    s->resp = resp;
    s->al = al;
    deliver(u, 0, resp, mu_resp, cap, slow_frac, &s->resp_dl, &s->resp_bl);
    deliver(u, 1, al, mu_al, cap, slow_frac, &s->al_dl, &s->al_bl);
}

/* Formats the User's three lines at p; ends[c] is set past line c. */
static char *format_user(char *p, const char *pfx, const tuser_t *u, const sample_t *s, const char *ts, size_t tl,
                         char *ends[3])
{
    const char *pf = pfx + u->pfx_off;
    p = put_lit(p, pf, u->pfx_len[0]);
    pf += u->pfx_len[0];
    p = put_u64(p, (uint64_t)s->req);
    PUT_LIT(p, "i,rejected=");
    p = put_u64(p, (uint64_t)s->rej);
    PUT_LIT(p, "i ");
    p = put_lit(p, ts, tl);
    *p++ = '\n';
    ends[0] = p;
    p = put_lit(p, pf, u->pfx_len[1]);
    pf += u->pfx_len[1];
    p = put_u64(p, (uint64_t)s->resp);
    PUT_LIT(p, "i,delivered=");
    p = put_u64(p, (uint64_t)s->resp_dl);
    PUT_LIT(p, "i,backlog=");
    p = put_u64(p, (uint64_t)s->resp_bl);
    PUT_LIT(p, "i ");
    p = put_lit(p, ts, tl);
    *p++ = '\n';
    ends[1] = p;
    p = put_lit(p, pf, u->pfx_len[2]);
    p = put_u64(p, (uint64_t)s->al);
    PUT_LIT(p, "i,delivered=");
    p = put_u64(p, (uint64_t)s->al_dl);
    PUT_LIT(p, "i,backlog=");
    p = put_u64(p, (uint64_t)s->al_bl);
    PUT_LIT(p, "i ");
    p = put_lit(p, ts, tl);
    *p++ = '\n';
    ends[2] = p;
    return p;
}

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

/* Where the quirk of one interval goes, as line indices in that interval. */
typedef struct {
    int64_t dup_src, dup_at, swap_a, mal_at;
    int mal_sub, dup_pending;
    size_t hold_len, dup_len;
    char hold[LINE_MAX_LEN], dup[LINE_MAX_LEN];
} qstate_t;

static void q_init(qstate_t *qs, const pquirk_t *q, int64_t n_users)
{
    qs->dup_src = qs->dup_at = qs->swap_a = qs->mal_at = -2;
    qs->dup_pending = 0;
    qs->mal_sub = q->sub;
    uint64_t r = q->r;
    if (q->type == Q_DUP) {
        qs->dup_src = 3 * (int64_t)(r % (uint64_t)n_users) + (int64_t)((r >> 20) % 3);
        qs->dup_at = qs->dup_src + (int64_t)((r >> 40) % 6);
    } else if (q->type == Q_SWAP) {
        qs->swap_a = 3 * (int64_t)(r % (uint64_t)(n_users - 1)) + 2;
    } else {
        qs->mal_at = (int64_t)(r % (uint64_t)(3 * n_users));
    }
}

/* Emits line j of the interval, applying the interval's quirk. */
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

/* Sets up the Users' generators in emission order; the caller frees *us and *pfx. */
static int traffic_users(const sim_opts_t *o, const plan_t *pl, effect_t *ue, size_t ne, tuser_t **us_out,
                         char **pfx_out)
{
    static const char *const cls[3] = {
        ",dir=south,class=request count=", ",dir=north,class=response count=", ",dir=north,class=alert count=",
    };
    size_t n = (size_t)o->n_users, po = 0, e = 0;
    tuser_t *us = calloc(n, sizeof *us);
    char *pfx = malloc(n * 3 * 96);
    if (!us || !pfx) {
        free(us);
        free(pfx);
        return SW_ENOMEM;
    }
    double interval_s = (double)o->interval_ns / 1e9;
    for (size_t i = 0; i < n; i++) {
        uparams_t p;
        tuser_t *u = &us[i];
        char id[SIM_ID_LEN];
        user_params(o, (int)i, &p);
        rng_init(&u->rng, o->seed, ST_NOISE, i);
        u->req_mu = p.rate * interval_s;
        u->alert_frac = p.alert_frac;
        u->resp_ratio = p.resp_ratio;
        u->rej_rate = p.rej_rate;
        u->ts_off = o->order == SIM_ORDER_OFFSET ? p.ts_off : 0;
        u->batch_dir = p.batch_dir;
        u->batch_from_s = p.batch_from_s;
        u->batch_len_s = p.batch_len_s;
        u->batch_mult = p.batch_mult;
        u->idx = (int)i;
        u->ramp = (int)i == pl->ramp_user;
        sim_user_id(o, (int)i, id);
        memcpy(u->id, id, sizeof(u->id));
        u->pfx_off = po;
        for (int c = 0; c < 3; c++) {
            int len = snprintf(pfx + po, 96, "dsp_traffic,user=%s%s", id, cls[c]);
            u->pfx_len[c] = (uint8_t)len;
            po += (size_t)len;
        }
        while (e < ne && ue[e].user < (int)i)
            e++;
        u->eff_lo = e;
        while (e < ne && ue[e].user == (int)i)
            e++;
        u->eff_hi = e;
    }
    qsort(us, n, sizeof *us, o->order == SIM_ORDER_ID ? cmp_tuser_id : cmp_tuser);
    *us_out = us;
    *pfx_out = pfx;
    return SW_OK;
}

static int write_traffic(const sim_opts_t *o, const plan_t *pl, FILE *f)
{
    size_t n = (size_t)o->n_users, ne = 0;
    effect_t *ue = malloc((pl->n_eff + 1) * sizeof *ue);
    out_t w = { f, malloc(OUT_BUFSIZE), 0, SW_OK };
    size_t *perm = o->order == SIM_ORDER_SHUFFLED ? malloc(n * sizeof *perm) : NULL;
    rng_t order_rng;
    rng_init(&order_rng, o->seed, ST_ORDER, 0);
    tuser_t *us = NULL;
    char *pfx = NULL;
    int rc = ue && w.buf && (perm || o->order != SIM_ORDER_SHUFFLED) ? SW_OK : SW_ENOMEM;
    if (rc == SW_OK) {
        for (size_t i = 0; i < pl->n_eff; i++)
            if (pl->eff[i].user >= 0)
                ue[ne++] = pl->eff[i];
        qsort(ue, ne, sizeof *ue, cmp_eff);
        rc = traffic_users(o, pl, ue, ne, &us, &pfx);
    }
    if (rc) {
        free(ue);
        free(w.buf);
        free(perm);
        return rc;
    }
    for (size_t i = 0; perm && i < n; i++)
        perm[i] = i;
    char iv[TF_BUFLEN];
    if (o->interval_ns % SW_NS_PER_S == 0)
        snprintf(iv, sizeof iv, "%lld s", (long long)(o->interval_ns / SW_NS_PER_S));
    else
        snprintf(iv, sizeof iv, "%lld ms", (long long)(o->interval_ns / 1000000));
    w.len = (size_t)snprintf(w.buf, 256, "# dsp_traffic samples (stormwatch simulate, seed %llu): %d Users, "
                             "one sample per series every %s\n", (unsigned long long)o->seed, o->n_users, iv);
    size_t qi = 0;
    for (int64_t k = 1; k <= pl->n_samples && !w.err; k++) {
        int64_t t = o->start_ns + k * o->interval_ns, sec = t / SW_NS_PER_S;
        int64_t sod = sec % 86400;
        double common = 1 + o->daily_amplitude * sin(2 * M_PI * (double)(sod - 9 * 3600) / 86400.0);
        double ramp = 1 + 2.0 * (double)(k * o->interval_ns) / (double)o->duration_ns;
        int gap = in_gap(pl, t);
        const pquirk_t *q = qi < pl->n_q && pl->q[qi].k == k ? &pl->q[qi++] : NULL;
        qstate_t qs;
        if (q)
            q_init(&qs, q, (int64_t)n);
        for (size_t i = n; perm && i > 1; i--) { /* Fisher-Yates: a new order each round */
            size_t j = (size_t)rng_below(&order_rng, (int64_t)i), x = perm[i - 1];
            perm[i - 1] = perm[j];
            perm[j] = x;
        }
        for (size_t i = 0; i < n; i++) {
            tuser_t *u = &us[perm ? perm[i] : i];
            sample_t s;
            char ts[24], *ends[3];
            user_step(u, ue, t, sod, u->ramp ? common * ramp : common, o->dispersion, &s);
            if (gap)
                continue;
            size_t tl = (size_t)(put_u64(ts, (uint64_t)(t + u->ts_off)) - ts);
            if (!q) {
                out_reserve(&w, 3 * LINE_MAX_LEN);
                w.len = (size_t)(format_user(w.buf + w.len, pfx, u, &s, ts, tl, ends) - w.buf);
                continue;
            }
            char lines[3 * LINE_MAX_LEN], *beg = lines;
            ts[tl] = '\0';
            format_user(lines, pfx, u, &s, ts, tl, ends);
            for (int c = 0; c < 3; c++) {
                q_line(&w, &qs, 3 * (int64_t)i + c, beg, (size_t)(ends[c] - beg), o, u->idx, ts);
                beg = ends[c];
            }
        }
        if (q && qs.dup_pending)
            out_put(&w, qs.dup, qs.dup_len);
    }
    out_flush(&w);
    free(ue);
    free(w.buf);
    free(perm);
    free(us);
    free(pfx);
    return w.err ? w.err : ferror(f) ? SW_EIO : SW_OK;
}

/* ---- entry point ------------------------------------------------------- */

int sim_write(const sim_opts_t *o, FILE *traffic, FILE *changes, FILE *truth)
{
    if (sim_validate(o, NULL, 0))
        return SW_EINVAL;
    plan_t pl;
    int rc = plan_build(o, &pl);
    if (rc)
        return rc;
    if (changes)
        rc = write_changes(o, &pl, changes);
    if (!rc && truth)
        rc = write_truth(o, &pl, truth);
    if (!rc && traffic)
        rc = write_traffic(o, &pl, traffic);
    plan_free(&pl);
    return rc;
}
