/*
 * test_shapes.c - detection on traffic of the shapes real feeds have and
 * the public scenarios lack, made by the project's own simulator: a noisy
 * giant's sustained flood beside a harmless burst, ramps, cadences from
 * 1 s to 15 min in one feed, the natural zeros of small Users at 1 s and
 * their clumped replies at 10 s, nightly batches a recording began in, a
 * weekly rhythm, a storm in one small alert code, late and other-direction
 * declarations, level shifts, a clock change, and a first weekend after
 * one learnt day. Each test checks both
 * edges: what fires (and when it clears) and what stays quiet.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "simrun.h"
#include "timefmt.h"

#define S INT64_C(1000000000)
#define MIN (60 * S)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

/* Fails naming every firing alert after `from` that `allowed` does not
 * accept (what else fired is a false alarm). */
typedef int (*allow_fn)(const simrun_t *s, int i, const void *ctx);
static void expect_nothing_else(const simrun_t *s, int64_t from, allow_fn allowed, const void *ctx)
{
    for (int i = 0; i < s->n; i++)
        if (s->a[i].firing && s->a[i].detected_at >= from && !(allowed && allowed(s, i, ctx)))
            fail_msg("unexpected alert: %s", s->line[i]);
}

/* A User whose id is one of ids[0..n). */
typedef struct {
    char ids[4][SIM_ID_LEN];
    int n;
} users_t;

static int on_users(const simrun_t *s, int i, const void *ctx)
{
    const users_t *u = ctx;
    for (int k = 0; k < u->n; k++)
        if (!strcmp(s->user[i], u->ids[k]))
            return 1;
    return 0;
}

static int64_t t_of(const char *rfc3339)
{
    int64_t ns = 0;
    assert_int_equal(tf_parse_rfc3339(rfc3339, &ns), 0);
    return ns;
}

/* The User (among n) whose base rate is closest to `rate`. */
static int user_near(const sim_opts_t *o, double rate)
{
    int best = 0;
    for (int i = 1; i < o->n_users; i++)
        if (fabs(sim_user_rate(o, i) - rate) < fabs(sim_user_rate(o, best) - rate))
            best = i;
    return best;
}

/* User u's one incident: an alert of kind k and direction dir fired
 * within `within` of its onset (from a minute before), and its resolved
 * line, of the same episode, ends between end - early and end + late. */
static void expect_episode(const simrun_t *s, const sim_opts_t *o, int u, alert_kind_t k, int dir,
                           int64_t onset, int64_t within, int64_t end, int64_t early, int64_t late)
{
    int f = simrun_find(s, o, u, k, dir, 1, onset - MIN);
    if (f < 0 || s->a[f].detected_at > onset + within)
        fail_msg("the incident fired %s", f < 0 ? "never" : s->line[f]);
    int r = simrun_find(s, o, u, k, dir, 0, onset);
    if (r < 0 || s->a[r].ends_at > end + late || s->a[r].ends_at < end - early ||
        s->a[r].detected_at != s->a[f].detected_at)
        fail_msg("the incident resolved %s", r < 0 ? "never" : s->line[r]);
}

/*
 * 1. A sustained x4 flood on a User at 100-350 msg/s whose counts swing by
 * a third fires within about a minute and a half, and resolves within a
 * few minutes of its end; a x3 burst of 45 s on the same kind of User
 * raises nothing.
 */
static void test_noisy_flood_fires_burst_quiet(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 2; seed++) {
        sim_opts_t o;
        sim_opts_defaults(&o);
        o.seed = seed;
        o.n_users = 6;
        o.interval_ns = 10 * S;
        o.duration_ns = 6 * HOUR;
        o.learn_ns = 2 * HOUR;
        o.rate_lo = 100;
        o.rate_hi = 350;
        o.dispersion = 0.1;
        sim_incident_t inc[] = {
            { .kind = SIM_STORM_SOUTH, .user = 0, .at = 3 * HOUR, .duration = 35 * MIN,
              .magnitude = 4 },
            { .kind = SIM_BURST, .user = 1, .at = 4 * HOUR, .duration = 45 * S, .magnitude = 3 },
        };
        o.incidents = inc;
        o.n_incidents = 2;
        simrun_t *s = simrun(&o, 1, NULL);
        int64_t onset = sim_sample_time(&o, inc[0].at), end = sim_sample_time(&o, inc[0].at + 35 * MIN);
        int f = simrun_find(s, &o, 0, ALERT_STORM, DIR_SOUTH, 1, onset - MIN);
        if (f < 0 || s->a[f].detected_at > onset + 91 * S) /* the User's sub-second offset */
            fail_msg("seed %llu: the x4 flood fired %s", (unsigned long long)seed,
                     f < 0 ? "never" : s->line[f]);
        int r = simrun_find(s, &o, 0, ALERT_STORM, DIR_SOUTH, 0, onset);
        assert_true(r > f);
        assert_true(s->a[r].ends_at >= end - MIN && s->a[r].ends_at <= end + 5 * MIN);
        users_t ok = { .n = 1 };
        sim_user_id(&o, 0, ok.ids[0]);
        expect_nothing_else(s, o.start_ns + o.learn_ns, on_users, &ok);
        free(s);
    }
}

