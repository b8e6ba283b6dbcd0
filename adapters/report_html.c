/*
 * report_html.c - renders a report (report_int.h) as one self-contained
 * HTML page with inline CSS and SVG, and as a Markdown summary.
 *
 * The page carries a Content-Security-Policy that forbids every fetch and
 * script, so it shows the same offline, attached to a review, as here. Its
 * elements carry classes and data- attributes (timeline rows, one chart per
 * incident, change windows) that tooling and the browser test read.
 */
#include "report_int.h"

#include <math.h>
#include <string.h>

#include "timefmt.h"

/* chart geometry, in SVG user units */
#define CW 760.0   /* width */
#define CH 230.0   /* height */
#define PX0 58.0   /* plot area */
#define PX1 702.0
#define PY0 14.0
#define PY1 196.0

#define NS_S 1000000000.0

static const char css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:1180px;color:#1d232a}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ccd}"
    "h3{font-size:15px;margin:18px 0 2px}p.meta{color:#556;margin:2px 0}"
    "table{border-collapse:collapse;width:100%;font-size:13px}"
    "th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #e3e6ea;vertical-align:top}"
    "th{background:#f1f3f5}td.num,td.id{text-align:right;white-space:nowrap}td.id{text-align:left}"
    ".k-storm{color:#b3261e}.k-blocked_route{color:#8a4b00}.k-silence{color:#3f51b5}"
    ".k-feed_stalled{color:#6a1b9a}.undeclared{color:#b3261e;font-weight:600}"
    "svg.chart{display:block;width:100%;max-width:760px;height:auto;background:#fff}"
    "svg.system{max-width:1180px}"
    ".axis{stroke:#99a;stroke-width:1}.grid{stroke:#e6e8eb;stroke-width:1}"
    "svg text{font:11px system-ui,sans-serif;fill:#445}"
    ".observed{fill:#1f6fd1;fill-opacity:.35;stroke:#1f6fd1;stroke-width:1}"
    ".band{fill:#3c9a5f;fill-opacity:.18;stroke:none}"
    ".backlog{fill:none;stroke:#c25b00;stroke-width:1.5;stroke-dasharray:4 2}"
    ".alert-span{fill:#d93025;fill-opacity:.12}.storm-span{fill:#d93025;fill-opacity:.15}"
    ".change-window{fill:#7b61ff;fill-opacity:.13;stroke:#7b61ff;stroke-dasharray:3 2}"
    ".detected{stroke:#d93025;stroke-width:1.5}"
    ".delivered{fill:none;stroke:#0b5d1e;stroke-width:1.3}"
    ".south{fill:none;stroke:#1f6fd1;stroke-width:1.2}.north{fill:none;stroke:#2e7d32;stroke-width:1.2}"
    ".legend{font-size:12px;color:#445;margin:2px 0 0}"
    ".sw{display:inline-block;width:12px;height:10px;margin:0 4px 0 10px;vertical-align:-1px}";

/* ---- text ---- */

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* Markdown table cells: no pipes or line breaks. */
static void md_esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else
            fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
    }
}

/* "2019-09-16 00:46:20" (UTC), whole seconds. */
static const char *when(int64_t ns, char buf[TF_BUFLEN])
{
    tf_format(ns - ns % 1000000000, buf);
    buf[10] = ' ';
    char *z = strchr(buf, 'Z');
    if (z)
        *z = '\0';
    return buf;
}

/* A signed duration for people: "10.6 s", "4 min 05 s", "2 h 03 min", "1 d 02 h". */
static const char *span_text(int64_t ns, char *buf, size_t n)
{
    const char *sign = ns < 0 ? "-" : "";
    double s = fabs((double)ns) / NS_S;
    long whole = (long)s;
    if (s < 60)
        snprintf(buf, n, "%s%.1f s", sign, s);
    else if (s < 3600)
        snprintf(buf, n, "%s%ld min %02ld s", sign, whole / 60, whole % 60);
    else if (s < 86400)
        snprintf(buf, n, "%s%ld h %02ld min", sign, whole / 3600, whole / 60 % 60);
    else
        snprintf(buf, n, "%s%ld d %02ld h", sign, whole / 86400, whole / 3600 % 24);
    return buf;
}

