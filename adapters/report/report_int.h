/*
 * report_int.h - the report's data, shared by its collector (report.c) and
 * its renderers (report_html.c: the page and the Markdown summary,
 * report_chart.c: the SVG charts, report_axis.c: their axes and labels).
 * Private to those files.
 *
 * The alert lines become rep_alert_t (a firing line and its resolved line
 * paired), grouped by their `incident` id into rep_incident_t: one primary
 * alert that stands for the incident and its members. The incident's
 * chart follows its primary's series; the Users it hurt get a backlog
 * chart each, REP_HURT_DRAWN of them at most.
 */
#ifndef SW_REPORT_INT_H
#define SW_REPORT_INT_H

#include <stdio.h>

#include "baseline.h"
#include "idindex.h"
#include "report.h"
#include "series.h"

#define REP_COLS 480          /* pixel columns of an incident chart */
#define REP_SUB 4             /* rate sub-buckets per column: min/max come from these */
#define REP_SYS_COLS 960      /* buckets of the system view, at most */
#define REP_SYS_WIDTH0 (INT64_C(10) * 1000000000) /* first bucket width of the system view */
#define REP_LEARN_NS (INT64_C(60) * 1000000000)   /* the band learns from counts over 60 s */
#define REP_BAND_SD 2.0       /* the band is the expected rate +- this many sd */
#define REP_PAD_MIN_NS (INT64_C(1200) * 1000000000) /* context before and after an incident */
#define REP_CHANGE_REACH_NS (INT64_C(6) * 3600 * 1000000000) /* a change this close widens the chart */
#define REP_TOP_USERS 5       /* Users listed per storm */
#define REP_HURT_DRAWN 8      /* Users an incident hurt with a backlog chart; the rest are
                                 listed: a page of small charts, not hundreds */

typedef struct {
    double band_lo, band_hi;  /* baseline band, msgs/s; NAN until learned */
    double exp_lo, exp_hi;    /* the expectation the band is around, msgs/s: the
                                 baselines silence and storm thresholds scale */
    double backlog;           /* highest total backlog seen in the column; NAN: none */
} rep_col_t;

typedef struct {
    uint32_t series;          /* index in the report's series table */
    double backlog;           /* its latest gauge */
} rep_gauge_t;

/* The latest backlog gauge of each series behind one total. */
typedef struct {
    rep_gauge_t *v;
    size_t n, cap;
    double total;             /* the sum of v[].backlog */
} rep_gauges_t;

/* One alert: its firing line and its resolved line, paired. */
typedef struct {
    char *kind, *user, *cls, *corr, *summary;
    char *severity;           /* as written; NULL when the line had none */
    char *change_id, *change_title, *change_kind;
    double change_score;
    int dir;                  /* DIR_SOUTH, DIR_NORTH or DIR_BOTH */
    char starts_text[40];     /* starts_at exactly as written */
    int64_t starts, detected, ends; /* ends: INT64_MAX while firing */
    double value, baseline;
    char **impacted;          /* the resolved line's list when there is one (it grows) */
    size_t nimpacted;
    int member;               /* incident_role "member"; 0: primary, or no incident */
    int learning;             /* "learning": true */
    uint32_t group;           /* its incident in report.groups */
    uint32_t seq;             /* its firing (or lone resolved) line's place among the alerts */
    int lead;                 /* stands for its incident (report_prepare sets it) */
} rep_alert_t;

/* A User an incident hurt, with its northbound backlog over the chart. */
typedef struct {
    const char *user;         /* borrowed from an alert */
    rep_gauges_t g;
    double *backlog;          /* REP_COLS: highest total per column; NAN: none */
} rep_hurt_t;

