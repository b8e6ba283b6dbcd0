/*
 * det_storm.c - a series' rate far above its expectation (det_storm.h).
 */
#include "det_storm.h"

#include <math.h>

_Static_assert(sizeof(det_storm_t) == 88, "a storm detector takes no padding it can avoid");

/* How far beyond counting noise (Poisson: not the learnt overdispersion,
 * which a noisy User's storm would hide behind) a window must stand to be
 * suspicious. */
#define SUSPICIOUS_Z 1.0

void storm_init(det_storm_t *s)
{
    *s = (det_storm_t){ .s0_since = INT64_MIN, .rise_since = INT64_MIN,
                        .fall_since = INT64_MIN };
}

void storm_forget(det_storm_t *s)
{
    s->s1.k = s->s1.mu;
    s->s2.k = s->s2.mu;
    s->recent.k = s->recent.mu;
    s->s0_since = s->rise_since = s->fall_since = INT64_MIN;
    s->s0_samples = 0;
}

#define YEAR_S (365.0 * 86400.0)

/* The standard normal deviate with upper tail `alpha` (0 < alpha < 0.5),
 * within 5e-4 (Abramowitz and Stegun 26.2.23). */
static double z_upper(double alpha)
{
    double t = sqrt(-2.0 * log(alpha));
    return t - (2.515517 + t * (0.802853 + t * 0.010328)) /
                   (1.0 + t * (1.432788 + t * (0.189269 + t * 0.001308)));
}

/* How many standard deviations count k stands above a negative-binomial
 * count of mean mu (> 0) and overdispersion phi: the gamma of that mean
 * and variance, made normal by the cube root (Wilson and Hilferty), so
 * that the long right tail of a small or noisy count is not mistaken for
 * a storm. */
static double tail_z(double k, double mu, double phi)
{
    double shape = mu / (1.0 + phi * mu), v = 1.0 / (9.0 * shape);
    return (cbrt(k / mu) - (1.0 - v)) / sqrt(v);
}

/* The chance a sample of `secs` may pass its test by noise alone, so
 * that harmless bursts pass it false_per_year times a year: every sample
 * at least as long as a burst is a trial (a burst is a sliver of it, the
 * test is against noise), shorter ones only while a burst lasts,
 * BURSTS_PER_DAY of them a day. */
#define BURSTS_PER_DAY 24.0
static double alpha_of(const detect_params_t *p, double secs)
{
    double len = (double)p->storm_burst_length / SW_NS_PER_S;
    if (secs < 1)
        secs = 1;
    double trials = YEAR_S / secs;
    if (secs < len) {
        double in_bursts = BURSTS_PER_DAY * 365.0 * ceil(len / secs);
        trials = in_bursts < trials ? in_bursts : trials;
    }
    double alpha = p->storm_false_per_year / trials;
    return alpha < 0.1 ? alpha : 0.1;
}

/* The deviation one sample of `secs` must pass alone. */
static double z_needed(const detect_params_t *p, double secs)
{
    return z_upper(alpha_of(p, secs));
}

/* What a harmless burst (burst_ratio x for burst_length at most) makes of
 * the rate over a span of `secs`: the whole ratio over a span no longer
 * than the burst, diluted over a longer one. */
static double harmless(const detect_params_t *p, double secs)
{
    double len = (double)p->storm_burst_length / SW_NS_PER_S;
    double share = secs > len ? len / secs : 1.0;
    return 1.0 + (p->storm_burst_ratio - 1.0) * share;
}

/* The deviation a window must stand above its bar: z_window over many
 * samples, rising to what one sample needs (z_needed) as its evidence
 * shrinks to one sample's. */
static double window_z(const ewin_t *w, const detect_params_t *p)
{
    double n = ewin_samples(w), one = z_needed(p, w->secs);
    double z = p->storm_z_window + (one - p->storm_z_window) / (n > 1 ? n : 1);
    return z > p->storm_z_window ? z : p->storm_z_window;
}

/* A window's bar: above what harmless bursts make of its span, and never
 * under ratio_sustained. */
static double window_bar(const ewin_t *w, const detect_params_t *p)
{
    double h = harmless(p, w->secs);
    return h > p->storm_ratio_sustained ? h : p->storm_ratio_sustained;
}

/* Whether a window stands above its bar. Its z (a logarithm) is wanted
 * only when the count is over the bar itself: z is never negative
 * (config.c keeps storm_z_window >= 0), so a count under the bar is under the
 * bar plus z standard deviations too, and ewin_above would say no. */
