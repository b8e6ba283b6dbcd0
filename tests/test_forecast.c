/*
 * test_forecast.c - tests of the warning for a User's day running ahead of
 * its Service Request forecast (core/forecast.h).
 *
 * A User with a daily profile (quiet nights, busy days) is fed a day at its
 * forecast, learning the profile, then a day at 1.5x: it fires by
 * mid-morning, and the day's end resolves it. Also: a day on track never
 * fires; a User without a forecast is not watched; on the first day (no
 * profile yet) the alert says it is learning; a projection falling back
 * under the clear bar resolves; a handful of requests early in the day
 * proves nothing; a User first counted at noon is projected from then.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "err.h"
#include "forecast.h"
#include "timefmt.h"

#include "testutil.h"
#define HOUR (3600 * SEC)
#define DAY (24 * HOUR)
#define STEP (60 * SEC)
#define PER_DAY 1200000.0

static int32_t day0(void)
{
    int64_t ns = 0;
    assert_int_equal(tf_parse_rfc3339("2019-09-01T00:00:00Z", &ns), 0);
    return (int32_t)(ns / DAY);
}

/* The share of a usual day sent in hour h: a tenth as much at night. */
static double weight(int h)
{
    return h < 6 || h >= 22 ? 0.1 : 1.0;
}

static double day_weight(void)
{
    double w = 0;
    for (int h = 0; h < 24; h++)
        w += weight(h);
    return w;
}

typedef struct {
    changes_t *reg;
    forecasts_t *f;
    forecast_event_t ev[16];
    int n;
} fx_t;

static fx_t *fx(const char *user)
{
    fx_t *x = calloc(1, sizeof(*x));
    assert_non_null(x);
    x->reg = changes_create();
    x->f = forecasts_create();
    assert_non_null(x->reg);
    assert_non_null(x->f);
    if (user) {
        forecast_t fc = { .user = (char *)user, .from_day = day0(), .to_day = day0() + 30,
                          .per_day = PER_DAY };
        assert_int_equal(changes_add_forecast(x->reg, &fc), SW_OK);
    }
    return x;
}

static void fx_free(fx_t *x)
{
    forecasts_destroy(x->f);
    changes_destroy(x->reg);
    free(x);
}

/* Feeds `user` day `d` (from day0) from hour `from` to `to` at `scale`
 * times the forecast, shaped by weight(). */
static void feed(fx_t *x, const char *user, int d, int from, int to, double scale)
{
    int64_t start = (int64_t)(day0() + d) * DAY;
    for (int64_t t = start + from * HOUR; t < start + to * HOUR; t += STEP) {
        int h = (int)((t - start) / HOUR);
        double q = scale * PER_DAY * weight(h) / day_weight() / 60.0;
        forecast_event_t out[2];
        size_t n = forecasts_bucket(x->f, x->reg, user, t, STEP, q, out);
        for (size_t i = 0; i < n; i++) {
            assert_true(x->n < 16);
            x->ev[x->n++] = out[i];
        }
    }
}

static void test_ahead_fires_by_mid_morning_and_resolves_at_midnight(void **state)
{
    (void)state;
    fx_t *x = fx("U1");
    feed(x, "U1", 0, 0, 24, 1.0); /* a day on its forecast: the profile */
    assert_int_equal(x->n, 0);
    feed(x, "U1", 1, 0, 24, 1.5);
    assert_int_equal(x->n, 1);
    assert_int_equal(x->ev[0].fire, 1);
    assert_false(x->ev[0].learning);
    int64_t day1 = (int64_t)(day0() + 1) * DAY;
    assert_true(x->ev[0].at <= day1 + 10 * HOUR); /* by mid-morning */
    assert_near(x->ev[0].projected / PER_DAY, 1.5, 0.1);
    assert_near(x->ev[0].forecast, PER_DAY, 1e-9);
    feed(x, "U1", 2, 0, 1, 1.0);
    assert_int_equal(x->n, 2);
    assert_int_equal(x->ev[1].fire, 0);
    assert_int_equal(x->ev[1].id, x->ev[0].id);
    assert_int_equal(x->ev[1].ends_at, (int64_t)(day0() + 2) * DAY);
    fx_free(x);
}

static void test_on_track_never_fires(void **state)
{
    (void)state;
    fx_t *x = fx("U1");
    feed(x, "U1", 0, 0, 24, 1.0);
    feed(x, "U1", 1, 0, 24, 1.1); /* a busy day, within the bar */
    assert_int_equal(x->n, 0);
    fx_free(x);
}

static void test_no_forecast_not_watched(void **state)
{
    (void)state;
    fx_t *x = fx("U1");
    feed(x, "U2", 0, 0, 24, 5.0);
    assert_int_equal(x->n, 0);
    assert_int_equal(forecasts_watching(x->f), 1);
    fx_free(x);
}

static void test_first_day_is_learning(void **state)
{
    (void)state;
    fx_t *x = fx("U1");
    feed(x, "U1", 0, 0, 24, 2.0); /* no profile: an even spread is assumed */
    assert_true(x->n >= 1);
    assert_int_equal(x->ev[0].fire, 1);
    assert_true(x->ev[0].learning);
    fx_free(x);
}

static void test_projection_falling_back_resolves(void **state)
{
    (void)state;
    fx_t *x = fx("U1");
    feed(x, "U1", 0, 0, 24, 1.0);
    feed(x, "U1", 1, 0, 9, 1.6);
    assert_int_equal(x->n, 1);
    assert_int_equal(x->ev[0].fire, 1);
    feed(x, "U1", 1, 9, 24, 0.3); /* the rest of the day quiet */
    assert_int_equal(x->n, 2);
    assert_int_equal(x->ev[1].fire, 0);
    assert_true(x->ev[1].ends_at < (int64_t)(day0() + 2) * DAY);
    assert_int_equal(x->ev[1].ends_at, x->ev[1].at);
    fx_free(x);
}

static void test_too_early_proves_nothing(void **state)
{
    (void)state;
    fx_t *x = fx("U1");
    feed(x, "U1", 0, 0, 24, 1.0);
    /* the first minutes of a day at x3: under FORECAST_MIN_SHARE of a day */
    int64_t start = (int64_t)(day0() + 1) * DAY;
    forecast_event_t out[2];
    double q = 3 * PER_DAY * weight(0) / day_weight() / 60.0;
    for (int64_t t = start; t < start + 10 * STEP; t += STEP)
        assert_int_equal(forecasts_bucket(x->f, x->reg, "U1", t, STEP, q, out), 0);
    fx_free(x);
}

/* A User first counted at noon (new, or the daemon restarted) is projected
 * from what came since, not as if the morning had been silent. */
static void test_mid_day_start_projects_from_then(void **state)
{
    (void)state;
    fx_t *x = fx("U1");
    feed(x, "U1", 0, 12, 18, 2.0);
    assert_int_equal(x->n, 1);
    assert_int_equal(x->ev[0].fire, 1);
    assert_true(x->ev[0].projected > 2 * PER_DAY);
    fx_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ahead_fires_by_mid_morning_and_resolves_at_midnight),
        cmocka_unit_test(test_on_track_never_fires),
        cmocka_unit_test(test_no_forecast_not_watched),
        cmocka_unit_test(test_first_day_is_learning),
        cmocka_unit_test(test_projection_falling_back_resolves),
        cmocka_unit_test(test_too_early_proves_nothing),
        cmocka_unit_test(test_mid_day_start_projects_from_then),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
