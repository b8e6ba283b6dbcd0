/*
 * bench_ring.c - throughput of the SPSC ring (core/ring.h) between two
 * threads, against a reference ring written here.
 *
 * A producer thread moves 32-byte sequence-numbered records to a consumer
 * thread, in bursts, through:
 *   A: ring_t, the generic ring of core/ (record size fixed at create,
 *      copies with memcpy, lives in another translation unit);
 *   B: the simplest correct SPSC ring with cached indices, typed for this
 *      one record so the compiler knows its size.
 * Both are called through the same function-pointer table, as the daemon
 * calls ring_t across a library boundary. Runs alternate A B B A ... so
 * drift in the machine (frequency, other load) falls on both alike. Each
 * run times the move of all records, from the signal that starts both
 * threads (created and pinned by then) to the consumer's last pop. The
 * consumer checks every sequence number, so a broken ring fails the
 * benchmark (exit 1).
 *
 * The threads are pinned to the first two CPUs this process may use, when
 * there are two; otherwise they run unpinned and the table says so. Full
 * and empty rings are waited out by spinning, yielding every so often (so
 * one CPU still works), with a deadline per run.
 *
 * Usage: bench_ring [--records N] [--runs N] [--burst N] [--capacity N] [--smoke]
 *   --smoke: a tiny input and one run, for the test suite (times nothing).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_stats.h"
#include <time.h>

#include "ring.h"

/* The record: 32 bytes, as the pipeline's compact sample. */
typedef struct {
    uint64_t seq;
    uint64_t a, b, c;
} brec_t;

#define DEFAULT_RECORDS UINT64_C(50000000)
#define DEFAULT_RUNS 5
#define DEFAULT_BURST 32
#define DEFAULT_CAPACITY 4096
#define SMOKE_RECORDS UINT64_C(200000)
/* Failed attempts between yields, and between looks at the clock. */
#define SPINS_PER_YIELD 64
#define SPINS_PER_CLOCK 65536
/* A run that takes longer than this has a broken ring. */
#define RUN_DEADLINE_S 120

/* ---- B: the reference ring -------------------------------------------- */

/*
 * Same protocol as ring.c, nothing more: free-running indices on their own
 * cache lines, each side caching the other's index, release stores of the
 * own index paired with acquire loads by the other side.
 */
typedef struct {
    alignas(64) _Atomic size_t head; /* pushed; stored by the producer */
    size_t tail_cache;               /* producer's copy of tail */
    alignas(64) _Atomic size_t tail; /* popped; stored by the consumer */
    size_t head_cache;               /* consumer's copy of head */
    alignas(64) size_t mask;         /* read-only after create */
    brec_t *slots;
} ref_ring_t;

static ref_ring_t *ref_create(size_t cap_pow2)
{
    ref_ring_t *r = aligned_alloc(64, sizeof(*r));
    if (!r)
        return NULL;
    r->slots = aligned_alloc(64, cap_pow2 * sizeof(brec_t));
    if (!r->slots) {
        free(r);
        return NULL;
    }
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    r->tail_cache = r->head_cache = 0;
    r->mask = cap_pow2 - 1;
    return r;
}

static void ref_destroy(ref_ring_t *r)
{
    if (!r)
        return;
    free(r->slots);
    free(r);
}

static size_t ref_push(void *ring, const brec_t *v, size_t n)
{
    ref_ring_t *r = ring;
    size_t cap = r->mask + 1;
    /* relaxed: head is stored by this thread only. */
    size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (cap - (h - r->tail_cache) < n)
        /* acquire: pairs with the release store of tail in ref_pop(). */
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
    size_t room = cap - (h - r->tail_cache);
    if (n > room)
        n = room;
    for (size_t i = 0; i < n; i++)
        r->slots[(h + i) & r->mask] = v[i];
    /* release: pairs with the acquire load of head in ref_pop(). */
    atomic_store_explicit(&r->head, h + n, memory_order_release);
    return n;
}

