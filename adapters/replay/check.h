/*
 * check.h - `stormwatch check`: validates a config file and change
 * registers before they are deployed, as `promtool check config` does.
 */
#ifndef SW_CHECK_H
#define SW_CHECK_H

/* Runs the check sub-command; argv[0] is "check". Returns 0 when every
 * file given is valid (warnings allowed), 2 when one is not or on bad
 * usage. */
int check_main(int argc, char **argv);

#endif
