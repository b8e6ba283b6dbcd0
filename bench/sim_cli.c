/*
 * sim_cli.c - `stormwatch simulate`: the command line of the traffic
 * simulator, and its named scenarios (sim_preset()).
 *
 * adapters/main.c calls sim_main() with argv[0] = "simulate". The options
 * are parsed by hand (no getopt: no global state), applied over a preset
 * when --scenario names one, checked by sim_validate(), and sim_write()
 * writes the documents to DIR (--out), and the traffic to standard output
 * or, with --publish, to a ZeroMQ socket through sim_zmq.c.
 */
#include "sim.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "params.h"
#include "sim_zmq.h"
#include "timefmt.h"

#define MIN_S 60
#define HOUR_S 3600
#define QUIRK_EVERY 4000 /* --quirks: one duplicated line per this many lines */
#define PRESET_MAX_USERS 32 /* the largest preset has 30 Users */

/* ---- presets ----------------------------------------------------------- */

/* An incident of a preset; its User is named by rate rank (0 = busiest). */
typedef struct {
    sim_kind_t kind;
    int rank;
    int at_s, dur_s;
    double mag;
    int declare, shift_s, impact;
} preset_inc_t;

typedef struct {
    const char *name;
    int users, hours, interval_s, learn_s;
    double daily, dispersion;
    int batches, onboarding, bursts, noop, quirks;
    const preset_inc_t *inc;
    size_t n_inc;
} preset_t;

