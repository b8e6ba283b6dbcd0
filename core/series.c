/*
 * series.c - the series and User tables (series.h).
 *
 * Two open-addressing hash indexes (linear probing, power-of-two size,
 * load at most 1/2) hold 32-bit hashes next to the entry index so that a
 * probe rarely touches the entry itself. Strings live in an arena of
 * 64 KiB chunks, freed all at once.
 */
#include "series.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "hash.h"

#define ARENA_CHUNK (64 * 1024)

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    char data[];
} chunk_t;

typedef struct {
    uint32_t hash;
    uint32_t idx;   /* entry index + 1; 0 = empty slot */
} slot_t;

typedef struct {
    slot_t *slots;
    size_t cap;     /* power of two */
} index_t;

struct series_table {
    series_t *series;
    size_t nseries, series_cap;
    user_t *users;
    size_t nusers, users_cap;
    agg_t *aggs;
    size_t naggs, aggs_cap;
    index_t series_ix, users_ix;
    chunk_t *arena;
};

series_table_t *st_create(void)
{
    return calloc(1, sizeof(series_table_t));
}

void st_destroy(series_table_t *t)
{
    if (!t)
        return;
    for (chunk_t *c = t->arena, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(t->series);
    free(t->users);
    free(t->aggs);
    free(t->series_ix.slots);
    free(t->users_ix.slots);
    free(t);
}

/* Copies s into the arena with a NUL; NULL when out of memory. */
static const char *arena_dup(series_table_t *t, const char *s, size_t n)
{
    if (!t->arena || t->arena->cap - t->arena->used < n + 1) {
        size_t cap = n + 1 > ARENA_CHUNK ? n + 1 : ARENA_CHUNK;
        chunk_t *c = malloc(sizeof(*c) + cap);
        if (!c)
            return NULL;
        c->next = t->arena;
        c->used = 0;
        c->cap = cap;
        t->arena = c;
    }
    char *d = t->arena->data + t->arena->used;
    memcpy(d, s, n);
    d[n] = '\0';
    t->arena->used += n + 1;
    return d;
}

/* Doubles an array of `size`-byte elements when full. */
static int grow(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return SW_OK;
    size_t ncap = *cap ? *cap * 2 : 64;
    void *nv = realloc(*v, ncap * size);
    if (!nv)
        return SW_ENOMEM;
    *v = nv;
    *cap = ncap;
    return SW_OK;
}

/* Makes room for one more entry in an index holding n entries. */
static int index_reserve(index_t *ix, size_t n)
{
    if ((n + 1) * 2 <= ix->cap)
        return SW_OK;
    size_t ncap = ix->cap ? ix->cap * 2 : 128;
    slot_t *ns = calloc(ncap, sizeof(*ns));
    if (!ns)
        return SW_ENOMEM;
    for (size_t i = 0; i < ix->cap; i++) {
        if (!ix->slots[i].idx)
            continue;
        size_t j = ix->slots[i].hash & (ncap - 1);
        while (ns[j].idx)
            j = (j + 1) & (ncap - 1);
        ns[j] = ix->slots[i];
    }
    free(ix->slots);
    ix->slots = ns;
    ix->cap = ncap;
    return SW_OK;
}

static void index_put(index_t *ix, uint32_t hash, uint32_t idx)
{
    size_t j = hash & (ix->cap - 1);
    while (ix->slots[j].idx)
        j = (j + 1) & (ix->cap - 1);
    ix->slots[j] = (slot_t){ hash, idx + 1 };
}

static int64_t user_intern(series_table_t *t, const char *name, size_t len, uint32_t hash,
                           const detect_params_t *(*params_for)(void *, const char *, size_t),
                           void *ctx)
{
    if (t->users_ix.cap) {
        for (size_t j = hash & (t->users_ix.cap - 1);; j = (j + 1) & (t->users_ix.cap - 1)) {
            slot_t s = t->users_ix.slots[j];
            if (!s.idx)
                break;
            user_t *u = &t->users[s.idx - 1];
            if (s.hash == hash && u->len == len && memcmp(u->name, name, len) == 0)
                return s.idx - 1;
        }
    }
    if (index_reserve(&t->users_ix, t->nusers) < 0 ||
        grow((void **)&t->users, &t->users_cap, t->nusers, sizeof(user_t)) < 0)
        return SW_ENOMEM;
    const char *copy = arena_dup(t, name, len);
    if (!copy)
        return SW_ENOMEM;
    uint32_t ui = (uint32_t)t->nusers++;
    user_t *u = &t->users[ui];
    *u = (user_t){ .name = copy, .len = (uint32_t)len, .hash = hash };
    u->params = params_for(ctx, copy, len);
    u->agg[0] = u->agg[1] = ST_NO_AGG; /* made with the direction's first series */
    index_put(&t->users_ix, hash, ui);
    return ui;
}

/* The aggregate of User ui in direction dir, made when it has none yet. */
static int64_t agg_of(series_table_t *t, uint32_t ui, int dir)
{
    user_t *u = &t->users[ui];
    if (u->agg[dir] != ST_NO_AGG)
        return u->agg[dir];
    if (grow((void **)&t->aggs, &t->aggs_cap, t->naggs, sizeof(agg_t)) < 0)
        return SW_ENOMEM;
    u->agg[dir] = (uint32_t)t->naggs;
    t->aggs[t->naggs++] = (agg_t){ .user = ui, .dir = (uint8_t)dir };
    return u->agg[dir];
}

int64_t st_intern(series_table_t *t, const char *user, size_t ulen, int dir, const char *cls,
                  size_t clen, const detect_params_t *(*params_for)(void *, const char *, size_t),
                  void *ctx)
{
    uint64_t uh = sw_hash(user, ulen, 0x5354524dULL);
    uint32_t hash = (uint32_t)sw_mix64(uh ^ sw_hash(cls, clen, (uint64_t)dir + 1));
    if (t->series_ix.cap) {
        for (size_t j = hash & (t->series_ix.cap - 1);; j = (j + 1) & (t->series_ix.cap - 1)) {
            slot_t s = t->series_ix.slots[j];
            if (!s.idx)
                break;
            if (s.hash != hash)
                continue;
            series_t *se = &t->series[s.idx - 1];
            const user_t *u = &t->users[se->user];
            if (se->dir == dir && se->cls_len == clen && u->len == ulen &&
                memcmp(se->cls, cls, clen) == 0 && memcmp(u->name, user, ulen) == 0)
                return s.idx - 1;
        }
    }
    if (clen > UINT16_MAX || ulen > UINT32_MAX / 2 || dir < 0 || dir > 1)
        return SW_EINVAL;
    if (index_reserve(&t->series_ix, t->nseries) < 0 ||
        grow((void **)&t->series, &t->series_cap, t->nseries, sizeof(series_t)) < 0)
        return SW_ENOMEM;
    int64_t ui = user_intern(t, user, ulen, (uint32_t)uh, params_for, ctx);
    if (ui < 0)
        return ui;
    int64_t ai = agg_of(t, (uint32_t)ui, dir);
    if (ai < 0)
        return ai;
    const char *ccopy = arena_dup(t, cls, clen);
    if (!ccopy)
        return SW_ENOMEM;
    uint32_t si = (uint32_t)t->nseries++;
    t->series[si] = (series_t){
        .user = (uint32_t)ui,
        .agg = (uint32_t)ai,
        .cls = ccopy,
        .cls_len = (uint16_t)clen,
        .dir = (uint8_t)dir,
        .hash = hash,
    };
    base_init(&t->series[si].base);
    index_put(&t->series_ix, hash, si);
    return si;
}

series_t *st_series(series_table_t *t, uint32_t i)
{
    return &t->series[i];
}

agg_t *st_agg(series_table_t *t, uint32_t i)
{
    return &t->aggs[i];
}

user_t *st_user(series_table_t *t, uint32_t i)
{
    return &t->users[i];
}

size_t st_nseries(const series_table_t *t)
{
    return t->nseries;
}

size_t st_nusers(const series_table_t *t)
{
    return t->nusers;
}

size_t st_naggs(const series_table_t *t)
{
    return t->naggs;
}

void st_rebind(series_table_t *t, const detect_params_t *(*params_for)(void *, const char *, size_t),
               void *ctx)
{
    for (size_t i = 0; i < t->nusers; i++)
        t->users[i].params = params_for(ctx, t->users[i].name, t->users[i].len);
}
