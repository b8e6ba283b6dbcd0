/*
 * test_shard.c - what a shard does with the samples of one event time,
 * seen through the engine: Users may arrive in any order (a DSP stamps a
 * whole round at once), and a sample may come more than once.
 *
 * Order: the same traffic with its Users in id order and shuffled anew
 * each round gives the same alert lines, byte for byte, at 1 and 4
 * shards, impacted Users included.
 *
 * Repeats: a repeat of a sample never hides trouble, whichever copy came
 * first: field by field the reading that shows more is kept (the larger
 * count, rejections and backlog, the smaller deliveries). Exact repeats
 * are duplicates; repeats that disagree are counted as conflicts too.
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
#include "err.h"
#include "router.h"
#include "shard.h"
#include "sim.h"

#define S INT64_C(1000000000)
#define T0 (INT64_C(1568264400) * S) /* 2019-09-12T05:00:00Z */
#define ONSET (30 * 60 * S)

/* The alert lines of a run, concatenated. */
typedef struct {
    char *buf;
    size_t len, cap;
    int firing, resolved;
    size_t max_impacted;
} lines_t;

static void collect(void *ctx, const alert_t *a)
{
    lines_t *l = ctx;
    char line[4096];
    size_t n = alert_format_json(a, line, sizeof(line));
    assert_true(n < sizeof(line));
    if (l->len + n + 1 > l->cap) {
        l->cap = (l->len + n + 1) * 2;
        l->buf = realloc(l->buf, l->cap);
        assert_non_null(l->buf);
    }
    memcpy(l->buf + l->len, line, n + 1);
    l->len += n;
    l->firing += a->firing;
    l->resolved += !a->firing;
    if (a->n_impacted > l->max_impacted)
        l->max_impacted = a->n_impacted;
}

static engine_t *new_engine(unsigned nshards, lines_t *out)
{
    engine_opts_t o = { .emit = collect, .emit_ctx = out, .nshards = nshards };
    ingest_params_defaults(&o.ingest);
    corr_params_defaults(&o.corr);
    engine_t *e = engine_create(&o, NULL);
    assert_non_null(e);
    return e;
}

static void feed(engine_t *e, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    assert_true(n > 0 && n < (int)sizeof(line));
    assert_int_equal(engine_feed_line(e, line, (size_t)n), LP_OK);
}

/* Feeds every line of a buffer of line protocol. */
static void feed_text(engine_t *e, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        engine_feed_line(e, p, l);
        p += l + 1;
    }
}

/* ---- Users in any order ------------------------------------------------- */

/* 40 Users at 10 s for 2 h, a south storm that slows deliveries to a third
 * of the others, and a blocked route: the simulator's traffic in `order`. */
static char *sim_traffic(sim_order_t order, size_t *len)
{
    static const sim_incident_t inc[] = {
        { .kind = SIM_STORM_SOUTH, .user = 3, .at = 60 * 60 * S, .duration = 15 * 60 * S,
          .impact = 1 },
        { .kind = SIM_BLOCKED, .user = 7, .at = 90 * 60 * S, .duration = 10 * 60 * S },
    };
    sim_opts_t o;
    sim_opts_defaults(&o);
    o.n_users = 40;
    o.duration_ns = 2 * 3600 * S;
    o.interval_ns = 10 * S;
    o.order = order;
    o.incidents = inc;
    o.n_incidents = sizeof(inc) / sizeof(*inc);
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    assert_non_null(f);
    assert_int_equal(sim_write(&o, f, NULL, NULL), 0);
    fclose(f);
    return buf;
}

