/*
 * test_ring.c - tests of the single-producer single-consumer ring
 * (core/ring.h).
 *
 * Single-threaded: argument checks and capacity rounding, empty and full,
 * partial bursts, and many laps of the index around the array with random
 * burst sizes against a model of what the ring should hold, for record
 * sizes that are and are not multiples of a word. The free-running
 * counters cannot be brought near SIZE_MAX from here without a test hook in
 * the module, so the laps stand in for that: the wrap of the slot index is
 * exercised hundreds of thousands of times, the counter arithmetic is plain
 * unsigned modulo 2^N.
 *
 * Threaded: a producer pushes sequence-numbered 64-byte records (payload
 * derived from the sequence number, plus a checksum) in random bursts; the
 * consumer pops in random bursts and checks order, payload and checksum,
 * so loss, duplication, reordering and torn copies all show. A third
 * thread samples ring_depth() throughout. Spins yield, and an overall
 * deadline stops the threads so the test fails instead of hanging. The
 * threads never call cmocka (its failures longjmp): they record what they
 * saw and the main thread asserts after joining. Set SW_STRESS_SCALE (a
 * positive number, default 1) to move more or fewer records.
 *
 * Every ring is destroyed at the end of its test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ring.h"

/*
 * The allocation-failure test asks for more memory than exists. The
 * sanitizers abort on such a request unless told to return NULL, as libc
 * does; these hooks (read by the sanitizer runtimes, unused otherwise) say
 * so for this test program only. ASan still prints one "failed to
 * allocate" warning for it: that line is expected.
 */
const char *__asan_default_options(void);
const char *__tsan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
const char *__tsan_default_options(void) { return "allocator_may_return_null=1"; }

/* ---- helpers ---------------------------------------------------------- */

static uint64_t splitmix64(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

/* A small per-thread PRNG (xorshift64*); never seeded with 0. */
typedef struct {
    uint64_t s;
} prng_t;

static uint64_t prng_next(prng_t *p)
{
    p->s ^= p->s >> 12;
    p->s ^= p->s << 25;
    p->s ^= p->s >> 27;
    return p->s * UINT64_C(2685821657736338717);
}

/* A uniform-enough integer in [lo, hi]. */
static size_t prng_range(prng_t *p, size_t lo, size_t hi)
{
    return lo + (size_t)(prng_next(p) % (uint64_t)(hi - lo + 1));
}

/* Fills record number `seq` (elem_size bytes) with bytes derived from seq. */
static void fill_bytes(unsigned char *dst, size_t elem_size, uint64_t seq)
{
    for (size_t i = 0; i < elem_size; i++)
        dst[i] = (unsigned char)(splitmix64(seq * 131 + i) >> 24);
}

static int check_bytes(const unsigned char *src, size_t elem_size, uint64_t seq)
{
    for (size_t i = 0; i < elem_size; i++)
        if (src[i] != (unsigned char)(splitmix64(seq * 131 + i) >> 24))
            return 0;
    return 1;
}

/* ---- single-threaded -------------------------------------------------- */

static void test_create_bad_args(void **state)
{
    (void)state;
    assert_null(ring_create(0, 64));
    assert_null(ring_create(16, 0));
    assert_null(ring_create(0, 0));
    /* Rounding up to a power of two would overflow size_t. */
    assert_null(ring_create(SIZE_MAX, 1));
    assert_null(ring_create(SIZE_MAX / 2 + 2, 1));
    /* The power of two fits but capacity * elem_size does not. */
    assert_null(ring_create(SIZE_MAX / 2 + 1, 2));
    assert_null(ring_create(SIZE_MAX / 64, 128));
    ring_destroy(NULL);
}

/* An allocation that cannot succeed: NULL, nothing leaked (ASan checks). */
static void test_create_out_of_memory(void **state)
{
    (void)state;
    if (SIZE_MAX < UINT64_MAX)
        skip(); /* on 32 bits the size is rejected as too large instead */
    /* 2^40 records of 2^20 bytes: 2^60 bytes, fits size_t, fits no heap. */
    assert_null(ring_create((size_t)1 << 40, (size_t)1 << 20));
}

static void test_capacity_rounding(void **state)
{
    (void)state;
    static const struct {
        size_t asked, got;
    } cases[] = { { 1, 1 }, { 2, 2 }, { 3, 4 }, { 4, 4 }, { 5, 8 },
                  { 1000, 1024 }, { 1024, 1024 }, { 1025, 2048 } };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ring_t *r = ring_create(cases[i].asked, 24);
        assert_non_null(r);
        assert_int_equal(ring_capacity(r), cases[i].got);
        assert_int_equal(ring_elem_size(r), 24);
        assert_int_equal(ring_depth(r), 0);
        ring_destroy(r);
    }
}

