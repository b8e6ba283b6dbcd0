/*
 * test_e2e.c - end to end on the project's own simulator: traffic and a
 * change register are generated in memory with known incidents, replayed
 * through the engine exactly as `stormwatch replay` does, and the alerts
 * are checked against the truth: every incident found on the right User
 * and direction with the right change, nothing else firing, and the same
 * input giving the same output byte for byte.
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

#include "engine.h"
#include "simrun.h"

#define S INT64_C(1000000000)
#define EARLY (60 * S)   /* an alert may come this long before the onset ... */
#define LATE (300 * S)   /* ... or this long after the end (the scorer's rule) */
#define MAXA 256

typedef struct {
    char line[MAXA][2048];
    alert_t a[MAXA];
    char user[MAXA][SIM_ID_LEN + 8];
    char change[MAXA][SIM_ID_LEN];
    int n;
    size_t bytes;
    char *all;       /* every alert line, concatenated */
    size_t all_cap;
} sink_t;

static void collect(void *ctx, const alert_t *a)
{
    sink_t *s = ctx;
    char buf[2048];
    size_t n = alert_format_json(a, buf, sizeof(buf));
    assert_true(n < sizeof(buf));
    if (s->bytes + n + 1 > s->all_cap) {
        s->all_cap = (s->bytes + n + 1) * 2;
        s->all = realloc(s->all, s->all_cap);
        assert_non_null(s->all);
    }
    memcpy(s->all + s->bytes, buf, n + 1);
    s->bytes += n;
    if (s->n >= MAXA)
        return;
    snprintf(s->line[s->n], sizeof(s->line[0]), "%s", buf);
    s->a[s->n] = *a;
    snprintf(s->user[s->n], sizeof(s->user[0]), "%s", a->user);
    snprintf(s->change[s->n], sizeof(s->change[0]), "%s", a->change ? a->change->id : "");
    s->n++;
}

/* Generates the scenario and replays it line by line through an engine. */
static void replay_sharded(const sim_opts_t *o, unsigned nshards, sink_t *sink,
                           engine_stats_t *stats)
{
    simrun_replay(o, nshards, NULL, collect, sink, stats);
}

static void replay(const sim_opts_t *o, sink_t *sink, engine_stats_t *stats)
{
    replay_sharded(o, 1, sink, stats);
}

static alert_kind_t expected_kind(sim_kind_t k)
{
    switch (k) {
    case SIM_BLOCKED:
    case SIM_DEGRADED: return ALERT_BLOCKED;
    case SIM_STORM_NORTH:
    case SIM_STORM_SOUTH: return ALERT_STORM;
    case SIM_SILENCE_NORTH:
    case SIM_SILENCE_SOUTH: return ALERT_SILENCE;
    case SIM_FEED_GAP: return ALERT_FEED;
    default: return ALERT_NKINDS;
    }
}

static int expected_dir(sim_kind_t k)
{
    switch (k) {
    case SIM_BLOCKED:
    case SIM_DEGRADED:
    case SIM_STORM_NORTH:
    case SIM_SILENCE_NORTH: return DIR_NORTH;
    case SIM_FEED_GAP: return DIR_BOTH;
    default: return DIR_SOUTH;
    }
}

/* Checks the alerts of a run against the incidents it was built with. */
static void check_against_truth(const sim_opts_t *o, const sink_t *s)
{
    char uid[SIM_ID_LEN], cid[SIM_ID_LEN];
    int explained[MAXA] = { 0 };
    for (size_t k = 0; k < o->n_incidents; k++) {
        const sim_incident_t *inc = &o->incidents[k];
        int64_t onset = sim_sample_time(o, inc->at);
        int64_t end = sim_sample_time(o, inc->at + inc->duration);
        alert_kind_t want = expected_kind(inc->kind);
        if (inc->kind == SIM_FEED_GAP)
            snprintf(uid, sizeof(uid), "*");
        else
            sim_user_id(o, inc->user, uid);
        const char *chg = sim_change_id(o, k, cid);
        /* every alert on this User (or the maintenance change) in the window is explained */
        int found = -1;
        for (int i = 0; i < s->n; i++) {
            if (!s->a[i].firing || s->a[i].detected_at < onset - EARLY ||
                s->a[i].detected_at > end + LATE)
                continue;
            if (inc->declare == SIM_MAINTENANCE && chg && strcmp(s->change[i], chg) == 0)
                explained[i] = 1;
            if (inc->kind == SIM_BURST || inc->declare == SIM_MAINTENANCE)
                continue;
            if (strcmp(s->user[i], uid) != 0)
                continue;
            explained[i] = 1;
            if (found < 0 && s->a[i].kind == want && s->a[i].dir == expected_dir(inc->kind))
                found = i;
        }
        if (inc->kind == SIM_BURST || inc->declare == SIM_MAINTENANCE)
            continue;
        if (found < 0)
            fail_msg("incident %zu (%s on %s) was not detected", k, sim_kind_name(inc->kind), uid);
        if (inc->kind != SIM_FEED_GAP) {
            if (inc->declare == SIM_DECLARED) {
                if (strcmp(s->change[found], chg) != 0)
                    fail_msg("incident %zu: alert names change '%s', want %s", k,
                             s->change[found], chg);
                assert_int_equal(s->a[found].corr, CORR_DECLARED);
            } else {
                if (s->change[found][0])
                    fail_msg("incident %zu is undeclared but the alert names %s", k,
                             s->change[found]);
            }
        }
    }
    /* alerts during the learning period (day one of a multi-day run, when
     * nightly batches are still new) are not judged */
    int64_t eval_from = o->start_ns + o->learn_ns;
    for (int i = 0; i < s->n; i++)
        if (s->a[i].firing && !explained[i] && s->a[i].detected_at >= eval_from)
            fail_msg("unexpected alert: %s", s->line[i]);
}

