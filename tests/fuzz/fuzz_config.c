/*
 * fuzz_config.c - the configuration loader, config/config.h.
 *
 * Feeds: the input as the YAML file given to cfg_load(). cfg_load() takes
 * a path, so the input is written to one memfd (made once, rewritten for
 * every input) and loaded through /proc/self/fd/N.
 *
 * Checks, beyond "no crash" and no leak (ASan's leak check at exit and
 * after each input under -detect_leaks=1):
 *   - on error: cfg_t left byte for byte untouched, a known error code,
 *     and a message that starts with the path;
 *   - on success: what config.h promises of a loaded cfg_t (run.ingest and
 *     alertmanager counts and NULL-ness, shards, ring_size and log level in
 *     range, durations not negative, ts_mult >= 1, every User override
 *     found by cfg_detect_for()); then a short engine run with the loaded
 *     settings (ingest, correlation, per-User detection) over a few minutes
 *     of samples from a User of the file, so that every setting the loader
 *     accepts is also one the pipeline survives; then cfg_free() twice
 *     (documented as a no-op the second time), leaving no run string set.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "engine.h"
#include "err.h"

static int mfd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    mfd = memfd_create("fuzz_config.yaml", MFD_CLOEXEC);
    if (mfd < 0) {
        perror("memfd_create");
        abort();
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
    return 0;
}

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_config: %s\n", what);
    abort();
}

static const detect_params_t *detect_for(void *ctx, const char *user, size_t len)
{
    return cfg_detect_for(ctx, user, len);
}

static void ignore_alert(void *ctx, const alert_t *a)
{
    (void)ctx;
    (void)a;
}

/* A few minutes of one User's traffic, then a flood, through an engine
 * built from the loaded settings. */
static void run_engine(cfg_t *cfg)
{
    engine_opts_t o = { .ingest = cfg->ingest, .corr = cfg->corr, .nshards = 2,
                        .detect_for = detect_for, .detect_ctx = cfg, .emit = ignore_alert };
    engine_t *e = engine_create(&o, NULL);
    if (!e)
        fail("engine_create failed");
    const char *user = cfg->n_users ? cfg->users[0].user : "A";
    char u[LP_MAX_ID + 1];
    /* ids in a line must be plain and short: else use a stand-in */
    size_t ulen = strlen(user);
    if (ulen == 0 || ulen > LP_MAX_ID || strpbrk(user, " ,=\\\"\n\r\t"))
        user = "A";
    snprintf(u, sizeof(u), "%s", user);
    const int64_t t0 = INT64_C(1568246400) * SW_NS_PER_S; /* 2019-09-12T00:00:00Z */
    char line[256];
    for (int i = 0; i < 60; i++) {
        int64_t ts = (t0 + i * 5 * SW_NS_PER_S) / cfg->ingest.ts_mult;
        long count = i < 50 ? 100 + i % 3 : 2000;
        int n = snprintf(line, sizeof(line),
                         "dsp_traffic,user=%s,dir=%s,class=request count=%ldi,delivered=%ldi,"
                         "backlog=%di %" PRId64,
                         u, i % 2 ? "north" : "south", count, count - 1, i % 7, ts);
        engine_feed_line(e, line, (size_t)n);
    }
    engine_finish(e);
    engine_destroy(e);
}

static void check_loaded(cfg_t *cfg)
{
    const run_cfg_t *r = &cfg->run;
    if (r->n_ingest > CFG_MAX_INGEST || (r->n_ingest == 0) != (r->ingest == NULL))
        fail("run.ingest count out of range or NULL-ness wrong");
    for (size_t i = 0; i < r->n_ingest; i++)
        if (!r->ingest[i])
            fail("NULL run.ingest entry");
    if (r->n_alertmanager > CFG_MAX_INGEST ||
        (r->n_alertmanager == 0) != (r->alertmanager == NULL))
        fail("run.alertmanager count out of range or NULL-ness wrong");
    for (size_t i = 0; i < r->n_alertmanager; i++)
        if (!r->alertmanager[i])
            fail("NULL run.alertmanager entry");
    if (r->shards > CFG_MAX_SHARDS)
        fail("run.shards out of range");
    if (r->ring_size < CFG_MIN_RING_SIZE || r->ring_size > CFG_MAX_RING_SIZE)
        fail("run.ring_size out of range");
    if ((unsigned)r->log_level > CFG_LOG_DEBUG)
        fail("run.log_level out of range");
    if (r->stats_every < 0 || r->state_every < 0)
        fail("negative run duration");
    if (cfg->ingest.ts_mult < 1 || cfg->ingest.lateness < 0 || cfg->ingest.stall_after <= 0 ||
        cfg->ingest.idle_after <= 0)
        fail("ingest setting out of range");
    if ((cfg->n_users == 0) != (cfg->users == NULL))
        fail("users count and NULL-ness disagree");
    for (size_t i = 0; i < cfg->n_users; i++) {
        const char *id = cfg->users[i].user;
        if (!id)
            fail("NULL user id");
        const detect_params_t *p = cfg_detect_for(cfg, id, strlen(id));
        if (p < &cfg->users[0].detect || p > &cfg->users[i].detect)
            fail("cfg_detect_for does not find a User's override");
    }
    if (cfg_detect_for(cfg, NULL, 0) != &cfg->detect)
        fail("cfg_detect_for(NULL) is not the defaults");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ftruncate(mfd, 0) < 0 || (size && pwrite(mfd, data, size, 0) != (ssize_t)size))
        fail("cannot write the memfd");

    cfg_t cfg, before;
    memset(&cfg, 0xa5, sizeof(cfg));
    memcpy(&before, &cfg, sizeof(cfg));
    char err[512];
    int rc = cfg_load(path, &cfg, err, sizeof(err));
    if (rc != 0) {
        if (rc != SW_ECONFIG && rc != SW_ENOMEM && rc != SW_EIO)
            fail("unexpected error code");
        if (memcmp(&cfg, &before, sizeof(cfg)) != 0)
            fail("cfg_t modified by a failed load");
        if (strncmp(err, path, strlen(path)) != 0) {
            fprintf(stderr, "message: %s\n", err);
            fail("error message does not start with the path");
        }
        return 0;
    }
    if (err[0] != '\0')
        fail("message set on success");
    check_loaded(&cfg);
    run_engine(&cfg);
    cfg_free(&cfg);
    cfg_free(&cfg);
    if (cfg.users || cfg.n_users || cfg.run.ingest || cfg.run.n_ingest || cfg.run.alerts ||
        cfg.run.changes_journal || cfg.run.alertmanager || cfg.run.http)
        fail("cfg_free left something set");
    return 0;
}
