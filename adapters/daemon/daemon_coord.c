/*
 * daemon_coord.c - change coordination in the running daemon: the verdict
 * on every declared change (written to --change-checks, logged, kept for
 * GET /api/v1/changes/{id}) and each User's share of the DSP's traffic
 * (for the busy-hour conflicts of a declaration).
 *
 * DESIGN: the alert thread makes both (dmn_check_emit, dmn_refresh_shares);
 * HTTP threads read them through daemon_check_json and daemon_user_share.
 * What they share lives in d->coord under its lock; the file is the alert
 * thread's alone (opened by main before it starts, closed after it is
 * joined).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_int.h"
#include "err.h"
#include "log.h"
#include "vec.h"

int dmn_coord_open(daemon_t *d, char *err, size_t errlen)
{
    if (d->o.r.change_checks) {
        char ferr[512];
        if (!(d->coord.file = sink_file_open(d->o.r.change_checks, ferr, sizeof(ferr))))
            return sw_errf(err, errlen, "--change-checks: %s", ferr), SW_EOPEN;
    }
    return SW_OK;
}

void dmn_coord_close(daemon_t *d)
{
    sink_file_close(d->coord.file);
    d->coord.file = NULL;
    for (size_t i = 0; i < d->coord.n; i++) {
        free(d->coord.v[i].id);
        free(d->coord.v[i].line);
    }
    free(d->coord.v);
    free(d->coord.shares);
    idx_free(&d->coord.ix);
    pthread_mutex_destroy(&d->coord.lock);
}

/* Keeps `line` (len bytes, no newline) as change id's latest check: a
 * ring of DMN_MAX_CHECKS, the oldest making room. Under the lock. */
static void keep_check(daemon_t *d, const char *id, const char *line, size_t len)
{
    char *copy = strndup(line, len);
    if (!copy)
        return;
    ptrdiff_t at = idx_find(&d->coord.ix, id, strlen(id));
    if (at >= 0) { /* judged again (a restart inside its slack) */
        free(d->coord.v[at].line);
        d->coord.v[at].line = copy;
        return;
    }
    char *idc = strdup(id);
    size_t slot = d->coord.n;
    if (slot == DMN_MAX_CHECKS) {
        slot = d->coord.next;
        d->coord.next = (slot + 1) % DMN_MAX_CHECKS;
    } else if (idc && (VEC_RESERVE(d->coord.v, d->coord.cap, slot + 1, 64) < 0 ||
                       idx_reserve(&d->coord.ix, slot + 1) < 0)) {
        free(idc);
        idc = NULL;
    }
    if (!idc) {
        free(copy);
        return;
    }
    if (slot < d->coord.n) { /* the oldest goes */
        idx_remove(&d->coord.ix, d->coord.v[slot].id, strlen(d->coord.v[slot].id));
        free(d->coord.v[slot].id);
        free(d->coord.v[slot].line);
    } else {
        d->coord.n++;
    }
    d->coord.v[slot] = (dmn_check_t){ idc, copy };
    idx_insert(&d->coord.ix, idc, strlen(idc), slot); /* room reserved or freed above */
}

void dmn_check_emit(void *ctx, const change_check_t *c)
{
    daemon_t *d = ctx;
    char small[4096], *line = small;
    size_t n = change_check_format_json(c, small, sizeof(small));
    if (n >= sizeof(small)) {
        if (!(line = malloc(n + 1))) {
            sw_log(LOG_ERROR, "out of memory formatting the check of change %s: dropped",
                   c->change->id);
            return;
        }
        change_check_format_json(c, line, n + 1);
    }
    /* the API, the metric and the log know of a verdict before its line
     * is in the file: whoever reads the line finds it everywhere else */
    pthread_mutex_lock(&d->coord.lock);
    keep_check(d, c->change->id, line, n && line[n - 1] == '\n' ? n - 1 : n);
    pthread_mutex_unlock(&d->coord.lock);
    atomic_fetch_add_explicit(&d->coord.by_verdict[c->verdict], 1, memory_order_relaxed);
    sw_log(c->verdict == VERDICT_DEVIATED ? LOG_WARN : LOG_INFO, "change %s of %s: %s: %s",
           c->change->id, c->change->user, verdict_name(c->verdict), c->summary);
    if (d->coord.file)
        sink_file_write(d->coord.file, line, n); /* counted and logged there */
    if (line != small)
        free(line);
}

char *daemon_check_json(void *ctx, const char *id)
{
    daemon_t *d = ctx;
    pthread_mutex_lock(&d->coord.lock);
    ptrdiff_t at = idx_find(&d->coord.ix, id, strlen(id));
    char *s = at >= 0 ? strdup(d->coord.v[at].line) : NULL;
    pthread_mutex_unlock(&d->coord.lock);
    return s;
}

/* ---- shares ---------------------------------------------------------------- */

typedef struct {
    dmn_share_t *v;
    size_t n, cap;
} shares_t;

static void add_share(void *ctx, const char *user, double share)
{
    shares_t *s = ctx;
    if (s->n < DMN_MAX_SHARES && VEC_RESERVE(s->v, s->cap, s->n + 1, 16) == 0) {
        snprintf(s->v[s->n].user, sizeof(s->v[s->n].user), "%s", user);
        s->v[s->n++].share = share;
    }
}

void dmn_refresh_shares(daemon_t *d)
{
    shares_t s = { 0 };
    /* a User under 1% is never large (CONFLICT_LARGE_SHARE is 10%) */
    alerts_each_share(d->out.as, 0.01, add_share, &s);
    pthread_mutex_lock(&d->coord.lock);
    free(d->coord.shares);
    d->coord.shares = s.v;
    d->coord.nshares = s.n;
    d->coord.shares_known = 1;
    pthread_mutex_unlock(&d->coord.lock);
}

double daemon_user_share(void *ctx, const char *user)
{
    daemon_t *d = ctx;
    double share = -1;
    pthread_mutex_lock(&d->coord.lock);
    if (d->coord.shares_known) {
        share = 0;
        for (size_t i = 0; i < d->coord.nshares; i++)
            if (!strcmp(d->coord.shares[i].user, user))
                share = d->coord.shares[i].share;
    }
    pthread_mutex_unlock(&d->coord.lock);
    return share;
}

void dmn_coord_metrics(daemon_t *d, FILE *out)
{
    dmn_metric(out, "stormwatch_change_checks_total", "counter",
               "Declared changes judged once their window ended, by verdict.");
    for (int v = 0; v < 3; v++)
        fprintf(out, "stormwatch_change_checks_total{verdict=\"%s\"} %llu\n",
                verdict_name((verdict_t)v),
                (unsigned long long)atomic_load_explicit(&d->coord.by_verdict[v],
                                                         memory_order_relaxed));
}
