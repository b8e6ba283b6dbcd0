/*
 * report.c - the report's collector: pairs alert lines into incidents,
 * applies the filters, and reads the recording into each incident's chart
 * and the system view (see report.h). Rendering is in report_html.c.
 *
 * A sample's count covers the interval since the previous sample of its
 * series (contract section 1), so it is spread over that interval: a chart
 * column then shows the true rate whatever the producer's cadence. The
 * band learns, per incident, from the sum of the matching series over
 * REP_LEARN_NS steps with the detectors' model, not learning while the
 * incident lasts, so it shows what the detectors expected at that time.
 */
#include "report_int.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "timefmt.h"

static const uint32_t no_incidents[1] = { UINT32_MAX };

static const detect_params_t *params_for(void *ctx, const char *user, size_t len)
{
    (void)user;
    (void)len;
    return ctx;
}

report_t *report_create(const report_filter_t *filter, const changes_t *reg,
                        const detect_params_t *params)
{
    report_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->st = st_create();
    if (!r->st) {
        free(r);
        return NULL;
    }
    r->filter = *filter;
    r->reg = reg;
    r->params = *params;
    r->bcfg = (base_cfg_t){ .tau = params->base_tau, .day_weight = params->daily_weight,
                            .outlier_weight = params->daily_outlier_weight,
                            .outlier_ratio = params->daily_outlier_ratio,
                            .outlier_slack = params->storm_min_excess,
                            .scale_tau = params->base_scale_tau,
                            .damp_weight = params->base_damp_weight, .weekly = 1 };
    r->first_ts = INT64_MAX;
    r->last_ts = INT64_MIN;
    return r;
}

static void incident_free(rep_incident_t *in)
{
    free(in->kind);
    free(in->user);
    free(in->cls);
    free(in->corr);
    free(in->summary);
    free(in->change_id);
    free(in->change_title);
    free(in->change_kind);
    for (size_t i = 0; i < in->nimpacted; i++)
        free(in->impacted[i]);
    free(in->impacted);
    free(in->cols);
    free(in->sub);
    free(in->dsub);
    free(in->subseen);
    free(in->gauges);
    free(in->share);
}

void report_destroy(report_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ninc; i++)
        incident_free(&r->inc[i]);
    free(r->inc);
    for (size_t u = 0; u < r->by_user_cap; u++)
        if (r->by_user[u] != no_incidents)
            free(r->by_user[u]);
    free(r->by_user);
    free(r->wild);
    free(r->storms);
    free(r->active);
    st_destroy(r->st);
    free(r);
}

const char *rep_user_name(const report_t *r, uint32_t u)
{
    return st_user(r->st, u)->name;
}

/* ---- alert lines ---- */

static char *dup_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? strdup(s) : NULL;
}

static int get_time(json_t *o, const char *key, int64_t *ns, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);
    if (json_is_null(v)) {
        *ns = INT64_MAX;
        return 0;
    }
    const char *s = json_string_value(v);
    if (!s || tf_parse_rfc3339(s, ns) < 0)
        return sw_errf(err, errlen, "key %s: want an RFC 3339 time", key), -1;
    return 0;
}

static int parse_dir(const char *s)
{
    if (!s)
        return -1;
    if (!strcmp(s, "north"))
        return LP_NORTH;
    if (!strcmp(s, "south"))
        return LP_SOUTH;
    if (!strcmp(s, "both"))
        return REP_DIR_BOTH;
    return -1;
}

/* The incident a resolved line closes: same kind, series and onset. */
static rep_incident_t *find_open(report_t *r, const rep_incident_t *k)
{
    for (size_t i = r->ninc; i-- > 0;) {
        rep_incident_t *in = &r->inc[i];
        if (in->ends == INT64_MAX && in->starts == k->starts && in->dir == k->dir &&
            !strcmp(in->kind, k->kind) && !strcmp(in->user, k->user) && !strcmp(in->cls, k->cls))
            return in;
    }
    return NULL;
}

