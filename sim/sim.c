/*
 * sim.c - the traffic simulator (see sim.h for the model and the API): the
 * options, the Users, the clock, and the entry point.
 *
 * sim_write() works in two steps. sim_plan_build() (sim_plan.c) turns the
 * options into a plan: the effects each User undergoes (with their spans on
 * the grid), the declared changes, the truth (incidents, allowed windows,
 * decoys) and the grid steps that carry a planted quirk. Then the documents
 * are written from the plan: the change register and the truth by
 * sim_plan.c, the traffic by sim_traffic.c.
 *
 * A User is a function of (options, index): its rates and batch from one
 * random stream, its shape (cadence, weekend) from a second, its alert codes
 * from a third (sim_priv.h lists the streams), so a new shape leaves the
 * older draws, and the bytes they make, as they were.
 */
#include "sim_priv.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"

#define DEFAULT_RATE_LO 0.5
#define DEFAULT_RATE_HI 500.0
#define MAX_RATE 1e6
#define WEEKEND_BLEND_S 7200   /* the weekend rhythm blends in (out) over Saturday's (Monday's) first 2 h */
#define PEAK_OFFSET_S (9 * 3600) /* the daily sine crosses 1 at 09:00, peaks at 15:00 */
#define CODE_SHARE_RATIO 70.0  /* first to last alert code share, for up to 8 codes */

/* ---- Users ------------------------------------------------------------- */

void sim_user_params(const sim_opts_t *o, int i, uparams_t *p)
{
    rng_t r;
    rng_init(&r, o->seed, ST_USER, (uint64_t)i);
    p->rate = o->rate_lo * pow(o->rate_hi / o->rate_lo, rng_u01(&r)); /* log-uniform */
    p->alert_frac = 0.05 + 0.20 * rng_u01(&r);
    p->resp_ratio = 0.90 + 0.10 * rng_u01(&r);
    p->rej_rate = 0.002 + 0.006 * rng_u01(&r);
    int64_t span = sim_grid_ns(o) / 1000000;
    span = span > 1000 ? 1000 : span < 1 ? 1 : span;
    p->ts_off = rng_below(&r, span) * 1000000;
    /* Always drawn, so the options do not shift the stream. */
    int has = rng_u01(&r) < 0.6, dir = rng_u01(&r) < 0.5 ? 1 : 2;
    p->batch_from_s = (22 * 3600 + 900 * rng_below(&r, 25)) % DAY_S; /* 22:00 to 04:00 */
    p->batch_len_s = 1800 + 60 * rng_below(&r, 71);                  /* 30 to 100 min */
    p->batch_mult = round((3 + 7 * rng_u01(&r)) * 10) / 10;           /* x3.0 to x10.0 */
    p->batch_dir = o->daily_batches && has ? dir : 0;

    rng_init(&r, o->seed, ST_SHAPE, (uint64_t)i);
    double pick = rng_u01(&r);
    p->we.volume = 0.5 + 0.2 * rng_u01(&r);
    p->we.amp = 0.5 + 0.2 * rng_u01(&r);
    p->we.later_s = 7200 + rng_below(&r, 3601);
    p->cadence = o->interval_ns;
    if (o->n_cadences) {
        double total = 0, acc = 0;
        for (size_t k = 0; k < o->n_cadences; k++)
            total += o->cadences[k].weight;
        size_t k = 0;
        for (; k + 1 < o->n_cadences; k++) {
            acc += o->cadences[k].weight;
            if (pick * total < acc)
                break;
        }
        p->cadence = o->cadences[k].ns;
    }
}

double sim_user_rate(const sim_opts_t *o, int i)
{
    uparams_t p;
    sim_user_params(o, i, &p);
    return p.rate;
}