/* Replays the options and checks the alerts against their truth. */
static void run_opts(const sim_opts_t *o, sink_t *s)
{
    engine_stats_t st;
    replay(o, s, &st);
    check_against_truth(o, s);
    assert_int_equal(st.bad, (uint64_t)o->n_malformed);
}

static void run_preset_with(const char *name, uint64_t seed, double dispersion)
{
    sim_opts_t o;
    sim_incident_t inc[SIM_PRESET_MAX];
    sim_opts_defaults(&o);
    o.seed = seed;
    assert_int_equal(sim_preset(name, &o, inc), 0);
    if (dispersion > 0)
        o.dispersion = dispersion;
    sink_t *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    run_opts(&o, s);
    free(s->all);
    free(s);
}

static void run_preset(const char *name, uint64_t seed)
{
    run_preset_with(name, seed, 0);
}

static void test_firewall(void **state)
{
    (void)state;
    run_preset("firewall", 1);
    run_preset("firewall", 7);
}

static void test_mdm(void **state)
{
    (void)state;
    run_preset("mdm", 1);
    run_preset("mdm", 7);
}

static void test_mixed(void **state)
{
    (void)state;
    run_preset("mixed", 1);
    run_preset("mixed", 3);
}

static void test_same_input_same_output(void **state)
{
    (void)state;
    sim_opts_t o;
    sim_incident_t inc[SIM_PRESET_MAX];
    sim_opts_defaults(&o);
    assert_int_equal(sim_preset("mixed", &o, inc), 0);
    sink_t *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    assert_non_null(a);
    assert_non_null(b);
    replay(&o, a, NULL);
    replay(&o, b, NULL);
    assert_true(a->bytes > 0);
    assert_int_equal(a->bytes, b->bytes);
    assert_memory_equal(a->all, b->all, a->bytes);
    free(a->all);
    free(b->all);
    free(a);
    free(b);
}

/* Two days with nightly batches: day one learns them, day two raises
 * nothing for them and still finds every incident. */
static void test_daily_patterns(void **state)
{
    (void)state;
    run_preset("daily", 1);
    run_preset("daily", 2);
}

/* Counts four times noisier than the default model. */
static void test_overdispersed(void **state)
{
    (void)state;
    run_preset_with("mixed", 5, 0.04);
}

/* The User ids listed after "impacted_users": in the simulator's truth or
 * in an alert line. */
static size_t truth_impacted(const char *truth, char ids[][SIM_ID_LEN], size_t max)
{
    const char *p = strstr(truth, "\"impacted_users\"");
    size_t n = 0;
    if (!p)
        return 0;
    const char *end = strchr(p, ']');
    for (p = strchr(p, '['); p && n < max;) {
        const char *q = strchr(p + 1, '"');
        if (!q || q > end)
            break;
        const char *r = strchr(q + 1, '"');
        snprintf(ids[n++], SIM_ID_LEN, "%.*s", (int)(r - q - 1), q + 1);
        p = r;
    }
    return n;
}

static void test_blast_radius(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        sim_opts_t o;
        sim_incident_t inc[SIM_PRESET_MAX];
        sim_opts_defaults(&o);
        o.seed = seed;
        assert_int_equal(sim_preset("mdm", &o, inc), 0);
        char *truth = NULL;
        size_t tlen = 0;
        FILE *tf = open_memstream(&truth, &tlen);
        assert_int_equal(sim_write(&o, NULL, NULL, tf), 0);
        fclose(tf);
        char want[16][SIM_ID_LEN];
        size_t nwant = truth_impacted(truth, want, 16);
        free(truth);
        assert_true(nwant >= 2);

        sink_t *s = calloc(1, sizeof(*s));
        assert_non_null(s);
        run_opts(&o, s); /* also: no impacted User alerted on its own */
        int storm = -1, end = -1;
        for (int i = 0; i < s->n; i++)
            if (s->a[i].kind == ALERT_STORM && (s->a[i].firing ? storm : end) < 0)
                *(s->a[i].firing ? &storm : &end) = i;
        assert_true(storm >= 0 && end > storm);
        /* the firing line names only Users hurt (a storm fires at its first
         * sample, before most of its harm shows) ... */
        char got[16][SIM_ID_LEN];
        size_t ngot = truth_impacted(s->line[storm], got, 16), hit = 0;
        for (size_t k = 0; k < ngot; k++)
            for (size_t j = 0; j < nwant; j++)
                hit += strcmp(got[k], want[j]) == 0;
        if (hit != ngot)
            fail_msg("seed %llu: the firing line names a User not hurt: %s",
                     (unsigned long long)seed, s->line[storm]);
        /* ... and the resolved line the blast radius while it lasted: F1 >=
         * 0.8 against the truth */
        ngot = truth_impacted(s->line[end], got, 16);
        hit = 0;
        for (size_t k = 0; k < ngot; k++)
            for (size_t j = 0; j < nwant; j++)
                hit += strcmp(got[k], want[j]) == 0;
        double f1 = 2.0 * (double)hit / (double)(ngot + nwant);
        if (f1 < 0.8)
            fail_msg("seed %llu: blast radius F1 %.2f (%zu named, %zu right, %zu impacted): %s",
                     (unsigned long long)seed, f1, ngot, hit, nwant, s->line[end]);
        free(s->all);
        free(s);
    }
}

