/*
 * series.c - the series and User tables (series.h).
 *
 * Two open-addressing hash indexes (linear probing, power-of-two size,
 * load at most 1/2) hold 32-bit hashes next to the entry index so that a
 * probe rarely touches the entry itself. A removed entry leaves the index
 * by backward-shift deletion (no tombstones, so probes stay short) and its
 * slot in the array goes on a free list for the next new entry; strings
 * are allocated one by one so that a removed entry gives its memory back.
 * A class is kept once, however many series carry it (a third index, of
 * classes, each counting its series): a few dozen classes name a million
 * series.
 */
#include "series.h"

#include <stdlib.h>
#include <string.h>

#include "dir.h"
#include "err.h"
#include "hash.h"
#include "hindex.h"
#include "vec.h"

/* Indices of removed entries, reused before the array grows. */
typedef struct {
    uint32_t *v;
    size_t n, cap;
} freelist_t;

/* A class, and how many series carry it; name NULL: a free slot. */
typedef struct {
    char *name;
    uint32_t len, hash, refs;
} class_t;

struct series_table {
    series_t *series;
    size_t nseries, series_cap;  /* nseries: the extent, removed slots included */
    user_t *users;
    size_t nusers, users_cap;
    agg_t *aggs;
    size_t naggs, aggs_cap;
    det_route_t *routes;         /* northbound aggregates' route states (agg_t.route - 1) */
    size_t nroutes, routes_cap;
    class_t *classes;
    size_t nclasses, classes_cap;
    hindex_t series_ix, users_ix, classes_ix; /* positions in series[], users[], classes[] */
    freelist_t free_series, free_users, free_aggs, free_routes, free_classes;
    size_t live_classes;
    size_t live_series, live_users, live_aggs;
};

series_table_t *st_create(void)
{
    return calloc(1, sizeof(series_table_t));
}

void st_destroy(series_table_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nclasses; i++)
        free(t->classes[i].name);
    for (size_t i = 0; i < t->nusers; i++)
        free((char *)t->users[i].name);
    free(t->series);
    free(t->users);
    free(t->aggs);
    free(t->routes);
    free(t->classes);
    hix_free(&t->series_ix);
    hix_free(&t->users_ix);
    hix_free(&t->classes_ix);
    free(t->free_series.v);
    free(t->free_users.v);
    free(t->free_aggs.v);
    free(t->free_routes.v);
    free(t->free_classes.v);
    free(t);
}

/* A NUL-terminated copy of s[0..n); NULL when out of memory. */
static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Doubles an array of `size`-byte elements when full. */
static int grow(void **v, size_t *cap, size_t n, size_t size)
{
    return vec_reserve(v, cap, n + 1, size, 64);
}

static int free_push(freelist_t *f, uint32_t i)
{
    if (grow((void **)&f->v, &f->cap, f->n, sizeof(*f->v)) < 0)
        return SW_ENOMEM;
    f->v[f->n++] = i;
    return SW_OK;
}

/* A slot for a new entry: a removed one, or the end of the array (grown). */
static int64_t take_slot(freelist_t *f, void **arr, size_t *n, size_t *cap, size_t size)
{
    if (f->n)
        return f->v[--f->n];
    if (grow(arr, cap, *n, size) < 0)
        return SW_ENOMEM;
    return (int64_t)(*n)++;
}

static int64_t user_intern(series_table_t *t, const char *name, size_t len, uint32_t hash,
                           const detect_params_t *(*params_for)(void *, const char *, size_t),
                           void *ctx)
{
    size_t j = hix_home(&t->users_ix, hash);
    for (ptrdiff_t p; (p = hix_next(&t->users_ix, hash, &j)) >= 0;) {
        const user_t *u = &t->users[p];
        if (u->len == len && sw_memeq(u->name, name, len))
            return p;
    }
    if (hix_reserve(&t->users_ix, t->live_users + 1) < 0)
        return SW_ENOMEM;
    char *copy = dup_n(name, len);
    if (!copy)
        return SW_ENOMEM;
    int64_t ui = take_slot(&t->free_users, (void **)&t->users, &t->nusers, &t->users_cap,
                           sizeof(user_t));
    if (ui < 0) {
        free(copy);
        return ui;
    }
    user_t *u = &t->users[ui];
    *u = (user_t){ .name = copy, .len = (uint32_t)len, .hash = hash };
    u->params = params_for(ctx, copy, len);
    u->agg[0] = u->agg[1] = ST_NO_AGG; /* made with the direction's first series */
    hix_put(&t->users_ix, hash, (uint32_t)ui);
    t->live_users++;
    return ui;
}

