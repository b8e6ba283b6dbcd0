/*
 * sim_preset.c - the simulator's named scenarios (sim_preset()), for
 * `stormwatch simulate --scenario NAME` (sim_cli.c) and for tests.
 *
 * A preset is data: the size of the run, its shapes, decoys and quirks,
 * and its incidents with their Users named by rate rank, so any seed puts
 * each incident on a User of about the same size. sim_preset_quirks()
 * sizes the planted quirks for a run, for presets and the CLI alike.
 */
#include "sim_priv.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

#define MIN_S 60
#define HOUR_S 3600
#define QUIRK_EVERY 4000 /* one duplicated line per this many lines */
#define PRESET_MAX_USERS 40 /* the largest preset has 40 Users */

/* An incident of a preset; its User is named by rate rank (0 = busiest). */
typedef struct {
    sim_kind_t kind;
    int rank;
    int at_s, dur_s;
    double mag;
    int declare, shift_s, impact;
    int rise_s, exp_rise;  /* ramps */
    sim_dir_t dir;         /* shifts */
} preset_inc_t;

typedef struct {
    const char *name;
    int users, hours, interval_s, learn_s;
    double daily, dispersion;
    int batches, onboarding, bursts, noop, quirks;
    const preset_inc_t *inc;
    size_t n_inc;
    /* the newer shapes; zero: off */
    int64_t start_s;                /* 0: keep the caller's start */
    const sim_cadence_t *cadences;
    size_t n_cadences;
    double rate_lo, rate_hi;        /* 0: the defaults */
    int weekly, alert_codes, long_bursts;
    const char *timezone;
} preset_t;

#define HMS(h, m, s) ((h) * HOUR_S + (m) * MIN_S + (s))
#define NS(s) ((int64_t)(s) * SW_NS_PER_S)

static const preset_inc_t firewall_inc[] = {
    { SIM_BLOCKED, 4, HMS(1, 0, 5), HMS(0, 34, 0), 0, SIM_DECLARED, -17 * MIN_S, 0 },
};

static const preset_inc_t mdm_inc[] = {
    { SIM_STORM_SOUTH, 5, HMS(1, 0, 10), HMS(0, 14, 0), 15, SIM_DECLARED, -10 * MIN_S, 1 },
};

static const preset_inc_t mixed_inc[] = {
    { SIM_DEGRADED, 3, HMS(0, 50, 0), HMS(0, 25, 0), 0.2, SIM_UNDECLARED, 0, 0 },
    { SIM_SILENCE_NORTH, 6, HMS(1, 25, 30), HMS(0, 10, 0), 0.1, SIM_MAINTENANCE, -5 * MIN_S, 0 },
    { SIM_SILENCE_NORTH, 7, HMS(1, 50, 0), HMS(0, 12, 0), 0, SIM_DECLARED, -20 * MIN_S, 0 },
    { SIM_STORM_SOUTH, 8, HMS(2, 22, 15), HMS(0, 29, 0), 12, SIM_UNDECLARED, 0, 1 },
    { SIM_BLOCKED, 2, HMS(3, 5, 20), HMS(0, 40, 0), 0, SIM_DECLARED, -2 * MIN_S, 0 },
    { SIM_SILENCE_SOUTH, 18, HMS(3, 37, 0), HMS(0, 17, 0), 0, SIM_UNDECLARED, 0, 0 },
    { SIM_STORM_NORTH, 20, HMS(3, 47, 30), HMS(0, 15, 0), 25, SIM_DECLARED, 4 * MIN_S, 0 },
    { SIM_FEED_GAP, 0, HMS(4, 25, 0), HMS(0, 3, 0), 0, SIM_UNDECLARED, 0, 0 },
};

