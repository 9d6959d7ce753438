#!/usr/bin/env python3
"""test_cv1_network.py -- 40 maybep2pd hosts running classicv1, each
bootstrapped from one or two others and keeping a small table: a broadcast
reaches all 40 exactly once; after 8 are killed with SIGKILL the survivors
drop them, and a broadcast still reaches every survivor exactly once."""
import os
import random
import re
import sys
import time

from cv1util import Check, counters, cv1_host, peers, pid, wait_until

N = int(os.environ.get("CV1_NET_HOSTS", "40"))
KILL = N // 5
MAX_PEERS = 8
TIMEOUT = 4          # peer_timeout, seconds


def deliveries(h, bid):
    return len(re.findall(r"delivered broadcast %s " % bid, h.log_text()[h.log_offset:]))


def flood(ok, origin, hosts, label):
    bid = origin.ctl("cv1", "broadcast", label)["id"]
    t0 = time.time()
    wait_until(lambda: all(deliveries(h, bid) >= 1 for h in hosts), 20,
               "every host to deliver %s" % label, step=0.2)
    took = time.time() - t0
    time.sleep(1.0)   # late duplicates would show up now
    counts = [deliveries(h, bid) for h in hosts]
    ok(all(c == 1 for c in counts),
       "%s: all %d hosts delivered it exactly once (%.2f s)" % (label, len(hosts), took))
    return bid


def main():
    ok = Check("test_cv1_network")
    rng = random.Random(int(os.environ.get("CV1_NET_SEED", "40")))
    hosts = []
    try:
        for i in range(N):
            boot = [] if i == 0 else [hosts[j].addr for j in
                                      rng.sample(range(i), min(i, rng.choice((1, 2))))]
            h = cv1_host("n%02d" % i, bootstrap=boot, peer_timeout=TIMEOUT,
                         max_peers=MAX_PEERS, log_level="debug",
                         host_settings="timeouts: { connect = 2.0; };")
            hosts.append(h.start())
        pids = [pid(h) for h in hosts]
        ok(len(set(pids)) == N, "%d hosts started with distinct pids" % N)

        # Sparse bootstrap; list exchange fills every table to at least half.
        want = (MAX_PEERS + 1) // 2

        def settled():
            sizes = [len(peers(h)) for h in hosts]
            return min(sizes) >= want and max(sizes) <= MAX_PEERS and sizes
        sizes = wait_until(settled, 30, "tables to fill", step=0.5)
        ok(True, "every table holds %d..%d peers (max_peers %d): %s" % (
            min(sizes), max(sizes), MAX_PEERS, sizes))

        flood(ok, hosts[0], hosts, "first-flood")
        sent = sum(counters(h).get("for_sent", 0) for h in hosts)
        ok(sent < N * (N - 1), "FOR copies sent: %d, the original's scheme needs %d" % (
            sent, N * (N - 1)))

        # Kill a fifth of the network without a goodbye.
        victims = set(rng.sample(range(1, N), KILL))
        for i in victims:
            hosts[i].kill()
        dead = {pids[i] for i in victims}
        alive = [h for i, h in enumerate(hosts) if i not in victims]
        t0 = time.time()

        def dropped():
            return all(not (set(peers(h)) & dead) for h in alive)
        wait_until(dropped, 6 * TIMEOUT, "survivors to drop the dead", step=0.5)
        ok(True, "all %d survivors dropped the %d killed hosts in %.1f s" % (
            len(alive), KILL, time.time() - t0))
        removed = sum(counters(h).get("peers_dead", 0) for h in alive)
        ok(removed >= KILL, "liveness removals counted: %d" % removed)

        # The network heals: survivors keep enough peers and reach each other.
        wait_until(lambda: all(len(peers(h)) >= 1 for h in alive), 20, "survivors keep peers")
        flood(ok, alive[len(alive) // 2], alive, "after-kill")

        for h in alive:
            if h.stop() != 0:
                ok(False, "%s exits 0" % h.name)
        ok(True, "survivors stop cleanly")
    except AssertionError as e:
        ok(False, str(e))
    finally:
        for h in hosts:
            h.cleanup()
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
