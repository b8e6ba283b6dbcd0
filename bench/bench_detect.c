/*
 * bench_detect.c - cost of the detector update per sample (core/shard.h),
 * against a plain hash-table increment on the same keys, and the memory a
 * series costs.
 *
 * Workload: N series, each its own User by default ("90-B3-D5-1F-" and the
 * User's index as 8 hex digits: 23 bytes), direction south/north and class
 * "alert"/"request" alternating over the series (--per-user K gives each
 * User K <= 4 consecutive series instead). Samples come in rounds: in each
 * round every series gets one sample, and a round spans 60 s / R of event
 * time, so each series carries R samples a minute. Within a round the
 * Users' timestamps are spread evenly and increase (a User's series share
 * one), so records are in event-time order as the router delivers them.
 * Counts are Poisson around a per-series rate (log-uniform 0.5-50 msg/s),
 * delivered = count, a backlog of 0-3; all drawn from a fixed seed, per
 * (round, series), so any round can be rebuilt identically.
 *
 * Ticks: the router (core/router.c) sends every shard a REC_TICK whenever
 * its watermark has moved TICK_EVERY (0.5 s) of event time. Here a tick
 * goes before the first sample whose timestamp crosses a 0.5 s grid line,
 * stamped with that sample's time (every record before it has been
 * delivered): the same cadence, and like the router's ticks they close the
 * open buckets and emit a progress event. Samples alone would close them
 * too (shard_record advances the clock on every sample), so ticks change
 * where the work falls, not how much there is; they are fed to A and
 * skipped by B, and ns/sample divides by samples only.
 *
 *   A: a shard_t (one shard, feed owner, default detection and ingest
 *      parameters) fed the records with shard_records(), 64 at a time as
 *      the daemon's shard thread takes them from its ring (each sample's
 *      state prefetched a few records ahead); emit only counts the events
 *      by type.
 *   B: the simplest open-addressing table written here: linear probing,
 *      power-of-two capacity sized for load <= 1/2, slots of {hash, count,
 *      key pointer, lengths}, keys in an arena. Per sample: sw_hash()
 *      (core/hash.h) of the User and class bytes seeded with the
 *      direction, probe comparing the key bytes, add the count.
 *
 * Both see the same records in the same order. Round 0 warms them up
 * (every series interned / inserted, every allocation done), round 1
 * calibrates: rounds per run are chosen so that the slower of A and B
 * (the shard, so far) runs about --run-ms (at least one round); the
 * faster side's runs are shorter by the ratio. Then runs alternate A B,
 * B A, ... (each side goes first half the time, so drift in the machine
 * falls on both alike); pair i feeds both the same rounds, the shard's
 * event time moving on from pair to pair. Records are built in chunks of
 * CHUNK_RECS (384 KiB, as a ring hands the shard thread a burst), outside
 * the timed part: only the loop over a built chunk is timed, and the
 * chunk times are summed. Prebuilding whole runs would stream hundreds of
 * MB of 192-byte records from DRAM and time memory bandwidth instead.
 * Reported: best and median ns/sample of each side, and ratio =
 * time(B) / time(A) (1 would be a detector as fast as the increment).
 * Targets (the performance issue): ratio >= 0.5 at 10k series, >= 0.7 at
 * 1M series.
 *
 * Memory: per series count, jemalloc's stats.resident before the shard is
 * created and after its warm-up round, each read after purging the dirty
 * pages of every arena (so neither the copies left by array growth nor
 * the previous grid cell's freed memory distort the difference), divided
 * by N. It includes the User and its two aggregates, one User per series
 * by default. Target: <= 1 KiB per series at 1M series. Without jemalloc
 * (sanitizer builds) it reads "n/a". stats.allocated is shown alongside.
 *
 * Checks: the shard must have counted every sample fed (shard_stats
 * samples), with no duplicate and no nomem, and hold N series; B's counts
 * must sum to the sum of the counts fed. Otherwise exit 1.
 *
 * Output: a table, then one "ROW\t" line per measured cell and memory:
 * what, baseline, value, ratio, target, verdict (tab-separated). The
 * default grid (4 series counts x 3 rates, 1M at 100/min included) takes
 * about a minute on a 2-core machine, most of it setting up 1M series.
 *
 * Usage: bench_detect [--series LIST] [--rate LIST] [--runs N] [--run-ms N]
 *                     [--per-user K] [--smoke]
 *        bench_detect --callgrind N R | --callgrind-baseline N R [--per-user K]
 *   --smoke: 1000 series at 10/min, one run of one round (times nothing).
 *   --callgrind: warms A up on rounds 0 and 1 as above, builds round 2 in
 *   full, then feeds it once. Client requests turn collection off at the
 *   start of main, zero the counts (the dynamic loader's) and turn it on
 *   for that round only, so under valgrind --tool=callgrind the PROGRAM
 *   TOTALS of callgrind_annotate are the round's. Prints the samples fed
 *   ("SAMPLES\t<n>") to divide by. The zeroing leaves an arc that
 *   callgrind_annotate shows as 100% in __libc_start_main: list the
 *   functions with --threshold=100. --callgrind-baseline: the same for B.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_stats.h"
#include <time.h>

#include "event.h"
#include "hash.h"
#include "lineproto.h"
#include "params.h"
#include "reorder.h"
#include "series.h"
#include "shard.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif
#endif
#ifndef HAVE_CALLGRIND
#define HAVE_CALLGRIND 0
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_TOGGLE_COLLECT
#endif

#define DEFAULT_SERIES "1000,10000,100000,1000000"
#define DEFAULT_RATES "1,10,100"
#define DEFAULT_RUNS 5
#define DEFAULT_RUN_MS 300
#define MAX_LIST 16
#define MAX_SERIES (UINT64_C(1) << 26)
#define CHUNK_RECS 2048
/* Records handed to shard_records() at once: as the daemon's shard thread
 * takes them from its ring (BATCH, adapters/daemon/daemon_int.h). */
