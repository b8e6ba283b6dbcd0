/*
 * router.c - parse, order, detect a stalled feed, route (router.h).
 */
#include "router.h"

#include <math.h>

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "hash.h"

/* Ticks go out when the watermark has moved this much: often enough for
 * prompt alerts, rarely enough to cost nothing. */
#define TICK_EVERY (SW_NS_PER_S / 2)
/* Samples ahead by more than ingest.max_jump that must agree before the
 * feed's time may jump: one producer with a bad clock cannot, a feed that
 * resumes after a long gap does at once. */
#define JUMP_CONFIRM 32

/* The feed's rhythm: steps of event time of at least RHYTHM_MIN (Users
 * stamped within a round are one step), two in a row within RHYTHM_AGREE
 * of each other; remembered as a maximum that fades over RHYTHM_TAU. */
#define RHYTHM_MIN (SW_NS_PER_S)
#define RHYTHM_AGREE 1.5
#define RHYTHM_TAU (86400.0 * SW_NS_PER_S)

struct router {
    router_opts_t o;
    reorder_t *ro;
    router_stats_t stats;
    char *scratch;
    int64_t max_ts;       /* newest event time seen */
    int64_t last_tick;    /* event time of the last tick sent */
    int stalled;          /* router_stall() has told the shards */
    int was_stalled;      /* router_feed_was_stalled(): a REC_FEED_BACK goes at the first sample */
    int64_t gap_floor;    /* time of the last gap sent: older samples are late */
    rec_t ahead[JUMP_CONFIRM]; /* samples far ahead of max_ts, held until confirmed */
    size_t nahead;
    /* sources that each arrive in order (Kafka partitions): the newest
     * time of each; lateness is judged from the slowest one still flowing */
    int64_t src_max[REC_MAX_SOURCES];
    uint8_t src_active[REC_MAX_SOURCES]; /* router_source_active() */
    uint8_t src_stalled[REC_MAX_SOURCES]; /* router_source_stall(), until it resumes */
    uint8_t src_gone[REC_MAX_SOURCES];    /* router_handoff(): its records are dropped */
    uint8_t src_catchup[REC_MAX_SOURCES]; /* assigned mid-run: behind the others at first */
    int64_t done_below;   /* every record older than this has been delivered */
    int64_t taken_newest; /* newest sample taken into ordering since router_take_newest() */
    unsigned nsrc, cur_src, nactive;
    int64_t clock;        /* clock_of(), cached; valid while clock_ok */
    int clock_ok;
    double rhythm;        /* the feed's own interval, ns (0: none learnt) */
    int64_t last_step;    /* the step of event time before (RHYTHM_MIN or more) */
};

unsigned router_shard_of(const char *user, size_t len, unsigned nshards)
{
    return nshards <= 1 ? 0 : (unsigned)(sw_hash(user, len, 0x53484152ULL) % nshards);
}

router_t *router_create(const router_opts_t *o)
{
    router_t *rt = calloc(1, sizeof(*rt));
    if (!rt)
        return NULL;
    rt->o = *o;
    if (rt->o.nshards == 0)
        rt->o.nshards = 1;
    rt->ro = reorder_create(o->ingest.lateness);
    if (rt->o.ingest.max_line < SW_MIN_MAX_LINE || rt->o.ingest.max_line > SW_MAX_MAX_LINE)
        rt->o.ingest.max_line = rt->o.ingest.max_line < SW_MIN_MAX_LINE ? SW_MIN_MAX_LINE
                                                                          : SW_MAX_MAX_LINE;
    rt->scratch = malloc(rt->o.ingest.max_line);
    rt->max_ts = rt->last_tick = rt->gap_floor = rt->done_below = INT64_MIN;
    rt->taken_newest = INT64_MIN;
    for (unsigned i = 0; i < REC_MAX_SOURCES; i++)
        rt->src_max[i] = INT64_MIN;
    if (!rt->ro || !rt->scratch) {
        router_destroy(rt);
        return NULL;
    }
    return rt;
}

