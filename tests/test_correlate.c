/*
 * test_correlate.c - tests of scoring declared changes against an alert
 * (core/correlate.h).
 *
 * corr_score(): full marks inside the window at the start, linear decay
 * to zero over `early` before and `late` after, the proximity factor, the
 * direction factor CORR_WRONG_DIR and the kind affinity table.
 * corr_best(): only the alert's own User and DCC changes count, own beats
 * DCC, min_score sends weak fits to "undeclared", the best of competing
 * changes wins, an exact tie goes to the smaller id, and a change declared
 * a few minutes late still wins with the default parameters. Each test builds its own register and destroys it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "correlate.h"
#include "err.h"
#include "timefmt.h"

#include "testutil.h"
#define MIN (60 * SEC)


/* 2019-09-12T09:00:00Z, the reference time of every test. */
static int64_t t0(void)
{
    int64_t ns = 0;
    assert_int_equal(tf_parse_rfc3339("2019-09-12T09:00:00Z", &ns), 0);
    return ns;
}

/* A change of `user` from t0+start_min to t0+end_min (minutes). */
static change_t chg(const char *id, const char *user, const char *kind, unsigned affects,
                    int64_t start_min, int64_t end_min)
{
    return (change_t){
        .id = (char *)id,
        .user = (char *)user,
        .title = (char *)"test change",
        .kind = (char *)kind,
        .start = t0() + start_min * MIN,
        .end = t0() + end_min * MIN,
        .affects = affects,
    };
}

static void add(changes_t *reg, change_t c)
{
    assert_int_equal(changes_add(reg, &c), SW_OK);
}

/* Params with no proximity effect, so time = fit over the window. */
static corr_params_t flat_params(void)
{
    corr_params_t p;
    corr_params_defaults(&p);
    p.proximity = INT64_C(1000000) * 3600 * SEC; /* a million hours */
    return p;
}

static void test_kind_affinity(void **state)
{
    (void)state;
    assert_near(corr_kind_affinity("firewall", ALERT_BLOCKED, DIR_NORTH), 1.0, 0);
    assert_near(corr_kind_affinity("FireWall", ALERT_BLOCKED, DIR_NORTH), 1.0, 0);
    assert_near(corr_kind_affinity("firewall", ALERT_SILENCE, DIR_SOUTH), 1.0, 0);
    assert_near(corr_kind_affinity("firewall", ALERT_STORM, DIR_SOUTH), 0.3, 0);
    assert_near(corr_kind_affinity("mdm", ALERT_STORM, DIR_SOUTH), 1.0, 0);
    assert_near(corr_kind_affinity("mdm", ALERT_STORM, DIR_NORTH), 0.6, 0);
    assert_near(corr_kind_affinity("firmware", ALERT_STORM, DIR_NORTH), 1.0, 0);
    assert_near(corr_kind_affinity("firmware", ALERT_LIMIT, DIR_NORTH), 1.0, 0);
    assert_near(corr_kind_affinity("maintenance", ALERT_BLOCKED, DIR_NORTH), 1.0, 0);
    /* unknown or absent kinds get a middling, not a zero, affinity */
    double unknown = corr_kind_affinity("catering", ALERT_BLOCKED, DIR_NORTH);
    assert_true(unknown > 0.3 && unknown < 1.0);
    assert_near(corr_kind_affinity(NULL, ALERT_BLOCKED, DIR_NORTH), unknown, 0);
    /* a prefix of a known kind is not that kind */
    assert_near(corr_kind_affinity("fire", ALERT_BLOCKED, DIR_NORTH), unknown, 0);
}

/* Onset at the start of a matching change: full marks. */
static void test_score_inside_at_start_is_one(void **state)
{
    (void)state;
    corr_params_t p;
    corr_params_defaults(&p);
    change_t c = chg("C1", "U1", "firewall", CHG_NORTH, 0, 60);
    assert_near(corr_score(&c, &p, ALERT_BLOCKED, DIR_NORTH, c.start), 1.0, 1e-12);
    /* the kind scales it */
    assert_near(corr_score(&c, &p, ALERT_STORM, DIR_NORTH, c.start), 0.3, 1e-12);
}