static int read_alert(json_t *o, rep_incident_t *in, int *firing, char *err, size_t errlen)
{
    const char *status = json_string_value(json_object_get(o, "status"));
    if (!status || (strcmp(status, "firing") && strcmp(status, "resolved")))
        return sw_errf(err, errlen, "key status: want firing or resolved"), -1;
    *firing = !strcmp(status, "firing");
    static const char *const required[] = { "alert", "user", "class", "correlation" };
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (!json_is_string(json_object_get(o, required[i])))
            return sw_errf(err, errlen, "key %s: want a string", required[i]), -1;
    in->dir = parse_dir(json_string_value(json_object_get(o, "dir")));
    if (in->dir < 0)
        return sw_errf(err, errlen, "key dir: want north, south or both"), -1;
    if (get_time(o, "starts_at", &in->starts, err, errlen) < 0 ||
        get_time(o, "detected_at", &in->detected, err, errlen) < 0 ||
        get_time(o, "ends_at", &in->ends, err, errlen) < 0)
        return -1;
    if (in->starts == INT64_MAX || in->detected == INT64_MAX)
        return sw_errf(err, errlen, "keys starts_at and detected_at: want times, not null"), -1;
    if (*firing)
        in->ends = INT64_MAX;
    else if (in->ends == INT64_MAX)
        return sw_errf(err, errlen, "key ends_at: a resolved alert needs one"), -1;
    if (in->detected < in->starts || in->ends < in->starts)
        return sw_errf(err, errlen, "keys detected_at and ends_at: not before starts_at"), -1;
    const char *st = json_string_value(json_object_get(o, "starts_at"));
    snprintf(in->starts_text, sizeof(in->starts_text), "%s", st);
    in->kind = dup_str(o, "alert");
    in->user = dup_str(o, "user");
    in->cls = dup_str(o, "class");
    in->corr = dup_str(o, "correlation");
    in->summary = dup_str(o, "summary");
    in->value = json_number_value(json_object_get(o, "value"));
    in->baseline = json_number_value(json_object_get(o, "baseline"));
    json_t *chg = json_object_get(o, "change");
    if (json_is_object(chg)) {
        in->change_id = dup_str(chg, "id");
        in->change_title = dup_str(chg, "title");
        in->change_kind = dup_str(chg, "kind");
        in->change_score = json_number_value(json_object_get(chg, "score"));
    }
    json_t *imp = json_object_get(o, "impacted_users");
    size_t n = json_is_array(imp) ? json_array_size(imp) : 0;
    if (n) {
        in->impacted = calloc(n, sizeof(char *));
        if (!in->impacted)
            return sw_errf(err, errlen, "out of memory"), -1;
        for (size_t i = 0; i < n; i++) {
            const char *s = json_string_value(json_array_get(imp, i));
            if (s && !(in->impacted[in->nimpacted++] = strdup(s)))
                return sw_errf(err, errlen, "out of memory"), -1;
        }
    }
    if (!in->kind || !in->user || !in->cls || !in->corr)
        return sw_errf(err, errlen, "out of memory"), -1;
    return 0;
}

int report_add_alert_json(report_t *r, const char *line, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *o = json_loadb(line, len, 0, &je);
    if (!o)
        return sw_errf(err, errlen, "not JSON: %s (column %d)", je.text, je.column), -1;
    if (!json_is_object(o)) {
        json_decref(o);
        return sw_errf(err, errlen, "not a JSON object"), -1;
    }
    rep_incident_t in = { 0 };
    int firing;
    if (read_alert(o, &in, &firing, err, errlen) < 0) {
        json_decref(o);
        incident_free(&in);
        return -1;
    }
    json_decref(o);
    if (!firing) {
        rep_incident_t *open = find_open(r, &in);
        if (open) {
            open->ends = in.ends;
            incident_free(&in);
            return 0;
        }
    }
    if (r->ninc == r->inc_cap) {
        size_t cap = r->inc_cap ? r->inc_cap * 2 : 16;
        rep_incident_t *v = realloc(r->inc, cap * sizeof(*v));
        if (!v) {
            incident_free(&in);
            return sw_errf(err, errlen, "out of memory"), -1;
        }
        r->inc = v;
        r->inc_cap = cap;
    }
    r->inc[r->ninc++] = in;
    return 0;
}

/* ---- charts ---- */

static int64_t end_or(const rep_incident_t *in, int64_t fallback)
{
    return in->ends == INT64_MAX ? fallback : in->ends;
}

