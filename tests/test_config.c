/*
 * test_config.c - loading and validating the YAML configuration (config/config).
 *
 * The documented example config/stormwatch.yaml is found under
 * $SW_SOURCE_DIR (set by ctest), else the current directory. Error messages
 * are pinned exactly; they start with the path of a temporary file, written
 * "FILE" in the tables below.
 *
 * Allocation failures are injected when the test is linked with
 *   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup
 * (the wrappers below then see every allocation of the code under test);
 * without those flags the allocation-failure test is skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "allocfail.h"
#include "testutil.h"

#include "config.h"
#include "daemon.h"
#include "err.h"

/* ---- allocation-failure injection (active only with --wrap) ---- */


/* ---- helpers ---- */

#define S INT64_C(1000000000)

/* Writes `text` to a new temporary file; its path goes to `path` (24 bytes). */
static void write_tmp(char path[24], const char *text, size_t len)
{
    strcpy(path, "/tmp/sw_config_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

/* Loads `yaml` from a temporary file into `cfg`; returns the result. */
static int load_text(const char *yaml, cfg_t *cfg, char *err, size_t errlen, char path[24])
{
    write_tmp(path, yaml, strlen(yaml));
    int rc = cfg_load(path, cfg, err, errlen);
    unlink(path);
    return rc;
}

static void load_ok(const char *yaml, cfg_t *cfg)
{
    char err[512], path[24];
    int rc = load_text(yaml, cfg, err, sizeof(err), path);
    if (rc != 0)
        print_error("cfg_load: %d: %s\n", rc, err);
    assert_int_equal(rc, 0);
    assert_string_equal(err, "");
}

/* Both NULL, or equal strings. */
static void assert_same_string(const char *got, const char *want)
{
    if (want)
        assert_string_equal(got, want);
    else
        assert_null(got);
}

/* Field by field: the padding of a run_cfg_t is not compared. */
static void assert_run_equal(const run_cfg_t *got, const run_cfg_t *want)
{
    assert_int_equal(got->n_ingest, want->n_ingest);
    if (want->n_ingest == 0)
        assert_null(got->ingest);
    for (size_t i = 0; i < want->n_ingest; i++)
        assert_string_equal(got->ingest[i], want->ingest[i]);
    assert_same_string(got->alerts, want->alerts);
    assert_same_string(got->pub, want->pub);
    assert_same_string(got->changes, want->changes);
    assert_same_string(got->state, want->state);
    assert_same_string(got->record, want->record);
    assert_true(got->record_max == want->record_max);
    assert_int_equal(got->record_gzip, want->record_gzip);
    assert_int_equal(got->shards, want->shards);
    assert_int_equal(got->ring_size, want->ring_size);
    assert_int_equal(got->drop_when_full, want->drop_when_full);
    assert_same_string(got->curve.secret_key, want->curve.secret_key);
    assert_same_string(got->curve.public_key, want->curve.public_key);
    assert_same_string(got->curve.allowed_keys, want->curve.allowed_keys);
    assert_true(got->stats_every == want->stats_every);
    assert_true(got->state_every == want->state_every);
    assert_true(got->kafka_checkpoint == want->kafka_checkpoint);
    assert_int_equal(got->log_level, want->log_level);
}

static void assert_defaults(const cfg_t *cfg)
{
    cfg_t def;
    cfg_defaults(&def);
    assert_memory_equal(&cfg->ingest, &def.ingest, sizeof(def.ingest));
    assert_memory_equal(&cfg->detect, &def.detect, sizeof(def.detect));
    assert_memory_equal(&cfg->corr, &def.corr, sizeof(def.corr));
    assert_string_equal(cfg_timezone(cfg), cfg_timezone(&def));
    assert_run_equal(&cfg->run, &def.run);
    assert_int_equal(cfg->n_users, 0);
    assert_null(cfg->users);
}

/* Reads a whole text file under $SW_SOURCE_DIR (or "."); the caller frees it. */
static char *read_source(const char *rel, char *path, size_t pathlen)
{
    const char *dir = getenv("SW_SOURCE_DIR");
    snprintf(path, pathlen, "%s/%s", dir && *dir ? dir : ".", rel);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        print_error("cannot open %s (set SW_SOURCE_DIR to the source root)\n", path);
    assert_non_null(fp);
    char *buf = calloc(1, 1 << 16);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 16) - 1, fp);
    assert_true(n > 0 && n < (1 << 16) - 1);
    fclose(fp);
    return buf;
}

/* ---- the documented example ---- */

static void test_example_is_defaults(void **state)
{
    (void)state;
    char path[1024], err[512] = "x";
    free(read_source("config/stormwatch.yaml", path, sizeof(path)));
    cfg_t cfg;
    memset(&cfg, 0xa5, sizeof(cfg));
    assert_int_equal(cfg_load(path, &cfg, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_defaults(&cfg);
    cfg_free(&cfg);
}

static void test_example_lists_every_key(void **state)
{
    (void)state;
    static const char *const keys[] = {
        "input:", "lateness:", "timestamp_precision:", "feed:", "stall_after:", "idle_after:",
        "max_series:", "max_jump:", "max_line:", "stall_cadences:", "idle_cadences:",
        "scale_tau:", "damp_ratio:", "damp_weight:", "damp_max:", "timezone:", "burst_length:", "window_short:",
        "window_long:", "ratio_sustained:", "z_window:", "onset_ratio:", "clear_window:",
        "false_per_year:", "shift:", "ratio_up:", "ratio_down:", "clear_up:", "clear_down:",
        "min_rate:",
        "baseline:", "tau:", "warmup:", "dispersion:", "detectors:", "storm:", "ratio_fire:",
        "false_per_year:", "min_excess_rate:", "min_excess_count:", "ratio_clear:", "blocked_route:", "window:",
        "delivery_ratio_fire:", "delivery_ratio_clear:", "min_backlog:", "silence:",
        "max_fraction:", "clear_fraction:", "limits:", "south_rate:", "north_rate:",
        "correlation:", "early:", "late:", "proximity:", "min_score:", "incidents:", "grace:",
        "settle:", "widespread_users:", "widespread_window:", "run:", "ingest:",
        "alerts:", "pub:", "changes:", "state:", "record:", "record_max:", "record_gzip:",
        "shards:", "ring_size:", "drop_when_full:", "max_message:", "drain_timeout:", "strict_files:", "stats_every:", "state_every:", "log_level:", "kafka_brokers:", "kafka_topic:", "kafka_group:",
        "kafka_alerts_topic:", "kafka_changes_topic:", "kafka_state_topic:", "kafka_checkpoint:",
        "kafka_properties:",
        "curve:",
        "secret_key:", "public_key:", "allowed_keys:", "users:",
    };
    char path[1024];
    char *text = read_source("config/stormwatch.yaml", path, sizeof(path));
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (!strstr(text, keys[i]))
            print_error("config/stormwatch.yaml does not show %s\n", keys[i]);
        assert_non_null(strstr(text, keys[i]));
    }
    /* for: and hold: in each of the four detectors with a lifecycle. */
    size_t nfor = 0, nhold = 0;
    for (const char *p = text; (p = strstr(p, " for: ")) != NULL; p++)
        nfor++;
    for (const char *p = text; (p = strstr(p, " hold: ")) != NULL; p++)
        nhold++;
    assert_int_equal(nfor, 4);
    assert_int_equal(nhold, 4);
    free(text);
}

/* The commented users: example, uncommented, is a valid override. */
static void test_example_users_block(void **state)
{
    (void)state;
    char path[1024];
    char *text = read_source("config/stormwatch.yaml", path, sizeof(path));
    char *block = strstr(text, "# users:");
    assert_non_null(block);
    /* Drop "# " from the start of every line of the block. */
    char *out = block;
    for (char *in = block; *in;) {
        if (in[0] == '#' && in[1] == ' ')
            in += 2;
        while (*in && *in != '\n')
            *out++ = *in++;
        if (*in)
            *out++ = *in++;
    }
    *out = '\0';
    cfg_t cfg;
    load_ok(text, &cfg);
    free(text);
    assert_int_equal(cfg.n_users, 1);
    const char *id = "90-B3-D5-1F-30-01-00-0A";
    const detect_params_t *d = cfg_detect_for(&cfg, id, strlen(id));
    assert_ptr_equal(d, &cfg.users[0].detect);
    assert_true(d->storm_ratio_fire == 5);
    assert_true(d->limit_south_rate == 200);
    detect_params_t want;
    detect_params_defaults(&want);
    want.storm_ratio_fire = 5;
    want.limit_south_rate = 200;
    assert_memory_equal(d, &want, sizeof(want));
    cfg_free(&cfg);
}

/* The commented run.ingest examples are valid endpoints, comments and all. */
static void test_example_ingest_block(void **state)
{
    (void)state;
    char path[1024], yaml[1024] = "run:\n  ingest:\n";
    char *text = read_source("config/stormwatch.yaml", path, sizeof(path));
    const char *p = strstr(text, "\n  # ingest:\n");
    assert_non_null(p);
    p = strchr(p + 1, '\n') + 1;
    /* Each "  #   - ENDPOINT  # comment" line becomes "    - ENDPOINT  # comment". */
    size_t n = 0;
    for (; strncmp(p, "  #   - ", 8) == 0; n++) {
        const char *eol = strchr(p, '\n');
        assert_non_null(eol);
        size_t len = strlen(yaml);
        snprintf(yaml + len, sizeof(yaml) - len, "    %.*s\n", (int)(eol - p - 4), p + 4);
        p = eol + 1;
    }
    free(text);
    assert_int_equal(n, 3);
    cfg_t cfg;
    load_ok(yaml, &cfg);
    assert_int_equal(cfg.run.n_ingest, 3);
    assert_string_equal(cfg.run.ingest[0], "tcp://127.0.0.1:5557");
    assert_string_equal(cfg.run.ingest[1], "connect:tcp://dsp.example:5557");
    assert_string_equal(cfg.run.ingest[2], "sub:tcp://127.0.0.1:6000#dsp_traffic");
    cfg_free(&cfg);
}

/* ---- loading ---- */

static void test_defaults_and_empty_files(void **state)
{
    (void)state;
    cfg_t cfg;
    cfg_defaults(&cfg);
    assert_defaults(&cfg);
    assert_ptr_equal(cfg_detect_for(&cfg, "U", 1), &cfg.detect);
    cfg_free(&cfg);
    cfg_free(&cfg); /* twice is harmless */
    cfg_free(NULL);

    static const char *const empty[] = {
        "",
        "# only a comment\n",
        "---\n",
        "~\n",
        "input:\nfeed: ~\nbaseline: {}\ndetectors:\n  storm:\nlimits:\ncorrelation:\nusers:\n",
        "users: {}\n",
        "run:\n",
        "run: {ingest: [], curve: {}}\n",
        "run:\n  ingest: ~\n  alerts: ~\n  pub: null\n  changes:\n  state: ~\n  record: ~\n"
        "  curve: {secret_key: ~, public_key: ~, allowed_keys: ~}\n",
    };
    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        memset(&cfg, 0xa5, sizeof(cfg));
        load_ok(empty[i], &cfg);
        assert_defaults(&cfg);
        cfg_free(&cfg);
    }
}