/* Inside the window scores more than the same distance outside. */
/* Found by fuzz_changes: a change centuries from the onset overflowed the
 * int64 difference of times; it must simply not fit. */
static void test_far_apart_times_score_zero(void **state)
{
    (void)state;
    corr_params_t p;
    corr_params_defaults(&p);
    change_t c = chg("PM-1700", "DCC", "maintenance", CHG_BOTH, 0, 60);
    c.start = INT64_MIN + 2; /* 1677 */
    c.end = c.start + 86400 * (int64_t)1000000000;
    assert_true(corr_score(&c, &p, ALERT_FEED, DIR_BOTH, INT64_MAX - 1) == 0.0);
    c.start = INT64_MAX - 2 * 86400 * (int64_t)1000000000; /* 2262 */
    c.end = INT64_MAX - 1;
    assert_true(corr_score(&c, &p, ALERT_STORM, DIR_NORTH, INT64_MIN + 2) == 0.0);
}

static void test_inside_beats_outside(void **state)
{
    (void)state;
    corr_params_t p;
    corr_params_defaults(&p);
    change_t c = chg("C1", "U1", "firewall", CHG_BOTH, 0, 30);
    double inside = corr_score(&c, &p, ALERT_BLOCKED, DIR_NORTH, c.start + 5 * MIN);
    double before = corr_score(&c, &p, ALERT_BLOCKED, DIR_NORTH, c.start - 5 * MIN);
    double after = corr_score(&c, &p, ALERT_BLOCKED, DIR_NORTH, c.end + 5 * MIN);
    assert_true(inside > before);
    assert_true(inside > after);
    assert_true(before > 0 && after > 0);
    /* inside, the score falls as the onset moves away from the start */
    double later = corr_score(&c, &p, ALERT_BLOCKED, DIR_NORTH, c.start + 25 * MIN);
    assert_true(later < inside);
    assert_true(later > after);
    /* never outside [0, 1] */
    for (int64_t m = -30; m <= 90; m++) {
        double s = corr_score(&c, &p, ALERT_BLOCKED, DIR_NORTH, c.start + m * MIN);
        assert_true(s >= 0.0 && s <= 1.0);
    }
}

/*
 * Before the start (a change declared late) the fit falls linearly from 1 to
 * CORR_LATE_FLOOR over `early`, then nothing; after the end it falls to 0
 * over `late`.
 */
static void test_linear_decay_to_zero(void **state)
{
    (void)state;
    corr_params_t p = flat_params(); /* early 15 min, late 30 min */
    change_t c = chg("C1", "U1", "firewall", CHG_BOTH, 0, 60);
    const alert_kind_t k = ALERT_BLOCKED;
    const int d = DIR_NORTH;
    const double f = CORR_LATE_FLOOR;
    assert_near(corr_score(&c, &p, k, d, c.start - p.early / 4), 1.0 - f / 4, 1e-4);
    assert_near(corr_score(&c, &p, k, d, c.start - p.early / 2), 1.0 - f / 2, 1e-4);
    assert_near(corr_score(&c, &p, k, d, c.start - 3 * p.early / 4), 1.0 - 3 * f / 4, 1e-4);
    assert_near(corr_score(&c, &p, k, d, c.start - p.early), 1.0 - f, 1e-4);
    assert_near(corr_score(&c, &p, k, d, c.start - p.early - SEC), 0.0, 0);
    assert_near(corr_score(&c, &p, k, d, c.start - 2 * p.early), 0.0, 0);
    assert_near(corr_score(&c, &p, k, d, c.end + p.late / 4), 0.75, 1e-4);
    assert_near(corr_score(&c, &p, k, d, c.end + p.late / 2), 0.5, 1e-4);
    assert_near(corr_score(&c, &p, k, d, c.end + p.late), 0.0, 0);
    assert_near(corr_score(&c, &p, k, d, c.end + 10 * p.late), 0.0, 0);
    assert_near(corr_score(&c, &p, k, d, c.end), 1.0, 1e-4);

    /* early = 0 / late = 0: nothing outside the window fits */
    p.early = 0;
    p.late = 0;
    assert_near(corr_score(&c, &p, k, d, c.start - 1), 0.0, 0);
    assert_near(corr_score(&c, &p, k, d, c.end + 1), 0.0, 0);
    assert_true(corr_score(&c, &p, k, d, c.start) > 0.99);
}

