/*
 * conflict.h - what a planned change collides with in the schedule of
 * change: the operator declaring it is told before it happens, instead of
 * the correlator finding two explanations for one alert afterwards.
 *
 * Three kinds of conflict, for change `c` against the other changes of a
 * register (c's own id skipped, so c may be in it or not):
 *   maintenance  c, a User's change, overlaps DCC Planned Maintenance (a
 *                change of user "DCC"); or c is DCC work and overlaps a
 *                User's change: each such change is reported;
 *   same_user    another change of c's User (DCC's too) overlaps c and
 *                affects a direction c affects: the alerts of that
 *                direction could be explained by either;
 *   busy_hour    an hour of UTC time (hour-aligned) that c overlaps, in
 *                which at least CONFLICT_BUSY_USERS distinct large Users
 *                (c's own User counted when large) have a change in force:
 *                the DSP carries several of its biggest Users' changes at
 *                once. Consecutive busy hours with the same Users make one
 *                conflict.
 * Windows overlap when each starts before the other ends: a window that
 * ends when another starts does not overlap it.
 *
 * Cost: conflicts_find() reads the register once, O(n), plus O(k log k) in
 * the k changes of c's hours; many queries on one register (a schedule)
 * go through a conflict_index_t, which sorts the register once and then
 * looks only at the changes near each query.
 *
 * DESIGN: pure logic on a register the caller holds still; no state of
 * its own, no I/O. Results point into the register and into c: valid while
 * both are unchanged.
 */
#ifndef SW_CONFLICT_H
#define SW_CONFLICT_H

#include <stddef.h>
#include <stdint.h>

#include "changes.h"

/* Large Users in force in one hour that make it busy: two of the DSP's
 * biggest Users changing at once is already a risk its operators plan around. */
#define CONFLICT_BUSY_USERS 2
/* A User is large from this share of the DSP's traffic (its learned
 * baselines): a tenth, so at most ten Users are large at once. */
#define CONFLICT_LARGE_SHARE 0.10
/* Users listed in a busy_hour conflict (nusers counts them all): ten
 * Users hold a tenth each at most, so the list is nearly always whole. */
#define CONFLICT_MAX_USERS 10
/* The length of the hours busy_hour looks at. */
#define CONFLICT_HOUR_NS (INT64_C(3600) * 1000000000)

typedef enum { CONFLICT_MAINTENANCE, CONFLICT_SAME_USER, CONFLICT_BUSY_HOUR } conflict_type_t;

/* "maintenance", "same_user" or "busy_hour". */
const char *conflict_type_name(conflict_type_t t);

/* A User's share of the DSP's traffic in [0,1], or < 0 when unknown (the
 * User is then not large). Called at most once per User and query. */
typedef double (*conflict_share_fn)(void *ctx, const char *user);

typedef struct {
    conflict_type_t type;
    const change_t *with;  /* maintenance, same_user: the other change; NULL for busy_hour */
    int64_t from, to;      /* busy_hour: the busy hours [from, to), hour-aligned;
                              otherwise the overlap of the two windows */
    size_t nusers;         /* busy_hour: the large Users in force */
    const char *users[CONFLICT_MAX_USERS]; /* the first of them, by id */
} conflict_t;

/*
 * The conflicts of change `c` (need not be in `reg`) with the changes of
 * `reg`, into out (max entries), in order: by type, then by the other
 * change's start and id, or by hour. *found is how many there are, which
 * may be more than max: then out holds the first max of them. share NULL:
 * no busy_hour check. Returns 0, or SW_ENOMEM (the busy_hour check needs
 * memory in proportion to the changes in c's hours) with *found 0.
 * O(n) in the register.
 */
int conflicts_find(const changes_t *reg, const change_t *c, conflict_share_fn share, void *ctx,
                   conflict_t *out, size_t max, size_t *found);

/*
 * One sentence on conflict k of change c, into buf (len bytes, truncated),
 * e.g. "overlaps DCC Planned Maintenance CHG-0110 (2019-09-12T06:20:30Z..06:40:30Z)".
 * Returns buf.
 */
const char *conflict_message(const conflict_t *k, const change_t *c, char *buf, size_t len);

/*
 * For many queries on one register: its changes sorted by start (O(n log n)
 * once), so that each conflict_index_find() looks only at the changes that
 * start near the query, plus the few long ones (more than a day). NULL when
 * out of memory. The register must stay unchanged while the index is used.
 */
typedef struct conflict_index conflict_index_t;
conflict_index_t *conflict_index_create(const changes_t *reg, conflict_share_fn share, void *ctx);
/* conflict_index_destroy(NULL) is a no-op. */
void conflict_index_destroy(conflict_index_t *ix);
/* conflicts_find() through the index: the same result. */
int conflict_index_find(const conflict_index_t *ix, const change_t *c, conflict_t *out,
                        size_t max, size_t *found);

#endif
