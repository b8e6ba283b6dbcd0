/*
 * report_chart.c - the report's SVG charts (report_int.h), drawn inline by
 * report_html.c: an incident's chart (its primary's rate against the
 * learned band, the fire and clear thresholds of a storm or a silence, its
 * alerts' spans, the detection time, change windows, the backlog of a
 * blocked route), a small backlog chart per User it hurt, and the system
 * view. Every chart shades the feed's stalls (feed_stalled alerts) and
 * DCC maintenance (the register's changes of user DCC) over its time.
 *
 * A chart is as wide as the page's column, so its text shows at REP_FONT
 * there; the SVG scales with its container below that. The value axis is
 * fitted to what the chart draws, the time ticks are thinned to what their
 * labels leave room for, and every label is placed through one
 * rep_labels_t per chart: one that would overlap another is moved to
 * another row or left out (a span's <title> still names it).
 *
 * Every chart has REP_COLS columns (the system view REP_SYS_COLS buckets
 * at most), so a page's size does not grow with the recording. Elements
 * carry classes (observed, band, backlog, threshold fire|clear, detected,
 * alert-span, member-span, feed-stall, change-window [maintenance] with
 * data-change) that the tests read.
 */
#include "report_int.h"

#include <math.h>
#include <string.h>

#include "timefmt.h"

/* chart geometry, in SVG user units (px at the page's full width) */
#define CW 1180.0      /* width of a full chart: the page's column */
#define CW_SMALL 582.0 /* width of a hurt User's chart: two to a row */
#define CH 250.0       /* height of a full chart */
#define CH_SMALL 130.0 /* height of a hurt User's chart */
#define PX_SIDE 58.0   /* room left and right of the plot for the value labels */
#define PY0 16.0       /* plot area top: room for the unit labels */
#define PY_BELOW 22.0  /* room under the plot for the time labels */
#define LANE 4.0       /* height of a member's span, at the bottom of the plot */
#define ROW 14.0       /* one line of labels at the top of the plot */
#define ROWS 3         /* lines of labels at the top of the plot, at most */
#define TICKS 5        /* steps of a full chart's value axis, about */
#define TICKS_SMALL 3  /* of a small one */

/* One chart being drawn: its plot (time [t0, t1) from x0 to x1, the value
 * axis ax from y1 up to y0) and the labels it holds. */
typedef struct {
    FILE *f;
    int64_t t0, t1;
    double x0, x1, y0, y1;
    rep_axis_t ax;
    rep_labels_t labels;
    unsigned shown;  /* REP_SHOWN_* */
} chart_t;

static void chart_init(chart_t *c, FILE *f, int64_t t0, int64_t t1, double w, double h)
{
    *c = (chart_t){ .f = f, .t0 = t0, .t1 = t1, .x0 = PX_SIDE, .x1 = w - PX_SIDE, .y0 = PY0,
                    .y1 = h - PY_BELOW, .ax = { 0, 1, 1 } };
    rep_labels_init(&c->labels, w, h);
}

/* Opens chart c's <svg> of class "chart `cls`" with its time span as
 * data-from and data-to, left open for more attributes. */
static void chart_open(const chart_t *c, const char *cls)
{
    char from[TF_BUFLEN], to[TF_BUFLEN];
    tf_format(c->t0, from);
    tf_format(c->t1, to);
    fprintf(c->f, "<svg class=\"chart%s%s\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
                  "data-from=\"%s\" data-to=\"%s\"",
            *cls ? " " : "", cls, c->labels.width, c->labels.height, from, to);
}

static double sx(const chart_t *c, int64_t t)
{
    double x = c->x0 + (c->x1 - c->x0) * (double)(t - c->t0) / (double)(c->t1 - c->t0);
    return x < c->x0 ? c->x0 : x > c->x1 ? c->x1 : x;
}

/* The height of value v on axis ax (the chart's own, or a right one). */
static double sy_on(const chart_t *c, const rep_axis_t *ax, double v)
{
    double y = c->y1 - (c->y1 - c->y0) * (v - ax->min) / (ax->max - ax->min);
    return y < c->y0 ? c->y0 : y > c->y1 ? c->y1 : y;
}

