/*
 * blast.h - the blast radius of a storm: the other Users whose deliveries
 * slowed, seen as their northbound backlog rising above its usual level
 * while the storm lasts.
 *
 * Each User's northbound direction learns the usual level and spread of
 * its total backlog (outside storms) and keeps its last BLAST_HIST
 * backlogs. A User is impacted by a storm when the mean of its backlogs
 * since the storm's onset stands `z` standard errors above the usual level
 * (the spread floored at one message, so a User whose backlog is always
 * zero is not flagged by a single message) and at least `min_increase`
 * messages above it. Such Users are listed in the storm's
 * impacted_users rather than alerted on one by one.
 *
 * DESIGN: value types embedded in the engine's state; one owner thread.
 */
#ifndef SW_BLAST_H
#define SW_BLAST_H

#include <stddef.h>
#include <stdint.h>

#define BLAST_HIST 32

/* Per User and direction: the backlog's usual level and recent values,
 * their times in milliseconds after t0 (a million Users keep one each:
 * 288 bytes, not 408). */
typedef struct {
    float mean, var;          /* usual total backlog, learned outside storms */
    int64_t learnt;           /* event time learnt, ns */
    int64_t t0;               /* ms_ts[] count from here, ns */
    int32_t ms_ts[BLAST_HIST];
    float backlog[BLAST_HIST];
    uint8_t head, n;
} blast_track_t;

/* Records the backlog of a closed bucket; learns the usual level when
 * `learn` (no storm anywhere, this User not alerting). */
void blast_observe(blast_track_t *t, int64_t ts, double backlog, int64_t dt_ns, int64_t tau_ns,
                   int learn);

/* Non-zero when the backlogs after `since` show this User impacted
 * (times compared to the millisecond). */
int blast_impacted(const blast_track_t *t, int64_t since, int64_t min_learnt, double z,
                   double min_increase);

/* The Users impacted by one storm: indices and their names, no repeats,
 * sorted by name. */
typedef struct {
    uint32_t *users;
    const char **names;
    size_t n, cap;
} blast_list_t;

/* Adds user `u` (name valid as long as the list; one name, one user)
 * unless present, in O(log n) plus the move of the entries after it:
 * 1 added, 0 present, SW_ENOMEM (the list unchanged). */
int blast_add(blast_list_t *l, uint32_t u, const char *name);
/* Non-zero when the list holds the User named `name`: O(log n). */
int blast_has(const blast_list_t *l, const char *name);
void blast_free(blast_list_t *l);

#endif
