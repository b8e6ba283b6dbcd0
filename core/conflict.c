/*
 * conflict.c - the conflicts of a planned change (see conflict.h).
 *
 * One pass over the candidates (the whole register, or the changes an
 * index finds near the query) does two things with each: a change
 * conflict (maintenance, same_user) goes straight into the output, kept
 * sorted and bounded; a change of a User in force in one of c's hours
 * becomes a span of hours for the busy-hour sweep. The sweep then asks
 * each User's share once, keeps the large Users, and walks the spans'
 * ends in time order counting the distinct large Users in force.
 */
#include "conflict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "timefmt.h"
#include "vec.h"

#define DAY_NS (INT64_C(86400) * 1000000000)

const char *conflict_type_name(conflict_type_t t)
{
    switch (t) {
    case CONFLICT_MAINTENANCE: return "maintenance";
    case CONFLICT_SAME_USER: return "same_user";
    case CONFLICT_BUSY_HOUR: return "busy_hour";
    }
    return "unknown";
}

/* ---- time ------------------------------------------------------------------ */

/* The hour (since the epoch, floored) that holds ns. */
static int64_t hour_of(int64_t ns)
{
    int64_t h = ns / CONFLICT_HOUR_NS;
    return ns % CONFLICT_HOUR_NS < 0 ? h - 1 : h;
}

/* The hours [*h0, *h1) a change is in force in: an instant (end == start)
 * is in force in the hour that holds it. */
static void hours_of(const change_t *c, int64_t *h0, int64_t *h1)
{
    *h0 = hour_of(c->start);
    *h1 = c->end > c->start ? hour_of(c->end) + (c->end % CONFLICT_HOUR_NS != 0) : *h0 + 1;
}

/* ns at the start of hour h, saturated to what int64 ns holds. */
static int64_t hour_ns(int64_t h)
{
    if (h > INT64_MAX / CONFLICT_HOUR_NS)
        return INT64_MAX;
    if (h < INT64_MIN / CONFLICT_HOUR_NS)
        return INT64_MIN;
    return h * CONFLICT_HOUR_NS;
}

/* Each starts before the other ends: touching windows do not overlap. */
static int overlaps(const change_t *a, const change_t *b)
{
    return a->start < b->end && b->start < a->end;
}

/* ---- the output: sorted, bounded ------------------------------------------- */

static int cmp_conflict(const conflict_t *a, const conflict_t *b)
{
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    if (!a->with || !b->with)
        return (a->from > b->from) - (a->from < b->from);
    if (a->with->start != b->with->start)
        return a->with->start < b->with->start ? -1 : 1;
    return strcmp(a->with->id, b->with->id);
}

typedef struct {
    int64_t h0, h1;   /* hours in force, clipped to the query's */
    const char *user;
    size_t slot;      /* the User's place among the large ones */
} span_t;

typedef struct {
    int64_t at;       /* hour */
    int delta;        /* +1: a span starts, -1: one ends */
    size_t slot;
} edge_t;

typedef struct {
    const change_t *c;
    int c_dcc;
    conflict_share_fn share;
    void *ctx;
    conflict_t *out;
    size_t max, n, kept; /* n: found; kept: in out */
    int64_t w0, w1;      /* c's hours [w0, w1) */
    span_t *spans;
    size_t nspans, spans_cap;
    int failed;          /* out of memory */
} scan_t;

/*
 * Adds k to the output: in order while there is room, then only when it
 * sorts before the last kept (which drops out). Counted either way.
 */
static void emit(scan_t *s, const conflict_t *k)
{
    s->n++;
    if (s->max == 0 || (s->kept == s->max && cmp_conflict(k, &s->out[s->max - 1]) >= 0))
        return;
    size_t lo = 0, hi = s->kept;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cmp_conflict(&s->out[mid], k) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t moved = (s->kept == s->max ? s->max - 1 : s->kept) - lo;
    memmove(&s->out[lo + 1], &s->out[lo], moved * sizeof(*k));
    s->out[lo] = *k;
    if (s->kept < s->max)
        s->kept++;
}

