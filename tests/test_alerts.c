/*
 * test_alerts.c - the alert stage (core/alerts.c) alone, fed the events a
 * shard would send, at the sizes a whole DSP gives: thousands of alerts
 * firing at once (a DSP-side fault silences every User), resolved in any
 * order; more storms at once than the blast radius tracks; impacted Users
 * listed in one order whatever the order their summaries came in; Users'
 * summaries held for the settle come out whole (rings wrapped and grown,
 * allocations failing in turn).
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

#include "alerts.h"
#include "allocfail.h"
#include "err.h"

#define S INT64_C(1000000000)
#define T0 (INT64_C(1568264400) * S) /* 2019-09-12T05:00:00Z */
#define SETTLE (10 * S)              /* incidents.settle by default */

typedef struct {
    int firing, resolved;   /* of Users' alerts */
    int ws_firing, ws_resolved; /* of widespread ones */
    incident_id_t ws_incident; /* the incident of the last widespread one */
    int members;            /* firing lines of members of an incident */
    incident_id_t last_incident; /* of the last User's line */
    alerts_t *peer;         /* another instance told of every line (alerts_remote) */
    int64_t last_start;     /* starts_at of the last resolved line */
    uint64_t start_sum;     /* of the resolved lines' starts_at, mod 2^64 */
    char impacted[8192];    /* of the last line with impacted Users, as "A,B," */
} sink_t;

/* What the daemon tells the other instances of a line (Kafka). */
static void tell(alerts_t *peer, const alert_t *a)
{
    alerts_remote_t r = { .firing = a->firing, .kind = a->kind, .symptom = (alert_kind_t)a->symptom,
                          .user = a->user, .cls = a->cls, .dir = a->dir,
                          .starts_at = a->starts_at, .detected_at = a->detected_at,
                          .ends_at = a->ends_at, .incident = a->incident, .role = a->role,
                          .severity = a->severity,
                          .change_id = a->corr == CORR_MAINTENANCE && a->change ? a->change->id
                                                                                : NULL };
    alerts_remote(peer, &r);
}

static void collect(void *ctx, const alert_t *a)
{
    sink_t *s = ctx;
    if (s->peer)
        tell(s->peer, a);
    if (a->n_impacted) { /* "+" when they do not fit */
        size_t len = 0;
        s->impacted[0] = '\0';
        for (size_t i = 0; i < a->n_impacted; i++) {
            size_t n = strlen(a->impacted[i]);
            if (len + n + 2 > sizeof(s->impacted)) {
                snprintf(s->impacted, sizeof(s->impacted), "+");
                break;
            }
            memcpy(s->impacted + len, a->impacted[i], n);
            memcpy(s->impacted + len + n, ",", 2);
            len += n + 1;
        }
    }
    if (a->kind == ALERT_WIDESPREAD) {
        s->ws_firing += a->firing;
        s->ws_resolved += !a->firing;
        s->ws_incident = a->incident;
        return;
    }
    s->last_incident = a->incident;
    if (a->firing) {
        s->members += a->role == ROLE_MEMBER;
        s->firing++;
    } else {
        s->resolved++;
        s->last_start = a->starts_at;
        s->start_sum += (uint64_t)a->starts_at;
    }
}

static const detect_params_t *params(void *ctx, const char *user, size_t len)
{
    (void)user;
    (void)len;
    return ctx;
}

typedef struct {
    alerts_t *as;
    sink_t sink;
    detect_params_t dp;
} fx_t;

/* An alert stage whose incident ids carry `tag` (an instance's). */
static fx_t *fx_new_tagged(unsigned tag)
{
    fx_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    detect_params_defaults(&f->dp);
    alerts_opts_t o = { .nshards = 1, .detect_for = params, .detect_ctx = &f->dp,
                        .emit = collect, .emit_ctx = &f->sink, .incident_tag = tag };
    corr_params_defaults(&o.corr);
    f->as = alerts_create(&o, NULL);
    assert_non_null(f->as);
    return f;
}

static fx_t *fx_new(void)
{
    return fx_new_tagged(0);
}

static void fx_free(fx_t *f)
{
    alerts_destroy(f->as);
    free(f);
}

