/*
 * report.c - the report's collector: pairs alert lines into alerts, groups
 * them into incidents, applies the filters, and reads the recording into
 * each incident's charts and the system view (see report.h). Rendering is
 * in report_html.c and report_chart.c.
 *
 * Incidents: the alerts that name one `incident` id are one incident; an
 * alert without one (an alerts file from before incidents) is an incident
 * of its own. Its alert with incident_role "primary" stands for it (the
 * earliest one when the lines hold none). Ids count from 1 again when a
 * daemon restarts with nothing firing, so a second primary under an id
 * already seen starts a new incident under that id.
 *
 * A sample's count covers the interval since the previous sample of its
 * series (contract section 1), so it is spread over that interval: a chart
 * column then shows the true rate whatever the producer's cadence. The
 * band learns, per incident, from the sum of the samples matching its
 * primary's series over REP_LEARN_NS steps with the detectors' model, not
 * learning while the incident lasts, so it shows what the detectors
 * expected at that time.
 *
 * Size: about 920 lines: the collector's pairing, grouping and filters
 * share one incident table; rendering is already apart.
 */
#include "report_int.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "timefmt.h"
#include "vec.h"

static const rep_ref_t no_refs[1] = { { UINT32_MAX, 0 } };

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
    idx_init(&r->group_ix);
    r->first_ts = INT64_MAX;
    r->last_ts = INT64_MIN;
    return r;
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static void alert_free(rep_alert_t *a)
{
    free(a->kind);
    free(a->user);
    free(a->cls);
    free(a->corr);
    free(a->summary);
    free(a->severity);
    free(a->change_id);
    free(a->change_title);
    free(a->change_kind);
    free_names(a->impacted, a->nimpacted);
}

static void incident_free(rep_incident_t *in)
{
    free(in->hurt);
    for (size_t k = 0; k < in->ndrawn; k++) {
        free(in->drawn[k].g.v);
        free(in->drawn[k].backlog);
    }
    free(in->cols);
    free(in->sub);
    free(in->dsub);
    free(in->subseen);
    free(in->g.v);
    free(in->share);
}

void report_destroy(report_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ninc; i++)
        incident_free(&r->inc[i]);
    free(r->inc);
    free(r->members);
    for (size_t i = 0; i < r->nalerts; i++)
        alert_free(&r->alerts[i]);
    free(r->alerts);
    for (size_t g = 0; g < r->ngroups; g++)
        free(r->groups[g].id);
    free(r->groups);
    idx_free(&r->group_ix);
    for (size_t i = 0; i < r->nchecks; i++) {
        free(r->checks[i].change);
        free(r->checks[i].verdict);
        free(r->checks[i].summary);
    }
    free(r->checks);
    idx_free(&r->check_ix);
    for (size_t u = 0; u < r->by_user_cap; u++)
        if (r->by_user[u] != no_refs)
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
        return DIR_NORTH;
    if (!strcmp(s, "south"))
        return DIR_SOUTH;
    if (!strcmp(s, "both"))
        return DIR_BOTH;
    return -1;
}

static int64_t end_or(const rep_alert_t *a, int64_t fallback)
{
    return a->ends == INT64_MAX ? fallback : a->ends;
}

/* The alert a resolved line closes: same kind, series and onset, still firing. */
static rep_alert_t *find_open(report_t *r, const rep_alert_t *k)
{
    for (size_t i = r->nalerts; i-- > 0;) {
        rep_alert_t *a = &r->alerts[i];
        if (a->ends == INT64_MAX && a->starts == k->starts && a->dir == k->dir &&
            !strcmp(a->kind, k->kind) && !strcmp(a->user, k->user) && !strcmp(a->cls, k->cls))
            return a;
    }
    return NULL;
}

/* The keys an incident adds to an alert line (contract section 3), all
 * optional: *incident gets a copy of the id (NULL: none). */
