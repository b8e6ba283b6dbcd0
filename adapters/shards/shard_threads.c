/*
 * shard_threads.c - the daemon's shard threads: each runs one shard of the
 * pipeline on the records the ingest thread batches into its ring, and
 * hands its events to the alert thread through another ring.
 *
 * DESIGN: shard_threads.h says which thread calls what and which memory
 * orderings pair; each ring has one producer and one consumer at a time
 * (ring.h). A full ring makes its producer wait (counted), or, with
 * drop_when_full, the ingest thread sheds samples (counted) but keeps
 * control records. Every wait is a bounded back-off (sw_nap).
 */
#include "shard_threads.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "err.h"
#include "errburst.h"
#include "log.h"
#include "monotime.h"
#include "ring.h"
#include "shard.h"

#define BATCH 64               /* records moved per ring call */
#define IDLE_MIN_NS 20000      /* idle shards back off from 20 us ... */
#define IDLE_MAX_NS 2000000    /* ... to 2 ms */
#define DROP_GRACE_NS (2 * IDLE_MAX_NS) /* a ring full this long: its shard is behind, not napping */

typedef struct {
    shards_t *all;
    unsigned index;
    shard_t *shard;
    ring_t *in, *out;
    pthread_t tid;
    int started;                  /* main's: tid is a thread to join */
    atomic_int done;
    atomic_int parked;            /* stopped for a checkpoint: its table may be read */
    atomic_uint cfg_ack;          /* config generation this shard uses */
    atomic_uint_fast64_t in_waits, in_drops, out_waits;
    /* published by the shard thread after each burst, for the metrics */
    atomic_uint_fast64_t samples, duplicates, conflicts, series, evicted, refused, sheds;
    atomic_uint_fast64_t accepts, accepts_unknown;
    errburst_t conflict_log;      /* shard thread: conflicting repeats, logged once a burst */
    /* event time of the last tick it handled: every record older is done
     * (release; read by the ingest thread to commit Kafka offsets) */
    _Atomic int64_t processed;
    atomic_uint handoffs;         /* REC_HANDOFF records handled (release) */
    rec_t batch[BATCH];           /* ingest side: records waiting to be pushed */
    size_t nbatch;
    int in_shed;                  /* ingest side: the last sample for it was shed */
} shard_thr_t;

struct shards {
    shards_opts_t o;
    unsigned n;
    shard_thr_t *sh;
    atomic_int ingest_done;       /* raised by the ingest thread (release) */
    atomic_int pause_req;         /* asks the shards to park */
    _Atomic(void *) next_cfg;     /* published by main, taken by the shards */
    atomic_uint cfg_gen;
};

int shards_create(const shards_opts_t *o, shards_t **out)
{
    *out = NULL;
    shards_t *s = calloc(1, sizeof(*s));
    unsigned n = pipeline_nshards(o->pipe);
    if (!s || !(s->sh = calloc(n, sizeof(*s->sh)))) {
        free(s);
        return SW_ENOMEM;
    }
    s->o = *o;
    s->n = n;
    for (unsigned i = 0; i < n; i++) {
        shard_thr_t *t = &s->sh[i];
        t->all = s;
        t->index = i;
        atomic_init(&t->processed, INT64_MIN);
        t->shard = pipeline_shard(o->pipe, i);
        t->in = ring_create(o->ring_size, sizeof(rec_t));
        t->out = ring_create(o->ring_size / 4, sizeof(event_t));
        if (!t->in || !t->out) {
            shards_destroy(s);
            return SW_ENOMEM;
        }
    }
    *out = s;
    return SW_OK;
}

void shards_destroy(shards_t *s)
{
    if (!s)
        return;
    for (unsigned i = 0; s->sh && i < s->n; i++) {
        ring_destroy(s->sh[i].in);
        ring_destroy(s->sh[i].out);
    }
    free(s->sh);
    free(s);
}

unsigned shards_count(const shards_t *s)
{
    return s->n;
}

/* ---- the shard thread ---------------------------------------------------- */

void shards_emit(shards_t *all, unsigned shard, const event_t *ev)
{
    shard_thr_t *s = &all->sh[shard];
    long idle = IDLE_MIN_NS;
    while (ring_push_spsc(s->out, ev, 1) == 0) {
        atomic_fetch_add_explicit(&s->out_waits, 1, memory_order_relaxed);
        sw_nap(&idle, IDLE_MAX_NS);
    }
}