static void send(fx_t *f, int type, int kind, uint32_t id, const char *user, int64_t at,
                 int64_t starts_at, double backlog)
{
    event_t ev = { .type = (uint8_t)type, .kind = (uint8_t)kind, .id = id, .at = at,
                   .starts_at = starts_at, .detected_at = at, .ends_at = at,
                   .since = starts_at - 10 * S, .dt = 10 * S, .backlog = backlog,
                   .dir = kind == ALERT_STORM && type != EV_SUMMARY ? DIR_SOUTH : DIR_NORTH };
    snprintf(ev.user, sizeof(ev.user), "%s", user);
    snprintf(ev.cls, sizeof(ev.cls), "all");
    alerts_event(f->as, 0, &ev);
}

/* The shard's progress: events before `at` - SETTLE are released. */
static void progress_raw(fx_t *f, int64_t at)
{
    event_t ev = { .type = EV_PROGRESS, .at = at };
    alerts_event(f->as, 0, &ev);
}

/* Every event before `at` is released. */
static void progress(fx_t *f, int64_t at)
{
    progress_raw(f, at + SETTLE);
}

/*
 * 20 000 silences fire at one event time and resolve over the next ones in
 * a shuffled order: every one resolves once, with the start it fired with.
 * (Each resolution used to scan every alert firing: 4e8 steps here.) They
 * are one widespread incident: one line for it, and each silence a member
 * of it; it resolves with the last of them.
 */
static void test_many_alerts_resolve_in_any_order(void **state)
{
    (void)state;
    enum { N = 20000 };
    fx_t *f = fx_new();
    char user[32];
    uint64_t want = 0;
    for (uint32_t i = 0; i < N; i++) {
        snprintf(user, sizeof(user), "U%05u", i);
        int64_t start = T0 - (int64_t)i * S;
        send(f, EV_FIRE, ALERT_SILENCE, i + 1, user, T0, start, -1);
        want += (uint64_t)start;
    }
    progress_raw(f, T0 + 1);
    assert_int_equal(f->sink.firing, 0); /* settling: more may come at once */
    progress(f, T0 + 1);
    assert_int_equal(f->sink.firing, N);
    assert_int_equal(f->sink.members, N);
    assert_int_equal(f->sink.ws_firing, 1);
    assert_int_equal(alerts_stats(f->as)->firing_now, N + 1);
    uint32_t *order = malloc(N * sizeof(*order));
    assert_non_null(order);
    for (uint32_t i = 0; i < N; i++)
        order[i] = i;
    uint64_t r = 7;
    for (uint32_t i = N - 1; i > 0; i--) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t j = (uint32_t)((r >> 33) % (i + 1)), x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    for (uint32_t k = 0; k < N; k++) {
        uint32_t i = order[k];
        snprintf(user, sizeof(user), "U%05u", i);
        send(f, EV_RESOLVE, ALERT_SILENCE, i + 1, user, T0 + (1 + k / 1000) * S,
             T0 - (int64_t)i * S, -1);
    }
    send(f, EV_RESOLVE, ALERT_SILENCE, N + 5, "nobody", T0 + 30 * S, T0, -1); /* unknown id */
    progress(f, T0 + 20 * S);
    assert_int_equal(f->sink.ws_resolved, 0); /* its last member still fires */
    progress(f, T0 + 60 * S);
    assert_int_equal(f->sink.resolved, N);
    assert_int_equal(f->sink.ws_resolved, 1);
    assert_true(f->sink.start_sum == want);
    assert_int_equal(alerts_stats(f->as)->firing_now, 0);
    free(order);
    fx_free(f);
}

/* Users B0..B(n-1) learn a backlog of 10 for 15 minutes, from T0. */
static int64_t learn_backlogs(fx_t *f, int n)
{
    char user[32];
    int64_t t = T0;
    for (; t < T0 + 15 * 60 * S; t += 10 * S) {
        for (int u = 0; u < n; u++) {
            snprintf(user, sizeof(user), "B%02d", u);
            send(f, EV_SUMMARY, 0, 0, user, t, 0, 10);
        }
        progress(f, t + 5 * S);
    }
    return t;
}

/*
 * 20 storms at once: the first ALERTS_BLAST_MAX_STORMS get their blast
 * radius worked out, the others none (counted); when one tracked storm
 * resolves, storms after it keep theirs.
 */