static int read_incident(json_t *o, rep_alert_t *a, char **incident, char *err, size_t errlen)
{
    json_t *id = json_object_get(o, "incident");
    json_t *role = json_object_get(o, "incident_role");
    json_t *learning = json_object_get(o, "learning");
    *incident = NULL;
    if (learning && !json_is_boolean(learning))
        return sw_errf(err, errlen, "key learning: want true or false"), -1;
    a->learning = json_is_true(learning);
    if (!id || json_is_null(id))
        return 0; /* an alert of its own, whatever its role says */
    const char *s = json_string_value(id);
    if (!s || !*s)
        return sw_errf(err, errlen, "key incident: want an id such as INC-0007"), -1;
    const char *rs = json_string_value(role);
    if (role && (!rs || (strcmp(rs, "primary") && strcmp(rs, "member"))))
        return sw_errf(err, errlen, "key incident_role: want primary or member"), -1;
    a->member = rs && !strcmp(rs, "member");
    if (!(*incident = strdup(s)))
        return sw_errf(err, errlen, "out of memory"), -1;
    return 0;
}

static int read_alert(json_t *o, rep_alert_t *a, int *firing, char **incident, char *err,
                      size_t errlen)
{
    *incident = NULL;
    const char *status = json_string_value(json_object_get(o, "status"));
    if (!status || (strcmp(status, "firing") && strcmp(status, "resolved")))
        return sw_errf(err, errlen, "key status: want firing or resolved"), -1;
    *firing = !strcmp(status, "firing");
    static const char *const required[] = { "alert", "user", "class", "correlation" };
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (!json_is_string(json_object_get(o, required[i])))
            return sw_errf(err, errlen, "key %s: want a string", required[i]), -1;
    a->dir = parse_dir(json_string_value(json_object_get(o, "dir")));
    if (a->dir < 0)
        return sw_errf(err, errlen, "key dir: want north, south or both"), -1;
    if (get_time(o, "starts_at", &a->starts, err, errlen) < 0 ||
        get_time(o, "detected_at", &a->detected, err, errlen) < 0 ||
        get_time(o, "ends_at", &a->ends, err, errlen) < 0)
        return -1;
    if (a->starts == INT64_MAX || a->detected == INT64_MAX)
        return sw_errf(err, errlen, "keys starts_at and detected_at: want times, not null"), -1;
    if (*firing)
        a->ends = INT64_MAX;
    else if (a->ends == INT64_MAX)
        return sw_errf(err, errlen, "key ends_at: a resolved alert needs one"), -1;
    if (a->detected < a->starts || a->ends < a->starts)
        return sw_errf(err, errlen, "keys detected_at and ends_at: not before starts_at"), -1;
    const char *st = json_string_value(json_object_get(o, "starts_at"));
    snprintf(a->starts_text, sizeof(a->starts_text), "%s", st);
    a->kind = dup_str(o, "alert");
    a->user = dup_str(o, "user");
    a->cls = dup_str(o, "class");
    a->corr = dup_str(o, "correlation");
    a->summary = dup_str(o, "summary");
    a->value = json_number_value(json_object_get(o, "value"));
    a->baseline = json_number_value(json_object_get(o, "baseline"));
    json_t *sev = json_object_get(o, "severity");
    if (json_is_string(sev) && !(a->severity = strdup(json_string_value(sev))))
        return sw_errf(err, errlen, "out of memory"), -1;
    json_t *chg = json_object_get(o, "change");
    if (json_is_object(chg)) {
        a->change_id = dup_str(chg, "id");
        a->change_title = dup_str(chg, "title");
        a->change_kind = dup_str(chg, "kind");
        a->change_score = json_number_value(json_object_get(chg, "score"));
    }
    json_t *imp = json_object_get(o, "impacted_users");
    size_t n = json_is_array(imp) ? json_array_size(imp) : 0;
    if (n) {
        a->impacted = calloc(n, sizeof(char *));
        if (!a->impacted)
            return sw_errf(err, errlen, "out of memory"), -1;
        for (size_t i = 0; i < n; i++) {
            const char *s = json_string_value(json_array_get(imp, i));
            if (s && !(a->impacted[a->nimpacted++] = strdup(s)))
                return sw_errf(err, errlen, "out of memory"), -1;
        }
    }
    if (!a->kind || !a->user || !a->cls || !a->corr)
        return sw_errf(err, errlen, "out of memory"), -1;
    return read_incident(o, a, incident, err, errlen);
}

