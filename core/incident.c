/*
 * incident.c - the incidents of the alert stage (incident.h).
 */
#include "incident.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "vec.h"

struct incidents {
    int64_t grace;
    uint64_t tag;         /* the instance's, in the ids' high bits */
    uint32_t next;        /* the next number to give */
    incident_t **v;       /* held incidents, in the order they opened */
    size_t n, cap;
    idindex_t users;      /* User -> the number of the incident it is bound to */
};

incidents_t *inc_create(int64_t grace, unsigned tag)
{
    incidents_t *t = calloc(1, sizeof(*t));
    if (t) {
        t->grace = grace;
        t->tag = (uint64_t)(tag & INCIDENT_TAG_MAX) << 32;
        t->next = 1;
    }
    return t;
}

static void inc_free(incident_t *i)
{
    for (size_t k = 0; k < i->nusers; k++)
        free(i->users[k]);
    free(i->users);
    free(i->key);
    free(i);
}

void inc_destroy(incidents_t *t)
{
    if (!t)
        return;
    for (size_t k = 0; k < t->n; k++)
        inc_free(t->v[k]);
    free(t->v);
    idx_free(&t->users);
    free(t);
}

incident_t *inc_open(incidents_t *t, incident_id_t id, const char *key, int severity)
{
    if (VEC_RESERVE(t->v, t->cap, t->n + 1, 16) < 0)
        return NULL;
    incident_t *i = calloc(1, sizeof(*i));
    if (!i || !(i->key = strdup(key ? key : ""))) {
        free(i);
        return NULL;
    }
    i->id = id ? id : t->tag | t->next;
    /* one of ours from before (resumed): the count goes on above it */
    if ((i->id & ~(uint64_t)UINT32_MAX) == t->tag && (uint32_t)i->id >= t->next)
        t->next = (uint32_t)i->id + 1;
    i->severity = severity;
    i->ended = INT64_MIN;
    i->touched = INT64_MIN;
    t->v[t->n++] = i;
    return i;
}

/* Whether incident i is still open at `now`. */
static int is_open(const incidents_t *t, const incident_t *i, int64_t now)
{
    return i->firing > 0 || i->ended == INT64_MIN || now - i->ended <= t->grace;
}

incident_t *inc_by_id(incidents_t *t, incident_id_t id, int64_t now)
{
    for (size_t k = t->n; k-- > 0;) /* the newest first: an id may come again */
        if (t->v[k]->id == id && is_open(t, t->v[k], now))
            return t->v[k];
    return NULL;
}

incident_t *inc_by_key(incidents_t *t, const char *key, int64_t now)
{
    if (!key || !*key)
        return NULL;
    for (size_t k = t->n; k-- > 0;) /* the newest first: an older one may be closing */
        if (strcmp(t->v[k]->key, key) == 0 && is_open(t, t->v[k], now))
            return t->v[k];
    return NULL;
}

incident_t *inc_of_user(incidents_t *t, const char *user, int64_t now)
{
    ptrdiff_t id = idx_find(&t->users, user, strlen(user));
    return id < 0 ? NULL : inc_by_id(t, (incident_id_t)id, now);
}

int inc_bind_user(incidents_t *t, incident_t *i, const char *user)
{
    if (idx_find(&t->users, user, strlen(user)) == (ptrdiff_t)i->id)
        return SW_OK;
    if (VEC_RESERVE(i->users, i->users_cap, i->nusers + 1, 4) < 0)
        return SW_ENOMEM;
    char *copy = strdup(user);
    if (!copy)
        return SW_ENOMEM;
    size_t len = strlen(copy);
    int rc = idx_find(&t->users, copy, len) >= 0 ? idx_update(&t->users, copy, len, i->id)
                                                 : idx_insert(&t->users, copy, len, i->id);
    if (rc != SW_OK) {
        free(copy);
        return rc;
    }
    i->users[i->nusers++] = copy;
    return SW_OK;
}

void inc_fire(incident_t *i, int64_t at)
{
    i->firing++;
    i->ended = INT64_MIN;
    if (at > i->touched)
        i->touched = at;
}

void inc_end(incident_t *i, int64_t at)
{
    if (i->firing && --i->firing == 0)
        i->ended = at;
    if (at > i->touched)
        i->touched = at;
}

void inc_sweep(incidents_t *t, int64_t now)
{
    size_t keep = 0;
    for (size_t k = 0; k < t->n; k++) {
        incident_t *i = t->v[k];
        if (is_open(t, i, now)) {
            t->v[keep++] = i;
            continue;
        }
        /* its Users go, unless bound to another incident since */
        for (size_t u = 0; u < i->nusers; u++) {
            const char *name = i->users[u];
            size_t len = strlen(name);
            if (idx_find(&t->users, name, len) == (ptrdiff_t)i->id)
                idx_remove(&t->users, name, len);
        }
        inc_free(i);
    }
    t->n = keep;
}

size_t inc_count(const incidents_t *t)
{
    return t->n;
}
