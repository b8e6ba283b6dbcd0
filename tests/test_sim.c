/*
 * test_sim.c - the traffic simulator (sim/sim*.c), in process: sim_write()
 * into memory (open_memstream), the lines parsed back, the truth read with
 * jansson.
 *
 * Each shape is checked in the lines it makes: mixed cadences (each User's
 * samples exactly its cadence apart, in event-time order, incidents in
 * time), ramps (linear and exponential growth, then the hold), the weekly
 * rhythm (weekend volume and a later peak), local time across a clock
 * change (the peak keeps its local hour), alert codes (the classes and
 * their shares, a storm in a small one), tiny and noisy Users, level
 * shifts, long bursts; and the truth lists each incident with its kind,
 * direction and onset. The determinism contract too: the same options give
 * the same bytes, an incident changes only its User's lines, and the bytes
 * of the options that existed before these shapes are pinned.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "sim.h"
#include "testutil.h"
#include "timefmt.h"

#define S INT64_C(1000000000)
#define MIN (60 * S)
#define HOUR (3600 * S)
#define LONDON_RULE "GMT0BST,M3.5.0/1,M10.5.0" /* Europe/London's rule, without tzdata */

/* ---- reading the documents back ---------------------------------------- */

enum { C_REQUEST, C_RESPONSE, C_ALERT }; /* line_t.cls; alert code j is C_ALERT + j */

typedef struct {
    int user;          /* index, -1: unknown */
    int cls;
    char cname[SIM_CLASS_LEN];
    int64_t count, second, backlog; /* second: rejected or delivered */
    int64_t ts;
} line_t;

typedef struct {
    char *traffic, *changes, *truth;
    size_t tlen, clen, jlen;
    line_t *l;
    size_t n;
    json_t *tj;
} run_t;

/* The index of User id among o's Users, -1 if none. */
static int user_index(const sim_opts_t *o, const char *id)
{
    char want[SIM_ID_LEN];
    for (int i = 0; i < o->n_users; i++) {
        sim_user_id(o, i, want);
        if (!strcmp(want, id))
            return i;
    }
    return -1;
}

/* One line of traffic; 0 when it is not a well-formed sample. */
static int parse_line(const sim_opts_t *o, const char *p, size_t len, line_t *l)
{
    char buf[256], id[SIM_ID_LEN], dir[8], field[16];
    int used = 0;
    if (len >= sizeof buf)
        return 0;
    memcpy(buf, p, len);
    buf[len] = '\0';
    if (sscanf(buf, "dsp_traffic,user=%23[^,],dir=%7[^,],class=%15[^ ] count=%" SCNd64 "i,%15[^=]=%" SCNd64 "i%n",
               id, dir, l->cname, &l->count, field, &l->second, &used) != 6)
        return 0;
    const char *rest = buf + used;
    l->backlog = 0;
    if (!strncmp(rest, ",backlog=", 9)) {
        if (sscanf(rest, ",backlog=%" SCNd64 "i%n", &l->backlog, &used) != 1)
            return 0;
        rest += used;
    }
    if (sscanf(rest, " %" SCNd64, &l->ts) != 1)
        return 0;
    l->user = user_index(o, id);
    if (!strcmp(l->cname, "request"))
        l->cls = C_REQUEST;
    else if (!strcmp(l->cname, "response"))
        l->cls = C_RESPONSE;
    else if (!strcmp(l->cname, "alert"))
        l->cls = C_ALERT;
    else {
        l->cls = -1;
        for (int j = 0; j < o->alert_codes; j++) {
            char c[SIM_CLASS_LEN];
            sim_alert_code(o, l->user, j, c);
            if (!strcmp(c, l->cname))
                l->cls = C_ALERT + j;
        }
    }
    return l->user >= 0 && l->cls >= 0;
}

/* Writes o's three documents into r and parses them; the caller frees r
 * with run_free(). */
static void run(const sim_opts_t *o, run_t *r)
{
    memset(r, 0, sizeof *r);
    FILE *tf = open_memstream(&r->traffic, &r->tlen), *cf = open_memstream(&r->changes, &r->clen);
    FILE *jf = open_memstream(&r->truth, &r->jlen);
    assert_non_null(tf);
    assert_non_null(cf);
    assert_non_null(jf);
    assert_int_equal(sim_write(o, tf, cf, jf), 0);
    fclose(tf);
    fclose(cf);
    fclose(jf);
    size_t cap = 1024;
    r->l = malloc(cap * sizeof *r->l);
    assert_non_null(r->l);
    for (char *p = r->traffic, *end = r->traffic + r->tlen; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (r->n == cap) {
            cap *= 2;
            r->l = realloc(r->l, cap * sizeof *r->l);
            assert_non_null(r->l);
        }
        if (*p != '#' && parse_line(o, p, len, &r->l[r->n]))
            r->n++;
        p += len + 1;
    }
    json_error_t err;
    r->tj = json_loadb(r->truth, r->jlen, 0, &err);
    if (!r->tj)
        fail_msg("truth is not JSON: %s (line %d)", err.text, err.line);
}

static void run_free(run_t *r)
{
    free(r->traffic);
    free(r->changes);
    free(r->truth);
    free(r->l);
    json_decref(r->tj);
}

/* Sum and number of field `what` (0 count, 1 second) of User u's class cls
 * over samples stamped in [from, to) (ns from the start of the run). */
static double sum_of(const sim_opts_t *o, const run_t *r, int u, int cls, int64_t from, int64_t to, int *n)
{
    double sum = 0;
    int k = 0;
    for (size_t i = 0; i < r->n; i++) {
        const line_t *l = &r->l[i];
        int64_t at = l->ts - o->start_ns;
        if (l->user == u && l->cls == cls && at >= from && at < to) {
            sum += (double)l->count;
            k++;
        }
    }
    if (n)
        *n = k;
    return sum;
}

static double mean_of(const sim_opts_t *o, const run_t *r, int u, int cls, int64_t from, int64_t to)
{
    int n;
    double s = sum_of(o, r, u, cls, from, to, &n);
    assert_true(n > 0);
    return s / n;
}

/* The ns since the epoch of an RFC 3339 "...Z" time of the truth. */
static int64_t truth_time(const char *s)
{
    struct tm tm = { 0 };
    assert_non_null(s);
    assert_non_null(strptime(s, "%Y-%m-%dT%H:%M:%S", &tm));
    return (int64_t)timegm(&tm) * S;
}

