/*
 * sim.h - the traffic simulator: DSP per-User message counters with known
 * truth, for tests, demos and benchmarks.
 *
 * One call, sim_write(), turns a sim_opts_t into three documents: the
 * traffic in line protocol (contract section 1), the change register in
 * YAML (section 2) and the truth in the labels.json shape that
 * tools/score.py reads (incidents, allowed windows, decoys, quirks).
 * C tests call it in-process (open_memstream() gives a FILE* in memory);
 * `stormwatch simulate` (sim_cli.c) writes the same documents to files.
 *
 * Model, per User and per sample interval: a base request rate, log-uniform
 * between rate_lo and rate_hi (default 0.5 and 500 msg/s); south `request`
 * counts (about 0.5% rejected), north `response` counts following the
 * accepted requests (0.9-1.0x) and north `alert` counts (5-25% of the
 * requests; with alert_codes, split into per-code series of skewed shares),
 * all drawn gamma-Poisson with overdispersion `dispersion`. North deliveries
 * follow the queue with a lag of a few messages; after an outage they drain
 * the backlog at up to SIM_DRAIN_FACTOR times the queue rate. The rates
 * follow the time of day (daily_amplitude), the day of the week (weekly) and
 * nightly batches, in UTC or in local time (timezone). Incidents change this
 * for a span of time; see sim_kind_t.
 *
 * Times: the grid is interval_ns, or with cadences the greatest common
 * divisor of the cadences. Each User has a cadence (interval_ns, or one
 * drawn from `cadences`) and samples at start + k * cadence (k = 1, 2, ...)
 * plus a fixed per-User offset below a second and below the grid, so lines
 * come in event-time order. A sample stamped T covers (T - cadence, T] and
 * counts the User's rates over that time. An incident (or any effect)
 * covers the grid samples stamped in [sim_sample_time(at),
 * sim_sample_time(at + duration)), those two times being its onset and end
 * in the truth; a slower User's sample is affected in proportion to the
 * share of its interval the incident covers, so a 5-min User sees a 45 s
 * x3 burst as one sample at 1 + 2 x 45/300 of its usual count. Time
 * factors (daily, weekly, onboarding) are taken at the middle of a
 * sample's interval, batches in proportion to their overlap.
 *
 * Determinism: the output is a pure function of the options (and, with a
 * timezone, of the C library's zone data): the same options give
 * byte-identical documents (across machines, as far as their libm's log,
 * exp, pow and sin agree, as glibc's do). Every User draws its noise from
 * its own random stream, and its shape (cadence, weekend, alert codes) from
 * another, so an incident changes only the lines of the Users it touches
 * (its User, and a storm's impacted Users), provided n_bursts and
 * n_long_bursts are 0 (random bursts step aside for incidents) and it is
 * not a feed gap (quirks step aside for gaps).
 *
 * DESIGN: no global state; every function is safe to call from any thread,
 * with one exception: with a timezone, sim_validate() reads TZ and
 * sim_write() calls tzset() and localtime_r(), so no thread may change TZ
 * meanwhile.
 */
#ifndef SW_SIM_H
#define SW_SIM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* After an outage, deliveries drain the backlog at up to this many times
 * the queue rate of the moment. */
#define SIM_DRAIN_FACTOR 3

/* Room for sim_user_id() and sim_change_id() strings, with the NUL. */
#define SIM_ID_LEN 24

/* Most incidents a preset fills (the size of sim_preset()'s array). */
#define SIM_PRESET_MAX 16

/* Most cadences in sim_opts_t.cadences, and the longest cadence (a day). */
#define SIM_MAX_CADENCES 16
#define SIM_MAX_CADENCE_NS (INT64_C(86400) * 1000000000)

/* Most alert codes per User (sim_opts_t.alert_codes), and room for a code's
 * class, "alert_XXXX", with the NUL. */
#define SIM_MAX_ALERT_CODES 32
#define SIM_CLASS_LEN 16

/* Ramps rise over this by default (sim_incident_t.rise = 0). */
#define SIM_DEFAULT_RISE_NS (INT64_C(600) * 1000000000)

