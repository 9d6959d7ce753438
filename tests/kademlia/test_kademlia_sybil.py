#!/usr/bin/env python3
"""test_kademlia_sybil.py -- one machine posing as hundreds of nodes.

An attacker on one IP runs a listener per made-up node id, each answering
PING as that id, and announces every id to a victim host in requests, so
each id earns the round trip that admits a node to the routing table.
The victim must keep at most 2 entries per address per bucket and 10 per
/24 in its whole table, must not name the attacker's ids in its answers,
and after a restart must not hand out the entries it restored before they
answer again. A second victim with the limits switched off is attacked
the same way, as the baseline: it shows what the attack does without them.
Every host has its own loopback address in its own /24."""

import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kadnet  # noqa: E402
from kadnet import NAME, Net, SybilFarm, decode_answer, id_sharing, next_ip, request  # noqa: E402
from mp2ptest import Check, FrameConn  # noqa: E402
import mp2ptest  # noqa: E402
# host.security.mode = "plain": the Sybil farm's stand-in nodes speak plaintext frames.
mp2ptest.Host.default_security = "plain"

FAKES = 300
CONF = "request_timeout = 1.0; refresh = 600.0; republish = 600.0;"


def attack(victim, farm, attacker_ip):
    """Announces every fake id in a PING from the attacker's address, in
    rounds, until the victim stops pinging new ones."""
    c = FrameConn(victim.port, victim.ip, source=attacker_ip)
    for rnd in range(3):
        for i, (nid, addr) in enumerate(zip(farm.ids, farm.addrs)):
            c.send("Kademlia", "PING", request("PING", random.getrandbits(63) + 1, nid, addr))
            c.recv(10)
            if i % 32 == 31:
                time.sleep(0.05)     # the victim verifies at most 64 at once
        last, deadline = -1, time.time() + 10
        while time.time() < deadline and farm.pings != last:
            last = farm.pings
            time.sleep(0.5)
    c.close()


def fakes_in_table(h, fake_hex):
    rows = h.ctl(NAME, "routes").get("rows", [])
    return sum(r["id"] in fake_hex for r in rows), len(rows)


def fakes_in_answers(h, fake_hex, client_ip, asks=20):
    """FNOD for random targets from an honest client: how many of the
    nodes named are the attacker's."""
    c = FrameConn(h.port, h.ip, source=client_ip)
    fake = named = 0
    for _ in range(asks):
        c.send("Kademlia", "FNOD", request("FNOD", random.getrandbits(63) + 1, os.urandom(32),
                                           "%s:1" % client_ip, os.urandom(32)))
        _, t, p = c.recv(10)
        nodes = decode_answer(t, p)["nodes"]
        named += len(nodes)
        fake += sum(n.hex() in fake_hex for n, _ in nodes)
    c.close()
    return fake, named


def main():
    check = Check("test_kademlia_sybil")
    net = Net(6, seeds=1, extra=CONF)
    hosts = []
    farm = None
    try:
        net.start()
        net.wait_routes(3, timeout=60)
        victim = net.hosts[-1]
        baseline = kadnet.kad_host("baseline", [net.seeds[0].addr],
                                   extra=CONF + " table_per_ip = 0; table_per_prefix = 0;")
        baseline.start()
        hosts.append(baseline)
        attacker_ip, client_ip = next_ip(), next_ip()

        for h, limited in ((victim, True), (baseline, False)):
            self_id = bytes.fromhex(h.ctl(NAME, "routes")["self"])
            ids = [id_sharing(self_id, i % 24) for i in range(FAKES)]
            farm = SybilFarm(attacker_ip, ids)
            farm.start()
            t0 = time.time()
            attack(h, farm, attacker_ip)
            fake_hex = set(i.hex() for i in ids)
            in_table, size = fakes_in_table(h, fake_hex)
            fake, named = fakes_in_answers(h, fake_hex, client_ip)
            label = "limits on " if limited else "limits off"
            print("figure: %s: fake entries one IP got into the table: %d of %d "
                  "(%d ids offered, %d pinged, %.1f s); fake nodes in FNOD answers: %d of %d"
                  % (label, in_table, size, FAKES, farm.pings, time.time() - t0, fake, named),
                  flush=True)
            if limited:
                check(in_table <= 10, "one IP holds at most 10 entries of the table (%d)" % in_table)
                check(named > 0 and fake <= 10 * 20 // 2,
                      "answers name mostly honest nodes (%d of %d fake)" % (fake, named))
                check(farm.pings <= 30, "the victim does not even ping ids over the "
                                        "limits (%d pings for %d ids)" % (farm.pings, FAKES))
                # Restart with the farm gone: what was saved is not handed
                # out before it answers, and what cannot answer goes.
                check(h.stop() == 0, "the victim stops cleanly (saving its routes)")
                farm.stop()
                farm = None
                h.start()
                fake, named = fakes_in_answers(h, fake_hex, client_ip, asks=5)
                check(fake == 0, "right after a restart no restored fake entry is handed out "
                                 "(%d of %d)" % (fake, named))
                deadline = time.time() + 20
                while time.time() < deadline and fakes_in_table(h, fake_hex)[0] > 0:
                    time.sleep(0.3)
                in_table, size = fakes_in_table(h, fake_hex)
                print("figure: after a restart without the attacker: %d fake entries of %d, "
                      "%d restored entries pinged" % (in_table, size,
                                                      h.ctl(NAME, "stats")["restored_pings"]),
                      flush=True)
                check(in_table == 0, "restored entries that no longer answer are dropped")
                check(size >= 3, "the honest entries survive the restart (%d)" % size)
            else:
                farm.stop()
                farm = None
                # The baseline proves the attack is real: without the
                # limits one IP takes a large part of the table.
                check(in_table > 50, "baseline: without the limits one IP gets %d entries" % in_table)
    finally:
        if farm is not None:
            farm.stop()
        for h in hosts:
            h.cleanup()
        net.cleanup()
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
