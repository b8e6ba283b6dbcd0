/*
 * daemon_console.c - the daemon's side of the live console (console.h,
 * served by the HTTP server with --http): the alert thread hands it every
 * alert transition and, while someone looks, the Users' status.
 *
 * Cost, bounded whatever the number of Users. A transition costs a copy
 * of its line (the console keeps the last CONSOLE_HISTORY). A snapshot of
 * the Users costs the alert thread O(n) for n Users (their last levels
 * and the alerts firing, copied; the sort is the HTTP thread's that first
 * reads it) and a copy of their ids in memory, so it is made only
 *   - while it is asked for: a request for the Users within
 *     CONSOLE_DEMAND_S (an open console asks every few seconds; nobody
 *     looking costs nothing);
 *   - when something changed: the alert stage released events or
 *     transitions since the last one;
 *   - at most once every SNAPSHOT_EVERY_S, and for large tables once every
 *     n / DMN_CONSOLE_USERS_PER_S seconds: a million Users, once every 5 s.
 * A request finds the snapshot made last, with its time (built_at), and
 * "pending" (202) before the first.
 *
 * DESIGN: the alert thread alone runs this file and owns d->con; the
 * console is the HTTP server's (d->web.http, set before the threads start
 * and stopped after they are joined), and its lock is the console's.
 */
#include <stdatomic.h>
#include <time.h>

#include "daemon_int.h"
#include "console.h"
#include "err.h"
#include "log.h"
#include "monotime.h"

/* Users copied into a snapshot per second of the alert thread's time, at
 * most: about 30 ms of copying (0.13 s for a million), so about 3 % of
 * the thread. */
#define DMN_CONSOLE_USERS_PER_S 200000.0
/* After a snapshot lost for memory, the next try waits this long. */
#define DMN_CONSOLE_RETRY_S 10.0

static console_t *console_of(daemon_t *d)
{
    /* pairs with the release in start_http: the server is whole */
    http_t *h = atomic_load_explicit(&d->web.http, memory_order_acquire);
    return h ? http_console(h) : NULL;
}

typedef struct {
    console_users_t *s;
    int rc;
} build_t;

static void add_user(void *ctx, const alerts_user_t *u)
{
    build_t *b = ctx;
    console_dir_t dir[2];
    for (int k = DIR_SOUTH; k <= DIR_NORTH; k++)
        dir[k] = (console_dir_t){ .seen = u->seen[k], .rate = u->rate[k],
                                  .baseline = u->baseline[k], .at = u->at[k] };
    if (b->rc == SW_OK)
        b->rc = console_users_add(b->s, u->user, dir);
}

static void add_firing(void *ctx, const alert_t *a)
{
    build_t *b = ctx;
    int sev = a->severity == SEV_KIND ? alert_severity_level(a->kind) : a->severity;
    if (b->rc == SW_OK)
        b->rc = console_users_firing(b->s, a->user, a->dir, (int)a->kind, sev);
}

void dmn_console_tick(daemon_t *d)
{
    double now = sw_mono_s();
    if (now < d->con.next_build)
        return;
    console_t *c = console_of(d);
    int64_t released = alerts_released(d->out.as);
    if (!c || !console_users_wanted(c) ||
        (d->con.built && released == d->con.released && d->out.transitions == d->con.transitions))
        return;
    build_t b = { .s = console_users_new(), .rc = SW_OK };
    if (!b.s)
        b.rc = SW_ENOMEM;
    if (b.rc == SW_OK)
        alerts_each_user(d->out.as, add_user, &b);
    if (b.rc == SW_OK)
        alerts_each_firing(d->out.as, add_firing, &b);
    if (b.rc != SW_OK) {
        console_users_free(b.s);
        errburst_fail(&d->con.fail_log, errburst_now(), LOG_WARN,
                      "console: out of memory for a snapshot of %zu Users; the last one stays",
                      alerts_user_count(d->out.as));
        d->con.next_build = now + DMN_CONSOLE_RETRY_S;
        return;
    }
    errburst_ok(&d->con.fail_log, errburst_now(), "console: Users' snapshots made again");
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    console_publish_users(c, b.s, (int64_t)wall.tv_sec * SW_NS_PER_S + wall.tv_nsec);
    d->con.built = 1;
    d->con.released = released;
    d->con.transitions = d->out.transitions;
    double every = (double)alerts_user_count(d->out.as) / DMN_CONSOLE_USERS_PER_S;
    d->con.next_build = now + (every > SNAPSHOT_EVERY_S ? every : SNAPSHOT_EVERY_S);
}

void dmn_console_transition(daemon_t *d, const alert_t *a, const char *line, size_t n)
{
    console_t *c = console_of(d);
    if (c)
        console_transition(c, a->firing ? a->detected_at : a->ends_at, line, n);
}
