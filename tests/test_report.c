/*
 * test_report.c - the post-incident report (adapters/report/report.c, report_html.c,
 * report_chart.c): alert lines paired into alerts and grouped into
 * incidents by their `incident` id, bad lines refused, the filters (whole
 * incidents), the
 * charts read from the recording (rate spread over sample intervals, the
 * backlog as the sum of the latest gauges, the baseline band that does not
 * learn from the incident), the system view, the storms' top Users, and
 * the HTML / Markdown output (self-contained, escaped).
 *
 * The tests look inside the report through report_int.h. Unless said
 * otherwise an incident runs from S to S + 600 s; its chart then spans
 * [S - 1200 s, S + 1800 s) (the context is 1200 s at least on each side):
 * 3000 s in 480 columns of 6.25 s, each of 4 sub-buckets of 1.5625 s.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changes.h"
#include "params.h"
#include "report.h"
#include "report_int.h"
#include "testutil.h"
#include "timefmt.h"

#define S (INT64_C(1568635200) * SEC) /* 2019-09-16T12:00:00Z */
#define MIN (60 * SEC)
#define SUB_NS (INT64_C(1562500000)) /* 3000 s / (480 * 4) */
#define COL_NS (4 * SUB_NS)          /* 6.25 s */

/* ---- helpers ---- */

static report_t *new_report(int64_t from, int64_t to, const char *user, const changes_t *reg)
{
    report_filter_t f = { .from = from, .to = to, .user = user };
    detect_params_t p;
    detect_params_defaults(&p);
    report_t *r = report_create(&f, reg, &p);
    assert_non_null(r);
    return r;
}

static report_t *new_report_all(void)
{
    return new_report(INT64_MIN, INT64_MAX, NULL, NULL);
}

/* An alert line; zero fields take defaults: a storm on south/all, detected
 * 30 s after onset; firing when ends is 0, else resolved. */
typedef struct {
    const char *status, *kind, *user, *dir, *cls, *summary;
    const char *change; /* raw JSON object, or NULL */
    int64_t starts, detected, ends;
    const char *incident, *role; /* incident id and role; NULL: none (an old line) */
    int learning;
    const char *impacted;        /* raw JSON array; NULL: ["V1","V2"] */
} al_t;

static int add_alert(report_t *r, al_t a, char *err, size_t errlen)
{
    char st[TF_BUFLEN], de[TF_BUFLEN], en[TF_BUFLEN + 2] = "null", line[1024], inc[128] = "";
    tf_format(a.starts, st);
    tf_format(a.detected ? a.detected : a.starts + 30 * SEC, de);
    if (a.ends) {
        char b[TF_BUFLEN];
        tf_format(a.ends, b);
        snprintf(en, sizeof(en), "\"%s\"", b);
    }
    if (a.incident)
        snprintf(inc, sizeof(inc), ",\"incident\":\"%s\",\"incident_role\":\"%s\"", a.incident,
                 a.role ? a.role : "primary");
    if (a.learning)
        strcat(inc, ",\"learning\":true");
    int n = snprintf(line, sizeof(line),
                     "{\"status\":\"%s\",\"alert\":\"%s\",\"severity\":\"warning\",\"user\":\"%s\","
                     "\"dir\":\"%s\",\"class\":\"%s\",\"starts_at\":\"%s\",\"detected_at\":\"%s\","
                     "\"ends_at\":%s,\"value\":120.5,\"baseline\":10.0,\"backlog\":0,"
                     "\"summary\":\"%s\",\"correlation\":\"%s\",\"change\":%s,"
                     "\"impacted_users\":%s%s}",
                     a.status ? a.status : a.ends ? "resolved" : "firing",
                     a.kind ? a.kind : "storm", a.user ? a.user : "U1", a.dir ? a.dir : "south",
                     a.cls ? a.cls : "all", st, de, en, a.summary ? a.summary : "a storm",
                     a.change ? "declared" : "undeclared", a.change ? a.change : "null",
                     a.impacted ? a.impacted : "[\"V1\",\"V2\"]", inc);
    assert_true(n > 0 && (size_t)n < sizeof(line));
    return report_add_alert_json(r, line, (size_t)n, err, errlen);
}

static void add_ok(report_t *r, al_t a)
{
    char err[256] = "";
    if (add_alert(r, a, err, sizeof(err)) != 0)
        fail_msg("alert refused: %s", err);
}

/* One sample of series (user, dir, cls) at ts. */
static void sample(report_t *r, const char *user, int dir, const char *cls, int64_t ts,
                   double count)
{
    lp_sample_t s = { .user = { user, (uint32_t)strlen(user) },
                      .cls = { cls, (uint32_t)strlen(cls) },
                      .dir = dir, .fields = LP_F_COUNT, .count = count, .ts = ts };
    report_add_sample(r, &s);
}

static void gauge_sample(report_t *r, const char *user, int dir, const char *cls, int64_t ts,
                         double backlog)
{
    lp_sample_t s = { .user = { user, (uint32_t)strlen(user) },
                      .cls = { cls, (uint32_t)strlen(cls) },
                      .dir = dir, .fields = LP_F_COUNT | LP_F_BACKLOG, .backlog = backlog,
                      .ts = ts };
    report_add_sample(r, &s);
}

/* The observed rate of chart column c, as report_html.c computes it. */
static int col_rate(const rep_incident_t *in, size_t c, double *lo, double *hi)
{
    double w = (double)(in->t1 - in->t0) / (REP_COLS * REP_SUB) / 1e9;
    int any = 0;
    for (size_t k = c * REP_SUB; k < (c + 1) * REP_SUB; k++) {
        if (!in->subseen[k])
            continue;
        double v = in->sub[k] / w;
        *lo = any ? fmin(*lo, v) : v;
        *hi = any ? fmax(*hi, v) : v;
        any = 1;
    }
    return any;
}

/* Asserts that columns [c0, c1] of the chart all show `rate` msg/s. */
static void assert_cols_rate(const rep_incident_t *in, size_t c0, size_t c1, double rate)
{
    for (size_t c = c0; c <= c1; c++) {
        double lo = NAN, hi = NAN;
        if (!col_rate(in, c, &lo, &hi))
            fail_msg("column %zu has no data", c);
        if (fabs(lo - rate) > 1e-6 || fabs(hi - rate) > 1e-6)
            fail_msg("column %zu: rate %.9g..%.9g, want %g", c, lo, hi, rate);
    }
}

static size_t col_of(const rep_incident_t *in, int64_t t)
{
    return (size_t)((t - in->t0) / COL_NS);
}

/* The incident whose primary is `user`'s with class `cls` (after report_prepare). */
static rep_incident_t *incident(report_t *r, const char *user, const char *cls)
{
    for (size_t i = 0; i < r->ninc; i++)
        if (!strcmp(r->inc[i].alerts[0]->user, user) && !strcmp(r->inc[i].alerts[0]->cls, cls))
            return &r->inc[i];
    fail_msg("no incident of %s/%s", user, cls);
    return NULL;
}

static char *render(const report_t *r, int markdown)
{
    static const char *const inputs[] = { "rec.lp" };
    report_meta_t m = { inputs, 1, "alerts.jsonl", NULL };
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    int rc = markdown ? report_write_markdown(r, f, &m) : report_write_html(r, f, &m);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rc, 0);
    return buf;
}

/* ---- 1. pairing ---- */

static void test_pairing(void **state)
{
    (void)state;
    report_t *r = new_report_all();
    add_ok(r, (al_t){ .user = "U1", .starts = S });                       /* firing */
    add_ok(r, (al_t){ .user = "U1", .starts = S, .ends = S + 600 * SEC }); /* its resolution */
    assert_int_equal(r->nalerts, 1);
    assert_true(r->alerts[0].starts == S);
    assert_true(r->alerts[0].detected == S + 30 * SEC);
    assert_true(r->alerts[0].ends == S + 600 * SEC);

    /* resolved without a firing line: an alert that opens and closes */
    add_ok(r, (al_t){ .user = "U2", .starts = S + MIN, .ends = S + 5 * MIN });
    assert_int_equal(r->nalerts, 2);
    assert_true(r->alerts[1].ends == S + 5 * MIN);

    /* never resolved; a resolution of another series (class) does not close it */
    add_ok(r, (al_t){ .user = "U3", .cls = "req", .starts = S + 2 * MIN });
    add_ok(r, (al_t){ .user = "U3", .cls = "rsp", .starts = S + 2 * MIN, .ends = S + 9 * MIN });
    assert_int_equal(r->nalerts, 4);
    assert_true(r->alerts[2].ends == INT64_MAX);
    assert_string_equal(r->alerts[2].cls, "req");

    /* same alert for two Users: two incidents */
    add_ok(r, (al_t){ .user = "U4", .starts = S + 3 * MIN });
    add_ok(r, (al_t){ .user = "U5", .starts = S + 3 * MIN });
    add_ok(r, (al_t){ .user = "U5", .starts = S + 3 * MIN, .ends = S + 4 * MIN });
    assert_int_equal(r->nalerts, 6);
    assert_true(r->alerts[4].ends == INT64_MAX); /* U4 still firing */
    assert_true(r->alerts[5].ends == S + 4 * MIN);
    assert_string_equal(r->alerts[5].starts_text, "2019-09-16T12:03:00Z");
    assert_int_equal(r->alerts[5].nimpacted, 2);
    assert_int_equal(report_prepare(r), 6);
    report_destroy(r);
}

