/*
 * testutil.h - small helpers shared by the unit tests (include after
 * <cmocka.h>).
 */
#ifndef SW_TESTUTIL_H
#define SW_TESTUTIL_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SEC INT64_C(1000000000)

/* cmocka 1.1 compares floats only in single precision. */
#define assert_near(a, b, tol)                                                    \
    do {                                                                         \
        double a_ = (a), b_ = (b);                                               \
        if (!(fabs(a_ - b_) <= (tol)))                                           \
            fail_msg("%s = %.17g, want %.17g +- %g", #a, a_, b_, (double)(tol)); \
    } while (0)

/* A new string: `n` copies of `unit` between `head` and `tail` (big or
 * deeply nested YAML, for the loaders' limits). The caller frees it. */
static inline char *tu_repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t h = strlen(head), u = strlen(unit), t = strlen(tail);
    char *s = malloc(h + u * n + t + 1);
    assert_non_null(s);
    memcpy(s, head, h);
    for (size_t i = 0; i < n; i++)
        memcpy(s + h + i * u, unit, u);
    memcpy(s + h + u * n, tail, t + 1);
    return s;
}

#endif
