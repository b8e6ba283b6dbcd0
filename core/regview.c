/*
 * regview.c - the file's and the API's changes as one register (regview.h).
 *
 * Three registers: the file's, the API's, and the merged one the alert
 * stage reads. An API update touches the API's and, unless the file holds
 * the id, the merged one: each an O(1) indexed add or remove.
 */
#include "regview.h"

#include <stdlib.h>

#include "err.h"

struct regview {
    changes_t *file, *api, *merged;
};

regview_t *regview_create(void)
{
    regview_t *rv = calloc(1, sizeof(*rv));
    if (!rv)
        return NULL;
    rv->file = changes_create();
    rv->api = changes_create();
    rv->merged = changes_create();
    if (!rv->file || !rv->api || !rv->merged) {
        regview_destroy(rv);
        return NULL;
    }
    return rv;
}

void regview_destroy(regview_t *rv)
{
    if (!rv)
        return;
    changes_destroy(rv->file);
    changes_destroy(rv->api);
    changes_destroy(rv->merged);
    free(rv);
}

int regview_set_file(regview_t *rv, changes_t *file)
{
    changes_t *empty = file ? NULL : changes_create();
    changes_t *f = file ? file : empty, *merged = changes_create();
    int rc = f && merged ? changes_copy_forecasts(merged, f) : SW_ENOMEM;
    for (size_t i = 0; rc == SW_OK && i < changes_count(f); i++)
        rc = changes_add(merged, changes_get(f, i));
    for (size_t i = 0; rc == SW_OK && i < changes_count(rv->api); i++) {
        const change_t *c = changes_get(rv->api, i);
        if (!changes_find(f, c->id))
            rc = changes_add(merged, c);
    }
    if (rc != SW_OK) {
        changes_destroy(f);
        changes_destroy(merged);
        return rc == SW_EEXISTS || rc == SW_EINVAL ? SW_EINVAL : SW_ENOMEM;
    }
    changes_destroy(rv->file);
    changes_destroy(rv->merged);
    rv->file = f;
    rv->merged = merged;
    return SW_OK;
}

int regview_declare(regview_t *rv, const change_t *c)
{
    int rc = changes_add(rv->api, c);
    if (rc < 0)
        return rc;
    if (changes_find(rv->file, c->id))
        return 1;
    rc = changes_add(rv->merged, c);
    if (rc < 0) {
        changes_remove(rv->api, c->id);
        return rc;
    }
    return SW_OK;
}

int regview_withdraw(regview_t *rv, const char *id)
{
    if (changes_remove(rv->api, id) < 0)
        return SW_ENOTFOUND;
    if (!changes_find(rv->file, id))
        changes_remove(rv->merged, id);
    return SW_OK;
}

const changes_t *regview_merged(const regview_t *rv)
{
    return rv->merged;
}