/* Proximity: an onset long after the start keeps half the time score. */
static void test_proximity(void **state)
{
    (void)state;
    corr_params_t p;
    corr_params_defaults(&p);
    change_t c = chg("C1", "U1", "network", CHG_BOTH, 0, 24 * 60);
    double at_start = corr_score(&c, &p, ALERT_SILENCE, DIR_SOUTH, c.start);
    double one_prox = corr_score(&c, &p, ALERT_SILENCE, DIR_SOUTH, c.start + p.proximity);
    double far = corr_score(&c, &p, ALERT_SILENCE, DIR_SOUTH, c.start + 20 * p.proximity);
    assert_near(at_start, 1.0, 1e-12);
    assert_true(one_prox < at_start && one_prox > far);
    assert_near(far, 0.5, 1e-6);
}

/* A change that does not affect the alert's direction: x CORR_WRONG_DIR. */
static void test_direction_mismatch(void **state)
{
    (void)state;
    corr_params_t p;
    corr_params_defaults(&p);
    change_t north = chg("C1", "U1", "firewall", CHG_NORTH, 0, 60);
    change_t south = chg("C2", "U1", "firewall", CHG_SOUTH, 0, 60);
    change_t both = chg("C3", "U1", "firewall", CHG_BOTH, 0, 60);
    int64_t onset = north.start + 10 * MIN;
    double right = corr_score(&north, &p, ALERT_BLOCKED, DIR_NORTH, onset);
    double wrong = corr_score(&south, &p, ALERT_BLOCKED, DIR_NORTH, onset);
    double any = corr_score(&both, &p, ALERT_BLOCKED, DIR_NORTH, onset);
    assert_true(right > 0);
    assert_near(wrong, right * CORR_WRONG_DIR, 1e-12);
    assert_near(any, right, 1e-12);
    assert_near(corr_score(&south, &p, ALERT_BLOCKED, DIR_SOUTH, onset), right, 1e-12);
}

/* Another User's change is never chosen, however well it fits. */
static void test_other_users_change_ignored(void **state)
{
    (void)state;
    corr_params_t p;
    corr_params_defaults(&p);
    changes_t *reg = changes_create();
    assert_non_null(reg);
    add(reg, chg("C-U2", "U2", "firewall", CHG_BOTH, 0, 60));
    add(reg, chg("C-U10", "U10", "firewall", CHG_BOTH, 0, 60)); /* U1 is a prefix */
    add(reg, chg("C-dcc", "dcc", "firewall", CHG_BOTH, 0, 60)); /* not "DCC" */
    corr_result_t r = corr_best(reg, &p, "U1", ALERT_BLOCKED, DIR_NORTH, t0());
    assert_int_equal(r.type, CORR_UNDECLARED);
    assert_null(r.change);
    assert_near(r.score, 0.0, 0);
    /* while U2 gets its own */
    r = corr_best(reg, &p, "U2", ALERT_BLOCKED, DIR_NORTH, t0());
    assert_int_equal(r.type, CORR_DECLARED);
    assert_non_null(r.change);
    assert_string_equal(r.change->id, "C-U2");
    changes_destroy(reg);
}

/*
 * The User's own change beats DCC maintenance that fits a little better,
 * but not maintenance that explains the alert clearly better (by more
 * than CORR_OWN_MARGIN).
 */