/*
 * 2. Ramps are judged against the level from before them: a linear one to
 * x15 over 10 minutes fires before it passes x6 (214 s), an exponential
 * one to x15 over 15 minutes before it passes x6 (595 s).
 */
static void test_ramps_fire_early(void **state)
{
    (void)state;
    sim_opts_t o;
    sim_opts_defaults(&o);
    o.n_users = 6;
    o.interval_ns = 10 * S;
    o.duration_ns = 5 * HOUR;
    o.learn_ns = 2 * HOUR;
    o.dispersion = 0.05;
    sim_incident_t inc[] = {
        { .kind = SIM_RAMP_SOUTH, .user = 0, .at = 3 * HOUR, .duration = 30 * MIN, .rise = 10 * MIN },
        { .kind = SIM_RAMP_NORTH, .user = 1, .at = 3 * HOUR + 30 * MIN, .duration = 40 * MIN,
          .rise = 15 * MIN, .exp_rise = 1 },
    };
    o.incidents = inc;
    o.n_incidents = 2;
    simrun_t *s = simrun(&o, 1, NULL);
    const int64_t by[] = { 214 * S, 595 * S };
    const int dirs[] = { DIR_SOUTH, DIR_NORTH };
    for (int k = 0; k < 2; k++) {
        int64_t onset = sim_sample_time(&o, inc[k].at);
        int f = simrun_find(s, &o, k, ALERT_STORM, dirs[k], 1, onset - MIN);
        if (f < 0 || s->a[f].detected_at > onset + by[k])
            fail_msg("ramp %d fired %s", k, f < 0 ? "never" : s->line[f]);
        /* dated where the rise passed 2x (at 43 s and 230 s): early in the ramp */
        const int64_t dated[] = { 2 * MIN, 5 * MIN };
        if (s->a[f].starts_at < onset - MIN || s->a[f].starts_at > onset + dated[k])
            fail_msg("ramp %d dated %.0f s after its start: %s", k,
                     (double)(s->a[f].starts_at - onset) / S, s->line[f]);
    }
    users_t ok = { .n = 2 };
    sim_user_id(&o, 0, ok.ids[0]);
    sim_user_id(&o, 1, ok.ids[1]);
    expect_nothing_else(s, o.start_ns + o.learn_ns, on_users, &ok);
    free(s);
}

/*
 * 3. Cadences from 1 s to 15 minutes in one feed: no feed_stalled between
 * the slow Users' samples, nothing on the quiet Users, and a storm on a
 * 5-minute and on a 15-minute User each fire within two of their samples.
 */
