/*
 * alerts.c - the alert stage (alerts.h).
 *
 * Size: about 1450 lines, kept whole on purpose: the alert stage is one
 * owner's state (held events, actives, incidents, remote actives) and its
 * order of release; correlation, blast radius and incidents are modules
 * of their own (correlate.c, blast.c, incident.c).
 */
#include "alerts.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blast.h"
#include "checks.h"
#include "forecast.h"
#include "hindex.h"
#include "correlate.h"
#include "err.h"
#include "hash.h"
#include "incident.h"
#include "vec.h"

/* The shard number of the alerts the stage itself raises (widespread),
 * and of the alerts of other instances it holds (alerts_remote). */
#define WS_SHARD UINT32_MAX
#define REMOTE_SHARD (UINT32_MAX - 1)
#define FC_SHARD (UINT32_MAX - 2)   /* forecast alerts: the stage's own */

/* An event waiting to be released, with its shard. */
typedef struct {
    event_t ev;
    unsigned shard;
} held_t;

/*
 * A User's bucket summary waiting to be released. Summaries are the bulk
 * of what is held (one a User and direction each bucket, for the incident
 * settle: a million Users hold a million or two), so they wait in a queue
 * of their own, 40 bytes each, their User's name in a byte FIFO beside
 * them in the same order; the rest waits as whole events. The numbers
 * are floats (7 significant digits): they are shown, compared, and summed
 * over a change's window by the checks, never differenced.
 */
typedef struct {
    int64_t at, dt;
    float value, baseline, queued, delivered, backlog;
    uint8_t dir, alerting, ulen;
} sum_t;
_Static_assert(sizeof(sum_t) == 40, "a summary held is 40 bytes");

/* The events of one shard not yet released, oldest first (they arrive in
 * event-time order): growable rings, summaries apart. */
typedef struct {
    held_t *v;
    size_t head, n, cap;  /* cap is a power of two */
    sum_t *sv;            /* the summaries ... */
    size_t shead, sn, scap; /* ... a ring like v */
    char *names;          /* their Users' names, ulen bytes each, in their order */
    size_t nhead, nlen, ncap; /* a byte ring; ncap is a power of two */
    int64_t progress;     /* every event below this has arrived */
} queue_t;

/* An alert that has fired and not yet resolved. */
typedef struct active {
    alert_t a;            /* as emitted on firing; strings point below */
    char user[LP_MAX_ID + 1], cls[LP_MAX_ID + 1];
    char *change_id;      /* the change named on firing (its own copy: the
                             register may be replaced while it fires) */
    blast_list_t imp;     /* storms: the other Users impacted so far */
    int64_t since;        /* storms: impact counts from samples after this */
    int64_t fired;        /* event time it was handled at (the firing order's) */
    unsigned shard;
    uint32_t id;
    int tracked;          /* storms: its blast radius is worked out (storms[]) */
    struct active *prev, *next; /* the firing order */
} active_t;

/* A User's northbound backlog as the alert stage knows it. */
typedef struct {
    char *name;           /* NULL: a free slot (the User was evicted) */
    uint64_t hash;
    int evicted;          /* evicted while a firing storm listed it: goes when that ends */
    int delivered_known;  /* its feed reports northbound deliveries */
    double rate[2];       /* its usual msgs/s each way, smoothed: its share of the DSP's */
    blast_track_t bt;
    /* each way, its last bucket closed (alerts_each_user): msgs/s counted
     * and what its learnt baselines expected (floats: shown, never summed;
     * 40 bytes a User with padding); `seen` a DIR_BIT() each */
    float last_rate[2], last_base[2];
    int64_t last_at[2];
    uint8_t seen;
} buser_t;

struct alerts {
    alerts_opts_t o;
    const changes_t *reg;
    alerts_stats_t stats;
    queue_t *q;           /* per shard */
    held_t *group;        /* events of one event time, being ordered */
    const held_t **order; /* the group sorted (pointers into group) */
    size_t ngroup, group_cap;
    size_t gnext;         /* the group's next event to handle */
    size_t nheld;
    /* the alerts firing: a list in firing order, and an open-addressing
     * index by (shard, id), so a transition costs O(1) however many fire */
    active_t *first, *last;
    pthread_mutex_t lock; /* guards aix for alerts_incident_of (other threads
                             read; this one changes it under the lock) */
    active_t **aix;
    size_t nactive, aix_cap;
    size_t nstorms;       /* storms firing */
    active_t *storms[ALERTS_BLAST_MAX_STORMS]; /* those whose blast radius is worked out */
    size_t ntracked;
    buser_t *users;
    size_t nusers, users_cap; /* nusers: the extent, free slots included */
    uint32_t *free_users; /* slots of evicted Users, reused first */
    size_t nfree, free_cap;
    hindex_t uix;         /* users[] by name */
    int64_t released;     /* every event below this has been handled */
    int64_t stall_at;     /* the event time of the first feed stall held (INT64_MAX: none) */
    incidents_t *inc;     /* the incidents open (incident.h) */
    active_t **wsv;       /* the widespread alerts firing */
    size_t nws, ws_cap;
    uint32_t ws_next;     /* the last id given to a widespread alert (WS_SHARD's) */
    active_t **remote;    /* other instances' alerts firing, oldest first (REMOTE_SHARD) */
    size_t nremote, remote_cap;
    checks_t *checks;     /* change checks; NULL: none asked for (opts.check) */
    forecasts_t *fc;      /* Users' days against their forecasts */
    double total_rate;    /* the sum of users[].rate[] */
    int64_t last_at;      /* the last event time released */
};

alerts_t *alerts_create(const alerts_opts_t *o, const changes_t *reg)
{
    alerts_t *as = calloc(1, sizeof(*as));
    if (!as)
        return NULL;
    as->o = *o;
    as->reg = reg;
    as->q = calloc(o->nshards ? o->nshards : 1, sizeof(queue_t));
    if (!as->q) {
        free(as);
        return NULL;
    }
    for (unsigned i = 0; i < o->nshards; i++)
        as->q[i].progress = INT64_MIN;
    as->released = INT64_MIN;
    as->last_at = INT64_MIN;
    as->stall_at = INT64_MAX;
    pthread_mutex_init(&as->lock, NULL);
    if (!(as->inc = inc_create(o->corr.incident_grace, o->incident_tag)) ||
        !(as->fc = forecasts_create()) ||
        (o->check && !(as->checks = checks_create(o->corr.late)))) {
        inc_destroy(as->inc);
        forecasts_destroy(as->fc);
        free(as->q);
        free(as);
        return NULL;
    }
    return as;
}

void alerts_destroy(alerts_t *as)
{
    if (!as)
        return;
    for (active_t *ac = as->first, *next; ac; ac = next) {
        next = ac->next;
        blast_free(&ac->imp);
        free(ac->change_id);
        free(ac);
    }
    for (size_t i = 0; i < as->nusers; i++)
        free(as->users[i].name);
    free(as->aix);
    free(as->users);
    free(as->free_users);
    hix_free(&as->uix);
    for (unsigned i = 0; i < as->o.nshards; i++) {
        free(as->q[i].v);
        free(as->q[i].sv);
        free(as->q[i].names);
    }
    free(as->q);
    free(as->group);
    free(as->order);
    for (size_t i = 0; i < as->nremote; i++) {
        blast_free(&as->remote[i]->imp);
        free(as->remote[i]);
    }
    free(as->remote);
    inc_destroy(as->inc);
    checks_destroy(as->checks);
    forecasts_destroy(as->fc);
    free(as->wsv);
    pthread_mutex_destroy(&as->lock);
    free(as);
}