static void test_blast_radius_of_the_first_storms_only(void **state)
{
    (void)state;
    enum { NSTORMS = 20 };
    fx_t *f = fx_new();
    int64_t t = learn_backlogs(f, 3);
    char user[32];
    for (uint32_t i = 0; i < NSTORMS; i++) {
        snprintf(user, sizeof(user), "S%02u", i);
        send(f, EV_FIRE, ALERT_STORM, i + 1, user, t, t, -1);
    }
    for (int u = 0; u < 3; u++) {
        snprintf(user, sizeof(user), "B%02d", u);
        send(f, EV_SUMMARY, 0, 0, user, t + 10 * S, 0, 200);
    }
    progress(f, t + 15 * S);
    assert_int_equal(alerts_stats(f->as)->blast_untracked, NSTORMS - ALERTS_BLAST_MAX_STORMS);
    int with = 0;
    for (uint32_t i = 0; i < NSTORMS; i++) {
        f->sink.impacted[0] = '\0';
        snprintf(user, sizeof(user), "S%02u", i);
        send(f, EV_RESOLVE, ALERT_STORM, i + 1, user, t + 20 * S + i, t, -1);
        progress(f, t + 20 * S + i + 1);
        if (i < ALERTS_BLAST_MAX_STORMS)
            assert_string_equal(f->sink.impacted, "B00,B01,B02,");
        with += f->sink.impacted[0] != '\0';
    }
    assert_int_equal(with, ALERTS_BLAST_MAX_STORMS);
    assert_int_equal(f->sink.resolved, NSTORMS);
    fx_free(f);
}

/* Impacted Users are listed by name, whatever the order of their
 * summaries (a DSP's round comes in any order). */
static void test_impacted_listed_by_name(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    int64_t t = learn_backlogs(f, 12);
    send(f, EV_FIRE, ALERT_STORM, 1, "S", t, t, -1);
    char user[32];
    for (int u = 11; u >= 0; u -= 2) { /* every other User, backwards */
        snprintf(user, sizeof(user), "B%02d", u);
        send(f, EV_SUMMARY, 0, 0, user, t + 10 * S, 0, 200);
    }
    progress(f, t + 15 * S);
    send(f, EV_RESOLVE, ALERT_STORM, 1, "S", t + 30 * S, t, -1);
    progress(f, t + 35 * S);
    assert_string_equal(f->sink.impacted, "B01,B03,B05,B07,B09,B11,");
    fx_free(f);
}

/*
 * After a restart: a widespread alert resumed from the journal (INC-0005)
 * and two of its members resumed by their shards go on in it, with no
 * line; it resolves once both have, listing them; an incident opened after
 * the restart is numbered above the resumed one.
 */
static void test_widespread_resumed(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    shard_resume_t r = { .kind = ALERT_WIDESPREAD, .dir = DIR_NORTH, .user = "*", .cls = "all",
                         .symptom = ALERT_SILENCE,
                         .fire = { .starts_at = T0 - 60 * S, .detected_at = T0 - 50 * S,
                                   .incident = 5, .severity = SEV_CRITICAL } };
    assert_int_equal(alerts_resume_widespread(f->as, &r), 0);
    assert_int_equal(alerts_resume_widespread(f->as, &r), SW_EEXISTS);
    for (uint32_t i = 0; i < 2; i++) {
        event_t ev = { .type = EV_ADOPT, .kind = ALERT_SILENCE, .id = i + 1, .at = T0,
                       .starts_at = T0 - 60 * S, .detected_at = T0 - 50 * S, .backlog = -1,
                       .dir = DIR_NORTH, .incident = 5, .role = ROLE_MEMBER,
                       .severity = SEV_CRITICAL };
        snprintf(ev.user, sizeof(ev.user), "M%u", i);
        snprintf(ev.cls, sizeof(ev.cls), "all");
        alerts_event(f->as, 0, &ev);
    }
    progress(f, T0 + 1);
    assert_int_equal(f->sink.firing + f->sink.ws_firing, 0); /* resumed: no lines */
    send(f, EV_RESOLVE, ALERT_SILENCE, 1, "M0", T0 + 10 * S, T0 - 60 * S, -1);
    progress(f, T0 + 11 * S);
    assert_int_equal(f->sink.ws_resolved, 0);
    send(f, EV_RESOLVE, ALERT_SILENCE, 2, "M1", T0 + 20 * S, T0 - 60 * S, -1);
    progress(f, T0 + 21 * S);
    assert_int_equal(f->sink.resolved, 2);
    assert_int_equal(f->sink.ws_resolved, 1);
    assert_int_equal(f->sink.ws_incident, 5);
    assert_string_equal(f->sink.impacted, "M0,M1,");
    send(f, EV_FIRE, ALERT_STORM, 3, "N", T0 + 30 * S, T0 + 30 * S, -1);
    progress(f, T0 + 31 * S);
    assert_int_equal(f->sink.last_incident, 6);
    fx_free(f);
}