static void test_every_key(void **state)
{
    (void)state;
    cfg_t cfg;
    load_ok("input:\n"
            "  lateness: 1m30s\n"
            "  timestamp_precision: ms\n"
            "feed:\n"
            "  stall_after: 45\n"
            "  stall_cadences: 4\n"
            "  idle_after: 2m\n"
            "  idle_cadences: 2.5\n"
            "  max_series: 5000\n"
            "  max_jump: 2h\n"
            "  max_line: 4KiB\n"
            "baseline:\n"
            "  tau: 1h\n"
            "  warmup: 0s\n"
            "  dispersion: 0.02\n"
            "  daily_tolerance: 10m\n"
            "  daily_weight: 0.25\n"
            "  daily_outlier_weight: 0.1\n"
            "  daily_outlier_ratio: 4\n"
            "  scale_tau: 3h\n"
            "  damp_ratio: 1.7\n"
            "  damp_weight: 0.1\n"
            "  damp_max: 45m\n"
            "  timezone: America/New_York\n"
            "detectors:\n"
            "  storm:\n"
            "    ratio_fire: 4\n"
            "    false_per_year: 8.5\n"
            "    burst_ratio: 2.5\n"
            "    min_excess_rate: 2.5\n"
            "    min_excess_count: 7\n"
            "    ratio_clear: 1.5\n"
            "    for: 10s\n"
            "    hold: 1m\n"
            "    window_short: 90s\n"
            "    burst_length: 45s\n"
            "    window_long: 10m\n"
            "    ratio_sustained: 2.8\n"
            "    z_window: 1.5\n"
            "    onset_ratio: 2.2\n"
            "    clear_window: 20s\n"
            "  blocked_route:\n"
            "    window: 1m\n"
            "    delivery_ratio_fire: 0.2\n"
            "    delivery_ratio_clear: 0.9\n"
            "    min_backlog: 100\n"
            "    for: 15s\n"
            "    hold: 2m\n"
            "  silence:\n"
            "    max_fraction: 0.1\n"
            "    false_per_year: 0.5\n"
            "    clear_fraction: 0.7\n"
            "    clear_window: 1m\n"
            "    for: 20s\n"
            "    hold: 45s\n"
            "  shift:\n"
            "    window: 2h\n"
            "    ratio_up: 2.5\n"
            "    ratio_down: 0.4\n"
            "    clear_up: 1.5\n"
            "    clear_down: 0.6\n"
            "    z: 4\n"
            "    min_rate: 0.5\n"
            "    for: 90m\n"
            "    hold: 20m\n"
            "  blast_radius:\n"
            "    z: 3.5\n"
            "    min_increase: 4\n"
            "limits:\n"
            "  south_rate: 150\n"
            "  north_rate: \"1e3\"\n"
            "correlation:\n"
            "  early: 10m\n"
            "  late: 1h\n"
            "  proximity: 20m\n"
            "  min_score: 0.5\n"
            "incidents:\n"
            "  grace: 2m\n"
            "  settle: 4s\n"
            "  widespread_users: 12\n"
            "  widespread_window: 90s\n"
            "run:\n"
            "  ingest:\n"
            "    - tcp://127.0.0.1:5557\n"
            "    - \"sub:tcp://127.0.0.1:6000#dsp_traffic\"\n"
            "  alerts: /var/log/stormwatch/alerts.jsonl\n"
            "  change_checks: /var/log/stormwatch/checks.jsonl\n"
            "  pub: tcp://*:5560\n"
            "  changes: /etc/stormwatch/changes.yaml\n"
            "  state: /var/lib/stormwatch/state.bin\n"
            "  record: /var/lib/stormwatch/rec/ingest.lp\n"
            "  record_max: 512MiB\n"
            "  record_gzip: true\n"
            "  shards: 4\n"
            "  ring_size: 1024\n"
            "  max_message: 1MiB\n"
            "  drain_timeout: 3s\n"
            "  strict_files: yes\n"
            "  drop_when_full: yes\n"
            "  stats_every: 1m\n"
            "  state_every: 90s\n"
            "  kafka_checkpoint: 3s\n"
            "  kafka_brokers: 127.0.0.1:9092,127.0.0.1:9093\n"
            "  kafka_topic: dsp-traffic\n"
            "  kafka_group: stormwatch-dsp\n"
            "  kafka_alerts_topic: stormwatch-alerts\n"
            "  kafka_changes_topic: stormwatch-changes\n"
            "  kafka_state_topic: stormwatch-state\n"
            "  kafka_properties: [security.protocol=SASL_SSL, sasl.mechanism=SCRAM-SHA-512]\n"
            "  log_level: debug\n"
            "  log_format: json\n"
            "  alertmanager: [http://127.0.0.1:9093, http://127.0.0.1:9094]\n"
            "  alertmanager_queue: /var/lib/stormwatch/am.queue\n"
            "  generator_url: https://sw.example/\n"
            "  http: 127.0.0.1:9110\n"
            "  http_token_file: /etc/stormwatch/token\n"
            "  http_tls_cert: /etc/stormwatch/cert.pem\n"
            "  http_tls_key: /etc/stormwatch/key.pem\n"
            "  changes_journal: /var/lib/stormwatch/changes.journal\n"
            "  curve:\n"
            "    secret_key: keys/server.key\n"
            "    public_key: keys/server.pub\n"
            "    allowed_keys: keys/producers.pub\n",
            &cfg);
    assert_true(cfg.ingest.lateness == 90 * S);
    assert_true(cfg.ingest.ts_mult == 1000000);
    assert_true(cfg.ingest.stall_after == 45 * S);
    assert_true(cfg.ingest.idle_after == 120 * S);
    assert_int_equal(cfg.ingest.max_series, 5000);
    assert_true(cfg.ingest.max_jump == 7200 * S);
    assert_int_equal(cfg.ingest.max_line, 4096);
    const detect_params_t *d = &cfg.detect;
    assert_true(d->base_tau == 3600 * S);
    assert_true(d->base_warmup == 0);
    assert_true(d->base_dispersion == 0.02);
    assert_true(d->daily_tolerance == 600 * S);
    assert_true(d->daily_weight == 0.25);
    assert_true(d->daily_outlier_weight == 0.1);
    assert_true(d->daily_outlier_ratio == 4);
    assert_true(d->storm_ratio_fire == 4);
    assert_true(d->storm_false_per_year == 8.5);
    assert_true(d->storm_burst_ratio == 2.5);
    assert_true(d->storm_min_excess == 2.5);
    assert_true(d->storm_min_count == 7);
    assert_true(d->storm_ratio_clear == 1.5);
    assert_true(d->storm_for == 10 * S);
    assert_true(d->storm_hold == 60 * S);
    assert_true(d->blocked_window == 60 * S);
    assert_true(d->blocked_ratio_fire == 0.2);
    assert_true(d->blocked_ratio_clear == 0.9);
    assert_true(d->blocked_min_backlog == 100);
    assert_true(d->blocked_for == 15 * S);
    assert_true(d->blocked_hold == 120 * S);
    assert_true(d->silence_max_fraction == 0.1);
    assert_true(d->silence_false_per_year == 0.5);
    assert_true(d->silence_clear_window == 60 * S);
    assert_true(d->storm_window_short == 90 * S);
    assert_true(d->storm_burst_length == 45 * S);
    assert_true(d->storm_window_long == 600 * S);
    assert_true(d->storm_ratio_sustained == 2.8);
    assert_true(d->storm_z_window == 1.5);
    assert_true(d->storm_onset_ratio == 2.2);
    assert_true(d->storm_clear_window == 20 * S);
    assert_true(d->base_scale_tau == 3 * 3600 * S);
    assert_true(d->base_damp_ratio == 1.7);
    assert_true(d->base_damp_weight == 0.1);
    assert_true(d->base_damp_max == 45 * 60 * S);
    assert_true(d->shift_window == 2 * 3600 * S);
    assert_true(d->shift_ratio_up == 2.5);
    assert_true(d->shift_ratio_down == 0.4);
    assert_true(d->shift_clear_up == 1.5);
    assert_true(d->shift_clear_down == 0.6);
    assert_true(d->shift_z == 4);
    assert_true(d->shift_min_rate == 0.5);
    assert_true(d->shift_for == 5400 * S);
    assert_true(d->shift_hold == 20 * 60 * S);
    assert_string_equal(cfg.timezone, "America/New_York");
    assert_true(cfg.ingest.stall_cadences == 4);
    assert_true(cfg.ingest.idle_cadences == 2.5);
    assert_true(d->silence_clear_fraction == 0.7);
    assert_true(d->silence_for == 20 * S);
    assert_true(d->silence_hold == 45 * S);
    assert_true(d->blast_z == 3.5);
    assert_true(d->blast_min_increase == 4);
    assert_true(d->limit_south_rate == 150);
    assert_true(d->limit_north_rate == 1000);
    assert_true(cfg.corr.early == 600 * S);
    assert_true(cfg.corr.late == 3600 * S);
    assert_true(cfg.corr.proximity == 1200 * S);
    assert_true(cfg.corr.min_score == 0.5);
    assert_true(cfg.corr.incident_grace == 120 * S);
    assert_true(cfg.corr.incident_settle == 4 * S);
    assert_true(cfg.corr.widespread_users == 12);
    assert_true(cfg.corr.widespread_window == 90 * S);
    const run_cfg_t *r = &cfg.run;
    assert_int_equal(r->n_ingest, 2);
    assert_string_equal(r->ingest[0], "tcp://127.0.0.1:5557");
    assert_string_equal(r->ingest[1], "sub:tcp://127.0.0.1:6000#dsp_traffic");
    assert_string_equal(r->alerts, "/var/log/stormwatch/alerts.jsonl");
    assert_string_equal(r->change_checks, "/var/log/stormwatch/checks.jsonl");
    assert_string_equal(r->pub, "tcp://*:5560");
    assert_string_equal(r->changes, "/etc/stormwatch/changes.yaml");
    assert_string_equal(r->state, "/var/lib/stormwatch/state.bin");
    assert_string_equal(r->record, "/var/lib/stormwatch/rec/ingest.lp");
    assert_true(r->record_max == UINT64_C(512) << 20);
    assert_true(r->record_gzip);
    assert_int_equal(r->shards, 4);
    assert_int_equal(r->ring_size, 1024);
    assert_true(r->drop_when_full);
    assert_true(r->max_message == UINT64_C(1) << 20);
    assert_true(r->drain_timeout == 3 * S);
    assert_true(r->strict_files);
    assert_true(r->stats_every == 60 * S);
    assert_true(r->state_every == 90 * S);
    assert_true(r->kafka_checkpoint == 3 * S);
    assert_string_equal(r->kafka_brokers, "127.0.0.1:9092,127.0.0.1:9093");
    assert_string_equal(r->kafka_topic, "dsp-traffic");
    assert_string_equal(r->kafka_group, "stormwatch-dsp");
    assert_string_equal(r->kafka_alerts_topic, "stormwatch-alerts");
    assert_string_equal(r->kafka_changes_topic, "stormwatch-changes");
    assert_string_equal(r->kafka_state_topic, "stormwatch-state");
    assert_int_equal(r->n_kafka_properties, 2);
    assert_string_equal(r->kafka_properties[1], "sasl.mechanism=SCRAM-SHA-512");
    assert_int_equal(r->log_level, CFG_LOG_DEBUG);
    assert_int_equal(r->log_format, CFG_LOG_JSON);
    assert_int_equal(r->n_alertmanager, 2);
    assert_string_equal(r->alertmanager[1], "http://127.0.0.1:9094");
    assert_string_equal(r->alertmanager_queue, "/var/lib/stormwatch/am.queue");
    assert_string_equal(r->generator_url, "https://sw.example/");
    assert_string_equal(r->http, "127.0.0.1:9110");
    assert_string_equal(r->http_token_file, "/etc/stormwatch/token");
    assert_string_equal(r->http_tls_cert, "/etc/stormwatch/cert.pem");
    assert_string_equal(r->http_tls_key, "/etc/stormwatch/key.pem");
    assert_string_equal(r->changes_journal, "/var/lib/stormwatch/changes.journal");
    assert_string_equal(r->curve.secret_key, "keys/server.key");
    assert_string_equal(r->curve.public_key, "keys/server.pub");
    assert_string_equal(r->curve.allowed_keys, "keys/producers.pub");
    assert_int_equal(cfg.n_users, 0);

    /*
     * Every field of the params structs was set: none still holds its
     * default. A field added to params.h without a key here fails this.
     */
    cfg_t def;
    cfg_defaults(&def);
    const struct {
        const void *got, *def;
        size_t size;
    } parts[] = {
        { &cfg.ingest, &def.ingest, sizeof(def.ingest) },
        { &cfg.detect, &def.detect, sizeof(def.detect) },
        { &cfg.corr, &def.corr, sizeof(def.corr) },
    };
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        assert_int_equal(parts[i].size % 8, 0); /* all fields are 8-byte numbers */
        for (size_t off = 0; off < parts[i].size; off += 8) {
            if (memcmp((const char *)parts[i].got + off, (const char *)parts[i].def + off, 8) == 0)
                print_error("params struct %zu: the field at offset %zu was not set\n", i, off);
            assert_memory_not_equal((const char *)parts[i].got + off,
                                    (const char *)parts[i].def + off, 8);
        }
    }
    /*
     * run_cfg_t mixes types, so its fields are checked one by one above; this
     * catches (on LP64) most fields added to it without a key and a check here.
     */
    if (sizeof(void *) == 8) {
        if (sizeof(run_cfg_t) != 320)
            print_error("run_cfg_t changed size: set its new field above\n");
        assert_int_equal(sizeof(run_cfg_t), 320);
    }
    cfg_free(&cfg);
}

