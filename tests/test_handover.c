/*
 * test_handover.c - Users moving between instances, as Kafka moves their
 * partitions: a User's state blob (state.c) round trip and its damage
 * refused; a partition handed over cleanly in the middle of a storm; and
 * an instance killed after a checkpoint, its Users taken over from the
 * last states it published. In each case the two instances' alert lines
 * together are exactly those of one instance that read everything: no
 * incident missed, none doubled, samples read twice dropped as duplicates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "engine.h"
#include "err.h"
#include "state.h"

#define S INT64_C(1000000000)
#define T0 (INT64_C(1568264400) * S) /* 2019-09-12T05:00:00Z */
#define STORM (30 * 60 * S)           /* B's south requests x5 for 5 min */
#define BLOCKED (45 * 60 * S)         /* B's deliveries stop for 4 min */
#define END (60 * 60 * S)
#define SRC_A 1                       /* partition 0 */
#define SRC_B 2                       /* partition 1 */

/* ---- traffic ------------------------------------------------------------ */

typedef struct {
    unsigned src;
    int64_t ts;
    char text[200];
} line_t;

typedef struct {
    line_t *v;
    size_t n, cap;
    uint64_t rng;
} traffic_t;

static long noisy(traffic_t *t, double mean)
{
    t->rng = t->rng * 6364136223846793005ULL + 1442695040888963407ULL;
    double u = (double)(t->rng >> 11) / (double)(1ULL << 53);
    return (long)(mean * (0.85 + 0.3 * u) + 0.5);
}

static void add(traffic_t *t, unsigned src, int64_t ts, const char *fmt, ...)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 4096;
        t->v = realloc(t->v, t->cap * sizeof(*t->v));
        assert_non_null(t->v);
    }
    line_t *l = &t->v[t->n++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->text, sizeof(l->text), fmt, ap);
    va_end(ap);
    l->src = src;
    l->ts = ts;
}

/* One interval of a User: south requests, north responses with deliveries
 * (a fraction `deliver` of what was queued) and the backlog. */
static void tick(traffic_t *t, unsigned src, const char *user, int64_t ts, double south,
                 double deliver, double *backlog)
{
    long q = noisy(t, 40), d = (long)(q * deliver);
    if (deliver >= 1)
        *backlog = 0;
    *backlog += (double)(q - d);
    add(t, src, ts, "dsp_traffic,user=%s,dir=south,class=request count=%ldi %" PRId64, user,
        noisy(t, south), ts);
    add(t, src, ts,
        "dsp_traffic,user=%s,dir=north,class=response count=%ldi,delivered=%ldi,backlog=%.0fi "
        "%" PRId64, user, q, d, *backlog, ts);
}

/* An hour of A (steady) and B (a storm, then a blocked route), every 5 s. */
static traffic_t *traffic(void)
{
    traffic_t *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    t->rng = 7;
    double bla = 0, blb = 0;
    for (int64_t at = 0; at < END; at += 5 * S) {
        tick(t, SRC_A, "A", T0 + at, 100, 1, &bla);
        double south = at >= STORM && at < STORM + 5 * 60 * S ? 500 : 50;
        double deliver = at >= BLOCKED && at < BLOCKED + 4 * 60 * S ? 0 : 1;
        tick(t, SRC_B, "B", T0 + at + 1000000, south, deliver, &blb);
    }
    return t;
}

/* ---- an instance -------------------------------------------------------- */

#define MAXBLOBS 8

typedef struct {
    engine_t *e;
    char **lines;             /* alert lines written */
    size_t nlines, cap;
    int adopted, handed_off;  /* alerts that came / went without a line */
    struct { char user[64]; unsigned char *blob; size_t len; } st[MAXBLOBS];
    size_t nst;               /* the latest published state of each User */
    int publishes;
} inst_t;

static void on_alert(void *ctx, const alert_t *a)
{
    inst_t *in = ctx;
    if (in->nlines == in->cap) {
        in->cap = in->cap ? in->cap * 2 : 16;
        in->lines = realloc(in->lines, in->cap * sizeof(char *));
        assert_non_null(in->lines);
    }
    size_t n = alert_format_json(a, NULL, 0);
    in->lines[in->nlines] = malloc(n + 1);
    alert_format_json(a, in->lines[in->nlines++], n + 1);
}