typedef struct {
    const char *id;           /* "INC-0007" (borrowed from report.groups), NULL: none */
    const rep_alert_t **alerts; /* in report.alerts: the primary first, then the members
                                 by onset (a slice of report.members) */
    size_t nalerts;
    int64_t starts, ends;     /* the first onset and the last end of its alerts;
                                 ends: INT64_MAX while one fires */
    const char **hurt;        /* the Users it hurt: its primary's impacted Users, then the
                                 Users of its members (borrowed names, each once) */
    size_t nhurt;
    rep_hurt_t drawn[REP_HURT_DRAWN]; /* the first of them, with a backlog chart */
    size_t ndrawn;

    /* the chart of its primary's series: [t0, t1) in REP_COLS columns */
    int64_t t0, t1;
    rep_col_t *cols;
    double *sub;              /* REP_COLS * REP_SUB message counts */
    double *dsub;             /* the same, messages delivered (northbound) */
    unsigned char *subseen;   /* the same, 1 where data covered it */
    rep_gauges_t g;           /* the series behind the backlog */
    base_t base;              /* the band: learnt from the matching samples */
    int64_t learn_end;        /* the band has learnt up to here */
    double learn_acc;         /* messages since then */
    int learning;             /* has seen a sample */
    size_t band_next;         /* first column whose band is not set yet */

    /* a storm primary: messages per User (report user index) during its span */
    double *share;
    size_t share_cap;
    double share_total;
} rep_incident_t;

/* The incident an alert line names, while the alert lines are read. */
typedef struct {
    char *id;                 /* "INC-0007" (owned), NULL: an alert without one */
    uint32_t primary;         /* index in report.alerts; UINT32_MAX: none yet */
} rep_group_t;

/* A chart a User's samples go to: incident `inc`'s own (slot -1) or its
 * hurt User number `slot`'s. inc UINT32_MAX ends a list. */
typedef struct {
    uint32_t inc;
    int32_t slot;
} rep_ref_t;

/* A change's verdict (change-check line). */
typedef struct {
    char *change, *verdict, *summary; /* owned */
} rep_check_t;

struct report {
    report_filter_t filter;
    const changes_t *reg;
    detect_params_t params;
    base_cfg_t bcfg;

    /* the alert pass */
    rep_alert_t *alerts;
    size_t nalerts, alerts_cap;
    rep_group_t *groups;
    size_t ngroups, groups_cap;
    idindex_t group_ix;       /* incident id -> its latest group */
    rep_check_t *checks;      /* verdicts on changes */
    size_t nchecks, checks_cap;
    idindex_t check_ix;       /* change id -> checks[] */

    /* after report_prepare: the incidents kept, by their primary's onset */
    rep_incident_t *inc;
    size_t ninc;
    const rep_alert_t **members; /* every incident's alerts, one incident after the other */
    int prepared;

    series_table_t *st;       /* interns every series seen in the recording */
    rep_ref_t **by_user;      /* per report user index: its charts (computed on first sight) */
    size_t by_user_cap;
    uint32_t *wild;           /* incidents about every User (primary user "*") */
    size_t nwild;
    uint32_t *storms;         /* incidents with a storm primary, by onset */
    size_t nstorms, storm_next;
    uint32_t *active;         /* storms whose span holds the latest sample */
    size_t nactive;

    /* the system view: total rate per direction */
    int64_t sys_origin, sys_width;
    size_t sys_n;
    double sys[REP_SYS_COLS][2];
    int64_t first_ts, last_ts;
    uint64_t samples;
};

/* The name of report user index `u`. */
const char *rep_user_name(const report_t *r, uint32_t u);

/* ---- shared by the renderers (report_html.c, report_chart.c) ---- */

#define REP_NS_S 1000000000.0
#define REP_DAY_NS (INT64_C(86400) * 1000000000)
#define REP_TIME_LEN 40       /* room for rep_when() */

/* Writes s with HTML's special characters escaped; NULL writes nothing. */
void rep_esc(FILE *f, const char *s);
/* "2019-09-16 00:46:20" (UTC, whole seconds) in buf. */
const char *rep_when(int64_t ns, char buf[REP_TIME_LEN]);
/* A signed duration for people: "10.6 s", "4 min 05 s", "2 h 03 min", "1 d 02 h". */
const char *rep_span(int64_t ns, char *buf, size_t n);

/* ---- chart geometry (report_axis.c), in SVG units ---- */

#define REP_FONT 11.0         /* px of the charts' text (the page's CSS says the same) */
#define REP_ASCENT 0.95       /* a text line's box: this many REP_FONT above its baseline */
#define REP_DESCENT 0.27      /* ... and this many below (DejaVu Sans, rounded up) */
#define REP_LABEL_GAP 8.0     /* the least room between two time labels */
#define REP_HEADROOM 0.06     /* a fitted axis leaves this share of the data's range free
                                 above and below it, so no line runs along the frame */
