/*
 * report_html.c - renders a report (report_int.h) as one self-contained
 * HTML page with inline CSS and SVG, and as a Markdown summary. The charts
 * themselves are drawn by report_chart.c.
 *
 * The page is organised by incident: a summary and a timeline with one row
 * per incident, the system view, then one section per incident (its cause,
 * its primary and members, its chart, the Users it hurt with their backlog)
 * and the declared changes with the incidents each explains. Learning
 * alerts carry a visible "learning" badge and class.
 *
 * The page carries a Content-Security-Policy that forbids every fetch and
 * script, so it shows the same offline, attached to a review, as here. Its
 * elements carry classes and data- attributes (timeline rows and sections
 * keyed by their primary alert, change windows) that tooling and the
 * browser test read.
 *
 * Size: about 860 lines (the style sheet 40 of them), kept whole on
 * purpose: the HTML page and the Markdown summary walk the same report
 * in the same order, and apart they would drift.
 */
#include "report_int.h"

#include <math.h>
#include <string.h>

#include "timefmt.h"

static const char css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:1180px;color:#1d232a}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ccd}"
    "h3{font-size:15px;margin:18px 0 2px}h4{font-size:13px;margin:10px 0 2px}"
    "p.meta{color:#556;margin:2px 0}"
    "table{border-collapse:collapse;width:100%;font-size:13px}"
    "th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #e3e6ea;vertical-align:top}"
    "th{background:#f1f3f5}td.num,td.id{text-align:right;white-space:nowrap}td.id{text-align:left}"
    "td.time{white-space:nowrap;font-variant-numeric:tabular-nums}"
    ".wide{overflow-x:auto}"
    ".k-storm{color:#b3261e}.k-blocked_route{color:#8a4b00}.k-silence{color:#3f51b5}"
    ".k-feed_stalled{color:#6a1b9a}.k-widespread{color:#00695c}"
    ".undeclared{color:#b3261e;font-weight:600}"
    ".badge{display:inline-block;font-size:11px;font-weight:600;padding:0 5px;margin:0 3px;"
    "border-radius:3px;vertical-align:1px}"
    ".badge.learning{background:#fff3c4;color:#7a5a00;border:1px solid #e0c060}"
    ".badge.sev-critical{background:#fde2e0;color:#a11}.badge.sev-warning{background:#fff0d9;"
    "color:#8a4b00}.badge.sev-info{background:#e3ecf8;color:#1f4f8a}"
    "td.verdict.deviated{color:#a11;font-weight:600}td.verdict.as_declared{color:#1a6b2a}"
    "td.verdict.unverifiable{color:#777}"
    "tr.learning td{background:#fffbe8}section.incident.learning{border-left:3px solid #e0c060;"
    "padding-left:8px}"
    "tr.primary td{font-weight:600}"
    ".hurt-grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(480px,100%),1fr));"
    "gap:4px 16px}.hurt-user{min-width:0}.hurt-user p{margin:6px 0 0;font-size:12px}"
    "svg.chart{display:block;width:100%;height:auto;background:#fff}"
    ".axis{stroke:#99a;stroke-width:1}.grid{stroke:#e6e8eb;stroke-width:1}"
    "svg text{font:11px system-ui,sans-serif;fill:#445;white-space:nowrap}"
    ".observed{fill:#1f6fd1;fill-opacity:.35;stroke:#1f6fd1;stroke-width:1}"
    ".band{fill:#3c9a5f;fill-opacity:.18;stroke:none}"
    ".backlog{fill:none;stroke:#c25b00;stroke-width:1.5;stroke-dasharray:4 2}"
    ".alert-span{fill:#d93025;fill-opacity:.12}.storm-span{fill:#d93025;fill-opacity:.15}"
    ".member-span{fill:#8e24aa;fill-opacity:.55}"
    ".change-window{fill:#7b61ff;fill-opacity:.13;stroke:#7b61ff;stroke-dasharray:3 2}"
    ".change-window.maintenance{fill:#f29900;fill-opacity:.14;stroke:#c26a00}"
    ".feed-stall{fill:#5f6368;fill-opacity:.22}"
    ".threshold{fill:none;stroke-width:1.2;stroke-dasharray:6 3}.threshold.fire{stroke:#b3261e}"
    ".threshold.clear{stroke:#e8710a}text.threshold-label{fill:#8c1d18}"
    ".detected{stroke:#d93025;stroke-width:1.5}"
    ".delivered{fill:none;stroke:#0b5d1e;stroke-width:1.3}"
    ".south{fill:none;stroke:#1f6fd1;stroke-width:1.2}.north{fill:none;stroke:#2e7d32;stroke-width:1.2}"
    ".legend{font-size:12px;color:#445;margin:2px 0 0}"
    ".sw{display:inline-block;width:12px;height:10px;margin:0 4px 0 10px;vertical-align:-1px}";

