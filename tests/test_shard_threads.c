/*
 * test_shard_threads.c - tests of the daemon's shard threads as a module
 * (adapters/shards/shard_threads.h), on a real pipeline's shards, with this
 * thread as both the ingest thread (shards_deliver, shards_flush) and the
 * alert thread (shards_pop_events): records delivered reach their shard and
 * its events come out in order; parked shards stop between bursts and go
 * on when let go; a new config is taken; with drop_when_full a ring that
 * stays full sheds samples (counted) but keeps control records; after
 * ingest is done the threads drain their rings and finish. The daemon's end
 * to end tests run it with the rest (e2e_daemon, e2e_overload, e2e_kafka...).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "params.h"
#include "pipeline.h"
#include "shard_threads.h"

#define T0 1700000000000000000LL /* an event time, ns */
#define MS 1000000LL

static detect_params_t params;
static int cfg_a, cfg_b; /* two "configs": their addresses are the contexts */
static _Atomic(void *) last_ctx; /* the context detect_for was last asked with */

static const detect_params_t *detect_for(void *ctx, const char *user, size_t len)
{
    (void)user;
    (void)len;
    atomic_store(&last_ctx, ctx);
    return &params;
}

static _Atomic int64_t released = INT64_MAX;

typedef struct {
    pipeline_t *pipe;
    shards_t *sh;
} fixture_t;

static void to_shard(void *ctx, unsigned shard, const rec_t *r)
{
    fixture_t *f = ctx;
    shards_deliver(f->sh, shard, r);
}

static void to_alerts(void *ctx, unsigned shard, const event_t *ev)
{
    fixture_t *f = ctx;
    shards_emit(f->sh, shard, ev);
}

static void ignore_alert(void *ctx, const alert_t *a)
{
    (void)ctx;
    (void)a;
}

static void ignore_handover(void *ctx, const alert_t *a, int adopted)
{
    (void)ctx;
    (void)a;
    (void)adopted;
}

/* Two shards with rings of ring_size records (a quarter as many events). */
static void open_shards(fixture_t *f, size_t ring_size, int drop_when_full)
{
    detect_params_defaults(&params);
    atomic_store(&last_ctx, NULL);
    pipeline_opts_t po = { .nshards = 2, .detect_for = detect_for, .detect_ctx = &cfg_a,
                           .emit = ignore_alert, .handover = ignore_handover,
                           .to_shard = to_shard, .to_alerts = to_alerts, .transport_ctx = f };
    ingest_params_defaults(&po.ingest);
    corr_params_defaults(&po.corr);
    f->pipe = pipeline_create(&po, NULL);
    assert_non_null(f->pipe);
    shards_opts_t so = { .pipe = f->pipe, .ring_size = ring_size,
                         .drop_when_full = drop_when_full, .detect_for = detect_for,
                         .alerts_released = &released };
    assert_int_equal(shards_create(&so, &f->sh), SW_OK);
    assert_int_equal(shards_count(f->sh), 2);
}

static void close_shards(fixture_t *f)
{
    shards_ingest_done(f->sh);
    shards_join(f->sh);
    shards_destroy(f->sh);
    pipeline_destroy(f->pipe);
}

static rec_t tick(int64_t ts)
{
    return (rec_t){ .type = REC_TICK, .ts = ts };
}

static rec_t sample(const char *user, int64_t ts)
{
    rec_t r = { .type = REC_SAMPLE, .ts = ts, .dir = DIR_NORTH, .count = 10, .delivered = 10 };
    r.ulen = (uint8_t)strlen(user);
    r.clen = 3;
    memcpy(r.key, user, r.ulen);
    memcpy(r.key + r.ulen, "all", 3);
    return r;
}

static void nap_ms(long ms)
{
    struct timespec ts = { 0, ms * 1000000L };
    nanosleep(&ts, NULL);
}

/* Pops shard i's events for up to 5 s until `want` progress events came
 * (other events are skipped); their times into at[]. The number taken. */
static size_t pop_progress(fixture_t *f, unsigned i, int64_t *at, size_t want)
{
    size_t got = 0;
    event_t buf[16];
    for (int tries = 0; tries < 5000 && got < want; tries++) {
        size_t n = shards_pop_events(f->sh, i, buf, 16);
        for (size_t k = 0; k < n; k++)
            if (buf[k].type == EV_PROGRESS && got < want)
                at[got++] = buf[k].at;
        if (!n)
            nap_ms(1);
    }
    return got;
}

/* Records delivered reach their shard; its events come out of its ring in
 * the order the records went in; processed_below follows the last tick. */
