/*
 * det_silence.c - a User's direction falls to about nothing (det_silence.h).
 */
#include "det_silence.h"

#include <math.h>

#include "baseline.h"

#define YEAR_S (365.0 * 86400.0)
/* max_fraction below this is taken as this: the alternative "exactly
 * nothing" would make a single message absolute proof of no silence. */
#define MIN_FRACTION 0.01

void silence_init(det_silence_t *s)
{
    *s = (det_silence_t){ .since = INT64_MIN, .back_since = INT64_MIN,
                          .traffic_since = INT64_MIN };
}

/* The evidence a sum must reach: log of the buckets in a year at this
 * cadence over the false silences allowed a year. */
static double threshold(const det_in_t *in, const detect_params_t *p)
{
    double secs = (double)in->dt / SW_NS_PER_S;
    if (secs < 1)
        secs = 1;
    double per_year = p->silence_false_per_year > 0 ? p->silence_false_per_year : 1e-9;
    double h = log(YEAR_S / secs / per_year);
    return h > 1 ? h : 1;
}

/* log P(k | silence) - log P(k | normal). */
static double evidence(double k, double mu, double phi, double f)
{
    if (k <= 0) /* closed forms of log P(0) */
        return phi > 1e-9 ? (log1p(phi * mu) - log1p(phi * f * mu)) / phi : mu * (1 - f);
    return base_log_pmf(k, f * mu, phi) - base_log_pmf(k, mu, phi);
}

/* Folds n buckets of about nothing (a run that ended) and, when `traffic`,
 * one with traffic into the learnt share of quiet buckets. The traffic
 * comes last, so the share is never 1 (-log(1): no evidence at all). */
static void learn_quiet(det_silence_t *s, double secs, double n, int traffic)
{
    double keep = SILENCE_QUIET_TAU_S / (SILENCE_QUIET_TAU_S + secs); /* a bucket's */
    double q = s->quiet;
    if (n > 0)
        q = 1 - (1 - q) * pow(keep, n);
    if (traffic)
        q *= keep;
    s->quiet = (float)q;
}

void silence_judge(det_silence_t *s, const det_in_t *in, const detect_params_t *p,
                   det_out_t *out)
{
    double secs = (double)in->dt / SW_NS_PER_S, mu = in->exp_lo, k = in->count;
    ewin_add(&s->recent, k, mu, in->dt, p->silence_clear_window);
    out->value = k / secs;
    out->baseline = mu / secs;
    out->cool = !in->warm || !(mu > 0) || ewin_ratio(&s->recent) >= p->silence_clear_fraction;
    /* the end: the first bucket with traffic back, though the window that
     * clears the silence takes a little longer to agree */
    if (k < p->silence_clear_fraction * mu)
        s->back_since = INT64_MIN;
    else if (s->back_since == INT64_MIN)
        s->back_since = in->ts;
    double f = p->silence_max_fraction > MIN_FRACTION ? p->silence_max_fraction : MIN_FRACTION;
    if (k > f * mu) {
        if (s->traffic_since == INT64_MIN)
            s->traffic_since = in->ts;
        if (in->ts - s->traffic_since >= SILENCE_TRAFFIC_CLEARS_NS)
            out->cool = 1;
    } else {
        s->traffic_since = INT64_MIN;
    }
    if (!in->warm || !(mu > 0) || k > f * mu) { /* traffic, however little: no silence */
        /* a gap that ended before it made a silence was this User's normal */
        int was_silence = s->run > 0 && s->llr >= threshold(in, p) &&
                          in->ts - s->since >= p->silence_for;
        if (in->warm && mu > 0 && (s->run > 0 || s->quiet > 0)) /* else nothing to learn */
            learn_quiet(s, secs, was_silence ? 0 : s->run, 1);
        s->run = 0;
        s->llr = 0;
        s->since = INT64_MIN;
        out->hot = 0;
        out->onset = INT64_MAX;
        out->end = s->back_since == INT64_MIN ? INT64_MAX : s->back_since;
        return;
    }
    double d = det_disp(in), ev = evidence(k / d, mu / d, in->phi, f);
    if (s->quiet > 0) { /* no likelier than this User's own gaps say */
        double learnt = -log(s->quiet);
        ev = ev < learnt ? ev : learnt;
    }
    s->run += 1;
    double llr = s->llr + ev;
    if (llr <= 0) {
        s->llr = 0;
        s->since = INT64_MIN;
    } else {
        s->llr = (float)llr;
        if (s->since == INT64_MIN)
            s->since = in->ts; /* its first sample about nothing, as storms are dated */
    }
    out->hot = s->llr >= threshold(in, p) && in->ts - s->since + in->dt >= p->silence_for;
    out->onset = s->since == INT64_MIN ? INT64_MAX : s->since;
    out->end = s->back_since == INT64_MIN ? INT64_MAX : s->back_since;
}

int silence_suspicious(const det_silence_t *s, const det_in_t *in, const detect_params_t *p)
{
    /* the threshold is at least 1: no evidence needs no logarithm */
    return s->llr > 0.25f && s->llr > threshold(in, p) / 4;
}
