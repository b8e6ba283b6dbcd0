/*
 * sim_plan.c - the simulator's plan, and the two documents written from it
 * alone: the change register (YAML) and the truth (labels.json shape).
 *
 * sim_plan_build() turns validated options into what happens when: the
 * effects each User undergoes, as spans of grid time; the declared changes;
 * the truth's incidents, allowed windows and decoys; the grid steps that
 * carry a planted quirk; and which Users sample at which step (the cadence
 * groups). sim_traffic.c then only reads the plan. Called by sim_write()
 * (sim.c); nothing here keeps state between calls.
 */
#include "sim_priv.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "timefmt.h"

#define BLAST_TAIL (10 * MIN_NS)   /* allowed window after a storm, for the impacted Users */
#define MAINT_TAIL (10 * MIN_NS)   /* allowed window after a DCC maintenance change */
#define GAP_TAIL (5 * MIN_NS)      /* allowed window after a feed gap (feed_stalled only) */
#define DECOY_CLEARANCE (15 * MIN_NS) /* bursts keep this far from their User's incidents */
#define NOOP_CLEARANCE (30 * MIN_NS)  /* no-op changes keep this far from their User's incidents */
#define N_MALFORMED_KINDS 6
#define LONG_BURST_MIN_S 30        /* long bursts last 30-60 s */
#define LONG_BURST_SPAN_S 31
#define SMALL_CODE_SHARE 0.05      /* a code storm picks a code of at most this share */
#define TZ_SCAN_S 900              /* clock changes are looked for every 15 min, then to the second */

enum { CK_FIREWALL, CK_MDM, CK_FIRMWARE, CK_NETWORK, CK_MAINT, CK_HEADEND, CK_MIGRATION };

static const struct {
    const char *kind, *title, *affects, *expected;
} change_kinds[] = {
    [CK_FIREWALL] = { "firewall", "Gateway firewall rule change", "north", "no effect on traffic" },
    [CK_MDM] = { "mdm", "Meter data system go-live", "south", "request volumes unchanged" },
    [CK_FIRMWARE] = { "firmware", "ESME firmware roll-out", "north", NULL },
    [CK_NETWORK] = { "network", "Network re-addressing at the User's site", "both", "short interruptions" },
    [CK_MAINT] = { "maintenance", "DSP planned maintenance (Forward Schedule of Change)", "both",
                   "lower throughput for all Users" },
    [CK_HEADEND] = { "headend", "Head-end software release", "both", NULL },
    [CK_MIGRATION] = { "migration", "Meter estate migration between Users", "both", NULL },
};

/* What each incident kind does, the truth it gives, and the change kind
 * that fits it when its User declares it. Shifts take their effect and
 * direction from the incident's `dir`. */
static const struct {
    int ef;
    const char *alert, *dir;
    int ck;
} kind_plan[SIM_KIND_COUNT_] = {
    [SIM_BLOCKED] = { EF_BLOCK, "blocked_route", "north", CK_FIREWALL },
    [SIM_DEGRADED] = { EF_DEGRADE, "blocked_route", "north", CK_FIREWALL },
    [SIM_STORM_NORTH] = { EF_STORM_N, "storm", "north", CK_FIRMWARE },
    [SIM_STORM_SOUTH] = { EF_STORM_S, "storm", "south", CK_MDM },
    [SIM_SILENCE_NORTH] = { EF_SIL_N, "silence", "north", CK_NETWORK },
    [SIM_SILENCE_SOUTH] = { EF_SIL_S, "silence", "south", CK_NETWORK },
    [SIM_FEED_GAP] = { EF_GAP, "feed_stalled", NULL, CK_HEADEND },
    [SIM_BURST] = { EF_BURST, NULL, NULL, CK_HEADEND },
    [SIM_RAMP_SOUTH] = { EF_RAMP_S, "storm", "south", CK_MDM },
    [SIM_RAMP_NORTH] = { EF_RAMP_N, "storm", "north", CK_FIRMWARE },
    [SIM_STORM_CODE] = { EF_STORM_CODE, "storm", "north", CK_FIRMWARE },
    [SIM_SHIFT_UP] = { EF_SHIFT_S, "shift", "south", CK_MIGRATION },
    [SIM_SHIFT_DOWN] = { EF_SHIFT_S, "shift", "south", CK_MIGRATION },
};

