/*
 * test_engine.c - the detectors end to end inside the engine: synthetic
 * lines in, alert transitions out. Each test builds traffic for a few
 * Users with a known anomaly and checks the exact alerts it gives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "timefmt.h"

#define S INT64_C(1000000000)
#define T0 (INT64_C(1568264400) * S) /* 2019-09-12T05:00:00Z */
#define MAXALERTS 64

typedef struct {
    alert_t a[MAXALERTS];
    char user[MAXALERTS][64], cls[MAXALERTS][32], change[MAXALERTS][32];
    char json[MAXALERTS][1024]; /* the line, formatted while the alert is valid */
    int n;
} sink_t;

static void collect(void *ctx, const alert_t *a)
{
    sink_t *s = ctx;
    if (s->n >= MAXALERTS)
        return;
    s->a[s->n] = *a;
    snprintf(s->user[s->n], 64, "%s", a->user);
    snprintf(s->cls[s->n], 32, "%s", a->cls);
    snprintf(s->change[s->n], 32, "%s", a->change ? a->change->id : "");
    alert_format_json(a, s->json[s->n], sizeof(s->json[0]));
    s->n++;
}

typedef struct {
    engine_t *e;
    sink_t sink;
    detect_params_t detect;
    uint64_t rng;
} fx_t;

static const detect_params_t *fx_detect(void *ctx, const char *user, size_t len)
{
    (void)user;
    (void)len;
    return ctx;
}

static fx_t *fx_new(const changes_t *reg)
{
    fx_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    detect_params_defaults(&f->detect);
    engine_opts_t o = { .detect_for = fx_detect, .detect_ctx = &f->detect,
                        .emit = collect, .emit_ctx = &f->sink };
    ingest_params_defaults(&o.ingest);
    corr_params_defaults(&o.corr);
    f->e = engine_create(&o, reg);
    assert_non_null(f->e);
    f->rng = 42;
    return f;
}

static void fx_free(fx_t *f)
{
    engine_destroy(f->e);
    free(f);
}

/* A count around `mean` with +-15% deterministic noise. */
static long noisy(fx_t *f, double mean)
{
    f->rng = f->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    double u = (double)(f->rng >> 11) / (double)(1ULL << 53);
    long v = (long)(mean * (0.85 + 0.3 * u) + 0.5);
    return v < 0 ? 0 : v;
}

static void feed(fx_t *f, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    assert_true(n > 0 && n < (int)sizeof(line));
    lp_result_t r = engine_feed_line(f->e, line, (size_t)n);
    assert_int_equal(r, LP_OK);
}

/* One interval of a User's traffic: south requests, north responses. */
static void user_tick(fx_t *f, const char *user, int64_t ts, double south, double north,
                      double deliver_frac, double *backlog)
{
    long q = noisy(f, north);
    long d = (long)(q * deliver_frac);
    if (d > q + (long)*backlog) /* a drain delivers at most what waits */
        d = q + (long)*backlog;
    *backlog += (double)(q - d);
    feed(f, "dsp_traffic,user=%s,dir=south,class=request count=%ldi,rejected=0i %" PRId64, user,
         noisy(f, south), ts);
    feed(f, "dsp_traffic,user=%s,dir=north,class=response count=%ldi,delivered=%ldi,backlog=%.0fi %" PRId64,
         user, q, d, *backlog, ts);
}

/* Runs `minutes` of steady traffic for two Users from T0 at 5 s, calling
 * `shape` to modify User A's rates at each step. */
typedef void (*shape_fn)(int64_t t, double *south, double *north, double *deliver);

static void run(fx_t *f, int minutes, shape_fn shape)
{
    double bla = 0, blb = 0;
    for (int64_t t = 0; t < minutes * 60 * S; t += 5 * S) {
        double s = 100, n = 100, dl = 1.0;
        if (shape)
            shape(t, &s, &n, &dl);
        if (dl >= 1.0)
            bla = 0;
        user_tick(f, "A", T0 + t, s, n, dl, &bla);
        user_tick(f, "B", T0 + t + 1000000, 50, 40, 1.0, &blb);
    }
    engine_finish(f->e);
}