#define BURST 64
/* As core/router.c's TICK_EVERY. */
#define TICK_NS (SW_NS_PER_S / 2)
/* 2024-01-01T00:00:00Z: event time of round 0. */
#define T0_NS (INT64_C(1704067200) * SW_NS_PER_S)
#define USER_PREFIX "90-B3-D5-1F-"
#define USER_LEN 23
#define MEM_TARGET 1024.0
#define SEED UINT64_C(0x44455443)

/* ---- jemalloc ------------------------------------------------------------ */

/* jemalloc's control interface, when the program is linked with it (not in
 * sanitizer builds): weak, as in adapters/daemon/daemon.c. */
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
    __attribute__((weak));

/* Purges every arena's unused dirty pages, then reads stats.resident and
 * stats.allocated; 0 when jemalloc is not there. */
static int jemalloc_read(size_t *resident, size_t *allocated)
{
    if (!mallctl)
        return 0;
    /* "arena.<MALLCTL_ARENAS_ALL>.purge"; MALLCTL_ARENAS_ALL is 4096 */
    mallctl("arena.4096.purge", NULL, NULL, NULL, 0);
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch), len = sizeof(size_t);
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    return mallctl("stats.resident", resident, &len, NULL, 0) == 0 &&
           mallctl("stats.allocated", allocated, &len, NULL, 0) == 0;
}

/* ---- the workload -------------------------------------------------------- */

static const struct {
    const char *s;
    uint8_t len;
} classes[2] = { { "alert", 5 }, { "request", 7 } };

typedef struct {
    size_t nseries, per_user, nusers;
    unsigned rate;   /* samples per series per minute */
    int64_t step;    /* event time of a round: 60 s / rate */
    char *users;     /* nusers x USER_LEN bytes */
    float *lambda;   /* msg/s of each series */
} work_t;

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static double unif(uint64_t *s)
{
    return (double)(splitmix(s) >> 11) * 0x1p-53;
}

/* A Poisson count of mean `mean` (normal approximation above 30). */
static double draw_count(double mean, uint64_t *s)
{
    if (mean < 30) {
        double l = exp(-mean), p = 1;
        int k = -1;
        do {
            k++;
            p *= unif(s);
        } while (p > l);
        return k;
    }
    /* Irwin-Hall: the sum of 4 uniforms has variance 1/3 */
    double z = (unif(s) + unif(s) + unif(s) + unif(s) - 2) * sqrt(3.0);
    double c = floor(mean + sqrt(mean) * z + 0.5);
    return c < 0 ? 0 : c;
}

static void work_free(work_t *w)
{
    free(w->users);
    free(w->lambda);
}

