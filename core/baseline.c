/*
 * baseline.c - learned level, weekly profiles, day scale and spread of one
 * series (baseline.h).
 */
#include "baseline.h"

#include <math.h>

#include "half.h"
#include "params.h"

/* A bin's days learnt (saturating at DAYS_MAX) and, in DAYS_ODD, that
 * the bin's day before was mostly anomalous (base_days()). */
#define DAYS_MAX BASE_DAYS_MAX
#define DAYS_ODD BASE_DAYS_ODD
/* A bare level learnt over less than this may have been learnt over a
 * batch: what it calls a silence is no judgement. */
#define LEVEL_TRUSTED (6 * 3600 * SW_NS_PER_S)
/* The day scale stays within these bounds: a day at a fifth or five times
 * its profile is not "today runs a little high", it is an anomaly. */
#define SCALE_MIN 0.2
#define SCALE_MAX 5.0
/* A sample spread over more bins than this (a gap of days) is learnt by
 * the level only. */
#define SPREAD_MAX_BINS 8

/* The bin of the day (0..BASE_BINS-1) of absolute bin number n. */
static int day_bin(int64_t n)
{
    if (n >= 0) /* always, after 1970: unsigned division is the cheaper one */
        return (int)((uint64_t)n % BASE_BINS);
    int64_t i = n % BASE_BINS;
    return (int)(i < 0 ? i + BASE_BINS : i);
}

/* The absolute bin number of time ts (floor division). */
static int64_t abs_bin(int64_t ts)
{
    if (ts >= 0)
        return (int64_t)((uint64_t)ts / (uint64_t)BASE_BIN_NS);
    int64_t q = ts / BASE_BIN_NS;
    return ts % BASE_BIN_NS < 0 ? q - 1 : q;
}

/* The kind of day of absolute bin n: 1970-01-01 was a Thursday. */
static int kind_of_bin(int64_t n)
{
    int64_t wd; /* 0 Sunday .. 6 Saturday */
    if (n >= 0) {
        wd = (int64_t)(((uint64_t)n / BASE_BINS + 4) % 7);
    } else {
        int64_t day = n / BASE_BINS - (n % BASE_BINS < 0);
        wd = ((day % 7) + 7 + 4) % 7;
    }
    return wd == 0 || wd == 6 ? BASE_WEEKEND : BASE_WEEKDAY;
}

int base_kind_of_day(int64_t lts)
{
    return kind_of_bin(abs_bin(lts));
}

static int kind_for(const base_cfg_t *cfg, int64_t n)
{
    return cfg->weekly ? kind_of_bin(n) : BASE_WEEKDAY;
}

/* A bin's word (base_t.bins): its rate's 12 bits over its 4 bits of days. */
#define BIN_DAYS 0xfu
#define BIN_RATE_SHIFT 4

static double bin_rate(uint16_t w)
{
    return half12_to_float((uint16_t)(w >> BIN_RATE_SHIFT));
}

uint8_t base_days(const base_t *b, int k, int i)
{
    unsigned v = b->bins[k][i] & BIN_DAYS;
    return (uint8_t)((v & DAYS_MAX) | (v & 8 ? DAYS_ODD : 0));
}

void base_set_days(base_t *b, int k, int i, unsigned count_odd)
{
    unsigned n = count_odd & 0x7f;
    unsigned v = (n > DAYS_MAX ? DAYS_MAX : n) | (count_odd & DAYS_ODD ? 8 : 0);
    b->bins[k][i] = (uint16_t)((b->bins[k][i] & ~BIN_DAYS) | v);
}

double base_prof(const base_t *b, int k, int i)
{
    return bin_rate(b->bins[k][i]);
}

void base_set_prof(base_t *b, int k, int i, double rate)
{
    b->bins[k][i] = (uint16_t)(half12_from_float((float)rate) << BIN_RATE_SHIFT |
                               (b->bins[k][i] & BIN_DAYS));
}

void base_init(base_t *b)
{
    *b = (base_t){ .bin = INT64_MIN };
}