/* ---- one candidate ---------------------------------------------------------- */

/* The User change `o` (or c itself) as a span of c's hours, when it is in
 * force in one of them. */
static void add_span(scan_t *s, const change_t *o)
{
    int64_t h0, h1;
    hours_of(o, &h0, &h1);
    if (h0 >= s->w1 || h1 <= s->w0)
        return;
    if (VEC_RESERVE(s->spans, s->spans_cap, s->nspans + 1, 16) < 0) {
        s->failed = 1;
        return;
    }
    s->spans[s->nspans++] = (span_t){ .h0 = h0 > s->w0 ? h0 : s->w0,
                                      .h1 = h1 < s->w1 ? h1 : s->w1, .user = o->user };
}

static void consider(scan_t *s, const change_t *o)
{
    const change_t *c = s->c;
    if (o == c || strcmp(o->id, c->id) == 0)
        return;
    int o_dcc = change_is_dcc(o);
    if (s->share && !o_dcc)
        add_span(s, o);
    if (!overlaps(c, o))
        return;
    conflict_t k = { .with = o, .from = c->start > o->start ? c->start : o->start,
                     .to = c->end < o->end ? c->end : o->end };
    if (o_dcc != s->c_dcc)
        k.type = CONFLICT_MAINTENANCE;
    else if (strcmp(o->user, c->user) == 0 && (o->affects & c->affects))
        k.type = CONFLICT_SAME_USER;
    else
        return;
    emit(s, &k);
}

/* ---- busy hours --------------------------------------------------------------- */

static int cmp_span_user(const void *a, const void *b)
{
    return strcmp(((const span_t *)a)->user, ((const span_t *)b)->user);
}

/* By time, starts before ends: a User whose change ends as another of its
 * changes starts stays in force, never dropping out for an instant. */
static int cmp_edge(const void *a, const void *b)
{
    const edge_t *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return y->delta - x->delta;
}

/*
 * Keeps the spans of large Users, each with its User's slot (Users in id
 * order), asking share() once per User. Returns the number of large Users.
 */
static size_t keep_large(scan_t *s)
{
    if (s->nspans == 0)
        return 0; /* no array at all: qsort() must not see a NULL base */
    qsort(s->spans, s->nspans, sizeof(span_t), cmp_span_user);
    size_t kept = 0, users = 0;
    for (size_t i = 0; i < s->nspans;) {
        size_t j = i;
        while (j < s->nspans && strcmp(s->spans[j].user, s->spans[i].user) == 0)
            j++;
        double share = s->share(s->ctx, s->spans[i].user);
        if (share >= CONFLICT_LARGE_SHARE) { /* unknown (< 0) and NaN are not large */
            for (size_t k = i; k < j; k++) {
                s->spans[kept] = s->spans[k];
                s->spans[kept++].slot = users;
            }
            users++;
        }
        i = j;
    }
    s->nspans = kept;
    return users;
}

/* A busy_hour conflict from hour `from` (its end is set when the run ends),
 * listing the Users in force. */
static conflict_t busy_run(int64_t from, const int *in_force, const char *const *names,
                           size_t users, size_t nactive)
{
    conflict_t k = { .type = CONFLICT_BUSY_HOUR, .from = hour_ns(from), .nusers = nactive };
    size_t listed = 0;
    for (size_t u = 0; u < users && listed < CONFLICT_MAX_USERS; u++)
        if (in_force[u])
            k.users[listed++] = names[u];
    return k;
}

/*
 * Sweeps the spans' edges in time order: between two edges the large Users
 * in force do not change. A run of hours with the same CONFLICT_BUSY_USERS
 * or more Users is one conflict; it ends where that set of Users changes
 * (every run ends, at the last edge at the latest).
 */