#define HMS(h, m, s) ((h) * HOUR_S + (m) * MIN_S + (s))

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

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const preset_t presets[] = {
    { "firewall", 12, 3, 5, 30 * MIN_S, 0.1, 0.005, 0, 0, 0, 0, 0, firewall_inc, N_OF(firewall_inc) },
    { "mdm", 12, 3, 5, 30 * MIN_S, 0.1, 0.005, 0, 0, 0, 0, 0, mdm_inc, N_OF(mdm_inc) },
    { "mixed", 30, 5, 5, 30 * MIN_S, 0.15, 0.005, 0, 1, 3, 3, 1, mixed_inc, N_OF(mixed_inc) },
    { "daily", 24, 48, 10, 24 * HOUR_S, 0.35, 0.02, 1, 1, 12, 3, 1, daily_inc, N_OF(daily_inc) },
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

/* Sets the quirk counts for the size of the run (as in the example data:
 * one duplicate per QUIRK_EVERY lines, half as many swaps, one bad line of
 * each kind). */
static void set_quirks(sim_opts_t *o)
{
    int64_t lines = 3 * (int64_t)o->n_users * (o->duration_ns / o->interval_ns);
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
    int64_t start = o->start_ns;
    sim_opts_defaults(o);
    o->seed = seed;
    o->start_ns = start;
    o->n_users = p->users;
    o->duration_ns = (int64_t)p->hours * HOUR_S * SW_NS_PER_S;
    o->interval_ns = (int64_t)p->interval_s * SW_NS_PER_S;
    o->learn_ns = (int64_t)p->learn_s * SW_NS_PER_S;
    o->daily_amplitude = p->daily;
    o->dispersion = p->dispersion;
    o->daily_batches = p->batches;
    o->onboarding = p->onboarding;
    o->n_bursts = p->bursts;
    o->n_noop_changes = p->noop;
    if (p->quirks)
        set_quirks(o);
    for (int i = 0; i < p->users; i++)
        rank[i] = (rank_t){ sim_user_rate(o, i), i };
    qsort(rank, (size_t)p->users, sizeof rank[0], cmp_rank);
    for (size_t i = 0; i < p->n_inc; i++) {
        const preset_inc_t *q = &p->inc[i];
        inc[i] = (sim_incident_t){
            .kind = q->kind,
            .user = q->kind == SIM_FEED_GAP ? 0 : rank[q->rank].user,
            .at = (int64_t)q->at_s * SW_NS_PER_S,
            .duration = (int64_t)q->dur_s * SW_NS_PER_S,
            .magnitude = q->mag,
            .declare = q->declare,
            .declare_shift = (int64_t)q->shift_s * SW_NS_PER_S,
            .impact = q->impact,
        };
    }
    o->incidents = inc;
    o->n_incidents = p->n_inc;
    return SW_OK;
}

/* ---- command line ------------------------------------------------------ */

static const char usage_text[] =
    "usage: stormwatch simulate [options]\n"
    "\n"
    "Writes simulated DSP traffic (line protocol), the matching change register\n"
    "(YAML) and the truth (JSON, as read by score.py), or sends the traffic over\n"
    "ZeroMQ as the DSP would. The same options give the same bytes.\n"
    "\n"
    "  --scenario NAME    start from a preset (below); the other options override it\n"
    "  --users N          number of Users (default 12)\n"
    "  --hours H          length of the run in hours, fractions allowed (default 3)\n"
    "  --interval D       sample interval: seconds, or a duration such as 10s (default 5)\n"
    "  --seed N           random seed (default 1)\n"
    "  --start TIME       RFC 3339 start of the run (default 2024-03-12T06:00:00Z)\n"
    "  --learn D          learning time before eval_from in the truth (default 30m,\n"
    "                     or 24h for runs of 48 h or more)\n"
    "  --incident SPEC    add an incident (repeatable):\n"
    "                       KIND:USER:AT:DURATION[:MAG][:declared[=SHIFT]|:maintenance[=SHIFT]][:impact]\n"
    "                     KIND      blocked, degraded, storm-north, storm-south,\n"
    "                               silence-north, silence-south, feed-gap, burst\n"
    "                     USER      User index 0..N-1 (- for feed-gap)\n"
    "                     AT, DURATION  from the start of the run: 1h10m, 90s, 600\n"
    "                     MAG       storm or burst multiplier (defaults 20 north, 15 south,\n"
    "                               3 burst); the fraction left for degraded (0.2) and\n"
    "                               silence (0)\n"
    "                     declared  a change by the User covers it; maintenance: a DCC one;\n"
    "                               SHIFT = change start - onset, e.g. -10m (default) or 5m\n"
    "                     impact    (storm-south) deliveries to a third of the others slow\n"
    "  --bursts N         harmless x3 bursts of 1-3 samples on random Users\n"
    "  --noop N           declared changes that change nothing\n"
    "  --daily A          time-of-day amplitude, 0 to 0.95 (default 0)\n"
    "  --dispersion PHI   overdispersion: var = mu + PHI mu^2 (default 0.005)\n"
    "  --batches          daily scheduled-read batches (x3-10, night) for some Users\n"
    "  --ramp             one User ramps up to x3 over the run (onboarding)\n"
    "  --quirks           plant duplicated, swapped and malformed lines\n"
    "  --order ORDER      how the Users of one round are stamped: offset (each User\n"
    "                     0-999 ms after the round, in one fixed order: the default),\n"
    "                     id (the whole round at one time, Users in id order) or\n"
    "                     shuffled (the whole round at one time, Users in a new\n"
    "                     random order each round, as a DSP that stamps a round at once)\n"
    "  --out DIR          write DIR/traffic.lp, DIR/changes.yaml and DIR/truth.json\n"
    "                     (default: the traffic alone, to standard output)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Publishing (the traffic sent is byte for byte what standard output would get):\n"
    "  --input FILE       publish FILE's lines (a recording, line protocol; '-' is\n"
    "                     standard input) instead of simulated traffic\n"
    "  --publish ENDPOINT send the traffic on a ZeroMQ PUSH socket instead of standard\n"
    "                     output: tcp://127.0.0.1:5557 connects there (to a `stormwatch\n"
    "                     run --ingest`), bind:tcp://127.0.0.1:5557 binds and waits for\n"
    "                     a receiver to connect. With --out the files are written too,\n"
    "                     traffic.lp holding exactly the bytes sent\n"
    "  --speed X          send by event time, X times real time: 1 = real time, 60 = a\n"
    "                     minute of traffic a second; max = as fast as the receiver\n"
    "                     takes it (default)\n"
    "  --batch N          lines per message, whole lines only (default 1000); fewer when\n"
    "                     --speed waits, as the lines due are sent before waiting\n"
    "  --hwm N            send high-water mark, in messages (default 1000; 0: none).\n"
    "                     When it is reached the simulator waits: nothing is dropped\n"
    "  --linger D         at the end, wait up to D for queued messages to be delivered\n"
    "                     (default 10s; 0: drop them); exit status 1 if some were not\n"
    "  The end report (standard error) gives lines, messages, bytes, seconds, lines/s.\n"
    "\n"
    "Exit status: 0; 1 when a file could not be written or the traffic not sent;\n"
    "2 for bad usage.\n"
    "\n"
    "Scenarios (Users of incidents are chosen by traffic rank for the seed):\n"
    "  firewall  12 Users, 3 h at 5 s: a declared firewall change blocks one User's\n"
    "            deliveries for 34 min; its backlog climbs, then drains\n"
    "  mdm       12 Users, 3 h at 5 s: a declared MDM go-live floods the DSP with\n"
    "            rejected requests for 14 min; deliveries to a third of the others slow\n"
    "  mixed     30 Users, 5 h at 5 s: every kind, declared, late and undeclared, a DCC\n"
    "            maintenance window, a feed gap, bursts, no-op changes, a ramp, bad lines\n"
    "  daily     24 Users, 48 h at 10 s: day one to learn, with daily batches and noisy\n"
    "            counts; ten incidents on day two\n"
    "  demo      the firewall scenario\n"
    "\n"
    "Examples:\n"
    "  stormwatch simulate --scenario mixed --out /tmp/mixed\n"
    "  stormwatch simulate --users 1000 --hours 24 --seed 7 > /tmp/load.lp\n"
    "  stormwatch simulate --users 5 --hours 2 --incident storm-north:3:1h:10m:declared\n"
    "  stormwatch simulate --scenario firewall --publish tcp://127.0.0.1:5557 --speed 60\n"
    "  stormwatch simulate --scenario mixed --out /tmp/mixed --publish bind:tcp://127.0.0.1:5557\n";

typedef struct {
    const char *scenario, *out, *users, *hours, *interval, *seed, *start, *learn;
    const char *bursts, *noop, *daily, *dispersion, *order;
    const char *publish, *speed, *batch, *hwm, *linger, *input;
    int batches, ramp, quirks;
    const char **incident;
    size_t n_incident;
} cli_t;

static int usage_error(const char *fmt, const char *a, const char *b)
{
    fputs("stormwatch simulate: ", stderr);
    fprintf(stderr, fmt, a, b);
    fputs("\n(see stormwatch simulate --help)\n", stderr);
    return 2;
}

/* Parses all of s as a number within [lo, hi]. */
static int parse_num(const char *s, double lo, double hi, double *v)
{
    char *end;
    if (!s || !*s)
        return -1;
    errno = 0;
    *v = strtod(s, &end);
    return *end || errno || !(*v >= lo && *v <= hi) ? -1 : 0;
}

/* A duration with an optional sign: "-10m", "+5m", "90s". */
static int parse_signed_duration(const char *s, int64_t *ns)
{
    int neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    if (tf_parse_duration(s, ns))
        return -1;
    if (neg)
        *ns = -*ns;
    return 0;
}

/* KIND:USER:AT:DURATION[:MAG][:declared[=SHIFT]|:maintenance[=SHIFT]][:impact] */
static int parse_incident(const char *spec, sim_incident_t *in, char *err, size_t errlen)
{
    char buf[256], *tok[10], *save = NULL;
    size_t n = 0;
    if (strlen(spec) >= sizeof buf) {
        snprintf(err, errlen, "incident spec too long");
        return -1;
    }
    strcpy(buf, spec);
    for (char *t = strtok_r(buf, ":", &save); t && n < 10; t = strtok_r(NULL, ":", &save))
        tok[n++] = t;
    if (n < 4) {
        snprintf(err, errlen, "want KIND:USER:AT:DURATION[:...]");
        return -1;
    }
    *in = (sim_incident_t){ .declare_shift = -10 * MIN_S * SW_NS_PER_S };
    double v;
    if (sim_kind_parse(tok[0], &in->kind)) {
        snprintf(err, errlen, "unknown kind '%s'", tok[0]);
        return -1;
    }
    if (in->kind == SIM_FEED_GAP && (!strcmp(tok[1], "-") || !strcmp(tok[1], "*")))
        in->user = 0;
    else if (parse_num(tok[1], 0, SIM_MAX_USERS, &v) || v != (int)v) {
        snprintf(err, errlen, "bad User index '%s'", tok[1]);
        return -1;
    } else
        in->user = (int)v;
    if (tf_parse_duration(tok[2], &in->at) || tf_parse_duration(tok[3], &in->duration)) {
        snprintf(err, errlen, "bad AT or DURATION ('%s', '%s')", tok[2], tok[3]);
        return -1;
    }
    for (size_t i = 4; i < n; i++) {
        char *eq = strchr(tok[i], '=');
        if (eq)
            *eq++ = '\0';
        if (!strcmp(tok[i], "declared") || !strcmp(tok[i], "maintenance")) {
            in->declare = tok[i][0] == 'd' ? SIM_DECLARED : SIM_MAINTENANCE;
            if (eq && parse_signed_duration(eq, &in->declare_shift)) {
                snprintf(err, errlen, "bad SHIFT '%s'", eq);
                return -1;
            }
        } else if (!strcmp(tok[i], "impact") && !eq) {
            in->impact = 1;
        } else if (!eq && parse_num(tok[i], 0, 1e6, &v) == 0) {
            in->magnitude = v;
        } else {
            snprintf(err, errlen, "unknown part '%s'", tok[i]);
            return -1;
        }
    }
    return 0;
}

/* Fills cli from argv; returns -1 after --help, 2 on bad usage, else 0. */
static int parse_args(int argc, char **argv, cli_t *c)
{
    static const struct {
        const char *name;
        size_t off; /* offsetof the string in cli_t, or of the int flag */
        int flag;
    } opts[] = {
        { "scenario", offsetof(cli_t, scenario), 0 }, { "out", offsetof(cli_t, out), 0 },
        { "users", offsetof(cli_t, users), 0 },       { "hours", offsetof(cli_t, hours), 0 },
        { "interval", offsetof(cli_t, interval), 0 }, { "seed", offsetof(cli_t, seed), 0 },
        { "start", offsetof(cli_t, start), 0 },       { "learn", offsetof(cli_t, learn), 0 },
        { "bursts", offsetof(cli_t, bursts), 0 },     { "noop", offsetof(cli_t, noop), 0 },
        { "daily", offsetof(cli_t, daily), 0 },       { "dispersion", offsetof(cli_t, dispersion), 0 },
        { "batches", offsetof(cli_t, batches), 1 },   { "ramp", offsetof(cli_t, ramp), 1 },
        { "quirks", offsetof(cli_t, quirks), 1 },       { "order", offsetof(cli_t, order), 0 },
        { "publish", offsetof(cli_t, publish), 0 },   { "speed", offsetof(cli_t, speed), 0 },
        { "batch", offsetof(cli_t, batch), 0 },       { "hwm", offsetof(cli_t, hwm), 0 },
        { "linger", offsetof(cli_t, linger), 0 },     { "input", offsetof(cli_t, input), 0 },
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            return -1;
        }
        if (strncmp(a, "--", 2) != 0)
            return usage_error("unexpected argument '%s'%s", a, "");
        a += 2;
        const char *eq = strchr(a, '='), *val = NULL;
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        if (nlen == 8 && !strncmp(a, "incident", 8)) {
            val = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
            if (!val)
                return usage_error("--incident needs a value%s%s", "", "");
            c->incident[c->n_incident++] = val;
            continue;
        }
        size_t k = 0;
        while (k < N_OF(opts) && !(strlen(opts[k].name) == nlen && !strncmp(a, opts[k].name, nlen)))
            k++;
        if (k == N_OF(opts))
            return usage_error("unknown option '%s'%s", argv[i], "");
        if (opts[k].flag) {
            if (eq)
                return usage_error("--%s takes no value%s", opts[k].name, "");
            *(int *)(void *)((char *)c + opts[k].off) = 1;
            continue;
        }
        val = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
        if (!val)
            return usage_error("--%s needs a value%s", opts[k].name, "");
        *(const char **)(void *)((char *)c + opts[k].off) = val;
    }
    return 0;
}

