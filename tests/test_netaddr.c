/*
 * test_netaddr.c - which endpoints reach this host only (adapters/base/netaddr.c),
 * for the start-up warnings about plaintext endpoints others can reach.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "netaddr.h"

static void test_local_and_not(void **state)
{
    (void)state;
    static const struct {
        const char *ep;
        int local;
    } cases[] = {
        { "tcp://127.0.0.1:5557", 1 },
        { "tcp://127.2.3.4:5557", 1 },
        { "bind:tcp://127.0.0.1:5557", 1 },
        { "connect:tcp://localhost:5557", 1 },
        { "sub:tcp://127.0.0.1:6000#dsp_traffic", 1 },
        { "tcp://[::1]:5557", 1 },
        { "ipc:///run/stormwatch/ingest", 1 },
        { "inproc://x", 1 },
        { "127.0.0.1:9110", 1 },
        { "localhost:9110", 1 },
        { "[::1]:9110", 1 },
        { "http://127.0.0.1:9093", 1 },
        { "http://localhost:9093/", 1 },
        { "tcp://lo;127.0.0.1:5557", 1 },
        { "tcp://*:5557", 0 },
        { "tcp://0.0.0.0:5557", 0 },
        { "tcp://10.1.2.3:5557", 0 },
        { "tcp://dsp.example:5557", 0 },
        { "tcp://[::]:5557", 0 },
        { "0.0.0.0:9110", 0 },
        { "10.0.0.5:9110", 0 },
        { "http://am.example:9093", 0 },
        { "tcp://127.0.0.1.evil.example:5557", 0 },
        { "tcp://127.0.0:5557", 0 },
        { "tcp://eth0;10.0.0.1:5557", 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (net_is_local(cases[i].ep) != cases[i].local)
            fail_msg("%s: want %s", cases[i].ep, cases[i].local ? "local" : "not local");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_local_and_not),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
