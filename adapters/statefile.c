/*
 * statefile.c - atomic load and save of learned state (statefile.h).
 */
#include "statefile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fileio.h"


int statefile_load(const char *path, engine_t *e, char *err, size_t errlen)
{
    unsigned char *buf;
    size_t len;
    int rc = fio_read(path, STATE_MAX_BYTES, &buf, &len);
    if (rc == 1)
        return 1;
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", path,
                 errno == EINVAL ? "not a regular file" : strerror(errno));
        return errno == ENOMEM ? SW_ENOMEM : SW_EIO;
    }
    char why[256];
    rc = engine_state_load(e, buf, len, why, sizeof(why));
    free(buf);
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", path, rc == SW_ENOMEM ? "out of memory" : why);
        return rc == SW_ENOMEM ? SW_ENOMEM : SW_EPARSE;
    }
    return SW_OK;
}

int statefile_save(const char *path, engine_t *e, char *err, size_t errlen)
{
    unsigned char *buf;
    size_t len;
    if (engine_state_save(e, &buf, &len) < 0) {
        snprintf(err, errlen, "%s: out of memory", path);
        return SW_ENOMEM;
    }
    int rc = fio_replace(path, buf, len);
    if (rc < 0)
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    free(buf);
    return rc < 0 ? SW_EIO : SW_OK;
}