static void test_own_preferred_over_dcc(void **state)
{
    (void)state;
    corr_params_t p;
    corr_params_defaults(&p);
    changes_t *reg = changes_create();
    assert_non_null(reg);
    add(reg, chg("DCC-PM-1", CHG_DCC_USER, "maintenance", CHG_BOTH, 0, 60));
    add(reg, chg("C-own", "U1", "firewall", CHG_NORTH, -10, 60)); /* weaker, still fits */
    int64_t onset = t0();
    double own_s = corr_score(changes_find(reg, "C-own"), &p, ALERT_BLOCKED, DIR_NORTH, onset);
    double dcc_s = corr_score(changes_find(reg, "DCC-PM-1"), &p, ALERT_BLOCKED, DIR_NORTH, onset);
    assert_true(own_s >= p.min_score && own_s < dcc_s && own_s >= dcc_s - CORR_OWN_MARGIN);
    corr_result_t r = corr_best(reg, &p, "U1", ALERT_BLOCKED, DIR_NORTH, onset);
    assert_int_equal(r.type, CORR_DECLARED);
    assert_string_equal(r.change->id, "C-own");
    assert_near(r.score, own_s, 1e-12);

    /* a head-end change fits a blocked route poorly: the maintenance wins */
    assert_int_equal(changes_remove(reg, "C-own"), SW_OK);
    add(reg, chg("C-headend", "U1", "headend", CHG_SOUTH, -40, 60));
    own_s = corr_score(changes_find(reg, "C-headend"), &p, ALERT_BLOCKED, DIR_NORTH, onset);
    assert_true(own_s >= p.min_score && own_s < dcc_s - CORR_OWN_MARGIN);
    r = corr_best(reg, &p, "U1", ALERT_BLOCKED, DIR_NORTH, onset);
    assert_int_equal(r.type, CORR_MAINTENANCE);
    assert_string_equal(r.change->id, "DCC-PM-1");
    assert_near(r.score, dcc_s, 1e-12);
    changes_destroy(reg);
}

/* DCC maintenance when no own change fits; undeclared below min_score. */
static void test_dcc_then_undeclared(void **state)
{
    (void)state;
    corr_params_t p;
    corr_params_defaults(&p);
    changes_t *reg = changes_create();
    assert_non_null(reg);
    add(reg, chg("C-own-old", "U1", "firewall", CHG_BOTH, -600, -300)); /* ended 5 h ago */
    add(reg, chg("DCC-PM-1", CHG_DCC_USER, "maintenance", CHG_BOTH, -5, 60));
    corr_result_t r = corr_best(reg, &p, "U1", ALERT_SILENCE, DIR_SOUTH, t0());
    assert_int_equal(r.type, CORR_MAINTENANCE);
    assert_string_equal(r.change->id, "DCC-PM-1");
    assert_true(r.score >= p.min_score);
    /* DCC changes apply to the whole feed too */
    r = corr_best(reg, &p, "*", ALERT_FEED, DIR_BOTH, t0());
    assert_int_equal(r.type, CORR_MAINTENANCE);

    /* an onset far from every change: undeclared */
    r = corr_best(reg, &p, "U1", ALERT_SILENCE, DIR_SOUTH, t0() + 24 * 60 * MIN);
    assert_int_equal(r.type, CORR_UNDECLARED);
    assert_null(r.change);

    /* a fit that scores above zero but below min_score is no explanation */
    int64_t onset = t0() + 60 * MIN + p.late * 4 / 5; /* fit 0.2 on the DCC change */
    double s = corr_score(changes_find(reg, "DCC-PM-1"), &p, ALERT_SILENCE, DIR_SOUTH, onset);
    assert_true(s > 0 && s < p.min_score);
    r = corr_best(reg, &p, "U1", ALERT_SILENCE, DIR_SOUTH, onset);
    assert_int_equal(r.type, CORR_UNDECLARED);
    assert_null(r.change);

    /* no register at all */
    r = corr_best(NULL, &p, "U1", ALERT_SILENCE, DIR_SOUTH, t0());
    assert_int_equal(r.type, CORR_UNDECLARED);
    assert_null(r.change);
    changes_destroy(reg);
}