static const char *truth_str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Checks incident i of the truth: alert kind, User, direction, onset. */
static json_t *check_incident(const sim_opts_t *o, const run_t *r, size_t i, const char *alert, int user,
                              const char *dir, int64_t at)
{
    json_t *inc = json_array_get(json_object_get(r->tj, "incidents"), i);
    char id[SIM_ID_LEN];
    assert_non_null(inc);
    sim_user_id(o, user, id);
    assert_string_equal(truth_str(inc, "alert"), alert);
    assert_string_equal(truth_str(inc, "user"), id);
    assert_string_equal(truth_str(inc, "dir"), dir);
    assert_true(truth_time(truth_str(inc, "onset")) == sim_sample_time(o, at));
    return inc;
}

/* The lines of User u, in order, concatenated (to compare runs). */
static char *user_lines(const sim_opts_t *o, const run_t *r, int u)
{
    char id[SIM_ID_LEN + 8];
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    sim_user_id(o, u, id + 5);
    memcpy(id, "user=", 5);
    for (char *p = r->traffic, *end = r->traffic + r->tlen; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (nl ? (size_t)(nl - p) : (size_t)(end - p)) + 1;
        char *hit = memmem(p, n, id, strlen(id));
        if (hit && hit[strlen(id)] == ',') {
            while (len + n + 1 > cap) {
                cap *= 2;
                out = realloc(out, cap);
                assert_non_null(out);
            }
            memcpy(out + len, p, n);
            len += n;
        }
        p += n;
    }
    out[len] = '\0';
    return out;
}

static void sim_quiet(sim_opts_t *o)
{
    sim_opts_defaults(o);
    o->dispersion = 0;
}

/* ---- the determinism contract ------------------------------------------ */

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* The options that existed before the newer shapes give the bytes they
 * always gave (tests elsewhere compare alert lines of simulated runs):
 * `simulate --users 30 --hours 3 --interval 10 --order id --bursts 5
 * --dispersion 0.1 --incident blocked:3:1h:10m:declared --incident
 * feed-gap:-:2h:3m --quirks`, hashed before the shapes came. */
static void test_old_options_same_bytes(void **state)
{
    (void)state;
    sim_incident_t inc[] = {
        { .kind = SIM_BLOCKED, .user = 3, .at = HOUR, .duration = 10 * MIN, .declare = SIM_DECLARED,
          .declare_shift = -10 * MIN },
        { .kind = SIM_FEED_GAP, .at = 2 * HOUR, .duration = 3 * MIN, .declare_shift = -10 * MIN },
    };
    sim_opts_t o;
    sim_opts_defaults(&o);
    o.n_users = 30;
    o.interval_ns = 10 * S;
    o.order = SIM_ORDER_ID;
    o.n_bursts = 5;
    o.dispersion = 0.1;
    o.incidents = inc;
    o.n_incidents = 2;
    o.n_duplicates = 24;
    o.n_swaps = 12;
    o.n_malformed = 6;
    run_t r;
    run(&o, &r);
    assert_int_equal(r.tlen, 11071387);
    assert_true(fnv1a(r.traffic, r.tlen) == UINT64_C(0xd94e1caccbe84bb7));
    assert_true(fnv1a(r.changes, r.clen) == UINT64_C(0x9feb501b057a5ceb));
    assert_true(fnv1a(r.truth, r.jlen) == UINT64_C(0x53f7b6e778860d74));
    run_free(&r);
}

static const sim_cadence_t many_cadences[] = {
    { 1 * S, 1 }, { 10 * S, 1 }, { 30 * S, 1 }, { 60 * S, 1 }, { 300 * S, 1 }, { 900 * S, 1 },
};

/* Every newer shape at once, twice: the same bytes. */
static void test_same_options_same_bytes(void **state)
{
    (void)state;
    sim_incident_t inc[] = {
        { .kind = SIM_RAMP_SOUTH, .user = 1, .at = 2 * HOUR, .duration = 30 * MIN, .exp_rise = 1, .impact = 1 },
        { .kind = SIM_STORM_CODE, .user = 2, .at = 3 * HOUR, .duration = 20 * MIN },
        { .kind = SIM_SHIFT_UP, .user = 3, .at = HOUR, .duration = 2 * HOUR, .declare = SIM_DECLARED },
        { .kind = SIM_SHIFT_DOWN, .user = 4, .at = HOUR, .duration = 2 * HOUR, .dir = SIM_DIR_NORTH },
    };
    sim_opts_t o;
    sim_opts_defaults(&o);
    o.n_users = 16;
    o.duration_ns = 4 * HOUR;
    o.cadences = many_cadences;
    o.n_cadences = 6;
    o.rate_lo = 0.05;
    o.alert_codes = 4;
    o.weekly = 1;
    o.daily_amplitude = 0.3;
    o.daily_batches = 1;
    o.onboarding = 1;
    o.n_bursts = 4;
    o.n_long_bursts = 4;
    o.n_noop_changes = 2;
    o.n_duplicates = o.n_swaps = o.n_malformed = 6;
    o.order = SIM_ORDER_SHUFFLED;
    o.dispersion = 0.1;
    o.incidents = inc;
    o.n_incidents = 4;
    run_t a, b;
    run(&o, &a);
    run(&o, &b);
    assert_true(a.n > 1000);
    assert_int_equal(a.tlen, b.tlen);
    assert_memory_equal(a.traffic, b.traffic, a.tlen);
    assert_int_equal(a.clen, b.clen);
    assert_memory_equal(a.changes, b.changes, a.clen);
    assert_int_equal(a.jlen, b.jlen);
    assert_memory_equal(a.truth, b.truth, a.jlen);
    run_free(&a);
    run_free(&b);
}

/* Each new kind of incident changes the lines of its User and of no other. */
static void test_incident_changes_only_its_user(void **state)
{
    (void)state;
    const sim_incident_t kinds[] = {
        { .kind = SIM_RAMP_SOUTH, .user = 2, .at = HOUR, .duration = 30 * MIN },
        { .kind = SIM_RAMP_NORTH, .user = 2, .at = HOUR, .duration = 30 * MIN, .exp_rise = 1 },
        { .kind = SIM_STORM_CODE, .user = 2, .at = HOUR, .duration = 30 * MIN },
        { .kind = SIM_SHIFT_UP, .user = 2, .at = HOUR, .duration = 90 * MIN },
        { .kind = SIM_SHIFT_DOWN, .user = 2, .at = HOUR, .duration = 90 * MIN, .dir = SIM_DIR_NORTH },
    };
    sim_opts_t o;
    sim_opts_defaults(&o);
    o.n_users = 6;
    o.cadences = many_cadences;
    o.n_cadences = 6;
    o.alert_codes = 3;
    o.dispersion = 0.1;
    run_t base;
    run(&o, &base);
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        run_t with;
        o.incidents = &kinds[k];
        o.n_incidents = 1;
        run(&o, &with);
        for (int u = 0; u < o.n_users; u++) {
            char *a = user_lines(&o, &base, u), *b = user_lines(&o, &with, u);
            if ((strcmp(a, b) != 0) != (u == 2))
                fail_msg("%s: User %d's lines %s", sim_kind_name(kinds[k].kind), u,
                         u == 2 ? "did not change" : "changed");
            free(a);
            free(b);
        }
        run_free(&with);
    }
    run_free(&base);
}

