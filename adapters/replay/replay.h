/*
 * replay.h - `stormwatch replay`: recorded traffic in, alert lines out
 * (contract section 4).
 */
#ifndef SW_REPLAY_H
#define SW_REPLAY_H

/* Runs the replay sub-command; argv[0] is "replay". Returns the exit
 * status: 0 when it ran, 1 on a read or write error, 2 on bad usage,
 * configuration or change register. */
int replay_main(int argc, char **argv);

#endif