static void test_mixed_cadences(void **state)
{
    (void)state;
    static const sim_cadence_t cad[] = {
        { 1 * S, 1 }, { 10 * S, 2 }, { 300 * S, 3 }, { 900 * S, 3 },
    };
    sim_opts_t o;
    sim_opts_defaults(&o);
    o.n_users = 16;
    o.cadences = cad;
    o.n_cadences = 4;
    o.duration_ns = 30 * HOUR;
    o.learn_ns = 6 * HOUR;
    o.dispersion = 0.05;
    int u5 = -1, u15 = -1;
    for (int i = 0; i < o.n_users; i++) {
        if (sim_user_cadence(&o, i) == 300 * S && (u5 < 0 || sim_user_rate(&o, i) > sim_user_rate(&o, u5)))
            u5 = i;
        if (sim_user_cadence(&o, i) == 900 * S && (u15 < 0 || sim_user_rate(&o, i) > sim_user_rate(&o, u15)))
            u15 = i;
    }
    assert_true(u5 >= 0 && u15 >= 0);
    sim_incident_t inc[] = {
        { .kind = SIM_STORM_SOUTH, .user = u5, .at = 20 * HOUR, .duration = HOUR, .magnitude = 10 },
        { .kind = SIM_STORM_SOUTH, .user = u15, .at = 24 * HOUR, .duration = 2 * HOUR, .magnitude = 10 },
    };
    o.incidents = inc;
    o.n_incidents = 2;
    simrun_t *s = simrun(&o, 1, NULL);
    for (int k = 0; k < 2; k++) {
        int64_t onset = sim_sample_time(&o, inc[k].at);
        int64_t cadence = sim_user_cadence(&o, inc[k].user);
        int f = simrun_find(s, &o, inc[k].user, ALERT_STORM, DIR_SOUTH, 1, onset - MIN);
        if (f < 0 || s->a[f].detected_at > onset + 2 * cadence + S)
            fail_msg("storm on the %llds User fired %s", (long long)(cadence / S),
                     f < 0 ? "never" : s->line[f]);
    }
    for (int i = 0; i < s->n; i++)
        if (s->a[i].kind == ALERT_FEED)
            fail_msg("a feed of mixed cadences stalled: %s", s->line[i]);
    users_t ok = { .n = 2 };
    sim_user_id(&o, u5, ok.ids[0]);
    sim_user_id(&o, u15, ok.ids[1]);
    expect_nothing_else(s, o.start_ns + o.learn_ns, on_users, &ok);
    free(s);
}

/*
 * 4. Small Users at 1 s have many empty seconds: no silence from them in a
 * day. A real silence of 20 minutes on one fires, and resolves within a
 * minute of its traffic coming back.
 */
static void test_silence_natural_zeros(void **state)
{
    (void)state;
    sim_opts_t o;
    sim_opts_defaults(&o);
    o.n_users = 8;
    o.interval_ns = S;
    o.duration_ns = 26 * HOUR;
    o.learn_ns = 2 * HOUR;
    o.rate_lo = 0.3;
    o.rate_hi = 3;
    o.dispersion = 0.05;
    o.daily_amplitude = 0.4;
    int u = user_near(&o, 2.0);
    sim_incident_t inc[] = {
        { .kind = SIM_SILENCE_SOUTH, .user = u, .at = 14 * HOUR, .duration = 20 * MIN },
    };
    o.incidents = inc;
    o.n_incidents = 1;
    simrun_t *s = simrun(&o, 1, NULL);
    int64_t onset = sim_sample_time(&o, inc[0].at), end = sim_sample_time(&o, inc[0].at + 20 * MIN);
    expect_episode(s, &o, u, ALERT_SILENCE, DIR_SOUTH, onset, 5 * MIN, end, MIN, MIN);
    users_t ok = { .n = 1 };
    sim_user_id(&o, u, ok.ids[0]);
    expect_nothing_else(s, o.start_ns + o.learn_ns, on_users, &ok);
    free(s);
}

/*
 * 4b. Replies in clumps: small Users (0.05-0.5 requests a second, 10 s
 * samples) whose northbound replies follow their few requests, several
 * per request in their nightly batches, so most northbound buckets are
 * empty while the mean says a few messages, and the rest hold clumps.
 * Over a learnt day and a night of batches no such gap raises a silence
 * and no clump a storm, and a real northbound silence of half an hour is
 * still found within ten minutes and resolves with its end.
 */
static void test_silence_clumpy_replies(void **state)
{
    (void)state;
    sim_opts_t o;
    sim_opts_defaults(&o);
    o.seed = 3;
    o.n_users = 16;
    o.interval_ns = 10 * S;
    o.duration_ns = 48 * HOUR;
    o.learn_ns = 24 * HOUR;
    o.rate_lo = 0.05;
    o.rate_hi = 0.5;
    o.dispersion = 0.1;
    o.daily_amplitude = 0.4;
    o.daily_batches = 1;
    int u = 5;
    sim_incident_t inc[] = {
        { .kind = SIM_SILENCE_NORTH, .user = u, .at = 36 * HOUR, .duration = 30 * MIN },
    };
    o.incidents = inc;
    o.n_incidents = 1;
    simrun_t *s = simrun(&o, 1, NULL);
    int64_t onset = sim_sample_time(&o, inc[0].at), end = sim_sample_time(&o, inc[0].at + 30 * MIN);
    expect_episode(s, &o, u, ALERT_SILENCE, DIR_NORTH, onset, 10 * MIN, end, MIN, 2 * MIN);
    users_t ok = { .n = 1 };
    sim_user_id(&o, u, ok.ids[0]);
    expect_nothing_else(s, o.start_ns + o.learn_ns, on_users, &ok);
    free(s);
}