static size_t ref_pop(void *ring, brec_t *out, size_t max)
{
    ref_ring_t *r = ring;
    /* relaxed: tail is stored by this thread only. */
    size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (r->head_cache - t < max)
        /* acquire: pairs with the release store of head in ref_push(). */
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
    size_t avail = r->head_cache - t;
    if (max > avail)
        max = avail;
    for (size_t i = 0; i < max; i++)
        out[i] = r->slots[(t + i) & r->mask];
    /* release: pairs with the acquire load of tail in ref_push(). */
    atomic_store_explicit(&r->tail, t + max, memory_order_release);
    return max;
}

/* ---- A: ring_t behind the same interface ------------------------------ */

static size_t a_push(void *ring, const brec_t *v, size_t n)
{
    return ring_push_spsc(ring, v, n);
}

static size_t a_pop(void *ring, brec_t *out, size_t max)
{
    return ring_pop_spsc(ring, out, max);
}

typedef struct {
    const char *name;
    size_t (*push)(void *ring, const brec_t *v, size_t n);
    size_t (*pop)(void *ring, brec_t *out, size_t max);
} ring_ops_t;

static const ring_ops_t ops_a = { "A ring_t", a_push, a_pop };
static const ring_ops_t ops_b = { "B reference", ref_push, ref_pop };

/* ---- one run ---------------------------------------------------------- */

typedef struct {
    const ring_ops_t *ops;
    void *ring;
    uint64_t records;
    size_t burst;
    int cpu[2];             /* CPUs for producer, consumer; -1: unpinned */
    atomic_int go;          /* set by main once both threads exist */
    uint64_t deadline_ns;
    atomic_int stop;        /* set on a timeout or a bad record */
    /* Each written by one thread, read by main after the joins. */
    int pin_failed[2];
    uint64_t consumed;
    int bad;
} run_t;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/* No progress: yield now and then; 0 when the run must stop. */
static int wait_turn(run_t *run, uint64_t *spins)
{
    ++*spins;
    if (*spins % SPINS_PER_YIELD == 0)
        sched_yield();
    if (*spins % SPINS_PER_CLOCK == 0 && now_ns() > run->deadline_ns)
        /* relaxed: a flag polled for exit, nothing travels with it. */
        atomic_store_explicit(&run->stop, 1, memory_order_relaxed);
    /* relaxed: as above. */
    return !atomic_load_explicit(&run->stop, memory_order_relaxed);
}

/* Waits (yielding) for main to start the run; 0 when it must not run. */
static int wait_go(run_t *run)
{
    /* acquire: pairs with main's release store of go, which follows its
     * writes of the run's parameters. */
    while (!atomic_load_explicit(&run->go, memory_order_acquire))
        sched_yield();
    /* relaxed: stop is set before go when the run is cancelled. */
    return !atomic_load_explicit(&run->stop, memory_order_relaxed);
}

static int pin_self(int cpu)
{
    if (cpu < 0)
        return 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0 ? 0 : -1;
}

static void *producer(void *arg)
{
    run_t *run = arg;
    run->pin_failed[0] = pin_self(run->cpu[0]) != 0;
    brec_t *buf = calloc(run->burst, sizeof(*buf));
    if (!wait_go(run) || !buf) {
        /* relaxed: a flag polled for exit, nothing travels with it. */
        atomic_store_explicit(&run->stop, 1, memory_order_relaxed);
        free(buf);
        return NULL;
    }
    uint64_t seq = 0, spins = 0;
    while (seq < run->records) {
        size_t n = run->burst;
        if (n > run->records - seq)
            n = (size_t)(run->records - seq);
        for (size_t i = 0; i < n; i++) {
            buf[i].seq = seq + i;
            buf[i].a = buf[i].b = buf[i].c = seq + i;
        }
        size_t off = 0;
        while (off < n) {
            size_t got = run->ops->push(run->ring, buf + off, n - off);
            off += got;
            if (got == 0 && !wait_turn(run, &spins))
                goto out;
        }
        seq += n;
    }
out:
    free(buf);
    return NULL;
}