static int count_kind(const sink_t *s, alert_kind_t k, int firing)
{
    int n = 0;
    for (int i = 0; i < s->n; i++)
        n += s->a[i].kind == k && s->a[i].firing == firing;
    return n;
}

#define ONSET (30 * 60 * S)

static void storm_shape(int64_t t, double *s, double *n, double *d)
{
    (void)n;
    (void)d;
    if (t >= ONSET && t < ONSET + 5 * 60 * S)
        *s *= 5;
}

static void test_storm_fires_once_and_resolves(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    run(f, 45, storm_shape);
    assert_int_equal(f->sink.n, 2);
    alert_t *a = &f->sink.a[0];
    assert_int_equal(a->kind, ALERT_STORM);
    assert_true(a->firing);
    assert_string_equal(f->sink.user[0], "A");
    assert_string_equal(f->sink.cls[0], "request");
    assert_int_equal(a->dir, ALERT_DIR_SOUTH);
    assert_true(a->starts_at == T0 + ONSET);
    assert_true(a->detected_at == T0 + ONSET + 5 * S); /* within two samples */
    assert_true(a->value > 3.5 * a->baseline);
    assert_int_equal(a->corr, CORR_UNDECLARED);
    alert_t *r = &f->sink.a[1];
    assert_false(r->firing);
    assert_int_equal(r->kind, ALERT_STORM);
    assert_true(r->ends_at == T0 + ONSET + 5 * 60 * S);
    fx_free(f);
}

static void burst_shape(int64_t t, double *s, double *n, double *d)
{
    (void)n;
    (void)d;
    if (t >= ONSET && t < ONSET + 20 * S)
        *s *= 3;
}

static void test_short_burst_is_not_a_storm(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    run(f, 45, burst_shape);
    assert_int_equal(f->sink.n, 0);
    fx_free(f);
}

static void test_warmup_suppresses_alerts(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    /* a x10 jump three minutes in: the baseline is not yet warm */
    double bl = 0;
    for (int64_t t = 0; t < 20 * 60 * S; t += 5 * S)
        user_tick(f, "A", T0 + t, t > 3 * 60 * S && t < 5 * 60 * S ? 1000 : 100, 100, 1, &bl);
    engine_finish(f->e);
    assert_int_equal(f->sink.n, 0);
    fx_free(f);
}

static void blocked_shape(int64_t t, double *s, double *n, double *d)
{
    (void)s;
    (void)n;
    if (t >= ONSET && t < ONSET + 10 * 60 * S)
        *d = 0;
    else if (t >= ONSET + 10 * 60 * S && t < ONSET + 12 * 60 * S)
        *d = 3; /* draining */
}

static void test_blocked_route(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    run(f, 60, blocked_shape);
    assert_int_equal(count_kind(&f->sink, ALERT_BLOCKED, 1), 1);
    assert_int_equal(count_kind(&f->sink, ALERT_BLOCKED, 0), 1);
    alert_t *a = &f->sink.a[0];
    assert_string_equal(f->sink.user[0], "A");
    assert_string_equal(f->sink.cls[0], "all");
    assert_int_equal(a->dir, ALERT_DIR_NORTH);
    assert_true(a->starts_at == T0 + ONSET);
    assert_true(a->detected_at <= T0 + ONSET + 15 * S);
    assert_true(a->backlog >= 20);
    assert_true(a->value < 1.0);
    /* no storm or silence from the drain or the stall */
    assert_int_equal(f->sink.n, 2);
    fx_free(f);
}

static void degraded_shape(int64_t t, double *s, double *n, double *d)
{
    (void)s;
    (void)n;
    if (t >= ONSET && t < ONSET + 10 * 60 * S)
        *d = 0.2;
}

static void test_degraded_route_is_blocked(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    run(f, 45, degraded_shape);
    assert_int_equal(count_kind(&f->sink, ALERT_BLOCKED, 1), 1);
    assert_true(f->sink.a[0].detected_at <= T0 + ONSET + 15 * S);
    fx_free(f);
}

static void silence_shape(int64_t t, double *s, double *n, double *d)
{
    (void)n;
    (void)d;
    if (t >= ONSET && t < ONSET + 5 * 60 * S)
        *s = 0;
}