static void on_handover(void *ctx, const alert_t *a, int adopted)
{
    inst_t *in = ctx;
    assert_true(a->firing);
    if (adopted)
        in->adopted++;
    else
        in->handed_off++;
}

/* The state "topic": compacted, the latest blob of each User kept. */
static void on_publish(void *ctx, const char *user, unsigned src, const unsigned char *blob,
                       size_t len)
{
    inst_t *in = ctx;
    assert_true(src == SRC_A || src == SRC_B);
    size_t i = 0;
    while (i < in->nst && strcmp(in->st[i].user, user) != 0)
        i++;
    assert_true(i < MAXBLOBS);
    if (i == in->nst) {
        snprintf(in->st[i].user, sizeof(in->st[i].user), "%s", user);
        in->nst++;
    }
    free(in->st[i].blob);
    in->st[i].blob = malloc(len);
    memcpy(in->st[i].blob, blob, len);
    in->st[i].len = len;
    in->publishes++;
}

static inst_t *inst_new(void)
{
    inst_t *in = calloc(1, sizeof(*in));
    assert_non_null(in);
    engine_opts_t o = { .emit = on_alert, .emit_ctx = in, .handover = on_handover,
                        .publish = on_publish, .publish_ctx = in };
    ingest_params_defaults(&o.ingest);
    corr_params_defaults(&o.corr);
    in->e = engine_create(&o, NULL);
    assert_non_null(in->e);
    return in;
}

static void inst_free(inst_t *in)
{
    engine_destroy(in->e);
    for (size_t i = 0; i < in->nlines; i++)
        free(in->lines[i]);
    for (size_t i = 0; i < in->nst; i++)
        free(in->st[i].blob);
    free(in->lines);
    free(in);
}

/* Feeds the lines [from, to) of the sources in `srcs` (a bit set) with
 * times at or after `since`. */
static void read_lines(inst_t *in, const traffic_t *t, size_t from, size_t to, unsigned srcs,
                       int64_t since)
{
    for (size_t i = from; i < to; i++) {
        const line_t *l = &t->v[i];
        if (!(srcs & (1u << l->src)) || l->ts < since)
            continue;
        engine_set_source(in->e, l->src);
        assert_int_equal(engine_feed_line(in->e, l->text, strlen(l->text)), LP_OK);
    }
}

/* The first line at or after event time ts. */
static size_t line_at(const traffic_t *t, int64_t ts)
{
    size_t i = 0;
    while (i < t->n && t->v[i].ts < ts)
        i++;
    return i;
}

static int by_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of one reference instance reading everything, sorted. */
static inst_t *reference(const traffic_t *t)
{
    inst_t *x = inst_new();
    engine_source_active(x->e, SRC_A, 1);
    engine_source_active(x->e, SRC_B, 1);
    read_lines(x, t, 0, t->n, 1u << SRC_A | 1u << SRC_B, INT64_MIN);
    engine_finish(x->e);
    qsort(x->lines, x->nlines, sizeof(char *), by_text);
    return x;
}

/* The lines of p and q together equal the reference's: nothing missed or doubled. */
static void assert_same_lines(const inst_t *x, const inst_t *p, const inst_t *q)
{
    size_t n = p->nlines + q->nlines;
    char **all = malloc((n ? n : 1) * sizeof(char *));
    memcpy(all, p->lines, p->nlines * sizeof(char *));
    memcpy(all + p->nlines, q->lines, q->nlines * sizeof(char *));
    qsort(all, n, sizeof(char *), by_text);
    for (size_t i = 0; i < n || i < x->nlines; i++) {
        if (i >= n || i >= x->nlines || strcmp(all[i], x->lines[i]) != 0) {
            for (size_t k = 0; k < x->nlines; k++)
                print_message("want %s", x->lines[k]);
            for (size_t k = 0; k < n; k++)
                print_message("got  %s", all[k]);
            fail_msg("line %zu differs", i);
        }
    }
    free(all);
}

static int count(const inst_t *in, const char *what)
{
    int n = 0;
    for (size_t i = 0; i < in->nlines; i++)
        n += strstr(in->lines[i], what) != NULL;
    return n;
}

