#!/usr/bin/env python3
"""kademlia_vs_opendht.py -- our kademlia beside OpenDHT, in the same run.

Both networks run on loopback, one process per node: `maybep2pd` with the
kademlia plugin (each host on its own 127.X.Y.1) and Debian's OpenDHT
`dhtnode` (install it with `apt-get install dhtnode`; the tests do
not need it). Per system and phase it prints success, put and get
latency p50/p99 (each system's own measure of one operation: the plugin's
`ms`, dhtnode's "took"), requests per operation where the system reports
them, median RSS per node and idle CPU, then our/their ratios.

Phases, per network size:
  put      PUTS puts from random nodes (ours are all signed; OpenDHT's
           plain `p`, and `s` signed puts from a few nodes run with -i)
  stable   GETS gets of those values from random nodes
  killed   the same after SIGKILL of 20% of the nodes
  frozen   the same after SIGSTOP of another 20% (a host that vanishes
           without a reset, as real ones do), continued at the end

Usage: kademlia_vs_opendht.py --builddir DIR [--sizes 100,300] [--puts 300]
                              [--gets 300] [--idle 30] [--signers 4]
"""

import argparse
import os
import queue
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "kademlia"))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

CONF = "request_timeout = 2.0;"


def pct(v, p):
    if not v:
        return float("nan")
    s = sorted(v)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return int(parts[11]) + int(parts[12])
    except (OSError, IndexError, ValueError):
        return 0


def idle_cpu(pids, seconds):
    """Percent of one core per node, from each process's scheduler time."""
    hz = os.sysconf("SC_CLK_TCK")
    before = {p: cpu_ticks(p) for p in pids}
    time.sleep(seconds)
    used = sum(cpu_ticks(p) - before[p] for p in pids) / hz
    return 100.0 * used / seconds / max(1, len(pids))


# --- OpenDHT: dhtnode processes driven through their command line ----------

