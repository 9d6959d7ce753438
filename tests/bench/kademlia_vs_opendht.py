#!/usr/bin/env python3
"""kademlia_vs_opendht.py -- our kademlia beside OpenDHT, in the same run.

Both networks run on loopback, one process per node: `maybep2pd` with the
kademlia plugin (each host on its own 127.X.Y.1, spread over /24s, TLS
between hosts as deployed) and Debian's OpenDHT `dhtnode` (install it with
`apt-get install dhtnode`; the tests do not need it). The OpenDHT nodes run
in a network namespace of their own that has nothing but loopback, so
whatever address they learn, they reach nothing else.

Per network size and system, phases in this order:
  put        PUTS unsigned puts from random nodes (ours: immutable values,
             stored under the hash of the value; OpenDHT: `p`)
  signed put SIGNED signed puts (ours: `put NAME VALUE`, signed with the
             host key, from random nodes; OpenDHT: `s`, from the SIGNERS
             nodes started with an identity, -i)
  stable     GETS gets of those values from random nodes
  killed 20% the same after SIGKILL of 20% of the nodes
  frozen 20% the same after SIGSTOP of another 20% (a host that vanishes
             without a reset, as real ones do)
Operations run one at a time. Per phase: success, latency p50/p99 and
requests per operation; per system: median RSS per node and idle CPU,
right after the puts and again a minute after the last gets.

Latency is each system's own measure of one operation: for ours the
plugin's `ms` from the command to its answer (a get answers with the
newest version it saw); for OpenDHT dhtnode's "took" for puts and, for
gets, the time to the first value found ("found ... after"; its whole get,
"completed, took", is printed beside).

Requests per operation, counted alike for both systems on a separate
sample of operations per phase (--sample; their latencies are not used):
every request the requesting node sends for that operation, from the
command until it has sent none for QUIET (1 s) after the answer, so the
requests a put or get sends after it has answered are counted too.
  ours     the requesting host's counters (`stats`): lookup queries
           (FNOD, FVAL: lookup_queries), caching and healing STORs (cached,
           healed), plus a put's own STORs (`stores_sent` in its answer:
           both waves, the second sent as the put answers).
  OpenDHT  the requesting node's datagrams on the wire (udp_requests.py, a
           packet socket on the namespace's loopback): queries (`find`,
           `get`, `put`, `listen`, `refresh`) sent from its port that name
           the key's hash (SHA-1 of the key). Its debug log cannot be used:
           it has no line for a `find` (commented out in OpenDHT's source),
           so the "sending" lines of a put's search are its 8 `put`s alone
           and miss the 14 to 21 `find`s of the search before them.
Pings and answers to other nodes are not counted on either side.

Idle CPU: each process's scheduler time (utime + stime) over --idle
seconds with no operations, as percent of one core per node: once right
after the puts, and once more a minute after the last gets, over the
nodes still running.

The hosts' dial guard allows 200 new dials a second by default; a 300-node
network opens thousands of connections in its first minute, so our hosts
run with host.dial.rate = 100000 and dial.max_pending_per_ip = 64 here.

Usage: kademlia_vs_opendht.py --builddir DIR [--sizes 100,300] [--puts 300]
                              [--signed 100] [--gets 300] [--idle 30]
                              [--signers 4] [--sample 30] [--json FILE]
"""

import argparse
import hashlib
import json
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
# Seconds a requesting node must have sent nothing for an operation, after
# its answer, before its requests are counted.
QUIET = 1.0
HOST_SETTINGS = "dial: { rate = 100000; max_pending_per_ip = 64; };"
PHASES = ("put", "signed put", "stable", "killed 20%", "frozen 20%")
NAN = float("nan")


def pct(v, p):
    if not v:
        return NAN
    s = sorted(v)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def mean(v):
    return statistics.mean(v) if v else NAN


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


def settled(res, pids, seconds):
    """RSS and idle CPU of the nodes still running once the last gets are
    a minute past: ours closes the connections it has not used for
    connection_idle (30 s), and those closes (TLS, both ends) fall in the
    idle window right after the puts. Both systems are measured alike."""
    time.sleep(60.0)
    res["idle_cpu_later"] = idle_cpu(pids, seconds)
    res["rss_idle_kib"] = statistics.median(rss_kib(p) for p in pids)


def phase(ok, total, lat, req, extra=None):
    d = dict(ok=100.0 * ok / max(1, total), p50=pct(lat, 50), p99=pct(lat, 99), req=req)
    if extra:
        d.update(extra)
    return d


# --- OpenDHT: dhtnode processes driven through their command line ----------

def to_ms(num, unit):
    return float(num) * {"us": 1e-3, "ms": 1.0, "mss": 1.0, "s": 1e3}[unit]