static const char *dir_name(int dir)
{
    return dir == LP_NORTH ? "north" : dir == LP_SOUTH ? "south" : "both";
}

static const change_t *change_of(const report_t *r, const rep_incident_t *in)
{
    return in->change_id && r->reg ? changes_find(r->reg, in->change_id) : NULL;
}

/* An onset relative to a change's start: "12 min 00 s after", "3 min 59 s before". */
static const char *relative(int64_t ns, char *buf, size_t n)
{
    char d[40];
    snprintf(buf, n, "%s %s", span_text(ns < 0 ? -ns : ns, d, sizeof(d)),
             ns < 0 ? "before" : "after");
    return buf;
}

/* ---- chart helpers ---- */

typedef struct {
    int64_t t0, t1;
    double ymax;
} scale_t;

static double sx(const scale_t *s, int64_t t)
{
    double x = PX0 + (PX1 - PX0) * (double)(t - s->t0) / (double)(s->t1 - s->t0);
    return x < PX0 ? PX0 : x > PX1 ? PX1 : x;
}

static double sy(double v, double vmax)
{
    double y = PY1 - (PY1 - PY0) * v / vmax;
    return y < PY0 ? PY0 : y;
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
    int64_t step = steps_min[sizeof(steps_min) / sizeof(steps_min[0]) - 1] * 60 * (int64_t)NS_S;
    for (size_t i = 0; i < sizeof(steps_min) / sizeof(steps_min[0]); i++) {
        int64_t st = steps_min[i] * 60 * (int64_t)NS_S;
        if ((s->t1 - s->t0) / st <= 8) {
            step = st;
            break;
        }
    }
    fprintf(f, "<line class=\"axis\" x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\"/>", PX0, PY1,
            PX1, PY1);
    int last_day = -1;
    for (int64_t t = s->t0 - s->t0 % step + step; t < s->t1; t += step) {
        char b[TF_BUFLEN];
        tf_format(t, b);
        int day = (int)(t / (86400 * (int64_t)NS_S));
        double x = sx(s, t);
        fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\"/>", x,
                PY0, x, PY1);
        fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%.5s</text>", x, PY1 + 14,
                b + 11);
        if (day != last_day)
            fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%.5s</text>", x,
                    PY1 + 27, b + 5);
        last_day = day;
    }
}

static void value_axis(FILE *f, double vmax, const char *unit, int right)
{
    double x = right ? PX1 : PX0;
    fprintf(f, "<line class=\"axis\" x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\"/>", x, PY0, x,
            PY1);
    for (int i = 0; i <= 4; i++) {
        double v = vmax * i / 4, y = sy(v, vmax);
        char b[32];
        fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"%s\">%s</text>",
                right ? x + 4 : x - 4, y + 4, right ? "start" : "end", num(v, b, sizeof(b)));
        if (!right && i)
            fprintf(f, "<line class=\"grid\" x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\"/>",
                    PX0, y, PX1, y);
    }
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"%s\">%s</text>", x, PY0 - 4,
            right ? "end" : "start", unit);
}

/* A vertical span [a, b] of the plot, clipped. */
static void span_rect(FILE *f, const scale_t *s, const char *cls, int64_t a, int64_t b)
{
    double x0 = sx(s, a), x1 = sx(s, b);
    fprintf(f, "<rect class=\"%s\" x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%.0f\"", cls, x0,
            PY0, x1 - x0 < 1 ? 1 : x1 - x0, PY1 - PY0);
}

/* The observed rate of chart column c: min and max over its covered sub-buckets. */
static int col_rate(const rep_incident_t *in, size_t c, double *lo, double *hi)
{
    double w = (double)(in->t1 - in->t0) / (REP_COLS * REP_SUB) / NS_S;
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
    double w = (double)(in->t1 - in->t0) / (REP_COLS * REP_SUB) / NS_S, sum = 0;
    int n = 0;
    for (size_t k = c * REP_SUB; k < (c + 1) * REP_SUB; k++)
        if (in->subseen[k]) {
            sum += in->dsub[k] / w;
            n++;
        }
    return n ? sum / n : NAN;
}

