/*
 * changes.c - the in-memory change register (see changes.h).
 * A growable array of changes, each owning its strings, and a hash index
 * from each id (the change's own copy) to its position. A removal moves
 * the last change into the hole, so nothing is ever shifted.
 */
#include "changes.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "idindex.h"
#include "lineproto.h"
#include "vec.h"

_Static_assert(CHG_MAX_USER == LP_MAX_ID, "a change's user must fit the line protocol's ids");

struct changes {
    change_t *v;
    size_t n, cap;
    idindex_t by_id; /* id -> position in v */
    forecast_t *fc;  /* forecasts, in the order added (a handful a User) */
    size_t nfc, fc_cap;
};

changes_t *changes_create(void)
{
    changes_t *reg = calloc(1, sizeof(changes_t));
    if (reg)
        idx_init(&reg->by_id);
    return reg;
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
    for (size_t i = 0; i < reg->nfc; i++)
        free(reg->fc[i].user);
    free(reg->fc);
    idx_free(&reg->by_id);
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

double change_impact(const change_t *c, int dir)
{
    return (dir == DIR_SOUTH || dir == DIR_NORTH) && (c->impact_set & DIR_BIT(dir))
               ? c->impact[dir]
               : 1.0;
}

static int impact_ok(const change_t *c, int dir)
{
    double x = c->impact[dir];
    return !(c->impact_set & DIR_BIT(dir)) || (x >= 0 && x <= CHG_MAX_IMPACT); /* NaN fails */
}

int changes_add(changes_t *reg, const change_t *c)
{
    if (!reg || !c || !c->id || !c->user || c->end < c->start || (c->affects & ~CHG_BOTH) ||
        (c->impact_set & ~CHG_BOTH) || !impact_ok(c, DIR_SOUTH) || !impact_ok(c, DIR_NORTH))
        return SW_EINVAL;
    if (changes_find(reg, c->id))
        return SW_EEXISTS;
    if (idx_reserve(&reg->by_id, reg->n + 1) < 0)
        return SW_ENOMEM;
    if (VEC_RESERVE(reg->v, reg->cap, reg->n + 1, 16) < 0)
        return SW_ENOMEM;
    change_t copy;
    if (change_copy(&copy, c) < 0)
        return SW_ENOMEM;
    if (!copy.affects)
        copy.affects = CHG_BOTH;
    /* reserved above: cannot fail */
    idx_insert(&reg->by_id, copy.id, strlen(copy.id), reg->n);
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
    ptrdiff_t at = reg && id ? idx_find(&reg->by_id, id, strlen(id)) : -1;
    if (at < 0)
        return SW_ENOTFOUND;
    size_t i = (size_t)at, last = reg->n - 1;
    idx_remove(&reg->by_id, reg->v[i].id, strlen(reg->v[i].id));
    change_free_strings(&reg->v[i]);
    if (i != last) {
        reg->v[i] = reg->v[last];
        idx_update(&reg->by_id, reg->v[i].id, strlen(reg->v[i].id), i);
    }
    reg->n--;
    return SW_OK;
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
    ptrdiff_t at = reg && id ? idx_find(&reg->by_id, id, strlen(id)) : -1;
    return at < 0 ? NULL : &reg->v[at];
}

uint64_t changes_probes(const changes_t *reg)
{
    return reg ? reg->by_id.probes : 0;
}

/* The limit on each key's text, and whether it is free text (tabs and
 * line feeds allowed). */
static const struct {
    const char *key;
    size_t max;
    int free_text;
} text_rules[] = {
    { "id", CHG_MAX_ID, 0 },          { "user", CHG_MAX_USER, 0 },
    { "kind", CHG_MAX_KIND, 0 },      { "title", CHG_MAX_TEXT, 1 },
    { "expected", CHG_MAX_TEXT, 1 },  { "contact", CHG_MAX_TEXT, 1 },
};

int change_check_text(const char *key, const char *s, size_t len, char *why, size_t whylen)
{
    for (size_t r = 0; key && r < sizeof(text_rules) / sizeof(text_rules[0]); r++) {
        if (strcmp(key, text_rules[r].key) != 0)
            continue;
        if (len > text_rules[r].max) {
            sw_errf(why, whylen, "longer than %zu bytes (%zu)", text_rules[r].max, len);
            return SW_ERANGE;
        }
        for (size_t i = 0; i < len; i++) {
            unsigned char b = (unsigned char)s[i];
            if ((b >= 0x20 && b != 0x7f) || (text_rules[r].free_text && (b == '\t' || b == '\n')))
                continue;
            sw_errf(why, whylen, "control character 0x%02x at byte %zu%s", b, i + 1,
                    text_rules[r].free_text ? " (only tabs and line feeds are allowed)" : "");
            return SW_EPARSE;
        }
        return SW_OK;
    }
    return SW_OK;
}

int change_is_dcc(const change_t *c)
{
    return c && c->user && strcmp(c->user, CHG_DCC_USER) == 0;
}

int changes_add_forecast(changes_t *reg, const forecast_t *f)
{
    if (!reg || !f || !f->user || f->to_day < f->from_day || !(f->per_day > 0))
        return SW_EINVAL;
    for (size_t i = 0; i < reg->nfc; i++) {
        const forecast_t *o = &reg->fc[i];
        if (!strcmp(o->user, f->user) && o->from_day <= f->to_day && f->from_day <= o->to_day)
            return SW_EEXISTS;
    }
    if (VEC_RESERVE(reg->fc, reg->fc_cap, reg->nfc + 1, 8) < 0)
        return SW_ENOMEM;
    forecast_t copy = *f;
    if (!(copy.user = strdup(f->user)))
        return SW_ENOMEM;
    reg->fc[reg->nfc++] = copy;
    return SW_OK;
}

size_t changes_forecast_count(const changes_t *reg)
{
    return reg ? reg->nfc : 0;
}

const forecast_t *changes_forecast_get(const changes_t *reg, size_t i)
{
    return reg && i < reg->nfc ? &reg->fc[i] : NULL;
}

const forecast_t *changes_forecast_for(const changes_t *reg, const char *user, int32_t day)
{
    for (size_t i = 0; reg && i < reg->nfc; i++) {
        const forecast_t *f = &reg->fc[i];
        if (f->from_day <= day && day <= f->to_day && !strcmp(f->user, user))
            return f;
    }
    return NULL;
}

int changes_copy_forecasts(changes_t *dst, const changes_t *src)
{
    for (size_t i = 0; i < changes_forecast_count(src); i++) {
        int rc = changes_add_forecast(dst, &src->fc[i]);
        if (rc < 0 && rc != SW_EEXISTS)
            return rc;
    }
    return SW_OK;
}