static const preset_inc_t daily_inc[] = {
    { SIM_SILENCE_SOUTH, 4, HMS(25, 38, 40), HMS(0, 25, 0), 0, SIM_DECLARED, -12 * MIN_S, 0 },
    { SIM_SILENCE_SOUTH, 9, HMS(26, 19, 50), HMS(0, 29, 0), 0, SIM_UNDECLARED, 0, 0 },
    { SIM_FEED_GAP, 0, HMS(29, 30, 10), HMS(0, 4, 0), 0, SIM_UNDECLARED, 0, 0 },
    { SIM_STORM_SOUTH, 6, HMS(35, 37, 0), HMS(0, 12, 0), 8, SIM_DECLARED, -10 * MIN_S, 1 },
    { SIM_BLOCKED, 11, HMS(35, 54, 40), HMS(0, 59, 0), 0, SIM_UNDECLARED, 0, 0 },
    { SIM_STORM_NORTH, 3, HMS(37, 1, 0), HMS(0, 10, 0), 10, SIM_DECLARED, -12 * MIN_S, 0 },
    { SIM_DEGRADED, 7, HMS(38, 22, 40), HMS(1, 4, 0), 0.25, SIM_DECLARED, -4 * MIN_S, 0 },
    { SIM_BLOCKED, 2, HMS(39, 36, 20), HMS(0, 45, 0), 0, SIM_DECLARED, 10 * MIN_S, 0 },
    { SIM_SILENCE_NORTH, 5, HMS(41, 17, 20), HMS(0, 15, 0), 0.1, SIM_MAINTENANCE, -5 * MIN_S, 0 },
    { SIM_STORM_NORTH, 14, HMS(44, 35, 30), HMS(0, 11, 0), 12, SIM_UNDECLARED, 0, 0 },
};

/*
 * hidden-mix: 3 days from Friday 00:00 in London (2024-10-25, BST), the
 * clocks going back at 01:00 UTC on Sunday (start + 50 h). Friday is
 * learnt (eval_from = start + 24 h); the incidents fall on the weekend,
 * which runs at 50-70% of Friday's volume with a later peak.
 */
static const preset_inc_t hidden_mix_inc[] = {
    { SIM_SHIFT_UP, 7, HMS(31, 10, 0), HMS(6, 0, 0), 2, SIM_DECLARED, -20 * MIN_S, 0, 0, 0, SIM_DIR_SOUTH },
    { SIM_RAMP_SOUTH, 5, HMS(34, 20, 0), HMS(0, 45, 0), 15, SIM_UNDECLARED, 0, 0, 10 * MIN_S, 0, 0 },
    { SIM_STORM_SOUTH, 1, HMS(38, 40, 0), HMS(0, 35, 0), 5, SIM_UNDECLARED, 0, 0, 0, 0, 0 },
    { SIM_RAMP_NORTH, 9, HMS(42, 15, 0), HMS(0, 50, 0), 15, SIM_DECLARED, 5 * MIN_S, 0, 20 * MIN_S, 1, 0 },
    { SIM_BLOCKED, 3, HMS(49, 35, 0), HMS(0, 45, 0), 0, SIM_DECLARED, -10 * MIN_S, 0, 0, 0, 0 },
    { SIM_STORM_CODE, 4, HMS(56, 5, 0), HMS(0, 25, 0), 30, SIM_UNDECLARED, 0, 0, 0, 0, 0 },
    { SIM_SHIFT_DOWN, 11, HMS(58, 0, 0), HMS(5, 0, 0), 0.5, SIM_UNDECLARED, 0, 0, 0, 0, SIM_DIR_NORTH },
    { SIM_SILENCE_SOUTH, 14, HMS(63, 20, 0), HMS(0, 30, 0), 0, SIM_UNDECLARED, 0, 0, 0, 0, 0 },
};

