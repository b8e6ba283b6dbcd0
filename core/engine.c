/*
 * engine.c - event-time detection (engine.h).
 *
 * Flow of one line: lp_parse -> st_intern -> reorder_push; then every
 * record the reorder stage releases goes through clock_advance (close the
 * previous buckets, notice a stalled feed, fill silent series with zeroes)
 * and series_update (storm detector and baseline of the series, then its
 * share of the User's bucket). A bucket, the sum of a User's series in one
 * direction at one timestamp, is judged when the clock moves past it
 * (agg_close: silence, blocked_route, fixed limits).
 */
#include "engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blast.h"
#include "correlate.h"
#include "err.h"
#include "reorder.h"
#include "series.h"
#include "state.h"

#define SCRATCH_LEN (64 * 1024)
#define IDX_NONE UINT32_MAX

/* The window's value columns for a User's northbound buckets; W_BACKLOG0
 * is the backlog before the bucket, so the oldest tells where it started. */
enum { W_QUEUED, W_DELIVERED, W_BACKLOG0, W_SECONDS };

/* An alert that has fired and not yet resolved. */
typedef struct {
    alert_t a;        /* as emitted on firing; strings point into the series table */
    blast_list_t imp; /* storms: the other Users impacted so far */
    uint32_t user;    /* index of the alert's User; IDX_NONE for the feed */
    int64_t since;    /* storms: impact counts from samples after this */
    uint32_t next_free;
    uint8_t used;
} active_t;

struct engine {
    engine_opts_t o;
    const changes_t *reg;
    series_table_t *st;
    reorder_t *ro;
    engine_stats_t stats;
    char *scratch;
    int64_t now;           /* event time of the newest released sample */
    int64_t next_sweep;    /* event time of the next idle sweep */
    uint32_t epoch;        /* bumped when the feed stalls: intervals restart */
    uint32_t *dirty;       /* aggregates with an open bucket */
    size_t ndirty, dirty_cap;
    active_t *active;
    size_t nactive, active_cap;
    size_t nstorms;        /* storms firing now: blast radius being tracked */
    uint32_t free_head;    /* free list of active slots (+1; 0 = empty) */
};

static const detect_params_t *default_detect(void *ctx, const char *user, size_t len)
{
    (void)user;
    (void)len;
    return ctx;
}

engine_t *engine_create(const engine_opts_t *opts, const changes_t *reg)
{
    engine_t *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->o = *opts;
    e->reg = reg;
    e->st = st_create();
    e->ro = reorder_create(opts->ingest.lateness);
    e->scratch = malloc(SCRATCH_LEN);
    e->now = INT64_MIN;
    e->next_sweep = INT64_MIN;
    if (!e->st || !e->ro || !e->scratch) {
        engine_destroy(e);
        return NULL;
    }
    if (!e->o.detect_for) {
        static detect_params_t defaults;
        static int init;
        if (!init) {
            detect_params_defaults(&defaults);
            init = 1;
        }
        e->o.detect_for = default_detect;
        e->o.detect_ctx = &defaults;
    }
    return e;
}

void engine_destroy(engine_t *e)
{
    if (!e)
        return;
    st_destroy(e->st);
    reorder_destroy(e->ro);
    free(e->scratch);
    free(e->dirty);
    for (size_t i = 0; i < e->nactive; i++)
        blast_free(&e->active[i].imp);
    free(e->active);
    free(e);
}

void engine_set_changes(engine_t *e, const changes_t *reg)
{
    e->reg = reg;
}

const engine_stats_t *engine_stats(const engine_t *e)
{
    return &e->stats;
}

size_t engine_nseries(const engine_t *e)
{
    return st_nseries(e->st);
}

size_t engine_nusers(const engine_t *e)
{
    return st_nusers(e->st);
}

/* ---- alert transitions ------------------------------------------------ */

/* A free active slot, or IDX_NONE when out of memory. */
static uint32_t slot_take(engine_t *e)
{
    if (e->free_head) {
        uint32_t slot = e->free_head - 1;
        e->free_head = e->active[slot].next_free;
        return slot;
    }
    if (e->nactive == e->active_cap) {
        size_t cap = e->active_cap ? e->active_cap * 2 : 64;
        active_t *v = realloc(e->active, cap * sizeof(*v));
        if (!v)
            return IDX_NONE;
        e->active = v;
        e->active_cap = cap;
    }
    e->active[e->nactive] = (active_t){ 0 };
    return (uint32_t)e->nactive++;
}

