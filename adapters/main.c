/*
 * main.c - the stormwatch command line: one program, one sub-command per
 * job. Each sub-command parses its own options and returns its exit status.
 */
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "replay.h"
#include "sim.h"

#ifndef SW_VERSION
#define SW_VERSION "dev"
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
    "  help CMD   the options of a command\n"
    "\n"
    "  -h, --help     this help\n"
    "  -V, --version  print the version\n";

static const struct {
    const char *name;
    int (*main)(int argc, char **argv);
} commands[] = {
    { "run", run_main },
    { "replay", replay_main },
    { "simulate", sim_main },
};

static int run_command(const char *name, int argc, char **argv)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].main(argc, argv);
    fprintf(stderr, "stormwatch: unknown command '%s'\n\n%s", name, usage);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("stormwatch %s\n", SW_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0) {
        if (argc < 3) {
            fputs(usage, stdout);
            return 0;
        }
        char *args[] = { argv[2], "--help", NULL };
        return run_command(argv[2], 2, args);
    }
    return run_command(cmd, argc - 1, argv + 1);
}
