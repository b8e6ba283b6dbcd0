/*
 * report_chart.c - the report's SVG charts (report_int.h), drawn inline by
 * report_html.c: an incident's chart (its primary's rate against the
 * learned band, its alerts' spans, change windows, the backlog of a
 * blocked route), a small backlog chart per User it hurt, and the system
 * view.
 *
 * Every chart has REP_COLS columns (the system view REP_SYS_COLS buckets
 * at most), so a page's size does not grow with the recording. Elements
 * carry classes (observed, band, backlog, alert-span, member-span,
 * change-window with data-change) that the browser test reads.
 */
#include "report_int.h"

#include <math.h>
#include <string.h>

#include "timefmt.h"

/* chart geometry, in SVG user units */
#define CW 760.0       /* width */
#define CH 230.0       /* height of a full chart */
#define CH_SMALL 118.0 /* height of a hurt User's chart */
#define PX0 58.0       /* plot area, left and right */
#define PX1 702.0
#define PY0 14.0       /* plot area top */
#define PY_BELOW 34.0  /* room under the plot for the time axis */
#define LANE 4.0       /* height of a member's span, at the bottom of the plot */

/* The plot: time [t0, t1) across, values up to ymax from y1 (bottom) to y0. */
typedef struct {
    int64_t t0, t1;
    double y0, y1;
} scale_t;

static scale_t plot(int64_t t0, int64_t t1, double height)
{
    return (scale_t){ t0, t1, PY0, height - PY_BELOW };
}

static double sx(const scale_t *s, int64_t t)
{
    double x = PX0 + (PX1 - PX0) * (double)(t - s->t0) / (double)(s->t1 - s->t0);
    return x < PX0 ? PX0 : x > PX1 ? PX1 : x;
}

static double sy(const scale_t *s, double v, double vmax)
{
    double y = s->y1 - (s->y1 - s->y0) * v / vmax;
    return y < s->y0 ? s->y0 : y;
}

/* A round upper bound for an axis: 1, 2 or 5 times a power of ten. */
static double nice_max(double v)
{
    if (!(v > 0))
        return 1;
    double p = pow(10, floor(log10(v)));
    for (int m = 1; m <= 10; m++)
        if (m != 3 && m != 4 && m < 6 && m * p >= v)
            return m * p;
    return 10 * p;
}

static const char *num(double v, char *buf, size_t n)
{
    if (v >= 1e6)
        snprintf(buf, n, "%.3gM", v / 1e6);
    else if (v >= 1e4)
        snprintf(buf, n, "%.3gk", v / 1e3);
    else
        snprintf(buf, n, "%.4g", v);
    return buf;
}

/* Time ticks on a round step, labelled HH:MM and the date where it changes. */
static void time_axis(FILE *f, const scale_t *s)
{
    static const int64_t steps_min[] = { 1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440 };
    int64_t step = steps_min[sizeof(steps_min) / sizeof(steps_min[0]) - 1] * 60 * (int64_t)REP_NS_S;
    for (size_t i = 0; i < sizeof(steps_min) / sizeof(steps_min[0]); i++) {
        int64_t st = steps_min[i] * 60 * (int64_t)REP_NS_S;
        if ((s->t1 - s->t0) / st <= 8) {
            step = st;
            break;
        }
    }
    fprintf(f, "<line class=\"axis\" x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\"/>", PX0, s->y1,
            PX1, s->y1);
    int last_day = -1;
    for (int64_t t = s->t0 - s->t0 % step + step; t < s->t1; t += step) {
        char b[TF_BUFLEN];
        tf_format(t, b);
        int day = (int)(t / (86400 * (int64_t)REP_NS_S));
        double x = sx(s, t);
        fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\"/>", x,
                s->y0, x, s->y1);
        fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%.5s</text>", x, s->y1 + 14,
                b + 11);
        if (day != last_day)
            fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%.5s</text>", x,
                    s->y1 + 27, b + 5);
        last_day = day;
    }
}