/* Empty: pops return 0 and leave the buffer alone. Full: pushes return 0. */
static void test_empty_and_full(void **state)
{
    (void)state;
    ring_t *r = ring_create(8, sizeof(uint64_t));
    assert_non_null(r);

    uint64_t out[4] = { 7, 7, 7, 7 };
    assert_int_equal(ring_pop_spsc(r, out, 4), 0);
    assert_int_equal(out[0], 7);

    for (uint64_t v = 0; v < 8; v++) {
        assert_int_equal(ring_push_spsc(r, &v, 1), 1);
        assert_int_equal(ring_depth(r), v + 1);
    }
    uint64_t extra = 99;
    assert_int_equal(ring_push_spsc(r, &extra, 1), 0);
    assert_int_equal(ring_depth(r), 8);

    /* One out makes room for exactly one in. */
    assert_int_equal(ring_pop_spsc(r, out, 1), 1);
    assert_int_equal(out[0], 0);
    assert_int_equal(ring_push_spsc(r, &extra, 1), 1);
    assert_int_equal(ring_push_spsc(r, &extra, 1), 0);

    uint64_t all[16];
    assert_int_equal(ring_pop_spsc(r, all, 16), 8);
    for (uint64_t v = 1; v < 8; v++)
        assert_int_equal(all[v - 1], v);
    assert_int_equal(all[7], 99);
    assert_int_equal(ring_depth(r), 0);
    assert_int_equal(ring_pop_spsc(r, all, 16), 0);
    ring_destroy(r);
}

/* Bursts larger than the room move what fits; zero-length calls do nothing. */
static void test_partial_bursts(void **state)
{
    (void)state;
    ring_t *r = ring_create(8, sizeof(uint32_t));
    assert_non_null(r);
    uint32_t in[20], out[20];
    for (uint32_t i = 0; i < 20; i++)
        in[i] = 1000 + i;

    assert_int_equal(ring_push_spsc(r, in, 0), 0);
    assert_int_equal(ring_pop_spsc(r, out, 0), 0);
    assert_int_equal(ring_push_spsc(r, in, 5), 5);
    assert_int_equal(ring_push_spsc(r, in + 5, 5), 3); /* only 3 fit */
    assert_int_equal(ring_depth(r), 8);
    assert_int_equal(ring_push_spsc(r, in + 8, 12), 0);
    assert_int_equal(ring_push_spsc(r, in + 8, 0), 0);

    assert_int_equal(ring_pop_spsc(r, out, 6), 6);
    assert_int_equal(ring_push_spsc(r, in + 8, 12), 6); /* wraps the array */
    assert_int_equal(ring_pop_spsc(r, out + 6, 20), 8);
    for (uint32_t i = 0; i < 14; i++)
        assert_int_equal(out[i], 1000 + i);
    assert_int_equal(ring_depth(r), 0);

    /* A burst larger than the whole ring. */
    assert_int_equal(ring_push_spsc(r, in, 20), 8);
    assert_int_equal(ring_pop_spsc(r, out, 20), 8);
    for (uint32_t i = 0; i < 8; i++)
        assert_int_equal(out[i], 1000 + i);
    ring_destroy(r);
}

