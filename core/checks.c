/*
 * checks.c - change checks (checks.h).
 *
 * A change watched is a tally: per direction, sums over its whole window
 * and over the last three slots of CHECK_STRETCH / 3 (a sliding stretch,
 * so a storm is not split by a stretch's edge), and the highest and lowest
 * level a full stretch reached. The changes still to watch are kept
 * sorted by start, so advancing event time costs O(1) until one starts.
 */
#include "checks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "correlate.h"
#include "err.h"
#include "idindex.h"
#include "jsonout.h"
#include "timefmt.h"
#include "vec.h"

#define FP 1024.0 /* fixed point: sums in 1/1024 of a message */
#define SLOTS 3
#define SLOT (CHECK_STRETCH / SLOTS)

typedef struct {
    int64_t obs, exp, queued, delivered;
} sums_t;

typedef struct {
    sums_t total, slot[SLOTS]; /* slot[0]: the current one, then older */
    int64_t cur;               /* the current slot's number from the start */
    int nslots;                /* slots begun so far */
    double hi, lo;             /* highest and lowest level of a full stretch; lo > hi: none */
    double min_share;          /* lowest delivered share of a stretch; > 1: none */
    int delivered_known;
} dirtally_t;

typedef struct {
    char *id, *user;
    int dcc, seen, named_deviated;
    int64_t start, end;
    dirtally_t d[2];
    incident_id_t inc[CHECK_MAX_INCIDENTS];
    size_t ninc, more_inc;
} tally_t;

typedef struct {
    int64_t start;
    size_t idx; /* in the register as it was when sorted */
} pending_t;

struct checks {
    int64_t late;
    tally_t **w;          /* watched */
    size_t nw, w_cap;
    pending_t *p;         /* to watch, by start; p[next..np) are left */
    size_t np, p_cap, next;
    int dirty;            /* the register changed: p is stale */
    char **done;          /* ids judged (or dropped): never watched again */
    size_t ndone, done_cap;
    idindex_t done_ix;
};

const char *verdict_name(verdict_t v)
{
    switch (v) {
    case VERDICT_AS_DECLARED: return "as_declared";
    case VERDICT_DEVIATED: return "deviated";
    default: return "unverifiable";
    }
}

checks_t *checks_create(int64_t late)
{
    checks_t *ck = calloc(1, sizeof(*ck));
    if (ck) {
        ck->late = late;
        ck->dirty = 1;
        idx_init(&ck->done_ix);
    }
    return ck;
}

static void tally_free(tally_t *t)
{
    if (t) {
        free(t->id);
        free(t->user);
        free(t);
    }
}

void checks_destroy(checks_t *ck)
{
    if (!ck)
        return;
    for (size_t i = 0; i < ck->nw; i++)
        tally_free(ck->w[i]);
    for (size_t i = 0; i < ck->ndone; i++)
        free(ck->done[i]);
    free(ck->w);
    free(ck->p);
    free(ck->done);
    idx_free(&ck->done_ix);
    free(ck);
}

void checks_register_changed(checks_t *ck)
{
    ck->dirty = 1;
}

size_t checks_watching(const checks_t *ck)
{
    return ck->nw;
}

static int is_done(const checks_t *ck, const char *id)
{
    return idx_find(&ck->done_ix, id, strlen(id)) >= 0;
}

static tally_t *watched(const checks_t *ck, const char *id)
{
    for (size_t i = 0; i < ck->nw; i++)
        if (!strcmp(ck->w[i]->id, id))
            return ck->w[i];
    return NULL;
}

/* Remembers id as judged. Out of memory it may be judged again: harmless. */
static void mark_done(checks_t *ck, const char *id)
{
    char *copy = strdup(id);
    if (!copy || VEC_RESERVE(ck->done, ck->done_cap, ck->ndone + 1, 16) < 0 ||
        idx_reserve(&ck->done_ix, ck->ndone + 1) < 0) {
        free(copy);
        return;
    }
    ck->done[ck->ndone++] = copy;
    idx_insert(&ck->done_ix, copy, strlen(copy), ck->ndone - 1);
}

/* Starts watching change c: the tally, or NULL when out of memory. */
static tally_t *watch(checks_t *ck, const change_t *c)
{
    tally_t *t = calloc(1, sizeof(*t));
    if (!t || !(t->id = strdup(c->id)) || !(t->user = strdup(c->user)) ||
        VEC_RESERVE(ck->w, ck->w_cap, ck->nw + 1, 8) < 0) {
        tally_free(t);
        return NULL;
    }
    t->dcc = change_is_dcc(c);
    t->start = c->start;
    t->end = c->end;
    for (int d = 0; d < 2; d++) {
        t->d[d].lo = 1;
        t->d[d].hi = 0;
        t->d[d].min_share = 2;
    }
    ck->w[ck->nw++] = t;
    return t;
}

