#!/usr/bin/env python3
"""test_sim_engine.py -- maybep2psim's engine: a small kademlia network
that must find every value it stored, byte-identical output for one seed
and different output for another, and a node killed by churn whose stale
instance handle a plugin still uses.

Exit 77 (skipped) when maybep2psim or the plugins are not built."""

import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from mp2ptest import Check, builddir, plugin_dir, sim_built  # noqa: E402

SIM = os.path.join(builddir, "maybep2psim")
SUMMARY = re.compile(r"^nodes=(\d+) commands=(\d+) ok=(\d+) success=([\d.]+)% "
                     r"p50_ms=([\d.]+) p99_ms=([\d.]+)$", re.M)

KADEMLIA = """
nodes = %(nodes)d;
seed = %(seed)d;
duration = 400.0;
sample_every = 60.0;
host = { log_level = "warn"; plugin_dir = "%(plugins)s"; };
plugins = ( { name = "kad"; file = "kademlia.so"; config = { %(kad)s }; } );
network = {
  latency = { model = "lognormal"; mean_ms = 50.0; sd_ms = 25.0; };
  bandwidth = 1250000; handshake_rtts = 1.0; dial_fail = 0.0;
};
workload = (
  { at = 60.0; every = 1.0; repeat = 50; command = "kad put --immutable value-%%i"; },
  { at = 200.0; every = 1.0; repeat = 50; command = "kad get --key %%sha256:value-%%i"; }
);
"""

# Every node is up for a uniformly random time, then down for good (a
# day): node 0 keeps its instance's handle, node 1 pokes with it.
CHURN = """
nodes = 4;
seed = %(seed)d;
duration = 200.0;
sample_every = 1.0;
host = { log_level = "error"; plugin_dir = "%(plugins)s"; };
plugins = ( { name = "tp"; file = "tp_good.so"; config = { }; } );
network = { latency = { model = "constant"; rtt_ms = 20.0; }; };
churn = {
  start = 5.0;
  session = { dist = "uniform"; min = 10.0; max = 150.0; };
  down = { dist = "constant"; value = 86400.0; };
};
workload = (
  { at = 1.0; node = 0; command = "tp keep"; },
  { at = 2.0; every = 1.0; repeat = 190; node = 1; command = "tp poke 127.0.2.1:4000"; }
);
"""


def run(text, tmp, name):
    # One scenario path for every run: summary.json names it.
    conf = os.path.join(tmp, "scenario.conf")
    with open(conf, "w") as f:
        f.write(text)
    return subprocess.run([SIM, "-c", conf, "-o", os.path.join(tmp, name)],
                          capture_output=True, text=True, timeout=900)


def read(tmp, name, f):
    with open(os.path.join(tmp, name, f), "rb") as fh:
        return fh.read()


def rows(tmp, name, f):
    with open(os.path.join(tmp, name, f)) as fh:
        return list(csv.DictReader(fh))


def first_down(samples, node):
    return min((float(r["at_s"]) for r in samples
                if int(r["node"]) == node and r["up"] == "0"), default=None)


