#!/usr/bin/env python3
"""test_kademlia_upkeep.py -- the timers, made short: values are republished
by their holders about once per period in all (a holder that receives a
republication skips its own), lifetimes are capped by value_ttl_max, values
expire everywhere when their lifetime ends, and idle buckets are
refreshed."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kadnet import NAME, ctl_or_error, decode_answer, get_all, kad_host, request, wait_routes  # noqa: E402
from mp2ptest import Check, FrameConn, poll, stop_all  # noqa: E402
import mp2ptest  # noqa: E402
# host.security.mode = "plain": a Python client asks the host in plaintext frames.
mp2ptest.Host.default_security = "plain"

UPKEEP = "request_timeout = 1.0; republish = 1.0; refresh = 1.0; value_ttl_max = 30;"
SIZE = 6


def total(hosts, counter):
    return sum(h.ctl(NAME, "stats")[counter] for h in hosts)


def main():
    check = Check("test_kademlia_upkeep")
    hosts = []
    try:
        seed = kad_host("seed", extra=UPKEEP)
        seed.start()
        hosts.append(seed)
        for i in range(SIZE - 1):
            h = kad_host("u%d" % i, [seed.addr], extra=UPKEEP)
            h.start()
            hosts.append(h)
        wait_routes(hosts, SIZE - 1)

        # No values yet, so no lookups touch the buckets: every host must
        # refresh its idle buckets by itself (refresh = 1 s).
        refreshes = poll(lambda: [h.ctl(NAME, "stats")["refreshes"] for h in hosts],
                         lambda r: min(r) >= 1, 10)
        check(min(refreshes) >= 1, "every host refreshed its idle buckets (%s)" % refreshes)

        r = ctl_or_error(hosts[1], "put", "keep", "kept")
        # Sent to all 5 others, answered once 4 hold it.
        check(r.get("stored", 0) >= 4, "put on the other hosts (%s)" % r.get("stored", r))
        keep = "%s/keep" % hosts[1].ctl(NAME, "routes")["writer"]
        r = ctl_or_error(hosts[2], "put", "short", "brief", "2")
        check(r.get("stored", 0) >= 4, "a 2-second value put")
        short = "%s/short" % hosts[2].ctl(NAME, "routes")["writer"]
        check(ctl_or_error(hosts[3], "get", short).get("value") == "brief", "and got at once")
        r = ctl_or_error(hosts[4], "put", "capped", "x", "999999")
        capped_key = bytes.fromhex(r.get("key", "00" * 32))

        before = total(hosts, "republished")
        time.sleep(4.0)
        done = total(hosts, "republished") - before
        # Three values (one expiring after 2 s), a 1 s period, 4 s, six
        # holders each: one republication per value and period is about 10;
        # without the skip it would be about 6 times that.
        # Republications run when due, so two holders due within the
        # same few milliseconds may both go before either's STOR arrives:
        # a loaded machine sees a few more, never the six per period.
        check(4 <= done <= 32, "holders republished %d times in 4 s, not 6 times each period" % done)
        replies = get_all(hosts, short)
        check(all("error" in r and "not found" in r["error"] for r in replies),
              "the 2-second value expired on every host")
        replies = get_all(hosts, keep)
        check(all(r.get("value") == "kept" for r in replies), "the other is still got everywhere")

        # The lifetime asked for is capped by value_ttl_max.
        c = FrameConn(hosts[0].port, hosts[0].ip)
        c.send("Kademlia", "FVAL", request("FVAL", 9, os.urandom(32), "127.0.0.1:9", capped_key))
        proto, mtype, payload = c.recv(5)
        m = decode_answer(mtype, payload)
        check(mtype == "VALU" and m["value"].endswith(b"x") and m["ttl"] <= 30,
              "a 999999 s lifetime was capped to value_ttl_max (%s s left)" % m.get("ttl"))
        c.close()
        stop_all(check, hosts)
    finally:
        for h in hosts:
            h.cleanup()
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