/* Applies the parsed options over the defaults or the scenario. */
static int build_opts(const cli_t *c, sim_opts_t *o, sim_incident_t *inc)
{
    double v;
    int64_t ns;
    char err[160];
    sim_opts_defaults(o);
    if (c->seed) {
        char *end;
        errno = 0;
        o->seed = strtoull(c->seed, &end, 10);
        if (*end || errno || !*c->seed || *c->seed == '-')
            return usage_error("bad --seed '%s'%s", c->seed, "");
    }
    if (c->start && tf_parse_rfc3339(c->start, &o->start_ns))
        return usage_error("bad --start '%s' (want RFC 3339, e.g. 2024-03-12T06:00:00Z)%s", c->start, "");
    if (c->scenario && sim_preset(c->scenario, o, inc))
        return usage_error("unknown scenario '%s' (firewall, mdm, mixed, daily, demo)%s", c->scenario, "");
    if (c->users) {
        if (parse_num(c->users, 1, SIM_MAX_USERS, &v) || v != (int)v)
            return usage_error("bad --users '%s'%s", c->users, "");
        o->n_users = (int)v;
    }
    if (c->hours) {
        if (parse_num(c->hours, 1e-3, 24 * 3650, &v))
            return usage_error("bad --hours '%s'%s", c->hours, "");
        o->duration_ns = (int64_t)(v * 3600 * 1e9);
    }
    if (c->interval) {
        if (tf_parse_duration(c->interval, &ns) || ns < 1000000)
            return usage_error("bad --interval '%s' (at least 1ms)%s", c->interval, "");
        o->interval_ns = ns;
    }
    if (c->learn) {
        if (tf_parse_duration(c->learn, &ns))
            return usage_error("bad --learn '%s'%s", c->learn, "");
        o->learn_ns = ns;
    } else if (!c->scenario && o->duration_ns >= 48 * HOUR_S * SW_NS_PER_S) {
        o->learn_ns = 24 * HOUR_S * SW_NS_PER_S; /* multi-day runs learn a whole day */
    }
    if (c->bursts) {
        if (parse_num(c->bursts, 0, 1000000, &v) || v != (int)v)
            return usage_error("bad --bursts '%s'%s", c->bursts, "");
        o->n_bursts = (int)v;
    }
    if (c->noop) {
        if (parse_num(c->noop, 0, 100000, &v) || v != (int)v)
            return usage_error("bad --noop '%s'%s", c->noop, "");
        o->n_noop_changes = (int)v;
    }
    if (c->daily) {
        if (parse_num(c->daily, 0, 0.95, &v))
            return usage_error("bad --daily '%s' (0 to 0.95)%s", c->daily, "");
        o->daily_amplitude = v;
    }
    if (c->dispersion) {
        if (parse_num(c->dispersion, 0, 10, &v))
            return usage_error("bad --dispersion '%s' (0 to 10)%s", c->dispersion, "");
        o->dispersion = v;
    }
    if (c->order) {
        static const char *const orders[] = { "offset", "id", "shuffled" };
        size_t k = 0;
        while (k < N_OF(orders) && strcmp(c->order, orders[k]))
            k++;
        if (k == N_OF(orders))
            return usage_error("bad --order '%s' (offset, id or shuffled)%s", c->order, "");
        o->order = (sim_order_t)k;
    }
    o->daily_batches |= c->batches;
    o->onboarding |= c->ramp;
    if (c->quirks || o->n_duplicates)
        set_quirks(o); /* sized for the final run */
    size_t n = o->n_incidents;
    if (n && o->incidents != inc)
        memcpy(inc, o->incidents, n * sizeof *inc);
    for (size_t i = 0; i < c->n_incident; i++) {
        if (parse_incident(c->incident[i], &inc[n], err, sizeof err))
            return usage_error("bad --incident '%s': %s", c->incident[i], err);
        n++;
    }
    o->incidents = inc;
    o->n_incidents = n;
    if (sim_validate(o, err, sizeof err))
        return usage_error("%s%s", err, "");
    return 0;
}

