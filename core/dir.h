/*
 * dir.h - the one encoding of a direction: southbound (User -> DSP: the
 * Service Requests), northbound (DSP -> User: responses and device
 * alerts), and both (a feed stall). A set of directions (a change's
 * `affects`) is a mask of DIR_BIT()s.
 */
#ifndef SW_DIR_H
#define SW_DIR_H

enum { DIR_SOUTH = 0, DIR_NORTH = 1, DIR_BOTH = 2 };

#define DIR_BIT(d) (1u << (d))

/* "south", "north" or "both" (anything else). */
static inline const char *dir_name(int dir)
{
    return dir == DIR_NORTH ? "north" : dir == DIR_SOUTH ? "south" : "both";
}

#endif