/* ---- 2. bad lines ---- */

static void expect_refused(report_t *r, const char *line, const char *want)
{
    char err[256] = "";
    assert_int_equal(report_add_alert_json(r, line, strlen(line), err, sizeof(err)), -1);
    if (!strstr(err, want))
        fail_msg("%s: message \"%s\" does not mention \"%s\"", line, err, want);
    assert_int_equal(r->nalerts, 0);
}

static void test_bad_lines(void **state)
{
    (void)state;
    report_t *r = new_report_all();
    char err[256] = "";
    assert_int_equal(add_alert(r, (al_t){ .status = "maybe", .starts = S }, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "status"));
    assert_int_equal(add_alert(r, (al_t){ .dir = "east", .starts = S }, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "dir"));
    /* resolved with ends_at null */
    assert_int_equal(add_alert(r, (al_t){ .status = "resolved", .starts = S }, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "ends_at"));
    assert_int_equal(r->nalerts, 0);

    expect_refused(r,
                   "{\"status\":\"firing\",\"alert\":\"storm\",\"user\":\"U1\",\"dir\":\"south\","
                   "\"class\":\"all\",\"starts_at\":\"yesterday\",\"detected_at\":"
                   "\"2019-09-16T12:00:00Z\",\"ends_at\":null,\"correlation\":\"undeclared\"}",
                   "starts_at");
    expect_refused(r,
                   "{\"status\":\"firing\",\"alert\":\"storm\",\"dir\":\"south\",\"class\":\"all\","
                   "\"starts_at\":\"2019-09-16T12:00:00Z\",\"detected_at\":"
                   "\"2019-09-16T12:00:00Z\",\"ends_at\":null,\"correlation\":\"undeclared\"}",
                   "user");
    /* an end or a detection before the onset would make a chart of no width */
    assert_int_equal(add_alert(r, (al_t){ .starts = S, .ends = S - 2400 * SEC }, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "ends_at"));
    assert_int_equal(add_alert(r, (al_t){ .starts = S, .detected = S - 2400 * SEC }, err,
                               sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "detected_at"));
    assert_int_equal(r->nalerts, 0);
    expect_refused(r, "{\"status\":\"firing\",", "not JSON");
    expect_refused(r, "[1,2,3]", "object");
    /* err may be NULL (as replay passes it) */
    assert_int_equal(report_add_alert_json(r, "[]", 2, NULL, 0), -1);
    assert_int_equal(r->nalerts, 0);
    /* the report still works: a good line after the bad ones is the only incident */
    add_ok(r, (al_t){ .user = "U1", .starts = S });
    assert_int_equal(report_prepare(r), 1);
    report_destroy(r);
}

/* ---- 3. filters ---- */

static void test_filters(void **state)
{
    (void)state;
    /* window [S, S + 1 h] */
    report_t *r = new_report(S, S + 60 * MIN, NULL, NULL);
    add_ok(r, (al_t){ .user = "late", .starts = S + 30 * MIN, .ends = S + 90 * MIN }); /* kept */
    add_ok(r, (al_t){ .user = "before", .starts = S - 120 * MIN, .ends = S - 1 * SEC });
    add_ok(r, (al_t){ .user = "after", .starts = S + 61 * MIN, .ends = S + 70 * MIN });
    add_ok(r, (al_t){ .user = "span", .starts = S - 60 * MIN, .ends = S + 120 * MIN }); /* kept */
    add_ok(r, (al_t){ .user = "edge", .starts = S - 10 * MIN, .ends = S });  /* ends at from: kept */
    add_ok(r, (al_t){ .user = "firing", .starts = S - 180 * MIN });         /* still firing: kept */
    assert_int_equal(r->nalerts, 6);
    assert_int_equal(report_prepare(r), 4);
    /* sorted by onset: firing (S-3h), span (S-1h), edge (S-10m), late (S+30m) */
    assert_string_equal(r->inc[0].alerts[0]->user, "firing");
    assert_string_equal(r->inc[1].alerts[0]->user, "span");
    assert_string_equal(r->inc[2].alerts[0]->user, "edge");
    assert_string_equal(r->inc[3].alerts[0]->user, "late");
    report_destroy(r);

    r = new_report(INT64_MIN, INT64_MAX, "U2", NULL);
    add_ok(r, (al_t){ .user = "U1", .starts = S });
    add_ok(r, (al_t){ .user = "U2", .starts = S + 20 * MIN });
    add_ok(r, (al_t){ .user = "U2", .kind = "silence", .starts = S + 10 * MIN });
    add_ok(r, (al_t){ .user = "U3", .starts = S + 5 * MIN });
    assert_int_equal(report_prepare(r), 2);
    assert_string_equal(r->inc[0].alerts[0]->kind, "silence"); /* S + 10 min first */
    assert_string_equal(r->inc[1].alerts[0]->kind, "storm");
    assert_string_equal(r->inc[1].alerts[0]->user, "U2");
    report_destroy(r);
}

/* ---- 4. rate charts ---- */

static void test_rate_chart(void **state)
{
    (void)state;
    report_t *r = new_report_all();
    add_ok(r, (al_t){ .user = "U1", .cls = "a", .starts = S, .ends = S + 600 * SEC });
    add_ok(r, (al_t){ .user = "U1", .kind = "silence", .starts = S, .ends = S + 600 * SEC });
    add_ok(r, (al_t){ .user = "U3", .starts = S, .ends = S + 600 * SEC });
    assert_int_equal(report_prepare(r), 3);
    rep_incident_t *a = incident(r, "U1", "a");
    /* window: 600 s incident, context max(300 s, 1200 s) each side */
    assert_true(a->t0 == S - 1200 * SEC);
    assert_true(a->t1 == S + 1800 * SEC);
    assert_true((a->t1 - a->t0) / (REP_COLS * REP_SUB) == SUB_NS);

    /* U1 south: class a 100 and class b 50 every 10 s over the whole chart;
     * the other direction and another User send far more */
    for (int64_t t = S - 1300 * SEC; t <= S + 1900 * SEC; t += 10 * SEC) {
        sample(r, "U1", DIR_SOUTH, "a", t, 100);
        sample(r, "U1", DIR_SOUTH, "b", t, 50);
        sample(r, "U1", DIR_NORTH, "a", t, 5000);
        sample(r, "U2", DIR_SOUTH, "a", t, 7000);
    }
    /* U3: 100 per 10 s, but one sample 60 s after the previous carries 600 */
    for (int64_t t = S - 1300 * SEC; t <= S + 1900 * SEC; t += 10 * SEC) {
        if (t > S && t < S + 60 * SEC)
            continue;
        sample(r, "U3", DIR_SOUTH, "all", t, t == S + 60 * SEC ? 600 : 100);
    }
    a = incident(r, "U1", "a");
    rep_incident_t *all = incident(r, "U1", "all"), *gap = incident(r, "U3", "all");
    assert_cols_rate(a, 0, REP_COLS - 1, 10.0);   /* 100 / 10 s: class a only */
    assert_cols_rate(all, 0, REP_COLS - 1, 15.0); /* (100 + 50) / 10 s: every class */
    /* the 600 over (S, S + 60 s] is 10/s in each column of the gap:
     * columns 192 (S = t0 + 1200 s = 192 x 6.25 s) to 200 (S + 56.25 s) */
    assert_int_equal(col_of(gap, S), 192);
    assert_cols_rate(gap, 192, 200, 10.0);
    assert_cols_rate(gap, 0, REP_COLS - 1, 10.0);
    /* and the messages in those 9 columns: 9 x 6.25 s x 10/s = 562.5 */
    double sum = 0;
    for (size_t k = 192 * REP_SUB; k < 201 * REP_SUB; k++)
        sum += gap->sub[k];
    assert_near(sum, 562.5, 1e-6);
    report_destroy(r);
}

/* ---- 5. backlog ---- */

static void test_backlog(void **state)
{
    (void)state;
    report_t *r = new_report_all();
    add_ok(r, (al_t){ .kind = "blocked_route", .user = "U4", .dir = "north", .starts = S,
                      .ends = S + 600 * SEC });
    assert_int_equal(report_prepare(r), 1);
    rep_incident_t *in = &r->inc[0];
    gauge_sample(r, "U4", DIR_NORTH, "a", S + 100 * SEC, 100);
    gauge_sample(r, "U4", DIR_NORTH, "b", S + 100 * SEC, 50);
    gauge_sample(r, "U4", DIR_SOUTH, "a", S + 100 * SEC, 9999); /* other direction */
    gauge_sample(r, "U9", DIR_NORTH, "a", S + 100 * SEC, 8888); /* other User */
    gauge_sample(r, "U4", DIR_NORTH, "a", S + 130 * SEC, 300);
    /* S + 100 s: column (1200 + 100) / 6.25 = 208; S + 130 s: 1330 / 6.25 = 212.8 -> 212 */
    size_t c1 = col_of(in, S + 100 * SEC), c2 = col_of(in, S + 130 * SEC);
    assert_int_equal(c1, 208);
    assert_int_equal(c2, 212);
    assert_near(in->cols[c1].backlog, 150.0, 1e-9); /* 100 + 50 */
    assert_near(in->cols[c2].backlog, 350.0, 1e-9); /* 300 + 50 */
    assert_true(isnan(in->cols[c1 + 1].backlog));   /* no gauge there */
    assert_near(in->g.total, 350.0, 1e-9);
    report_destroy(r);
}