void alerts_set_changes(alerts_t *as, const changes_t *reg)
{
    as->reg = reg;
    if (as->checks)
        checks_register_changed(as->checks);
    forecasts_register_changed(as->fc);
}

void alerts_rebind(alerts_t *as, const detect_params_t *(*detect_for)(void *, const char *, size_t),
                   void *ctx)
{
    as->o.detect_for = detect_for;
    as->o.detect_ctx = ctx;
}

const alerts_stats_t *alerts_stats(const alerts_t *as)
{
    return &as->stats;
}

void alerts_each_firing(const alerts_t *as, void (*fn)(void *, const alert_t *), void *ctx)
{
    for (const active_t *ac = as->first; ac; ac = ac->next) {
        /* the impacted list may have grown (and moved), and the register
         * may have been replaced since the alert fired */
        alert_t a = ac->a;
        a.impacted = ac->imp.names;
        a.n_impacted = ac->imp.n;
        a.change = ac->change_id ? changes_find(as->reg, ac->change_id) : NULL;
        fn(ctx, &a);
    }
}

/* ---- the order of events ------------------------------------------------ */

/* The release order of two events of one event time: a key that does not
 * depend on the shard a User lives in. */
static int ev_cmp(const event_t *a, const event_t *b)
{
    if (a->at != b->at)
        return a->at < b->at ? -1 : 1;
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    int c = strcmp(a->user, b->user);
    if (c)
        return c;
    if (a->dir != b->dir)
        return a->dir < b->dir ? -1 : 1;
    c = strcmp(a->cls, b->cls);
    if (c)
        return c;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    return (a->src > b->src) - (a->src < b->src);
}

/* qsort's order of two held events: the full key, then their place in
 * the group (the order their shard sent them). */
static int held_cmp(const void *pa, const void *pb)
{
    const held_t *a = *(const held_t *const *)pa, *b = *(const held_t *const *)pb;
    int c = ev_cmp(&a->ev, &b->ev);
    return c ? c : (a > b) - (a < b);
}
/* Doubles the group and its order: 0, or SW_ENOMEM with both unchanged. */
static int group_grow(alerts_t *as)
{
    size_t cap = as->group_cap ? as->group_cap * 2 : 16;
    held_t *v = realloc(as->group, cap * sizeof(*v));
    if (!v)
        return SW_ENOMEM;
    as->group = v;
    const held_t **o = realloc(as->order, cap * sizeof(*o));
    if (!o)
        return SW_ENOMEM; /* group grew, order did not: cap stays, retried next time */
    as->order = o;
    as->group_cap = cap;
    return SW_OK;
}

static int q_push(queue_t *q, const event_t *ev, unsigned shard)
{
    if (q->n == q->cap && VEC_RING_GROW(q->v, q->cap, q->head, q->n, 256, 0) < 0)
        return SW_ENOMEM;
    q->v[(q->head + q->n) & (q->cap - 1)] = (held_t){ *ev, shard };
    q->n++;
    return SW_OK;
}

/* Copies n bytes into (in) or out of the names' byte ring from offset at
 * on, wrapping at its end: two copies at most, not a byte at a time. */
static void names_in(queue_t *q, size_t at, const char *src, size_t n)
{
    at &= q->ncap - 1;
    size_t first = q->ncap - at < n ? q->ncap - at : n;
    memcpy(q->names + at, src, first);
    memcpy(q->names, src + first, n - first);
}

static void names_out(const queue_t *q, size_t at, char *dst, size_t n)
{
    at &= q->ncap - 1;
    size_t first = q->ncap - at < n ? q->ncap - at : n;
    memcpy(dst, q->names + at, first);
    memcpy(dst + first, q->names, n - first);
}

static int sq_push(queue_t *q, const event_t *ev)
{
    size_t ulen = strnlen(ev->user, sizeof(ev->user) - 1);
    if (q->sn == q->scap && VEC_RING_GROW(q->sv, q->scap, q->shead, q->sn, 256, 0) < 0)
        return SW_ENOMEM;
    while (q->ncap - q->nlen < ulen)
        if (VEC_RING_GROW(q->names, q->ncap, q->nhead, q->nlen, 4096, 0) < 0)
            return SW_ENOMEM;
    q->sv[(q->shead + q->sn) & (q->scap - 1)] = (sum_t){
        .at = ev->at, .dt = ev->dt, .value = (float)ev->value,
        .baseline = (float)ev->baseline, .queued = (float)ev->queued,
        .delivered = (float)ev->delivered, .backlog = (float)ev->backlog,
        .dir = ev->dir, .alerting = ev->alerting, .ulen = (uint8_t)ulen };
    q->sn++;
    names_in(q, q->nhead + q->nlen, ev->user, ulen);
    q->nlen += ulen;
    return SW_OK;
}

/* The event time of the oldest summary held, INT64_MAX when none. */
static int64_t sq_front_at(const queue_t *q)
{
    return q->sn ? q->sv[q->shead].at : INT64_MAX;
}

/* Takes the oldest summary held (there is one) as the event it came as. */
static void sq_pop(queue_t *q, event_t *ev)
{
    const sum_t *m = &q->sv[q->shead];
    *ev = (event_t){ .type = EV_SUMMARY, .at = m->at, .dt = m->dt, .value = m->value,
                     .baseline = m->baseline, .queued = m->queued,
                     .delivered = m->delivered, .backlog = m->backlog, .dir = m->dir,
                     .alerting = m->alerting, .cls = "all" };
    names_out(q, q->nhead, ev->user, m->ulen);
    q->nhead = (q->nhead + m->ulen) & (q->ncap - 1);
    q->nlen -= m->ulen;
    q->shead = (q->shead + 1) & (q->scap - 1);
    q->sn--;
}

static const held_t *q_front(const queue_t *q)
{
    return q->n ? &q->v[q->head] : NULL;
}

static void q_drop(queue_t *q)
{
    q->head = (q->head + 1) & (q->cap - 1);
    q->n--;
}

/* ---- the alerts firing ---------------------------------------------------- */

static size_t aix_home(const alerts_t *as, unsigned shard, uint32_t id)
{
    return (size_t)sw_mix64(((uint64_t)shard << 32) | id) & (as->aix_cap - 1);
}

/* The firing alert `id` of shard `shard`, or NULL. */
static active_t *active_find(const alerts_t *as, unsigned shard, uint32_t id)
{
    if (!as->aix_cap)
        return NULL;
    for (size_t j = aix_home(as, shard, id);; j = (j + 1) & (as->aix_cap - 1)) {
        active_t *ac = as->aix[j];
        if (!ac || (ac->shard == shard && ac->id == id))
            return ac;
    }
}

static void aix_put(alerts_t *as, active_t *ac)
{
    size_t j = aix_home(as, ac->shard, ac->id);
    while (as->aix[j])
        j = (j + 1) & (as->aix_cap - 1);
    as->aix[j] = ac;
}