void router_destroy(router_t *rt)
{
    if (!rt)
        return;
    reorder_destroy(rt->ro);
    free(rt->scratch);
    free(rt);
}

const router_stats_t *router_stats(const router_t *rt)
{
    return &rt->stats;
}

size_t router_depth(const router_t *rt)
{
    return reorder_depth(rt->ro);
}

size_t router_buffer_bytes(const router_t *rt)
{
    return reorder_bytes(rt->ro);
}

static void broadcast(router_t *rt, const rec_t *r)
{
    for (unsigned i = 0; i < rt->o.nshards; i++)
        rt->o.deliver(rt->o.ctx, i, r);
}

/* A sample (or a REC_ACCEPT) to the shard of its User; a control record
 * that went through the ordering (REC_SRC_*) to every shard. */
static void route(router_t *rt, const rec_t *r)
{
    if (rt->src_gone[r->src]) {
        rt->stats.handed_over++; /* read again by the instance that has it now */
        return;
    }
    if (r->type != REC_SAMPLE && r->type != REC_ACCEPT)
        broadcast(rt, r);
    else
        rt->o.deliver(rt->o.ctx, router_shard_of(r->key, r->ulen, rt->o.nshards), r);
}

/* Delivers what is ready (all with `drain`), then a tick when the
 * watermark moved enough. */
/*
 * The event time the feed has reached: the newest sample, unless sources
 * were declared (router_source_active): then the slowest active source,
 * -1 (hold everything) while one of them has sent nothing yet.
 */
static int64_t clock_of(router_t *rt)
{
    if (!rt->nactive)
        return rt->max_ts;
    if (rt->clock_ok)
        return rt->clock;
    int64_t c = INT64_MAX;
    for (unsigned i = 0; i < rt->nsrc; i++)
        if (rt->src_active[i] && rt->src_max[i] < c)
            c = rt->src_max[i] == INT64_MIN ? -1 : rt->src_max[i];
    rt->clock = c;
    rt->clock_ok = 1;
    return c;
}

/* Source src's newest time is now ts: the clock moves only when src was
 * the slowest (the scan is paid once per round of the sources, not per
 * sample). */
static void source_advanced(router_t *rt, unsigned src, int64_t ts)
{
    int64_t old = rt->src_max[src];
    if (ts <= old)
        return;
    rt->src_max[src] = ts;
    if (rt->src_active[src] && rt->clock_ok && (old == INT64_MIN || old <= rt->clock))
        rt->clock_ok = 0;
}

static void release(router_t *rt, int drain)
{
    rec_t r;
    while (reorder_pop(rt->ro, &r, drain))
        route(rt, &r);
    if (rt->max_ts == INT64_MIN || (!drain && clock_of(rt) < 0))
        return;
    int64_t w = drain ? rt->max_ts + 1 : clock_of(rt) - rt->o.ingest.lateness;
    if (w > rt->done_below)
        rt->done_below = w;
    if (rt->last_tick == INT64_MIN || w - rt->last_tick >= TICK_EVERY ||
        (drain && w > rt->last_tick)) {
        rec_t tick = { .type = REC_TICK, .ts = w };
        broadcast(rt, &tick);
        rt->last_tick = w;
    }
}

int64_t router_stall_after(const router_t *rt)
{
    double own = rt->o.ingest.stall_cadences * rt->rhythm;
    return own > (double)rt->o.ingest.stall_after ? (int64_t)own : rt->o.ingest.stall_after;
}