/* A line through column middles; NAN breaks it, or holds the last value when `hold`. */
static void polyline(FILE *f, const char *cls, const double *v, double vmax, int hold)
{
    fprintf(f, "<path class=\"%s\" d=\"", cls);
    double last = NAN;
    for (size_t c = 0; c < REP_COLS; c++) {
        double y = isnan(v[c]) && hold ? last : v[c];
        if (!isnan(y))
            fprintf(f, "%c%.1f %.1f", isnan(last) ? 'M' : 'L', col_x(c, 0.5), sy(y, vmax));
        last = y;
    }
    fputs("\"/>", f);
}

/* An envelope path: each run of columns with values, along hi then back along lo. */
static void envelope(FILE *f, const char *cls, const double *lo, const double *hi, double vmax)
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
        fprintf(f, "M%.1f %.1f", col_x(c, 0), sy(hi[c], vmax));
        for (size_t i = c; i < end; i++)
            fprintf(f, "L%.1f %.1f", col_x(i, 0.5), sy(hi[i], vmax));
        fprintf(f, "L%.1f %.1f", col_x(end - 1, 1), sy(hi[end - 1], vmax));
        fprintf(f, "L%.1f %.1f", col_x(end - 1, 1), sy(lo[end - 1], vmax));
        for (size_t i = end; i-- > c;)
            fprintf(f, "L%.1f %.1f", col_x(i, 0.5), sy(lo[i], vmax));
        fprintf(f, "L%.1f %.1fZ", col_x(c, 0), sy(lo[c], vmax));
        c = end;
    }
    fputs("\"/>", f);
}

static void change_rect(FILE *f, const scale_t *s, const change_t *c)
{
    span_rect(f, s, "change-window", c->start, c->end);
    fputs(" data-change=\"", f);
    esc(f, c->id);
    fputs("\"><title>", f);
    esc(f, c->id);
    fputs(": ", f);
    esc(f, c->title ? c->title : c->kind);
    fputs("</title></rect>", f);
    fprintf(f, "<text x=\"%.1f\" y=\"%.0f\">", sx(s, c->start) + 3, PY0 + 11);
    esc(f, c->id);
    fputs("</text>", f);
}

/* Change windows that concern this incident: its User's or the DCC's, in the chart. */
static void change_windows(FILE *f, const report_t *r, const rep_incident_t *in, const scale_t *s)
{
    for (size_t i = 0; r->reg && i < changes_count(r->reg); i++) {
        const change_t *c = changes_get(r->reg, i);
        int mine = !strcmp(in->user, "*") || !strcmp(c->user, in->user) || change_is_dcc(c);
        int correlated = in->change_id && !strcmp(in->change_id, c->id);
        if ((mine || correlated) && c->end >= s->t0 && c->start <= s->t1)
            change_rect(f, s, c);
    }
}