/*
 * 4c. 15-minute Users whose nightly batches the recording began in: their
 * first samples only set their rhythm, so the batch's first bins were
 * never learnt and the next midnight's batch meets the bare level there.
 * Those bins read the nearest learnt ones instead: nothing fires on the
 * second night, and a x15 flood starting at that midnight on a User with
 * no batch still fires at its first sample and resolves after its end.
 */
static void test_coarse_batch_the_recording_began_in(void **state)
{
    (void)state;
    sim_opts_t o;
    sim_opts_defaults(&o);
    o.n_users = 40;
    o.interval_ns = 15 * MIN;
    o.start_ns = t_of("2024-03-12T00:00:00Z");
    o.duration_ns = 48 * HOUR;
    o.learn_ns = 24 * HOUR;
    o.dispersion = 0.05;
    o.daily_amplitude = 0.4;
    o.daily_batches = 1;
    int u = 7;
    sim_incident_t inc[] = {
        { .kind = SIM_STORM_SOUTH, .user = u, .at = 24 * HOUR, .duration = 45 * MIN },
    };
    o.incidents = inc;
    o.n_incidents = 1;
    simrun_t *s = simrun(&o, 1, NULL);
    int64_t onset = sim_sample_time(&o, inc[0].at), end = sim_sample_time(&o, inc[0].at + 45 * MIN);
    expect_episode(s, &o, u, ALERT_STORM, DIR_SOUTH, onset, 15 * MIN, end, 0, 30 * MIN);
    users_t ok = { .n = 1 };
    sim_user_id(&o, u, ok.ids[0]);
    expect_nothing_else(s, o.start_ns + o.learn_ns, on_users, &ok);
    free(s);
}

/*
 * 5. A weekly rhythm: weekends at 50-70 % of weekdays with a later peak.
 * Over eight days from a Monday nothing fires on the weekends, and a x5
 * flood on the second Saturday is found.
 */
static void test_weekly_rhythm(void **state)
{
    (void)state;
    sim_opts_t o;
    sim_opts_defaults(&o);
    o.n_users = 10;
    o.interval_ns = 60 * S;
    o.start_ns = t_of("2024-03-04T00:00:00Z"); /* a Monday */
    o.duration_ns = 13 * DAY;
    o.learn_ns = 2 * DAY;
    o.weekly = 1;
    o.daily_amplitude = 0.35;
    o.rate_lo = 0.2;
    o.rate_hi = 100;
    o.dispersion = 0.05;
    int u = user_near(&o, 20);
    sim_incident_t inc[] = {
        { .kind = SIM_STORM_SOUTH, .user = u, .at = 12 * DAY + 11 * HOUR, .duration = 40 * MIN,
          .magnitude = 5 },
    };
    o.incidents = inc;
    o.n_incidents = 1;
    simrun_t *s = simrun(&o, 1, NULL);
    int64_t onset = sim_sample_time(&o, inc[0].at);
    int f = simrun_find(s, &o, u, ALERT_STORM, DIR_SOUTH, 1, onset - MIN);
    if (f < 0 || s->a[f].detected_at > onset + 3 * MIN + S) /* three samples: a 60 s one at
                                                               x5 may be a x3 burst's noise */
        fail_msg("the Saturday flood fired %s", f < 0 ? "never" : s->line[f]);
    users_t ok = { .n = 1 };
    sim_user_id(&o, u, ok.ids[0]);
    expect_nothing_else(s, o.start_ns + o.learn_ns, on_users, &ok);
    free(s);
}

/*
 * 6. A storm in the smallest alert code of a User (1-2 % of its alerts:
 * well under a message a second, even at x30) fires on that code's series,
 * whatever the User's total does.
 */
