/*
 * test_reorder.c - tests of the event-time reorder buffer (core/reorder.h).
 *
 * Records carry an arrival id in `series` so the tests can check the order
 * of release: sorted by event time, ties in arrival order, never before the
 * watermark (newest event time minus lateness) has passed them unless
 * draining. Late records are refused with 1. Growth is exercised past the
 * initial FIFO (1024) and heap (256) capacities, including a FIFO that has
 * wrapped when it grows. Every buffer is destroyed at the end of its test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reorder.h"

#define SEC INT64_C(1000000000)

static int push(reorder_t *r, int64_t ts, uint32_t id)
{
    rec_t rec = { .ts = ts, .aux = id, .count = (double)id, .seq = 0xdeadbeefu };
    return reorder_push(r, &rec);
}

/* Pops every ready record into ts/ids (room for `max`); returns how many. */
static size_t pop_all(reorder_t *r, int drain, int64_t *ts, uint32_t *ids, size_t max)
{
    size_t n = 0;
    rec_t out;
    while (reorder_pop(r, &out, drain)) {
        assert_true(n < max);
        assert_true(out.count == (double)out.aux); /* payload travels intact */
        ts[n] = out.ts;
        ids[n] = out.aux;
        n++;
    }
    return n;
}

static void test_create_destroy(void **state)
{
    (void)state;
    reorder_t *r = reorder_create(30 * SEC);
    assert_non_null(r);
    assert_true(reorder_max_ts(r) == INT64_MIN);
    assert_int_equal(reorder_depth(r), 0);
    rec_t out;
    assert_int_equal(reorder_pop(r, &out, 0), 0);
    assert_int_equal(reorder_pop(r, &out, 1), 0);
    reorder_destroy(r);
    reorder_destroy(NULL);
}

/* In-order records come out in order, each once the watermark passes it. */
static void test_in_order_passthrough(void **state)
{
    (void)state;
    reorder_t *r = reorder_create(30 * SEC);
    int64_t ts[64];
    uint32_t ids[64];
    size_t got = 0;
    for (uint32_t i = 0; i < 50; i++) {
        assert_int_equal(push(r, (int64_t)i * 10 * SEC, i), 0);
        assert_true(reorder_max_ts(r) == (int64_t)i * 10 * SEC);
        got += pop_all(r, 0, ts + got, ids + got, 64 - got);
        /* released: everything strictly before i*10 - 30 s */
        size_t want = i >= 4 ? i - 3 : 0;
        assert_int_equal(got, want);
        assert_int_equal(reorder_depth(r), i + 1 - want);
    }
    got += pop_all(r, 1, ts + got, ids + got, 64 - got);
    assert_int_equal(got, 50);
    for (uint32_t i = 0; i < 50; i++) {
        assert_int_equal(ids[i], i);
        assert_true(ts[i] == (int64_t)i * 10 * SEC);
    }
    assert_int_equal(reorder_depth(r), 0);
    reorder_destroy(r);
}

/* Watermark: a record is held until max_ts - lateness passes it. */
static void test_watermark(void **state)
{
    (void)state;
    reorder_t *r = reorder_create(10 * SEC);
    rec_t out;
    assert_int_equal(push(r, 100 * SEC, 1), 0);
    assert_int_equal(reorder_pop(r, &out, 0), 0);
    assert_int_equal(push(r, 109 * SEC, 2), 0);
    assert_int_equal(reorder_pop(r, &out, 0), 0); /* watermark 99 s < 100 s */
    assert_int_equal(push(r, 110 * SEC, 3), 0);
    assert_int_equal(reorder_pop(r, &out, 0), 0); /* watermark 100 s: not yet past */
    assert_int_equal(push(r, 110 * SEC + 1, 4), 0);
    assert_int_equal(reorder_pop(r, &out, 0), 1); /* watermark past 100 s: released */
    assert_int_equal(out.aux, 1);
    assert_true(out.ts == 100 * SEC);
    assert_int_equal(reorder_pop(r, &out, 0), 0);
    assert_int_equal(reorder_depth(r), 3);
    reorder_destroy(r);
}

