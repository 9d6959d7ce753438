#!/usr/bin/env python3
"""kademlia_bench.py -- the Kademlia DHT on loopback, each host its own
maybep2pd process: lookup success, hops, messages and latency for 100 and
500 hosts, stable and right after 20% of the hosts are SIGKILLed.

Per network size it starts the hosts (three seeds, the rest bootstrapping
through them), waits until every host knows at least k nodes, puts values
at random hosts, then measures:
  - find-node lookups of random ids from random hosts: success (the closest
    live node other than the asker came back first), hops, requests sent, latency as the plugin
    measured it (p50, p99);
  - gets of the stored values from random hosts: success;
and again after SIGKILLing 20% of the non-seed hosts, without waiting.

Baselines from the same run: log2(N) beside the hops, the N-1 requests a
flood (ask everyone, as the original framework's broadcast did) would send
beside the requests per lookup, and the hosts' own smoothed round trip of
one request beside the lookup latency.

Also: the CPU all hosts use together while idle, and their median RSS.
"requests" counts the requests one lookup sent; each has one answer.

Usage: kademlia_bench.py --builddir DIR [--sizes 100,500] [--lookups 300]
                         [--values 50] [--kill 0.2] [--idle 10] [--json FILE]
"""

import argparse
import json
import math
import os
import random
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "kademlia"))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

AIM_SUCCESS_STABLE = 100.0
AIM_SUCCESS_KILLED = 99.0
AIM_MEDIAN_HOPS_500 = 3
AIM_P99_MS = 50.0
BENCH_CONFIG = "request_timeout = 2.0;"


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def closer(target, a, b):
    return (a ^ target) < (b ^ target)


def measure(net, ids, values, lookups, rng, parallel, ctl_or_error, name):
    alive = net.alive()
    live_ids = [ids[h.name] for h in alive]
    targets = [(rng.choice(alive), rng.getrandbits(256)) for _ in range(lookups)]

    def one_lookup(job):
        h, target = job
        t0 = time.time()
        r = ctl_or_error(h, "lookup", "%064x" % target)
        r["_wall_ms"] = (time.time() - t0) * 1000
        return r

    replies = parallel(one_lookup, targets, workers=4)
    ok = 0
    hops, queries, lat = [], [], []
    for (h, target), r in zip(targets, replies):
        if "error" in r:
            continue
        # A lookup returns other nodes: the asker itself is never listed.
        best = min((i for i in live_ids if i != ids[h.name]), key=lambda i: i ^ target)
        rows = r.get("rows", [])
        if rows and int(rows[0]["id"], 16) == best:
            ok += 1
        elif os.environ.get("KAD_BENCH_DEBUG"):
            print("# missed: %s" % {k: v for k, v in r.items() if k != "rows"})
        hops.append(r["hops"])
        queries.append(r["queries"])
        lat.append(r["ms"])
    keys = list(values)
    gets = [(rng.choice(alive), rng.choice(keys)) for _ in range(lookups)]
    greplies = parallel(lambda j: ctl_or_error(j[0], "get", j[1]), gets, workers=4)
    gok = sum(1 for (h, k), r in zip(gets, greplies) if r.get("value") == values[k])
    answered = [r for r in greplies if "ms" in r]
    rtt90 = [s["rtt_p90_ms"] for s in parallel(lambda h: h.ctl("kad", "stats"), alive, workers=8)
             if s["rtt_p90_ms"] > 0]
    return dict(
        phase=name, hosts=len(alive), lookups=len(targets),
        find_success=100.0 * ok / len(targets),
        get_success=100.0 * gok / len(gets),
        get_requests=statistics.mean(r["queries"] for r in answered) if answered else float("nan"),
        hops_median=statistics.median(hops) if hops else float("nan"),
        hops_max=max(hops) if hops else 0,
        requests_mean=statistics.mean(queries) if queries else float("nan"),
        p50_ms=pct(lat, 50), p99_ms=pct(lat, 99),
        get_p50_ms=pct([r["ms"] for r in answered], 50),
        get_p99_ms=pct([r["ms"] for r in answered], 99),
        rtt_p90_ms=statistics.median(rtt90) if rtt90 else float("nan"),
    )


def cpu_ticks(hosts):
    total = 0
    for h in hosts:
        try:
            with open("/proc/%d/stat" % h.proc.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])     # utime + stime
        except (OSError, IndexError, ValueError):
            pass
    return total


def idle_cpu(hosts, seconds):
    """CPU the idle hosts use together, in percent of one core."""
    t0, c0 = time.time(), cpu_ticks(hosts)
    time.sleep(seconds)
    hz = os.sysconf("SC_CLK_TCK")
    return 100.0 * (cpu_ticks(hosts) - c0) / hz / (time.time() - t0)