/* The forms each kind of run: value takes, and the edges of its range. */
/*
 * The profiles' time zone: Great Britain's by default, as a rule when the
 * system's database is missing; UTC turns local time off; POSIX rules and
 * database names are taken, anything else is refused by name.
 */
static void test_timezone(void **state)
{
    (void)state;
    cfg_t cfg;
    cfg_defaults(&cfg);
    assert_string_equal(cfg_timezone(&cfg), CFG_DEFAULT_TIMEZONE);
    assert_true(cfg_local_time(&cfg));
    setenv("TZDIR", "/nonexistent", 1);
    assert_string_equal(cfg_timezone(&cfg), CFG_GB_RULE);
    unsetenv("TZDIR");

    load_ok("baseline: {timezone: UTC}\n", &cfg);
    assert_string_equal(cfg_timezone(&cfg), "UTC");
    assert_false(cfg_local_time(&cfg));
    cfg_free(&cfg);
    load_ok("baseline: {timezone: \"CET-1CEST,M3.5.0,M10.5.0/3\"}\n", &cfg);
    assert_string_equal(cfg_timezone(&cfg), "CET-1CEST,M3.5.0,M10.5.0/3");
    cfg_apply_timezone(&cfg);
    struct tm tm;
    time_t summer = 1719835200; /* 2024-07-01T12:00Z */
    assert_non_null(localtime_r(&summer, &tm));
    assert_int_equal(tm.tm_hour, 14);
    cfg_free(&cfg);

    char err[512], path[24];
    cfg_defaults(&cfg);
    const char *bad[] = { "Mars/Olympus", "../etc/passwd", "XY1", "BST-" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char yaml[128];
        snprintf(yaml, sizeof(yaml), "baseline: {timezone: \"%s\"}\n", bad[i]);
        assert_int_equal(load_text(yaml, &cfg, err, sizeof(err), path), SW_ECONFIG);
        if (!strstr(err, "baseline.timezone: unknown time zone"))
            fail_msg("%s: %s", bad[i], err);
    }
    cfg_free(&cfg);
}

static void test_run_values(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t bytes;
    } sizes[] = {
        { "0", 0 },
        { "1", 1 },
        { "1048576", 1048576 },
        { "100B", 100 },
        { "1kB", 1000 },
        { "2KB", 2000 },
        { "100MB", 100000000 },
        { "3GB", UINT64_C(3000000000) },
        { "2TB", UINT64_C(2000000000000) },
        { "1KiB", 1024 },
        { "512MiB", UINT64_C(512) << 20 },
        { "1GiB", UINT64_C(1) << 30 },
        { "1 GiB", UINT64_C(1) << 30 },
        { "4TiB", UINT64_C(4) << 40 },
        { "\"64MiB\"", UINT64_C(64) << 20 },
        { "18446744073709551615", UINT64_MAX },
        { "16777215TiB", UINT64_C(16777215) << 40 },
    };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char yaml[96];
        snprintf(yaml, sizeof(yaml), "run: {record_max: %s}\n", sizes[i].text);
        cfg_t cfg;
        load_ok(yaml, &cfg);
        if (cfg.run.record_max != sizes[i].bytes)
            print_error("record_max: %s\n", sizes[i].text);
        assert_true(cfg.run.record_max == sizes[i].bytes);
        cfg_free(&cfg);
    }

    static const struct {
        const char *text;
        bool value;
    } bools[] = {
        { "true", true }, { "True", true }, { "TRUE", true }, { "yes", true },
        { "Yes", true },  { "on", true },   { "ON", true },   { "false", false },
        { "False", false }, { "no", false }, { "NO", false }, { "off", false },
        { "Off", false },
    };
    for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
        char yaml[96];
        snprintf(yaml, sizeof(yaml), "run: {record_gzip: %s, drop_when_full: %s}\n",
                 bools[i].text, bools[i].text);
        cfg_t cfg;
        load_ok(yaml, &cfg);
        assert_int_equal(cfg.run.record_gzip, bools[i].value);
        assert_int_equal(cfg.run.drop_when_full, bools[i].value);
        cfg_free(&cfg);
    }

    static const char *const levels[] = { "error", "warn", "info", "debug" };
    for (size_t i = 0; i < 4; i++) {
        char yaml[64];
        snprintf(yaml, sizeof(yaml), "run: {log_level: %s}\n", levels[i]);
        cfg_t cfg;
        load_ok(yaml, &cfg);
        assert_int_equal(cfg.run.log_level, (cfg_log_level_t)i);
        cfg_free(&cfg);
    }

    cfg_t cfg;
    load_ok("run: {shards: 0, ring_size: 64, stats_every: 0, alerts: \"-\"}\n", &cfg);
    assert_int_equal(cfg.run.shards, 0);
    assert_int_equal(cfg.run.ring_size, CFG_MIN_RING_SIZE);
    assert_true(cfg.run.stats_every == 0);
    assert_string_equal(cfg.run.alerts, "-");
    cfg_free(&cfg);
    load_ok("run: {shards: 256, ring_size: 1073741824, alerts: -, stats_every: 0.5s}\n", &cfg);
    assert_int_equal(cfg.run.shards, CFG_MAX_SHARDS);
    assert_int_equal(cfg.run.ring_size, CFG_MAX_RING_SIZE);
    assert_string_equal(cfg.run.alerts, "-");
    assert_true(cfg.run.stats_every == S / 2);
    cfg_free(&cfg);

    /* A key pair alone (any producer with the server key may connect), in either order. */
    load_ok("run:\n  curve:\n    public_key: s.pub\n    secret_key: s.key\n", &cfg);
    assert_string_equal(cfg.run.curve.secret_key, "s.key");
    assert_string_equal(cfg.run.curve.public_key, "s.pub");
    assert_null(cfg.run.curve.allowed_keys);
    cfg_free(&cfg);

    /* The run: section may come anywhere, and leaves the detection settings alone. */
    load_ok("run: {ingest: [\"tcp://127.0.0.1:5557\"], shards: 2}\n"
            "detectors: {storm: {false_per_year: 7}}\n",
            &cfg);
    assert_int_equal(cfg.run.n_ingest, 1);
    assert_int_equal(cfg.run.shards, 2);
    assert_true(cfg.detect.storm_false_per_year == 7);
    cfg_free(&cfg);
}