/* Zero lateness releases a record as soon as a newer one arrives. */
static void test_zero_lateness(void **state)
{
    (void)state;
    reorder_t *r = reorder_create(0);
    rec_t out;
    assert_int_equal(push(r, 5 * SEC, 1), 0);
    assert_int_equal(reorder_pop(r, &out, 0), 0); /* more at 5 s may come */
    assert_int_equal(push(r, 5 * SEC, 2), 0);     /* same time: not late */
    assert_int_equal(push(r, 4 * SEC, 3), 1);     /* older: late */
    assert_int_equal(push(r, 6 * SEC, 4), 0);
    assert_int_equal(reorder_pop(r, &out, 0), 1);
    assert_int_equal(out.aux, 1);
    assert_int_equal(reorder_pop(r, &out, 0), 1);
    assert_int_equal(out.aux, 2);
    assert_int_equal(reorder_pop(r, &out, 0), 0);
    reorder_destroy(r);
}

/* Swapped pairs come out sorted. */
static void test_swapped_pairs_sorted(void **state)
{
    (void)state;
    reorder_t *r = reorder_create(60 * SEC);
    int64_t ts[64];
    uint32_t ids[64];
    size_t got = 0;
    for (uint32_t i = 0; i < 40; i += 2) {
        assert_int_equal(push(r, (int64_t)(i + 1) * SEC, i + 1), 0);
        assert_int_equal(push(r, (int64_t)i * SEC, i), 0);
        got += pop_all(r, 0, ts + got, ids + got, 64 - got);
    }
    got += pop_all(r, 1, ts + got, ids + got, 64 - got);
    assert_int_equal(got, 40);
    for (uint32_t i = 0; i < 40; i++) {
        assert_int_equal(ids[i], i);
        assert_true(ts[i] == (int64_t)i * SEC);
    }
    reorder_destroy(r);
}

/* Equal times leave in arrival order, whether they sat in FIFO or heap. */
static void test_ties_keep_arrival_order(void **state)
{
    (void)state;
    reorder_t *r = reorder_create(60 * SEC);
    int64_t ts[16];
    uint32_t ids[16];
    assert_int_equal(push(r, 10 * SEC, 0), 0); /* FIFO */
    assert_int_equal(push(r, 10 * SEC, 1), 0); /* FIFO, same ts */
    assert_int_equal(push(r, 20 * SEC, 2), 0); /* FIFO */
    assert_int_equal(push(r, 10 * SEC, 3), 0); /* heap, ties with 0 and 1 */
    assert_int_equal(push(r, 15 * SEC, 4), 0); /* heap */
    assert_int_equal(push(r, 10 * SEC, 5), 0); /* heap, ties again */
    assert_int_equal(push(r, 20 * SEC, 6), 0); /* FIFO, ties with 2 */
    assert_int_equal(push(r, 15 * SEC, 7), 0); /* heap, ties with 4 */
    assert_int_equal(reorder_depth(r), 8);
    size_t got = pop_all(r, 1, ts, ids, 16);
    assert_int_equal(got, 8);
    static const uint32_t want[] = { 0, 1, 3, 5, 4, 7, 2, 6 };
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(ids[i], want[i]);
    reorder_destroy(r);
}

/* Records older than the watermark are late: refused with 1, not buffered. */
static void test_late_rejected(void **state)
{
    (void)state;
    reorder_t *r = reorder_create(5 * SEC);
    assert_int_equal(push(r, 100 * SEC, 0), 0);
    assert_int_equal(push(r, 95 * SEC - 1, 1), 1); /* 1 ns before the watermark */
    assert_int_equal(reorder_depth(r), 1);
    assert_int_equal(push(r, 95 * SEC, 2), 0); /* exactly at the watermark: accepted */
    assert_int_equal(reorder_depth(r), 2);
    assert_true(reorder_max_ts(r) == 100 * SEC); /* a late or old record does not move it */

    /* after a drain everything older than the last release is late */
    int64_t ts[4];
    uint32_t ids[4];
    assert_int_equal(pop_all(r, 1, ts, ids, 4), 2);
    assert_int_equal(ids[0], 2);
    assert_int_equal(ids[1], 0);
    assert_int_equal(push(r, 99 * SEC, 3), 1);
    assert_int_equal(reorder_depth(r), 0);
    assert_int_equal(push(r, 100 * SEC, 4), 0); /* same time as the last release */
    assert_int_equal(pop_all(r, 1, ts, ids, 4), 1);
    reorder_destroy(r);
}