/* ---- 6. baseline band ---- */

static void test_band(void **state)
{
    (void)state;
    detect_params_t p;
    detect_params_defaults(&p);
    assert_true(p.base_warmup <= 4 * 3600 * SEC); /* 4 h of history is enough */
    report_t *r = new_report_all();
    add_ok(r, (al_t){ .user = "U5", .dir = "north", .starts = S, .ends = S + 600 * SEC });
    assert_int_equal(report_prepare(r), 1);
    /* 10/s for 4 h before, a 10x storm (1000 per 10 s) during the incident */
    for (int64_t t = S - 4 * 3600 * SEC; t <= S + 1900 * SEC; t += 10 * SEC)
        sample(r, "U5", DIR_NORTH, "all", t, t > S && t <= S + 600 * SEC ? 1000 : 100);
    rep_incident_t *in = &r->inc[0];
    /* steady 600 per 60 s step: phi stays at the floor 0.01, so
     * sd = sqrt(600 + 0.01 x 600^2) / 60 = sqrt(4200) / 60 = 1.0801 msg/s and
     * the band is 10 +- 2 x 1.0801 = [7.8398, 12.1602] */
    double sd = sqrt(600 + 0.01 * 600 * 600) / 60;
    for (size_t c = 0; c < col_of(in, S); c++) {
        if (isnan(in->cols[c].band_hi) || isnan(in->cols[c].band_lo))
            fail_msg("column %zu: no band", c);
        assert_near(in->cols[c].band_hi, 10 + 2 * sd, 1e-3);
        assert_near(in->cols[c].band_lo, 10 - 2 * sd, 1e-3);
    }
    /* inside the incident the band still expects 10/s, not the storm's 100/s */
    for (size_t c = col_of(in, S); c < col_of(in, S + 600 * SEC); c++) {
        if (isnan(in->cols[c].band_hi) || isnan(in->cols[c].band_lo))
            fail_msg("column %zu: no band", c);
        assert_true(in->cols[c].band_lo <= 10 && 10 <= in->cols[c].band_hi);
        if (in->cols[c].band_hi > 20)
            fail_msg("column %zu: band_hi %g learnt the storm", c, in->cols[c].band_hi);
    }
    /* after it, back to the band of before: neither the storm's last sample
     * (it ends a 60 s step exactly) nor its profile bin is learnt as normal */
    for (size_t c = col_of(in, S + 700 * SEC); c < col_of(in, S + 1800 * SEC); c++) {
        if (fabs(in->cols[c].band_hi - (10 + 2 * sd)) > 0.05 ||
            fabs(in->cols[c].band_lo - (10 - 2 * sd)) > 0.05)
            fail_msg("column %zu after the storm: band [%g, %g]", c, in->cols[c].band_lo,
                     in->cols[c].band_hi);
    }
    /* the observed rate does show the storm: 1000 / 10 s */
    assert_cols_rate(in, col_of(in, S + 10 * SEC), col_of(in, S + 590 * SEC), 100.0);
    report_destroy(r);
}

/* ---- 7. system view ---- */

static void test_system_view(void **state)
{
    (void)state;
    report_t *r = new_report_all();
    add_ok(r, (al_t){ .user = "Z", .starts = S }); /* a User without traffic */
    assert_int_equal(report_prepare(r), 1);
    /* 1500 samples 10 s apart per direction: south (i % 7) + 1, north 3 */
    double south = 0, north = 0;
    for (int i = 0; i < 1500; i++) {
        int64_t t = S + i * 10 * SEC;
        sample(r, "A", DIR_SOUTH, "all", t, i % 7 + 1);
        sample(r, "B", DIR_NORTH, "all", t, 3);
        south += i % 7 + 1;
        north += 3;
        if (i == 0) { /* origin 4 buckets before the first sample; it lands in bucket 4 */
            assert_true(r->sys_origin == S - 40 * SEC);
            assert_near(r->sys[4][DIR_SOUTH], 1, 0);
        }
    }
    /* south: 1500 = 214 x 7 + 2 -> 214 x 28 + 1 + 2 = 5995; north 1500 x 3 = 4500 */
    assert_near(south, 5995, 0);
    assert_near(north, 4500, 0);
    /* the last sample at origin + 14990 s + 40 s needs bucket 1503 of 10 s > 960:
     * width doubled once to 20 s, last bucket 15030 / 20 = 751 */
    assert_true(r->sys_width == 20 * SEC);
    assert_int_equal(r->sys_n, 752);
    double s_sum = 0, n_sum = 0;
    for (size_t k = 0; k < REP_SYS_COLS; k++) {
        s_sum += r->sys[k][DIR_SOUTH];
        n_sum += r->sys[k][DIR_NORTH];
    }
    assert_near(s_sum, 5995, 0);
    assert_near(n_sum, 4500, 0);
    /* bucket 2 = [S, S + 20 s): samples 0 and 1 */
    assert_near(r->sys[2][DIR_SOUTH], 1 + 2, 0);
    assert_near(r->sys[2][DIR_NORTH], 3 + 3, 0);
    assert_true(r->samples == 3000);
    report_destroy(r);
}

/* ---- 8. storm top Users ---- */

static void test_storm_shares(void **state)
{
    (void)state;
    report_t *r = new_report_all();
    add_ok(r, (al_t){ .user = "A", .dir = "south", .starts = S, .ends = S + 600 * SEC });
    assert_int_equal(report_prepare(r), 1);
    for (int64_t t = S - 100 * SEC; t <= S + 700 * SEC; t += 10 * SEC) {
        sample(r, "A", DIR_SOUTH, "all", t, 30);
        sample(r, "B", DIR_SOUTH, "all", t, 10);
        sample(r, "C", DIR_NORTH, "all", t, 1000); /* northbound: not this storm's */
    }
    /* the span [S, S + 600 s] holds 61 samples per User: A 61 x 30 = 1830,
     * B 61 x 10 = 610, total 2440 */
    rep_incident_t *in = &r->inc[0];
    assert_near(in->share_total, 2440, 0);
    double a = -1, b = -1;
    for (uint32_t u = 0; u < in->share_cap; u++) {
        if (!(in->share[u] > 0))
            continue;
        const char *name = rep_user_name(r, u);
        if (!strcmp(name, "A"))
            a = in->share[u];
        else if (!strcmp(name, "B"))
            b = in->share[u];
        else
            fail_msg("User %s has a share", name);
    }
    assert_near(a, 1830, 0);
    assert_near(b, 610, 0);
    char *html = render(r, 0);
    assert_non_null(strstr(html, "A 75%, B 25%")); /* 1830 / 2440, 610 / 2440 */
    free(html);
    report_destroy(r);
}

/* ---- 9. HTML and Markdown ---- */

static void test_html_markdown(void **state)
{
    (void)state;
    changes_t *reg = changes_create();
    assert_non_null(reg);
    change_t c = { .id = "CHG-1", .user = "U1", .title = "firewall rule", .kind = "firewall",
                   .start = S - 30 * MIN, .end = S + 30 * MIN };
    assert_int_equal(changes_add(reg, &c), 0);
    change_t other = { .id = "CHG-2", .user = "U7", .start = S - 30 * MIN, .end = S };
    assert_int_equal(changes_add(reg, &other), 0);

    report_t *r = new_report(INT64_MIN, INT64_MAX, NULL, reg);
    add_ok(r, (al_t){ .user = "U1", .starts = S, .ends = S + 600 * SEC,
                      .change = "{\"id\":\"CHG-1\",\"title\":\"firewall rule\","
                                "\"kind\":\"firewall\",\"score\":0.9}" });
    add_ok(r, (al_t){ .user = "<script>&\\\"x", .starts = S + MIN,
                      .summary = "rate <script>alert(1)</script> & \\\"more\\\"" });
    add_ok(r, (al_t){ .user = "pipe|user", .cls = "c|d", .starts = S + 2 * MIN });
    add_ok(r, (al_t){ .user = "U9", .kind = "x\\\"><script>k|d", .starts = S + 3 * MIN });
    assert_int_equal(report_prepare(r), 4);
    for (int64_t t = S - 1300 * SEC; t <= S + 1900 * SEC; t += 10 * SEC)
        sample(r, "U1", DIR_SOUTH, "all", t, 100);

    char *html = render(r, 0);
    assert_non_null(strstr(html, "<meta http-equiv=\"Content-Security-Policy\" "
                                 "content=\"default-src 'none'"));
    assert_int_equal(count_of(html, "<tr class=\"incident\""), 4);
    assert_int_equal(count_of(html, "<section class=\"incident\""), 4);
    assert_non_null(strstr(html, "class=\"k-x&quot;&gt;&lt;script&gt;k|d\""));
    /* one change window, on U1's chart: CHG-2 is another User's */
    assert_int_equal(count_of(html, "<rect class=\"change-window\""), 1);
    const char *rect = strstr(html, "<rect class=\"change-window\"");
    const char *rect_end = strchr(rect, '>');
    const char *attr = strstr(rect, " data-change=\"CHG-1\"");
    assert_true(attr && attr < rect_end);
    assert_non_null(strstr(html, "&lt;script&gt;&amp;&quot;x"));
    assert_non_null(strstr(html, "rate &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;more"));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "http://"));
    assert_null(strstr(html, "https://"));
    assert_non_null(strstr(html, "4 incidents"));
    free(html);

    char *md = render(r, 1);
    /* rows: the header and one per incident start with "| " */
    size_t rows = 0;
    for (const char *l = md; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        rows += !strncmp(l, "| ", 2);
    assert_int_equal(rows, 1 + 4);
    assert_non_null(strstr(md, "| x\"><script>k\\|d |"));
    assert_non_null(strstr(md, "| pipe\\|user | south/c\\|d | **undeclared** |"));
    /* onset S is 30 min after CHG-1's start; detected 30 s after onset; lasted 600 s */
    assert_non_null(strstr(md, "| 1 | - | 2019-09-16 12:00:00 | storm | U1 | south | CHG-1 (declared)"
                               " | 30 min 00 s after | 30.0 s | 10 min 00 s | 0 |\n"));
    free(md);
    report_destroy(r);
    changes_destroy(reg);
}

