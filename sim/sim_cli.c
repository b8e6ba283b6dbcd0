/*
 * sim_cli.c - `stormwatch simulate`: the command line of the traffic
 * simulator.
 *
 * adapters/main.c calls sim_main() with argv[0] = "simulate". The options
 * are parsed by hand (no getopt: no global state), applied over a preset
 * (sim_preset.c) when --scenario names one, checked by sim_validate(), and
 * sim_write() writes the documents to DIR (--out), and the traffic to
 * standard output or, with --publish, to a ZeroMQ socket through
 * sim_zmq.c. With --timezone (or a preset's timezone) the process's TZ is
 * set to it before anything is generated: the library reads local time
 * from TZ.
 */
#include "sim_priv.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "params.h"
#include "sim_zmq.h"
#include "timefmt.h"

#define MIN_S 60
#define HOUR_S 3600
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

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
    "  --interval D       sample interval of every User: seconds, or a duration such\n"
    "                     as 10s (default 5)\n"
    "  --cadences LIST    mixed cadences instead: each User samples at one drawn from\n"
    "                     LIST, D[:WEIGHT],... (e.g. 1s,10s,30s,60s,5m,15m or\n"
    "                     1s:1,10s:4,5m:12; weights default to 1), its counts its rates\n"
    "                     x its cadence, all lines in event-time order\n"
    "  --seed N           random seed (default 1)\n"
    "  --start TIME       RFC 3339 start of the run (default 2024-03-12T06:00:00Z)\n"
    "  --learn D          learning time before eval_from in the truth (default 30m,\n"
    "                     or 24h for runs of 48 h or more)\n"
    "  --incident SPEC    add an incident (repeatable):\n"
    "                       KIND:USER:AT:DURATION[:MAG][:declared[=SHIFT]|:maintenance[=SHIFT]]\n"
    "                                            [:impact][:rise=D][:exp][:north|:south][:code=J]\n"
    "                     KIND      blocked, degraded, storm-north, storm-south,\n"
    "                               silence-north, silence-south, feed-gap, burst,\n"
    "                               ramp-south, ramp-north (a storm growing from x1 to\n"
    "                               xMAG over rise=D, default 10m; exp: exponentially),\n"
    "                               storm-code (one small alert code xMAG; needs\n"
    "                               --alert-codes; code=J: the J-th largest instead),\n"
    "                               shift-up, shift-down (a level shift for hours:\n"
    "                               south, the default, the requests; north, the alerts)\n"
    "                     USER      User index 0..N-1 (- for feed-gap)\n"
    "                     AT, DURATION  from the start of the run: 1h10m, 90s, 600\n"
    "                     MAG       storm, ramp, shift-up or burst multiplier (defaults\n"
    "                               20 north, 15 south and ramps, 30 storm-code, 2\n"
    "                               shift-up, 3 burst); the fraction left for degraded\n"
    "                               (0.2), silence (0) and shift-down (0.5)\n"
    "                     declared  a change by the User covers it; maintenance: a DCC one;\n"
    "                               SHIFT = change start - onset, e.g. -10m (default) or 5m\n"
    "                     impact    (storm-south, ramp-south) deliveries to a third of the\n"
    "                               others slow\n"
    "  --bursts N         harmless x3 bursts of 1-3 samples on random Users\n"
    "  --long-bursts N    harmless x3 bursts of 30-60 s (in time, whatever the cadence)\n"
    "  --noop N           declared changes that change nothing\n"
    "  --daily A          time-of-day amplitude, 0 to 0.95 (default 0)\n"
    "  --weekly           weekends at 50-70% of the weekday volume (per User), the\n"
    "                     daily peak 2-3 h later and flatter\n"
    "  --timezone TZ      the daily pattern, the weekly rhythm and the batches follow\n"
    "                     local time in TZ (Europe/London, or a POSIX rule such as\n"
    "                     GMT0BST,M3.5.0/1,M10.5.0), so they move by an hour in UTC\n"
    "                     across a clock change (default: UTC)\n"
    "  --rates LO:HI      base request rates, log-uniform, msg/s (default 0.5:500)\n"
    "  --dispersion PHI   overdispersion: var = mu + PHI mu^2 (default 0.005; 0.05 to\n"
    "                     0.15 is heavy: 20-40% noise on large Users)\n"
    "  --alert-codes N    split each User's north alerts into N series\n"
    "                     class=alert_XXXX, Zipf shares (the last about 1% or less)\n"
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
    "  hidden-mix  40 Users, 72 h from Friday 00:00 in London (2024-10-25, its own\n"
    "            start unless --start), cadences 1 s to 15 min, rates 0.05-500 msg/s,\n"
    "            heavy noise, 4 alert codes, weekends, the October clock change; Friday\n"
    "            to learn; on the weekend a shift up, a linear and an exponential ramp,\n"
    "            a x5 flood of 35 min on a large User, a blocked route across the clock\n"
    "            change, a storm in a small alert code, a shift down, a silence; decoys:\n"
    "            batches, an onboarding ramp, short and 30-60 s bursts, no-op changes\n"
    "  demo      the firewall scenario\n"
    "\n"
    "Examples:\n"
    "  stormwatch simulate --scenario mixed --out /tmp/mixed\n"
    "  stormwatch simulate --users 1000 --hours 24 --seed 7 > /tmp/load.lp\n"
    "  stormwatch simulate --users 5 --hours 2 --incident storm-north:3:1h:10m:declared\n"
    "  stormwatch simulate --users 40 --hours 72 --cadences 1s,10s,1m,5m,15m --daily 0.3 \\\n"
    "      --weekly --start 2024-03-30T00:00:00Z --timezone Europe/London --out /tmp/dst\n"
    "  stormwatch simulate --users 20 --hours 6 --alert-codes 5 --incident storm-code:2:3h:20m \\\n"
    "      --incident ramp-north:4:4h:40m:rise=20m:exp --incident shift-down:6:2h:3h:north\n"
    "  stormwatch simulate --scenario firewall --publish tcp://127.0.0.1:5557 --speed 60\n"
    "  stormwatch simulate --scenario mixed --out /tmp/mixed --publish bind:tcp://127.0.0.1:5557\n";