/* Drain releases everything, sorted, whatever the watermark. */
static void test_drain_releases_all(void **state)
{
    (void)state;
    reorder_t *r = reorder_create(3600 * SEC);
    static const int64_t order[] = { 50, 10, 40, 20, 30, 60, 55, 5 };
    for (uint32_t i = 0; i < 8; i++)
        assert_int_equal(push(r, order[i] * SEC, (uint32_t)order[i]), 0);
    rec_t out;
    assert_int_equal(reorder_pop(r, &out, 0), 0);
    assert_int_equal(reorder_depth(r), 8);
    int64_t ts[8];
    uint32_t ids[8];
    assert_int_equal(pop_all(r, 1, ts, ids, 8), 8);
    for (size_t i = 1; i < 8; i++)
        assert_true(ts[i - 1] < ts[i]);
    assert_true(ts[0] == 5 * SEC);
    assert_true(ts[7] == 60 * SEC);
    assert_int_equal(reorder_depth(r), 0);
    reorder_destroy(r);
}

/*
 * Thousands of records with bounded jitter, popped as they become ready:
 * none is late, all come out once, sorted by (ts, arrival).
 */
static void test_growth_interleaved_stays_sorted(void **state)
{
    (void)state;
    enum { N = 20000 };
    const int64_t lateness = 1000 * SEC;
    reorder_t *r = reorder_create(lateness);
    int64_t *ts = malloc(N * sizeof(*ts));
    uint32_t *ids = malloc(N * sizeof(*ids));
    int64_t *in_ts = malloc(N * sizeof(*in_ts));
    assert_non_null(ts);
    assert_non_null(ids);
    assert_non_null(in_ts);
    uint64_t s = 12345;
    size_t got = 0, max_depth = 0;
    for (uint32_t i = 0; i < N; i++) {
        s = s * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
        int64_t jitter = (int64_t)((s >> 33) % 500); /* 0..499 s back */
        in_ts[i] = ((int64_t)i * 10 - jitter) * SEC;
        assert_int_equal(push(r, in_ts[i], i), 0);
        if (reorder_depth(r) > max_depth)
            max_depth = reorder_depth(r);
        if (i % 7 == 0)
            got += pop_all(r, 0, ts + got, ids + got, N - got);
    }
    assert_true(max_depth > 90); /* about lateness / cadence records held */
    got += pop_all(r, 1, ts + got, ids + got, N - got);
    assert_int_equal(got, N);
    char *seen = calloc(N, 1);
    assert_non_null(seen);
    for (size_t k = 0; k < N; k++) {
        if (k) {
            assert_true(ts[k - 1] <= ts[k]);
            if (ts[k - 1] == ts[k])
                assert_true(ids[k - 1] < ids[k]);
        }
        assert_true(ids[k] < N);
        assert_false(seen[ids[k]]);
        seen[ids[k]] = 1;
        assert_true(in_ts[ids[k]] == ts[k]);
    }
    free(seen);
    free(in_ts);
    free(ts);
    free(ids);
    reorder_destroy(r);
}

