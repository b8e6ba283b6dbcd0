/*
 * replay.c - the replay sub-command: reads recordings in event time with
 * the same engine as the daemon, writes alert lines to standard output and
 * reports bad lines, progress and a summary on standard error.
 */
#include "replay.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "changes_yaml.h"
#include "config.h"
#include "engine.h"
#include "err.h"
#include "input.h"
#include "statefile.h"

#define BAD_SHOWN 10          /* bad lines reported in full; the rest are counted */
#define BAD_EXCERPT 120       /* bytes of a bad line shown */
#define PROGRESS_EVERY_S 5.0  /* seconds between progress lines */

static const char usage[] =
    "usage: stormwatch replay [--config FILE] [--changes FILE] [--state FILE] [--quiet] INPUT...\n"
    "\n"
    "Replays recorded DSP traffic (line protocol; '-' is standard input, a name\n"
    "ending in .gz is decompressed) through the detectors in event time, as fast\n"
    "as the machine allows, and writes alert lines (JSON Lines) to standard output.\n"
    "Bad lines, progress and a summary go to standard error.\n"
    "\n"
    "  -c, --config FILE    detection settings (YAML); built-in defaults otherwise\n"
    "  -C, --changes FILE   declared changes (YAML change register) to correlate with\n"
    "  -s, --state FILE     load learned baselines from FILE first (when it exists)\n"
    "                       and save them there at the end, atomically\n"
    "  -q, --quiet          no progress or summary, only bad-line reports\n"
    "  -h, --help           this help\n"
    "\n"
    "Exit status: 0 when it ran (with or without alerts), 1 on a read or write\n"
    "error, 2 on bad usage, configuration, change register or state file.\n";

typedef struct {
    FILE *out;
    int write_failed;
    char *buf;
    size_t cap;
} sink_t;

static void emit_jsonl(void *ctx, const alert_t *a)
{
    sink_t *s = ctx;
    size_t n = alert_format_json(a, s->buf, s->cap);
    if (n >= s->cap) {
        size_t cap = n + 1;
        char *b = realloc(s->buf, cap);
        if (!b) {
            s->write_failed = 1;
            return;
        }
        s->buf = b;
        s->cap = cap;
        n = alert_format_json(a, s->buf, s->cap);
    }
    if (fwrite(s->buf, 1, n, s->out) != n)
        s->write_failed = 1;
}

static const detect_params_t *detect_for(void *ctx, const char *user, size_t len)
{
    return cfg_detect_for(ctx, user, len);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Prints a bad line's excerpt with non-printable bytes escaped. */
static void print_excerpt(const char *line, size_t len)
{
    size_t n = len < BAD_EXCERPT ? len : BAD_EXCERPT;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c >= 0x20 && c < 0x7f)
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    if (len > n)
        fprintf(stderr, "... (%zu bytes)", len);
}

typedef struct {
    uint64_t bad_seen;
    int quiet;
    double t0, next_progress;
} run_t;

static int replay_file(engine_t *e, const char *path, run_t *run)
{
    reader_t *r = reader_open(path);
    if (!r) {
        fprintf(stderr, "stormwatch replay: %s: %s\n", path, strerror(errno));
        return 2;
    }
    const char *line;
    size_t len;
    int rc, status = 0;
    uint64_t n = 0;
    while ((rc = reader_next(r, &line, &len)) > 0) {
        lp_result_t res;
        if (rc == 2) {
            res = LP_BAD_TOO_LONG;
            engine_count_bad(e, res);
        } else {
            res = engine_feed_line(e, line, len);
        }
        if (lp_result_is_bad(res) && ++run->bad_seen <= BAD_SHOWN) {
            fprintf(stderr, "%s:%" PRIu64 ": %s: ", path, reader_lineno(r), lp_result_str(res));
            print_excerpt(line, len);
            fputc('\n', stderr);
        }
        if (!run->quiet && (++n & 0xffff) == 0) {
            double t = now_s();
            if (t >= run->next_progress) {
                uint64_t size = reader_file_size(r);
                const engine_stats_t *st = engine_stats(e);
                fprintf(stderr, "replay: %s: %.1f M lines", path, st->lines / 1e6);
                if (size)
                    fprintf(stderr, ", %.0f%%", 100.0 * reader_file_pos(r) / size);
                fprintf(stderr, ", %.2f M lines/s\n", st->lines / 1e6 / (t - run->t0));
                run->next_progress = t + PROGRESS_EVERY_S;
            }
        }
    }
    if (rc < 0) {
        fprintf(stderr, "stormwatch replay: %s: line %" PRIu64 ": read error: %s\n", path,
                reader_lineno(r) + 1, reader_error(r));
        status = 1;
    }
    reader_close(r);
    return status;
}