/* The chart window: the incident with context, and its change's start when near. */
static void size_chart(const report_t *r, rep_incident_t *in)
{
    int64_t end = end_or(in, in->detected);
    int64_t pad = (end - in->starts) / 2;
    if (pad < REP_PAD_MIN_NS)
        pad = REP_PAD_MIN_NS;
    in->t0 = in->starts - pad;
    in->t1 = end + pad;
    const change_t *c = in->change_id && r->reg ? changes_find(r->reg, in->change_id) : NULL;
    if (c && c->start < in->t0 && in->starts - c->start <= REP_CHANGE_REACH_NS)
        in->t0 = c->start - REP_PAD_MIN_NS / 4;
    int64_t w = (in->t1 - in->t0 + REP_COLS * REP_SUB - 1) / (REP_COLS * REP_SUB);
    in->t1 = in->t0 + w * REP_COLS * REP_SUB; /* whole nanoseconds per sub-bucket */
}

static int passes(const report_t *r, const rep_incident_t *in)
{
    if (r->filter.user && strcmp(r->filter.user, in->user))
        return 0;
    return end_or(in, INT64_MAX) >= r->filter.from && in->starts <= r->filter.to;
}

static int by_onset(const void *a, const void *b)
{
    const rep_incident_t *x = a, *y = b;
    if (x->starts != y->starts)
        return x->starts < y->starts ? -1 : 1;
    if (x->detected != y->detected)
        return x->detected < y->detected ? -1 : 1;
    int c = strcmp(x->user, y->user);
    return c ? c : strcmp(x->kind, y->kind);
}

int report_prepare(report_t *r)
{
    size_t kept = 0;
    for (size_t i = 0; i < r->ninc; i++) {
        if (passes(r, &r->inc[i]))
            r->inc[kept++] = r->inc[i];
        else
            incident_free(&r->inc[i]);
    }
    r->ninc = kept;
    if (r->ninc)
        qsort(r->inc, r->ninc, sizeof(*r->inc), by_onset);
    r->storms = calloc(r->ninc + 1, sizeof(uint32_t));
    r->active = calloc(r->ninc + 1, sizeof(uint32_t));
    r->wild = calloc(r->ninc + 1, sizeof(uint32_t));
    if (!r->storms || !r->active || !r->wild)
        return -1;
    for (size_t i = 0; i < r->ninc; i++) {
        rep_incident_t *in = &r->inc[i];
        in->keep = 1;
        size_chart(r, in);
        in->cols = calloc(REP_COLS, sizeof(*in->cols));
        in->sub = calloc(REP_COLS * REP_SUB, sizeof(double));
        in->dsub = calloc(REP_COLS * REP_SUB, sizeof(double));
        in->subseen = calloc(REP_COLS * REP_SUB, 1);
        if (!in->cols || !in->sub || !in->dsub || !in->subseen)
            return -1;
        for (size_t c = 0; c < REP_COLS; c++)
            in->cols[c].band_lo = in->cols[c].band_hi = in->cols[c].backlog = NAN;
        base_init(&in->base);
        if (!strcmp(in->user, "*"))
            r->wild[r->nwild++] = (uint32_t)i;
        if (!strcmp(in->kind, "storm"))
            r->storms[r->nstorms++] = (uint32_t)i;
    }
    r->prepared = 1;
    return (int)r->ninc;
}

/* The incidents about report user `u` (computed on first sight). */
static const uint32_t *incidents_of(report_t *r, uint32_t u)
{
    if (u >= r->by_user_cap) {
        size_t cap = r->by_user_cap ? r->by_user_cap : 64;
        while (cap <= u)
            cap *= 2;
        uint32_t **v = realloc(r->by_user, cap * sizeof(*v));
        if (!v)
            return no_incidents;
        memset(v + r->by_user_cap, 0, (cap - r->by_user_cap) * sizeof(*v));
        r->by_user = v;
        r->by_user_cap = cap;
    }
    if (r->by_user[u])
        return r->by_user[u];
    const char *name = rep_user_name(r, u);
    size_t n = 0;
    for (size_t i = 0; i < r->ninc; i++)
        n += !strcmp(r->inc[i].user, name);
    uint32_t *list = n ? malloc((n + 1) * sizeof(*list)) : NULL;
    if (!list)
        return r->by_user[u] = (uint32_t *)no_incidents;
    n = 0;
    for (size_t i = 0; i < r->ninc; i++)
        if (!strcmp(r->inc[i].user, name))
            list[n++] = (uint32_t)i;
    list[n] = UINT32_MAX;
    return r->by_user[u] = list;
}