/* Learns the feed's rhythm from a step of event time. */
static void learn_rhythm(router_t *rt, int64_t step)
{
    if (step < RHYTHM_MIN)
        return;
    rt->rhythm *= exp(-(double)step / RHYTHM_TAU);
    double a = (double)step, b = (double)rt->last_step;
    if (rt->last_step > 0 && a <= RHYTHM_AGREE * b && b <= RHYTHM_AGREE * a) {
        double both = a < b ? a : b;
        if (both > rt->rhythm)
            rt->rhythm = both;
    }
    rt->last_step = step;
}

static void stall(router_t *rt)
{
    release(rt, 1);
    int64_t after = router_stall_after(rt);
    rec_t st = { .type = REC_STALL, .ts = rt->max_ts + after, .aux = rt->max_ts,
                 .count = (double)after };
    broadcast(rt, &st);
    rt->stalled = 1;
    rt->stats.feed_stalls++;
}

void router_stall(router_t *rt)
{
    if (!rt->stalled && rt->max_ts != INT64_MIN)
        stall(rt);
}

int router_accept(router_t *rt, const char *user, size_t len, int dir)
{
    if (!user || len == 0 || len > LP_MAX_ID || (dir != DIR_SOUTH && dir != DIR_NORTH))
        return SW_EINVAL;
    if (rt->max_ts == INT64_MIN)
        return SW_ENOTFOUND; /* no event time yet: no User to accept */
    rec_t a = { .type = REC_ACCEPT, .ts = rt->max_ts, .dir = (uint8_t)dir,
                .ulen = (uint8_t)len };
    memcpy(a.key, user, len);
    if (reorder_push_control(rt->ro, &a) < 0) {
        rt->stats.nomem++;
        return SW_ENOMEM;
    }
    release(rt, 0);
    return SW_OK;
}

void router_feed_was_stalled(router_t *rt)
{
    rt->was_stalled = 1;
}

void router_count_bad(router_t *rt, lp_result_t res)
{
    rt->stats.lines++;
    rt->stats.by_result[res]++;
    if (lp_result_is_bad(res))
        rt->stats.bad++;
}

/* Takes a parsed sample into event-time order. */
/* Sends a gap at r's time: first everything buffered (all older than r),
 * so that every shard sees the gap after all that came before it, and
 * later samples older than it count as late. */
static void gap_at(router_t *rt, const rec_t *r)
{
    release(rt, 1);
    rec_t gap = { .type = REC_GAP, .ts = r->ts, .aux = rt->max_ts,
                  .count = (double)router_stall_after(rt) };
    broadcast(rt, &gap);
    rt->gap_floor = r->ts;
    rt->stalled = 0;
}

/* The first sample of a source that stalled: it resumes at the sample's
 * time, in order with the rest. */
static void source_resume(router_t *rt, const rec_t *r)
{
    unsigned src = rt->cur_src;
    rec_t res = { .type = REC_SRC_RESUME, .ts = r->ts, .aux = rt->src_max[src],
                  .count = (double)router_stall_after(rt), .src = (uint16_t)src };
    if (reorder_push_control(rt->ro, &res) < 0)
        rt->stats.nomem++;
    rt->src_stalled[src] = 0;
}

/*
 * A source assigned while the others had already been released (a Kafka
 * partition taken over) starts a little behind them: what its last owner
 * had processed is not quite where this instance's clock is. Its samples
 * up to a lateness older than what was released go straight to their
 * shards (each User's samples stay in order, and nothing older than its
 * last is taken twice) instead of being late; once it has caught up it is
 * ordered like any other. Returns 1 when r was taken so.
 */
static int catch_up(router_t *rt, const rec_t *r)
{
    unsigned src = rt->cur_src;
    int64_t rel = reorder_released_ts(rt->ro);
    if (rel == INT64_MIN || r->ts >= rel) {
        rt->src_catchup[src] = 0;
        return 0;
    }
    if (r->ts < rel - rt->o.ingest.lateness)
        return 0; /* too far behind: late, as it would be anyway */
    rt->stats.records++;
    rt->stats.caught_up++;
    if (r->ts > rt->taken_newest)
        rt->taken_newest = r->ts;
    source_advanced(rt, src, r->ts);
    route(rt, r);
    return 1;
}