int replay_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "changes", required_argument, NULL, 'C' },
        { "state", required_argument, NULL, 's' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = NULL, *changes_path = NULL, *state_path = NULL;
    run_t run = { 0 };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:C:s:qh", opts, NULL)) != -1) {
        switch (c) {
        case 's': state_path = optarg; break;
        case 'c': config_path = optarg; break;
        case 'C': changes_path = optarg; break;
        case 'q': run.quiet = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "stormwatch replay: no INPUT given\n%s", usage);
        return 2;
    }

    char err[512];
    cfg_t cfg;
    cfg_defaults(&cfg);
    if (config_path && cfg_load(config_path, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "stormwatch replay: %s\n", err);
        return 2;
    }
    changes_t *reg = changes_create();
    if (!reg) {
        fprintf(stderr, "stormwatch replay: out of memory\n");
        cfg_free(&cfg);
        return 1;
    }
    if (changes_path && changes_load_yaml(changes_path, reg, err, sizeof(err)) < 0) {
        fprintf(stderr, "stormwatch replay: %s\n", err);
        changes_destroy(reg);
        cfg_free(&cfg);
        return 2;
    }

    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
    sink_t sink = { .out = stdout };
    engine_opts_t eo = {
        .ingest = cfg.ingest, .corr = cfg.corr,
        .detect_for = detect_for, .detect_ctx = &cfg,
        .emit = emit_jsonl, .emit_ctx = &sink,
    };
    engine_t *e = engine_create(&eo, reg);
    if (!e) {
        fprintf(stderr, "stormwatch replay: out of memory\n");
        changes_destroy(reg);
        cfg_free(&cfg);
        return 1;
    }

    if (state_path) {
        int rc = statefile_load(state_path, e, err, sizeof(err));
        if (rc < 0) {
            fprintf(stderr, "stormwatch replay: state refused: %s\n", err);
            engine_destroy(e);
            changes_destroy(reg);
            cfg_free(&cfg);
            return 2;
        }
        if (!run.quiet)
            fprintf(stderr, rc == 1 ? "replay: %s: no state yet, learning from scratch\n"
                                    : "replay: %s: learned state loaded\n", state_path);
    }

    run.t0 = now_s();
    run.next_progress = run.t0 + PROGRESS_EVERY_S;
    int status = 0;
    for (int i = optind; i < argc && status == 0; i++)
        status = replay_file(e, argv[i], &run);
    engine_finish(e);
    if (fflush(stdout) != 0 || sink.write_failed) {
        fprintf(stderr, "stormwatch replay: writing alerts: %s\n", strerror(errno));
        status = 1;
    }
    double elapsed = now_s() - run.t0;
    if (state_path && statefile_save(state_path, e, err, sizeof(err)) < 0) {
        fprintf(stderr, "stormwatch replay: saving state: %s\n", err);
        status = 1;
    }

    const engine_stats_t *st = engine_stats(e);
    if (st->bad > BAD_SHOWN)
        fprintf(stderr, "stormwatch replay: %" PRIu64 " more bad lines not shown\n",
                st->bad - BAD_SHOWN);
    if (!run.quiet) {
        fprintf(stderr,
                "replay: %" PRIu64 " lines, %" PRIu64 " samples, %" PRIu64 " bad, %" PRIu64
                " duplicates, %" PRIu64 " late, %" PRIu64 " other measurements, %zu series, %zu users\n"
                "replay: %" PRIu64 " alerts (%" PRIu64 " firing, %" PRIu64 " resolved), "
                "%zu changes; %.3f s, %.2f M samples/s\n",
                st->lines, st->samples, st->bad, st->duplicates, st->late, st->skipped,
                engine_nseries(e), engine_nusers(e), st->firing + st->resolved, st->firing,
                st->resolved, changes_count(reg), elapsed,
                elapsed > 0 ? st->samples / elapsed / 1e6 : 0.0);
    }
    free(sink.buf);
    engine_destroy(e);
    changes_destroy(reg);
    cfg_free(&cfg);
    return status;
}