/* ---- mixed cadences ---------------------------------------------------- */

static void test_cadences(void **state)
{
    (void)state;
    sim_opts_t o;
    sim_quiet(&o);
    o.n_users = 24;
    o.duration_ns = 2 * HOUR;
    o.cadences = many_cadences;
    o.n_cadences = 6;
    o.rate_lo = 20;
    run_t r;
    run(&o, &r);
    int used[6] = { 0 }, distinct = 0;
    int64_t last = 0;
    for (size_t i = 0; i < r.n; i++) { /* event-time order across Users */
        assert_true(r.l[i].ts >= last);
        last = r.l[i].ts;
    }
    json_t *cad = json_object_get(r.tj, "cadence_s");
    assert_int_equal(json_integer_value(json_object_get(r.tj, "interval_s")), 1);
    for (int u = 0; u < o.n_users; u++) {
        int64_t c = sim_user_cadence(&o, u), prev = 0;
        int n = 0, k;
        char id[SIM_ID_LEN];
        for (k = 0; k < 6 && many_cadences[k].ns != c; k++)
            ;
        assert_true(k < 6);
        distinct += !used[k]++;
        sim_user_id(&o, u, id);
        assert_int_equal(json_integer_value(json_object_get(cad, id)) * S, c);
        for (size_t i = 0; i < r.n; i++) {
            const line_t *l = &r.l[i];
            if (l->user != u || l->cls != C_REQUEST)
                continue;
            int64_t off = (l->ts - o.start_ns) % c; /* on the User's cadence, plus its offset */
            assert_true(off >= 0 && off < S);
            if (n++)
                assert_int_equal(l->ts - prev, c);
            prev = l->ts;
        }
        assert_int_equal(n, o.duration_ns / c);
        /* counts are the User's rate x its cadence */
        double want = sim_user_rate(&o, u) * (double)c / 1e9;
        assert_near(mean_of(&o, &r, u, C_REQUEST, 0, o.duration_ns) / want, 1, 0.05 + 3 / sqrt(want * n));
    }
    assert_true(distinct >= 5);
    run_free(&r);

    /* weights: a cadence of weight 1000 against 0.001 takes every User */
    sim_cadence_t skew[] = { { S, 0.001 }, { 300 * S, 1000 } };
    o.cadences = skew;
    o.n_cadences = 2;
    for (int u = 0; u < o.n_users; u++)
        assert_int_equal(sim_user_cadence(&o, u), 300 * S);
}

/* Incidents and bursts apply in time: a 45 s burst on a 5-min User adds
 * about 2 x 45/300 of a sample, and a storm of 10 min from mid-interval on
 * a 15-min User weighs by the share it covers. */
static void test_cadences_effects_in_time(void **state)
{
    (void)state;
    sim_cadence_t cad[] = { { S, 1e-9 }, { 300 * S, 1 }, { 900 * S, 1 } }; /* a 1 s grid */
    sim_opts_t o;
    sim_quiet(&o);
    o.n_users = 8;
    o.rate_lo = o.rate_hi = 100;
    o.cadences = cad;
    o.n_cadences = 3;
    int u5 = -1, u15 = -1;
    for (int u = 0; u < o.n_users; u++) {
        if (sim_user_cadence(&o, u) == 300 * S)
            u5 = u;
        else if (sim_user_cadence(&o, u) == 900 * S)
            u15 = u;
    }
    assert_true(u5 >= 0 && u15 >= 0);
    sim_incident_t inc[] = {
        { .kind = SIM_BURST, .user = u5, .at = HOUR + 100 * S, .duration = 45 * S },
        { .kind = SIM_STORM_SOUTH, .user = u15, .at = HOUR + 5 * MIN, .duration = 10 * MIN, .magnitude = 4 },
    };
    run_t base, with;
    run(&o, &base);
    o.incidents = inc;
    o.n_incidents = 2;
    run(&o, &with);
    /* the burst lies within the sample stamped 1h05m: +2 x 45/300 of it */
    double mu5 = 100 * 300.0, mu15 = 100 * 900.0;
    int n;
    double extra = sum_of(&o, &with, u5, C_REQUEST, 0, o.duration_ns, &n) -
                   sum_of(&o, &base, u5, C_REQUEST, 0, o.duration_ns, NULL);
    assert_near(extra / mu5, 2 * 45.0 / 300, 0.02);
    assert_near(mean_of(&o, &with, u5, C_REQUEST, HOUR + 5 * MIN, HOUR + 5 * MIN + S) / mu5, 1.3, 0.02);
    /* the storm covers 10 of the 15 min of the sample at 1h15m: x(1 + 3 x 2/3) */
    assert_near(mean_of(&o, &with, u15, C_REQUEST, HOUR + 15 * MIN, HOUR + 15 * MIN + S) / mu15, 3, 0.05);
    assert_near(mean_of(&o, &with, u15, C_REQUEST, HOUR + 30 * MIN, HOUR + 30 * MIN + S) / mu15, 1, 0.02);
    check_incident(&o, &with, 0, "storm", u15, "south", HOUR + 5 * MIN);
    run_free(&base);
    run_free(&with);
}

/* Users in any order within a timestamp, with mixed cadences: id order
 * and shuffled hold the same lines per timestamp, and only the shuffled
 * order differs from id order. */