static void accept(router_t *rt, rec_t *r)
{
    if (rt->was_stalled) {
        rec_t back = { .type = REC_FEED_BACK, .ts = r->ts };
        if (reorder_push_control(rt->ro, &back) < 0)
            rt->stats.nomem++;
        rt->was_stalled = 0;
    }
    if (rt->src_stalled[rt->cur_src])
        source_resume(rt, r);
    if (rt->src_catchup[rt->cur_src] && catch_up(rt, r))
        return;
    if (r->ts < rt->gap_floor) {
        rt->stats.late++; /* before a gap already announced: out of order */
        return;
    }
    /* the whole feed was quiet for longer than the stall time (its own
     * rhythm's stall_cadences, or stall_after): in event time this shows
     * when it resumes; the step is learnt first, so a feed whose rhythm
     * is slow stalls only the first time */
    if (rt->max_ts != INT64_MIN && r->ts > rt->max_ts)
        learn_rhythm(rt, r->ts - rt->max_ts);
    if (rt->max_ts != INT64_MIN && r->ts - rt->max_ts > router_stall_after(rt)) {
        if (!rt->stalled)
            stall(rt);
        gap_at(rt, r);
        rt->last_tick = r->ts;
    }
    if (rt->stalled && r->ts > rt->max_ts) {
        /* live: the wall clock had fired the stall, data is back within the
         * stall time of event time: no gap, only a late start */
        gap_at(rt, r);
    }
    int rc = reorder_push(rt->ro, r);
    if (rc == 1)
        rt->stats.late++;
    else if (rc < 0)
        rt->stats.nomem++;
    else {
        rt->stats.records++;
        if (r->ts > rt->taken_newest)
            rt->taken_newest = r->ts;
    }
    if (r->ts > rt->max_ts)
        rt->max_ts = r->ts;
    source_advanced(rt, rt->cur_src, r->ts);
    if (rt->nactive)
        reorder_set_clock(rt->ro, clock_of(rt));
    release(rt, 0);
}

/*
 * A sample far ahead of the feed's time (a producer's clock years off, a
 * corrupt timestamp) would move the watermark there and make every later
 * sample late. It waits instead; JUMP_CONFIRM of them in a row mean the
 * feed moved on (taken, in arrival order), a sample in the old time means
 * they were wrong (dropped, counted as ahead).
 */
static void hold_ahead(router_t *rt, const rec_t *r)
{
    rt->ahead[rt->nahead++] = *r;
    if (rt->nahead < JUMP_CONFIRM)
        return;
    size_t n = rt->nahead;
    rt->nahead = 0;
    for (size_t i = 0; i < n; i++)
        accept(rt, &rt->ahead[i]);
}

static void drop_ahead(router_t *rt)
{
    rt->stats.ahead += rt->nahead;
    rt->nahead = 0;
}

void router_source_active(router_t *rt, unsigned src, int active)
{
    if (src >= REC_MAX_SOURCES)
        return;
    if (src >= rt->nsrc)
        rt->nsrc = src + 1;
    if (!rt->src_active[src] == !active)
        return;
    rt->src_active[src] = active != 0;
    rt->nactive += active ? 1 : -1;
    rt->clock_ok = 0;
    reorder_set_clock(rt->ro, rt->nactive ? clock_of(rt) : INT64_MIN);
    release(rt, 0);
}

void router_source_stall(router_t *rt, unsigned src)
{
    if (src >= REC_MAX_SOURCES || rt->src_stalled[src] || rt->src_max[src] == INT64_MIN)
        return;
    /* in the stream at the source's last sample + the stall time, like the
     * whole feed's: every shard sees it at the same point of event time */
    int64_t after = router_stall_after(rt);
    rec_t st = { .type = REC_SRC_STALL, .ts = rt->src_max[src] + after, .aux = rt->src_max[src],
                 .count = (double)after, .src = (uint16_t)src };
    if (reorder_push_control(rt->ro, &st) < 0) {
        rt->stats.nomem++;
        return;
    }
    rt->src_stalled[src] = 1;
    rt->stats.source_stalls++;
    router_source_active(rt, src, 0);
}

