/*
 * testutil.h - small helpers shared by the unit tests (include after
 * <cmocka.h>).
 */
#ifndef SW_TESTUTIL_H
#define SW_TESTUTIL_H

#include <math.h>
#include <stdint.h>

#define SEC INT64_C(1000000000)

/* cmocka 1.1 compares floats only in single precision. */
#define assert_near(a, b, tol)                                                    \
    do {                                                                         \
        double a_ = (a), b_ = (b);                                               \
        if (!(fabs(a_ - b_) <= (tol)))                                           \
            fail_msg("%s = %.17g, want %.17g +- %g", #a, a_, b_, (double)(tol)); \
    } while (0)

#endif
