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
#include <sys/stat.h>

#include "changes_yaml.h"
#include "config.h"
#include "engine.h"
#include "err.h"
#include "fileio.h"
#include "input.h"
#include "monotime.h"
#include "regcheck.h"
#include "report.h"
#include "statefile.h"
#include "timefmt.h"

#define BAD_SHOWN 10          /* bad lines reported in full; the rest are counted */
#define BAD_EXCERPT 120       /* bytes of a bad line shown */
#define PROGRESS_EVERY_S 5.0  /* seconds between progress lines */
#define LP_SCRATCH (64 * 1024) /* unescaping room for one line, as the router has */

static const char usage[] =
    "usage: stormwatch replay [--config FILE] [--changes FILE] [--change-checks FILE]\n"
    "                         [--state FILE] [--quiet]\n"
    "                         [--report FILE.html] [--summary FILE.md] [--with-alerts FILE]\n"
    "                         [--from TIME] [--to TIME] [--user ID] [--explain ID] INPUT...\n"
    "\n"
    "Replays recorded DSP traffic (line protocol; '-' is standard input, a name\n"
    "ending in .gz is decompressed) through the detectors in event time, as fast\n"
    "as the machine allows, and writes alert lines (JSON Lines) to standard output.\n"
    "Bad lines, progress and a summary go to standard error.\n"
    "\n"
    "  -c, --config FILE    detection settings (YAML); built-in defaults otherwise\n"
    "  -C, --changes FILE   declared changes (YAML change register) to correlate with;\n"
    "                       its warnings (unknown keys, conflicts) go to standard error\n"
    "  -k, --change-checks FILE  write a verdict on every declared change to FILE\n"
    "                       (JSON Lines: as_declared, deviated or unverifiable); with\n"
    "                       --with-alerts, read the verdicts from FILE for the report\n"
    "  -s, --state FILE     load learned baselines from FILE first (when it exists)\n"
    "                       and save them there at the end, atomically\n"
    "  -q, --quiet          no progress or summary, only bad-line reports\n"
    "  -e, --explain ID     for User ID, a line per sample and series to standard error:\n"
    "                       what was expected, the evidence, and each detector's\n"
    "                       verdict (why an alert fired, or did not)\n"
    "\n"
    "Post-incident report (reads the INPUT files a second time, so not '-'):\n"
    "  -r, --report FILE    write a self-contained HTML report: timeline, a chart per\n"
    "                       incident, the system view and a summary\n"
    "  -m, --summary FILE   write a Markdown summary of the incidents, for tickets\n"
    "  -a, --with-alerts FILE  take the alerts from FILE (alert lines, e.g. the daemon's\n"
    "                       --alerts file) instead of detecting them again; nothing\n"
    "                       is written to standard output\n"
    "      --from TIME      report only incidents still going at TIME (RFC 3339) ...\n"
    "      --to TIME        ... or starting by TIME\n"
    "      --user ID        report only this User's incidents\n"
    "  -h, --help           this help\n"
    "\n"
    "Exit status: 0 when it ran (with or without alerts), 1 on a read or write\n"
    "error, 2 on bad usage, configuration, change register or state file.\n";

typedef struct {
    FILE *out;
    int write_failed;
    FILE *checks;          /* change checks (--change-checks); NULL: none */
    int checks_failed;
    char *buf;
    size_t cap;
    report_t *report;      /* also takes every alert line, when reporting */
    int report_failed;
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
    if (s->report && report_add_alert_json(s->report, s->buf, n, NULL, 0) < 0)
        s->report_failed = 1;
}

static void emit_check(void *ctx, const change_check_t *c)
{
    sink_t *s = ctx;
    char line[4096];
    size_t n = change_check_format_json(c, line, sizeof(line));
    if (n >= sizeof(line)) { /* long ids and titles: never cut a line */
        char *big = malloc(n + 1);
        if (big)
            change_check_format_json(c, big, n + 1);
        if (!big || (s->checks && fwrite(big, 1, n, s->checks) != n))
            s->checks_failed = 1;
        if (big && s->report && report_add_check_json(s->report, big, n, NULL, 0) < 0)
            s->report_failed = 1;
        free(big);
        return;
    }
    if (s->checks && fwrite(line, 1, n, s->checks) != n)
        s->checks_failed = 1;
    if (s->report && report_add_check_json(s->report, line, n, NULL, 0) < 0)
        s->report_failed = 1;
}