static void test_alert_code_storm(void **state)
{
    (void)state;
    sim_opts_t o;
    sim_opts_defaults(&o);
    o.n_users = 6;
    o.interval_ns = 10 * S;
    o.duration_ns = 5 * HOUR;
    o.learn_ns = 2 * HOUR;
    o.alert_codes = 5;
    int big = user_near(&o, 8);
    sim_incident_t inc[] = {
        { .kind = SIM_STORM_CODE, .user = big, .at = 3 * HOUR, .duration = 20 * MIN, .code = 5 },
    };
    o.incidents = inc;
    o.n_incidents = 1;
    char code[SIM_CLASS_LEN];
    double share = sim_alert_code(&o, big, 4, code);
    assert_true(share > 0 && share < 0.03);
    simrun_t *s = simrun(&o, 1, NULL);
    int64_t onset = sim_sample_time(&o, inc[0].at);
    int f = simrun_find(s, &o, big, ALERT_STORM, DIR_NORTH, 1, onset - MIN);
    if (f < 0 || s->a[f].detected_at > onset + 2 * MIN || strcmp(s->cls[f], code) != 0)
        fail_msg("the storm in %s fired %s", code, f < 0 ? "never" : s->line[f]);
    users_t ok = { .n = 1 };
    sim_user_id(&o, big, ok.ids[0]);
    expect_nothing_else(s, o.start_ns + o.learn_ns, on_users, &ok);
    free(s);
}

/*
 * 7. A change declared 20 minutes after its effect began is still named;
 * so is a User's change that declared only the other direction (a request
 * flood and the response storm it causes are one change's), a little less
 * surely, and before a no-op change of another User.
 */
static void test_late_and_other_direction_changes(void **state)
{
    (void)state;
    sim_opts_t o;
    sim_opts_defaults(&o);
    o.n_users = 6;
    o.interval_ns = 10 * S;
    o.duration_ns = 5 * HOUR;
    o.learn_ns = 2 * HOUR;
    o.n_noop_changes = 1;
    int big = user_near(&o, 200);
    sim_incident_t inc[] = {
        { .kind = SIM_STORM_SOUTH, .user = big, .at = 3 * HOUR, .duration = 30 * MIN,
          .declare = SIM_DECLARED, .declare_shift = 20 * MIN },
    };
    o.incidents = inc;
    o.n_incidents = 1;
    char chg[SIM_ID_LEN];
    assert_non_null(sim_change_id(&o, 0, chg));
    int64_t onset = sim_sample_time(&o, inc[0].at);
    for (int other = 0; other <= 1; other++) {
        simrun_t *s = simrun(&o, 1, other ? "north" : NULL);
        int f = simrun_find(s, &o, big, ALERT_STORM, DIR_SOUTH, 1, onset - MIN);
        if (f < 0 || strcmp(s->change[f], chg) != 0 || s->a[f].corr != CORR_DECLARED)
            fail_msg("%s: %s", other ? "declared north" : "declared late",
                     f < 0 ? "not found" : s->line[f]);
        free(s);
    }
    /* declared 40 minutes late: too late to be named */
    inc[0].declare_shift = 40 * MIN;
    simrun_t *s = simrun(&o, 1, NULL);
    int f = simrun_find(s, &o, big, ALERT_STORM, DIR_SOUTH, 1, onset - MIN);
    assert_true(f >= 0);
    assert_int_equal(s->a[f].corr, CORR_UNDECLARED);
    free(s);
}

/*
 * 8. A level shift, x2 up for four hours on a learnt day, is a shift
 * warning (not a storm) that fires within three hours and resolves once
 * the level is back; a x0.5 shift down is one too.
 */