/* Thresholds scale with the User: a x4 flood of the largest User is caught
 * within two samples and a full stop of a ~1.5 msg/s User within the
 * silence's 25 s (detectors.silence.for: a sample or two of nothing is a
 * producer's hiccup), while a x3 burst of 20 s on the largest raises
 * nothing. */
static void test_thresholds_scale(void **state)
{
    (void)state;
    sim_opts_t o;
    sim_opts_defaults(&o);
    o.n_users = 24;
    int big = 0, small = 0;
    for (int i = 0; i < o.n_users; i++) {
        if (sim_user_rate(&o, i) > sim_user_rate(&o, big))
            big = i;
        if (fabs(sim_user_rate(&o, i) - 1.5) < fabs(sim_user_rate(&o, small) - 1.5))
            small = i;
    }
    assert_true(sim_user_rate(&o, big) > 100);
    assert_true(sim_user_rate(&o, small) < 3);
    const int64_t MIN = 60 * S;
    sim_incident_t inc[] = {
        { .kind = SIM_STORM_SOUTH, .user = big, .at = 60 * MIN, .duration = 10 * MIN,
          .magnitude = 4 },
        { .kind = SIM_SILENCE_SOUTH, .user = small, .at = 90 * MIN, .duration = 10 * MIN },
        { .kind = SIM_BURST, .user = big, .at = 120 * MIN, .duration = 20 * S, .magnitude = 3 },
    };
    o.incidents = inc;
    o.n_incidents = sizeof(inc) / sizeof(inc[0]);
    sink_t *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    run_opts(&o, s); /* found, and nothing else: not the burst */
    for (size_t k = 0; k < 2; k++) {
        int64_t onset = sim_sample_time(&o, inc[k].at), first = INT64_MAX;
        for (int i = 0; i < s->n; i++)
            if (s->a[i].firing && s->a[i].detected_at >= onset - 60 * S &&
                s->a[i].detected_at < first)
                first = s->a[i].detected_at;
        /* the storm by the second sample after the onset sample: within
         * two intervals of the onset, plus the User's sub-second offset;
         * the silence once 25 s of nothing have passed, at the sample that
         * ends them */
        int64_t within = k == 0 ? 2 * o.interval_ns : 25 * S + o.interval_ns;
        if (first > onset + within + S)
            fail_msg("incident %zu detected %.1f s after onset", k, (double)(first - onset) / S);
    }
    free(s->all);
    free(s);
}

/* Users spread over several shards: the same alert lines, byte for byte. */
static void test_shards_same_output(void **state)
{
    (void)state;
    const char *presets[] = { "mixed", "daily" };
    for (size_t k = 0; k < 2; k++) {
        sim_opts_t o;
        sim_incident_t inc[SIM_PRESET_MAX];
        sim_opts_defaults(&o);
        assert_int_equal(sim_preset(presets[k], &o, inc), 0);
        sink_t *one = calloc(1, sizeof(*one)), *many = calloc(1, sizeof(*many));
        assert_non_null(one);
        assert_non_null(many);
        replay_sharded(&o, 1, one, NULL);
        replay_sharded(&o, 4, many, NULL);
        assert_true(one->bytes > 0);
        if (one->bytes != many->bytes || memcmp(one->all, many->all, one->bytes) != 0)
            fail_msg("%s: 4 shards differ from 1:\n%s\n---\n%s", presets[k], one->all, many->all);
        free(one->all);
        free(many->all);
        free(one);
        free(many);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_firewall),
        cmocka_unit_test(test_mdm),
        cmocka_unit_test(test_mixed),
        cmocka_unit_test(test_same_input_same_output),
        cmocka_unit_test(test_daily_patterns),
        cmocka_unit_test(test_overdispersed),
        cmocka_unit_test(test_blast_radius),
        cmocka_unit_test(test_thresholds_scale),
        cmocka_unit_test(test_shards_same_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