static double sy(const chart_t *c, double v)
{
    return sy_on(c, &c->ax, v);
}

static double col_x(const chart_t *c, size_t col, double frac)
{
    return c->x0 + (c->x1 - c->x0) * ((double)col + frac) / REP_COLS;
}

/* The range of finite values in v[0..n) into *lo, *hi (left alone when none). */
static void extend(double *lo, double *hi, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            *lo = isnan(*lo) || v[i] < *lo ? v[i] : *lo;
            *hi = isnan(*hi) || v[i] > *hi ? v[i] : *hi;
        }
}

static const char *num(double v, char *buf, size_t n)
{
    double a = fabs(v);
    if (a >= 1e6)
        snprintf(buf, n, "%.4gM", v / 1e6);
    else if (a >= 1e4)
        snprintf(buf, n, "%.4gk", v / 1e3);
    else
        snprintf(buf, n, "%.4g", v);
    return buf;
}

/* A label at (x, y), anchored -1 start, 0 middle, 1 end, when it overlaps
 * no label of the chart: 1, else 0 and nothing is drawn. */
static int label(chart_t *c, double x, double y, int anchor, const char *cls, const char *text)
{
    if (!rep_label_take(&c->labels, rep_text_box(x, y, anchor, text)))
        return 0;
    static const char *const anchors[] = { "start", "middle", "end" };
    fprintf(c->f, "<text x=\"%.1f\" y=\"%.1f\"", x, y);
    if (anchor >= 0)
        fprintf(c->f, " text-anchor=\"%s\"", anchors[anchor + 1]);
    if (cls)
        fprintf(c->f, " class=\"%s\"", cls);
    fputc('>', c->f);
    rep_esc(c->f, text);
    fputs("</text>", c->f);
    return 1;
}

/* A label at the top of the plot from x on, in the first of ROWS lines with room. */
static void top_label(chart_t *c, double x, const char *cls, const char *text)
{
    for (int row = 0; row < ROWS; row++)
        if (label(c, x + 3, c->y0 + 11 + row * ROW, -1, cls, text))
            return;
}

/* The time axis: ticks thinned to what their labels leave room for. */
static void time_axis(chart_t *c)
{
    rep_tick_t ticks[REP_TICKS_MAX];
    int64_t step;
    size_t n = rep_time_ticks(c->t0, c->t1, c->x0, c->x1, ticks, &step);
    fprintf(c->f, "<line class=\"axis\" x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\"/>", c->x0,
            c->y1, c->x1, c->y1);
    for (size_t i = 0; i < n; i++) {
        fprintf(c->f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\"/>",
                ticks[i].x, c->y0, ticks[i].x, c->y1);
        label(c, ticks[i].x, c->y1 + 15, 0, "time", ticks[i].label);
    }
}

/* A value axis on the left (with grid lines) or the right, and its unit. */
static void value_axis(chart_t *c, const rep_axis_t *ax, const char *unit, int right)
{
    double x = right ? c->x1 : c->x0;
    fprintf(c->f, "<line class=\"axis\" x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\"/>", x,
            c->y0, x, c->y1);
    int steps = (int)lround((ax->max - ax->min) / ax->step);
    for (int i = 0; i <= steps; i++) {
        double v = ax->min + i * ax->step, y = sy_on(c, ax, v);
        char b[32];
        label(c, right ? x + 4 : x - 4, y + 4, right ? -1 : 1, NULL, num(v, b, sizeof(b)));
        if (!right && i)
            fprintf(c->f, "<line class=\"grid\" x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\"/>",
                    c->x0, y, c->x1, y);
    }
    label(c, x, c->y0 - 4, right ? 1 : -1, "unit", unit);
}

/* A rect over [a, b] of the plot from y to y + h, clipped, left open for
 * attributes or a title. */
static void band_rect(chart_t *c, const char *cls, int64_t a, int64_t b, double y, double h)
{
    double x0 = sx(c, a), x1 = sx(c, b);
    fprintf(c->f, "<rect class=\"%s\" x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%.0f\"", cls,
            x0, y, x1 - x0 < 1 ? 1 : x1 - x0, h);
}