static void test_users_in_any_order_same_lines(void **state)
{
    (void)state;
    size_t len[2];
    char *traffic[2] = { sim_traffic(SIM_ORDER_ID, &len[0]),
                         sim_traffic(SIM_ORDER_SHUFFLED, &len[1]) };
    assert_int_equal(len[0], len[1]);
    assert_memory_not_equal(traffic[0], traffic[1], len[0]); /* really another order */
    lines_t out[4] = { 0 };
    for (int k = 0; k < 4; k++) { /* id and shuffled, at 1 and 4 shards */
        engine_t *e = new_engine(k < 2 ? 1 : 4, &out[k]);
        feed_text(e, traffic[k % 2], len[k % 2]);
        engine_finish(e);
        engine_destroy(e);
    }
    /* the storm (with the Users it slowed) and the blocked route, each
     * fired and resolved */
    assert_true(out[0].firing >= 2);
    assert_int_equal(out[0].firing, out[0].resolved);
    assert_true(out[0].max_impacted >= 2);
    for (int k = 1; k < 4; k++)
        assert_string_equal(out[0].buf, out[k].buf);
    for (int k = 0; k < 4; k++)
        free(out[k].buf);
    free(traffic[0]);
    free(traffic[1]);
}

/* ---- repeats ------------------------------------------------------------ */

enum { FORGE_NONE, FORGE_AHEAD, FORGE_AFTER, FORGE_EXACT };

/*
 * User A at 100 req/s and 100 responses/s at 5 s, with User B beside it;
 * from ONSET for 5 min A's requests run x5 (`storm`) or its deliveries
 * stop (`!storm`). `forge` adds a repeat of each of A's samples in that
 * span: the usual reading (a normal count, everything delivered, no
 * backlog) just before or after the real one, or an exact copy.
 */
static void run_forged(lines_t *out, int storm, int forge, engine_stats_t *st)
{
    engine_t *e = new_engine(1, out);
    double backlog = 0;
    for (int64_t t = 0; t < 45 * 60 * S; t += 5 * S) {
        int64_t ts = T0 + t;
        int on = t >= ONSET && t < ONSET + 5 * 60 * S;
        long south = storm && on ? 500 : 100, north = 100;
        long delivered = !storm && on ? 0 : north;
        backlog = !storm && on ? backlog + (double)north : 0;
        char real[2][256], usual[2][256];
        snprintf(real[0], 256, "dsp_traffic,user=A,dir=south count=%ldi %" PRId64, south, ts);
        snprintf(real[1], 256,
                 "dsp_traffic,user=A,dir=north count=%ldi,delivered=%ldi,backlog=%.0fi %" PRId64,
                 north, delivered, backlog, ts);
        snprintf(usual[0], 256, "dsp_traffic,user=A,dir=south count=100i %" PRId64, ts);
        snprintf(usual[1], 256,
                 "dsp_traffic,user=A,dir=north count=100i,delivered=100i,backlog=0i %" PRId64, ts);
        for (int d = 0; d < 2; d++) {
            if (on && forge == FORGE_AHEAD)
                feed(e, "%s", usual[d]);
            feed(e, "%s", real[d]);
            if (on && forge == FORGE_AFTER)
                feed(e, "%s", usual[d]);
            if (on && forge == FORGE_EXACT)
                feed(e, "%s", real[d]);
        }
        feed(e, "dsp_traffic,user=B,dir=south count=50i %" PRId64, ts + 1000000);
    }
    engine_finish(e);
    *st = *engine_stats(e);
    engine_destroy(e);
}

/* The forged run gives the clean run's lines, and counts its repeats. */
static void check_forged(int storm, int forge)
{
    lines_t clean = { 0 }, forged = { 0 };
    engine_stats_t cs, fs;
    run_forged(&clean, storm, FORGE_NONE, &cs);
    run_forged(&forged, storm, forge, &fs);
    assert_int_equal(clean.firing, 1); /* the storm or the blocked route */
    assert_int_equal(clean.resolved, 1);
    assert_non_null(strstr(clean.buf, storm ? "\"alert\":\"storm\"" : "\"alert\":\"blocked_route\""));
    assert_string_equal(clean.buf, forged.buf);
    uint64_t repeats = 2 * 60; /* two series, 60 samples of 5 s in 5 min */
    assert_int_equal(fs.duplicates, repeats);
    /* a forged copy disagrees in the series the incident is in (the other
     * series reads the same in both) */
    assert_int_equal(fs.conflicts, forge == FORGE_EXACT ? 0 : 60);
    assert_int_equal(fs.samples, cs.samples);
    assert_int_equal(cs.duplicates, 0);
    assert_int_equal(cs.conflicts, 0);
    free(clean.buf);
    free(forged.buf);
}

