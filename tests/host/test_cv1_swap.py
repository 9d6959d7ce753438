#!/usr/bin/env python3
"""test_cv1_swap.py -- a classicv1 host keeps its peer table, its pid and
its inbox across a reload that swaps classicv1 builds, and across a SIGTERM
and start; the peers never notice the swap."""

import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "classicv1"))
from cv1util import Check, cv1_host, inbox, peers, pid, wait_until  # noqa: E402
from mp2ptest import plugin_dir  # noqa: E402

ok = Check("test_cv1_swap")
built = plugin_dir()


def install(private, build):
    """Copy a build over classicv1.so the way an operator does: new file, rename."""
    src = "classicv1.so" if build == "a" else "classicv1_b.so"
    tmp = os.path.join(private, ".new.so")
    shutil.copyfile(os.path.join(built, src), tmp)
    os.rename(tmp, os.path.join(private, "classicv1.so"))


def main():
    a = cv1_host("a", peer_timeout=30)
    private = os.path.join(a.dir, "plugins")
    os.makedirs(private)
    install(private, "a")
    a.plugin_dir = private
    a.write_config()
    a.start()
    b = cv1_host("b", bootstrap=[a.addr], peer_timeout=30).start()
    c = cv1_host("c", bootstrap=[a.addr], peer_timeout=30).start()
    try:
        wait_until(lambda: len(peers(a)) == 2, 15, "a to know b and c")
        before = set(peers(a))
        my_pid = pid(a)
        b.ctl("cv1", "send", my_pid, "before the swap")
        wait_until(lambda: any(e["text"] == "before the swap" for e in inbox(a)), 10, "a's inbox")

        install(private, "b")
        code, out, err = a.ctl_raw(["reload"])
        ok(code == 0, "reload with a new classicv1 build succeeds (%r)" % err.strip())
        ok(a.ctl("plugins")["rows"][0]["version"] == "1.0.0-b", "the new build is the one running")
        ok(set(peers(a)) == before and pid(a) == my_pid,
           "the peer table and the pid survive the swap (%d peers)" % len(before))
        ok(any(e["text"] == "before the swap" for e in inbox(a)), "the inbox survives the swap")
        ok(my_pid in peers(b) and my_pid in peers(c), "the peers still list a: no goodbye was sent")
        c.ctl("cv1", "send", my_pid, "after the swap")
        wait_until(lambda: any(e["text"] == "after the swap" for e in inbox(a)), 10, "delivery after the swap")
        ok(True, "the new build delivers messages")

        ok(a.stop() == 0, "SIGTERM: exit 0")
        a.start()
        ok(pid(a) == my_pid, "after a restart the pid is the same")
        ok(before <= set(peers(a)), "after a restart the peer table is restored")
        ok(any(e["text"] == "before the swap" for e in inbox(a)), "after a restart the inbox is restored")
        for h in (a, b, c):
            ok(h.stop() == 0, "%s exits 0" % h.name)
    finally:
        for h in (a, b, c):
            h.cleanup()


try:
    main()
except Exception as e:
    ok(False, "raised %r" % e)
sys.exit(ok.done())
