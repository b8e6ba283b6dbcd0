/*
 * shard.h - detection for the Users a shard owns: series, baselines,
 * windows and detectors, fed records in event-time order by the router.
 *
 * A shard turns records into events for the alert stage (event.h): alert
 * transitions as the detectors decide them, a summary of every northbound
 * bucket it closes (for the blast radius), and its progress. Everything it
 * decides depends only on the records of its own Users and on the control
 * records every shard receives, so the output does not depend on how
 * Users are spread over shards.
 *
 * DESIGN: a shard is owned by one thread; nothing in it is shared, so
 * nothing is locked. emit is called synchronously from shard_record().
 * Allocation happens only when a series or User is new, never per record.
 */
#ifndef SW_SHARD_H
#define SW_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "params.h"
#include "reorder.h"
#include "series.h"

typedef struct {
    ingest_params_t ingest;
    const detect_params_t *(*detect_for)(void *ctx, const char *user, size_t len);
    void *detect_ctx;
    void (*emit)(void *ctx, const event_t *ev);
    void *emit_ctx;
    int feed_owner;    /* this shard reports feed_stalled (exactly one does) */
    size_t max_series; /* this shard's share of ingest.max_series; 0: no limit */
} shard_opts_t;

typedef struct {
    uint64_t samples, duplicates, idle_zeroes, nomem;
    uint64_t evicted;  /* series removed to make room under max_series */
    uint64_t refused;  /* samples of a new series dropped: no series could be evicted */
} shard_stats_t;

typedef struct shard shard_t;

shard_t *shard_create(const shard_opts_t *o);

/* A shard's share of a series limit over n shards (rounded up; 0 stays 0). */
static inline size_t shard_share(size_t max_series, unsigned n)
{
    return max_series ? (max_series + n - 1) / n : 0;
}
void shard_destroy(shard_t *sh);

/* Handles one record (sample or control) from the router. */
void shard_record(shard_t *sh, const rec_t *r);

/* Re-reads every User's detection settings (after a config reload). */
void shard_rebind(shard_t *sh, const detect_params_t *(*detect_for)(void *, const char *, size_t),
                  void *ctx);

const shard_stats_t *shard_stats(const shard_t *sh);
series_table_t *shard_table(shard_t *sh);

#endif