/* ---- 10. NULL and empty ---- */

static void test_empty(void **state)
{
    (void)state;
    report_destroy(NULL);
    report_t *r = new_report_all();
    assert_int_equal(report_prepare(r), 0);
    char *html = render(r, 0);
    assert_non_null(strstr(html, "; 0 incidents"));
    assert_non_null(strstr(html, "</html>"));
    assert_int_equal(count_of(html, "<tr class=\"incident\""), 0);
    assert_int_equal(count_of(html, "<section class=\"incident\""), 0);
    assert_non_null(strstr(html, "No traffic in the recording"));
    free(html);
    char *md = render(r, 1);
    assert_non_null(strstr(md, "0 incidents."));
    assert_non_null(strstr(md, "|---|"));
    assert_null(strstr(md, "| 1 |"));
    free(md);
    report_destroy(r);

    /* a report destroyed before report_prepare frees its alerts */
    r = new_report_all();
    add_ok(r, (al_t){ .user = "U1", .starts = S });
    report_destroy(r);
}

/* ---- 11. incidents ---- */

/* The alerts of incident in, as "kind user dir/class role" lines joined by "; ". */
static const char *alerts_of(const rep_incident_t *in, char *buf, size_t n)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < in->nalerts && at < n; k++) {
        const rep_alert_t *a = in->alerts[k];
        at += (size_t)snprintf(buf + at, n - at, "%s%s %s %s/%s %s", k ? "; " : "", a->kind,
                               a->user, dir_name(a->dir), a->cls,
                               a->member ? "member" : "primary");
    }
    return buf;
}

static const char *hurt_of(const rep_incident_t *in, char *buf, size_t n)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < in->nhurt && at < n; k++)
        at += (size_t)snprintf(buf + at, n - at, "%s%s", k ? "," : "", in->hurt[k]);
    return buf;
}

/* A storm of U1 (primary) with the north response storm it causes and the
 * blocked route of a User it hurt (members), an old line without an
 * incident, and the same id counted again after a restart. */
static void add_storm_incident(report_t *r)
{
    add_ok(r, (al_t){ .user = "U1", .cls = "request", .starts = S, .incident = "INC-0001",
                      .impacted = "[\"U2\",\"V1\"]" });
    add_ok(r, (al_t){ .user = "U1", .dir = "north", .cls = "response", .starts = S + 40 * SEC,
                      .incident = "INC-0001", .role = "member" });
    add_ok(r, (al_t){ .kind = "blocked_route", .user = "U2", .dir = "north", .starts = S + 20 * SEC,
                      .incident = "INC-0001", .role = "member", .impacted = "[]" });
}

static void test_grouping(void **state)
{
    (void)state;
    char b[512];
    report_t *r = new_report_all();
    add_storm_incident(r);
    add_ok(r, (al_t){ .kind = "silence", .user = "U3", .dir = "north", .starts = S + 10 * SEC });
    add_ok(r, (al_t){ .user = "U3", .starts = S + 15 * SEC }); /* another old line: its own too */
    /* the blocked route resolves: its line pairs with its firing line */
    add_ok(r, (al_t){ .kind = "blocked_route", .user = "U2", .dir = "north", .starts = S + 20 * SEC,
                      .ends = S + 900 * SEC, .incident = "INC-0001", .role = "member",
                      .impacted = "[]" });
    /* a widespread incident opened after the silence of a User it took in */
    add_ok(r, (al_t){ .kind = "silence", .user = "U6", .dir = "north", .starts = S + 7100 * SEC,
                      .incident = "INC-0005", .role = "member" });
    add_ok(r, (al_t){ .kind = "widespread", .user = "*", .dir = "north", .starts = S + 7200 * SEC,
                      .incident = "INC-0005", .impacted = "[\"U6\",\"U7\"]" });
    /* a restarted daemon counts from 1 again: a second primary, a new incident */
    add_ok(r, (al_t){ .user = "U4", .starts = S + 3600 * SEC, .ends = S + 3700 * SEC,
                      .incident = "INC-0001" });
    add_ok(r, (al_t){ .kind = "silence", .user = "U5", .dir = "north", .starts = S + 3650 * SEC,
                      .incident = "INC-0001", .role = "member" });
    assert_int_equal(r->nalerts, 9); /* the resolved line added no alert */
    assert_int_equal(report_prepare(r), 5);

    rep_incident_t *in = &r->inc[0];
    assert_string_equal(in->id, "INC-0001");
    /* the primary first, then the members by onset (S + 20 s before S + 40 s) */
    assert_string_equal(alerts_of(in, b, sizeof(b)),
                        "storm U1 south/request primary; blocked_route U2 north/all member; "
                        "storm U1 north/response member");
    assert_true(in->alerts[1]->ends == S + 900 * SEC);
    assert_true(in->starts == S);
    assert_true(in->ends == INT64_MAX); /* the storms still fire */
    /* hurt: the primary's impacted Users, then the members' (U1 is the primary's own) */
    assert_string_equal(hurt_of(in, b, sizeof(b)), "U2,V1");
    assert_int_equal(in->ndrawn, 2);

    in = &r->inc[1]; /* the old lines: an incident each */
    assert_null(in->id);
    assert_string_equal(alerts_of(in, b, sizeof(b)), "silence U3 north/all primary");
    in = &r->inc[2];
    assert_null(in->id);
    assert_string_equal(alerts_of(in, b, sizeof(b)), "storm U3 south/all primary");

    in = &r->inc[3];
    assert_string_equal(in->id, "INC-0001");
    assert_string_equal(alerts_of(in, b, sizeof(b)),
                        "storm U4 south/all primary; silence U5 north/all member");
    assert_true(in->ends == INT64_MAX); /* its member still fires */
    assert_string_equal(hurt_of(in, b, sizeof(b)), "V1,V2,U5");

    in = &r->inc[4]; /* ordered by its primary's onset; it starts with its earliest alert */
    assert_string_equal(in->id, "INC-0005");
    assert_string_equal(alerts_of(in, b, sizeof(b)),
                        "widespread * north/all primary; silence U6 north/all member");
    assert_true(in->starts == S + 7100 * SEC);
    assert_string_equal(hurt_of(in, b, sizeof(b)), "U6,U7");

    /* each hurt User gets its small backlog chart: 2 + 2 + 2 (the old lines' V1, V2) + 3 + 2 */
    char *html = render(r, 0);
    assert_int_equal(count_of(html, "<svg class=\"chart hurt\""), 11);
    /* its span: 20 min before the onset (13:00) to 20 min after U4's end (13:01:40) */
    assert_int_equal(count_of(html, "<svg class=\"chart hurt\" viewBox=\"0 0 582 130\" "
                                    "role=\"img\" data-from=\"2019-09-16T12:40:00Z\" "
                                    "data-to=\"2019-09-16T13:21:40Z\" data-user=\"U5\">"), 1);
    assert_non_null(strstr(html, "<h4>Users it hurt (2)</h4>"));
    free(html);
    report_destroy(r);

    /* lines that name no primary: the earliest alert stands for the incident */
    r = new_report_all();
    add_ok(r, (al_t){ .kind = "silence", .user = "U7", .dir = "north", .starts = S + 60 * SEC,
                      .incident = "INC-0009", .role = "member" });
    add_ok(r, (al_t){ .kind = "silence", .user = "U6", .dir = "north", .starts = S,
                      .incident = "INC-0009", .role = "member" });
    assert_int_equal(report_prepare(r), 1);
    assert_string_equal(alerts_of(&r->inc[0], b, sizeof(b)),
                        "silence U6 north/all member; silence U7 north/all member");
    report_destroy(r);
}

