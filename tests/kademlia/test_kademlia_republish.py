#!/usr/bin/env python3
"""test_kademlia_republish.py -- values are republished on the schedule
PROTOCOL.md section 5.3 gives, measured at the receiving end.

A host holds a value it put, with republish = 2 s. Its only peer is a
stand-in node in Python that answers PING, FNOD (nobody closer) and STOR
(stored), and notes when each STOR arrives. Then:
  - every republication (a node lookup, then a STOR) arrives one period
    after the one before, within the +-10% jitter PROTOCOL.md allows
    (1.8-2.2 s, plus a little for the lookup on a loaded machine), and
    carries the same version with its lifetime counted down;
  - a STOR of the very version the host holds, sent to it, postpones its
    own next republication by a full period from that moment (one holder
    per period republishes)."""

import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kadnet import (StandInNode, answer, ctl_or_error, fetch_record, kad_host, next_ip,  # noqa: E402
                    request, request_body, request_reqid, wait_routes)
from mp2ptest import Check, FrameConn, stop_all  # noqa: E402
import mp2ptest  # noqa: E402
# host.security.mode = "plain": the stand-in node speaks plaintext frames.
mp2ptest.Host.default_security = "plain"

PERIOD = 2.0
SETTINGS = "request_timeout = 1.0; republish = %.1f; refresh = 3600; value_ttl_max = 600;" % PERIOD


class Holder(StandInNode):
    """A stand-in node: PONG, an empty NODS, STOK 0 to every STOR."""

    def reply(self, mtype, p):
        if mtype in ("FNOD", "FVAL"):
            return "NODS", answer(request_reqid(p), self.nid, b"\x00")
        if mtype == "STOR":
            return "STOK", answer(request_reqid(p), self.nid, b"\x00")
        return super().reply(mtype, p)

    def stores(self, key):
        """(arrival time, key, seq, ttl, record) of every STOR of key."""
        out = []
        for t, p in self.received("STOR"):
            body = request_body(p)
            seq, ttl, rlen = struct.unpack("!QII", body[32:48])
            if body[:32] == key:
                out.append((t, key, seq, ttl, body[48:48 + rlen]))
        return out


def wait_stores(holder, key, count, timeout):
    """Until holder has count STORs of key, for at most timeout s (a
    deadline that is part of what is checked, so not scaled)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = holder.stores(key)
        if len(got) >= count:
            return got
        time.sleep(0.02)
    return holder.stores(key)


def main():
    check = Check("test_kademlia_republish")
    hosts = []
    try:
        holder = Holder(ip=next_ip())
        a = kad_host("a", [holder.addr], extra=SETTINGS)
        a.start()
        hosts.append(a)
        check(wait_routes([a], 1) == [1], "the host knows the stand-in node")

        r = ctl_or_error(a, "put", "daily", "news")
        check(r.get("stored") == 1, "the put reached the stand-in node (%s)" % r)
        key = bytes.fromhex(r.get("key", "00" * 32))

        # The put's STOR and four republications.
        got = wait_stores(holder, key, 5, 5 * PERIOD * 1.1 + 5)
        gaps = [b[0] - a_[0] for a_, b in zip(got, got[1:])]
        print("figure: republications arrived after %s s (period %.1f s, +-10%%)" % (
            ", ".join("%.2f" % g for g in gaps), PERIOD), flush=True)
        check(len(got) >= 5, "four republications in %.0f s (%d)" % (5 * PERIOD * 1.1 + 5, len(got) - 1))
        # A republication is a node lookup and then the STOR: on a loaded
        # machine that adds up to a few hundred milliseconds.
        check(all(PERIOD * 0.9 - 0.05 <= g <= PERIOD * 1.1 + 0.4 for g in gaps[:4]),
              "each one period after the last: %s" % ["%.2f" % g for g in gaps[:4]])
        check(len(set(s[2] for s in got)) == 1 and len(set(s[4] for s in got)) == 1,
              "the same version and record each time")
        ttls = [s[3] for s in got]
        check(all(t2 < t1 for t1, t2 in zip(ttls, ttls[1:])) and ttls[0] <= 600,
              "its lifetime counts down: %s" % ttls[:5])

        # A STOR of the very version A holds postpones A's own republication
        # by a full period from that moment.
        seq, rec = got[0][2], got[0][4]
        last = holder.stores(key)[-1][0]
        # Send it half a period after A's last republication, when A's next
        # one is still 0.7-1.2 s away.
        time.sleep(max(0.0, last + PERIOD / 2 - time.time()))
        c = FrameConn(a.port, a.ip)
        sent_at = time.time()
        c.send("Kademlia", "STOR", request("STOR", 77, holder.nid, holder.addr,
                                             key + struct.pack("!QII", seq, 60, len(rec)) + rec))
        proto, mtype, payload = c.recv(5)
        c.close()
        check(mtype == "STOK" and payload[-1] == 0, "A took the same version (STOK 0)")
        before = len(holder.stores(key))
        after = wait_stores(holder, key, before + 1, PERIOD * 1.1 + 3)
        nxt = after[before][0] - sent_at if len(after) > before else float("nan")
        print("figure: next republication %.2f s after the same version was stored "
              "(it was due within %.2f s)" % (nxt, last + PERIOD * 1.1 - sent_at), flush=True)
        check(PERIOD * 0.9 - 0.05 <= nxt <= PERIOD * 1.1 + 0.4,
              "postponed by a full period (%.2f s after the STOR)" % nxt)
        check(fetch_record(a, key) is not None, "A still serves the value")

        stop_all(check, hosts)
    finally:
        for h in hosts:
            h.cleanup()
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