static const detect_params_t *detect_for(void *ctx, const char *user, size_t len)
{
    return cfg_detect_for(ctx, user, len);
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

/* Opens an input, or says why not (NULL). */
static reader_t *open_input(const char *path)
{
    reader_t *r = reader_open(path);
    if (!r)
        fprintf(stderr, "stormwatch replay: %s: %s\n", path, strerror(errno));
    return r;
}

/* Closes an input after reader_next() returned rc: 0, or SW_EIO after a
 * read error (reported). */
static int close_input(reader_t *r, const char *path, int rc)
{
    int status = SW_OK;
    if (rc < 0) {
        fprintf(stderr, "stormwatch replay: %s: line %" PRIu64 ": read error: %s\n", path,
                reader_lineno(r) + 1, reader_error(r));
        status = SW_EIO;
    }
    reader_close(r);
    return status;
}

static int replay_file(engine_t *e, const char *path, run_t *run)
{
    reader_t *r = open_input(path);
    if (!r)
        return SW_EOPEN;
    const char *line;
    size_t len;
    int rc;
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
            double t = sw_mono_s();
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
    return close_input(r, path, rc);
}

/* What the command line asked for. */
typedef struct {
    const char *config, *changes, *state;
    const char *checks;       /* --change-checks */
    const char *explain;      /* explain this User's judgements (--explain) */
    const char *report, *summary, *with_alerts;
    report_filter_t filter;
    char **inputs;
    int ninputs;
} args_t;

static int parse_time(const char *opt, const char *s, int64_t *ns)
{
    if (tf_parse_rfc3339(s, ns) == 0)
        return SW_OK;
    fprintf(stderr, "stormwatch replay: --%s %s: want an RFC 3339 time such as "
                    "2019-09-12T09:00:00Z\n", opt, s);
    return SW_EINVAL;
}

/* Parses the command line: SW_OK, PARSED_HELP after --help, or SW_EINVAL
 * on bad usage (reported). */
#define PARSED_HELP 1
static int parse_args(int argc, char **argv, args_t *a, run_t *run)
{
    enum { OPT_FROM = 256, OPT_TO, OPT_USER };
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "changes", required_argument, NULL, 'C' },
        { "change-checks", required_argument, NULL, 'k' },
        { "state", required_argument, NULL, 's' },
        { "quiet", no_argument, NULL, 'q' },
        { "explain", required_argument, NULL, 'e' },
        { "report", required_argument, NULL, 'r' },
        { "summary", required_argument, NULL, 'm' },
        { "with-alerts", required_argument, NULL, 'a' },
        { "from", required_argument, NULL, OPT_FROM },
        { "to", required_argument, NULL, OPT_TO },
        { "user", required_argument, NULL, OPT_USER },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    *a = (args_t){ .filter = { .from = INT64_MIN, .to = INT64_MAX } };
    int c, filtered = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:C:k:s:qe:r:m:a:h", opts, NULL)) != -1) {
        switch (c) {
        case 's': a->state = optarg; break;
        case 'c': a->config = optarg; break;
        case 'C': a->changes = optarg; break;
        case 'k': a->checks = optarg; break;
        case 'q': run->quiet = 1; break;
        case 'e': a->explain = optarg; break;
        case 'r': a->report = optarg; break;
        case 'm': a->summary = optarg; break;
        case 'a': a->with_alerts = optarg; break;
        case OPT_FROM:
            if (parse_time("from", optarg, &a->filter.from) < 0)
                return SW_EINVAL;
            filtered = 1;
            break;
        case OPT_TO:
            if (parse_time("to", optarg, &a->filter.to) < 0)
                return SW_EINVAL;
            filtered = 1;
            break;
        case OPT_USER: a->filter.user = optarg; filtered = 1; break;
        case 'h': fputs(usage, stdout); return PARSED_HELP;
        default: fputs(usage, stderr); return SW_EINVAL;
        }
    }
    a->inputs = argv + optind;
    a->ninputs = argc - optind;
    const char *why = NULL;
    int reporting = a->report || a->summary;
    if (a->ninputs <= 0)
        why = "no INPUT given";
    else if (!reporting && (a->with_alerts || filtered))
        why = "--with-alerts, --from, --to and --user shape a report: add --report or --summary";
    else if (a->with_alerts && a->state)
        why = "--state has no use with --with-alerts (nothing is learned)";
    else if (a->filter.from > a->filter.to)
        why = "--from is after --to";
    for (int i = 0; !why && reporting && i < a->ninputs; i++)
        if (!strcmp(a->inputs[i], "-"))
            why = "a report reads its INPUT twice: give files, not '-'";
    if (why) {
        fprintf(stderr, "stormwatch replay: %s\n%s", why, usage);
        return SW_EINVAL;
    }
    return SW_OK;
}