static int window_hot(const ewin_t *w, const detect_params_t *p, double phi, double disp)
{
    double bar = window_bar(w, p);
    if (!(w->k >= bar * w->mu))
        return 0;
    return ewin_above(w, bar, window_z(w, p), phi, disp, p->storm_min_excess,
                      p->storm_min_count);
}

void storm_judge(det_storm_t *s, const det_in_t *in, const detect_params_t *p, det_out_t *out)
{
    double secs = (double)in->dt / SW_NS_PER_S, mu = in->exp_hi, k = in->count;
    double rate = k / secs, base = mu / secs;
    /* the long window spans two samples at least, at coarse cadences */
    int64_t tau_long = p->storm_window_long > 2 * in->dt ? p->storm_window_long : 2 * in->dt;
    ewin_add(&s->s1, k, mu, in->dt, p->storm_window_short);
    ewin_add(&s->s2, k, mu, in->dt, tau_long);
    ewin_add(&s->recent, k, mu, in->dt, p->storm_clear_window);
    int on = ewin_ratio(&s->recent) >= p->storm_ratio_clear;

    /* one sample far above what a harmless burst makes of its interval */
    double mu_burst = harmless(p, secs) * mu;
    /* the rate's bar: ratio_fire over a burst's length, lower over longer
     * intervals (ratio_fire stands as far above the burst as ever), never
     * under ratio_sustained */
    double bar = harmless(p, secs) + p->storm_ratio_fire - p->storm_burst_ratio;
    if (bar < p->storm_ratio_sustained)
        bar = p->storm_ratio_sustained;
    /* strong alone: as rare as false_per_year allows; or weak (the square
     * root of that chance) for `for`, two samples at least. The tail's
     * z (a cube root, a logarithm) only for a sample over the rate's bar:
     * most are not */
    int s0 = 0, strong = 0;
    if (rate > bar * base && rate - base > p->storm_min_excess &&
        k - mu >= p->storm_min_count) {
        double d = det_disp(in), alpha = alpha_of(p, secs);
        double z = tail_z(k / d, mu_burst / d, in->phi);
        s0 = z > z_upper(sqrt(alpha));
        strong = s0 && z > z_upper(alpha);
    }
    if (!s0) {
        s->s0_since = INT64_MIN;
        s->s0_samples = 0;
    } else {
        if (s->s0_since == INT64_MIN)
            s->s0_since = in->ts;
        if (s->s0_samples < UINT8_MAX)
            s->s0_samples++;
    }
    int hot0 = strong || (s0 && s->s0_samples >= 2 && in->ts - s->s0_since >= p->storm_for);
    /* the windows: evidence that accumulates */
    int hot1 = on && window_hot(&s->s1, p, in->phi, det_disp(in));
    int hot2 = on && window_hot(&s->s2, p, in->phi, det_disp(in));
    out->hot = in->warm && (hot0 || hot1 || hot2);
    out->cool = !in->warm || !on;
    out->value = rate; /* the sample's: what an operator would read off a chart */
    out->baseline = base;
    /* the onset: the first sample of the rise above onset_ratio x */
    if (rate > p->storm_onset_ratio * base && rate - base > p->storm_min_excess) {
        if (s->rise_since == INT64_MIN)
            s->rise_since = in->ts;
    } else if (!out->hot && !on) {
        s->rise_since = INT64_MIN;
    }
    out->onset = s->rise_since == INT64_MIN ? INT64_MAX : s->rise_since;
    /* the end: the first sample back under ratio_clear x, though the
     * window that clears the storm takes a little longer to agree */
    if (rate >= p->storm_ratio_clear * base)
        s->fall_since = INT64_MIN;
    else if (s->fall_since == INT64_MIN)
        s->fall_since = in->ts;
    out->end = s->fall_since == INT64_MIN ? INT64_MAX : s->fall_since;
}

int storm_suspicious(const det_storm_t *s, const detect_params_t *p)
{
    double up = p->base_damp_ratio, down = 1.0 / p->base_damp_ratio;
    double m = p->storm_min_excess, c = p->storm_min_count;
    return ewin_above(&s->s1, up, SUSPICIOUS_Z, 0, 1, m, c) ||
           ewin_below(&s->s1, down, SUSPICIOUS_Z, 0, 1, m, c);
}
