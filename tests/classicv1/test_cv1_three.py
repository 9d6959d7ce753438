#!/usr/bin/env python3
"""test_cv1_three.py -- three maybep2pd hosts running classicv1: they join
through one known host, sync their lists, send, broadcast, keep their pid,
peers and inbox across a restart, and quit."""
import sys
import time

from cv1util import Check, counters, cv1_host, inbox, peers, pid, wait_until


def main():
    ok = Check("test_cv1_three")
    a = cv1_host("a", peer_timeout=6).start()
    b = cv1_host("b", bootstrap=[a.addr], peer_timeout=6).start()
    c = cv1_host("c", bootstrap=[a.addr], peer_timeout=6).start()
    hosts = (a, b, c)
    try:
        pa, pb, pc = pid(a), pid(b), pid(c)
        ok(len({pa, pb, pc}) == 3, "three distinct pids")

        # b and c know only a; each asks for more and finds the other.
        for h, others in ((a, {pb, pc}), (b, {pa, pc}), (c, {pa, pb})):
            wait_until(lambda h=h, o=others: set(peers(h)) == o, 10, "%s's table" % h.name)
        ok(True, "every host knows the other two (list exchange)")
        for h in hosts:
            wait_until(lambda h=h: all(r["kind"] == "ours" for r in peers(h).values()),
                       5, "%s: capability exchange" % h.name)
        ok(True, "the capability exchange marked every peer as ours")
        conns = a.ctl("connections").get("rows", [])
        ok(len([r for r in conns if r.get("state") == "open"]) >= 2,
           "persistent connections stay open between our hosts (%d)" % len(conns))

        # A direct message names its sender: our hosts identify their
        # persistent connections.
        b.ctl("cv1", "send", pc, "b to c, direct")
        m = wait_until(lambda: [x for x in inbox(c) if x["text"] == "b to c, direct"], 5,
                       "c got b's message")[0]
        ok(m["kind"] == "direct" and m["from"] == pb, "direct message from b, sender %s" % m["from"])
        ok(not any(x["text"] == "b to c, direct" for x in inbox(a)), "a did not get it")
        code, out, err = c.ctl_raw(["cv1", "send", "no-such-pid", "x"])
        ok(code == 1 and "no peer" in err, "send to an unknown pid fails: %d %r" % (code, err))

        # A broadcast: every host delivers it once, naming the origin.
        r = c.ctl("cv1", "broadcast", "all of you")
        bid = r["id"]
        ok(len(bid) == 16 and r["at_us"] > 0, "broadcast answers its id %s" % bid)
        for h in hosts:
            wait_until(lambda h=h: [x for x in inbox(h) if x["id"] == bid], 5,
                       "%s delivered the broadcast" % h.name)
        time.sleep(0.5)
        for h in hosts:
            got = [x for x in inbox(h) if x["id"] == bid]
            ok(len(got) == 1 and got[0]["from"] == pc and got[0]["text"] == "all of you"
               and got[0]["kind"] == "broadcast", "%s delivered it exactly once" % h.name)
        dups = sum(counters(h).get("duplicate_broadcast", 0) for h in hosts)
        ok(dups >= 1, "the triangle's extra copy was dropped by the dedup cache (%d)" % dups)
        h = a.wait_log(r"delivered broadcast %s from %s hops \d+: all of you" % (bid, pc), 2)
        ok(True, "broadcast delivery logged at info")

        # A restart keeps pid, peers and inbox (save_state/restore_state).
        before = inbox(b)
        ok(b.stop() == 0, "b stops cleanly")
        # b said goodbye; a and c drop it at once.
        wait_until(lambda: pb not in peers(a) and pb not in peers(c), 5, "b's QUIT seen")
        ok(counters(a)["peers_quit"] >= 1, "a counted b's QUIT")
        b.start()
        ok(pid(b) == pb, "b kept its pid across a restart")
        ok(inbox(b) == before, "b kept its inbox across a restart")
        ok(set(peers(b)) >= {pa, pc}, "b kept its peer table across a restart")
        wait_until(lambda: pb in peers(a) and pb in peers(c), 5, "b rejoined")
        ok(True, "after the restart b joins its old peers again")
        r = a.ctl("cv1", "broadcast", "after restart")
        for h in hosts:
            wait_until(lambda h=h: [x for x in inbox(h) if x["id"] == r["id"]], 5,
                       "%s delivered the second broadcast" % h.name)
        ok(True, "a broadcast after the restart reaches all three")

        # Quit: everyone stops; nobody is left with a peer that is gone.
        ok(c.stop() == 0, "c stops")
        wait_until(lambda: pc not in peers(a) and pc not in peers(b), 5, "c's QUIT seen")
        ok(True, "c's QUIT removed it from a and b")
        for h in (a, b):
            ok(h.stop() == 0, "%s stops" % h.name)
    except AssertionError as e:
        ok(False, str(e))
    finally:
        for h in hosts:
            h.cleanup()
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