/* Room for n + 1 elements of `size` bytes in *v of capacity *cap: 0, or -1. */
static int grow(void **v, size_t *cap, size_t n, size_t size)
{
    return vec_reserve(v, cap, n + 1, size, 16) < 0 ? -1 : 0;
}

/* Room for one more alert and one more group: 0, or -1 (nothing changed
 * but the capacities). */
static int reserve(report_t *r)
{
    if (grow((void **)&r->alerts, &r->alerts_cap, r->nalerts, sizeof(*r->alerts)) < 0 ||
        grow((void **)&r->groups, &r->groups_cap, r->ngroups, sizeof(*r->groups)) < 0)
        return -1;
    return idx_reserve(&r->group_ix, r->ngroups + 1) < 0 ? -1 : 0;
}

/*
 * Puts alert a, about to be r->alerts[r->nalerts], in the group of incident
 * `id` (taken over; NULL: a group of its own): the latest group with that
 * id, or a new one when there is none or when a is a primary and that
 * group has one already (an id counted again after a restart). Cannot
 * fail after reserve().
 */
static void join_group(report_t *r, rep_alert_t *a, char *id)
{
    ptrdiff_t g = id ? idx_find(&r->group_ix, id, strlen(id)) : -1;
    if (g >= 0 && (a->member || r->groups[g].primary == UINT32_MAX)) {
        free(id);
    } else {
        g = (ptrdiff_t)r->ngroups++;
        r->groups[g] = (rep_group_t){ id, UINT32_MAX };
        if (id && idx_insert(&r->group_ix, id, strlen(id), (size_t)g) == SW_EEXISTS)
            idx_update(&r->group_ix, id, strlen(id), (size_t)g);
    }
    a->group = (uint32_t)g;
    a->seq = (uint32_t)r->nalerts;
    if (!a->member && r->groups[g].primary == UINT32_MAX)
        r->groups[g].primary = (uint32_t)r->nalerts;
}

static const char *verdicts[] = { "as_declared", "deviated", "unverifiable" };

int report_add_check_json(report_t *r, const char *line, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *o = json_loadb(line, len, 0, &je);
    if (!o)
        return sw_errf(err, errlen, "not JSON: %s (column %d)", je.text, je.column), -1;
    const char *id = json_string_value(json_object_get(o, "change"));
    const char *verdict = json_string_value(json_object_get(o, "verdict"));
    const char *summary = json_string_value(json_object_get(o, "summary"));
    int known = 0;
    for (size_t i = 0; verdict && i < sizeof(verdicts) / sizeof(*verdicts); i++)
        known |= !strcmp(verdict, verdicts[i]);
    if (!id || !*id || !known) {
        json_decref(o);
        return sw_errf(err, errlen, "want \"change\" and a \"verdict\" of as_declared, "
                       "deviated or unverifiable"), -1;
    }
    rep_check_t c = { strdup(id), strdup(verdict), summary ? strdup(summary) : NULL };
    json_decref(o);
    ptrdiff_t at = idx_find(&r->check_ix, c.change ? c.change : "", c.change ? strlen(c.change) : 0);
    int nomem = !c.change || !c.verdict || (summary && !c.summary);
    if (!nomem && at < 0)
        nomem = VEC_RESERVE(r->checks, r->checks_cap, r->nchecks + 1, 16) < 0 ||
                idx_reserve(&r->check_ix, r->nchecks + 1) < 0;
    if (nomem) {
        free(c.change);
        free(c.verdict);
        free(c.summary);
        return sw_errf(err, errlen, "out of memory"), -1;
    }
    if (at >= 0) { /* checked again (a replayed file): the last one stands */
        rep_check_t *old = &r->checks[at];
        free(old->verdict);
        free(old->summary);
        old->verdict = c.verdict;
        old->summary = c.summary;
        free(c.change);
        return 0;
    }
    r->checks[r->nchecks] = c;
    idx_insert(&r->check_ix, c.change, strlen(c.change), r->nchecks);
    r->nchecks++;
    return 0;
}