void sim_plan_free(plan_t *pl)
{
    free(pl->eff);
    free(pl->chg);
    free(pl->inc);
    free(pl->alw);
    free(pl->dec);
    free(pl->pool);
    free(pl->q);
    free(pl->gap);
}

static void inc_span(const sim_opts_t *o, int64_t grid, const sim_incident_t *in, int64_t *on, int64_t *end)
{
    *on = sim_sample_time(o, in->at);
    *end = sim_sample_time(o, in->at + in->duration);
    if (*end <= *on)
        *end = *on + grid;
}

/* Non-zero when User u has an incident (not a burst) overlapping [from - clear, to + clear). */
static int user_busy(const sim_opts_t *o, int64_t grid, int u, int64_t from, int64_t to, int64_t clear)
{
    for (size_t k = 0; k < o->n_incidents; k++) {
        const sim_incident_t *in = &o->incidents[k];
        if (in->kind == SIM_FEED_GAP || in->kind == SIM_BURST || in->user != u)
            continue;
        int64_t on, end;
        inc_span(o, grid, in, &on, &end);
        if (on < to + clear && end > from - clear)
            return 1;
    }
    return 0;
}

typedef struct {
    char id[SIM_ID_LEN];
    int user;
} idx_id_t;

static int cmp_idx_id(const void *a, const void *b)
{
    return strcmp(((const idx_id_t *)a)->id, ((const idx_id_t *)b)->id);
}

/* Picks about a third of the Users other than `self` into out[], sorted by
 * id, and sets *n_out. Returns 0 or SW_ENOMEM. */
static int pick_impacted(const sim_opts_t *o, rng_t *r, int self, int *out, size_t *n_out)
{
    int n = o->n_users;
    size_t m = 0, want = (size_t)((n - 1) / 3.0 + 0.5);
    if (want < 1 && n > 1)
        want = 1;
    int *all = malloc((size_t)n * sizeof *all);
    idx_id_t *ids = malloc((want + 1) * sizeof *ids);
    if (!all || !ids) {
        free(all);
        free(ids);
        return SW_ENOMEM;
    }
    for (int i = 0; i < n; i++)
        if (i != self)
            all[m++] = i;
    for (size_t j = 0; j < want; j++) { /* partial Fisher-Yates */
        size_t s = j + (size_t)rng_below(r, (int64_t)(m - j));
        int t = all[j];
        all[j] = all[s];
        all[s] = t;
        ids[j].user = all[j];
        sim_user_id(o, all[j], ids[j].id);
    }
    qsort(ids, want, sizeof *ids, cmp_idx_id);
    for (size_t j = 0; j < want; j++)
        out[j] = ids[j].user;
    *n_out = want;
    free(all);
    free(ids);
    return SW_OK;
}

int sim_plan_in_gap(const plan_t *pl, int64_t t)
{
    for (size_t i = 0; i < pl->n_gap; i++)
        if (t >= pl->gap[i].from && t < pl->gap[i].to)
            return 1;
    return 0;
}

size_t sim_plan_due(const plan_t *pl, int64_t k)
{
    size_t n = 0;
    for (size_t c = 0; c < pl->n_cad; c++)
        if (k % pl->cad[c].ratio == 0)
            n += pl->cad[c].n;
    return n;
}

