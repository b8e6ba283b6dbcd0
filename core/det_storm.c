/*
 * det_storm.c - a series' rate far above its expectation (det_storm.h).
 */
#include "det_storm.h"

#include <math.h>

/* How far above the noise a window must stand to be suspicious. */
#define SUSPICIOUS_Z 2.0

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
}

void storm_judge(det_storm_t *s, const det_in_t *in, const detect_params_t *p, det_out_t *out)
{
    double secs = (double)in->dt / SW_NS_PER_S, mu = in->exp_hi, k = in->count;
    double rate = k / secs, base = mu / secs;
    ewin_add(&s->s1, k, mu, in->dt, p->storm_window_short);
    ewin_add(&s->s2, k, mu, in->dt, p->storm_window_long);
    ewin_add(&s->recent, k, mu, in->dt, p->storm_clear_window);
    int on = ewin_ratio(&s->recent) >= p->storm_ratio_clear;

    /* one sample far above a harmless burst */
    double mu_burst = p->storm_burst_ratio * mu;
    double sd = sqrt(mu_burst + in->phi * mu_burst * mu_burst);
    int s0 = rate > p->storm_ratio_fire * base && k - mu_burst > p->storm_z_fire * sd &&
             rate - base > p->storm_min_excess;
    if (!s0)
        s->s0_since = INT64_MIN;
    else if (s->s0_since == INT64_MIN)
        s->s0_since = in->ts;
    int hot0 = s0 && in->ts - s->s0_since >= p->storm_for;
    /* the windows: evidence that accumulates */
    int hot1 = on && ewin_above(&s->s1, p->storm_ratio_short, p->storm_z_window, in->phi,
                                p->storm_min_excess);
    int hot2 = on && ewin_above(&s->s2, p->storm_ratio_long, p->storm_z_window, in->phi,
                                p->storm_min_excess);
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

int storm_suspicious(const det_storm_t *s, const detect_params_t *p, double phi)
{
    double up = p->base_damp_ratio, down = 1.0 / p->base_damp_ratio;
    return ewin_above(&s->s1, up, SUSPICIOUS_Z, phi, 0) ||
           ewin_below(&s->s1, down, SUSPICIOUS_Z, phi, 0);
}
