/*
 * check.c - `stormwatch check` (check.h): each file is loaded exactly as
 * the daemon loads it, its problems reported with file, line and key, and
 * one line of verdict per file on standard output.
 */
#include "check.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "changes_yaml.h"
#include "config.h"
#include "err.h"
#include "regcheck.h"

static const char usage[] =
    "usage: stormwatch check [--config FILE] [--changes FILE]...\n"
    "\n"
    "Checks a config file and change registers as `stormwatch run` would load\n"
    "them, without starting anything: errors name the file, line and key;\n"
    "warnings (unknown keys or kinds in a register, conflicts between its\n"
    "changes) are printed but do not fail the check.\n"
    "\n"
    "  -c, --config FILE    the config file (YAML)\n"
    "  -C, --changes FILE   a change register (YAML); repeatable\n"
    "  -h, --help           this help\n"
    "\n"
    "Exit status: 0 when every file is valid, 2 when one is not (or on bad usage).\n";

typedef struct {
    unsigned warnings;
} tally_t;

static void warn(void *ctx, const char *msg)
{
    ((tally_t *)ctx)->warnings++;
    fprintf(stderr, "warning: %s\n", msg);
}

static int check_config(const char *path)
{
    char err[1024];
    cfg_t cfg;
    cfg_defaults(&cfg);
    int rc = cfg_load(path, &cfg, err, sizeof(err));
    cfg_free(&cfg);
    if (rc < 0) {
        fprintf(stderr, "%s\n", err);
        printf("%s: FAILED\n", path);
        return SW_ECONFIG; /* whatever kept it from loading: it does not pass */
    }
    printf("%s: config OK\n", path);
    return SW_OK;
}

static int check_changes(const char *path)
{
    char err[1024];
    tally_t t = { 0 };
    changes_t *reg = changes_create();
    if (!reg) {
        fprintf(stderr, "%s: out of memory\n", path);
        return SW_ENOMEM;
    }
    int rc = changes_load_yaml_ex(path, reg, warn, &t, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "%s\n", err);
        printf("%s: FAILED\n", path);
    } else {
        regcheck_conflicts(reg, path, NULL, NULL, warn, &t);
        printf("%s: change register OK: %zu changes, %zu forecasts, %u warning%s\n", path,
               changes_count(reg), changes_forecast_count(reg), t.warnings,
               t.warnings == 1 ? "" : "s");
    }
    changes_destroy(reg);
    return rc == SW_ENOMEM ? SW_ENOMEM : rc < 0 ? SW_ECONFIG : SW_OK;
}

int check_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "changes", required_argument, NULL, 'C' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = NULL;
    const char **changes = calloc((size_t)argc, sizeof(*changes));
    int nchanges = 0, c;
    if (!changes) {
        fprintf(stderr, "stormwatch check: out of memory\n");
        return sw_exit_status(SW_ENOMEM);
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:C:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'C': changes[nchanges++] = optarg; break;
        case 'h': fputs(usage, stdout); free(changes); return SW_EXIT_OK;
        default: fputs(usage, stderr); free(changes); return sw_exit_status(SW_EINVAL);
        }
    }
    if (optind < argc || (!config && !nchanges)) {
        fprintf(stderr, "stormwatch check: %s\n%s",
                optind < argc ? "unexpected argument" : "nothing to check: give --config or --changes",
                usage);
        free(changes);
        return sw_exit_status(SW_EINVAL);
    }
    int status = config ? check_config(config) : SW_OK;
    for (int i = 0; i < nchanges; i++) {
        int rc = check_changes(changes[i]);
        if (rc < 0 && status != SW_ENOMEM)
            status = rc;
    }
    free(changes);
    return sw_exit_status(status);
}