static void incident_chart(FILE *f, const report_t *r, const rep_incident_t *in)
{
    double lo[REP_COLS], hi[REP_COLS], blo[REP_COLS], bhi[REP_COLS], dl[REP_COLS], bl[REP_COLS];
    double ymax = 0, bmax = 0;
    for (size_t c = 0; c < REP_COLS; c++) {
        if (!col_rate(in, c, &lo[c], &hi[c]))
            lo[c] = hi[c] = NAN;
        dl[c] = in->dir == LP_NORTH ? col_delivered(in, c) : NAN;
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
    scale_t s = { in->t0, in->t1, ymax };
    int show_backlog = !strcmp(in->kind, "blocked_route"); /* elsewhere it is noise near 0 */
    bmax = nice_max(bmax * 1.05);

    fprintf(f, "<svg class=\"chart\" viewBox=\"0 0 %.0f %.0f\" role=\"img\">", CW, CH);
    change_windows(f, r, in, &s);
    span_rect(f, &s, "alert-span", in->starts, in->ends == INT64_MAX ? in->t1 : in->ends);
    fputs("/>", f);
    value_axis(f, ymax, "msg/s", 0);
    time_axis(f, &s);
    envelope(f, "band", blo, bhi, ymax);
    envelope(f, "observed", lo, hi, ymax);
    if (in->dir == LP_NORTH)
        polyline(f, "delivered", dl, ymax, 0);
    if (show_backlog) {
        value_axis(f, bmax, "backlog", 1);
        polyline(f, "backlog", bl, bmax, 1);
    }
    double xd = sx(&s, in->detected);
    fprintf(f, "<line class=\"detected\" x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\"/>", xd,
            PY0, xd, PY1);
    fputs("</svg>", f);
}

/* ---- sections ---- */

static void td(FILE *f, const char *cls, const char *text)
{
    fputs(cls ? "<td class=\"" : "<td>", f);
    if (cls) {
        fputs(cls, f);
        fputs("\">", f);
    }
    esc(f, text);
    fputs("</td>", f);
}

static void data_attrs(FILE *f, const rep_incident_t *in)
{
    fputs(" data-kind=\"", f);
    esc(f, in->kind);
    fputs("\" data-user=\"", f);
    esc(f, in->user);
    fprintf(f, "\" data-dir=\"%s\" data-class=\"", dir_name(in->dir));
    esc(f, in->cls);
    fputs("\" data-starts=\"", f);
    esc(f, in->starts_text);
    fputs("\"", f);
}

static void series_name(FILE *f, const rep_incident_t *in)
{
    fprintf(f, "%s", dir_name(in->dir));
    if (strcmp(in->cls, "all")) {
        fputs(" / ", f);
        esc(f, in->cls);
    }
}

static void correlation_cell(FILE *f, const rep_incident_t *in)
{
    if (!in->change_id) {
        fputs("<td class=\"undeclared\">undeclared</td>", f);
        return;
    }
    fputs("<td>", f);
    esc(f, in->corr);
    fputs(": <b>", f);
    esc(f, in->change_id);
    fputs("</b> ", f);
    esc(f, in->change_title ? in->change_title : in->change_kind);
    fprintf(f, " (score %.2f)</td>", in->change_score);
}

static void timeline(FILE *f, const report_t *r)
{
    fputs("<h2>Timeline</h2><table id=\"timeline\"><thead><tr><th>#</th><th>alert</th>"
          "<th>User</th><th>series</th><th>onset (UTC)</th><th>detected</th><th>delay</th>"
          "<th>duration</th><th>correlation</th><th>impacted Users</th></tr></thead><tbody>",
          f);
    for (size_t i = 0; i < r->ninc; i++) {
        const rep_incident_t *in = &r->inc[i];
        char b[TF_BUFLEN], d1[48], d2[48];
        fputs("<tr class=\"alert\"", f);
        data_attrs(f, in);
        fputs(" data-correlation=\"", f);
        esc(f, in->corr);
        fputs("\" data-change=\"", f);
        esc(f, in->change_id ? in->change_id : "");
        fprintf(f, "\"><td><a href=\"#incident-%zu\">%zu</a></td>", i + 1, i + 1);
        fputs("<td class=\"k-", f);
        esc(f, in->kind);
        fputs("\">", f);
        esc(f, in->kind);
        fputs("</td>", f);
        td(f, "id", in->user);
        fputs("<td>", f);
        series_name(f, in);
        fputs("</td>", f);
        td(f, NULL, when(in->starts, b));
        td(f, NULL, when(in->detected, b));
        td(f, "num", span_text(in->detected - in->starts, d1, sizeof(d1)));
        td(f, "num", in->ends == INT64_MAX ? "still firing"
                                            : span_text(in->ends - in->starts, d2, sizeof(d2)));
        correlation_cell(f, in);
        fputs("<td>", f);
        for (size_t k = 0; k < in->nimpacted; k++) {
            if (k)
                fputs(", ", f);
            esc(f, in->impacted[k]);
        }
        fputs("</td></tr>", f);
    }
    fputs("</tbody></table>", f);
}

/* One line per incident: the change behind it and how quickly it was seen. */
static void summary(FILE *f, const report_t *r)
{
    fputs("<h2>Summary</h2><table id=\"summary\"><thead><tr><th>#</th><th>User</th>"
          "<th>alert</th><th>declared change</th><th>change started</th>"
          "<th>onset vs change start</th><th>detection took</th></tr></thead><tbody>",
          f);
    for (size_t i = 0; i < r->ninc; i++) {
        const rep_incident_t *in = &r->inc[i];
        const change_t *c = change_of(r, in);
        char b[TF_BUFLEN], d[48];
        fprintf(f, "<tr class=\"incident\"><td><a href=\"#incident-%zu\">%zu</a></td>", i + 1,
                i + 1);
        td(f, "id", in->user);
        td(f, NULL, in->kind);
        correlation_cell(f, in);
        td(f, NULL, c ? when(c->start, b) : "");
        td(f, "num", c ? relative(in->starts - c->start, d, sizeof(d)) : "");
        td(f, "num", span_text(in->detected - in->starts, d, sizeof(d)));
        fputs("</tr>", f);
    }
    fputs("</tbody></table>", f);
}

static void legend(FILE *f, int north, int backlog)
{
    fputs("<p class=\"legend\"><span class=\"sw\" style=\"background:#1f6fd1;opacity:.5\">"
          "</span>observed rate (min-max per column)<span class=\"sw\" "
          "style=\"background:#3c9a5f;opacity:.3\"></span>learned baseline band<span class=\"sw\" "
          "style=\"background:#d93025;opacity:.2\"></span>alert<span class=\"sw\" "
          "style=\"background:#7b61ff;opacity:.25\"></span>declared change",
          f);
    if (north)
        fputs("<span class=\"sw\" style=\"border-top:2px solid #0b5d1e;height:0\"></span>"
              "delivered",
              f);
    if (backlog)
        fputs("<span class=\"sw\" style=\"border-top:2px dashed #c25b00;height:0\"></span>backlog "
              "(right axis)",
              f);
    fputs("</p>", f);
}

static void incidents(FILE *f, const report_t *r)
{
    fputs("<h2>Incidents</h2>", f);
    for (size_t i = 0; i < r->ninc; i++) {
        const rep_incident_t *in = &r->inc[i];
        char b[TF_BUFLEN], d[48];
        fprintf(f, "<section class=\"incident\" id=\"incident-%zu\"", i + 1);
        data_attrs(f, in);
        fprintf(f, "><h3>%zu. <span class=\"k-", i + 1);
        esc(f, in->kind);
        fputs("\">", f);
        esc(f, in->kind);
        fputs("</span> ", f);
        esc(f, in->user);
        fputs(" (", f);
        series_name(f, in);
        fputs(")</h3><p class=\"meta\">", f);
        esc(f, in->summary);
        fprintf(f, "</p><p class=\"meta\">onset %s UTC, detected after %s", when(in->starts, b),
                span_text(in->detected - in->starts, d, sizeof(d)));
        if (in->ends != INT64_MAX)
            fprintf(f, ", lasted %s", span_text(in->ends - in->starts, d, sizeof(d)));
        else
            fputs(", still firing at the end of the alerts", f);
        fputs("; ", f);
        if (in->change_id) {
            esc(f, in->corr);
            fputs(" change ", f);
            esc(f, in->change_id);
        } else {
            fputs("no declared change fits", f);
        }
        fputs("</p>", f);
        incident_chart(f, r, in);
        legend(f, in->dir == LP_NORTH, !strcmp(in->kind, "blocked_route"));
        fputs("</section>", f);
    }
}

typedef struct {
    uint32_t user;
    double n;
} top_t;

static void top_users(const rep_incident_t *in, top_t top[REP_TOP_USERS], size_t *ntop)
{
    *ntop = 0;
    for (size_t u = 0; u < in->share_cap; u++) {
        if (!(in->share[u] > 0))
            continue;
        size_t k = *ntop < REP_TOP_USERS ? (*ntop)++ : REP_TOP_USERS;
        if (k == REP_TOP_USERS) {
            if (in->share[u] <= top[REP_TOP_USERS - 1].n)
                continue;
            k = REP_TOP_USERS - 1;
        }
        while (k > 0 && top[k - 1].n < in->share[u]) {
            top[k] = top[k - 1];
            k--;
        }
        top[k] = (top_t){ (uint32_t)u, in->share[u] };
    }
}

static void system_view(FILE *f, const report_t *r)
{
    fputs("<section id=\"system\"><h2>System view</h2>", f);
    if (!r->sys_n) {
        fputs("<p>No traffic in the recording for this report.</p></section>", f);
        return;
    }
    double w = (double)r->sys_width / NS_S, ymax = 0;
    size_t k0 = 0; /* the first bucket with traffic: the ones before are room for late samples */
    while (k0 + 1 < r->sys_n && r->sys[k0][0] + r->sys[k0][1] <= 0)
        k0++;
    for (size_t k = k0; k < r->sys_n; k++)
        for (int d = 0; d < 2; d++)
            ymax = fmax(ymax, r->sys[k][d] / w);
    ymax = nice_max(ymax * 1.05);
    scale_t s = { r->sys_origin + (int64_t)k0 * r->sys_width,
                  r->sys_origin + (int64_t)r->sys_n * r->sys_width, ymax };
    fprintf(f, "<p class=\"meta\">Total traffic per direction, %s per point; storms shaded with "
               "their number.</p>",
            span_text(r->sys_width, (char[48]){ 0 }, 48));
    fprintf(f, "<svg class=\"chart system\" viewBox=\"0 0 %.0f %.0f\" role=\"img\">", CW, CH);
    for (size_t i = 0; i < r->ninc; i++) {
        const rep_incident_t *in = &r->inc[i];
        if (strcmp(in->kind, "storm"))
            continue;
        span_rect(f, &s, "storm-span", in->starts, in->ends == INT64_MAX ? s.t1 : in->ends);
        fprintf(f, "/><text x=\"%.1f\" y=\"%.0f\">%zu</text>", sx(&s, in->starts), PY0 + 10,
                i + 1);
    }
    value_axis(f, ymax, "msg/s", 0);
    time_axis(f, &s);
    for (int d = 0; d < 2; d++) {
        fprintf(f, "<path class=\"%s\" d=\"", d == LP_NORTH ? "north" : "south");
        for (size_t k = k0; k < r->sys_n; k++)
            fprintf(f, "%c%.1f %.1f", k > k0 ? 'L' : 'M',
                    sx(&s, r->sys_origin + (int64_t)k * r->sys_width + r->sys_width / 2),
                    sy(r->sys[k][d] / w, ymax));
        fputs("\"/>", f);
    }
    fputs("</svg><p class=\"legend\"><span class=\"sw\" style=\"background:#1f6fd1\"></span>"
          "southbound (requests from Users)<span class=\"sw\" style=\"background:#2e7d32\">"
          "</span>northbound (messages for Users)</p>",
          f);

    if (!r->nstorms) {
        fputs("<p>No storm in this report.</p></section>", f);
        return;
    }
    fputs("<h3>Top Users during each storm</h3><table class=\"top-users\"><thead><tr><th>#</th>"
          "<th>storm</th><th>direction</th><th>top Users by share of the direction's traffic</th>"
          "</tr></thead><tbody>",
          f);
    for (size_t i = 0; i < r->ninc; i++) {
        const rep_incident_t *in = &r->inc[i];
        if (strcmp(in->kind, "storm"))
            continue;
        top_t top[REP_TOP_USERS];
        size_t n;
        top_users(in, top, &n);
        fprintf(f, "<tr class=\"storm\"><td><a href=\"#incident-%zu\">%zu</a></td>", i + 1, i + 1);
        td(f, "id", in->user);
        td(f, NULL, dir_name(in->dir));
        fputs("<td>", f);
        for (size_t k = 0; k < n; k++) {
            fputs(k ? ", " : "", f);
            esc(f, rep_user_name(r, top[k].user));
            fprintf(f, " %.0f%%", 100 * top[k].n / in->share_total);
        }
        fputs("</td></tr>", f);
    }
    fputs("</tbody></table></section>", f);
}

static void changes_table(FILE *f, const report_t *r)
{
    fputs("<h2>Declared changes</h2>", f);
    if (!r->reg || !changes_count(r->reg)) {
        fputs("<p>No change register was given.</p>", f);
        return;
    }
    fputs("<table id=\"changes\"><thead><tr><th>id</th><th>User</th><th>kind</th><th>title</th>"
          "<th>start (UTC)</th><th>end</th><th>affects</th></tr></thead><tbody>",
          f);
    for (size_t i = 0; i < changes_count(r->reg); i++) {
        const change_t *c = changes_get(r->reg, i);
        char b[TF_BUFLEN];
        fputs("<tr class=\"change\" data-change=\"", f);
        esc(f, c->id);
        fputs("\">", f);
        td(f, NULL, c->id);
        td(f, NULL, c->user);
        td(f, NULL, c->kind ? c->kind : "");
        td(f, NULL, c->title ? c->title : "");
        td(f, NULL, when(c->start, b));
        td(f, NULL, when(c->end, b));
        td(f, NULL, c->affects == CHG_BOTH ? "both" : c->affects == CHG_NORTH ? "north" : "south");
        fputs("</tr>", f);
    }
    fputs("</tbody></table>", f);
}

static void header(FILE *f, const report_t *r, const report_meta_t *m)
{
    char b[TF_BUFLEN], b2[TF_BUFLEN];
    fputs("<header><h1>stormwatch incident report</h1><p class=\"meta\">Recording: ", f);
    for (size_t i = 0; i < m->ninputs; i++) {
        fputs(i ? ", " : "", f);
        esc(f, m->inputs[i]);
    }
    if (r->samples)
        fprintf(f, " &mdash; %s to %s UTC, %llu samples", when(r->first_ts, b),
                when(r->last_ts, b2), (unsigned long long)r->samples);
    fputs("</p><p class=\"meta\">Alerts: ", f);
    esc(f, m->alerts_source);
    fputs("; changes: ", f);
    esc(f, m->changes_source ? m->changes_source : "none given");
    fprintf(f, "; %zu incident%s", r->ninc, r->ninc == 1 ? "" : "s");
    if (r->filter.user) {
        fputs("; User ", f);
        esc(f, r->filter.user);
    }
    if (r->filter.from != INT64_MIN)
        fprintf(f, "; from %s", when(r->filter.from, b));
    if (r->filter.to != INT64_MAX)
        fprintf(f, "; to %s", when(r->filter.to, b));
    fputs(".</p></header>", f);
}

int report_write_html(const report_t *r, FILE *f, const report_meta_t *m)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'; img-src data:\">"
          "<meta name=\"viewport\" content=\"width=device-width\">"
          "<title>stormwatch incident report</title><style>",
          f);
    fputs(css, f);
    fputs("</style></head><body>\n", f);
    header(f, r, m);
    summary(f, r);
    fputc('\n', f);
    timeline(f, r);
    fputc('\n', f);
    system_view(f, r);
    fputc('\n', f);
    incidents(f, r);
    fputc('\n', f);
    changes_table(f, r);
    fputs("\n</body></html>\n", f);
    return ferror(f) ? -1 : 0;
}