/* The FIFO grows while wrapped, and the heap grows past 256. */
static void test_growth_wrapped_fifo_and_big_heap(void **state)
{
    (void)state;
    enum { N = 5000 };
    reorder_t *r = reorder_create(INT64_C(1) << 60);
    int64_t *ts = malloc(N * sizeof(*ts));
    uint32_t *ids = malloc(N * sizeof(*ids));
    assert_non_null(ts);
    assert_non_null(ids);
    uint32_t id = 0;
    /* fill most of the first FIFO, drain part of it so the head moves */
    for (; id < 1000; id++)
        assert_int_equal(push(r, (int64_t)id * SEC, id), 0);
    rec_t out;
    for (uint32_t k = 0; k < 600; k++) {
        assert_int_equal(reorder_pop(r, &out, 1), 1);
        assert_int_equal(out.aux, k);
    }
    /* now wrap and grow: 2500 more in order */
    for (; id < 3500; id++)
        assert_int_equal(push(r, (int64_t)id * SEC, id), 0);
    /* and 1500 stragglers into the heap, newest first (worst case), all
     * after the last release (599 s) so none is late */
    for (uint32_t k = 0; k < 1500; k++, id++)
        assert_int_equal(push(r, 3450 * SEC - (int64_t)k * (SEC * 19 / 10) - 1, id), 0);
    assert_int_equal(reorder_depth(r), 400 + 2500 + 1500);
    size_t got = pop_all(r, 1, ts, ids, N);
    assert_int_equal(got, 4400);
    for (size_t k = 1; k < got; k++)
        assert_true(ts[k - 1] < ts[k]);
    /* the in-order ones are all there, in order */
    uint32_t next = 600;
    for (size_t k = 0; k < got; k++) {
        if (ids[k] < 3500) {
            assert_int_equal(ids[k], next);
            next++;
        }
    }
    assert_int_equal(next, 3500);
    free(ts);
    free(ids);
    reorder_destroy(r);
}

/* Records of every key length come out whole, fields and key bytes,
 * through a FIFO that wraps its end and grows while it holds records. */
static void test_keys_of_every_length_intact(void **state)
{
    (void)state;
    reorder_t *r = reorder_create(INT64_C(1) << 60);
    uint32_t pushed = 0, popped = 0;
    for (int round = 0; round < 40; round++) {
        for (int k = 0; k < 900; k++, pushed++) {
            rec_t rec = { .ts = (int64_t)pushed, .aux = pushed, .count = pushed * 0.5,
                          .delivered = 3, .rejected = 4, .backlog = pushed, .fields = 0xa5,
                          .type = REC_SAMPLE, .dir = (uint8_t)(pushed & 1),
                          .ulen = (uint8_t)(pushed % 65), .clen = (uint8_t)(pushed * 7 % 65),
                          .src = (uint16_t)(pushed % 1000) };
            for (int i = 0; i < rec.ulen + rec.clen; i++)
                rec.key[i] = (char)('a' + (pushed + (uint32_t)i) % 26);
            assert_int_equal(reorder_push(r, &rec), 0);
        }
        /* take most back: the head moves on and the ring wraps */
        rec_t out;
        for (int k = 0; k < 700 + round * 5 && reorder_pop(r, &out, 1); k++, popped++) {
            assert_true(out.ts == (int64_t)popped && out.aux == popped);
            assert_true(out.count == popped * 0.5 && out.backlog == popped);
            assert_true(out.delivered == 3 && out.rejected == 4 && out.fields == 0xa5);
            assert_int_equal(out.dir, popped & 1);
            assert_int_equal(out.src, popped % 1000);
            assert_int_equal(out.ulen, popped % 65);
            assert_int_equal(out.clen, popped * 7 % 65);
            for (int i = 0; i < out.ulen + out.clen; i++)
                assert_int_equal(out.key[i], (char)('a' + (popped + (uint32_t)i) % 26));
        }
    }
    rec_t out;
    while (reorder_pop(r, &out, 1)) {
        assert_true(out.aux == popped);
        popped++;
    }
    assert_int_equal(popped, pushed);
    assert_int_equal(reorder_depth(r), 0);
    reorder_destroy(r);
}

/* The User of record i of test_same_user_records_intact: runs of one to
 * four records share one, and a User may be the one before cut short, or
 * as long with one byte changed. */
