/*
 * regview.h - the change register the alert stage correlates with in a
 * running daemon: the YAML file's changes and those declared over the API
 * (journalled by adapters/http/changes_api.c), one register with the file's
 * change first on a shared id.
 *
 * It is kept up to date by updates, in the order they happened: a declared
 * or withdrawn API change costs O(1), a new file (a reload) O(n). Nothing
 * is rebuilt per declaration, so an operator declaring thousands of changes
 * never slows the daemon down.
 *
 * DESIGN: owned by one thread (the daemon's alert thread), which applies
 * the updates others queue for it (the queue and its lock are the daemon's:
 * daemon_int.h); main fills it before that thread starts and destroys it
 * after joining it. regview_merged() is owned by the view and valid until
 * the next update. Pure logic: no I/O, no locks.
 */
#ifndef SW_REGVIEW_H
#define SW_REGVIEW_H

#include <stddef.h>

#include "changes.h"

typedef struct regview regview_t;

/* An empty view, or NULL when out of memory. */
regview_t *regview_create(void);
/* Frees the view and its registers; regview_destroy(NULL) is a no-op. */
void regview_destroy(regview_t *rv);

/*
 * A new file register (taken: the view frees it; NULL is an empty file).
 * The merged register is rebuilt: the file's changes and forecasts, then the API's whose
 * ids the file does not hold. 0, or SW_ENOMEM with the view unchanged (and
 * `file` freed).
 */
int regview_set_file(regview_t *rv, changes_t *file);

/*
 * A change declared over the API (copied). 0 when it is in the merged
 * register now; 1 when the file holds its id (kept aside: it applies once
 * the file no longer has that id); SW_EEXISTS when the API already has it
 * (nothing changes); SW_EINVAL or SW_ENOMEM (nothing changes).
 */
int regview_declare(regview_t *rv, const change_t *c);

/* An API change withdrawn: 0, or SW_ENOTFOUND when the API has no such id
 * (a file change cannot be withdrawn this way). */
int regview_withdraw(regview_t *rv, const char *id);

/* The register to correlate with: valid until the next update. */
const changes_t *regview_merged(const regview_t *rv);

#endif