/* Competing changes of one User: direction, kind and a closer start win. */
static void test_competing_changes(void **state)
{
    (void)state;
    corr_params_t p;
    corr_params_defaults(&p);
    changes_t *reg = changes_create();
    assert_non_null(reg);
    /* onset t0; every change is in progress at the onset */
    add(reg, chg("C-wrong-dir", "U1", "firewall", CHG_SOUTH, -2, 60));
    add(reg, chg("C-wrong-kind", "U1", "firmware", CHG_NORTH, -2, 60));
    add(reg, chg("C-early-start", "U1", "firewall", CHG_NORTH, -50, 60));
    add(reg, chg("C-right", "U1", "firewall", CHG_NORTH, -2, 60));
    add(reg, chg("C-other-user", "U2", "firewall", CHG_NORTH, 0, 60));
    corr_result_t r = corr_best(reg, &p, "U1", ALERT_BLOCKED, DIR_NORTH, t0());
    assert_int_equal(r.type, CORR_DECLARED);
    assert_string_equal(r.change->id, "C-right");
    for (size_t i = 0; i < changes_count(reg); i++) {
        const change_t *c = changes_get(reg, i);
        if (strcmp(c->user, "U1") == 0 && c != r.change)
            assert_true(corr_score(c, &p, ALERT_BLOCKED, DIR_NORTH, t0()) < r.score);
    }
    /* insertion order does not matter: remove and re-add the winner first */
    changes_t *reg2 = changes_create();
    assert_non_null(reg2);
    add(reg2, *changes_find(reg, "C-right"));
    for (size_t i = 0; i < changes_count(reg); i++)
        if (strcmp(changes_get(reg, i)->id, "C-right") != 0)
            add(reg2, *changes_get(reg, i));
    corr_result_t r2 = corr_best(reg2, &p, "U1", ALERT_BLOCKED, DIR_NORTH, t0());
    assert_string_equal(r2.change->id, "C-right");
    assert_near(r2.score, r.score, 1e-12);
    changes_destroy(reg2);
    changes_destroy(reg);
}

/*
 * Twenty minutes before a change's start: a User's change still explains
 * the alert (declared late), DCC maintenance does not (the DSP starts its
 * own work when it says); five minutes before, both do.
 */
static void test_late_dcc_work_no_fit(void **state)
{
    (void)state;
    corr_params_t p;
    corr_params_defaults(&p);
    change_t own = chg("C-own", "U1", "mdm", CHG_SOUTH, 20, 60);
    change_t dcc = chg("DCC-PM-1", CHG_DCC_USER, "maintenance", CHG_BOTH, 20, 60);
    assert_true(corr_score(&own, &p, ALERT_STORM, DIR_SOUTH, t0()) >= p.min_score);
    assert_near(corr_score(&dcc, &p, ALERT_STORM, DIR_SOUTH, t0()), 0.0, 0);
    assert_true(corr_score(&dcc, &p, ALERT_STORM, DIR_SOUTH, t0() + 15 * MIN) >=
                p.min_score);
    changes_t *reg = changes_create();
    assert_non_null(reg);
    add(reg, dcc);
    corr_result_t r = corr_best(reg, &p, "U1", ALERT_STORM, DIR_SOUTH, t0());
    assert_int_equal(r.type, CORR_UNDECLARED);
    add(reg, own);
    r = corr_best(reg, &p, "U1", ALERT_STORM, DIR_SOUTH, t0());
    assert_int_equal(r.type, CORR_DECLARED);
    assert_string_equal(r.change->id, "C-own");
    changes_destroy(reg);
}

/*
 * A change declared to start 4 minutes after the onset (declarations are
 * often a few minutes off) still explains the alert with the defaults,
 * and beats an old change of the same User still in progress.
 */
static void test_late_declared_change_wins(void **state)
{
    (void)state;
    corr_params_t p;
    corr_params_defaults(&p);
    changes_t *reg = changes_create();
    assert_non_null(reg);
    add(reg, chg("C-long-running", "U1", "network", CHG_BOTH, -180, 180));
    add(reg, chg("C-late", "U1", "firewall", CHG_NORTH, 4, 60));
    add(reg, chg("DCC-PM-1", CHG_DCC_USER, "maintenance", CHG_BOTH, 0, 60));
    corr_result_t r = corr_best(reg, &p, "U1", ALERT_BLOCKED, DIR_NORTH, t0());
    assert_int_equal(r.type, CORR_DECLARED);
    assert_string_equal(r.change->id, "C-late");
    assert_true(r.score >= p.min_score);
    assert_near(r.score, 1.0 - CORR_LATE_FLOOR * (double)(4 * MIN) / (double)p.early, 1e-9);
    /* alone it is still chosen */
    assert_int_equal(changes_remove(reg, "C-long-running"), SW_OK);
    r = corr_best(reg, &p, "U1", ALERT_BLOCKED, DIR_NORTH, t0());
    assert_string_equal(r.change->id, "C-late");
    changes_destroy(reg);
}

