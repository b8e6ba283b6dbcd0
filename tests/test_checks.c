/*
 * test_checks.c - tests of the verdict on every declared change
 * (core/checks.h).
 *
 * Buckets of 10 s are fed as the alert stage feeds them, with a level
 * relative to the usual one per direction; each test then reads the check
 * written. Covered: as_declared (and not before end + late), a flood past
 * a declared "no change" (deviated, its level reported), a declared x3
 * met (as_declared) and not met (deviated), stalled deliveries (and a feed
 * that reports none), too little traffic (unverifiable), an alert beyond
 * the declared impact naming the change, a direction the change does not
 * affect, a DCC change over all Users, a withdrawn change and a User never
 * seen (no check), the end of input (judged early, saying so), and sums
 * that do not depend on the order of one event time's buckets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "checks.h"
#include "err.h"
#include "timefmt.h"

#include "testutil.h"
#define MIN (60 * SEC)
#define LATE (30 * MIN)
#define STEP (10 * SEC)
#define RATE 20.0 /* usual msgs per bucket */

typedef struct {
    char lines[8][1024];
    change_check_t last[8];
    int n;
    int known;
} sink_t;

static void emit(void *ctx, const change_check_t *c)
{
    sink_t *s = ctx;
    assert_true(s->n < 8);
    change_check_format_json(c, s->lines[s->n], sizeof(s->lines[0]));
    s->last[s->n] = *c;
    s->n++;
}

static int known(void *ctx, const char *user)
{
    (void)user;
    return ((sink_t *)ctx)->known;
}

static int64_t t0(void)
{
    int64_t ns = 0;
    assert_int_equal(tf_parse_rfc3339("2019-09-12T09:00:00Z", &ns), 0);
    return ns;
}

static void add(changes_t *reg, const char *id, const char *user, unsigned affects,
                int64_t start_min, int64_t end_min, double south, double north, unsigned set)
{
    change_t c = { .id = (char *)id, .user = (char *)user, .kind = (char *)"mdm",
                   .start = t0() + start_min * MIN, .end = t0() + end_min * MIN,
                   .affects = affects, .impact = { south, north }, .impact_set = set };
    assert_int_equal(changes_add(reg, &c), SW_OK);
}

/* Level of each direction over one minute range: south, north, delivered share. */
typedef struct {
    int64_t from_min, to_min;
    double south, north, delivered;
} span_t;

/* Feeds User `user` from minute `from` to `to` (t0-relative), level 1
 * and full delivery outside the spans, advancing event time. */
static void feed(checks_t *ck, const changes_t *reg, sink_t *s, const char *user, int64_t from,
                 int64_t to, const span_t *spans, size_t nspans, int delivered_known)
{
    for (int64_t t = t0() + from * MIN; t < t0() + to * MIN; t += STEP) {
        checks_advance(ck, reg, t, emit, known, s);
        double lv[2] = { 1, 1 }, share = 1;
        for (size_t i = 0; i < nspans; i++)
            if (t >= t0() + spans[i].from_min * MIN && t < t0() + spans[i].to_min * MIN) {
                lv[DIR_SOUTH] = spans[i].south;
                lv[DIR_NORTH] = spans[i].north;
                share = spans[i].delivered;
            }
        for (int d = 0; d < 2; d++) {
            double q = RATE * lv[d];
            checks_bucket(ck, user, d, t, q, RATE, q, d == DIR_NORTH ? q * share : 0,
                          delivered_known && d == DIR_NORTH);
        }
    }
}

typedef struct {
    changes_t *reg;
    checks_t *ck;
    sink_t s;
} fx_t;

static fx_t *fx(void)
{
    fx_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->reg = changes_create();
    f->ck = checks_create(LATE);
    assert_non_null(f->reg);
    assert_non_null(f->ck);
    f->s.known = 1;
    return f;
}

static void fx_free(fx_t *f)
{
    checks_destroy(f->ck);
    changes_destroy(f->reg);
    free(f);
}