static void test_cadences_any_order(void **state)
{
    (void)state;
    sim_opts_t o;
    sim_opts_defaults(&o);
    o.n_users = 20;
    o.duration_ns = HOUR;
    o.cadences = many_cadences;
    o.n_cadences = 4; /* 1 s to 60 s */
    o.order = SIM_ORDER_ID;
    run_t id, sh;
    run(&o, &id);
    o.order = SIM_ORDER_SHUFFLED;
    run(&o, &sh);
    assert_int_equal(id.n, sh.n);
    assert_int_equal(id.tlen, sh.tlen);
    int reordered = 0, up = 0, down = 0; /* shuffled: Users in index order and against it */
    size_t i = 0;
    while (i < id.n) {
        size_t j = i;
        while (j < id.n && id.l[j].ts == id.l[i].ts)
            j++;
        uint64_t want = 0, got = 0; /* the same Users' lines, in any order */
        for (size_t k = i; k < j; k++) {
            assert_true(sh.l[k].ts == id.l[i].ts);
            want += (uint64_t)(id.l[k].user + 1) * 1000003u + (uint64_t)id.l[k].count;
            got += (uint64_t)(sh.l[k].user + 1) * 1000003u + (uint64_t)sh.l[k].count;
            reordered |= sh.l[k].user != id.l[k].user;
            if (k > i && sh.l[k].user != sh.l[k - 1].user)
                *(sh.l[k].user > sh.l[k - 1].user ? &up : &down) += 1;
            if (k > i && id.l[k].user != id.l[k - 1].user) { /* id order: ids ascend */
                char a[SIM_ID_LEN], b[SIM_ID_LEN];
                sim_user_id(&o, id.l[k - 1].user, a);
                sim_user_id(&o, id.l[k].user, b);
                assert_true(strcmp(a, b) < 0);
            }
        }
        assert_true(want == got);
        i = j;
    }
    assert_true(reordered);
    assert_true(up > (up + down) / 3 && down > (up + down) / 3); /* a new order each timestamp */
    run_free(&id);
    run_free(&sh);
}

/* ---- ramps ------------------------------------------------------------- */

/* The multiplier of a ramp x1 -> x mag over rise, t after its onset sample
 * began (at the end of a sample's grid interval). */
static double ramp_at(double mag, double t, double rise, int exp_rise)
{
    double x = t < rise ? t / rise : 1;
    return exp_rise ? pow(mag, x) : 1 + (mag - 1) * x;
}

static void check_ramp(sim_kind_t kind, int exp_rise)
{
    sim_incident_t inc[] = {
        { .kind = kind, .user = 2, .at = HOUR, .duration = 30 * MIN, .rise = 10 * MIN, .exp_rise = exp_rise },
    };
    sim_opts_t o;
    sim_quiet(&o);
    o.n_users = 4;
    o.interval_ns = 10 * S;
    o.rate_lo = o.rate_hi = 300;
    o.incidents = inc;
    o.n_incidents = 1;
    run_t r;
    run(&o, &r);
    int cls = kind == SIM_RAMP_SOUTH ? C_REQUEST : C_ALERT;
    double base = mean_of(&o, &r, 2, cls, 20 * MIN, HOUR);
    double mid = 0;
    for (int64_t t = HOUR; t < HOUR + 30 * MIN; t += o.interval_ns) {
        double want = ramp_at(15, (double)(t - HOUR + o.interval_ns), 10.0 * MIN, exp_rise);
        double got = mean_of(&o, &r, 2, cls, t, t + S) / base;
        if (fabs(got / want - 1) > 0.12)
            fail_msg("%s%s at +%llds: x%.2f, want x%.2f", sim_kind_name(kind), exp_rise ? " exp" : "",
                     (long long)((t - HOUR) / S), got, want);
        if (t == HOUR + 5 * MIN - o.interval_ns)
            mid = got; /* half way up: x8 linear, x3.9 exponential */
    }
    assert_true(exp_rise ? mid > 3.3 && mid < 4.6 : mid > 7 && mid < 9);
    assert_near(mean_of(&o, &r, 2, cls, HOUR + 10 * MIN, HOUR + 30 * MIN) / base, 15, 1); /* holds */
    assert_near(mean_of(&o, &r, 2, cls, HOUR + 35 * MIN, 2 * HOUR) / base, 1, 0.1);     /* over */
    check_incident(&o, &r, 0, "storm", 2, kind == SIM_RAMP_SOUTH ? "south" : "north", HOUR);
    run_free(&r);
}

static void test_ramp_linear(void **state)
{
    (void)state;
    check_ramp(SIM_RAMP_SOUTH, 0);
    check_ramp(SIM_RAMP_NORTH, 0);
}

static void test_ramp_exponential(void **state)
{
    (void)state;
    check_ramp(SIM_RAMP_SOUTH, 1);
    check_ramp(SIM_RAMP_NORTH, 1);
}

/* ---- the weekly rhythm and local time ---------------------------------- */

/* The hour of the day (0-24, UTC) at which the first harmonic of the
 * Users' summed requests over [from, from + 24 h) peaks. */
static double peak_hour(const sim_opts_t *o, const run_t *r, int64_t from)
{
    double re = 0, im = 0;
    for (size_t i = 0; i < r->n; i++) {
        const line_t *l = &r->l[i];
        int64_t at = l->ts - o->start_ns - from;
        if (l->cls != C_REQUEST || at < 0 || at >= 24 * HOUR)
            continue;
        double ph = 2 * M_PI * (double)(at % (24 * HOUR)) / (double)(24 * HOUR);
        re += (double)l->count * cos(ph);
        im += (double)l->count * sin(ph);
    }
    double h = atan2(im, re) / (2 * M_PI) * 24 + (double)((o->start_ns + from) / S % 86400) / 3600;
    return fmod(h + 48, 24);
}

static void test_weekly(void **state)
{
    (void)state;
    sim_opts_t o;
    sim_quiet(&o);
    o.start_ns = INT64_C(1710115200) * S; /* Monday 2024-03-11T00:00:00Z */
    o.duration_ns = 7 * 24 * HOUR;
    o.n_users = 12;
    o.interval_ns = 300 * S;
    o.daily_amplitude = 0.3;
    o.weekly = 1;
    run_t r;
    run(&o, &r);
    for (int u = 0; u < o.n_users; u++) {
        double wed = sum_of(&o, &r, u, C_REQUEST, 2 * 24 * HOUR, 3 * 24 * HOUR, NULL);
        double thu = sum_of(&o, &r, u, C_REQUEST, 3 * 24 * HOUR, 4 * 24 * HOUR, NULL);
        double sat = sum_of(&o, &r, u, C_REQUEST, 5 * 24 * HOUR, 6 * 24 * HOUR, NULL);
        double sun = sum_of(&o, &r, u, C_REQUEST, 6 * 24 * HOUR, 7 * 24 * HOUR, NULL);
        assert_near(thu / wed, 1, 0.03);
        assert_true(sun / wed > 0.48 && sun / wed < 0.72);
        assert_true(sat / wed > 0.48 && sat / wed < 0.75); /* Saturday blends in over its first 2 h */
    }
    double wed_peak = peak_hour(&o, &r, 2 * 24 * HOUR), sun_peak = peak_hour(&o, &r, 6 * 24 * HOUR);
    assert_near(wed_peak, 15, 0.3);
    assert_true(sun_peak - wed_peak > 1.8 && sun_peak - wed_peak < 3.2);
    assert_non_null(strstr(r.truth, "\"what\": \"weekly rhythm"));
    run_free(&r);

    o.weekly = 0; /* without it, Sunday is a weekday */
    run(&o, &r);
    for (int u = 0; u < o.n_users; u++)
        assert_near(sum_of(&o, &r, u, C_REQUEST, 6 * 24 * HOUR, 7 * 24 * HOUR, NULL) /
                        sum_of(&o, &r, u, C_REQUEST, 2 * 24 * HOUR, 3 * 24 * HOUR, NULL), 1, 0.03);
    run_free(&r);
}