int64_t sim_user_cadence(const sim_opts_t *o, int i)
{
    uparams_t p;
    sim_user_params(o, i, &p);
    return p.cadence;
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

void sim_code_shares(int n, double share[SIM_MAX_ALERT_CODES])
{
    double s = n > 1 ? log(CODE_SHARE_RATIO) / log((double)n) : 1, sum = 0;
    if (s < 2)
        s = 2;
    for (int j = 0; j < n; j++)
        sum += share[j] = pow(j + 1, -s);
    for (int j = 0; j < n; j++)
        share[j] /= sum;
}

void sim_code_ids(const sim_opts_t *o, int i, int n, unsigned ids[SIM_MAX_ALERT_CODES])
{
    rng_t r;
    rng_init(&r, o->seed, ST_CODE, (uint64_t)i);
    for (int j = 0; j < n; j++) {
        int fresh;
        do {
            ids[j] = (unsigned)(rng_next(&r) >> 48);
            fresh = 1;
            for (int m = 0; m < j; m++)
                fresh &= ids[m] != ids[j];
        } while (!fresh);
    }
}

double sim_alert_code(const sim_opts_t *o, int i, int j, char out[SIM_CLASS_LEN])
{
    int n = o->alert_codes;
    out[0] = '\0';
    if (j < 0 || j >= n || n > SIM_MAX_ALERT_CODES)
        return 0;
    unsigned ids[SIM_MAX_ALERT_CODES];
    double share[SIM_MAX_ALERT_CODES];
    sim_code_ids(o, i, n, ids);
    sim_code_shares(n, share);
    snprintf(out, SIM_CLASS_LEN, "alert_%04X", ids[j]);
    return share[j];
}

/* ---- time -------------------------------------------------------------- */

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

int64_t sim_grid_ns(const sim_opts_t *o)
{
    if (!o->n_cadences)
        return o->interval_ns;
    int64_t g = 0;
    for (size_t k = 0; k < o->n_cadences; k++)
        g = gcd64(o->cadences[k].ns, g);
    return g;
}

int64_t sim_min_cadence(const sim_opts_t *o)
{
    int64_t m = o->n_cadences ? o->cadences[0].ns : o->interval_ns;
    for (size_t k = 1; k < o->n_cadences; k++)
        m = o->cadences[k].ns < m ? o->cadences[k].ns : m;
    return m;
}

int64_t sim_sample_time(const sim_opts_t *o, int64_t at)
{
    int64_t g = sim_grid_ns(o);
    int64_t k = at <= 0 ? 1 : (at + g - 1) / g;
    return o->start_ns + (k < 1 ? 1 : k) * g;
}

void sim_clock_at(const sim_opts_t *o, int64_t t, sim_clock_t *c)
{
    int64_t sec = t / SW_NS_PER_S;
    if (!o->timezone) {
        c->sod = sec % DAY_S;
        c->wday = (int)((sec / DAY_S + 4) % 7); /* 1970-01-01 was a Thursday */
        return;
    }
    time_t tt = (time_t)sec;
    struct tm tm;
    if (!localtime_r(&tt, &tm)) {
        c->sod = sec % DAY_S;
        c->wday = (int)((sec / DAY_S + 4) % 7);
        return;
    }
    c->sod = tm.tm_hour * 3600 + tm.tm_min * 60 + (tm.tm_sec < 60 ? tm.tm_sec : 59);
    c->wday = tm.tm_wday;
}

long sim_utc_offset(const sim_opts_t *o, int64_t t)
{
    if (!o->timezone)
        return 0;
    time_t tt = (time_t)(t / SW_NS_PER_S);
    struct tm tm;
    return localtime_r(&tt, &tm) ? tm.tm_gmtoff : 0;
}

double sim_weekday_factor(const sim_opts_t *o, int64_t sod)
{
    return 1 + o->daily_amplitude * sin(2 * M_PI * (double)(sod - PEAK_OFFSET_S) / 86400.0);
}

double sim_weekend_weight(const sim_opts_t *o, const sim_clock_t *c)
{
    if (!o->weekly)
        return 0;
    double in = (double)c->sod / WEEKEND_BLEND_S;
    switch (c->wday) {
    case 6: return in < 1 ? in : 1;         /* Saturday */
    case 0: return 1;                       /* Sunday */
    case 1: return in < 1 ? 1 - in : 0;     /* Monday */
    default: return 0;
    }
}

double sim_time_factor(const sim_opts_t *o, const sim_weekend_t *we, const sim_clock_t *c, double weekday,
                       double weight)
{
    if (weight <= 0)
        return weekday;
    double weekend = we->volume * (1 + we->amp * o->daily_amplitude *
                                           sin(2 * M_PI * (double)(c->sod - PEAK_OFFSET_S - we->later_s) /
                                               86400.0));
    return (1 - weight) * weekday + weight * weekend;
}

/* ---- options ----------------------------------------------------------- */

static const char *const kind_names[SIM_KIND_COUNT_] = {
    "blocked", "degraded", "storm-north", "storm-south", "silence-north", "silence-south", "feed-gap",
    "burst", "ramp-south", "ramp-north", "storm-code", "shift-up", "shift-down",
};

/* Magnitude used when an incident gives 0. */
static const double kind_default_mag[SIM_KIND_COUNT_] = { 0, 0.2, 20, 15, 0, 0, 0, BURST_MAGNITUDE, 15, 15, 30, 2, 0.5 };

double sim_inc_magnitude(const sim_incident_t *in)
{
    return in->magnitude > 0 ? in->magnitude : kind_default_mag[in->kind];
}

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
        .rate_lo = DEFAULT_RATE_LO,
        .rate_hi = DEFAULT_RATE_HI,
    };
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