static int work_init(work_t *w, size_t nseries, unsigned rate, size_t per_user)
{
    memset(w, 0, sizeof(*w));
    w->nseries = nseries;
    w->per_user = per_user;
    w->nusers = (nseries + per_user - 1) / per_user;
    w->rate = rate;
    w->step = 60 * SW_NS_PER_S / rate;
    if (w->step / (int64_t)w->nusers < 1) {
        fprintf(stderr, "bench_detect: %zu Users at %u/min: under 1 ns apart\n", w->nusers, rate);
        return 2;
    }
    w->users = malloc(w->nusers * USER_LEN + 1);
    w->lambda = malloc(nseries * sizeof(float));
    if (!w->users || !w->lambda) {
        work_free(w);
        return 1;
    }
    for (size_t u = 0; u < w->nusers; u++) {
        unsigned x = (unsigned)u;
        /* USER_LEN + NUL fits: the NUL goes into the next User's first byte,
         * overwritten next; the last one into the extra byte */
        snprintf(w->users + u * USER_LEN, USER_LEN + 1, USER_PREFIX "%02X-%02X-%02X-%02X",
                 (x >> 24) & 0xff, (x >> 16) & 0xff, (x >> 8) & 0xff, x & 0xff);
    }
    uint64_t s = SEED;
    for (size_t i = 0; i < nseries; i++)
        w->lambda[i] = (float)(0.5 * pow(100.0, unif(&s)));
    return 0;
}

/* Event time of User u's samples in round k. */
static int64_t ts_of(const work_t *w, uint64_t k, size_t u)
{
    return T0_NS + (int64_t)k * w->step + (int64_t)u * w->step / (int64_t)w->nusers;
}

/* Where record building stands: series i of round k. */
typedef struct {
    uint64_t k;
    size_t i;
} cursor_t;

/* What a built stretch of records holds. */
typedef struct {
    uint64_t samples, ticks;
    double count_sum;
} tally_t;

/* Builds the records of rounds [c->k, end) from *c on, at most cap (>= 2)
 * of them, into buf; returns how many, adds them to *t. */
static size_t build(const work_t *w, cursor_t *c, uint64_t end, rec_t *buf, size_t cap, tally_t *t)
{
    size_t n = 0;
    while (c->k < end && n + 2 <= cap) {
        size_t i = c->i, u = i / w->per_user;
        int64_t ts = ts_of(w, c->k, u);
        if (i % w->per_user == 0 && (c->k > 0 || u > 0)) {
            int64_t prev = u > 0 ? ts_of(w, c->k, u - 1) : ts_of(w, c->k - 1, w->nusers - 1);
            if (prev / TICK_NS != ts / TICK_NS) {
                buf[n++] = (rec_t){ .type = REC_TICK, .ts = ts };
                t->ticks++;
            }
        }
        uint64_t s = SEED ^ (c->k * w->nseries + i) * UINT64_C(0x9e3779b97f4a7c15);
        double count = draw_count(w->lambda[i] * ((double)w->step / SW_NS_PER_S), &s);
        int cls = (int)((i / 2) % 2);
        rec_t *r = &buf[n++];
        *r = (rec_t){
            .type = REC_SAMPLE, .ts = ts, .count = count, .delivered = count,
            .backlog = (double)(splitmix(&s) & 3),
            .fields = LP_F_COUNT | LP_F_DELIVERED | LP_F_BACKLOG,
            .dir = (uint8_t)(i % 2 ? DIR_NORTH : DIR_SOUTH),
            .ulen = USER_LEN, .clen = classes[cls].len,
        };
        memcpy(r->key, w->users + u * USER_LEN, USER_LEN);
        memcpy(r->key + USER_LEN, classes[cls].s, classes[cls].len);
        t->samples++;
        t->count_sum += count;
        if (++c->i == w->nseries) {
            c->i = 0;
            c->k++;
        }
    }
    return n;
}

/* ---- B: the plain hash table --------------------------------------------- */

typedef struct {
    uint64_t hash;
    double count;
    const char *key;   /* User then class, in the arena; NULL: empty */
    uint32_t len;      /* of key */
    uint8_t ulen, dir;
} bslot_t;

typedef struct {
    bslot_t *slots;
    size_t mask, n;
    char *arena;
    size_t used, cap;
    int full;          /* an insert found no room: a bug here */
} btab_t;

static int btab_init(btab_t *t, size_t n, size_t key_bytes)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    memset(t, 0, sizeof(*t));
    t->slots = calloc(cap, sizeof(*t->slots));
    t->arena = malloc(key_bytes);
    if (!t->slots || !t->arena) {
        free(t->slots);
        free(t->arena);
        return -1;
    }
    t->mask = cap - 1;
    t->cap = key_bytes;
    return 0;
}