/* A ring of one slot alternates between empty and full. */
static void test_capacity_one(void **state)
{
    (void)state;
    ring_t *r = ring_create(1, 3);
    assert_non_null(r);
    /* 3-byte records; the buffers are larger than the two records the
     * calls ask for so that LTO's inlined copy loop, which cannot know
     * the record size, sees room for its widest step (-Wstringop-overflow) */
    unsigned char in[64] = { 1, 2, 3, 4, 5, 6 }, out[64] = { 0 };
    for (int lap = 0; lap < 1000; lap++) {
        assert_int_equal(ring_push_spsc(r, in, 2), 1);
        assert_int_equal(ring_push_spsc(r, in + 3, 1), 0);
        assert_int_equal(ring_depth(r), 1);
        assert_int_equal(ring_pop_spsc(r, out, 2), 1);
        assert_memory_equal(out, in, 3);
        assert_int_equal(ring_pop_spsc(r, out, 1), 0);
    }
    ring_destroy(r);
}

/*
 * Random push and pop bursts, checked against the model "the ring holds
 * records popped .. pushed - 1 in order", for many laps around the array.
 */
static void laps_with_elem_size(size_t elem_size, size_t capacity, uint64_t laps)
{
    ring_t *r = ring_create(capacity, elem_size);
    assert_non_null(r);
    size_t cap = ring_capacity(r);
    size_t max_burst = cap + cap / 2 + 1; /* sometimes more than fits */
    unsigned char *buf = malloc(max_burst * elem_size);
    assert_non_null(buf);
    prng_t p = { UINT64_C(0x1234567887654321) ^ elem_size };

    uint64_t pushed = 0, popped = 0;
    while (popped < laps * cap) {
        size_t want = prng_range(&p, 0, max_burst);
        for (size_t i = 0; i < want; i++)
            fill_bytes(buf + i * elem_size, elem_size, pushed + i);
        size_t room = cap - (size_t)(pushed - popped);
        size_t got = ring_push_spsc(r, buf, want);
        assert_int_equal(got, want < room ? want : room);
        pushed += got;
        assert_int_equal(ring_depth(r), pushed - popped);

        size_t ask = prng_range(&p, 0, max_burst);
        size_t held = (size_t)(pushed - popped);
        size_t n = ring_pop_spsc(r, buf, ask);
        assert_int_equal(n, ask < held ? ask : held);
        for (size_t i = 0; i < n; i++)
            assert_true(check_bytes(buf + i * elem_size, elem_size, popped + i));
        popped += n;
        assert_int_equal(ring_depth(r), pushed - popped);
    }
    free(buf);
    ring_destroy(r);
}

static void test_many_laps(void **state)
{
    (void)state;
    laps_with_elem_size(1, 16, 20000);
    laps_with_elem_size(3, 8, 20000);
    laps_with_elem_size(24, 32, 5000);
    laps_with_elem_size(64, 64, 2000);
    laps_with_elem_size(100, 5, 20000);
}

/* ---- threaded --------------------------------------------------------- */

/* A 64-byte record: sequence number, payload derived from it, checksum. */
typedef struct {
    uint64_t seq;
    uint64_t payload[6];
    uint64_t sum;
} srec_t;

static uint64_t srec_sum(const srec_t *s)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325) ^ s->seq;
    for (int i = 0; i < 6; i++)
        h = splitmix64(h ^ s->payload[i]);
    return h;
}

static void srec_make(srec_t *s, uint64_t seq)
{
    s->seq = seq;
    for (int i = 0; i < 6; i++)
        s->payload[i] = splitmix64(seq * 6 + (uint64_t)i);
    s->sum = srec_sum(s);
}

/* How long the threads may run before the test gives up on them. */
#define STRESS_DEADLINE_S 60
/* Failed attempts between looks at the clock. */
#define STRESS_CLOCK_EVERY 256