static void test_silence_is_per_direction(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    run(f, 45, silence_shape);
    assert_int_equal(f->sink.n, 2);
    alert_t *a = &f->sink.a[0];
    assert_int_equal(a->kind, ALERT_SILENCE);
    assert_int_equal(a->dir, ALERT_DIR_SOUTH);
    assert_string_equal(f->sink.cls[0], "all");
    assert_true(a->starts_at == T0 + ONSET);
    assert_true(a->detected_at <= T0 + ONSET + 10 * S);
    assert_true(f->sink.a[1].ends_at == T0 + ONSET + 5 * 60 * S);
    fx_free(f);
}

static void test_rare_series_silence_needs_evidence(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    /* 0.4 msgs/s: two empty samples are ordinary, not a silence */
    double bl = 0;
    for (int64_t t = 0; t < 40 * 60 * S; t += 5 * S) {
        double south = t >= ONSET && t < ONSET + 10 * S ? 0 : 2;
        user_tick(f, "A", T0 + t, south, 2, 1, &bl);
    }
    engine_finish(f->e);
    assert_int_equal(f->sink.n, 0);
    fx_free(f);
}

static void test_series_that_stops_reporting_falls_silent(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    double bla = 0, blb = 0;
    for (int64_t t = 0; t < 45 * 60 * S; t += 5 * S) {
        if (t < ONSET) /* A stops sending anything at ONSET; B goes on */
            user_tick(f, "A", T0 + t, 100, 100, 1, &bla);
        user_tick(f, "B", T0 + t + 1000000, 50, 40, 1, &blb);
    }
    engine_finish(f->e);
    assert_int_equal(count_kind(&f->sink, ALERT_SILENCE, 1), 2); /* both directions */
    assert_int_equal(count_kind(&f->sink, ALERT_FEED, 1), 0);
    for (int i = 0; i < f->sink.n; i++)
        assert_string_equal(f->sink.user[i], "A");
    fx_free(f);
}

static void test_feed_gap_is_one_feed_stalled(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    double bla = 0, blb = 0;
    for (int64_t t = 0; t < 50 * 60 * S; t += 5 * S) {
        if (t >= ONSET && t < ONSET + 4 * 60 * S)
            continue; /* the whole feed stops for four minutes */
        user_tick(f, "A", T0 + t, 100, 100, 1, &bla);
        user_tick(f, "B", T0 + t + 1000000, 50, 40, 1, &blb);
    }
    engine_finish(f->e);
    assert_int_equal(f->sink.n, 2);
    alert_t *a = &f->sink.a[0];
    assert_int_equal(a->kind, ALERT_FEED);
    assert_true(a->firing);
    assert_string_equal(f->sink.user[0], "*");
    int64_t last = T0 + ONSET - 5 * S + 1000000;
    assert_true(a->starts_at == last);
    assert_true(a->detected_at == last + 30 * S);
    assert_false(f->sink.a[1].firing);
    assert_true(f->sink.a[1].ends_at == T0 + ONSET + 4 * 60 * S);
    assert_int_equal(engine_stats(f->e)->feed_stalls, 1);
    fx_free(f);
}