static void busy_hours(scan_t *s)
{
    size_t users = keep_large(s);
    if (users < CONFLICT_BUSY_USERS)
        return;
    size_t nedges = 2 * s->nspans;
    edge_t *edges = malloc(nedges * sizeof(edge_t));
    int *in_force = calloc(users, sizeof(int));
    const char **names = malloc(users * sizeof(char *));
    if (!edges || !in_force || !names) {
        s->failed = 1;
        goto done;
    }
    for (size_t i = 0; i < s->nspans; i++) {
        edges[2 * i] = (edge_t){ s->spans[i].h0, +1, s->spans[i].slot };
        edges[2 * i + 1] = (edge_t){ s->spans[i].h1, -1, s->spans[i].slot };
        names[s->spans[i].slot] = s->spans[i].user;
    }
    qsort(edges, nedges, sizeof(edge_t), cmp_edge);
    size_t nactive = 0;
    conflict_t run = { 0 };
    int in_run = 0;
    for (size_t i = 0; i < nedges;) {
        int64_t at = edges[i].at;
        int changed = 0;
        for (; i < nedges && edges[i].at == at; i++) {
            int before = in_force[edges[i].slot] > 0;
            in_force[edges[i].slot] += edges[i].delta;
            int after = in_force[edges[i].slot] > 0;
            changed |= before != after;
            nactive = nactive + (size_t)after - (size_t)before;
        }
        if (!changed)
            continue; /* the same Users on both sides: a run goes on */
        if (in_run) {
            run.to = hour_ns(at);
            emit(s, &run);
            in_run = 0;
        }
        if (nactive >= CONFLICT_BUSY_USERS) {
            run = busy_run(at, in_force, names, users, nactive);
            in_run = 1;
        }
    }
done:
    free(edges);
    free(in_force);
    free(names);
}

/* ---- queries ------------------------------------------------------------------ */

static void scan_begin(scan_t *s, const change_t *c, conflict_share_fn share, void *ctx,
                       conflict_t *out, size_t max)
{
    *s = (scan_t){ .c = c, .c_dcc = change_is_dcc(c), .share = share, .ctx = ctx, .out = out,
                   .max = max };
    hours_of(c, &s->w0, &s->w1);
    if (share && !s->c_dcc)
        add_span(s, c); /* c's own User counts when large */
}

static int scan_end(scan_t *s, size_t *found)
{
    if (s->share && !s->failed)
        busy_hours(s);
    free(s->spans);
    *found = s->failed ? 0 : s->n;
    return s->failed ? SW_ENOMEM : SW_OK;
}

int conflicts_find(const changes_t *reg, const change_t *c, conflict_share_fn share, void *ctx,
                   conflict_t *out, size_t max, size_t *found)
{
    scan_t s;
    scan_begin(&s, c, share, ctx, out, max);
    for (size_t i = 0; i < changes_count(reg); i++)
        consider(&s, changes_get(reg, i));
    return scan_end(&s, found);
}

/* ---- the index ----------------------------------------------------------------- */

struct conflict_index {
    const change_t **by_start; /* changes of a day or less, by start */
    size_t n;
    const change_t **long_ones; /* longer ones: looked at by every query */
    size_t nlong;
    conflict_share_fn share;
    void *ctx;
};

static int cmp_start(const void *a, const void *b)
{
    const change_t *x = *(const change_t *const *)a, *y = *(const change_t *const *)b;
    return (x->start > y->start) - (x->start < y->start);
}

conflict_index_t *conflict_index_create(const changes_t *reg, conflict_share_fn share, void *ctx)
{
    size_t n = changes_count(reg);
    conflict_index_t *ix = calloc(1, sizeof(*ix));
    if (!ix)
        return NULL;
    ix->share = share;
    ix->ctx = ctx;
    ix->by_start = malloc((n ? n : 1) * sizeof(change_t *));
    ix->long_ones = malloc((n ? n : 1) * sizeof(change_t *));
    if (!ix->by_start || !ix->long_ones) {
        conflict_index_destroy(ix);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const change_t *c = changes_get(reg, i);
        if ((uint64_t)c->end - (uint64_t)c->start <= (uint64_t)DAY_NS) /* no overflow */
            ix->by_start[ix->n++] = c;
        else
            ix->long_ones[ix->nlong++] = c;
    }
    qsort(ix->by_start, ix->n, sizeof(change_t *), cmp_start);
    return ix;
}