/* ---- tests -------------------------------------------------------------- */

/* A User handed over mid-storm and straight back gives the same bytes:
 * nothing of its state is lost or changed by the trip. */
static void test_blob_round_trip(void **state)
{
    (void)state;
    traffic_t *t = traffic();
    inst_t *p = inst_new(), *q = inst_new();
    engine_source_active(p->e, SRC_B, 1);
    read_lines(p, t, 0, line_at(t, T0 + STORM + 2 * 60 * S), 1u << SRC_B, INT64_MIN);
    assert_int_equal(count(p, "\"status\":\"firing\",\"alert\":\"storm\""), 1);
    engine_handoff(p->e, SRC_B, 1);
    assert_int_equal(p->nst, 1);
    engine_finish(p->e); /* the alert stage lets the handoff through */
    assert_int_equal(p->handed_off, 1);
    assert_int_equal(count(p, "\"status\":\"resolved\""), 0);

    state_user_t u;
    char err[256];
    assert_int_equal(state_decode_user(p->st[0].blob, p->st[0].len, &u, err, sizeof(err)), 0);
    assert_string_equal(u.user, "B");
    assert_int_equal(u.src, SRC_B);
    assert_int_equal(u.nseries, 2);
    assert_int_equal(u.naggs, 2);
    int storms = 0;
    for (size_t i = 0; i < u.nseries; i++) {
        assert_true(u.series[i].seen);
        assert_true(u.series[i].base.age > 0);
        if (u.series[i].firing) {
            storms++;
            assert_int_equal(u.series[i].dir, DIR_SOUTH);
            assert_true(u.series[i].fire.starts_at >= T0 + STORM);
            assert_true(u.series[i].fire.value > 4 * u.series[i].fire.baseline);
        }
    }
    assert_int_equal(storms, 1);
    state_user_free(&u);

    assert_int_equal(engine_adopt(q->e, p->st[0].blob, p->st[0].len, err, sizeof(err)), 0);
    assert_int_equal(engine_nusers(q->e), 1);
    engine_handoff(q->e, SRC_B, 1);
    assert_int_equal(q->nst, 1);
    assert_int_equal(q->st[0].len, p->st[0].len);
    assert_memory_equal(q->st[0].blob, p->st[0].blob, p->st[0].len);
    assert_int_equal(engine_nusers(q->e), 0);
    engine_finish(q->e);
    assert_int_equal(q->adopted, 1);
    assert_int_equal(q->handed_off, 1);
    assert_int_equal(q->nlines, 0); /* neither the adoption nor the handoff writes a line */
    inst_free(p);
    inst_free(q);
    free(t->v);
    free(t);
}

/* Every truncation and every flipped byte is refused whole, with a reason. */
static void test_damaged_blob_refused(void **state)
{
    (void)state;
    traffic_t *t = traffic();
    inst_t *p = inst_new();
    engine_source_active(p->e, SRC_B, 1);
    read_lines(p, t, 0, line_at(t, T0 + STORM + 2 * 60 * S), 1u << SRC_B, INT64_MIN);
    engine_handoff(p->e, SRC_B, 1);
    const unsigned char *blob = p->st[0].blob;
    size_t len = p->st[0].len;
    unsigned char *bad = malloc(len);
    char err[256];
    state_user_t u;
    for (size_t cut = 0; cut < len; cut++) {
        err[0] = '\0';
        assert_int_equal(state_decode_user(blob, cut, &u, err, sizeof(err)), SW_EPARSE);
        assert_true(err[0] != '\0');
    }
    for (size_t i = 0; i < len; i++) {
        memcpy(bad, blob, len);
        bad[i] ^= 0x5a;
        assert_int_equal(state_decode_user(bad, len, &u, err, sizeof(err)), SW_EPARSE);
    }
    assert_int_equal(state_decode_user(NULL, 0, &u, err, sizeof(err)), SW_EPARSE);
    assert_non_null(strstr(err, "not a stormwatch User state"));
    /* a whole state file is not a User's */
    unsigned char *file;
    size_t flen;
    assert_int_equal(engine_state_save(p->e, &file, &flen), 0);
    assert_int_equal(state_decode_user(file, flen, &u, err, sizeof(err)), SW_EPARSE);
    free(file);
    free(bad);
    inst_free(p);
    free(t->v);
    free(t);
}

