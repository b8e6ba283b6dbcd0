/*
 * regcheck.c - a loaded register's conflicts as warnings (regcheck.h).
 */
#include "regcheck.h"

#include <stdio.h>
#include <string.h>

/* Conflicts told per change: a change colliding with more is told of the
 * first ones, and how many more there are. */
#define REGCHECK_MAX 16

/* Whether conflict k of change c is told from c's side. */
static int told_here(const conflict_t *k, const change_t *c)
{
    switch (k->type) {
    case CONFLICT_MAINTENANCE: return !change_is_dcc(c);
    case CONFLICT_SAME_USER: return strcmp(c->id, k->with->id) < 0;
    default: return 1;
    }
}

long regcheck_conflicts(const changes_t *reg, const char *path, conflict_share_fn share,
                        void *share_ctx, changes_warn_fn warn, void *warn_ctx)
{
    conflict_index_t *ix = conflict_index_create(reg, share, share_ctx);
    char msg[1024], why[768];
    if (!ix) {
        snprintf(msg, sizeof(msg), "%s: out of memory looking for conflicts", path);
        warn(warn_ctx, msg);
        return -1;
    }
    long told = 0;
    for (size_t i = 0; i < changes_count(reg); i++) {
        const change_t *c = changes_get(reg, i);
        conflict_t k[REGCHECK_MAX];
        size_t found = 0;
        if (conflict_index_find(ix, c, k, REGCHECK_MAX, &found) < 0) {
            snprintf(msg, sizeof(msg), "%s: out of memory looking for conflicts", path);
            warn(warn_ctx, msg);
            conflict_index_destroy(ix);
            return -1;
        }
        size_t shown = found < REGCHECK_MAX ? found : REGCHECK_MAX;
        for (size_t j = 0; j < shown; j++) {
            if (!told_here(&k[j], c))
                continue;
            snprintf(msg, sizeof(msg), "%s:%d: change %s: %s", path, c->line, c->id,
                     conflict_message(&k[j], c, why, sizeof(why)));
            warn(warn_ctx, msg);
            told++;
        }
        if (found > shown) {
            snprintf(msg, sizeof(msg), "%s:%d: change %s: %zu more conflicts not shown", path,
                     c->line, c->id, found - shown);
            warn(warn_ctx, msg);
        }
    }
    conflict_index_destroy(ix);
    return told;
}