void conflict_index_destroy(conflict_index_t *ix)
{
    if (!ix)
        return;
    free(ix->by_start);
    free(ix->long_ones);
    free(ix);
}

/* The first change of by_start that starts at or after t. */
static size_t first_from(const conflict_index_t *ix, int64_t t)
{
    size_t lo = 0, hi = ix->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ix->by_start[mid]->start < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/*
 * Every change that can conflict with c is in force in c's hours; a change
 * of a day or less in force there starts at most a day before them. So
 * the candidates are those starting in [c's first hour - a day, c's last
 * hour), and the long ones.
 */
int conflict_index_find(const conflict_index_t *ix, const change_t *c, conflict_t *out,
                        size_t max, size_t *found)
{
    scan_t s;
    scan_begin(&s, c, ix->share, ix->ctx, out, max);
    int64_t from = hour_ns(s.w0), to = hour_ns(s.w1);
    from = from < INT64_MIN + DAY_NS ? INT64_MIN : from - DAY_NS;
    for (size_t i = first_from(ix, from); i < ix->n && ix->by_start[i]->start < to; i++)
        consider(&s, ix->by_start[i]);
    for (size_t i = 0; i < ix->nlong; i++)
        consider(&s, ix->long_ones[i]);
    return scan_end(&s, found);
}

/* ---- messages ------------------------------------------------------------------ */

/* "2019-09-12T06:20:30Z..06:40:30Z": the second date only when it differs. */
static void fmt_range(int64_t from, int64_t to, char *buf, size_t len)
{
    char a[TF_BUFLEN], b[TF_BUFLEN];
    tf_format(from, a);
    tf_format(to, b);
    int same_day = strncmp(a, b, 10) == 0; /* "YYYY-MM-DD" */
    snprintf(buf, len, "%s..%s", a, same_day ? b + 11 : b);
}

static const char *dirs_word(unsigned bits)
{
    return bits == CHG_NORTH ? "north" : bits == CHG_SOUTH ? "south" : "both directions";
}

const char *conflict_message(const conflict_t *k, const change_t *c, char *buf, size_t len)
{
    char when[2 * TF_BUFLEN + 4];
    if (k->type == CONFLICT_BUSY_HOUR) {
        char users[CONFLICT_MAX_USERS * (CHG_MAX_USER + 2) + 16] = "";
        size_t off = 0;
        for (size_t i = 0; i < k->nusers && i < CONFLICT_MAX_USERS; i++)
            off += (size_t)snprintf(users + off, sizeof(users) - off, "%s%s", i ? ", " : "",
                                    k->users[i]);
        if (k->nusers > CONFLICT_MAX_USERS)
            snprintf(users + off, sizeof(users) - off, ", ...");
        fmt_range(k->from, k->to, when, sizeof(when));
        snprintf(buf, len, "in %s (%s), %zu large Users have changes in force: %s",
                 k->to - k->from > CONFLICT_HOUR_NS ? "busy hours" : "a busy hour", when,
                 k->nusers, users);
        return buf;
    }
    const change_t *o = k->with;
    fmt_range(o->start, o->end, when, sizeof(when));
    if (k->type == CONFLICT_SAME_USER)
        snprintf(buf, len, "overlaps %s%s%s, also affecting %s (%s)",
                 change_is_dcc(o) ? "other DCC Planned Maintenance " : "", o->id,
                 change_is_dcc(o) ? "" : " of the same User", dirs_word(o->affects & c->affects),
                 when);
    else if (change_is_dcc(o))
        snprintf(buf, len, "overlaps DCC Planned Maintenance %s (%s)", o->id, when);
    else
        snprintf(buf, len, "overlaps %s of User %s (%s)", o->id, o->user, when);
    return buf;
}