/* cfg_free() releases the run strings and leaves them NULL; twice is harmless. */
static void test_run_free(void **state)
{
    (void)state;
    cfg_t cfg;
    load_ok("run:\n  ingest: [a, b]\n  alerts: x\n  pub: y\n  changes: c\n  state: s\n"
            "  record: r\n  ring_size: 128\n"
            "  curve: {secret_key: k, public_key: p, allowed_keys: l}\n",
            &cfg);
    cfg_free(&cfg);
    assert_null(cfg.run.ingest);
    assert_int_equal(cfg.run.n_ingest, 0);
    assert_null(cfg.run.alerts);
    assert_null(cfg.run.pub);
    assert_null(cfg.run.changes);
    assert_null(cfg.run.state);
    assert_null(cfg.run.record);
    assert_null(cfg.run.curve.secret_key);
    assert_null(cfg.run.curve.public_key);
    assert_null(cfg.run.curve.allowed_keys);
    assert_int_equal(cfg.run.ring_size, 128); /* the numbers stay */
    cfg_free(&cfg);
}

/* The number of flag `name` in the settings table; fails the test when absent. */
static size_t flag_index(const char *name)
{
    cfg_flag_t fl;
    for (size_t i = 0; cfg_run_flag(i, &fl); i++)
        if (strcmp(fl.name, name) == 0)
            return i;
    fail_msg("no flag --%s", name);
    return 0;
}

/*
 * Every run: key has a flag, the flag sets the very field the key sets, to
 * the same value, read by the same rules. The rows below are written out
 * independently of config.c's table: a key added there without a flag, or
 * a flag wired to the wrong field, fails here.
 */
static void test_run_flags(void **state)
{
    (void)state;
    enum { STR, LIST, RAW };
    static const struct {
        const char *flag, *value, *yaml;
        size_t off;
        int kind;
        size_t size; /* RAW: bytes compared */
    } rows[] = {
#define ROW(fl, v, y, field, k, sz) { fl, v, y, offsetof(run_cfg_t, field), k, sz }
        ROW("ingest", "tcp://127.0.0.1:1", "ingest: ['tcp://127.0.0.1:1']", ingest, LIST, 0),
        ROW("alerts", "a.jsonl", "alerts: a.jsonl", alerts, STR, 0),
        ROW("change-checks", "c.jsonl", "change_checks: c.jsonl", change_checks, STR, 0),
        ROW("pub", "tcp://127.0.0.1:2", "pub: tcp://127.0.0.1:2", pub, STR, 0),
        ROW("changes", "c.yaml", "changes: c.yaml", changes, STR, 0),
        ROW("state", "s.bin", "state: s.bin", state, STR, 0),
        ROW("record", "r.lp", "record: r.lp", record, STR, 0),
        ROW("record-max", "2GiB", "record_max: 2GiB", record_max, RAW, sizeof(uint64_t)),
        ROW("record-gzip", NULL, "record_gzip: true", record_gzip, RAW, sizeof(bool)),
        ROW("shards", "3", "shards: 3", shards, RAW, sizeof(size_t)),
        ROW("ring-size", "4096", "ring_size: 4096", ring_size, RAW, sizeof(size_t)),
        ROW("drop-when-full", NULL, "drop_when_full: yes", drop_when_full, RAW, sizeof(bool)),
        ROW("max-message", "1MiB", "max_message: 1MiB", max_message, RAW, sizeof(uint64_t)),
        ROW("drain-timeout", "3s", "drain_timeout: 3s", drain_timeout, RAW, sizeof(int64_t)),
        ROW("strict-files", NULL, "strict_files: on", strict_files, RAW, sizeof(bool)),
        ROW("stats-every", "10", "stats_every: 10s", stats_every, RAW, sizeof(int64_t)),
        ROW("state-every", "5m", "state_every: 300", state_every, RAW, sizeof(int64_t)),
        ROW("log-level", "debug", "log_level: debug", log_level, RAW, sizeof(cfg_log_level_t)),
        ROW("log-format", "logfmt", "log_format: logfmt", log_format, RAW,
            sizeof(cfg_log_format_t)),
        ROW("alertmanager", "http://127.0.0.1:9093", "alertmanager: ['http://127.0.0.1:9093']",
            alertmanager, LIST, 0),
        ROW("alertmanager-queue", "q", "alertmanager_queue: q", alertmanager_queue, STR, 0),
        ROW("generator-url", "http://g/", "generator_url: http://g/", generator_url, STR, 0),
        ROW("http", "127.0.0.1:9110", "http: '127.0.0.1:9110'", http, STR, 0),
        ROW("http-token-file", "t", "http_token_file: t", http_token_file, STR, 0),
        ROW("http-tls-cert", "c.pem", "http_tls_cert: c.pem", http_tls_cert, STR, 0),
        ROW("http-tls-key", "k.pem", "http_tls_key: k.pem", http_tls_key, STR, 0),
        ROW("changes-journal", "j", "changes_journal: j", changes_journal, STR, 0),
        ROW("kafka-brokers", "127.0.0.1:9092", "kafka_brokers: '127.0.0.1:9092'", kafka_brokers,
            STR, 0),
        ROW("kafka-topic", "t1", "kafka_topic: t1", kafka_topic, STR, 0),
        ROW("kafka-group", "g", "kafka_group: g", kafka_group, STR, 0),
        ROW("kafka-alerts-topic", "t2", "kafka_alerts_topic: t2", kafka_alerts_topic, STR, 0),
        ROW("kafka-changes-topic", "t3", "kafka_changes_topic: t3", kafka_changes_topic, STR, 0),
        ROW("kafka-state-topic", "t4", "kafka_state_topic: t4", kafka_state_topic, STR, 0),
        ROW("kafka-checkpoint", "2s", "kafka_checkpoint: 2s", kafka_checkpoint, RAW,
            sizeof(int64_t)),
        ROW("kafka-property", "acks=all", "kafka_properties: ['acks=all']", kafka_properties, LIST,
            0),
        ROW("curve-secret", "k", "curve: {secret_key: k, public_key: p}", curve.secret_key, STR,
            0),
        ROW("curve-public", "p", "curve: {secret_key: k, public_key: p}", curve.public_key, STR,
            0),
        ROW("curve-allow", "l", "curve: {secret_key: k, public_key: p, allowed_keys: l}",
            curve.allowed_keys, STR, 0),
#undef ROW
    };
    size_t nflags = 0;
    cfg_flag_t fl;
    while (cfg_run_flag(nflags, &fl))
        nflags++;
    assert_int_equal(nflags, sizeof(rows) / sizeof(rows[0]));
    for (size_t i = 0; i < nflags; i++) {
        size_t fi = flag_index(rows[i].flag);
        assert_true(cfg_run_flag(fi, &fl));
        assert_int_equal(fl.takes_value, rows[i].value != NULL);
        assert_int_equal(fl.repeats, rows[i].kind == LIST);
        char yaml[160], err[256] = "";
        snprintf(yaml, sizeof(yaml), "run: {%s}\n", rows[i].yaml);
        cfg_t file;
        load_ok(yaml, &file);
        run_cfg_t flags = { 0 };
        if (cfg_run_set(&flags, fi, rows[i].value, err, sizeof(err)) != 0)
            fail_msg("--%s %s: %s", rows[i].flag, rows[i].value, err);
        const char *got = (const char *)&flags + rows[i].off;
        const char *want = (const char *)&file.run + rows[i].off;
        if (rows[i].kind == STR) {
            assert_string_equal(*(char *const *)got, *(char *const *)want);
        } else if (rows[i].kind == LIST) {
            assert_string_equal((*(char **const *)got)[0], (*(char **const *)want)[0]);
        } else if (memcmp(got, want, rows[i].size) != 0) {
            fail_msg("--%s gives another value than run.%s", rows[i].flag, rows[i].yaml);
        }
        cfg_run_free(&flags);
        cfg_free(&file);
    }
}

/*
 * Every allocation a flag makes fails in turn (the YAML node, the copy of
 * a path, a list's array and its item): each is refused with
 * "--FLAG: out of memory", the flags set before keep their values, and
 * nothing leaks (the sanitizer build checks that).
 */
static void test_run_flag_alloc_failure(void **state)
{
    (void)state;
    if (!allocfail_active())
        skip();
    static const struct {
        const char *flag, *value;
    } sets[] = { { "ingest", "tcp://127.0.0.1:1" }, { "alerts", "a.jsonl" },
                 { "ingest", "tcp://127.0.0.1:2" }, { "ring-size", "128" } };
    for (long fail_at = 0;; fail_at++) {
        run_cfg_t flags = { 0 };
        char err[256] = "";
        int failed = -1;
        allocfail_reset(fail_at);
        for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]) && failed < 0; i++)
            if (cfg_run_set(&flags, flag_index(sets[i].flag), sets[i].value, err, sizeof(err)) < 0)
                failed = (int)i;
        allocfail_disarm();
        if (failed < 0) { /* no allocation left to fail: all four were set */
            assert_int_equal(flags.n_ingest, 2);
            assert_string_equal(flags.ingest[1], "tcp://127.0.0.1:2");
            assert_string_equal(flags.alerts, "a.jsonl");
            assert_int_equal(flags.ring_size, 128);
            cfg_run_free(&flags);
            assert_true(fail_at >= 5); /* array, item; node, copy; array, item; node */
            break;
        }
        char want[64];
        snprintf(want, sizeof(want), "--%s: out of memory", sets[failed].flag);
        assert_string_equal(err, want);
        if (failed >= 1)
            assert_string_equal(flags.ingest[0], "tcp://127.0.0.1:1");
        if (failed >= 2)
            assert_string_equal(flags.alerts, "a.jsonl");
        assert_int_equal(flags.n_ingest, failed >= 3 ? 2 : failed >= 1 ? 1 : 0);
        cfg_run_free(&flags);
    }
}