/* Switches to a newly published config between two bursts. */
static void shard_take_config(shard_thr_t *s)
{
    shards_t *all = s->all;
    unsigned gen = atomic_load_explicit(&all->cfg_gen, memory_order_acquire);
    if (gen == atomic_load_explicit(&s->cfg_ack, memory_order_relaxed))
        return;
    /* the acquire above pairs with the release in main's publish: next_cfg is complete */
    void *c = atomic_load_explicit(&all->next_cfg, memory_order_acquire);
    if (c)
        shard_rebind(s->shard, all->o.detect_for, c);
    /* pairs with main's acquire: this shard no longer reads the old config */
    atomic_store_explicit(&s->cfg_ack, gen, memory_order_release);
}

/*
 * A checkpoint: the shard stops between bursts until main has read its
 * table. The release store of `parked` publishes every write to the table
 * to main (which loads it with acquire); main's release store of pause_req
 * = 0, loaded here with acquire, orders main's reads before our next write.
 */
static void park(shard_thr_t *s)
{
    long idle = IDLE_MIN_NS;
    atomic_store_explicit(&s->parked, 1, memory_order_release);
    while (atomic_load_explicit(&s->all->pause_req, memory_order_acquire))
        sw_nap(&idle, IDLE_MAX_NS);
    atomic_store_explicit(&s->parked, 0, memory_order_relaxed);
}

/* After a burst: the shard's stats, for the metrics (relaxed, readers only
 * want a recent total); conflicting repeats logged once a burst. */
static void publish_stats(shard_thr_t *s)
{
    const shard_stats_t *st = shard_stats(s->shard);
    atomic_store_explicit(&s->samples, st->samples, memory_order_relaxed);
    atomic_store_explicit(&s->duplicates, st->duplicates, memory_order_relaxed);
    if (st->conflicts != atomic_load_explicit(&s->conflicts, memory_order_relaxed)) {
        errburst_fail(&s->conflict_log, errburst_now(), LOG_WARN,
                      "shard %u: %" PRIu64 " repeated samples disagreed with the copy kept "
                      "(the reading that shows more trouble is kept); the last: User %s at "
                      "%" PRId64 " ns",
                      s->index, st->conflicts, st->conflict_user, st->conflict_ts);
        atomic_store_explicit(&s->conflicts, st->conflicts, memory_order_relaxed);
    }
    atomic_store_explicit(&s->series, st_nseries(shard_table(s->shard)), memory_order_relaxed);
    atomic_store_explicit(&s->evicted, st->evicted, memory_order_relaxed);
    atomic_store_explicit(&s->refused, st->refused, memory_order_relaxed);
    atomic_store_explicit(&s->sheds, st->sheds, memory_order_relaxed);
    atomic_store_explicit(&s->accepts, st->accepts, memory_order_relaxed);
    atomic_store_explicit(&s->accepts_unknown, st->accepts_unknown, memory_order_relaxed);
}

static void *shard_main(void *arg)
{
    shard_thr_t *s = arg;
    shards_t *all = s->all;
    rec_t buf[BATCH];
    long idle = IDLE_MIN_NS;
    for (;;) {
        shard_take_config(s);
        if (atomic_load_explicit(&all->pause_req, memory_order_acquire))
            park(s);
        size_t n = ring_pop_spsc(s->in, buf, BATCH);
        if (n == 0) {
            /* acquire pairs with ingest's release: after seeing done, a
             * last pop sees every record it pushed */
            if (atomic_load_explicit(&all->ingest_done, memory_order_acquire)) {
                n = ring_pop_spsc(s->in, buf, BATCH);
                if (n == 0)
                    break;
            } else {
                sw_nap(&idle, IDLE_MAX_NS);
                continue;
            }
        }
        idle = IDLE_MIN_NS;
        int64_t tick = INT64_MIN;
        unsigned handoffs = 0;
        shard_records(s->shard, buf, n);
        for (size_t i = 0; i < n; i++) {
            if (buf[i].type == REC_TICK)
                tick = buf[i].ts;
            handoffs += buf[i].type == REC_HANDOFF;
        }
        /* release: what the shard did before is done when these are seen
         * (the ingest thread's acquire, to commit offsets or go on after a
         * handoff) */
        if (tick != INT64_MIN)
            atomic_store_explicit(&s->processed, tick, memory_order_release);
        if (handoffs)
            atomic_fetch_add_explicit(&s->handoffs, handoffs, memory_order_release);
        /* acquire pairs with the alert thread's release once the lines
         * below alerts_released are written */
        if (shard_publish_pending(s->shard))
            shard_publish_ready(s->shard, atomic_load_explicit(all->o.alerts_released,
                                                               memory_order_acquire));
        publish_stats(s);
    }
    /* pairs with the acquire in shards_all_done: all events pushed are visible */
    atomic_store_explicit(&s->done, 1, memory_order_release);
    return NULL;
}

