/*
 * state.h - learned baselines to and from bytes, so that what a replay or a
 * daemon learnt survives a restart ("--state FILE").
 *
 * Layout (all integers little-endian):
 *   header   "SWSTATE1" magic, u32 version, u32 BASE_BINS, u64 BASE_BIN_NS,
 *            u64 number of series
 *   series   u16 user length, user bytes, u8 dir, u16 class length, class
 *            bytes, then the baseline: f64 level, f32 phi, i64 age, i64 bin,
 *            4 x f32 accumulators, BASE_BINS x f32 profile, BASE_BINS x u8 days
 *   trailer  u32 CRC-32 of everything before it
 * A file of another version or bin layout, truncated, with trailing bytes,
 * a bad checksum or out-of-range values is refused whole: state is never
 * half-loaded or trusted blindly.
 *
 * DESIGN: pure encoding; the caller does the file I/O (atomically). One
 * thread, the owner of the series table.
 */
#ifndef SW_STATE_H
#define SW_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "series.h"

#define STATE_VERSION 1

/* Bytes one series takes in the state, besides its user and class strings. */
#define STATE_SERIES_FIXED (2 + 1 + 2 + 8 + 4 + 8 + 8 + 16 + 4 * BASE_BINS + BASE_BINS)

/*
 * Encodes every series of the `ntables` tables that has learnt something
 * into a new buffer
 * (*buf, *len; the caller frees it). Returns 0 or SW_ENOMEM.
 */
int state_encode(series_table_t *const *tables, size_t ntables, unsigned char **buf, size_t *len);

/*
 * Decodes `len` bytes, interning each series into the table
 * `table_for(ctx, user)` names (the shard that owns the User) with
 * `params_for(ctx, ...)`, and giving it the saved baseline. Returns 0, or SW_EPARSE with a
 * sentence in `err` (nothing is loaded: the table is only touched once the
 * whole buffer has been checked), SW_ENOMEM, or SW_EINVAL for a missing
 * argument.
 */
int state_decode(series_table_t *(*table_for)(void *ctx, const char *user, size_t len),
                 const unsigned char *buf, size_t len,
                 const detect_params_t *(*params_for)(void *ctx, const char *user, size_t len),
                 void *ctx, char *err, size_t errlen);

#endif
