/*
 * det_shift.c - a User's direction at a new level for hours (det_shift.h).
 */
#include "det_shift.h"

/* The window must span this share of its time constant before it judges:
 * an hour-long shift is not told from a minute of data. */
#define MIN_SPAN 0.5

void shift_judge(det_shift_t *s, const det_in_t *in, int others, const detect_params_t *p,
                 det_out_t *out)
{
    out->onset = INT64_MAX;
    out->end = INT64_MAX;
    if (others) { /* another alert says it better; nothing learnt meanwhile */
        out->hot = 0;
        out->cool = 0;
        out->value = ewin_rate(&s->w);
        out->baseline = ewin_expected_rate(&s->w);
        return;
    }
    /* against the profile at the day scale of hours ago: the day scale
     * follows a day's level and would learn the shift as today's; up
     * against the highest expectation from now to the tolerance ahead (a
     * batch come early is no shift), down against the lowest (nor is one
     * that ended early): from now on, as the bins before may already have
     * learnt today's level */
    double sc = in->scale > 0 ? in->scale : 1.0;
    if (!(s->slow > 0))
        s->slow = (float)sc;
    double tau = (double)p->shift_window * SHIFT_SCALE_WINDOWS, dt = (double)in->dt;
    s->slow += (float)(dt / (tau + dt) * (sc - s->slow));
    double k = s->slow / sc; /* the expectations, at the slow scale */
    double a = ewin_decay(in->dt, p->shift_window), secs = dt / SW_NS_PER_S;
    ewin_add_decayed(&s->w, in->count, in->exp_mid * k, secs, a);
    ewin_add_decayed(&s->hi, in->count, in->exp_ahead * k, secs, a);
    ewin_add_decayed(&s->lo, in->count, in->exp_lo_ahead * k, secs, a);
    int long_enough = s->w.secs >= MIN_SPAN * (double)p->shift_window / SW_NS_PER_S;
    /* and away from the profile itself: a level back at its profile after
     * hours that ran low (or high) is the profile right again, not a shift */
    double d = det_disp(in);
    int up = ewin_above(&s->hi, p->shift_ratio_up, p->shift_z, in->phi, d, p->shift_min_rate, 0) &&
             ewin_ratio(&s->hi) * s->slow >= p->shift_clear_up;
    int down = ewin_below(&s->lo, p->shift_ratio_down, p->shift_z, in->phi, d, p->shift_min_rate,
                          0) &&
               ewin_ratio(&s->lo) * s->slow <= p->shift_clear_down;
    out->hot = in->warm && !in->learning && long_enough && (up || down);
    out->cool = !in->warm || (ewin_ratio(&s->hi) < p->shift_clear_up &&
                              ewin_ratio(&s->lo) > p->shift_clear_down);
    out->value = ewin_rate(&s->w);
    out->baseline = ewin_expected_rate(&s->w);
}

void shift_reset(det_shift_t *s)
{
    *s = (det_shift_t){ 0 };
}

int shift_suspicious(const det_shift_t *s, const detect_params_t *p)
{
    return ewin_ratio(&s->hi) > p->shift_clear_up || ewin_ratio(&s->lo) < p->shift_clear_down;
}

double shift_ratio(const det_shift_t *s)
{
    return ewin_ratio(&s->w);
}