/*
 * Two changes that score exactly the same: the smaller id wins, whatever
 * the register's order (which a removal changes), so a register kept up
 * to date change by change correlates like one rebuilt after a restart.
 */
static void test_exact_tie_goes_to_smaller_id(void **state)
{
    (void)state;
    corr_params_t p;
    corr_params_defaults(&p);
    for (int order = 0; order < 2; order++) {
        changes_t *reg = changes_create();
        assert_non_null(reg);
        add(reg, chg(order ? "C-b" : "C-a", "U1", "firewall", CHG_NORTH, -2, 60));
        add(reg, chg(order ? "C-a" : "C-b", "U1", "firewall", CHG_NORTH, -2, 60));
        corr_result_t r = corr_best(reg, &p, "U1", ALERT_BLOCKED, DIR_NORTH, t0());
        assert_int_equal(r.type, CORR_DECLARED);
        assert_string_equal(r.change->id, "C-a");
        changes_destroy(reg);
    }
}

/* Declared impact: a level within CORR_IMPACT_TOLERANCE either way of
 * what was declared is expected; "none" (0) explains a silence; a blocked
 * route is never within a declaration; no change, nothing to compare. */
static void test_impact_fit(void **state)
{
    (void)state;
    change_t c = chg("C1", "U1", "mdm", CHG_BOTH, 0, 60);
    assert_int_equal(corr_impact(&c, ALERT_STORM, DIR_SOUTH, 15, 10), IMPACT_WITHIN);
    assert_int_equal(corr_impact(&c, ALERT_STORM, DIR_SOUTH, 80, 10), IMPACT_DEVIATED);
    c.impact[DIR_SOUTH] = 3;
    c.impact_set = CHG_SOUTH;
    assert_int_equal(corr_impact(&c, ALERT_STORM, DIR_SOUTH, 30, 10), IMPACT_WITHIN);
    assert_int_equal(corr_impact(&c, ALERT_STORM, DIR_SOUTH, 61, 10), IMPACT_WITHIN);
    assert_int_equal(corr_impact(&c, ALERT_STORM, DIR_SOUTH, 66, 10), IMPACT_DEVIATED);
    assert_int_equal(corr_impact(&c, ALERT_STORM, DIR_NORTH, 30, 10), IMPACT_DEVIATED);
    c.impact[DIR_NORTH] = 0;
    c.impact_set |= CHG_NORTH;
    assert_int_equal(corr_impact(&c, ALERT_SILENCE, DIR_NORTH, 0, 10), IMPACT_WITHIN);
    assert_int_equal(corr_impact(&c, ALERT_SILENCE, DIR_SOUTH, 0, 10), IMPACT_DEVIATED);
    assert_int_equal(corr_impact(&c, ALERT_BLOCKED, DIR_NORTH, 0, 10), IMPACT_NA);
    assert_int_equal(corr_impact(NULL, ALERT_STORM, DIR_SOUTH, 80, 10), IMPACT_NA);
    assert_int_equal(corr_impact(&c, ALERT_STORM, DIR_SOUTH, 80, 0), IMPACT_NA);
    assert_near(corr_impact_distance(1, 1), 1.0, 1e-12);
    assert_near(corr_impact_distance(0, 1), 11.0, 1e-12);
    assert_near(corr_impact_distance(1, 0), 11.0, 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_impact_fit),
        cmocka_unit_test(test_kind_affinity),
        cmocka_unit_test(test_score_inside_at_start_is_one),
        cmocka_unit_test(test_inside_beats_outside),
        cmocka_unit_test(test_far_apart_times_score_zero),
        cmocka_unit_test(test_linear_decay_to_zero),
        cmocka_unit_test(test_proximity),
        cmocka_unit_test(test_direction_mismatch),
        cmocka_unit_test(test_other_users_change_ignored),
        cmocka_unit_test(test_own_preferred_over_dcc),
        cmocka_unit_test(test_dcc_then_undeclared),
        cmocka_unit_test(test_competing_changes),
        cmocka_unit_test(test_late_declared_change_wins),
        cmocka_unit_test(test_late_dcc_work_no_fit),
        cmocka_unit_test(test_exact_tie_goes_to_smaller_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