typedef struct {
    ring_t *ring;
    uint64_t n;              /* records to move */
    size_t max_push, max_pop; /* largest bursts */
    uint64_t deadline_ns;    /* CLOCK_MONOTONIC */
    atomic_int stop;         /* set by any thread that fails or times out */
    atomic_int done;         /* set by the consumer when it has finished */
    /* Written by one thread each, read by the main thread after join. */
    uint64_t pushed, producer_waits;
    int producer_timed_out;
    uint64_t popped, consumer_waits;
    int consumer_timed_out;
    char what[160];
    uint64_t depth_samples, depth_bad;
} stress_t;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/* Called by a thread that made no progress: yields, and gives up at the deadline. */
static int stress_wait(stress_t *st, uint64_t *waits, int *timed_out)
{
    /* relaxed: a flag polled for exit, no data travels with it. */
    if (atomic_load_explicit(&st->stop, memory_order_relaxed))
        return 0;
    if (++*waits % STRESS_CLOCK_EVERY == 0 && now_ns() > st->deadline_ns) {
        *timed_out = 1;
        atomic_store_explicit(&st->stop, 1, memory_order_relaxed);
        return 0;
    }
    sched_yield();
    return 1;
}

static void *stress_producer(void *arg)
{
    stress_t *st = arg;
    prng_t p = { UINT64_C(0x9e3779b97f4a7c15) };
    srec_t *buf = malloc(st->max_push * sizeof(*buf));
    int timed_out = 0;
    uint64_t seq = 0, pushed = 0;
    if (!buf) {
        atomic_store_explicit(&st->stop, 1, memory_order_relaxed);
        return NULL;
    }
    while (seq < st->n) {
        size_t want = prng_range(&p, 1, st->max_push);
        if (want > st->n - seq)
            want = (size_t)(st->n - seq);
        for (size_t i = 0; i < want; i++)
            srec_make(&buf[i], seq + i);
        size_t off = 0;
        while (off < want) {
            size_t got = ring_push_spsc(st->ring, buf + off, want - off);
            off += got;
            pushed += got;
            if (got == 0 && !stress_wait(st, &st->producer_waits, &timed_out))
                goto out;
        }
        seq += want;
    }
out:
    st->pushed = pushed;
    st->producer_timed_out = timed_out;
    free(buf);
    return NULL;
}

static void *stress_consumer(void *arg)
{
    stress_t *st = arg;
    prng_t p = { UINT64_C(0xdeadbeefcafef00d) };
    srec_t *buf = malloc(st->max_pop * sizeof(*buf));
    int timed_out = 0;
    uint64_t expect = 0;
    if (!buf) {
        atomic_store_explicit(&st->stop, 1, memory_order_relaxed);
        return NULL;
    }
    while (expect < st->n) {
        size_t got = ring_pop_spsc(st->ring, buf, prng_range(&p, 1, st->max_pop));
        if (got == 0) {
            if (!stress_wait(st, &st->consumer_waits, &timed_out))
                break;
            continue;
        }
        for (size_t i = 0; i < got; i++, expect++) {
            srec_t want;
            srec_make(&want, expect);
            const char *bad = NULL;
            if (buf[i].seq != expect)
                bad = "out of sequence (lost, duplicated or reordered)";
            else if (buf[i].sum != srec_sum(&buf[i]))
                bad = "checksum mismatch (torn copy)";
            else if (memcmp(&buf[i], &want, sizeof(want)) != 0)
                bad = "payload differs";
            if (bad) {
                snprintf(st->what, sizeof(st->what), "record %llu: %s, got seq %llu",
                         (unsigned long long)expect, bad, (unsigned long long)buf[i].seq);
                atomic_store_explicit(&st->stop, 1, memory_order_relaxed);
                goto out;
            }
        }
    }
out:
    st->popped = expect;
    st->consumer_timed_out = timed_out;
    free(buf);
    /* release: pairs with the monitor's acquire load; nothing it reads
     * depends on it, but it is the end of the consumer's run. */
    atomic_store_explicit(&st->done, 1, memory_order_release);
    return NULL;
}

