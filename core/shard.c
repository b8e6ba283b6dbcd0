/*
 * shard.c - per-shard detection (shard.h).
 *
 * A sample is interned as it comes (take_sample) and waits with the other
 * samples of its event time; a repeat of one is merged into it there
 * (pend_merge: a repeat never hides trouble). When time moves on they go,
 * in series order, through series_update (the series' storm detector and
 * baseline, then its share of the User's bucket for that timestamp), so
 * the cost and the result do not depend on the order Users arrive in.
 * clock_advance closes the buckets before a new time and fills silent
 * series with zeroes at fixed grid times. A bucket, the sum of a User's
 * series in one direction at one timestamp, is judged when time moves
 * past it (agg_close: silence, blocked_route, fixed limits).
 *
 * Size: about 1450 lines, kept whole on purpose: the shard is one
 * owner's state machine (series, buckets, clock, hand-overs) on the hot
 * path; the detectors and the baseline are modules of their own.
 */
#include "shard.h"

#include <math.h>
#include <stdatomic.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include "err.h"
#include "det_limit.h"
#include "state.h"
#include "timefmt.h"
#include "vec.h"


/* smp_t.si of a pending sample whose series was evicted meanwhile */
#define PEND_NONE UINT32_MAX

/* A sample reduced to what the detectors read, for series si. */
typedef struct {
    int64_t ts;
    double count, delivered, rejected, backlog;
    uint32_t si;
    uint32_t fields;     /* LP_F_* */
    uint16_t src;
    uint8_t fill;        /* an idle sweep's zero, not a sample read */
} smp_t;

struct shard {
    shard_opts_t o;
    series_table_t *st;
    shard_stats_t stats;
    int64_t now;           /* event time up to which records were seen */
    int64_t next_sweep;    /* grid time of the next idle sweep */
    uint32_t epoch;        /* bumped by a feed gap: intervals restart */
    uint32_t next_id;      /* alert ids */
    int stalled;           /* feed_stalled has fired and not resolved */
    uint8_t src_stalled[REC_MAX_SOURCES]; /* sources quiet (REC_SRC_STALL) */
    unsigned nsrc_stalled;
    uint32_t *dirty;       /* aggregates with an open bucket */
    int64_t tz_off, tz_from, tz_to; /* local_ts(): the UTC offset of [tz_from, tz_to) */
    size_t ndirty, dirty_cap;
    uint64_t rng;          /* eviction's sampling: seeded, so replays repeat */
    /* the alerts out, by id (ids only grow, so appending keeps it sorted):
     * what each fired with, for a User handed to another instance */
    struct fire { uint32_t id; state_fire_t f; } *fires;
    size_t nfires, fires_cap;
    /* Users with a transition whose line may not be out yet (opts.publish):
     * the event time of each transition */
    struct changed { uint32_t user; int64_t at; } *changed;
    size_t nchanged, changed_cap;
    /* the samples of event time pend_ts, taken in arrival order and run
     * through the detectors in series order once time moves on
     * (pend_flush): the cost and the result do not depend on the order
     * Users arrive in; a repeat of a sample is merged into it on arrival
     * (series_t.pend_ix) */
    smp_t *pend, *pend_tmp;
    size_t npend, pend_cap;
    int64_t pend_ts;
    int pend_sorted;       /* appended in increasing series order so far */
    int pend_dropped;      /* some entries are PEND_NONE: their series were evicted */
    uint32_t *pend_count;  /* counting sort's histogram, one per series slot */
    size_t pend_count_cap;
    /* series whose last judged sample had no history for its time of day
     * (base_expect_t.learning): a flag per series slot, their count, and
     * the count again for other threads (shard_learning) */
    uint8_t *learning;
    size_t learning_cap;
    uint64_t nlearning;
    atomic_uint_fast64_t nlearning_pub;
};

shard_t *shard_create(const shard_opts_t *o)
{
    shard_t *sh = calloc(1, sizeof(*sh));
    if (!sh)
        return NULL;
    sh->o = *o;
    sh->st = st_create();
    sh->now = INT64_MIN;
    sh->next_sweep = INT64_MIN;
    sh->tz_from = sh->tz_to = INT64_MIN;
    sh->rng = UINT64_C(0x9e3779b97f4a7c15);
    if (!sh->st) {
        free(sh);
        return NULL;
    }
    return sh;
}

void shard_destroy(shard_t *sh)
{
    if (!sh)
        return;
    st_destroy(sh->st);
    free(sh->dirty);
    free(sh->fires);
    free(sh->changed);
    free(sh->pend);
    free(sh->pend_tmp);
    free(sh->pend_count);
    free(sh->learning);
    free(sh);
}

uint64_t shard_learning(const shard_t *sh)
{
    /* relaxed: pairs with the store in note_learning; a recent count is
     * all a reader wants, and nothing else is read through it */
    return atomic_load_explicit(&((shard_t *)sh)->nlearning_pub, memory_order_relaxed);
}

/* Series si's last judgement was `learning` (or not): the count follows.
 * The flags grow with the series slots (a new slot, never per sample); out
 * of memory, a series that learns is left out of the count (nomem). */
static void note_learning(shard_t *sh, uint32_t si, int learning)
{
    if (si >= sh->learning_cap) {
        if (!learning)
            return; /* a slot beyond the flags is not counted */
        size_t cap = sh->learning_cap ? sh->learning_cap : 1024;
        while (cap <= si)
            cap *= 2;
        uint8_t *l = realloc(sh->learning, cap);
        if (!l) {
            sh->stats.nomem++;
            return;
        }
        memset(l + sh->learning_cap, 0, cap - sh->learning_cap);
        sh->learning = l;
        sh->learning_cap = cap;
    }
    if (sh->learning[si] == (learning != 0))
        return;
    sh->learning[si] = learning != 0;
    sh->nlearning = learning ? sh->nlearning + 1 : sh->nlearning - 1;
    atomic_store_explicit(&sh->nlearning_pub, sh->nlearning, memory_order_relaxed);
}

const shard_stats_t *shard_stats(const shard_t *sh)
{
    return &sh->stats;
}

series_table_t *shard_table(shard_t *sh)
{
    return sh->st;
}

void shard_rebind(shard_t *sh, const detect_params_t *(*detect_for)(void *, const char *, size_t),
                  void *ctx)
{
    sh->o.detect_for = detect_for;
    sh->o.detect_ctx = ctx;
    st_rebind(sh->st, detect_for, ctx);
}

static void pend_flush(shard_t *sh);

/* ---- events ------------------------------------------------------------- */

/* Copies a NUL-terminated id of at most LP_MAX_ID bytes into dst. */
static void copy_id(char dst[LP_MAX_ID + 1], const char *src)
{
    size_t n = strnlen(src, LP_MAX_ID);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* A User's name into an event: its length is known (a bucket's summary
 * names one every time, and a scan for the end cost as much as the copy). */
static void ev_user(event_t *ev, const user_t *u)
{
    size_t n = u->len < LP_MAX_ID ? u->len : LP_MAX_ID;
    memcpy(ev->user, u->name, n);
    ev->user[n] = '\0';
}

static void ev_names(event_t *ev, const char *user, const char *cls)
{
    copy_id(ev->user, user);
    copy_id(ev->cls, cls);
}

/* A template for an alert of kind `kind` in direction `dir`; drive() names
 * the User and class only when it emits, not for every sample. */
static event_t ev_alert(alert_kind_t kind, int dir)
{
    event_t ev;
    memset(&ev, 0, offsetof(event_t, user)); /* the names: emit_named() */
    ev.kind = (uint8_t)kind;
    ev.dir = (uint8_t)dir;
    ev.backlog = -1;
    return ev;
}