typedef struct {
    const char *scenario, *out, *users, *hours, *interval, *seed, *start, *learn;
    const char *bursts, *noop, *daily, *dispersion, *order;
    const char *cadences, *rates, *timezone, *alert_codes, *long_bursts;
    const char *publish, *speed, *batch, *hwm, *linger, *input;
    int batches, ramp, quirks, weekly;
    const char **incident;
    size_t n_incident;
} cli_t;

static int usage_error(const char *fmt, const char *a, const char *b)
{
    fputs("stormwatch simulate: ", stderr);
    fprintf(stderr, fmt, a, b);
    fputs("\n(see stormwatch simulate --help)\n", stderr);
    return SW_EINVAL;
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

/* KIND:USER:AT:DURATION[:MAG][:declared[=SHIFT]|:maintenance[=SHIFT]][:impact]
 *   [:rise=D][:exp][:north|:south][:code=J] */
static int parse_incident(const char *spec, sim_incident_t *in, char *err, size_t errlen)
{
    char buf[256], *tok[16], *save = NULL;
    size_t n = 0;
    if (strlen(spec) >= sizeof buf) {
        sw_errf(err, errlen, "incident spec too long");
        return -1;
    }
    strcpy(buf, spec);
    for (char *t = strtok_r(buf, ":", &save); t && n < N_OF(tok); t = strtok_r(NULL, ":", &save))
        tok[n++] = t;
    if (n < 4) {
        sw_errf(err, errlen, "want KIND:USER:AT:DURATION[:...]");
        return -1;
    }
    *in = (sim_incident_t){ .declare_shift = -10 * MIN_S * SW_NS_PER_S };
    double v;
    if (sim_kind_parse(tok[0], &in->kind)) {
        sw_errf(err, errlen, "unknown kind '%s'", tok[0]);
        return -1;
    }
    if (in->kind == SIM_FEED_GAP && (!strcmp(tok[1], "-") || !strcmp(tok[1], "*")))
        in->user = 0;
    else if (parse_num(tok[1], 0, SIM_MAX_USERS, &v) || v != (int)v) {
        sw_errf(err, errlen, "bad User index '%s'", tok[1]);
        return -1;
    } else
        in->user = (int)v;
    if (tf_parse_duration(tok[2], &in->at) || tf_parse_duration(tok[3], &in->duration)) {
        sw_errf(err, errlen, "bad AT or DURATION ('%s', '%s')", tok[2], tok[3]);
        return -1;
    }
    for (size_t i = 4; i < n; i++) {
        char *eq = strchr(tok[i], '=');
        if (eq)
            *eq++ = '\0';
        if (!strcmp(tok[i], "declared") || !strcmp(tok[i], "maintenance")) {
            in->declare = tok[i][0] == 'd' ? SIM_DECLARED : SIM_MAINTENANCE;
            if (eq && parse_signed_duration(eq, &in->declare_shift)) {
                sw_errf(err, errlen, "bad SHIFT '%s'", eq);
                return -1;
            }
        } else if (!strcmp(tok[i], "impact") && !eq) {
            in->impact = 1;
        } else if (!strcmp(tok[i], "exp") && !eq) {
            in->exp_rise = 1;
        } else if ((!strcmp(tok[i], "north") || !strcmp(tok[i], "south")) && !eq) {
            in->dir = tok[i][0] == 'n' ? SIM_DIR_NORTH : SIM_DIR_SOUTH;
        } else if (!strcmp(tok[i], "rise") && eq) {
            if (tf_parse_duration(eq, &in->rise) || in->rise <= 0) {
                sw_errf(err, errlen, "bad rise '%s'", eq);
                return -1;
            }
        } else if (!strcmp(tok[i], "code") && eq) {
            if (parse_num(eq, 1, SIM_MAX_ALERT_CODES, &v) || v != (int)v) {
                sw_errf(err, errlen, "bad code '%s' (1 = the largest)", eq);
                return -1;
            }
            in->code = (int)v;
        } else if (!eq && parse_num(tok[i], 0, 1e6, &v) == 0) {
            in->magnitude = v;
        } else {
            sw_errf(err, errlen, "unknown part '%s'", tok[i]);
            return -1;
        }
    }
    return 0;
}

/* Fills cli from argv; returns SIM_HELP after --help, SW_EINVAL on bad
 * usage (said), else SW_OK. */
#define SIM_HELP 1
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
        { "cadences", offsetof(cli_t, cadences), 0 }, { "rates", offsetof(cli_t, rates), 0 },
        { "timezone", offsetof(cli_t, timezone), 0 }, { "alert-codes", offsetof(cli_t, alert_codes), 0 },
        { "long-bursts", offsetof(cli_t, long_bursts), 0 }, { "weekly", offsetof(cli_t, weekly), 1 },
        { "publish", offsetof(cli_t, publish), 0 },   { "speed", offsetof(cli_t, speed), 0 },
        { "batch", offsetof(cli_t, batch), 0 },       { "hwm", offsetof(cli_t, hwm), 0 },
        { "linger", offsetof(cli_t, linger), 0 },     { "input", offsetof(cli_t, input), 0 },
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            return SIM_HELP;
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

/* --cadences D[:WEIGHT],...: into cad[], *n set. Returns 0 or -1. */
static int parse_cadences(const char *list, sim_cadence_t cad[SIM_MAX_CADENCES], size_t *n)
{
    char buf[512], *save = NULL;
    if (strlen(list) >= sizeof buf)
        return -1;
    strcpy(buf, list);
    *n = 0;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(t, ':');
        double w = 1;
        if (colon)
            *colon++ = '\0';
        if (*n == SIM_MAX_CADENCES || tf_parse_duration(t, &cad[*n].ns) ||
            (colon && (parse_num(colon, 1e-9, 1e9, &w) || w <= 0)))
            return -1;
        cad[(*n)++].weight = w;
    }
    return *n ? 0 : -1;
}

