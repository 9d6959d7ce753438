#!/usr/bin/env python3
"""run.py -- the host benchmark: maybep2pd with the echo plugin against a bare libevent server.

Throughput: loadgen drives each server over loopback with persistent
connections (8 connections, 16 frames in flight each, 64-byte payloads by
default). The two servers take turns, round after round, so a neighbour's
burst of CPU falls on both alike; the median round of each is reported
with the ratio host/bare.

Memory: a fresh host, then a fresh bare server, is made to hold 10,000
idle connections (each after one PING/PONG); the growth of its
proportional set size (Pss, /proc/PID/smaps_rollup) divided by the count
is its user-space memory per connection. The kernel's socket buffers are
not in it.

TLS (--only tls): the same throughput over TLS 1.3, the host in mode
"tls" against the bare server with -T (libevent + OpenSSL, the host's
suite and key type); then full handshakes per second, each a new
connection with mutual authentication and one PING answered, against the
same two; then what an idle TLS connection costs the host beyond a
plaintext one (tls_idle_mem.py).

Then every tests/bench/*_bench.py is run, unless --no-others; each prints
its own figures.

Usage: run.py --builddir DIR [--only echo|tls|NAME ...] [--rounds 8] [--seconds 2]
              [--idle 10000] [--no-idle] [--no-others] [--pin] [--perf FILE]
"""
import argparse
import glob
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import idlehold  # noqa: E402

AIM_RATIO = 0.85
AIM_IDLE_BYTES = 4096
AIM_TLS_RATIO = 0.90            # TLS frames/s and handshakes/s, host / bare
AIM_TLS_IDLE_EXTRA = 16384      # bytes an idle TLS connection may add to a plaintext one

HOST_CONFIG = """host: {
  id = "bench";
  listen = [ "127.0.0.1:%(port)d" ];
  state_dir = "%(tmp)s/state";
  control = "%(tmp)s/control.sock";
  plugin_dir = "%(plugin_dir)s";
  log_level = "warn";
  security: { mode = "%(mode)s"; };
  limits: { max_connections = 20000; max_connections_per_ip = 20000;
            max_frame = 1048576; max_output = 4194304; };
  timeouts: { connect = 5.0; idle = 300.0; frame = 10.0; write = 10.0; };
};
plugins = ( { name = "echo"; file = "echo.so"; required = true; config: { }; } );
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pin_to(cpu):
    """A preexec_fn that pins the child to one CPU (with --pin)."""
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


class Server:
    """One server process under test: started, awaited, stopped."""

    def __init__(self, name, argv, port, workdir, cpu=None):
        self.name = name
        self.argv = argv
        self.port = port
        self.workdir = workdir
        self.cpu = cpu
        self.proc = None
        self.log_path = os.path.join(workdir, name + ".log")

    def start(self, timeout=10.0):
        log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL,
                                         preexec_fn=pin_to(self.cpu))
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %d at start:\n%s"
                                   % (self.name, self.proc.returncode, self.log_tail()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("%s is not listening on %d after %.0fs:\n%s"
                           % (self.name, self.port, timeout, self.log_tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def stop(self):
        """SIGTERM, then SIGKILL if it does not go within 10 s."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        return rc


def cpu_ns(pid):
    """CPU time the process has used, user and system, in nanoseconds."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1e9 / os.sysconf("SC_CLK_TCK")


def children_cpu_ns():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * 1e9


def pss_bytes(pid):
    """The process's proportional set size; VmRSS where smaps_rollup is missing."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no memory figures for pid %d" % pid)