/* Room in the index for one more alert (load at most 1/2): 0, or SW_ENOMEM
 * with nothing changed. */
static int aix_reserve(alerts_t *as)
{
    if ((as->nactive + 1) * 2 <= as->aix_cap)
        return SW_OK;
    size_t cap = as->aix_cap ? as->aix_cap * 2 : 64;
    active_t **ix = calloc(cap, sizeof(*ix));
    if (!ix)
        return SW_ENOMEM;
    pthread_mutex_lock(&as->lock);
    free(as->aix);
    as->aix = ix;
    as->aix_cap = cap;
    for (active_t *ac = as->first; ac; ac = ac->next)
        aix_put(as, ac);
    pthread_mutex_unlock(&as->lock);
    return SW_OK;
}

/* Adds a firing alert: last in the firing order, in the index (reserved). */
static void active_link(alerts_t *as, active_t *ac)
{
    ac->prev = as->last;
    ac->next = NULL;
    if (as->last)
        as->last->next = ac;
    else
        as->first = ac;
    as->last = ac;
    pthread_mutex_lock(&as->lock);
    aix_put(as, ac);
    pthread_mutex_unlock(&as->lock);
    as->nactive++;
}

/* Takes a firing alert out of the order and of the index (backward-shift
 * deletion: no tombstones). */
static void active_unlink(alerts_t *as, active_t *ac)
{
    if (ac->prev)
        ac->prev->next = ac->next;
    else
        as->first = ac->next;
    if (ac->next)
        ac->next->prev = ac->prev;
    else
        as->last = ac->prev;
    pthread_mutex_lock(&as->lock);
    size_t mask = as->aix_cap - 1, j = aix_home(as, ac->shard, ac->id);
    while (as->aix[j] != ac)
        j = (j + 1) & mask;
    for (size_t k = (j + 1) & mask; as->aix[k]; k = (k + 1) & mask) {
        size_t home = aix_home(as, as->aix[k]->shard, as->aix[k]->id);
        if ((k > j && (home <= j || home > k)) || (k < j && home <= j && home > k)) {
            as->aix[j] = as->aix[k];
            j = k;
        }
    }
    as->aix[j] = NULL;
    pthread_mutex_unlock(&as->lock);
    as->nactive--;
}

int alerts_incident_of(alerts_t *as, unsigned shard, uint32_t id, uint64_t *incident, int *role,
                       int *severity)
{
    pthread_mutex_lock(&as->lock);
    const active_t *ac = active_find(as, shard, id);
    if (ac) {
        *incident = ac->a.incident;
        *role = ac->a.role;
        *severity = ac->a.severity;
    }
    pthread_mutex_unlock(&as->lock);
    return ac != NULL;
}

/* ---- Users for the blast radius ----------------------------------------- */

/* The User named `name` (hash h), or -1. */
static ptrdiff_t buser_find(const alerts_t *as, const char *name, uint64_t h)
{
    size_t j = hix_home(&as->uix, (uint32_t)h);
    for (ptrdiff_t p; (p = hix_next(&as->uix, (uint32_t)h, &j)) >= 0;)
        if (strcmp(as->users[p].name, name) == 0)
            return p;
    return -1;
}

/* The User named `name`, added when new; NULL when out of memory. */
static buser_t *buser(alerts_t *as, const char *name)
{
    uint64_t h = sw_hash(name, strlen(name), 0x424c53ULL);
    ptrdiff_t found = buser_find(as, name, h);
    if (found >= 0) {
        as->users[found].evicted = 0; /* back before it was forgotten */
        return &as->users[found];
    }
    if (hix_reserve(&as->uix, as->nusers - as->nfree + 1) < 0 ||
        (!as->nfree && VEC_RESERVE(as->users, as->users_cap, as->nusers + 1, 64) < 0))
        return NULL;
    char *copy = strdup(name);
    if (!copy)
        return NULL;
    size_t ui = as->nfree ? as->free_users[--as->nfree] : as->nusers++;
    buser_t *u = &as->users[ui];
    *u = (buser_t){ .name = copy, .hash = h };
    hix_put(&as->uix, (uint32_t)h, (uint32_t)ui);
    return u;
}

/* Whether a firing storm or widespread alert lists User ui as impacted
 * (its name is in use). */
static int pinned(const alerts_t *as, size_t ui)
{
    for (size_t i = 0; i < as->ntracked; i++)
        if (blast_has(&as->storms[i]->imp, as->users[ui].name))
            return 1;
    for (size_t i = 0; i < as->nws; i++)
        if (blast_has(&as->wsv[i]->imp, as->users[ui].name))
            return 1;
    return 0;
}

/* Drops User ui: out of the index, its slot freed. */
static void forget(alerts_t *as, size_t ui)
{
    if (VEC_RESERVE(as->free_users, as->free_cap, as->nfree + 1, 64) < 0) {
        as->stats.nomem++;
        return;
    }
    hix_del(&as->uix, (uint32_t)as->users[ui].hash, (uint32_t)ui);
    free(as->users[ui].name);
    as->users[ui] = (buser_t){ .name = NULL };
    as->free_users[as->nfree++] = (uint32_t)ui;
}

/*
 * A shard evicted User `name` (series limit): its backlog history goes
 * too; when a firing storm lists it as impacted it goes when the last such
 * storm ends (so the names an alert prints stay valid). Memory stays
 * bounded by the limit.
 */
static void on_evict(alerts_t *as, const char *name)
{
    ptrdiff_t ui = buser_find(as, name, sw_hash(name, strlen(name), 0x424c53ULL));
    if (ui < 0)
        return;
    if (pinned(as, (size_t)ui))
        as->users[ui].evicted = 1;
    else
        forget(as, (size_t)ui);
}

static int user_impacted(alerts_t *as, const buser_t *u, int64_t since)
{
    const detect_params_t *p = as->o.detect_for(as->o.detect_ctx, u->name, strlen(u->name));
    return blast_impacted(&u->bt, since, p->base_warmup, p->blast_z, p->blast_min_increase);
}

static void add_impacted(alerts_t *as, active_t *ac, size_t ui)
{
    if (blast_add(&ac->imp, (uint32_t)ui, as->users[ui].name) < 0)
        as->stats.nomem++;
}

/* A User's northbound bucket: learn its usual backlog, and list it under
 * every storm of another User it shows impact from. */
/*
 * Whether a storm stands at event time `at`: a User's backlog then is no
 * usual level to learn. Another instance's storm can arrive ahead of this
 * one's clock (its line counts from when it comes, and this instance may
 * still be reading an earlier hour): it stands from its own start, so the
 * backlogs before it are still learnt. Untracked storms (past
 * ALERTS_BLAST_MAX_STORMS at once) have no start kept: they stand.
 */
static int storm_at(const alerts_t *as, int64_t at)
{
    if (as->nstorms > as->ntracked)
        return 1;
    for (size_t i = 0; i < as->ntracked; i++)
        if (as->storms[i]->since <= at)
            return 1;
    return 0;
}

/* A User's usual rate is smoothed over about this many of its buckets:
 * its share of the DSP's traffic moves with its day, not with a bucket. */
