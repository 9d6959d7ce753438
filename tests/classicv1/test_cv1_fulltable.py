#!/usr/bin/env python3
"""test_cv1_fulltable.py -- a host whose peer table is full stays quiet
toward the peers it cannot take.

A CAPA from a pid that is not in the table used to be answered, besides
the CAPA RES, with a CAPA REQ to the pid's address, to check that address
before taking the peer. With a full table the peer never enters, so the
CAPA RES that comes back looked new again and was greeted again: a
CAPA ping-pong at the round-trip rate between every full host and each
peer that knows it, forever. (In a 2,000-node simulation it was over 99%
of all frames.) Here host a holds one slot, taken by c; b joins a and
keeps a in its own table. a must then send only what the protocol needs:
the answers to b's probes, not a stream of greetings."""
import sys
import time

from cv1util import Check, counters, cv1_host, peers, pid, wait_until

WINDOW = 3.0
# a's frames in the window: at most a CAPA RES for each probe b and c send
# (one every peer_timeout / 3 = 2 s each) and a's own probe of c. Before
# the fix it was thousands.
MOST = 12


def main():
    ok = Check("test_cv1_fulltable")
    a = cv1_host("a", max_peers=1, peer_timeout=6).start()
    c = cv1_host("c", bootstrap=[a.addr], peer_timeout=6).start()
    hosts = [a, c]
    try:
        pa, pc = pid(a), pid(c)
        wait_until(lambda: set(peers(a)) == {pc} and set(peers(c)) == {pa}, 15, "a and c paired")
        ok(True, "c fills a's one slot")

        b = cv1_host("b", bootstrap=[a.addr], peer_timeout=6).start()
        hosts.append(b)
        wait_until(lambda: pa in peers(b) and peers(b)[pa]["kind"] == "ours", 15,
                   "b took a as a host of ours")
        ok(set(peers(a)) == {pc}, "a's full table kept c and refused b: %s" % sorted(peers(a)))
        wait_until(lambda: counters(a).get("peers_refused", 0) >= 1, 10, "a counted the refusal")
        ok(True, "a counted b as refused (%d)" % counters(a)["peers_refused"])

        # Let the join's exchanges finish, then count what a sends.
        time.sleep(1.0)
        before = counters(a)["frames_sent"]
        time.sleep(WINDOW)
        sent = counters(a)["frames_sent"] - before
        print("a sent %d frames in %.0f s with a full table and one refused peer" % (sent, WINDOW))
        ok(sent <= MOST, "a sent %d frames in %.0f s (at most %d)" % (sent, WINDOW, MOST))
        ok(set(peers(a)) == {pc} and pa in peers(b), "a still has c, b still has a")
    finally:
        for h in hosts:
            h.stop()
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