/* Is User `ui`'s northbound direction impacted since `since`? */
static int user_impacted(engine_t *e, uint32_t ui, int64_t since)
{
    const user_t *u = st_user(e->st, ui);
    const detect_params_t *p = u->params;
    const agg_t *g = st_agg(e->st, u->agg[LP_NORTH]);
    return blast_impacted(&g->bt, since, p->base_warmup, p->blast_z, p->blast_min_increase);
}

/* Lists in `l` every other User impacted since the storm's onset. */
static void blast_scan(engine_t *e, blast_list_t *l, uint32_t storm_user, int64_t since)
{
    size_t n = st_nusers(e->st);
    for (uint32_t ui = 0; ui < n; ui++)
        if (ui != storm_user && user_impacted(e, ui, since) &&
            blast_add(l, ui, st_user(e->st, ui)->name) < 0)
            e->stats.nomem++;
}

/* Fires alert `a` of User `ui` (onset in a->starts_at): correlates it,
 * lists a storm's impacted Users (from their samples after `since`, the
 * start of the storm's first interval), emits it and returns its active
 * slot + 1, or 0 when out of memory (it is still emitted). */
static uint32_t alert_fire(engine_t *e, alert_t *a, uint32_t ui, int64_t since)
{
    corr_result_t c = corr_best(e->reg, &e->o.corr, a->user, a->kind, a->dir, a->starts_at);
    a->corr = c.type;
    a->change = c.change;
    a->score = c.score;
    a->firing = 1;
    uint32_t slot = slot_take(e);
    if (slot == IDX_NONE)
        e->stats.nomem++;
    active_t *ac = slot == IDX_NONE ? NULL : &e->active[slot];
    if (ac) {
        ac->user = ui;
        ac->used = 1;
        if (a->kind == ALERT_STORM) {
            ac->since = since;
            blast_scan(e, &ac->imp, ui, since);
            e->nstorms++;
        }
        a->impacted = ac->imp.names;
        a->n_impacted = ac->imp.n;
        ac->a = *a;
    }
    e->stats.firing++;
    e->o.emit(e->o.emit_ctx, a);
    return ac ? slot + 1 : 0;
}

/* Resolves the alert in `*slot` (slot + 1) at `ends_at`, emits it and
 * frees the slot. The change it named may have been withdrawn from a newer
 * register: the resolved line then names none. */
static void alert_resolve(engine_t *e, uint32_t *slot, int64_t ends_at)
{
    if (!*slot)
        return;
    active_t *ac = &e->active[*slot - 1];
    alert_t a = ac->a;
    a.firing = 0;
    a.ends_at = ends_at;
    a.impacted = ac->imp.names;
    a.n_impacted = ac->imp.n;
    if (a.change && a.change != changes_find(e->reg, a.change->id))
        a.change = changes_find(e->reg, a.change->id);
    if (!a.change)
        a.corr = CORR_UNDECLARED;
    e->stats.resolved++;
    e->o.emit(e->o.emit_ctx, &a);
    if (a.kind == ALERT_STORM)
        e->nstorms--;
    blast_free(&ac->imp);
    ac->used = 0;
    ac->next_free = e->free_head;
    e->free_head = *slot;
    *slot = 0;
}

/* Steps lifecycle `l` and fires or resolves the alert template `a` of User ui. */
static void drive(engine_t *e, life_t *l, uint32_t *slot, int64_t ts, int hot, int cool,
                  int64_t for_ns, int64_t hold_ns, alert_t *a, uint32_t ui, int64_t onset_hint,
                  int64_t lead)
{
    switch (life_step(l, ts, hot, cool, for_ns, hold_ns)) {
    case LIFE_FIRE:
        a->starts_at = onset_hint < l->onset ? onset_hint : l->onset;
        a->detected_at = ts;
        *slot = alert_fire(e, a, ui, a->starts_at - lead);
        break;
    case LIFE_RESOLVE:
        alert_resolve(e, slot, l->since);
        break;
    case LIFE_NONE:
        break;
    }
}

/* ---- per-User buckets --------------------------------------------------- */

/* Adds User ui to the impacted list of every firing storm of another User
 * that it shows impact since. */
static void blast_update(engine_t *e, uint32_t ui)
{
    for (size_t i = 0; i < e->nactive; i++) {
        active_t *ac = &e->active[i];
        if (!ac->used || ac->a.kind != ALERT_STORM || ac->user == ui)
            continue;
        if (user_impacted(e, ui, ac->since) &&
            blast_add(&ac->imp, ui, st_user(e->st, ui)->name) < 0)
            e->stats.nomem++;
    }
}