double base_scale(const base_t *b)
{
    if (!(b->sc_exp > 0))
        return 1.0;
    double s = (double)b->sc_obs / b->sc_exp;
    return s < SCALE_MIN ? SCALE_MIN : s > SCALE_MAX ? SCALE_MAX : s;
}

/*
 * Whether bin n of kind k may be judged by its profile: it has history,
 * and that history is not just bin n itself. A bin learnt once, from
 * earlier today, would otherwise make an incident its own expectation
 * within the same day (a first-day storm would resolve itself a bin after
 * it began).
 */
static int usable_at(const base_t *b, int k, int i, int own_kind, int64_t n)
{
    unsigned d = b->bins[k][i] & DAYS_MAX;
    /* the other kind of day's profile (own_kind 0) was never learnt from bin n */
    int today = own_kind && n < b->bin && n > b->bin - BASE_BINS;
    return d > 1 || (d == 1 && !today);
}

static int usable(const base_t *b, int k, int own_kind, int64_t n)
{
    return usable_at(b, k, day_bin(n), own_kind, n);
}

/* The profile's rate for bin n, unscaled, and whether it has one: its own
 * kind of day, else the other kind's. */
static int profile_kind_at(const base_t *b, const base_cfg_t *cfg, int64_t n, int k, int i,
                           double *rate, int *own)
{
    *own = usable_at(b, k, i, 1, n);
    if (*own) {
        *rate = bin_rate(b->bins[k][i]);
        return 1;
    }
    if (cfg->weekly && usable_at(b, 1 - k, i, 0, n)) {
        *rate = bin_rate(b->bins[1 - k][i]);
        return 1;
    }
    return 0;
}

static int profile_at(const base_t *b, const base_cfg_t *cfg, int64_t n, double *rate,
                      int *own)
{
    return profile_kind_at(b, cfg, n, kind_for(cfg, n), day_bin(n), rate, own);
}

/* How far, in bins, a coarse series' bin never learnt looks for learnt
 * ones: its first two samples, 15 to 30 minutes each, only set its rhythm. */
#define BASE_NEAR_BINS 4

/* A bin of a coarse series never learnt (its first samples only set its
 * rhythm): the level, or the nearest learnt bins, up to an hour away, when
 * they stand above it (a batch the series began in). Rare after a day:
 * kept out of bin_value_at's way. */
__attribute__((noinline, cold)) static double near_value(const base_t *b, const base_cfg_t *cfg,
                                                         int64_t n, int *learning)
{
    double p, q;
    int own, o;
    for (int d = 1; d <= BASE_NEAR_BINS; d++) {
        int got = profile_at(b, cfg, n - d, &p, &own);
        got += profile_at(b, cfg, n + d, &q, &o) ? (p = got ? p + q : q, 1) : 0;
        if (got) {
            p /= got;
            if (cfg->scale_tau > 0)
                p *= base_scale(b);
            *learning = p > b->rate ? 1 : 2;
            return p > b->rate ? p : b->rate;
        }
    }
    *learning = 2;
    return b->rate;
}

/* The expected rate of bin n: its profile (with cfg->smooth, smoothed
 * with its neighbours, 1-2-1: a bin learnt from a few noisy samples of a
 * coarse series is half as noisy, a batch's edge blurs by a bin; and a
 * bin it never learnt, the nearest ones it did), times the day scale; or
 * the level. *learning: 0 from its own kind of day's profile, 1 from the
 * other kind's or nearby bins, 2 the bare level. */
static double bin_value_at(const base_t *b, const base_cfg_t *cfg, int64_t n, int k, int i,
                           int *learning)
{
    double p, q;
    int own, o;
    if (profile_kind_at(b, cfg, n, k, i, &p, &own)) {
        *learning = !own;
        if (!cfg->smooth)
            return cfg->scale_tau > 0 ? p * base_scale(b) : p;
        double sum = 2 * p;
        sum += profile_at(b, cfg, n - 1, &q, &o) ? q : p;
        sum += profile_at(b, cfg, n + 1, &q, &o) ? q : p;
        return cfg->scale_tau > 0 ? sum / 4 * base_scale(b) : sum / 4;
    }
    if (cfg->smooth)
        return near_value(b, cfg, n, learning);
    *learning = 2;
    return b->rate;
}

