/*
 * reorder.h - puts samples back in event-time order within an allowed
 * lateness, and tells late ones apart.
 *
 * Records enter in arrival order. Those that arrive in order (the common
 * case) go to a FIFO at O(1); those that arrive out of order go to a
 * binary heap. A record is released once it is older than the watermark
 * (the newest event time seen minus the lateness); releases come out sorted by
 * (ts, arrival sequence), so the order is deterministic for a given input.
 * A record older than the watermark on arrival is late: the caller counts
 * and drops it.
 *
 * DESIGN: one owner thread (the router's, i.e. the ingest thread). Records
 * are copied in and out (packed in the FIFO: reorder.c). Grows by half
 * (the FIFO) or doubling (the heap); the only allocation is on growth,
 * never per record.
 */
#ifndef SW_REORDER_H
#define SW_REORDER_H

#include <stddef.h>
#include <stdint.h>

/* What the router hands a shard: a sample reduced to what detection
 * needs, or a control record. Fixed size and self-contained (the User and
 * class are copied in), so it can cross threads through a ring. */
enum {
    REC_SAMPLE, /* a sample */
    REC_TICK,   /* every record before ts has been delivered */
    REC_STALL,  /* the feed has been quiet since aux: feed_stalled fires at ts */
    REC_GAP,    /* the feed resumes at ts after a gap since aux */
    REC_SRC_STALL,  /* source src has been quiet since aux: its feed_stalled fires at ts */
    REC_SRC_RESUME, /* source src resumes at ts after being quiet since aux */
    REC_HANDOFF,    /* source src is no longer read here: hand its Users over
                       (aux 1: their state to opts.publish first; 0: just drop) */
    REC_SHED,       /* samples of this shard from aux up to ts were shed (a full ring,
                       run.drop_when_full): no interval spans them, nothing is judged on them */
    REC_FEED_BACK,  /* the feed, stalled when the run before stopped, is back at ts */
    REC_ACCEPT,     /* an operator accepts the level of the User in key[] in direction
                       dir, as of ts, as its new normal (to the User's shard only) */
};

/* Sources of samples (rec_t.src): 0 is the main feed (ZeroMQ, a file),
 * k > 0 is Kafka partition k - 1. Each source is in event-time order by
 * itself, not with the others. */
#define REC_MAX_SOURCES 1024
/* The longest User and class a record holds (LP_MAX_ID each). */
#define REC_MAX_ULEN 64
#define REC_MAX_CLEN 64
#define REC_SRC_OF_PARTITION(p) ((unsigned)(p) + 1)
#define REC_PARTITION_OF_SRC(s) ((int)(s) - 1)

typedef struct {
    int64_t ts;        /* event time, ns */
    int64_t aux;       /* REC_STALL, REC_GAP, REC_SRC_*: event time of the last sample
                          before the gap (and count: the stall time, ns, the feed
                          was allowed: feed_stalled's detected_at is aux + count) */
    double count, delivered, rejected, backlog;
    uint32_t seq;      /* arrival sequence (wraps; compared by difference) */
    uint32_t fields;   /* LP_F_* bits */
    uint8_t type;      /* REC_* */
    uint8_t dir;       /* DIR_SOUTH or DIR_NORTH */
    uint8_t ulen, clen;/* lengths of the User and class in key[] */
    uint16_t src;      /* the source it came from (REC_MAX_SOURCES) */
    char key[REC_MAX_ULEN + REC_MAX_CLEN]; /* the User, then the class */
} rec_t;

/* Records cross the rings by value: keep them three cache lines. */
_Static_assert(sizeof(rec_t) == 192, "rec_t is 192 bytes");

typedef struct reorder reorder_t;

reorder_t *reorder_create(int64_t lateness_ns);
void reorder_destroy(reorder_t *r);

/*
 * Offers a record. Returns 0 when buffered, 1 when it is late (older than
 * the watermark: not buffered), SW_ENOMEM when the buffer cannot grow (not
 * buffered).
 */
int reorder_push(reorder_t *r, const rec_t *rec);

/*
 * Offers a control record (REC_SRC_*) that must come out in event-time
 * order with the samples: never late (one older than what was released is
 * moved up to that time), and it does not move the newest time offered.
 * Returns 0, or SW_ENOMEM when the buffer cannot grow.
 */
int reorder_push_control(reorder_t *r, const rec_t *rec);

/*
 * Takes the next record that is ready: older than the watermark, or any
 * record at all when `drain` is set (end of input). Returns 1 and fills
 * *out, or 0 when none is ready.
 */
int reorder_pop(reorder_t *r, rec_t *out, int drain);

/* The time of the last record released (INT64_MIN before the first): an
 * older one offered now is late. */
int64_t reorder_released_ts(const reorder_t *r);

/* The newest event time offered so far (INT64_MIN before the first). */
int64_t reorder_max_ts(const reorder_t *r);

/*
 * Judges lateness from `ts` instead of the newest time offered: the
 * router's clock when several sources (Kafka partitions) each arrive in
 * order but apart from each other. INT64_MIN goes back to the newest time.
 */
void reorder_set_clock(reorder_t *r, int64_t ts);
/* Records buffered. */
size_t reorder_depth(const reorder_t *r);
/* Bytes the FIFO's records take (its packed records, not its capacity). */
size_t reorder_fifo_bytes(const reorder_t *r);
/* Bytes the buffer has allocated: the FIFO's ring and the heap's array
 * (each grows with the feed's rate x the lateness, and never shrinks). */
size_t reorder_bytes(const reorder_t *r);

#endif