static void test_filters_whole_incidents(void **state)
{
    (void)state;
    char b[512];
    /* a member's User, a User only the primary hurt, and one it did not touch */
    static const char *const users[] = { "U2", "V1", "U1", "U9" };
    static const int kept[] = { 1, 1, 1, 0 };
    for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
        report_t *r = new_report(INT64_MIN, INT64_MAX, users[i], NULL);
        add_storm_incident(r);
        assert_int_equal(report_prepare(r), kept[i]);
        if (kept[i]) /* the whole incident, not only the User's alert */
            assert_string_equal(alerts_of(&r->inc[0], b, sizeof(b)),
                                "storm U1 south/request primary; blocked_route U2 north/all "
                                "member; storm U1 north/response member");
        report_destroy(r);
    }
    /* a period that only a member overlaps keeps the incident, primary and all */
    report_t *r = new_report(S + 1000 * SEC, S + 2000 * SEC, NULL, NULL);
    add_ok(r, (al_t){ .user = "U1", .starts = S, .ends = S + 600 * SEC, .incident = "INC-0002" });
    add_ok(r, (al_t){ .kind = "silence", .user = "U2", .dir = "north", .starts = S + 60 * SEC,
                      .ends = S + 1200 * SEC, .incident = "INC-0002", .role = "member" });
    add_ok(r, (al_t){ .user = "U3", .starts = S, .ends = S + 600 * SEC, .incident = "INC-0003" });
    assert_int_equal(report_prepare(r), 1);
    assert_string_equal(r->inc[0].id, "INC-0002");
    assert_int_equal(r->inc[0].nalerts, 2);
    report_destroy(r);
}

static void test_learning_marked(void **state)
{
    (void)state;
    report_t *r = new_report_all();
    add_ok(r, (al_t){ .user = "U1", .starts = S, .incident = "INC-0001", .learning = 1 });
    add_ok(r, (al_t){ .user = "U2", .starts = S + MIN, .incident = "INC-0002" });
    add_ok(r, (al_t){ .kind = "silence", .user = "U3", .dir = "north", .starts = S + 2 * MIN,
                      .incident = "INC-0002", .role = "member", .learning = 1 });
    assert_int_equal(report_prepare(r), 2);
    assert_true(r->inc[0].alerts[0]->learning);
    assert_false(r->inc[1].alerts[0]->learning);
    assert_true(r->inc[1].alerts[1]->learning);

    char *html = render(r, 0);
    /* the learning primary's incident: its summary row, timeline row and section */
    assert_int_equal(count_of(html, "<tr class=\"incident-summary learning\""), 1);
    assert_int_equal(count_of(html, "<tr class=\"incident learning\""), 1);
    assert_int_equal(count_of(html, "<tr class=\"incident\""), 1);
    assert_int_equal(count_of(html, "<section class=\"incident learning\" id=\"incident-1\""), 1);
    assert_int_equal(count_of(html, "<section class=\"incident\" id=\"incident-2\""), 1);
    /* its alerts' rows: the learning primary and the learning member */
    assert_int_equal(count_of(html, "<tr class=\"alert primary learning\""), 1);
    assert_int_equal(count_of(html, "<tr class=\"alert member learning\""), 1);
    assert_int_equal(count_of(html, "<tr class=\"alert primary\""), 1);
    /* a visible badge: summary, timeline, heading and alert row of incident 1, member row of 2 */
    assert_int_equal(count_of(html, ">learning</span>"), 5);
    assert_non_null(strstr(html, "(2 learning)"));
    free(html);

    char *md = render(r, 1);
    assert_non_null(strstr(md, "| INC-0001 | 2019-09-16 12:00:00 | storm *(learning)* | U1 |"));
    assert_non_null(strstr(md, "| INC-0002 | 2019-09-16 12:01:00 | storm | U2 |"));
    assert_non_null(strstr(md, " | 1 |\n")); /* INC-0002's member */
    free(md);
    report_destroy(r);
}

static void test_change_explains(void **state)
{
    (void)state;
    changes_t *reg = changes_create();
    assert_non_null(reg);
    change_t c1 = { .id = "CHG-1", .user = "DCC", .title = "maintenance", .kind = "maintenance",
                    .start = S - 10 * MIN, .end = S + 60 * MIN };
    change_t c2 = { .id = "CHG-2", .user = "U8", .start = S - 30 * MIN, .end = S };
    assert_int_equal(changes_add(reg, &c1), 0);
    assert_int_equal(changes_add(reg, &c2), 0);
    const char *chg1 = "{\"id\":\"CHG-1\",\"title\":\"maintenance\",\"kind\":\"maintenance\","
                       "\"score\":0.8}";
    report_t *r = new_report(INT64_MIN, INT64_MAX, NULL, reg);
    /* 1: its primary names CHG-1; 2: undeclared; 3: only a member names CHG-1 */
    add_ok(r, (al_t){ .kind = "widespread", .user = "*", .dir = "north", .starts = S,
                      .incident = "INC-0001", .change = chg1 });
    add_ok(r, (al_t){ .kind = "silence", .user = "U1", .dir = "north", .starts = S,
                      .incident = "INC-0001", .role = "member", .change = chg1 });
    add_ok(r, (al_t){ .user = "U2", .starts = S + MIN, .incident = "INC-0002" });
    add_ok(r, (al_t){ .user = "U3", .starts = S + 2 * MIN, .incident = "INC-0003" });
    add_ok(r, (al_t){ .kind = "silence", .user = "U4", .dir = "north", .starts = S + 3 * MIN,
                      .incident = "INC-0003", .role = "member", .change = chg1 });
    assert_int_equal(report_prepare(r), 3);
    assert_string_equal(r->inc[0].alerts[0]->kind, "widespread");

    char *html = render(r, 0);
    const char *row1 = strstr(html, "<tr class=\"change\" data-change=\"CHG-1\" data-user=\"DCC\" "
                                    "data-start=\"2019-09-16T11:50:00Z\" "
                                    "data-end=\"2019-09-16T13:00:00Z\">");
    const char *row2 = strstr(html, "<tr class=\"change\" data-change=\"CHG-2\"");
    assert_non_null(row1);
    assert_non_null(row2);
    /* the explains cell: up to its own end */
    const char *end1 = strstr(strstr(row1, "<td class=\"explains\">"), "</td>") + 5;
    const char *end2 = strstr(strstr(row2, "<td class=\"explains\">"), "</td>") + 5;
    char cell[512];
    const char *e = strstr(row1, "<td class=\"explains\">");
    assert_true(e && e < end1);
    snprintf(cell, sizeof(cell), "%.*s", (int)(end1 - e), e);
    assert_string_equal(cell, "<td class=\"explains\"><a href=\"#incident-1\">INC-0001</a>, "
                              "<a href=\"#incident-3\">INC-0003</a></td>");
    e = strstr(row2, "<td class=\"explains\">");
    assert_true(e && e < end2);
    snprintf(cell, sizeof(cell), "%.*s", (int)(end2 - e), e);
    assert_string_equal(cell, "<td class=\"explains\"></td>");
    /* the anchors exist */
    assert_non_null(strstr(html, "<section class=\"incident\" id=\"incident-1\""));
    assert_non_null(strstr(html, "<section class=\"incident\" id=\"incident-3\""));
    /* the cause is its primary's change: incident 3's primary is undeclared */
    const char *s3 = strstr(html, "id=\"incident-3\"");
    const char *cause3 = strstr(s3, "Cause: ");
    assert_non_null(cause3);
    assert_int_equal(strncmp(cause3, "Cause: <span class=\"undeclared\">", 32), 0);
    const char *s1 = strstr(html, "id=\"incident-1\"");
    assert_int_equal(strncmp(strstr(s1, "Cause: "), "Cause: declared change <b>CHG-1</b>", 35), 0);
    free(html);
    report_destroy(r);
    changes_destroy(reg);
}

/* ---- 12. chart layout: fitted axes, thinned ticks, labels apart ---- */

static void assert_axis(double lo, double hi, int ticks, double min, double max, double step)
{
    rep_axis_t ax = rep_fit_axis(lo, hi, ticks);
    if (fabs(ax.min - min) > 1e-9 || fabs(ax.max - max) > 1e-9 || fabs(ax.step - step) > 1e-9)
        fail_msg("rep_fit_axis(%g, %g, %d): %g..%g by %g, want %g..%g by %g", lo, hi, ticks,
                 ax.min, ax.max, ax.step, min, max, step);
}