/*
 * Two instances (Kafka): a storm of a User owned by the first hurts a User
 * owned by the second. Told of the storm's line, the second makes the
 * hurt User's blocked route a member of the first's incident; not told,
 * it pages on its own. Once the storm's resolved line comes, a later
 * blocked route there is an incident of its own again.
 */
static void test_storm_hurts_a_user_of_another_instance(void **state)
{
    (void)state;
    for (int told = 0; told < 2; told++) {
        fx_t *a = fx_new_tagged(1), *b = fx_new_tagged(2);
        if (told)
            a->sink.peer = b->as;
        int64_t t = learn_backlogs(b, 3);
        send(a, EV_FIRE, ALERT_STORM, 1, "S", t, t, -1);
        progress(a, t + 1);
        assert_int_equal(a->sink.firing, 1);
        incident_id_t storm = a->sink.last_incident;
        assert_true(storm >> 32 == 1);
        assert_int_equal(alerts_stats(b->as)->remote, told);

        send(b, EV_SUMMARY, 0, 0, "B01", t + 10 * S, 0, 200);
        send(b, EV_FIRE, ALERT_BLOCKED, 1, "B01", t + 20 * S, t + 10 * S, 200);
        progress(b, t + 21 * S);
        assert_int_equal(b->sink.firing, 1);
        assert_int_equal(b->sink.members, told);
        if (told)
            assert_true(b->sink.last_incident == storm);
        else
            assert_true(b->sink.last_incident >> 32 == 2);

        send(a, EV_RESOLVE, ALERT_STORM, 1, "S", t + 30 * S, t, -1);
        progress(a, t + 31 * S);
        send(b, EV_SUMMARY, 0, 0, "B02", t + 40 * S, 0, 200);
        send(b, EV_FIRE, ALERT_BLOCKED, 2, "B02", t + 50 * S, t + 40 * S, 200);
        progress(b, t + 51 * S);
        assert_int_equal(b->sink.firing, 2);
        assert_int_equal(b->sink.members, told);
        assert_true(b->sink.last_incident >> 32 == 2);
        assert_true(b->sink.last_incident != storm);
        fx_free(a);
        fx_free(b);
    }
}

/*
 * The other edge of that: while a storm stands, a User's backlog is not
 * learnt as its usual level. Three hours of a raised backlog under one
 * storm (30 min learning would have taken it for normal) and the User is
 * still hurt by the next storm.
 */
static void test_no_learning_under_a_storm(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    int64_t t = learn_backlogs(f, 2);
    send(f, EV_FIRE, ALERT_STORM, 1, "S", t, t, -1);
    int64_t at = t;
    for (int k = 0; k < 3 * 360; k++) {
        at += 10 * S;
        send(f, EV_SUMMARY, 0, 0, "B01", at, 0, 200);
        progress(f, at + 5 * S);
    }
    send(f, EV_RESOLVE, ALERT_STORM, 1, "S", at + 5 * S, t, -1);
    progress(f, at + 6 * S);
    f->sink.impacted[0] = '\0';
    at += 10 * S;
    send(f, EV_FIRE, ALERT_STORM, 2, "S2", at, at, -1);
    send(f, EV_SUMMARY, 0, 0, "B01", at + 10 * S, 0, 200);
    send(f, EV_RESOLVE, ALERT_STORM, 2, "S2", at + 20 * S, at, -1);
    progress(f, at + 25 * S);
    assert_string_equal(f->sink.impacted, "B01,");
    fx_free(f);
}

/*
 * Another instance's storm told before this instance has read that far (it
 * is still learning the hour before): the backlogs before the storm's
 * start are still learnt, so a route blocking after it is the storm's
 * member. (A remote storm used to stop all learning from its arrival: the
 * blocked route paged alone, e2e_kafka step 8 about one run in three.)
 */