static void test_as_declared_after_end_and_slack(void **state)
{
    (void)state;
    fx_t *f = fx();
    add(f->reg, "C1", "U1", CHG_BOTH, 10, 70, 0, 0, 0);
    feed(f->ck, f->reg, &f->s, "U1", 0, 100, NULL, 0, 1);
    assert_int_equal(f->s.n, 0); /* 70 + 30 min: not yet */
    feed(f->ck, f->reg, &f->s, "U1", 100, 101, NULL, 0, 1);
    assert_int_equal(f->s.n, 1);
    assert_int_equal(f->s.last[0].verdict, VERDICT_AS_DECLARED);
    assert_near(f->s.last[0].observed[DIR_SOUTH], 1.0, 1e-9);
    assert_near(f->s.last[0].delivered, 1.0, 1e-9);
    assert_non_null(strstr(f->s.lines[0], "{\"change\":\"C1\",\"user\":\"U1\",\"verdict\":"
                                          "\"as_declared\",\"from\":\"2019-09-12T09:10:00Z\","
                                          "\"to\":\"2019-09-12T10:10:00Z\",\"declared\":"
                                          "{\"south\":1.0,\"north\":1.0},\"observed\":"
                                          "{\"south\":1.00,\"north\":1.00,\"delivered\":1.00},"
                                          "\"incidents\":[],\"summary\":\"traffic stayed"));
    /* judged once */
    feed(f->ck, f->reg, &f->s, "U1", 101, 200, NULL, 0, 1);
    assert_int_equal(f->s.n, 1);
    fx_free(f);
}

static void test_flood_past_no_change_deviates(void **state)
{
    (void)state;
    fx_t *f = fx();
    add(f->reg, "C1", "U1", CHG_SOUTH, 0, 120, 0, 0, 0);
    span_t flood = { 30, 50, 8, 1, 1 };
    feed(f->ck, f->reg, &f->s, "U1", 0, 151, &flood, 1, 1);
    assert_int_equal(f->s.n, 1);
    assert_int_equal(f->s.last[0].verdict, VERDICT_DEVIATED);
    assert_near(f->s.last[0].observed[DIR_SOUTH], 8.0, 1e-9);
    assert_non_null(strstr(f->s.lines[0], "declared no change in traffic; southbound requests "
                                          "ran at 8.0x the usual level"));
    fx_free(f);
}

static void test_short_blip_stays_as_declared(void **state)
{
    (void)state;
    fx_t *f = fx();
    add(f->reg, "C1", "U1", CHG_SOUTH, 0, 120, 0, 0, 0);
    span_t blip = { 30, 33, 3, 1, 1 }; /* 3 min at x3: x1.4 over a quarter of an hour */
    feed(f->ck, f->reg, &f->s, "U1", 0, 151, &blip, 1, 1);
    assert_int_equal(f->s.n, 1);
    assert_int_equal(f->s.last[0].verdict, VERDICT_AS_DECLARED);
    fx_free(f);
}

static void test_declared_x3(void **state)
{
    (void)state;
    fx_t *f = fx();
    add(f->reg, "MET", "U1", CHG_SOUTH, 0, 60, 3, 0, CHG_SOUTH);
    add(f->reg, "UNMET", "U2", CHG_SOUTH, 0, 60, 3, 0, CHG_SOUTH);
    span_t x3 = { 0, 60, 3, 1, 1 };
    feed(f->ck, f->reg, &f->s, "U1", 0, 60, &x3, 1, 1);
    feed(f->ck, f->reg, &f->s, "U2", 0, 91, NULL, 0, 1);
    assert_int_equal(f->s.n, 2);
    const change_check_t *met = &f->s.last[0], *unmet = &f->s.last[1];
    if (strcmp(met->change->id, "MET")) {
        met = &f->s.last[1];
        unmet = &f->s.last[0];
    }
    assert_int_equal(met->verdict, VERDICT_AS_DECLARED);
    assert_near(met->observed[DIR_SOUTH], 3.0, 1e-9);
    assert_int_equal(unmet->verdict, VERDICT_DEVIATED);
    assert_non_null(strstr(unmet->summary, "declared 3.0x south; southbound requests ran at "
                                           "1.0x"));
    fx_free(f);
}

