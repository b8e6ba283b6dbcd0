/*
 * ring.h - a bounded single-producer single-consumer ring of fixed-size
 * records, the hand-off between an ingest thread and a shard.
 *
 * The ingest thread pushes parsed records in bursts onto the ring of the
 * shard that owns their User; the shard pops them in bursts. Neither call
 * blocks, locks or allocates: a push copies as many records as fit and says
 * how many, a pop copies as many as are there (up to what was asked). What
 * to do with records that did not fit (count them, retry, shed) is the
 * caller's decision, so a full ring is always a visible event.
 *
 * DESIGN: exactly one producer thread calls ring_push_spsc() and exactly one
 * consumer thread calls ring_pop_spsc() on a given ring (they may be the
 * same thread). ring_depth() and ring_capacity() may be called from any
 * thread. ring_create() and ring_destroy() are not concurrent with anything
 * else on the ring; the threads that use it must be started after create
 * (thread creation orders the initialisation) and joined before destroy.
 * A role may pass to another thread only when something else orders the
 * hand-over (thread creation, or the daemon's parking of a shard, whose
 * out ring the parking thread then pushes to). Records are copied in and
 * out: the ring holds no pointer of the caller's. The memory-ordering
 * argument is in ring.c.
 */
#ifndef SW_RING_H
#define SW_RING_H

#include <stddef.h>

typedef struct ring ring_t;

/*
 * Creates an empty ring of at least `capacity` records of `elem_size` bytes
 * each; the capacity is rounded up to a power of two. Returns NULL when
 * `capacity` or `elem_size` is 0, when the rounded size does not fit in a
 * size_t, or when memory runs out. This is the ring's only allocation. The
 * caller frees it with ring_destroy().
 */
ring_t *ring_create(size_t capacity, size_t elem_size);

/* Frees the ring and any records still in it. NULL is a no-op. */
void ring_destroy(ring_t *r);

/*
 * Producer only. Copies up to `n` records (n * elem_size bytes) from
 * `elems` to the tail of the ring, in order, as many as fit. Returns how
 * many were copied: 0 when the ring is full or `n` is 0. Never blocks. The
 * records that were not copied are left to the caller.
 */
size_t ring_push_spsc(ring_t *r, const void *elems, size_t n);

/*
 * Consumer only. Moves up to `max` records from the head of the ring to
 * `out` (room for max * elem_size bytes), in the order they were pushed.
 * Returns how many were moved: 0 when the ring is empty or `max` is 0.
 * Never blocks.
 */
size_t ring_pop_spsc(ring_t *r, void *out, size_t max);

/*
 * Records in the ring, from any thread. Approximate while the ring is in
 * use: a snapshot that may be stale by the time it is returned, but always
 * between 0 and ring_capacity(). Exact when neither side is running.
 */
size_t ring_depth(const ring_t *r);

/* The capacity in records (a power of two, fixed at create). */
size_t ring_capacity(const ring_t *r);

/* The size of one record in bytes (fixed at create). */
size_t ring_elem_size(const ring_t *r);

#endif
