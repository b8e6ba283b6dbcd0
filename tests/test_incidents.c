/*
 * test_incidents.c - alerts grouped into incidents, one page per cause, on
 * the project's simulator traffic: 40 Users over 30 hours, the first day
 * learnt, then
 *   25:00  a DCC maintenance silences the deliveries to 30 Users;
 *   26:00  the deliveries to the same 30 Users stall, nothing declared
 *          (the DSP's own fault);
 *   27:00  one User floods the DSP southbound: its responses storm north;
 *   28:00  another User's flood hurts a third, whose route then blocks;
 *   29:00  three Users fall silent at once: too few to be widespread.
 * And on the first day, before anything is learnt for that time, a storm:
 * a guess (learning), at most a warning, no page. Every test checks both
 * edges: what is grouped and what stays apart, what pages and what does
 * not. The same run at 4 shards gives the same lines, byte for byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simrun.h"

#define S INT64_C(1000000000)
#define MIN (60 * S)
#define HOUR (60 * MIN)

#define NUSERS 40
#define NWIDE 30          /* Users 0..29: the maintenance and the stall */
#define FLOOD_USER 35     /* 27:00: a south flood and its response storm */
#define HURT_BY 36        /* 28:00: a flood hurting ... */
#define HURT_USER 37      /* ... this User, whose route then blocks */
#define FIRST_DAY_USER 38 /* 03:00 on the first day: a storm while learning */
#define QUIET_FROM 31     /* 29:00: Users 31, 32, 33 silent at once */

static sim_incident_t incidents[NWIDE * 2 + 7];

static void scenario(sim_opts_t *o)
{
    sim_opts_defaults(o);
    o->seed = 16;
    o->n_users = NUSERS;
    o->interval_ns = 10 * S;
    o->duration_ns = 30 * HOUR;
    o->learn_ns = 24 * HOUR;
    o->rate_lo = 5;
    o->rate_hi = 200;
    size_t n = 0;
    for (int u = 0; u < NWIDE; u++) /* one DCC change covers them all (CHG-1001) */
        incidents[n++] = (sim_incident_t){ .kind = SIM_SILENCE_NORTH, .user = u, .at = 25 * HOUR,
                                           .duration = 15 * MIN,
                                           .declare = SIM_MAINTENANCE,
                                           .declare_shift = -5 * MIN };
    for (int u = 0; u < NWIDE; u++)
        incidents[n++] = (sim_incident_t){ .kind = SIM_BLOCKED, .user = u, .at = 26 * HOUR,
                                           .duration = 20 * MIN };
    incidents[n++] = (sim_incident_t){ .kind = SIM_STORM_SOUTH, .user = FLOOD_USER,
                                       .at = 27 * HOUR, .duration = 20 * MIN, .magnitude = 12 };
    incidents[n++] = (sim_incident_t){ .kind = SIM_STORM_SOUTH, .user = HURT_BY, .at = 28 * HOUR,
                                       .duration = 25 * MIN, .magnitude = 12 };
    incidents[n++] = (sim_incident_t){ .kind = SIM_BLOCKED, .user = HURT_USER,
                                       .at = 28 * HOUR + 2 * MIN, .duration = 15 * MIN };
    for (int u = QUIET_FROM; u < QUIET_FROM + 3; u++)
        incidents[n++] = (sim_incident_t){ .kind = SIM_SILENCE_NORTH, .user = u,
                                           .at = 29 * HOUR, .duration = 15 * MIN };
    incidents[n++] = (sim_incident_t){ .kind = SIM_STORM_SOUTH, .user = FIRST_DAY_USER,
                                       .at = 3 * HOUR, .duration = 20 * MIN, .magnitude = 12 };
    o->incidents = incidents;
    o->n_incidents = n;
}

static sim_opts_t opts;
static simrun_t *one, *four; /* the run at 1 and at 4 shards */