static void btab_free(btab_t *t)
{
    free(t->slots);
    free(t->arena);
}

static inline void btab_add(btab_t *t, const rec_t *r)
{
    uint32_t len = (uint32_t)r->ulen + r->clen;
    uint64_t h = sw_hash(r->key, len, (uint64_t)r->dir << 8 | r->ulen);
    for (size_t j = h & t->mask;; j = (j + 1) & t->mask) {
        bslot_t *s = &t->slots[j];
        if (!s->key) {
            if (t->n * 2 + 2 > t->mask + 1 || t->cap - t->used < len) {
                t->full = 1;
                return;
            }
            char *k = t->arena + t->used;
            memcpy(k, r->key, len);
            t->used += len;
            *s = (bslot_t){ .hash = h, .count = r->count, .key = k, .len = len,
                            .ulen = r->ulen, .dir = r->dir };
            t->n++;
            return;
        }
        if (s->hash == h && s->len == len && s->ulen == r->ulen && s->dir == r->dir &&
            memcmp(s->key, r->key, len) == 0) {
            s->count += r->count;
            return;
        }
    }
}

static double btab_sum(const btab_t *t)
{
    double sum = 0;
    for (size_t j = 0; j <= t->mask; j++)
        if (t->slots[j].key)
            sum += t->slots[j].count;
    return sum;
}

/* ---- A: the shard --------------------------------------------------------- */

static detect_params_t detect_defaults;

static const detect_params_t *detect_for(void *ctx, const char *user, size_t len)
{
    (void)ctx;
    (void)user;
    (void)len;
    return &detect_defaults;
}

/* Events emitted, by event_type_t. */
static uint64_t events[4];

static void emit_count(void *ctx, const event_t *ev)
{
    (void)ctx;
    events[ev->type & 3]++;
}

static shard_t *make_shard(void)
{
    shard_opts_t o = { .detect_for = detect_for, .emit = emit_count, .feed_owner = 1 };
    ingest_params_defaults(&o.ingest);
    return shard_create(&o);
}

/* ---- runs ----------------------------------------------------------------- */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

/* Feeds rounds [k0, k0 + nrounds) to A (sh) or B (tab), chunk by chunk;
 * returns the ns spent in the feeding loops, adds what was fed to *t. */
static uint64_t feed(const work_t *w, shard_t *sh, btab_t *tab, uint64_t k0, uint64_t nrounds,
                     rec_t *buf, tally_t *t)
{
    cursor_t c = { k0, 0 };
    uint64_t spent = 0;
    size_t n;
    while ((n = build(w, &c, k0 + nrounds, buf, CHUNK_RECS, t)) > 0) {
        uint64_t t0 = now_ns();
        if (sh) {
            for (size_t i = 0; i < n; i += BURST)
                shard_records(sh, &buf[i], n - i < BURST ? n - i : BURST);
        } else {
            for (size_t i = 0; i < n; i++)
                if (buf[i].type == REC_SAMPLE)
                    btab_add(tab, &buf[i]);
        }
        spent += now_ns() - t0;
    }
    return spent;
}

/* The checks of the file comment; 0 when all pass. */
static int check_a(shard_t *sh, const work_t *w, const tally_t *fed)
{
    shard_flush(sh); /* the last round's samples wait for a later time */
    const shard_stats_t *st = shard_stats(sh);
    size_t ns = st_nseries(shard_table(sh));
    if (st->samples != fed->samples || st->duplicates || st->nomem || ns != w->nseries) {
        fprintf(stderr,
                "bench_detect: shard counted %llu samples of %llu fed (%llu duplicates, %llu "
                "nomem), holds %zu series of %zu\n",
                (unsigned long long)st->samples, (unsigned long long)fed->samples,
                (unsigned long long)st->duplicates, (unsigned long long)st->nomem, ns, w->nseries);
        return 1;
    }
    return 0;
}

static int check_b(const btab_t *tab, const work_t *w, const tally_t *fed)
{
    double sum = btab_sum(tab);
    if (tab->full || tab->n != w->nseries || sum != fed->count_sum) {
        fprintf(stderr,
                "bench_detect: hash table holds %zu keys of %zu, counts sum to %.0f of %.0f%s\n",
                tab->n, w->nseries, sum, fed->count_sum, tab->full ? " (full)" : "");
        return 1;
    }
    return 0;
}

