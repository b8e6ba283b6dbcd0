/*
 * daemon_cli.c - `stormwatch run`'s command line: its help, its flags, and
 * the config file's run: section filling in what the flags did not give
 * (every flag overrides the same setting of the file). Which flag sets
 * which key, and how its value is read, is one table (config/config.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "daemon_int.h"
#include "err.h"
#include "log.h"

static const char usage[] =
    "usage: stormwatch run [--config FILE] [--changes FILE] [--state FILE]\n"
    "                      [--ingest ENDPOINT]... [--alerts FILE] [--pub ENDPOINT]\n"
    "                      [--shards N] [--record FILE] [options]\n"
    "\n"
    "Runs the detector live on the DSP's counter feed over ZeroMQ and writes alert\n"
    "lines as they happen. Runs in the foreground and logs to standard error.\n"
    "Every flag overrides the same setting of the config file's run: section.\n"
    "\n"
    "  -c, --config FILE      detection settings (YAML); built-in defaults otherwise\n"
    "  -C, --changes FILE     declared changes (YAML); SIGHUP reloads it and the config\n"
    "  -s, --state FILE       load learned baselines at start, save them on exit\n"
    "  -i, --ingest ENDPOINT  receive samples (repeatable):\n"
    "                           tcp://127.0.0.1:5557          bind a PULL socket\n"
    "                           connect:tcp://HOST:PORT       connect a PULL socket\n"
    "                           sub:tcp://HOST:PORT[#TOPIC]   connect a SUB socket\n"
    "  -a, --alerts FILE      append alert lines to FILE ('-': standard output, the\n"
    "                         default when no other sink is given)\n"
    "      --change-checks FILE  append a verdict on every declared change to FILE\n"
    "                         once its window has ended (as_declared, deviated or\n"
    "                         unverifiable; '-': standard output)\n"
    "      --pub ENDPOINT     publish alerts on a ZeroMQ PUB socket (topic: the kind)\n"
    "      --alertmanager URL send alerts to the Alertmanager at URL (API v2), e.g.\n"
    "                         http://127.0.0.1:9093; repeatable: each gets every alert\n"
    "      --alertmanager-queue FILE  where alerts not yet delivered persist (default\n"
    "                         stormwatch-alertmanager.queue)\n"
    "      --shards N         detection threads (default, or 0: cores - 1, at least 1)\n"
    "      --ring-size N      records per shard ring (default 65536)\n"
    "      --drop-when-full   shed samples when a shard is behind (counted; nothing is\n"
    "                         judged on the hole), instead of pausing ingest so ZeroMQ\n"
    "                         pushes back on producers\n"
    "      --max-message BYTES  one ZeroMQ message at most (default 16MiB); a larger\n"
    "                         one cuts its producer off (counted)\n"
    "      --drain-timeout D  at SIGTERM, read what is still queued for at most D\n"
    "                         (default 10s), then drain the pipeline and stop\n"
    "      --strict-files     refuse to start on a corrupt state, Alertmanager queue or\n"
    "                         change journal (default: rename it FILE.corrupt-TIME,\n"
    "                         log it and start afresh)\n"
    "      --record FILE      record what was ingested as line protocol\n"
    "      --record-max BYTES rotate the recording at this size (default 1 GiB)\n"
    "      --record-gzip      gzip the recording\n"
    "      --curve-secret FILE, --curve-public FILE\n"
    "                         CurveZMQ server key pair (Z85 files) for ingest sockets\n"
    "      --curve-allow FILE producer public keys allowed to connect (all three\n"
    "                         curve options go together)\n"
    "      --kafka-brokers HOST:PORT,...  read line protocol from Kafka (as well as or\n"
    "                         instead of --ingest), in a consumer group\n"
    "      --kafka-topic T    the topic (messages keyed by User)\n"
    "      --kafka-group G    instances in one group share the partitions (default\n"
    "                         stormwatch)\n"
    "      --kafka-property K=V  a librdkafka setting (repeatable; run.kafka_properties)\n"
    "      --kafka-alerts-topic T  also produce each alert line there, keyed by User\n"
    "      --kafka-changes-topic T  share changes declared over the API with every\n"
    "                         instance reading T (and take theirs)\n"
    "      --kafka-state-topic T  each User's state, in its partition's number: published\n"
    "                         at checkpoints, after alert transitions and when partitions\n"
    "                         go; read back when they come (it needs as many partitions\n"
    "                         as --kafka-topic, compacted)\n"
    "      --kafka-checkpoint D  with a state topic: every User's state out and offsets\n"
    "                         committed to match this often (default 10s)\n"
    "      --stats-every D    a log line of rates, rings and drops this often, e.g. 10s\n"
    "                         (default; 0: off)\n"
    "      --state-every D    save --state this often while running, e.g. 5m (default;\n"
    "                         0: on exit only), so a crash loses little learning\n"
    "      --generator-url URL  the link Alertmanager shows back to stormwatch\n"
    "                         (default: the live console at --http)\n"
    "      --http ADDR:PORT   serve /metrics, /healthz, /readyz, /api/v1/alerts and\n"
    "                         /api/v1/changes there (e.g. 127.0.0.1:9110)\n"
    "      --http-token-file FILE  bearer token for the API's writes (none: refused)\n"
    "      --http-tls-cert FILE, --http-tls-key FILE  serve HTTPS (PEM files)\n"
    "      --changes-journal FILE  where changes declared over the API persist\n"
    "                         (default stormwatch-changes.journal)\n"
    "      --log-level LEVEL  error, warn, info (default) or debug\n"
    "      --log-format FMT   text (default), logfmt or json: one line per event\n"
    "  -h, --help             this help\n"
    "\n"
    "SIGTERM or SIGINT drains what was received, writes the remaining alert lines,\n"
    "saves state and exits 0. SIGHUP reloads the config file and the change register;\n"
    "a bad new one is refused and the old one kept.\n"
    "Exit status: 0 after a clean stop, 1 on a runtime failure, 2 on bad usage,\n"
    "configuration, change register or state file.\n";

const char *run_usage(void)
{
    return usage;
}

/* getopt's code for flag i of the settings table (config.h cfg_run_flag) */
#define FLAG_BASE 256

