/*
 * ewin.c - exponential windows of observed and expected counts (ewin.h).
 */
#include "ewin.h"

#include <math.h>

#include "params.h"

/* exp(-dt/tau), remembered: a series samples at its own cadence, so one
 * thread sees few distinct (dt, tau) pairs, and a hit costs a tenth of a
 * libm exp. Exact: the value stored is exp's own. One table per thread. */
#define DECAY_MEMO 64
static _Thread_local struct {
    int64_t dt, tau;
    double a;
} memo[DECAY_MEMO];

double ewin_decay(int64_t dt_ns, int64_t tau_ns)
{
    if (tau_ns <= 0)
        return 0.0;
    uint64_t h = ((uint64_t)dt_ns ^ ((uint64_t)tau_ns << 7)) * UINT64_C(0x9E3779B97F4A7C15);
    unsigned i = (unsigned)(h >> 58); /* 6 bits: DECAY_MEMO */
    if (memo[i].dt != dt_ns || memo[i].tau != tau_ns) {
        memo[i].dt = dt_ns;
        memo[i].tau = tau_ns;
        memo[i].a = exp(-(double)dt_ns / (double)tau_ns);
    }
    return memo[i].a;
}

void ewin_add_decayed(ewin_t *w, double count, double mu, double secs, double a)
{
    w->k = (float)(a * w->k + count);
    w->mu = (float)(a * w->mu + mu);
    w->secs = (float)(a * w->secs + secs);
    w->v1 = (float)(a * a * w->v1 + mu);
    w->v2 = (float)(a * a * w->v2 + mu * mu);
}

void ewin_add(ewin_t *w, double count, double mu, int64_t dt_ns, int64_t tau_ns)
{
    ewin_add_decayed(w, count, mu, (double)dt_ns / SW_NS_PER_S, ewin_decay(dt_ns, tau_ns));
}

/* The standard deviation of the window's count were the rate `ratio`
 * times its expectation. */
static double sd_at(const ewin_t *w, double ratio, double phi, double disp)
{
    double v = disp * ratio * w->v1 + phi * ratio * ratio * w->v2;
    return v > 0 ? sqrt(v) : 0;
}

int ewin_above(const ewin_t *w, double ratio, double z, double phi, double disp,
               double min_rate, double min_count)
{
    if (!(w->mu > 0) || !(w->secs > 0))
        return 0;
    /* under ratio x mu is under it plus z >= 0 deviations: no square root */
    if (z >= 0 && !(w->k >= ratio * w->mu))
        return 0;
    return w->k >= ratio * w->mu + z * sd_at(w, ratio, phi, disp) &&
           w->k - w->mu >= min_count && (w->k - w->mu) / w->secs >= min_rate;
}

int ewin_below(const ewin_t *w, double ratio, double z, double phi, double disp,
               double min_rate, double min_count)
{
    if (!(w->mu > 0) || !(w->secs > 0))
        return 0;
    if (z >= 0 && !(w->k <= ratio * w->mu))
        return 0;
    return w->k <= ratio * w->mu - z * sd_at(w, ratio, phi, disp) &&
           w->mu - w->k >= min_count && (w->mu - w->k) / w->secs >= min_rate;
}

double ewin_ratio(const ewin_t *w)
{
    return w->mu > 0 ? w->k / w->mu : 1.0;
}

double ewin_samples(const ewin_t *w)
{
    /* (sum of weights)^2 / sum of squared weights, weights the expected
     * counts: the window's mu and v2 (decayed by a and a^2) */
    return w->v2 > 0 ? (double)w->mu * w->mu / w->v2 : 1.0;
}

double ewin_rate(const ewin_t *w)
{
    return w->secs > 0 ? w->k / w->secs : 0.0;
}

double ewin_expected_rate(const ewin_t *w)
{
    return w->secs > 0 ? w->mu / w->secs : 0.0;
}