#define RATE_BUCKETS 64.0

/* Smooths User u's usual rate in direction dir with a bucket's baseline. */
static void track_rate(alerts_t *as, buser_t *u, const event_t *ev)
{
    if (ev->dt <= 0 || !(ev->baseline >= 0) || (ev->dir != DIR_SOUTH && ev->dir != DIR_NORTH))
        return;
    double r = ev->baseline / ((double)ev->dt / 1e9), *x = &u->rate[ev->dir];
    double next = *x + (r - *x) / RATE_BUCKETS;
    as->total_rate += next - *x;
    *x = next;
}

/* Keeps a bucket's level as User u's latest in its direction. */
static void keep_last(buser_t *u, const event_t *ev)
{
    if (ev->dt <= 0 || (ev->dir != DIR_SOUTH && ev->dir != DIR_NORTH))
        return;
    double secs = (double)ev->dt / 1e9;
    u->last_rate[ev->dir] = (float)(ev->queued / secs);
    u->last_base[ev->dir] = ev->baseline >= 0 ? (float)(ev->baseline / secs) : 0;
    u->last_at[ev->dir] = ev->at;
    u->seen |= (uint8_t)DIR_BIT(ev->dir);
}

/* A forecast alert's transition, made while the summaries of event time
 * ev->at are handled: it joins that time's group, so it is ordered with
 * the shards' transitions by the same key whatever the shard count. */
static void forecast_transition(alerts_t *as, const event_t *ev, const forecast_event_t *f)
{
    if (as->ngroup == as->group_cap && group_grow(as) < 0) {
        as->stats.nomem++;
        return;
    }
    held_t *h = &as->group[as->ngroup++];
    h->shard = FC_SHARD;
    h->ev = (event_t){ .type = f->fire ? EV_FIRE : EV_RESOLVE, .at = ev->at, .id = f->id,
                       .kind = ALERT_FORECAST, .dir = DIR_SOUTH, .starts_at = f->at,
                       .detected_at = f->at, .ends_at = f->ends_at,
                       .value = f->projected / 86400.0, .baseline = f->forecast / 86400.0,
                       .backlog = -1, .learning = (uint8_t)f->learning };
    memcpy(h->ev.user, ev->user, sizeof(h->ev.user));
    snprintf(h->ev.cls, sizeof(h->ev.cls), "all");
}

static void on_summary(alerts_t *as, const event_t *ev)
{
    buser_t *u = buser(as, ev->user);
    if (!u) {
        as->stats.nomem++;
        return;
    }
    track_rate(as, u, ev);
    keep_last(u, ev);
    if (ev->dir == DIR_NORTH && ev->delivered > 0)
        u->delivered_known = 1;
    if (as->checks)
        checks_bucket(as->checks, ev->user, ev->dir, ev->at, ev->value, ev->baseline,
                      ev->queued, ev->delivered, u->delivered_known);
    if (ev->dir == DIR_SOUTH) {
        forecast_event_t f[2];
        size_t n = forecasts_bucket(as->fc, as->reg, ev->user, ev->at, ev->dt, ev->queued, f);
        for (size_t i = 0; i < n; i++)
            forecast_transition(as, ev, &f[i]);
        return;
    }
    const detect_params_t *p = as->o.detect_for(as->o.detect_ctx, ev->user, strlen(ev->user));
    blast_observe(&u->bt, ev->at, ev->backlog, ev->dt, p->base_tau,
                  !storm_at(as, ev->at) && !ev->alerting);
    if (!as->nstorms)
        return;
    size_t ui = (size_t)(u - as->users);
    for (size_t i = 0; i < as->ntracked; i++) {
        active_t *ac = as->storms[i];
        if (strcmp(ac->user, u->name) != 0 && user_impacted(as, u, ac->since))
            add_impacted(as, ac, ui);
    }
}

void alerts_each_share(const alerts_t *as, double min_share,
                       void (*fn)(void *ctx, const char *user, double share), void *ctx)
{
    if (!(as->total_rate > 0))
        return;
    for (size_t i = 0; i < as->nusers; i++) {
        const buser_t *u = &as->users[i];
        double share = (u->rate[0] + u->rate[1]) / as->total_rate;
        if (u->name && share >= min_share)
            fn(ctx, u->name, share);
    }
}

size_t alerts_user_count(const alerts_t *as)
{
    return as->nusers - as->nfree;
}

void alerts_each_user(const alerts_t *as, void (*fn)(void *ctx, const alerts_user_t *u),
                      void *ctx)
{
    for (size_t i = 0; i < as->nusers; i++) {
        const buser_t *b = &as->users[i];
        if (!b->name || b->evicted)
            continue;
        alerts_user_t u = { .user = b->name };
        for (int d = DIR_SOUTH; d <= DIR_NORTH; d++) {
            u.seen[d] = (b->seen & DIR_BIT(d)) != 0;
            u.rate[d] = b->last_rate[d];
            u.baseline[d] = b->last_base[d];
            u.at[d] = b->last_at[d];
        }
        fn(ctx, &u);
    }
}

/* ---- change checks -------------------------------------------------------- */

static void emit_check(void *ctx, const change_check_t *c)
{
    alerts_t *as = ctx;
    as->o.check(as->o.emit_ctx, c);
}

static int user_known(void *ctx, const char *user)
{
    alerts_t *as = ctx;
    return buser_find(as, user, sw_hash(user, strlen(user), 0x424c53ULL)) >= 0;
}

/* ---- incidents ------------------------------------------------------------- */

/* The tracked storm of another User that lists `user` as impacted, or NULL. */
static active_t *storm_hurting(const alerts_t *as, const char *user)
{
    for (size_t i = 0; i < as->ntracked; i++)
        if (strcmp(as->storms[i]->user, user) != 0 && blast_has(&as->storms[i]->imp, user))
            return as->storms[i];
    return NULL;
}

/* Adds the User named `name` to l (no index: names only); 0 or SW_ENOMEM. */
static int add_name(blast_list_t *l, const char *name)
{
    return blast_add(l, 0, name) < 0 ? SW_ENOMEM : SW_OK;
}

/*
 * The Users showing `kind` in direction `dir` together with `user`, listed
 * in l by name: those whose alert of that kind fired from `from` on as the
 * primary of its own incident, and those whose alert of that kind is about
 * to fire: later in this event time's group, or held up to `to` (the
 * settle). The same set whatever the shard count. 0 or SW_ENOMEM.
 */