/* `stormwatch run --help` documents every flag of the table. */
static void test_run_flags_in_help(void **state)
{
    (void)state;
    const char *help = run_usage();
    cfg_flag_t fl;
    size_t n = 0;
    for (size_t i = 0; cfg_run_flag(i, &fl); i++, n++) {
        char want[64];
        snprintf(want, sizeof(want), "--%s ", fl.name);
        if (!strstr(help, want)) {
            snprintf(want, sizeof(want), "--%s,", fl.name); /* "--curve-secret FILE, --curve-public" */
            if (!strstr(help, want))
                fail_msg("run --help does not document --%s", fl.name);
        }
    }
    assert_true(n > 30);
}

/* A flag wins over the file's key; what no flag gave stays the file's. */
static void test_run_flags_override(void **state)
{
    (void)state;
    cfg_t file;
    load_ok("run: {ring_size: 128, alerts: file.jsonl, ingest: [tcp://127.0.0.1:1], "
            "stats_every: 1m}\n",
            &file);
    run_cfg_t flags = { 0 };
    char err[256];
    size_t alerts = flag_index("alerts"), ingest = flag_index("ingest");
    assert_int_equal(cfg_run_set(&flags, alerts, "flag.jsonl", err, sizeof(err)), 0);
    assert_int_equal(cfg_run_set(&flags, ingest, "tcp://127.0.0.1:2", err, sizeof(err)), 0);
    assert_int_equal(cfg_run_set(&flags, ingest, "tcp://127.0.0.1:3", err, sizeof(err)), 0);
    /* a value set, but not marked given, does not count */
    assert_int_equal(cfg_run_set(&flags, flag_index("ring-size"), "256", err, sizeof(err)), 0);
    cfg_run_override(&file.run, &flags, UINT64_C(1) << alerts | UINT64_C(1) << ingest);
    assert_string_equal(file.run.alerts, "flag.jsonl");
    assert_int_equal(file.run.n_ingest, 2); /* the flags' list replaces the file's */
    assert_string_equal(file.run.ingest[1], "tcp://127.0.0.1:3");
    assert_int_equal(file.run.ring_size, 128);
    assert_true(file.run.stats_every == 60 * S);
    assert_null(flags.alerts); /* moved, not copied */
    assert_int_equal(flags.n_ingest, 0);
    cfg_run_free(&flags);
    cfg_free(&file);
}