#define BIND_PREFIX "bind:"
#define SPEED_MAX 1e9 /* a billion times real time: a 30-year run in a second */
#define BATCH_MAX 1000000

/* Checks the publishing options; they need --publish. */
static int build_pub_opts(const cli_t *c, sim_pub_opts_t *po)
{
    double v;
    int64_t ns;
    sim_pub_opts_defaults(po);
    if (!c->publish) {
        const char *name = c->speed ? "speed" : c->batch ? "batch" : c->hwm ? "hwm"
                         : c->linger ? "linger" : c->input ? "input" : NULL;
        return name ? usage_error("--%s needs --publish%s", name, "") : 0;
    }
    po->endpoint = c->publish;
    if (!strncmp(po->endpoint, BIND_PREFIX, strlen(BIND_PREFIX))) {
        po->endpoint += strlen(BIND_PREFIX);
        po->bind = 1;
    }
    if (!*po->endpoint)
        return usage_error("bad --publish '%s' (want e.g. tcp://127.0.0.1:5557 or bind:tcp://127.0.0.1:5557)%s",
                           c->publish, "");
    if (c->speed && strcmp(c->speed, "max") != 0) {
        if (parse_num(c->speed, 1e-6, SPEED_MAX, &v) || v <= 0)
            return usage_error("bad --speed '%s' (a number above 0, e.g. 60, or max)%s", c->speed, "");
        po->speed = v;
    }
    if (c->batch) {
        if (parse_num(c->batch, 1, BATCH_MAX, &v) || v != (int)v)
            return usage_error("bad --batch '%s' (1 to 1000000 lines)%s", c->batch, "");
        po->batch = (int)v;
    }
    if (c->hwm) {
        if (parse_num(c->hwm, 0, INT_MAX, &v) || v != (int)v)
            return usage_error("bad --hwm '%s' (a number of messages; 0: none)%s", c->hwm, "");
        po->hwm = (int)v;
    }
    if (c->linger) {
        if (tf_parse_duration(c->linger, &ns) || ns / 1000000 > INT_MAX)
            return usage_error("bad --linger '%s' (a duration such as 10s)%s", c->linger, "");
        po->linger_ns = ns;
    }
    return 0;
}