int shards_start(shards_t *s, unsigned *failed)
{
    for (unsigned i = 0; i < s->n; i++) {
        int rc = pthread_create(&s->sh[i].tid, NULL, shard_main, &s->sh[i]);
        if (rc) {
            *failed = i;
            /* the pipeline ends as after a stop with no input: the alert
             * thread sees every shard not started done */
            for (unsigned k = i; k < s->n; k++)
                atomic_store_explicit(&s->sh[k].done, 1, memory_order_release);
            return rc;
        }
        s->sh[i].started = 1;
    }
    return 0;
}

void shards_join(shards_t *s)
{
    for (unsigned i = 0; i < s->n; i++)
        if (s->sh[i].started) {
            pthread_join(s->sh[i].tid, NULL);
            s->sh[i].started = 0;
        }
}

/* ---- the records into the shards' rings (ingest thread) ----------------- */

/*
 * With run.drop_when_full, what is left of shard s's batch from `from` on
 * when its ring stayed full: its samples are shed (counted), its control
 * records kept (the shard needs every tick, stall and gap). The first
 * sample of each run of shed samples becomes a REC_SHED at its time, so
 * the shard stops judging at the point the hole begins: no series reads a
 * shed sample as silence, no idle sweep fills the hole with zeroes.
 */
static void shed(shard_thr_t *s, size_t from)
{
    size_t keep = from, dropped = 0;
    for (size_t i = from; i < s->nbatch; i++) {
        rec_t *r = &s->batch[i];
        if (r->type != REC_SAMPLE) {
            s->batch[keep++] = *r;
            continue;
        }
        dropped++;
        if (!s->in_shed) {
            s->batch[keep++] = (rec_t){ .type = REC_SHED, .ts = r->ts, .aux = r->ts };
            s->in_shed = 1;
        }
    }
    s->nbatch = keep;
    /* counted for the stats thread: relaxed, it only reads a total */
    atomic_fetch_add_explicit(&s->in_drops, dropped, memory_order_relaxed);
}

/* Pushes shard s's batch, waiting while its ring is full; with
 * drop_when_full, sheds its samples once the ring has stayed full
 * for DROP_GRACE_NS (a shard that is behind, not one between two naps). */
static void push_batch(shard_thr_t *s)
{
    size_t done = 0;
    long idle = IDLE_MIN_NS, waited = 0;
    while (done < s->nbatch) {
        size_t n = ring_push_spsc(s->in, s->batch + done, s->nbatch - done);
        for (size_t i = done; i < done + n && s->in_shed; i++)
            s->in_shed = s->batch[i].type != REC_SAMPLE; /* a sample got through */
        done += n;
        if (done == s->nbatch)
            break;
        if (s->all->o.drop_when_full && waited >= DROP_GRACE_NS) {
            shed(s, done);
            if (done == s->nbatch)
                break;
        }
        atomic_fetch_add_explicit(&s->in_waits, 1, memory_order_relaxed);
        waited += idle;
        sw_nap(&idle, IDLE_MAX_NS);
    }
    s->nbatch = 0;
}

void shards_deliver(shards_t *all, unsigned shard, const rec_t *r)
{
    shard_thr_t *s = &all->sh[shard];
    s->batch[s->nbatch++] = *r;
    if (s->nbatch == BATCH)
        push_batch(s);
}

void shards_flush(shards_t *s)
{
    for (unsigned i = 0; i < s->n; i++)
        if (s->sh[i].nbatch)
            push_batch(&s->sh[i]);
}

void shards_ingest_done(shards_t *s)
{
    /* pairs with the acquire load in shard_main: every record pushed
     * before is visible to a shard that sees ingest_done */
    atomic_store_explicit(&s->ingest_done, 1, memory_order_release);
}