int report_write_markdown(const report_t *r, FILE *f, const report_meta_t *m)
{
    char b[TF_BUFLEN], b2[TF_BUFLEN], d[48];
    fputs("## stormwatch incident summary\n\nRecording: ", f);
    for (size_t i = 0; i < m->ninputs; i++) {
        fputs(i ? ", " : "", f);
        md_esc(f, m->inputs[i]);
    }
    if (r->samples)
        fprintf(f, " (%s to %s UTC)", when(r->first_ts, b), when(r->last_ts, b2));
    fputs(". Alerts: ", f);
    md_esc(f, m->alerts_source);
    fputs(". Changes: ", f);
    md_esc(f, m->changes_source ? m->changes_source : "none given");
    fprintf(f, ". %zu incident%s.\n\n", r->ninc, r->ninc == 1 ? "" : "s");
    fputs("| # | onset (UTC) | alert | User | series | change | onset vs change start | "
          "detection took | duration |\n|---|---|---|---|---|---|---|---|---|\n",
          f);
    for (size_t i = 0; i < r->ninc; i++) {
        const rep_incident_t *in = &r->inc[i];
        const change_t *c = change_of(r, in);
        fprintf(f, "| %zu | %s | ", i + 1, when(in->starts, b));
        md_esc(f, in->kind);
        fputs(" | ", f);
        md_esc(f, in->user);
        fprintf(f, " | %s", dir_name(in->dir));
        if (strcmp(in->cls, "all")) {
            fputs("/", f);
            md_esc(f, in->cls);
        }
        fputs(" | ", f);
        if (in->change_id) {
            md_esc(f, in->change_id);
            fputs(" (", f);
            md_esc(f, in->corr);
            fputs(")", f);
        } else {
            fputs("**undeclared**", f);
        }
        fprintf(f, " | %s", c ? relative(in->starts - c->start, d, sizeof(d)) : "-");
        fprintf(f, " | %s", span_text(in->detected - in->starts, d, sizeof(d)));
        fprintf(f, " | %s |\n", in->ends == INT64_MAX ? "still firing"
                                                       : span_text(in->ends - in->starts, d,
                                                                   sizeof(d)));
    }
    return ferror(f) ? -1 : 0;
}