const char *report_verdict(const report_t *r, const char *id, const char **summary)
{
    ptrdiff_t at = idx_find(&r->check_ix, id, strlen(id));
    if (at < 0)
        return NULL;
    if (summary)
        *summary = r->checks[at].summary;
    return r->checks[at].verdict;
}

int report_add_alert_json(report_t *r, const char *line, size_t len, char *err, size_t errlen)
{
    if (r->prepared)
        return sw_errf(err, errlen, "the report is prepared: no more alerts"), -1;
    json_error_t je;
    json_t *o = json_loadb(line, len, 0, &je);
    if (!o)
        return sw_errf(err, errlen, "not JSON: %s (column %d)", je.text, je.column), -1;
    if (!json_is_object(o)) {
        json_decref(o);
        return sw_errf(err, errlen, "not a JSON object"), -1;
    }
    rep_alert_t a = { 0 };
    int firing;
    char *id;
    int rc = read_alert(o, &a, &firing, &id, err, errlen);
    json_decref(o);
    if (rc < 0) {
        alert_free(&a);
        free(id);
        return -1;
    }
    if (!firing) {
        rep_alert_t *open = find_open(r, &a);
        if (open) { /* the resolved line's Users: a storm's list grows while it lasts */
            open->ends = a.ends;
            free_names(open->impacted, open->nimpacted);
            open->impacted = a.impacted;
            open->nimpacted = a.nimpacted;
            a.impacted = NULL;
            a.nimpacted = 0;
            alert_free(&a);
            free(id);
            return 0;
        }
    }
    if (reserve(r) < 0) {
        alert_free(&a);
        free(id);
        return sw_errf(err, errlen, "out of memory"), -1;
    }
    join_group(r, &a, id);
    r->alerts[r->nalerts++] = a;
    return 0;
}

/* ---- incidents ---- */

