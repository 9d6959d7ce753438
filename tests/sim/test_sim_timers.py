#!/usr/bin/env python3
"""test_sim_timers.py -- kademlia's slow timers, run by maybep2psim in
virtual time and read from its frame trace (network.trace, frames.csv).

A real-process test of these would take minutes; the simulator runs the
real kademlia.so through them in well under a second.

- Bootstrap backoff (PROTOCOL.md section 5.4): node 0's only bootstrap
  address is node 1's, and node 1 joins only at the end of the run
  (join_every), so for ten virtual minutes that address is dead: nothing
  listens there, every dial to it times out (connect timeout 0.5 s). Node
  0 must ping it at start and then after 1, 2, 4, 8, 16, 32 s and every
  60 s after that, to the microsecond: each retry is due at an exact time,
  and the simulator's clock has no jitter to hide a late one.
- Republication (section 5.3): node 0 puts one value on a network of
  three; every `republish` seconds (here 100, each time +-10%) one holder
  looks the key up and stores it on the other two, and the STORs it sends
  postpone the others' republication by a full period. So the republishing
  bursts are 90 to 110 s apart, each from one node to the two others. The
  maintenance tick is 25 s here: a republication that waited for the tick
  instead of running when due would come up to 25 s late.

Exit 77 (skipped) when maybep2psim or kademlia.so is not built."""

import csv
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
NODE0, NODE1, NODE2 = "127.0.0.1:4000", "127.0.1.1:4000", "127.0.2.1:4000"

# Node 1 joins at 599 s, after node 0's last retry of the run (543 s).
BACKOFF = """
nodes = 2;
seed = 1;
duration = 600.0;
sample_every = 60.0;
join_every = 599.0;
host = { log_level = "error"; plugin_dir = "%(plugins)s"; timeouts = { connect = 0.5; }; };
plugins = ( { name = "kad"; file = "kademlia.so";
              config = { bootstrap = [ "%(dead)s" ]; }; } );
network = { latency = { model = "constant"; rtt_ms = 1.0; }; trace = true; };
workload = ( );
"""

REPUBLISH = 100.0
REPUBLICATION = """
nodes = 3;
seed = %(seed)d;
duration = 1000.0;
sample_every = 100.0;
join_every = 1.0;
host = { log_level = "error"; plugin_dir = "%(plugins)s"; };
plugins = ( { name = "kad"; file = "kademlia.so"; config = { republish = %(republish)s; }; } );
network = { latency = { model = "constant"; rtt_ms = 1.0; }; trace = true; };
workload = ( { at = 10.0; node = 0; command = "kad put --immutable timers"; } );
"""


def run(tmp, name, text):
    """Runs one scenario: (frames.csv rows, summary line, stderr), or rows None."""
    conf = os.path.join(tmp, name + ".conf")
    with open(conf, "w") as f:
        f.write(text)
    out = os.path.join(tmp, name)
    p = subprocess.run([SIM, "-c", conf, "-o", out], capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        return None, p.stdout.strip(), p.stderr.strip()[-300:]
    with open(os.path.join(out, "frames.csv")) as f:
        rows = list(csv.DictReader(f))
    return rows, p.stdout.strip(), p.stderr


def gaps(times):
    return [round(b - a, 6) for a, b in zip(times, times[1:])]


def check_backoff(check, tmp, plugins):
    rows, line, err = run(tmp, "backoff", BACKOFF % dict(plugins=plugins, dead=NODE1))
    if not check(rows is not None, "the backoff run ends (%s)" % err):
        return
    pings = [r for r in rows if r["type"] == "PING"]
    check(len(pings) == len(rows) and all(
        r["node"] == "0" and r["peer"] == NODE1 and r["protocol"] == "Kademlia" for r in pings),
        "every frame of the run is a PING from node 0 to the dead address (%d frames)" % len(rows))
    times = [float(r["at_s"]) for r in pings]
    # 0, 1, 3, 7, 15, 31, then every 60 s from 63: 123, 183, ... 543.
    want = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0] + [60.0] * 8
    print("bootstrap pings at %s s" % ", ".join("%g" % t for t in times))
    check(times[:1] == [0.0], "the first ping goes at start: %s" % times[:1])
    check(gaps(times) == want, "retries 1, 2, 4, 8, 16, 32 s apart, then 60 s: %s"
          % gaps(times))


def bursts(rows):
    """STOR frames grouped by who sent them within a second: (start, node,
    peers) per burst, in time order."""
    out = []
    for r in rows:
        if r["type"] != "STOR":
            continue
        at = float(r["at_s"])
        if out and out[-1][1] == r["node"] and at - out[-1][0] < 1.0:
            out[-1][2].append(r["peer"])
        else:
            out.append((at, r["node"], [r["peer"]]))
    return out


def check_republication(check, tmp, plugins, seed):
    rows, line, err = run(tmp, "repub-%d" % seed, REPUBLICATION % dict(
        plugins=plugins, seed=seed, republish=REPUBLISH))
    if not check(rows is not None, "the republication run (seed %d) ends (%s)" % (seed, err)):
        return
    b = bursts(rows)
    addr = {"0": NODE0, "1": NODE1, "2": NODE2}
    print("seed %d: STOR bursts at %s" % (seed, ", ".join("%.3f (node %s)" % (t, n)
                                                        for t, n, _ in b)))
    check(len(b) >= 2 and b[0][1] == "0" and 10.0 <= b[0][0] < 10.1,
          "seed %d: the put stores at 10 s from node 0" % seed)
    check(all(sorted(p) == sorted(set(addr.values()) - {addr[n]}) for _, n, p in b),
          "seed %d: each burst is one holder storing on the two others" % seed)
    # From one burst's first STOR to the next: the next republisher's due
    # time was drawn in [0.9, 1.1] x republish when it last republished or
    # was stored on, and its lookup takes a round trip (1 ms) before the
    # STOR; 10 ms covers that.
    g = gaps([t for t, _, _ in b])
    check(all(0.9 * REPUBLISH <= x <= 1.1 * REPUBLISH + 0.01 for x in g),
          "seed %d: republications %g to %g s apart: %s"
          % (seed, 0.9 * REPUBLISH, 1.1 * REPUBLISH, g))
    check(9 <= len(g) <= 11, "seed %d: %d republications in 990 s" % (seed, len(g)))


def main():
    if not sim_built("plugins", "kademlia", ".libs", "kademlia.so"):
        return 77
    check = Check("test_sim_timers")
    plugins = plugin_dir()
    tmp = tempfile.mkdtemp(prefix="simtimers-")
    try:
        check_backoff(check, tmp, plugins)
        for seed in (1, 2, 3):
            check_republication(check, tmp, plugins, seed)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
