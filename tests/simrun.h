/*
 * simrun.h - for tests: a simulator run replayed through the engine, as
 * `stormwatch replay` does, with every alert transition kept.
 */
#ifndef SW_TEST_SIMRUN_H
#define SW_TEST_SIMRUN_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "engine.h"
#include "sim.h"

#define SIMRUN_MAX 1024

typedef struct {
    alert_t a[SIMRUN_MAX];     /* strings point into the arrays below */
    char user[SIMRUN_MAX][SIM_ID_LEN + 8];
    char cls[SIMRUN_MAX][SIM_CLASS_LEN + 8];
    char change[SIMRUN_MAX][SIM_ID_LEN];
    char line[SIMRUN_MAX][2048];
    int n;
} simrun_t;

/*
 * Generates the run and replays it with `nshards` shards (profiles in
 * local time when it has a time zone); `affects`, when not NULL, replaces
 * the directions every change declared (a change of the other direction).
 * Fails the test on any error. The caller frees the result.
 */
simrun_t *simrun(const sim_opts_t *o, unsigned nshards, const char *affects);

/* The same run, each transition to emit(ctx, a) (valid during the call),
 * and the engine's counts in *stats when not NULL. */
void simrun_replay(const sim_opts_t *o, unsigned nshards, const char *affects,
                   void (*emit)(void *ctx, const alert_t *a), void *ctx, engine_stats_t *stats);

/* The first transition of kind k (firing, or resolved) on User i of the
 * run (i < 0: User `*`), direction dir (-1: any), at or after `from`
 * (detected_at when firing, ends_at when resolved); -1 if none. */
int simrun_find(const simrun_t *s, const sim_opts_t *o, int user, alert_kind_t k, int dir,
                int firing, int64_t from);

/* The pages: firing alerts that stand for their incident and are not
 * guesses (learning), as the scorer counts them. */
int simrun_pages(const simrun_t *s, int64_t from);

#endif