/* Sets TZ for the test (NULL: unsets it). */
static void set_tz(const char *tz)
{
    if (tz)
        assert_int_equal(setenv("TZ", tz, 1), 0);
    else
        unsetenv("TZ");
    tzset();
}

/* Across the March clock change in London the daily peak stays at 15:00
 * local: 15:00 UTC on Saturday, 14:00 UTC on Monday. */
static void test_local_time_across_dst(void **state)
{
    (void)state;
    sim_opts_t o;
    sim_quiet(&o);
    o.start_ns = INT64_C(1711756800) * S; /* 2024-03-30T00:00:00Z, a Saturday */
    o.duration_ns = 72 * HOUR;
    o.n_users = 12;
    o.interval_ns = 300 * S;
    o.daily_amplitude = 0.5;
    o.timezone = LONDON_RULE;
    set_tz(NULL);
    assert_int_equal(sim_write(&o, NULL, NULL, NULL), SW_EINVAL); /* TZ must say the same */
    set_tz(LONDON_RULE);
    run_t r;
    run(&o, &r);
    assert_near(peak_hour(&o, &r, 0), 15, 0.25);
    assert_near(peak_hour(&o, &r, 48 * HOUR), 14, 0.25);
    assert_string_equal(truth_str(r.tj, "timezone"), LONDON_RULE);
    json_t *offs = json_object_get(r.tj, "utc_offsets");
    assert_int_equal(json_array_size(offs), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(offs, 0), "offset_s")), 0);
    assert_string_equal(truth_str(json_array_get(offs, 1), "from"), "2024-03-31T01:00:00Z");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(offs, 1), "offset_s")), 3600);
    run_free(&r);

    o.timezone = NULL; /* in UTC the peak does not move */
    run(&o, &r);
    assert_near(peak_hour(&o, &r, 48 * HOUR), 15, 0.25);
    assert_null(json_object_get(r.tj, "timezone"));
    run_free(&r);
    set_tz(NULL);
}

/* ---- alert codes ------------------------------------------------------- */

static void test_alert_codes(void **state)
{
    (void)state;
    sim_opts_t o;
    sim_quiet(&o);
    o.n_users = 10;
    o.duration_ns = 2 * HOUR;
    o.interval_ns = 10 * S;
    o.rate_lo = 100;
    o.alert_codes = 5;
    run_t r;
    run(&o, &r);
    assert_null(strstr(r.traffic, "class=alert count")); /* no undivided alert series */
    json_t *codes = json_object_get(r.tj, "alert_codes");
    double prev = 1, total_share = 0;
    for (int j = 0; j < 5; j++) {
        char c[SIM_CLASS_LEN];
        double share = sim_alert_code(&o, 0, j, c);
        assert_true(share < prev);
        prev = share;
        total_share += share;
    }
    assert_near(total_share, 1, 1e-9);
    assert_true(sim_alert_code(&o, 0, 0, (char[SIM_CLASS_LEN]){ 0 }) > 0.75); /* the first most */
    assert_true(prev <= 0.015);                                                /* the last ~1% */
    for (int u = 0; u < o.n_users; u++) {
        char id[SIM_ID_LEN];
        sim_user_id(&o, u, id);
        double all = 0, per[5];
        for (int j = 0; j < 5; j++)
            all += per[j] = sum_of(&o, &r, u, C_ALERT + j, 0, o.duration_ns, NULL);
        for (int j = 0; j < 5; j++) {
            char c[SIM_CLASS_LEN], other[SIM_CLASS_LEN];
            double share = sim_alert_code(&o, u, j, c);
            assert_int_equal(strlen(c), 10);
            assert_true(strspn(c + 6, "0123456789ABCDEF") == 4);
            for (int m = 0; m < j; m++) {
                sim_alert_code(&o, u, m, other);
                assert_string_not_equal(c, other);
            }
            assert_near(per[j] / all, share, 0.1 * share + 0.002);
            assert_near(json_real_value(json_object_get(json_object_get(codes, id), c)), share, 1e-4);
        }
    }
    /* a function of (seed, User, code) only */
    char before[SIM_CLASS_LEN], after[SIM_CLASS_LEN];
    sim_alert_code(&o, 3, 4, before);
    o.n_users = 50;
    o.alert_codes = 8;
    sim_alert_code(&o, 3, 4, after);
    assert_string_equal(before, after);
    run_free(&r);
}

/* A storm in one small code: x30 there, the User's other codes as usual,
 * and the truth names the code. */
static void test_storm_code(void **state)
{
    (void)state;
    sim_incident_t inc[] = {
        { .kind = SIM_STORM_CODE, .user = 2, .at = HOUR, .duration = 20 * MIN },
        { .kind = SIM_STORM_CODE, .user = 3, .at = HOUR, .duration = 20 * MIN, .magnitude = 5, .code = 1 },
    };
    sim_opts_t o;
    sim_quiet(&o);
    o.n_users = 4;
    o.interval_ns = 10 * S;
    o.rate_lo = 200;
    o.alert_codes = 5;
    o.incidents = inc;
    o.n_incidents = 2;
    run_t r;
    run(&o, &r);
    json_t *i1 = check_incident(&o, &r, 0, "storm", 2, "north", HOUR);
    const char *cls = truth_str(i1, "class");
    assert_non_null(cls);
    int code = -1;
    for (int j = 0; j < 5; j++) {
        char c[SIM_CLASS_LEN];
        double share = sim_alert_code(&o, 2, j, c);
        if (!strcmp(c, cls)) {
            code = j;
            assert_true(share <= 0.05);
        }
    }
    assert_true(code >= 0);
    for (int j = 0; j < 5; j++) {
        double ratio = mean_of(&o, &r, 2, C_ALERT + j, HOUR, HOUR + 20 * MIN) /
                       mean_of(&o, &r, 2, C_ALERT + j, 0, HOUR);
        if (j == code)
            assert_true(ratio > 24 && ratio < 36);
        else
            assert_near(ratio, 1, 0.35);
    }
    char largest[SIM_CLASS_LEN];
    sim_alert_code(&o, 3, 0, largest);
    assert_string_equal(truth_str(check_incident(&o, &r, 1, "storm", 3, "north", HOUR), "class"), largest);
    run_free(&r);
}

