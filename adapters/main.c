/*
 * main.c - the stormwatch command line: one program, one sub-command per
 * job. Each sub-command parses its own options and returns its exit status.
 */
#include <stdio.h>
#include <string.h>

#include "err.h"

#include "check.h"
#include "curve.h"
#include "daemon.h"
#include "replay.h"
#include "sim.h"
#include "version.h"

#ifdef SW_JEMALLOC
/*
 * jemalloc's options for this program, read when it starts (MALLOC_CONF in
 * the environment still overrides them). A background thread returns the
 * pages of freed memory to the system. Without it jemalloc does so only on
 * its own calls, and the daemon's hot path allocates nothing: the buffers
 * a ring or table leaves behind when it grows (the reorder FIFO, the held
 * summaries, the series arrays: 110 MB at 1M series) stayed resident for
 * as long as the daemon ran.
 */
const char *malloc_conf = "background_thread:true";
#endif

static const char usage[] =
    "usage: stormwatch COMMAND [OPTIONS]\n"
    "\n"
    "Watches the per-User message traffic of the DCC's Data Service Provider and\n"
    "raises an alert when one User's traffic threatens the shared service: storms,\n"
    "blocked routes, silences and a stalled feed, each correlated with the declared\n"
    "change that explains it.\n"
    "\n"
    "commands:\n"
    "  run        the live detector: ZeroMQ ingest, alert lines as they happen\n"
    "  replay     detect in recorded traffic and print alert lines\n"
    "  simulate   generate realistic traffic, a change register and the truth\n"
    "  keygen     write a CurveZMQ key pair for encrypted, authorised ingest\n"
    "  check      validate a config file and change registers before deploying them\n"
    "  help CMD   the options of a command\n"
    "\n"
    "  -h, --help     this help\n"
    "  -V, --version  print the version\n";

/* `stormwatch keygen DIR NAME`: a CurveZMQ key pair for the daemon or a producer. */
static int keygen_main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("usage: stormwatch keygen DIR NAME\n\n"
               "Writes a CurveZMQ key pair: DIR/NAME.key (the secret, mode 0600) and\n"
               "DIR/NAME.pub (Z85). Never overwrites an existing file. The daemon takes\n"
               "its pair with --curve-secret/--curve-public; producers' .pub files go,\n"
               "one key a line, into the --curve-allow file.\n");
        return SW_EXIT_OK;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: stormwatch keygen DIR NAME\n");
        return SW_EXIT_USAGE;
    }
    char err[512];
    int rc = curve_keygen(argv[1], argv[2], err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "stormwatch keygen: %s\n", err);
        return sw_exit_status(rc);
    }
    printf("wrote %s/%s.key and %s/%s.pub\n", argv[1], argv[2], argv[1], argv[2]);
    return SW_EXIT_OK;
}

static const struct {
    const char *name;
    int (*main)(int argc, char **argv);
} commands[] = {
    { "run", run_main },
    { "replay", replay_main },
    { "simulate", sim_main },
    { "keygen", keygen_main },
    { "check", check_main },
};

static int run_command(const char *name, int argc, char **argv)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].main(argc, argv);
    fprintf(stderr, "stormwatch: unknown command '%s'\n\n%s", name, usage);
    return SW_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return SW_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        fputs(usage, stdout);
        return SW_EXIT_OK;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        sw_version_print(stdout);
        return SW_EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0) {
        if (argc < 3) {
            fputs(usage, stdout);
            return SW_EXIT_OK;
        }
        char *args[] = { argv[2], "--help", NULL };
        return run_command(argv[2], 2, args);
    }
    return run_command(cmd, argc - 1, argv + 1);
}
