/*
 * lineproto_int.h - between the parser's two halves: lp_parse() tries the
 * fast path (lineproto_fast.c) and falls back to the full parser
 * (lineproto.c) when the fast path is unsure. Private to those files.
 */
#ifndef SW_LINEPROTO_INT_H
#define SW_LINEPROTO_INT_H

#include "lineproto.h"

/* The fast path's answer when the line needs the full parser. */
#define LP_FAST_UNSURE LP_NRESULTS

/*
 * LP_OK and *out filled, for a line of the common shape that the full
 * parser would also take as LP_OK with the same sample; LP_FAST_UNSURE
 * (nothing written) for every other line.
 */
lp_result_t lp_parse_fast(const char *line, size_t len, int64_t ts_mult, lp_sample_t *out);

#endif
