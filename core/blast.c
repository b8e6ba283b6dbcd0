/*
 * blast.c - blast radius evidence and lists (blast.h).
 */
#include "blast.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "msoff.h"

/* A track's times count from its first, until 12 days on: then from the
 * newest (t0 moves on by `shift` ms, the newest's offset). The history is
 * minutes long; a bucket more than 24 days older is kept as just after the
 * oldest time there is, so an onset as old still counts it (no storm lasts
 * weeks). */
static void rebase(blast_track_t *t, int64_t shift)
{
    msoff_shift(t->ms_ts, t->head, t->n, BLAST_HIST, shift, INT32_MIN + 1);
    t->t0 += shift * MSOFF_NS;
}

void blast_observe(blast_track_t *t, int64_t ts, double backlog, int64_t dt_ns, int64_t tau_ns,
                   int learn)
{
    if (!t->n && !t->learnt)
        t->t0 = ts;
    int32_t at = msoff_after(t->t0, ts);
    if (at >= MSOFF_REBASE_AT) { /* ts becomes the new t0, however far on */
        rebase(t, msoff_between(t->t0, ts));
        at = 0;
    }
    unsigned slot = (t->head + t->n) % BLAST_HIST;
    if (t->n == BLAST_HIST)
        t->head = (uint8_t)((t->head + 1) % BLAST_HIST);
    else
        t->n++;
    t->ms_ts[slot] = at;
    t->backlog[slot] = (float)backlog;
    if (!learn || dt_ns <= 0)
        return;
    double w = (double)dt_ns / ((double)tau_ns + (double)dt_ns);
    double ww = (double)dt_ns / ((double)t->learnt + (double)dt_ns);
    if (ww > w)
        w = ww;
    double d = backlog - t->mean;
    t->mean += (float)(w * d);
    t->var = (float)((1 - w) * (t->var + w * d * d));
    t->learnt += dt_ns;
}

int blast_impacted(const blast_track_t *t, int64_t since, int64_t min_learnt, double z,
                   double min_increase)
{
    if (t->learnt < min_learnt)
        return 0;
    double sum = 0;
    int n = 0;
    int32_t after = msoff_after(t->t0, since);
    for (unsigned k = 0; k < t->n; k++) {
        unsigned i = (t->head + k) % BLAST_HIST;
        if (t->ms_ts[i] > after) {
            sum += t->backlog[i];
            n++;
        }
    }
    if (!n)
        return 0;
    double sd = sqrt(t->var);
    if (sd < 1)
        sd = 1;
    double excess = sum / n - t->mean;
    return excess >= min_increase && excess >= z * sd / sqrt((double)n);
}

/* Where `name` is in the list, or would go: *found tells which. */
static size_t blast_find(const blast_list_t *l, const char *name, int *found)
{
    size_t lo = 0, hi = l->n;
    *found = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(l->names[mid], name);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int blast_has(const blast_list_t *l, const char *name)
{
    int found;
    blast_find(l, name, &found);
    return found;
}

int blast_add(blast_list_t *l, uint32_t u, const char *name)
{
    /* kept sorted by name: a storm over every User checks membership for
     * each of their summaries, and the alert line lists them in an order
     * that does not depend on the order the summaries came in */
    int found;
    size_t lo = blast_find(l, name, &found);
    if (found)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        uint32_t *us = realloc(l->users, cap * sizeof(*us));
        if (!us)
            return SW_ENOMEM;
        l->users = us;
        const char **ns = realloc(l->names, cap * sizeof(*ns));
        if (!ns)
            return SW_ENOMEM;
        l->names = ns;
        l->cap = cap;
    }
    memmove(&l->users[lo + 1], &l->users[lo], (l->n - lo) * sizeof(*l->users));
    memmove(&l->names[lo + 1], &l->names[lo], (l->n - lo) * sizeof(*l->names));
    l->users[lo] = u;
    l->names[lo] = name;
    l->n++;
    return 1;
}

void blast_free(blast_list_t *l)
{
    free(l->users);
    free(l->names);
    *l = (blast_list_t){ 0 };
}