/* Sets the band of every column whose middle the learning has passed. */
static void fill_band(const report_t *r, rep_incident_t *in)
{
    int64_t colw = (in->t1 - in->t0) / REP_COLS;
    double w = REP_LEARN_NS / 1e9;
    while (in->band_next < REP_COLS) {
        int64_t mid = in->t0 + (int64_t)in->band_next * colw + colw / 2;
        if (mid > in->learn_end)
            break;
        if (in->base.age >= r->params.base_warmup) {
            base_expect_t ex;
            base_expect(&in->base, &r->bcfg, mid + tf_local_offset(mid), r->params.daily_tolerance,
                        &ex);
            double hi = ex.hi, lo = ex.lo;
            double sd_hi = base_sd(&in->base, hi * w, r->params.base_dispersion) / w;
            double sd_lo = base_sd(&in->base, lo * w, r->params.base_dispersion) / w;
            rep_col_t *c = &in->cols[in->band_next];
            c->band_hi = hi + REP_BAND_SD * sd_hi;
            c->band_lo = fmax(0.0, lo - REP_BAND_SD * sd_lo);
        }
        in->band_next++;
    }
}

/* Learns the band from `count` messages at `ts`, in REP_LEARN_NS steps. */
static void learn(const report_t *r, rep_incident_t *in, double count, int64_t ts)
{
    /* the step a count belongs to: (k W, (k+1) W] -> k W, as it covers the time before ts */
    int64_t step = (ts - 1) - (ts - 1) % REP_LEARN_NS;
    if (!in->learning) {
        in->learning = 1;
        in->learn_end = step;
    }
    if (step > in->learn_end) {
        /* close what was accumulated: it covers learn_end .. step */
        int anomalous = step > in->starts && in->learn_end < end_or(in, INT64_MAX);
        base_learn(&in->base, &r->bcfg, in->learn_acc, step - in->learn_end,
                   step + tf_local_offset(step), anomalous ? BASE_ANOMALOUS : BASE_NORMAL);
        in->learn_end = step;
        in->learn_acc = 0;
        fill_band(r, in);
    }
    in->learn_acc += count;
}

/* Spreads `count` and `delivered` over (from, to] into the chart's sub-buckets. */
static void spread(rep_incident_t *in, double count, double delivered, int64_t from, int64_t to)
{
    if (to <= in->t0 || from >= in->t1 || to <= from)
        return;
    int64_t w = (in->t1 - in->t0) / (REP_COLS * REP_SUB);
    double per_ns = count / (double)(to - from), dper_ns = delivered / (double)(to - from);
    int64_t a = from > in->t0 ? from : in->t0;
    int64_t b = to < in->t1 ? to : in->t1;
    for (int64_t k = (a - in->t0) / w; k < REP_COLS * REP_SUB; k++) {
        int64_t s0 = in->t0 + k * w, s1 = s0 + w;
        if (s0 >= b)
            break;
        int64_t lo = a > s0 ? a : s0, hi = b < s1 ? b : s1;
        in->sub[k] += per_ns * (double)(hi - lo);
        in->dsub[k] += dper_ns * (double)(hi - lo);
        in->subseen[k] = 1;
    }
}

static void gauge(rep_incident_t *in, uint32_t series, double backlog, int64_t ts)
{
    size_t i = 0;
    while (i < in->ngauges && in->gauges[i].series != series)
        i++;
    if (i == in->ngauges) {
        if (in->ngauges == in->gauges_cap) {
            size_t cap = in->gauges_cap ? in->gauges_cap * 2 : 4;
            rep_gauge_t *v = realloc(in->gauges, cap * sizeof(*v));
            if (!v)
                return;
            in->gauges = v;
            in->gauges_cap = cap;
        }
        in->gauges[in->ngauges++] = (rep_gauge_t){ series, 0 };
    }
    in->backlog_total += backlog - in->gauges[i].backlog;
    in->gauges[i].backlog = backlog;
    if (ts < in->t0 || ts >= in->t1)
        return;
    rep_col_t *c = &in->cols[(ts - in->t0) / ((in->t1 - in->t0) / REP_COLS)];
    if (isnan(c->backlog) || in->backlog_total > c->backlog)
        c->backlog = in->backlog_total;
}

static int matches(const rep_incident_t *in, const lp_sample_t *s)
{
    if (in->dir != REP_DIR_BOTH && in->dir != s->dir)
        return 0;
    return !strcmp(in->cls, "all") || (strlen(in->cls) == s->cls.len &&
                                        !memcmp(in->cls, s->cls.p, s->cls.len));
}