static void test_records_in_order(void **state)
{
    (void)state;
    fixture_t f;
    open_shards(&f, 1024, 0);
    unsigned failed = 99;
    assert_int_equal(shards_start(f.sh, &failed), 0);
    enum { N = 200 };
    rec_t s = sample("u1", T0);
    shards_deliver(f.sh, 1, &s);
    for (int k = 1; k <= N; k++)
        for (unsigned i = 0; i < 2; i++) {
            rec_t t = tick(T0 + k * MS);
            shards_deliver(f.sh, i, &t);
        }
    shards_flush(f.sh);
    for (unsigned i = 0; i < 2; i++) {
        int64_t at[N];
        assert_int_equal(pop_progress(&f, i, at, N), N);
        for (int k = 0; k < N; k++)
            assert_int_equal(at[k], T0 + (k + 1) * MS);
    }
    for (int tries = 0; tries < 5000 && shards_processed_below(f.sh) != T0 + N * MS; tries++)
        nap_ms(1);
    assert_int_equal(shards_processed_below(f.sh), T0 + N * MS);
    shards_stat_t st[2];
    shards_stat(f.sh, 0, &st[0]);
    shards_stat(f.sh, 1, &st[1]);
    assert_int_equal(st[0].samples, 0); /* the sample went to shard 1 alone */
    assert_int_equal(st[1].samples, 1);
    assert_int_equal(st[1].series, 1);
    close_shards(&f);
}

/* Waits up to 5 s until shard i's in ring holds `depth` records. */
static int wait_depth(fixture_t *f, unsigned i, uint64_t depth)
{
    shards_stat_t st;
    for (int tries = 0; tries < 5000; tries++) {
        shards_stat(f->sh, i, &st);
        if (st.ring_depth == depth)
            return 1;
        nap_ms(1);
    }
    return 0;
}

/* Parked shards stop between bursts: what is delivered meanwhile waits in
 * their rings; let go, they handle it. */
static void test_park_and_unpark(void **state)
{
    (void)state;
    fixture_t f;
    open_shards(&f, 1024, 0);
    unsigned failed, stuck = 99;
    assert_int_equal(shards_start(f.sh, &failed), 0);
    int64_t at[10];
    for (int k = 1; k <= 10; k++) {
        rec_t t = tick(T0 + k * MS);
        shards_deliver(f.sh, 0, &t);
    }
    shards_flush(f.sh);
    assert_int_equal(pop_progress(&f, 0, at, 10), 10);
    assert_int_equal(shards_park_all(f.sh, 2.0, &stuck), 0);
    assert_int_equal(stuck, 99);
    for (int k = 11; k <= 20; k++) {
        rec_t t = tick(T0 + k * MS);
        shards_deliver(f.sh, 0, &t);
    }
    shards_flush(f.sh);
    nap_ms(50); /* a running shard would have taken them by now */
    event_t ev;
    assert_int_equal(shards_pop_events(f.sh, 0, &ev, 1), 0);
    shards_stat_t st;
    shards_stat(f.sh, 0, &st);
    assert_int_equal(st.ring_depth, 10);
    shards_unpark_all(f.sh);
    assert_int_equal(pop_progress(&f, 0, at, 10), 10);
    assert_int_equal(at[0], T0 + 11 * MS);
    assert_int_equal(at[9], T0 + 20 * MS);
    assert_true(wait_depth(&f, 0, 0));
    close_shards(&f);
}

/* A published config is taken between two bursts: the shard's Users are
 * rebound to it, and main hears every shard has switched. */
static void test_config_taken(void **state)
{
    (void)state;
    fixture_t f;
    open_shards(&f, 1024, 0);
    unsigned failed, stuck;
    assert_int_equal(shards_start(f.sh, &failed), 0);
    rec_t s = sample("u1", T0), t = tick(T0 + MS); /* the tick: a first sample waits for it */
    shards_deliver(f.sh, 0, &s);
    shards_deliver(f.sh, 0, &t);
    shards_flush(f.sh);
    shards_stat_t st = { 0 };
    for (int tries = 0; tries < 5000 && st.samples == 0; tries++) {
        nap_ms(1);
        shards_stat(f.sh, 0, &st);
    }
    assert_int_equal(st.samples, 1);
    assert_ptr_equal(atomic_load(&last_ctx), &cfg_a);
    /* parked, no shard can take it */
    assert_int_equal(shards_park_all(f.sh, 2.0, &stuck), 0);
    unsigned gen = shards_publish_config(f.sh, &cfg_b);
    assert_int_equal(gen, 1);
    nap_ms(20);
    assert_false(shards_config_taken(f.sh, gen));
    shards_unpark_all(f.sh);
    int taken = 0;
    for (int tries = 0; tries < 5000 && !(taken = shards_config_taken(f.sh, gen)); tries++)
        nap_ms(1);
    assert_true(taken);
    assert_ptr_equal(atomic_load(&last_ctx), &cfg_b); /* u1 rebound to it */
    close_shards(&f);
}