static void test_repeat_ahead_cannot_hide_storm(void **state)
{
    (void)state;
    check_forged(1, FORGE_AHEAD);
}

static void test_repeat_after_cannot_hide_storm(void **state)
{
    (void)state;
    check_forged(1, FORGE_AFTER);
}

static void test_repeat_cannot_hide_blocked_route(void **state)
{
    (void)state;
    check_forged(0, FORGE_AHEAD);
    check_forged(0, FORGE_AFTER);
}

static void test_exact_repeat_is_no_conflict(void **state)
{
    (void)state;
    check_forged(1, FORGE_EXACT);
}

/* A repeat with a field the first copy lacked adds it; a repeat of a
 * sample of another series, or of another time, is no repeat. */
static void test_repeat_fields_merge(void **state)
{
    (void)state;
    lines_t out = { 0 };
    engine_t *e = new_engine(1, &out);
    feed(e, "dsp_traffic,user=A,dir=north count=10i %" PRId64, T0);
    feed(e, "dsp_traffic,user=A,dir=north backlog=7i %" PRId64, T0);
    feed(e, "dsp_traffic,user=A,dir=north,class=alert count=10i %" PRId64, T0);
    feed(e, "dsp_traffic,user=A,dir=north count=10i %" PRId64, T0 + 5 * S);
    engine_finish(e);
    const engine_stats_t *st = engine_stats(e);
    assert_int_equal(st->duplicates, 1);
    assert_int_equal(st->conflicts, 1); /* the fields differ */
    assert_int_equal(st->samples, 3);
    engine_destroy(e);
    free(out.buf);
}

/* ---- alerts resumed after a restart ------------------------------------- */

/* The firing alert a sink saw last, kept for a resume. */
typedef struct {
    lines_t lines;
    alert_t a;
    char user[LP_MAX_ID + 1], cls[LP_MAX_ID + 1];
} keep_t;

static void keep_firing(void *ctx, const alert_t *a)
{
    keep_t *k = ctx;
    collect(&k->lines, a);
    if (a->firing) {
        k->a = *a;
        snprintf(k->user, sizeof(k->user), "%s", a->user);
        snprintf(k->cls, sizeof(k->cls), "%s", a->cls);
    }
}

/* User A's traffic at 5 s from `from` to `to` (minutes from T0): 100 req/s
 * south, 100 responses north, x5 south from ONSET for 5 minutes (`storm`)
 * or nothing north from ONSET for 5 minutes (`!storm`); B beside it. */
static void feed_span(engine_t *e, int storm, int from, int to)
{
    for (int64_t t = from * 60 * S; t < to * 60 * S; t += 5 * S) {
        int on = t >= ONSET && t < ONSET + 5 * 60 * S;
        feed(e, "dsp_traffic,user=A,dir=south count=%di %" PRId64, storm && on ? 500 : 100, T0 + t);
        feed(e, "dsp_traffic,user=A,dir=north count=%di,delivered=%di %" PRId64,
             !storm && on ? 0 : 100, !storm && on ? 0 : 100, T0 + t);
        feed(e, "dsp_traffic,user=B,dir=south count=50i %" PRId64, T0 + t + 1000000);
    }
}

/*
 * The daemon stops (kill -9) two minutes into an incident and starts again
 * with its state and its open alert: the second run writes no firing line,
 * and the resolved line it writes is the one an uninterrupted run writes,
 * start included.
 */