static int validate_shape(const sim_opts_t *o, char *msg, size_t msglen)
{
    if (o->n_cadences > SIM_MAX_CADENCES || (o->n_cadences && !o->cadences))
        FAIL("at most %d cadences, and n_cadences needs cadences", SIM_MAX_CADENCES);
    for (size_t k = 0; k < o->n_cadences; k++) {
        const sim_cadence_t *c = &o->cadences[k];
        if (c->ns < 1000000 || c->ns > SIM_MAX_CADENCE_NS)
            FAIL("cadence %zu must be 1 ms to a day", k + 1);
        if (!(c->weight > 0 && c->weight <= 1e9))
            FAIL("cadence %zu: the weight must be above 0", k + 1);
        for (size_t m = 0; m < k; m++)
            if (o->cadences[m].ns == c->ns)
                FAIL("cadence %zu repeats cadence %zu", k + 1, m + 1);
    }
    if (!(o->rate_lo > 0 && o->rate_lo <= o->rate_hi && o->rate_hi <= MAX_RATE))
        FAIL("the rates must satisfy 0 < low <= high <= %g msg/s", MAX_RATE);
    if (o->alert_codes < 0 || o->alert_codes > SIM_MAX_ALERT_CODES)
        FAIL("alert codes must be 0 to %d", SIM_MAX_ALERT_CODES);
    if (o->n_long_bursts < 0 || o->n_long_bursts > 1000000)
        FAIL("long bursts must be 0 to 1000000");
    if (o->timezone) {
        const char *tz = getenv("TZ");
        if (!*o->timezone)
            FAIL("the timezone is empty");
        if (!tz || strcmp(tz, o->timezone) != 0)
            FAIL("the timezone is '%s' but TZ is '%s': set TZ to it first", o->timezone, tz ? tz : "(unset)");
    }
    return SW_OK;
}

static int is_multiplier(sim_kind_t k)
{
    return k == SIM_STORM_NORTH || k == SIM_STORM_SOUTH || k == SIM_BURST || k == SIM_RAMP_SOUTH ||
           k == SIM_RAMP_NORTH || k == SIM_STORM_CODE || k == SIM_SHIFT_UP;
}

static int is_fraction(sim_kind_t k)
{
    return k == SIM_DEGRADED || k == SIM_SILENCE_NORTH || k == SIM_SILENCE_SOUTH || k == SIM_SHIFT_DOWN;
}