static void user_of(uint32_t i, char *user, uint8_t *ulen)
{
    uint32_t u = i / 3 + (i % 7 == 0); /* runs of 1 to 4 */
    *ulen = (uint8_t)(u % 2 && i % 5 ? 24 : 1 + u % 64);
    memset(user, 'A' + (int)(u % 2), REC_MAX_ULEN);
    if (u % 4 == 3)
        user[*ulen - 1] = 'z'; /* differs from the one before in its last byte */
}

/* Records of the same User as the one before leave its name out of the
 * FIFO: each comes back with its own User and class, whether the records
 * around it share its User or not, through a ring that wraps and grows
 * and with stragglers going by the heap between them. */
static void test_same_user_records_intact(void **state)
{
    (void)state;
    reorder_t *r = reorder_create(INT64_C(1) << 60);
    uint32_t pushed = 0, popped = 0;
    for (int round = 0; round < 30; round++) {
        for (int k = 0; k < 700; k++, pushed++) {
            rec_t rec = { .ts = (int64_t)pushed * 2, .aux = pushed, .count = 1,
                          .type = REC_SAMPLE, .clen = (uint8_t)(pushed * 7 % 65) };
            user_of(pushed, rec.key, &rec.ulen);
            for (int i = 0; i < rec.clen; i++)
                rec.key[rec.ulen + i] = (char)('a' + (pushed + (uint32_t)i) % 26);
            if (k % 50 == 49)
                rec.ts -= 3; /* a straggler: by the heap, between two of the FIFO */
            assert_int_equal(reorder_push(r, &rec), 0);
        }
        rec_t out;
        for (int k = 0; k < 500 + round * 7 && reorder_pop(r, &out, 1); k++, popped++) {
            uint32_t i = (uint32_t)out.aux;
            char user[REC_MAX_ULEN];
            uint8_t ulen;
            user_of(i, user, &ulen);
            assert_int_equal(out.ulen, ulen);
            assert_memory_equal(out.key, user, ulen);
            assert_int_equal(out.clen, i * 7 % 65);
            for (int c = 0; c < out.clen; c++)
                assert_int_equal(out.key[ulen + c], (char)('a' + (i + (uint32_t)c) % 26));
        }
    }
    rec_t out;
    while (reorder_pop(r, &out, 1))
        popped++;
    assert_int_equal(popped, pushed);
    reorder_destroy(r);
}

/* What a record leaves out of the FIFO after the record before it: a
 * 24-byte User's name and its length when it is the same User, its time,
 * sequence and source (14 bytes) when they are the same time and source
 * and the next sequence; a User as long but another, or another time,
 * takes them. */
static void test_record_leaves_out_what_the_one_before_says(void **state)
{
    (void)state;
    reorder_t *r = reorder_create(INT64_C(1) << 60);
    rec_t rec = { .ts = 1, .count = 5, .type = REC_SAMPLE, .ulen = 24, .clen = 7 };
    memcpy(rec.key, "90-B3-D5-1F-30-89-66-8Fresponse", 31);
    size_t used = 0, first;
#define PUSH_TAKES(want)                                                                      \
    do {                                                                                      \
        assert_int_equal(reorder_push(r, &rec), 0);                                           \
        assert_int_equal(reorder_fifo_bytes(r) - used, (want));                               \
        used = reorder_fifo_bytes(r);                                                         \
    } while (0)
    assert_int_equal(reorder_push(r, &rec), 0);
    first = used = reorder_fifo_bytes(r);
    PUSH_TAKES(first - 25 - 14);  /* same User, same time */
    rec.key[22] = 'E';
    PUSH_TAKES(first - 14);       /* another User, same time */
    rec.ts = 2;
    PUSH_TAKES(first - 25);       /* the same User, another time */
    rec.src = 3;
    PUSH_TAKES(first - 25);       /* the same time, another source */
    rec_t tick = { .ts = 2, .type = REC_TICK };
    assert_int_equal(reorder_push_control(r, &tick), 0); /* takes a sequence */
    PUSH_TAKES(first - 25);       /* the same time and source, a sequence skipped */
    PUSH_TAKES(first - 25 - 14);
#undef PUSH_TAKES
    reorder_destroy(r);
}