static void check_resume(int storm)
{
    lines_t whole = { 0 };
    engine_t *e = new_engine(1, &whole);
    feed_span(e, storm, 0, 45);
    engine_finish(e);
    engine_destroy(e);
    assert_int_equal(whole.firing, 1);
    assert_int_equal(whole.resolved, 1);
    const char *resolved = strstr(whole.buf, "{\"status\":\"resolved\"");
    assert_non_null(resolved);

    keep_t first = { 0 };
    engine_opts_t o = { .emit = keep_firing, .emit_ctx = &first, .nshards = 1 };
    ingest_params_defaults(&o.ingest);
    corr_params_defaults(&o.corr);
    e = engine_create(&o, NULL);
    assert_non_null(e);
    feed_span(e, storm, 0, 32);       /* fired at ONSET (30 min) */
    assert_int_equal(first.lines.firing, 1);
    unsigned char *state;
    size_t len;
    assert_int_equal(engine_state_save(e, &state, &len), 0);
    engine_destroy(e);                /* killed: nothing more written */

    lines_t second = { 0 };
    e = new_engine(4, &second);
    char err[256];
    assert_int_equal(engine_state_load(e, state, len, err, sizeof(err)), 0);
    shard_resume_t r = { .kind = first.a.kind, .dir = first.a.dir, .user = first.user,
                         .cls = first.cls,
                         .fire = { .starts_at = first.a.starts_at,
                                   .detected_at = first.a.detected_at,
                                   .since = first.a.starts_at, .value = first.a.value,
                                   .baseline = first.a.baseline, .backlog = first.a.backlog,
                                   .incident = first.a.incident,
                                   .role = (uint8_t)first.a.role,
                                   .severity = (uint8_t)first.a.severity,
                                   .learning = (uint8_t)first.a.learning } };
    assert_int_equal(engine_resume(e, &r), 0);
    assert_int_equal(engine_resume(e, &r), SW_EEXISTS);
    feed_span(e, storm, 32, 45);
    engine_finish(e);
    engine_destroy(e);
    assert_int_equal(second.firing, 0);
    assert_int_equal(second.resolved, 1);
    assert_string_equal(second.buf, resolved);
    free(state);
    free(whole.buf);
    free(first.lines.buf);
    free(second.buf);
}

static void test_storm_resumed_after_restart(void **state)
{
    (void)state;
    check_resume(1);
}

static void test_silence_resumed_after_restart(void **state)
{
    (void)state;
    check_resume(0);
}

/* A feed_stalled resumed after a restart resolves at the first sample. */
static void test_feed_stall_resumed_resolves_at_first_sample(void **state)
{
    (void)state;
    lines_t out = { 0 };
    engine_t *e = new_engine(2, &out);
    shard_resume_t r = { .kind = ALERT_FEED, .user = "*",
                         .fire = { .starts_at = T0 - 600 * S, .detected_at = T0 - 570 * S } };
    assert_int_equal(engine_resume(e, &r), 0);
    feed(e, "dsp_traffic,user=A,dir=south count=1i %" PRId64, T0);
    feed(e, "dsp_traffic,user=A,dir=south count=1i %" PRId64, T0 + 5 * S);
    engine_finish(e);
    engine_destroy(e);
    assert_int_equal(out.firing, 0);
    assert_int_equal(out.resolved, 1);
    assert_non_null(strstr(out.buf, "\"alert\":\"feed_stalled\""));
    assert_non_null(strstr(out.buf, "\"starts_at\":\"2019-09-12T04:50:00Z\""));
    assert_non_null(strstr(out.buf, "\"ends_at\":\"2019-09-12T05:00:00Z\""));
    free(out.buf);
}

/* ---- bursts ------------------------------------------------------------- */

/* The records a router hands its one shard. */
typedef struct {
    rec_t *v;
    size_t n, cap;
} recs_t;

static void keep_rec(void *ctx, unsigned shard, const rec_t *r)
{
    recs_t *rs = ctx;
    assert_int_equal(shard, 0);
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 4096;
        rs->v = realloc(rs->v, rs->cap * sizeof(*rs->v));
        assert_non_null(rs->v);
    }
    rs->v[rs->n++] = *r;
}

/* A shard's events as text, every field. */
static void ev_text(void *ctx, const event_t *ev)
{
    FILE *f = ctx;
    fprintf(f,
            "%" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64
            " %.17g %.17g %.17g %.17g %.17g %.17g %u %u %u %u %u %u %u %u %u %" PRIu64 " %s %s\n",
            ev->at, ev->starts_at, ev->detected_at, ev->ends_at, ev->since, ev->dt, ev->value,
            ev->baseline, ev->backlog, ev->limit, ev->queued, ev->delivered, ev->id, ev->type,
            ev->kind, ev->dir, ev->alerting, ev->learning, ev->role, ev->severity, ev->src,
            ev->incident, ev->user, ev->cls);
}

