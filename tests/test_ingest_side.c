/*
 * test_ingest_side.c - tests of the daemon's ingest thread as a module
 * (adapters/intake/ingest_side.h): a message's lines counted and routed,
 * bad ones by reason; the thread reads a socket, pushes through the flush
 * hook, hands an accept to the router in its round and says it is done
 * once, after the last flush; NULL is no ingest. The daemon's end to end
 * tests run it with the rest (e2e_daemon, e2e_http, e2e_kafka...).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "err.h"
#include "ingest_side.h"
#include "router.h"

typedef struct {
    atomic_int records, flushes, done;
    atomic_int flushes_at_done;
} hooks_seen_t;

static void count_record(void *ctx, unsigned shard, const rec_t *r)
{
    (void)shard;
    (void)r;
    hooks_seen_t *h = ctx;
    atomic_fetch_add(&h->records, 1);
}

static void on_flush(void *ctx)
{
    hooks_seen_t *h = ctx;
    atomic_fetch_add(&h->flushes, 1);
}

static void on_done(void *ctx)
{
    hooks_seen_t *h = ctx;
    atomic_store(&h->flushes_at_done, atomic_load(&h->flushes));
    atomic_fetch_add(&h->done, 1);
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static router_t *new_router(hooks_seen_t *h)
{
    router_opts_t o = { .nshards = 1, .deliver = count_record, .ctx = h };
    ingest_params_defaults(&o.ingest);
    return router_create(&o);
}

static di_hooks_t hooks(router_t *rt, hooks_seen_t *h)
{
    return (di_hooks_t){ .router = rt, .flush = on_flush, .done = on_done, .now = mono_s,
                         .ctx = h };
}

/* Waits up to 5 s for read(k) to reach want. */
static int wait_for(uint64_t (*read)(dingest_t *), dingest_t *k, uint64_t want)
{
    for (int i = 0; i < 500 && read(k) < want; i++) {
        struct timespec ts = { 0, 10000000 };
        nanosleep(&ts, NULL);
    }
    return read(k) >= want;
}

static uint64_t lines_of(dingest_t *k)
{
    di_stats_t s;
    di_stats(k, &s);
    return s.lines;
}

static uint64_t early_of(dingest_t *k)
{
    di_stats_t s;
    di_stats(k, &s);
    return s.accepts_early;
}

static void test_feed_counts_lines(void **state)
{
    (void)state;
    hooks_seen_t seen = { 0 };
    router_t *rt = new_router(&seen);
    void *zctx = zmq_ctx_new();
    di_opts_t o = { .zctx = zctx, .max_message = 1 << 20, .msgs_per_round = 64 };
    di_hooks_t h = hooks(rt, &seen);
    dingest_t *k = NULL;
    char err[256] = "";
    assert_int_equal(di_open(&o, &h, &k, err, sizeof(err)), SW_OK);
    const char msg[] = "dsp_traffic,user=A,dir=south count=5i 1700000000000000000\n"
                       "dsp_traffic,user=A,dir=sideways count=5i 1700000000000000000";
    di_feed(k, msg, strlen(msg));
    di_stats_t s;
    di_stats(k, &s);
    assert_int_equal(s.msgs, 1);
    assert_int_equal(s.lines, 2);
    assert_int_equal(s.bytes, strlen(msg));
    assert_int_equal(s.bad, 1);
    assert_int_equal(s.bad_by_result[LP_BAD_DIR], 1);
    assert_int_equal(s.has_curve, 0);
    di_close(k);
    zmq_ctx_term(zctx);
    router_destroy(rt);
}

static void test_thread_reads_accepts_and_ends(void **state)
{
    (void)state;
    hooks_seen_t seen = { 0 };
    router_t *rt = new_router(&seen);
    void *zctx = zmq_ctx_new();
    char *const eps[] = { "bind:inproc://test-ingest-side" };
    di_opts_t o = { .zctx = zctx, .endpoints = eps, .nendpoints = 1, .max_message = 1 << 20,
                    .drain_timeout = 100000000, .msgs_per_round = 64 };
    di_hooks_t h = hooks(rt, &seen);
    dingest_t *k = NULL;
    char err[256] = "";
    assert_int_equal(di_open(&o, &h, &k, err, sizeof(err)), SW_OK);
    /* asked before any sample: nothing to accept, counted by the thread */
    assert_int_equal(di_accept(k, "A", 1, err, sizeof(err)), SW_OK);
    void *push = zmq_socket(zctx, ZMQ_PUSH);
    assert_int_equal(zmq_connect(push, "inproc://test-ingest-side"), 0);
    assert_int_equal(di_start(k), 0);
    assert_true(wait_for(early_of, k, 1));
    const char line[] = "dsp_traffic,user=A,dir=south count=5i 1700000000000000000";
    assert_int_equal(zmq_send(push, line, strlen(line), 0), (int)strlen(line));
    assert_true(wait_for(lines_of, k, 1));
    di_stop(k);
    di_join(k);
    /* done once, after the last flush (the router's finish delivered) */
    assert_int_equal(atomic_load(&seen.done), 1);
    assert_true(atomic_load(&seen.flushes) >= 2);
    assert_int_equal(atomic_load(&seen.flushes_at_done), atomic_load(&seen.flushes));
    assert_true(atomic_load(&seen.records) >= 1);
    /* queued and never taken: freed by di_close */
    assert_int_equal(di_accept(k, "B", 0, err, sizeof(err)), SW_OK);
    zmq_close(push);
    di_close(k);
    zmq_ctx_term(zctx);
    router_destroy(rt);
}

static void test_null_is_no_ingest(void **state)
{
    (void)state;
    di_stats_t s;
    memset(&s, 0xff, sizeof(s));
    di_stats(NULL, &s);
    assert_int_equal(s.msgs, 0);
    assert_int_equal(s.has_curve, 0);
    di_feed(NULL, "x", 1);
    di_stop(NULL);
    di_join(NULL);
    di_record_flush(NULL);
    di_close(NULL);
    assert_int_equal(di_start(NULL), 0);
    /* an accept with no ingest to take it is refused, with a reason */
    char err[128] = "";
    assert_int_equal(di_accept(NULL, "A", 1, err, sizeof(err)), SW_EINVAL);
    assert_non_null(strstr(err, "no ingest"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_feed_counts_lines),
        cmocka_unit_test(test_thread_reads_accepts_and_ends),
        cmocka_unit_test(test_null_is_no_ingest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
