/*
 * baseline.h - the learned expected rate of one series, and the spread of
 * its counts around it.
 *
 * The mean rate is an exponentially weighted average over event time (time
 * constant tau), with a plain running mean during warm-up so that the
 * first minutes are not dominated by the first sample. The spread is
 * modelled as negative-binomial: the variance of a count with mean mu is
 * mu + phi*mu^2, with phi learned the same way and never below the
 * configured floor. That keeps thresholds sound from a User sending one
 * message a second to one sending thousands.
 *
 * DESIGN: plain value type embedded in a series; owned by the thread that
 * owns the series. The caller decides when not to learn (while the series
 * is anomalous), so an incident never becomes the new normal.
 */
#ifndef SW_BASELINE_H
#define SW_BASELINE_H

#include <stdint.h>

typedef struct {
    double rate;     /* expected messages per second */
    float phi;       /* learned overdispersion */
    int64_t age;     /* event time learned so far, ns */
} base_t;

/* Learns from `count` messages over `dt_ns` (> 0) with time constant tau_ns. */
void base_learn(base_t *b, double count, int64_t dt_ns, int64_t tau_ns);

/* Expected count over dt_ns. */
double base_expect(const base_t *b, int64_t dt_ns);

/* Standard deviation of a count with mean `mu`, with phi at least `phi_floor`. */
double base_sd(const base_t *b, double mu, double phi_floor);

/*
 * log P(X <= k) for a negative-binomial count X with mean mu and
 * overdispersion phi (Poisson when phi is 0): how surprising it is to see
 * only k messages. Meant for small k (a near-silence); k is capped.
 */
double base_log_cdf(double k, double mu, double phi);

#endif