static int same_symptom(const alerts_t *as, alert_kind_t kind, int dir, const char *user,
                        int64_t from, int64_t to, blast_list_t *l)
{
    int rc = add_name(l, user);
    for (const active_t *ac = as->last; ac && ac->fired >= from && !rc; ac = ac->prev)
        if (ac->a.kind == kind && ac->a.dir == dir && ac->a.role == ROLE_PRIMARY)
            rc = add_name(l, ac->user);
    for (size_t i = 0; i < as->nremote && !rc; i++) { /* other instances' (Kafka) */
        const active_t *ac = as->remote[i];
        if (ac->fired >= from && ac->a.kind == kind && ac->a.dir == dir &&
            ac->a.role == ROLE_PRIMARY)
            rc = add_name(l, ac->user);
    }
    for (size_t k = as->gnext; k < as->ngroup && !rc; k++) {
        const event_t *ev = &as->order[k]->ev;
        if (ev->type == EV_FIRE && ev->kind == kind && ev->dir == dir)
            rc = add_name(l, ev->user);
    }
    for (unsigned i = 0; i < as->o.nshards && !rc; i++) {
        const queue_t *q = &as->q[i];
        for (size_t k = 0; k < q->n && !rc; k++) {
            const event_t *ev = &q->v[(q->head + k) & (q->cap - 1)].ev;
            if (ev->at > to)
                break;
            if (ev->type == EV_FIRE && ev->kind == kind && ev->dir == dir)
                rc = add_name(l, ev->user);
        }
    }
    return rc;
}

/* Lists `name` under the widespread alert of incident inc. */
static void ws_add_user(alerts_t *as, const incident_t *inc, const char *name)
{
    active_t *ws = active_find(as, WS_SHARD, inc->ws_alert);
    buser_t *u = ws ? buser(as, name) : NULL;
    if (ws && (!u || blast_add(&ws->imp, (uint32_t)(u - as->users), u->name) < 0))
        as->stats.nomem++;
}

/*
 * A widespread alert firing from `at` (detected at `detected`), the
 * primary of a new incident (number id; 0: the next) with key `key` and
 * severity sev: no line written. NULL when out of memory.
 */
static active_t *make_widespread(alerts_t *as, uint32_t id, const char *key, alert_kind_t kind,
                                 int dir, int64_t at, int64_t starts_at, int64_t detected,
                                 corr_result_t c, int sev)
{
    if (VEC_RESERVE(as->wsv, as->ws_cap, as->nws + 1, 4) < 0) {
        as->stats.nomem++;
        return NULL;
    }
    active_t *ac = calloc(1, sizeof(*ac));
    incident_t *inc = NULL;
    if (!ac || aix_reserve(as) < 0 || (c.change && !(ac->change_id = strdup(c.change->id))) ||
        !(inc = inc_open(as->inc, id, key, sev))) {
        if (ac)
            free(ac->change_id);
        free(ac);
        as->stats.nomem++;
        return NULL;
    }
    snprintf(ac->user, sizeof(ac->user), "*");
    snprintf(ac->cls, sizeof(ac->cls), "all");
    ac->shard = WS_SHARD;
    ac->id = ++as->ws_next;
    ac->fired = at;
    inc->widespread = 1;
    inc->ws_alert = ac->id;
    inc->ws_kind = (int)kind;
    ac->a = (alert_t){ .kind = ALERT_WIDESPREAD, .firing = 1, .user = ac->user, .dir = dir,
                       .cls = ac->cls, .starts_at = starts_at, .detected_at = detected, .backlog = -1,
                       .corr = c.type, .change = c.change, .score = c.score,
                       .incident = inc->id, .role = ROLE_PRIMARY, .severity = sev,
                       .symptom = (int)kind };
    active_link(as, ac);
    as->wsv[as->nws++] = ac;
    as->stats.firing_now++;
    inc_fire(inc, at);
    return ac;
}


/*
 * Opens a widespread incident (key `key`) for the Users in `names` showing
 * `kind` in direction `dir`, and writes its firing line: User `*`, those
 * Users its impacted ones, correlated with DCC-led changes only (c). NULL
 * when out of memory.
 */
static incident_t *open_widespread(alerts_t *as, const char *key, alert_kind_t kind, int dir,
                                   int64_t at, int64_t starts_at, corr_result_t c,
                                   const blast_list_t *names)
{
    /* planned work is a warning; nothing declared: the DSP's own fault */
    int sev = c.type == CORR_UNDECLARED ? SEV_CRITICAL : SEV_WARNING;
    active_t *ac = make_widespread(as, 0, key, kind, dir, at, starts_at, at, c, sev);
    if (!ac)
        return NULL;
    incident_t *inc = inc_by_id(as->inc, ac->a.incident, at);
    for (size_t i = 0; i < names->n; i++)
        ws_add_user(as, inc, names->names[i]);
    alert_t a = ac->a;
    a.impacted = ac->imp.names;
    a.n_impacted = ac->imp.n;
    as->stats.firing++;
    as->stats.widespread++;
    as->o.emit(as->o.emit_ctx, &a);
    return inc;
}

int alerts_resume_widespread(alerts_t *as, const shard_resume_t *r)
{
    const change_t *ch = r->change ? changes_find(as->reg, r->change) : NULL;
    corr_result_t c = { ch ? CORR_MAINTENANCE : CORR_UNDECLARED, ch, ch ? 1.0 : 0.0 };
    int dir = r->dir == DIR_NORTH ? DIR_NORTH : DIR_SOUTH;
    char key[LP_MAX_ID + 160];
    if (ch)
        snprintf(key, sizeof(key), "change:%s", ch->id);
    else
        snprintf(key, sizeof(key), "widespread:%s:%d", alert_kind_name(r->symptom), dir);
    if (!r->fire.incident || inc_by_id(as->inc, r->fire.incident, r->fire.detected_at))
        return SW_EEXISTS;
    active_t *ac = make_widespread(as, r->fire.incident, key, r->symptom, dir,
                                   r->fire.detected_at, r->fire.starts_at, r->fire.detected_at, c,
                                   r->fire.severity ? r->fire.severity : SEV_WARNING);
    if (!ac)
        return SW_ENOMEM;
    as->stats.adopted++;
    if (as->o.handover) {
        alert_t a = ac->a;
        as->o.handover(as->o.emit_ctx, &a, 1);
    }
    return SW_OK;
}
/* The widespread alert of incident inc ends at `at` once its members have. */
static void close_widespread(alerts_t *as, incident_t *inc, int64_t at)
{
    active_t *ws = active_find(as, WS_SHARD, inc->ws_alert);
    if (!ws || inc->firing != 1)
        return;
    alert_t a = ws->a;
    a.firing = 0;
    a.ends_at = at;
    a.impacted = ws->imp.names;
    a.n_impacted = ws->imp.n;
    a.change = ws->change_id ? changes_find(as->reg, ws->change_id) : NULL;
    if (!a.change)
        a.corr = CORR_UNDECLARED;
    as->stats.resolved++;
    as->o.emit(as->o.emit_ctx, &a);
    active_unlink(as, ws);
    size_t k = 0;
    while (as->wsv[k] != ws)
        k++;
    memmove(&as->wsv[k], &as->wsv[k + 1], (as->nws - k - 1) * sizeof(*as->wsv));
    as->nws--;
    for (size_t m = 0; m < ws->imp.n; m++) { /* Users evicted while it listed them */
        size_t ui = ws->imp.users[m];
        if (as->users[ui].name && as->users[ui].evicted && !pinned(as, ui))
            forget(as, ui);
    }
    blast_free(&ws->imp);
    free(ws->change_id);
    free(ws);
    as->stats.firing_now--;
    inc_end(inc, at);
}

/*
 * Alert a, firing at `at`, joins incident inc; its User is bound to it
 * (the User's next symptoms join it too). An alert of the incident's own
 * raises the incident's severity to its kind's (at most a warning while
 * learning: its baseline is a guess), unless the incident is widespread
 * (its severity says whether the work was planned); the alert carries the
 * incident's severity, at most a warning while learning.
 */