/* Judges a User's direction over its closed bucket. */
static void agg_close(engine_t *e, agg_t *g)
{
    const user_t *u = st_user(e->st, g->user);
    const detect_params_t *p = u->params;
    int64_t ts = g->bucket_ts;
    double secs = (double)g->bucket_dt / SW_NS_PER_S;
    alert_t a = {
        .user = u->name, .dir = g->dir, .cls = "all", .backlog = -1,
    };
    g->dirty = 0;
    if (secs <= 0)
        return;

    /* silence: a direction that normally carries traffic falls to ~zero,
     * for long enough that the baseline makes so little very unlikely */
    int quiet = g->expected > 0 && g->obs <= p->silence_max_fraction * g->expected;
    if (quiet) {
        double phi = g->var_extra / (g->expected * g->expected);
        g->silence_logp += base_log_cdf(g->obs, g->expected, phi);
        if (g->silence_run++ == 0)
            g->silence_since = ts;
    } else {
        g->silence_logp = 0;
        g->silence_run = 0;
    }
    int hot = quiet && g->silence_logp <= log(p->silence_max_p) &&
              g->silence_run >= p->silence_min_samples;
    int cool = g->obs >= p->silence_clear_fraction * g->expected;
    a.kind = ALERT_SILENCE;
    a.value = g->obs / secs;
    a.baseline = g->expected / secs;
    drive(e, &g->silence, &g->silence_alert, ts, hot, cool, p->silence_for, p->silence_hold, &a,
          g->user, quiet ? g->silence_since : INT64_MAX, 0);

    /* fixed per-User limit (Anomaly Detection Threshold) */
    double limit = g->dir == LP_NORTH ? p->limit_north_rate : p->limit_south_rate;
    if (limit > 0 || g->limit_alert) {
        double rate = g->obs / secs;
        a.kind = ALERT_LIMIT;
        a.value = rate;
        a.baseline = g->base_rate;
        a.limit = limit;
        drive(e, &g->limit, &g->limit_alert, ts, limit > 0 && rate > limit,
              limit <= 0 || rate <= limit, p->storm_for, p->storm_hold, &a, g->user, INT64_MAX, 0);
    }

    if (g->dir != LP_NORTH)
        return;
    /* blocked_route: deliveries stall while the backlog grows */
    double v[WIN_NV] = { [W_QUEUED] = g->obs, [W_DELIVERED] = g->delivered,
                         [W_BACKLOG0] = g->prev_backlog, [W_SECONDS] = secs };
    g->prev_backlog = g->backlog;
    win_push(&g->win, ts, v, p->blocked_window);
    double q = win_sum(&g->win, W_QUEUED), d = win_sum(&g->win, W_DELIVERED);
    double wsecs = win_sum(&g->win, W_SECONDS);
    if (g->delivered < p->blocked_ratio_fire * g->obs) {
        if (!g->low_since)
            g->low_since = ts;
    } else {
        g->low_since = 0;
    }
    hot = q > 0 && d < p->blocked_ratio_fire * q && g->backlog >= p->blocked_min_backlog &&
          g->backlog > win_first(&g->win, W_BACKLOG0);
    cool = d >= p->blocked_ratio_clear * q || g->backlog < p->blocked_min_backlog;
    a.kind = ALERT_BLOCKED;
    a.value = wsecs > 0 ? d / wsecs : 0;
    a.baseline = wsecs > 0 ? q / wsecs : 0;
    a.backlog = g->backlog;
    drive(e, &g->blocked, &g->blocked_alert, ts, hot, cool, p->blocked_for, p->blocked_hold, &a,
          g->user, g->low_since ? g->low_since : INT64_MAX, 0);

    /* blast radius: this User's backlog against its usual level, learnt
     * only while no storm is on and it is not alerting itself */
    blast_observe(&g->bt, ts, g->backlog, g->bucket_dt, p->base_tau,
                  e->nstorms == 0 && !life_active(&g->blocked) && !life_active(&g->silence));
    if (e->nstorms)
        blast_update(e, g->user);
}

static void close_buckets(engine_t *e)
{
    for (size_t i = 0; i < e->ndirty; i++)
        agg_close(e, st_agg(e->st, e->dirty[i]));
    e->ndirty = 0;
}

/* ---- per-series update -------------------------------------------------- */