static double bin_value(const base_t *b, const base_cfg_t *cfg, int64_t n, int *learning)
{
    return bin_value_at(b, cfg, n, kind_for(cfg, n), day_bin(n), learning);
}

/*
 * Folds the finished bin's accumulators into its profile.
 *
 * Samples of an active alert are left out (acc): a storm or a silence is
 * no normal to learn. But a bin mostly anomalous on its first day, when no
 * profile judged it, only the bare level, is a pattern to know tomorrow
 * when it stood above that level (a nightly batch) or when the level was
 * too young to judge (the quiet after a batch the series began in); and
 * what is anomalous at the same time two days running is the pattern too.
 * Those are learnt from every sample.
 */
static void fold(base_t *b, const base_cfg_t *cfg)
{
    const double half = (double)BASE_BIN_NS / SW_NS_PER_S / 2;
    int k = kind_for(cfg, b->bin), i = day_bin(b->bin);
    uint8_t days = base_days(b, k, i);
    int n = days & DAYS_MAX, odd_before = days & DAYS_ODD;
    double v;
    if (b->acc_secs >= half) {
        v = b->acc_count / b->acc_secs;
    } else if (b->all_secs < half) {
        return; /* too little seen */
    } else {
        int judged = n > 0 || (cfg->weekly && (base_days(b, 1 - k, i) & DAYS_MAX) > 0);
        v = b->all_count / b->all_secs;
        if (!odd_before && (judged || (v < b->rate && b->age >= LEVEL_TRUSTED))) {
            base_set_days(b, k, i, (unsigned)n | DAYS_ODD); /* tells nothing of normal, yet */
            return;
        }
    }
    if (n == 0) {
        base_set_prof(b, k, i, v);
    } else {
        double p = base_prof(b, k, i);
        int outlier = b->acc_secs >= half &&
                      ((v > p * cfg->outlier_ratio && v - p > cfg->outlier_slack) ||
                       (v * cfg->outlier_ratio < p && p - v > cfg->outlier_slack));
        base_set_prof(b, k, i, p + (outlier ? cfg->outlier_weight : cfg->day_weight) * (v - p));
    }
    base_set_days(b, k, i, (unsigned)(n < DAYS_MAX ? n + 1 : n));
}

/* Adds a piece of a sample to absolute bin n's accumulators, folding the
 * bin before when n is a later one. */
static void accumulate(base_t *b, const base_cfg_t *cfg, double count, double secs, int64_t n,
                       int mode)
{
    if (n != b->bin) {
        if (n < b->bin && b->bin != INT64_MIN)
            return; /* older than the bin being learnt: the level has it */
        if (b->bin != INT64_MIN)
            fold(b, cfg);
        b->bin = n;
        b->acc_count = b->acc_secs = b->all_count = b->all_secs = 0;
    }
    b->all_count += (float)count;
    b->all_secs += (float)secs;
    if (mode == BASE_NORMAL) {
        b->acc_count += (float)count;
        b->acc_secs += (float)secs;
    }
}