static int validate_incident(const sim_opts_t *o, size_t k, char *msg, size_t msglen)
{
    const sim_incident_t *in = &o->incidents[k];
    if ((unsigned)in->kind >= SIM_KIND_COUNT_)
        FAIL("incident %zu: unknown kind %d", k, (int)in->kind);
    const char *kn = kind_names[in->kind];
    int ramp = in->kind == SIM_RAMP_SOUTH || in->kind == SIM_RAMP_NORTH;
    int shift = in->kind == SIM_SHIFT_UP || in->kind == SIM_SHIFT_DOWN;
    if (in->kind != SIM_FEED_GAP && (in->user < 0 || in->user >= o->n_users))
        FAIL("incident %zu (%s): user %d out of range (%d Users)", k, kn, in->user, o->n_users);
    if (in->at < 0 || in->at >= o->duration_ns)
        FAIL("incident %zu (%s): it must start within the run", k, kn);
    if (in->duration <= 0 || in->duration > o->duration_ns)
        FAIL("incident %zu (%s): its duration must be positive and within the run", k, kn);
    double m = in->magnitude;
    if (!(m >= 0) || m > 1e6)
        FAIL("incident %zu (%s): bad magnitude", k, kn);
    if (m > 0 && is_multiplier(in->kind) && m < 1)
        FAIL("incident %zu (%s): the magnitude is a multiplier, at least 1", k, kn);
    if (is_fraction(in->kind) && m >= 1)
        FAIL("incident %zu (%s): the magnitude is the fraction left, below 1", k, kn);
    if (in->declare < SIM_UNDECLARED || in->declare > SIM_MAINTENANCE)
        FAIL("incident %zu (%s): declare must be undeclared, declared or maintenance", k, kn);
    if (in->declare_shift < -7 * 86400 * SW_NS_PER_S || in->declare_shift > 7 * 86400 * SW_NS_PER_S)
        FAIL("incident %zu (%s): the declaration shift is over a week", k, kn);
    if (in->impact && in->kind != SIM_STORM_SOUTH && in->kind != SIM_RAMP_SOUTH)
        FAIL("incident %zu (%s): impact applies to south storms and ramps only", k, kn);
    if ((in->rise || in->exp_rise) && !ramp)
        FAIL("incident %zu (%s): rise and exp apply to ramps only", k, kn);
    if (in->rise < 0 || in->rise > 30 * 86400 * SW_NS_PER_S)
        FAIL("incident %zu (%s): the rise must be 0 to 30 days", k, kn);
    if (in->dir != SIM_DIR_DEFAULT && (!shift || (in->dir != SIM_DIR_SOUTH && in->dir != SIM_DIR_NORTH)))
        FAIL("incident %zu (%s): a direction applies to shifts only", k, kn);
    if (in->code && in->kind != SIM_STORM_CODE)
        FAIL("incident %zu (%s): a code applies to code storms only", k, kn);
    if (in->kind == SIM_STORM_CODE && (o->alert_codes < 1 || in->code < 0 || in->code > o->alert_codes))
        FAIL("incident %zu (%s): needs alert codes, and a code from 1 to their number", k, kn);
    return SW_OK;
}

int sim_validate(const sim_opts_t *o, char *msg, size_t msglen)
{
    if (!o)
        FAIL("no options");
    if (o->n_users < 1 || o->n_users > SIM_MAX_USERS)
        FAIL("users must be 1 to %d, not %d", SIM_MAX_USERS, o->n_users);
    int rc = validate_shape(o, msg, msglen);
    if (rc)
        return rc;
    if (!o->n_cadences && o->interval_ns < 1000000)
        FAIL("the interval must be at least 1 ms");
    if (o->start_ns < 0 || o->start_ns > INT64_C(4) * 1000000000 * SW_NS_PER_S)
        FAIL("the start must lie between 1970 and 2096");
    int64_t g = sim_grid_ns(o);
    if (o->duration_ns < g || o->duration_ns / g > 100000000 ||
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
    for (size_t k = 0; k < o->n_incidents; k++)
        if ((rc = validate_incident(o, k, msg, msglen)) != SW_OK)
            return rc;
    return SW_OK;
}

#undef FAIL

/* ---- entry point ------------------------------------------------------- */

int sim_write(const sim_opts_t *o, FILE *traffic, FILE *changes, FILE *truth)
{
    if (sim_validate(o, NULL, 0))
        return SW_EINVAL;
    if (o->timezone)
        tzset(); /* TZ may have changed since the C library last read it */
    plan_t pl;
    int rc = sim_plan_build(o, &pl);
    if (rc)
        return rc;
    if (changes)
        rc = sim_write_changes(o, &pl, changes);
    if (!rc && truth)
        rc = sim_write_truth(o, &pl, truth);
    if (!rc && traffic)
        rc = sim_write_traffic(o, &pl, traffic);
    sim_plan_free(&pl);
    return rc;
}