static void test_fit_axis(void **state)
{
    (void)state;
    /* 40..60: 6% of 20 = 1.2 of headroom, 38.8..61.2 in steps of 22.4 / 5 -> 5
     * (the round step nearest: 1, 2, 2.5 or 5 times a power of ten) */
    assert_axis(40, 60, 5, 35, 65, 5);
    /* high and narrow: from the data, not from 0 (the old axis went 0..1000) */
    assert_axis(980, 1010, 5, 975, 1015, 5);
    /* data down to 0 stays at 0; headroom never takes a rate below 0 */
    assert_axis(0, 480, 5, 0, 600, 100);
    assert_axis(2, 480, 5, 0, 600, 100);
    /* flat: 12% of the value around it; all zero: 0..1; no data: 0..1 */
    assert_axis(100, 100, 5, 85, 115, 5);
    assert_axis(0, 0, 4, 0, 1, 0.25);
    assert_axis(NAN, NAN, 4, 0, 1, 0.25);
    assert_axis(NAN, NAN, 3, 0, 1, 0.25);
    /* small charts: fewer steps; 2.5 is a round step */
    assert_axis(10, 20, 3, 5, 25, 5);
    assert_axis(10, 20, 4, 7.5, 22.5, 2.5);
    /* whatever the range: it holds the data and its headroom, on round ticks,
     * and is not much wider than that */
    uint64_t x = 88172645463325252u;
    for (int i = 0; i < 2000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double lo = (double)(x % 100000) / 10 * pow(10, (double)(x >> 40 & 7) - 4);
        double hi = lo + (double)(x >> 20 & 0xfffff) / 1000 * pow(10, (double)(x >> 50 & 7) - 4);
        int ticks = 3 + (int)(x >> 60 & 3);
        rep_axis_t ax = rep_fit_axis(lo, hi, ticks);
        double room = (hi - lo) * REP_HEADROOM, n = (ax.max - ax.min) / ax.step;
        if (!(ax.min <= fmax(0, lo - room) + 1e-9 * hi && ax.max >= hi + room - 1e-9 * hi &&
              ax.min >= 0 && fabs(n - round(n)) < 1e-6 && n <= 1.5 * ticks + 2 &&
              (hi == lo || ax.max - ax.min <= (hi - lo + 2 * room) * 1.5 + 2 * ax.step)))
            fail_msg("%g..%g (%d ticks): axis %g..%g by %g", lo, hi, ticks, ax.min, ax.max,
                     ax.step);
        double m = ax.step / pow(10, floor(log10(ax.step)) );
        if (fabs(m - 1) > 1e-9 && fabs(m - 2) > 1e-9 && fabs(m - 2.5) > 1e-9 && fabs(m - 5) > 1e-9)
            fail_msg("step %g is not round", ax.step);
    }
}

/* Asserts that the ticks' labels lie within [x0, x1], REP_LABEL_GAP apart. */
static void assert_ticks_apart(const rep_tick_t *k, size_t n, double x0, double x1)
{
    for (size_t i = 0; i < n; i++) {
        rep_box_t b = rep_text_box(k[i].x, 0, 0, k[i].label);
        if (b.x0 < x0 || b.x1 > x1)
            fail_msg("tick %s at %g: its label runs off %g..%g", k[i].label, k[i].x, x0, x1);
        if (i && b.x0 < rep_text_box(k[i - 1].x, 0, 0, k[i - 1].label).x1 + REP_LABEL_GAP)
            fail_msg("ticks %s and %s touch", k[i - 1].label, k[i].label);
    }
}

static void test_time_ticks(void **state)
{
    (void)state;
    rep_tick_t k[REP_TICKS_MAX];
    int64_t step;
    /* an incident's chart, 3000 s over a full chart's 1064 units: a minute is
     * 21.3 units, and the dated first label (6.2 em) and a time (2.9 em) need
     * (68.2 + 31.9) / 2 + 8 = 58.1 units between them: 2 min is too close */
    int64_t t0 = S - 1200 * SEC, t1 = S + 1800 * SEC;
    size_t n = rep_time_ticks(t0, t1, 58, 1122, k, &step);
    assert_true(step == 5 * MIN);
    /* 11:45 .. 12:25: the label of 11:40, at the left end, would run off */
    assert_int_equal(n, 9);
    assert_string_equal(k[0].label, "09-16 11:45");
    assert_string_equal(k[1].label, "11:50");
    assert_true(k[0].t == t0 + 5 * MIN);
    assert_near(k[0].x, 58 + 1064 * 300.0 / 3000, 1e-9);
    assert_ticks_apart(k, n, 58, 1122);
    /* the same time on a hurt User's 466 units: thinned to 10 min */
    n = rep_time_ticks(t0, t1, 58, 524, k, &step);
    assert_true(step == 10 * MIN);
    assert_int_equal(n, 4); /* 11:50 .. 12:20 */
    assert_ticks_apart(k, n, 58, 524);
    /* across midnight, the new day's first label carries its date */
    n = rep_time_ticks(S + 10 * 3600 * SEC, S + 14 * 3600 * SEC, 58, 1122, k, &step);
    assert_ticks_apart(k, n, 58, 1122);
    size_t dated = 0;
    for (size_t i = 0; i < n; i++)
        dated += strchr(k[i].label, '-') != NULL;
    assert_int_equal(dated, 2);
    assert_string_equal(k[0].label, "09-16 22:15"); /* 22:00 would run off the left */
    int found = 0;
    for (size_t i = 0; i < n; i++)
        found |= !strcmp(k[i].label, "09-17 00:00");
    assert_true(found);
    /* weeks: dates alone; a year: four-week steps, labels still apart */
    n = rep_time_ticks(S, S + 21 * 86400 * SEC, 58, 1122, k, &step);
    assert_true(step == 86400 * SEC);
    assert_string_equal(k[0].label, "09-17");
    assert_ticks_apart(k, n, 58, 1122);
    n = rep_time_ticks(S, S + 3 * 365 * 86400 * SEC, 58, 524, k, &step);
    assert_true(n > 0);
    assert_ticks_apart(k, n, 58, 524);
    /* a few minutes: seconds */
    n = rep_time_ticks(S, S + 3 * MIN, 58, 1122, k, &step);
    assert_true(step == 15 * SEC);
    assert_string_equal(k[0].label, "09-16 12:00:15");
    assert_string_equal(k[1].label, "12:00:30");
    assert_ticks_apart(k, n, 58, 1122);
    assert_int_equal(rep_time_ticks(S, S, 58, 1122, k, &step), 0);
}

/* The <text> elements of the first chart from `from` on: their boxes. */
static size_t chart_texts(const char *from, rep_box_t *out, size_t max, char texts[][64])
{
    const char *end = strstr(from, "</svg>");
    size_t n = 0;
    assert_non_null(end);
    for (const char *t = strstr(from, "<text "); t && t < end && n < max;
         t = strstr(t + 1, "<text ")) {
        double x, y;
        assert_int_equal(sscanf(t, "<text x=\"%lf\" y=\"%lf\"", &x, &y), 2);
        const char *close = strchr(t, '>');
        const char *anchor = strstr(t, "text-anchor=\"");
        int a = -1;
        if (anchor && anchor < close)
            a = !strncmp(anchor + 13, "middle", 6) ? 0 : !strncmp(anchor + 13, "end", 3) ? 1 : -1;
        snprintf(texts[n], 64, "%.*s", (int)(strstr(close, "</text>") - close - 1), close + 1);
        out[n] = rep_text_box(x, y, a, texts[n]);
        n++;
    }
    return n;
}

/* Asserts that no two texts of the chart from `from` on overlap; their number. */
static size_t assert_texts_apart(const char *from)
{
    rep_box_t b[REP_LABELS_MAX + 1];
    char texts[REP_LABELS_MAX + 1][64];
    size_t n = chart_texts(from, b, REP_LABELS_MAX + 1, texts);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (b[i].x0 < b[j].x1 && b[j].x0 < b[i].x1 && b[i].y0 < b[j].y1 && b[j].y0 < b[i].y1)
                fail_msg("labels \"%s\" and \"%s\" overlap", texts[i], texts[j]);
    return n;
}

/* A storm of U1 10 min long over 4 h of 10/s, 10x during it, and ten
 * changes of U1 20 s apart (7 units, a label is 38) before its onset, in
 * *reg (the caller destroys it after the report). */
static report_t *storm_with_changes(changes_t **reg)
{
    *reg = changes_create();
    assert_non_null(*reg);
    for (int i = 0; i < 10; i++) {
        char id[16];
        snprintf(id, sizeof(id), "CHG-%d", i + 1);
        change_t c = { .id = id, .user = "U1", .start = S - (10 - i) * 20 * SEC,
                       .end = S + 5 * MIN };
        assert_int_equal(changes_add(*reg, &c), 0);
    }
    report_t *r = new_report(INT64_MIN, INT64_MAX, NULL, *reg);
    add_ok(r, (al_t){ .user = "U1", .starts = S, .ends = S + 600 * SEC });
    assert_int_equal(report_prepare(r), 1);
    for (int64_t t = S - 4 * 3600 * SEC; t <= S + 1900 * SEC; t += 10 * SEC)
        sample(r, "U1", DIR_SOUTH, "all", t, t > S && t <= S + 600 * SEC ? 1000 : 100);
    return r;
}

