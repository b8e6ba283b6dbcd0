/*
 * state.h - learned baselines to and from bytes, so that what a replay or a
 * daemon learnt survives a restart ("--state FILE").
 *
 * Layout (all integers little-endian):
 *   header   "SWSTATE1" magic, u32 version, u32 BASE_BINS, u64 BASE_BIN_NS,
 *            u64 number of series
 *   series   u16 user length, user bytes, u8 dir, u16 class length, class
 *            bytes, f32 cadence (s), then the baseline: f64 level, f32 phi,
 *            2 x f32 day scale sums, i64 age, i64 bin, 4 x f32 accumulators,
 *            2 x BASE_BINS x u16 profiles (weekdays, weekend; half floats),
 *            2 x BASE_BINS x u8 days
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

#include "lineproto.h"
#include "series.h"

#define STATE_VERSION 3
/* The oldest version still read: version 2 had no clumping (base_t.disp),
 * read as none learnt. */
#define STATE_VERSION_OLDEST 2

/* Bytes of a baseline in the state (4 fewer at version 2: no clumping). */
#define STATE_BASE_LEN (8 + 4 + 4 + 4 + 8 + 8 + 16 + 2 * BASE_KINDS * BASE_BINS + BASE_KINDS * BASE_BINS + 4)
/* Bytes one series takes in the state, besides its user and class strings. */
#define STATE_SERIES_FIXED (2 + 1 + 2 + 4 + STATE_BASE_LEN)

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

/*
 * One User's whole detection state, so that the User can move to another
 * instance (Kafka: its partition moved) and go on as if it had never left:
 * every series with its baseline, the time of its last sample (so samples
 * read again are duplicates), its storm and shift detectors and lifecycles; every direction's
 * silence run, blocked-route window and lifecycles; and, for each alert
 * firing, what it fired with. A blob has its own magic, version, the bin
 * layout and a CRC, and is refused whole when anything is off.
 */
#define STATE_USER_VERSION 3

/* What an alert fired with, kept so another instance can go on with it:
 * its incident, role and severity too (0 when the alert stage had not
 * handled it yet: the other instance then finds it one). */
typedef struct {
    int64_t starts_at, detected_at, since;
    double value, baseline, backlog, limit;
    uint64_t incident;            /* incident_id_t */
    uint8_t role, severity, learning;
} state_fire_t;

typedef struct {
    int dir;                      /* DIR_SOUTH or DIR_NORTH */
    char cls[LP_MAX_ID + 1];
    size_t clen;
    int seen;
    int64_t last_ts;
    double rate, backlog;
    float cadence;
    base_t base;
    det_storm_t storm_det;
    life_t storm;
    int firing;                   /* a storm alert is out: fire holds it */
    state_fire_t fire;
    det_shift_t shift;
    life_t shift_life;
    int shift_firing;             /* a shift alert is out: shift_fire holds it */
    state_fire_t shift_fire;
} state_user_series_t;

enum { STATE_BLOCKED, STATE_SILENCE, STATE_LIMIT, STATE_NLIVES };

typedef struct {
    int dir;
    det_silence_t sil;
    det_route_t route;
    int open;                     /* a bucket is open: its sums follow */
    int64_t bucket_ts, bucket_dt;
    double obs, queued, expected, expected_mid, var_extra, delivered, base_rate, rate;
    float lin;                    /* the bucket's clumping sum (agg_t.lin) */
    int storming, learning;
    life_t life[STATE_NLIVES];    /* blocked, silence, limit */
    int firing[STATE_NLIVES];
    state_fire_t fire[STATE_NLIVES];
} state_user_agg_t;

typedef struct state_user {
    char user[LP_MAX_ID + 1];
    size_t ulen;
    unsigned src;                 /* the source it was read from (rec_t.src) */
    state_user_series_t *series;  /* nseries of them (owned) */
    size_t nseries;
    state_user_agg_t agg[2];
    size_t naggs;
} state_user_t;

/*
 * Encodes User `user` of table t (read from source `src`) into a new
 * buffer (*buf, *len; the caller frees it). fire_of(ctx, id) gives what the
 * alert with that id fired with (NULL: it is left out, as if not firing).
 * Returns 0 or SW_ENOMEM.
 */
int state_encode_user(series_table_t *t, uint32_t user, unsigned src,
                      const state_fire_t *(*fire_of)(void *ctx, uint32_t id), void *ctx,
                      unsigned char **buf, size_t *len);

/*
 * Decodes a blob of state_encode_user() into *out (the caller frees it
 * with state_user_free()). Returns 0, or SW_EPARSE with a sentence in err
 * (nothing allocated), or SW_ENOMEM.
 */
int state_decode_user(const unsigned char *buf, size_t len, state_user_t *out, char *err,
                      size_t errlen);
void state_user_free(state_user_t *u);

#endif