def main():
    if not sim_built("plugins", "kademlia", ".libs", "kademlia.so"):
        return 77
    check = Check("test_sim_engine")
    plugins = plugin_dir()
    tmp = tempfile.mkdtemp(prefix="simeng-")
    try:
        p = subprocess.run([SIM, "-h"], capture_output=True, text=True)
        check(p.returncode == 0 and "maybep2psim -c SCENARIO.conf [-o DIR]" in p.stdout,
              "-h prints the usage and exits 0")
        p = subprocess.run([SIM], capture_output=True, text=True)
        check(p.returncode == 2 and "usage:" in p.stderr, "no scenario: usage, exit 2")

        # Smoke: 50 nodes, 50 puts, then 50 gets of what was put.
        text = KADEMLIA % dict(nodes=50, seed=7, plugins=plugins, kad="")
        p = run(text, tmp, "a")
        m = SUMMARY.search(p.stdout)
        check(p.returncode == 0 and m is not None,
              "a 50-node run ends with the summary line (%s)" % p.stderr.strip()[-300:])
        if m:
            check(m.group(1) == "50" and m.group(2) == "100" and m.group(3) == "100",
                  "50 nodes, 100 commands, 100 ok: %s" % m.group(0))
        gets = [r for r in rows(tmp, "a", "results.csv") if " get " in r["command"]]
        check(len(gets) == 50 and all(r["ok"] == "1" for r in gets),
              "every get finds its value")
        check(all(int(r["hops"]) >= 1 and int(r["requests"]) >= 1 for r in gets),
              "every get reports its hops and requests")
        samples = rows(tmp, "a", "samples.csv")
        check(len(samples) == 50 * 6, "a sample per node every 60 s (%d rows)" % len(samples))
        check(all(int(r["table_size"]) > 0 for r in samples),
              "every node's table has nodes in it")

        # Determinism: the same seed, the same bytes; another seed, not.
        p = run(text, tmp, "b")
        check(p.returncode == 0, "the second run ends")
        for f in ("results.csv", "samples.csv", "summary.json"):
            check(read(tmp, "a", f) == read(tmp, "b", f), "same seed: %s byte-identical" % f)
        p = run(KADEMLIA % dict(nodes=50, seed=8, plugins=plugins, kad=""), tmp, "c")
        check(p.returncode == 0, "a run with another seed ends")
        check(read(tmp, "a", "results.csv") != read(tmp, "c", "results.csv"),
              "another seed: results.csv differs")
        check(read(tmp, "a", "samples.csv") != read(tmp, "c", "samples.csv"),
              "another seed: samples.csv differs")

        # Kademlia's connection policy: with connection_idle 0 a node keeps
        # every connection it dialled until the host's idle timeout (300 s),
        # and holds most of a 200-node network; with connection_keep 0,
        # every connection idle for 30 s closes, and a node holds a handful
        # once the joins are done; by default (connection_keep 64) the idle
        # ones it keeps are to its table's nodes, at most 64 dialled per
        # node, so at most 128 connection ends per node on average once the
        # workload (its last put at 110 s) has gone quiet.
        def conns_at(name, t):
            return [int(r["conns"]) for r in rows(tmp, name, "samples.csv")
                    if float(r["at_s"]) == t]
        p = run(KADEMLIA % dict(nodes=200, seed=7, plugins=plugins,
                                kad="connection_idle = 0.0;"), tmp, "keep")
        check(p.returncode == 0, "200 nodes, connection_idle 0: the run ends")
        keep = conns_at("keep", 180.0)
        p = run(KADEMLIA % dict(nodes=200, seed=7, plugins=plugins,
                                kad="connection_keep = 0;"), tmp, "close")
        check(p.returncode == 0, "200 nodes, connection_keep 0: the run ends")
        close = conns_at("close", 180.0)
        p = run(KADEMLIA % dict(nodes=200, seed=7, plugins=plugins, kad=""), tmp, "warm")
        check(p.returncode == 0, "200 nodes, default connection_keep: the run ends")
        warm = conns_at("warm", 180.0)
        check(len(keep) == 200 and sum(keep) / 200 > 60,
              "without the policy a node holds %.1f connections at 180 s"
              % (sum(keep) / max(len(keep), 1)))
        check(len(close) == 200 and sum(close) / 200 < 10,
              "closing every idle one, %.1f" % (sum(close) / max(len(close), 1)))
        check(len(warm) == 200 and sum(close) / 200 < sum(warm) / 200 <= 128,
              "keeping up to 64 to table entries, %.1f (at most 128)"
              % (sum(warm) / max(len(warm), 1)))

        # Churn kills node 0; node 1 calls the API with node 0's stale
        # handle and must be answered as a stopped instance is: refused.
        # The first seed whose draws kill node 0 well before node 1 is used.
        died0 = died1 = None
        for seed in range(1, 30):
            p = run(CHURN % dict(plugins=plugins, seed=seed), tmp, "churn")
            if p.returncode != 0:
                break
            samples = rows(tmp, "churn", "samples.csv")
            died0, died1 = first_down(samples, 0), first_down(samples, 1)
            if died0 is not None and (died1 is None or died1 > died0 + 10):
                break
        check(p.returncode == 0 and SUMMARY.search(p.stdout) is not None,
              "the churn run ends normally (%s)" % p.stderr.strip()[-300:])
        check(died0 is not None and (died1 is None or died1 > died0 + 10),
              "node 0 crashes (at %s s) well before node 1 (at %s s)" % (died0, died1))
        if died0 is not None:
            pokes = [r for r in rows(tmp, "churn", "results.csv") if "poke" in r["command"]]
            before = [r for r in pokes if float(r["at_s"]) < died0 - 1]
            after = [r for r in pokes if float(r["at_s"]) >= died0
                     and (died1 is None or float(r["at_s"]) < died1 - 1)]
            check(len(before) > 0 and all(r["ok"] == "1" for r in before),
                  "while node 0 lives, its kept handle sends (%d pokes)" % len(before))
            check(len(after) > 0 and all(r["ok"] == "0" for r in after),
                  "after node 0 crashed, its kept handle is refused (%d pokes)" % len(after))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