static void value_axis(FILE *f, const scale_t *s, double vmax, const char *unit, int right)
{
    double x = right ? PX1 : PX0;
    int ticks = s->y1 - s->y0 > 100 ? 4 : 2;
    fprintf(f, "<line class=\"axis\" x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\"/>", x, s->y0,
            x, s->y1);
    for (int i = 0; i <= ticks; i++) {
        double v = vmax * i / ticks, y = sy(s, v, vmax);
        char b[32];
        fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"%s\">%s</text>",
                right ? x + 4 : x - 4, y + 4, right ? "start" : "end", num(v, b, sizeof(b)));
        if (!right && i)
            fprintf(f, "<line class=\"grid\" x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\"/>",
                    PX0, y, PX1, y);
    }
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"%s\">%s</text>", x, s->y0 - 4,
            right ? "end" : "start", unit);
}

/* A rect over [a, b] of the plot from y to y + h, clipped, left open for
 * attributes or a title. */
static void band_rect(FILE *f, const scale_t *s, const char *cls, int64_t a, int64_t b, double y,
                      double h)
{
    double x0 = sx(s, a), x1 = sx(s, b);
    fprintf(f, "<rect class=\"%s\" x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%.0f\"", cls, x0, y,
            x1 - x0 < 1 ? 1 : x1 - x0, h);
}