static int cmp_inc(const void *a, const void *b)
{
    const pinc_t *x = a, *y = b;
    if (x->onset != y->onset)
        return x->onset < y->onset ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int cmp_chg(const void *a, const void *b)
{
    const pchange_t *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->num - y->num;
}

static int cmp_quirk(const void *a, const void *b)
{
    const pquirk_t *x = a, *y = b;
    return x->k < y->k ? -1 : x->k > y->k;
}

/* The code a code storm raises: the one asked for, else one of the codes
 * of SMALL_CODE_SHARE or less drawn from r, else the smallest. */
static int storm_code(const sim_opts_t *o, const sim_incident_t *in, rng_t *r)
{
    if (in->code > 0)
        return in->code - 1;
    double share[SIM_MAX_ALERT_CODES];
    int n = o->alert_codes, first = n - 1;
    sim_code_shares(n, share);
    while (first > 0 && share[first - 1] <= SMALL_CODE_SHARE)
        first--;
    return first + (int)rng_below(r, n - first);
}

/* The effect incident k has on its User. */
static effect_t inc_effect(const sim_opts_t *o, const sim_incident_t *in, int64_t on, int64_t end, rng_t *r)
{
    effect_t e = { on, end, in->kind == SIM_FEED_GAP ? -1 : in->user, kind_plan[in->kind].ef,
                   sim_inc_magnitude(in), 0, 0 };
    if (in->kind == SIM_RAMP_SOUTH || in->kind == SIM_RAMP_NORTH) {
        e.rise = in->rise > 0 ? in->rise : SIM_DEFAULT_RISE_NS;
        e.sub = in->exp_rise != 0;
    } else if (in->kind == SIM_STORM_CODE) {
        e.sub = storm_code(o, in, r);
    } else if ((in->kind == SIM_SHIFT_UP || in->kind == SIM_SHIFT_DOWN) && in->dir == SIM_DIR_NORTH) {
        e.type = EF_SHIFT_N;
    }
    return e;
}

/* The declared incidents, their changes, effects and truth. */
static int plan_incidents(const sim_opts_t *o, plan_t *pl)
{
    for (size_t k = 0; k < o->n_incidents; k++) {
        const sim_incident_t *in = &o->incidents[k];
        int64_t on, end;
        inc_span(o, pl->grid, in, &on, &end);
        rng_t r;
        rng_init(&r, o->seed, ST_INCIDENT, k);
        double u_margin = rng_u01(&r);
        int user = in->kind == SIM_FEED_GAP ? -1 : in->user;
        effect_t *e = &pl->eff[pl->n_eff++];
        *e = inc_effect(o, in, on, end, &r);
        if (in->kind == SIM_BURST) {
            pl->dec[pl->n_dec++] = (pdecoy_t){ "short burst", user, on, 0 };
            continue;
        }
        if (in->kind == SIM_FEED_GAP) {
            pl->gap[pl->n_gap++] = *e;
            pl->alw[pl->n_alw++] = (pallowed_t){ 0, 0, on, end + GAP_TAIL, "recovery after the feed gap",
                                                 "feed_stalled", 0 };
        }
        const pchange_t *c = NULL;
        if (in->declare != SIM_UNDECLARED && in->kind != SIM_FEED_GAP) {
            int maint = in->declare == SIM_MAINTENANCE;
            int64_t start = on + in->declare_shift;
            int64_t margin = maint ? (5 + (int64_t)(u_margin * 10)) * MIN_NS
                                   : (15 + (int64_t)(u_margin * 105)) * MIN_NS;
            int64_t until = (on > start ? on : start) + (end - on) + margin;
            pchange_t *prev = pl->n_chg ? &pl->chg[pl->n_chg - 1] : NULL;
            if (maint && prev && prev->user < 0 && prev->start == start) {
                /* one maintenance over many Users: the change before, stretched to cover */
                if (until > prev->end)
                    prev->end = until;
                c = prev;
            } else {
                pchange_t *nc = &pl->chg[pl->n_chg++];
                *nc = (pchange_t){ (int)(1001 + k), maint ? -1 : user,
                                   maint ? CK_MAINT : kind_plan[in->kind].ck, start, until };
                c = nc;
            }
        }
        size_t imp_off = pl->n_pool, n_imp = 0;
        if (in->impact && o->n_users > 1) {
            int rc = pick_impacted(o, &r, user, pl->pool + imp_off, &n_imp);
            if (rc)
                return rc;
            pl->n_pool += n_imp;
            for (size_t j = 0; j < n_imp; j++)
                pl->eff[pl->n_eff++] = (effect_t){ on, end, pl->pool[imp_off + j], EF_SLOW, 0, 0, 0 };
            pl->alw[pl->n_alw++] = (pallowed_t){ imp_off, n_imp, on, end + BLAST_TAIL,
                                                 "blast radius of the southbound storm", NULL, 0 };
        }
        if (c && c->user < 0) { /* DCC maintenance: allowed, not an incident to detect */
            pl->alw[pl->n_alw++] = (pallowed_t){ 0, 0, c->start, c->end + MAINT_TAIL, "DCC maintenance",
                                                 NULL, c->num };
            continue;
        }
        const char *dir = kind_plan[in->kind].dir;
        if ((in->kind == SIM_SHIFT_UP || in->kind == SIM_SHIFT_DOWN) && in->dir == SIM_DIR_NORTH)
            dir = "north";
        pl->inc[pl->n_inc++] = (pinc_t){ k, kind_plan[in->kind].alert, dir, user, on, end, c ? c->num : 0,
                                         imp_off, n_imp, in->kind == SIM_STORM_CODE ? e->sub : -1 };
    }
    return SW_OK;
}

/* A long burst of `span` (grid time) at `on` on User u, moved earlier
 * when it would straddle two of the User's samples, so a User slower than
 * the burst sees it in one sample. */
static int64_t within_one_sample(const sim_opts_t *o, const plan_t *pl, int u, int64_t on, int64_t span)
{
    int64_t c = sim_user_cadence(o, u);
    if (c <= span)
        return on;
    int64_t end = o->start_ns + (on - o->start_ns + c - 1) / c * c; /* the first sample at or after on */
    return on + span - pl->grid > end ? end - span + pl->grid : on;
}

/* `n` harmless bursts (x BURST_MAGNITUDE) drawn from stream `purpose`, on
 * Users without an incident nearby, after eval_from: 1-3 grid steps long,
 * or with long_bursts 30-60 s (in time: a User's sample weighs by the share
 * of its interval the burst covers). */
static void plan_bursts(const sim_opts_t *o, plan_t *pl, int purpose, int n, int long_bursts)
{
    rng_t r;
    rng_init(&r, o->seed, (uint64_t)purpose, 0);
    for (int j = 0; j < n; j++) {
        for (int attempt = 0; attempt < 10; attempt++) {
            int u = (int)rng_below(&r, o->n_users);
            int64_t len = (1 + rng_below(&r, 3)) * pl->grid;
            if (long_bursts)
                len = (LONG_BURST_MIN_S + rng_below(&r, LONG_BURST_SPAN_S)) * SW_NS_PER_S;
            int64_t span = o->duration_ns - o->learn_ns - len;
            int64_t on = sim_sample_time(o, o->learn_ns + (int64_t)(rng_u01(&r) * (double)(span > 0 ? span : 0)));
            if (long_bursts)
                on = within_one_sample(o, pl, u, on, (len + pl->grid - 1) / pl->grid * pl->grid);
            if (user_busy(o, pl->grid, u, on, on + len, DECOY_CLEARANCE))
                continue;
            pl->eff[pl->n_eff++] = (effect_t){ on, on + len, u, EF_BURST, BURST_MAGNITUDE, 0, 0 };
            pl->dec[pl->n_dec++] = (pdecoy_t){ long_bursts ? "long burst" : "short burst", u, on,
                                               long_bursts ? len : 0 };
            break;
        }
    }
}

/* The local clock's changes (DST) within the run: the daily pattern and
 * the batches move by the change in UTC. Found every TZ_SCAN_S, then to
 * the second. */
static void plan_clock_changes(const sim_opts_t *o, plan_t *pl)
{
    int64_t end = o->start_ns + o->duration_ns, step = TZ_SCAN_S * SW_NS_PER_S;
    long off = sim_utc_offset(o, o->start_ns);
    for (int64_t t = o->start_ns + step; o->timezone && t - step < end && pl->n_clk < SIM_MAX_CLOCK_CHANGES;
         t += step) {
        long now = sim_utc_offset(o, t);
        if (now == off)
            continue;
        int64_t lo = (t - step) / SW_NS_PER_S, hi = t / SW_NS_PER_S; /* it changes in (lo, hi] */
        while (hi - lo > 1) {
            int64_t mid = lo + (hi - lo) / 2;
            if (sim_utc_offset(o, mid * SW_NS_PER_S) == off)
                lo = mid;
            else
                hi = mid;
        }
        if (hi * SW_NS_PER_S < end) {
            pl->clk[pl->n_clk++] = hi * SW_NS_PER_S;
            pl->dec[pl->n_dec++] = (pdecoy_t){ "clock change: local patterns move in UTC", -1, hi * SW_NS_PER_S, 0 };
        }
        off = now;
    }
}

/* Bursts, the onboarding ramp, the no-op changes, the weekly rhythm and
 * clock changes. */
static void plan_decoys(const sim_opts_t *o, plan_t *pl)
{
    rng_t r;
    int n = o->n_users;
    int64_t learn_end = o->start_ns + o->learn_ns;
    plan_bursts(o, pl, ST_BURST, o->n_bursts, 0);
    plan_bursts(o, pl, ST_LONG_BURST, o->n_long_bursts, 1);
    if (o->onboarding) {
        rng_init(&r, o->seed, ST_RAMP, 0);
        int u = 0;
        for (int attempt = 0; attempt < 32; attempt++) {
            u = (int)rng_below(&r, n);
            if (!user_busy(o, pl->grid, u, o->start_ns, o->start_ns + o->duration_ns, 0))
                break;
        }
        pl->ramp_user = u;
        pl->dec[pl->n_dec++] = (pdecoy_t){ "onboarding ramp to x3", u, 0, 0 };
    }
    /* The earliest undeclared incident draws a change by another User. */
    const pinc_t *lure = NULL;
    for (size_t i = 0; i < pl->n_inc; i++)
        if (pl->inc[i].cause == 0 && pl->inc[i].user >= 0 && (!lure || pl->inc[i].onset < lure->onset))
            lure = &pl->inc[i];
    rng_init(&r, o->seed, ST_NOOP, 0);
    for (int j = 0; j < o->n_noop_changes; j++) {
        int64_t len = (20 + rng_below(&r, 41)) * MIN_NS, st = 0;
        int u = -1;
        if (j == 0 && lure && n >= 2) {
            st = lure->onset - 5 * MIN_NS;
            for (int attempt = 0; attempt < 32 && u < 0; attempt++) {
                int c = (int)rng_below(&r, n);
                if (c != lure->user && !user_busy(o, pl->grid, c, st, st + len, NOOP_CLEARANCE))
                    u = c;
            }
        }
        for (int attempt = 0; attempt < 32 && u < 0; attempt++) {
            int c = (int)rng_below(&r, n);
            int64_t span = o->duration_ns - o->learn_ns - len;
            st = learn_end + (int64_t)(rng_u01(&r) * (double)(span > 0 ? span : 0));
            st -= st % SW_NS_PER_S;
            if (!user_busy(o, pl->grid, c, st, st + len, NOOP_CLEARANCE))
                u = c;
        }
        if (u < 0)
            continue;
        pl->chg[pl->n_chg++] = (pchange_t){ (int)(1001 + o->n_incidents + (size_t)j), u, CK_HEADEND, st, st + len };
        pl->dec[pl->n_dec++] = (pdecoy_t){ "declared change with no effect", u, st, 0 };
    }
    if (o->weekly)
        pl->dec[pl->n_dec++] = (pdecoy_t){ "weekly rhythm: weekends at 50-70% of the weekday volume, "
                                           "the daily peak 2-3 h later", -1, 0, 0 };
    plan_clock_changes(o, pl);
}

/* Which grid steps carry a quirk: at most one each, none in a feed gap, each
 * with enough lines (a swap needs two Users). */
static int plan_quirks(const sim_opts_t *o, plan_t *pl)
{
    unsigned char *used = calloc((size_t)pl->n_samples + 1, 1);
    if (!used)
        return SW_ENOMEM;
    rng_t r;
    rng_init(&r, o->seed, ST_QUIRK, 0);
    int want[3] = { o->n_duplicates, o->n_users >= 2 ? o->n_swaps : 0, o->n_malformed };
    int *got[3] = { &pl->n_dup, &pl->n_swap, &pl->n_mal };
    for (int type = 0; type < 3; type++) {
        for (int j = 0; j < want[type]; j++) {
            for (int attempt = 0; attempt < 32; attempt++) {
                int64_t k = 1 + rng_below(&r, pl->n_samples);
                if (used[k] || sim_plan_in_gap(pl, o->start_ns + k * pl->grid) ||
                    sim_plan_due(pl, k) < (type == Q_SWAP ? 2u : 1u))
                    continue;
                used[k] = 1;
                pl->q[pl->n_q++] = (pquirk_t){ k, type, *got[type] % N_MALFORMED_KINDS, rng_next(&r) };
                (*got[type])++;
                break;
            }
        }
    }
    free(used);
    qsort(pl->q, pl->n_q, sizeof *pl->q, cmp_quirk);
    return SW_OK;
}

/* Groups the Users by cadence (as a multiple of the grid), by ratio. */
static void plan_cadences(const sim_opts_t *o, plan_t *pl)
{
    if (!o->n_cadences) {
        pl->cad[0] = (pcad_t){ 1, (size_t)o->n_users };
        pl->n_cad = 1;
        return;
    }
    for (size_t k = 0; k < o->n_cadences; k++)
        pl->cad[k] = (pcad_t){ o->cadences[k].ns / pl->grid, 0 };
    pl->n_cad = o->n_cadences;
    for (int i = 0; i < o->n_users; i++) {
        int64_t ratio = sim_user_cadence(o, i) / pl->grid;
        for (size_t k = 0; k < pl->n_cad; k++)
            pl->cad[k].n += pl->cad[k].ratio == ratio;
    }
}

int sim_plan_build(const sim_opts_t *o, plan_t *pl)
{
    memset(pl, 0, sizeof *pl);
    pl->ramp_user = -1;
    pl->grid = sim_grid_ns(o);
    pl->n_samples = o->duration_ns / pl->grid;
    plan_cadences(o, pl);
    size_t ni = o->n_incidents, nu = (size_t)o->n_users, n_impact = 0;
    size_t nb = (size_t)o->n_bursts + (size_t)o->n_long_bursts;
    for (size_t k = 0; k < ni; k++)
        n_impact += o->incidents[k].impact != 0;
    pl->eff = calloc(ni + n_impact * nu + nb + 1, sizeof *pl->eff);
    pl->chg = calloc(ni + (size_t)o->n_noop_changes + 1, sizeof *pl->chg);
    pl->inc = calloc(ni + 1, sizeof *pl->inc);
    pl->alw = calloc(3 * ni + 1, sizeof *pl->alw);
    pl->dec = calloc(ni + nb + (size_t)o->n_noop_changes + 3 + SIM_MAX_CLOCK_CHANGES, sizeof *pl->dec);
    pl->pool = calloc(n_impact * nu + 1, sizeof *pl->pool);
    pl->q = calloc((size_t)o->n_duplicates + (size_t)o->n_swaps + (size_t)o->n_malformed + 1, sizeof *pl->q);
    pl->gap = calloc(ni + 1, sizeof *pl->gap);
    int rc = SW_ENOMEM;
    if (pl->eff && pl->chg && pl->inc && pl->alw && pl->dec && pl->pool && pl->q && pl->gap &&
        (rc = plan_incidents(o, pl)) == SW_OK) {
        plan_decoys(o, pl);
        rc = plan_quirks(o, pl);
    }
    if (rc) {
        sim_plan_free(pl);
        return rc;
    }
    qsort(pl->inc, pl->n_inc, sizeof *pl->inc, cmp_inc);
    qsort(pl->chg, pl->n_chg, sizeof *pl->chg, cmp_chg);
    return SW_OK;
}

/* ---- the change register and the truth ---------------------------------- */

static void put_time(FILE *f, int64_t ns)
{
    char b[TF_BUFLEN];
    tf_format(ns, b);
    fputs(b, f);
}

static void put_user(FILE *f, const sim_opts_t *o, int u)
{
    char id[SIM_ID_LEN];
    if (u < 0) {
        fputs("\"*\"", f);
        return;
    }
    sim_user_id(o, u, id);
    fprintf(f, "\"%s\"", id);
}

static void put_users(FILE *f, const sim_opts_t *o, const int *users, size_t n)
{
    fputc('[', f);
    if (!n)
        put_user(f, o, -1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputs(", ", f);
        put_user(f, o, users[i]);
    }
    fputc(']', f);
}

/* A duration in seconds: an integer when whole, else with milliseconds. */
static void put_seconds(FILE *f, int64_t ns)
{
    if (ns % SW_NS_PER_S == 0)
        fprintf(f, "%lld", (long long)(ns / SW_NS_PER_S));
    else
        fprintf(f, "%.3f", (double)ns / 1e9);
}

int sim_write_changes(const sim_opts_t *o, const plan_t *pl, FILE *f)
{
    fprintf(f, "# Declared changes (stormwatch simulate, seed %llu): User-led changes and DCC Planned Maintenance\n",
            (unsigned long long)o->seed);
    fputs(pl->n_chg ? "changes:\n" : "changes: []\n", f);
    for (size_t i = 0; i < pl->n_chg; i++) {
        const pchange_t *c = &pl->chg[i];
        char id[SIM_ID_LEN] = "DCC";
        if (c->user >= 0)
            sim_user_id(o, c->user, id);
        fprintf(f, "  - id: CHG-%d\n    user: %s\n    title: \"%s\"\n    kind: %s\n    start: ", c->num, id,
                change_kinds[c->ck].title, change_kinds[c->ck].kind);
        put_time(f, c->start);
        fputs("\n    end: ", f);
        put_time(f, c->end);
        fprintf(f, "\n    affects: [%s]\n", change_kinds[c->ck].affects);
        if (change_kinds[c->ck].expected)
            fprintf(f, "    expected: \"%s\"\n", change_kinds[c->ck].expected);
        fputs("    contact: change-desk@example.org\n", f);
    }
    return ferror(f) ? SW_EIO : SW_OK;
}

/* The truth's keys for the newer shapes (none without them): each User's
 * cadence, the timezone and its UTC offsets, each User's alert codes. */
static void write_truth_shapes(const sim_opts_t *o, const plan_t *pl, FILE *f)
{
    if (o->n_cadences) {
        fputs(",\n \"cadence_s\": {", f);
        for (int u = 0; u < o->n_users; u++) {
            fputs(u ? ",\n  " : "\n  ", f);
            put_user(f, o, u);
            fputs(": ", f);
            put_seconds(f, sim_user_cadence(o, u));
        }
        fputs("\n }", f);
    }
    if (o->timezone) {
        fprintf(f, ",\n \"timezone\": \"%s\",\n \"utc_offsets\": [{\"from\": \"", o->timezone);
        put_time(f, o->start_ns);
        fprintf(f, "\", \"offset_s\": %ld}", sim_utc_offset(o, o->start_ns));
        for (size_t i = 0; i < pl->n_clk; i++) {
            fputs(", {\"from\": \"", f);
            put_time(f, pl->clk[i]);
            fprintf(f, "\", \"offset_s\": %ld}", sim_utc_offset(o, pl->clk[i]));
        }
        fputc(']', f);
    }
    if (o->alert_codes) {
        fputs(",\n \"alert_codes\": {", f);
        for (int u = 0; u < o->n_users; u++) {
            fputs(u ? ",\n  " : "\n  ", f);
            put_user(f, o, u);
            fputs(": {", f);
            for (int j = 0; j < o->alert_codes; j++) {
                char cls[SIM_CLASS_LEN];
                double share = sim_alert_code(o, u, j, cls);
                fprintf(f, "%s\"%s\": %.4f", j ? ", " : "", cls, share);
            }
            fputc('}', f);
        }
        fputs("\n }", f);
    }
}

int sim_write_truth(const sim_opts_t *o, const plan_t *pl, FILE *f)
{
    fputs("{\n \"start\": \"", f);
    put_time(f, o->start_ns);
    fputs("\",\n \"interval_s\": ", f);
    put_seconds(f, sim_min_cadence(o));
    fputs(",\n \"eval_from\": \"", f);
    put_time(f, o->start_ns + o->learn_ns);
    fprintf(f, "\",\n \"seed\": %llu,\n \"users\": %d", (unsigned long long)o->seed, o->n_users);
    write_truth_shapes(o, pl, f);
    fputs(",\n \"incidents\": [", f);
    for (size_t i = 0; i < pl->n_inc; i++) {
        const pinc_t *in = &pl->inc[i];
        fprintf(f, "%s\n  {\"id\": \"I%zu\", \"alert\": \"%s\", \"user\": ", i ? "," : "", i + 1, in->alert);
        put_user(f, o, in->user);
        if (in->dir)
            fprintf(f, ", \"dir\": \"%s\", \"onset\": \"", in->dir);
        else
            fputs(", \"dir\": null, \"onset\": \"", f);
        put_time(f, in->onset);
        fputs("\", \"end\": \"", f);
        put_time(f, in->end);
        if (in->cause)
            fprintf(f, "\", \"cause\": \"CHG-%d\"", in->cause);
        else
            fputs("\", \"cause\": null", f);
        if (in->n_imp) {
            fputs(", \"impacted_users\": ", f);
            put_users(f, o, pl->pool + in->imp_off, in->n_imp);
        }
        if (in->code >= 0) {
            char cls[SIM_CLASS_LEN];
            sim_alert_code(o, in->user, in->code, cls);
            fprintf(f, ", \"class\": \"%s\"", cls);
        }
        fputc('}', f);
    }
    fputs(pl->n_inc ? "\n ],\n \"allowed\": [" : "],\n \"allowed\": [", f);
    for (size_t i = 0; i < pl->n_alw; i++) {
        const pallowed_t *a = &pl->alw[i];
        fprintf(f, "%s\n  {\"users\": ", i ? "," : "");
        put_users(f, o, pl->pool + a->users_off, a->n_users);
        fputs(", \"from\": \"", f);
        put_time(f, a->from);
        fputs("\", \"to\": \"", f);
        put_time(f, a->to);
        fprintf(f, "\", \"why\": \"%s\"", a->why);
        if (a->only_change)
            fprintf(f, ", \"only_if_change\": \"CHG-%d\"", a->only_change);
        if (a->kind)
            fprintf(f, ", \"kinds\": [\"%s\"]", a->kind);
        fputc('}', f);
    }
    fputs(pl->n_alw ? "\n ],\n \"decoys\": [" : "],\n \"decoys\": [", f);
    size_t nd = 0;
    for (size_t i = 0; i < pl->n_dec; i++, nd++) {
        const pdecoy_t *d = &pl->dec[i];
        fprintf(f, "%s\n  {\"what\": \"%s\", \"user\": ", nd ? "," : "", d->what);
        put_user(f, o, d->user);
        if (d->from) {
            fputs(", \"from\": \"", f);
            put_time(f, d->from);
            fputc('"', f);
        }
        if (d->len) {
            fputs(", \"length_s\": ", f);
            put_seconds(f, d->len);
        }
        fputc('}', f);
    }
    for (int u = 0; o->daily_batches && u < o->n_users; u++) {
        uparams_t p;
        sim_user_params(o, u, &p);
        if (!p.batch_dir)
            continue;
        fprintf(f, "%s\n  {\"what\": \"daily scheduled-read batch x%.1f %s\", \"user\": ", nd++ ? "," : "",
                p.batch_mult, p.batch_dir == 1 ? "south" : "north");
        put_user(f, o, u);
        fprintf(f, ", \"from_s_of_day\": %lld, \"length_s\": %lld}", (long long)p.batch_from_s,
                (long long)p.batch_len_s);
    }
    fprintf(f, "%s],\n \"quirks\": {\"duplicated\": %d, \"swapped\": %d, \"malformed\": %d}\n}\n",
            nd ? "\n " : "", pl->n_dup, pl->n_swap, pl->n_mal);
    return ferror(f) ? SW_EIO : SW_OK;
}
