/*
 * series.h - interning of Users and series, and the state each carries.
 *
 * A series is one (user, dir, class) stream of samples. Each User has, per
 * direction, one aggregate ("class all") that sums its series: blocked
 * routes and silences are judged there, storms per series.
 *
 * The table maps the strings of a sample to dense indices with one
 * open-addressing lookup; strings are copied once. Indices are stable
 * until the entry is removed (st_remove, to bound memory; the slot is
 * then reused), pointers are not (arrays grow).
 *
 * DESIGN: owned by one thread (a shard); nothing here is shared.
 */
#ifndef SW_SERIES_H
#define SW_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "baseline.h"
#include "det_route.h"
#include "det_shift.h"
#include "det_silence.h"
#include "det_storm.h"
#include "lifecycle.h"
#include "params.h"

typedef struct {
    uint32_t user;          /* index in the user table */
    uint32_t agg;           /* index of the User's aggregate for this dir */
    const char *cls;        /* class, NUL-terminated: the table's one copy */
    uint32_t hash;          /* low bits of the key hash */
    uint16_t cls_len;
    uint8_t dir;            /* DIR_SOUTH or DIR_NORTH */
    uint8_t seen;           /* has a previous sample: intervals are known */
    uint8_t live;           /* in use; 0: a removed slot, waiting for reuse */
    uint8_t pending;        /* a sample waits in its shard's event time, at pend_ix */
    uint8_t filled;         /* last_ts is an idle fill's, not a sample's */
    uint8_t holes;          /* intervals in a row far longer than the cadence */
    uint8_t explain;        /* its User's judgements are explained (shard_opts_t.explain) */
    int64_t last_ts;        /* event time of the last sample (idle fills included) */
    int64_t last_sample;    /* event time of the last sample read: for eviction */
    uint32_t epoch;         /* feed epoch of the last sample */
    uint32_t alert;         /* active storm alert slot + 1, 0 when none */
    uint32_t pend_ix;       /* while pending: its place among the shard's waiting samples */
    float cadence;          /* learned interval between its samples, s (0: not yet) */
    int64_t damp_since;     /* learning damped since (INT64_MIN: not damped) */
    double rate;            /* msgs/s over the last interval */
    double backlog;         /* last backlog gauge */
    base_t base;
    det_storm_t storm_det;
    life_t storm;
    det_shift_t shift;      /* a level shift of this series */
    life_t shift_life;
    uint32_t shift_alert;   /* active shift alert slot + 1, 0 when none */
} series_t;

/* A User's direction: the sum of its series. */
typedef struct {
    uint32_t user;
    uint8_t dir;
    uint8_t dirty;          /* has samples in the open bucket */
    uint8_t storming;       /* a series in the open bucket has its storm alert active */
    uint8_t suspicious;     /* evidence of a silence is building: its series learn damped */
    uint8_t learning;       /* a series in the open bucket has no history for the time yet */
    uint8_t explain;        /* its judgements are explained (shard_opts_t.explain) */
    float lin;              /* sum of disp*mu of the series: the clumping (fills a hole) */
    int64_t bucket_ts;      /* event time of the open bucket */
    /* sums over the open bucket (floats: a bucket's sum of a few series,
     * started afresh each bucket) */
    float obs;              /* messages counted */
    float expected;         /* messages the baselines expected at their quietest nearby */
    float expected_mid;     /* ... at the time itself */
    float queued;           /* messages counted by every series, warm or not (routes, limits) */
    float var_extra;        /* sum of phi*mu^2 of the series: the overdispersion */
    float delivered;
    float base_rate;        /* sum of the series' expected rates */
    float rate;             /* observed msgs/s over the bucket */
    int64_t bucket_dt;      /* longest series interval in the bucket */
    double backlog;         /* current total backlog: sum of latest gauges */
    det_silence_t sil;
    uint32_t route;         /* northbound: its route state, st_route(); 0 southbound */
    life_t blocked, silence, limit;
    uint32_t blocked_alert, silence_alert, limit_alert; /* slot + 1 */
} agg_t;

typedef struct {
    const char *name;       /* NUL-terminated; NULL: a removed slot */
    uint32_t len;
    uint32_t hash;
    uint32_t agg[2];        /* aggregate per direction; ST_NO_AGG before its first series */
    uint32_t nseries;       /* its series in the table: removed with the last */
    uint16_t src;           /* source of its latest sample (rec_t.src): a Kafka partition */
    const detect_params_t *params;
} user_t;

/* user_t.agg of a direction the User has no series in yet (made on demand,
 * so a User seen in one direction carries one aggregate, not two). */
#define ST_NO_AGG UINT32_MAX
/* agg_t.user of a removed aggregate. */
#define ST_NO_USER UINT32_MAX