/* ---- text (shared with report_chart.c) ---- */

void rep_esc(FILE *f, const char *s)
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

const char *rep_when(int64_t ns, char buf[REP_TIME_LEN])
{
    tf_format(ns - ns % 1000000000, buf);
    buf[10] = ' ';
    char *z = strchr(buf, 'Z');
    if (z)
        *z = '\0';
    return buf;
}

const char *rep_span(int64_t ns, char *buf, size_t n)
{
    const char *sign = ns < 0 ? "-" : "";
    double s = fabs((double)ns) / REP_NS_S;
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

/* An onset relative to a change's start: "12 min 00 s after", "3 min 59 s before". */
static const char *relative(int64_t ns, char *buf, size_t n)
{
    char d[40];
    snprintf(buf, n, "%s %s", rep_span(ns < 0 ? -ns : ns, d, sizeof(d)),
             ns < 0 ? "before" : "after");
    return buf;
}

/* ---- incidents ---- */

static const rep_alert_t *primary(const rep_incident_t *in)
{
    return in->alerts[0];
}

/* The alert whose declared change is the incident's cause: its primary,
 * when that names one (a member may name another change of its own, but
 * it is the primary that stands for the incident); NULL: undeclared. */
static const rep_alert_t *cause(const rep_incident_t *in)
{
    return in->alerts[0]->change_id ? in->alerts[0] : NULL;
}

static const change_t *change_of(const report_t *r, const rep_incident_t *in)
{
    const rep_alert_t *c = cause(in);
    return c && r->reg ? changes_find(r->reg, c->change_id) : NULL;
}

static size_t nmembers(const rep_incident_t *in)
{
    return in->nalerts - 1;
}

/* Its id ("INC-0007"), or "#3" for an alert from before incidents. */
static void inc_name(FILE *f, const rep_incident_t *in, size_t i)
{
    if (in->id)
        rep_esc(f, in->id);
    else
        fprintf(f, "#%zu", i + 1);
}

static void inc_link(FILE *f, const rep_incident_t *in, size_t i)
{
    fprintf(f, "<a href=\"#incident-%zu\">", i + 1);
    inc_name(f, in, i);
    fputs("</a>", f);
}

/* ---- HTML pieces ---- */

static void td(FILE *f, const char *cls, const char *text)
{
    fputs(cls ? "<td class=\"" : "<td>", f);
    if (cls) {
        fputs(cls, f);
        fputs("\">", f);
    }
    rep_esc(f, text);
    fputs("</td>", f);
}

static void learning_badge(FILE *f, const rep_alert_t *a)
{
    if (a->learning)
        fputs("<span class=\"badge learning\" title=\"the series had no history for that time: "
              "its baseline is a guess\">learning</span>",
              f);
}

/* <span class="PREFIXtext">text</span>, text escaped. */
static void classed_span(FILE *f, const char *prefix, const char *text)
{
    fprintf(f, "<span class=\"%s", prefix);
    rep_esc(f, text);
    fputs("\">", f);
    rep_esc(f, text);
    fputs("</span>", f);
}

static void severity_badge(FILE *f, const rep_alert_t *a)
{
    if (a->severity)
        classed_span(f, "badge sev-", a->severity);
}

static void kind_span(FILE *f, const rep_alert_t *a)
{
    classed_span(f, "k-", a->kind);
}

static void series_name(FILE *f, const rep_alert_t *a)
{
    fputs(dir_name(a->dir), f);
    if (strcmp(a->cls, "all")) {
        fputs(" / ", f);
        rep_esc(f, a->cls);
    }
}

/* The attributes that key an incident by its primary alert, and say what it is. */
static void data_attrs(FILE *f, const rep_incident_t *in)
{
    const rep_alert_t *p = primary(in), *c = cause(in);
    fputs(" data-incident=\"", f);
    rep_esc(f, in->id ? in->id : "");
    fputs("\" data-kind=\"", f);
    rep_esc(f, p->kind);
    fputs("\" data-user=\"", f);
    rep_esc(f, p->user);
    fprintf(f, "\" data-dir=\"%s\" data-class=\"", dir_name(p->dir));
    rep_esc(f, p->cls);
    fputs("\" data-starts=\"", f);
    rep_esc(f, p->starts_text);
    fputs("\" data-correlation=\"", f);
    rep_esc(f, c ? c->corr : p->corr);
    fputs("\" data-change=\"", f);
    rep_esc(f, c ? c->change_id : "");
    fputs("\" data-severity=\"", f);
    rep_esc(f, p->severity ? p->severity : "");
    fprintf(f, "\" data-members=\"%zu\" data-learning=\"%s\"", nmembers(in),
            p->learning ? "true" : "false");
}

/* A row or section opening: `tag` with class `cls`, " learning" when its primary is. */
static void open_incident(FILE *f, const char *tag, const char *cls, const rep_incident_t *in)
{
    fprintf(f, "<%s class=\"%s%s\"", tag, cls, primary(in)->learning ? " learning" : "");
}

/* A declared change as an alert names it: "title (kind, score 0.86)". */
static void change_about(FILE *f, const rep_alert_t *c)
{
    rep_esc(f, c->change_title ? c->change_title : c->change_kind);
    fputs(" (", f);
    if (c->change_kind) {
        rep_esc(f, c->change_kind);
        fputs(", ", f);
    }
    fprintf(f, "score %.2f)", c->change_score);
}

/* The cause: the correlation and the change's id, then what the change is,
 * in the cell, or in its title when `brief` (the summary's, as the Markdown
 * summary has it). */
static void cause_cell(FILE *f, const rep_incident_t *in, int brief)
{
    const rep_alert_t *c = cause(in);
    if (!c) {
        fputs("<td class=\"undeclared\">undeclared</td>", f);
        return;
    }
    fputs(brief ? "<td title=\"" : "<td>", f);
    if (brief) {
        change_about(f, c);
        fputs("\">", f);
    }
    rep_esc(f, c->corr);
    fputs(": <b>", f);
    rep_esc(f, c->change_id);
    fputs("</b>", f);
    if (!brief) {
        fputc(' ', f);
        change_about(f, c);
    }
    fputs("</td>", f);
}

static void duration_cell(FILE *f, int64_t starts, int64_t ends)
{
    char d[48];
    td(f, "num", ends == INT64_MAX ? "still firing" : rep_span(ends - starts, d, sizeof(d)));
}

/* A time cell that does not wrap: only the time of day when it falls on
 * the day of `ref` (a time earlier in the row; INT64_MIN: none), else the
 * date too; the full time in its title. */
static void time_cell(FILE *f, int64_t ns, int64_t ref)
{
    char b[REP_TIME_LEN];
    rep_when(ns, b);
    int same_day = ref != INT64_MIN && ns >= 0 && ref >= 0 && ns / REP_DAY_NS == ref / REP_DAY_NS;
    fprintf(f, "<td class=\"time\" title=\"%s UTC\">%s</td>", b, same_day ? b + 11 : b);
}

/* The Users it hurt, comma-separated, from the k-th on. */
static void hurt_list(FILE *f, const rep_incident_t *in, size_t k)
{
    for (size_t i = k; i < in->nhurt; i++) {
        fputs(i > k ? ", " : "", f);
        rep_esc(f, in->hurt[i]);
    }
}

/* ---- sections ---- */

/* Ends the opening tag of a summary or timeline row and writes the cells
 * both open with: its number (a link to its section), its id, its primary
 * alert with its badges, the User and the series. */
static void row_head(FILE *f, const rep_incident_t *in, size_t i)
{
    const rep_alert_t *p = primary(in);
    fprintf(f, "><td><a href=\"#incident-%zu\">%zu</a></td><td class=\"id\">", i + 1, i + 1);
    inc_name(f, in, i);
    fputs("</td><td>", f);
    kind_span(f, p);
    severity_badge(f, p);
    learning_badge(f, p);
    fputs("</td>", f);
    td(f, "id", p->user);
    fputs("<td class=\"series\">", f);
    series_name(f, p);
    fputs("</td>", f);
}

/* One line per incident: what, when and how long, its cause and how quickly
 * it was seen (the Markdown summary's columns). */
static void summary(FILE *f, const report_t *r)
{
    fputs("<h2>Summary</h2><div class=\"wide\"><table id=\"summary\"><thead><tr><th>#</th>"
          "<th>incident</th><th>primary alert</th><th>User</th><th>direction</th>"
          "<th>onset (UTC)</th><th>duration</th><th>detection took</th><th>members</th>"
          "<th>cause</th><th>change started</th><th>onset vs change start</th>"
          "</tr></thead><tbody>",
          f);
    for (size_t i = 0; i < r->ninc; i++) {
        const rep_incident_t *in = &r->inc[i];
        const rep_alert_t *p = primary(in);
        const change_t *c = change_of(r, in);
        char d[48];
        open_incident(f, "tr", "incident-summary", in);
        row_head(f, in, i);
        time_cell(f, in->starts, INT64_MIN);
        duration_cell(f, in->starts, in->ends);
        td(f, "num", rep_span(p->detected - p->starts, d, sizeof(d)));
        fprintf(f, "<td class=\"num\">%zu</td>", nmembers(in));
        cause_cell(f, in, 1);
        if (c)
            time_cell(f, c->start, in->starts);
        else
            td(f, NULL, "");
        td(f, "num", c ? relative(in->starts - c->start, d, sizeof(d)) : "");
        fputs("</tr>", f);
    }
    fputs("</tbody></table></div>", f);
}

/* One row per incident, keyed by its primary alert. */
static void timeline(FILE *f, const report_t *r)
{
    fputs("<h2>Timeline</h2><div class=\"wide\"><table id=\"timeline\"><thead><tr><th>#</th>"
          "<th>incident</th><th>primary alert</th><th>User</th><th>series</th><th>onset (UTC)</th>"
          "<th>detected</th><th>delay</th><th>duration</th><th>cause</th><th>members</th>"
          "<th>Users hurt</th></tr></thead><tbody>",
          f);
    for (size_t i = 0; i < r->ninc; i++) {
        const rep_incident_t *in = &r->inc[i];
        const rep_alert_t *p = primary(in);
        char d[48];
        open_incident(f, "tr", "incident", in);
        data_attrs(f, in);
        row_head(f, in, i);
        time_cell(f, in->starts, INT64_MIN);
        time_cell(f, p->detected, in->starts);
        td(f, "num", rep_span(p->detected - p->starts, d, sizeof(d)));
        duration_cell(f, in->starts, in->ends);
        cause_cell(f, in, 0);
        fputs("<td>", f);
        for (size_t k = 1; k < in->nalerts; k++) {
            fputs(k > 1 ? ", " : "", f);
            kind_span(f, in->alerts[k]);
            fputs(" ", f);
            rep_esc(f, in->alerts[k]->user);
        }
        fputs("</td><td>", f);
        hurt_list(f, in, 0);
        fputs("</td></tr>", f);
    }
    fputs("</tbody></table></div>", f);
}

/* A legend entry: a swatch of `style` and its name. */
static void legend_entry(FILE *f, const char *style, const char *name)
{
    fprintf(f, "<span class=\"sw\" style=\"%s\"></span>%s", style, name);
}

/* What shades a chart's time besides its incident: maintenance, feed stalls. */
static void legend_shading(FILE *f, unsigned shown)
{
    if (shown & REP_SHOWN_MAINTENANCE)
        legend_entry(f, "background:#f29900;opacity:.3", "DCC maintenance");
    if (shown & REP_SHOWN_STALL)
        legend_entry(f, "background:#5f6368;opacity:.35", "feed stalled");
}

/* The legend of incident in's chart, which drew what `shown` says. */
static void legend(FILE *f, const report_t *r, const rep_incident_t *in, unsigned shown)
{
    const rep_alert_t *p = primary(in);
    fputs("<p class=\"legend\">", f);
    legend_entry(f, "background:#1f6fd1;opacity:.5", "observed rate (min-max per column)");
    legend_entry(f, "background:#3c9a5f;opacity:.3", "learned baseline band");
    legend_entry(f, "background:#d93025;opacity:.2", "primary alert");
    legend_entry(f, "border-left:2px solid #d93025;width:0", "detection");
    double fr, cr;
    if ((shown & REP_SHOWN_THRESHOLDS) && rep_threshold_ratios(r, p->kind, &fr, &cr)) {
        const char *base = strcmp(p->kind, "storm") ? "the expected rate's bottom"
                                                    : "the expected rate's top";
        char name[96];
        snprintf(name, sizeof(name), "fire threshold (%gx %s)", fr, base);
        legend_entry(f, "border-top:2px dashed #b3261e;height:0", name);
        snprintf(name, sizeof(name), "clear threshold (%gx)", cr);
        legend_entry(f, "border-top:2px dashed #e8710a;height:0", name);
    }
    if (shown & REP_SHOWN_CHANGE)
        legend_entry(f, "background:#7b61ff;opacity:.25", "declared change");
    legend_shading(f, shown);
    if (in->nalerts > 1)
        legend_entry(f, "background:#8e24aa;opacity:.6;height:4px", "member alerts");
    if (p->dir == DIR_NORTH)
        legend_entry(f, "border-top:2px solid #0b5d1e;height:0", "delivered");
    if (!strcmp(p->kind, "blocked_route"))
        legend_entry(f, "border-top:2px dashed #c25b00;height:0", "backlog (right axis)");
    fputs("</p>", f);
}

/* The incident's alerts: its primary, then its members by onset. */
static void alerts_table(FILE *f, const rep_incident_t *in)
{
    fputs("<h4>Primary and members</h4><div class=\"wide\"><table class=\"alerts\"><thead><tr>"
          "<th>role</th><th>alert</th><th>User</th><th>series</th><th>onset (UTC)</th><th>detected</th>"
          "<th>ended</th><th>duration</th><th>change</th><th>summary</th></tr></thead><tbody>",
          f);
    for (size_t k = 0; k < in->nalerts; k++) {
        const rep_alert_t *a = in->alerts[k];
        const char *role = k ? "member" : "primary";
        fprintf(f, "<tr class=\"alert %s%s\" data-role=\"%s\" data-kind=\"", role,
                a->learning ? " learning" : "", role);
        rep_esc(f, a->kind);
        fputs("\" data-user=\"", f);
        rep_esc(f, a->user);
        fprintf(f, "\" data-dir=\"%s\" data-class=\"", dir_name(a->dir));
        rep_esc(f, a->cls);
        fputs("\" data-starts=\"", f);
        rep_esc(f, a->starts_text);
        fprintf(f, "\" data-learning=\"%s\">", a->learning ? "true" : "false");
        td(f, NULL, role);
        fputs("<td>", f);
        kind_span(f, a);
        learning_badge(f, a);
        fputs("</td>", f);
        td(f, "id", a->user);
        fputs("<td>", f);
        series_name(f, a);
        fputs("</td>", f);
        time_cell(f, a->starts, INT64_MIN);
        time_cell(f, a->detected, a->starts);
        if (a->ends == INT64_MAX)
            td(f, "time", "still firing");
        else
            time_cell(f, a->ends, a->starts);
        duration_cell(f, a->starts, a->ends);
        fputs("<td>", f);
        if (a->change_id) {
            rep_esc(f, a->corr);
            fputs(" ", f);
            rep_esc(f, a->change_id);
        } else {
            rep_esc(f, a->corr);
        }
        fputs("</td>", f);
        td(f, NULL, a->summary);
        fputs("</tr>", f);
    }
    fputs("</tbody></table></div>", f);
}

/* The Users it hurt: a backlog chart for the first ones, the rest listed. */
static void hurt_users(FILE *f, const report_t *r, const rep_incident_t *in)
{
    if (!in->nhurt)
        return;
    fprintf(f, "<h4>Users it hurt (%zu)</h4>", in->nhurt);
    if (in->ndrawn) {
        fputs("<div class=\"hurt-grid\">", f);
        for (size_t k = 0; k < in->ndrawn; k++) {
            fputs("<div class=\"hurt-user\"><p>", f);
            rep_esc(f, in->drawn[k].user);
            fputs(": northbound backlog</p>", f);
            rep_hurt_chart(f, r, in, k);
            fputs("</div>", f);
        }
        fputs("</div>", f);
    }
    if (in->nhurt > in->ndrawn) {
        fprintf(f, "<p class=\"meta hurt-rest\">%s%zu more: ", in->ndrawn ? "And " : "",
                in->nhurt - in->ndrawn);
        hurt_list(f, in, in->ndrawn);
        fputs("</p>", f);
    }
}

static void incidents(FILE *f, const report_t *r)
{
    fputs("<h2>Incidents</h2>", f);
    for (size_t i = 0; i < r->ninc; i++) {
        const rep_incident_t *in = &r->inc[i];
        const rep_alert_t *p = primary(in), *c = cause(in);
        char b[REP_TIME_LEN], d[48];
        open_incident(f, "section", "incident", in);
        fprintf(f, " id=\"incident-%zu\"", i + 1);
        data_attrs(f, in);
        fprintf(f, "><h3>%zu. ", i + 1);
        inc_name(f, in, i);
        fputs(": ", f);
        kind_span(f, p);
        fputs(" ", f);
        rep_esc(f, p->user);
        fputs(" (", f);
        series_name(f, p);
        fputs(")", f);
        severity_badge(f, p);
        learning_badge(f, p);
        fputs("</h3><p class=\"meta\">", f);
        rep_esc(f, p->summary);
        fprintf(f, "</p><p class=\"meta\">onset %s UTC, detected after %s", rep_when(in->starts, b),
                rep_span(p->detected - p->starts, d, sizeof(d)));
        if (in->ends != INT64_MAX)
            fprintf(f, ", lasted %s", rep_span(in->ends - in->starts, d, sizeof(d)));
        else
            fputs(", still firing at the end of the alerts", f);
        fprintf(f, "; %zu member%s.</p><p class=\"meta cause\">Cause: ", nmembers(in),
                nmembers(in) == 1 ? "" : "s");
        if (c) {
            rep_esc(f, c->corr);
            fputs(" change <b>", f);
            rep_esc(f, c->change_id);
            fputs("</b> ", f);
            rep_esc(f, c->change_title);
            if (c->change_kind) {
                fputs(" (kind ", f);
                rep_esc(f, c->change_kind);
                fprintf(f, ", score %.2f)", c->change_score);
            } else {
                fprintf(f, " (score %.2f)", c->change_score);
            }
        } else {
            fputs("<span class=\"undeclared\">undeclared</span>: no declared change fits", f);
        }
        fputs(".</p>", f);
        legend(f, r, in, rep_incident_chart(f, r, in));
        alerts_table(f, in);
        hurt_users(f, r, in);
        fputs("</section>\n", f);
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
    char d[48];
    fprintf(f, "<p class=\"meta\">Total traffic per direction, %s per point; storms shaded with "
               "their incident's number.</p>",
            rep_span(r->sys_width, d, sizeof(d)));
    unsigned shown = rep_system_chart(f, r);
    fputs("<p class=\"legend\">", f);
    legend_entry(f, "background:#1f6fd1", "southbound (requests from Users)");
    legend_entry(f, "background:#2e7d32", "northbound (messages for Users)");
    if (r->nstorms)
        legend_entry(f, "background:#d93025;opacity:.25", "storm");
    legend_shading(f, shown);
    fputs("</p>", f);

    if (!r->nstorms) {
        fputs("<p>No storm in this report.</p></section>", f);
        return;
    }
    fputs("<h3>Top Users during each storm</h3><table class=\"top-users\"><thead><tr><th>#</th>"
          "<th>incident</th><th>storm</th><th>direction</th>"
          "<th>top Users by share of the direction's traffic</th></tr></thead><tbody>",
          f);
    for (size_t s = 0; s < r->nstorms; s++) {
        size_t i = r->storms[s];
        const rep_incident_t *in = &r->inc[i];
        top_t top[REP_TOP_USERS];
        size_t n;
        top_users(in, top, &n);
        fprintf(f, "<tr class=\"storm\"><td><a href=\"#incident-%zu\">%zu</a></td><td class=\"id\">",
                i + 1, i + 1);
        inc_name(f, in, i);
        fputs("</td>", f);
        td(f, "id", primary(in)->user);
        td(f, NULL, dir_name(primary(in)->dir));
        fputs("<td>", f);
        for (size_t k = 0; k < n; k++) {
            fputs(k ? ", " : "", f);
            rep_esc(f, rep_user_name(r, top[k].user));
            fprintf(f, " %.0f%%", 100 * top[k].n / in->share_total);
        }
        fputs("</td></tr>", f);
    }
    fputs("</tbody></table></section>", f);
}

/* Whether an alert of incident `in` names change `id`. */
static int explains(const rep_incident_t *in, const char *id)
{
    for (size_t k = 0; k < in->nalerts; k++)
        if (in->alerts[k]->change_id && !strcmp(in->alerts[k]->change_id, id))
            return 1;
    return 0;
}

static void changes_table(FILE *f, const report_t *r)
{
    fputs("<h2>Declared changes</h2>", f);
    if (!r->reg || !changes_count(r->reg)) {
        fputs("<p>No change register was given.</p>", f);
        return;
    }
    fputs("<div class=\"wide\"><table id=\"changes\"><thead><tr><th>id</th><th>User</th>"
          "<th>kind</th><th>title</th><th>start (UTC)</th><th>end</th><th>affects</th><th>explains</th><th>verdict</th>"
          "</tr></thead><tbody>",
          f);
    for (size_t i = 0; i < changes_count(r->reg); i++) {
        const change_t *c = changes_get(r->reg, i);
        char from[TF_BUFLEN], to[TF_BUFLEN];
        tf_format(c->start, from);
        tf_format(c->end, to);
        fputs("<tr class=\"change\" data-change=\"", f);
        rep_esc(f, c->id);
        fputs("\" data-user=\"", f);
        rep_esc(f, c->user);
        fprintf(f, "\" data-start=\"%s\" data-end=\"%s\">", from, to);
        td(f, NULL, c->id);
        td(f, NULL, c->user);
        td(f, NULL, c->kind ? c->kind : "");
        td(f, NULL, c->title ? c->title : "");
        time_cell(f, c->start, INT64_MIN);
        time_cell(f, c->end, c->start);
        td(f, NULL, c->affects == CHG_BOTH ? "both" : c->affects == CHG_NORTH ? "north" : "south");
        fputs("<td class=\"explains\">", f);
        size_t n = 0;
        for (size_t k = 0; k < r->ninc; k++) {
            if (!explains(&r->inc[k], c->id))
                continue;
            fputs(n++ ? ", " : "", f);
            inc_link(f, &r->inc[k], k);
        }
        const char *why = NULL, *verdict = report_verdict(r, c->id, &why);
        fputs("</td><td class=\"verdict ", f);
        rep_esc(f, verdict ? verdict : "none");
        fputs("\" title=\"", f);
        rep_esc(f, why ? why : "");
        fputs("\">", f);
        rep_esc(f, verdict ? verdict : "not judged");
        if (why) {
            fputs("<br><small>", f);
            rep_esc(f, why);
            fputs("</small>", f);
        }
        fputs("</td></tr>", f);
    }
    fputs("</tbody></table></div>", f);
}

static void header(FILE *f, const report_t *r, const report_meta_t *m)
{
    char b[REP_TIME_LEN], b2[REP_TIME_LEN];
    size_t nalerts = 0, nlearning = 0;
    for (size_t i = 0; i < r->ninc; i++) {
        nalerts += r->inc[i].nalerts;
        for (size_t k = 0; k < r->inc[i].nalerts; k++)
            nlearning += r->inc[i].alerts[k]->learning != 0;
    }
    fputs("<header><h1>stormwatch incident report</h1><p class=\"meta\">Recording: ", f);
    for (size_t i = 0; i < m->ninputs; i++) {
        fputs(i ? ", " : "", f);
        rep_esc(f, m->inputs[i]);
    }
    if (r->samples)
        fprintf(f, " &mdash; %s to %s UTC, %llu samples", rep_when(r->first_ts, b),
                rep_when(r->last_ts, b2), (unsigned long long)r->samples);
    fputs("</p><p class=\"meta\">Alerts: ", f);
    rep_esc(f, m->alerts_source);
    fputs("; changes: ", f);
    rep_esc(f, m->changes_source ? m->changes_source : "none given");
    fprintf(f, "; %zu incident%s of %zu alert%s", r->ninc, r->ninc == 1 ? "" : "s", nalerts,
            nalerts == 1 ? "" : "s");
    if (nlearning)
        fprintf(f, " (%zu learning)", nlearning);
    if (r->filter.user) {
        fputs("; User ", f);
        rep_esc(f, r->filter.user);
    }
    if (r->filter.from != INT64_MIN)
        fprintf(f, "; from %s", rep_when(r->filter.from, b));
    if (r->filter.to != INT64_MAX)
        fprintf(f, "; to %s", rep_when(r->filter.to, b));
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
    changes_table(f, r);
    fputs("\n</body></html>\n", f);
    return ferror(f) ? -1 : 0;
}

int report_write_markdown(const report_t *r, FILE *f, const report_meta_t *m)
{
    char b[REP_TIME_LEN], b2[REP_TIME_LEN], d[48];
    fputs("## stormwatch incident summary\n\nRecording: ", f);
    for (size_t i = 0; i < m->ninputs; i++) {
        fputs(i ? ", " : "", f);
        md_esc(f, m->inputs[i]);
    }
    if (r->samples)
        fprintf(f, " (%s to %s UTC)", rep_when(r->first_ts, b), rep_when(r->last_ts, b2));
    fputs(". Alerts: ", f);
    md_esc(f, m->alerts_source);
    fputs(". Changes: ", f);
    md_esc(f, m->changes_source ? m->changes_source : "none given");
    fprintf(f, ". %zu incident%s.\n\n", r->ninc, r->ninc == 1 ? "" : "s");
    fputs("| # | incident | onset (UTC) | primary alert | User | series | change | "
          "onset vs change start | detection took | duration | members |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|\n",
          f);
    for (size_t i = 0; i < r->ninc; i++) {
        const rep_incident_t *in = &r->inc[i];
        const rep_alert_t *p = primary(in), *ca = cause(in);
        const change_t *c = change_of(r, in);
        fprintf(f, "| %zu | ", i + 1);
        if (in->id)
            md_esc(f, in->id);
        else
            fputs("-", f);
        fprintf(f, " | %s | ", rep_when(in->starts, b));
        md_esc(f, p->kind);
        if (p->learning)
            fputs(" *(learning)*", f);
        fputs(" | ", f);
        md_esc(f, p->user);
        fprintf(f, " | %s", dir_name(p->dir));
        if (strcmp(p->cls, "all")) {
            fputs("/", f);
            md_esc(f, p->cls);
        }
        fputs(" | ", f);
        if (ca) {
            md_esc(f, ca->change_id);
            fputs(" (", f);
            md_esc(f, ca->corr);
            fputs(")", f);
        } else {
            fputs("**undeclared**", f);
        }
        fprintf(f, " | %s", c ? relative(in->starts - c->start, d, sizeof(d)) : "-");
        fprintf(f, " | %s", rep_span(p->detected - p->starts, d, sizeof(d)));
        fprintf(f, " | %s", in->ends == INT64_MAX ? "still firing"
                                                   : rep_span(in->ends - in->starts, d, sizeof(d)));
        fprintf(f, " | %zu |\n", nmembers(in));
    }
    if (r->nchecks && r->reg && changes_count(r->reg)) {
        fputs("\n## Declared changes\n\n| change | User | kind | window (UTC) | verdict | why |\n"
              "|---|---|---|---|---|---|\n", f);
        for (size_t i = 0; i < changes_count(r->reg); i++) {
            const change_t *c = changes_get(r->reg, i);
            const char *why = NULL, *verdict = report_verdict(r, c->id, &why);
            char w1[REP_TIME_LEN], w2[REP_TIME_LEN];
            fputs("| ", f);
            md_esc(f, c->id);
            fputs(" | ", f);
            md_esc(f, c->user);
            fputs(" | ", f);
            md_esc(f, c->kind ? c->kind : "");
            fprintf(f, " | %s to %s | ", rep_when(c->start, w1), rep_when(c->end, w2));
            if (verdict && !strcmp(verdict, "deviated"))
                fputs("**deviated**", f);
            else
                md_esc(f, verdict ? verdict : "not judged");
            fputs(" | ", f);
            md_esc(f, why ? why : "");
            fputs(" |\n", f);
        }
    }
    return ferror(f) ? -1 : 0;
}