/* --rates LO:HI */
static int parse_rates(const char *s, double *lo, double *hi)
{
    char buf[64];
    const char *colon = strchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof buf)
        return -1;
    memcpy(buf, s, (size_t)(colon - s));
    buf[colon - s] = '\0';
    return parse_num(buf, 1e-6, 1e6, lo) || parse_num(colon + 1, 1e-6, 1e6, hi) || *lo > *hi ? -1 : 0;
}

/* Whether the C library knows the zone: a POSIX rule (it has a digit, as
 * in GMT0BST,M3.5.0/1,M10.5.0) or a file under TZDIR or the system's
 * zoneinfo. glibc takes any other name for UTC without a word. */
static int tz_known(const char *tz)
{
    char path[4096];
    const char *dir = getenv("TZDIR");
    if (*tz == ':')
        tz++;
    if (!*tz || strstr(tz, ".."))
        return 0;
    if (strpbrk(tz, "0123456789") || *tz == '/')
        return *tz != '/' || access(tz, R_OK) == 0;
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", tz);
    return access(path, R_OK) == 0;
}

/* Reads an integer option within [lo, hi] into *out; a usage error names it. */
static int int_opt(const char *val, const char *name, double lo, double hi, int *out)
{
    double v;
    if (!val)
        return 0;
    if (parse_num(val, lo, hi, &v) || v != (int)v)
        return usage_error("bad --%s '%s'", name, val);
    *out = (int)v;
    return 0;
}

