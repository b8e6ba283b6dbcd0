/*
 * vec.h - the one growable array of stormwatch: a pointer, a count kept by
 * the caller and a capacity, grown by doubling; and its ring form, whose
 * elements start anywhere and wrap at the end.
 *
 *   if (VEC_RESERVE(sh->fires, sh->fires_cap, sh->nfires + 1, 16) < 0)
 *       return SW_ENOMEM;
 *   sh->fires[sh->nfires++] = f;
 *
 * DESIGN: plain memory, no state of its own; whoever owns the array frees
 * it with free(). Not for arrays other threads read while it may move.
 */
#ifndef SW_VEC_H
#define SW_VEC_H

#include <stddef.h>

/*
 * Makes room for `need` elements of `size` bytes in the array at *(void **)
 * arrayp, whose capacity is *cap: when need > *cap, the capacity doubles
 * (from `first` when 0) until it holds them, and the array is reallocated.
 * 0, or SW_ENOMEM with the array and *cap unchanged (also when the bytes
 * would overflow a size_t).
 */
int vec_reserve(void *arrayp, size_t *cap, size_t need, size_t size, size_t first);

/* vec_reserve() on an array lvalue `v` of any element type. */
#define VEC_RESERVE(v, cap, need, first) vec_reserve(&(v), &(cap), (need), sizeof(*(v)), (first))

/*
 * The same for a ring: the *cap elements of `size` bytes at *(void **)
 * arrayp hold `n` from index *head on, wrapping at *cap. Grows it to twice
 * the capacity (`first` when 0), but to no more than `max` elements when
 * max is not 0, its n elements copied in order to the start (*head
 * becomes 0): a power-of-two capacity, for rings indexed by a mask, stays
 * one when first and max are. 0, or SW_ENOMEM with the ring unchanged
 * (also when it is at max already).
 */
int vec_ring_grow(void *arrayp, size_t *cap, size_t *head, size_t n, size_t size, size_t first,
                  size_t max);
#define VEC_RING_GROW(v, cap, head, n, first, max) \
    vec_ring_grow(&(v), &(cap), &(head), (n), sizeof(*(v)), (first), (max))

#endif
