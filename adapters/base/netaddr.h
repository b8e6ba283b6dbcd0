/*
 * netaddr.h - where an endpoint points: this host only (loopback, a Unix
 * socket, inproc) or beyond, so the daemon can warn at start about
 * plaintext endpoints that other hosts can reach.
 *
 * DESIGN: pure functions of their argument; no lookups, no I/O.
 */
#ifndef SW_NETADDR_H
#define SW_NETADDR_H

/*
 * Non-zero when `endpoint` reaches this host only: a ZeroMQ endpoint
 * ("tcp://127.0.0.1:5557", "ipc://...", "inproc://...", with an optional
 * "bind:", "connect:" or "sub:" prefix and a "#topic"), a URL
 * ("http://[::1]:9093/") or ADDR:PORT ("127.0.0.1:9110"). Loopback means
 * 127.0.0.0/8, ::1 and "localhost"; a wildcard ("*", 0.0.0.0, ::) or any
 * other address is not.
 */
int net_is_local(const char *endpoint);

#endif
