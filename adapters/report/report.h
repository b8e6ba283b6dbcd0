/*
 * report.h - the post-incident report of a replay: a self-contained HTML
 * page (timeline, one chart per incident, a system view, a summary) and a
 * Markdown summary for tickets.
 *
 * A report is built in two passes. First the alert lines (contract section
 * 3) are added, from this replay's detection or from an alerts file; they
 * are paired into incidents and the filters applied. Then
 * report_prepare() fixes each incident's chart window, and the recording is
 * read again, every sample through report_add_sample(): each chart keeps
 * its User's rate (min and max per pixel column, so long recordings stay
 * small), the backlog, and a baseline band learned with the detectors' own
 * model (baseline.h); the system view keeps the total traffic per
 * direction and each storm's top Users. Only bounded state is kept: a
 * fixed number of columns per chart, one counter per User per storm.
 *
 * DESIGN: single-threaded; the replay command owns the report.
 */
#ifndef SW_REPORT_H
#define SW_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "changes.h"
#include "lineproto.h"
#include "params.h"

typedef struct report report_t;

typedef struct {
    int64_t from, to;    /* incidents overlapping [from, to]; INT64_MIN/MAX: all */
    const char *user;    /* only this User's incidents; NULL: all */
} report_filter_t;

/* What the report says about where it came from (all strings borrowed). */
typedef struct {
    const char *const *inputs;  /* recording files */
    size_t ninputs;
    const char *alerts_source;  /* "detected in this replay" or the alerts file */
    const char *changes_source; /* change register file, or NULL */
} report_meta_t;

/*
 * A report over `reg` (borrowed; may be NULL: no change windows), learning
 * baseline bands with `params` (copied). Returns NULL when out of memory.
 */
report_t *report_create(const report_filter_t *filter, const changes_t *reg,
                        const detect_params_t *params);
/* Frees the report; NULL is a no-op. */
void report_destroy(report_t *r);

/*
 * Adds one alert line (JSON, contract section 3). Returns 0, or -1 with a
 * message naming the problem in `err` when the line is not an alert line
 * (nothing is added). A resolved line completes the incident its firing line
 * opened; one without a firing line opens and closes an incident.
 */
int report_add_alert_json(report_t *r, const char *line, size_t len, char *err, size_t errlen);

/*
 * Adds one change-check line (JSON, contract section 2.1): the verdict on
 * a change, shown in the table of changes. 0, or -1 with the problem in
 * `err`. A second check of one change replaces the first.
 */
int report_add_check_json(report_t *r, const char *line, size_t len, char *err, size_t errlen);

/* The verdict the report holds on change `id` ("as_declared", "deviated",
 * "unverifiable"), its summary in *summary (may be NULL); NULL: none. */
const char *report_verdict(const report_t *r, const char *id, const char **summary);

/*
 * Ends the alert pass: applies the filters and sizes each incident's chart.
 * Returns the number of incidents in the report, or -1 when out of memory.
 */
int report_prepare(report_t *r);

/* Adds one sample of the recording (second pass). */
void report_add_sample(report_t *r, const lp_sample_t *s);

/* Writes the HTML page / the Markdown summary. Returns 0, or -1 on a write error. */
int report_write_html(const report_t *r, FILE *out, const report_meta_t *meta);
int report_write_markdown(const report_t *r, FILE *out, const report_meta_t *meta);

#endif