static void test_deliveries_stalled(void **state)
{
    (void)state;
    fx_t *f = fx();
    add(f->reg, "FW", "U1", CHG_NORTH, 0, 60, 0, 0, 0);
    add(f->reg, "BLIND", "U2", CHG_NORTH, 0, 60, 0, 0, 0);
    span_t blocked = { 10, 40, 1, 1, 0.05 };
    feed(f->ck, f->reg, &f->s, "U1", 0, 60, &blocked, 1, 1);
    /* a feed that reports no deliveries says nothing of them */
    feed(f->ck, f->reg, &f->s, "U2", 0, 91, &blocked, 1, 0);
    assert_int_equal(f->s.n, 2);
    for (int i = 0; i < 2; i++) {
        const change_check_t *c = &f->s.last[i];
        if (!strcmp(c->change->id, "FW")) {
            assert_int_equal(c->verdict, VERDICT_DEVIATED);
            assert_near(c->delivered, 0.05, 1e-9);
            assert_non_null(strstr(c->summary, "northbound deliveries fell to 5%"));
        } else {
            assert_int_equal(c->verdict, VERDICT_AS_DECLARED);
            assert_true(c->delivered < 0);
            assert_non_null(strstr(f->s.lines[i], "\"delivered\":null"));
        }
    }
    fx_free(f);
}

static void test_too_little_traffic_unverifiable(void **state)
{
    (void)state;
    fx_t *f = fx();
    add(f->reg, "C1", "U1", CHG_BOTH, 0, 10, 0, 0, 0);
    /* 0.02 messages a bucket: 1.2 in ten minutes */
    for (int64_t t = t0(); t < t0() + 50 * MIN; t += STEP) {
        checks_advance(f->ck, f->reg, t, emit, known, &f->s);
        checks_bucket(f->ck, "U1", DIR_SOUTH, t, 0.02 * 9, 0.02, 0.02 * 9, 0, 0);
    }
    assert_int_equal(f->s.n, 1);
    assert_int_equal(f->s.last[0].verdict, VERDICT_UNVERIFIABLE);
    assert_non_null(strstr(f->s.lines[0], "\"observed\":{\"south\":null,\"north\":null"));
    fx_free(f);
}

static void test_named_beyond_impact_deviates(void **state)
{
    (void)state;
    fx_t *f = fx();
    add(f->reg, "C1", "U1", CHG_BOTH, 0, 60, 0, 0, 0);
    add(f->reg, "C2", "U2", CHG_BOTH, 0, 60, 0, 0, 0);
    feed(f->ck, f->reg, &f->s, "U1", 0, 5, NULL, 0, 1);
    checks_named(f->ck, f->reg, "C1", 7, 1);
    checks_named(f->ck, f->reg, "C1", 7, 1); /* twice: listed once */
    checks_named(f->ck, f->reg, "C2", 9, 0); /* within its impact: named only */
    feed(f->ck, f->reg, &f->s, "U1", 5, 60, NULL, 0, 1);
    feed(f->ck, f->reg, &f->s, "U2", 60, 91, NULL, 0, 1);
    assert_int_equal(f->s.n, 2);
    for (int i = 0; i < 2; i++) {
        const change_check_t *c = &f->s.last[i];
        if (!strcmp(c->change->id, "C1")) {
            assert_int_equal(c->verdict, VERDICT_DEVIATED);
            assert_non_null(strstr(f->s.lines[i], "\"incidents\":[\"INC-0007\"]"));
        } else {
            assert_int_equal(c->verdict, VERDICT_UNVERIFIABLE); /* U2 fed after its window */
            assert_non_null(strstr(f->s.lines[i], "\"incidents\":[\"INC-0009\"]"));
        }
    }
    fx_free(f);
}

static void test_unaffected_direction_not_judged(void **state)
{
    (void)state;
    fx_t *f = fx();
    add(f->reg, "C1", "U1", CHG_NORTH, 0, 60, 0, 0, 0);
    span_t flood = { 10, 40, 8, 1, 1 }; /* southbound: another cause */
    feed(f->ck, f->reg, &f->s, "U1", 0, 91, &flood, 1, 1);
    assert_int_equal(f->s.n, 1);
    assert_int_equal(f->s.last[0].verdict, VERDICT_AS_DECLARED);
    assert_true(f->s.last[0].observed[DIR_SOUTH] > 2); /* reported all the same */
    fx_free(f);
}