static void *consumer(void *arg)
{
    run_t *run = arg;
    run->pin_failed[1] = pin_self(run->cpu[1]) != 0;
    brec_t *buf = calloc(run->burst, sizeof(*buf));
    if (!wait_go(run) || !buf) {
        /* relaxed: as in producer(). */
        atomic_store_explicit(&run->stop, 1, memory_order_relaxed);
        free(buf);
        return NULL;
    }
    uint64_t expect = 0, spins = 0;
    while (expect < run->records) {
        size_t got = run->ops->pop(run->ring, buf, run->burst);
        if (got == 0) {
            if (!wait_turn(run, &spins))
                break;
            continue;
        }
        for (size_t i = 0; i < got; i++, expect++) {
            if (buf[i].seq != expect || buf[i].c != expect) {
                run->bad = 1;
                atomic_store_explicit(&run->stop, 1, memory_order_relaxed);
                goto out;
            }
        }
    }
out:
    run->consumed = expect;
    free(buf);
    return NULL;
}

/* Moves the records once; returns M records/s, or -1 on failure. */
static double run_once(const ring_ops_t *ops, void *ring, uint64_t records, size_t burst,
                       const int cpu[2], int *pin_failed)
{
    run_t run;
    memset(&run, 0, sizeof(run));
    run.ops = ops;
    run.ring = ring;
    run.records = records;
    run.burst = burst;
    run.cpu[0] = cpu[0];
    run.cpu[1] = cpu[1];
    atomic_init(&run.stop, 0);
    atomic_init(&run.go, 0);
    run.deadline_ns = now_ns() + (uint64_t)RUN_DEADLINE_S * UINT64_C(1000000000);

    pthread_t p, c;
    if (pthread_create(&c, NULL, consumer, &run) != 0)
        return -1;
    if (pthread_create(&p, NULL, producer, &run) != 0) {
        /* relaxed: read by the consumer after its acquire of go below. */
        atomic_store_explicit(&run.stop, 1, memory_order_relaxed);
        /* release: pairs with the acquire load in wait_go(). */
        atomic_store_explicit(&run.go, 1, memory_order_release);
        pthread_join(c, NULL);
        return -1;
    }
    uint64_t t0 = now_ns();
    /* release: pairs with the acquire load in wait_go(). */
    atomic_store_explicit(&run.go, 1, memory_order_release);
    pthread_join(c, NULL);
    uint64_t t1 = now_ns();
    pthread_join(p, NULL);

    *pin_failed |= run.pin_failed[0] | run.pin_failed[1];
    if (run.bad) {
        fprintf(stderr, "bench_ring: %s delivered record %llu out of order or damaged\n",
                ops->name, (unsigned long long)run.consumed);
        return -1;
    }
    if (run.consumed != records) {
        fprintf(stderr, "bench_ring: %s moved %llu of %llu records before stopping\n",
                ops->name, (unsigned long long)run.consumed, (unsigned long long)records);
        return -1;
    }
    return (double)records / ((double)(t1 - t0) / 1e9) / 1e6;
}

/* ---- main ------------------------------------------------------------- */



/* The first two CPUs this process may run on, or -1, -1 when fewer. */
static void pick_cpus(int cpu[2])
{
    cpu[0] = cpu[1] = -1;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return;
    int found = 0, first = -1;
    for (int i = 0; i < CPU_SETSIZE && found < 2; i++) {
        if (CPU_ISSET(i, &set)) {
            if (found == 0)
                first = i;
            else {
                cpu[0] = first;
                cpu[1] = i;
            }
            found++;
        }
    }
}

static int parse_u64(const char *s, uint64_t min, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min)
        return -1;
    *out = v;
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_ring [--records N] [--runs N] [--burst N] [--capacity N] [--smoke]\n"
               "  --records N   records moved per run (default %llu)\n"
               "  --runs N      runs of each ring, alternated A B B A ... (default %d)\n"
               "  --burst N     records per push and per pop (default %d)\n"
               "  --capacity N  ring capacity, rounded up to a power of two (default %d)\n"
               "  --smoke       %llu records, one run: checks it works, times nothing\n",
            (unsigned long long)DEFAULT_RECORDS, DEFAULT_RUNS, DEFAULT_BURST,
            DEFAULT_CAPACITY, (unsigned long long)SMOKE_RECORDS);
}