/* ---- rates and noise --------------------------------------------------- */

/* 0.05 msg/s sampled every second: mostly zero counts, the right mean, no
 * backlog piling up. */
static void test_tiny_users(void **state)
{
    (void)state;
    sim_opts_t o;
    sim_opts_defaults(&o);
    o.n_users = 10;
    o.duration_ns = 2 * HOUR;
    o.interval_ns = S;
    o.rate_lo = o.rate_hi = 0.05;
    o.dispersion = 0.1;
    run_t r;
    run(&o, &r);
    size_t zeros = 0, n = 0;
    double sum = 0, resp = 0;
    int64_t max_backlog = 0;
    for (size_t i = 0; i < r.n; i++) {
        const line_t *l = &r.l[i];
        assert_true(l->count >= 0 && l->second >= 0 && l->second <= l->count + l->backlog + 4);
        if (l->cls == C_REQUEST) {
            zeros += l->count == 0;
            sum += (double)l->count;
            n++;
        } else if (l->cls == C_RESPONSE) {
            resp += (double)l->count;
        }
        max_backlog = l->backlog > max_backlog ? l->backlog : max_backlog;
    }
    assert_int_equal(n, 10 * 7200);
    assert_true((double)zeros / (double)n > 0.9);
    assert_near(sum / (double)n, 0.05, 0.006);
    assert_true(resp > 0.85 * sum && resp < 1.05 * sum);
    assert_true(max_backlog <= 6);
    run_free(&r);

    /* log-uniform over 0.05-500 msg/s */
    o.rate_lo = 0.05;
    o.rate_hi = 500;
    double lo = 1e9, hi = 0, logsum = 0;
    for (int u = 0; u < 400; u++) {
        double v = sim_user_rate(&o, u);
        assert_true(v >= 0.05 && v <= 500);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        logsum += log10(v);
    }
    assert_true(lo < 0.1 && hi > 250);
    assert_near(logsum / 400, 0.7, 0.2);
}

/* Heavy noise (dispersion 0.1: ~32% CV on large Users), and a sustained
 * moderate flood in it: x5 for 35 min. */
static void test_heavy_noise_and_flood(void **state)
{
    (void)state;
    sim_incident_t inc[] = {
        { .kind = SIM_STORM_SOUTH, .user = 1, .at = HOUR, .duration = 35 * MIN, .magnitude = 5 },
    };
    sim_opts_t o;
    sim_opts_defaults(&o);
    o.n_users = 3;
    o.interval_ns = 10 * S;
    o.rate_lo = o.rate_hi = 300;
    o.dispersion = 0.1;
    o.incidents = inc;
    o.n_incidents = 1;
    run_t r;
    run(&o, &r);
    double m = 0, m2 = 0;
    int n = 0;
    for (size_t i = 0; i < r.n; i++)
        if (r.l[i].user == 0 && r.l[i].cls == C_REQUEST) {
            m += (double)r.l[i].count;
            m2 += (double)r.l[i].count * (double)r.l[i].count;
            n++;
        }
    m /= n;
    double cv = sqrt(m2 / n - m * m) / m;
    assert_true(cv > 0.26 && cv < 0.38);
    double flood = mean_of(&o, &r, 1, C_REQUEST, HOUR, HOUR + 35 * MIN) / mean_of(&o, &r, 1, C_REQUEST, 0, HOUR);
    assert_true(flood > 4.3 && flood < 5.7);
    assert_near(mean_of(&o, &r, 1, C_REQUEST, HOUR + 36 * MIN, 3 * HOUR) / mean_of(&o, &r, 1, C_REQUEST, 0, HOUR), 1,
                0.1);
    /* the accepted third of the extra requests is answered: a response storm */
    double resp = mean_of(&o, &r, 1, C_RESPONSE, HOUR, HOUR + 35 * MIN) /
                  mean_of(&o, &r, 1, C_RESPONSE, 0, HOUR);
    assert_true(resp > 2.0 && resp < 2.8);
    json_t *i1 = check_incident(&o, &r, 0, "storm", 1, "south", HOUR);
    assert_true(truth_time(truth_str(i1, "end")) == o.start_ns + HOUR + 35 * MIN);
    run_free(&r);
}

/* Maintenance silences next to each other that start together share one
 * DCC change (one maintenance over many Users); one starting apart has its
 * own. None is an incident to detect. */
static void test_one_maintenance_many_users(void **state)
{
    (void)state;
    sim_incident_t inc[] = {
        { .kind = SIM_SILENCE_NORTH, .user = 0, .at = HOUR, .duration = 10 * MIN,
          .declare = SIM_MAINTENANCE, .declare_shift = -5 * MIN },
        { .kind = SIM_SILENCE_NORTH, .user = 1, .at = HOUR, .duration = 20 * MIN,
          .declare = SIM_MAINTENANCE, .declare_shift = -5 * MIN },
        { .kind = SIM_SILENCE_NORTH, .user = 2, .at = 2 * HOUR, .duration = 10 * MIN,
          .declare = SIM_MAINTENANCE, .declare_shift = -5 * MIN },
    };
    sim_opts_t o;
    sim_opts_defaults(&o);
    o.n_users = 4;
    o.interval_ns = 10 * S;
    o.duration_ns = 3 * HOUR;
    o.incidents = inc;
    o.n_incidents = 3;
    run_t r;
    run(&o, &r);
    char *changes = strndup(r.changes, r.clen);
    assert_non_null(strstr(changes, "CHG-1001"));
    assert_null(strstr(changes, "CHG-1002")); /* the second shares the first's */
    assert_non_null(strstr(changes, "CHG-1003"));
    /* the shared one lasts until the longer silence has ended */
    char *end = strstr(strstr(changes, "CHG-1001"), "end: ");
    assert_non_null(end);
    int64_t until = 0;
    char stamp[32];
    assert_int_equal(sscanf(end + 5, "%31s", stamp), 1);
    assert_int_equal(tf_parse_rfc3339(stamp, &until), 0);
    assert_true(until >= o.start_ns + HOUR + 20 * MIN);
    assert_int_equal(json_array_size(json_object_get(r.tj, "incidents")), 0);
    free(changes);
    run_free(&r);
}

/* ---- level shifts ------------------------------------------------------ */