static FILE *open_in(const char *dir, const char *name, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        fprintf(stderr, "stormwatch simulate: cannot write %s: %s\n", path, strerror(errno));
    return f;
}

static int close_ok(FILE *f)
{
    return f ? fclose(f) == 0 : 1;
}

/* The files of --out, and their names for messages. */
typedef struct {
    FILE *traffic, *changes, *truth;
    char pt[4096], pc[4096], pj[4096];
} outdir_t;

/* Creates DIR and opens its three files; returns 0, or 1 after a message
 * (then whatever was opened is still to be closed by outdir_close()). */
static int outdir_open(const char *dir, outdir_t *d)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "stormwatch simulate: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    d->traffic = open_in(dir, "traffic.lp", d->pt, sizeof d->pt);
    d->changes = d->traffic ? open_in(dir, "changes.yaml", d->pc, sizeof d->pc) : NULL;
    d->truth = d->changes ? open_in(dir, "truth.json", d->pj, sizeof d->pj) : NULL;
    return d->truth ? 0 : 1;
}

/* Closes the files; returns rc, or 1 when one could not be finished. Says
 * what was written when all went well. */
static int outdir_close(const char *dir, outdir_t *d, int rc)
{
    if (!close_ok(d->traffic) || !close_ok(d->changes) || !close_ok(d->truth)) {
        fprintf(stderr, "stormwatch simulate: cannot finish writing in %s\n", dir);
        rc = 1;
    }
    if (rc == 0)
        fprintf(stderr, "stormwatch simulate: wrote %s, %s, %s\n", d->pt, d->pc, d->pj);
    return rc;
}

