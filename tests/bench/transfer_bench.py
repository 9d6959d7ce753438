#!/usr/bin/env python3
"""transfer_bench.py -- bulk transfer: the SDK's transfer example moving a
256 MB file between two maybep2pd processes on loopback, beside raw TCP
moving the same file between two processes with the same hashing
(tests/bench/rawxfer: read a chunk, SHA-256 it, write it; the receiver
hashes, writes to a file and checks the hash), in the same run.

The two take turns, round after round, so a neighbour's burst of CPU falls
on both alike; the median round of each is reported, with the ratio.
The plugin's time runs from `maybep2pctl xfer send` to the receiver's hash
check coming back; rawxfer's from connect to the same check.

Beside the rates, the CPU time both ends used per MB moved (user + system,
of the two maybep2pd processes from /proc, of rawxfer and its receiver
from getrusage): on a machine shared with other work the rates swing with
the neighbours' load, the CPU each byte costs much less.

Usage: transfer_bench.py --builddir DIR [--mb 256] [--rounds 3] [--chunk 262144]
"""
import argparse
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

AIM_RATIO = 0.9


def make_file(path, mb):
    """Incompressible bytes, written once; hashed here to check both runs."""
    h = hashlib.sha256()
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for i in range(mb):
            chunk = bytes([i & 0xff]) + block[1:]
            f.write(chunk)
            h.update(chunk)
    return h.hexdigest()


def cpu_of(pid):
    """User + system seconds a process has used so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--builddir", required=True)
    p.add_argument("--mb", type=int, default=256)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--chunk", type=int, default=256 * 1024)
    args = p.parse_args()
    builddir = os.path.abspath(args.builddir)
    os.environ["top_builddir"] = builddir
    os.environ.setdefault("top_srcdir", TOP)
    import mp2ptest
    mp2ptest.builddir = builddir
    raw = os.path.join(builddir, "tests", "bench", "rawxfer")
    plugdir = os.path.join(builddir, "sdk", "examples", "transfer", ".libs")
    if not os.path.exists(raw) or not os.path.exists(os.path.join(plugdir, "transfer.so")):
        print("transfer bench: skipped (built without libcrypto: configure without --disable-kademlia)")
        return 0

    tmp = tempfile.mkdtemp(prefix="mp2p-xfer-bench-")
    inbox = os.path.join(tmp, "inbox")
    os.makedirs(inbox)
    src = os.path.join(tmp, "payload.bin")
    want = make_file(src, args.mb)
    conf = "chunk = %d;" % args.chunk
    a = mp2ptest.Host(name="xfer-a", plugin_dir=plugdir, log_level="info",
                      plugins=[dict(name="xfer", file="transfer.so", config=conf)])
    b = mp2ptest.Host(name="xfer-b", plugin_dir=plugdir, log_level="info",
                      plugins=[dict(name="xfer", file="transfer.so", config='dir = "%s"; %s' % (inbox, conf))])
    host_rates, raw_rates, host_cpu, raw_cpu = [], [], [], []
    try:
        b.start()
        a.start()
        for rnd in range(args.rounds):
            out = os.path.join(inbox, "raw.bin")
            c0 = children_cpu()
            r = subprocess.run([raw, src, out, str(args.chunk)], capture_output=True, text=True)
            raw_cpu.append((children_cpu() - c0) / args.mb)
            if r.returncode != 0:
                print("transfer bench: rawxfer failed: %s" % r.stderr.strip())
                return 1
            raw_rates.append(float(r.stdout.split()[2]))
            os.unlink(out)

            c0 = cpu_of(a.proc.pid) + cpu_of(b.proc.pid)
            t0 = time.time()
            res = a.ctl("xfer", "send", b.addr, src, "copy.bin")
            wall = time.time() - t0
            host_cpu.append((cpu_of(a.proc.pid) + cpu_of(b.proc.pid) - c0) / args.mb)
            if res.get("sha256") != want or res.get("bytes") != args.mb << 20:
                print("transfer bench: the plugin's transfer failed: %s" % res)
                return 1
            host_rates.append(float(res["mb_per_s"]))
            os.unlink(os.path.join(inbox, "copy.bin"))
            print("  round %d: transfer %.1f MB/s (%.2f s by maybep2pctl, %.2f ms CPU/MB), "
                  "raw TCP %.1f MB/s (%.2f ms CPU/MB)" % (rnd + 1, host_rates[-1], wall, host_cpu[-1] * 1e3,
                                                       raw_rates[-1], raw_cpu[-1] * 1e3))
            sys.stdout.flush()
        a.stop()
        b.stop()
    finally:
        a.cleanup()
        b.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    hm, rm = statistics.median(host_rates), statistics.median(raw_rates)
    hc, rc = statistics.median(host_cpu) * 1e3, statistics.median(raw_cpu) * 1e3
    print("transfer: %d MB, chunk %d KiB, SHA-256 on both ends, median of %d rounds"
          % (args.mb, args.chunk // 1024, args.rounds))
    print("  maybep2pd + transfer.so  %8.1f MB/s  %6.2f ms CPU per MB (both hosts)" % (hm, hc))
    print("  raw TCP (rawxfer)        %8.1f MB/s  %6.2f ms CPU per MB (both ends)" % (rm, rc))
    print("  CPU per MB, raw / plugin: %.2f" % (rc / hc if hc > 0 else 0))
    print("  ratio %.2f (aim >= %.2f: %s)" % (hm / rm, AIM_RATIO, "met" if hm / rm >= AIM_RATIO else "MISSED"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
