/*
 * netaddr.c - is an endpoint this host only (netaddr.h).
 */
#include "netaddr.h"

#include <string.h>
#include <strings.h>

/* Is the host part [h, h + n) a loopback address or name? */
static int host_is_loopback(const char *h, size_t n)
{
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (n == 9 && strncasecmp(h, "localhost", 9) == 0)
        return 1;
    if (n == 3 && memcmp(h, "::1", 3) == 0)
        return 1;
    if (n < 7 || strncmp(h, "127.", 4) != 0) /* 127.0.0.0/8, dotted quad */
        return 0;
    int dots = 0;
    for (size_t i = 0; i < n; i++) {
        if (h[i] == '.')
            dots++;
        else if (h[i] < '0' || h[i] > '9')
            return 0;
    }
    return dots == 3;
}

int net_is_local(const char *endpoint)
{
    if (!endpoint)
        return 1;
    static const char *const prefixes[] = { "bind:", "connect:", "sub:" };
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (strncmp(endpoint, prefixes[i], strlen(prefixes[i])) == 0)
            endpoint += strlen(prefixes[i]);
    if (strncmp(endpoint, "ipc://", 6) == 0 || strncmp(endpoint, "inproc://", 9) == 0)
        return 1;
    const char *host = strstr(endpoint, "://");
    host = host ? host + 3 : endpoint;
    /* the host ends at the port's colon (the last one outside brackets),
     * a path, a topic or the end; tcp://eth0;HOST:PORT binds a source */
    const char *semi = strchr(host, ';');
    if (semi)
        host = semi + 1;
    const char *end = host + strcspn(host, "/#?");
    const char *colon = NULL;
    int in_brackets = 0;
    for (const char *p = host; p < end; p++) {
        if (*p == '[')
            in_brackets = 1;
        else if (*p == ']')
            in_brackets = 0;
        else if (*p == ':' && !in_brackets)
            colon = p;
    }
    if (colon && host[0] != '[' && memchr(host, ':', (size_t)(colon - host)))
        colon = NULL; /* a bare IPv6 address: no port to cut */
    if (colon)
        end = colon;
    return host_is_loopback(host, (size_t)(end - host));
}
