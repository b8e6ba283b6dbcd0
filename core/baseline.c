/*
 * baseline.c - learned expected rate and spread of one series (baseline.h).
 */
#include "baseline.h"

#include <math.h>

#include "params.h"

void base_learn(base_t *b, double count, int64_t dt_ns, int64_t tau_ns)
{
    if (dt_ns <= 0)
        return;
    double dt = (double)dt_ns, rate = count * SW_NS_PER_S / dt;
    /* dt/(tau+dt) approximates 1-exp(-dt/tau) without a libm call; during
     * warm-up the weight of a sample is its share of the history so far. */
    double w = dt / ((double)tau_ns + dt);
    double w_warm = dt / ((double)b->age + dt);
    if (w_warm > w)
        w = w_warm;
    double mu = b->rate * dt / SW_NS_PER_S; /* expected count before this sample */
    b->rate += w * (rate - b->rate);
    if (mu > 0) {
        double resid = count - mu;
        /* an unbiased estimate of phi from one count: negative ones must
         * stay in the average to cancel the positive ones; only the
         * learned value is kept at or above zero */
        double phi_obs = (resid * resid - mu) / (mu * mu);
        if (phi_obs > 4) /* one wild sample must not blow the spread up */
            phi_obs = 4;
        b->phi += (float)(w * (phi_obs - b->phi));
        if (b->phi < 0)
            b->phi = 0;
    }
    b->age += dt_ns;
}

double base_expect(const base_t *b, int64_t dt_ns)
{
    return b->rate * (double)dt_ns / SW_NS_PER_S;
}

#define CDF_MAX_TERMS 100000

double base_log_cdf(double k, double mu, double phi)
{
    if (mu <= 0 || k >= mu)
        return 0.0;
    long kmax = k < 0 ? 0 : (long)floor(k);
    if (kmax > CDF_MAX_TERMS)
        kmax = CDF_MAX_TERMS;
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