typedef enum {
    SIM_BLOCKED,       /* north deliveries 0, backlog += count; truth: blocked_route north */
    SIM_DEGRADED,      /* north deliveries = magnitude x count (default 0.2); blocked_route north */
    SIM_STORM_NORTH,   /* north alert counts x magnitude (default 20), delivered; storm north */
    SIM_STORM_SOUTH,   /* extra requests, (magnitude - 1) x the usual (default 15), ~65% of
                          them rejected, the rest answered (a north response storm); with
                          `impact`, deliveries to ~1/3 of the other Users slow to 0.8-0.9 x
                          while it lasts; truth: storm south (the response storm is its
                          symptom, not another incident) */
    SIM_SILENCE_NORTH, /* north counts x magnitude (default 0: none), lines still emitted; silence north */
    SIM_SILENCE_SOUTH, /* south counts x magnitude (default 0), and so the responses; silence south */
    SIM_FEED_GAP,      /* no line at all; `user` and `declare` ignored; truth: feed_stalled, user "*" */
    SIM_BURST,         /* requests x magnitude (default 3): a harmless decoy, never an incident;
                          `declare` ignored */
    SIM_RAMP_SOUTH,    /* a south storm that grows: its multiplier goes from x1 to x magnitude
                          (default 15) over `rise`, linearly or (exp_rise) exponentially, then
                          holds; `impact` as for a south storm; truth: storm south, onset = the
                          start of the ramp */
    SIM_RAMP_NORTH,    /* the same on the north alert counts; storm north */
    SIM_STORM_CODE,    /* one alert code of the User (`code`; by default one of a few percent
                          of its alerts or less) x magnitude (default 30); needs alert_codes;
                          truth: storm north, with the code's "class" */
    SIM_SHIFT_UP,      /* a level shift: the traffic in direction `dir` x magnitude (default 2),
                          for hours: south, the requests (and so the responses); north, the
                          alerts; truth: shift, the direction */
    SIM_SHIFT_DOWN,    /* the same down: x magnitude, the fraction left (default 0.5) */
    SIM_KIND_COUNT_
} sim_kind_t;

/* sim_incident_t.declare */
enum {
    SIM_UNDECLARED = 0,  /* no change explains it: truth cause null */
    SIM_DECLARED = 1,    /* a change by this User, of the fitting kind and direction (firewall
                            north for blocked/degraded, mdm south for a south storm or ramp,
                            firmware north for a north storm, ramp or code storm, network both
                            for a silence, migration both for a shift) */
    SIM_MAINTENANCE = 2, /* a DCC maintenance change covers it: the truth lists it as an allowed
                            window (an alert naming that change is neutral), not as an incident.
                            Maintenance incidents next to each other in the list whose changes
                            start together (at + declare_shift) share one change: one
                            maintenance over many Users */
};

/* sim_incident_t.dir: the direction of a shift */
typedef enum {
    SIM_DIR_DEFAULT = 0, /* south for shifts; the only value for the other kinds */
    SIM_DIR_SOUTH,
    SIM_DIR_NORTH,
} sim_dir_t;

typedef struct {
    sim_kind_t kind;
    int user;              /* index of the User, 0..n_users-1 (ignored for FEED_GAP) */
    int64_t at, duration;  /* ns from the start of the run */
    double magnitude;      /* see sim_kind_t; 0 selects the kind's default */
    int declare;           /* SIM_UNDECLARED, SIM_DECLARED or SIM_MAINTENANCE */
    int64_t declare_shift; /* change start minus onset: negative = declared ahead, positive = late */
    int impact;            /* SIM_STORM_SOUTH and SIM_RAMP_SOUTH only: slow the deliveries of
                              ~1/3 of the other Users */
    int64_t rise;          /* ramps only: ns from x1 to x magnitude (0: SIM_DEFAULT_RISE_NS) */
    int exp_rise;          /* ramps only: 1 = rise exponentially (magnitude^(t/rise)), 0 = linearly */
    sim_dir_t dir;         /* shifts only: the direction (SIM_DIR_DEFAULT = south) */
    int code;              /* SIM_STORM_CODE only: the code by share rank, 1 = the User's largest;
                              0 picks one whose share is a few percent or less */
} sim_incident_t;

