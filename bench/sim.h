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
 * between 0.5 and 500 msg/s; south `request` counts (about 0.5% rejected),
 * north `response` counts following the accepted requests (0.9-1.0x) and
 * north `alert` counts (5-25% of the requests), all drawn gamma-Poisson with
 * overdispersion `dispersion`. North deliveries follow the queue with a lag
 * of a few messages; after an outage they drain the backlog at up to
 * SIM_DRAIN_FACTOR times the queue rate. Incidents change this for a span of
 * samples; see sim_kind_t.
 *
 * Times: a sample stamped T covers (T - interval, T]. Samples fall at
 * start + k * interval (k = 1, 2, ...) plus a fixed per-User offset of
 * 0-999 ms, so Users interleave in a fixed order. An incident affects the
 * samples whose nominal time (without the offset) lies in
 * [sim_sample_time(at), sim_sample_time(at + duration)); those two times are
 * its onset and end in the truth.
 *
 * Determinism: the output is a pure function of the options: the same
 * options give byte-identical documents (across machines, as far as their
 * libm's log, exp, pow and sin agree, as glibc's do). Every User draws
 * its noise from its own random stream, so an incident changes only the
 * lines of the Users it touches (its User, and a storm's impacted Users),
 * provided n_bursts is 0 (random bursts step aside for incidents) and it is
 * not a feed gap (quirks step aside for gaps).
 *
 * DESIGN: no global state; every function is safe to call from any thread.
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

typedef enum {
    SIM_BLOCKED,       /* north deliveries 0, backlog += count; truth: blocked_route north */
    SIM_DEGRADED,      /* north deliveries = magnitude x count (default 0.2); blocked_route north */
    SIM_STORM_NORTH,   /* north alert counts x magnitude (default 20), delivered; storm north */
    SIM_STORM_SOUTH,   /* extra requests, (magnitude - 1) x the usual (default 15), ~65% of
                          them rejected; with `impact`, deliveries to ~1/3 of the other Users
                          slow to 0.8-0.9 x while it lasts; storm south */
    SIM_SILENCE_NORTH, /* north counts x magnitude (default 0: none), lines still emitted; silence north */
    SIM_SILENCE_SOUTH, /* south counts x magnitude (default 0), and so the responses; silence south */
    SIM_FEED_GAP,      /* no line at all; `user` and `declare` ignored; truth: feed_stalled, user "*" */
    SIM_BURST,         /* requests x magnitude (default 3): a harmless decoy, never an incident;
                          `declare` ignored */
    SIM_KIND_COUNT_
} sim_kind_t;

/* sim_incident_t.declare */
enum {
    SIM_UNDECLARED = 0,  /* no change explains it: truth cause null */
    SIM_DECLARED = 1,    /* a change by this User, of the fitting kind and direction (firewall
                            north for blocked/degraded, mdm south for a south storm, firmware
                            north for a north storm, network both for a silence) */
    SIM_MAINTENANCE = 2, /* a DCC maintenance change covers it: the truth lists it as an allowed
                            window (an alert naming that change is neutral), not as an incident */
};

typedef struct {
    sim_kind_t kind;
    int user;              /* index of the User, 0..n_users-1 (ignored for FEED_GAP) */
    int64_t at, duration;  /* ns from the start of the run */
    double magnitude;      /* see sim_kind_t; 0 selects the kind's default */
    int declare;           /* SIM_UNDECLARED, SIM_DECLARED or SIM_MAINTENANCE */
    int64_t declare_shift; /* change start minus onset: negative = declared ahead, positive = late */
    int impact;            /* SIM_STORM_SOUTH only: slow the deliveries of ~1/3 of the other Users */
} sim_incident_t;

/* sim_opts_t.order: how the Users of one round are stamped and ordered */
typedef enum {
    SIM_ORDER_OFFSET,   /* each User 0-999 ms after the round, in that order (the default) */
    SIM_ORDER_ID,       /* every series of a round at the round's time, Users in id order */
    SIM_ORDER_SHUFFLED, /* every series of a round at the round's time, Users in a new random
                           order each round (a DSP that stamps a whole round at once) */
} sim_order_t;

typedef struct {
    uint64_t seed;
    int n_users;             /* 1..SIM_MAX_USERS */
    int64_t start_ns;        /* ns since the Unix epoch; the first sample is at start + interval */
    int64_t duration_ns;     /* length of the run */
    int64_t interval_ns;     /* sample interval, >= 1 ms */
    int64_t learn_ns;        /* eval_from = start + learn_ns (the detector's learning time) */
    double daily_amplitude;  /* 0..0.95: rates x (1 + A sin), low at 03:00 UTC, high at 15:00 */
    int daily_batches;       /* ~60% of Users get a daily scheduled-read batch (x3-10, 30-100 min,
                                starting between 22:00 and 04:00, north or south): decoys */
    int onboarding;          /* one User's rates ramp up to x3 over the run: a decoy */
    int n_bursts;            /* harmless x3 bursts of 1-3 samples on random Users after eval_from */
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
} sim_opts_t;

#define SIM_MAX_USERS 1000000

/* Fills `o` with a small quiet run: 12 Users, 3 h at 5 s from 2024-03-12T06:00:00Z,
 * 30 min learning, seed 1, dispersion 0.005, no incident, no decoy, no quirk. */
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
 * ramp factors): a function of (seed, i) only. */
double sim_user_rate(const sim_opts_t *o, int i);

/* The id of the change declared for incident k ("CHG-1001" for k = 0, ...),
 * written to out; NULL when incident k has none (undeclared, a feed gap or a
 * burst). The no-op changes follow the incidents' numbers. */
const char *sim_change_id(const sim_opts_t *o, size_t k, char out[SIM_ID_LEN]);

/* start + the first sample time at or after offset `at` (the grid without
 * the per-User offsets): an incident's onset in the truth when `at` is its
 * start, its end when `at` is its start plus duration. */
int64_t sim_sample_time(const sim_opts_t *o, int64_t at);

/* The CLI name of a kind ("blocked", "storm-south", ...), and back:
 * sim_kind_parse() returns 0 or SW_EINVAL. */
const char *sim_kind_name(sim_kind_t k);
int sim_kind_parse(const char *name, sim_kind_t *k);

/*
 * A named scenario (sim_cli.c): "firewall", "mdm", "mixed", "daily", or
 * "demo" (= firewall). Keeps o->seed and o->start_ns, sets every other
 * field, and writes the incidents to inc[0..SIM_PRESET_MAX) and points
 * o->incidents there. Incident Users are picked by their rate rank for
 * o->seed, so every seed puts each incident on a User of similar size.
 * Returns 0, or SW_ENOTFOUND for an unknown name (o unchanged).
 */
int sim_preset(const char *name, sim_opts_t *o, sim_incident_t inc[SIM_PRESET_MAX]);

/* `stormwatch simulate ...` (argv[0] = "simulate"): exit status 0, 1 when a
 * file could not be written, 2 for bad usage. */
int sim_main(int argc, char **argv);

#endif