/* The options of the newer shapes, over o. */
static int build_shape_opts(const cli_t *c, sim_opts_t *o, sim_cadence_t cad[SIM_MAX_CADENCES])
{
    if (c->cadences) {
        if (c->interval)
            return usage_error("--interval and --cadences exclude each other%s%s", "", "");
        if (parse_cadences(c->cadences, cad, &o->n_cadences))
            return usage_error("bad --cadences '%s' (want e.g. 1s,10s,5m or 1s:1,10s:4, at most 16)%s",
                               c->cadences, "");
        o->cadences = cad;
    } else if (c->interval) {
        o->n_cadences = 0;
        o->cadences = NULL;
    }
    if (c->rates && parse_rates(c->rates, &o->rate_lo, &o->rate_hi))
        return usage_error("bad --rates '%s' (want LO:HI in msg/s, e.g. 0.05:500)%s", c->rates, "");
    if (int_opt(c->alert_codes, "alert-codes", 0, SIM_MAX_ALERT_CODES, &o->alert_codes) ||
        int_opt(c->long_bursts, "long-bursts", 0, 1000000, &o->n_long_bursts))
        return SW_EINVAL;
    o->weekly |= c->weekly;
    if (c->timezone)
        o->timezone = c->timezone;
    if (o->timezone && !tz_known(o->timezone))
        return usage_error("unknown --timezone '%s' (want a zone such as Europe/London, or a POSIX rule)%s",
                           o->timezone, "");
    if (o->timezone && (setenv("TZ", o->timezone, 1) != 0))
        return usage_error("cannot set TZ to '%s'%s", o->timezone, "");
    if (o->timezone)
        tzset();
    return 0;
}

/* Applies the parsed options over the defaults or the scenario; cad[]
 * holds --cadences. */
static int build_opts(const cli_t *c, sim_opts_t *o, sim_incident_t *inc, sim_cadence_t cad[SIM_MAX_CADENCES])
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
    if (c->scenario && sim_preset(c->scenario, o, inc))
        return usage_error("unknown scenario '%s' (firewall, mdm, mixed, daily, hidden-mix, demo)%s",
                           c->scenario, "");
    if (c->start && tf_parse_rfc3339(c->start, &o->start_ns))
        return usage_error("bad --start '%s' (want RFC 3339, e.g. 2024-03-12T06:00:00Z)%s", c->start, "");
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
    if (int_opt(c->bursts, "bursts", 0, 1000000, &o->n_bursts) ||
        int_opt(c->noop, "noop", 0, 100000, &o->n_noop_changes))
        return SW_EINVAL;
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
    int rc = build_shape_opts(c, o, cad);
    if (rc)
        return rc;
    if (c->quirks || o->n_duplicates)
        sim_preset_quirks(o); /* sized for the final run */
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

/* Creates DIR and opens its three files; returns SW_OK, or SW_EOPEN after
 * a message (then whatever was opened is still to be closed by
 * outdir_close()). */