static void join(alerts_t *as, alert_t *a, incident_t *inc, int64_t at)
{
    /* traffic within what its change declared is expected: never pages */
    int own = a->impact == IMPACT_WITHIN ? SEV_INFO : alert_severity_level(a->kind);
    if (a->learning && own > SEV_WARNING)
        own = SEV_WARNING;
    if (!inc->widespread && inc->remote != INC_REMOTE_WIDESPREAD && own > inc->severity)
        inc->severity = own;
    a->incident = inc->id;
    a->severity = a->learning && inc->severity > SEV_WARNING ? SEV_WARNING : inc->severity;
    inc_fire(inc, at);
    if (a->kind != ALERT_FEED && inc_bind_user(as->inc, inc, a->user) < 0)
        as->stats.nomem++;
}

/* Incident inc, if something in it fired or resolved within `within`
 * before `at` (still the same trouble); NULL otherwise. */
static incident_t *recent(incident_t *inc, int64_t at, int64_t within)
{
    return inc && at - inc->touched <= within ? inc : NULL;
}

/*
 * The incident an alert firing at `at` shares a cause with, or NULL (it
 * opens its own). `key` gets the key its own incident is found by.
 *   - a feed stall: the feed's incident (a stall again within the grace);
 *     anything firing while the feed's incident is open (the stall and
 *     the recovery within the grace) is its;
 *   - a User's own symptoms, in both directions and every class: the
 *     incident the User is bound to, while something in it fired or
 *     resolved within the grace (a level settled hours ago is not the
 *     cause of a storm now);
 *   - a blocked route or silence of a User a storm hurts: the storm's
 *     (unless the User's own declared change explains it);
 *   - an alert a DCC change explains: that change's incident (opened by
 *     the first: a widespread one when it is a symptom many Users show,
 *     as below, else the first alert's own);
 *   - a blocked route or silence (not explained by its User's own change)
 *     that widespread_users Users show within widespread_window (those
 *     about to fire within the settle included):
 *     the widespread incident of that symptom, while its Users keep
 *     coming within widespread_window of each other.
 */
static incident_t *cause_of(alerts_t *as, const alert_t *a, int64_t at, char *key, size_t klen)
{
    const corr_params_t *p = &as->o.corr;
    key[0] = '\0';
    if (a->kind == ALERT_FEED) {
        snprintf(key, klen, "feed:%u", a->source);
        return inc_by_key(as->inc, key, at);
    }
    incident_t *inc = inc_by_key(as->inc, "feed:0", at);
    if (!inc)
        inc = recent(inc_of_user(as->inc, a->user, at), at, p->incident_grace);
    /* a symptom its User's own declared change explains has that cause */
    int symptom = (a->kind == ALERT_BLOCKED || a->kind == ALERT_SILENCE) &&
                  a->corr != CORR_DECLARED;
    if (!inc && symptom) {
        const active_t *st = storm_hurting(as, a->user);
        if (st)
            inc = inc_by_id(as->inc, st->a.incident, at);
    }
    if (inc)
        return inc;
    char ck[INC_KEY_MAX];
    corr_result_t c;
    if (a->corr == CORR_MAINTENANCE && a->change) {
        snprintf(ck, sizeof(ck), "change:%s", a->change->id);
        if ((inc = inc_by_key(as->inc, ck, at)) != NULL) {
            if (inc->widespread)
                ws_add_user(as, inc, a->user);
            return inc;
        }
        snprintf(key, klen, "%s", ck); /* one User so far: its own, found by the change */
        c = (corr_result_t){ a->corr, a->change, a->score };
    } else {
        if (!symptom)
            return NULL;
        snprintf(ck, sizeof(ck), "widespread:%s:%d", alert_kind_name(a->kind), a->dir);
        if ((inc = recent(inc_by_key(as->inc, ck, at), at, p->widespread_window)) != NULL) {
            ws_add_user(as, inc, a->user);
            return inc;
        }
        c = corr_best(as->reg, p, "*", (alert_kind_t)a->kind, a->dir, a->starts_at);
    }
    if (!symptom)
        return NULL;
    blast_list_t names = { 0 };
    /* what is about to fire, unless the feed stalls first (nothing comes then) */
    int64_t to = at + p->incident_settle < as->stall_at ? at + p->incident_settle : as->stall_at;
    if (same_symptom(as, (alert_kind_t)a->kind, a->dir, a->user, at - p->widespread_window, to,
                     &names) < 0)
        as->stats.nomem++;
    else if (names.n >= p->widespread_users)
        inc = open_widespread(as, ck, (alert_kind_t)a->kind, a->dir, at, a->starts_at, c,
                              &names);
    blast_free(&names);
    return inc;
}

/* Gives alert a, firing at `at`, its incident and role. */
static void assign(alerts_t *as, alert_t *a, int64_t at)
{
    char key[INC_KEY_MAX];
    incident_t *inc = cause_of(as, a, at, key, sizeof(key));
    a->role = inc ? ROLE_MEMBER : ROLE_PRIMARY;
    if (!inc && !(inc = inc_open(as->inc, 0, key, SEV_INFO))) {
        as->stats.nomem++;
        return;
    }
    join(as, a, inc, at);
}

/* An alert resumed or taken over (EV_ADOPT) goes on in its incident, with
 * the role and severity it fired with. */
static void adopt_incident(alerts_t *as, alert_t *a, const event_t *ev)
{
    if (!ev->incident) {
        assign(as, a, ev->at);
        return;
    }
    incident_t *inc = inc_by_id(as->inc, ev->incident, ev->at);
    if (!inc)
        inc = inc_open(as->inc, ev->incident, "", ev->severity);
    if (!inc) {
        as->stats.nomem++;
        return;
    }
    if (ev->severity > inc->severity)
        inc->severity = ev->severity;
    if (inc->widespread)
        ws_add_user(as, inc, a->user);
    a->role = ev->role;
    a->incident = inc->id;
    a->severity = ev->severity;
    inc_fire(inc, ev->at);
    if (a->kind != ALERT_FEED && inc_bind_user(as->inc, inc, a->user) < 0)
        as->stats.nomem++;
}

/* ---- storms and other instances' alerts ---------------------------------- */

/* Storm ac (here or at another instance) starts: many storms at once are
 * one widespread event, not each the cause of the others' trouble, so the
 * first ones are tracked: the Users showing impact since it began are
 * listed now, those showing it later as their buckets come. */
static void storm_starts(alerts_t *as, active_t *ac)
{
    as->nstorms++;
    if (as->ntracked == ALERTS_BLAST_MAX_STORMS) {
        as->stats.blast_untracked++;
        return;
    }
    ac->tracked = 1;
    as->storms[as->ntracked++] = ac;
    for (size_t i = 0; i < as->nusers; i++)
        if (as->users[i].name && strcmp(as->users[i].name, ac->user) != 0 &&
            user_impacted(as, &as->users[i], ac->since))
            add_impacted(as, ac, i);
}

/* Alert ac ends: a storm stops being tracked, and the Users evicted while
 * it listed them go now, unless another lists them. */