class Bench:
    def __init__(self, args):
        self.args = args
        self.builddir = os.path.abspath(args.builddir)
        self.tmp = tempfile.mkdtemp(prefix="mp2p-bench-")
        self.servers = []
        self.failed = False
        self.maybep2pd = os.path.join(self.builddir, "maybep2pd")
        self.bare = os.path.join(self.builddir, "tests", "bench", "bare_server")
        self.loadgen = os.path.join(self.builddir, "tests", "bench", "loadgen")
        self.plugin_dir = os.path.join(self.builddir, "plugins", "echo", ".libs")
        cpus = sorted(os.sched_getaffinity(0))
        # With --pin the server gets one CPU and the load generator another.
        self.server_cpu = cpus[0] if args.pin and len(cpus) > 1 else None
        self.loadgen_cpu = cpus[1] if args.pin and len(cpus) > 1 else None

    # --- servers -------------------------------------------------------

    def new_host(self, mode="plain"):
        """A fresh host with the echo plugin; `mode` is host.security.mode."""
        port = free_port()
        d = tempfile.mkdtemp(prefix="host-", dir=self.tmp)
        os.mkdir(os.path.join(d, "state"), 0o700)
        conf = os.path.join(d, "maybep2pd.conf")
        with open(conf, "w") as f:
            f.write(HOST_CONFIG % dict(port=port, tmp=d, plugin_dir=self.plugin_dir, mode=mode))
        s = Server("maybep2pd", [self.maybep2pd, "-c", conf], port, d, self.server_cpu)
        self.servers.append(s)
        return s.start()

    def new_bare(self, tls=False):
        port = free_port()
        s = Server("bare", [self.bare, "-p", str(port)] + (["-T"] if tls else []), port,
                   self.tmp, self.server_cpu)
        self.servers.append(s)
        return s.start()

    def stop(self, server):
        rc = server.stop()
        self.servers.remove(server)
        # The host must stop cleanly on SIGTERM; a crash is a failed run.
        if rc not in (0, None):
            print("!! %s exited with status %s:\n%s" % (server.name, rc, server.log_tail()))
            self.failed = True

    def cleanup(self):
        for s in list(self.servers):
            s.stop()
        self.servers = []
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- throughput ----------------------------------------------------

    def loadgen_once(self, server, perf_out=None, extra=(), conns=None):
        a = self.args
        argv = [self.loadgen, "-p", str(server.port), "-c", str(conns or a.conns),
                "-d", str(a.depth), "-s", str(a.payload), "-t", str(a.seconds),
                "-w", str(a.warmup)] + list(extra)
        perf = None
        cpu0, lg0 = cpu_ns(server.proc.pid), children_cpu_ns()
        if perf_out:
            perf = subprocess.Popen(["perf", "record", "-g", "-q", "-o", perf_out,
                                     "-p", str(server.proc.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 timeout=a.seconds + a.warmup + 30,
                                 preexec_fn=pin_to(self.loadgen_cpu))
        finally:
            if perf:
                perf.send_signal(signal.SIGINT)
                perf.wait()
        if out.returncode != 0 or not server.alive():
            raise RuntimeError("loadgen against %s failed (status %d): %s\n%s"
                               % (server.name, out.returncode, out.stderr.decode().strip(),
                                  server.log_tail()))
        res = json.loads(out.stdout.decode().strip().splitlines()[-1])
        # Both sides share two CPUs and a round trip is mostly waiting, so
        # neither may be saturated: the server's CPU time per frame shows
        # what the host layer costs even when frames/s cannot.
        cpu = cpu_ns(server.proc.pid) - cpu0
        lg_cpu = children_cpu_ns() - lg0
        res["server_cpu_pct"] = 100.0 * cpu / 1e9 / res["all_seconds"]
        res["server_ns_per_frame"] = cpu / max(res["all_frames"], 1)
        res["loadgen_cpu_pct"] = 100.0 * lg_cpu / 1e9 / res["all_seconds"]
        return res

    def duel(self, host, bare, extra=(), conns=None, unit="frames", perf=False):
        """Rounds of loadgen against `host` and `bare` in turn; prints each
        round and the medians, returns them with the median ratio."""
        a = self.args
        runs = {"maybep2pd": [], "bare": []}
        for r in range(a.rounds):
            # Alternate who goes first so neither always meets a cold cache
            # or always follows the other's leftovers.
            order = (host, bare) if r % 2 == 0 else (bare, host)
            for s in order:
                perf_out = a.perf if (perf and a.perf and s is host and r == 0) else None
                res = self.loadgen_once(s, perf_out, extra, conns)
                if res["frames"] == 0:
                    raise RuntimeError("%s answered nothing in round %d's %gs"
                                       % (s.name, r + 1, a.seconds))
                runs[s.name].append(res)
                print("   round %d %-10s %9.0f %s/s  p50 %8.1f us  p99 %8.1f us"
                      "  server %3.0f%% CPU %8.0f ns/%s  loadgen %3.0f%% CPU"
                      % (r + 1, s.name, res["frames_per_sec"], unit, res["p50_us"], res["p99_us"],
                         res["server_cpu_pct"], res["server_ns_per_frame"], unit[:-1],
                         res["loadgen_cpu_pct"]), flush=True)
        self.stop(host)
        self.stop(bare)
        med = {k: {m: statistics.median(x[m] for x in v)
                   for m in ("frames_per_sec", "p50_us", "p99_us", "server_cpu_pct",
                             "server_ns_per_frame")}
               for k, v in runs.items()}
        h, b = med["maybep2pd"], med["bare"]
        # The ratio is taken within each round, where both met the same
        # neighbours, and the median of those is reported.
        ratio = statistics.median(x["frames_per_sec"] / y["frames_per_sec"]
                                  for x, y in zip(runs["maybep2pd"], runs["bare"]))
        print()
        rows = [("maybep2pd + echo", h), ("bare libevent" + (" + OpenSSL" if extra else ""), b),
                ("host / bare", {k: statistics.median(x[k] / y[k] for x, y in
                                                      zip(runs["maybep2pd"], runs["bare"]))
                                 for k in h})]
        print("   median of %d rounds (the ratios: median of the per-round ratios)" % a.rounds)
        print("   %-26s %11s %9s %9s %11s %14s" % ("", unit + "/s", "p50 us", "p99 us",
                                                "server CPU", "CPU ns/" + unit[:-1]))
        for label, m in rows:
            ratio_row = label == "host / bare"
            print(("   %-26s %11.2f %9.2f %9.2f %11.2f %14.2f" if ratio_row else
                   "   %-26s %11.0f %9.1f %9.1f %10.0f%% %14.0f")
                  % (label, m["frames_per_sec"], m["p50_us"], m["p99_us"],
                     m["server_cpu_pct"], m["server_ns_per_frame"]))
        return dict(host=h, bare=b, ratio=ratio, rounds=runs)

    def throughput(self):
        a = self.args
        print("== echo throughput: %d connections x %d in flight, %d-byte payloads, "
              "%d rounds of %gs (+%gs warm-up) each"
              % (a.conns, a.depth, a.payload, a.rounds, a.seconds, a.warmup))
        res = self.duel(self.new_host(), self.new_bare(), perf=True)
        print("   throughput ratio %.2f: %s (aim %.2f or better)"
              % (res["ratio"], "met" if res["ratio"] >= AIM_RATIO else "NOT met", AIM_RATIO))
        print(flush=True)
        return res

    def tls_throughput(self):
        a = self.args
        print("== TLS 1.3 echo throughput: %d connections x %d in flight, %d-byte payloads, "
              "%d rounds of %gs (+%gs warm-up) each"
              % (a.conns, a.depth, a.payload, a.rounds, a.seconds, a.warmup))
        res = self.duel(self.new_host("tls"), self.new_bare(tls=True), extra=["-T"])
        print("   TLS throughput ratio %.2f: %s (aim %.2f or better)"
              % (res["ratio"], "met" if res["ratio"] >= AIM_TLS_RATIO else "NOT met",
                 AIM_TLS_RATIO))
        print(flush=True)
        return res

    def tls_handshakes(self):
        a = self.args
        print("== TLS 1.3 full handshakes: %d at a time, each a new connection with mutual "
              "authentication (Ed25519) and one %d-byte PING answered, then closed; "
              "%d rounds of %gs (+%gs warm-up); a round trip is a whole connection"
              % (a.hs_conns, a.payload, a.rounds, a.seconds, a.warmup))
        res = self.duel(self.new_host("tls"), self.new_bare(tls=True), extra=["-H"],
                        conns=a.hs_conns, unit="handshakes")
        print("   handshake ratio %.2f: %s (aim %.2f or better)"
              % (res["ratio"], "met" if res["ratio"] >= AIM_TLS_RATIO else "NOT met",
                 AIM_TLS_RATIO))
        print(flush=True)
        return res

    def tls_idle_memory(self):
        """tls_idle_mem.py's measurement: host RSS per idle connection,
        plaintext and TLS, each after one exchange."""
        os.environ["top_builddir"] = self.builddir
        os.environ.setdefault("top_srcdir", os.path.dirname(os.path.dirname(HERE)))
        import tls_idle_mem  # noqa: E402  (it reads top_builddir as it loads)
        # Its test library catches SIGTERM for its own hosts; ours must
        # still stop the servers this script started.
        signal.signal(signal.SIGTERM, lambda sig, frame: sys.exit(143))
        signal.signal(signal.SIGINT, signal.default_int_handler)
        n = self.args.tls_idle
        print("== idle TLS connections: %d held by a host (one PING/PONG each), RSS growth" % n)
        plain, tls = tls_idle_mem.measure(n, self.tmp)
        extra = tls - plain
        print("   %-22s %12.0f bytes/conn" % ("plaintext", plain))
        print("   %-22s %12.0f bytes/conn" % ("TLS 1.3", tls))
        print("   TLS beyond plaintext %.0f bytes: %s (aim under %d)"
              % (extra, "met" if extra < AIM_TLS_IDLE_EXTRA else "NOT met", AIM_TLS_IDLE_EXTRA))
        print(flush=True)
        return dict(plain=plain, tls=tls, extra=extra)

    # --- idle memory ---------------------------------------------------

    def idle_one(self, server):
        # One short exchange first, so lazily built state is in the baseline.
        idlehold.IdleHolder(server.port, 1).open().close()
        time.sleep(0.5)
        before = pss_bytes(server.proc.pid)
        holder = idlehold.IdleHolder(server.port, self.args.idle)
        try:
            t0 = time.monotonic()
            holder.open()
            took = time.monotonic() - t0
            time.sleep(1.0)
            after = pss_bytes(server.proc.pid)
            closed = holder.closed_count()
        finally:
            holder.close()
        if closed:
            raise RuntimeError("%s closed %d of %d idle connections"
                               % (server.name, closed, self.args.idle))
        per = (after - before) / self.args.idle
        print("   %-22s %10.1f %10.1f %12.0f %9.1f"
              % (server.name, before / 1048576, after / 1048576, per, took), flush=True)
        return per

    def idle_memory(self):
        print("== idle connections: %d held (one PING/PONG each), Pss growth of the server"
              % self.args.idle)
        idlehold.raise_fd_limit(self.args.idle + 64)
        print("   %-22s %10s %10s %12s %9s" % ("", "before MiB", "after MiB",
                                               "bytes/conn", "open s"))
        res = {}
        for make in (self.new_host, self.new_bare):
            s = make()
            try:
                res[s.name] = self.idle_one(s)
            finally:
                self.stop(s)
        print("   host memory per idle connection %.0f bytes: %s (aim under %d, "
              "kernel socket memory not included)"
              % (res["maybep2pd"], "met" if res["maybep2pd"] < AIM_IDLE_BYTES else "NOT met",
                 AIM_IDLE_BYTES))
        print(flush=True)
        return res

    # --- other benchmarks ----------------------------------------------

    def others(self, only):
        status = 0
        for path in sorted(glob.glob(os.path.join(HERE, "*_bench.py"))):
            name = os.path.basename(path)[:-len("_bench.py")]
            if only and name not in only:
                continue
            print("== %s (%s)" % (name, os.path.basename(path)), flush=True)
            env = dict(os.environ, top_builddir=self.builddir,
                       top_srcdir=os.path.dirname(os.path.dirname(HERE)))
            rc = subprocess.call([sys.executable, path, "--builddir", self.builddir], env=env)
            if rc != 0:
                print("!! %s exited with status %d" % (os.path.basename(path), rc))
                status = 1
            print(flush=True)
        return status


def machine():
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg()
    return ("%s, %d CPUs, Linux %s; load average %.2f %.2f %.2f at start"
            % (model, os.cpu_count() or 0, platform.release(), *load))


def sanitized(builddir):
    """True if the build under test was configured with sanitizers."""
    try:
        with open(os.path.join(builddir, "Makefile")) as f:
            return any(line.startswith("SAN_CFLAGS") and "-fsanitize" in line for line in f)
    except OSError:
        return False


def main():
    p = argparse.ArgumentParser(description="MaybeP2P host benchmark")
    p.add_argument("--builddir", default=os.environ.get("top_builddir", "."))
    p.add_argument("--only", action="append", default=[],
                   help="echo, tls, or the NAME of a NAME_bench.py; repeatable")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--seconds", type=float, default=2.0, help="measured seconds per round")
    p.add_argument("--warmup", type=float, default=0.3)
    p.add_argument("--conns", type=int, default=8)
    p.add_argument("--depth", type=int, default=16)
    p.add_argument("--payload", type=int, default=64)
    p.add_argument("--idle", type=int, default=10000)
    p.add_argument("--hs-conns", type=int, default=8,
                   help="handshakes in progress at once in the handshake figures")
    p.add_argument("--tls-idle", type=int, default=2000,
                   help="idle connections of each kind for the TLS memory figure")
    p.add_argument("--no-idle", action="store_true", help="skip the idle memory figures")
    p.add_argument("--no-others", action="store_true", help="skip tests/bench/*_bench.py")
    p.add_argument("--pin", action="store_true",
                   help="pin the server and the load generator to different CPUs")
    p.add_argument("--perf", metavar="FILE",
                   help="perf record -g the host during its first round into FILE")
    p.add_argument("--json", metavar="FILE", help="also write the echo figures to FILE")
    args = p.parse_args()

    # `make` killed by SIGTERM must still stop every server we started.
    signal.signal(signal.SIGTERM, lambda sig, frame: sys.exit(143))
    bench = Bench(args)
    for path in (bench.maybep2pd, bench.bare, bench.loadgen,
                 os.path.join(bench.plugin_dir, "echo.so")):
        if not os.path.exists(path):
            sys.stderr.write("run.py: %s is missing: run make first\n" % path)
            return 1
    print("machine: %s" % machine())
    if sanitized(bench.builddir):
        print("!! this build has sanitizers on: figures are not representative")
    print(flush=True)

    status = 0
    figures = {"machine": machine()}
    try:
        if not args.only or "echo" in args.only:
            figures["throughput"] = bench.throughput()
            if not args.no_idle:
                figures["idle_bytes_per_conn"] = bench.idle_memory()
        if not args.only or "tls" in args.only:
            figures["tls_throughput"] = bench.tls_throughput()
            figures["tls_handshakes"] = bench.tls_handshakes()
            if not args.no_idle:
                figures["tls_idle_bytes_per_conn"] = bench.tls_idle_memory()
        if args.json:
            with open(args.json, "w") as f:
                json.dump(figures, f, indent=1)
        others_only = [o for o in args.only if o not in ("echo", "tls")]
        if not args.no_others and (not args.only or others_only):
            status = bench.others(others_only)
    except RuntimeError as e:
        print("!! %s" % e)
        status = 1
    finally:
        bench.cleanup()
    return 1 if status or bench.failed else 0


if __name__ == "__main__":
    sys.exit(main())