/* Makes a blob's checksum (its last 4 bytes) right again after an edit. */
static void recrc(unsigned char *blob, size_t len)
{
    uint32_t crc = (uint32_t)crc32(0L, blob, (uInt)(len - 4));
    for (int i = 0; i < 4; i++)
        blob[len - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
}

/* A copy of the blob B's state is handed over in, two minutes into its
 * storm (the caller frees it), and *u decoded from it. */
static unsigned char *mid_storm_blob(size_t *len, state_user_t *u)
{
    traffic_t *t = traffic();
    inst_t *p = inst_new();
    engine_source_active(p->e, SRC_B, 1);
    read_lines(p, t, 0, line_at(t, T0 + STORM + 2 * 60 * S), 1u << SRC_B, INT64_MIN);
    engine_handoff(p->e, SRC_B, 1);
    *len = p->st[0].len;
    unsigned char *blob = malloc(*len);
    assert_non_null(blob);
    memcpy(blob, p->st[0].blob, *len);
    inst_free(p);
    free(t->v);
    free(t);
    char err[256];
    assert_int_equal(state_decode_user(blob, *len, u, err, sizeof(err)), 0);
    return blob;
}

/* A state whose checksum is right but which holds a time outside the span
 * of sample times (forged, or from a broken writer) is refused with the
 * reason: its differences would overflow in the detectors. */
static void test_forged_time_refused(void **state)
{
    (void)state;
    size_t len;
    state_user_t u;
    unsigned char *bad = mid_storm_blob(&len, &u);
    char err[256];
    int64_t last = u.series[0].last_ts;
    state_user_free(&u);
    /* the series' last sample time, little-endian, made negative */
    unsigned char want[8];
    for (int i = 0; i < 8; i++)
        want[i] = (unsigned char)((uint64_t)last >> (8 * i));
    size_t at = 0;
    while (at + 8 <= len && memcmp(bad + at, want, 8) != 0)
        at++;
    assert_true(at + 8 <= len);
    bad[at + 7] |= 0x80;
    recrc(bad, len);
    err[0] = '\0';
    assert_int_equal(state_decode_user(bad, len, &u, err, sizeof(err)), SW_EPARSE);
    assert_non_null(strstr(err, "time out of range"));
    inst_t *q = inst_new();
    assert_int_equal(engine_adopt(q->e, bad, len, err, sizeof(err)), SW_EPARSE);
    free(bad);
    inst_free(q);
}

/*
 * A direction's learnt share of quiet buckets is a share: 1 loads, more
 * (or NaN) is refused with the reason, however right the checksum. It is
 * found in the blob as the 4 bytes before the gap count, before the
 * direction's "traffic since" time.
 */
static void test_forged_quiet_refused(void **state)
{
    (void)state;
    size_t len;
    state_user_t u;
    unsigned char *bad = mid_storm_blob(&len, &u);
    char err[256];
    int64_t since = u.agg[0].sil.traffic_since;
    state_user_free(&u);
    assert_true(since != INT64_MIN);
    unsigned char want[9] = { 1 };
    for (int i = 0; i < 8; i++)
        want[1 + i] = (unsigned char)((uint64_t)since >> (8 * i));
    size_t at = 0;
    while (at + 9 <= len && memcmp(bad + at, want, 9) != 0)
        at++;
    assert_true(at >= 8 && at + 9 <= len);
    const float shares[] = { 1.0f, 1.5f, NAN };
    for (int k = 0; k < 3; k++) {
        memcpy(bad + at - 8, &shares[k], 4); /* little-endian, as the writer */
        recrc(bad, len);
        err[0] = '\0';
        int rc = state_decode_user(bad, len, &u, err, sizeof(err));
        if (k == 0) {
            assert_int_equal(rc, 0);
            assert_true(u.agg[0].sil.quiet == 1.0f);
            state_user_free(&u);
        } else {
            assert_int_equal(rc, SW_EPARSE);
            assert_non_null(strstr(err, k == 1 ? "quiet share over 1" : "out of range"));
        }
    }
    free(bad);
}

static const detect_params_t *default_params(void *ctx, const char *user, size_t len)
{
    (void)user;
    (void)len;
    return ctx;
}

/*
 * An open bucket's sums are kept as floats: one as large as a float holds
 * loads, one beyond it is refused with the reason, however right the
 * checksum (it would be infinite). The User's table is built by hand with
 * a bucket open (a hand-over comes between event times, when none is);
 * its queued count is found in the blob as its 8 bytes.
 */
static void test_forged_bucket_sum_refused(void **state)
{
    (void)state;
    detect_params_t params;
    detect_params_defaults(&params);
    series_table_t *t = st_create();
    assert_non_null(t);
    int64_t si = st_intern(t, "U", 1, DIR_NORTH, "response", 8, default_params, &params);
    assert_true(si >= 0);
    agg_t *g = st_agg(t, st_series(t, (uint32_t)si)->agg);
    g->dirty = 1;
    g->bucket_ts = T0;
    g->bucket_dt = 10 * S;
    g->obs = g->queued = 12345.5f;
    unsigned char *bad;
    size_t len;
    assert_int_equal(state_encode_user(t, st_series(t, (uint32_t)si)->user, 0, NULL, NULL, &bad,
                                       &len),
                     0);
    st_destroy(t);
    const double queued = 12345.5;
    size_t at = 0; /* obs, then queued */
    while (at + 16 <= len && (memcmp(bad + at, &queued, 8) != 0 || memcmp(bad + at + 8, &queued, 8) != 0))
        at++;
    assert_true(at + 16 <= len);
    at += 8;
    const double sums[] = { FLT_MAX, 1e39, INFINITY };
    char err[256];
    state_user_t u;
    for (int i = 0; i < 3; i++) {
        memcpy(bad + at, &sums[i], 8); /* little-endian, as the writer */
        recrc(bad, len);
        err[0] = '\0';
        int rc = state_decode_user(bad, len, &u, err, sizeof(err));
        if (i == 0) {
            assert_int_equal(rc, 0);
            assert_true(u.agg[0].open);
            assert_true(u.agg[0].queued == FLT_MAX);
            state_user_free(&u);
        } else {
            assert_int_equal(rc, SW_EPARSE);
            assert_non_null(strstr(err, "value out of range"));
        }
    }
    free(bad);
}

/*
 * A handed-over blocked-route window keeps its times as millisecond
 * offsets from its first: its samples' times must not run backwards, and
 * must lie within 24 days of the first (an offset's reach). 24 days on
 * loads, to the millisecond; 25 days on, or a time before the first, is
 * refused with the reason, however right the checksum.
 */
static void test_forged_window_refused(void **state)
{
    (void)state;
    size_t len;
    state_user_t u;
    unsigned char *bad = mid_storm_blob(&len, &u);
    char err[256];
    const win_t *w = NULL;
    for (size_t k = 0; k < u.naggs; k++)
        if (u.agg[k].dir == DIR_NORTH)
            w = &u.agg[k].route.win;
    assert_non_null(w);
    assert_true(w->n >= 2); /* B's samples every 5 s in a window of 10 s */
    int64_t first = win_ts(w, 0);
    state_user_free(&u);
    /* the window in the blob: its count, then its first time */
    unsigned char want[9] = { 0 };
    for (int i = 0; i < 8; i++)
        want[1 + i] = (unsigned char)((uint64_t)first >> (8 * i));
    size_t at = 0;
    while (at + 9 <= len && (bad[at] < 2 || memcmp(bad + at + 1, want + 1, 8) != 0))
        at++;
    assert_true(at + 9 + 24 + 8 <= len);
    size_t second = at + 1 + 8 + 4 * WIN_NV; /* the second sample's time */
    const int64_t day = 86400 * S;
    const int64_t times[] = { first + 24 * day + 7 * S / 1000, first + 25 * day, first - S };
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < 8; i++)
            bad[second + (size_t)i] = (unsigned char)((uint64_t)times[k] >> (8 * i));
        recrc(bad, len);
        err[0] = '\0';
        int rc = state_decode_user(bad, len, &u, err, sizeof(err));
        if (k == 0) {
            assert_int_equal(rc, 0);
            for (size_t g = 0; g < u.naggs; g++)
                if (u.agg[g].dir == DIR_NORTH) {
                    assert_int_equal(win_ts(&u.agg[g].route.win, 0), first);
                    assert_int_equal(win_ts(&u.agg[g].route.win, 1), times[0]);
                }
            state_user_free(&u);
        } else {
            assert_int_equal(rc, SW_EPARSE);
            assert_non_null(strstr(err, k == 1 ? "window too long" : "window out of order"));
        }
    }
    free(bad);
}