static void test_duplicates_and_disorder_change_nothing(void **state)
{
    (void)state;
    /* the same storm, once clean and once with every line of User A sent
     * twice and each pair of intervals swapped */
    fx_t *clean = fx_new(NULL), *messy = fx_new(NULL);
    double bl = 0;
    for (int64_t t = 0; t < 45 * 60 * S; t += 10 * S) {
        for (int k = 0; k < 2; k++) {
            int64_t ts = T0 + t + (k ? 0 : 5 * S); /* later interval first */
            double south = ts - T0 >= ONSET && ts - T0 < ONSET + 300 * S ? 500 : 100;
            char line[256];
            int n = snprintf(line, sizeof(line),
                             "dsp_traffic,user=A,dir=south count=%.0fi %" PRId64, south, ts);
            engine_feed_line(messy->e, line, (size_t)n);
            engine_feed_line(messy->e, line, (size_t)n);
        }
        for (int k = 0; k < 2; k++) {
            int64_t ts = T0 + t + k * 5 * S;
            double south = ts - T0 >= ONSET && ts - T0 < ONSET + 300 * S ? 500 : 100;
            char line[256];
            int n = snprintf(line, sizeof(line),
                             "dsp_traffic,user=A,dir=south count=%.0fi %" PRId64, south, ts);
            engine_feed_line(clean->e, line, (size_t)n);
        }
    }
    (void)bl;
    engine_finish(clean->e);
    engine_finish(messy->e);
    assert_int_equal(clean->sink.n, 2);
    assert_int_equal(messy->sink.n, clean->sink.n);
    for (int i = 0; i < clean->sink.n; i++) {
        char a[1024], b[1024];
        snprintf(a, sizeof(a), "%s", clean->sink.json[i]);
        snprintf(b, sizeof(b), "%s", messy->sink.json[i]);
        assert_string_equal(a, b);
    }
    const engine_stats_t *st = engine_stats(messy->e);
    assert_int_equal(st->duplicates, engine_stats(clean->e)->samples);
    assert_int_equal(st->samples, engine_stats(clean->e)->samples);
    fx_free(clean);
    fx_free(messy);
}

static void test_late_sample_is_counted_and_dropped(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    char line[256];
    for (int64_t t = 0; t <= 120 * S; t += 5 * S) {
        int n = snprintf(line, sizeof(line), "dsp_traffic,user=A,dir=south count=10i %" PRId64,
                         T0 + t);
        engine_feed_line(f->e, line, (size_t)n);
    }
    /* 60 s behind the newest: beyond the 30 s allowed lateness */
    int n = snprintf(line, sizeof(line), "dsp_traffic,user=A,dir=south count=10i %" PRId64,
                     T0 + 60 * S + 1);
    engine_feed_line(f->e, line, (size_t)n);
    /* a repeat within the lateness is a duplicate; one older than the
     * lateness cannot be told from a late sample and counts as late */
    n = snprintf(line, sizeof(line), "dsp_traffic,user=A,dir=south count=10i %" PRId64,
                 T0 + 110 * S);
    engine_feed_line(f->e, line, (size_t)n);
    n = snprintf(line, sizeof(line), "dsp_traffic,user=A,dir=south count=10i %" PRId64,
                 T0 + 5 * S);
    engine_feed_line(f->e, line, (size_t)n);
    engine_finish(f->e);
    const engine_stats_t *st = engine_stats(f->e);
    assert_int_equal(st->late, 2);
    assert_int_equal(st->duplicates, 1);
    assert_int_equal(st->samples, 25);
    fx_free(f);
}

