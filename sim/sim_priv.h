/*
 * sim_priv.h - what the simulator's files share, and nobody else: the
 * random streams, a User's drawn parameters, the clock, and the plan.
 *
 * sim.c holds the options and the Users, sim_plan.c turns the options into
 * a plan and writes the change register and the truth from it,
 * sim_traffic.c writes the traffic from it. Only sim/sim*.c include this.
 *
 * Randomness comes from xoshiro256** streams seeded with splitmix64 from
 * (seed, purpose, index): one stream per User for its parameters, one per
 * User for its shape (cadence, weekend), one per User for its alert codes,
 * one per User for its noise, one per incident, and one each for the short
 * and the long bursts, the no-op changes, the ramp, the quirks and the
 * shuffled order. A new purpose takes a new number, so the draws of the
 * older ones (and the bytes they make) stay as they were.
 */
#ifndef SW_SIM_PRIV_H
#define SW_SIM_PRIV_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "params.h"
#include "sim.h"

#define MIN_NS (60 * SW_NS_PER_S)
#define DAY_S 86400
#define BURST_MAGNITUDE 3.0      /* SIM_BURST's default, and the random bursts' */
#define SIM_MAX_CLOCK_CHANGES 64 /* the truth lists at most this many (DST changes) */

/* ---- random numbers ---------------------------------------------------- */

enum {
    ST_USER = 1, ST_NOISE, ST_INCIDENT, ST_BURST, ST_NOOP, ST_RAMP, ST_QUIRK, ST_ID, ST_ORDER,
    ST_SHAPE, ST_CODE, ST_LONG_BURST,
};

#define NORMAL_APPROX_MEAN 32.0 /* above this mean, counts are drawn from a normal approximation */
#define NB_NORMAL_MIN_SDS 7.0   /* ... when zero is this many standard deviations below it: a
                                   clipped normal would draw impossible zeros (a silence) */

typedef struct {
    uint64_t s[4];
    double spare; /* the second normal of the last polar draw */
    int has_spare;
} rng_t;

static inline uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static inline void rng_init(rng_t *r, uint64_t seed, uint64_t purpose, uint64_t index)
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
static inline double rng_normal(rng_t *r)
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

/* ---- Users ------------------------------------------------------------- */

/* A User's weekend (weekly): its volume and daily amplitude as shares of
 * the weekday's, and how much later its daily peak comes. */
typedef struct {
    double volume, amp;
    int64_t later_s;
} sim_weekend_t;

typedef struct {
    double rate;       /* south requests per second */
    double alert_frac; /* north alerts per request */
    double resp_ratio; /* north responses per accepted request */
    double rej_rate;   /* share of requests rejected */
    int64_t ts_off;    /* added to every sample time of the User */
    int batch_dir;     /* 0: no daily batch, 1: south, 2: north */
    int64_t batch_from_s, batch_len_s;
    double batch_mult;
    int64_t cadence;   /* ns */
    sim_weekend_t we;
} uparams_t;

/* Draws User i's parameters (a function of the options that shape Users
 * and of i only). */
void sim_user_params(const sim_opts_t *o, int i, uparams_t *p);

/* The grid: interval_ns, or the greatest common divisor of the cadences. */
int64_t sim_grid_ns(const sim_opts_t *o);

/* The smallest cadence (interval_ns without cadences). */
int64_t sim_min_cadence(const sim_opts_t *o);

/* The shares of n alert codes (see sim_alert_code()), written to share[0..n). */
void sim_code_shares(int n, double share[SIM_MAX_ALERT_CODES]);

/* An incident's magnitude, or its kind's default when it gives 0. */
double sim_inc_magnitude(const sim_incident_t *in);

/* The 16-bit numbers of User i's n alert codes (class alert_%04X). */
void sim_code_ids(const sim_opts_t *o, int i, int n, unsigned ids[SIM_MAX_ALERT_CODES]);

/* ---- the clock --------------------------------------------------------- */

/* The local (or UTC) second of the day and day of the week at a time. */
typedef struct {
    int64_t sod; /* 0..86399 (86400 and more never; a repeated hour repeats) */
    int wday;    /* 0 = Sunday */
} sim_clock_t;

/* The clock at t ns (UTC, or local time when o->timezone is set). */
void sim_clock_at(const sim_opts_t *o, int64_t t, sim_clock_t *c);

/* The UTC offset in seconds at t ns (0 without a timezone). */
long sim_utc_offset(const sim_opts_t *o, int64_t t);