/* A vertical span [a, b] of the whole plot. */
static void span_rect(chart_t *c, const char *cls, int64_t a, int64_t b)
{
    band_rect(c, cls, a, b, c->y0, c->y1 - c->y0);
}

/* The observed rate of chart column c: min and max over its covered sub-buckets. */
static int col_rate(const rep_incident_t *in, size_t c, double *lo, double *hi)
{
    double w = (double)(in->t1 - in->t0) / (REP_COLS * REP_SUB) / REP_NS_S;
    int any = 0;
    for (size_t k = c * REP_SUB; k < (c + 1) * REP_SUB; k++) {
        if (!in->subseen[k])
            continue;
        double v = in->sub[k] / w;
        if (!any || v < *lo)
            *lo = v;
        if (!any || v > *hi)
            *hi = v;
        any = 1;
    }
    return any;
}

/* The mean delivery rate of chart column c over its covered sub-buckets; NAN: none. */
static double col_delivered(const rep_incident_t *in, size_t c)
{
    double w = (double)(in->t1 - in->t0) / (REP_COLS * REP_SUB) / REP_NS_S, sum = 0;
    int n = 0;
    for (size_t k = c * REP_SUB; k < (c + 1) * REP_SUB; k++)
        if (in->subseen[k]) {
            sum += in->dsub[k] / w;
            n++;
        }
    return n ? sum / n : NAN;
}

/* A line through column middles on axis ax; NAN breaks it, or holds the
 * last value when `hold`. */
static void polyline(chart_t *c, const rep_axis_t *ax, const char *cls, const double *v, int hold)
{
    fprintf(c->f, "<path class=\"%s\" d=\"", cls);
    double last = NAN;
    for (size_t k = 0; k < REP_COLS; k++) {
        double y = isnan(v[k]) && hold ? last : v[k];
        if (!isnan(y))
            fprintf(c->f, "%c%.1f %.1f", isnan(last) ? 'M' : 'L', col_x(c, k, 0.5),
                    sy_on(c, ax, y));
        last = y;
    }
    fputs("\"/>", c->f);
}

/* An envelope path: each run of columns with values, along hi then back along lo. */
static void envelope(chart_t *c, const char *cls, const double *lo, const double *hi)
{
    fprintf(c->f, "<path class=\"%s\" d=\"", cls);
    size_t k = 0;
    while (k < REP_COLS) {
        if (isnan(hi[k])) {
            k++;
            continue;
        }
        size_t end = k;
        while (end < REP_COLS && !isnan(hi[end]))
            end++;
        fprintf(c->f, "M%.1f %.1f", col_x(c, k, 0), sy(c, hi[k]));
        for (size_t i = k; i < end; i++)
            fprintf(c->f, "L%.1f %.1f", col_x(c, i, 0.5), sy(c, hi[i]));
        fprintf(c->f, "L%.1f %.1f", col_x(c, end - 1, 1), sy(c, hi[end - 1]));
        fprintf(c->f, "L%.1f %.1f", col_x(c, end - 1, 1), sy(c, lo[end - 1]));
        for (size_t i = end; i-- > k;)
            fprintf(c->f, "L%.1f %.1f", col_x(c, i, 0.5), sy(c, lo[i]));
        fprintf(c->f, "L%.1f %.1fZ", col_x(c, k, 0), sy(c, lo[k]));
        k = end;
    }
    fputs("\"/>", c->f);
}

/* ---- what the chart's time shares with the rest: changes, stalls ---- */

/* Whether an alert of incident in names change ch. */
static int names_change(const rep_incident_t *in, const change_t *ch)
{
    for (size_t k = 0; k < in->nalerts; k++)
        if (in->alerts[k]->change_id && !strcmp(in->alerts[k]->change_id, ch->id))
            return 1;
    return 0;
}

/* Whether change ch shows on a chart of incident in (NULL: a chart of no
 * one User's): DCC maintenance always; with an incident, also its
 * primary User's changes (every User's for "*") and those its alerts name. */