/* Runs of records at one time, from sources that change within a time,
 * with stragglers (by the heap) and control records taking sequence
 * numbers between them: through a ring that wraps and grows, each comes
 * back with its own time, source, sequence and User, in order. */
static void test_same_time_records_intact(void **state)
{
    (void)state;
    enum { N = 30000 };
    reorder_t *r = reorder_create(INT64_C(1) << 60);
    static int64_t want_ts[N];
    static uint32_t want_seq[N];
    static uint16_t want_src[N];
    uint32_t pushed = 0, seq = 0, popped = 0;
    int64_t ts = 1000;
    for (int round = 0; pushed < N; round++) {
        for (int k = 0; k < 700 && pushed < N; k++, pushed++) {
            if (pushed % (1 + pushed / 997 % 9) == 0)
                ts += 1 + pushed % 3; /* runs of 1 to 9 records a time */
            rec_t rec = { .ts = ts, .aux = pushed, .count = 2, .type = REC_SAMPLE,
                          .src = (uint16_t)(pushed / 5 % 3), .clen = 3 };
            user_of(pushed / 2, rec.key, &rec.ulen);
            memcpy(rec.key + rec.ulen, "cls", 3);
            if (k % 50 == 49)
                rec.ts -= 2; /* a straggler: by the heap */
            if (k % 97 == 0) {
                rec_t tick = { .ts = ts, .type = REC_TICK, .aux = -1 };
                assert_int_equal(reorder_push_control(r, &tick), 0);
                seq++;
            }
            want_ts[pushed] = rec.ts;
            want_src[pushed] = rec.src;
            want_seq[pushed] = seq++;
            assert_int_equal(reorder_push(r, &rec), 0);
        }
        rec_t out;
        int64_t last = INT64_MIN;
        for (int k = 0; k < 500 + round * 7 && reorder_pop(r, &out, 1); k++) {
            assert_true(out.ts >= last);
            last = out.ts;
            if (out.type == REC_TICK)
                continue;
            uint32_t i = (uint32_t)out.aux;
            assert_true(i < pushed);
            assert_int_equal(out.ts, want_ts[i]);
            assert_int_equal(out.seq, want_seq[i]);
            assert_int_equal(out.src, want_src[i]);
            char user[REC_MAX_ULEN];
            uint8_t ulen;
            user_of(i / 2, user, &ulen);
            assert_int_equal(out.ulen, ulen);
            assert_memory_equal(out.key, user, ulen);
            assert_memory_equal(out.key + ulen, "cls", 3);
            popped++;
        }
    }
    rec_t out;
    while (reorder_pop(r, &out, 1))
        if (out.type != REC_TICK) {
            uint32_t i = (uint32_t)out.aux;
            assert_int_equal(out.ts, want_ts[i]);
            assert_int_equal(out.seq, want_seq[i]);
            assert_int_equal(out.src, want_src[i]);
            popped++;
        }
    assert_int_equal(popped, pushed);
    reorder_destroy(r);
}

/* What the buffer has allocated: nothing at first, the FIFO's first ring
 * with a record in order, the heap's first array with a straggler; it
 * stays when they are taken (it never shrinks). */
static void test_bytes_allocated(void **state)
{
    (void)state;
    reorder_t *r = reorder_create(60 * SEC);
    assert_int_equal(reorder_bytes(r), 0);
    assert_int_equal(push(r, 10 * SEC, 1), 0);
    size_t fifo = reorder_bytes(r);
    assert_true(fifo >= 64 * 1024);
    assert_int_equal(push(r, 5 * SEC, 2), 0); /* out of order: by the heap */
    assert_true(reorder_bytes(r) >= fifo + 256 * sizeof(rec_t));
    size_t both = reorder_bytes(r);
    rec_t out;
    while (reorder_pop(r, &out, 1))
        ;
    assert_int_equal(reorder_depth(r), 0);
    assert_int_equal(reorder_bytes(r), both);
    reorder_destroy(r);
}

