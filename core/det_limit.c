/*
 * det_limit.c - a User's rate above a fixed limit (det_limit.h).
 */
#include "det_limit.h"

#include "params.h"

void limit_judge(const det_in_t *in, double limit, double baseline_rate, det_out_t *out)
{
    double rate = in->count / ((double)in->dt / SW_NS_PER_S);
    out->hot = limit > 0 && rate > limit;
    out->cool = limit <= 0 || rate <= limit;
    out->value = rate;
    out->baseline = baseline_rate;
    out->onset = INT64_MAX;
    out->end = INT64_MAX;
}