typedef struct series_table series_table_t;

series_table_t *st_create(void);
void st_destroy(series_table_t *t);

/*
 * The index of series (user, dir, cls), created when new; a new User gets
 * its aggregates and params from `params_for(ctx, user, len)`.
 * Returns the index (>= 0), SW_EINVAL for a bad dir or a class over 65535
 * bytes, or SW_ENOMEM (no series is added; a new User may remain).
 */
int64_t st_intern(series_table_t *t, const char *user, size_t ulen, int dir, const char *cls,
                  size_t clen,
                  const detect_params_t *(*params_for)(void *ctx, const char *user, size_t len),
                  void *ctx);

/*
 * The index of User `user`'s aggregate in direction `dir`, the User and the
 * aggregate made when new (with no series: an alert resumed after a
 * restart waits there for the User's samples; such a User stays until a
 * series of its own is removed). >= 0, SW_EINVAL or SW_ENOMEM.
 */
int64_t st_user_agg(series_table_t *t, const char *user, size_t ulen, int dir,
                    const detect_params_t *(*params_for)(void *ctx, const char *user, size_t len),
                    void *ctx);

/* The distinct classes its series carry (each kept once). */
size_t st_nclasses(const series_table_t *t);

/* Non-zero when the table holds User `name` (len bytes). */
int st_has_user(const series_table_t *t, const char *name, size_t len);
/* The index of User `name`, or -1 when the table has none. */
int64_t st_find_user(const series_table_t *t, const char *name, size_t len);

/*
 * The index of series (user, dir, cls), or -1 when the table has none;
 * sets *hash (when not NULL) to the key's hash. Changes nothing.
 */
int64_t st_lookup(const series_table_t *t, const char *user, size_t ulen, int dir,
                  const char *cls, size_t clen, uint32_t *hash);

/*
 * The hash a key is filed under, and st_lookup() and st_intern() given
 * it (it must be st_hash() of the same key): for a caller that hashes a
 * batch of keys ahead, to prefetch what finding each will read.
 */
uint32_t st_hash(const char *user, size_t ulen, int dir, const char *cls, size_t clen);
int64_t st_lookup_hashed(const series_table_t *t, uint32_t hash, const char *user, size_t ulen,
                         int dir, const char *cls, size_t clen);
int64_t st_intern_hashed(series_table_t *t, uint32_t hash, const char *user, size_t ulen,
                         int dir, const char *cls, size_t clen,
                         const detect_params_t *(*params_for)(void *ctx, const char *user,
                                                              size_t len),
                         void *ctx);

/*
 * Asks the CPU to fetch, ahead, what interning and updating the series
 * filed under `hash` will read, in ST_PREFETCH_STAGES stages a few keys
 * apart, each reading only what the one before fetched: 0 the index
 * slot; 1 the series entry the slot names, whose position + 1 it returns
 * (0: none); 2 its class, User and aggregate, and 3 the User's name and
 * the blocked-route state, both given that return as `found` (and
 * returning it). A hint: changes nothing, any hash is safe, a miss only
 * costs the time it saves.
 */
#define ST_PREFETCH_STAGES 4
uint32_t st_prefetch(const series_table_t *t, uint32_t hash, int stage, uint32_t found);

/*
 * Removes series si (live) and frees its strings; its User and the User's
 * aggregates go too when it was the User's last series. Their slots are
 * reused by later st_intern() calls. The caller makes sure nothing still
 * refers to them (an open bucket, an alert). Returns 0, SW_EINVAL for a
 * slot not in use, or SW_ENOMEM with nothing changed.
 */
int st_remove(series_table_t *t, uint32_t si);

series_t *st_series(series_table_t *t, uint32_t i);
agg_t *st_agg(series_table_t *t, uint32_t i);
/* A northbound aggregate's blocked-route state (440 bytes, so southbound
 * ones carry none); NULL for a southbound one. */
det_route_t *st_route(series_table_t *t, const agg_t *g);
user_t *st_user(series_table_t *t, uint32_t i);
/* Entries in use. */
size_t st_nseries(const series_table_t *t);
size_t st_nusers(const series_table_t *t);
size_t st_naggs(const series_table_t *t);
/* The slots to iterate over series: 0 .. extent-1, skipping those not live. */
size_t st_series_extent(const series_table_t *t);
/* The same for Users: 0 .. extent-1, skipping those whose name is NULL. */
size_t st_user_extent(const series_table_t *t);
/* Re-reads every User's params (after a config reload). */
void st_rebind(series_table_t *t,
               const detect_params_t *(*params_for)(void *ctx, const char *user, size_t len),
               void *ctx);

#endif