/*
 * A clean rebalance in the middle of B's storm: the first instance hands B
 * over (its state published, its storm dropped without a line) and stops at
 * what it processed; the second takes B's state and reads B's partition
 * from a little before that point, as from a committed offset.
 */
static void test_partition_moves_mid_storm(void **state)
{
    (void)state;
    traffic_t *t = traffic();
    inst_t *x = reference(t), *p = inst_new(), *q = inst_new();
    assert_int_equal(count(x, "\"alert\":\"storm\""), 2);
    assert_int_equal(count(x, "\"alert\":\"blocked_route\""), 2);

    size_t move = line_at(t, T0 + STORM + 2 * 60 * S);
    engine_source_active(p->e, SRC_A, 1);
    engine_source_active(p->e, SRC_B, 1);
    read_lines(p, t, 0, move, 1u << SRC_A | 1u << SRC_B, INT64_MIN);
    engine_handoff(p->e, SRC_B, 1);
    int64_t done = engine_done_below(p->e);
    assert_true(done > T0 + STORM && done < T0 + STORM + 2 * 60 * S);
    read_lines(p, t, move, t->n, 1u << SRC_A | 1u << SRC_B, INT64_MIN); /* B's are dropped */
    engine_finish(p->e);
    assert_int_equal(p->handed_off, 1);
    assert_true(engine_stats(p->e)->handed_over > 0);

    char err[256];
    engine_source_active(q->e, SRC_B, 1);
    for (size_t i = 0; i < p->nst; i++)
        assert_int_equal(engine_adopt(q->e, p->st[i].blob, p->st[i].len, err, sizeof(err)), 0);
    read_lines(q, t, 0, t->n, 1u << SRC_B, done - 20 * S);
    engine_finish(q->e);
    assert_int_equal(q->adopted, 1);
    assert_int_equal(engine_stats(q->e)->duplicates, 8); /* 20 s of two series, read twice */

    assert_same_lines(x, p, q);
    /* the storm fired on the first and resolved on the second */
    assert_int_equal(count(p, "\"status\":\"firing\",\"alert\":\"storm\""), 1);
    assert_int_equal(count(q, "\"status\":\"resolved\",\"alert\":\"storm\""), 1);
    assert_int_equal(count(q, "\"status\":\"firing\",\"alert\":\"blocked_route\""), 1);
    inst_free(x);
    inst_free(p);
    inst_free(q);
    free(t->v);
    free(t);
}