/* --input: the recording's bytes, as they are, to the publisher. */
static int copy_input(const char *path, FILE *to)
{
    FILE *in = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!in) {
        fprintf(stderr, "stormwatch simulate: %s: %s\n", path, strerror(errno));
        return SW_EIO;
    }
    char buf[1 << 16];
    size_t n;
    int rc = SW_OK;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, to) != n) {
            rc = SW_EIO;
            break;
        }
    if (ferror(in)) {
        fprintf(stderr, "stormwatch simulate: %s: read error\n", path);
        rc = SW_EIO;
    }
    if (in != stdin)
        fclose(in);
    return rc;
}

/* --publish: the traffic goes to the socket (and to DIR/traffic.lp with
 * --out), the other documents to DIR. Returns the exit status. */
static int publish(const cli_t *c, const sim_opts_t *o, const sim_pub_opts_t *po)
{
    outdir_t d = { 0 };
    sim_pub_t *pub = NULL;
    char msg[400];
    int rc = c->out ? outdir_open(c->out, &d) : 0;
    if (rc == 0 && sim_pub_create(po, d.traffic, stderr, &pub, msg, sizeof msg)) {
        fprintf(stderr, "stormwatch simulate: %s\n", msg);
        rc = 1;
    }
    if (rc == 0) {
        int w = c->input ? copy_input(c->input, sim_pub_stream(pub))
                         : sim_write(o, sim_pub_stream(pub), d.changes, d.truth);
        int f = sim_pub_finish(pub, msg, sizeof msg);
        if (f)
            fprintf(stderr, "stormwatch simulate: %s\n", msg);
        else if (w)
            fprintf(stderr, "stormwatch simulate: %s\n", sw_strerror(w));
        rc = w || f;
        sim_pub_stats_t st;
        sim_pub_stats(pub, &st);
        fprintf(stderr,
                "stormwatch simulate: published to %s: %" PRIu64 " lines, %" PRIu64 " messages, %" PRIu64
                " bytes, %.3f s, %.0f lines/s\n",
                po->endpoint, st.lines, st.messages, st.bytes, st.seconds,
                st.seconds > 0 ? (double)st.lines / st.seconds : 0.0);
        if (st.stalls)
            fprintf(stderr, "stormwatch simulate: waits for the receiver: %" PRIu64 ", %.3f s in all\n",
                    st.stalls, st.stall_seconds);
    }
    sim_pub_destroy(pub);
    return c->out ? outdir_close(c->out, &d, rc) : rc;
}