static void chart_sample(report_t *r, rep_incident_t *in, const lp_sample_t *s, uint32_t series,
                         int64_t prev)
{
    if (!matches(in, s))
        return;
    if (prev != INT64_MIN)
        spread(in, s->count, s->delivered, prev, s->ts);
    if (s->fields & LP_F_BACKLOG)
        gauge(in, series, s->backlog, s->ts);
    learn(r, in, s->count, s->ts);
}

/* Keeps the storms whose span holds `ts` in r->active. */
static void track_storms(report_t *r, int64_t ts)
{
    while (r->storm_next < r->nstorms && r->inc[r->storms[r->storm_next]].starts <= ts)
        r->active[r->nactive++] = r->storms[r->storm_next++];
    size_t n = 0;
    for (size_t i = 0; i < r->nactive; i++)
        if (end_or(&r->inc[r->active[i]], INT64_MAX) >= ts)
            r->active[n++] = r->active[i];
    r->nactive = n;
}

static void share(rep_incident_t *in, uint32_t user, double count)
{
    if (user >= in->share_cap) {
        size_t cap = in->share_cap ? in->share_cap : 64;
        while (cap <= user)
            cap *= 2;
        double *v = realloc(in->share, cap * sizeof(*v));
        if (!v)
            return;
        memset(v + in->share_cap, 0, (cap - in->share_cap) * sizeof(*v));
        in->share = v;
        in->share_cap = cap;
    }
    in->share[user] += count;
    in->share_total += count;
}

/* The system view: the total count per direction, in at most REP_SYS_COLS buckets. */
static void system_sample(report_t *r, int dir, double count, int64_t ts)
{
    if (ts < r->filter.from || ts > r->filter.to)
        return;
    if (!r->sys_width) {
        r->sys_width = REP_SYS_WIDTH0;
        r->sys_origin = ts - ts % REP_SYS_WIDTH0 - REP_SYS_WIDTH0 * 4; /* room for late samples */
    }
    int64_t k = ts < r->sys_origin ? 0 : (ts - r->sys_origin) / r->sys_width;
    while (k >= REP_SYS_COLS) { /* halve the resolution: merge bucket pairs */
        for (size_t i = 0; i < REP_SYS_COLS / 2; i++)
            for (int d = 0; d < 2; d++)
                r->sys[i][d] = r->sys[2 * i][d] + r->sys[2 * i + 1][d];
        memset(r->sys[REP_SYS_COLS / 2], 0, sizeof(r->sys) / 2);
        r->sys_width *= 2;
        r->sys_n = (r->sys_n + 1) / 2;
        k = (ts - r->sys_origin) / r->sys_width;
    }
    r->sys[k][dir] += count;
    if ((size_t)k >= r->sys_n)
        r->sys_n = (size_t)k + 1;
}

void report_add_sample(report_t *r, const lp_sample_t *s)
{
    if (!lp_ts_in_range(s->ts))
        return; /* detection refuses it too */
    int64_t idx = st_intern(r->st, s->user.p, s->user.len, s->dir, s->cls.p, s->cls.len,
                            params_for, &r->params);
    if (idx < 0)
        return;
    series_t *se = st_series(r->st, (uint32_t)idx);
    if (se->seen && s->ts <= se->last_ts)
        return; /* a duplicate or out of order: the detectors drop it too */
    int64_t prev = se->seen ? se->last_ts : INT64_MIN;
    se->seen = 1;
    se->last_ts = s->ts;
    uint32_t user = se->user;
    r->samples++;
    if (s->ts < r->first_ts)
        r->first_ts = s->ts;
    if (s->ts > r->last_ts)
        r->last_ts = s->ts;

    system_sample(r, s->dir, s->count, s->ts);
    for (const uint32_t *i = incidents_of(r, user); *i != UINT32_MAX; i++)
        chart_sample(r, &r->inc[*i], s, (uint32_t)idx, prev);
    for (size_t i = 0; i < r->nwild; i++)
        chart_sample(r, &r->inc[r->wild[i]], s, (uint32_t)idx, prev);
    track_storms(r, s->ts);
    for (size_t i = 0; i < r->nactive; i++) {
        rep_incident_t *in = &r->inc[r->active[i]];
        if (in->dir == s->dir)
            share(in, user, s->count);
    }
}
