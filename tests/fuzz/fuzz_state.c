/*
 * fuzz_state.c - the learned-state decoder, core/state.h.
 *
 * Feeds: the input as the bytes of a state file ("--state FILE"), twice:
 * as it is (so the checksum test itself is fuzzed) and, when its trailer
 * is not already right, with the CRC-32 trailer recomputed (so that the
 * fuzzer reaches the series records behind the checksum). Each goes to
 * state_decode() into one series table, as tests/test_state.c and
 * engine_state_load() provide them (table_for / params_for callbacks, the
 * default detection settings), and then to engine_state_load() of an
 * engine with two shards, the way statefile_load() does.
 *
 * Checks, beyond "no crash" and no leak:
 *   - the result is 0, SW_EPARSE (with a message) or SW_ENOMEM, and a
 *     refused buffer leaves the table untouched (no series, no User:
 *     "state is never half-loaded");
 *   - the engine accepts exactly what state_decode() accepts, with the
 *     same number of series;
 *   - round trip: state_encode() of the decoded table gives back the input
 *     byte for byte when no series was repeated (else a buffer that decodes
 *     again to as many series);
 *   - the loaded baselines are usable: a few minutes of samples of the
 *     first saved series (its user, direction and class, escaped as line
 *     protocol) go through the seeded engine, then engine_finish(); values
 *     the decoder lets in must not break the detectors (UBSan).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "fuzz_crc.h"
#include "err.h"
#include "params.h"
#include "series.h"
#include "state.h"

#define HEADER_LEN (8 + 4 + 4 + 8 + 8)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static detect_params_t defaults;

static void fail(const char *what, const char *err)
{
    fprintf(stderr, "fuzz_state: %s%s%s\n", what, err ? ": " : "", err ? err : "");
    abort();
}

static series_table_t *one_table(void *ctx, const char *user, size_t len)
{
    (void)user;
    (void)len;
    return ctx;
}

static const detect_params_t *params_for(void *ctx, const char *user, size_t len)
{
    (void)ctx;
    (void)user;
    (void)len;
    return &defaults;
}

static void ignore_alert(void *ctx, const alert_t *a)
{
    (void)ctx;
    (void)a;
}

static uint64_t le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Appends the bytes as a line-protocol tag value (escaping , = space \). */
static size_t put_escaped(char *dst, const uint8_t *src, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i] == ',' || src[i] == '=' || src[i] == ' ' || src[i] == '\\')
            dst[j++] = '\\';
        dst[j++] = (char)src[i];
    }
    return j;
}

/* Samples of the first series of a decoded buffer through the engine. */
static void feed_first_series(engine_t *e, const uint8_t *buf, size_t len)
{
    const uint8_t *p = buf + HEADER_LEN, *end = buf + len - 4;
    char user[2 * LP_MAX_ID + 1], cls[2 * LP_MAX_ID + 1];
    size_t ulen, clen;
    int dir;
    if (end - p < 2 || (ulen = (size_t)le(p, 2)) > LP_MAX_ID || (size_t)(end - p) < 2 + ulen + 3)
        return; /* no series: nothing to feed */
    ulen = put_escaped(user, p + 2, ulen);
    p += 2 + le(p, 2);
    dir = p[0];
    clen = (size_t)le(p + 1, 2);
    if (clen > LP_MAX_ID || (size_t)(end - p) < 3 + clen)
        return;
    clen = put_escaped(cls, p + 3, clen);
    const int64_t t0 = INT64_C(1568246400) * SW_NS_PER_S; /* 2019-09-12T00:00:00Z */
    char line[512];
    for (int i = 0; i < 48; i++) {
        long count = i < 36 ? 50 + i % 5 : i < 42 ? 5000 : 0; /* normal, a flood, silence */
        int n = snprintf(line, sizeof(line),
                         "dsp_traffic,user=%.*s,dir=%s,class=%.*s count=%ldi,delivered=%ldi,"
                         "backlog=%di %" PRId64,
                         (int)ulen, user, dir ? "north" : "south", (int)clen, cls, count, count,
                         i % 4, t0 + (int64_t)i * 5 * SW_NS_PER_S);
        engine_feed_line(e, line, (size_t)n);
    }
    engine_finish(e);
}

static void one(const uint8_t *buf, size_t len)
{
    char err[256] = "";
    series_table_t *t = st_create();
    if (!t)
        fail("st_create failed", NULL);
    int rc = state_decode(one_table, buf, len, params_for, t, err, sizeof(err));
    if (rc != 0) {
        if (rc != SW_EPARSE && rc != SW_ENOMEM)
            fail("unexpected error code", err);
        if (rc == SW_EPARSE && err[0] == '\0')
            fail("refused without a message", NULL);
        if (st_nseries(t) != 0 || st_nusers(t) != 0)
            fail("refused state half-loaded", err);
    }
    size_t nseries = st_nseries(t);
    if (rc == 0) {
        uint64_t count = le(buf + 24, 8);
        unsigned char *out;
        size_t outlen;
        if (state_encode(&t, 1, &out, &outlen) != 0)
            fail("state_encode failed", NULL);
        if (nseries == count) {
            if (outlen != len || memcmp(out, buf, len) != 0)
                fail("decode then encode does not give the same bytes", NULL);
        } else {
            series_table_t *t2 = st_create();
            if (state_decode(one_table, out, outlen, params_for, t2, err, sizeof(err)) != 0 ||
                st_nseries(t2) != nseries)
                fail("re-encoded state does not decode to the same series", err);
            st_destroy(t2);
        }
        free(out);
    }
    st_destroy(t);

    engine_opts_t o = { .nshards = 2, .emit = ignore_alert };
    ingest_params_defaults(&o.ingest);
    corr_params_defaults(&o.corr);
    engine_t *e = engine_create(&o, NULL);
    if (!e)
        fail("engine_create failed", NULL);
    int erc = engine_state_load(e, buf, len, err, sizeof(err));
    if (erc != rc || (rc == 0 && engine_nseries(e) != nseries))
        fail("engine_state_load and state_decode disagree", err);
    if (rc == 0)
        feed_first_series(e, buf, len);
    engine_destroy(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        detect_params_defaults(&defaults);
        init = 1;
    }
    fuzz_with_crc(data, size, one);
    return 0;
}