static void storm_ends(alerts_t *as, active_t *ac)
{
    if (ac->a.kind != ALERT_STORM)
        return;
    as->nstorms--;
    if (ac->tracked) {
        size_t i = 0;
        while (as->storms[i] != ac)
            i++;
        memmove(&as->storms[i], &as->storms[i + 1], (as->ntracked - i - 1) * sizeof(*as->storms));
        as->ntracked--;
    }
    for (size_t m = 0; m < ac->imp.n; m++) {
        size_t ui = ac->imp.users[m];
        if (as->users[ui].name && as->users[ui].evicted && !pinned(as, ui))
            forget(as, ui);
    }
    blast_free(&ac->imp);
}

/* The place in as->remote of another instance's alert, or as->nremote. */
static size_t remote_find(const alerts_t *as, alert_kind_t kind, int dir, int64_t starts_at,
                          const char *user, const char *cls)
{
    for (size_t i = as->nremote; i-- > 0;) {
        const active_t *ac = as->remote[i];
        if (ac->a.kind == kind && ac->a.dir == dir && ac->a.starts_at == starts_at &&
            !strcmp(ac->user, user) && !strcmp(ac->cls, cls))
            return i;
    }
    return as->nremote;
}

/* Forgets another instance's alert as->remote[k], ended at `at`. */
static void remote_drop(alerts_t *as, size_t k, int64_t at)
{
    active_t *ac = as->remote[k];
    memmove(&as->remote[k], &as->remote[k + 1], (as->nremote - k - 1) * sizeof(*as->remote));
    as->nremote--;
    storm_ends(as, ac);
    incident_t *inc = inc_by_id(as->inc, ac->a.incident, at);
    if (inc)
        inc_end(inc, at);
    free(ac);
}

/* The key another instance's incident is found by here, as cause_of keys
 * its own: its DCC change's, or its widespread symptom's; "" for none. */
static void remote_key(const alerts_remote_t *r, char *key, size_t klen)
{
    key[0] = '\0';
    if (r->change_id)
        snprintf(key, klen, "change:%s", r->change_id);
    else if (r->kind == ALERT_WIDESPREAD)
        snprintf(key, klen, "widespread:%s:%d", alert_kind_name(r->symptom), r->dir);
}

void alerts_remote(alerts_t *as, const alerts_remote_t *r)
{
    /* a feed stall is of that instance's partitions alone */
    if (!r->incident || r->kind == ALERT_FEED || r->kind >= ALERT_NKINDS)
        return;
    as->stats.remote++;
    size_t k = remote_find(as, r->kind, r->dir, r->starts_at, r->user, r->cls);
    if (!r->firing) {
        if (k < as->nremote)
            remote_drop(as, k, r->ends_at);
        return;
    }
    if (k < as->nremote)
        return; /* told twice */
    int64_t now = r->detected_at;
    incident_t *inc = inc_by_id(as->inc, r->incident, now);
    if (!inc) {
        char key[INC_KEY_MAX];
        remote_key(r, key, sizeof(key));
        if (!(inc = inc_open(as->inc, r->incident, key, r->severity))) {
            as->stats.nomem++;
            return;
        }
        inc->remote = INC_REMOTE;
    }
    if (r->kind == ALERT_WIDESPREAD) /* its members' lines may have come first */
        inc->remote = INC_REMOTE_WIDESPREAD;
    if (as->nremote == ALERTS_REMOTE_MAX) {
        remote_drop(as, 0, now);
        as->stats.remote_dropped++;
    }
    if (VEC_RESERVE(as->remote, as->remote_cap, as->nremote + 1, 16) < 0) {
        as->stats.nomem++;
        return;
    }
    active_t *ac = calloc(1, sizeof(*ac));
    if (!ac) {
        as->stats.nomem++;
        return;
    }
    snprintf(ac->user, sizeof(ac->user), "%s", r->user);
    snprintf(ac->cls, sizeof(ac->cls), "%s", r->cls);
    ac->shard = REMOTE_SHARD;
    ac->since = r->starts_at;
    ac->fired = now;
    ac->a = (alert_t){ .kind = r->kind, .firing = 1, .user = ac->user, .dir = r->dir,
                       .cls = ac->cls, .starts_at = r->starts_at, .detected_at = r->detected_at,
                       .backlog = -1, .incident = inc->id, .role = r->role,
                       .severity = r->severity, .symptom = (int)r->symptom };
    as->remote[as->nremote++] = ac;
    inc_fire(inc, now);
    if (r->kind != ALERT_WIDESPREAD && inc_bind_user(as->inc, inc, ac->user) < 0)
        as->stats.nomem++;
    if (r->kind == ALERT_STORM)
        storm_starts(as, ac);
}

/* ---- transitions -------------------------------------------------------- */

static void fill_alert(alert_t *a, const event_t *ev)
{
    *a = (alert_t){
        .kind = (alert_kind_t)ev->kind, .user = ev->user, .dir = ev->dir, .cls = ev->cls,
        .starts_at = ev->starts_at, .detected_at = ev->detected_at, .ends_at = ev->ends_at,
        .value = ev->value, .baseline = ev->baseline, .backlog = ev->backlog, .limit = ev->limit,
        .source = ev->src, .learning = ev->learning,
    };
}

/* An alert starts (EV_FIRE: its firing line) or goes on here after it fired
 * at another instance (EV_ADOPT: no line; opts.handover hears of it). */
static void on_fire(alerts_t *as, unsigned shard, const event_t *ev)
{
    alert_t a;
    fill_alert(&a, ev);
    a.firing = 1;
    corr_result_t c = corr_best(as->reg, &as->o.corr, a.user, a.kind, a.dir, a.starts_at);
    a.corr = c.type;
    a.change = c.change;
    a.score = c.score;
    a.impact = corr_impact(c.change, a.kind, a.dir, a.value, a.baseline);
    if (ev->type == EV_ADOPT)
        adopt_incident(as, &a, ev);
    else
        assign(as, &a, ev->at);
    if (as->checks && a.change && ev->type != EV_ADOPT)
        checks_named(as->checks, as->reg, a.change->id, a.incident,
                     a.impact == IMPACT_DEVIATED);

    active_t *ac = calloc(1, sizeof(*ac));
    if (ac && aix_reserve(as) < 0) {
        free(ac);
        ac = NULL;
    }
    if (ac) {
        memcpy(ac->user, ev->user, sizeof(ac->user));
        memcpy(ac->cls, ev->cls, sizeof(ac->cls));
        ac->shard = shard;
        ac->id = ev->id;
        ac->since = ev->since;
        ac->fired = ev->at;
        if (a.change && !(ac->change_id = strdup(a.change->id)))
            as->stats.nomem++;
        if (a.kind == ALERT_STORM)
            storm_starts(as, ac);
        a.user = ac->user;
        a.cls = ac->cls;
        a.impacted = ac->imp.names;
        a.n_impacted = ac->imp.n;
        ac->a = a;
        active_link(as, ac);
        as->stats.firing_now++;
    } else {
        as->stats.nomem++;
    }
    if (ev->type == EV_ADOPT) {
        /* it may have been told of while it fired there: it is ours now */
        size_t k = remote_find(as, a.kind, a.dir, a.starts_at, a.user, a.cls);
        if (k < as->nremote)
            remote_drop(as, k, ev->at);
        as->stats.adopted++;
        if (as->o.handover)
            as->o.handover(as->o.emit_ctx, &a, 1);
        return;
    }
    as->stats.firing++;
    as->o.emit(as->o.emit_ctx, &a);
}