def run_size(n, args, rng):
    from kadnet import Net, parallel, ctl_or_error
    net = Net(n, extra=BENCH_CONFIG,
              host_settings="limits: { max_connections_per_ip = 4000; };")
    try:
        t0 = time.time()
        net.start()
        started = time.time() - t0
        counts = net.wait_routes(20, timeout=120)
        # The joins' bucket refreshes finish shortly after.
        time.sleep(3)
        joined = time.time() - t0
        ids = {}
        for h, r in zip(net.hosts, parallel(lambda h: h.ctl("kad", "routes"), net.hosts)):
            ids[h.name] = int(r["self"], 16)
        # Every put is a signed (mutable) value; others get it as
        # WRITER/NAME. Half as many immutable puts beside them.
        values, put_ms, put_stored, imm_ms = {}, [], [], []
        for i in range(args.values):
            key, val = "bench-%d" % i, "v%d-%d" % (i, rng.getrandbits(40))
            t_put = time.time()
            r = ctl_or_error(rng.choice(net.hosts), "put", key, val)
            if "error" not in r:
                values["%s/%s" % (r["writer"], key)] = val
                put_ms.append(r.get("ms", (time.time() - t_put) * 1000))
                put_stored.append(r.get("stored", 0))
        for i in range(args.values // 2):
            r = ctl_or_error(rng.choice(net.hosts), "put", "--immutable", "imm-%d-%d" % (
                i, rng.getrandbits(40)))
            if "error" not in r:
                imm_ms.append(r.get("ms", 0))
        stable = measure(net, ids, values, args.lookups, rng, parallel, ctl_or_error, "stable")
        idle = idle_cpu(net.hosts, args.idle)
        victims = rng.sample(net.hosts[len(net.seeds):], int(n * args.kill))
        for v in victims:
            v.kill()
        killed = measure(net, ids, values, args.lookups, rng, parallel, ctl_or_error,
                         "after killing %d%%" % int(args.kill * 100))
        rss = []
        for h in net.alive()[:50]:
            try:
                with open("/proc/%d/status" % h.proc.pid) as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            rss.append(int(line.split()[1]))
            except OSError:
                pass
        return dict(n=n, idle_cpu=idle, start_s=started, join_s=joined, min_routes=min(counts),
                    values=len(values), rss_kib=statistics.median(rss) if rss else 0,
                    phases=[stable, killed],
                    put_p50_ms=pct(put_ms, 50), put_p99_ms=pct(put_ms, 99),
                    put_stored=statistics.median(put_stored) if put_stored else 0,
                    imm_p50_ms=pct(imm_ms, 50), imm_p99_ms=pct(imm_ms, 99), imm_puts=len(imm_ms))
    finally:
        net.cleanup()


def report(res):
    n = res["n"]
    print("-- %d hosts: started in %.1f s, all knew >= %d nodes after %.1f s; "
          "median RSS %d KiB per host; %d values put" % (
              n, res["start_s"], res["min_routes"], res["join_s"], res["rss_kib"], res["values"]))
    print("  %-18s %6s %8s %8s %9s %9s %10s %9s %9s %9s" % (
        "phase", "hosts", "find ok", "get ok", "hops p50", "hops max", "requests", "p50 ms",
        "p99 ms", "rtt p90"))
    for p in res["phases"]:
        print("  %-18s %6d %7.1f%% %7.1f%% %9.1f %9d %10.1f %9.2f %9.2f %9.2f" % (
            p["phase"], p["hosts"], p["find_success"], p["get_success"], p["hops_median"],
            p["hops_max"], p["requests_mean"], p["p50_ms"], p["p99_ms"], p["rtt_p90_ms"]))
    for p in res["phases"]:
        print("  gets (%s): %.1f requests each, latency p50 %.2f ms, p99 %.2f ms" % (
            p["phase"], p["get_requests"], p["get_p50_ms"], p["get_p99_ms"]))
    print("  signed puts: %d, stored on a median of %d nodes, latency p50 %.2f ms, p99 %.2f ms; "
          "immutable puts: %d, p50 %.2f ms, p99 %.2f ms" % (
              res["values"], res["put_stored"], res["put_p50_ms"], res["put_p99_ms"],
              res["imm_puts"], res["imm_p50_ms"], res["imm_p99_ms"]))
    print("  idle: all %d hosts together used %.2f%% of one core" % (n, res["idle_cpu"]))
    print("  baselines: log2(N) = %.1f hops; a flood asks N-1 = %d nodes; "
          "rtt p90 (ms) is a host's 90th percentile of recent request round trips" % (math.log2(n), n - 1))
    stable, killed = res["phases"]
    aims = [
        ("find and get 100% when stable", stable["find_success"] >= AIM_SUCCESS_STABLE
         and stable["get_success"] >= AIM_SUCCESS_STABLE),
        ("get >= 99% after the kill", killed["get_success"] >= AIM_SUCCESS_KILLED),
        ("p99 < 50 ms when stable", stable["p99_ms"] < AIM_P99_MS),
    ]
    if n >= 500:
        aims.append(("median hops <= 3", stable["hops_median"] <= AIM_MEDIAN_HOPS_500))
    print("  aims: " + "; ".join("%s: %s" % (a, "met" if ok else "MISSED") for a, ok in aims))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--builddir", required=True)
    p.add_argument("--sizes", default="100,500")
    p.add_argument("--lookups", type=int, default=300)
    p.add_argument("--values", type=int, default=50)
    p.add_argument("--kill", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU sampling")
    p.add_argument("--json")
    args = p.parse_args()
    os.environ["top_builddir"] = os.path.abspath(args.builddir)
    os.environ.setdefault("top_srcdir", TOP)
    import mp2ptest
    mp2ptest.builddir = os.path.abspath(args.builddir)
    rng = random.Random(args.seed)
    results = []
    for n in [int(x) for x in args.sizes.split(",")]:
        res = run_size(n, args, rng)
        report(res)
        results.append(res)
        sys.stdout.flush()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