static int by_start(const void *a, const void *b)
{
    const pending_t *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start ? 1 : (x->idx > y->idx) - (x->idx < y->idx);
}

/* The changes of reg still to watch at `now`, sorted by start. */
static void resort(checks_t *ck, const changes_t *reg, int64_t now)
{
    ck->np = ck->next = 0;
    size_t n = changes_count(reg);
    if (VEC_RESERVE(ck->p, ck->p_cap, n, 16) < 0)
        return; /* dirty stays set: tried again at the next advance */
    for (size_t i = 0; i < n; i++) {
        const change_t *c = changes_get(reg, i);
        if (c->end > now - ck->late && !is_done(ck, c->id) && !watched(ck, c->id))
            ck->p[ck->np++] = (pending_t){ c->start, i };
    }
    if (ck->np > 1)
        qsort(ck->p, ck->np, sizeof(*ck->p), by_start);
    ck->dirty = 0;
}

/* ---- sums --------------------------------------------------------------- */

static int64_t fp(double x)
{
    return x > 0 ? (int64_t)(x * FP + 0.5) : 0;
}

static void sums_add(sums_t *s, const sums_t *x)
{
    s->obs += x->obs;
    s->exp += x->exp;
    s->queued += x->queued;
    s->delivered += x->delivered;
}

/* Judges a stretch's sums: its level and delivered share. */
static void judge_stretch(dirtally_t *d, const sums_t *s)
{
    if ((double)s->exp >= CHECK_MIN_EXPECTED * FP) {
        double level = (double)s->obs / (double)s->exp;
        if (d->lo > d->hi) {
            d->lo = d->hi = level;
        } else {
            d->hi = level > d->hi ? level : d->hi;
            d->lo = level < d->lo ? level : d->lo;
        }
    }
    if (d->delivered_known && (double)s->queued >= CHECK_MIN_EXPECTED * FP) {
        double share = (double)s->delivered / (double)s->queued;
        if (share < d->min_share)
            d->min_share = share;
    }
}

/* The current slot ends: the stretch ending with it is judged once full. */
static void close_slot(dirtally_t *d)
{
    if (d->nslots >= SLOTS) {
        sums_t s = { 0 };
        for (int i = 0; i < SLOTS; i++)
            sums_add(&s, &d->slot[i]);
        judge_stretch(d, &s);
    }
    memmove(&d->slot[1], &d->slot[0], (SLOTS - 1) * sizeof(sums_t));
    memset(&d->slot[0], 0, sizeof(sums_t));
    d->nslots++;
    d->cur++;
}

static void tally_bucket(tally_t *t, int dir, int64_t at, const sums_t *x, int delivered_known)
{
    dirtally_t *d = &t->d[dir];
    int64_t k = (at - t->start) / SLOT;
    if (d->nslots == 0) {
        d->cur = k;
        d->nslots = 1;
    }
    /* empty slots between: at most SLOTS matter, the rest are all empty */
    for (int n = 0; d->cur < k && n <= SLOTS; n++)
        close_slot(d);
    d->cur = k > d->cur ? k : d->cur;
    sums_add(&d->slot[0], x);
    sums_add(&d->total, x);
    d->delivered_known |= delivered_known;
    t->seen = 1;
}

void checks_bucket(checks_t *ck, const char *user, int dir, int64_t at, double obs,
                   double expected, double queued, double delivered, int delivered_known)
{
    if (!ck->nw || (dir != DIR_SOUTH && dir != DIR_NORTH))
        return;
    sums_t x = { fp(obs), fp(expected), fp(queued), fp(delivered) };
    for (size_t i = 0; i < ck->nw; i++) {
        tally_t *t = ck->w[i];
        if (at >= t->start && at <= t->end && (t->dcc || !strcmp(t->user, user)))
            tally_bucket(t, dir, at, &x, delivered_known);
    }
}

void checks_named(checks_t *ck, const changes_t *reg, const char *id, incident_id_t inc,
                  int deviated)
{
    tally_t *t = watched(ck, id);
    if (!t && !is_done(ck, id)) { /* named before its start: a late declaration */
        const change_t *c = changes_find(reg, id);
        if (c && (t = watch(ck, c)) != NULL)
            ck->dirty = 1;
    }
    if (!t)
        return;
    t->named_deviated |= deviated;
    for (size_t i = 0; i < t->ninc; i++)
        if (t->inc[i] == inc)
            return;
    if (t->ninc < CHECK_MAX_INCIDENTS)
        t->inc[t->ninc++] = inc;
    else
        t->more_inc++;
}