static void test_level_shifts(void **state)
{
    (void)state;
    sim_opts_t o;
    sim_opts_defaults(&o);
    o.n_users = 6;
    o.interval_ns = 10 * S;
    o.start_ns = t_of("2024-03-12T00:00:00Z"); /* a Tuesday: learnt weekdays */
    o.duration_ns = 44 * HOUR;
    o.learn_ns = DAY;
    o.daily_amplitude = 0.3;
    o.dispersion = 0.05;
    o.rate_lo = 20;
    o.rate_hi = 200;
    sim_incident_t inc[] = {
        { .kind = SIM_SHIFT_UP, .user = 0, .at = 32 * HOUR, .duration = 4 * HOUR },
        { .kind = SIM_SHIFT_DOWN, .user = 1, .at = 33 * HOUR, .duration = 5 * HOUR },
    };
    o.incidents = inc;
    o.n_incidents = 2;
    simrun_t *s = simrun(&o, 1, NULL);
    for (int k = 0; k < 2; k++) {
        int64_t onset = sim_sample_time(&o, inc[k].at);
        int64_t end = sim_sample_time(&o, inc[k].at + inc[k].duration);
        int f = simrun_find(s, &o, k, ALERT_SHIFT, DIR_SOUTH, 1, onset);
        if (f < 0 || s->a[f].detected_at > onset + 3 * HOUR)
            fail_msg("shift %d fired %s", k, f < 0 ? "never" : s->line[f]);
        int r = simrun_find(s, &o, k, ALERT_SHIFT, DIR_SOUTH, 0, onset);
        if (r < 0 || s->a[r].ends_at > end + 2 * HOUR)
            fail_msg("shift %d resolved %s", k, r < 0 ? "never" : s->line[r]);
        assert_int_equal(simrun_find(s, &o, k, ALERT_STORM, -1, 1, onset - MIN), -1);
    }
    users_t ok = { .n = 2 };
    sim_user_id(&o, 0, ok.ids[0]);
    sim_user_id(&o, 1, ok.ids[1]);
    expect_nothing_else(s, o.start_ns + o.learn_ns, on_users, &ok);
    free(s);
}

/*
 * 9. Batches scheduled in London time move by an hour in UTC at the
 * October clock change; with profiles in local time they keep their bins,
 * and nothing fires over the four days around it.
 */
static void test_clock_change(void **state)
{
    (void)state;
    sim_opts_t o;
    sim_opts_defaults(&o);
    o.n_users = 12;
    o.interval_ns = 30 * S;
    o.start_ns = t_of("2024-10-21T23:00:00Z"); /* Tuesday 00:00 in London */
    o.duration_ns = 7 * DAY;
    o.learn_ns = 2 * DAY;
    o.timezone = "Europe/London";
    o.daily_batches = 1;
    o.weekly = 1;
    o.daily_amplitude = 0.3;
    o.dispersion = 0.02;
    o.rate_lo = 2;
    o.rate_hi = 200;
    simrun_t *s = simrun(&o, 1, NULL);
    expect_nothing_else(s, o.start_ns + o.learn_ns, NULL, NULL);
    free(s);
}

/*
 * 10. One weekday learnt, then the first weekend ever seen, across the
 * October clock change: Saturday's early hours blend from the weekday, so
 * Sunday runs at 0.6-0.8 of that profile until it matches it again. A
 * level back at its profile is not a shift up however low the hours
 * before ran: nothing fires (test_level_shifts and test_detectors hold
 * real shifts).
 */
static void test_first_weekend_after_one_day(void **state)
{
    (void)state;
    sim_opts_t o;
    sim_opts_defaults(&o);
    o.seed = 2;
    o.n_users = 6;
    o.interval_ns = 5 * S;
    o.start_ns = t_of("2024-10-24T23:00:00Z"); /* Friday 00:00 in London */
    o.duration_ns = 3 * DAY;
    o.learn_ns = 23 * HOUR;
    o.timezone = "Europe/London";
    o.weekly = 1;
    o.daily_amplitude = 0.4;
    o.dispersion = 0.1;
    simrun_t *s = simrun(&o, 1, NULL);
    expect_nothing_else(s, o.start_ns + o.learn_ns, NULL, NULL);
    free(s);
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_noisy_flood_fires_burst_quiet),
        cmocka_unit_test(test_ramps_fire_early),
        cmocka_unit_test(test_mixed_cadences),
        cmocka_unit_test(test_silence_natural_zeros),
        cmocka_unit_test(test_silence_clumpy_replies),
        cmocka_unit_test(test_coarse_batch_the_recording_began_in),
        cmocka_unit_test(test_weekly_rhythm),
        cmocka_unit_test(test_alert_code_storm),
        cmocka_unit_test(test_late_and_other_direction_changes),
        cmocka_unit_test(test_level_shifts),
        cmocka_unit_test(test_clock_change),
        cmocka_unit_test(test_first_weekend_after_one_day),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