static uint32_t class_hash(const char *cls, size_t len)
{
    return (uint32_t)sw_hash(cls, len, 0x434c53ULL);
}

static ptrdiff_t class_find(const series_table_t *t, const char *cls, size_t len, uint32_t hash)
{
    size_t j = hix_home(&t->classes_ix, hash);
    for (ptrdiff_t p; (p = hix_next(&t->classes_ix, hash, &j)) >= 0;)
        if (t->classes[p].len == len && sw_memeq(t->classes[p].name, cls, len))
            return p;
    return -1;
}

/* The table's copy of class cls, counted once more; NULL when out of
 * memory (nothing changed). */
static const char *class_take(series_table_t *t, const char *cls, size_t len)
{
    uint32_t hash = class_hash(cls, len);
    ptrdiff_t p = class_find(t, cls, len, hash);
    if (p >= 0) {
        t->classes[p].refs++;
        return t->classes[p].name;
    }
    if (hix_reserve(&t->classes_ix, t->live_classes + 1) < 0)
        return NULL;
    char *copy = dup_n(cls, len);
    if (!copy)
        return NULL;
    int64_t ci = take_slot(&t->free_classes, (void **)&t->classes, &t->nclasses,
                           &t->classes_cap, sizeof(class_t));
    if (ci < 0) {
        free(copy);
        return NULL;
    }
    t->classes[ci] = (class_t){ .name = copy, .len = (uint32_t)len, .hash = hash, .refs = 1 };
    hix_put(&t->classes_ix, hash, (uint32_t)ci);
    t->live_classes++;
    return copy;
}

/* A series carrying class cls is gone: the class goes with its last one.
 * The caller made room on the free list. */
static void class_drop(series_table_t *t, const char *cls, size_t len)
{
    uint32_t hash = class_hash(cls, len);
    ptrdiff_t p = class_find(t, cls, len, hash);
    if (p < 0 || --t->classes[p].refs > 0)
        return;
    hix_del(&t->classes_ix, hash, (uint32_t)p);
    free(t->classes[p].name);
    t->classes[p] = (class_t){ .name = NULL };
    free_push(&t->free_classes, (uint32_t)p);
    t->live_classes--;
}

size_t st_nclasses(const series_table_t *t)
{
    return t->live_classes;
}

/* The aggregate of User ui in direction dir, made when it has none yet. */
static int64_t agg_of(series_table_t *t, uint32_t ui, int dir)
{
    user_t *u = &t->users[ui];
    if (u->agg[dir] != ST_NO_AGG)
        return u->agg[dir];
    int64_t ri = -1;
    /* room to give the route back should the aggregate fail */
    if (dir == DIR_NORTH && grow((void **)&t->free_routes.v, &t->free_routes.cap,
                                 t->free_routes.n, sizeof(uint32_t)) < 0)
        return SW_ENOMEM;
    if (dir == DIR_NORTH) {
        ri = take_slot(&t->free_routes, (void **)&t->routes, &t->nroutes, &t->routes_cap,
                       sizeof(det_route_t));
        if (ri < 0)
            return ri;
        t->routes[ri] = (det_route_t){ 0 };
    }
    int64_t ai = take_slot(&t->free_aggs, (void **)&t->aggs, &t->naggs, &t->aggs_cap,
                           sizeof(agg_t));
    if (ai < 0) {
        if (ri >= 0)
            free_push(&t->free_routes, (uint32_t)ri); /* room made above */
        return ai;
    }
    u->agg[dir] = (uint32_t)ai;
    t->aggs[ai] = (agg_t){ .user = ui, .dir = (uint8_t)dir, .route = (uint32_t)(ri + 1) };
    silence_init(&t->aggs[ai].sil);
    t->live_aggs++;
    return ai;
}

int64_t st_find_user(const series_table_t *t, const char *name, size_t len)
{
    uint32_t hash = (uint32_t)sw_hash(name, len, 0x5354524dULL);
    size_t j = hix_home(&t->users_ix, hash);
    for (ptrdiff_t p; (p = hix_next(&t->users_ix, hash, &j)) >= 0;) {
        const user_t *u = &t->users[p];
        if (u->len == len && sw_memeq(u->name, name, len))
            return p;
    }
    return -1;
}

int st_has_user(const series_table_t *t, const char *name, size_t len)
{
    return st_find_user(t, name, len) >= 0;
}

