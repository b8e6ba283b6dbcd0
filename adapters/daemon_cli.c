/*
 * daemon_cli.c - `stormwatch run`'s command line: its help, its flags, and
 * the config file's run: section filling in what the flags did not give
 * (every flag overrides the same setting of the file).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon_int.h"
#include "log.h"
#include "timefmt.h"

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
    "      --pub ENDPOINT     publish alerts on a ZeroMQ PUB socket (topic: the kind)\n"
    "      --alertmanager URL send alerts to the Alertmanager at URL (API v2), e.g.\n"
    "                         http://127.0.0.1:9093; repeatable: each gets every alert\n"
    "      --alertmanager-queue FILE  where alerts not yet delivered persist (default\n"
    "                         stormwatch-alertmanager.queue)\n"
    "      --shards N         detection threads (default: cores - 1, at least 1)\n"
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
    "                         stormwatch); more settings: run.kafka_properties\n"
    "      --kafka-alerts-topic T  also produce each alert line there, keyed by User\n"
    "      --kafka-changes-topic T  share changes declared over the API with every\n"
    "                         instance reading T (and take theirs)\n"
    "      --kafka-state-topic T  each User's state, in its partition's number: published\n"
    "                         at checkpoints, after alert transitions and when partitions\n"
    "                         go; read back when they come (it needs as many partitions\n"
    "                         as --kafka-topic, compacted)\n"
    "      --kafka-checkpoint D  with a state topic: every User's state out and offsets\n"
    "                         committed to match this often (default 10s)\n"
    "      --stats-every SECS a log line of rates, rings and drops (default 10; 0: off)\n"
    "      --state-every D    save --state this often while running, e.g. 5m (default;\n"
    "                         0: on exit only), so a crash loses little learning\n"
    "      --http ADDR:PORT   serve /metrics, /healthz, /readyz, /api/v1/alerts and\n"
    "                         /api/v1/changes there (e.g. 127.0.0.1:9110)\n"
    "      --http-token-file FILE  bearer token for the API's writes (none: refused)\n"
    "      --http-tls-cert FILE, --http-tls-key FILE  serve HTTPS (PEM files)\n"
    "      --changes-journal FILE  where changes declared over the API persist\n"
    "                         (default stormwatch-changes.journal)\n"
    "      --log-level LEVEL  error, warn, info (default) or debug\n"
    "  -h, --help             this help\n"
    "\n"
    "SIGTERM or SIGINT drains what was received, writes the remaining alert lines,\n"
    "saves state and exits 0. SIGHUP reloads the config file and the change register;\n"
    "a bad new one is refused and the old one kept.\n"
    "Exit status: 0 after a clean stop, 1 on a runtime failure, 2 on bad usage,\n"
    "configuration, change register or state file.\n";

int dmn_parse_args(int argc, char **argv, run_opts_t *o)
{
    enum { O_PUB = 256, O_SHARDS, O_RING, O_DROP, O_RECORD, O_RECMAX, O_RECGZ, O_CSEC, O_CPUB,
           O_CALLOW, O_STATS, O_STATE_EVERY, O_KBROKERS, O_KTOPIC, O_KGROUP, O_KALERTS,
           O_KCHANGES, O_KSTATE, O_KCKPT, O_LOG, O_AM, O_HTTP, O_TOKEN, O_JOURNAL, O_AMQ, O_CERT,
           O_KEY, O_MAXMSG, O_DRAIN, O_STRICT };
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "changes", required_argument, NULL, 'C' },
        { "state", required_argument, NULL, 's' },
        { "ingest", required_argument, NULL, 'i' },
        { "alerts", required_argument, NULL, 'a' },
        { "pub", required_argument, NULL, O_PUB },
        { "shards", required_argument, NULL, O_SHARDS },
        { "ring-size", required_argument, NULL, O_RING },
        { "drop-when-full", no_argument, NULL, O_DROP },
        { "max-message", required_argument, NULL, O_MAXMSG },
        { "drain-timeout", required_argument, NULL, O_DRAIN },
        { "strict-files", no_argument, NULL, O_STRICT },
        { "record", required_argument, NULL, O_RECORD },
        { "record-max", required_argument, NULL, O_RECMAX },
        { "record-gzip", no_argument, NULL, O_RECGZ },
        { "curve-secret", required_argument, NULL, O_CSEC },
        { "curve-public", required_argument, NULL, O_CPUB },
        { "curve-allow", required_argument, NULL, O_CALLOW },
        { "stats-every", required_argument, NULL, O_STATS },
        { "state-every", required_argument, NULL, O_STATE_EVERY },
        { "kafka-brokers", required_argument, NULL, O_KBROKERS },
        { "kafka-topic", required_argument, NULL, O_KTOPIC },
        { "kafka-group", required_argument, NULL, O_KGROUP },
        { "kafka-alerts-topic", required_argument, NULL, O_KALERTS },
        { "kafka-changes-topic", required_argument, NULL, O_KCHANGES },
        { "kafka-state-topic", required_argument, NULL, O_KSTATE },
        { "kafka-checkpoint", required_argument, NULL, O_KCKPT },
        { "log-level", required_argument, NULL, O_LOG },
        { "alertmanager", required_argument, NULL, O_AM },
        { "http", required_argument, NULL, O_HTTP },
        { "http-token-file", required_argument, NULL, O_TOKEN },
        { "changes-journal", required_argument, NULL, O_JOURNAL },
        { "alertmanager-queue", required_argument, NULL, O_AMQ },
        { "http-tls-cert", required_argument, NULL, O_CERT },
        { "http-tls-key", required_argument, NULL, O_KEY },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    /* zero, NULL or the markers below: not given, the config file decides */
    *o = (run_opts_t){ .record_max = UINT64_MAX, .stats_every = -1, .state_every = -1,
                       .kafka_checkpoint = -1, .drain_timeout = -1 };
    int c;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:C:s:i:a:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': o->config = optarg; break;
        case 'C': o->changes = optarg; break;
        case 's': o->state = optarg; break;
        case 'i':
            if (o->ningest == MAX_INGEST) {
                fprintf(stderr, "stormwatch run: at most %d --ingest endpoints\n", MAX_INGEST);
                return 2;
            }
            o->ingest[o->ningest++] = optarg;
            break;
        case 'a': o->alerts = optarg; break;
        case O_PUB: o->pub = optarg; break;
        case O_SHARDS:
            o->nshards = (unsigned)strtoul(optarg, &end, 10);
            if (*end || o->nshards < 1 || o->nshards > 256) {
                fprintf(stderr, "stormwatch run: --shards: want 1 to 256, got '%s'\n", optarg);
                return 2;
            }
            break;
        case O_RING:
            o->ring_size = strtoul(optarg, &end, 10);
            if (*end || o->ring_size < CFG_MIN_RING_SIZE || o->ring_size > CFG_MAX_RING_SIZE) {
                fprintf(stderr, "stormwatch run: --ring-size: want 64 or more, got '%s'\n", optarg);
                return 2;
            }
            break;
        case O_DROP: o->drop_when_full = 1; break;
        case O_STRICT: o->strict_files = 1; break;
        case O_MAXMSG:
            if (tf_parse_size(optarg, &o->max_message) < 0 || o->max_message < CFG_MIN_MAX_MESSAGE ||
                o->max_message > CFG_MAX_MAX_MESSAGE) {
                fprintf(stderr, "stormwatch run: --max-message: want a size from 64KiB to 2GiB, "
                                "such as 16MiB, got '%s'\n", optarg);
                return 2;
            }
            break;
        case O_DRAIN:
            if (tf_parse_duration(optarg, &o->drain_timeout) < 0 || o->drain_timeout <= 0) {
                fprintf(stderr, "stormwatch run: --drain-timeout: want a duration such as 10s, "
                                "got '%s'\n", optarg);
                return 2;
            }
            break;
        case O_RECORD: o->record = optarg; break;
        case O_RECMAX:
            if (tf_parse_size(optarg, &o->record_max) < 0) {
                fprintf(stderr, "stormwatch run: --record-max: want a size such as 1GiB or "
                                "1073741824, got '%s'\n", optarg);
                return 2;
            }
            break;
        case O_RECGZ: o->record_gzip = 1; break;
        case O_CSEC: o->curve_secret = optarg; break;
        case O_CPUB: o->curve_public = optarg; break;
        case O_CALLOW: o->curve_allow = optarg; break;
        case O_STATS:
            o->stats_every = strtod(optarg, &end);
            if (*end || o->stats_every < 0) {
                fprintf(stderr, "stormwatch run: --stats-every: want seconds, got '%s'\n", optarg);
                return 2;
            }
            break;
        case O_KBROKERS: o->kafka_brokers = optarg; break;
        case O_KTOPIC: o->kafka_topic = optarg; break;
        case O_KGROUP: o->kafka_group = optarg; break;
        case O_KALERTS: o->kafka_alerts_topic = optarg; break;
        case O_KCHANGES: o->kafka_changes_topic = optarg; break;
        case O_KSTATE: o->kafka_state_topic = optarg; break;
        case O_KCKPT:
            if (tf_parse_duration(optarg, &o->kafka_checkpoint) < 0 || o->kafka_checkpoint <= 0) {
                fprintf(stderr, "stormwatch run: --kafka-checkpoint: want a duration such as 10s, "
                                "got '%s'\n", optarg);
                return 2;
            }
            break;
        case O_STATE_EVERY:
            if (tf_parse_duration(optarg, &o->state_every) < 0) {
                fprintf(stderr, "stormwatch run: --state-every: want a duration such as 5m, got '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case O_LOG:
            if (log_set_level(optarg) < 0) {
                fprintf(stderr, "stormwatch run: --log-level: want error, warn, info or debug\n");
                return 2;
            }
            o->log_level_given = 1;
            break;
        case O_AM:
            if (o->nam == MAX_INGEST) {
                fprintf(stderr, "stormwatch run: at most %d --alertmanager URLs\n", MAX_INGEST);
                return 2;
            }
            o->am[o->nam++] = optarg;
            break;
        case O_AMQ: o->am_queue = optarg; break;
        case O_CERT: o->tls_cert = optarg; break;
        case O_KEY: o->tls_key = optarg; break;
        case O_HTTP: o->http = optarg; break;
        case O_TOKEN: o->http_token_file = optarg; break;
        case O_JOURNAL: o->journal = optarg; break;
        case 'h': fputs(usage, stdout); return -1;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "stormwatch run: unexpected argument '%s'\n%s", argv[optind], usage);
        return 2;
    }
    return 0;
}

