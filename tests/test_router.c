/*
 * test_router.c - the ingest side of the pipeline (core/router.c): what
 * it takes and what it refuses before anything reaches a shard.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

static void count(void *ctx, unsigned shard, const rec_t *r)
{
    (void)shard;
    if (r->type == REC_SAMPLE)
        ++*(int *)ctx;
}

/* Feed stalls seen by the shards, and the last one's records. */
typedef struct {
    int stalls, gaps;
    rec_t last_stall;
} stalls_t;

static void count_stalls(void *ctx, unsigned shard, const rec_t *r)
{
    (void)shard;
    stalls_t *st = ctx;
    if (r->type == REC_STALL) {
        st->stalls++;
        st->last_stall = *r;
    }
    st->gaps += r->type == REC_GAP;
}

#define S INT64_C(1000000000)
#define T0 INT64_C(1568264400000000000)

/* Three Users, stamped within the same second, at event time t. */
static void round_at(router_t *rt, int64_t t)
{
    char line[128];
    for (int u = 0; u < 3; u++) {
        int n = snprintf(line, sizeof(line), "dsp_traffic,user=U%d,dir=south count=5i %lld", u,
                         (long long)(t + u * 1000000));
        assert_int_equal(router_feed_line(rt, line, (size_t)n), LP_OK);
    }
}

/*
 * A feed of 5-minute samples is not stalled between them: after its first
 * step (when nothing is known, 30 s of nothing is a stall) the router
 * learns its rhythm and allows stall_cadences of it; a real stop of
 * 20 minutes is still a stall, at 15 minutes, and one long gap does not
 * become the rhythm.
 */
static void test_stall_follows_feed_rhythm(void **state)
{
    (void)state;
    stalls_t st = { 0 };
    router_opts_t o = { .nshards = 1, .deliver = count_stalls, .ctx = &st };
    ingest_params_defaults(&o.ingest);
    router_t *rt = router_create(&o);
    assert_non_null(rt);
    assert_true(router_stall_after(rt) == o.ingest.stall_after);
    int64_t t = T0;
    for (int k = 0; k < 24; k++, t += 300 * S)
        round_at(rt, t);
    assert_int_equal(st.stalls, 1); /* the first step only */
    /* steps of 300 s less the round's 2 ms, fading over a day */
    int64_t want = (int64_t)(o.ingest.stall_cadences * 300 * S);
    assert_true(router_stall_after(rt) > want - want / 50 && router_stall_after(rt) <= want);
    /* the feed stops for 20 minutes: stalled at 15 */
    t += 20 * 60 * S - 300 * S;
    round_at(rt, t);
    assert_int_equal(st.stalls, 2);
    assert_true(st.last_stall.ts - st.last_stall.aux == (int64_t)st.last_stall.count);
    assert_true(st.last_stall.count > (double)(want - want / 50) && st.last_stall.count <= (double)want);
    /* ... and its rhythm is still five minutes */
    for (int k = 0; k < 4; k++)
        round_at(rt, t += 300 * S);
    assert_int_equal(st.stalls, 2);
    assert_true(router_stall_after(rt) > want - want / 50 && router_stall_after(rt) <= want);
    router_destroy(rt);

    /* a feed of 10-second samples keeps feed.stall_after */
    st = (stalls_t){ 0 };
    rt = router_create(&o);
    assert_non_null(rt);
    t = T0;
    for (int k = 0; k < 100; k++, t += 10 * S)
        round_at(rt, t);
    assert_true(router_stall_after(rt) == o.ingest.stall_after);
    round_at(rt, t + 40 * S);
    assert_int_equal(st.stalls, 1);
    router_destroy(rt);
}

/* A line of exactly ingest.max_line bytes is read; one byte more is bad
 * (counted by reason), and the next line is read as usual. */
static void test_max_line(void **state)
{
    (void)state;
    int samples = 0;
    router_opts_t o = { .nshards = 1, .deliver = count, .ctx = &samples };
    ingest_params_defaults(&o.ingest);
    o.ingest.max_line = 300;
    router_t *rt = router_create(&o);
    assert_non_null(rt);
    char line[400];
    const char *head = "dsp_traffic,user=A,dir=south,pad=";
    const char *tail = " count=1i 1568264400000000000";
    size_t fixed = strlen(head) + strlen(tail);
    for (size_t len = 299; len <= 301; len++) {
        size_t pad = len - fixed;
        memcpy(line, head, strlen(head));
        memset(line + strlen(head), 'x', pad);
        memcpy(line + strlen(head) + pad, tail, strlen(tail));
        lp_result_t want = len <= 300 ? LP_OK : LP_BAD_TOO_LONG;
        assert_int_equal(router_feed_line(rt, line, len), want);
    }
    router_finish(rt);
    assert_int_equal(samples, 2);
    assert_int_equal(router_stats(rt)->by_result[LP_BAD_TOO_LONG], 1);
    assert_int_equal(router_stats(rt)->bad, 1);
    router_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_line),
        cmocka_unit_test(test_stall_follows_feed_rhythm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