/* A vertical span [a, b] of the whole plot. */
static void span_rect(FILE *f, const scale_t *s, const char *cls, int64_t a, int64_t b)
{
    band_rect(f, s, cls, a, b, s->y0, s->y1 - s->y0);
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

static double col_x(size_t c, double frac)
{
    return PX0 + (PX1 - PX0) * ((double)c + frac) / REP_COLS;
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

/* A line through column middles; NAN breaks it, or holds the last value when `hold`. */
static void polyline(FILE *f, const scale_t *s, const char *cls, const double *v, double vmax,
                     int hold)
{
    fprintf(f, "<path class=\"%s\" d=\"", cls);
    double last = NAN;
    for (size_t c = 0; c < REP_COLS; c++) {
        double y = isnan(v[c]) && hold ? last : v[c];
        if (!isnan(y))
            fprintf(f, "%c%.1f %.1f", isnan(last) ? 'M' : 'L', col_x(c, 0.5), sy(s, y, vmax));
        last = y;
    }
    fputs("\"/>", f);
}

/* An envelope path: each run of columns with values, along hi then back along lo. */
static void envelope(FILE *f, const scale_t *s, const char *cls, const double *lo,
                     const double *hi, double vmax)
{
    fprintf(f, "<path class=\"%s\" d=\"", cls);
    size_t c = 0;
    while (c < REP_COLS) {
        if (isnan(hi[c])) {
            c++;
            continue;
        }
        size_t end = c;
        while (end < REP_COLS && !isnan(hi[end]))
            end++;
        fprintf(f, "M%.1f %.1f", col_x(c, 0), sy(s, hi[c], vmax));
        for (size_t i = c; i < end; i++)
            fprintf(f, "L%.1f %.1f", col_x(i, 0.5), sy(s, hi[i], vmax));
        fprintf(f, "L%.1f %.1f", col_x(end - 1, 1), sy(s, hi[end - 1], vmax));
        fprintf(f, "L%.1f %.1f", col_x(end - 1, 1), sy(s, lo[end - 1], vmax));
        for (size_t i = end; i-- > c;)
            fprintf(f, "L%.1f %.1f", col_x(i, 0.5), sy(s, lo[i], vmax));
        fprintf(f, "L%.1f %.1fZ", col_x(c, 0), sy(s, lo[c], vmax));
        c = end;
    }
    fputs("\"/>", f);
}

static void change_rect(FILE *f, const scale_t *s, const change_t *c)
{
    span_rect(f, s, "change-window", c->start, c->end);
    fputs(" data-change=\"", f);
    rep_esc(f, c->id);
    fputs("\"><title>", f);
    rep_esc(f, c->id);
    fputs(": ", f);
    rep_esc(f, c->title ? c->title : c->kind);
    fputs("</title></rect>", f);
    fprintf(f, "<text x=\"%.1f\" y=\"%.0f\">", sx(s, c->start) + 3, s->y0 + 11);
    rep_esc(f, c->id);
    fputs("</text>", f);
}

/* Whether an alert of incident in names change c. */
static int names_change(const rep_incident_t *in, const change_t *c)
{
    for (size_t k = 0; k < in->nalerts; k++)
        if (in->alerts[k]->change_id && !strcmp(in->alerts[k]->change_id, c->id))
            return 1;
    return 0;
}

/* Change windows that concern this incident: its primary User's, the
 * DCC's, or one its alerts name, in the chart. */
static void change_windows(FILE *f, const report_t *r, const rep_incident_t *in, const scale_t *s)
{
    const char *user = in->alerts[0]->user;
    for (size_t i = 0; r->reg && i < changes_count(r->reg); i++) {
        const change_t *c = changes_get(r->reg, i);
        int mine = !strcmp(user, "*") || !strcmp(c->user, user) || change_is_dcc(c);
        if ((mine || names_change(in, c)) && c->end >= s->t0 && c->start <= s->t1)
            change_rect(f, s, c);
    }
}

/* A thin strip at the bottom of the plot over an alert's span, named in its title. */
static void member_strip(FILE *f, const scale_t *s, const rep_alert_t *a, int64_t t_end)
{
    band_rect(f, s, "member-span", a->starts, a->ends == INT64_MAX ? t_end : a->ends,
              s->y1 - LANE, LANE);
    fputs("><title>", f);
    rep_esc(f, a->kind);
    fputs(" ", f);
    rep_esc(f, a->user);
    fprintf(f, " %s", dir_name(a->dir));
    if (strcmp(a->cls, "all")) {
        fputs("/", f);
        rep_esc(f, a->cls);
    }
    fputs("</title></rect>", f);
}

void rep_incident_chart(FILE *f, const report_t *r, const rep_incident_t *in)
{
    const rep_alert_t *p = in->alerts[0];
    double lo[REP_COLS], hi[REP_COLS], blo[REP_COLS], bhi[REP_COLS], dl[REP_COLS], bl[REP_COLS];
    double ymax = 0, bmax = 0;
    for (size_t c = 0; c < REP_COLS; c++) {
        if (!col_rate(in, c, &lo[c], &hi[c]))
            lo[c] = hi[c] = NAN;
        dl[c] = p->dir == DIR_NORTH ? col_delivered(in, c) : NAN;
        bl[c] = in->cols[c].backlog;
        blo[c] = in->cols[c].band_lo;
        bhi[c] = in->cols[c].band_hi;
        if (hi[c] > ymax)
            ymax = hi[c];
        if (bhi[c] > ymax)
            ymax = bhi[c];
        if (dl[c] > ymax)
            ymax = dl[c];
        if (in->cols[c].backlog > bmax)
            bmax = in->cols[c].backlog;
    }
    ymax = nice_max(ymax * 1.05);
    scale_t s = plot(in->t0, in->t1, CH);
    int show_backlog = !strcmp(p->kind, "blocked_route"); /* elsewhere it is noise near 0 */
    bmax = nice_max(bmax * 1.05);

    fprintf(f, "<svg class=\"chart\" viewBox=\"0 0 %.0f %.0f\" role=\"img\">", CW, CH);
    change_windows(f, r, in, &s);
    span_rect(f, &s, "alert-span", p->starts, p->ends == INT64_MAX ? in->t1 : p->ends);
    fputs("/>", f);
    for (size_t k = 1; k < in->nalerts; k++)
        member_strip(f, &s, in->alerts[k], in->t1);
    value_axis(f, &s, ymax, "msg/s", 0);
    time_axis(f, &s);
    envelope(f, &s, "band", blo, bhi, ymax);
    envelope(f, &s, "observed", lo, hi, ymax);
    if (p->dir == DIR_NORTH)
        polyline(f, &s, "delivered", dl, ymax, 0);
    if (show_backlog) {
        value_axis(f, &s, bmax, "backlog", 1);
        polyline(f, &s, "backlog", bl, bmax, 1);
    }
    double xd = sx(&s, p->detected);
    fprintf(f, "<line class=\"detected\" x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\"/>", xd,
            s.y0, xd, s.y1);
    fputs("</svg>", f);
}

void rep_hurt_chart(FILE *f, const rep_incident_t *in, size_t k)
{
    const rep_hurt_t *h = &in->drawn[k];
    double bmax = 0;
    for (size_t c = 0; c < REP_COLS; c++)
        if (h->backlog[c] > bmax)
            bmax = h->backlog[c];
    bmax = nice_max(bmax * 1.05);
    scale_t s = plot(in->t0, in->t1, CH_SMALL);
    fprintf(f, "<svg class=\"chart hurt\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" data-user=\"", CW,
            CH_SMALL);
    rep_esc(f, h->user);
    fputs("\">", f);
    for (size_t a = 0; a < in->nalerts; a++) /* its own alerts in this incident */
        if (!strcmp(in->alerts[a]->user, h->user))
            member_strip(f, &s, in->alerts[a], in->t1);
    value_axis(f, &s, bmax, "backlog", 0);
    time_axis(f, &s);
    polyline(f, &s, "backlog", h->backlog, bmax, 1);
    fputs("</svg>", f);
}

void rep_system_chart(FILE *f, const report_t *r)
{
    double w = (double)r->sys_width / REP_NS_S, ymax = 0;
    size_t k0 = 0; /* the first bucket with traffic: the ones before are room for late samples */
    while (k0 + 1 < r->sys_n && r->sys[k0][0] + r->sys[k0][1] <= 0)
        k0++;
    for (size_t k = k0; k < r->sys_n; k++)
        for (int d = 0; d < 2; d++)
            ymax = fmax(ymax, r->sys[k][d] / w);
    ymax = nice_max(ymax * 1.05);
    scale_t s = plot(r->sys_origin + (int64_t)k0 * r->sys_width,
                     r->sys_origin + (int64_t)r->sys_n * r->sys_width, CH);
    fprintf(f, "<svg class=\"chart system\" viewBox=\"0 0 %.0f %.0f\" role=\"img\">", CW, CH);
    for (size_t i = 0; i < r->ninc; i++) { /* every storm, numbered once per incident */
        const rep_incident_t *in = &r->inc[i];
        int numbered = 0;
        for (size_t k = 0; k < in->nalerts; k++) {
            const rep_alert_t *a = in->alerts[k];
            if (strcmp(a->kind, "storm"))
                continue;
            span_rect(f, &s, "storm-span", a->starts, a->ends == INT64_MAX ? s.t1 : a->ends);
            fputs("/>", f);
            if (!numbered++)
                fprintf(f, "<text x=\"%.1f\" y=\"%.0f\">%zu</text>", sx(&s, a->starts),
                        s.y0 + 10, i + 1);
        }
    }
    value_axis(f, &s, ymax, "msg/s", 0);
    time_axis(f, &s);
    for (int d = 0; d < 2; d++) {
        fprintf(f, "<path class=\"%s\" d=\"", dir_name(d));
        for (size_t k = k0; k < r->sys_n; k++)
            fprintf(f, "%c%.1f %.1f", k > k0 ? 'L' : 'M',
                    sx(&s, r->sys_origin + (int64_t)k * r->sys_width + r->sys_width / 2),
                    sy(&s, r->sys[k][d] / w, ymax));
        fputs("\"/>", f);
    }
    fputs("</svg>", f);
}