/* Keeps a copy of a config string the daemon needs after a reload. */
static const char *own(run_opts_t *o, const char *s)
{
    if (!s || o->nowned == sizeof(o->owned) / sizeof(o->owned[0]))
        return NULL;
    return o->owned[o->nowned++] = strdup(s);
}

int dmn_merge_run_config(run_opts_t *o, const cfg_t *c)
{
    const run_cfg_t *r = &c->run;
    if (o->ningest == 0)
        for (size_t i = 0; i < r->n_ingest && o->ningest < MAX_INGEST; i++)
            o->ingest[o->ningest++] = own(o, r->ingest[i]);
    if (!o->alerts)
        o->alerts = own(o, r->alerts);
    if (!o->pub)
        o->pub = own(o, r->pub);
    if (!o->changes)
        o->changes = own(o, r->changes);
    if (!o->state)
        o->state = own(o, r->state);
    if (!o->record)
        o->record = own(o, r->record);
    if (o->record_max == UINT64_MAX)
        o->record_max = r->record_max;
    o->record_gzip |= r->record_gzip;
    o->drop_when_full |= r->drop_when_full;
    o->strict_files |= r->strict_files;
    if (!o->max_message)
        o->max_message = r->max_message;
    if (o->drain_timeout < 0)
        o->drain_timeout = r->drain_timeout;
    if (!o->nshards)
        o->nshards = (unsigned)r->shards;
    if (!o->nshards) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        o->nshards = cores > 1 ? (unsigned)(cores - 1) : 1;
    }
    if (!o->ring_size)
        o->ring_size = r->ring_size;
    if (o->stats_every < 0)
        o->stats_every = (double)r->stats_every / SW_NS_PER_S;
    if (o->state_every < 0)
        o->state_every = r->state_every;
    if (o->kafka_checkpoint < 0)
        o->kafka_checkpoint = r->kafka_checkpoint;
    if (o->nam == 0)
        for (size_t i = 0; i < r->n_alertmanager && o->nam < MAX_INGEST; i++)
            o->am[o->nam++] = own(o, r->alertmanager[i]);
    if (!o->am_queue)
        o->am_queue = own(o, r->alertmanager_queue);
    if (!o->http)
        o->http = own(o, r->http);
    if (!o->http_token_file)
        o->http_token_file = own(o, r->http_token_file);
    if (!o->tls_cert)
        o->tls_cert = own(o, r->http_tls_cert);
    if (!o->tls_key)
        o->tls_key = own(o, r->http_tls_key);
    if (!o->journal)
        o->journal = own(o, r->changes_journal);
    if (!!o->tls_cert != !!o->tls_key) {
        fprintf(stderr, "stormwatch run: HTTPS needs both the certificate and the key\n");
        return 2;
    }
    if (!o->curve_secret)
        o->curve_secret = own(o, r->curve.secret_key);
    if (!o->curve_public)
        o->curve_public = own(o, r->curve.public_key);
    if (!o->curve_allow)
        o->curve_allow = own(o, r->curve.allowed_keys);
    if (!o->log_level_given) {
        static const char *const levels[] = { "error", "warn", "info", "debug" };
        log_set_level(levels[r->log_level]);
    }
    if (!o->kafka_brokers)
        o->kafka_brokers = own(o, r->kafka_brokers);
    if (!o->kafka_topic)
        o->kafka_topic = own(o, r->kafka_topic);
    if (!o->kafka_group)
        o->kafka_group = own(o, r->kafka_group);
    if (!o->kafka_alerts_topic)
        o->kafka_alerts_topic = own(o, r->kafka_alerts_topic);
    if (!o->kafka_changes_topic)
        o->kafka_changes_topic = own(o, r->kafka_changes_topic);
    if (!o->kafka_state_topic)
        o->kafka_state_topic = own(o, r->kafka_state_topic);
    if (o->kafka_state_topic && !o->kafka_topic) {
        fprintf(stderr, "stormwatch run: --kafka-state-topic moves state with --kafka-topic's "
                        "partitions: it needs --kafka-topic\n");
        return 2;
    }
    o->kafka_props = (const char *const *)r->kafka_properties;
    o->nkafka_props = r->n_kafka_properties;
    if (o->kafka_brokers && !o->kafka_topic && !o->kafka_alerts_topic && !o->kafka_changes_topic) {
        fprintf(stderr, "stormwatch run: --kafka-brokers needs a Kafka topic to read or write\n");
        return 2;
    }
    if (o->kafka_changes_topic && !o->http) {
        fprintf(stderr, "stormwatch run: --kafka-changes-topic shares the change API's changes: "
                        "it needs --http\n");
        return 2;
    }
    if ((o->kafka_topic || o->kafka_alerts_topic || o->kafka_changes_topic) && !o->kafka_brokers) {
        fprintf(stderr, "stormwatch run: a Kafka topic needs --kafka-brokers\n");
        return 2;
    }
    if (o->ningest == 0 && !o->kafka_topic) {
        fprintf(stderr, "stormwatch run: no --ingest endpoint or --kafka-topic given "
                        "(nor run.ingest or run.kafka_topic in a config)\n");
        return 2;
    }
    if ((o->curve_secret || o->curve_public || o->curve_allow) &&
        !(o->curve_secret && o->curve_public && o->curve_allow)) {
        /* without the allow list libzmq admits any client key: encrypted,
         * but nobody kept out - not what an operator asking for curve wants */
        fprintf(stderr, "stormwatch run: CurveZMQ needs the secret key, the public key and the "
                        "allowed keys together\n");
        return 2;
    }
    if (!o->alerts && !o->pub && !o->nam)
        o->alerts = "-";
    return 0;
}