/* ---- results -------------------------------------------------------------- */

typedef struct {
    size_t nseries;
    unsigned rate;
    uint64_t rounds;       /* per run */
    int runs;
    double a_best, a_med, b_best, b_med;   /* ns/sample */
} cell_t;

typedef struct {
    size_t nseries;
    int have;
    double resident, allocated;  /* bytes per series */
} mem_t;



/* "1k", "10k", "1M", or the number. */
static const char *label_n(size_t n, char *buf, size_t len)
{
    if (n >= 1000000 && n % 1000000 == 0)
        snprintf(buf, len, "%zuM", n / 1000000);
    else if (n >= 1000 && n % 1000 == 0)
        snprintf(buf, len, "%zuk", n / 1000);
    else
        snprintf(buf, len, "%zu", n);
    return buf;
}

/* The ratio target at n series, or 0 when there is none. */
static double ratio_target(size_t n)
{
    return n == 10000 ? 0.5 : n == 1000000 ? 0.7 : 0; /* the targets of issue 17 */
}

/* ">= 0.5", or "-" without a target. */
static const char *target_str(double tgt, char *buf, size_t len)
{
    if (tgt > 0)
        snprintf(buf, len, ">= %.1f", tgt);
    else
        snprintf(buf, len, "-");
    return buf;
}

/* ---- one grid cell -------------------------------------------------------- */

/* Measures one (series, rate) cell; fills *cell, and *mem when mem is
 * non-NULL. Returns 0, 1 on a failed check or no memory. */
static int run_cell(size_t nseries, unsigned rate, size_t per_user, int runs, uint64_t run_ms,
                    int smoke, cell_t *cell, mem_t *mem)
{
    work_t w;
    int rc = work_init(&w, nseries, rate, per_user);
    if (rc) {
        if (rc == 1)
            fprintf(stderr, "bench_detect: out of memory\n");
        return 1;
    }
    rec_t *buf = malloc(CHUNK_RECS * sizeof(rec_t));
    double *ta = calloc((size_t)runs, sizeof(double)), *tb = calloc((size_t)runs, sizeof(double));
    shard_t *sh = NULL;
    btab_t tab = { 0 };
    int have_tab = 0;
    tally_t fed_a = { 0 }, fed_b = { 0 };
    if (!buf || !ta || !tb)
        goto nomem;
    memset(buf, 0, CHUNK_RECS * sizeof(rec_t)); /* resident before the first reading */

    size_t r0 = 0, al0 = 0, r1 = 0, al1 = 0;
    int have_mem = jemalloc_read(&r0, &al0);
    sh = make_shard();
    if (!sh)
        goto nomem;
    feed(&w, sh, NULL, 0, 1, buf, &fed_a); /* warm-up: every series interned */
    have_mem = have_mem && jemalloc_read(&r1, &al1);
    if (mem) {
        mem->nseries = nseries;
        mem->have = have_mem;
        mem->resident = ((double)r1 - (double)r0) / (double)nseries;
        mem->allocated = ((double)al1 - (double)al0) / (double)nseries;
    }

    if (btab_init(&tab, nseries, nseries * (USER_LEN + 7)) != 0)
        goto nomem;
    have_tab = 1;
    feed(&w, NULL, &tab, 0, 1, buf, &fed_b);

    /* round 1: calibration, both sides */
    tally_t cal = { 0 };
    uint64_t ca = feed(&w, sh, NULL, 1, 1, buf, &fed_a);
    uint64_t cb = feed(&w, NULL, &tab, 1, 1, buf, &cal);
    fed_b.samples += cal.samples;
    fed_b.count_sum += cal.count_sum;
    uint64_t slow = ca > cb ? ca : cb;
    uint64_t rounds = 1;
    if (!smoke && slow > 0)
        rounds = (run_ms * UINT64_C(1000000) + slow - 1) / slow;
    if (rounds < 1)
        rounds = 1;

    for (int i = 0; i < runs; i++) {
        uint64_t k0 = 2 + (uint64_t)i * rounds;
        /* A B, then B A, ...: each side goes first half the time */
        for (int s = 0; s < 2; s++) {
            int is_a = (s == 0) == (i % 2 == 0);
            tally_t t = { 0 };
            uint64_t ns = is_a ? feed(&w, sh, NULL, k0, rounds, buf, &t)
                               : feed(&w, NULL, &tab, k0, rounds, buf, &t);
            tally_t *f = is_a ? &fed_a : &fed_b;
            f->samples += t.samples;
            f->ticks += t.ticks;
            f->count_sum += t.count_sum;
            (is_a ? ta : tb)[i] = (double)ns / (double)t.samples;
        }
    }
    rc = check_a(sh, &w, &fed_a) | check_b(&tab, &w, &fed_b);

    cell->nseries = nseries;
    cell->rate = rate;
    cell->rounds = rounds;
    cell->runs = runs;
    cell->a_best = bench_lowest(ta, runs);
    cell->b_best = bench_lowest(tb, runs);
    cell->a_med = bench_median(ta, runs);
    cell->b_med = bench_median(tb, runs);
    goto out;
nomem:
    fprintf(stderr, "bench_detect: out of memory\n");
    rc = 1;
out:
    shard_destroy(sh);
    if (have_tab)
        btab_free(&tab);
    free(buf);
    free(ta);
    free(tb);
    work_free(&w);
    return rc;
}