/* ---- verdicts ------------------------------------------------------------ */

static const char *traffic_of(int dir)
{
    return dir == DIR_NORTH ? "northbound messages for the User" : "southbound requests";
}

/* The verdict on tally t of change c, written to emit. */
static void judge(tally_t *t, const change_t *c, int64_t input_end, checks_emit_fn emit,
                  void *ctx)
{
    change_check_t out = { .change = c, .incidents = t->inc, .n_incidents = t->ninc,
                           .delivered = -1 };
    char why[512] = "";
    int judged = 0, deviated = 0;
    for (int dir = 0; dir < 2; dir++) {
        dirtally_t *d = &t->d[dir];
        if (d->nslots > 0 && d->nslots < SLOTS) /* a window shorter than a stretch */
            judge_stretch(d, &d->total);
        else if (d->nslots >= SLOTS)
            close_slot(d);
        double decl = change_impact(c, dir);
        int enough = (double)d->total.exp >= CHECK_MIN_EXPECTED * FP;
        out.observed[dir] = enough ? (double)d->total.obs / (double)d->total.exp : -1;
        if (!(c->affects & DIR_BIT(dir)) || !enough)
            continue;
        judged = 1;
        double worst = d->lo > d->hi ? out.observed[dir]
                       : corr_impact_distance(d->hi, decl) >= corr_impact_distance(d->lo, decl)
                           ? d->hi : d->lo;
        if (corr_impact_distance(worst, decl) > CORR_IMPACT_TOLERANCE) {
            out.observed[dir] = worst;
            if (!deviated) {
                if (decl == 1.0)
                    snprintf(why, sizeof(why), "declared no change in traffic; %s ran at %.1fx "
                             "the usual level", traffic_of(dir), worst);
                else
                    snprintf(why, sizeof(why), "declared %.1fx %s; %s ran at %.1fx the usual "
                             "level", decl, dir_name(dir), traffic_of(dir), worst);
            }
            deviated = 1;
        }
    }
    dirtally_t *n = &t->d[DIR_NORTH];
    if (n->delivered_known && (double)n->total.queued >= CHECK_MIN_EXPECTED * FP) {
        double whole = (double)n->total.delivered / (double)n->total.queued;
        out.delivered = whole > 1 ? 1 : whole;
        if ((c->affects & CHG_NORTH) && n->min_share < CHECK_MIN_DELIVERED) {
            out.delivered = n->min_share;
            if (!deviated)
                snprintf(why, sizeof(why), "northbound deliveries fell to %.0f%% of the "
                         "messages queued", 100.0 * n->min_share);
            deviated = 1;
        }
    }
    if (t->named_deviated && !deviated) {
        snprintf(why, sizeof(why), "named in an alert whose traffic went beyond its declared "
                 "impact");
        deviated = 1;
    }
    if (deviated)
        out.verdict = VERDICT_DEVIATED;
    else if (judged)
        out.verdict = VERDICT_AS_DECLARED;
    else
        out.verdict = VERDICT_UNVERIFIABLE;
    if (out.verdict == VERDICT_AS_DECLARED) {
        size_t len = (size_t)snprintf(why, sizeof(why), "traffic stayed within its declared "
                                      "impact");
        for (int dir = 0; dir < 2 && len < sizeof(why); dir++)
            if ((c->affects & DIR_BIT(dir)) && out.observed[dir] >= 0)
                len += (size_t)snprintf(why + len, sizeof(why) - len, "%s %s %.1fx (declared "
                                        "%.1fx)", len > 40 ? "," : ":", dir_name(dir),
                                        out.observed[dir], change_impact(c, dir));
    } else if (out.verdict == VERDICT_UNVERIFIABLE) {
        snprintf(why, sizeof(why), "too little traffic in its window to judge (fewer than %.0f "
                 "messages expected in the directions it affects)", CHECK_MIN_EXPECTED);
    }
    size_t len = strlen(why);
    if (t->more_inc)
        len += (size_t)snprintf(why + len, sizeof(why) - len, "; %zu more incidents",
                                t->more_inc);
    if (t->end > input_end && len < sizeof(why)) {
        char at[TF_BUFLEN];
        tf_format(input_end, at);
        snprintf(why + len, sizeof(why) - len, " (judged on its traffic up to the end of the "
                 "input, %s)", at);
    }
    out.summary = why;
    emit(ctx, &out);
}

