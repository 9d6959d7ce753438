#!/usr/bin/env python3
"""sim_scale.py -- maybep2psim at scale (`make bench-sim`): the shipped
scenarios etc/sim/kademlia-10k.conf (10,000 nodes, one virtual hour of
Weibull churn, 10,000 gets) and etc/sim/kademlia-100k.conf (100,000 nodes,
stable, 1,000 gets after convergence), each run once with the plugins of
this build tree.

Per run it prints the wall time, CPU time (on a shared machine the steadier
figure) and peak RSS of the simulator process
(measured here, from the kernel's accounting of the child), memory per
node, and from the run's summary.json: success, hops, requests and latency
per lookup, bytes per node per minute and open connections per node at
steady state (the second half of the run).

Baselines from the same run: kademlia-1k.conf (1,000 nodes, stable) run
the same way, so per-node memory, hops and connections are read against a
network a hundred times smaller; log2(N) beside the hops; and the issue's
aims (10,000 nodes: 10 minutes, 8 GiB; 100,000 nodes: 30 minutes, 16 GiB).

etc/sim/classicv1-2k.conf (2,000 classicv1 peers, a broadcast a second for
ten minutes) runs too, with its own table: broadcasts, deliveries summed
over the nodes (summary.json's "counters"), the share of nodes each
broadcast reached, and the copies the flood sent per delivery.

Usage: sim_scale.py --builddir DIR [--only 1k,cv1-2k,10k,100k] [--keep DIR] [--json FILE]
"""

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))

RUNS = {
    "1k": dict(file="kademlia-1k.conf", nodes=1000, aim_s=None, aim_gib=None),
    "10k": dict(file="kademlia-10k.conf", nodes=10000, aim_s=600.0, aim_gib=8.0),
    "100k": dict(file="kademlia-100k.conf", nodes=100000, aim_s=1800.0, aim_gib=16.0),
    # classicv1's flood: its own figures (reach, copies) in a table of its own.
    "cv1-2k": dict(file="classicv1-2k.conf", nodes=2000, aim_s=None, aim_gib=None),
}


def plugin_dir(builddir):
    """The build tree's plugins, gathered in one directory."""
    d = os.path.join(builddir, "tests", ".plugin-dir")
    os.makedirs(d, exist_ok=True)
    for root, _dirs, files in os.walk(os.path.join(builddir, "plugins")):
        if root.endswith(".libs"):
            for f in files:
                if f.endswith(".so") and not os.path.exists(os.path.join(d, f)):
                    os.symlink(os.path.join(root, f), os.path.join(d, f))
    return d


def scenario_copy(name, builddir, workdir):
    """The shipped scenario with plugin_dir pointed at this build."""
    with open(os.path.join(TOP, "etc", "sim", name)) as f:
        text = f.read()
    text, n = re.subn(r"^host = \{", 'host = {\n  plugin_dir = "%s";' % plugin_dir(builddir),
                      text, count=1, flags=re.M)
    if n != 1:
        sys.exit("sim_scale: %s has no `host = {` line to add plugin_dir to" % name)
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def run_one(key, builddir, workdir):
    spec = RUNS[key]
    conf = scenario_copy(spec["file"], builddir, workdir)
    out = os.path.join(workdir, "out-" + key)
    cmd = [os.path.join(builddir, "maybep2psim"), "-c", conf, "-o", out]
    print("# running %s" % " ".join(cmd), flush=True)
    t0 = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # wait4 gives this child's own peak RSS, not the largest of all children.
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.time() - t0
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(stderr[-3000:], file=sys.stderr)
        sys.exit("sim_scale: %s exited %d" % (spec["file"], code))
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    line = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    rss_kib = usage.ru_maxrss
    return dict(key=key, nodes=spec["nodes"], wall_s=wall, cpu_s=usage.ru_utime + usage.ru_stime,
                rss_kib=rss_kib, kib_per_node=rss_kib / spec["nodes"], line=line,
                summary=summary, out=out, aim_s=spec["aim_s"], aim_gib=spec["aim_gib"])


def get_figures(summary):
    for c in summary.get("by_command", []):
        if c["command"] == "kad get":
            return c
    return dict(commands=0, ok=0, success_pct=0.0, hops=dict(median=0, mean=0),
                requests=dict(median=0, mean=0),
                latency_ms=dict(p50=0, p90=0, p99=0, mean=0, max=0))