/* Emits `ev` (a template from ev_alert()) for User `u` and class `cls`. */
static void emit_named(shard_t *sh, event_t *ev, const user_t *u, const char *cls)
{
    ev_names(ev, u->name, cls);
    sh->o.emit(sh->o.emit_ctx, ev);
}

/* ---- the alerts out ----------------------------------------------------- */

static ptrdiff_t fire_find(const shard_t *sh, uint32_t id)
{
    size_t lo = 0, hi = sh->nfires;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (sh->fires[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < sh->nfires && sh->fires[lo].id == id ? (ptrdiff_t)lo : -1;
}

/* What alert `id` fired with, its incident as the alert stage has it. */
static const state_fire_t *fire_of(void *ctx, uint32_t id)
{
    shard_t *sh = ctx;
    ptrdiff_t i = fire_find(sh, id);
    if (i < 0)
        return NULL;
    state_fire_t *f = &sh->fires[i].f;
    uint64_t incident;
    int role, severity;
    if (!f->incident && sh->o.incident_of &&
        sh->o.incident_of(sh->o.incident_ctx, id, &incident, &role, &severity)) {
        f->incident = incident;
        f->role = (uint8_t)role;
        f->severity = (uint8_t)severity;
    }
    return f;
}

/* Keeps what alert `id` (the newest) fired with; on failure it is only
 * counted: the alert goes on, a handover would then leave it out. */
static void fire_keep(shard_t *sh, uint32_t id, const event_t *ev)
{
    if (VEC_RESERVE(sh->fires, sh->fires_cap, sh->nfires + 1, 16) < 0) {
        sh->stats.nomem++;
        return;
    }
    state_fire_t f = { .starts_at = ev->starts_at, .detected_at = ev->detected_at,
                       .since = ev->since, .value = ev->value, .baseline = ev->baseline,
                       .backlog = ev->backlog, .limit = ev->limit, .incident = ev->incident,
                       .role = ev->role, .severity = ev->severity, .learning = ev->learning };
    size_t i = sh->nfires;
    while (i > 0 && sh->fires[i - 1].id > id) /* ids wrap after 4e9 alerts */
        i--;
    memmove(&sh->fires[i + 1], &sh->fires[i], (sh->nfires - i) * sizeof(*sh->fires));
    sh->fires[i] = (struct fire){ id, f };
    sh->nfires++;
}

static void fire_drop(shard_t *sh, uint32_t id)
{
    ptrdiff_t i = fire_find(sh, id);
    if (i < 0)
        return;
    memmove(&sh->fires[i], &sh->fires[i + 1], (sh->nfires - (size_t)i - 1) * sizeof(*sh->fires));
    sh->nfires--;
}

static uint32_t new_id(shard_t *sh)
{
    if (++sh->next_id == 0 || sh->next_id >= UINT32_MAX - REC_MAX_SOURCES)
        sh->next_id = 1; /* the top of the range is the feed alerts' */
    return sh->next_id;
}

/* User ui had a transition at `at`: its state is published once the alert
 * stage has written the line (shard_publish_ready). */
static void mark_changed(shard_t *sh, uint32_t ui, int64_t at)
{
    if (!sh->o.publish)
        return;
    if (VEC_RESERVE(sh->changed, sh->changed_cap, sh->nchanged + 1, 16) < 0) {
        sh->stats.nomem++;
        return;
    }
    sh->changed[sh->nchanged++] = (struct changed){ ui, at };
}

/* What an alert's event says besides the verdict; made into an event only
 * when the lifecycle moves (most samples move nothing). */
typedef struct {
    alert_kind_t kind;
    int dir;
    int learning;   /* judged against a guess for this time */
    double backlog; /* -1: none */
    double limit;   /* limit_exceeded: the limit; 0 otherwise */
} ev_what_t;

/*
 * Steps an alert's lifecycle with a detector's verdict `o` at `ts`, and
 * emits the transition it makes: an event of `w` with the verdict's value
 * and baseline, its start (the detector's onset when it knows one earlier
 * than the first hot sample) and its end (likewise).
 */
static void drive(shard_t *sh, life_t *l, uint32_t *id, int64_t ts, const det_out_t *o,
                  int64_t for_ns, int64_t hold_ns, const ev_what_t *w, uint32_t ui,
                  const char *cls, int64_t lead)
{
    int step = life_step(l, ts, o->hot, o->cool, for_ns, hold_ns);
    if (step == LIFE_NONE || (step == LIFE_RESOLVE && !*id))
        return;
    const user_t *u = st_user(sh->st, ui);
    event_t evs = ev_alert(w->kind, w->dir), *ev = &evs;
    ev->learning = (uint8_t)w->learning;
    ev->backlog = w->backlog;
    ev->limit = w->limit;
    ev->value = o->value;
    ev->baseline = o->baseline;
    int64_t onset_hint = o->onset, end_hint = o->end;
    switch (step) {
    case LIFE_FIRE:
        *id = new_id(sh);
        ev->type = EV_FIRE;
        ev->id = *id;
        ev->at = ev->detected_at = ts;
        ev->starts_at = onset_hint < l->onset ? onset_hint : l->onset;
        ev->since = ev->starts_at - lead;
        fire_keep(sh, *id, ev);
        emit_named(sh, ev, u, cls);
        mark_changed(sh, ui, ts);
        break;
    case LIFE_RESOLVE:
        if (*id) {
            ev->type = EV_RESOLVE;
            ev->id = *id;
            ev->at = ts;
            ev->ends_at = end_hint < l->since ? end_hint : l->since;
            emit_named(sh, ev, u, cls);
            fire_drop(sh, *id);
            *id = 0;
            mark_changed(sh, ui, ts);
        }
        break;
    case LIFE_NONE:
        break;
    }
}

/* ---- explanations (shard_opts_t.explain) --------------------------------- */

static const char *life_word(const life_t *l)
{
    return life_firing(l) ? "firing" : life_active(l) ? "pending" : "quiet";
}

/* One line on a series' sample: what was expected, the evidence, and what
 * the storm and shift detectors and the baseline made of it. */
static void explain_series(shard_t *sh, const series_t *s, const det_in_t *in,
                           const base_expect_t *ex, const det_out_t *storm, int mode)
{
    char at[TF_BUFLEN];
    tf_format(in->ts, at);
    static const char *const modes[] = { "normal", "damped", "anomalous" };
    fprintf(sh->o.explain,
            "explain %s %s %s/%s interval=%.0fs count=%.0f expected=%.3g (%.3g..%.3g) "
            "noise=%.3f profile=%s scale=%.2f windows=%.2fx/%.2fx/%.2fx storm=%s%s "
            "shift=%.2fx/%.2fx %s learn=%s\n",
            at, st_user(sh->st, s->user)->name, dir_name(s->dir), s->cls,
            (double)in->dt / SW_NS_PER_S, in->count, in->exp_mid, in->exp_lo, in->exp_hi, in->phi,
            ex->level ? "none" : ex->learning ? "other-days" : "own", base_scale(&s->base),
            ewin_ratio(&s->storm_det.s1), ewin_ratio(&s->storm_det.s2),
            ewin_ratio(&s->storm_det.recent), life_word(&s->storm),
            storm->hot ? " (evidence)" : "", ewin_ratio(&s->shift.hi), ewin_ratio(&s->shift.lo),
            life_word(&s->shift_life), modes[mode]);
}

/* One line on a User's direction's closed bucket: the silence evidence. */
static void explain_bucket(shard_t *sh, const agg_t *g, const det_in_t *in)
{
    char at[TF_BUFLEN];
    tf_format(in->ts, at);
    fprintf(sh->o.explain,
            "explain %s %s %s/all interval=%.0fs count=%.0f expected-low=%.3g "
            "silence-evidence=%.1f quiet-share=%.2f silence=%s blocked=%s\n",
            at, st_user(sh->st, g->user)->name, dir_name(g->dir),
            (double)in->dt / SW_NS_PER_S, in->count, in->exp_lo, g->sil.llr, g->sil.quiet,
            life_word(&g->silence), life_word(&g->blocked));
}

/* ---- per-User buckets --------------------------------------------------- */

/* Judges a User's direction over its closed bucket: silence, a fixed
 * limit, and northbound a blocked route (det_*.h). */
static void agg_close(shard_t *sh, agg_t *g)
{
    const user_t *u = st_user(sh->st, g->user);
    const detect_params_t *p = u->params;
    int64_t ts = g->bucket_ts;
    double secs = (double)g->bucket_dt / SW_NS_PER_S;
    g->dirty = 0;
    if (secs <= 0)
        return;
    double phi = g->expected > 0 ? g->var_extra / (g->expected * g->expected) : 0;
    det_in_t in = { .ts = ts, .dt = g->bucket_dt, .count = g->obs, .exp_hi = g->expected_mid,
                    .exp_lo = g->expected, .exp_mid = g->expected_mid,
                    .phi = phi > p->base_dispersion ? phi : p->base_dispersion,
                    .disp = g->expected > 0 ? g->lin / g->expected : 1,
                    .warm = g->expected > 0, .learning = g->learning };
    det_out_t o;

    silence_judge(&g->sil, &in, p, &o);
    g->suspicious = (uint8_t)silence_suspicious(&g->sil, &in, p);
    ev_what_t w = { ALERT_SILENCE, g->dir, g->learning, -1, 0 };
    drive(sh, &g->silence, &g->silence_alert, ts, &o, 0, p->silence_hold, &w, g->user, "all", 0);
    if (g->explain)
        explain_bucket(sh, g, &in);

    double limit = g->dir == DIR_NORTH ? p->limit_north_rate : p->limit_south_rate;
    if (limit > 0 || g->limit_alert) {
        det_in_t all = in;
        all.count = g->queued;
        limit_judge(&all, limit, g->base_rate, &o);
        w = (ev_what_t){ ALERT_LIMIT, g->dir, 0, -1, limit };
        drive(sh, &g->limit, &g->limit_alert, ts, &o, p->storm_for, p->storm_hold, &w, g->user,
              "all", 0);
    }

    if (g->dir == DIR_NORTH) {
        route_in_t rin = { .in = in, .delivered = g->delivered, .backlog = g->backlog };
        rin.in.count = g->queued;
        route_judge(st_route(sh->st, g), &rin, p, &o);
        w = (ev_what_t){ ALERT_BLOCKED, g->dir, 0, g->backlog, 0 };
        drive(sh, &g->blocked, &g->blocked_alert, ts, &o, p->blocked_for, p->blocked_hold, &w,
              g->user, "all", 0);
    }

    if (g->dir == DIR_SOUTH && sh->o.no_south_summaries)
        return;
    /* the bucket's sums: northbound its backlog, for the alert stage's
     * blast radius; both ways its level, for change checks and forecasts */
    event_t sum = { .type = EV_SUMMARY, .at = ts, .dt = g->bucket_dt,
                    .backlog = g->dir == DIR_NORTH ? g->backlog : 0, .value = g->obs,
                    .baseline = g->expected_mid, .queued = g->queued, .delivered = g->delivered,
                    .dir = g->dir,
                    .alerting = life_active(&g->blocked) || life_active(&g->silence) };
    ev_user(&sum, u);
    memcpy(sum.cls, "all", sizeof("all"));
    sh->o.emit(sh->o.emit_ctx, &sum);
}

static void close_buckets(shard_t *sh)
{
    for (size_t i = 0; i < sh->ndirty; i++)
        agg_close(sh, st_agg(sh->st, sh->dirty[i]));
    sh->ndirty = 0;
}

/* ---- per-series update -------------------------------------------------- */

/* Aggregate ai gets a bucket (its sums are the caller's to set): 0, or -1
 * when out of memory (counted). */
static int open_bucket(shard_t *sh, uint32_t ai)
{
    if (VEC_RESERVE(sh->dirty, sh->dirty_cap, sh->ndirty + 1, 64) < 0) {
        sh->stats.nomem++;
        return -1;
    }
    sh->dirty[sh->ndirty++] = ai;
    st_agg(sh->st, ai)->dirty = 1;
    return 0;
}

/* How the baseline of a series with params p learns. */
static base_cfg_t base_cfg(const detect_params_t *p, double cadence)
{
    const double bin_s = (double)BASE_BIN_NS / SW_NS_PER_S;
    return (base_cfg_t){ .tau = p->base_tau, .day_weight = p->daily_weight,
                         .outlier_weight = p->daily_outlier_weight,
                         .outlier_ratio = p->daily_outlier_ratio,
                         .outlier_slack = p->storm_min_excess, .scale_tau = p->base_scale_tau,
                         .damp_weight = p->base_damp_weight, .weekly = 1,
                         .smooth = cadence * BASE_SMOOTH_SAMPLES > bin_s };
}

/* Local time (baseline.timezone) of event time ts: the offset of the hour
 * holding ts, cached, since it changes only at daylight-saving changes. */
static int64_t local_ts(shard_t *sh, int64_t ts)
{
    if (!sh->o.local_time)
        return ts;
    if (ts < sh->tz_from || ts >= sh->tz_to) {
        const int64_t hour = 3600 * SW_NS_PER_S;
        int64_t from = ts / hour * hour - (ts % hour < 0 ? hour : 0);
        time_t t = (time_t)(from / SW_NS_PER_S);
        struct tm tm;
        sh->tz_off = localtime_r(&t, &tm) ? (int64_t)tm.tm_gmtoff * SW_NS_PER_S : 0;
        sh->tz_from = from;
        sh->tz_to = from + hour;
    }
    return ts + sh->tz_off;
}

/* How long series s may say nothing before it counts as carrying
 * nothing: ingest.idle_after, or idle_cadences of its own intervals. */
static int64_t idle_of(const shard_t *sh, const series_t *s)
{
    int64_t own = (int64_t)(sh->o.ingest.idle_cadences * s->cadence * SW_NS_PER_S);
    return own > sh->o.ingest.idle_after ? own : sh->o.ingest.idle_after;
}

/* Cadences more than this many times the learned one are holes, not the
 * series' rhythm: they do not move it. */
#define CADENCE_HOLE 4
/* The weight of a new interval in the learned cadence. */
#define CADENCE_WEIGHT 0.1f

/* Intervals in a row that long make them the rhythm: the first interval
 * learnt was a burst of two samples, or the source slowed for good. */
#define CADENCE_RELEARN 3

/* Learns from dt, the interval between two samples read (never an idle
 * fill's: a fill only says that the series said nothing). */
static void learn_cadence(series_t *s, int64_t dt)
{
    float d = (float)dt / SW_NS_PER_S;
    if (s->cadence > 0 && d >= CADENCE_HOLE * s->cadence && ++s->holes < CADENCE_RELEARN)
        return;
    if (s->cadence <= 0 || s->holes >= CADENCE_RELEARN)
        s->cadence = d;
    else
        s->cadence += CADENCE_WEIGHT * (d - s->cadence);
    s->holes = 0;
}

static void series_update(shard_t *sh, uint32_t si, const smp_t *r)
{
    series_t *s = st_series(sh->st, si);
    agg_t *g = st_agg(sh->st, s->agg);
    const user_t *u = st_user(sh->st, s->user);
    const detect_params_t *p = u->params;

    /* the router keeps a series in order: an older time is a sample read
     * again (a partition re-read after it moved here) */
    if (s->seen && r->ts <= s->last_ts) {
        sh->stats.duplicates++;
        return;
    }
    sh->stats.samples++;
    if (r->fields & LP_F_BACKLOG) {
        g->backlog += r->backlog - s->backlog;
        s->backlog = r->backlog;
    }
    /* idle sweeps fill a quiet series once it has been idle a sweep step,
     * so a longer interval lost samples (a User taken over after a hole):
     * its count says nothing of that interval */
    int fresh = !s->seen || s->epoch != sh->epoch;
    int64_t dt = r->ts - s->last_ts;
    if (!fresh && !r->fill && !s->filled)
        learn_cadence(s, dt);
    s->filled = r->fill;
    if (fresh || dt > idle_of(sh, s) + sh->o.ingest.idle_after / 2) {
        /* the first sample, or the first after a feed gap: its interval is
         * unknown, so it only anchors the next one */
        s->seen = 1;
        s->epoch = sh->epoch;
        s->last_ts = r->ts;
        s->explain = g->explain = sh->o.explain && strcmp(u->name, sh->o.explain_user) == 0;
        return;
    }
    s->last_ts = r->ts;
    double count = r->count, secs = (double)dt / SW_NS_PER_S;
    s->rate = count / secs;

    /* what this series normally carries over the interval at this time of
     * day and week: the highest nearby rate judges storms, the lowest
     * silences, the one at the time shifts */
    base_cfg_t bc = base_cfg(p, s->cadence);
    base_expect_t ex;
    base_expect(&s->base, &bc, local_ts(sh, r->ts - dt / 2), p->daily_tolerance + dt / 2, &ex);
    note_learning(sh, si, ex.learning);
    double phi = s->base.phi > p->base_dispersion ? s->base.phi : p->base_dispersion;
    det_in_t in = { .ts = r->ts, .dt = dt, .count = count, .exp_hi = ex.hi * secs,
                    .exp_lo = ex.lo * secs, .exp_mid = ex.mid * secs,
                    .exp_ahead = ex.hi_ahead * secs, .exp_lo_ahead = ex.lo_ahead * secs,
                    .phi = phi, .disp = base_disp(&s->base),
                    .scale = ex.level || bc.scale_tau <= 0 ? 1.0 : base_scale(&s->base),
                    .warm = s->base.age >= p->base_warmup, .learning = ex.learning };
    det_out_t o, storm_out;
    storm_judge(&s->storm_det, &in, p, &o);
    storm_out = o;
    ev_what_t w = { ALERT_STORM, s->dir, in.learning, s->dir == DIR_NORTH ? g->backlog : -1, 0 };
    int was_firing = life_firing(&s->storm);
    drive(sh, &s->storm, &s->alert, r->ts, &o, 0, p->storm_hold, &w, s->user, s->cls, dt);
    if (was_firing && !life_active(&s->storm))
        storm_forget(&s->storm_det);

    /* a level shift: quiet while a storm, or a silence, blocked route or
     * limit of the User's direction says it better */
    int others = life_active(&s->storm) || life_active(&g->silence) ||
                 life_active(&g->blocked) || life_active(&g->limit);
    shift_judge(&s->shift, &in, others, p, &o);
    if (!others || life_active(&s->shift_life)) {
        w = (ev_what_t){ ALERT_SHIFT, s->dir, in.learning, -1, 0 };
        drive(sh, &s->shift_life, &s->shift_alert, r->ts, &o, p->shift_for, p->shift_hold, &w,
              s->user, s->cls, 0);
    }

    /* learn: not while an alert of the series or of its User's direction
     * is active, damped while one may be coming (baseline.h) */
    int mode = BASE_NORMAL;
    if (life_active(&s->storm) || life_active(&g->silence) || life_active(&s->shift_life)) {
        mode = BASE_ANOMALOUS;
    } else if (s->base.age >= 2 * p->base_tau &&
               (storm_suspicious(&s->storm_det, p) || g->suspicious ||
                (!ex.learning && shift_suspicious(&s->shift, p)))) {
        /* damped for base_damp_max at most: a level that moved for good
         * (or a level learnt from a transient) is then learnt; never in
         * its first hour, too young a level to defend */
        if (s->damp_since == INT64_MIN)
            s->damp_since = r->ts;
        if (r->ts - s->damp_since < p->base_damp_max)
            mode = BASE_DAMPED;
    } else {
        s->damp_since = INT64_MIN;
    }
    base_learn(&s->base, &bc, count, dt, local_ts(sh, r->ts), mode);
    if (s->explain)
        explain_series(sh, s, &in, &ex, &storm_out, mode);

    /* add to the User's open bucket */
    if (!g->dirty) {
        if (open_bucket(sh, s->agg) < 0)
            return;
        g->bucket_ts = r->ts;
        g->obs = g->queued = g->expected = g->expected_mid = g->delivered = g->base_rate = 0;
        g->var_extra = 0;
        g->lin = 0;
        g->bucket_dt = 0;
        g->storming = g->learning = 0;
    }
    g->queued += count; /* every series, warm or not: blocked routes, limits */
    g->delivered += r->delivered;
    if (in.warm) {
        g->obs += count;
        g->expected += in.exp_lo;
        g->expected_mid += in.exp_mid;
        g->var_extra += phi * in.exp_lo * in.exp_lo;
        g->lin += (float)(in.disp * in.exp_lo);
        g->base_rate += ex.lo;
    }
    g->storming |= life_active(&s->storm);
    g->learning |= ex.learning;
    if (dt > g->bucket_dt)
        g->bucket_dt = dt;
}

/* ---- the clock ---------------------------------------------------------- */

/* The first idle-sweep grid time after t: sweeps fall on multiples of
 * idle_after/2 of event time, whatever the records that trigger them, so
 * every layout of Users over shards fills the same zeroes. */
static int64_t sweep_after(const shard_t *sh, int64_t t)
{
    int64_t step = sh->o.ingest.idle_after / 2;
    if (step <= 0)
        return INT64_MAX;
    int64_t q = t / step;
    if (t % step < 0)
        q--;
    return (q + 1) * step;
}

/* Fills series that have said nothing for their idle time (idle_of) with a
 * zero sample at grid time g: a series with no sample in an interval
 * carried none. */
static void idle_sweep(shard_t *sh, int64_t g)
{
    size_t n = st_series_extent(sh->st);
    for (size_t i = 0; i < n; i++) {
        series_t *s = st_series(sh->st, (uint32_t)i);
        if (!s->live || !s->seen || s->epoch != sh->epoch || g - s->last_ts <= idle_of(sh, s))
            continue;
        /* until its rhythm is known, a pause is no silence */
        if (s->cadence <= 0)
            continue;
        /* a quiet source (Kafka partition) says nothing of its Users */
        if (sh->nsrc_stalled && sh->src_stalled[st_user(sh->st, s->user)->src])
            continue;
        smp_t zero = { .ts = g, .fields = LP_F_COUNT, .si = (uint32_t)i, .fill = 1 };
        sh->stats.idle_zeroes++;
        sh->stats.samples--; /* not a sample read */
        series_update(sh, (uint32_t)i, &zero);
    }
}

/* Every record before event time t has been seen: close the buckets and
 * run the sweeps that fall before t. */
static void clock_advance(shard_t *sh, int64_t t)
{
    if (sh->now == INT64_MIN) {
        sh->now = t;
        sh->next_sweep = sweep_after(sh, t);
        return;
    }
    if (t <= sh->now)
        return;
    close_buckets(sh);
    while (sh->next_sweep < t) {
        idle_sweep(sh, sh->next_sweep);
        close_buckets(sh);
        sh->next_sweep = sweep_after(sh, sh->next_sweep);
    }
    sh->now = t;
}

static void progress(shard_t *sh, int64_t at)
{
    event_t ev = { .type = EV_PROGRESS, .at = at };
    sh->o.emit(sh->o.emit_ctx, &ev);
}

/* The feed alert's event, of the whole feed (src 0) or of one source:
 * fired when the stall is seen, resolved at the gap's end. Each has an id
 * of its own at the top of the range, far from the detectors' ids. */
static void feed_event(shard_t *sh, int type, int64_t at, int64_t last, int64_t after,
                       unsigned src)
{
    if (after <= 0)
        after = sh->o.ingest.stall_after;
    event_t ev = { .type = (uint8_t)type, .kind = ALERT_FEED, .dir = DIR_BOTH,
                   .id = UINT32_MAX - src, .at = at, .starts_at = last,
                   .detected_at = last + after, .ends_at = at, .backlog = -1,
                   .src = (uint16_t)src };
    ev_names(&ev, "*", "all");
    sh->o.emit(sh->o.emit_ctx, &ev);
}

/* A source went quiet while others flow (REC_SRC_STALL) or resumed. */
static void source_stall(shard_t *sh, const rec_t *r)
{
    if (r->src == 0 || r->src >= REC_MAX_SOURCES || sh->src_stalled[r->src])
        return;
    sh->src_stalled[r->src] = 1;
    sh->nsrc_stalled++;
    if (sh->o.feed_owner)
        feed_event(sh, EV_FIRE, r->ts, r->aux, (int64_t)r->count, r->src);
}

static void source_resume(shard_t *sh, const rec_t *r)
{
    if (r->src == 0 || r->src >= REC_MAX_SOURCES || !sh->src_stalled[r->src])
        return;
    sh->src_stalled[r->src] = 0;
    sh->nsrc_stalled--;
    if (sh->o.feed_owner)
        feed_event(sh, EV_RESOLVE, r->ts, r->aux, (int64_t)r->count, r->src);
    /* its series restart their intervals, as after a gap of the whole feed */
    for (size_t i = 0, n = st_series_extent(sh->st); i < n; i++) {
        series_t *s = st_series(sh->st, (uint32_t)i);
        if (s->live && st_user(sh->st, s->user)->src == r->src)
            s->epoch = sh->epoch - 1;
    }
}

/* ---- the series limit -------------------------------------------------- */

/* pend_sort: a counting sort over the table's slots pays once the event
 * time's samples cover at least 1/PEND_COUNTING_SHARE of them (a round of
 * a DSP's feed); fewer go through qsort. */
#define PEND_COUNTING_SHARE 8

#define EVICT_SAMPLES 16 /* candidates looked at per eviction (sampled LRU, as Redis does) */
#define EVICT_ROUNDS 4   /* rounds of candidates before giving up */

/* Whether series s can go: nothing refers to it or its User's aggregate. */
static int evictable(shard_t *sh, const series_t *s)
{
    /* a sample waiting in this event time goes with its series only when
     * it is the series' first (an anchor: nothing learnt, nothing judged) */
    if (!s->live || (s->pending && s->seen) || s->alert || life_active(&s->storm) ||
        s->shift_alert || life_active(&s->shift_life))
        return 0;
    const agg_t *g = st_agg(sh->st, s->agg);
    return !g->dirty && !g->blocked_alert && !g->silence_alert && !g->limit_alert &&
           !life_active(&g->blocked) && !life_active(&g->silence) && !life_active(&g->limit);
}

/*
 * Makes room for a new series: among EVICT_SAMPLES series picked at random
 * (a seeded generator, so the same input evicts the same series), removes
 * the one read least recently that is not alerting and has no open bucket.
 * A hostile feed of new ids thus replaces its own recent ids and the
 * long-idle, never the series that alert. 0, or -1 when none could go.
 */
static int evict_one(shard_t *sh)
{
    size_t extent = st_series_extent(sh->st);
    for (int round = 0; round < EVICT_ROUNDS && extent; round++) {
        int64_t best = -1, best_ts = INT64_MAX;
        for (int k = 0; k < EVICT_SAMPLES; k++) {
            sh->rng ^= sh->rng << 13; /* xorshift64 */
            sh->rng ^= sh->rng >> 7;
            sh->rng ^= sh->rng << 17;
            uint32_t i = (uint32_t)(sh->rng % extent);
            const series_t *s = st_series(sh->st, i);
            if (evictable(sh, s) && s->last_sample < best_ts) {
                best = i;
                best_ts = s->last_sample;
            }
        }
        if (best < 0)
            continue;
        /* the User goes with its last series: the alert stage forgets it too */
        const user_t *u = st_user(sh->st, st_series(sh->st, (uint32_t)best)->user);
        int last = u->nseries == 1;
        event_t ev = { .type = EV_EVICT, .at = sh->now, .backlog = -1 };
        if (last)
            ev_names(&ev, u->name, "all");
        const series_t *victim = st_series(sh->st, (uint32_t)best);
        int pending = victim->pending;
        uint32_t pend_ix = victim->pend_ix;
        if (st_remove(sh->st, (uint32_t)best) == SW_OK) {
            note_learning(sh, (uint32_t)best, 0);
            if (pending) { /* its first sample waited: read, it goes too */
                sh->pend[pend_ix].si = PEND_NONE;
                sh->pend_dropped = 1;
                sh->stats.samples++;
            }
            sh->stats.evicted++;
            if (last)
                sh->o.emit(sh->o.emit_ctx, &ev);
            return 0;
        }
    }
    return -1;
}

/* User ui's state to opts.publish. */
static void publish_user(shard_t *sh, uint32_t ui)
{
    const user_t *u = st_user(sh->st, ui);
    unsigned char *blob;
    size_t len;
    if (state_encode_user(sh->st, ui, u->src, fire_of, sh, &blob, &len) < 0) {
        sh->stats.nomem++;
        return;
    }
    sh->o.publish(sh->o.publish_ctx, u->name, u->src, blob, len);
    free(blob);
}


int shard_publish_pending(const shard_t *sh)
{
    return sh->nchanged != 0;
}

void shard_publish_ready(shard_t *sh, int64_t released)
{
    /* a User goes once every transition of its own is written: published
     * earlier, a crash could leave a transition decided, published as
     * done, and never written */
    size_t keep = 0;
    for (size_t i = 0; i < sh->nchanged; i++) {
        uint32_t ui = sh->changed[i].user;
        int ready = 1, first = 1;
        for (size_t k = 0; k < sh->nchanged && ready; k++)
            if (sh->changed[k].user == ui) {
                ready = sh->changed[k].at < released;
                first = first && k >= i;
            }
        if (!ready)
            sh->changed[keep++] = sh->changed[i];
        else if (first && st_user(sh->st, ui)->src)
            publish_user(sh, ui);
    }
    sh->nchanged = keep;
}

size_t shard_publish_all(shard_t *sh, shard_publish_fn fn, void *ctx)
{
    size_t n = 0;
    for (size_t i = 0, ext = st_user_extent(sh->st); i < ext; i++) {
        const user_t *u = st_user(sh->st, (uint32_t)i);
        unsigned char *blob;
        size_t len;
        if (!u->name || !u->src)
            continue;
        if (state_encode_user(sh->st, (uint32_t)i, u->src, fire_of, sh, &blob, &len) < 0) {
            sh->stats.nomem++;
            continue;
        }
        fn(ctx, u->name, u->src, blob, len);
        free(blob);
        n++;
    }
    return n;
}

/* ---- Users moving between instances -------------------------------------- */

/* Tells the alert stage that alert `id` of User u goes on elsewhere. */
static void hand_off_alert(shard_t *sh, uint32_t *id, alert_kind_t kind, int dir,
                           const user_t *u, const char *cls)
{
    if (!*id)
        return;
    event_t ev = ev_alert(kind, dir);
    ev.type = EV_HANDOFF;
    ev.id = *id;
    ev.at = sh->now;
    emit_named(sh, &ev, u, cls);
    fire_drop(sh, *id);
    *id = 0;
}

/*
 * Removes User ui and everything that refers to it: its alerts are handed
 * off (the alert stage drops them without a line), its open buckets
 * dropped, its series removed, and the alert stage told to forget it.
 */
static void release_user(shard_t *sh, uint32_t ui)
{
    size_t keep = 0; /* its pending publications go with it */
    for (size_t i = 0; i < sh->nchanged; i++)
        if (sh->changed[i].user != ui)
            sh->changed[keep++] = sh->changed[i];
    sh->nchanged = keep;
    user_t *u = st_user(sh->st, ui);
    char name[LP_MAX_ID + 1];
    copy_id(name, u->name);
    for (int d = 0; d < 2; d++) {
        if (u->agg[d] == ST_NO_AGG)
            continue;
        agg_t *g = st_agg(sh->st, u->agg[d]);
        hand_off_alert(sh, &g->blocked_alert, ALERT_BLOCKED, g->dir, u, "all");
        hand_off_alert(sh, &g->silence_alert, ALERT_SILENCE, g->dir, u, "all");
        hand_off_alert(sh, &g->limit_alert, ALERT_LIMIT, g->dir, u, "all");
        if (g->dirty) { /* out of the open buckets */
            size_t k = 0;
            for (size_t i = 0; i < sh->ndirty; i++)
                if (sh->dirty[i] != u->agg[d])
                    sh->dirty[k++] = sh->dirty[i];
            sh->ndirty = k;
            g->dirty = 0;
        }
    }
    for (size_t i = 0, n = st_series_extent(sh->st); i < n; i++) {
        series_t *s = st_series(sh->st, (uint32_t)i);
        if (!s->live || s->user != ui)
            continue;
        hand_off_alert(sh, &s->alert, ALERT_STORM, s->dir, st_user(sh->st, ui), s->cls);
        hand_off_alert(sh, &s->shift_alert, ALERT_SHIFT, s->dir, st_user(sh->st, ui), s->cls);
        st_remove(sh->st, (uint32_t)i); /* the User goes with its last series */
        note_learning(sh, (uint32_t)i, 0);
    }
    event_t ev = { .type = EV_EVICT, .at = sh->now, .backlog = -1 };
    ev_names(&ev, name, "all");
    sh->o.emit(sh->o.emit_ctx, &ev);
}

size_t shard_handoff(shard_t *sh, unsigned src, int publish)
{
    pend_flush(sh);
    /* the Users first, then their removal: removing frees slots */
    size_t n = 0, cap = 0;
    uint32_t *users = NULL;
    for (size_t i = 0, ext = st_user_extent(sh->st); i < ext; i++) {
        const user_t *u = st_user(sh->st, (uint32_t)i);
        if (!u->name || u->src != src)
            continue;
        if (VEC_RESERVE(users, cap, n + 1, 64) < 0) {
            sh->stats.nomem++;
            break;
        }
        users[n++] = (uint32_t)i;
    }
    for (size_t k = 0; k < n; k++) {
        if (publish && sh->o.publish)
            publish_user(sh, users[k]);
        release_user(sh, users[k]);
    }
    free(users);
    /* its own feed_stalled ends here: the new owner judges it */
    if (src < REC_MAX_SOURCES && sh->src_stalled[src]) {
        sh->src_stalled[src] = 0;
        sh->nsrc_stalled--;
        if (sh->o.feed_owner)
            feed_event(sh, EV_RESOLVE, sh->now, sh->now, 0, src);
    }
    return n;
}

/* Takes an alert that fired elsewhere: a new id here, and the alert stage
 * told to go on with it (no line). */
static void adopt_alert(shard_t *sh, uint32_t *id, const state_fire_t *f, alert_kind_t kind,
                        int dir, const user_t *u, const char *cls)
{
    event_t ev = ev_alert(kind, dir);
    ev.type = EV_ADOPT;
    ev.id = *id = new_id(sh);
    ev.at = sh->now != INT64_MIN ? sh->now : f->detected_at;
    ev.starts_at = f->starts_at;
    ev.detected_at = f->detected_at;
    ev.since = f->since;
    ev.value = f->value;
    ev.baseline = f->baseline;
    ev.backlog = f->backlog;
    ev.limit = f->limit;
    ev.incident = f->incident;
    ev.role = f->role;
    ev.severity = f->severity;
    ev.learning = f->learning;
    fire_keep(sh, *id, &ev);
    emit_named(sh, &ev, u, cls);
}

int shard_adopt(shard_t *sh, const state_user_t *in)
{
    pend_flush(sh);
    if (!in->nseries || in->src >= REC_MAX_SOURCES)
        return SW_EINVAL;
    int64_t have = st_find_user(sh->st, in->user, in->ulen);
    if (have >= 0) /* a copy here is older than the one handed over: it goes */
        release_user(sh, (uint32_t)have);
    uint32_t ui = 0;
    for (size_t i = 0; i < in->nseries; i++) {
        const state_user_series_t *b = &in->series[i];
        int64_t si = st_intern(sh->st, in->user, in->ulen, b->dir, b->cls, b->clen,
                               sh->o.detect_for, sh->o.detect_ctx);
        if (si < 0)
            return (int)si;
        series_t *s = st_series(sh->st, (uint32_t)si);
        ui = s->user;
        s->base = b->base;
        s->seen = (uint8_t)(b->seen != 0);
        s->epoch = sh->epoch;
        s->last_ts = s->last_sample = b->last_ts;
        s->rate = b->rate;
        s->backlog = b->backlog;
        s->cadence = b->cadence;
        s->storm_det = b->storm_det;
        s->storm = b->storm;
        s->shift = b->shift;
        s->shift_life = b->shift_life;
        st_agg(sh->st, s->agg)->backlog += b->backlog;
        if (b->firing)
            adopt_alert(sh, &s->alert, &b->fire, ALERT_STORM, s->dir, st_user(sh->st, ui),
                        s->cls);
        if (b->shift_firing)
            adopt_alert(sh, &s->shift_alert, &b->shift_fire, ALERT_SHIFT, s->dir,
                        st_user(sh->st, ui), s->cls);
    }
    user_t *u = st_user(sh->st, ui);
    u->src = (uint16_t)in->src;
    for (size_t i = 0; i < in->naggs; i++) {
        const state_user_agg_t *b = &in->agg[i];
        if (u->agg[b->dir] == ST_NO_AGG)
            continue; /* no series in that direction */
        agg_t *g = st_agg(sh->st, u->agg[b->dir]);
        g->sil = b->sil;
        det_route_t *route = st_route(sh->st, g);
        if (route)
            *route = b->route;
        if (b->open && open_bucket(sh, u->agg[b->dir]) == 0) {
            g->bucket_ts = b->bucket_ts;
            g->bucket_dt = b->bucket_dt;
            g->obs = b->obs;
            g->queued = b->queued;
            g->expected = b->expected;
            g->expected_mid = b->expected_mid;
            g->var_extra = b->var_extra;
            g->lin = b->lin;
            g->delivered = b->delivered;
            g->base_rate = b->base_rate;
            g->rate = b->rate;
            g->storming = (uint8_t)b->storming;
            g->learning = (uint8_t)b->learning;
        }
        g->blocked = b->life[STATE_BLOCKED];
        g->silence = b->life[STATE_SILENCE];
        g->limit = b->life[STATE_LIMIT];
        static const alert_kind_t kinds[STATE_NLIVES] = { ALERT_BLOCKED, ALERT_SILENCE,
                                                          ALERT_LIMIT };
        uint32_t *ids[STATE_NLIVES] = { &g->blocked_alert, &g->silence_alert, &g->limit_alert };
        for (int k = 0; k < STATE_NLIVES; k++)
            if (b->firing[k])
                adopt_alert(sh, ids[k], &b->fire[k], kinds[k], g->dir, u, "all");
    }
    return SW_OK;
}

/* ---- an operator's "accept as new normal" ----------------------------- */

/*
 * The level of User `user`'s direction `dir` at ts is its new normal: each
 * of its series rebases its profiles by what the last hour stood at
 * against them (the shift window), its shift detector starts afresh and a
 * shift alert resolves now. Counted; a User not held here changes nothing.
 */
static void accept_level(shard_t *sh, const rec_t *r)
{
    int64_t ui = st_find_user(sh->st, r->key, r->ulen);
    if (ui < 0) {
        sh->stats.accepts_unknown++;
        return;
    }
    sh->stats.accepts++;
    for (size_t i = 0, n = st_series_extent(sh->st); i < n; i++) {
        series_t *s = st_series(sh->st, (uint32_t)i);
        if (!s->live || s->user != (uint32_t)ui || s->dir != r->dir)
            continue;
        double factor = shift_ratio(&s->shift);
        if (factor > 0 && factor != 1.0)
            base_rebase(&s->base, factor);
        shift_reset(&s->shift);
        if (life_active(&s->shift_life)) {
            det_out_t o = { .cool = 1, .onset = INT64_MAX, .end = INT64_MAX,
                            .value = s->rate, .baseline = s->rate };
            ev_what_t w = { ALERT_SHIFT, s->dir, 0, -1, 0 };
            drive(sh, &s->shift_life, &s->shift_alert, r->ts, &o, 0, 0, &w, s->user, s->cls, 0);
        }
    }
}

/* ---- the samples of one event time -------------------------------------- */

/*
 * Merges a repeat of a sample into the copy kept. A repeat must never hide
 * trouble, whichever copy came first (a producer allowed in may forge one
 * just ahead of the real one): field by field the reading that shows more
 * is kept, the larger count, rejections and backlog and the smaller
 * deliveries. Copies that disagree are counted as conflicts.
 */
static void pend_merge(shard_t *sh, smp_t *keep, const smp_t *rep)
{
    sh->stats.duplicates++;
    uint32_t both = keep->fields & rep->fields;
    int differ = ((both & LP_F_COUNT) && keep->count != rep->count) ||
                 ((both & LP_F_DELIVERED) && keep->delivered != rep->delivered) ||
                 ((both & LP_F_REJECTED) && keep->rejected != rep->rejected) ||
                 ((both & LP_F_BACKLOG) && keep->backlog != rep->backlog) ||
                 keep->fields != rep->fields;
    if (differ) {
        sh->stats.conflicts++;
        const user_t *u = st_user(sh->st, st_series(sh->st, keep->si)->user);
        copy_id(sh->stats.conflict_user, u->name);
        sh->stats.conflict_ts = keep->ts;
    }
#define TAKE(bit, field, better)                                                     \
    if ((rep->fields & (bit)) && (!(keep->fields & (bit)) || rep->field better keep->field)) \
        keep->field = rep->field;
    TAKE(LP_F_COUNT, count, >)
    TAKE(LP_F_REJECTED, rejected, >)
    TAKE(LP_F_BACKLOG, backlog, >)
    TAKE(LP_F_DELIVERED, delivered, <)
#undef TAKE
    keep->fields |= rep->fields;
}

/* Orders the pending samples by series: a counting sort when they cover a
 * good part of the table (a whole round), else qsort; O(n log n) at worst. */
static int smp_cmp(const void *a, const void *b)
{
    uint32_t x = ((const smp_t *)a)->si, y = ((const smp_t *)b)->si;
    return (x > y) - (x < y);
}

static void pend_sort(shard_t *sh)
{
    size_t n = sh->npend, extent = st_series_extent(sh->st);
    if (sh->pend_sorted || n < 2)
        return;
    if (n * PEND_COUNTING_SHARE < extent || !sh->pend_tmp) {
        qsort(sh->pend, n, sizeof(*sh->pend), smp_cmp);
        return;
    }
    if (extent + 1 > sh->pend_count_cap) {
        uint32_t *c = realloc(sh->pend_count, (extent + 1) * sizeof(*c));
        if (!c) {
            qsort(sh->pend, n, sizeof(*sh->pend), smp_cmp);
            return;
        }
        sh->pend_count = c;
        sh->pend_count_cap = extent + 1;
    }
    uint32_t *c = sh->pend_count;
    memset(c, 0, (extent + 1) * sizeof(*c));
    for (size_t i = 0; i < n; i++)
        c[sh->pend[i].si + 1]++;
    for (size_t k = 1; k <= extent; k++)
        c[k] += c[k - 1];
    for (size_t i = 0; i < n; i++)
        sh->pend_tmp[c[sh->pend[i].si]++] = sh->pend[i];
    smp_t *t = sh->pend;
    sh->pend = sh->pend_tmp;
    sh->pend_tmp = t;
}

/* Runs the pending samples through the detectors, in series order. */
static void pend_flush(shard_t *sh)
{
    if (!sh->npend)
        return;
    if (sh->pend_dropped) { /* series evicted while they waited */
        size_t k = 0;
        for (size_t i = 0; i < sh->npend; i++)
            if (sh->pend[i].si != PEND_NONE)
                sh->pend[k++] = sh->pend[i];
        sh->npend = k;
        sh->pend_dropped = 0;
    }
    pend_sort(sh);
    for (size_t i = 0; i < sh->npend; i++) {
        const smp_t *m = &sh->pend[i];
        series_t *s = st_series(sh->st, m->si);
        s->pending = 0;
        series_update(sh, m->si, m);
        s->last_sample = m->ts;
        st_user(sh->st, s->user)->src = m->src;
    }
    sh->npend = 0;
}

/* Room for one more pending sample (and its sort's scratch): 0, or -1. */
static int pend_reserve(shard_t *sh)
{
    if (sh->npend < sh->pend_cap)
        return 0;
    size_t cap = sh->pend_cap ? sh->pend_cap * 2 : 256;
    smp_t *v = realloc(sh->pend, cap * sizeof(*v));
    if (!v)
        return -1;
    sh->pend = v;
    smp_t *t = realloc(sh->pend_tmp, cap * sizeof(*t));
    if (!t) { /* the counting sort needs it; qsort does not */
        free(sh->pend_tmp);
        sh->pend_tmp = NULL;
    } else {
        sh->pend_tmp = t;
    }
    sh->pend_cap = cap;
    return 0;
}

/* The hash a sample's series is filed under (st_hash). */
static uint32_t key_hash(const rec_t *r)
{
    return st_hash(r->key, r->ulen, r->dir, r->key + r->ulen, r->clen);
}

/* A sample from the router, its key_hash() given: interned now (the
 * series limit applies), run through the detectors with the rest of its
 * event time (pend_flush). */
static void take_sample(shard_t *sh, const rec_t *r, uint32_t hash)
{
    if (sh->npend && r->ts != sh->pend_ts)
        pend_flush(sh);
    clock_advance(sh, r->ts);
    const char *cls = r->key + r->ulen;
    if (sh->o.max_series && st_nseries(sh->st) >= sh->o.max_series &&
        st_lookup_hashed(sh->st, hash, r->key, r->ulen, r->dir, cls, r->clen) < 0) {
        /* a loaded state or a lowered limit may leave more than one to go */
        while (st_nseries(sh->st) >= sh->o.max_series) {
            if (evict_one(sh) < 0) {
                sh->stats.refused++;
                return;
            }
        }
    }
    int64_t si = st_intern_hashed(sh->st, hash, r->key, r->ulen, r->dir, cls, r->clen,
                                  sh->o.detect_for, sh->o.detect_ctx);
    if (si < 0 || pend_reserve(sh) < 0) {
        sh->stats.nomem++;
        return;
    }
    series_t *s = st_series(sh->st, (uint32_t)si);
    smp_t in = { .ts = r->ts, .count = r->count, .delivered = r->delivered,
                 .rejected = r->rejected, .backlog = r->backlog, .si = (uint32_t)si,
                 .fields = r->fields, .src = r->src };
    if (s->pending) { /* a repeat of a sample of this event time */
        pend_merge(sh, &sh->pend[s->pend_ix], &in);
        return;
    }
    if (sh->npend == 0) {
        sh->pend_ts = r->ts;
        sh->pend_sorted = 1;
    } else if (in.si < sh->pend[sh->npend - 1].si) {
        sh->pend_sorted = 0;
    }
    s->pending = 1;
    s->pend_ix = (uint32_t)sh->npend;
    sh->pend[sh->npend++] = in;
}

int shard_resume(shard_t *sh, const shard_resume_t *r)
{
    if (r->kind == ALERT_FEED) {
        if (r->src != 0)
            return SW_EINVAL;
        if (!sh->o.feed_owner)
            return SW_OK; /* one shard reports the feed */
        if (sh->stalled)
            return SW_EEXISTS;
        sh->stalled = 1; /* resolved by REC_FEED_BACK at the feed's first sample */
        event_t ev = { .type = EV_ADOPT, .kind = ALERT_FEED, .dir = DIR_BOTH,
                       .id = UINT32_MAX, .at = r->fire.detected_at,
                       .starts_at = r->fire.starts_at, .detected_at = r->fire.detected_at,
                       .backlog = -1, .incident = r->fire.incident, .role = r->fire.role,
                       .severity = r->fire.severity };
        ev_names(&ev, "*", "all");
        sh->o.emit(sh->o.emit_ctx, &ev);
        return SW_OK;
    }
    if ((r->dir != DIR_SOUTH && r->dir != DIR_NORTH) || r->src >= REC_MAX_SOURCES)
        return SW_EINVAL;
    size_t ulen = strlen(r->user);
    life_t firing = { .onset = r->fire.starts_at, .since = r->fire.detected_at,
                      .state = LIFE_FIRING };
    if (r->kind == ALERT_STORM || r->kind == ALERT_SHIFT) { /* a series' */
        const char *cls = r->cls ? r->cls : "all";
        int64_t si = st_intern(sh->st, r->user, ulen, r->dir, cls, strlen(cls),
                               sh->o.detect_for, sh->o.detect_ctx);
        if (si < 0)
            return (int)si;
        series_t *s = st_series(sh->st, (uint32_t)si);
        uint32_t *id = r->kind == ALERT_STORM ? &s->alert : &s->shift_alert;
        if (*id)
            return SW_EEXISTS;
        *(r->kind == ALERT_STORM ? &s->storm : &s->shift_life) = firing;
        st_user(sh->st, s->user)->src = (uint16_t)r->src;
        adopt_alert(sh, id, &r->fire, r->kind, r->dir, st_user(sh->st, s->user), s->cls);
        return SW_OK;
    }
    int64_t ai = st_user_agg(sh->st, r->user, ulen, r->dir, sh->o.detect_for, sh->o.detect_ctx);
    if (ai < 0)
        return (int)ai;
    agg_t *g = st_agg(sh->st, (uint32_t)ai);
    life_t *l;
    uint32_t *id;
    switch (r->kind) {
    case ALERT_SILENCE: l = &g->silence; id = &g->silence_alert; break;
    case ALERT_BLOCKED: l = &g->blocked; id = &g->blocked_alert; break;
    case ALERT_LIMIT: l = &g->limit; id = &g->limit_alert; break;
    default: return SW_EINVAL;
    }
    if (*id)
        return SW_EEXISTS;
    *l = firing;
    user_t *u = st_user(sh->st, g->user);
    u->src = (uint16_t)r->src;
    adopt_alert(sh, id, &r->fire, r->kind, r->dir, u, "all");
    return SW_OK;
}

void shard_flush(shard_t *sh)
{
    pend_flush(sh);
}

/* A record, its key's hash given for a sample. */
static void record_hashed(shard_t *sh, const rec_t *r, uint32_t hash)
{
    if (r->type != REC_SAMPLE)
        pend_flush(sh); /* every control record comes after the samples before it */
    switch (r->type) {
    case REC_SAMPLE:
        take_sample(sh, r, hash);
        break;
    case REC_SRC_STALL: /* in event-time order: nothing from r->src since r->aux */
        clock_advance(sh, r->ts);
        source_stall(sh, r);
        break;
    case REC_SRC_RESUME:
        clock_advance(sh, r->ts);
        source_resume(sh, r);
        break;
    case REC_HANDOFF:
        shard_handoff(sh, r->src, r->aux != 0);
        break;
    case REC_FEED_BACK: /* the feed that stalled before a restart is back */
        clock_advance(sh, r->ts);
        if (sh->o.feed_owner && sh->stalled)
            feed_event(sh, EV_RESOLVE, r->ts, r->ts, 0, 0);
        sh->stalled = 0;
        break;
    case REC_ACCEPT: /* after the samples before it: the level they reached */
        clock_advance(sh, r->ts);
        accept_level(sh, r);
        break;
    case REC_SHED: /* samples were shed before r->ts: what they would have said is unknown */
        sh->stats.sheds++;
        sh->epoch++; /* every series restarts its interval: no idle zeroes, no silence */
        clock_advance(sh, r->ts);
        break;
    case REC_TICK: /* every record before r->ts has been delivered */
        if (sh->now != INT64_MIN)
            clock_advance(sh, r->ts);
        progress(sh, r->ts);
        break;
    case REC_STALL: /* nothing since r->aux: feed_stalled at r->ts */
        close_buckets(sh);
        if (sh->o.feed_owner && !sh->stalled)
            feed_event(sh, EV_FIRE, r->ts, r->aux, (int64_t)r->count, 0);
        sh->stalled = 1;
        progress(sh, r->ts + 1);
        break;
    case REC_GAP: /* the feed stalled after r->aux and resumed at r->ts */
        close_buckets(sh);
        if (sh->o.feed_owner) {
            if (!sh->stalled)
                feed_event(sh, EV_FIRE, r->aux + (int64_t)r->count, r->aux, (int64_t)r->count, 0);
            feed_event(sh, EV_RESOLVE, r->ts, r->aux, (int64_t)r->count, 0);
        }
        sh->stalled = 0;
        sh->epoch++; /* every series restarts its interval after the gap */
        sh->now = r->ts;
        sh->next_sweep = sweep_after(sh, r->ts);
        progress(sh, r->ts);
        break;
    }
}

void shard_record(shard_t *sh, const rec_t *r)
{
    record_hashed(sh, r, r->type == REC_SAMPLE ? key_hash(r) : 0);
}

/* How many records ahead of the one handled shard_records() starts each
 * stage of st_prefetch(): far enough apart for a stage's loads to arrive
 * before the next stage reads them, near enough to stay in the cache. */
static const unsigned prefetch_ahead[ST_PREFETCH_STAGES] = { 12, 8, 4, 2 };
#define HASH_RING 16 /* > the farthest: the hashes of records i .. i + 12 */

void shard_records(shard_t *sh, const rec_t *v, size_t n)
{
    /* each record's hash, and where stage 1 found its series */
    uint32_t h[HASH_RING] = { 0 }, found[HASH_RING] = { 0 };
    size_t far = prefetch_ahead[0];
    for (size_t k = 0; k < n && k < far; k++)
        if (v[k].type == REC_SAMPLE) {
            h[k % HASH_RING] = key_hash(&v[k]);
            st_prefetch(sh->st, h[k % HASH_RING], 0, 0);
        }
    for (size_t i = 0; i < n; i++) {
        for (int stage = 0; stage < ST_PREFETCH_STAGES; stage++) {
            size_t k = i + prefetch_ahead[stage], at = k % HASH_RING;
            if (k >= n || v[k].type != REC_SAMPLE)
                continue;
            if (stage == 0)
                h[at] = key_hash(&v[k]);
            found[at] = st_prefetch(sh->st, h[at], stage, found[at]);
        }
        record_hashed(sh, &v[i], h[i % HASH_RING]);
    }
}