/* ---- callgrind ------------------------------------------------------------ */

/* Kept out of line so that its inclusive cost is the round's, whatever
 * the client requests do. */
__attribute__((noinline)) static void callgrind_round_a(shard_t *sh, const rec_t *v, size_t n)
{
    for (size_t i = 0; i < n; i += BURST)
        shard_records(sh, &v[i], n - i < BURST ? n - i : BURST);
}

__attribute__((noinline)) static void callgrind_round_b(btab_t *tab, const rec_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].type == REC_SAMPLE)
            btab_add(tab, &v[i]);
}

static int run_callgrind(size_t nseries, unsigned rate, size_t per_user, int baseline)
{
    work_t w;
    int rc = work_init(&w, nseries, rate, per_user);
    if (rc) {
        if (rc == 1)
            fprintf(stderr, "bench_detect: out of memory\n");
        return rc;
    }
    size_t cap = nseries + w.nusers + 2;
    rec_t *buf = malloc(CHUNK_RECS * sizeof(rec_t)), *round = malloc(cap * sizeof(rec_t));
    shard_t *sh = baseline ? NULL : make_shard();
    btab_t tab = { 0 };
    int have_tab = baseline && buf && round &&
                   btab_init(&tab, nseries, nseries * (USER_LEN + 7)) == 0;
    if (!buf || !round || (baseline ? !have_tab : !sh)) {
        fprintf(stderr, "bench_detect: out of memory\n");
        rc = 1;
        goto out;
    }
    tally_t fed = { 0 }, t = { 0 };
    feed(&w, sh, baseline ? &tab : NULL, 0, 2, buf, &fed); /* warm-up and calibration rounds */
    cursor_t c = { 2, 0 };
    size_t n = build(&w, &c, 3, round, cap, &t);
    fed.samples += t.samples;
    fed.count_sum += t.count_sum;

    /* Collection off until here (see main()); drop what the dynamic
     * loader ran before main, then count the round alone. */
    CALLGRIND_ZERO_STATS;
    CALLGRIND_TOGGLE_COLLECT;
    if (baseline)
        callgrind_round_b(&tab, round, n);
    else
        callgrind_round_a(sh, round, n);
    CALLGRIND_TOGGLE_COLLECT;

    rc = baseline ? check_b(&tab, &w, &fed) : check_a(sh, &w, &fed);
    printf("bench_detect --callgrind%s: %zu series at %u/min, one round of %llu samples and "
           "%llu ticks through %s; %s\n",
           baseline ? "-baseline" : "", nseries, rate, (unsigned long long)t.samples,
           (unsigned long long)t.ticks, baseline ? "callgrind_round_b (B, hash increment)"
                                                 : "callgrind_round_a (A, shard_records)",
           HAVE_CALLGRIND ? "Ir counted for that round only (client requests)"
                          : "built without valgrind/callgrind.h: take the inclusive Ir of that "
                            "function");
    printf("SAMPLES\t%llu\n", (unsigned long long)t.samples);
out:
    shard_destroy(sh);
    if (have_tab)
        btab_free(&tab);
    free(buf);
    free(round);
    work_free(&w);
    return rc;
}

