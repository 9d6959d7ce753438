#!/usr/bin/env python3
"""test_kademlia_net.py -- 60 real maybep2pd hosts running the kademlia plugin
on loopback: they bootstrap through three seeds, values put at random hosts
are got from every host, 12 hosts are SIGKILLed and every value is still got
from every survivor, and hosts restarted from their state_dir (cleanly, and
after a SIGKILL) answer lookups while every bootstrap node is down."""

import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kadnet import Net, NAME, ctl_or_error, parallel, random_id  # noqa: E402
from mp2ptest import Check, poll  # noqa: E402

SIZE = int(os.environ.get("KAD_TEST_HOSTS", "60"))
VALUES = 20
KILL = SIZE // 5


def get_everywhere(check, hosts, values, what):
    """Gets every value from every host; one check per value."""
    jobs = [(h, k) for h in hosts for k in values]
    replies = parallel(lambda j: ctl_or_error(j[0], "get", j[1]), jobs)
    bad = {}
    for (h, k), r in zip(jobs, replies):
        if r.get("value") != values[k]:
            bad.setdefault(k, []).append("%s: %s" % (h.name, r))
    for k in values:
        check(k not in bad, "%s: %s got from all %d hosts%s" % (
            what, k.split("/")[-1], len(hosts), "" if k not in bad else " (failed on %s)" % bad[k][:3]))
    return replies


def main():
    random.seed(int(os.environ.get("KAD_TEST_SEED", "4")))
    check = Check("test_kademlia_net")
    net = Net(SIZE)
    t0 = time.time()
    try:
        net.start()
        counts = net.wait_routes(min(20, SIZE - 1), timeout=60)
        check(min(counts) >= min(20, SIZE - 1),
              "all %d hosts joined: fewest known nodes %d, most %d (%.1f s)" % (
                  SIZE, min(counts), max(counts), time.time() - t0))
        # Nobody was told of anyone but the seeds: the rest came from lookups.
        seeds = set(s.addr for s in net.seeds)
        routes = net.hosts[-1].ctl(NAME, "routes")
        check(any(r["addr"] not in seeds for r in routes.get("rows", [])),
              "a late joiner learned of non-seed nodes")

        # Values are signed by their writer: another host gets one as
        # WRITER/NAME, WRITER being the putter's key.
        values, names, putters = {}, {}, {}
        for i in range(VALUES):
            h = random.choice(net.hosts)
            key, value = "key-%d" % i, "value-%d-%s" % (i, random_id()[:12])
            r = ctl_or_error(h, "put", key, value)
            # Sent to 20 nodes, answered once 4 hold it.
            check(r.get("stored", 0) >= 4, "put %s at %s stored on %s nodes" % (
                key, h.name, r.get("stored", r)))
            names[key] = "%s/%s" % (h.ctl(NAME, "routes")["writer"], key)
            putters[key] = h
            values[names[key]] = value
        t1 = time.time()
        replies = get_everywhere(check, net.hosts, values, "stable")
        # Every get runs a lookup; a host holding a copy answers with the
        # newer of its own and the one found.
        remote = [r for r in replies if r.get("local") == 0]
        hops = sorted(r["hops"] for r in replies if "hops" in r) or [0]
        print("# %d gets in %.1f s, %d answered with a peer's copy, hops median %d max %d" % (
            len(replies), time.time() - t1, len(remote), hops[len(hops) // 2], hops[-1]))
        check(hops[-1] <= 6, "lookups took at most 6 hops (max %d)" % hops[-1])

        # A newer write replaces the older everywhere.
        h = putters["key-0"]
        values[names["key-0"]] = "rewritten"
        ctl_or_error(h, "put", "key-0", "rewritten")

        # Routes files are written every 10 s at most: wait for one on the
        # host that will be killed and restarted from it.
        victims = random.sample(net.hosts[len(net.seeds):], KILL)
        routes_file = os.path.join(victims[0].state_dir, NAME, "routes")
        check(poll(lambda: os.path.exists(routes_file), bool, 30, 0.5), "a routes file was written")
        for v in victims:
            v.kill()
        survivors = net.alive()
        t2 = time.time()
        get_everywhere(check, survivors, values, "after SIGKILL of %d" % KILL)
        print("# %d gets after the kill in %.1f s" % (len(survivors) * len(values), time.time() - t2))

        # Restart from state with every bootstrap node down.
        clean = random.choice([h for h in survivors if h not in net.seeds])
        check(clean.stop() == 0, "%s stopped cleanly" % clean.name)
        for s in net.seeds:
            s.stop()
        for h in (clean, victims[0]):
            h.start()
            stats = h.ctl(NAME, "stats")
            check(stats["restored_nodes"] > 0 and stats["bootstrap_pings"] == 0,
                  "%s restarted with %d nodes from its state_dir and pinged no bootstrap node"
                  % (h.name, stats["restored_nodes"]))
            r = ctl_or_error(h, "lookup", random_id())
            check(r.get("answered", 0) >= 10, "%s answers a lookup after restart (%s nodes)" % (
                h.name, r.get("answered", r)))
            for key in ("key-1", "key-7"):
                r = ctl_or_error(h, "get", names[key])
                check(r.get("value") == values[names[key]], "%s gets %s after restart" % (h.name, key))
            stats = h.ctl(NAME, "stats")
            check(stats["bootstrap_pings"] == 0, "%s still never pinged a bootstrap node" % h.name)
        check(clean.ctl(NAME, "stats")["values"] > 0, "the clean restart kept its values")
        bad = sum(h.ctl(NAME, "stats")["bad_payload"] for h in net.alive())
        check(bad == 0, "no host saw a malformed payload from a peer (%d)" % bad)
        print("# total %.1f s" % (time.time() - t0))
    finally:
        net.cleanup()
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