static int change_shown(const chart_t *c, const rep_incident_t *in, const change_t *ch)
{
    if (ch->end < c->t0 || ch->start > c->t1)
        return 0;
    if (change_is_dcc(ch))
        return 1;
    if (!in)
        return 0;
    const char *user = in->alerts[0]->user;
    return !strcmp(user, "*") || !strcmp(ch->user, user) || names_change(in, ch);
}

/* The end of alert a's span on chart c: the chart's end while it fires. */
static int64_t span_end(const chart_t *c, const rep_alert_t *a)
{
    return a->ends == INT64_MAX ? c->t1 : a->ends;
}

static int is_stall(const chart_t *c, const rep_alert_t *a)
{
    return !strcmp(a->kind, "feed_stalled") && span_end(c, a) >= c->t0 && a->starts <= c->t1;
}

/* Shades the change windows that concern the chart and the feed's stalls. */
static void shade(chart_t *c, const report_t *r, const rep_incident_t *in)
{
    for (size_t i = 0; r->reg && i < changes_count(r->reg); i++) {
        const change_t *ch = changes_get(r->reg, i);
        if (!change_shown(c, in, ch))
            continue;
        int dcc = change_is_dcc(ch);
        span_rect(c, dcc ? "change-window maintenance" : "change-window", ch->start, ch->end);
        c->shown |= dcc ? REP_SHOWN_MAINTENANCE : REP_SHOWN_CHANGE;
        fputs(" data-change=\"", c->f);
        rep_esc(c->f, ch->id);
        fputs("\"><title>", c->f);
        rep_esc(c->f, ch->id);
        fputs(": ", c->f);
        rep_esc(c->f, ch->title ? ch->title : ch->kind);
        fputs("</title></rect>", c->f);
    }
    for (size_t i = 0; i < r->nalerts; i++) {
        const rep_alert_t *a = &r->alerts[i];
        if (!is_stall(c, a))
            continue;
        char b[REP_TIME_LEN], d[48];
        span_rect(c, "feed-stall", a->starts, span_end(c, a));
        fprintf(c->f, "><title>feed stalled from %s UTC", rep_when(a->starts, b));
        if (a->ends != INT64_MAX)
            fprintf(c->f, " for %s", rep_span(a->ends - a->starts, d, sizeof(d)));
        fputs("</title></rect>", c->f);
        c->shown |= REP_SHOWN_STALL;
    }
}

/* The names of what shade() drew, where there is room: after the axes and lines. */
static void shade_labels(chart_t *c, const report_t *r, const rep_incident_t *in)
{
    for (size_t i = 0; r->reg && i < changes_count(r->reg); i++) {
        const change_t *ch = changes_get(r->reg, i);
        if (change_shown(c, in, ch))
            top_label(c, sx(c, ch->start), "change-label", ch->id);
    }
    for (size_t i = 0; i < r->nalerts; i++)
        if (is_stall(c, &r->alerts[i]))
            top_label(c, sx(c, r->alerts[i].starts), "stall-label", "feed stalled");
}

/* A thin strip at the bottom of the plot over an alert's span, named in its title. */
static void member_strip(chart_t *c, const rep_alert_t *a)
{
    band_rect(c, "member-span", a->starts, span_end(c, a), c->y1 - LANE, LANE);
    fputs("><title>", c->f);
    rep_esc(c->f, a->kind);
    fputs(" ", c->f);
    rep_esc(c->f, a->user);
    fprintf(c->f, " %s", dir_name(a->dir));
    if (strcmp(a->cls, "all")) {
        fputs("/", c->f);
        rep_esc(c->f, a->cls);
    }
    fputs("</title></rect>", c->f);
}

/* ---- the fire and clear thresholds ---- */

int rep_threshold_ratios(const report_t *r, const char *kind, double *fire_ratio,
                         double *clear_ratio)
{
    const detect_params_t *p = &r->params;
    int storm = !strcmp(kind, "storm");
    if (!storm && strcmp(kind, "silence"))
        return 0;
    *fire_ratio = storm ? p->storm_ratio_fire : p->silence_max_fraction;
    *clear_ratio = storm ? p->storm_ratio_clear : p->silence_clear_fraction;
    return 1;
}