#define REP_TICKS_MAX 64
#define REP_LABELS_MAX 128

/* A value axis from min to max (multiples of step) in steps of step. */
typedef struct {
    double min, max, step;
} rep_axis_t;

/* The axis of values in [lo, hi] (NAN: none) with about `ticks` steps:
 * the range and some headroom, rounded out to a round step (1, 2, 2.5 or
 * 5 times a power of ten); never below 0 when lo is not. */
rep_axis_t rep_fit_axis(double lo, double hi, int ticks);

typedef struct {
    int64_t t;
    double x;
    char label[24];           /* "08:10", "03-12 08:10", "03-12" */
} rep_tick_t;

/*
 * The time ticks of [t0, t1) drawn from x0 to x1: the finest round step
 * (10 s to 4 weeks) whose labels fit within [x0, x1] with REP_LABEL_GAP
 * between them. The first label and those where the day changes carry the
 * date. Returns their number, written to out; the step in *step.
 */
size_t rep_time_ticks(int64_t t0, int64_t t1, double x0, double x1, rep_tick_t out[REP_TICKS_MAX],
                      int64_t *step);

typedef struct {
    double x0, y0, x1, y1;
} rep_box_t;

/* The estimated width of `text` at REP_FONT, never under the browser's. */
double rep_text_width(const char *text);
/* The box of `text` with its baseline at y, anchored at x: -1 start, 0 middle, 1 end. */
rep_box_t rep_text_box(double x, double y, int anchor, const char *text);

/* The labels drawn in one chart of width x height, so that none overlaps another. */
typedef struct {
    rep_box_t v[REP_LABELS_MAX];
    size_t n;
    double width, height;
} rep_labels_t;

void rep_labels_init(rep_labels_t *l, double width, double height);
/* Takes box b when it is inside the chart and overlaps no box taken: 1;
 * else 0 and nothing changes. */
int rep_label_take(rep_labels_t *l, rep_box_t b);

/* What a chart drew besides its data, for its legend (report_chart.c). */
enum {
    REP_SHOWN_CHANGE = 1,      /* a User's declared change window */
    REP_SHOWN_MAINTENANCE = 2, /* a DCC maintenance window */
    REP_SHOWN_STALL = 4,       /* a feed stall */
    REP_SHOWN_THRESHOLDS = 8,  /* the fire and clear thresholds */
};

/* The SVG chart of incident `in`: its primary's series, the change
 * windows that concern it, feed stalls, its primary's span, its members'
 * spans, the detection time and, for a storm or a silence, the thresholds.
 * Returns what it drew besides the data (REP_SHOWN_*). */
unsigned rep_incident_chart(FILE *f, const report_t *r, const rep_incident_t *in);
/* A small chart of drawn hurt User k's northbound backlog over in's window. */
void rep_hurt_chart(FILE *f, const report_t *r, const rep_incident_t *in, size_t k);
/* The system view's chart: total traffic per direction, storms shaded.
 * Returns what it drew besides the data (REP_SHOWN_*). */
unsigned rep_system_chart(FILE *f, const report_t *r);

/*
 * The ratios of an alert kind's thresholds to its expectation: a storm
 * fires above storm_ratio_fire and clears under storm_ratio_clear times the
 * top of the expectation (det_storm.c's one-sample bar, for samples no
 * longer than a burst), a silence fires under silence_max_fraction and
 * clears above silence_clear_fraction times its bottom (det_silence.c).
 * Returns 1, or 0 (nothing written) for kinds without rate thresholds.
 */
int rep_threshold_ratios(const report_t *r, const char *kind, double *fire_ratio,
                         double *clear_ratio);
/* Those thresholds of incident in's primary per chart column, NAN where
 * the band has not learnt. Returns 1; 0 for kinds without them (nothing
 * written) or when no column has learnt (all NAN). */
int rep_thresholds(const report_t *r, const rep_incident_t *in, double fire[REP_COLS],
                   double clear[REP_COLS], double *fire_ratio, double *clear_ratio);

#endif
