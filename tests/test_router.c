/*
 * test_router.c - the ingest side of the pipeline (core/router.c): what
 * it takes and what it refuses before anything reaches a shard.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "router.h"

static void count(void *ctx, unsigned shard, const rec_t *r)
{
    (void)shard;
    if (r->type == REC_SAMPLE)
        ++*(int *)ctx;
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