/* Judges watched tally t (or drops it: withdrawn, or of a User not ours). */
static void close_watch(checks_t *ck, tally_t *t, const changes_t *reg, int64_t input_end,
                        checks_emit_fn emit, int (*known)(void *ctx, const char *user), void *ctx)
{
    const change_t *c = changes_find(reg, t->id);
    if (c && (t->dcc || t->seen || !known || known(ctx, t->user)))
        judge(t, c, input_end, emit, ctx);
    mark_done(ck, t->id);
    tally_free(t);
}

/* Watched changes in the order they close: by end, then id (so that one
 * event time's checks come out the same however they were watched). */
static int by_end(const void *a, const void *b)
{
    const tally_t *x = *(tally_t *const *)a, *y = *(tally_t *const *)b;
    return x->end < y->end ? -1 : x->end > y->end ? 1 : strcmp(x->id, y->id);
}

/* Judges every watched change that ended before `cut` (the input ended
 * at input_end: INT64_MAX while it goes on). */
static void close_before(checks_t *ck, const changes_t *reg, int64_t cut, int64_t input_end,
                         checks_emit_fn emit, int (*known)(void *ctx, const char *user),
                         void *ctx)
{
    size_t due = 0;
    for (size_t i = 0; i < ck->nw; i++)
        due += ck->w[i]->end < cut;
    if (!due)
        return;
    qsort(ck->w, ck->nw, sizeof(*ck->w), by_end);
    for (size_t i = 0; i < due; i++)
        close_watch(ck, ck->w[i], reg, input_end, emit, known, ctx);
    memmove(ck->w, ck->w + due, (ck->nw - due) * sizeof(*ck->w));
    ck->nw -= due;
}

void checks_advance(checks_t *ck, const changes_t *reg, int64_t now, checks_emit_fn emit,
                    int (*known)(void *ctx, const char *user), void *ctx)
{
    if (ck->dirty)
        resort(ck, reg, now);
    while (!ck->dirty && ck->next < ck->np && ck->p[ck->next].start <= now) {
        const change_t *c = changes_get(reg, ck->p[ck->next++].idx);
        if (c && c->end > now - ck->late && !is_done(ck, c->id) && !watched(ck, c->id))
            watch(ck, c);
    }
    close_before(ck, reg, now - ck->late, INT64_MAX, emit, known, ctx);
}

void checks_finish(checks_t *ck, const changes_t *reg, int64_t now, checks_emit_fn emit,
                   int (*known)(void *ctx, const char *user), void *ctx)
{
    checks_advance(ck, reg, now, emit, known, ctx);
    close_before(ck, reg, INT64_MAX, now, emit, known, ctx);
}

/* ---- the line ------------------------------------------------------------- */

size_t change_check_format_json(const change_check_t *c, char *buf, size_t cap)
{
    jo_t o = { buf, cap, 0 };
    jo_puts(&o, "{\"change\":");
    jo_str(&o, c->change->id);
    jo_puts(&o, ",\"user\":");
    jo_str(&o, c->change->user);
    jo_puts(&o, ",\"verdict\":");
    jo_str(&o, verdict_name(c->verdict));
    jo_puts(&o, ",\"from\":");
    jo_time(&o, c->change->start);
    jo_puts(&o, ",\"to\":");
    jo_time(&o, c->change->end);
    jo_puts(&o, ",\"declared\":{\"south\":");
    jo_num(&o, change_impact(c->change, DIR_SOUTH), 1);
    jo_puts(&o, ",\"north\":");
    jo_num(&o, change_impact(c->change, DIR_NORTH), 1);
    jo_puts(&o, "},\"observed\":{\"south\":");
    jo_num(&o, c->observed[DIR_SOUTH] < 0 ? NAN : c->observed[DIR_SOUTH], 2);
    jo_puts(&o, ",\"north\":");
    jo_num(&o, c->observed[DIR_NORTH] < 0 ? NAN : c->observed[DIR_NORTH], 2);
    jo_puts(&o, ",\"delivered\":");
    jo_num(&o, c->delivered < 0 ? NAN : c->delivered, 2);
    jo_puts(&o, "},\"incidents\":[");
    for (size_t i = 0; i < c->n_incidents; i++) {
        char id[INCIDENT_ID_LEN];
        incident_id_format(c->incidents[i], id);
        if (i)
            jo_puts(&o, ",");
        jo_str(&o, id);
    }
    jo_puts(&o, "],\"summary\":");
    jo_str(&o, c->summary);
    jo_puts(&o, "}\n");
    return jo_end(&o);
}
