/*
 * fuzz_state_user.c - a User's state as it comes back from the Kafka state
 * topic (state_decode_user(), engine_adopt(); core/state.h, core/engine.h).
 *
 * Feeds: the input as one message of the state topic, twice: as it is and,
 * when its CRC-32 trailer is not already right, with the trailer
 * recomputed, so that the fuzzer reaches the records behind the checksum.
 *
 * Checks, beyond "no crash" and no leak:
 *   - state_decode_user() returns 0, SW_EPARSE (with a message) or
 *     SW_ENOMEM, and engine_adopt() of an engine with two shards accepts
 *     exactly what it accepts;
 *   - an adopted User is usable: a few minutes of samples of its first
 *     series (user, direction and class escaped as line protocol) go
 *     through the engine, then engine_finish(); values the decoder lets in
 *     must not break the detectors (UBSan);
 *   - round trip: the adopted User published again (engine_publish_all())
 *     decodes again, to as many series. (States published after detecting
 *     on a forged one are decoded too, but may be refused: a baseline of
 *     1e300 msg/s gives a variance beyond a double.)
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
#include "reorder.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    size_t published, nseries;
    int bad;
    char why[256]; /* why one did not decode */
} republished_t;

static void fail(const char *what, const char *err)
{
    fprintf(stderr, "fuzz_state_user: %s%s%s\n", what, err ? ": " : "", err ? err : "");
    abort();
}

static void ignore_alert(void *ctx, const alert_t *a)
{
    (void)ctx;
    (void)a;
}

/* opts.publish: every state the engine publishes must decode again */
static void republish(void *ctx, const char *user, unsigned src, const unsigned char *blob,
                      size_t len)
{
    (void)user;
    (void)src;
    republished_t *r = ctx;
    state_user_t u;
    if (state_decode_user(blob, len, &u, r->why, sizeof(r->why)) != 0) {
        r->bad = 1;
        return;
    }
    r->published++;
    r->nseries = u.nseries;
    state_user_free(&u);
}

/* Copies an id for line protocol: ',', ' ', '=' and '\' escaped. */
static size_t put_escaped(char *out, const char *in, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == ',' || in[i] == ' ' || in[i] == '=' || in[i] == '\\')
            out[o++] = '\\';
        out[o++] = in[i];
    }
    return o;
}

static void feed_first_series(engine_t *e, const state_user_t *u)
{
    if (!u->nseries)
        return;
    char user[2 * LP_MAX_ID + 1], cls[2 * LP_MAX_ID + 1], line[512];
    size_t ulen = put_escaped(user, u->user, u->ulen);
    size_t clen = put_escaped(cls, u->series[0].cls, u->series[0].clen);
    int64_t t0 = u->series[0].last_ts > 0 ? u->series[0].last_ts : 0;
    engine_set_source(e, u->src);
    for (int i = 1; i <= 48; i++) {
        long count = i < 36 ? 50 + i % 5 : i < 42 ? 5000 : 0; /* normal, a flood, silence */
        int n = snprintf(line, sizeof(line),
                         "dsp_traffic,user=%.*s,dir=%s,class=%.*s count=%ldi,delivered=%ldi,"
                         "backlog=%di %" PRId64,
                         (int)ulen, user, u->series[0].dir ? "north" : "south", (int)clen, cls,
                         count, count, i % 4, t0 + (int64_t)i * 5 * SW_NS_PER_S);
        engine_feed_line(e, line, (size_t)n);
    }
    engine_finish(e);
}

static void one(const uint8_t *buf, size_t len)
{
    char err[256] = "";
    state_user_t u;
    int rc = state_decode_user(buf, len, &u, err, sizeof(err));
    if (rc != 0 && rc != SW_EPARSE && rc != SW_ENOMEM)
        fail("unexpected error code", err);
    if (rc == SW_EPARSE && err[0] == '\0')
        fail("refused without a message", NULL);

    republished_t r = { 0 };
    engine_opts_t o = { .nshards = 2, .emit = ignore_alert, .publish = republish,
                        .publish_ctx = &r };
    ingest_params_defaults(&o.ingest);
    corr_params_defaults(&o.corr);
    engine_t *e = engine_create(&o, NULL);
    if (!e)
        fail("engine_create failed", NULL);
    int arc = engine_adopt(e, buf, len, err, sizeof(err));
    /* a User with no series, or read from no source there is, is refused */
    int want = rc != 0 ? rc : !u.nseries || u.src >= REC_MAX_SOURCES ? SW_EINVAL : 0;
    if (arc != want && arc != SW_ENOMEM && want != SW_ENOMEM)
        fail("engine_adopt and state_decode_user disagree", err);
    if (rc == 0 && arc == 0) {
        engine_publish_all(e); /* only Users of a Kafka source (src > 0) */
        if (r.bad)
            fail("a published state does not decode", r.why);
        if (r.published != (u.src ? 1u : 0u) || (u.src && r.nseries != u.nseries))
            fail("the adopted User is not published back whole", NULL);
        /* what detection makes of values only a forged state holds (a
         * baseline of 1e300 msg/s) may be refused when read back: counted
         * by the next owner, never a crash */
        feed_first_series(e, &u);
    }
    if (rc == 0)
        state_user_free(&u);
    engine_destroy(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_with_crc(data, size, one);
    return 0;
}