/* A flag's bad value is refused with the key's rules, named by the flag. */
static void test_run_flag_errors(void **state)
{
    (void)state;
    static const struct {
        const char *flag, *value, *want;
    } bad[] = {
        { "ring-size", "3", "--ring-size: must be at least 64" },
        { "shards", "x", "--shards: expected an integer, got 'x'" },
        { "shards", "257", "--shards: must be between 0 and 256" },
        { "stats-every", "-1s", "--stats-every: must not be negative" },
        { "drain-timeout", "0", "--drain-timeout: must be greater than 0" },
        { "log-level", "loud", "--log-level: expected one of error, warn, info, debug, got 'loud'" },
        { "log-format", "xml", "--log-format: expected one of text, logfmt, json, got 'xml'" },
        { "ingest", "", "--ingest: must not be empty" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        run_cfg_t flags = { 0 };
        char err[256] = "";
        assert_int_equal(cfg_run_set(&flags, flag_index(bad[i].flag), bad[i].value, err,
                                     sizeof(err)),
                         SW_ECONFIG);
        assert_string_equal(err, bad[i].want);
        cfg_run_free(&flags);
    }
    /* "null" on the command line is a file of that name, not "unset" */
    run_cfg_t flags = { 0 };
    char err[256];
    assert_int_equal(cfg_run_set(&flags, flag_index("alerts"), "null", err, sizeof(err)), 0);
    assert_string_equal(flags.alerts, "null");
    /* a list refuses a repeat and stops at CFG_MAX_INGEST */
    size_t am = flag_index("alertmanager");
    for (int i = 0; i < CFG_MAX_INGEST; i++) {
        char url[64];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d", 9000 + i);
        assert_int_equal(cfg_run_set(&flags, am, url, err, sizeof(err)), 0);
    }
    assert_int_equal(cfg_run_set(&flags, am, "http://127.0.0.1:9000", err, sizeof(err)),
                     SW_ECONFIG);
    assert_int_equal(cfg_run_set(&flags, am, "http://127.0.0.1:8999", err, sizeof(err)),
                     SW_ECONFIG);
    assert_string_equal(err, "--alertmanager: at most 16 of them");
    assert_int_equal(flags.n_alertmanager, CFG_MAX_INGEST);
    cfg_run_free(&flags);
    assert_null(flags.alerts);
    assert_null(flags.alertmanager);
}

static void test_partial_keeps_defaults(void **state)
{
    (void)state;
    cfg_t cfg, want;
    load_ok("detectors: {storm: {false_per_year: 7}}\n", &cfg);
    cfg_defaults(&want);
    want.detect.storm_false_per_year = 7;
    assert_memory_equal(&cfg.detect, &want.detect, sizeof(want.detect));
    assert_memory_equal(&cfg.ingest, &want.ingest, sizeof(want.ingest));
    assert_memory_equal(&cfg.corr, &want.corr, sizeof(want.corr));
    cfg_free(&cfg);
}

static void test_timestamp_precisions(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int64_t mult;
    } cases[] = { { "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000 } };
    for (size_t i = 0; i < 4; i++) {
        char yaml[64];
        snprintf(yaml, sizeof(yaml), "input: {timestamp_precision: %s}\n", cases[i].name);
        cfg_t cfg;
        load_ok(yaml, &cfg);
        assert_true(cfg.ingest.ts_mult == cases[i].mult);
        cfg_free(&cfg);
    }
}

static void test_bounds_accepted(void **state)
{
    (void)state;
    cfg_t cfg;
    load_ok("input: {lateness: 10m}\n"
            "detectors:\n"
            "  blocked_route: {delivery_ratio_fire: 0, delivery_ratio_clear: 1}\n"
            "  silence: {max_fraction: 0, clear_fraction: 1, for: 0, hold: 0}\n"
            "correlation: {min_score: 0, early: 0s, late: 0}\n",
            &cfg);
    assert_true(cfg.ingest.lateness == 600 * S);
    assert_true(cfg.detect.blocked_ratio_fire == 0);
    assert_true(cfg.detect.blocked_ratio_clear == 1);
    assert_true(cfg.detect.silence_max_fraction == 0);
    assert_true(cfg.detect.silence_clear_fraction == 1);
    assert_true(cfg.corr.min_score == 0);
    cfg_free(&cfg);
}

/*
 * Found by fuzz_config: a count with no range of its own (feed.max_series)
 * of -1 or beyond size_t was converted to size_t unchecked (undefined
 * behaviour: -1 came out as no limit at all), and feed.idle_after: 9us made
 * the shards sweep for idle series every 4.5 us of event time, a million
 * sweeps between two samples (a hang). Both are refused now.
 */
static void test_count_and_idle_bounds(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *msg;
    } bad[] = {
        { "feed: {max_series: -1}\n", ":1:20: feed.max_series: must not be negative" },
        { "feed: {max_series: -0001}\n", ":1:20: feed.max_series: must not be negative" },
        { "feed: {max_series: 18446744073709551616}\n",
          ":1:20: feed.max_series: is too large" },
        { "feed: {max_series: 99999999999999999999999}\n",
          ":1:20: feed.max_series: is too large" },
        { "feed: {idle_after: 9us}\n", ":1:20: feed.idle_after: must be at least 1s" },
        { "feed: {idle_after: 999ms}\n", ":1:20: feed.idle_after: must be at least 1s" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cfg_t cfg;
        char err[512], path[24];
        int rc = load_text(bad[i].yaml, &cfg, err, sizeof(err), path);
        if (rc != SW_ECONFIG || !strstr(err, bad[i].msg))
            print_error("case %zu: rc %d\n got: %s\nwant: ...%s\n", i, rc, err, bad[i].msg);
        assert_int_equal(rc, SW_ECONFIG);
        assert_non_null(strstr(err, bad[i].msg));
    }
    cfg_t cfg;
    load_ok("feed: {idle_after: 1s, max_series: 0}\n", &cfg);
    assert_true(cfg.ingest.idle_after == S);
    assert_int_equal(cfg.ingest.max_series, 0);
    cfg_free(&cfg);
    load_ok("feed: {max_series: 18446744073709549568}\n", &cfg); /* largest double below 2^64 */
    assert_true(cfg.ingest.max_series == (size_t)18446744073709549568.0);
    cfg_free(&cfg);
}

static void test_users_inherit(void **state)
{
    (void)state;
    cfg_t cfg;
    /* users: comes first, yet inherits the global settings that follow it. */
    load_ok("users:\n"
            "  \"90-B3-D5-1F-30-01-00-0A\":\n"
            "    detectors: {storm: {ratio_fire: 5}}\n"
            "    limits: {south_rate: 200}\n"
            "  U2:\n"
            "  U3:\n"
            "    baseline: {warmup: 1m}\n"
            "    detectors:\n"
            "      blocked_route: {min_backlog: 10}\n"
            "      silence: {hold: 1m}\n"
            "detectors:\n"
            "  storm: {ratio_clear: 3, false_per_year: 4}\n"
            "limits: {north_rate: 50}\n"
            "correlation: {min_score: 0.4}\n",
            &cfg);
    assert_int_equal(cfg.n_users, 3);
    detect_params_t global;
    detect_params_defaults(&global);
    global.storm_ratio_clear = 3;
    global.storm_false_per_year = 4;
    global.limit_north_rate = 50;
    assert_memory_equal(&cfg.detect, &global, sizeof(global));

    /* In file order. */
    assert_string_equal(cfg.users[0].user, "90-B3-D5-1F-30-01-00-0A");
    assert_string_equal(cfg.users[1].user, "U2");
    assert_string_equal(cfg.users[2].user, "U3");

    detect_params_t want = global;
    want.storm_ratio_fire = 5;
    want.limit_south_rate = 200;
    assert_memory_equal(&cfg.users[0].detect, &want, sizeof(want));
    assert_memory_equal(&cfg.users[1].detect, &global, sizeof(global));
    want = global;
    want.base_warmup = 60 * S;
    want.blocked_min_backlog = 10;
    want.silence_hold = 60 * S;
    assert_memory_equal(&cfg.users[2].detect, &want, sizeof(want));

    /* Look-up by (pointer, length): no NUL needed, no prefix match. */
    const char *line = "U3,dir=north";
    assert_ptr_equal(cfg_detect_for(&cfg, line, 2), &cfg.users[2].detect);
    assert_ptr_equal(cfg_detect_for(&cfg, line, 1), &cfg.detect);
    assert_ptr_equal(cfg_detect_for(&cfg, "U2", 2), &cfg.users[1].detect);
    assert_ptr_equal(cfg_detect_for(&cfg, "U", 1), &cfg.detect);
    assert_ptr_equal(cfg_detect_for(&cfg, "U22", 3), &cfg.detect);
    assert_ptr_equal(cfg_detect_for(&cfg, NULL, 0), &cfg.detect);
    assert_true(cfg.corr.min_score == 0.4);
    cfg_free(&cfg);
    assert_null(cfg.users);
    assert_int_equal(cfg.n_users, 0);
}

static void test_users_aliases(void **state)
{
    (void)state;
    cfg_t cfg;
    load_ok("users:\n"
            "  A: &big {limits: {south_rate: 500}}\n"
            "  B: *big\n",
            &cfg);
    assert_int_equal(cfg.n_users, 2);
    assert_true(cfg.users[0].detect.limit_south_rate == 500);
    assert_true(cfg.users[1].detect.limit_south_rate == 500);
    cfg_free(&cfg);
}

static void test_reload_replaces(void **state)
{
    (void)state;
    cfg_t a, b;
    load_ok("users: {A: {limits: {south_rate: 1}}}\n", &a);
    b = a;
    /* A reload into another cfg_t; the first stays valid until freed. */
    load_ok("users: {B: {limits: {south_rate: 2}}}\n", &b);
    assert_string_equal(a.users[0].user, "A");
    assert_string_equal(b.users[0].user, "B");
    cfg_free(&a);
    cfg_free(&b);
}

/* ---- errors ---- */

static const struct {
    const char *yaml;
    const char *msg; /* "FILE" stands for the path */
} config_errors[] = {
    /* Unknown keys, with what was expected. */
    { "input:\n  latenes: 30s\n",
      "FILE:2:3: input.latenes: unknown key (expected one of: lateness, timestamp_precision)" },
    { "inputs: {}\n",
      "FILE:1:1: inputs: unknown key (expected one of: input, feed, baseline, detectors, "
      "limits, correlation, incidents, run, users)" },
    { "detectors:\n  storms: {}\n",
      "FILE:2:3: detectors.storms: unknown key (expected one of: storm, blocked_route, "
      "silence, shift, blast_radius)" },
    { "detectors:\n  storm:\n    ratio_fires: 4\n",
      "FILE:3:5: detectors.storm.ratio_fires: unknown key (expected one of: ratio_fire, "
      "false_per_year, min_excess_rate, min_excess_count, ratio_clear, for, hold, burst_ratio, burst_length, window_short, "
      "window_long, ratio_sustained, z_window, onset_ratio, clear_window)" },
    { "users:\n  U1:\n    correlation: {}\n",
      "FILE:3:5: users.U1.correlation: unknown key (expected one of: baseline, detectors, "
      "limits)" },
    { "users:\n  U1:\n    users: {}\n",
      "FILE:3:5: users.U1.users: unknown key (expected one of: baseline, detectors, limits)" },
    { "run:\n  shard: 2\n",
      "FILE:2:3: run.shard: unknown key (expected one of: ingest, alerts, change_checks, pub, "
      "changes, state, "
      "record, record_max, record_gzip, shards, ring_size, drop_when_full, max_message, "
      "drain_timeout, strict_files, stats_every, "
      "state_every, log_level, log_format, alertmanager, alertmanager_queue, generator_url, "
      "http, "
      "http_token_file, http_tls_cert, "
      "http_tls_key, changes_journal, kafka_brokers, kafka_topic, kafka_group, kafka_alerts_topic, "
      "kafka_changes_topic, kafka_state_topic, kafka_checkpoint, kafka_properties, curve)" },
    { "run:\n  curve: {secret: a}\n",
      "FILE:2:11: run.curve.secret: unknown key (expected one of: secret_key, public_key, "
      "allowed_keys)" },
    /* ... and a User overrides detection settings only, never the daemon's. */
    { "users:\n  U1:\n    run: {shards: 2}\n",
      "FILE:3:5: users.U1.run: unknown key (expected one of: baseline, detectors, limits)" },
    { "users:\n  U1: {shards: 2}\n",
      "FILE:2:8: users.U1.shards: unknown key (expected one of: baseline, detectors, limits)" },
    /* Numbers. */
    { "detectors:\n  storm:\n    ratio_fire: x\n",
      "FILE:3:17: detectors.storm.ratio_fire: expected a number, got 'x'" },
    { "detectors:\n  storm:\n    ratio_fire: {a: 1}\n",
      "FILE:3:17: detectors.storm.ratio_fire: expected a number, got a mapping" },
    { "detectors: {storm: {false_per_year: [6]}}\n",
      "FILE:1:37: detectors.storm.false_per_year: expected a number, got a sequence" },
    { "detectors: {storm: {false_per_year: .inf}}\n",
      "FILE:1:37: detectors.storm.false_per_year: expected a number, got '.inf'" },
    { "detectors: {storm: {false_per_year: 1e999}}\n",
      "FILE:1:37: detectors.storm.false_per_year: expected a number, got '1e999'" },
    { "detectors: {storm: {ratio_clear: 0x10}}\n",
      "FILE:1:34: detectors.storm.ratio_clear: expected a number, got '0x10'" },
    { "detectors: {storm: {ratio_clear: true}}\n",
      "FILE:1:34: detectors.storm.ratio_clear: expected a number, got 'true'" },
    { "detectors: {storm: {ratio_clear: }}\n",
      "FILE:1:34: detectors.storm.ratio_clear: expected a number, got an empty value" },
    { "detectors: {storm: {ratio_clear: -1}}\n",
      "FILE:1:34: detectors.storm.ratio_clear: must be greater than 0" },
    { "limits:\n  south_rate: -1\n",
      "FILE:2:15: limits.south_rate: must not be negative" },
    { "baseline:\n  dispersion: -0.5\n",
      "FILE:2:15: baseline.dispersion: must not be negative" },
    { "detectors:\n  storm:\n    ratio_clear: 0\n",
      "FILE:3:18: detectors.storm.ratio_clear: must be greater than 0" },
    { "detectors:\n  blocked_route:\n    delivery_ratio_clear: 1.5\n",
      "FILE:3:27: detectors.blocked_route.delivery_ratio_clear: must be between 0 and 1" },
    { "detectors:\n  silence:\n    max_fraction: -0.1\n",
      "FILE:3:19: detectors.silence.max_fraction: must be between 0 and 1" },
    { "correlation:\n  min_score: 2\n",
      "FILE:2:14: correlation.min_score: must be between 0 and 1" },
    { "incidents:\n  widespread_users: 1\n",
      "FILE:2:21: incidents.widespread_users: must be between 2 and 1000000" },
    /* Hysteresis: fire and clear thresholds in the right order. */
    { "detectors:\n  storm:\n    ratio_fire: 1.5\n",
      "FILE:3:17: detectors.storm.ratio_fire: must be greater than ratio_clear (2)" },
    { "detectors:\n  storm:\n    ratio_clear: 4\n",
      "FILE:3:18: detectors.storm.ratio_clear: must be less than ratio_fire (3.5)" },
    { "detectors:\n  storm:\n    ratio_clear: 2.5\n    ratio_fire: 2.5\n",
      "FILE:4:17: detectors.storm.ratio_fire: must be greater than ratio_clear (2.5)" },
    { "detectors:\n  blocked_route:\n    delivery_ratio_fire: 0.9\n",
      "FILE:3:26: detectors.blocked_route.delivery_ratio_fire: must be less than "
      "delivery_ratio_clear (0.8)" },
    { "detectors:\n  blocked_route:\n"
      "    delivery_ratio_fire: 0.4\n    delivery_ratio_clear: 0.4\n",
      "FILE:4:27: detectors.blocked_route.delivery_ratio_clear: must be greater than "
      "delivery_ratio_fire (0.4)" },
    { "detectors:\n  silence: {clear_fraction: 0.1, max_fraction: 0.2}\n",
      "FILE:2:29: detectors.silence.clear_fraction: must be greater than max_fraction (0.2)" },
    { "detectors:\n  silence: {false_per_year: 0}\n",
      "FILE:2:29: detectors.silence.false_per_year: must be greater than 0" },
    { "detectors:\n  shift: {ratio_up: 1.2, clear_up: 1.4}\n",
      "FILE:2:21: detectors.shift.ratio_up: must be greater than clear_up (1.4)" },
    /* ... also against inherited settings, wherever users: appears. */
    { "users:\n  U1:\n    detectors: {storm: {ratio_fire: 2.5}}\n"
      "detectors: {storm: {ratio_clear: 3, ratio_fire: 6}}\n",
      "FILE:3:37: users.U1.detectors.storm.ratio_fire: must be greater than ratio_clear (3)" },
    /* Durations. */
    { "feed:\n  stall_after: soon\n",
      "FILE:2:16: feed.stall_after: expected a duration (e.g. 30s, 5m, 1h30m), got 'soon'" },
    { "feed:\n  stall_after: [30s]\n",
      "FILE:2:16: feed.stall_after: expected a duration (e.g. 30s, 5m, 1h30m), got a "
      "sequence" },
    { "detectors: {storm: {for: -5s}}\n",
      "FILE:1:26: detectors.storm.for: must not be negative" },
    { "feed:\n  stall_after: 0s\n",
      "FILE:2:16: feed.stall_after: must be greater than 0" },
    { "baseline: {tau: 0}\n",
      "FILE:1:17: baseline.tau: must be greater than 0" },
    { "detectors: {blocked_route: {window: 0ms}}\n",
      "FILE:1:37: detectors.blocked_route.window: must be greater than 0" },
    { "correlation: {proximity: 0m}\n",
      "FILE:1:26: correlation.proximity: must be greater than 0" },
    { "input:\n  lateness: 11m\n",
      "FILE:2:13: input.lateness: must be at most 10m" },
    { "input:\n  lateness: 600.001\n",
      "FILE:2:13: input.lateness: must be at most 10m" },
    /* Enumerations. */
    { "input:\n  timestamp_precision: sec\n",
      "FILE:2:24: input.timestamp_precision: expected one of ns, us, ms, s, got 'sec'" },
    /* Duplicates. */
    { "input:\n  lateness: 1s\n  lateness: 2s\n",
      "FILE:3:3: input.lateness: duplicate key (first at line 2)" },
    { "feed: {}\nfeed: {}\n",
      "FILE:2:1: feed: duplicate key (first at line 1)" },
    { "users: {}\ninput: {}\nusers: {}\n",
      "FILE:3:1: users: duplicate key (first at line 1)" },
    { "detectors:\n  storm: {for: 1s}\n  storm: {hold: 1s}\n",
      "FILE:3:3: detectors.storm: duplicate key (first at line 2)" },
    { "users:\n  U1: {}\n  U2: {}\n  U1: {}\n",
      "FILE:4:3: users.U1: duplicate user (first at line 2)" },
    /* Shapes. */
    { "detectors: 5\n",
      "FILE:1:12: detectors: expected a mapping, got '5'" },
    { "detectors:\n  storm: [1, 2]\n",
      "FILE:2:10: detectors.storm: expected a mapping, got a sequence" },
    { "- a\n- b\n",
      "FILE:1:1: expected a mapping at the top level, got a sequence" },
    { "hello\n",
      "FILE:1:1: expected a mapping at the top level, got 'hello'" },
    { "? [a]\n: 1\n",
      "FILE:1:3: expected a key name, got a sequence" },
    { "users: [a]\n",
      "FILE:1:8: users: expected a mapping of user ids, got a sequence" },
    { "users:\n  \"\": {}\n",
      "FILE:2:3: users: empty user id" },
    { "users:\n  ? [a]\n  : {}\n",
      "FILE:2:5: users: expected a user id, got a sequence" },
    { "users:\n  U1: 5\n",
      "FILE:2:7: users.U1: expected a mapping, got '5'" },
    { "users:\n  U1:\n    limits: {south_rate: lots}\n",
      "FILE:3:26: users.U1.limits.south_rate: expected a number, got 'lots'" },
    /* run: the daemon's settings. */
    { "run: [a]\n",
      "FILE:1:6: run: expected a mapping, got a sequence" },
    { "run:\n  ingest: tcp://127.0.0.1:5557\n",
      "FILE:2:11: run.ingest: expected a sequence of endpoint strings, got "
      "'tcp://127.0.0.1:5557'" },
    { "run:\n  ingest: {a: 1}\n",
      "FILE:2:11: run.ingest: expected a sequence of endpoint strings, got a mapping" },
    { "run:\n  ingest:\n    - tcp://127.0.0.1:5557\n    - tcp://127.0.0.1:5558\n"
      "    - {bind: tcp://127.0.0.1:5559}\n",
      "FILE:5:7: run.ingest[2]: expected an endpoint string, got a mapping" },
    { "run: {ingest: [a, [b]]}\n",
      "FILE:1:19: run.ingest[1]: expected an endpoint string, got a sequence" },
    { "run: {ingest: [a, \"\"]}\n",
      "FILE:1:19: run.ingest[1]: expected an endpoint string, got an empty value" },
    { "run:\n  ingest:\n    -\n",
      "FILE:3:6: run.ingest[0]: expected an endpoint string, got an empty value" },
    { "run:\n  ingest:\n    - a\n    - ~\n",
      "FILE:4:7: run.ingest[1]: expected an endpoint string, got '~'" },
    { "run: {ingest: [a, b, a]}\n",
      "FILE:1:22: run.ingest[2]: duplicate endpoint (first at line 1)" },
    { "run: {ingest: [\"a\\0b\"]}\n",
      "FILE:1:16: run.ingest[0]: must not contain a NUL character" },
    { "run: {ingest: [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q]}\n",
      "FILE:1:15: run.ingest: at most 16 endpoints, got 17" },
    { "run:\n  alerts: [a]\n",
      "FILE:2:11: run.alerts: expected a path, got a sequence" },
    { "run:\n  state: \"\"\n",
      "FILE:2:10: run.state: expected a path, got an empty value" },
    { "run:\n  pub: {tcp: 1}\n",
      "FILE:2:8: run.pub: expected an endpoint string, got a mapping" },
    { "run:\n  record_max: lots\n",
      "FILE:2:15: run.record_max: expected a size in bytes (e.g. 1048576, 512MiB, 1GiB, "
      "100MB), got 'lots'" },
    { "run: {record_max: 1.5GiB}\n",
      "FILE:1:19: run.record_max: expected a size in bytes (e.g. 1048576, 512MiB, 1GiB, "
      "100MB), got '1.5GiB'" },
    { "run: {record_max: 1gib}\n",
      "FILE:1:19: run.record_max: expected a size in bytes (e.g. 1048576, 512MiB, 1GiB, "
      "100MB), got '1gib'" },
    { "run: {record_max: \"1 \"}\n",
      "FILE:1:19: run.record_max: expected a size in bytes (e.g. 1048576, 512MiB, 1GiB, "
      "100MB), got '1 '" },
    { "run: {record_max: -1MiB}\n",
      "FILE:1:19: run.record_max: must not be negative" },
    { "run: {record_max: 16777216TiB}\n",
      "FILE:1:19: run.record_max: must be less than 16EiB" },
    { "run: {record_max: 18446744073709551616}\n",
      "FILE:1:19: run.record_max: must be less than 16EiB" },
    { "run:\n  record_gzip: maybe\n",
      "FILE:2:16: run.record_gzip: expected true or false (or yes/no, on/off), got 'maybe'" },
    { "run: {drop_when_full: 1}\n",
      "FILE:1:23: run.drop_when_full: expected true or false (or yes/no, on/off), got '1'" },
    { "run: {drop_when_full: }\n",
      "FILE:1:23: run.drop_when_full: expected true or false (or yes/no, on/off), got an "
      "empty value" },
    { "feed:\n  max_line: 255\n",
      "FILE:2:13: feed.max_line: must be between 256 and 1048576 bytes" },
    { "feed: {max_line: 1025KiB}\n",
      "FILE:1:18: feed.max_line: must be between 256 and 1048576 bytes" },
    { "run: {max_message: 65535}\n",
      "FILE:1:20: run.max_message: must be between 65536 and 2147483648 bytes" },
    { "run: {max_message: 2049MiB}\n",
      "FILE:1:20: run.max_message: must be between 65536 and 2147483648 bytes" },
    { "run: {drain_timeout: 0s}\n",
      "FILE:1:22: run.drain_timeout: must be greater than 0" },
    { "run:\n  shards: 257\n",
      "FILE:2:11: run.shards: must be between 0 and 256" },
    { "run: {shards: -1}\n",
      "FILE:1:15: run.shards: must be between 0 and 256" },
    { "run: {shards: 99999999999999999999999}\n",
      "FILE:1:15: run.shards: must be between 0 and 256" },
    { "run: {shards: 2.5}\n",
      "FILE:1:15: run.shards: expected an integer, got '2.5'" },
    { "run: {shards: auto}\n",
      "FILE:1:15: run.shards: expected an integer, got 'auto'" },
    { "run: {ring_size: 63}\n",
      "FILE:1:18: run.ring_size: must be at least 64" },
    { "run: {ring_size: 1073741825}\n",
      "FILE:1:18: run.ring_size: must be at most 1073741824" },
    { "run: {ring_size: 64k}\n",
      "FILE:1:18: run.ring_size: expected an integer, got '64k'" },
    { "run: {stats_every: -10s}\n",
      "FILE:1:20: run.stats_every: must not be negative" },
    { "run: {stats_every: often}\n",
      "FILE:1:20: run.stats_every: expected a duration (e.g. 30s, 5m, 1h30m), got 'often'" },
    { "run:\n  log_level: loud\n",
      "FILE:2:14: run.log_level: expected one of error, warn, info, debug, got 'loud'" },
    { "run: {log_level: INFO}\n",
      "FILE:1:18: run.log_level: expected one of error, warn, info, debug, got 'INFO'" },
    { "run: {shards: 1, shards: 2}\n",
      "FILE:1:18: run.shards: duplicate key (first at line 1)" },
    { "run: {curve: 5}\n",
      "FILE:1:14: run.curve: expected a mapping, got '5'" },
    /* The CurveZMQ key pair goes together, and allowed_keys needs it. */
    { "run:\n  curve:\n    secret_key: s.key\n",
      "FILE:3:5: run.curve.public_key: missing: secret_key and public_key go together" },
    { "run:\n  curve: {public_key: s.pub, allowed_keys: p.pub}\n",
      "FILE:2:10: run.curve.secret_key: missing: secret_key and public_key go together" },
    { "run:\n  curve:\n    secret_key: ~\n    public_key: s.pub\n",
      "FILE:3:5: run.curve.secret_key: missing: secret_key and public_key go together" },
    { "run:\n  curve:\n    allowed_keys: p.pub\n",
      "FILE:3:19: run.curve.allowed_keys: needs secret_key and public_key (the server's key "
      "pair)" },
    { "run:\n  curve: {secret_key: [a]}\n",
      "FILE:2:23: run.curve.secret_key: expected a path, got a sequence" },
    /* A failure late in run: frees the strings read before it. */
    { "run:\n  ingest: [a, b]\n  alerts: x\n  pub: y\n  curve: {secret_key: k, public_key: p}\n"
      "  log_level: loud\n",
      "FILE:6:14: run.log_level: expected one of error, warn, info, debug, got 'loud'" },
    { "run: {alerts: x, curve: {secret_key: k, allowed_keys: l}}\n",
      "FILE:1:25: run.curve.public_key: missing: secret_key and public_key go together" },
    /* YAML itself. */
    { "input:\n  lateness: [1s\n",
      "FILE:3:1: invalid YAML: did not find expected ',' or ']' "
      "(while parsing a flow sequence at line 2)" },
    { "input:\n  lateness: 1s\n stall_after: 1s\n",
      "FILE:3:2: invalid YAML: did not find expected key "
      "(while parsing a block mapping at line 1)" },
    { "input: *nowhere\n",
      "FILE:1:8: invalid YAML: found undefined alias" },
    { "input: {}\n---\nfeed: {}\n",
      "FILE:3:1: expected a single YAML document, found another" },
    { "input: {}\n---\nfeed: [\n",
      "FILE:4:1: invalid YAML: did not find expected node content "
      "(while parsing a flow node at line 4)" },
    { "input: \xff\n",
      "FILE: invalid YAML: invalid leading UTF-8 octet at byte 7" },
};

static void test_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(config_errors) / sizeof(config_errors[0]); i++) {
        cfg_t cfg, before;
        /* Filled with a pattern: a failed load must leave every byte as it was. */
        memset(&cfg, 0xa5, sizeof(cfg));
        memcpy(&before, &cfg, sizeof(cfg));
        char err[1024], path[24], want[1100];
        int rc = load_text(config_errors[i].yaml, &cfg, err, sizeof(err), path);
        assert_memory_equal(config_errors[i].msg, "FILE", 4);
        snprintf(want, sizeof(want), "%s%s", path, config_errors[i].msg + 4);
        if (rc != SW_ECONFIG || strcmp(err, want) != 0)
            print_error("case %zu: rc %d\n got: %s\nwant: %s\n", i, rc, err, want);
        assert_int_equal(rc, SW_ECONFIG);
        assert_string_equal(err, want);
        assert_memory_equal(&cfg, &before, sizeof(cfg));
    }
}