static int by_onset(const rep_alert_t *x, const rep_alert_t *y)
{
    if (x->starts != y->starts)
        return x->starts < y->starts ? -1 : 1;
    if (x->detected != y->detected)
        return x->detected < y->detected ? -1 : 1;
    int c = strcmp(x->user, y->user);
    if (!c)
        c = strcmp(x->kind, y->kind);
    if (!c)
        c = strcmp(x->cls, y->cls);
    return c ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int alert_cmp(const void *a, const void *b)
{
    return by_onset(a, b);
}

static int incident_cmp(const void *a, const void *b)
{
    const rep_incident_t *x = a, *y = b;
    return by_onset(x->alerts[0], y->alerts[0]);
}

/*
 * The Users incident `in` hurt: its primary's impacted Users, then its
 * members' Users other than the primary's, each once (never "*"). 0, or
 * -1 when out of memory.
 */
static int find_hurt(rep_incident_t *in)
{
    const rep_alert_t *p = in->alerts[0];
    size_t most = p->nimpacted + in->nalerts;
    idindex_t seen;
    idx_init(&seen);
    in->hurt = malloc((most + 1) * sizeof(*in->hurt));
    if (!in->hurt || idx_reserve(&seen, most) < 0) {
        idx_free(&seen);
        return -1;
    }
    for (size_t k = 0; k < most; k++) {
        const char *u = k < p->nimpacted ? p->impacted[k]
                                         : in->alerts[k - p->nimpacted]->user;
        if (!strcmp(u, "*") || !strcmp(u, p->user))
            continue;
        if (idx_insert(&seen, u, strlen(u), 0) == 0)
            in->hurt[in->nhurt++] = u;
    }
    idx_free(&seen);
    return 0;
}

/*
 * Makes r->inc from the groups: each incident's alerts in r->members, its
 * primary (the group's, else its earliest alert) first and the rest by
 * onset, its span and the Users it hurt. 0, or -1 when out of memory.
 */
static int build_incidents(report_t *r)
{
    r->inc = calloc(r->ngroups + 1, sizeof(*r->inc));
    r->members = malloc((r->nalerts + 1) * sizeof(*r->members));
    if (!r->inc || !r->members)
        return -1;
    for (size_t g = 0; g < r->ngroups; g++)
        if (r->groups[g].primary != UINT32_MAX)
            r->alerts[r->groups[g].primary].lead = 1;
    if (r->nalerts)
        qsort(r->alerts, r->nalerts, sizeof(*r->alerts), alert_cmp);
    r->ninc = r->ngroups;
    for (size_t i = 0; i < r->nalerts; i++)
        r->inc[r->alerts[i].group].nalerts++;
    size_t at = 0;
    for (size_t g = 0; g < r->ngroups; g++) {
        r->inc[g].alerts = r->members + at;
        at += r->inc[g].nalerts;
        r->inc[g].nalerts = 0;
    }
    for (size_t i = 0; i < r->nalerts; i++) { /* by onset within each incident */
        rep_incident_t *in = &r->inc[r->alerts[i].group];
        in->alerts[in->nalerts++] = &r->alerts[i];
    }
    for (size_t g = 0; g < r->ngroups; g++) {
        rep_incident_t *in = &r->inc[g];
        in->id = r->groups[g].id;
        size_t lead = 0;
        while (lead < in->nalerts && !in->alerts[lead]->lead)
            lead++;
        if (lead < in->nalerts) { /* the primary first, the members after it by onset */
            const rep_alert_t *p = in->alerts[lead];
            memmove(in->alerts + 1, in->alerts, lead * sizeof(*in->alerts));
            in->alerts[0] = p;
        }
        in->starts = INT64_MAX;
        in->ends = INT64_MIN;
        for (size_t k = 0; k < in->nalerts; k++) {
            const rep_alert_t *a = in->alerts[k];
            if (a->starts < in->starts)
                in->starts = a->starts;
            if (end_or(a, INT64_MAX) > in->ends)
                in->ends = end_or(a, INT64_MAX);
        }
        if (find_hurt(in) < 0)
            return -1;
    }
    return 0;
}

/* Whether User `user` is incident in's primary's, a member's or one it hurt. */
static int involves(const rep_incident_t *in, const char *user)
{
    if (!strcmp(in->alerts[0]->user, user))
        return 1;
    for (size_t k = 0; k < in->nhurt; k++)
        if (!strcmp(in->hurt[k], user))
            return 1;
    return 0;
}

/* An incident stays when one of its alerts overlaps [from, to] and, with
 * a User to report on, it involves that User. */
static int passes(const report_t *r, const rep_incident_t *in)
{
    if (r->filter.user && !involves(in, r->filter.user))
        return 0;
    for (size_t k = 0; k < in->nalerts; k++) {
        const rep_alert_t *a = in->alerts[k];
        if (end_or(a, INT64_MAX) >= r->filter.from && a->starts <= r->filter.to)
            return 1;
    }
    return 0;
}

/* ---- charts ---- */

/* The chart window: the incident with context, and its primary's change's start when near. */
static void size_chart(const report_t *r, rep_incident_t *in)
{
    const rep_alert_t *p = in->alerts[0];
    int64_t end = in->starts; /* the last end, or detection of one still firing */
    for (size_t k = 0; k < in->nalerts; k++) {
        const rep_alert_t *a = in->alerts[k];
        if (end_or(a, a->detected) > end)
            end = end_or(a, a->detected);
    }
    int64_t pad = (end - in->starts) / 2;
    if (pad < REP_PAD_MIN_NS)
        pad = REP_PAD_MIN_NS;
    in->t0 = in->starts - pad;
    in->t1 = end + pad;
    const change_t *c = p->change_id && r->reg ? changes_find(r->reg, p->change_id) : NULL;
    if (c && c->start < in->t0 && in->starts - c->start <= REP_CHANGE_REACH_NS)
        in->t0 = c->start - REP_PAD_MIN_NS / 4;
    int64_t w = (in->t1 - in->t0 + REP_COLS * REP_SUB - 1) / (REP_COLS * REP_SUB);
    in->t1 = in->t0 + w * REP_COLS * REP_SUB; /* whole nanoseconds per sub-bucket */
}

/* The chart's columns and the hurt Users' backlog columns: 0, or -1. */
static int alloc_charts(const report_t *r, rep_incident_t *in)
{
    size_chart(r, in);
    in->cols = calloc(REP_COLS, sizeof(*in->cols));
    in->sub = calloc(REP_COLS * REP_SUB, sizeof(double));
    in->dsub = calloc(REP_COLS * REP_SUB, sizeof(double));
    in->subseen = calloc(REP_COLS * REP_SUB, 1);
    if (!in->cols || !in->sub || !in->dsub || !in->subseen)
        return -1;
    for (size_t c = 0; c < REP_COLS; c++)
        in->cols[c] = (rep_col_t){ .band_lo = NAN, .band_hi = NAN, .exp_lo = NAN,
                                   .exp_hi = NAN, .backlog = NAN };
    base_init(&in->base);
    for (; in->ndrawn < in->nhurt && in->ndrawn < REP_HURT_DRAWN; in->ndrawn++) {
        rep_hurt_t *h = &in->drawn[in->ndrawn];
        h->user = in->hurt[in->ndrawn];
        if (!(h->backlog = malloc(REP_COLS * sizeof(double))))
            return -1;
        for (size_t c = 0; c < REP_COLS; c++)
            h->backlog[c] = NAN;
    }
    return 0;
}

int report_prepare(report_t *r)
{
    if (r->prepared)
        return (int)r->ninc;
    r->prepared = 1;
    if (build_incidents(r) < 0)
        return -1;
    size_t kept = 0;
    for (size_t i = 0; i < r->ninc; i++) {
        if (passes(r, &r->inc[i]))
            r->inc[kept++] = r->inc[i];
        else
            incident_free(&r->inc[i]);
    }
    r->ninc = kept;
    if (r->ninc)
        qsort(r->inc, r->ninc, sizeof(*r->inc), incident_cmp);
    r->storms = calloc(r->ninc + 1, sizeof(uint32_t));
    r->active = calloc(r->ninc + 1, sizeof(uint32_t));
    r->wild = calloc(r->ninc + 1, sizeof(uint32_t));
    if (!r->storms || !r->active || !r->wild)
        return -1;
    for (size_t i = 0; i < r->ninc; i++) {
        rep_incident_t *in = &r->inc[i];
        if (alloc_charts(r, in) < 0)
            return -1;
        if (!strcmp(in->alerts[0]->user, "*"))
            r->wild[r->nwild++] = (uint32_t)i;
        if (!strcmp(in->alerts[0]->kind, "storm"))
            r->storms[r->nstorms++] = (uint32_t)i;
    }
    return (int)r->ninc;
}

/* ---- samples ---- */

/* The charts User `name`'s samples go to, written to out when not NULL
 * (as many as the return value says): the incidents whose primary is its,
 * and those it is a drawn hurt User of. */
static size_t collect_refs(const report_t *r, const char *name, rep_ref_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < r->ninc; i++) {
        const rep_incident_t *in = &r->inc[i];
        if (!strcmp(in->alerts[0]->user, name)) {
            if (out)
                out[n] = (rep_ref_t){ (uint32_t)i, -1 };
            n++;
        }
        for (size_t k = 0; k < in->ndrawn; k++) {
            if (strcmp(in->drawn[k].user, name))
                continue;
            if (out)
                out[n] = (rep_ref_t){ (uint32_t)i, (int32_t)k };
            n++;
        }
    }
    return n;
}