static void test_bad_lines_are_counted_not_fatal(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    const char *bad[] = {
        "dsp_traffic,user=A,dir=south count=-4i 1568278800000000000",
        "dsp_traffic,user=A,dir=sideways count=5i 1568278800000000000",
        "dsp_traffic,user=,dir=south count=5i 1568278800000000000",
        "dsp_traffic,user=A,dir=north count=1i,backlog=7i notatime",
        "\x80\x81garbage\x7f",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_true(lp_result_is_bad(engine_feed_line(f->e, bad[i], strlen(bad[i]))));
    assert_int_equal(engine_feed_line(f->e, "cpu,host=a v=1 1", 16), LP_SKIP_MEASUREMENT);
    assert_int_equal(engine_feed_line(f->e, "# comment", 9), LP_SKIP_BLANK);
    const engine_stats_t *st = engine_stats(f->e);
    assert_int_equal(st->bad, 5);
    assert_int_equal(st->skipped, 1);
    assert_int_equal(st->samples, 0);
    fx_free(f);
}

static void limit_shape(int64_t t, double *s, double *n, double *d)
{
    (void)n;
    (void)d;
    if (t >= ONSET && t < ONSET + 60 * S)
        *s = 160; /* 32/s: over a limit of 25/s, under the storm ratio */
}

static void test_fixed_limit(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    f->detect.limit_south_rate = 25;
    run(f, 40, limit_shape);
    /* both Users share the params here; only A goes over its limit */
    assert_int_equal(count_kind(&f->sink, ALERT_LIMIT, 1), 1);
    assert_int_equal(count_kind(&f->sink, ALERT_STORM, 1), 0);
    assert_string_equal(f->sink.user[0], "A");
    assert_true(f->sink.a[0].limit == 25);
    fx_free(f);
}

static void test_declared_change_is_named(void **state)
{
    (void)state;
    changes_t *reg = changes_create();
    change_t own = { .id = "CHG-1", .user = "A", .kind = "firewall", .title = "fw",
                     .start = T0 + ONSET - 60 * S, .end = T0 + ONSET + 3600 * S,
                     .affects = CHG_NORTH };
    change_t other = { .id = "CHG-2", .user = "B", .kind = "firewall",
                       .start = T0 + ONSET - 60 * S, .end = T0 + ONSET + 3600 * S };
    assert_int_equal(changes_add(reg, &own), 0);
    assert_int_equal(changes_add(reg, &other), 0);
    fx_t *f = fx_new(reg);
    run(f, 45, blocked_shape);
    assert_int_equal(f->sink.a[0].corr, CORR_DECLARED);
    assert_string_equal(f->sink.change[0], "CHG-1");
    assert_true(f->sink.a[0].score > 0.5);
    fx_free(f);
    changes_destroy(reg);
}

static void test_same_input_same_output(void **state)
{
    (void)state;
    char *out[2];
    for (int k = 0; k < 2; k++) {
        fx_t *f = fx_new(NULL);
        run(f, 60, blocked_shape);
        size_t len = 0;
        out[k] = calloc(1, 1 << 16);
        for (int i = 0; i < f->sink.n; i++)
            len += (size_t)snprintf(out[k] + len, (1 << 16) - len, "%s", f->sink.json[i]);
        fx_free(f);
    }
    assert_true(strlen(out[0]) > 0);
    assert_string_equal(out[0], out[1]);
    free(out[0]);
    free(out[1]);
}

/* One series at 10 s for `days` days: 20 msg/s, x6 from 01:00 to 02:00
 * every night, an optional x6 jump at 13:00-13:10 of the last day, and a
 * growth factor per day (onboarding). */
static void daily_run(fx_t *f, int days, int jump, double growth_per_day)
{
    char line[256];
    for (int64_t t = 0; t < days * 86400 * S; t += 10 * S) {
        int64_t sod = (t / S) % 86400, day = t / (86400 * S);
        double rate = 20 * (1 + growth_per_day * (double)t / (86400.0 * S));
        if (sod >= 3600 && sod < 7200)
            rate *= 6;
        if (jump && day == days - 1 && sod >= 13 * 3600 && sod < 13 * 3600 + 600)
            rate *= 6;
        int n = snprintf(line, sizeof(line),
                         "dsp_traffic,user=A,dir=south,class=request count=%ldi %" PRId64,
                         noisy(f, rate * 10), T0 + t);
        engine_feed_line(f->e, line, (size_t)n);
    }
    engine_finish(f->e);
}

/* Alerts of a kind firing at or after `from`. */
static int firing_since(const sink_t *s, alert_kind_t k, int64_t from)
{
    int n = 0;
    for (int i = 0; i < s->n; i++)
        n += s->a[i].kind == k && s->a[i].firing && s->a[i].detected_at >= from;
    return n;
}

static void test_daily_batch_learnt_same_jump_at_noon_is_storm(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    daily_run(f, 2, 1, 0);
    int64_t day2 = T0 + 86400 * S;
    /* day one: the new batch is a storm; day two: it is the normal */
    assert_true(firing_since(&f->sink, ALERT_STORM, T0) >= 1);
    assert_int_equal(firing_since(&f->sink, ALERT_STORM, day2), 1);
    for (int i = 0; i < f->sink.n; i++) {
        const alert_t *a = &f->sink.a[i];
        if (a->firing && a->detected_at >= day2) {
            assert_int_equal(a->kind, ALERT_STORM);
            assert_true(a->starts_at == day2 + 13 * 3600 * S);
            assert_true(a->detected_at <= a->starts_at + 20 * S); /* two samples */
        }
    }
    assert_int_equal(firing_since(&f->sink, ALERT_SILENCE, T0), 0); /* batch end is no silence */
    fx_free(f);
}

static void test_onboarding_growth_is_not_a_storm(void **state)
{
    (void)state;
    fx_t *f = fx_new(NULL);
    daily_run(f, 3, 0, 1.0); /* x3 over two days, on top of the nightly batch */
    assert_int_equal(firing_since(&f->sink, ALERT_STORM, T0 + 86400 * S), 0);
    assert_int_equal(firing_since(&f->sink, ALERT_SILENCE, T0), 0);
    fx_free(f);
}

static void north_storm_shape(int64_t t, double *s, double *n, double *d)
{
    (void)s;
    (void)d;
    if (t >= ONSET && t < ONSET + 5 * 60 * S)
        *n *= 6;
}

static void test_competing_changes(void **state)
{
    (void)state;
    changes_t *reg = changes_create();
    /* User A declared two changes; direction and kind decide. User B's
     * change starts right at the onset and must never be blamed. */
    change_t south = { .id = "CHG-S", .user = "A", .kind = "headend", .title = "release",
                       .start = T0 + ONSET - 40 * 60 * S, .end = T0 + ONSET + 3600 * S,
                       .affects = CHG_SOUTH };
    change_t north = { .id = "CHG-N", .user = "A", .kind = "firmware", .title = "roll-out",
                       .start = T0 + ONSET - 12 * 60 * S, .end = T0 + ONSET + 3600 * S,
                       .affects = CHG_NORTH };
    change_t other = { .id = "CHG-B", .user = "B", .kind = "firmware",
                       .start = T0 + ONSET - 60 * S, .end = T0 + ONSET + 3600 * S,
                       .affects = CHG_NORTH };
    assert_int_equal(changes_add(reg, &south), 0);
    assert_int_equal(changes_add(reg, &north), 0);
    assert_int_equal(changes_add(reg, &other), 0);
    fx_t *f = fx_new(reg);
    run(f, 45, north_storm_shape);
    assert_true(count_kind(&f->sink, ALERT_STORM, 1) >= 1);
    assert_int_equal(f->sink.a[0].kind, ALERT_STORM);
    assert_string_equal(f->sink.change[0], "CHG-N");
    fx_free(f);
    changes_destroy(reg);

    /* declared four minutes late, a change still explains the incident */
    reg = changes_create();
    change_t late = { .id = "CHG-L", .user = "A", .kind = "firmware",
                      .start = T0 + ONSET + 4 * 60 * S, .end = T0 + ONSET + 3600 * S,
                      .affects = CHG_NORTH };
    assert_int_equal(changes_add(reg, &late), 0);
    f = fx_new(reg);
    run(f, 45, north_storm_shape);
    assert_string_equal(f->sink.change[0], "CHG-L");
    assert_int_equal(f->sink.a[0].corr, CORR_DECLARED);
    fx_free(f);
    changes_destroy(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_storm_fires_once_and_resolves),
        cmocka_unit_test(test_short_burst_is_not_a_storm),
        cmocka_unit_test(test_warmup_suppresses_alerts),
        cmocka_unit_test(test_blocked_route),
        cmocka_unit_test(test_degraded_route_is_blocked),
        cmocka_unit_test(test_silence_is_per_direction),
        cmocka_unit_test(test_rare_series_silence_needs_evidence),
        cmocka_unit_test(test_series_that_stops_reporting_falls_silent),
        cmocka_unit_test(test_feed_gap_is_one_feed_stalled),
        cmocka_unit_test(test_duplicates_and_disorder_change_nothing),
        cmocka_unit_test(test_late_sample_is_counted_and_dropped),
        cmocka_unit_test(test_bad_lines_are_counted_not_fatal),
        cmocka_unit_test(test_fixed_limit),
        cmocka_unit_test(test_declared_change_is_named),
        cmocka_unit_test(test_same_input_same_output),
        cmocka_unit_test(test_daily_batch_learnt_same_jump_at_noon_is_storm),
        cmocka_unit_test(test_onboarding_growth_is_not_a_storm),
        cmocka_unit_test(test_competing_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