uint32_t st_hash(const char *user, size_t ulen, int dir, const char *cls, size_t clen)
{
    uint64_t uh = sw_hash(user, ulen, 0x5354524dULL);
    return (uint32_t)sw_mix64(uh ^ sw_hash(cls, clen, (uint64_t)dir + 1));
}

uint32_t st_prefetch(const series_table_t *t, uint32_t hash, int stage, uint32_t found)
{
    if (!t->series_ix.cap)
        return 0;
    if (stage == 0) {
        __builtin_prefetch(&t->series_ix.slots[hix_home(&t->series_ix, hash)]);
        return 0;
    }
    if (stage == 1) { /* the slot is in by now: the entry it names, all of it */
        hix_slot_t slot = t->series_ix.slots[hix_home(&t->series_ix, hash)];
        if (!slot.pos1 || slot.hash != hash || slot.pos1 > t->nseries)
            return 0;
        const char *se = (const char *)&t->series[slot.pos1 - 1];
        for (size_t off = 0; off < sizeof(series_t); off += 64)
            __builtin_prefetch(se + off, 1);
        return slot.pos1;
    }
    /* a slot removed since stage 1 stays in the array: still safe to read */
    if (!found || found > t->nseries)
        return found;
    const series_t *se = &t->series[found - 1];
    const user_t *u = &t->users[se->user];
    if (stage == 2) {
        __builtin_prefetch(se->cls);
        __builtin_prefetch(u);
        __builtin_prefetch(&t->aggs[se->agg], 1);
    } else {
        __builtin_prefetch(u->name);
        const agg_t *g = &t->aggs[se->agg];
        if (g->route)
            __builtin_prefetch(&t->routes[g->route - 1], 1);
    }
    return found;
}

int64_t st_lookup(const series_table_t *t, const char *user, size_t ulen, int dir,
                  const char *cls, size_t clen, uint32_t *hash_out)
{
    uint32_t hash = st_hash(user, ulen, dir, cls, clen);
    if (hash_out)
        *hash_out = hash;
    return st_lookup_hashed(t, hash, user, ulen, dir, cls, clen);
}

int64_t st_lookup_hashed(const series_table_t *t, uint32_t hash, const char *user, size_t ulen,
                         int dir, const char *cls, size_t clen)
{
    size_t j = hix_home(&t->series_ix, hash);
    for (ptrdiff_t p; (p = hix_next(&t->series_ix, hash, &j)) >= 0;) {
        const series_t *se = &t->series[p];
        const user_t *u = &t->users[se->user];
        if (se->dir == dir && se->cls_len == clen && u->len == ulen &&
            sw_memeq(se->cls, cls, clen) && sw_memeq(u->name, user, ulen))
            return p;
    }
    return -1;
}

int64_t st_intern(series_table_t *t, const char *user, size_t ulen, int dir, const char *cls,
                  size_t clen, const detect_params_t *(*params_for)(void *, const char *, size_t),
                  void *ctx)
{
    return st_intern_hashed(t, st_hash(user, ulen, dir, cls, clen), user, ulen, dir, cls, clen,
                            params_for, ctx);
}

int64_t st_intern_hashed(series_table_t *t, uint32_t hash, const char *user, size_t ulen,
                         int dir, const char *cls, size_t clen,
                         const detect_params_t *(*params_for)(void *, const char *, size_t),
                         void *ctx)
{
    int64_t found = st_lookup_hashed(t, hash, user, ulen, dir, cls, clen);
    if (found >= 0)
        return found;
    if (clen > UINT16_MAX || ulen > UINT32_MAX / 2 || dir < 0 || dir > 1)
        return SW_EINVAL;
    if (hix_reserve(&t->series_ix, t->live_series + 1) < 0)
        return SW_ENOMEM;
    int64_t ui = user_intern(t, user, ulen, (uint32_t)sw_hash(user, ulen, 0x5354524dULL),
                             params_for, ctx);
    if (ui < 0)
        return ui;
    int64_t ai = agg_of(t, (uint32_t)ui, dir);
    if (ai < 0)
        return ai;
    /* room to give the class back should the series fail */
    if (grow((void **)&t->free_classes.v, &t->free_classes.cap, t->free_classes.n,
             sizeof(uint32_t)) < 0)
        return SW_ENOMEM;
    const char *ccopy = class_take(t, cls, clen);
    if (!ccopy)
        return SW_ENOMEM;
    int64_t si = take_slot(&t->free_series, (void **)&t->series, &t->nseries, &t->series_cap,
                           sizeof(series_t));
    if (si < 0) {
        class_drop(t, ccopy, clen);
        return si;
    }
    t->series[si] = (series_t){
        .user = (uint32_t)ui,
        .agg = (uint32_t)ai,
        .cls = ccopy,
        .cls_len = (uint16_t)clen,
        .dir = (uint8_t)dir,
        .live = 1,
        .hash = hash,
    };
    base_init(&t->series[si].base);
    storm_init(&t->series[si].storm_det);
    t->series[si].damp_since = INT64_MIN;
    hix_put(&t->series_ix, hash, (uint32_t)si);
    t->users[ui].nseries++;
    t->live_series++;
    return si;
}