int dmn_parse_args(int argc, char **argv, run_opts_t *o, run_cfg_t *flags, uint64_t *given)
{
    /* --config and --help, then one option per row of the settings table */
    struct option opts[2 + 64 + 1] = {
        { "config", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
    };
    char shorts[2 * 64 + 4] = "c:h";
    int by_letter[128];
    memset(by_letter, -1, sizeof(by_letter));
    size_t nopts = 2, ns = strlen(shorts);
    cfg_flag_t fl;
    for (size_t i = 0; i < 64 && cfg_run_flag(i, &fl); i++) { /* `given` has 64 bits */
        opts[nopts++] = (struct option){ fl.name, fl.takes_value ? required_argument : no_argument,
                                         NULL, FLAG_BASE + (int)i };
        if (fl.short_opt > 0 && fl.short_opt < 128) {
            by_letter[fl.short_opt] = (int)i;
            shorts[ns++] = (char)fl.short_opt;
            if (fl.takes_value)
                shorts[ns++] = ':';
        }
    }
    shorts[ns] = '\0';
    opts[nopts] = (struct option){ NULL, 0, NULL, 0 };

    *o = (run_opts_t){ 0 };
    *flags = (run_cfg_t){ 0 };
    *given = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
        int i = c >= FLAG_BASE ? c - FLAG_BASE : c > 0 && c < 128 ? by_letter[c] : -1;
        if (c == 'c') {
            o->config = optarg;
            continue;
        }
        if (c == 'h') {
            fputs(usage, stdout);
            return DMN_HELP;
        }
        if (i < 0 || !cfg_run_flag((size_t)i, &fl)) {
            fputs(usage, stderr);
            return SW_EINVAL;
        }
        char err[512];
        if (cfg_run_set(flags, (size_t)i, fl.takes_value ? optarg : NULL, err, sizeof(err)) < 0) {
            fprintf(stderr, "stormwatch run: %s\n", err);
            return SW_EINVAL;
        }
        *given |= UINT64_C(1) << i;
    }
    if (optind < argc) {
        fprintf(stderr, "stormwatch run: unexpected argument '%s'\n%s", argv[optind], usage);
        return SW_EINVAL;
    }
    return SW_OK;
}

int dmn_merge_run_config(run_opts_t *o, cfg_t *c, run_cfg_t *flags, uint64_t given)
{
    /* the flags over the file, then the daemon keeps them: a reload's
     * cfg_t brings a run: section of its own, which is not read */
    cfg_run_override(&c->run, flags, given);
    o->r = c->run;
    c->run = (run_cfg_t){ 0 };
    run_cfg_t *r = &o->r;
    if (!r->shards) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        r->shards = cores > 1 ? (size_t)(cores - 1) : 1;
    }
    static const char *const levels[] = { "error", "warn", "info", "debug" };
    log_set_level(levels[r->log_level]);
    log_set_format((log_format_t)r->log_format); /* the same order (config.h) */
    const char *problem = NULL;
    if (!!r->http_tls_cert != !!r->http_tls_key)
        problem = "HTTPS needs both the certificate and the key";
    else if (r->kafka_state_topic && !r->kafka_topic)
        problem = "--kafka-state-topic moves state with --kafka-topic's partitions: it needs "
                  "--kafka-topic";
    else if (r->kafka_brokers && !r->kafka_topic && !r->kafka_alerts_topic &&
             !r->kafka_changes_topic)
        problem = "--kafka-brokers needs a Kafka topic to read or write";
    else if (r->kafka_changes_topic && !r->http)
        problem = "--kafka-changes-topic shares the change API's changes: it needs --http";
    else if ((r->kafka_topic || r->kafka_alerts_topic || r->kafka_changes_topic) &&
             !r->kafka_brokers)
        problem = "a Kafka topic needs --kafka-brokers";
    else if (r->n_ingest == 0 && !r->kafka_topic)
        problem = "no --ingest endpoint or --kafka-topic given (nor run.ingest or "
                  "run.kafka_topic in a config)";
    else if ((r->curve.secret_key || r->curve.public_key || r->curve.allowed_keys) &&
             !(r->curve.secret_key && r->curve.public_key && r->curve.allowed_keys))
        /* without the allow list libzmq admits any client key: encrypted,
         * but nobody kept out - not what an operator asking for curve wants */
        problem = "CurveZMQ needs the secret key, the public key and the allowed keys together";
    if (problem) {
        fprintf(stderr, "stormwatch run: %s\n", problem);
        return SW_EINVAL;
    }
    if (!r->alerts && !r->pub && !r->n_alertmanager && !(r->alerts = strdup("-")))
        return SW_ENOMEM; /* said by the caller */
    return SW_OK;
}
