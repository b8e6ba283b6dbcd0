/*
 * daemon.h - `stormwatch run`: the live detector (contract section 5).
 */
#ifndef SW_DAEMON_H
#define SW_DAEMON_H

/* Runs the daemon; argv[0] is "run". Returns the exit status: 0 after a
 * clean stop, 1 on a runtime failure, 2 on bad usage or configuration. */
int run_main(int argc, char **argv);

/* `stormwatch run --help`: a static string. */
const char *run_usage(void);

#include <stdio.h>

/* The daemon's metrics in Prometheus text format, and its firing alerts as
 * a JSON array (malloc'd): safe from any thread (the HTTP server's). */
void daemon_write_metrics(void *daemon, FILE *out);
char *daemon_alerts_json(void *daemon);

#endif
