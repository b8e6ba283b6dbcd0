/*
 * det_limit.h - a fixed limit: a User's rate in a direction above the
 * limit it set for itself (the SEC's Anomaly Detection Thresholds), only
 * where configured (limits.south_rate, limits.north_rate; 0: none). Hot
 * above the limit, cool at or below it; the lifecycle's for and hold are
 * the storm's.
 *
 * DESIGN: no state; any thread.
 */
#ifndef SW_DET_LIMIT_H
#define SW_DET_LIMIT_H

#include "detector.h"

/* `limit` msg/s; 0 or less: none (never hot, always cool). */
void limit_judge(const det_in_t *in, double limit, double baseline_rate, det_out_t *out);

#endif