static void series_update(engine_t *e, uint32_t si, const rec_t *r)
{
    series_t *s = st_series(e->st, si);
    agg_t *g = st_agg(e->st, s->agg);
    const user_t *u = st_user(e->st, s->user);
    const detect_params_t *p = u->params;

    if (s->seen && r->ts == s->last_ts) {
        e->stats.duplicates++;
        return;
    }
    e->stats.samples++;
    if (r->fields & LP_F_BACKLOG) {
        g->backlog += r->backlog - s->backlog;
        s->backlog = r->backlog;
    }
    if (!s->seen || s->epoch != e->epoch) {
        /* the first sample, or the first after a feed gap: its interval is
         * unknown, so it only anchors the next one */
        s->seen = 1;
        s->epoch = e->epoch;
        s->last_ts = r->ts;
        return;
    }
    int64_t dt = r->ts - s->last_ts;
    s->last_ts = r->ts;
    double count = r->count;
    s->rate = count * SW_NS_PER_S / (double)dt;

    /* what this series normally carries over the interval at this time of
     * day: the highest nearby rate judges storms, the lowest silences */
    int warm = s->base.age >= p->base_warmup;
    double base_rate, lo_rate;
    base_expect_range(&s->base, r->ts - dt / 2, p->daily_tolerance + dt / 2, &base_rate, &lo_rate);
    double secs = (double)dt / SW_NS_PER_S;
    double mu = base_rate * secs, mu_lo = lo_rate * secs;

    /* storm: this series' rate far above what it normally carries, and
     * significantly above what a harmless burst would give: a noisy count
     * of a small User must not pass the ratio by chance */
    double mu_burst = p->storm_burst_ratio * mu;
    double sd = base_sd(&s->base, mu_burst, p->base_dispersion);
    int hot = warm && s->rate > p->storm_ratio_fire * base_rate &&
              count - mu_burst > p->storm_z_fire * sd && s->rate - base_rate > p->storm_min_excess;
    int cool = !warm || s->rate < p->storm_ratio_clear * base_rate;
    alert_t a = {
        .kind = ALERT_STORM, .user = u->name, .dir = s->dir, .cls = s->cls,
        .value = s->rate, .baseline = base_rate, .backlog = -1,
    };
    if (s->dir == LP_NORTH)
        a.backlog = g->backlog;
    drive(e, &s->storm, &s->alert, r->ts, hot, cool, p->storm_for, p->storm_hold, &a, s->user,
          INT64_MAX, dt);

    /* learn; while this series or its User's direction is anomalous, only
     * as much as baseline.h allows */
    base_cfg_t bc = { .tau = p->base_tau, .day_weight = p->daily_weight,
                      .outlier_weight = p->daily_outlier_weight,
                      .outlier_ratio = p->daily_outlier_ratio,
                      .outlier_slack = p->storm_min_excess };
    base_learn(&s->base, &bc, count, dt, r->ts,
               life_active(&s->storm) || life_active(&g->silence));

    /* add to the User's open bucket */
    if (!g->dirty) {
        if (e->ndirty == e->dirty_cap) {
            size_t cap = e->dirty_cap ? e->dirty_cap * 2 : 64;
            uint32_t *v = realloc(e->dirty, cap * sizeof(*v));
            if (!v) {
                e->stats.nomem++;
                return;
            }
            e->dirty = v;
            e->dirty_cap = cap;
        }
        e->dirty[e->ndirty++] = s->agg;
        g->dirty = 1;
        g->bucket_ts = r->ts;
        g->obs = g->expected = g->delivered = g->base_rate = g->var_extra = 0;
        g->bucket_dt = 0;
    }
    if (warm) {
        g->obs += count;
        g->expected += mu_lo;
        double phi = s->base.phi > p->base_dispersion ? s->base.phi : p->base_dispersion;
        g->var_extra += phi * mu_lo * mu_lo;
        g->delivered += r->delivered;
        g->base_rate += lo_rate;
    } else if (s->dir == LP_NORTH) {
        /* not yet judged for silence, but its deliveries count for blocked routes */
        g->obs += count;
        g->expected += count;
        g->delivered += r->delivered;
    }
    if (dt > g->bucket_dt)
        g->bucket_dt = dt;
}

/* ---- the clock ---------------------------------------------------------- */

