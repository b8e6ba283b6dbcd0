/*
 * changes.c - the in-memory change register (see changes.h).
 * A growable array of changes, each owning its strings. Registers hold
 * hundreds of changes, not millions, so lookups are linear scans.
 */
#include "changes.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

struct changes {
    change_t *v;
    size_t n, cap;
};

changes_t *changes_create(void)
{
    return calloc(1, sizeof(changes_t));
}

void change_free_strings(change_t *c)
{
    free(c->id);
    free(c->user);
    free(c->title);
    free(c->kind);
    free(c->expected);
    free(c->contact);
}

void changes_destroy(changes_t *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->n; i++)
        change_free_strings(&reg->v[i]);
    free(reg->v);
    free(reg);
}

/* strdup that keeps NULL as NULL; sets *failed on allocation failure. */
static char *dup_opt(const char *s, int *failed)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *failed = 1;
    return d;
}

int changes_add(changes_t *reg, const change_t *c)
{
    if (!reg || !c || !c->id || !c->user || c->end < c->start || (c->affects & ~CHG_BOTH))
        return SW_EINVAL;
    if (changes_find(reg, c->id))
        return SW_EEXISTS;
    if (reg->n == reg->cap) {
        size_t cap = reg->cap ? reg->cap * 2 : 16;
        change_t *v = realloc(reg->v, cap * sizeof(*v));
        if (!v)
            return SW_ENOMEM;
        reg->v = v;
        reg->cap = cap;
    }
    change_t copy;
    if (change_copy(&copy, c) < 0)
        return SW_ENOMEM;
    if (!copy.affects)
        copy.affects = CHG_BOTH;
    reg->v[reg->n++] = copy;
    return SW_OK;
}

int change_copy(change_t *dst, const change_t *src)
{
    int failed = 0;
    *dst = *src;
    dst->id = dup_opt(src->id, &failed);
    dst->user = dup_opt(src->user, &failed);
    dst->title = dup_opt(src->title, &failed);
    dst->kind = dup_opt(src->kind, &failed);
    dst->expected = dup_opt(src->expected, &failed);
    dst->contact = dup_opt(src->contact, &failed);
    if (failed) {
        change_free_strings(dst);
        return SW_ENOMEM;
    }
    return SW_OK;
}

int changes_remove(changes_t *reg, const char *id)
{
    for (size_t i = 0; reg && id && i < reg->n; i++) {
        if (strcmp(reg->v[i].id, id) == 0) {
            change_free_strings(&reg->v[i]);
            memmove(&reg->v[i], &reg->v[i + 1], (reg->n - i - 1) * sizeof(change_t));
            reg->n--;
            return SW_OK;
        }
    }
    return SW_ENOTFOUND;
}

size_t changes_count(const changes_t *reg)
{
    return reg ? reg->n : 0;
}

const change_t *changes_get(const changes_t *reg, size_t i)
{
    return reg && i < reg->n ? &reg->v[i] : NULL;
}

const change_t *changes_find(const changes_t *reg, const char *id)
{
    for (size_t i = 0; reg && id && i < reg->n; i++)
        if (strcmp(reg->v[i].id, id) == 0)
            return &reg->v[i];
    return NULL;
}

int change_is_dcc(const change_t *c)
{
    return c && c->user && strcmp(c->user, CHG_DCC_USER) == 0;
}