/* ---- main ----------------------------------------------------------------- */

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* A comma-separated list of numbers in [min, max]; its length, -1 if bad. */
static int parse_list(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char tmp[256];
    if (strlen(s) >= sizeof(tmp))
        return -1;
    strcpy(tmp, s);
    int n = 0;
    for (char *save = NULL, *p = strtok_r(tmp, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (n == MAX_LIST || parse_u64(p, min, max, &out[n]) != 0)
            return -1;
        n++;
    }
    return n ? n : -1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bench_detect [--series LIST] [--rate LIST] [--runs N] [--run-ms N]\n"
            "                    [--per-user K] [--smoke]\n"
            "       bench_detect --callgrind N R | --callgrind-baseline N R [--per-user K]\n"
            "  --series LIST  series counts, comma-separated (default %s)\n"
            "  --rate LIST    samples per series per minute (default %s)\n"
            "  --runs N       runs of each side, alternated A B B A ... (default %d)\n"
            "  --run-ms N     duration of a run of the slower side (default %d)\n"
            "  --per-user K   series per User, 1-4 (default 1)\n"
            "  --smoke        1000 series at 10/min, one run of one round: times nothing\n"
            "  --callgrind N R           feed A one round of N series at R/min, for callgrind\n"
            "  --callgrind-baseline N R  the same for B\n",
            DEFAULT_SERIES, DEFAULT_RATES, DEFAULT_RUNS, DEFAULT_RUN_MS);
}