class DhtNode:
    # "took 879 us", "took 3.51 ms", and for signed puts "(took 549 mss)".
    TOOK = re.compile(r"took ([0-9.]+) ?(us|ms|s)")

    def __init__(self, port, bootstrap=None, identity=False):
        cmd = ["dhtnode", "-p", str(port)]
        if bootstrap:
            cmd += ["-b", bootstrap]
        if identity:
            cmd.append("-i")
        self.port = port
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines = queue.Queue()
        self.stopped = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)

    def cmd(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def wait_for(self, pattern, timeout):
        rx = re.compile(pattern)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                break
            m = rx.search(line)
            if m:
                return line
        return None

    def op(self, text, done, timeout=10.0):
        """Runs one command; the latency it reports (ms) and the lines."""
        while not self.lines.empty():
            self.lines.get_nowait()
        if self.proc.poll() is not None:
            return None, []
        try:
            self.cmd(text)
        except BrokenPipeError:
            return None, []
        got = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                break
            got.append(line)
            if re.search(done, line):
                m = self.TOOK.search(line)
                ms = None
                if m:
                    ms = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
                return ms, got
        return None, got

    def kill(self):
        if self.proc.poll() is None:
            if self.stopped:
                os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()


def run_opendht(n, args, rng):
    from mp2ptest import free_port
    nodes = []
    try:
        first = DhtNode(free_port())
        nodes.append(first)
        first.wait_for("running on port", 10)
        boot = "127.0.0.1:%d" % first.port
        for i in range(n - 1):
            nodes.append(DhtNode(free_port(), boot, identity=i < args.signers))
        for d in nodes:
            d.wait_for("running on port", 20)
        nodes = [d for d in nodes if d.proc.poll() is None]
        time.sleep(5)                     # let the routing tables fill
        res = dict(system="OpenDHT", n=n, phases={})
        keys = []
        put_ms = []
        ok = 0
        for i in range(args.puts):
            d = rng.choice(nodes)
            k, v = "bench-%d" % i, "v%d-%d" % (i, rng.getrandbits(40))
            ms, _ = d.op("p %s %s" % (k, v), r"Put: (success|failure)")
            if ms is not None:
                ok += 1
                put_ms.append(ms)
                keys.append((k, v))
        res["phases"]["put"] = dict(ok=100.0 * ok / args.puts, p50=pct(put_ms, 50),
                                    p99=pct(put_ms, 99), req=float("nan"))
        sput = []
        for i in range(args.puts // 10):
            d = nodes[1 + i % max(1, args.signers)]
            ms, lines = d.op("s sig-%d v%d" % (i, i), r"Put signed: (success|failure)|identity is required")
            if ms is not None:
                sput.append(ms)
        res["phases"]["signed put"] = dict(ok=100.0 * len(sput) / max(1, args.puts // 10),
                                           p50=pct(sput, 50), p99=pct(sput, 99), req=float("nan"))
        res["rss_kib"] = statistics.median(rss_kib(d.proc.pid) for d in nodes)
        res["idle_cpu"] = idle_cpu([d.proc.pid for d in nodes], args.idle)

        def gets(name, alive):
            got, lat = 0, []
            for _ in range(args.gets):
                d = rng.choice(alive)
                k, v = rng.choice(keys)
                ms, lines = d.op("g %s" % k, r"Get: completed")
                first = next((l for l in lines if "found" in l), None)
                if any(('"%s"' % v) in l for l in lines):
                    got += 1
                    m = first and re.search(r"after ([0-9.]+) ?(us|ms|s)\b", first)
                    if m:
                        lat.append(float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)])
            res["phases"][name] = dict(ok=100.0 * got / args.gets, p50=pct(lat, 50),
                                       p99=pct(lat, 99), req=float("nan"))

        gets("stable", nodes)
        victims = rng.sample(nodes[1:], n // 5)
        for d in victims:
            d.kill()
        alive = [d for d in nodes if d.proc.poll() is None]
        gets("killed 20%", alive)
        frozen = rng.sample(alive[1:], n // 5)
        for d in frozen:
            os.kill(d.proc.pid, signal.SIGSTOP)
            d.stopped = True
        gets("frozen 20%", [d for d in alive if not d.stopped])
        return res
    finally:
        for d in nodes:
            d.kill()


# --- ours ------------------------------------------------------------------

def run_ours(n, args, rng):
    from kadnet import Net, ctl_or_error, parallel
    net = Net(n, extra=CONF)
    frozen = []
    try:
        net.start()
        net.wait_routes(20, timeout=180)
        time.sleep(3)
        res = dict(system="ours", n=n, phases={})
        names, put_ms, put_q, ok = [], [], [], 0
        for i in range(args.puts):
            h = rng.choice(net.hosts)
            k, v = "bench-%d" % i, "v%d-%d" % (i, rng.getrandbits(40))
            r = ctl_or_error(h, "put", k, v)
            if "error" not in r:
                ok += 1
                put_ms.append(r["ms"])
                put_q.append(r["queries"] + r.get("stored", 0))
                names.append(("%s/%s" % (r["writer"], k), v))
        res["phases"]["signed put"] = dict(ok=100.0 * ok / args.puts, p50=pct(put_ms, 50),
                                           p99=pct(put_ms, 99),
                                           req=statistics.mean(put_q) if put_q else float("nan"))
        imm = []
        for i in range(args.puts // 10):
            r = ctl_or_error(rng.choice(net.hosts), "put", "--immutable", "imm-%d" % i)
            if "error" not in r:
                imm.append(r["ms"])
        res["phases"]["put"] = dict(ok=100.0 * len(imm) / max(1, args.puts // 10),
                                    p50=pct(imm, 50), p99=pct(imm, 99), req=float("nan"))
        res["rss_kib"] = statistics.median(rss_kib(h.proc.pid) for h in net.hosts)
        res["idle_cpu"] = idle_cpu([h.proc.pid for h in net.hosts], args.idle)

        def gets(name, alive):
            jobs = [(rng.choice(alive), rng.choice(names)) for _ in range(args.gets)]
            replies = parallel(lambda j: ctl_or_error(j[0], "get", j[1][0]), jobs, workers=4)
            good = [r for (h, (k, v)), r in zip(jobs, replies) if r.get("value") == v]
            lat = [r["ms"] for r in good]
            res["phases"][name] = dict(ok=100.0 * len(good) / args.gets, p50=pct(lat, 50),
                                       p99=pct(lat, 99),
                                       req=statistics.mean(r["queries"] for r in good)
                                       if good else float("nan"))

        gets("stable", net.hosts)
        for h in rng.sample(net.hosts[len(net.seeds):], n // 5):
            h.kill()
        alive = net.alive()
        gets("killed 20%", alive)
        frozen = rng.sample([h for h in alive if h not in net.seeds], n // 5)
        for h in frozen:
            os.kill(h.proc.pid, signal.SIGSTOP)
        gets("frozen 20%", [h for h in alive if h not in frozen])
        return res
    finally:
        for h in frozen:
            try:
                os.kill(h.proc.pid, signal.SIGCONT)
            except OSError:
                pass
        net.cleanup()


def report(ours, theirs):
    n = ours["n"]
    print("-- %d nodes each, loopback, one process per node" % n)
    print("  %-11s %-8s %8s %9s %9s %9s" % ("phase", "system", "ok", "p50 ms", "p99 ms", "requests"))
    for phase in ("put", "signed put", "stable", "killed 20%", "frozen 20%"):
        for r in (ours, theirs):
            p = r["phases"].get(phase)
            if p:
                print("  %-11s %-8s %7.1f%% %9.3f %9.3f %9.1f" % (phase, r["system"], p["ok"], p["p50"],
                                                               p["p99"], p["req"]))
        a, b = ours["phases"].get(phase), theirs["phases"].get(phase)
        if a and b and b["p50"] == b["p50"] and b["p50"] > 0:
            print("  %-11s %-8s %8s %9.2f %9.2f" % ("", "ratio", "", a["p50"] / b["p50"],
                                                     a["p99"] / b["p99"] if b["p99"] else float("nan")))
    for r in (ours, theirs):
        print("  %-8s RSS per node %.1f MiB, idle CPU %.3f%% of a core per node" % (
            r["system"], r["rss_kib"] / 1024.0, r["idle_cpu"]))
    print("  ratio    RSS %.2f, idle CPU %.2f (ours / theirs)" % (
        ours["rss_kib"] / max(1, theirs["rss_kib"]),
        ours["idle_cpu"] / theirs["idle_cpu"] if theirs["idle_cpu"] else float("nan")))
    print("  (latency: each system's own measure of one operation; OpenDHT does not report "
          "requests per operation)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", required=True)
    ap.add_argument("--sizes", default="100,300")
    ap.add_argument("--puts", type=int, default=300)
    ap.add_argument("--gets", type=int, default=300)
    ap.add_argument("--idle", type=float, default=30.0)
    ap.add_argument("--signers", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if subprocess.run(["sh", "-c", "command -v dhtnode"], capture_output=True).returncode != 0:
        print("dhtnode is missing: apt-get install dhtnode")
        return 1
    os.environ["top_builddir"] = os.path.abspath(args.builddir)
    os.environ.setdefault("top_srcdir", TOP)
    import mp2ptest
    mp2ptest.builddir = os.path.abspath(args.builddir)
    rng = random.Random(args.seed)
    for n in [int(x) for x in args.sizes.split(",")]:
        ours = run_ours(n, args, rng)
        theirs = run_opendht(n, args, rng)
        report(ours, theirs)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