static void test_shifts(void **state)
{
    (void)state;
    sim_incident_t inc[] = {
        { .kind = SIM_SHIFT_UP, .user = 1, .at = HOUR, .duration = 3 * HOUR },
        { .kind = SIM_SHIFT_DOWN, .user = 2, .at = 2 * HOUR, .duration = 2 * HOUR, .dir = SIM_DIR_NORTH },
    };
    sim_opts_t o;
    sim_opts_defaults(&o);
    o.n_users = 3;
    o.duration_ns = 5 * HOUR;
    o.interval_ns = 10 * S;
    o.rate_lo = o.rate_hi = 200;
    o.dispersion = 0.05;
    o.incidents = inc;
    o.n_incidents = 2;
    run_t r;
    run(&o, &r);
    /* up, south: the requests x2, and so the responses */
    assert_near(mean_of(&o, &r, 1, C_REQUEST, HOUR, 4 * HOUR) / mean_of(&o, &r, 1, C_REQUEST, 0, HOUR), 2, 0.1);
    assert_near(mean_of(&o, &r, 1, C_RESPONSE, HOUR, 4 * HOUR) / mean_of(&o, &r, 1, C_RESPONSE, 0, HOUR), 2, 0.1);
    assert_near(mean_of(&o, &r, 1, C_REQUEST, 4 * HOUR, 5 * HOUR) / mean_of(&o, &r, 1, C_REQUEST, 0, HOUR), 1, 0.06);
    /* down, north: the alerts x0.5, the requests as they were */
    assert_near(mean_of(&o, &r, 2, C_ALERT, 2 * HOUR, 4 * HOUR) / mean_of(&o, &r, 2, C_ALERT, 0, 2 * HOUR), 0.5,
                0.05);
    assert_near(mean_of(&o, &r, 2, C_REQUEST, 2 * HOUR, 4 * HOUR) / mean_of(&o, &r, 2, C_REQUEST, 0, 2 * HOUR), 1,
                0.06);
    check_incident(&o, &r, 0, "shift", 1, "south", HOUR);
    check_incident(&o, &r, 1, "shift", 2, "north", 2 * HOUR);
    run_free(&r);
}

/* ---- bursts ------------------------------------------------------------ */

/* Long bursts last 30-60 s in time: x3 over that many 1 s samples, and
 * they leave the short bursts' draws as they were. */
static void test_long_bursts(void **state)
{
    (void)state;
    sim_opts_t o;
    sim_quiet(&o);
    o.n_users = 6;
    o.duration_ns = 2 * HOUR;
    o.interval_ns = S;
    o.rate_lo = 50;
    o.n_bursts = 3;
    run_t shorts, both;
    run(&o, &shorts);
    o.n_long_bursts = 4;
    run(&o, &both);
    json_t *d1 = json_object_get(shorts.tj, "decoys"), *d2 = json_object_get(both.tj, "decoys");
    assert_int_equal(json_array_size(d1), 3);
    assert_int_equal(json_array_size(d2), 7);
    for (size_t i = 0; i < 3; i++)
        assert_true(json_equal(json_array_get(d1, i), json_array_get(d2, i)));
    for (size_t i = 3; i < 7; i++) {
        json_t *d = json_array_get(d2, i);
        assert_string_equal(truth_str(d, "what"), "long burst");
        int64_t len = json_integer_value(json_object_get(d, "length_s")) * S;
        assert_true(len >= 30 * S && len <= 60 * S);
        int u = user_index(&o, truth_str(d, "user"));
        int64_t from = truth_time(truth_str(d, "from")) - o.start_ns;
        assert_true(from >= o.learn_ns);
        double base = mean_of(&o, &both, u, C_REQUEST, 0, o.learn_ns);
        int n;
        double in = sum_of(&o, &both, u, C_REQUEST, from, from + len, &n) / n;
        assert_int_equal(n, len / S);
        assert_true(in / base > 2.5 && in / base < 3.5);
        assert_true(mean_of(&o, &both, u, C_REQUEST, from + len, from + len + 60 * S) / base < 1.3);
    }
    run_free(&shorts);
    run_free(&both);

    /* on a 5-min User, a burst is one sample at 1 + 2 x its length / 300 s */
    sim_cadence_t slow[] = { { S, 1e-9 }, { 300 * S, 1 } };
    o.cadences = slow;
    o.n_cadences = 2;
    o.rate_lo = o.rate_hi = 100;
    o.n_bursts = o.n_long_bursts = 0;
    run_t base, with;
    run(&o, &base);
    o.n_long_bursts = 6;
    run(&o, &with);
    int changed = 0;
    assert_int_equal(base.n, with.n);
    for (size_t i = 0; i < base.n; i++)
        changed += base.l[i].cls == C_REQUEST && base.l[i].count != with.l[i].count;
    json_t *dec = json_object_get(with.tj, "decoys");
    assert_int_equal(changed, json_array_size(dec)); /* one sample each */
    for (size_t i = 0; i < json_array_size(dec); i++) {
        json_t *d = json_array_get(dec, i);
        int u = user_index(&o, truth_str(d, "user"));
        int64_t from = truth_time(truth_str(d, "from")) - o.start_ns, c = 300 * S;
        int64_t t = (from + c - 1) / c * c; /* the sample holding it */
        double len = (double)json_integer_value(json_object_get(d, "length_s"));
        assert_near(sum_of(&o, &with, u, C_REQUEST, t, t + S, NULL) / sum_of(&o, &base, u, C_REQUEST, t, t + S, NULL),
                    1 + 2 * len / 300, 0.01);
    }
    run_free(&base);
    run_free(&with);
}

/* ---- the preset -------------------------------------------------------- */

