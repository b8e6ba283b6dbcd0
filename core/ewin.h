/*
 * ewin.h - an exponential window over event time: decayed sums of what a
 * series counted and what it was expected to count, so that a detector
 * can ask "over about the last tau, was the rate R times its expectation,
 * beyond noise?" at any cadence, in O(1) a sample and a few floats.
 *
 * Each sample of `dt` adds its count k and expectation mu after decaying
 * the sums by a = exp(-dt/tau): k (K), mu (M), the seconds (D), and, for
 * the noise of K under a negative-binomial model (var = mu + phi*mu^2),
 * mu (V1) and mu^2 (V2) decayed by a^2. A sample as long as tau or longer
 * leaves the window holding about that sample alone.
 *
 * DESIGN: a plain value embedded in detector state; one owner thread.
 */
#ifndef SW_EWIN_H
#define SW_EWIN_H

#include <stdint.h>

typedef struct {
    float k, mu, secs, v1, v2;
} ewin_t;

/* Adds a sample of `count` messages expected `mu` over dt_ns, with the
 * window's time constant tau_ns (> 0). */
void ewin_add(ewin_t *w, double count, double mu, int64_t dt_ns, int64_t tau_ns);

/* The decay of a sample of dt_ns under time constant tau_ns, exp(-dt/tau)
 * (0 when tau_ns <= 0), and the add with it given: windows of one time
 * constant fed the same sample share one decay. */
double ewin_decay(int64_t dt_ns, int64_t tau_ns);
void ewin_add_decayed(ewin_t *w, double count, double mu, double secs, double a);

/* Non-zero when the window's count stands above `ratio` times its
 * expectation by z standard deviations of a count at that ratio (variance
 * disp x mu + phi x mu^2 a sample: clumping disp >= 1, overdispersion phi),
 * and its excess is at least min_rate msg/s and min_count messages. */
int ewin_above(const ewin_t *w, double ratio, double z, double phi, double disp,
               double min_rate, double min_count);

/* Non-zero when the window's count stands below `ratio` times its
 * expectation by z standard deviations, and its shortfall is at least
 * min_rate msg/s and min_count messages. */
int ewin_below(const ewin_t *w, double ratio, double z, double phi, double disp,
               double min_rate, double min_count);

/* The window's count over its expectation (1 with no expectation). */
double ewin_ratio(const ewin_t *w);

/* How many samples of equal weight its evidence is worth: 1 for a window
 * holding one sample (a sample as long as the window, or longer), many
 * for a window of many short samples. */
double ewin_samples(const ewin_t *w);

/* Its observed and expected rates, msg/s (0 when empty). */
double ewin_rate(const ewin_t *w);
double ewin_expected_rate(const ewin_t *w);

#endif