/* sim_opts_t.order: how the Users of one round are stamped and ordered */
typedef enum {
    SIM_ORDER_OFFSET,   /* each User 0-999 ms after the round, in that order (the default) */
    SIM_ORDER_ID,       /* every series of a round at the round's time, Users in id order */
    SIM_ORDER_SHUFFLED, /* every series of a round at the round's time, Users in a new random
                           order each round (a DSP that stamps a whole round at once) */
} sim_order_t;

/* One cadence of a mixed feed and its weight: a User gets it with
 * probability weight / (the sum of the weights). */
typedef struct {
    int64_t ns;    /* 1 ms to SIM_MAX_CADENCE_NS */
    double weight; /* > 0 */
} sim_cadence_t;

typedef struct {
    uint64_t seed;
    int n_users;             /* 1..SIM_MAX_USERS */
    int64_t start_ns;        /* ns since the Unix epoch; a User's first sample is at start + its
                                cadence (plus its offset) */
    int64_t duration_ns;     /* length of the run */
    int64_t interval_ns;     /* sample interval of every User, >= 1 ms (ignored with cadences) */
    int64_t learn_ns;        /* eval_from = start + learn_ns (the detector's learning time) */
    double daily_amplitude;  /* 0..0.95: rates x (1 + A sin), low at 03:00, high at 15:00 */
    int daily_batches;       /* ~60% of Users get a daily scheduled-read batch (x3-10, 30-100 min,
                                starting between 22:00 and 04:00, north or south): decoys */
    int onboarding;          /* one User's rates ramp up to x3 over the run: a decoy */
    int n_bursts;            /* harmless x3 bursts of 1-3 grid samples on random Users after
                                eval_from */
    int n_noop_changes;      /* declared changes (kind headend) that change nothing: decoys. The
                                first one, when an undeclared incident exists, is another User's
                                change starting 5 min before that incident's onset */
    double dispersion;       /* overdispersion phi: var = mu + phi mu^2 (0: Poisson) */
    int n_duplicates;        /* exact repeats of a line, up to 6 lines after it */
    int n_swaps;             /* adjacent lines of two Users swapped (out of order by a few ms) */
    int n_malformed;         /* bad lines, cycling through 6 kinds (negative count, no user tag,
                                dir=sideways, a non-numeric timestamp, garbage bytes, truncated) */
    sim_order_t order;       /* SIM_ORDER_*: the same lines in each order, only their times and
                                places within a round differ */
    const sim_incident_t *incidents; /* not owned; must outlive the sim_* calls */
    size_t n_incidents;
    /* The shapes below are off when zero (NULL), and then the documents are
     * those the simulator wrote before they existed, byte for byte. */
    const sim_cadence_t *cadences; /* not owned; 1..SIM_MAX_CADENCES, distinct. Each User gets
                                      one, drawn by weight from its own stream; the truth's
                                      interval_s is the smallest. NULL: every User at
                                      interval_ns */
    size_t n_cadences;
    double rate_lo, rate_hi; /* base request rates, log-uniform in [rate_lo, rate_hi] msg/s,
                                0 < rate_lo <= rate_hi <= 1e6 (defaults 0.5 and 500) */
    int weekly;              /* Saturday and Sunday at 50-70% of the weekday volume (per User),
                                their daily peak 2-3 h later at 50-70% of the amplitude; the
                                change blends in over the first 2 h of Saturday and out over
                                the first 2 h of Monday */
    const char *timezone;    /* NULL: the daily pattern, the weekly rhythm and the batches follow
                                UTC. Else they follow local time (localtime_r): the caller sets
                                the environment's TZ to exactly this string (any name the C
                                library knows, "Europe/London", or a POSIX rule such as
                                "GMT0BST,M3.5.0/1,M10.5.0"), sim_write() calls tzset(), and the
                                truth names it with its UTC offsets. Not owned */
    int alert_codes;         /* 0: one north `alert` series per User. N (1..SIM_MAX_ALERT_CODES):
                                N series class=alert_XXXX per User, shares Zipf-like (the
                                first most, the last about 1% or less); see sim_alert_code() */
    int n_long_bursts;       /* harmless x3 bursts of 30-60 s (in time, whatever the cadence)
                                on random Users after eval_from, from their own stream; a
                                burst shorter than its User's cadence falls within one of
                                its samples */
} sim_opts_t;