void base_learn(base_t *b, const base_cfg_t *cfg, double count, int64_t dt_ns, int64_t lts,
                int mode)
{
    if (dt_ns <= 0)
        return;
    double secs = (double)dt_ns / SW_NS_PER_S;
    /* the profile: the sample covers (lts - dt, lts], spread over its bins */
    int64_t from = lts - dt_ns, n0 = abs_bin(from), n1 = abs_bin(lts);
    if (lts % BASE_BIN_NS == 0 && n1 > n0)
        n1--; /* ends exactly on a bin's start: nothing of that bin */
    if (n1 - n0 < SPREAD_MAX_BINS) {
        for (int64_t n = n0; n <= n1; n++) {
            int64_t lo = n * BASE_BIN_NS > from ? n * BASE_BIN_NS : from;
            int64_t hi = (n + 1) * BASE_BIN_NS < lts ? (n + 1) * BASE_BIN_NS : lts;
            double share = (double)(hi - lo) / (double)dt_ns;
            accumulate(b, cfg, count * share, secs * share, n, mode);
        }
    }
    if (mode == BASE_ANOMALOUS)
        return;

    double rate = count / secs;
    /* dt/(tau+dt) approximates 1-exp(-dt/tau) without a libm call; during
     * warm-up the weight of a sample is its share of the history so far. */
    double dt = (double)dt_ns;
    double w = dt / ((double)cfg->tau + dt);
    double w_warm = dt / ((double)b->age + dt);
    if (w_warm > w)
        w = w_warm;
    double damp = mode == BASE_DAMPED ? cfg->damp_weight : 1.0;
    w *= damp;
    int64_t mid = lts - dt_ns / 2;
    int learning;
    double expect = b->age ? bin_value(b, cfg, abs_bin(mid), &learning) : rate;
    double mu = expect * secs; /* expected count */
    b->rate += w * (rate - b->rate);
    if (mu > 0 && mode == BASE_NORMAL) {
        /* an unbiased estimate of phi from one count: negative ones must
         * stay in the average to cancel the positive ones; only the
         * learned value is kept at or above zero. The residual is clipped
         * at BASE_PHI_CLIP_Z standard deviations of the spread known so far:
         * the noise grows over samples, a storm's first sample (not yet
         * suspicious) does not make it */
        double resid = count - mu, d = base_disp(b);
        double phi_now = b->phi > BASE_PHI_CLIP_FLOOR ? b->phi : BASE_PHI_CLIP_FLOOR;
        if (mu < BASE_DISP_MU) {
            /* the clumping, from the whole residual less what the
             * quadratic term explains; not clipped at the spread known so
             * far (a clump would never teach its own size), only capped */
            double d_obs = (resid * resid - b->phi * mu * mu) / mu;
            if (d_obs > BASE_DISP_OBS_MAX)
                d_obs = BASE_DISP_OBS_MAX;
            double wd = dt / ((double)cfg->tau + dt), wn = 1.0 / (BASE_PHI_SAMPLES + 1);
            wd = wd > wn ? wn : wd;
            wd = wd < w_warm ? w_warm : wd;
            double now = d + wd * (d_obs - d);
            b->disp = (float)(now > 1 ? now : 1);
        }
        double clip = BASE_PHI_CLIP_Z * sqrt(d * mu + phi_now * mu * mu);
        if (resid > clip)
            resid = clip;
        else if (resid < -clip)
            resid = -clip;
        double phi_obs = (resid * resid - d * mu) / (mu * mu);
        if (phi_obs > 4) /* one wild sample must not blow the spread up */
            phi_obs = 4;
        /* the spread averages over BASE_PHI_SAMPLES samples at least: one
         * count says little of it, and a coarse series has few an hour */
        double wp = dt / ((double)cfg->tau + dt), wn = 1.0 / (BASE_PHI_SAMPLES + 1);
        if (wp > wn)
            wp = wn;
        if (wp < w_warm)
            wp = w_warm;
        b->phi += (float)(wp * (phi_obs - b->phi));
        if (b->phi < 0)
            b->phi = 0;
    }
    /* the day scale: today's counts against what the profile expected */
    double p;
    int own;
    if (cfg->scale_tau > 0 && profile_at(b, cfg, abs_bin(mid), &p, &own)) {
        double a = (double)cfg->scale_tau / ((double)cfg->scale_tau + dt);
        b->sc_obs = (float)(a * b->sc_obs + damp * count);
        b->sc_exp = (float)(a * b->sc_exp + damp * p * secs);
    }
    b->age += dt_ns;
}