static void test_storm_told_ahead_of_the_clock(void **state)
{
    (void)state;
    fx_t *a = fx_new_tagged(1), *b = fx_new_tagged(2);
    a->sink.peer = b->as;
    int64_t t = T0 + 15 * 60 * S;
    send(a, EV_FIRE, ALERT_STORM, 1, "S", t, t, -1);
    progress(a, t + 1);
    assert_int_equal(a->sink.firing, 1);
    incident_id_t storm = a->sink.last_incident;
    assert_int_equal(alerts_stats(b->as)->remote, 1);

    assert_true(learn_backlogs(b, 3) == t); /* b's clock: the quarter before */
    send(b, EV_SUMMARY, 0, 0, "B01", t + 10 * S, 0, 200);
    send(b, EV_FIRE, ALERT_BLOCKED, 1, "B01", t + 20 * S, t + 10 * S, 200);
    progress(b, t + 21 * S);
    assert_int_equal(b->sink.firing, 1);
    assert_int_equal(b->sink.members, 1);
    assert_true(b->sink.last_incident == storm);
    fx_free(a);
    fx_free(b);
}

/*
 * Two instances: four silences at the first (primaries: fewer than
 * widespread_users) and one at the second make five Users at once. Told
 * of the first's lines, the second opens the widespread incident, listing
 * all five; told of that in turn, the first's next silence joins it. Not
 * told, the second sees one, and the first opens its own at its fifth.
 */
static void test_widespread_across_instances(void **state)
{
    (void)state;
    for (int told = 0; told < 2; told++) {
        fx_t *a = fx_new_tagged(1), *b = fx_new_tagged(2);
        if (told) {
            a->sink.peer = b->as;
            b->sink.peer = a->as;
        }
        char user[16];
        for (uint32_t i = 0; i < 4; i++) {
            snprintf(user, sizeof(user), "A%u", i);
            send(a, EV_FIRE, ALERT_SILENCE, i + 1, user, T0 + i * S, T0 - 60 * S, -1);
        }
        progress(a, T0 + 10 * S);
        assert_int_equal(a->sink.firing, 4);
        assert_int_equal(a->sink.members + a->sink.ws_firing, 0);

        send(b, EV_FIRE, ALERT_SILENCE, 1, "B0", T0 + 20 * S, T0 - 60 * S, -1);
        progress(b, T0 + 21 * S);
        assert_int_equal(b->sink.ws_firing, told);
        assert_int_equal(b->sink.members, told);
        if (told) {
            assert_string_equal(b->sink.impacted, "A0,A1,A2,A3,B0,");
            assert_true(b->sink.ws_incident >> 32 == 2);
        }

        send(a, EV_FIRE, ALERT_SILENCE, 5, "A4", T0 + 30 * S, T0 - 60 * S, -1);
        progress(a, T0 + 31 * S);
        /* not told: five of its own now, so a widespread incident of its own */
        assert_int_equal(a->sink.ws_firing, !told);
        assert_int_equal(a->sink.members, 1);
        assert_true(a->sink.last_incident >> 32 == (told ? 2u : 1u));
        fx_free(a);
        fx_free(b);
    }
}

/* ---- change coordination: declared impact and forecasts ------------------ */

typedef struct {
    char lines[8][2048];
    int n;
} lines_t;

static void keep_line(void *ctx, const alert_t *a)
{
    lines_t *l = ctx;
    assert_true(l->n < 8);
    alert_format_json(a, l->lines[l->n++], sizeof(l->lines[0]));
}

/* A stage writing its lines to l, correlating with reg. */
static alerts_t *stage(changes_t *reg, lines_t *l, detect_params_t *dp)
{
    detect_params_defaults(dp);
    alerts_opts_t o = { .nshards = 1, .detect_for = params, .detect_ctx = dp,
                        .emit = keep_line, .emit_ctx = l };
    corr_params_defaults(&o.corr);
    alerts_t *as = alerts_create(&o, reg);
    assert_non_null(as);
    return as;
}

static void add_change(changes_t *reg, const char *id, const char *user, double south,
                       unsigned set)
{
    change_t c = { .id = (char *)id, .user = (char *)user, .kind = (char *)"mdm",
                   .start = T0, .end = T0 + 7200 * S, .affects = CHG_SOUTH,
                   .impact = { south, 1 }, .impact_set = set };
    assert_int_equal(changes_add(reg, &c), SW_OK);
}

/* A southbound storm of `user` at `ratio` times a baseline of 10/s. */
static void storm(alerts_t *as, const char *user, uint32_t id, double ratio)
{
    event_t ev = { .type = EV_FIRE, .kind = ALERT_STORM, .id = id, .at = T0 + 600 * S,
                   .starts_at = T0 + 600 * S, .detected_at = T0 + 600 * S,
                   .value = 10 * ratio, .baseline = 10, .backlog = -1, .dir = DIR_SOUTH };
    snprintf(ev.user, sizeof(ev.user), "%s", user);
    snprintf(ev.cls, sizeof(ev.cls), "request");
    alerts_event(as, 0, &ev);
}