/*
 * The same move to an instance that already reads another partition and
 * is ahead of where the first left B: B's first samples there are behind
 * its clock, and are still taken (each User's in order), not late.
 */
static void test_partition_moves_to_a_busy_instance(void **state)
{
    (void)state;
    traffic_t *t = traffic();
    inst_t *x = reference(t), *p = inst_new(), *q = inst_new();
    size_t move = line_at(t, T0 + STORM + 2 * 60 * S);
    engine_source_active(p->e, SRC_B, 1);
    read_lines(p, t, 0, move, 1u << SRC_B, INT64_MIN);
    engine_source_active(q->e, SRC_A, 1);
    read_lines(q, t, 0, move, 1u << SRC_A, INT64_MIN);
    engine_handoff(p->e, SRC_B, 1);
    int64_t done = engine_done_below(p->e);
    engine_finish(p->e);

    char err[256];
    engine_source_assigned(q->e, SRC_B);
    engine_source_active(q->e, SRC_B, 1);
    for (size_t i = 0; i < p->nst; i++)
        assert_int_equal(engine_adopt(q->e, p->st[i].blob, p->st[i].len, err, sizeof(err)), 0);
    read_lines(q, t, 0, move, 1u << SRC_B, done - 20 * S); /* behind q's clock */
    read_lines(q, t, move, t->n, 1u << SRC_A | 1u << SRC_B, INT64_MIN);
    engine_finish(q->e);
    assert_int_equal(engine_stats(q->e)->late, 0);
    assert_same_lines(x, p, q);
    inst_free(x);
    inst_free(p);
    inst_free(q);
    free(t->v);
    free(t);
}