/* An alert ends (EV_RESOLVE: its resolved line) or goes on at another
 * instance (EV_HANDOFF: no line; opts.handover hears of it). */
static void on_resolve(alerts_t *as, unsigned shard, const event_t *ev)
{
    active_t *ac = active_find(as, shard, ev->id);
    if (!ac)
        return;
    alert_t a = ac->a;
    a.firing = 0;
    a.ends_at = ev->ends_at;
    a.impacted = ac->imp.names;
    a.n_impacted = ac->imp.n;
    /* the change named may have been withdrawn from a newer register */
    a.change = ac->change_id ? changes_find(as->reg, ac->change_id) : NULL;
    if (!a.change)
        a.corr = CORR_UNDECLARED;
    if (ev->type == EV_HANDOFF) {
        a.firing = 1;
        as->stats.handed_off++;
        if (as->o.handover)
            as->o.handover(as->o.emit_ctx, &a, 0);
    } else {
        as->stats.resolved++;
        as->o.emit(as->o.emit_ctx, &a);
    }
    active_unlink(as, ac);
    storm_ends(as, ac);
    free(ac->change_id);
    free(ac);
    as->stats.firing_now--;
    incident_t *inc = a.incident ? inc_by_id(as->inc, a.incident, ev->at) : NULL;
    if (inc) {
        inc_end(inc, ev->at);
        if (inc->widespread)
            close_widespread(as, inc, ev->at);
    }
}

/* Whether ev is the whole feed's stall firing. */
static int is_feed_stall(const event_t *ev)
{
    return ev->type == EV_FIRE && ev->kind == ALERT_FEED && ev->src == 0;
}

/* The event time of the first feed stall held (INT64_MAX: none). */
static int64_t first_stall(const alerts_t *as)
{
    int64_t first = INT64_MAX;
    for (unsigned i = 0; i < as->o.nshards; i++) {
        const queue_t *q = &as->q[i];
        for (size_t k = 0; k < q->n; k++) {
            const event_t *ev = &q->v[(q->head + k) & (q->cap - 1)].ev;
            if (ev->at >= first)
                break;
            if (is_feed_stall(ev))
                first = ev->at;
        }
    }
    return first;
}

static void handle(alerts_t *as, const held_t *h)
{
    if (is_feed_stall(&h->ev)) /* rare: the next one, if any, is looked for */
        as->stall_at = first_stall(as);
    switch ((event_type_t)h->ev.type) {
    case EV_SUMMARY: on_summary(as, &h->ev); break;
    case EV_FIRE:
    case EV_ADOPT: on_fire(as, h->shard, &h->ev); break;
    case EV_RESOLVE:
    case EV_HANDOFF: on_resolve(as, h->shard, &h->ev); break;
    case EV_PROGRESS: break;
    case EV_EVICT: on_evict(as, h->ev.user); break;
    }
}

/*
 * Releases the held events older than `low`: merges the shards' queues by
 * event time, and orders the events of one event time by the full key,
 * so the result does not depend on which shard sent what.
 */
static void release(alerts_t *as, int64_t low)
{
    for (;;) {
        int64_t at = INT64_MAX;
        for (unsigned i = 0; i < as->o.nshards; i++) {
            const held_t *h = q_front(&as->q[i]);
            if (h && h->ev.at < at)
                at = h->ev.at;
            if (sq_front_at(&as->q[i]) < at)
                at = sq_front_at(&as->q[i]);
        }
        if (at == INT64_MAX || at >= low)
            break;
        if (as->checks)
            checks_advance(as->checks, as->reg, at, emit_check, user_known, as);
        as->last_at = at;
        /* A whole round of a DSP's feed shares one event time: tens of
         * thousands of Users in any order. Their summaries come first in
         * the order of events and are handled as they come: each touches
         * its own User only, and the impacted lists they extend are kept
         * sorted, so their order changes nothing. The rest (transitions,
         * evictions) is sorted by the full key, in O(n log n); equal keys
         * come from one shard (a User lives in one), so the group index,
         * which keeps that shard's order, breaks ties the same way whatever
         * the shard count. */
        as->ngroup = 0;
        for (unsigned i = 0; i < as->o.nshards; i++) {
            queue_t *q = &as->q[i];
            while (sq_front_at(q) == at) {
                event_t sum;
                sq_pop(q, &sum);
                as->nheld--;
                on_summary(as, &sum);
            }
            for (const held_t *h; (h = q_front(q)) && h->ev.at == at; q_drop(q)) {
                as->nheld--;
                if (as->ngroup == as->group_cap && group_grow(as) < 0) {
                    as->stats.nomem++;
                    continue;
                }
                as->group[as->ngroup++] = *h;
            }
        }
        for (size_t i = 0; i < as->ngroup; i++)
            as->order[i] = &as->group[i];
        if (as->ngroup > 1)
            qsort(as->order, as->ngroup, sizeof(*as->order), held_cmp);
        for (as->gnext = 0; as->gnext < as->ngroup;)
            handle(as, as->order[as->gnext++]);
        as->ngroup = 0;
        inc_sweep(as->inc, at);
    }
    if (low > as->released)
        as->released = low;
    as->stats.held = as->nheld;
}

void alerts_event(alerts_t *as, unsigned shard, const event_t *ev)
{
    if (shard >= as->o.nshards)
        return;
    queue_t *q = &as->q[shard];
    if (ev->type == EV_PROGRESS) {
        if (ev->at > q->progress)
            q->progress = ev->at;
        int64_t low = INT64_MAX;
        for (unsigned i = 0; i < as->o.nshards; i++)
            if (as->q[i].progress < low)
                low = as->q[i].progress;
        /*
         * What fires within the settle after an event is seen with it. A
         * feed stall ends the settle of what came before it: no more comes
         * until the feed is back (live, event time stands still meanwhile),
         * and every event up to it is here once every shard passed it.
         */
        int64_t settle = as->o.corr.incident_settle;
        int64_t cut = low > INT64_MIN + settle ? low - settle : INT64_MIN;
        if (as->stall_at < low && as->stall_at >= cut)
            cut = as->stall_at + 1;
        release(as, cut);
        return;
    }
    if ((ev->type == EV_SUMMARY ? sq_push(q, ev) : q_push(q, ev, shard)) < 0) {
        as->stats.nomem++;
    } else {
        as->nheld++;
        if (is_feed_stall(ev) && ev->at < as->stall_at)
            as->stall_at = ev->at;
    }
    as->stats.held = as->nheld;
}

void alerts_flush(alerts_t *as)
{
    release(as, INT64_MAX);
}

void alerts_end_of_input(alerts_t *as)
{
    alerts_flush(as);
    if (as->checks && as->last_at != INT64_MIN)
        checks_finish(as->checks, as->reg, as->last_at, emit_check, user_known, as);
}

int64_t alerts_released(const alerts_t *as)
{
    return as->released;
}