/* About one User in 40 at 1 s, most at minutes: ~2.7 M lines in 3 days. */
static const sim_cadence_t hidden_mix_cadences[] = {
    { NS(1), 1 }, { NS(10), 4 }, { NS(30), 6 }, { NS(60), 8 }, { NS(300), 12 }, { NS(900), 9 },
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const preset_t presets[] = {
    { "firewall", 12, 3, 5, 30 * MIN_S, 0.1, 0.005, 0, 0, 0, 0, 0, firewall_inc, N_OF(firewall_inc) },
    { "mdm", 12, 3, 5, 30 * MIN_S, 0.1, 0.005, 0, 0, 0, 0, 0, mdm_inc, N_OF(mdm_inc) },
    { "mixed", 30, 5, 5, 30 * MIN_S, 0.15, 0.005, 0, 1, 3, 3, 1, mixed_inc, N_OF(mixed_inc) },
    { "daily", 24, 48, 10, 24 * HOUR_S, 0.35, 0.02, 1, 1, 12, 3, 1, daily_inc, N_OF(daily_inc) },
    { "hidden-mix", 40, 72, 0, 24 * HOUR_S, 0.35, 0.1, 1, 1, 12, 3, 1, hidden_mix_inc, N_OF(hidden_mix_inc),
      INT64_C(1729810800) /* 2024-10-24T23:00:00Z */, hidden_mix_cadences, N_OF(hidden_mix_cadences), 0.05, 500,
      1, 4, 12, "Europe/London" },
};

typedef struct {
    double rate;
    int user;
} rank_t;

static int cmp_rank(const void *a, const void *b)
{
    const rank_t *x = a, *y = b;
    if (x->rate != y->rate)
        return x->rate > y->rate ? -1 : 1;
    return x->user - y->user;
}

void sim_preset_quirks(sim_opts_t *o)
{
    int64_t lines_per_user = 2 + (o->alert_codes ? o->alert_codes : 1), lines = 0;
    if (!o->n_cadences)
        lines = lines_per_user * (int64_t)o->n_users * (o->duration_ns / o->interval_ns);
    for (int i = 0; o->n_cadences && i < o->n_users; i++)
        lines += lines_per_user * (o->duration_ns / sim_user_cadence(o, i));
    int64_t dup = lines / QUIRK_EVERY;
    o->n_duplicates = dup < 3 ? 3 : dup > 10000000 ? 10000000 : (int)dup;
    o->n_swaps = o->n_duplicates / 2;
    o->n_malformed = 6;
}

int sim_preset(const char *name, sim_opts_t *o, sim_incident_t inc[SIM_PRESET_MAX])
{
    const preset_t *p = NULL;
    if (name && strcmp(name, "demo") == 0)
        name = "firewall";
    for (size_t i = 0; name && i < N_OF(presets); i++)
        if (strcmp(name, presets[i].name) == 0)
            p = &presets[i];
    if (!p)
        return SW_ENOTFOUND;
    rank_t rank[PRESET_MAX_USERS];
    uint64_t seed = o->seed;
    int64_t start = p->start_s ? NS(p->start_s) : o->start_ns;
    sim_opts_defaults(o);
    o->seed = seed;
    o->start_ns = start;
    o->n_users = p->users;
    o->duration_ns = NS(p->hours * HOUR_S);
    if (p->interval_s)
        o->interval_ns = NS(p->interval_s);
    o->learn_ns = NS(p->learn_s);
    o->daily_amplitude = p->daily;
    o->dispersion = p->dispersion;
    o->daily_batches = p->batches;
    o->onboarding = p->onboarding;
    o->n_bursts = p->bursts;
    o->n_noop_changes = p->noop;
    o->cadences = p->cadences;
    o->n_cadences = p->n_cadences;
    if (p->rate_lo > 0) {
        o->rate_lo = p->rate_lo;
        o->rate_hi = p->rate_hi;
    }
    o->weekly = p->weekly;
    o->alert_codes = p->alert_codes;
    o->n_long_bursts = p->long_bursts;
    o->timezone = p->timezone;
    if (p->quirks)
        sim_preset_quirks(o);
    for (int i = 0; i < p->users; i++)
        rank[i] = (rank_t){ sim_user_rate(o, i), i };
    qsort(rank, (size_t)p->users, sizeof rank[0], cmp_rank);
    for (size_t i = 0; i < p->n_inc; i++) {
        const preset_inc_t *q = &p->inc[i];
        inc[i] = (sim_incident_t){
            .kind = q->kind,
            .user = q->kind == SIM_FEED_GAP ? 0 : rank[q->rank].user,
            .at = NS(q->at_s),
            .duration = NS(q->dur_s),
            .magnitude = q->mag,
            .declare = q->declare,
            .declare_shift = NS(q->shift_s),
            .impact = q->impact,
            .rise = NS(q->rise_s),
            .exp_rise = q->exp_rise,
            .dir = q->dir,
        };
    }
    o->incidents = inc;
    o->n_incidents = p->n_inc;
    return SW_OK;
}