static const detect_params_t *default_detection(void *ctx, const char *user, size_t len)
{
    static detect_params_t p;
    static int made;
    (void)ctx;
    (void)user;
    (void)len;
    if (!made) {
        detect_params_defaults(&p);
        made = 1;
    }
    return &p;
}

/* Runs the records through a shard holding at most max_series series, one
 * by one (burst 0) or in bursts of the sizes given in turn; returns its
 * events as text and its stats. */
static char *shard_run(const recs_t *rs, size_t max_series, const size_t *bursts, size_t nb,
                       shard_stats_t *st)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    shard_opts_t o = { .detect_for = default_detection, .emit = ev_text, .emit_ctx = f,
                       .feed_owner = 1, .max_series = max_series };
    ingest_params_defaults(&o.ingest);
    shard_t *sh = shard_create(&o);
    assert_non_null(sh);
    for (size_t i = 0, b = 0; i < rs->n;) {
        size_t k = nb ? bursts[b++ % nb] : 1;
        if (k > rs->n - i)
            k = rs->n - i;
        if (nb)
            shard_records(sh, &rs->v[i], k);
        else
            shard_record(sh, &rs->v[i]);
        i += k;
    }
    shard_flush(sh);
    *st = *shard_stats(sh);
    shard_destroy(sh);
    fclose(f);
    return text;
}

/* A burst handed over whole (the daemon's shard thread, with its
 * prefetching ahead) does exactly what its records one by one do: the
 * same events, field for field, and the same counts, with storms, a
 * blocked route, Users in any order within a timestamp, repeats and a
 * series limit that evicts. */
static void test_bursts_same_as_records(void **state)
{
    (void)state;
    size_t len;
    char *traffic = sim_traffic(SIM_ORDER_SHUFFLED, &len);
    recs_t rs = { 0 };
    router_opts_t ro = { .nshards = 1, .deliver = keep_rec, .ctx = &rs };
    ingest_params_defaults(&ro.ingest);
    router_t *rt = router_create(&ro);
    assert_non_null(rt);
    const char *p = traffic, *end = traffic + len;
    for (int line = 0; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        router_feed_line(rt, p, l);
        if (line % 97 == 0) /* a repeat now and then */
            router_feed_line(rt, p, l);
        p += l + 1;
    }
    router_finish(rt);
    router_destroy(rt);
    free(traffic);
    assert_true(rs.n > 10000);

    static const size_t bursts[] = { 64, 1, 3, 13, 2, 200, 7, 64 };
    for (int limited = 0; limited < 2; limited++) {
        size_t max_series = limited ? 100 : 0; /* 40 Users, 4 series each */
        shard_stats_t one, burst;
        char *a = shard_run(&rs, max_series, NULL, 0, &one);
        char *b = shard_run(&rs, max_series, bursts, sizeof(bursts) / sizeof(*bursts), &burst);
        assert_true(strlen(a) > 1000);
        assert_string_equal(a, b);
        assert_true(one.samples > 10000);
        assert_int_equal(one.samples, burst.samples);
        assert_int_equal(one.duplicates, burst.duplicates);
        assert_true(one.duplicates > 0);
        assert_int_equal(one.evicted, burst.evicted);
        assert_int_equal(one.refused, burst.refused);
        if (limited)
            assert_true(one.evicted + one.refused > 0);
        free(a);
        free(b);
    }
    free(rs.v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_users_in_any_order_same_lines),
        cmocka_unit_test(test_bursts_same_as_records),
        cmocka_unit_test(test_repeat_ahead_cannot_hide_storm),
        cmocka_unit_test(test_repeat_after_cannot_hide_storm),
        cmocka_unit_test(test_repeat_cannot_hide_blocked_route),
        cmocka_unit_test(test_exact_repeat_is_no_conflict),
        cmocka_unit_test(test_repeat_fields_merge),
        cmocka_unit_test(test_storm_resumed_after_restart),
        cmocka_unit_test(test_silence_resumed_after_restart),
        cmocka_unit_test(test_feed_stall_resumed_resolves_at_first_sample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