void base_expect(const base_t *b, const base_cfg_t *cfg, int64_t lts, int64_t tol_ns,
                 base_expect_t *out)
{
    if (tol_ns < 0)
        tol_ns = 0;
    int64_t first = abs_bin(lts - tol_ns), last = abs_bin(lts + tol_ns);
    if (last - first >= BASE_BINS)
        last = first + BASE_BINS - 1;
    double h = 0, l = INFINITY, ahead = 0, lo_ahead = INFINITY, mid = 0;
    int64_t now = abs_bin(lts);
    int how = -1;
    /* the bin of the day and its kind step along with n: worked out once */
    int i = day_bin(first), k = kind_for(cfg, first);
    for (int64_t n = first; n <= last; n++) {
        int learning;
        double v = bin_value_at(b, cfg, n, k, i, &learning);
        if (++i == BASE_BINS) {
            i = 0;
            k = kind_for(cfg, n + 1);
        }
        if (v > h)
            h = v;
        if (v < l)
            l = v;
        if (n >= now && v > ahead)
            ahead = v;
        if (n >= now && v < lo_ahead)
            lo_ahead = v;
        if (n == now) {
            mid = v;
            how = learning;
        }
    }
    if (how < 0) /* a tolerance of more than a day: the bin itself was not read */
        mid = bin_value(b, cfg, now, &how);
    out->hi = h;
    out->lo = l;
    out->hi_ahead = ahead;
    out->lo_ahead = lo_ahead;
    out->mid = mid;
    out->learning = how != 0;
    out->level = how == 2;
}

void base_rebase(base_t *b, double factor)
{
    if (!(factor > 0))
        return;
    b->rate *= factor;
    for (int k = 0; k < BASE_KINDS; k++)
        for (int i = 0; i < BASE_BINS; i++)
            base_set_prof(b, k, i, base_prof(b, k, i) * factor);
    b->sc_obs = b->sc_exp = 0;
}

int base_has_profile(const base_t *b, const base_cfg_t *cfg, int64_t lts)
{
    int64_t n = abs_bin(lts);
    return usable(b, kind_for(cfg, n), 1, n);
}

#define CDF_MAX_TERMS 100000

double base_log_cdf(double k, double mu, double phi)
{
    if (mu <= 0 || k >= mu)
        return 0.0;
    /* clamped as a double first: a k beyond LONG_MAX must not be converted */
    double kf = k < 0 ? 0 : floor(k);
    long kmax = kf > CDF_MAX_TERMS ? CDF_MAX_TERMS : (long)kf;
    double r = phi > 1e-9 ? 1.0 / phi : 0, p = phi > 1e-9 ? phi * mu / (1.0 + phi * mu) : 0;
    double term = phi > 1e-9 ? -r * log1p(phi * mu) : -mu; /* log P(X = 0) */
    double acc = term;
    for (long j = 0; j < kmax; j++) {
        term += phi > 1e-9 ? log((j + r) / (j + 1) * p) : log(mu / (j + 1));
        /* acc = log(exp(acc) + exp(term)) */
        acc = acc > term ? acc + log1p(exp(term - acc)) : term + log1p(exp(acc - term));
    }
    return acc < 0 ? acc : 0.0;
}

/* lgamma without its global sign (lgamma() writes signgam: shards call
 * this from several threads); arguments here are positive. */
static double lgam(double x)
{
    int sign;
    return lgamma_r(x, &sign);
}

double base_log_pmf(double k, double mu, double phi)
{
    if (k < 0)
        k = 0;
    if (phi <= 1e-9) /* Poisson */
        return k * log(mu) - mu - lgam(k + 1);
    double r = 1.0 / phi;
    return lgam(k + r) - lgam(r) - lgam(k + 1) - r * log1p(phi * mu) +
           k * log(phi * mu / (1.0 + phi * mu));
}

double base_disp(const base_t *b)
{
    return b->disp > 1 ? b->disp : 1.0;
}

double base_sd(const base_t *b, double mu, double phi_floor)
{
    double phi = b->phi > phi_floor ? b->phi : phi_floor;
    return sqrt(base_disp(b) * mu + phi * mu * mu);
}