/* The FIFO keeps only the numbers that are not zero, as floats when every
 * one of them is a float exactly: each comes back bit for bit, whatever the
 * mix (whole, fractional, huge, signed zero, infinite, NaN; aux or none). */
static void test_numbers_back_bit_for_bit(void **state)
{
    (void)state;
    const double vals[] = { 0.0, -0.0, 1.0, 3.5, 0.1, 16777217.0, 1e300, 1e-310,
                            INFINITY, NAN, 123456.0 };
    const size_t nv = sizeof(vals) / sizeof(vals[0]);
    reorder_t *r = reorder_create(INT64_C(1) << 60);
    uint32_t n = 0;
    for (size_t a = 0; a < nv; a++)
        for (size_t b = 0; b < nv; b++, n++) {
            rec_t rec = { .ts = n, .aux = (n % 3) ? (int64_t)n << 33 : 0, .count = vals[a],
                          .delivered = vals[b], .rejected = vals[(a + b) % nv],
                          .backlog = vals[(a * 7 + b) % nv], .type = REC_SAMPLE, .ulen = 1 };
            rec.key[0] = 'u';
            assert_int_equal(reorder_push(r, &rec), 0);
        }
    rec_t out;
    for (uint32_t k = 0; k < n; k++) {
        assert_int_equal(reorder_pop(r, &out, 1), 1);
        size_t a = k / nv, b = k % nv;
        const double want[4] = { vals[a], vals[b], vals[(a + b) % nv], vals[(a * 7 + b) % nv] };
        const double got[4] = { out.count, out.delivered, out.rejected, out.backlog };
        assert_memory_equal(got, want, sizeof(want));
        assert_true(out.aux == ((k % 3) ? (int64_t)k << 33 : 0));
        assert_int_equal(out.ulen, 1);
        assert_int_equal(out.key[0], 'u');
    }
    assert_int_equal(reorder_pop(r, &out, 1), 0);
    reorder_destroy(r);
}

/* The caller's seq is ignored; arrival sequence is the buffer's own. */
static void test_seq_assigned_by_buffer(void **state)
{
    (void)state;
    reorder_t *r = reorder_create(60 * SEC);
    rec_t a = { .ts = 10 * SEC, .aux = 1, .seq = 100 };
    rec_t b = { .ts = 20 * SEC, .aux = 2, .seq = 0 };
    rec_t c = { .ts = 10 * SEC, .aux = 3, .seq = 0 }; /* lower seq, later arrival */
    assert_int_equal(reorder_push(r, &a), 0);
    assert_int_equal(reorder_push(r, &b), 0);
    assert_int_equal(reorder_push(r, &c), 0);
    rec_t out;
    assert_int_equal(reorder_pop(r, &out, 1), 1);
    assert_int_equal(out.aux, 1);
    assert_int_equal(reorder_pop(r, &out, 1), 1);
    assert_int_equal(out.aux, 3);
    assert_int_equal(reorder_pop(r, &out, 1), 1);
    assert_int_equal(out.aux, 2);
    reorder_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_destroy),
        cmocka_unit_test(test_in_order_passthrough),
        cmocka_unit_test(test_watermark),
        cmocka_unit_test(test_zero_lateness),
        cmocka_unit_test(test_swapped_pairs_sorted),
        cmocka_unit_test(test_ties_keep_arrival_order),
        cmocka_unit_test(test_late_rejected),
        cmocka_unit_test(test_drain_releases_all),
        cmocka_unit_test(test_growth_interleaved_stays_sorted),
        cmocka_unit_test(test_keys_of_every_length_intact),
        cmocka_unit_test(test_same_user_records_intact),
        cmocka_unit_test(test_record_leaves_out_what_the_one_before_says),
        cmocka_unit_test(test_same_time_records_intact),
        cmocka_unit_test(test_bytes_allocated),
        cmocka_unit_test(test_growth_wrapped_fifo_and_big_heap),
        cmocka_unit_test(test_seq_assigned_by_buffer),
        cmocka_unit_test(test_numbers_back_bit_for_bit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
