#!/usr/bin/env python3
"""test_kademlia_timing.py -- the timers PROTOCOL.md promises.

Bootstrap: a node whose bootstrap node does not answer retries after 1 s,
then 2, 4, 8 ... up to 60 s (section 5.4), so over 12 s it pings at about
0, 1, 3 and 7 s: 4 pings, where a retry on the 30 s maintenance tick would
have sent 1."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kadnet import StandInNode, kad_host, next_ip  # noqa: E402
from mp2ptest import Check, stop_all, wait_until  # noqa: E402
import mp2ptest  # noqa: E402
# host.security.mode = "plain": a stand-in bootstrap node in Python counts plaintext pings.
mp2ptest.Host.default_security = "plain"


class Silent(StandInNode):
    """Reads every PING and answers none; .received("PING") says when."""

    def reply(self, mtype, payload):
        return None


def main():
    check = Check("test_kademlia_timing")
    hosts = []
    try:
        silent = Silent(ip=next_ip())
        a = kad_host("a", [silent.addr], extra="request_timeout = 0.5; refresh = 120; republish = 3600;")
        a.start()
        hosts.append(a)
        # The 12 s are counted from the first ping, not from the start of
        # a host that may take seconds to come up on a loaded machine.
        t0 = wait_until(lambda: silent.received("PING"), 20, "the first bootstrap ping")[0][0]
        time.sleep(max(0.0, t0 + 12.0 - time.time()))
        pings = [t for t, _p in silent.received("PING") if t <= t0 + 12.0]
        times = ["%.1f" % (t - t0) for t in pings]
        print("figure: bootstrap pings to a silent node in 12 s: %d, at %s s "
              "(a 30 s tick would send 1)" % (len(pings), ", ".join(times)), flush=True)
        check(4 <= len(pings) <= 5, "bootstrap retried after 1, 2, 4 s (%d pings)"
              % len(pings))
        gaps = [b - a_ for a_, b in zip(pings, pings[1:])]
        check(all(g2 > g1 * 1.5 for g1, g2 in zip(gaps, gaps[1:])),
              "each wait about doubles: %s" % ["%.1f" % g for g in gaps])

        stop_all(check, hosts)
    finally:
        for h in hosts:
            h.cleanup()
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