#define SIM_MAX_USERS 1000000

/* Fills `o` with a small quiet run: 12 Users, 3 h at 5 s from 2024-03-12T06:00:00Z,
 * 30 min learning, seed 1, dispersion 0.005, rates 0.5 to 500 msg/s, no
 * incident, no decoy, no quirk, every newer shape off. */
void sim_opts_defaults(sim_opts_t *o);

/* Checks the options. Returns 0, or SW_EINVAL and writes a sentence naming
 * the bad option (or the incident, by index) to msg, which may be NULL. */
int sim_validate(const sim_opts_t *o, char *msg, size_t msglen);

/*
 * Writes the traffic, the change register and the truth; any FILE* may be
 * NULL to skip that document. Returns 0; SW_EINVAL when sim_validate()
 * fails (nothing written), SW_ENOMEM, or SW_EIO when a write failed (a
 * document may then be partly written). The files are neither flushed nor
 * closed.
 */
int sim_write(const sim_opts_t *o, FILE *traffic, FILE *changes, FILE *truth);

/* The id of User i, "90-B3-D5-1F-XX-XX-XX-XX": distinct for distinct i, and a
 * function of (seed, i) only. */
void sim_user_id(const sim_opts_t *o, int i, char out[SIM_ID_LEN]);

/* The base south request rate of User i in msg/s (before daily, batch and
 * ramp factors): a function of (seed, rate_lo, rate_hi, i) only. */
double sim_user_rate(const sim_opts_t *o, int i);

/* The sample interval of User i in ns: interval_ns, or the cadence it drew
 * from o->cadences (a function of the seed, the cadences and i only). */
int64_t sim_user_cadence(const sim_opts_t *o, int i);

/* Alert code j (0-based, by share: 0 is the largest) of User i when
 * o->alert_codes > j: writes its class, "alert_XXXX" (4 upper-case hex
 * digits, a function of (seed, i, j), distinct among the User's codes), to
 * out and returns its share of the User's alerts. The shares are Zipf's
 * (j + 1)^-s normalised, with s = max(2, ln 70 / ln N) for N codes, so the
 * last code has about 1% or less. Returns 0 with out "" when j is out of
 * range. */
double sim_alert_code(const sim_opts_t *o, int i, int j, char out[SIM_CLASS_LEN]);

/* The id of the change declared for incident k ("CHG-1001" for k = 0, ...),
 * written to out; NULL when incident k has none (undeclared, a feed gap or a
 * burst). The no-op changes follow the incidents' numbers. */
const char *sim_change_id(const sim_opts_t *o, size_t k, char out[SIM_ID_LEN]);

/* start + the first grid time at or after offset `at` (the grid of the
 * smallest cadence, without the per-User offsets): an incident's onset in
 * the truth when `at` is its start, its end when `at` is its start plus
 * duration. */
int64_t sim_sample_time(const sim_opts_t *o, int64_t at);

/* The CLI name of a kind ("blocked", "storm-south", ...), and back:
 * sim_kind_parse() returns 0 or SW_EINVAL. */
const char *sim_kind_name(sim_kind_t k);
int sim_kind_parse(const char *name, sim_kind_t *k);

/*
 * A named scenario (sim_preset.c): "firewall", "mdm", "mixed", "daily",
 * "hidden-mix", or "demo" (= firewall). Keeps o->seed and o->start_ns (but
 * hidden-mix sets its own start: a Friday, 00:00 in London, before the
 * October clock change), sets every other field, and writes the incidents
 * to inc[0..SIM_PRESET_MAX) and points o->incidents there. Incident Users
 * are picked by their rate rank for o->seed, so every seed puts each
 * incident on a User of similar size. hidden-mix sets o->timezone to
 * "Europe/London": the caller sets TZ to match (sim_validate() says so).
 * Returns 0, or SW_ENOTFOUND for an unknown name (o unchanged).
 */
int sim_preset(const char *name, sim_opts_t *o, sim_incident_t inc[SIM_PRESET_MAX]);

/* `stormwatch simulate ...` (argv[0] = "simulate"): exit status 0, 1 when a
 * file could not be written, 2 for bad usage. */
int sim_main(int argc, char **argv);

#endif