static int setup(void **state)
{
    (void)state;
    scenario(&opts);
    one = simrun(&opts, 1, NULL);
    four = simrun(&opts, 4, NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(one);
    free(four);
    return 0;
}

static int64_t at_of(const sim_opts_t *o, int64_t from_start)
{
    return o->start_ns + from_start;
}

static int is_user(const simrun_t *s, int i, const sim_opts_t *o, int user)
{
    char id[SIM_ID_LEN];
    sim_user_id(o, user, id);
    return strcmp(s->user[i], id) == 0;
}

/* The widespread alerts firing in [from, to): their count, the last one's index in *last. */
static int widespread_in(const simrun_t *s, int64_t from, int64_t to, int *last)
{
    int n = 0;
    for (int i = 0; i < s->n; i++)
        if (s->a[i].firing && s->a[i].kind == ALERT_WIDESPREAD && s->a[i].detected_at >= from &&
            s->a[i].detected_at < to) {
            n++;
            *last = i;
        }
    return n;
}

/*
 * Users 0..29 show `kind` north in [from, to): exactly one widespread alert
 * stands for them, with their Users listed; each of their alerts is a
 * member of its incident, none pages; at least `min` of the 30 fired. It
 * resolves after the last of them. Returns the widespread alert's index.
 */
static int check_widespread(const simrun_t *s, alert_kind_t kind, int64_t from, int64_t to,
                            int min)
{
    int w = -1;
    assert_int_equal(widespread_in(s, from, to, &w), 1);
    const alert_t *ws = &s->a[w];
    assert_string_equal(s->user[w], "*");
    assert_int_equal(ws->role, ROLE_PRIMARY);
    assert_int_equal(ws->symptom, kind);
    assert_int_equal(ws->dir, DIR_NORTH);
    int members = 0;
    int64_t last_end = 0, ws_end = 0;
    for (int i = 0; i < s->n; i++) {
        const alert_t *a = &s->a[i];
        if (a->kind == ALERT_WIDESPREAD && a->incident == ws->incident && !a->firing)
            ws_end = a->ends_at;
        if (a->kind != kind || a->detected_at < from || a->detected_at >= to)
            continue;
        int in_wide = 0;
        for (int u = 0; u < NWIDE; u++)
            in_wide |= is_user(s, i, &opts, u);
        if (!in_wide)
            continue;
        if (a->incident != ws->incident || a->role != ROLE_MEMBER)
            fail_msg("not a member of INC-%04u: %s", (unsigned)ws->incident, s->line[i]);
        if (a->firing) {
            members++;
            assert_non_null(strstr(s->line[w], s->user[i])); /* listed by the widespread line */
        } else if (a->ends_at > last_end) {
            last_end = a->ends_at;
        }
    }
    if (members < min)
        fail_msg("only %d of %d Users showed it", members, NWIDE);
    assert_true(ws_end >= last_end && last_end > 0); /* resolved with the last of them */
    assert_int_equal(simrun_pages(s, from) - simrun_pages(s, to), 1);
    return w;
}

/* A DCC maintenance dip on 30 Users: one widespread incident naming the
 * change, a warning (planned work), one page. */
static void test_maintenance_dip_is_one_widespread_incident(void **state)
{
    (void)state;
    int w = check_widespread(one, ALERT_SILENCE, at_of(&opts, 25 * HOUR),
                             at_of(&opts, 25 * HOUR + 30 * MIN), NWIDE * 2 / 3);
    assert_int_equal(one->a[w].corr, CORR_MAINTENANCE);
    assert_string_equal(one->change[w], "CHG-1001");
    assert_int_equal(one->a[w].severity, SEV_WARNING);
    assert_non_null(strstr(one->line[w], "\"alert\":\"widespread\",\"severity\":\"warning\""));
}

/* The same 30 Users' deliveries stalling with nothing declared: one
 * undeclared widespread incident, critical (the DSP's own side). */
static void test_stall_of_many_users_is_one_undeclared_widespread(void **state)
{
    (void)state;
    int w = check_widespread(one, ALERT_BLOCKED, at_of(&opts, 26 * HOUR),
                             at_of(&opts, 26 * HOUR + 30 * MIN), NWIDE * 2 / 3);
    assert_int_equal(one->a[w].corr, CORR_UNDECLARED);
    assert_int_equal(one->a[w].severity, SEV_CRITICAL);
    assert_non_null(strstr(one->line[w], "\"correlation\":\"undeclared\""));
}

/* Three Users silent at once are three incidents, each its own page: too
 * few to be one widespread cause. */
static void test_few_users_at_once_stay_apart(void **state)
{
    (void)state;
    int64_t from = at_of(&opts, 29 * HOUR), to = at_of(&opts, 29 * HOUR + 30 * MIN);
    int w;
    assert_int_equal(widespread_in(one, from, to, &w), 0);
    incident_id_t seen[3] = { 0 };
    for (int u = 0; u < 3; u++) {
        int i = simrun_find(one, &opts, QUIET_FROM + u, ALERT_SILENCE, DIR_NORTH, 1, from);
        assert_true(i >= 0 && one->a[i].detected_at < to);
        assert_int_equal(one->a[i].role, ROLE_PRIMARY);
        seen[u] = one->a[i].incident;
    }
    assert_true(seen[0] != seen[1] && seen[1] != seen[2] && seen[0] != seen[2]);
    assert_int_equal(simrun_pages(one, from) - simrun_pages(one, to), 3);
}

/* A User's south flood and the north response storm it causes: one
 * incident, the flood its primary, the response storm a member. */
static void test_flood_and_response_storm_are_one_incident(void **state)
{
    (void)state;
    int64_t from = at_of(&opts, 27 * HOUR), to = at_of(&opts, 27 * HOUR + 30 * MIN);
    int south = simrun_find(one, &opts, FLOOD_USER, ALERT_STORM, DIR_SOUTH, 1, from);
    int north = simrun_find(one, &opts, FLOOD_USER, ALERT_STORM, DIR_NORTH, 1, from);
    assert_true(south >= 0 && one->a[south].detected_at < to);
    assert_true(north >= 0 && one->a[north].detected_at < to);
    assert_int_equal(one->a[south].incident, one->a[north].incident);
    assert_int_equal(one->a[south].role, ROLE_PRIMARY);
    assert_int_equal(one->a[north].role, ROLE_MEMBER);
    assert_int_equal(one->a[north].severity, SEV_CRITICAL); /* the incident's */
    assert_false(one->a[south].learning);
    assert_int_equal(simrun_pages(one, from) - simrun_pages(one, to), 1);
}

/* A storm and the User it hurt: the hurt User's blocked route is a member
 * of the storm's incident, and the storm lists it as impacted. */
static void test_storm_and_the_user_it_hurt_are_one_incident(void **state)
{
    (void)state;
    int64_t from = at_of(&opts, 28 * HOUR), to = at_of(&opts, 28 * HOUR + 40 * MIN);
    int storm = simrun_find(one, &opts, HURT_BY, ALERT_STORM, DIR_SOUTH, 1, from);
    int blocked = simrun_find(one, &opts, HURT_USER, ALERT_BLOCKED, DIR_NORTH, 1, from);
    assert_true(storm >= 0 && one->a[storm].detected_at < to);
    assert_true(blocked >= 0 && one->a[blocked].detected_at < to);
    assert_int_equal(one->a[blocked].incident, one->a[storm].incident);
    assert_int_equal(one->a[blocked].role, ROLE_MEMBER);
    int resolved = simrun_find(one, &opts, HURT_BY, ALERT_STORM, DIR_SOUTH, 0, from);
    assert_true(resolved >= 0);
    assert_non_null(strstr(one->line[resolved], one->user[blocked])); /* impacted_users */
    assert_int_equal(simrun_pages(one, from) - simrun_pages(one, to), 1);
}

/* A storm on the first day, before the series has history for that time:
 * learning, a warning, no page; the same User's flood on the second day is
 * neither (test_flood_and_response_storm...: critical, not learning). */
static void test_first_day_alerts_are_learning(void **state)
{
    (void)state;
    int64_t from = at_of(&opts, 3 * HOUR), to = at_of(&opts, 4 * HOUR);
    int i = simrun_find(one, &opts, FIRST_DAY_USER, ALERT_STORM, DIR_SOUTH, 1, from);
    assert_true(i >= 0 && one->a[i].detected_at < to);
    assert_true(one->a[i].learning);
    assert_int_equal(one->a[i].severity, SEV_WARNING);
    assert_non_null(strstr(one->line[i], "\"severity\":\"warning\""));
    assert_non_null(strstr(one->line[i], "\"learning\":true"));
    assert_int_equal(simrun_pages(one, from) - simrun_pages(one, to), 0);
    int later = simrun_find(one, &opts, FLOOD_USER, ALERT_STORM, DIR_SOUTH, 1,
                            at_of(&opts, 27 * HOUR));
    assert_non_null(strstr(one->line[later], "\"learning\":false"));
}

/* Every firing alert belongs to one incident, and each incident has one
 * primary; 4 shards give the same lines as 1, byte for byte. */
static void test_grouping_is_the_same_at_any_shard_count(void **state)
{
    (void)state;
    for (int i = 0; i < one->n; i++) {
        if (!one->a[i].firing)
            continue;
        assert_true(one->a[i].incident > 0);
        int primaries = 0;
        for (int k = 0; k < one->n; k++)
            primaries += one->a[k].firing && one->a[k].incident == one->a[i].incident &&
                         one->a[k].role == ROLE_PRIMARY;
        assert_int_equal(primaries, 1);
    }
    assert_int_equal(four->n, one->n);
    for (int i = 0; i < one->n; i++)
        assert_string_equal(four->line[i], one->line[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maintenance_dip_is_one_widespread_incident),
        cmocka_unit_test(test_stall_of_many_users_is_one_undeclared_widespread),
        cmocka_unit_test(test_few_users_at_once_stay_apart),
        cmocka_unit_test(test_flood_and_response_storm_are_one_incident),
        cmocka_unit_test(test_storm_and_the_user_it_hurt_are_one_incident),
        cmocka_unit_test(test_first_day_alerts_are_learning),
        cmocka_unit_test(test_grouping_is_the_same_at_any_shard_count),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