int main(int argc, char **argv)
{
    uint64_t series[MAX_LIST], rates[MAX_LIST], runs = DEFAULT_RUNS, run_ms = DEFAULT_RUN_MS,
             per_user = 1, cg_n = 0, cg_r = 0;
    int nseries_l = parse_list(DEFAULT_SERIES, 1, MAX_SERIES, series);
    int nrates = parse_list(DEFAULT_RATES, 1, 60000, rates);
    int smoke = 0, cg = 0; /* 1: A, 2: B */
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        int ok = 0;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(o, "--smoke")) {
            smoke = 1;
            ok = 1;
        } else if (!strcmp(o, "--series") && i + 1 < argc) {
            ok = (nseries_l = parse_list(argv[++i], 1, MAX_SERIES, series)) > 0;
        } else if (!strcmp(o, "--rate") && i + 1 < argc) {
            ok = (nrates = parse_list(argv[++i], 1, 60000, rates)) > 0;
        } else if (!strcmp(o, "--runs") && i + 1 < argc) {
            ok = parse_u64(argv[++i], 1, 1000, &runs) == 0;
        } else if (!strcmp(o, "--run-ms") && i + 1 < argc) {
            ok = parse_u64(argv[++i], 1, 600000, &run_ms) == 0;
        } else if (!strcmp(o, "--per-user") && i + 1 < argc) {
            ok = parse_u64(argv[++i], 1, 4, &per_user) == 0;
        } else if ((!strcmp(o, "--callgrind") || !strcmp(o, "--callgrind-baseline")) &&
                   i + 2 < argc) {
            cg = strcmp(o, "--callgrind") == 0 ? 1 : 2;
            ok = parse_u64(argv[i + 1], 1, MAX_SERIES, &cg_n) == 0 &&
                 parse_u64(argv[i + 2], 1, 60000, &cg_r) == 0;
            i += 2;
        }
        if (!ok) {
            fprintf(stderr, "bench_detect: bad option or value: %s\n", o);
            usage(stderr);
            return 2;
        }
    }
    detect_params_defaults(&detect_defaults);
    if (cg) {
        CALLGRIND_TOGGLE_COLLECT; /* off: set-up and warm-up are not counted */
        return run_callgrind((size_t)cg_n, (unsigned)cg_r, (size_t)per_user, cg == 2);
    }
    if (smoke) {
        series[0] = 1000;
        rates[0] = 10;
        nseries_l = nrates = 1;
        runs = 1;
    }

    int ncells = nseries_l * nrates;
    cell_t *cells = calloc((size_t)ncells, sizeof(*cells));
    mem_t *mems = calloc((size_t)nseries_l, sizeof(*mems));
    if (!cells || !mems) {
        fprintf(stderr, "bench_detect: out of memory\n");
        free(cells);
        free(mems);
        return 1;
    }
    printf("bench_detect: A shard_records, B hash increment; %llu run(s) each, runs ~%llu ms, "
           "%llu series per User%s\n",
           (unsigned long long)runs, (unsigned long long)run_ms, (unsigned long long)per_user,
           smoke ? " [smoke: not a measurement]" : "");
    printf("%8s %6s %7s %10s %10s %10s %10s %12s %8s %8s\n", "series", "/min", "rounds",
           "A best", "A median", "B best", "B median", "ratio B/A", "target", "verdict");
    printf("%8s %6s %7s %10s %10s %10s %10s %12s\n", "", "", "/run", "ns/sample", "ns/sample",
           "ns/sample", "ns/sample", "best (med)");
    fflush(stdout);
    int rc = 0, done = 0;
    uint64_t t_start = now_ns();
    for (int si = 0; si < nseries_l && rc == 0; si++) {
        for (int ri = 0; ri < nrates && rc == 0; ri++) {
            cell_t *c = &cells[done];
            rc = run_cell((size_t)series[si], (unsigned)rates[ri], (size_t)per_user, (int)runs,
                          run_ms, smoke, c, ri == 0 ? &mems[si] : NULL);
            if (rc)
                break;
            done++;
            char lb[32], tg[16];
            double tgt = ratio_target(c->nseries), ratio = c->b_best / c->a_best;
            target_str(tgt, tg, sizeof(tg));
            printf("%8s %6u %7llu %10.1f %10.1f %10.1f %10.1f %5.2f (%4.2f) %8s %8s\n",
                   label_n(c->nseries, lb, sizeof(lb)), c->rate, (unsigned long long)c->rounds,
                   c->a_best, c->a_med, c->b_best, c->b_med, ratio, c->b_med / c->a_med, tg,
                   tgt > 0 ? (ratio >= tgt ? "met" : "NOT met") : "-");
            fflush(stdout);
        }
    }
    if (rc == 0) {
        printf("\nmemory after warm-up (jemalloc, dirty pages purged), per series:\n");
        printf("%8s %14s %14s %10s %8s\n", "series", "resident B", "allocated B", "target",
               "verdict");
        for (int si = 0; si < nseries_l; si++) {
            const mem_t *m = &mems[si];
            char lb[32];
            int t = m->nseries == 1000000;
            if (m->have)
                printf("%8s %14.0f %14.0f %10s %8s\n", label_n(m->nseries, lb, sizeof(lb)),
                       m->resident, m->allocated, t ? "<= 1024" : "-",
                       t ? (m->resident <= MEM_TARGET ? "met" : "NOT met") : "-");
            else
                printf("%8s %14s %14s %10s %8s\n", label_n(m->nseries, lb, sizeof(lb)), "n/a",
                       "n/a", t ? "<= 1024" : "-", t ? "n/a" : "-");
        }
        printf("(sizeof series_t %zu, agg_t %zu, user_t %zu; %llu series per User; "
               "events: %llu summaries, %llu fired, %llu resolved, %llu progress; %.0f s)\n\n",
               sizeof(series_t), sizeof(agg_t), sizeof(user_t), (unsigned long long)per_user,
               (unsigned long long)events[EV_SUMMARY], (unsigned long long)events[EV_FIRE],
               (unsigned long long)events[EV_RESOLVE], (unsigned long long)events[EV_PROGRESS],
               (double)(now_ns() - t_start) / 1e9);
        for (int i = 0; i < done; i++) {
            const cell_t *c = &cells[i];
            char lb[32], tg[16];
            double tgt = ratio_target(c->nseries), ratio = c->b_best / c->a_best;
            target_str(tgt, tg, sizeof(tg));
            printf("ROW\tdetector update, %s series, %u/min\thash increment %.1f ns\t"
                   "%.1f ns/sample\t%.2f\t%s\t%s\n",
                   label_n(c->nseries, lb, sizeof(lb)), c->rate, c->b_best, c->a_best, ratio, tg,
                   tgt > 0 ? (ratio >= tgt ? "met" : "NOT met") : "-");
        }
        for (int si = 0; si < nseries_l; si++) {
            const mem_t *m = &mems[si];
            char lb[32], v[32];
            int t = m->nseries == 1000000;
            if (m->have)
                snprintf(v, sizeof(v), "%.0f B/series", m->resident);
            else
                snprintf(v, sizeof(v), "n/a");
            printf("ROW\tmemory at %s series\t-\t%s\t-\t%s\t%s\n",
                   label_n(m->nseries, lb, sizeof(lb)), v, t ? "<= 1024 B" : "-",
                   !t ? "-" : !m->have ? "n/a" : m->resident <= MEM_TARGET ? "met" : "NOT met");
        }
    }
    free(cells);
    free(mems);
    return rc;
}