static int outdir_open(const char *dir, outdir_t *d)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "stormwatch simulate: cannot create %s: %s\n", dir, strerror(errno));
        return SW_EOPEN;
    }
    d->traffic = open_in(dir, "traffic.lp", d->pt, sizeof d->pt);
    d->changes = d->traffic ? open_in(dir, "changes.yaml", d->pc, sizeof d->pc) : NULL;
    d->truth = d->changes ? open_in(dir, "truth.json", d->pj, sizeof d->pj) : NULL;
    return d->truth ? SW_OK : SW_EOPEN;
}

/* Closes the files; returns rc, or SW_EIO when one could not be finished.
 * Says what was written when all went well. */
static int outdir_close(const char *dir, outdir_t *d, int rc)
{
    if (!close_ok(d->traffic) || !close_ok(d->changes) || !close_ok(d->truth)) {
        fprintf(stderr, "stormwatch simulate: cannot finish writing in %s\n", dir);
        rc = SW_EIO;
    }
    if (rc == SW_OK)
        fprintf(stderr, "stormwatch simulate: wrote %s, %s, %s\n", d->pt, d->pc, d->pj);
    return rc;
}

/* --input: the recording's bytes, as they are, to the publisher; says why
 * when it fails. */
static int copy_input(const char *path, FILE *to)
{
    FILE *in = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!in) {
        fprintf(stderr, "stormwatch simulate: %s: %s\n", path, strerror(errno));
        return SW_EOPEN;
    }
    char buf[1 << 16];
    size_t n;
    int rc = SW_OK;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, to) != n) {
            fprintf(stderr, "stormwatch simulate: %s: cannot hand its lines to the publisher\n",
                    path);
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
 * --out), the other documents to DIR. Returns SW_OK or the first failure's
 * code. */
static int publish(const cli_t *c, const sim_opts_t *o, const sim_pub_opts_t *po)
{
    outdir_t d = { 0 };
    sim_pub_t *pub = NULL;
    char msg[400];
    int rc = c->out ? outdir_open(c->out, &d) : SW_OK;
    if (rc == SW_OK && sim_pub_create(po, d.traffic, stderr, &pub, msg, sizeof msg)) {
        fprintf(stderr, "stormwatch simulate: %s\n", msg);
        rc = SW_EOPEN; /* the endpoint */
    }
    if (rc == SW_OK) {
        int w = c->input ? copy_input(c->input, sim_pub_stream(pub))
                         : sim_write(o, sim_pub_stream(pub), d.changes, d.truth);
        int f = sim_pub_finish(pub, msg, sizeof msg);
        if (f)
            fprintf(stderr, "stormwatch simulate: %s\n", msg);
        else if (w && !c->input) /* copy_input() says why itself */
            fprintf(stderr, "stormwatch simulate: %s\n", sw_strerror(w));
        rc = w ? w : f ? SW_EIO : SW_OK;
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
    sim_cadence_t cad[SIM_MAX_CADENCES];
    sim_pub_opts_t po;
    int rc = SW_ENOMEM;
    if (!c.incident || !inc) {
        fputs("stormwatch simulate: out of memory\n", stderr);
        goto done;
    }
    rc = parse_args(argc, argv, &c);
    if (rc) {
        rc = rc == SIM_HELP ? SW_OK : rc;
        goto done;
    }
    if ((rc = build_opts(&c, &o, inc, cad)) != 0 || (rc = build_pub_opts(&c, &po)) != 0)
        goto done;
    if (c.publish) {
        rc = publish(&c, &o, &po);
    } else if (!c.out) {
        int w = sim_write(&o, stdout, NULL, NULL);
        rc = w ? w : fflush(stdout) ? SW_EIO : SW_OK;
        if (rc)
            fprintf(stderr, "stormwatch simulate: %s\n", w ? sw_strerror(w) : "cannot write standard output");
    } else {
        outdir_t d = { 0 };
        rc = outdir_open(c.out, &d);
        if (rc == SW_OK) {
            rc = sim_write(&o, d.traffic, d.changes, d.truth);
            if (rc)
                fprintf(stderr, "stormwatch simulate: %s\n", sw_strerror(rc));
        }
        rc = outdir_close(c.out, &d, rc);
    }
done:
    free(c.incident);
    free(inc);
    return sw_exit_status(rc);
}