/* Nesting deeper than YN_MAX_DEPTH is refused (at its line and column)
 * before libyaml's quadratic parser sees it; 32 levels are read as usual. */
static void test_nesting_limit(void **state)
{
    (void)state;
    cfg_t cfg;
    char err[1024], path[24], want[1100];
    char *yaml = tu_repeat("input: ", "[", 100000, "");
    assert_int_equal(load_text(yaml, &cfg, err, sizeof(err), path), SW_ECONFIG);
    snprintf(want, sizeof(want), "%s:1:39: nesting deeper than 32 levels", path);
    assert_string_equal(err, want);
    free(yaml);
    char *open = tu_repeat("users: {U1: {detectors: {storm: ", "[", 27, "");
    yaml = tu_repeat(open, "]", 27, "}}}\n"); /* 32 levels */
    assert_int_equal(load_text(yaml, &cfg, err, sizeof(err), path), SW_ECONFIG);
    snprintf(want, sizeof(want), "%s:1:33: users.U1.detectors.storm: expected a mapping, got "
             "a sequence", path);
    assert_string_equal(err, want);
    free(open);
    free(yaml);
}

static void test_size_limit(void **state)
{
    (void)state;
    cfg_t cfg;
    char err[512], path[24], want[600];
    write_tmp(path, "", 0);
    assert_int_equal(truncate(path, (off_t)CFG_MAX_BYTES + 1), 0); /* sparse */
    assert_int_equal(cfg_load(path, &cfg, err, sizeof(err)), SW_ECONFIG);
    snprintf(want, sizeof(want), "%s: larger than 16 MiB", path);
    assert_string_equal(err, want);
    /* at the limit: read (all blanks: the defaults) */
    assert_int_equal(truncate(path, 0), 0);
    char *blank = malloc(CFG_MAX_BYTES);
    assert_non_null(blank);
    memset(blank, '\n', CFG_MAX_BYTES);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(blank, 1, CFG_MAX_BYTES, f), CFG_MAX_BYTES);
    fclose(f);
    free(blank);
    assert_int_equal(cfg_load(path, &cfg, err, sizeof(err)), 0);
    cfg_free(&cfg);
    unlink(path);
}