static const char *line_of(const lines_t *l, const char *user)
{
    char key[64];
    snprintf(key, sizeof(key), "\"user\":\"%s\"", user);
    for (int i = 0; i < l->n; i++)
        if (strstr(l->lines[i], key))
            return l->lines[i];
    fail_msg("no line of %s", user);
    return NULL;
}

/*
 * A change that declared x3 southbound explains a x3 storm as expected
 * (info, which never pages); one that declared no change and comes with a
 * x8 flood is named, and the line says it deviated; a declared x3 with a
 * x8 flood deviates too.
 */
static void test_declared_impact_in_correlation(void **state)
{
    (void)state;
    changes_t *reg = changes_create();
    assert_non_null(reg);
    add_change(reg, "X3", "U1", 3, CHG_SOUTH);
    add_change(reg, "NONE", "U2", 0, 0);
    add_change(reg, "X3B", "U3", 3, CHG_SOUTH);
    lines_t l = { 0 };
    detect_params_t dp;
    alerts_t *as = stage(reg, &l, &dp);
    storm(as, "U1", 1, 3.2);
    storm(as, "U2", 2, 8);
    storm(as, "U3", 3, 8);
    event_t p = { .type = EV_PROGRESS, .at = T0 + 3600 * S };
    alerts_event(as, 0, &p);
    assert_int_equal(l.n, 3);
    const char *u1 = line_of(&l, "U1"), *u2 = line_of(&l, "U2"), *u3 = line_of(&l, "U3");
    assert_non_null(strstr(u1, "\"severity\":\"info\""));
    assert_non_null(strstr(u1, "; within the impact X3 declared (3.0x): expected\""));
    assert_non_null(strstr(u1, "\"correlation\":\"declared\""));
    assert_non_null(strstr(u2, "\"severity\":\"critical\""));
    assert_non_null(strstr(u2, "; NONE declared no change in traffic: it deviated from its "
                               "declaration\""));
    assert_non_null(strstr(u2, "\"change\":{\"id\":\"NONE\""));
    assert_non_null(strstr(u3, "\"severity\":\"critical\""));
    assert_non_null(strstr(u3, "; X3B declared 3.0x: it deviated from its declaration\""));
    alerts_destroy(as);
    changes_destroy(reg);
}

/* A southbound summary of `user` at `at`: `queued` requests over a minute. */
static void south_summary(alerts_t *as, const char *user, int64_t at, double queued)
{
    event_t ev = { .type = EV_SUMMARY, .at = at, .dt = 60 * S, .dir = DIR_SOUTH,
                   .value = queued, .baseline = queued, .queued = queued };
    snprintf(ev.user, sizeof(ev.user), "%s", user);
    snprintf(ev.cls, sizeof(ev.cls), "all");
    alerts_event(as, 0, &ev);
    event_t p = { .type = EV_PROGRESS, .at = at + 1 };
    alerts_event(as, 0, &p);
}

/* A User at twice its forecast gets a forecast_exceeded warning of its
 * own incident, learning (no profile on its first day), resolved when the
 * day ends; a User on its forecast gets none. */
static void test_forecast_exceeded_line(void **state)
{
    (void)state;
    changes_t *reg = changes_create();
    assert_non_null(reg);
    int64_t day = T0 / (86400 * S);
    forecast_t fc = { .user = (char *)"U1", .from_day = (int32_t)day, .to_day = (int32_t)day + 1,
                      .per_day = 14400 };
    assert_int_equal(changes_add_forecast(reg, &fc), SW_OK);
    fc.user = (char *)"U2";
    assert_int_equal(changes_add_forecast(reg, &fc), SW_OK);
    lines_t l = { 0 };
    detect_params_t dp;
    alerts_t *as = stage(reg, &l, &dp);
    for (int64_t t = day * 86400 * S; t < (day + 1) * 86400 * S + 120 * S; t += 60 * S) {
        south_summary(as, "U1", t, 20); /* 28800 a day */
        south_summary(as, "U2", t, 10); /* 14400: on track */
    }
    event_t p = { .type = EV_PROGRESS, .at = (day + 2) * 86400 * S };
    alerts_event(as, 0, &p);
    assert_int_equal(l.n, 2);
    assert_non_null(strstr(l.lines[0], "{\"status\":\"firing\",\"alert\":\"forecast_exceeded\","
                                       "\"severity\":\"warning\",\"user\":\"U1\",\"dir\":"
                                       "\"south\",\"class\":\"all\""));
    assert_non_null(strstr(l.lines[0], "\"incident_role\":\"primary\",\"learning\":true"));
    assert_non_null(strstr(l.lines[0], "on course for 28800 today, 2.00x the forecast 14400 a "
                                       "day"));
    assert_non_null(strstr(l.lines[1], "{\"status\":\"resolved\",\"alert\":"
                                       "\"forecast_exceeded\""));
    assert_non_null(strstr(l.lines[1], "\"ends_at\":\"2019-09-13T00:00:00Z\""));
    alerts_destroy(as);
    changes_destroy(reg);
}