void router_handoff(router_t *rt, unsigned src, int publish)
{
    if (src == 0 || src >= REC_MAX_SOURCES)
        return;
    router_source_active(rt, src, 0);
    rt->src_gone[src] = 1;
    rt->src_stalled[src] = 0;
    rec_t h = { .type = REC_HANDOFF, .ts = rt->done_below, .aux = publish != 0,
                .src = (uint16_t)src };
    broadcast(rt, &h);
}

void router_source_assigned(router_t *rt, unsigned src)
{
    if (src == 0 || src >= REC_MAX_SOURCES)
        return;
    rt->src_gone[src] = 0;
    rt->src_catchup[src] = reorder_released_ts(rt->ro) != INT64_MIN;
}

int64_t router_take_newest(router_t *rt)
{
    int64_t t = rt->taken_newest;
    rt->taken_newest = INT64_MIN;
    return t;
}

int64_t router_done_below(const router_t *rt)
{
    return rt->done_below;
}

int router_source_stalled(const router_t *rt, unsigned src)
{
    return src < REC_MAX_SOURCES && rt->src_stalled[src];
}

void router_set_source(router_t *rt, unsigned src)
{
    rt->cur_src = src < REC_MAX_SOURCES ? src : 0;
    if (rt->cur_src >= rt->nsrc)
        rt->nsrc = rt->cur_src + 1;
}

lp_result_t router_feed_line(router_t *rt, const char *line, size_t len)
{
    lp_sample_t smp;
    rt->stats.lines++;
    rt->stats.bytes += len + 1;
    lp_result_t res = len > rt->o.ingest.max_line
                          ? LP_BAD_TOO_LONG
                          : lp_parse(line, len, rt->o.ingest.ts_mult, &smp, rt->scratch,
                                     rt->o.ingest.max_line);
    if (res == LP_OK && !lp_ts_in_range(smp.ts))
        res = LP_BAD_TIMESTAMP; /* see LP_TS_MIN, LP_TS_MAX */
    rt->stats.by_result[res]++;
    if (res != LP_OK) {
        if (lp_result_is_bad(res))
            rt->stats.bad++;
        else if (res == LP_SKIP_MEASUREMENT)
            rt->stats.skipped++;
        return res;
    }
    /* every field set but the unused tail of key[], which nobody reads:
     * zeroing all 192 bytes of every record showed in the profile */
    rec_t r;
    r.type = REC_SAMPLE;
    r.ts = smp.ts;
    r.aux = 0;
    r.count = smp.count;
    r.delivered = smp.delivered;
    r.rejected = smp.rejected;
    r.backlog = smp.backlog;
    r.seq = 0;
    r.fields = smp.fields;
    r.dir = (uint8_t)smp.dir;
    r.ulen = (uint8_t)smp.user.len;
    r.clen = (uint8_t)smp.cls.len;
    r.src = (uint16_t)rt->cur_src;
    memcpy(r.key, smp.user.p, smp.user.len);
    memcpy(r.key + smp.user.len, smp.cls.p, smp.cls.len);

    if (rt->max_ts != INT64_MIN && rt->o.ingest.max_jump > 0 &&
        r.ts - rt->max_ts > rt->o.ingest.max_jump) {
        hold_ahead(rt, &r);
        return res;
    }
    if (rt->nahead)
        drop_ahead(rt);
    accept(rt, &r);
    return res;
}

void router_finish(router_t *rt)
{
    drop_ahead(rt); /* never followed: the input ended */
    release(rt, 1);
}
