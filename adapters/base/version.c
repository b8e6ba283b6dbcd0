/*
 * version.c - the build's identity (version.h), from what CMake passed in.
 */
#include "version.h"

#ifndef SW_VERSION
#define SW_VERSION "dev"
#endif
#ifndef SW_COMMIT
#define SW_COMMIT "unknown"
#endif
#ifndef SW_BUILD_TYPE
#define SW_BUILD_TYPE "unknown"
#endif
#ifndef SW_FEATURES
#define SW_FEATURES ""
#endif

const char *sw_version(void)
{
    return SW_VERSION;
}

const char *sw_commit(void)
{
    return SW_COMMIT;
}

const char *sw_build_type(void)
{
    return SW_BUILD_TYPE;
}

const char *sw_features(void)
{
    return SW_FEATURES;
}

const char *sw_version_line(void)
{
    return SW_VERSION " (commit " SW_COMMIT ", " SW_BUILD_TYPE "; " SW_FEATURES ")";
}

void sw_version_print(FILE *out)
{
    fprintf(out, "stormwatch %s\ncommit: %s\nbuild: %s\nfeatures: %s\n", sw_version(),
            sw_commit(), sw_build_type(), sw_features());
}