int64_t st_user_agg(series_table_t *t, const char *user, size_t ulen, int dir,
                    const detect_params_t *(*params_for)(void *, const char *, size_t),
                    void *ctx)
{
    if (ulen > UINT32_MAX / 2 || dir < 0 || dir > 1)
        return SW_EINVAL;
    int64_t ui = user_intern(t, user, ulen, (uint32_t)sw_hash(user, ulen, 0x5354524dULL),
                             params_for, ctx);
    if (ui < 0)
        return ui;
    return agg_of(t, (uint32_t)ui, dir);
}

int st_remove(series_table_t *t, uint32_t si)
{
    series_t *s = &t->series[si];
    if (!s->live)
        return SW_EINVAL;
    /* room on the free lists first, so that a failure changes nothing */
    if (grow((void **)&t->free_series.v, &t->free_series.cap, t->free_series.n,
             sizeof(uint32_t)) < 0 ||
        grow((void **)&t->free_aggs.v, &t->free_aggs.cap, t->free_aggs.n + 1,
             sizeof(uint32_t)) < 0 ||
        grow((void **)&t->free_users.v, &t->free_users.cap, t->free_users.n, sizeof(uint32_t)) < 0 ||
        grow((void **)&t->free_routes.v, &t->free_routes.cap, t->free_routes.n,
             sizeof(uint32_t)) < 0 ||
        grow((void **)&t->free_classes.v, &t->free_classes.cap, t->free_classes.n,
             sizeof(uint32_t)) < 0)
        return SW_ENOMEM;
    uint32_t ui = s->user;
    hix_del(&t->series_ix, s->hash, si);
    class_drop(t, s->cls, s->cls_len);
    *s = (series_t){ .cls = NULL, .live = 0 };
    free_push(&t->free_series, si);
    t->live_series--;
    user_t *u = &t->users[ui];
    if (--u->nseries > 0)
        return SW_OK;
    for (int d = 0; d < 2; d++) {
        if (u->agg[d] == ST_NO_AGG)
            continue;
        if (t->aggs[u->agg[d]].route)
            free_push(&t->free_routes, t->aggs[u->agg[d]].route - 1);
        t->aggs[u->agg[d]] = (agg_t){ .user = ST_NO_USER };
        free_push(&t->free_aggs, u->agg[d]);
        t->live_aggs--;
    }
    hix_del(&t->users_ix, u->hash, ui);
    free((char *)u->name);
    *u = (user_t){ .name = NULL, .agg = { ST_NO_AGG, ST_NO_AGG } };
    free_push(&t->free_users, ui);
    t->live_users--;
    return SW_OK;
}

series_t *st_series(series_table_t *t, uint32_t i)
{
    return &t->series[i];
}

agg_t *st_agg(series_table_t *t, uint32_t i)
{
    return &t->aggs[i];
}

det_route_t *st_route(series_table_t *t, const agg_t *g)
{
    return g->route ? &t->routes[g->route - 1] : NULL;
}

user_t *st_user(series_table_t *t, uint32_t i)
{
    return &t->users[i];
}

size_t st_nseries(const series_table_t *t)
{
    return t->live_series;
}

size_t st_series_extent(const series_table_t *t)
{
    return t->nseries;
}

size_t st_user_extent(const series_table_t *t)
{
    return t->nusers;
}

size_t st_nusers(const series_table_t *t)
{
    return t->live_users;
}

size_t st_naggs(const series_table_t *t)
{
    return t->live_aggs;
}

void st_rebind(series_table_t *t, const detect_params_t *(*params_for)(void *, const char *, size_t),
               void *ctx)
{
    for (size_t i = 0; i < t->nusers; i++)
        if (t->users[i].name)
            t->users[i].params = params_for(ctx, t->users[i].name, t->users[i].len);
}