static void test_chart_layout(void **state)
{
    (void)state;
    changes_t *reg;
    report_t *r = storm_with_changes(&reg);
    char *html = render(r, 0);
    const char *chart = strstr(html, "<section class=\"incident\" id=\"incident-1\"");
    assert_non_null(chart);
    chart = strstr(chart, "<svg class=\"chart\"");
    assert_non_null(chart);
    /* full width: the page's column in user units, scaled by CSS */
    assert_int_equal(strncmp(chart, "<svg class=\"chart\" viewBox=\"0 0 1180 250\"", 41), 0);
    assert_non_null(strstr(html, "svg.chart{display:block;width:100%;height:auto;"));
    assert_null(strstr(html, "max-width:760px"));
    /* the ten change windows all drawn; their labels where they fit (three
     * rows of them), none over another or over the axes */
    assert_int_equal(count_of(chart, "<rect class=\"change-window\""), 10);
    size_t texts = assert_texts_apart(chart);
    size_t named = count_of(chart, "class=\"change-label\">CHG-");
    assert_true(named >= 3 && named < 10);
    assert_true(texts > 20);
    assert_texts_apart(strstr(html, "<svg class=\"chart system\""));
    /* the time labels do not wrap: one line each, and the dates are short */
    assert_non_null(strstr(html, "svg text{font:11px system-ui,sans-serif;fill:#445;"
                                 "white-space:nowrap}"));
    assert_non_null(strstr(chart, "<text x=\"164.4\" y=\"243.0\" text-anchor=\"middle\" "
                                  "class=\"time\">09-16 11:45</text>"));
    free(html);
    report_destroy(r);
    changes_destroy(reg);
}

/* The left axis' labels of the first chart from `from` on: lowest and highest. */
static void left_axis(const char *from, double *lo, double *hi)
{
    rep_box_t b[REP_LABELS_MAX + 1];
    char texts[REP_LABELS_MAX + 1][64];
    size_t n = chart_texts(from, b, REP_LABELS_MAX + 1, texts), found = 0;
    for (size_t i = 0; i < n; i++) {
        char *end;
        double v = strtod(texts[i], &end);
        if (b[i].x1 > 58 || *end) /* right of the plot's left edge, or not a number */
            continue;
        *lo = found && *lo < v ? *lo : v;
        *hi = found && *hi > v ? *hi : v;
        found++;
    }
    assert_true(found >= 3);
}

static void test_chart_axis_fitted(void **state)
{
    (void)state;
    report_t *r = new_report_all();
    add_ok(r, (al_t){ .kind = "level_shift", .user = "U2", .starts = S, .ends = S + 600 * SEC });
    assert_int_equal(report_prepare(r), 1);
    /* 950 and 1050/s in turn: the old axis went from 0 to 2000 (10% headroom
     * over 1050, rounded up to 1, 2 or 5 times a power of ten) */
    for (int64_t t = S - 1300 * SEC; t <= S + 1900 * SEC; t += 10 * SEC) {
        sample(r, "U2", DIR_SOUTH, "all", t, (t / (10 * SEC)) % 2 ? 9500 : 10500);
        sample(r, "U3", DIR_NORTH, "all", t, 10000); /* the system view's other line */
    }
    /* what the chart draws: the rate and the band around its expectation */
    const rep_incident_t *in = &r->inc[0];
    double dlo = INFINITY, dhi = -INFINITY;
    for (size_t c = 0; c < REP_COLS; c++) {
        double clo, chi;
        if (col_rate(in, c, &clo, &chi))
            dlo = fmin(dlo, clo), dhi = fmax(dhi, chi);
        if (!isnan(in->cols[c].band_lo))
            dlo = fmin(dlo, in->cols[c].band_lo), dhi = fmax(dhi, in->cols[c].band_hi);
    }
    assert_true(dlo > 700 && dhi < 1300); /* 1000 +- 2 sd, sd 10% of the rate at least */
    char *html = render(r, 0);
    double lo = 0, hi = 0;
    left_axis(strstr(html, "<svg class=\"chart\""), &lo, &hi);
    if (!(lo <= dlo && hi >= dhi && lo > 0 && hi - lo <= 2 * (dhi - dlo)))
        fail_msg("axis %g..%g for values of %g..%g", lo, hi, dlo, dhi);
    /* the system view too: 950..1050 south, 1000 north */
    left_axis(strstr(html, "<svg class=\"chart system\""), &lo, &hi);
    if (!(lo >= 900 && lo <= 950 && hi >= 1050 && hi <= 1100))
        fail_msg("system axis %g..%g for rates of 950..1050", lo, hi);
    free(html);
    report_destroy(r);
}

/* ---- 13. what a chart shades, the thresholds, the summary's columns ---- */

/* The chart (<svg ... </svg>) of incident section n, in a copy the caller frees. */
static char *section_chart(const char *html, int n, const char *cls)
{
    char at[48], open[48];
    snprintf(at, sizeof(at), "id=\"incident-%d\"", n);
    snprintf(open, sizeof(open), "<svg class=\"%s\"", cls);
    const char *sec = strstr(html, at);
    assert_non_null(sec);
    const char *next = strstr(sec, "</section>");
    const char *svg = strstr(sec, open);
    if (!svg || svg > next)
        return NULL;
    const char *end = strstr(svg, "</svg>");
    return strndup(svg, (size_t)(end + 6 - svg));
}

/* The legend after incident section n's chart. */
static char *section_legend(const char *html, int n)
{
    char *chart = section_chart(html, n, "chart");
    assert_non_null(chart);
    const char *at = strstr(html, chart) + strlen(chart);
    free(chart);
    assert_int_equal(strncmp(at, "<p class=\"legend\">", 18), 0);
    return strndup(at, (size_t)(strstr(at, "</p>") + 4 - at));
}

static void test_shading(void **state)
{
    (void)state;
    changes_t *reg = changes_create();
    assert_non_null(reg);
    change_t dcc = { .id = "CHG-9", .user = "DCC", .kind = "maintenance",
                     .start = S - 10 * MIN, .end = S + 5 * MIN };
    change_t late = { .id = "CHG-10", .user = "DCC", .start = S + 5 * 3600 * SEC,
                      .end = S + 6 * 3600 * SEC };
    assert_int_equal(changes_add(reg, &dcc), 0);
    assert_int_equal(changes_add(reg, &late), 0);
    report_t *r = new_report(INT64_MIN, INT64_MAX, NULL, reg);
    /* the feed stalls before the storm, within its chart (from S - 20 min) */
    add_ok(r, (al_t){ .kind = "feed_stalled", .user = "*", .dir = "both", .starts = S - 15 * MIN,
                      .ends = S - 12 * MIN, .incident = "INC-0001", .impacted = "[]" });
    add_ok(r, (al_t){ .user = "U1", .starts = S, .ends = S + 600 * SEC, .incident = "INC-0002" });
    /* and a silence hours later: neither shading reaches its chart */
    add_ok(r, (al_t){ .kind = "silence", .user = "U2", .dir = "north", .starts = S + 3 * 3600 * SEC,
                      .ends = S + 3 * 3600 * SEC + 600 * SEC, .incident = "INC-0003" });
    assert_int_equal(report_prepare(r), 3);
    for (int64_t t = S - 1300 * SEC; t <= S + 4 * 3600 * SEC; t += 10 * SEC) {
        sample(r, "U1", DIR_SOUTH, "all", t, 100);
        gauge_sample(r, "V1", DIR_NORTH, "all", t, 5);
    }
    char *html = render(r, 0);
    char *storm = section_chart(html, 2, "chart");
    assert_non_null(storm);
    assert_int_equal(count_of(storm, "<rect class=\"feed-stall\""), 1);
    assert_int_equal(count_of(storm, "<rect class=\"change-window maintenance\""), 1);
    assert_int_equal(count_of(storm, "data-change=\"CHG-9\""), 1);
    assert_int_equal(count_of(storm, "data-change=\"CHG-10\""), 0); /* hours later */
    /* the stall's span: S - 15 min to S - 12 min of a chart from S - 20 min to
     * S + 30 min over 1064 units from 58: x 164.4, 63.8 wide */
    assert_non_null(strstr(storm, "<rect class=\"feed-stall\" x=\"164.4\" y=\"16\" "
                                  "width=\"63.8\" height=\"212\"><title>feed stalled from "
                                  "2019-09-16 11:45:00 UTC for 3 min 00 s</title></rect>"));
    assert_non_null(strstr(storm, "class=\"stall-label\">feed stalled</text>"));
    free(storm);
    char *legend = section_legend(html, 2);
    assert_non_null(strstr(legend, "</span>DCC maintenance"));
    assert_non_null(strstr(legend, "</span>feed stalled"));
    free(legend);
    /* the hurt User's chart (V1) and the system view shade them too */
    char *hurt = section_chart(html, 2, "chart hurt");
    assert_non_null(hurt);
    assert_int_equal(count_of(hurt, "<rect class=\"feed-stall\""), 1);
    assert_int_equal(count_of(hurt, "<rect class=\"change-window maintenance\""), 1);
    free(hurt);
    const char *sys = strstr(html, "<svg class=\"chart system\"");
    assert_non_null(sys);
    sys = strndup(sys, (size_t)(strstr(sys, "</svg>") - sys));
    assert_int_equal(count_of(sys, "<rect class=\"feed-stall\""), 1);
    assert_int_equal(count_of(sys, "<rect class=\"change-window maintenance\""), 1);
    free((char *)sys);
    const char *sys_legend = strstr(strstr(html, "<svg class=\"chart system\""), "</svg>");
    sys_legend = strndup(sys_legend, (size_t)(strstr(sys_legend, "</p>") - sys_legend));
    assert_non_null(strstr(sys_legend, "</span>DCC maintenance"));
    assert_non_null(strstr(sys_legend, "</span>feed stalled"));
    free((char *)sys_legend);
    /* the silence's chart, hours later: neither, nor in its legend */
    char *quiet = section_chart(html, 3, "chart");
    assert_non_null(quiet);
    assert_null(strstr(quiet, "feed-stall"));
    assert_null(strstr(quiet, "maintenance"));
    free(quiet);
    legend = section_legend(html, 3);
    assert_null(strstr(legend, "feed stalled"));
    assert_null(strstr(legend, "DCC maintenance"));
    free(legend);
    free(html);
    report_destroy(r);
    changes_destroy(reg);
}

