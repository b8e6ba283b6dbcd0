/*
 * report_int.h - the report's data, shared by its collector (report.c) and
 * its renderers (report_html.c). Private to those two files.
 */
#ifndef SW_REPORT_INT_H
#define SW_REPORT_INT_H

#include "baseline.h"
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

/* Directions of an incident: LP_SOUTH, LP_NORTH, or both (feed_stalled). */
enum { REP_DIR_BOTH = 2 };

typedef struct {
    double band_lo, band_hi;  /* baseline band, msgs/s; NAN until learned */
    double backlog;           /* highest total backlog seen in the column; NAN: none */
} rep_col_t;

typedef struct {
    uint32_t series;          /* index in the report's series table */
    double backlog;           /* its latest gauge */
} rep_gauge_t;

typedef struct {
    /* from the alert lines */
    char *kind, *user, *cls, *corr, *summary;
    char *change_id, *change_title, *change_kind;
    double change_score;
    int dir;                  /* LP_SOUTH, LP_NORTH or REP_DIR_BOTH */
    char starts_text[40];     /* starts_at exactly as written */
    int64_t starts, detected, ends; /* ends: INT64_MAX while firing */
    double value, baseline;
    char **impacted;
    size_t nimpacted;
    int keep;                 /* passes the filters */

    /* the chart: [t0, t1) in REP_COLS columns */
    int64_t t0, t1;
    rep_col_t *cols;
    double *sub;              /* REP_COLS * REP_SUB message counts */
    double *dsub;             /* the same, messages delivered (northbound) */
    unsigned char *subseen;   /* the same, 1 where data covered it */
    rep_gauge_t *gauges;      /* the series behind the backlog */
    size_t ngauges, gauges_cap;
    double backlog_total;
    base_t base;              /* the band: learnt from the matching samples */
    int64_t learn_end;        /* the band has learnt up to here */
    double learn_acc;         /* messages since then */
    int learning;             /* has seen a sample */
    size_t band_next;         /* first column whose band is not set yet */

    /* storms: messages per User (report user index) during the span */
    double *share;
    size_t share_cap;
    double share_total;
} rep_incident_t;

struct report {
    report_filter_t filter;
    const changes_t *reg;
    detect_params_t params;
    base_cfg_t bcfg;

    rep_incident_t *inc;
    size_t ninc, inc_cap;
    int prepared;

    series_table_t *st;       /* interns every series seen in the recording */
    uint32_t **by_user;       /* per report user index: incidents, terminated by UINT32_MAX */
    size_t by_user_cap;
    uint32_t *wild;           /* incidents about every User (user "*") */
    size_t nwild;
    uint32_t *storms;         /* storm incidents by onset */
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

#endif