static void feed_stalled(engine_t *e, int64_t last, int64_t resumed)
{
    alert_t a = {
        .kind = ALERT_FEED, .user = "*", .dir = ALERT_DIR_BOTH, .cls = "all", .backlog = -1,
        .starts_at = last, .detected_at = last + e->o.ingest.stall_after,
    };
    uint32_t slot = 0;
    e->stats.feed_stalls++;
    /* fired and resolved at once: in event time the stall is only seen
     * when the feed resumes (a live daemon fires it from its wall clock) */
    corr_result_t c = corr_best(e->reg, &e->o.corr, "*", ALERT_FEED, ALERT_DIR_BOTH, last);
    a.corr = c.type;
    a.change = c.change;
    a.score = c.score;
    a.firing = 1;
    e->stats.firing++;
    e->o.emit(e->o.emit_ctx, &a);
    (void)slot;
    a.firing = 0;
    a.ends_at = resumed;
    e->stats.resolved++;
    e->o.emit(e->o.emit_ctx, &a);
    e->epoch++; /* every series restarts its interval after the gap */
}

/* Fills series that have said nothing for idle_after with a zero sample:
 * a series with no sample in an interval carried no traffic in it. */
static void idle_sweep(engine_t *e, int64_t now)
{
    int64_t idle = e->o.ingest.idle_after;
    size_t n = st_nseries(e->st);
    for (size_t i = 0; i < n; i++) {
        series_t *s = st_series(e->st, (uint32_t)i);
        if (!s->seen || s->epoch != e->epoch || now - s->last_ts <= idle)
            continue;
        rec_t zero = { .ts = now, .series = (uint32_t)i, .fields = LP_F_COUNT };
        e->stats.idle_zeroes++;
        e->stats.samples--; /* not a sample read */
        series_update(e, (uint32_t)i, &zero);
    }
}

static void clock_advance(engine_t *e, int64_t ts)
{
    if (e->now == INT64_MIN) {
        e->now = ts;
        e->next_sweep = ts + e->o.ingest.idle_after / 2;
        return;
    }
    if (ts <= e->now)
        return;
    close_buckets(e);
    if (ts - e->now > e->o.ingest.stall_after) {
        feed_stalled(e, e->now, ts);
        e->next_sweep = ts + e->o.ingest.idle_after / 2;
    } else if (ts >= e->next_sweep && e->o.ingest.idle_after > 0) {
        idle_sweep(e, ts);
        e->next_sweep = ts + e->o.ingest.idle_after / 2;
    }
    e->now = ts;
}

static void process(engine_t *e, const rec_t *r)
{
    clock_advance(e, r->ts);
    series_update(e, r->series, r);
}

static void release(engine_t *e, int drain)
{
    rec_t r;
    while (reorder_pop(e->ro, &r, drain))
        process(e, &r);
}

/* ---- ingest ------------------------------------------------------------- */

lp_result_t engine_feed_line(engine_t *e, const char *line, size_t len)
{
    lp_sample_t smp;
    e->stats.lines++;
    lp_result_t res = lp_parse(line, len, e->o.ingest.ts_mult, &smp, e->scratch, SCRATCH_LEN);
    e->stats.by_result[res]++;
    if (res != LP_OK) {
        if (lp_result_is_bad(res))
            e->stats.bad++;
        else if (res == LP_SKIP_MEASUREMENT)
            e->stats.skipped++;
        return res;
    }
    int64_t si = st_intern(e->st, smp.user.p, smp.user.len, smp.dir, smp.cls.p, smp.cls.len,
                           e->o.detect_for, e->o.detect_ctx);
    if (si < 0) {
        e->stats.nomem++;
        return res;
    }
    rec_t r = {
        .ts = smp.ts, .series = (uint32_t)si, .count = smp.count, .delivered = smp.delivered,
        .rejected = smp.rejected, .backlog = smp.backlog, .fields = smp.fields,
    };
    int rc = reorder_push(e->ro, &r);
    if (rc == 1) {
        series_t *s = st_series(e->st, (uint32_t)si);
        if (s->seen && s->last_ts == r.ts)
            e->stats.duplicates++;
        else
            e->stats.late++;
    } else if (rc < 0) {
        e->stats.nomem++;
    }
    release(e, 0);
    return res;
}

int engine_state_save(engine_t *e, unsigned char **buf, size_t *len)
{
    return state_encode(e->st, buf, len);
}

int engine_state_load(engine_t *e, const unsigned char *buf, size_t len, char *err, size_t errlen)
{
    if (e->stats.lines) {
        snprintf(err, errlen, "state must be loaded before any sample");
        return SW_EINVAL;
    }
    return state_decode(e->st, buf, len, e->o.detect_for, e->o.detect_ctx, err, errlen);
}

void engine_count_bad(engine_t *e, lp_result_t res)
{
    e->stats.lines++;
    e->stats.by_result[res]++;
    if (lp_result_is_bad(res))
        e->stats.bad++;
}

void engine_finish(engine_t *e)
{
    release(e, 1);
    close_buckets(e);
}
