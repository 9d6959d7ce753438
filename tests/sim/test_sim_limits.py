#!/usr/bin/env python3
"""test_sim_limits.py -- the daemon's connection limits and the scenario's
dial failures, applied by maybep2psim and counted exactly.

Small scenarios of the test plugin (tp_good.so) with a constant 20 ms
round trip, so every connect completes 20 ms after its dial and every
count below follows from the daemon's rules (conn.c's conn_admit,
dial.c's max_outbound) by hand:
  - max_inbound 3, seven nodes asking node 0 a second apart: three
    connections in, four refused (refused_max_inbound 4);
  - max_inbound 1, two nodes dialling node 0 in the same instant: the
    second evicts the first, which has sent no frame yet (evicted_silent
    1, as the daemon evicts silent connections), and a later third dial
    finds the second talking and is refused;
  - max_connections_per_ip 2, five one-shot connections from one node at
    once: two in, three refused (refused_per_ip 3);
  - max_outbound 2: the same five from the dialler's side, three refused
    before they dial (dial_refused_outbound 3);
  - dial_fail 0.25 over 400 dials: about a quarter fail after the connect
    timeout, the same number for the same seed, another for another seed.
The summary.json "network" object carries the counts.

Exit 77 (skipped) when maybep2psim or the test plugin is not built."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from mp2ptest import Check, builddir, plugin_dir, sim_built  # noqa: E402

SIM = os.path.join(builddir, "maybep2psim")
NODE0 = "127.0.0.1:4000"

SCENARIO = """
nodes = %(nodes)d;
seed = %(seed)d;
duration = %(duration)s;
sample_every = 10.0;
host = {
  log_level = "error"; plugin_dir = "%(plugins)s";
  limits = { %(limits)s };
  timeouts = { connect = 2.0; idle = 300.0; };
};
plugins = ( { name = "tp"; file = "tp_good.so"; config = { }; } );
network = { latency = { model = "constant"; rtt_ms = 20.0; }; dial_fail = %(dial_fail)s; };
workload = ( %(workload)s );
"""


def run(tmp, name, nodes, workload, limits="", dial_fail=0.0, seed=1, duration=30.0):
    conf = os.path.join(tmp, name + ".conf")
    with open(conf, "w") as f:
        f.write(SCENARIO % dict(nodes=nodes, seed=seed, duration=duration, plugins=plugin_dir(),
                                limits=limits, dial_fail=dial_fail,
                                workload=",\n  ".join(workload)))
    out = os.path.join(tmp, name)
    p = subprocess.run([SIM, "-c", conf, "-o", out], capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        return None, p.stderr.strip()[-300:]
    with open(os.path.join(out, "summary.json")) as f:
        return json.load(f), p.stderr


def cmd(at, node, command):
    return '{ at = %s; node = %d; command = "%s"; }' % (at, node, command)


def network(check, tmp, name, nodes, what, workload, **settings):
    """Runs one scenario, checks that it ends, prints and returns its
    summary's "network" totals (None if the run failed)."""
    s, err = run(tmp, name, nodes, workload, **settings)
    check(s is not None, "the %s run ends (%s)" % (what, err))
    if s is None:
        return None
    print("%s:" % what, s["network"])
    return s["network"]


def main():
    if not sim_built("tests", "plugins", ".libs", "tp_good.so"):
        return 77
    check = Check("test_sim_limits")
    tmp = tempfile.mkdtemp(prefix="simlim-")
    try:
        # max_inbound: the first three askers stay connected (idle 300 s).
        net = network(check, tmp, "inbound", 8, "max_inbound 3, 7 askers",
                      [cmd(float(i), i, "tp ask " + NODE0) for i in range(1, 8)],
                      limits="max_inbound = 3;")
        if net:
            check(net["dials"] == 7 and net["refused_max_inbound"] == 4 and
                  net["evicted_silent"] == 0 and net["refused_per_ip"] == 0,
                  "7 dials, 4 refused at max_inbound, none evicted: %s" % net)

        # Eviction: two dials in the same instant, then a third later.
        net = network(check, tmp, "evict", 3, "max_inbound 1, two at once, one later",
                      [cmd(1.0, 1, "tp ask " + NODE0), cmd(1.0, 2, "tp ask " + NODE0),
                       cmd(5.0, 1, "tp ask " + NODE0)],
                      limits="max_inbound = 1;")
        if net:
            check(net["dials"] == 3 and net["evicted_silent"] == 1 and
                  net["refused_max_inbound"] == 1,
                  "the silent first connection evicted, the later one refused: %s" % net)

        # max_connections_per_ip: five one-shot connections at once.
        net = network(check, tmp, "perip", 2, "max_connections_per_ip 2, five at once",
                      [cmd(1.0, 1, "tp hello %s 5" % NODE0)],
                      limits="max_connections_per_ip = 2;")
        if net:
            check(net["dials"] == 5 and net["refused_per_ip"] == 3 and
                  net["refused_max_inbound"] == 0,
                  "5 dials, 3 refused per IP: %s" % net)

        # max_outbound: refused before any dial.
        net = network(check, tmp, "outbound", 2, "max_outbound 2, five at once",
                      [cmd(1.0, 1, "tp hello %s 5" % NODE0)],
                      limits="max_outbound = 2;")
        if net:
            check(net["dials"] == 2 and net["dial_refused_outbound"] == 3,
                  "2 dials, 3 refused at max_outbound: %s" % net)

        # dial_fail: 400 one-shot dials, one every 0.5 s.
        work = ['{ at = 1.0; every = 0.5; repeat = 400; node = 1; command = "tp hello %s 1"; }'
                % NODE0]
        counts = {}
        for name, seed, fail in (("fail-a", 1, 0.25), ("fail-b", 1, 0.25), ("fail-c", 2, 0.25),
                                 ("fail-0", 1, 0.0)):
            s, err = run(tmp, name, 2, work, dial_fail=fail, seed=seed, duration=210.0)
            check(s is not None, "the dial_fail %s run (seed %d) ends (%s)" % (fail, seed, err))
            counts[name] = s["network"] if s else {}
        a, b, c, z = (counts[k] for k in ("fail-a", "fail-b", "fail-c", "fail-0"))
        if a and b and c and z:
            share = a["dial_failures"] / a["dials"]
            print("dial_fail 0.25: %d of %d dials failed (%.3f); seed 2: %d; dial_fail 0: %d"
                  % (a["dial_failures"], a["dials"], share, c["dial_failures"], z["dial_failures"]))
            # Binomial(400, 0.25): a deviation of 8.7; 0.07 is 3.2 of them.
            check(a["dials"] == 400 and abs(share - 0.25) < 0.07,
                  "about a quarter of the dials fail: %.3f" % share)
            check(a == b, "the same seed fails the same dials")
            check(c["dial_failures"] != a["dial_failures"],
                  "another seed fails others (%d against %d)"
                  % (c["dial_failures"], a["dial_failures"]))
            check(z["dials"] == 400 and z["dial_failures"] == 0, "dial_fail 0: no dial fails")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