/* A User's share of the traffic (busy-hour conflicts) comes from its
 * baselines both ways; Users under the asked share are not listed. */
typedef struct {
    char users[4][8];
    double share[4];
    int n;
} shares_t;

static void take_share(void *ctx, const char *user, double share)
{
    shares_t *s = ctx;
    assert_true(s->n < 4);
    snprintf(s->users[s->n], sizeof(s->users[0]), "%s", user);
    s->share[s->n++] = share;
}

static void test_user_shares(void **state)
{
    (void)state;
    lines_t l = { 0 };
    detect_params_t dp;
    alerts_t *as = stage(NULL, &l, &dp);
    shares_t none = { 0 };
    alerts_each_share(as, 0.0, take_share, &none);
    assert_int_equal(none.n, 0); /* nothing learnt yet: no shares */
    for (int k = 0; k < 2000; k++) { /* BIG: 80 msg/s south + 10 north; SMALL: 10 south */
        int64_t at = T0 + k * 60 * S;
        event_t ev = { .type = EV_SUMMARY, .at = at, .dt = 60 * S, .dir = DIR_SOUTH,
                       .baseline = 80 * 60.0 };
        snprintf(ev.user, sizeof(ev.user), "BIG");
        alerts_event(as, 0, &ev);
        ev.dir = DIR_NORTH;
        ev.baseline = 10 * 60.0;
        alerts_event(as, 0, &ev);
        ev.dir = DIR_SOUTH;
        snprintf(ev.user, sizeof(ev.user), "SMALL");
        alerts_event(as, 0, &ev);
        event_t p = { .type = EV_PROGRESS, .at = at + 1 };
        alerts_event(as, 0, &p);
    }
    shares_t all = { 0 }, big = { 0 };
    alerts_each_share(as, 0.0, take_share, &all);
    assert_int_equal(all.n, 2);
    for (int i = 0; i < 2; i++)
        assert_true(fabs(all.share[i] - (strcmp(all.users[i], "BIG") ? 0.1 : 0.9)) < 1e-6);
    alerts_each_share(as, 0.5, take_share, &big);
    assert_int_equal(big.n, 1);
    assert_string_equal(big.users[0], "BIG");
    alerts_destroy(as);
}


/* ---- held summaries ------------------------------------------------------ */

#define HS_USERS 300
#define HS_ROUNDS 40

/* User k's name: its number, then 'x' up to 1 + k % 64 bytes (1 to 64:
 * every length an id may have). */
static void hs_name(int k, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%d", k);
    size_t len = 1 + (size_t)k % 64;
    while ((size_t)n < len && (size_t)n + 1 < cap)
        out[n++] = 'x';
    out[n] = '\0';
}

/* What User k's summary of round r carries: whole numbers of messages. */
static double hs_queued(int k, int r) { return k * 10.0 + r; }
static double hs_base(int k, int r) { return k * 20.0 + r; }

static void hs_send_round(alerts_t *as, int r)
{
    for (int k = 0; k < HS_USERS; k++) {
        event_t ev = { .type = EV_SUMMARY, .at = T0 + r * 10 * S, .dt = 10 * S,
                       .dir = k % 2 ? DIR_NORTH : DIR_SOUTH, .queued = hs_queued(k, r),
                       .value = hs_queued(k, r), .baseline = hs_base(k, r) };
        hs_name(k, ev.user, sizeof(ev.user));
        snprintf(ev.cls, sizeof(ev.cls), "all");
        alerts_event(as, 0, &ev);
    }
}

typedef struct {
    int seen[HS_USERS];
    int last_round;   /* the round every User's level should come from */
    int wrong;
} hs_check_t;