int main(int argc, char **argv)
{
    uint64_t records = DEFAULT_RECORDS, runs = DEFAULT_RUNS, burst = DEFAULT_BURST,
             capacity = DEFAULT_CAPACITY;
    int smoke = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        uint64_t *dst = NULL, min = 1;
        if (!strcmp(o, "--smoke")) {
            smoke = 1;
            continue;
        }
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(o, "--records"))
            dst = &records;
        else if (!strcmp(o, "--runs"))
            dst = &runs;
        else if (!strcmp(o, "--burst"))
            dst = &burst;
        else if (!strcmp(o, "--capacity"))
            dst = &capacity;
        if (!dst || i + 1 >= argc || parse_u64(argv[i + 1], min, dst) != 0) {
            fprintf(stderr, "bench_ring: bad option or value: %s\n", o);
            usage(stderr);
            return 2;
        }
        i++;
    }
    if (smoke) {
        records = SMOKE_RECORDS;
        runs = 1;
    }
    if (runs > 1000 || burst > 1u << 20 || capacity > 1u << 26) {
        fprintf(stderr, "bench_ring: --runs, --burst or --capacity too large\n");
        return 2;
    }

    ring_t *ra = ring_create((size_t)capacity, sizeof(brec_t));
    ref_ring_t *rb = ra ? ref_create(ring_capacity(ra)) : NULL;
    double *ma = calloc(runs, sizeof(double)), *mb = calloc(runs, sizeof(double));
    if (!ra || !rb || !ma || !mb) {
        fprintf(stderr, "bench_ring: out of memory\n");
        ring_destroy(ra);
        ref_destroy(rb);
        free(ma);
        free(mb);
        return 1;
    }

    int cpu[2];
    pick_cpus(cpu);
    int pin_failed = 0, rc = 0;
    for (uint64_t i = 0; i < runs && rc == 0; i++) {
        /* A B, then B A, ...: each ring goes first half the time. */
        for (int k = 0; k < 2 && rc == 0; k++) {
            int is_a = (k == 0) == (i % 2 == 0);
            double m = is_a ? run_once(&ops_a, ra, records, (size_t)burst, cpu, &pin_failed)
                            : run_once(&ops_b, rb, records, (size_t)burst, cpu, &pin_failed);
            if (m < 0)
                rc = 1;
            else
                (is_a ? ma : mb)[i] = m;
        }
    }

    if (rc == 0) {
        int n = (int)runs;
        double best_a = bench_highest(ma, n), best_b = bench_highest(mb, n);
        double med_a = bench_median(ma, n), med_b = bench_median(mb, n);
        char where[64];
        if (cpu[0] < 0)
            snprintf(where, sizeof(where), "unpinned (fewer than 2 CPUs)");
        else if (pin_failed)
            snprintf(where, sizeof(where), "unpinned (pinning refused)");
        else
            snprintf(where, sizeof(where), "pinned to CPUs %d and %d", cpu[0], cpu[1]);
        printf("bench_ring: %llu records of %zu bytes per run, burst %llu, capacity %zu, "
               "%llu run(s) each, %s%s\n",
               (unsigned long long)records, sizeof(brec_t), (unsigned long long)burst,
               ring_capacity(ra), (unsigned long long)runs, where,
               smoke ? " [smoke: not a measurement]" : "");
        printf("%-12s %14s %14s\n", "ring", "best Mrec/s", "median Mrec/s");
        printf("%-12s %14.1f %14.1f\n", ops_a.name, best_a, med_a);
        printf("%-12s %14.1f %14.1f\n", ops_b.name, best_b, med_b);
        printf("%-12s %14.2f %14.2f\n", "ratio A/B", best_a / best_b, med_a / med_b);
        printf("ROW\tSPSC ring, %zu-byte records, two threads\treference ring %.1f M rec/s\t"
               "%.1f M rec/s\t%.2f\t>= 0.9\t%s\n",
               sizeof(brec_t), best_b, best_a, best_a / best_b, best_a / best_b >= 0.9 ? "met" : "NOT met");
    }

    ring_destroy(ra);
    ref_destroy(rb);
    free(ma);
    free(mb);
    return rc;
}