/* Runs detection over every input, alert lines to standard output. */
static int detect(const args_t *a, const cfg_t *cfg, const changes_t *reg, report_t *rep,
                  run_t *run)
{
    char err[512];
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
    sink_t sink = { .out = stdout, .report = rep };
    if (a->checks && !(sink.checks = fopen(a->checks, "w"))) {
        fprintf(stderr, "stormwatch replay: --change-checks: %s: %s\n", a->checks,
                strerror(errno));
        return SW_EOPEN;
    }
    engine_opts_t eo = {
        .ingest = cfg->ingest, .corr = cfg->corr, .local_time = cfg_local_time(cfg),
        .detect_for = detect_for, .detect_ctx = (void *)cfg,
        .emit = emit_jsonl, .emit_ctx = &sink,
        .check = a->checks || rep ? emit_check : NULL,
        /* southbound levels feed change checks and forecasts only */
        .no_south_summaries = !changes_count(reg) && !changes_forecast_count(reg),
        .explain_user = a->explain, .explain = a->explain ? stderr : NULL,
    };
    engine_t *e = engine_create(&eo, reg);
    if (!e) {
        fprintf(stderr, "stormwatch replay: out of memory\n");
        if (sink.checks)
            fclose(sink.checks);
        return SW_ENOMEM;
    }
    if (a->state) {
        /* strict: a person runs replay and reads its answer, and exit 2
         * is documented; there is no restart loop to break here */
        int rc = statefile_load(a->state, e, STATEFILE_STRICT, err, sizeof(err));
        if (rc < 0) {
            fprintf(stderr, "stormwatch replay: state refused: %s\n", err);
            engine_destroy(e);
            if (sink.checks)
                fclose(sink.checks);
            return rc; /* SW_EPARSE or SW_EOPEN (exit 2), or SW_ENOMEM */
        }
        if (!run->quiet)
            fprintf(stderr,
                    rc == STATEFILE_MISSING ? "replay: %s: no state yet, learning from scratch\n"
                                            : "replay: %s: learned state loaded\n",
                    a->state);
    }

    run->t0 = sw_mono_s();
    run->next_progress = run->t0 + PROGRESS_EVERY_S;
    int status = SW_OK;
    for (int i = 0; i < a->ninputs && status == SW_OK; i++)
        status = replay_file(e, a->inputs[i], run);
    engine_finish(e);
    if (fflush(stdout) != 0 || sink.write_failed) {
        fprintf(stderr, "stormwatch replay: writing alerts: %s\n", strerror(errno));
        status = SW_EIO;
    }
    if (sink.checks && (fclose(sink.checks) != 0 || sink.checks_failed)) {
        fprintf(stderr, "stormwatch replay: --change-checks: writing %s failed\n", a->checks);
        status = SW_EIO;
    }
    sink.checks = NULL;
    if (sink.report_failed) {
        fprintf(stderr, "stormwatch replay: out of memory collecting alerts for the report\n");
        status = SW_ENOMEM;
    }
    double elapsed = sw_mono_s() - run->t0;
    if (a->state && statefile_save(a->state, e, err, sizeof(err)) < 0) {
        fprintf(stderr, "stormwatch replay: saving state: %s\n", err);
        status = SW_EIO;
    }

    const engine_stats_t *st = engine_stats(e);
    if (st->bad > BAD_SHOWN)
        fprintf(stderr, "stormwatch replay: %" PRIu64 " more bad lines not shown\n",
                st->bad - BAD_SHOWN);
    char evictions[160] = "";
    if (st->evicted || st->refused)
        snprintf(evictions, sizeof(evictions),
                 "replay: feed.max_series reached: %" PRIu64 " series evicted, %" PRIu64
                 " samples of new series refused\n", st->evicted, st->refused);
    if (!run->quiet) {
        fprintf(stderr,
                "replay: %" PRIu64 " lines, %" PRIu64 " samples, %" PRIu64 " bad, %" PRIu64
                " duplicates, %" PRIu64 " late, %" PRIu64 " far ahead, %" PRIu64
                " other measurements, %zu series, %zu users\n"
                "%s"
                "replay: %" PRIu64 " alerts (%" PRIu64 " firing, %" PRIu64 " resolved), "
                "%zu changes; %.3f s, %.2f M samples/s\n",
                st->lines, st->samples, st->bad, st->duplicates, st->late, st->ahead, st->skipped,
                engine_nseries(e), engine_nusers(e), evictions, st->firing + st->resolved, st->firing,
                st->resolved, changes_count(reg), elapsed,
                elapsed > 0 ? st->samples / elapsed / 1e6 : 0.0);
    }
    free(sink.buf);
    engine_destroy(e);
    return status;
}