int sim_main(int argc, char **argv)
{
    cli_t c = { 0 };
    c.incident = calloc((size_t)argc + 1, sizeof *c.incident);
    sim_incident_t *inc = calloc((size_t)argc + SIM_PRESET_MAX, sizeof *inc);
    sim_opts_t o;
    sim_pub_opts_t po;
    int rc = 1;
    if (!c.incident || !inc) {
        fputs("stormwatch simulate: out of memory\n", stderr);
        goto done;
    }
    rc = parse_args(argc, argv, &c);
    if (rc) {
        rc = rc < 0 ? 0 : rc;
        goto done;
    }
    if ((rc = build_opts(&c, &o, inc)) != 0 || (rc = build_pub_opts(&c, &po)) != 0)
        goto done;
    if (c.publish) {
        rc = publish(&c, &o, &po);
    } else if (!c.out) {
        int w = sim_write(&o, stdout, NULL, NULL);
        rc = w || fflush(stdout) ? 1 : 0;
        if (rc)
            fprintf(stderr, "stormwatch simulate: %s\n", w ? sw_strerror(w) : "cannot write standard output");
    } else {
        outdir_t d = { 0 };
        rc = outdir_open(c.out, &d);
        if (rc == 0) {
            int w = sim_write(&o, d.traffic, d.changes, d.truth);
            if (w)
                fprintf(stderr, "stormwatch simulate: %s\n", sw_strerror(w));
            rc = w != 0;
        }
        rc = outdir_close(c.out, &d, rc);
    }
done:
    free(c.incident);
    free(inc);
    return rc;
}
