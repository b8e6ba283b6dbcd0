/*
 * regcheck.h - what a change register loaded from its file collides with
 * (conflict.h), told as warnings when it is loaded: by replay, and by the
 * daemon at start and on each reload.
 */
#ifndef SW_REGCHECK_H
#define SW_REGCHECK_H

#include <stddef.h>

#include "changes.h"
#include "changes_yaml.h"
#include "conflict.h"

/*
 * Warns of each conflict among the changes of `reg` (read from `path`),
 * once per pair: "PATH:LINE: change ID: overlaps DCC Planned Maintenance
 * ..." through warn. A User's change tells its overlap with DCC work; of
 * two changes of one User, the one with the smaller id tells it; a busy
 * hour is told by each change in it. share: the Users' shares of the
 * traffic (NULL: no busy hours). Returns the number of warnings, or -1
 * when out of memory (after a warning saying so).
 */
long regcheck_conflicts(const changes_t *reg, const char *path, conflict_share_fn share,
                        void *share_ctx, changes_warn_fn warn, void *warn_ctx);

#endif