/* A warning about the change register: its line, on standard error. */
static void warn_register(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "stormwatch replay: warning: %s\n", msg);
}

/* A kind of JSON line the report takes from a file. */
typedef struct {
    const char *what; /* "an alert line" */
    int (*add)(report_t *r, const char *line, size_t len, char *err, size_t errlen);
} line_kind_t;

/* Reads lines of kind k from `path` into the report; bad lines are
 * reported and skipped. */
static int read_lines(report_t *rep, const char *path, const line_kind_t *k)
{
    reader_t *r = open_input(path);
    if (!r)
        return SW_EOPEN;
    const char *line;
    size_t len;
    int rc;
    uint64_t bad = 0;
    char err[256];
    while ((rc = reader_next(r, &line, &len)) > 0) {
        if (len && (rc == 2 || k->add(rep, line, len, err, sizeof(err)) < 0) &&
            ++bad <= BAD_SHOWN)
            fprintf(stderr, "%s:%" PRIu64 ": not %s: %s\n", path, reader_lineno(r), k->what,
                    rc == 2 ? "too long" : err);
    }
    if (bad > BAD_SHOWN)
        fprintf(stderr, "stormwatch replay: %s: %" PRIu64 " more bad lines not shown\n", path,
                bad - BAD_SHOWN);
    return close_input(r, path, rc);
}

static const line_kind_t alert_lines = { "an alert line", report_add_alert_json };
static const line_kind_t check_lines = { "a change-check line", report_add_check_json };

/* The report's second pass: every sample of every input into the charts. */
static int report_pass(report_t *rep, const args_t *a, const cfg_t *cfg, run_t *run)
{
    char *scratch = malloc(LP_SCRATCH);
    if (!scratch) {
        fprintf(stderr, "stormwatch replay: out of memory\n");
        return SW_ENOMEM;
    }
    int status = SW_OK;
    double t0 = sw_mono_s(), next = t0 + PROGRESS_EVERY_S;
    for (int i = 0; i < a->ninputs && status == SW_OK; i++) {
        reader_t *r = open_input(a->inputs[i]);
        if (!r) {
            status = SW_EOPEN;
            break;
        }
        const char *line;
        size_t len;
        int rc;
        uint64_t n = 0;
        while ((rc = reader_next(r, &line, &len)) > 0) {
            lp_sample_t smp;
            if (rc == 1 && lp_parse(line, len, cfg->ingest.ts_mult, &smp, scratch, LP_SCRATCH) ==
                               LP_OK)
                report_add_sample(rep, &smp);
            if (!run->quiet && (++n & 0xffff) == 0 && sw_mono_s() >= next) {
                uint64_t size = reader_file_size(r);
                fprintf(stderr, "report: %s: %.1f M lines", a->inputs[i], n / 1e6);
                if (size)
                    fprintf(stderr, ", %.0f%%", 100.0 * reader_file_pos(r) / size);
                fputc('\n', stderr);
                next = sw_mono_s() + PROGRESS_EVERY_S;
            }
        }
        status = close_input(r, a->inputs[i], rc);
    }
    free(scratch);
    return status;
}