/* The charts report user `u`'s samples go to, ended by inc UINT32_MAX
 * (computed on first sight; none when out of memory). */
static const rep_ref_t *refs_of(report_t *r, uint32_t u)
{
    if (u >= r->by_user_cap) {
        size_t cap = r->by_user_cap ? r->by_user_cap : 64;
        while (cap <= u)
            cap *= 2;
        rep_ref_t **v = realloc(r->by_user, cap * sizeof(*v));
        if (!v)
            return no_refs;
        memset(v + r->by_user_cap, 0, (cap - r->by_user_cap) * sizeof(*v));
        r->by_user = v;
        r->by_user_cap = cap;
    }
    if (r->by_user[u])
        return r->by_user[u];
    const char *name = rep_user_name(r, u);
    size_t n = collect_refs(r, name, NULL);
    rep_ref_t *list = n ? malloc((n + 1) * sizeof(*list)) : NULL;
    if (!list)
        return r->by_user[u] = (rep_ref_t *)no_refs;
    collect_refs(r, name, list);
    list[n].inc = UINT32_MAX;
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
            c->exp_lo = lo;
            c->exp_hi = hi;
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
        int anomalous = step > in->starts && in->learn_end < in->ends;
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

/* Takes `backlog` as the latest gauge of `series` in g. The new total, or
 * NAN when out of memory (the gauge is then lost, the total unchanged). */
static double gauge(rep_gauges_t *g, uint32_t series, double backlog)
{
    size_t i = 0;
    while (i < g->n && g->v[i].series != series)
        i++;
    if (i == g->n) {
        if (VEC_RESERVE(g->v, g->cap, g->n + 1, 4) < 0)
            return NAN;
        g->v[g->n++] = (rep_gauge_t){ series, 0 };
    }
    g->total += backlog - g->v[i].backlog;
    g->v[i].backlog = backlog;
    return g->total;
}

/* Raises *col (NAN: none yet) to `total`. */
static void raise_to(double *col, double total)
{
    if (!isnan(total) && (isnan(*col) || total > *col))
        *col = total;
}

/* The chart column of `ts`, or -1 outside the chart. */
static ptrdiff_t col_of(const rep_incident_t *in, int64_t ts)
{
    if (ts < in->t0 || ts >= in->t1)
        return -1;
    return (ptrdiff_t)((ts - in->t0) / ((in->t1 - in->t0) / REP_COLS));
}

static int matches(const rep_alert_t *p, const lp_sample_t *s)
{
    if (p->dir != DIR_BOTH && p->dir != s->dir)
        return 0;
    return !strcmp(p->cls, "all") ||
           (strlen(p->cls) == s->cls.len && !memcmp(p->cls, s->cls.p, s->cls.len));
}

static void chart_sample(report_t *r, rep_incident_t *in, const lp_sample_t *s, uint32_t series,
                         int64_t prev)
{
    if (!matches(in->alerts[0], s))
        return;
    if (prev != INT64_MIN)
        spread(in, s->count, s->delivered, prev, s->ts);
    if (s->fields & LP_F_BACKLOG) {
        double total = gauge(&in->g, series, s->backlog);
        ptrdiff_t c = col_of(in, s->ts);
        if (c >= 0)
            raise_to(&in->cols[c].backlog, total);
    }
    learn(r, in, s->count, s->ts);
}

/* A hurt User's chart: its northbound backlog, every class. */
static void hurt_sample(rep_incident_t *in, rep_hurt_t *h, const lp_sample_t *s, uint32_t series)
{
    if (s->dir != DIR_NORTH || !(s->fields & LP_F_BACKLOG))
        return;
    double total = gauge(&h->g, series, s->backlog);
    ptrdiff_t c = col_of(in, s->ts);
    if (c >= 0)
        raise_to(&h->backlog[c], total);
}

/* Keeps the storms whose primary's span holds `ts` in r->active. */
static void track_storms(report_t *r, int64_t ts)
{
    while (r->storm_next < r->nstorms &&
           r->inc[r->storms[r->storm_next]].alerts[0]->starts <= ts)
        r->active[r->nactive++] = r->storms[r->storm_next++];
    size_t n = 0;
    for (size_t i = 0; i < r->nactive; i++)
        if (end_or(r->inc[r->active[i]].alerts[0], INT64_MAX) >= ts)
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
    if (!r->prepared || !lp_ts_in_range(s->ts))
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
    for (const rep_ref_t *ref = refs_of(r, user); ref->inc != UINT32_MAX; ref++) {
        rep_incident_t *in = &r->inc[ref->inc];
        if (ref->slot < 0)
            chart_sample(r, in, s, (uint32_t)idx, prev);
        else
            hurt_sample(in, &in->drawn[ref->slot], s, (uint32_t)idx);
    }
    for (size_t i = 0; i < r->nwild; i++)
        chart_sample(r, &r->inc[r->wild[i]], s, (uint32_t)idx, prev);
    track_storms(r, s->ts);
    for (size_t i = 0; i < r->nactive; i++) {
        rep_incident_t *in = &r->inc[r->active[i]];
        if (in->alerts[0]->dir == s->dir)
            share(in, user, s->count);
    }
}