/* Samples ring_depth() from a third thread: it must stay within capacity. */
static void *stress_monitor(void *arg)
{
    stress_t *st = arg;
    size_t cap = ring_capacity(st->ring);
    /* acquire: pairs with the consumer's release store of done. */
    while (!atomic_load_explicit(&st->done, memory_order_acquire) &&
           !atomic_load_explicit(&st->stop, memory_order_relaxed)) {
        size_t d = ring_depth(st->ring);
        st->depth_samples++;
        if (d > cap)
            st->depth_bad++;
        sched_yield();
    }
    return NULL;
}

static uint64_t stress_records(uint64_t base)
{
    const char *s = getenv("SW_STRESS_SCALE");
    double scale = s ? strtod(s, NULL) : 1.0;
    if (!(scale > 0))
        scale = 1.0;
    uint64_t n = (uint64_t)((double)base * scale);
    return n ? n : 1;
}

static void run_stress(size_t capacity, size_t max_push, size_t max_pop, uint64_t n)
{
    stress_t st;
    memset(&st, 0, sizeof(st));
    st.ring = ring_create(capacity, sizeof(srec_t));
    assert_non_null(st.ring);
    st.n = n;
    st.max_push = max_push;
    st.max_pop = max_pop;
    st.deadline_ns = now_ns() + (uint64_t)STRESS_DEADLINE_S * UINT64_C(1000000000);
    atomic_init(&st.stop, 0);
    atomic_init(&st.done, 0);

    /* The producer and consumer write disjoint fields of st; the main
     * thread reads them after the joins, which order those writes. */
    pthread_t prod, cons, mon;
    assert_int_equal(pthread_create(&cons, NULL, stress_consumer, &st), 0);
    assert_int_equal(pthread_create(&prod, NULL, stress_producer, &st), 0);
    assert_int_equal(pthread_create(&mon, NULL, stress_monitor, &st), 0);
    pthread_join(prod, NULL);
    pthread_join(cons, NULL);
    pthread_join(mon, NULL);

    size_t left = ring_depth(st.ring);
    ring_destroy(st.ring);
    if (st.what[0])
        fail_msg("%s", st.what);
    if (st.producer_timed_out || st.consumer_timed_out)
        fail_msg("timed out after %ds: pushed %llu, popped %llu of %llu", STRESS_DEADLINE_S,
                 (unsigned long long)st.pushed, (unsigned long long)st.popped,
                 (unsigned long long)n);
    assert_true(st.pushed == n);
    assert_true(st.popped == n);
    assert_int_equal(left, 0);
    assert_true(st.depth_bad == 0);
    print_message("    moved %llu records (cap %zu): producer waited %llu times, "
                  "consumer %llu, %llu depth samples\n",
                  (unsigned long long)n, capacity, (unsigned long long)st.producer_waits,
                  (unsigned long long)st.consumer_waits, (unsigned long long)st.depth_samples);
}

/* A roomy ring, bursts up to a quarter of it and, rarely, above it. */
static void test_stress_threads(void **state)
{
    (void)state;
    run_stress(1024, 300, 300, stress_records(2000000));
}

/* A tiny ring: nearly every call meets a full or an empty ring. */
static void test_stress_threads_tiny_ring(void **state)
{
    (void)state;
    run_stress(4, 7, 7, stress_records(300000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_bad_args),
        cmocka_unit_test(test_create_out_of_memory),
        cmocka_unit_test(test_capacity_rounding),
        cmocka_unit_test(test_empty_and_full),
        cmocka_unit_test(test_partial_bursts),
        cmocka_unit_test(test_capacity_one),
        cmocka_unit_test(test_many_laps),
        cmocka_unit_test(test_stress_threads),
        cmocka_unit_test(test_stress_threads_tiny_ring),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