int rep_thresholds(const report_t *r, const rep_incident_t *in, double fire[REP_COLS],
                   double clear[REP_COLS], double *fire_ratio, double *clear_ratio)
{
    if (!rep_threshold_ratios(r, in->alerts[0]->kind, fire_ratio, clear_ratio))
        return 0;
    /* a storm's bar is over the top of the expectation, a silence's under its bottom */
    int storm = !strcmp(in->alerts[0]->kind, "storm");
    int any = 0;
    for (size_t k = 0; k < REP_COLS; k++) {
        double base = storm ? in->cols[k].exp_hi : in->cols[k].exp_lo;
        fire[k] = *fire_ratio * base;
        clear[k] = *clear_ratio * base;
        any |= !isnan(base);
    }
    return any;
}

/* The name of a threshold line at its right end: above it, else below. */
static void threshold_label(chart_t *c, const double *v, const char *cls, const char *what,
                            double ratio)
{
    size_t k = REP_COLS;
    while (k > 0 && isnan(v[k - 1]))
        k--;
    if (!k)
        return;
    char text[48];
    snprintf(text, sizeof(text), "%s %gx", what, ratio);
    double x = col_x(c, k - 1, 0.5) - 4, y = sy(c, v[k - 1]);
    if (!label(c, x, y - 4, 1, cls, text))
        label(c, x, y + 4 + REP_ASCENT * REP_FONT, 1, cls, text);
}

/* ---- the charts ---- */

unsigned rep_incident_chart(FILE *f, const report_t *r, const rep_incident_t *in)
{
    const rep_alert_t *p = in->alerts[0];
    double lo[REP_COLS], hi[REP_COLS], blo[REP_COLS], bhi[REP_COLS], dl[REP_COLS], bl[REP_COLS];
    double fire[REP_COLS], clear[REP_COLS], fire_ratio = 0, clear_ratio = 0;
    for (size_t k = 0; k < REP_COLS; k++) {
        if (!col_rate(in, k, &lo[k], &hi[k]))
            lo[k] = hi[k] = NAN;
        dl[k] = p->dir == DIR_NORTH ? col_delivered(in, k) : NAN;
        bl[k] = in->cols[k].backlog;
        blo[k] = in->cols[k].band_lo;
        bhi[k] = in->cols[k].band_hi;
    }
    int thresholds = rep_thresholds(r, in, fire, clear, &fire_ratio, &clear_ratio);
    double vlo = NAN, vhi = NAN, blmin = NAN, blmax = NAN;
    extend(&vlo, &vhi, lo, REP_COLS);
    extend(&vlo, &vhi, hi, REP_COLS);
    extend(&vlo, &vhi, blo, REP_COLS);
    extend(&vlo, &vhi, bhi, REP_COLS);
    extend(&vlo, &vhi, dl, REP_COLS);
    if (thresholds) {
        extend(&vlo, &vhi, fire, REP_COLS);
        extend(&vlo, &vhi, clear, REP_COLS);
    }
    extend(&blmin, &blmax, bl, REP_COLS);
    int show_backlog = !strcmp(p->kind, "blocked_route"); /* elsewhere it is noise near 0 */

    chart_t c;
    chart_init(&c, f, in->t0, in->t1, CW, CH);
    c.ax = rep_fit_axis(vlo, vhi, TICKS);
    rep_axis_t bax = rep_fit_axis(blmin, blmax, TICKS);
    chart_open(&c, "");
    fputc('>', f);
    value_axis(&c, &c.ax, "msg/s", 0);
    if (show_backlog)
        value_axis(&c, &bax, "backlog", 1);
    time_axis(&c);
    shade(&c, r, in);
    span_rect(&c, "alert-span", p->starts, span_end(&c, p));
    fputs("/>", f);
    for (size_t k = 1; k < in->nalerts; k++)
        member_strip(&c, in->alerts[k]);
    envelope(&c, "band", blo, bhi);
    envelope(&c, "observed", lo, hi);
    if (p->dir == DIR_NORTH)
        polyline(&c, &c.ax, "delivered", dl, 0);
    if (show_backlog)
        polyline(&c, &bax, "backlog", bl, 1);
    if (thresholds) {
        polyline(&c, &c.ax, "threshold fire", fire, 0);
        polyline(&c, &c.ax, "threshold clear", clear, 0);
        c.shown |= REP_SHOWN_THRESHOLDS;
    }
    double xd = sx(&c, p->detected);
    fprintf(f, "<line class=\"detected\" x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\"/>", xd,
            c.y0, xd, c.y1);
    if (thresholds) {
        threshold_label(&c, fire, "threshold-label", "fire", fire_ratio);
        threshold_label(&c, clear, "threshold-label", "clear", clear_ratio);
    }
    shade_labels(&c, r, in);
    fputs("</svg>", f);
    return c.shown;
}