/* The weekday daily factor at second of day sod (1 + A sin, low at 03:00). */
double sim_weekday_factor(const sim_opts_t *o, int64_t sod);

/* How far the weekend rhythm applies at clock c: 0 on weekdays, 1 on the
 * weekend, in between over the first 2 h of Saturday and of Monday. */
double sim_weekend_weight(const sim_opts_t *o, const sim_clock_t *c);

/* The daily and weekly factor of a User of weekend `we` at clock c, given
 * the weekday factor and the weekend weight there (computed once for all
 * the Users of a grid step). */
double sim_time_factor(const sim_opts_t *o, const sim_weekend_t *we, const sim_clock_t *c, double weekday,
                       double weight);

/* ---- the plan ---------------------------------------------------------- */

enum {
    EF_BLOCK, EF_DEGRADE, EF_SLOW, EF_STORM_S, EF_STORM_N, EF_SIL_S, EF_SIL_N, EF_BURST, EF_GAP,
    EF_RAMP_S, EF_RAMP_N, EF_STORM_CODE, EF_SHIFT_S, EF_SHIFT_N,
};

typedef struct {
    int64_t from, to; /* grid times [from, to) */
    int user;         /* -1 for a feed gap */
    int type;         /* EF_* */
    double mag;
    int64_t rise;     /* EF_RAMP_*: ns to reach mag */
    int sub;          /* EF_RAMP_*: 1 = exponential; EF_STORM_CODE: the code's index */
} effect_t;

typedef struct {
    int num;  /* CHG-<num> */
    int user; /* -1: DCC */
    int ck;   /* CK_* (sim_plan.c) */
    int64_t start, end;
} pchange_t;

typedef struct {
    size_t order;     /* incident index: ties in onset keep the input order */
    const char *alert, *dir;
    int user;         /* -1: "*" */
    int64_t onset, end;
    int cause;        /* change number, 0: null */
    size_t imp_off, n_imp; /* impacted Users in plan.pool */
    int code;         /* the alert code of a code storm, -1: none */
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
    int64_t len;  /* 0: not said; else the length, said as "of N s" */
} pdecoy_t;

enum { Q_DUP, Q_SWAP, Q_MAL };

typedef struct {
    int64_t k;   /* the grid step that carries it */
    int type;    /* Q_* */
    int sub;     /* malformed kind */
    uint64_t r;  /* random bits for the position */
} pquirk_t;

/* The Users of one cadence: cadence = ratio x grid. */
typedef struct {
    int64_t ratio;
    size_t n;
} pcad_t;

typedef struct {
    int64_t grid;      /* ns between grid steps */
    int64_t n_samples; /* grid steps in the run */
    effect_t *eff; size_t n_eff;
    pchange_t *chg; size_t n_chg;
    pinc_t *inc; size_t n_inc;
    pallowed_t *alw; size_t n_alw;
    pdecoy_t *dec; size_t n_dec;
    int *pool; size_t n_pool;
    pquirk_t *q; size_t n_q;
    effect_t *gap; size_t n_gap; /* the feed gaps, also in eff */
    pcad_t cad[SIM_MAX_CADENCES]; size_t n_cad; /* the cadences, as multiples of the grid */
    int64_t clk[SIM_MAX_CLOCK_CHANGES]; size_t n_clk; /* local clock changes (UTC ns) */
    int ramp_user; /* -1: none */
    int n_dup, n_swap, n_mal;
} plan_t;

/* Builds the plan for validated options. Returns 0, or SW_ENOMEM with
 * nothing left to free. */
int sim_plan_build(const sim_opts_t *o, plan_t *pl);
void sim_plan_free(plan_t *pl);

/* Non-zero when grid time t lies in a feed gap. */
int sim_plan_in_gap(const plan_t *pl, int64_t t);

/* How many Users sample at grid step k. */
size_t sim_plan_due(const plan_t *pl, int64_t k);

/* Sizes o's quirks for its run, as in the example data: one duplicated
 * line per 4000 lines, half as many swaps, one bad line of each kind
 * (sim_preset.c). */
void sim_preset_quirks(sim_opts_t *o);

/* The documents; each returns 0 or SW_EIO (sim_write_traffic() also
 * SW_ENOMEM). */
int sim_write_changes(const sim_opts_t *o, const plan_t *pl, FILE *f);
int sim_write_truth(const sim_opts_t *o, const plan_t *pl, FILE *f);
int sim_write_traffic(const sim_opts_t *o, const plan_t *pl, FILE *f);

#endif