/*
 * The instance is killed: no handoff. Its last checkpoint (every User's
 * state, offsets committed at what it had processed) and the state it
 * published once each transition's line was out are all the survivor has.
 * It reads both partitions from the committed point again.
 */
static void test_killed_instance_taken_over(void **state)
{
    (void)state;
    traffic_t *t = traffic();
    inst_t *x = reference(t), *p = inst_new(), *q = inst_new();
    engine_source_active(p->e, SRC_A, 1);
    engine_source_active(p->e, SRC_B, 1);
    size_t ckpt = line_at(t, T0 + STORM - 5 * 60 * S), kill = line_at(t, T0 + STORM + 3 * 60 * S);
    read_lines(p, t, 0, ckpt, 1u << SRC_A | 1u << SRC_B, INT64_MIN);
    assert_int_equal(engine_publish_all(p->e), 2);
    int64_t committed = engine_done_below(p->e);
    int before = p->publishes;
    read_lines(p, t, ckpt, kill, 1u << SRC_A | 1u << SRC_B, INT64_MIN);
    /* the storm's line is out, and B's state with it */
    assert_int_equal(count(p, "\"status\":\"firing\",\"alert\":\"storm\""), 1);
    assert_int_equal(p->publishes, before + 1);

    char err[256];
    engine_source_active(q->e, SRC_A, 1);
    engine_source_active(q->e, SRC_B, 1);
    for (size_t i = 0; i < p->nst; i++)
        assert_int_equal(engine_adopt(q->e, p->st[i].blob, p->st[i].len, err, sizeof(err)), 0);
    read_lines(q, t, 0, t->n, 1u << SRC_A | 1u << SRC_B, committed);
    engine_finish(q->e);
    assert_int_equal(q->adopted, 1);
    assert_true(engine_stats(q->e)->duplicates > 0); /* B's samples after its last state */

    assert_same_lines(x, p, q);
    assert_int_equal(count(q, "\"status\":\"firing\",\"alert\":\"storm\""), 0);
    assert_int_equal(count(q, "\"status\":\"resolved\",\"alert\":\"storm\""), 1);
    inst_free(x);
    inst_free(p);
    inst_free(q);
    free(t->v);
    free(t);
}

/* Without the state B's storm fires again on the survivor: what the test
 * above guards against. */
static void test_takeover_without_state_doubles(void **state)
{
    (void)state;
    traffic_t *t = traffic();
    inst_t *p = inst_new(), *q = inst_new();
    engine_source_active(p->e, SRC_B, 1);
    size_t kill = line_at(t, T0 + STORM + 3 * 60 * S);
    read_lines(p, t, 0, kill, 1u << SRC_B, INT64_MIN);
    int64_t at = engine_done_below(p->e);
    engine_source_active(q->e, SRC_B, 1);
    read_lines(q, t, 0, t->n, 1u << SRC_B, at - 30 * 60 * S); /* it relearns for 30 min */
    engine_finish(q->e);
    assert_int_equal(count(p, "\"status\":\"firing\",\"alert\":\"storm\"") +
                         count(q, "\"status\":\"firing\",\"alert\":\"storm\""),
                     2);
    inst_free(p);
    inst_free(q);
    free(t->v);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blob_round_trip),
        cmocka_unit_test(test_damaged_blob_refused),
        cmocka_unit_test(test_forged_time_refused),
        cmocka_unit_test(test_forged_quiet_refused),
        cmocka_unit_test(test_forged_window_refused),
        cmocka_unit_test(test_forged_bucket_sum_refused),
        cmocka_unit_test(test_partition_moves_mid_storm),
        cmocka_unit_test(test_partition_moves_to_a_busy_instance),
        cmocka_unit_test(test_killed_instance_taken_over),
        cmocka_unit_test(test_takeover_without_state_doubles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