def report(results):
    print()
    print("maybep2psim at scale: kademlia, latency log-normal 50 ms +- 25 ms RTT")
    print("%-6s %8s %9s %9s %9s %10s %9s %8s %9s %9s %9s %9s %11s %9s" % (
        "run", "nodes", "wall s", "cpu s", "aim s", "peak MiB", "aim GiB", "KiB/node", "get ok",
        "hops p50", "log2(N)", "req mean", "lat p50/p99", "B/node/min"))
    for r in results:
        g = get_figures(r["summary"])
        ss = r["summary"].get("steady_state", {})
        if not g["commands"]:
            print("%-6s %8d %9.1f %9.1f %9s %10.1f %9s %8.1f %9s %9s %9s %9s %11s %9.0f" % (
                r["key"], r["nodes"], r["wall_s"], r["cpu_s"], "-", r["rss_kib"] / 1024.0, "-",
                r["kib_per_node"], "-", "-", "-", "-", "-", ss.get("bytes_per_node_per_min", 0)))
            continue
        print("%-6s %8d %9.1f %9.1f %9s %10.1f %9s %8.1f %8.2f%% %9.1f %9.1f %9.2f %5.0f/%-5.0f %9.0f" % (
            r["key"], r["nodes"], r["wall_s"], r["cpu_s"], "%.0f" % r["aim_s"] if r["aim_s"] else "-",
            r["rss_kib"] / 1024.0, "%.0f" % r["aim_gib"] if r["aim_gib"] else "-",
            r["kib_per_node"], g["success_pct"], g["hops"]["median"], math.log2(r["nodes"]),
            g["requests"]["mean"], g["latency_ms"]["p50"], g["latency_ms"]["p99"],
            ss.get("bytes_per_node_per_min", 0)))
    print()
    print("%-6s %10s %12s %12s %12s %12s %14s" % (
        "run", "nodes up", "conns mean", "conns p50", "conns p99", "conns max", "table mean"))
    for r in results:
        ss = r["summary"].get("steady_state", {})
        c = ss.get("conns_per_node", {})
        print("%-6s %10.1f %12.2f %12.1f %12.1f %12.0f %14.1f" % (
            r["key"], ss.get("nodes_up", 0), c.get("mean", 0), c.get("p50", 0), c.get("p99", 0),
            c.get("max", 0), ss.get("table_size_mean", 0)))
    cv1 = [r for r in results if any(c["command"] == "cv1 broadcast"
                                     for c in r["summary"].get("by_command", []))]
    if cv1:
        print()
        print("%-6s %11s %10s %10s %16s" % ("run", "broadcasts", "delivered", "reach", "copies/delivery"))
    for r in cv1:
        b = next(c for c in r["summary"]["by_command"] if c["command"] == "cv1 broadcast")
        n = r["summary"].get("counters", {})
        got, dup = n.get("cv1.delivered_broadcast", 0), n.get("cv1.duplicate_broadcast", 0)
        # Every node is up when the broadcasts run (the scenario has no churn).
        print("%-6s %11d %10d %9.2f%% %16.1f" % (
            r["key"], b["ok"], got, 100.0 * got / max(b["ok"] * r["nodes"], 1),
            (got + dup) / max(got, 1)))
    print()
    for r in results:
        print("%-6s %s" % (r["key"], r["line"]))
    for r in results:
        verdicts = []
        if r["aim_s"]:
            verdicts.append("wall %s the %.0f s aim" % ("within" if r["wall_s"] <= r["aim_s"] else "OVER",
                                                         r["aim_s"]))
        if r["aim_gib"]:
            verdicts.append("memory %s the %.0f GiB aim" % (
                "within" if r["rss_kib"] <= r["aim_gib"] * 1024 * 1024 else "OVER", r["aim_gib"]))
        if verdicts:
            print("%-6s %s" % (r["key"], "; ".join(verdicts)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--builddir", required=True)
    ap.add_argument("--only", default="1k,cv1-2k,10k,100k")
    ap.add_argument("--keep", help="copy each run's output directory here")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    if not os.path.exists(os.path.join(args.builddir, "maybep2psim")):
        sys.exit("sim_scale: %s/maybep2psim is not built" % args.builddir)
    keys = [k for k in args.only.split(",") if k]
    for k in keys:
        if k not in RUNS:
            sys.exit("sim_scale: --only takes %s" % ",".join(RUNS))
    workdir = tempfile.mkdtemp(prefix="mp2p-simscale-")
    results = []
    try:
        for k in keys:
            results.append(run_one(k, args.builddir, workdir))
            if args.keep:
                dst = os.path.join(args.keep, "out-" + k)
                shutil.rmtree(dst, ignore_errors=True)
                shutil.copytree(results[-1]["out"], dst)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{k: v for k, v in r.items() if k != "out"} for r in results], f, indent=1)
    with open("/proc/cpuinfo") as f:
        model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    print("machine: %s, %d CPUs" % (model, os.cpu_count()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