/* Another thread's unpark, some time after the ring filled. */
static void *unpark_later(void *arg)
{
    nap_ms(100);
    shards_unpark_all(arg);
    return NULL;
}

/* With drop_when_full, a ring that stays full (its shard parked) sheds the
 * samples of the batch (counted), keeps its control records and marks the
 * hole with one REC_SHED; nothing is shed while the ring takes them. */
static void test_drop_when_full(void **state)
{
    (void)state;
    fixture_t f;
    enum { RING = 256 };
    open_shards(&f, RING, 1);
    unsigned failed, stuck;
    assert_int_equal(shards_start(f.sh, &failed), 0);
    assert_int_equal(shards_park_all(f.sh, 2.0, &stuck), 0);
    int64_t ts = T0;
    for (int k = 0; k < RING; k++) { /* fills the ring exactly */
        rec_t s = sample("u1", ts += MS);
        shards_deliver(f.sh, 0, &s);
    }
    shards_flush(f.sh);
    shards_stat_t st;
    shards_stat(f.sh, 0, &st);
    assert_int_equal(st.ring_depth, RING);
    assert_int_equal(st.in_drops, 0);
    pthread_t helper;
    assert_int_equal(pthread_create(&helper, NULL, unpark_later, f.sh), 0);
    for (int k = 0; k < 40; k++) { /* waits past the grace, then sheds */
        rec_t s = sample("u1", ts += MS);
        shards_deliver(f.sh, 0, &s);
    }
    rec_t t = tick(ts += MS);
    shards_deliver(f.sh, 0, &t);
    shards_flush(f.sh); /* returns once the kept records are in */
    pthread_join(helper, NULL);
    shards_stat(f.sh, 0, &st);
    assert_int_equal(st.in_drops, 40);
    assert_true(st.in_waits > 0);
    int64_t at;
    assert_int_equal(pop_progress(&f, 0, &at, 1), 1); /* the tick was kept */
    assert_int_equal(at, ts);
    shards_stat(f.sh, 0, &st);
    assert_int_equal(st.samples, RING);
    assert_int_equal(st.sheds, 1); /* one REC_SHED for the run of shed samples */
    close_shards(&f);
}

/* After ingest is done, each shard takes every record left in its ring,
 * then finishes; the alert side sees them all, then every shard done. */
static void test_done_drains(void **state)
{
    (void)state;
    fixture_t f;
    open_shards(&f, 1024, 0);
    unsigned failed, stuck;
    assert_int_equal(shards_start(f.sh, &failed), 0);
    assert_int_equal(shards_park_all(f.sh, 2.0, &stuck), 0);
    enum { N = 100 };
    for (int k = 1; k <= N; k++)
        for (unsigned i = 0; i < 2; i++) {
            rec_t t = tick(T0 + k * MS);
            shards_deliver(f.sh, i, &t);
        }
    shards_flush(f.sh);
    shards_ingest_done(f.sh);
    assert_false(shards_all_done(f.sh));
    shards_unpark_all(f.sh);
    shards_join(f.sh); /* they finish by themselves */
    for (unsigned i = 0; i < 2; i++) {
        int64_t at[N];
        assert_int_equal(pop_progress(&f, i, at, N), N);
        assert_int_equal(at[N - 1], T0 + N * MS);
    }
    assert_true(shards_all_done(f.sh));
    close_shards(&f);
}

/* Made and freed without starting: nothing to join; destroy takes NULL.
 * A ring that cannot be made (an out ring of 2 / 4 = 0 events) fails the
 * whole, with what was made freed (ASan's leak check). */
static void test_not_started(void **state)
{
    (void)state;
    fixture_t f;
    open_shards(&f, 64, 0);
    shards_t *none = f.sh; /* not NULL: failing sets it */
    shards_opts_t so = { .pipe = f.pipe, .ring_size = 2, .detect_for = detect_for,
                         .alerts_released = &released };
    assert_int_equal(shards_create(&so, &none), SW_ENOMEM);
    assert_null(none);
    shards_destroy(NULL);
    close_shards(&f); /* joins nothing */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_in_order),
        cmocka_unit_test(test_park_and_unpark),
        cmocka_unit_test(test_config_taken),
        cmocka_unit_test(test_drop_when_full),
        cmocka_unit_test(test_done_drains),
        cmocka_unit_test(test_not_started),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
