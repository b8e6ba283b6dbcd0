/*
 * baseline.c - learned level, daily profile and spread of one series
 * (baseline.h).
 */
#include "baseline.h"

#include <math.h>

#include "params.h"

#define DAYS_MAX 255

/* The bin of the day (0..BASE_BINS-1) of absolute bin number n. */
static int day_bin(int64_t n)
{
    int64_t i = n % BASE_BINS;
    return (int)(i < 0 ? i + BASE_BINS : i);
}

/* The absolute bin number of time ts (floor division). */
static int64_t abs_bin(int64_t ts)
{
    int64_t q = ts / BASE_BIN_NS;
    return ts % BASE_BIN_NS < 0 ? q - 1 : q;
}

void base_init(base_t *b)
{
    *b = (base_t){ .bin = INT64_MIN };
}

/* Folds the finished bin's accumulators into the profile. */
static void fold(base_t *b, const base_cfg_t *cfg)
{
    const double half = (double)BASE_BIN_NS / SW_NS_PER_S / 2;
    int i = day_bin(b->bin);
    if (b->days[i] == 0) {
        /* first day: learn from what was seen, anomalous or not, so that
         * a pattern seen today is known tomorrow */
        if (b->acc_secs >= half)
            b->prof[i] = b->acc_count / b->acc_secs;
        else if (b->all_secs >= half && b->all_count / b->all_secs >= b->rate)
            b->prof[i] = b->all_count / b->all_secs; /* a pattern above the level */
        else
            return; /* mostly a silence or drop: not a normal to learn */
        b->days[i] = 1;
        return;
    }
    if (b->acc_secs < half) /* mostly anomalous: tells nothing of normal */
        return;
    double v = b->acc_count / b->acc_secs, p = b->prof[i];
    int outlier = (v > p * cfg->outlier_ratio && v - p > cfg->outlier_slack) ||
                  (v * cfg->outlier_ratio < p && p - v > cfg->outlier_slack);
    b->prof[i] = (float)(p + (outlier ? cfg->outlier_weight : cfg->day_weight) * (v - p));
    if (b->days[i] < DAYS_MAX)
        b->days[i]++;
}

/* The expected rate at ts alone: its profile bin, or the level. */
static double expect_at(const base_t *b, int64_t ts)
{
    int i = day_bin(abs_bin(ts));
    return b->days[i] ? b->prof[i] : b->rate;
}

void base_learn(base_t *b, const base_cfg_t *cfg, double count, int64_t dt_ns, int64_t ts,
                int anomalous)
{
    if (dt_ns <= 0)
        return;
    int64_t n = abs_bin(ts);
    if (n != b->bin) {
        if (b->bin != INT64_MIN)
            fold(b, cfg);
        b->bin = n;
        b->acc_count = b->acc_secs = b->all_count = b->all_secs = 0;
    }
    double secs = (double)dt_ns / SW_NS_PER_S;
    b->all_count += (float)count;
    b->all_secs += (float)secs;
    if (anomalous)
        return;
    b->acc_count += (float)count;
    b->acc_secs += (float)secs;

    double dt = (double)dt_ns, rate = count / secs;
    /* dt/(tau+dt) approximates 1-exp(-dt/tau) without a libm call; during
     * warm-up the weight of a sample is its share of the history so far. */
    double w = dt / ((double)cfg->tau + dt);
    double w_warm = dt / ((double)b->age + dt);
    if (w_warm > w)
        w = w_warm;
    double mu = (b->age ? expect_at(b, ts) : rate) * secs; /* expected count */
    b->rate += w * (rate - b->rate);
    if (mu > 0) {
        /* an unbiased estimate of phi from one count: negative ones must
         * stay in the average to cancel the positive ones; only the
         * learned value is kept at or above zero */
        double resid = count - mu;
        double phi_obs = (resid * resid - mu) / (mu * mu);
        if (phi_obs > 4) /* one wild sample must not blow the spread up */
            phi_obs = 4;
        b->phi += (float)(w * (phi_obs - b->phi));
        if (b->phi < 0)
            b->phi = 0;
    }
    b->age += dt_ns;
}

/*
 * Whether absolute bin n may be judged by its profile: it has history, and
 * that history is not just bin n itself. A bin learnt once, from earlier
 * today, would otherwise make an incident its own expectation within the
 * same day (a first-day storm would resolve itself a bin after it began).
 */
static int profile_usable(const base_t *b, int64_t n)
{
    uint8_t d = b->days[day_bin(n)];
    return d > 1 || (d == 1 && !(n < b->bin && n > b->bin - BASE_BINS));
}

void base_expect_range(const base_t *b, int64_t ts, int64_t tol_ns, double *hi, double *lo)
{
    if (tol_ns < 0)
        tol_ns = 0;
    int64_t first = abs_bin(ts - tol_ns), last = abs_bin(ts + tol_ns);
    if (last - first >= BASE_BINS)
        last = first + BASE_BINS - 1;
    double h = 0, l = INFINITY;
    for (int64_t n = first; n <= last; n++) {
        int i = day_bin(n);
        double v = profile_usable(b, n) ? b->prof[i] : b->rate;
        if (v > h)
            h = v;
        if (v < l)
            l = v;
    }
    *hi = h;
    *lo = l;
}

int base_has_profile(const base_t *b, int64_t ts)
{
    return profile_usable(b, abs_bin(ts));
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

double base_sd(const base_t *b, double mu, double phi_floor)
{
    double phi = b->phi > phi_floor ? b->phi : phi_floor;
    return sqrt(mu + phi * mu * mu);
}
