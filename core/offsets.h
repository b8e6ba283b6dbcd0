/*
 * offsets.h - which offsets of one Kafka partition may be committed: only
 * those of messages whose every sample has been processed, so that an
 * instance that dies is replaced by one that reads again whatever it had
 * taken but not yet put through detection (the reorder buffer holds up to
 * the lateness of it).
 *
 * The daemon notes each message it takes with the newest event time among
 * its samples that went into ordering; a message is done once every
 * sample older than a time past that one has been processed. Messages are
 * kept in runs whose newest times lie within OFF_RUN_NS of each other, so
 * a partition costs a few hundred entries whatever its rate.
 *
 * DESIGN: plain data, one owner thread (the daemon's ingest thread).
 */
#ifndef SW_OFFSETS_H
#define SW_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

#define OFF_RUN_NS INT64_C(100000000) /* 100 ms of event time per run */

typedef struct {
    int64_t last;       /* offset of the last message of the run */
    int64_t newest;     /* newest sample time of the run and all before it */
    int64_t first;      /* newest time when the run began */
} off_run_t;

typedef struct {
    off_run_t *runs;    /* a ring: head .. head + n - 1 */
    size_t head, n, cap;
    int64_t newest;     /* newest sample time taken so far */
} off_track_t;

void off_init(off_track_t *t);
void off_free(off_track_t *t);
/* Forgets every message taken (the partition was revoked or assigned anew). */
void off_reset(off_track_t *t);

/* Message `offset` was taken; `newest` is the newest time among its samples
 * that went into ordering (INT64_MIN: none did). 0, or SW_ENOMEM (the
 * message is then folded into the run before it: committed later, never
 * earlier). */
int off_taken(off_track_t *t, int64_t offset, int64_t newest);

/* Every sample older than `done` has been processed: the offset to commit
 * (the next to read), or -1 when nothing more may be committed. */
int64_t off_committable(off_track_t *t, int64_t done);

/* Messages taken and not yet committable (runs held). */
size_t off_pending(const off_track_t *t);

#endif
