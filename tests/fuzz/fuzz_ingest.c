/*
 * fuzz_ingest.c - a whole ZeroMQ message through ingest and detection:
 * core/engine.h (router, shards, alert stage), no sockets.
 *
 * Feeds: the input as the payload of one received message. The daemon's
 * splitting (feed_message() in adapters/daemon/daemon.c) is a static function, so
 * its contract is replicated here, not shared: the message is cut at every
 * '\n'; each piece, without its '\n' and without copying (the line points
 * into the message), is one line for the router (router_feed_line(), here
 * engine_feed_line()); a '\r' stays on the line (lp_parse() drops it); a
 * final '\n' ends the last line and adds no empty one; an empty message
 * has no line; "\n\n" is two empty lines. The message itself is a heap
 * block of exactly its size. The records run through the engine, so the
 * shards and the alert stage see them, and engine_finish() ends each input,
 * as the daemon's ingest thread ends with router_finish().
 *
 * Checks, beyond "no crash" and no leak:
 *   - a differential of the pipeline's layout: the same message through an
 *     engine with 1 shard and one with 3 shards must give the same alert
 *     lines in the same order (alerts.h: "one shard or many give the same
 *     lines");
 *   - the counters add up after engine_finish(): lines as split; the
 *     results sum to the lines; bad and skipped match their results; every
 *     LP_OK line is a sample, a duplicate, late, ahead (feed.max_jump),
 *     refused (feed.max_series) or out of memory (FUZZ_INGEST_STATS=1 prints
 *     the counters);
 *   - every alert is well-formed (known kind and direction, a user and a
 *     class, formats as one JSON line) and resolved never outnumbers firing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "engine.h"
#include "params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    char *buf;
    size_t len, cap;
    uint64_t n;
} lines_t;

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_ingest: %s\n", what);
    abort();
}

static void collect(void *ctx, const alert_t *a)
{
    lines_t *out = ctx;
    if ((unsigned)a->kind >= ALERT_NKINDS || a->dir < DIR_SOUTH || a->dir > DIR_BOTH ||
        !a->user || !a->cls || (a->firing != 0 && a->firing != 1))
        fail("malformed alert");
    char line[8192];
    size_t n = alert_format_json(a, line, sizeof(line));
    if (n == 0 || n >= sizeof(line) || line[n - 1] != '\n' || memchr(line, '\n', n - 1))
        fail("alert does not format as one JSON line");
    if (out->len + n + 1 > out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 4096;
        while (cap < out->len + n + 1)
            cap *= 2;
        char *b = realloc(out->buf, cap);
        if (!b)
            abort();
        out->buf = b;
        out->cap = cap;
    }
    memcpy(out->buf + out->len, line, n + 1);
    out->len += n;
    out->n++;
}

/* The daemon's feed_message() contract, line by line into the engine. */
static uint64_t feed_message(engine_t *e, const char *data, size_t len)
{
    const char *p = data, *end = data + len;
    uint64_t n = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        engine_feed_line(e, p, l);
        n++;
        p += l + 1;
    }
    return n;
}

static void run(const char *msg, size_t len, unsigned nshards, lines_t *out)
{
    engine_opts_t o = { .nshards = nshards, .emit = collect, .emit_ctx = out };
    ingest_params_defaults(&o.ingest);
    corr_params_defaults(&o.corr);
    engine_t *e = engine_create(&o, NULL);
    if (!e)
        fail("engine_create failed");
    uint64_t lines = feed_message(e, msg, len);
    engine_finish(e);

    const engine_stats_t *st = engine_stats(e);
    if (getenv("FUZZ_INGEST_STATS"))
        fprintf(stderr,
                "%u shard(s): lines %llu ok %llu samples %llu duplicates %llu late %llu "
                "ahead %llu refused %llu nomem %llu bad %llu skipped %llu idle_zeroes %llu "
                "firing %llu resolved %llu\n",
                nshards, (unsigned long long)st->lines, (unsigned long long)st->by_result[LP_OK],
                (unsigned long long)st->samples, (unsigned long long)st->duplicates,
                (unsigned long long)st->late, (unsigned long long)st->ahead,
                (unsigned long long)st->refused, (unsigned long long)st->nomem,
                (unsigned long long)st->bad, (unsigned long long)st->skipped,
                (unsigned long long)st->idle_zeroes, (unsigned long long)st->firing,
                (unsigned long long)st->resolved);
    uint64_t sum = 0, bad = 0;
    for (int r = 0; r < LP_NRESULTS; r++) {
        sum += st->by_result[r];
        if (lp_result_is_bad((lp_result_t)r))
            bad += st->by_result[r];
    }
    if (st->lines != lines || sum != lines)
        fail("lines counted differ from lines split");
    if (st->bad != bad || st->skipped != st->by_result[LP_SKIP_MEASUREMENT])
        fail("bad or skipped counters disagree with the results");
    if (st->by_result[LP_OK] !=
        st->samples + st->duplicates + st->late + st->ahead + st->refused + st->nomem)
        fail("an LP_OK line is not a sample, a duplicate, late, ahead, refused or out of memory");
    if (st->resolved > st->firing || st->firing + st->resolved != out->n)
        fail("alert counters disagree with the alerts emitted");
    engine_destroy(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *msg = malloc(size ? size : 1);
    if (!msg)
        abort();
    memcpy(msg, data, size);
    lines_t one = { 0 }, three = { 0 };
    run(msg, size, 1, &one);
    run(msg, size, 3, &three);
    if (one.len != three.len || (one.len && memcmp(one.buf, three.buf, one.len) != 0)) {
        fprintf(stderr, "1 shard:\n%.*s3 shards:\n%.*s", (int)one.len, one.buf ? one.buf : "",
                (int)three.len, three.buf ? three.buf : "");
        fail("1 shard and 3 shards give different alerts");
    }
    free(one.buf);
    free(three.buf);
    free(msg);
    return 0;
}