/*
 * 20 000 per-User overrides: a repeated user is found without comparing
 * each user with every one before it (2e8 comparisons). Counted, not timed.
 */
static void test_many_users_linear(void **state)
{
    (void)state;
    enum { N = 20000 };
    size_t cap = (size_t)N * 40 + 64, n = 0;
    char *yaml = malloc(cap);
    assert_non_null(yaml);
    n += (size_t)snprintf(yaml, cap, "users:\n");
    for (int i = 0; i < N; i++)
        n += (size_t)snprintf(yaml + n, cap - n, "  U%05d: {limits: {south_rate: %d}}\n", i, i);
    cfg_t cfg;
    char err[512], path[24], want[600];
    strcmp_count_reset();
    assert_int_equal(load_text(yaml, &cfg, err, sizeof(err), path), 0);
    long calls = strcmp_count();
    assert_int_equal(cfg.n_users, N);
    assert_true(cfg_detect_for(&cfg, "U19999", 6)->limit_south_rate == 19999);
    cfg_free(&cfg);
    if (calls > 50L * N)
        fail_msg("%ld string comparisons for %d users: not linear", calls, N);
    /* the same users with the first one repeated at the end */
    snprintf(yaml + n, cap - n, "  U00000: {}\n");
    assert_int_equal(load_text(yaml, &cfg, err, sizeof(err), path), SW_ECONFIG);
    snprintf(want, sizeof(want), "%s:%d:3: users.U00000: duplicate user (first at line 2)", path,
             N + 2);
    assert_string_equal(err, want);
    free(yaml);
}

static void test_io_errors(void **state)
{
    (void)state;
    cfg_t cfg, before;
    memset(&cfg, 0xa5, sizeof(cfg));
    memcpy(&before, &cfg, sizeof(cfg));
    char err[512];
    assert_int_equal(cfg_load("/nonexistent/stormwatch.yaml", &cfg, err, sizeof(err)), SW_EIO);
    assert_string_equal(err, "/nonexistent/stormwatch.yaml: No such file or directory");
    assert_int_equal(cfg_load("/tmp", &cfg, err, sizeof(err)), SW_EIO);
    assert_string_equal(err, "/tmp: Is a directory");
    assert_memory_equal(&cfg, &before, sizeof(cfg));
    assert_int_equal(cfg_load(NULL, &cfg, err, sizeof(err)), SW_EINVAL);
    assert_int_equal(cfg_load("/tmp/x", NULL, err, sizeof(err)), SW_EINVAL);
}

static void test_message_buffer(void **state)
{
    (void)state;
    cfg_t cfg;
    char path[24], err[8];
    /* No buffer at all is fine; a short one is truncated and terminated. */
    assert_int_equal(load_text("input: {lateness: x}\n", &cfg, NULL, 0, path), SW_ECONFIG);
    assert_int_equal(load_text("input: {lateness: x}\n", &cfg, err, sizeof(err), path),
                     SW_ECONFIG);
    assert_string_equal(err, "/tmp/sw");
}

/*
 * Fails each allocation of loading `yaml` in turn: every failure is
 * SW_ENOMEM with its message and leaves `cfg` as it was (and, under ASan,
 * nothing allocated). Returns how many allocations a full load makes; the
 * loaded cfg_t goes to *loaded, for the caller to check and free.
 */
static long alloc_failure_pass(const char *yaml, cfg_t *loaded)
{
    char path[24];
    write_tmp(path, yaml, strlen(yaml));
    char want[64];
    snprintf(want, sizeof(want), "%s: out of memory", path);
    for (long k = 0;; k++) {
        cfg_t cfg, before;
        memset(&cfg, 0xa5, sizeof(cfg));
        memcpy(&before, &cfg, sizeof(cfg));
        char err[512];
        allocfail_reset(k);
        int rc = cfg_load(path, &cfg, err, sizeof(err));
        allocfail_disarm();
        if (allocfail_count() <= k) {
            assert_int_equal(rc, 0);
            *loaded = cfg;
            unlink(path);
            return k;
        }
        assert_int_equal(rc, SW_ENOMEM);
        assert_string_equal(err, want);
        assert_memory_equal(&cfg, &before, sizeof(cfg));
    }
}

static void test_alloc_failure(void **state)
{
    (void)state;
    if (!allocfail_active())
        skip();
    cfg_t cfg;
    long n = alloc_failure_pass("detectors: {storm: {false_per_year: 7}}\n"
                                "users:\n"
                                "  A: {limits: {south_rate: 1}}\n"
                                "  B: {limits: {south_rate: 2}}\n",
                                &cfg);
    assert_true(n >= 4); /* buffer, users array, two ids */
    assert_int_equal(cfg.n_users, 2);
    cfg_free(&cfg);
}

static void test_alloc_failure_run(void **state)
{
    (void)state;
    if (!allocfail_active())
        skip();
    cfg_t cfg;
    long n = alloc_failure_pass("run:\n"
                                "  ingest: [tcp://127.0.0.1:5557, tcp://127.0.0.1:5558]\n"
                                "  alerts: alerts.jsonl\n"
                                "  pub: tcp://*:5560\n"
                                "  changes: changes.yaml\n"
                                "  state: state.bin\n"
                                "  record: rec/ingest.lp\n"
                                "  curve: {secret_key: k, public_key: p, allowed_keys: l}\n"
                                "users:\n"
                                "  A: {limits: {south_rate: 1}}\n",
                                &cfg);
    assert_true(n >= 13); /* buffer, ingest array, 2 endpoints, 8 strings, users array, id */
    assert_int_equal(cfg.run.n_ingest, 2);
    assert_string_equal(cfg.run.ingest[1], "tcp://127.0.0.1:5558");
    assert_string_equal(cfg.run.curve.allowed_keys, "l");
    assert_int_equal(cfg.n_users, 1);
    cfg_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_is_defaults),
        cmocka_unit_test(test_example_lists_every_key),
        cmocka_unit_test(test_example_users_block),
        cmocka_unit_test(test_example_ingest_block),
        cmocka_unit_test(test_defaults_and_empty_files),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_timezone),
        cmocka_unit_test(test_run_values),
        cmocka_unit_test(test_run_free),
        cmocka_unit_test(test_run_flags),
        cmocka_unit_test(test_run_flags_override),
        cmocka_unit_test(test_run_flags_in_help),
        cmocka_unit_test(test_run_flag_alloc_failure),
        cmocka_unit_test(test_run_flag_errors),
        cmocka_unit_test(test_partial_keeps_defaults),
        cmocka_unit_test(test_timestamp_precisions),
        cmocka_unit_test(test_bounds_accepted),
        cmocka_unit_test(test_count_and_idle_bounds),
        cmocka_unit_test(test_users_inherit),
        cmocka_unit_test(test_users_aliases),
        cmocka_unit_test(test_reload_replaces),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_many_users_linear),
        cmocka_unit_test(test_io_errors),
        cmocka_unit_test(test_message_buffer),
        cmocka_unit_test(test_alloc_failure),
        cmocka_unit_test(test_alloc_failure_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
