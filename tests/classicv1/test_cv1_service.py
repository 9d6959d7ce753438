#!/usr/bin/env python3
"""test_cv1_service.py -- another plugin in the same host uses classicv1:
it receives every delivered message on "classicv1.message" and broadcasts
and sends through the classicv1 service; a hot swap of classicv1 keeps its
pid, peers and inbox and says no goodbye. Service 1.1: peer_addr, and quiet
broadcasts of bytes that reach the other host's "classicv1.quiet" whole
and stay out of every inbox, log and "classicv1.message"."""
import sys
import time

from cv1util import Check, counters, cv1_host, inbox, peers, pid, wait_until

SUB = dict(name="sub", file="cv1_subscriber.so", config="")


def main():
    ok = Check("test_cv1_service")
    a = cv1_host("sa", peer_timeout=10)
    a.plugins.append(SUB)
    a.write_config()
    a.start()
    b = cv1_host("sb", bootstrap=[a.addr], peer_timeout=10)
    b.plugins.append(SUB)
    b.write_config()
    b.start()
    try:
        pa, pb = pid(a), pid(b)
        wait_until(lambda: pb in peers(a) and peers(a)[pb]["kind"] == "ours", 5, "a knows b")
        wait_until(lambda: pa in peers(b) and peers(b)[pa]["kind"] == "ours", 5, "b knows a")

        # Delivered messages reach the subscriber.
        b.ctl("cv1", "send", pa, "direct, to a")
        s = wait_until(lambda: a.ctl("sub", "seen")["seen"] == 1 and a.ctl("sub", "seen"), 5,
                       "subscriber saw the direct message")
        ok(s["kind"] == "direct" and s["sender"] == pb and s["text"] == "direct, to a"
           and s["length"] == 12 and s["id"] == "", "direct message published: %s" % s)
        bid = b.ctl("cv1", "broadcast", "flooded")["id"]
        s = wait_until(lambda: a.ctl("sub", "seen")["seen"] == 2 and a.ctl("sub", "seen"), 5,
                       "subscriber saw the broadcast")
        ok(s["kind"] == "broadcast" and s["sender"] == pb and s["id"] == bid
           and s["text"] == "flooded", "broadcast published: %s" % s)

        # The service table.
        me = a.ctl("sub", "self")
        ok(me["pid"] == pa and me["peers"] == 1, "service self_pid and peer_count: %s" % me)
        sid = a.ctl("sub", "broadcast", "via-service")["id"]
        wait_until(lambda: [m for m in inbox(b) if m["id"] == sid], 5, "b got the service broadcast")
        ok(True, "a broadcast started through the service reaches the other host")
        a.ctl("sub", "send", pb, "service-direct")
        m = wait_until(lambda: [m for m in inbox(b) if m["text"] == "service-direct"], 5,
                       "b got the service send")[0]
        ok(m["from"] == pa and m["kind"] == "direct", "service send arrives from a's pid")
        code, out, err = a.ctl_raw(["sub", "send", "nobody", "x"])
        ok(code == 1, "service send to an unknown pid fails")
        code, out, err = a.ctl_raw(["sub", "broadcast", "caf\u00e9"])
        ok(code == 1, "service broadcast of non-ASCII text is refused")

        # Service 1.1.
        ok(a.ctl("sub", "addr", pb).get("addr") == b.addr, "peer_addr names b's address")
        code, out, err = a.ctl_raw(["sub", "addr", "nobody"])
        ok(code == 1, "peer_addr of an unknown pid fails")
        box_a, box_b, seen_b = inbox(a), inbox(b), b.ctl("sub", "seen")["seen"]

        def fnv(n, seed):
            h = 1469598103934665603
            for i in range(n):
                h = ((h ^ ((i * seed) & 0xff)) * 1099511628211) & 0xffffffffffffffff
            return "%016x" % h
        qid = a.ctl("sub", "quiet", "49152", "7")["id"]
        q = wait_until(lambda: b.ctl("sub", "quietseen")["seen"] == 1 and b.ctl("sub", "quietseen"), 5,
                       "b's subscriber got the quiet broadcast")
        ok(q["length"] == 49152 and q["fnv"] == fnv(49152, 7) and q["sender"] == pa,
           "a quiet broadcast of 48 KiB of bytes, zeros included, arrives whole: %s" % q)
        ok(a.ctl("sub", "quietseen")["seen"] == 1, "the sender's own subscriber hears it too")
        time.sleep(0.3)
        ok(inbox(a) == box_a and inbox(b) == box_b, "quiet broadcasts stay out of the inboxes")
        ok(b.ctl("sub", "seen")["seen"] == seen_b, "and off the classicv1.message topic")
        ok(qid not in a.log_text() + b.log_text() and "~q1:" not in a.log_text() + b.log_text(),
           "and out of the logs")
        code, out, err = a.ctl_raw(["sub", "quiet", "49153", "7"])
        ok(code == 1, "a quiet broadcast over MP2P_CLASSICV1_QUIET_MAX is refused")
        code, out, err = a.ctl_raw(["cv1", "broadcast", "~q1:AAAA"])
        ok(code == 1, "a text broadcast cannot pose as a quiet one")

        # Hot swap: a changed config makes the host swap the instance.
        box, table = inbox(a), set(peers(a))
        a.plugins[0]["config"] = a.plugins[0]["config"].replace("peer_timeout = 10;",
                                                                "peer_timeout = 11;")
        a.write_config()
        code, out, err = a.ctl_raw(["reload"])
        ok(code == 0, "reload with a changed classicv1 config: %d %s" % (code, err.strip()))
        ok(pid(a) == pa, "pid kept across the hot swap")
        after = inbox(a)    # a message may still arrive meanwhile: every old entry must stay
        ok(all(m in after for m in box) and len(box) > 0,
           "inbox kept across the hot swap:\n  before %s\n  after  %s" % (box, after))
        ok(set(peers(a)) == table, "peer table kept across the hot swap")
        time.sleep(0.5)
        ok(pa in peers(b) and counters(b).get("peers_quit", 0) == 0,
           "no QUIT on a hot swap: b still has a")
        b.ctl("cv1", "broadcast", "after swap")
        s = wait_until(lambda: a.ctl("sub", "seen")["text"] == "after swap" and a.ctl("sub", "seen"),
                       5, "the new instance publishes too")
        ok(s["seen"] == 4, "the subscriber keeps receiving after the swap (%d)" % s["seen"])
        ok(a.ctl("sub", "broadcast", "new-provider")["id"] != "", "the service is found again after the swap")

        # A subscriber that broadcasts from inside deliver(): its broadcast
        # goes out but is not published back to it, so nothing recurses.
        a.ctl("sub", "relay", "on")
        before = a.ctl("sub", "seen")["seen"]
        b.ctl("cv1", "broadcast", "ping")
        m = wait_until(lambda: [m for m in inbox(b) if m["text"] == "relay:ping"], 5,
                       "b got the relayed broadcast")[0]
        ok(m["from"] == pa and m["kind"] == "broadcast", "a relayed b's broadcast from deliver()")
        time.sleep(0.3)
        s = a.ctl("sub", "seen")
        ok(s["seen"] == before + 1 and s["text"] == "ping",
           "the relay was not published back to its subscriber (%d -> %d)" % (before, s["seen"]))
        ok(len([m for m in inbox(a) if m["text"] == "relay:ping"]) == 1, "a's inbox holds the relay once")
        for h in (a, b):
            ok(h.stop() == 0, "%s stops" % h.name)
    except AssertionError as e:
        ok(False, str(e))
    finally:
        a.cleanup()
        b.cleanup()
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