static void hs_take(void *ctx, const alerts_user_t *u)
{
    hs_check_t *c = ctx;
    char *end;
    long k = strtol(u->user, &end, 10);
    char want[LP_MAX_ID + 1];
    if (k < 0 || k >= HS_USERS) {
        c->wrong++;
        return;
    }
    hs_name((int)k, want, sizeof(want));
    int d = k % 2 ? DIR_NORTH : DIR_SOUTH;
    if (strcmp(u->user, want) || !u->seen[d] || u->seen[!d] ||
        u->rate[d] != (float)(hs_queued((int)k, c->last_round) / 10) || /* kept as floats */
        u->baseline[d] != (float)(hs_base((int)k, c->last_round) / 10) ||
        u->at[d] != T0 + c->last_round * 10 * S)
        c->wrong++;
    c->seen[k]++;
}

/*
 * Summaries wait for the incident settle in a queue of their own, their
 * Users' names in a byte ring beside them. 300 Users a round (names of
 * every length, 1 to 64 bytes), two rounds held at first and one more
 * every sixth round: both rings wrap, then grow while wrapped, many times,
 * and every User comes out under its own name with its own numbers, round
 * after round; nothing stays held at the end.
 */
static void test_held_summaries_intact(void **state)
{
    (void)state;
    fx_t *f = fx_new();
    hs_check_t c = { 0 };
    for (int r = 0; r < HS_ROUNDS; r++) {
        hs_send_round(f->as, r);
        int hold = 2 + r / 6, upto = r - hold; /* rounds up to `upto` released */
        if (upto >= 0) {
            progress(f, T0 + upto * 10 * S + 1);
            memset(&c, 0, sizeof(c));
            c.last_round = upto;
            alerts_each_user(f->as, hs_take, &c);
            assert_int_equal(c.wrong, 0);
            for (int k = 0; k < HS_USERS; k++)
                assert_int_equal(c.seen[k], 1);
            assert_int_equal(alerts_stats(f->as)->held, (uint64_t)hold * HS_USERS);
        }
    }
    alerts_flush(f->as);
    memset(&c, 0, sizeof(c));
    c.last_round = HS_ROUNDS - 1;
    alerts_each_user(f->as, hs_take, &c);
    assert_int_equal(c.wrong, 0);
    assert_int_equal(alerts_stats(f->as)->held, 0);
    assert_int_equal(alerts_stats(f->as)->nomem, 0);
    fx_free(f);
}

/*
 * Out of memory while summaries are held: the one whose room could not be
 * made is dropped and counted, never half kept; every other User comes
 * out whole, under its own name. Each allocation of a round fails in turn.
 */
static void test_held_summaries_out_of_memory(void **state)
{
    (void)state;
    if (!allocfail_active())
        skip();
    long n;
    for (n = 0;; n++) {
        fx_t *f = fx_new();
        allocfail_reset(n);
        hs_send_round(f->as, 0);
        int failed = allocfail_count() > n;
        allocfail_reset(-1);
        alerts_flush(f->as);
        hs_check_t c = { .last_round = 0 };
        alerts_each_user(f->as, hs_take, &c);
        assert_int_equal(c.wrong, 0);
        int listed = 0;
        for (int k = 0; k < HS_USERS; k++)
            listed += c.seen[k];
        uint64_t dropped = alerts_stats(f->as)->nomem;
        assert_int_equal(dropped, (uint64_t)failed);
        assert_int_equal((uint64_t)listed + dropped, HS_USERS);
        assert_int_equal(alerts_stats(f->as)->held, 0);
        fx_free(f);
        if (!failed)
            break;
        assert_true(n < 100);
    }
    assert_true(n >= 4); /* the rings grew, each failing once in turn */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_alerts_resolve_in_any_order),
        cmocka_unit_test(test_blast_radius_of_the_first_storms_only),
        cmocka_unit_test(test_impacted_listed_by_name),
        cmocka_unit_test(test_widespread_resumed),
        cmocka_unit_test(test_storm_hurts_a_user_of_another_instance),
        cmocka_unit_test(test_storm_told_ahead_of_the_clock),
        cmocka_unit_test(test_no_learning_under_a_storm),
        cmocka_unit_test(test_widespread_across_instances),
        cmocka_unit_test(test_declared_impact_in_correlation),
        cmocka_unit_test(test_forecast_exceeded_line),
        cmocka_unit_test(test_user_shares),
        cmocka_unit_test(test_held_summaries_intact),
        cmocka_unit_test(test_held_summaries_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