static void test_preset_hidden_mix(void **state)
{
    (void)state;
    sim_opts_t o;
    sim_incident_t inc[SIM_PRESET_MAX];
    sim_opts_defaults(&o);
    assert_int_equal(sim_preset("hidden-mix", &o, inc), 0);
    assert_string_equal(o.timezone, "Europe/London");
    set_tz(o.timezone);
    char *truth = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&truth, &len);
    assert_int_equal(sim_write(&o, NULL, NULL, f), 0);
    fclose(f);
    json_t *tj = json_loadb(truth, len, 0, NULL);
    assert_non_null(tj);
    int64_t start = truth_time(truth_str(tj, "start")), eval = truth_time(truth_str(tj, "eval_from"));
    assert_true(eval - start >= 24 * HOUR); /* a whole day to learn */
    time_t local = (time_t)(start / S);
    struct tm tm;
    localtime_r(&local, &tm);
    assert_int_equal(tm.tm_wday, 5); /* Friday, then the weekend */
    static const struct {
        const char *alert, *dir;
        int has_class;
    } want[] = {
        { "shift", "south", 0 }, { "storm", "south", 0 }, { "storm", "south", 0 }, { "storm", "north", 0 },
        { "blocked_route", "north", 0 }, { "storm", "north", 1 }, { "shift", "north", 0 }, { "silence", "south", 0 },
    };
    json_t *incs = json_object_get(tj, "incidents");
    assert_int_equal(json_array_size(incs), sizeof want / sizeof *want);
    for (size_t i = 0; i < json_array_size(incs); i++) {
        json_t *in = json_array_get(incs, i);
        assert_string_equal(truth_str(in, "alert"), want[i].alert);
        assert_string_equal(truth_str(in, "dir"), want[i].dir);
        assert_int_equal(truth_str(in, "class") != NULL, want[i].has_class);
        assert_true(truth_time(truth_str(in, "onset")) >= eval);
    }
    size_t n_kinds[SIM_KIND_COUNT_] = { 0 };
    for (size_t k = 0; k < o.n_incidents; k++)
        n_kinds[o.incidents[k].kind]++;
    assert_int_equal(n_kinds[SIM_RAMP_SOUTH] + n_kinds[SIM_RAMP_NORTH], 2);
    assert_int_equal(n_kinds[SIM_SHIFT_UP] + n_kinds[SIM_SHIFT_DOWN], 2);
    json_t *offs = json_object_get(tj, "utc_offsets");
    if (access("/usr/share/zoneinfo/Europe/London", R_OK) == 0) { /* with the zone data */
        assert_int_equal(json_array_size(offs), 2);
        assert_string_equal(truth_str(json_array_get(offs, 1), "from"), "2024-10-27T01:00:00Z");
    }
    int64_t cmin = INT64_MAX, cmax = 0;
    for (int u = 0; u < o.n_users; u++) {
        int64_t c = sim_user_cadence(&o, u);
        cmin = c < cmin ? c : cmin;
        cmax = c > cmax ? c : cmax;
    }
    assert_true(cmin == S && cmax == 900 * S);
    /* the traffic: written whole (about 2.9 M lines), without error */
    FILE *null = fopen("/dev/null", "w");
    assert_non_null(null);
    assert_int_equal(sim_write(&o, null, NULL, NULL), 0);
    fclose(null);
    json_decref(tj);
    free(truth);
    set_tz(NULL);
}

/* ---- options ----------------------------------------------------------- */

static void test_validate(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        sim_cadence_t cad[2];
        size_t n_cad;
        double lo, hi;
        int codes;
        sim_incident_t inc;
    } bad[] = {
        { "cadence", { { 0, 1 } }, 1, 0.5, 500, 0, { .kind = SIM_BURST, .duration = S } },
        { "repeats", { { S, 1 }, { S, 2 } }, 2, 0.5, 500, 0, { .kind = SIM_BURST, .duration = S } },
        { "weight", { { S, 0 } }, 1, 0.5, 500, 0, { .kind = SIM_BURST, .duration = S } },
        { "rates", { { 0 } }, 0, 5, 1, 0, { .kind = SIM_BURST, .duration = S } },
        { "alert codes", { { 0 } }, 0, 0.5, 500, 99, { .kind = SIM_BURST, .duration = S } },
        { "needs alert codes", { { 0 } }, 0, 0.5, 500, 0, { .kind = SIM_STORM_CODE, .duration = S } },
        { "multiplier", { { 0 } }, 0, 0.5, 500, 0, { .kind = SIM_SHIFT_UP, .duration = S, .magnitude = 0.5 } },
        { "fraction", { { 0 } }, 0, 0.5, 500, 0, { .kind = SIM_SHIFT_DOWN, .duration = S, .magnitude = 2 } },
        { "direction", { { 0 } }, 0, 0.5, 500, 0, { .kind = SIM_STORM_NORTH, .duration = S, .dir = SIM_DIR_NORTH } },
        { "ramps only", { { 0 } }, 0, 0.5, 500, 0, { .kind = SIM_STORM_NORTH, .duration = S, .rise = S } },
        { "code", { { 0 } }, 0, 0.5, 500, 2, { .kind = SIM_STORM_CODE, .duration = S, .code = 3 } },
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        sim_opts_t o;
        char msg[200] = "";
        sim_opts_defaults(&o);
        o.cadences = bad[k].n_cad ? bad[k].cad : NULL;
        o.n_cadences = bad[k].n_cad;
        o.rate_lo = bad[k].lo;
        o.rate_hi = bad[k].hi;
        o.alert_codes = bad[k].codes;
        o.incidents = &bad[k].inc;
        o.n_incidents = 1;
        assert_int_equal(sim_validate(&o, msg, sizeof msg), SW_EINVAL);
        if (!strstr(msg, bad[k].what))
            fail_msg("case %zu: '%s' does not say '%s'", k, msg, bad[k].what);
        assert_int_equal(sim_write(&o, NULL, NULL, NULL), SW_EINVAL);
    }
    sim_opts_t o;
    sim_opts_defaults(&o);
    o.timezone = "Europe/London";
    set_tz("UTC");
    char msg[200];
    assert_int_equal(sim_validate(&o, msg, sizeof msg), SW_EINVAL);
    assert_non_null(strstr(msg, "set TZ"));
    set_tz(NULL);
    for (int k = 0; k < SIM_KIND_COUNT_; k++) { /* names round-trip */
        sim_kind_t back;
        assert_int_equal(sim_kind_parse(sim_kind_name((sim_kind_t)k), &back), 0);
        assert_int_equal(back, k);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_old_options_same_bytes),
        cmocka_unit_test(test_same_options_same_bytes),
        cmocka_unit_test(test_incident_changes_only_its_user),
        cmocka_unit_test(test_cadences),
        cmocka_unit_test(test_cadences_effects_in_time),
        cmocka_unit_test(test_cadences_any_order),
        cmocka_unit_test(test_ramp_linear),
        cmocka_unit_test(test_ramp_exponential),
        cmocka_unit_test(test_weekly),
        cmocka_unit_test(test_local_time_across_dst),
        cmocka_unit_test(test_alert_codes),
        cmocka_unit_test(test_storm_code),
        cmocka_unit_test(test_tiny_users),
        cmocka_unit_test(test_heavy_noise_and_flood),
        cmocka_unit_test(test_one_maintenance_many_users),
        cmocka_unit_test(test_shifts),
        cmocka_unit_test(test_long_bursts),
        cmocka_unit_test(test_preset_hidden_mix),
        cmocka_unit_test(test_validate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
