/*
 * coord.c - change coordination in the running daemon (coord.h).
 *
 * DESIGN: the alert thread alone writes; HTTP threads (and main, for a
 * reloaded register's conflicts) read. The lock guards what they share:
 * the ring of kept checks, its index and the shares (with whether any were
 * set). The counters are atomics, written by the alert thread and read
 * relaxed by any thread. The checks file is the alert thread's between
 * open and close, which main does with no other thread running; its
 * reopen is sink_file's atomic request.
 */
#include "coord.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "idindex.h"
#include "log.h"
#include "sink_file.h"
#include "vec.h"

typedef struct {
    char *id, *line; /* a change's check line, without its newline */
} kept_check_t;

struct coord {
    sink_file_t *file;             /* --change-checks; NULL: none */
    pthread_mutex_t lock;          /* guards the rest but the counters */
    kept_check_t *v;               /* the latest checks: a ring of COORD_MAX_CHECKS */
    size_t n, cap, next;           /* kept, room, the oldest once full */
    idindex_t ix;                  /* change id -> v[] (borrows v[].id) */
    coord_share_t *shares;         /* Users' shares of the traffic */
    size_t nshares;
    int shares_known;              /* shares set at least once */
    atomic_uint_fast64_t by_verdict[COORD_NVERDICTS];
};

coord_t *coord_open(const char *checks_path, char *err, size_t errlen)
{
    coord_t *c = calloc(1, sizeof(*c));
    if (!c) {
        sw_errf(err, errlen, "out of memory");
        return NULL;
    }
    if (checks_path && !(c->file = sink_file_open(checks_path, err, errlen))) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    idx_init(&c->ix);
    return c;
}

void coord_close(coord_t *c)
{
    if (!c)
        return;
    sink_file_close(c->file);
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].id);
        free(c->v[i].line);
    }
    free(c->v);
    free(c->shares);
    idx_free(&c->ix);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* Keeps `line` (len bytes, no newline) as change id's latest check: a
 * ring of COORD_MAX_CHECKS, the oldest making room. Under the lock. */
static void keep_check(coord_t *c, const char *id, const char *line, size_t len)
{
    char *copy = strndup(line, len);
    if (!copy)
        return;
    ptrdiff_t at = idx_find(&c->ix, id, strlen(id));
    if (at >= 0) { /* judged again (a restart inside its slack) */
        free(c->v[at].line);
        c->v[at].line = copy;
        return;
    }
    char *idc = strdup(id);
    size_t slot = c->n;
    if (slot == COORD_MAX_CHECKS) {
        slot = c->next;
        c->next = (slot + 1) % COORD_MAX_CHECKS;
    } else if (idc && (VEC_RESERVE(c->v, c->cap, slot + 1, 64) < 0 ||
                       idx_reserve(&c->ix, slot + 1) < 0)) {
        free(idc);
        idc = NULL;
    }
    if (!idc) {
        free(copy);
        return;
    }
    if (slot < c->n) { /* the oldest goes */
        idx_remove(&c->ix, c->v[slot].id, strlen(c->v[slot].id));
        free(c->v[slot].id);
        free(c->v[slot].line);
    } else {
        c->n++;
    }
    c->v[slot] = (kept_check_t){ idc, copy };
    idx_insert(&c->ix, idc, strlen(idc), slot); /* room reserved or freed above */
}

void coord_check(coord_t *c, const change_check_t *ck)
{
    if (!c)
        return;
    char small[4096], *line = small;
    size_t n = change_check_format_json(ck, small, sizeof(small));
    if (n >= sizeof(small)) {
        if (!(line = malloc(n + 1))) {
            sw_log(LOG_ERROR, "out of memory formatting the check of change %s: dropped",
                   ck->change->id);
            return;
        }
        change_check_format_json(ck, line, n + 1);
    }
    /* the API, the metric and the log know of a verdict before its line
     * is in the file: whoever reads the line finds it everywhere else */
    pthread_mutex_lock(&c->lock);
    keep_check(c, ck->change->id, line, n && line[n - 1] == '\n' ? n - 1 : n);
    pthread_mutex_unlock(&c->lock);
    atomic_fetch_add_explicit(&c->by_verdict[ck->verdict], 1, memory_order_relaxed);
    sw_log(ck->verdict == VERDICT_DEVIATED ? LOG_WARN : LOG_INFO, "change %s of %s: %s: %s",
           ck->change->id, ck->change->user, verdict_name(ck->verdict), ck->summary);
    if (c->file)
        sink_file_write(c->file, line, n); /* counted and logged there */
    if (line != small)
        free(line);
}

char *coord_check_json(coord_t *c, const char *id)
{
    if (!c)
        return NULL;
    pthread_mutex_lock(&c->lock);
    ptrdiff_t at = idx_find(&c->ix, id, strlen(id));
    char *s = at >= 0 ? strdup(c->v[at].line) : NULL;
    pthread_mutex_unlock(&c->lock);
    return s;
}

int coord_set_shares(coord_t *c, const coord_share_t *v, size_t n)
{
    if (!c)
        return SW_OK;
    coord_share_t *copy = n ? malloc(n * sizeof(*copy)) : NULL;
    if (n && !copy)
        return SW_ENOMEM;
    if (n)
        memcpy(copy, v, n * sizeof(*copy));
    pthread_mutex_lock(&c->lock);
    coord_share_t *old = c->shares;
    c->shares = copy;
    c->nshares = n;
    c->shares_known = 1;
    pthread_mutex_unlock(&c->lock);
    free(old);
    return SW_OK;
}

double coord_user_share(coord_t *c, const char *user)
{
    if (!c)
        return -1;
    double share = -1;
    pthread_mutex_lock(&c->lock);
    if (c->shares_known) {
        share = 0;
        for (size_t i = 0; i < c->nshares; i++)
            if (!strcmp(c->shares[i].user, user))
                share = c->shares[i].share;
    }
    pthread_mutex_unlock(&c->lock);
    return share;
}

void coord_reopen(coord_t *c)
{
    if (c && c->file)
        sink_file_reopen(c->file);
}

void coord_stats(const coord_t *c, coord_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    for (int v = 0; c && v < COORD_NVERDICTS; v++)
        out->by_verdict[v] = atomic_load_explicit(&c->by_verdict[v], memory_order_relaxed);
}

void coord_metrics_write(const coord_t *c, FILE *out)
{
    coord_stats_t st;
    coord_stats(c, &st);
    fputs("# HELP stormwatch_change_checks_total Declared changes judged once their window "
          "ended, by verdict.\n# TYPE stormwatch_change_checks_total counter\n", out);
    for (int v = 0; v < COORD_NVERDICTS; v++)
        fprintf(out, "stormwatch_change_checks_total{verdict=\"%s\"} %llu\n",
                verdict_name((verdict_t)v), (unsigned long long)st.by_verdict[v]);
}