void rep_hurt_chart(FILE *f, const report_t *r, const rep_incident_t *in, size_t k)
{
    const rep_hurt_t *h = &in->drawn[k];
    double lo = NAN, hi = NAN;
    extend(&lo, &hi, h->backlog, REP_COLS);
    chart_t c;
    chart_init(&c, f, in->t0, in->t1, CW_SMALL, CH_SMALL);
    c.ax = rep_fit_axis(lo, hi, TICKS_SMALL);
    chart_open(&c, "hurt");
    fputs(" data-user=\"", f);
    rep_esc(f, h->user);
    fputs("\">", f);
    value_axis(&c, &c.ax, "backlog", 0);
    time_axis(&c);
    shade(&c, r, NULL);
    for (size_t a = 0; a < in->nalerts; a++) /* its own alerts in this incident */
        if (!strcmp(in->alerts[a]->user, h->user))
            member_strip(&c, in->alerts[a]);
    polyline(&c, &c.ax, "backlog", h->backlog, 1);
    shade_labels(&c, r, NULL);
    fputs("</svg>", f);
}

unsigned rep_system_chart(FILE *f, const report_t *r)
{
    double w = (double)r->sys_width / REP_NS_S, lo = NAN, hi = NAN;
    size_t k0 = 0; /* the first bucket with traffic: the ones before are room for late samples */
    while (k0 + 1 < r->sys_n && r->sys[k0][0] + r->sys[k0][1] <= 0)
        k0++;
    for (size_t k = k0; k < r->sys_n; k++)
        for (int d = 0; d < 2; d++) {
            double v = r->sys[k][d] / w;
            extend(&lo, &hi, &v, 1);
        }
    chart_t c;
    chart_init(&c, f, r->sys_origin + (int64_t)k0 * r->sys_width,
               r->sys_origin + (int64_t)r->sys_n * r->sys_width, CW, CH);
    c.ax = rep_fit_axis(lo, hi, TICKS);
    chart_open(&c, "system");
    fputc('>', f);
    value_axis(&c, &c.ax, "msg/s", 0);
    time_axis(&c);
    shade(&c, r, NULL);
    for (size_t i = 0; i < r->ninc; i++) /* every storm */
        for (size_t k = 0; k < r->inc[i].nalerts; k++) {
            const rep_alert_t *a = r->inc[i].alerts[k];
            if (!strcmp(a->kind, "storm")) {
                span_rect(&c, "storm-span", a->starts, span_end(&c, a));
                fputs("/>", f);
            }
        }
    for (int d = 0; d < 2; d++) {
        fprintf(f, "<path class=\"%s\" d=\"", dir_name(d));
        for (size_t k = k0; k < r->sys_n; k++)
            fprintf(f, "%c%.1f %.1f", k > k0 ? 'L' : 'M',
                    sx(&c, r->sys_origin + (int64_t)k * r->sys_width + r->sys_width / 2),
                    sy(&c, r->sys[k][d] / w));
        fputs("\"/>", f);
    }
    for (size_t i = 0; i < r->ninc; i++) /* each storm's incident number, once */
        for (size_t k = 0; k < r->inc[i].nalerts; k++)
            if (!strcmp(r->inc[i].alerts[k]->kind, "storm")) {
                char n[24];
                snprintf(n, sizeof(n), "%zu", i + 1);
                top_label(&c, sx(&c, r->inc[i].alerts[k]->starts), "storm-label", n);
                break;
            }
    shade_labels(&c, r, NULL);
    fputs("</svg>", f);
    return c.shown;
}