/* The y of the first point of the path of class `cls` in chart. */
static double path_y0(const char *chart, const char *cls)
{
    char open[64];
    snprintf(open, sizeof(open), "<path class=\"%s\" d=\"M", cls);
    const char *p = strstr(chart, open);
    assert_non_null(p);
    double x, y;
    assert_int_equal(sscanf(p + strlen(open), "%lf %lf", &x, &y), 2);
    return y;
}

static void test_thresholds(void **state)
{
    (void)state;
    changes_t *reg;
    report_t *r = storm_with_changes(&reg);
    const rep_incident_t *in = &r->inc[0];
    double fire[REP_COLS], clear[REP_COLS], fr = 0, cr = 0;
    assert_int_equal(rep_thresholds(r, in, fire, clear, &fr, &cr), 1);
    assert_near(fr, 3.5, 0); /* storm_ratio_fire, storm_ratio_clear */
    assert_near(cr, 2.0, 0);
    size_t first = REP_COLS;
    for (size_t c = 0; c < REP_COLS; c++) {
        double base = in->cols[c].exp_hi;
        if (isnan(base)) {
            assert_true(isnan(fire[c]) && isnan(clear[c]));
            continue;
        }
        first = first < c ? first : c;
        /* the top of the expectation of a steady 10/s */
        if (base < 9.9 || base > 10.5)
            fail_msg("column %zu: expectation %g, want 10", c, base);
        assert_near(fire[c], 3.5 * base, 1e-9);
        assert_near(clear[c], 2.0 * base, 1e-9);
    }
    assert_int_equal(first, 0); /* 4 h of history: learnt over the whole chart */
    char *html = render(r, 0);
    char *chart = section_chart(html, 1, "chart");
    assert_non_null(chart);
    /* drawn where the axis puts 3.5 and 2 times the expectation */
    double lo = 0, hi = 0, y0 = 16, y1 = 228;
    left_axis(chart, &lo, &hi);
    double per = (y1 - y0) / (hi - lo); /* units per msg/s; 0.06: the path's one decimal */
    assert_near(path_y0(chart, "threshold fire"), y1 - per * (fire[0] - lo), 0.06);
    assert_near(path_y0(chart, "threshold clear"), y1 - per * (clear[0] - lo), 0.06);
    assert_non_null(strstr(chart, "class=\"threshold-label\">fire 3.5x</text>"));
    assert_non_null(strstr(chart, "class=\"threshold-label\">clear 2x</text>"));
    free(chart);
    char *legend = section_legend(html, 1);
    assert_non_null(strstr(legend, "</span>fire threshold (3.5x the expected rate's top)"));
    assert_non_null(strstr(legend, "</span>clear threshold (2x)"));
    assert_non_null(strstr(legend, "</span>detection"));
    free(legend);
    free(html);
    report_destroy(r);
    changes_destroy(reg);

    /* a silence: under 5% of the bottom of the expectation, back above 50%;
     * a blocked route's are no rates, so none */
    r = new_report_all();
    add_ok(r, (al_t){ .kind = "silence", .user = "U5", .dir = "north", .starts = S,
                      .ends = S + 600 * SEC });
    add_ok(r, (al_t){ .kind = "blocked_route", .user = "U6", .dir = "north", .starts = S,
                      .ends = S + 600 * SEC });
    assert_int_equal(report_prepare(r), 2);
    for (int64_t t = S - 4 * 3600 * SEC; t <= S + 1900 * SEC; t += 10 * SEC) {
        sample(r, "U5", DIR_NORTH, "all", t, t > S && t <= S + 600 * SEC ? 0 : 100);
        sample(r, "U6", DIR_NORTH, "all", t, 100);
    }
    rep_incident_t *sil = incident(r, "U5", "all");
    assert_int_equal(rep_thresholds(r, sil, fire, clear, &fr, &cr), 1);
    assert_near(fr, 0.05, 0);
    assert_near(cr, 0.5, 0);
    assert_near(fire[100], 0.05 * sil->cols[100].exp_lo, 1e-12);
    assert_near(clear[100], 0.5 * sil->cols[100].exp_lo, 1e-12);
    assert_true(sil->cols[100].exp_lo > 9 && sil->cols[100].exp_lo <= 10);
    assert_int_equal(rep_thresholds(r, incident(r, "U6", "all"), fire, clear, &fr, &cr), 0);
    html = render(r, 0);
    /* sections by onset, then User: the silence (U5) first */
    chart = section_chart(html, 1, "chart");
    assert_non_null(chart);
    assert_int_equal(count_of(chart, "<path class=\"threshold fire\" d=\"M"), 1);
    assert_int_equal(count_of(chart, "<path class=\"threshold clear\" d=\"M"), 1);
    free(chart);
    assert_non_null(strstr(html, "</span>fire threshold (0.05x the expected rate's bottom)"));
    chart = section_chart(html, 2, "chart");
    assert_non_null(chart);
    assert_null(strstr(chart, "threshold"));
    free(chart);
    free(html);
    report_destroy(r);
}

static void test_summary_columns(void **state)
{
    (void)state;
    report_t *r = new_report_all();
    add_ok(r, (al_t){ .user = "U1", .dir = "north", .cls = "request", .starts = S,
                      .ends = S + 600 * SEC, .incident = "INC-0001" });
    /* still firing, and detected the next day (UTC) */
    add_ok(r, (al_t){ .kind = "silence", .user = "U2", .dir = "south",
                      .starts = S + 11 * 3600 * SEC + 59 * MIN,
                      .detected = S + 12 * 3600 * SEC + MIN, .incident = "INC-0002" });
    assert_int_equal(report_prepare(r), 2);
    char *html = render(r, 0);
    assert_non_null(strstr(html, "<th>primary alert</th><th>User</th><th>direction</th>"
                                 "<th>onset (UTC)</th><th>duration</th><th>detection took</th>"
                                 "<th>members</th><th>cause</th>"));
    /* the Markdown summary's onset, series and duration */
    assert_non_null(strstr(html, "<td class=\"series\">north / request</td>"
                                 "<td class=\"time\" title=\"2019-09-16 12:00:00 UTC\">"
                                 "2019-09-16 12:00:00</td><td class=\"num\">10 min 00 s</td>"
                                 "<td class=\"num\">30.0 s</td><td class=\"num\">0</td>"
                                 "<td class=\"undeclared\">undeclared</td>"));
    assert_non_null(strstr(html, "<td class=\"series\">south</td>"
                                 "<td class=\"time\" title=\"2019-09-16 23:59:00 UTC\">"
                                 "2019-09-16 23:59:00</td><td class=\"num\">still firing</td>"
                                 "<td class=\"num\">2 min 00 s</td>"));
    /* times in rows: the date where the day differs from the onset's */
    assert_non_null(strstr(html, "<td class=\"time\" title=\"2019-09-16 12:00:30 UTC\">"
                                 "12:00:30</td>"));
    assert_non_null(strstr(html, "<td class=\"time\" title=\"2019-09-17 00:01:00 UTC\">"
                                 "2019-09-17 00:01:00</td>"));
    assert_non_null(strstr(html, "td.time{white-space:nowrap;"));
    /* a legend with the detection time in every incident */
    assert_int_equal(count_of(html, "</span>detection"), 2);
    free(html);
    report_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairing),      cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_filters),      cmocka_unit_test(test_rate_chart),
        cmocka_unit_test(test_backlog),      cmocka_unit_test(test_band),
        cmocka_unit_test(test_system_view),  cmocka_unit_test(test_storm_shares),
        cmocka_unit_test(test_html_markdown), cmocka_unit_test(test_empty),
        cmocka_unit_test(test_grouping),     cmocka_unit_test(test_filters_whole_incidents),
        cmocka_unit_test(test_learning_marked), cmocka_unit_test(test_change_explains),
        cmocka_unit_test(test_fit_axis),     cmocka_unit_test(test_time_ticks),
        cmocka_unit_test(test_chart_layout), cmocka_unit_test(test_chart_axis_fitted),
        cmocka_unit_test(test_shading),      cmocka_unit_test(test_thresholds),
        cmocka_unit_test(test_summary_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