/* Renders into memory, then replaces `path` atomically. */
static int write_out(const char *path, const report_t *rep, const report_meta_t *meta,
                     int (*render)(const report_t *, FILE *, const report_meta_t *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        fprintf(stderr, "stormwatch replay: %s: %s\n", path, strerror(errno));
        return SW_ENOMEM;
    }
    int bad = render(rep, f, meta);
    if (fclose(f) != 0 || bad < 0) {
        fprintf(stderr, "stormwatch replay: %s: out of memory rendering\n", path);
        free(buf);
        return SW_ENOMEM;
    }
    int rc = fio_replace(path, buf, len);
    mode_t mask = umask(0);
    umask(mask);
    if (rc == 0) /* a report is for sharing: the usual mode, not the temporary file's 0600 */
        rc = chmod(path, 0666 & ~mask);
    if (rc < 0)
        fprintf(stderr, "stormwatch replay: %s: %s\n", path, strerror(errno));
    free(buf);
    return rc < 0 ? SW_EIO : SW_OK;
}

static int make_report(report_t *rep, const args_t *a, const cfg_t *cfg, run_t *run)
{
    int n = report_prepare(rep);
    if (n < 0) {
        fprintf(stderr, "stormwatch replay: out of memory preparing the report\n");
        return SW_ENOMEM;
    }
    int status = report_pass(rep, a, cfg, run);
    if (status)
        return status;
    report_meta_t meta = {
        .inputs = (const char *const *)a->inputs, .ninputs = (size_t)a->ninputs,
        .alerts_source = a->with_alerts ? a->with_alerts : "detected in this replay",
        .changes_source = a->changes,
    };
    if (a->report && (status = write_out(a->report, rep, &meta, report_write_html)))
        return status;
    if (a->summary && (status = write_out(a->summary, rep, &meta, report_write_markdown)))
        return status;
    if (!run->quiet)
        fprintf(stderr, "replay: report of %d incident%s written%s%s%s%s\n", n,
                n == 1 ? "" : "s", a->report ? " to " : "", a->report ? a->report : "",
                a->summary ? ", summary to " : "", a->summary ? a->summary : "");
    return SW_OK;
}

int replay_main(int argc, char **argv)
{
    args_t a;
    run_t run = { 0 };
    int rc = parse_args(argc, argv, &a, &run);
    if (rc)
        return rc == PARSED_HELP ? SW_EXIT_OK : sw_exit_status(rc);

    char err[512];
    cfg_t cfg;
    cfg_defaults(&cfg);
    if (a.config && (rc = cfg_load(a.config, &cfg, err, sizeof(err))) < 0) {
        fprintf(stderr, "stormwatch replay: %s\n", err);
        return sw_exit_status(rc == SW_ENOMEM ? rc : SW_ECONFIG);
    }
    cfg_apply_timezone(&cfg);
    changes_t *reg = changes_create();
    report_t *rep = NULL;
    int status = SW_OK;
    if (!reg) {
        fprintf(stderr, "stormwatch replay: out of memory\n");
        status = SW_ENOMEM;
    } else if (a.changes && (rc = changes_load_yaml_ex(a.changes, reg, warn_register, NULL, err,
                                                       sizeof(err))) < 0) {
        fprintf(stderr, "stormwatch replay: %s\n", err);
        status = rc == SW_ENOMEM ? rc : SW_ECONFIG; /* a register that cannot be used */
    } else if (a.changes && regcheck_conflicts(reg, a.changes, NULL, NULL, warn_register,
                                               NULL) < 0) {
        status = SW_ENOMEM;
    } else if ((a.report || a.summary) &&
               !(rep = report_create(&a.filter, reg, &cfg.detect))) {
        fprintf(stderr, "stormwatch replay: out of memory\n");
        status = SW_ENOMEM;
    }
    if (!status)
        status = a.with_alerts ? read_lines(rep, a.with_alerts, &alert_lines)
                               : detect(&a, &cfg, reg, rep, &run);
    if (!status && a.with_alerts && a.checks)
        status = read_lines(rep, a.checks, &check_lines);
    if (!status && rep)
        status = make_report(rep, &a, &cfg, &run);
    report_destroy(rep);
    changes_destroy(reg);
    cfg_free(&cfg);
    return sw_exit_status(status);
}