/* Every shard has processed every record older than this (the last tick
 * each handled; acquire pairs with the shard thread's release). */
int64_t shards_processed_below(const shards_t *s)
{
    int64_t done = INT64_MAX;
    for (unsigned i = 0; i < s->n; i++) {
        int64_t p = atomic_load_explicit(&s->sh[i].processed, memory_order_acquire);
        if (p < done)
            done = p;
    }
    return done;
}

void shards_await_handoffs(shards_t *s, unsigned handoffs, double timeout_s)
{
    shards_flush(s);
    /* acquire pairs with the shard thread's release after the handoff */
    double give_up = sw_mono_s() + timeout_s;
    long idle = IDLE_MIN_NS;
    for (unsigned i = 0; i < s->n; i++)
        while (atomic_load_explicit(&s->sh[i].handoffs, memory_order_acquire) < handoffs &&
               sw_mono_s() < give_up)
            sw_nap(&idle, IDLE_MAX_NS);
}

/* ---- the alert thread's side --------------------------------------------- */

size_t shards_pop_events(shards_t *s, unsigned shard, event_t *buf, size_t max)
{
    return ring_pop_spsc(s->sh[shard].out, buf, max);
}

int shards_all_done(const shards_t *s)
{
    int all_done = 1;
    /* acquire pairs with the shard thread's release on exit */
    for (unsigned i = 0; i < s->n; i++)
        all_done &= atomic_load_explicit(&s->sh[i].done, memory_order_acquire) &&
                    ring_depth(s->sh[i].out) == 0;
    return all_done;
}

/* ---- checkpoints and reloads --------------------------------------------- */

int shards_park_all(shards_t *s, double wait_s, unsigned *stuck)
{
    atomic_store_explicit(&s->pause_req, 1, memory_order_release);
    double give_up = sw_mono_s() + wait_s;
    long idle = IDLE_MIN_NS;
    for (unsigned i = 0; i < s->n; i++) {
        /* acquire pairs with park()'s release (or shard_main's on exit) */
        while (!atomic_load_explicit(&s->sh[i].parked, memory_order_acquire) &&
               !atomic_load_explicit(&s->sh[i].done, memory_order_acquire)) {
            if (sw_mono_s() > give_up) {
                atomic_store_explicit(&s->pause_req, 0, memory_order_release);
                *stuck = i;
                return -1;
            }
            sw_nap(&idle, IDLE_MAX_NS);
        }
    }
    return 0;
}

/* Lets the shards go: pairs with the acquire in park(), so everything read
 * or written in their tables meanwhile comes before their next write. */
void shards_unpark_all(shards_t *s)
{
    atomic_store_explicit(&s->pause_req, 0, memory_order_release);
}

unsigned shards_publish_config(shards_t *s, void *detect_ctx)
{
    /* release: the config is complete for a shard that loads it (acquire) */
    atomic_store_explicit(&s->next_cfg, detect_ctx, memory_order_release);
    return atomic_fetch_add_explicit(&s->cfg_gen, 1, memory_order_acq_rel) + 1;
}

int shards_config_taken(const shards_t *s, unsigned gen)
{
    int all = 1;
    /* acquire pairs with each shard's release of its acknowledgement (or
     * of done on exit) */
    for (unsigned i = 0; i < s->n; i++)
        all &= atomic_load_explicit(&s->sh[i].cfg_ack, memory_order_acquire) == gen ||
               atomic_load_explicit(&s->sh[i].done, memory_order_acquire);
    return all;
}

/* ---- stats ---------------------------------------------------------------- */

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

void shards_stat(const shards_t *s, unsigned i, shards_stat_t *st)
{
    const shard_thr_t *t = &s->sh[i];
    *st = (shards_stat_t){ .ring_depth = ring_depth(t->in), .in_waits = LOAD(t->in_waits),
                           .in_drops = LOAD(t->in_drops), .out_waits = LOAD(t->out_waits),
                           .samples = LOAD(t->samples), .duplicates = LOAD(t->duplicates),
                           .conflicts = LOAD(t->conflicts), .series = LOAD(t->series),
                           .evicted = LOAD(t->evicted), .refused = LOAD(t->refused),
                           .sheds = LOAD(t->sheds), .accepts = LOAD(t->accepts),
                           .accepts_unknown = LOAD(t->accepts_unknown),
                           .learning = shard_learning(t->shard) };
}