class Netns:
    """A network namespace with only loopback, held open by a sleeper."""

    def __init__(self):
        self.holder = subprocess.Popen(["unshare", "-n", "sleep", "infinity"])
        path = "/proc/%d/ns/net" % self.holder.pid
        deadline = time.time() + 5
        while time.time() < deadline:
            if os.readlink(path) != os.readlink("/proc/self/ns/net"):
                break
            time.sleep(0.01)
        self.prefix = ["nsenter", "--net=" + path]
        subprocess.run(self.prefix + ["ip", "link", "set", "lo", "up"], check=True)

    def close(self):
        self.holder.kill()
        self.holder.wait()


class RequestCounter:
    """udp_requests.py inside the namespace: the queries one node sends
    that name one key, counted on the wire."""

    def __init__(self, ns):
        self.proc = subprocess.Popen(ns.prefix + [sys.executable,
                                                  os.path.join(HERE, "udp_requests.py")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     bufsize=1)
        if not self.ask(None).get("ready"):
            raise RuntimeError("udp_requests.py did not start")

    def ask(self, command):
        if command is not None:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        return json.loads(line) if line else {}

    def count(self, port, key, answered, timeout=10.0):
        """Starts counting before `answered()` runs the operation; returns
        the requests once none has been sent for QUIET s after it answered."""
        self.ask("watch %d %s" % (port, hashlib.sha1(key.encode()).hexdigest()))
        result = answered()
        deadline = time.time() + timeout
        r = self.ask("peek")
        while r.get("quiet", 0) < QUIET and time.time() < deadline:
            time.sleep(QUIET - r.get("quiet", 0) + 0.01)
            r = self.ask("peek")
        r = self.ask("stop")
        return result, r.get("requests")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class DhtNode:
    # "took 879 us", "took 3.51 ms", and for signed puts "(took 549 mss)".
    TOOK = re.compile(r"took ([0-9.]+) ?(us|mss|ms|s)\b")
    AFTER = re.compile(r"after ([0-9.]+) ?(us|ms|s)\b")

    def __init__(self, ns, port, bootstrap=None, identity=False):
        cmd = ns.prefix + ["dhtnode", "-p", str(port)]
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
            if rx.search(line):
                return line
        return None

    def drain(self, wait=0.0):
        got = []
        deadline = time.time() + wait
        while True:
            try:
                got.append(self.lines.get(timeout=max(0.0, deadline - time.time()) or 0.001))
            except queue.Empty:
                if time.time() >= deadline:
                    return got

    def op(self, text, done, timeout=10.0):
        """Runs one command: (ms it reports, lines)."""
        self.drain()
        if self.proc.poll() is not None:
            return None, []
        try:
            self.cmd(text)
        except BrokenPipeError:
            return None, []
        got = []
        ms = None
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                break
            got.append(line)
            if re.search(done, line):
                m = self.TOOK.search(line)
                if m:
                    ms = to_ms(m.group(1), m.group(2))
                break
        return ms, got

    def kill(self):
        if self.proc.poll() is None:
            if self.stopped:
                os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()


def run_opendht(n, args, rng):
    from mp2ptest import free_port
    ns = Netns()
    nodes = []
    counter = None
    try:
        counter = RequestCounter(ns)
        first = DhtNode(ns, free_port())
        nodes.append(first)
        first.wait_for("running on port", 10)
        boot = "127.0.0.1:%d" % first.port
        for i in range(n - 1):
            nodes.append(DhtNode(ns, free_port(), boot, identity=i < args.signers))
        for d in nodes:
            d.wait_for("running on port", 30)
        nodes = [d for d in nodes if d.proc.poll() is None]
        time.sleep(10)                    # let the routing tables fill
        res = dict(system="OpenDHT", n=len(nodes), phases={})
        values = []

        def puts(name, count, signed):
            lat, req, ok = [], [], 0
            for i in range(count + args.sample):
                sample = i >= count
                d = nodes[1 + i % args.signers] if signed else rng.choice(nodes)
                k = "%s-%d-%d" % ("sig" if signed else "bench", i, rng.getrandbits(30))
                v = "v%d-%d" % (i, rng.getrandbits(40))
                def put():
                    return d.op("%s %s %s" % ("s" if signed else "p", k, v),
                                r"Put( signed)?: (success|failure)")
                if sample:
                    (ms, lines), r = counter.count(d.port, k, put)
                    if ms is not None and r is not None:
                        req.append(r)
                    continue
                ms, lines = put()
                good = ms is not None and any("success" in l for l in lines)
                if good:
                    ok += 1
                    lat.append(ms)
                    values.append((k, v))
            res["phases"][name] = phase(ok, count, lat, mean(req))

        puts("put", args.puts, False)
        puts("signed put", args.signed, True)
        res["rss_kib"] = statistics.median(rss_kib(d.proc.pid) for d in nodes)
        res["idle_cpu"] = idle_cpu([d.proc.pid for d in nodes], args.idle)

        def gets(name, alive):
            got, lat, whole, req = 0, [], [], []
            for i in range(args.gets + args.sample):
                sample = i >= args.gets
                d = rng.choice(alive)
                k, v = rng.choice(values)
                def get():
                    return d.op("g %s" % k, r"Get: completed")
                if sample:
                    (ms, lines), r = counter.count(d.port, k, get)
                    if ms is not None and r is not None:
                        req.append(r)
                    continue
                ms, lines = get()
                first = next((l for l in lines if "found" in l), None)
                if any(('"%s"' % v) in l for l in lines):
                    got += 1
                    m = first and DhtNode.AFTER.search(first)
                    if m:
                        lat.append(to_ms(m.group(1), m.group(2)))
                    if ms is not None:
                        whole.append(ms)
            res["phases"][name] = phase(got, args.gets, lat, mean(req),
                                        dict(whole50=pct(whole, 50), whole99=pct(whole, 99)))

        gets("stable", nodes)
        for d in rng.sample(nodes[1:], n // 5):
            d.kill()
        alive = [d for d in nodes if d.proc.poll() is None]
        gets("killed 20%", alive)
        for d in rng.sample(alive[1:], n // 5):
            os.kill(d.proc.pid, signal.SIGSTOP)
            d.stopped = True
        gets("frozen 20%", [d for d in alive if not d.stopped])
        settled(res, [d.proc.pid for d in alive if not d.stopped], args.idle)
        return res
    finally:
        for d in nodes:
            d.kill()
        if counter:
            counter.close()
        ns.close()


# --- ours ------------------------------------------------------------------

# The counters of the requests an operation sends (PROTOCOL.md section 5.6).
OUR_REQUESTS = ("lookup_queries", "cached", "healed")


def our_requests(h, run, put, timeout=10.0):
    """Runs one operation on host h: (its answer, the requests it sent),
    counted from h's counters once they have not moved for QUIET s after
    the answer; a put's own STORs are in its answer (`stores_sent`)."""
    from kadnet import ctl_or_error

    def sent():
        st = ctl_or_error(h, "stats")
        return None if "error" in st else sum(st.get(k, 0) for k in OUR_REQUESTS)

    before = sent()
    r = run()
    last, quiet_since = sent(), time.time()
    deadline = time.time() + timeout
    while time.time() - quiet_since < QUIET and time.time() < deadline:
        time.sleep(0.1)
        now = sent()
        if now != last:
            last, quiet_since = now, time.time()
    if before is None or last is None or "error" in r:
        return r, None
    # A get's STORs are in `cached` and `healed`; a put's are its own.
    return r, last - before + (r.get("stores_sent", 0) if put else 0)

def run_ours(n, args, rng):
    from kadnet import Net, ctl_or_error
    net = Net(n, extra=CONF, host_settings=HOST_SETTINGS)
    frozen = []
    try:
        net.start()
        net.wait_routes(20, timeout=300)
        time.sleep(3)
        res = dict(system="ours", n=n, phases={})
        values = []

        def puts(name, count, signed):
            lat, req, ok = [], [], 0
            for i in range(count + args.sample):
                sample = i >= count
                h = rng.choice(net.hosts)
                v = "v%d-%d" % (i, rng.getrandbits(40))
                k = "%s-%d" % ("sig" if signed else "bench", i)

                def put():
                    if signed:
                        return ctl_or_error(h, "put", k, v)
                    return ctl_or_error(h, "put", "--immutable", v)
                if sample:
                    r, n = our_requests(h, put, True)
                    if n is not None:
                        req.append(n)
                    continue
                r = put()
                if "error" in r or r.get("stored", 0) < 1:
                    continue
                ok += 1
                lat.append(r["ms"])
                values.append(("%s/%s" % (r["writer"], k) if signed else None, r["key"], v))
            res["phases"][name] = phase(ok, count, lat, mean(req))

        puts("put", args.puts, False)
        puts("signed put", args.signed, True)
        res["rss_kib"] = statistics.median(rss_kib(h.proc.pid) for h in net.hosts)
        res["idle_cpu"] = idle_cpu([h.proc.pid for h in net.hosts], args.idle)

        def gets(name, alive):
            got, lat, req = 0, [], []
            for i in range(args.gets + args.sample):
                h = rng.choice(alive)
                named, key, v = rng.choice(values)

                def get():
                    if named:
                        return ctl_or_error(h, "get", named)
                    return ctl_or_error(h, "get", "--key", key)
                if i >= args.gets:
                    r, n = our_requests(h, get, False)
                    if n is not None:
                        req.append(n)
                    continue
                r = get()
                if r.get("value") == v:
                    got += 1
                    lat.append(r["ms"])
            res["phases"][name] = phase(got, args.gets, lat, mean(req))

        gets("stable", net.hosts)
        for h in rng.sample(net.hosts[len(net.seeds):], n // 5):
            h.kill()
        alive = net.alive()
        gets("killed 20%", alive)
        frozen = rng.sample([h for h in alive if h not in net.seeds], n // 5)
        for h in frozen:
            os.kill(h.proc.pid, signal.SIGSTOP)
        gets("frozen 20%", [h for h in alive if h not in frozen])
        settled(res, [h.proc.pid for h in alive if h not in frozen], args.idle)
        return res
    finally:
        for h in frozen:
            try:
                os.kill(h.proc.pid, signal.SIGCONT)
            except OSError:
                pass
        net.cleanup()


def ratio(a, b):
    return a / b if b == b and a == a and b > 0 else NAN


def report(ours, theirs):
    print("-- %d nodes each, loopback, one process per node" % ours["n"])
    print("  %-11s %-8s %7s %9s %9s %9s" % ("phase", "system", "ok", "p50 ms", "p99 ms", "requests"))
    for name in PHASES:
        a, b = ours["phases"].get(name), theirs["phases"].get(name) if theirs else None
        for r, p in ((ours, a), (theirs, b)):
            if p:
                line = "  %-11s %-8s %6.1f%% %9.3f %9.3f %9.1f" % (name, r["system"], p["ok"], p["p50"],
                                                                p["p99"], p["req"])
                if "whole50" in p:
                    line += "   (whole get %.3f / %.3f ms)" % (p["whole50"], p["whole99"])
                print(line)
        if a and b:
            print("  %-11s %-8s %7s %9.2f %9.2f %9.2f" % ("", "ratio", "", ratio(a["p50"], b["p50"]),
                                                        ratio(a["p99"], b["p99"]),
                                                        ratio(a["req"], b["req"])))
    for r in (ours, theirs):
        if r:
            print("  %-8s RSS per node %.1f MiB after the puts, %.1f MiB a minute after the "
                  "gets; idle CPU %.4f%% of a core per node after the puts, %.4f%% a minute "
                  "after the gets" % (
                      r["system"], r["rss_kib"] / 1024.0, r["rss_idle_kib"] / 1024.0,
                      r["idle_cpu"], r["idle_cpu_later"]))
    if theirs:
        print("  ratio    RSS %.2f after the puts, %.2f later; idle CPU %.2f, later %.2f "
              "(ours / theirs)" % (
                  ratio(ours["rss_kib"], theirs["rss_kib"]),
                  ratio(ours["rss_idle_kib"], theirs["rss_idle_kib"]),
                  ratio(ours["idle_cpu"], theirs["idle_cpu"]),
                  ratio(ours["idle_cpu_later"], theirs["idle_cpu_later"])))
    sys.stdout.flush()


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return "%s, %d CPUs" % (model, os.cpu_count() or 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", required=True)
    ap.add_argument("--sizes", default="100,300")
    ap.add_argument("--puts", type=int, default=300)
    ap.add_argument("--signed", type=int, default=100)
    ap.add_argument("--gets", type=int, default=300)
    ap.add_argument("--idle", type=float, default=30.0)
    ap.add_argument("--signers", type=int, default=4)
    ap.add_argument("--sample", type=int, default=30,
                    help="extra operations per phase whose requests are counted")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", choices=("ours", "opendht"), help="run one system")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    if args.only != "ours" and subprocess.run(["sh", "-c", "command -v dhtnode"],
                                              capture_output=True).returncode != 0:
        print("dhtnode is missing: apt-get install dhtnode")
        return 1
    os.environ["top_builddir"] = os.path.abspath(args.builddir)
    os.environ.setdefault("top_srcdir", TOP)
    import mp2ptest
    mp2ptest.builddir = os.path.abspath(args.builddir)
    rng = random.Random(args.seed)
    print("machine: %s; load average at start %.1f" % (machine(), os.getloadavg()[0]))
    results = []
    for n in [int(x) for x in args.sizes.split(",")]:
        ours = run_ours(n, args, rng) if args.only != "opendht" else None
        theirs = run_opendht(n, args, rng) if args.only != "ours" else None
        report(ours or theirs, theirs if ours else None)
        results.append(dict(n=n, ours=ours, opendht=theirs))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
