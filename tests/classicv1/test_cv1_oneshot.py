#!/usr/bin/env python3
"""test_cv1_oneshot.py -- with persistent_connections = false, hosts of ours
speak to each other as the original did, one frame per connection, and
everything still works: joins, list sync, a broadcast flood, goodbyes."""
import sys
import time

from cv1util import Check, cv1_host, inbox, peers, pid, wait_until


def main():
    ok = Check("test_cv1_oneshot")
    off = "persistent_connections = false;"
    a = cv1_host("oa", extra=off, peer_timeout=6).start()
    b = cv1_host("ob", bootstrap=[a.addr], extra=off, peer_timeout=6).start()
    c = cv1_host("oc", bootstrap=[a.addr], extra=off, peer_timeout=6).start()
    hosts = (a, b, c)
    try:
        pids = {h.name: pid(h) for h in hosts}
        for h in hosts:
            others = {p for n, p in pids.items() if n != h.name}
            wait_until(lambda h=h, o=others: set(peers(h)) == o and
                       all(r["kind"] == "ours" for r in peers(h).values()), 10,
                       "%s's table" % h.name)
        ok(True, "three hosts joined and synced lists without persistent connections")
        bid = b.ctl("cv1", "broadcast", "one frame at a time")["id"]
        for h in hosts:
            wait_until(lambda h=h: [m for m in inbox(h) if m["id"] == bid], 5,
                       "%s delivered" % h.name)
        time.sleep(0.5)
        ok(all(len([m for m in inbox(h) if m["id"] == bid]) == 1 for h in hosts),
           "the broadcast reached each host exactly once")
        # Every connection was one-shot: nothing stays open once answered
        # (polled: on a loaded machine the last answers may take a while).
        deadline = time.time() + 15
        while True:
            open_conns = {h.name: h.ctl("connections").get("rows", []) for h in hosts}
            if all(rows == [] for rows in open_conns.values()) or time.time() > deadline:
                break
            time.sleep(0.2)
        ok(all(rows == [] for rows in open_conns.values()),
           "no connection stays open: %s" % {n: len(r) for n, r in open_conns.items()})
        ok(c.stop() == 0, "c stops")
        wait_until(lambda: pids["oc"] not in peers(a) and pids["oc"] not in peers(b), 5,
                   "c's QUIT")
        ok(True, "c's QUIT reached a and b")
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
