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
    ewin_add(&s->w, in->count, in->exp_mid, in->dt, p->shift_window);
    double r = ewin_ratio(&s->w);
    int long_enough = s->w.secs >= MIN_SPAN * (double)p->shift_window / SW_NS_PER_S;
    int up = ewin_above(&s->w, p->shift_ratio_up, p->shift_z, in->phi, p->shift_min_rate);
    int down = ewin_below(&s->w, p->shift_ratio_down, p->shift_z, in->phi, p->shift_min_rate);
    out->hot = in->warm && !in->learning && long_enough && (up || down);
    out->cool = !in->warm || (r < p->shift_clear_up && r > p->shift_clear_down);
    out->value = ewin_rate(&s->w);
    out->baseline = ewin_expected_rate(&s->w);
}

void shift_reset(det_shift_t *s)
{
    s->w = (ewin_t){ 0 };
}

double shift_ratio(const det_shift_t *s)
{
    return ewin_ratio(&s->w);
}