static void test_dcc_over_all_users(void **state)
{
    (void)state;
    fx_t *f = fx();
    add(f->reg, "PM", "DCC", CHG_BOTH, 0, 30, 0, 0, 0);
    span_t slow = { 0, 30, 0.2, 0.2, 1 };
    for (int64_t t = t0(); t < t0() + 61 * MIN; t += STEP) {
        checks_advance(f->ck, f->reg, t, emit, known, &f->s);
        int in = t < t0() + 30 * MIN;
        for (int u = 0; u < 3; u++) { /* each User a third of the usual level */
            char user[8];
            snprintf(user, sizeof(user), "U%d", u);
            double q = RATE / 3 * (in ? slow.south : 1);
            checks_bucket(f->ck, user, DIR_SOUTH, t, q, RATE / 3, q, 0, 0);
        }
    }
    assert_int_equal(f->s.n, 1);
    assert_int_equal(f->s.last[0].verdict, VERDICT_DEVIATED);
    assert_near(f->s.last[0].observed[DIR_SOUTH], 0.2, 1e-3); /* sums in 1/1024 */
    fx_free(f);
}

static void test_withdrawn_or_unseen_gets_none(void **state)
{
    (void)state;
    fx_t *f = fx();
    add(f->reg, "GONE", "U1", CHG_BOTH, 0, 30, 0, 0, 0);
    add(f->reg, "ELSEWHERE", "U9", CHG_BOTH, 0, 30, 0, 0, 0);
    feed(f->ck, f->reg, &f->s, "U1", 0, 10, NULL, 0, 1);
    assert_int_equal(changes_remove(f->reg, "GONE"), SW_OK);
    checks_register_changed(f->ck);
    f->s.known = 0; /* U9 is another instance's */
    feed(f->ck, f->reg, &f->s, "U1", 10, 100, NULL, 0, 1);
    assert_int_equal(f->s.n, 0);
    assert_int_equal(checks_watching(f->ck), 0);
    fx_free(f);
}

static void test_end_of_input_judges_early(void **state)
{
    (void)state;
    fx_t *f = fx();
    add(f->reg, "C1", "U1", CHG_NORTH, 0, 120, 0, 0, 0);
    add(f->reg, "LATER", "U1", CHG_NORTH, 200, 220, 0, 0, 0);
    span_t blocked = { 10, 40, 1, 1, 0 };
    feed(f->ck, f->reg, &f->s, "U1", 0, 60, &blocked, 1, 1);
    assert_int_equal(f->s.n, 0);
    checks_finish(f->ck, f->reg, t0() + 60 * MIN, emit, known, &f->s);
    assert_int_equal(f->s.n, 1); /* LATER never started: none */
    assert_int_equal(f->s.last[0].verdict, VERDICT_DEVIATED);
    assert_non_null(strstr(f->s.last[0].summary, "(judged on its traffic up to the end of the "
                                                 "input, 2019-09-12T10:00:00Z)"));
    fx_free(f);
}

/* One event time's buckets in another order: byte-identical checks. */
static void test_order_of_buckets_changes_nothing(void **state)
{
    (void)state;
    char out[2][1024];
    for (int order = 0; order < 2; order++) {
        fx_t *f = fx();
        add(f->reg, "PM", "DCC", CHG_BOTH, 0, 30, 0, 0, 0);
        for (int64_t t = t0(); t < t0() + 61 * MIN; t += STEP) {
            checks_advance(f->ck, f->reg, t, emit, known, &f->s);
            for (int k = 0; k < 5; k++) {
                int u = order ? 4 - k : k;
                char user[8];
                snprintf(user, sizeof(user), "U%d", u);
                double exp = 0.1 * (u + 1) + 1.0 / 3.0; /* not exact in binary */
                checks_bucket(f->ck, user, DIR_SOUTH, t, exp * 1.37, exp, exp, 0, 0);
            }
        }
        assert_int_equal(f->s.n, 1);
        memcpy(out[order], f->s.lines[0], sizeof(out[0]));
        fx_free(f);
    }
    assert_string_equal(out[0], out[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_as_declared_after_end_and_slack),
        cmocka_unit_test(test_flood_past_no_change_deviates),
        cmocka_unit_test(test_short_blip_stays_as_declared),
        cmocka_unit_test(test_declared_x3),
        cmocka_unit_test(test_deliveries_stalled),
        cmocka_unit_test(test_too_little_traffic_unverifiable),
        cmocka_unit_test(test_named_beyond_impact_deviates),
        cmocka_unit_test(test_unaffected_direction_not_judged),
        cmocka_unit_test(test_dcc_over_all_users),
        cmocka_unit_test(test_withdrawn_or_unseen_gets_none),
        cmocka_unit_test(test_end_of_input_judges_early),
        cmocka_unit_test(test_order_of_buckets_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
