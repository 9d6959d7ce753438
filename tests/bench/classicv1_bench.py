#!/usr/bin/env python3
"""classicv1_bench.py -- the classicv1 benchmark.

Flood: for 50 and 200 hosts on loopback, each bootstrapped from one or two
others with a table of 8, the time from `broadcast` until every host has
delivered it (from the inbox times, one wall clock) and the FOR frames sent
per broadcast. Beside them, measured in the same run: the original's
broadcast, one original peer sending MESG to every host on its own
connection; and the frames the original's scheme needs for a broadcast to
reach everyone, every host sending to every peer of a full table, N(N-1).

Inbound MESG: how many messages a second one host delivers when clients
send them one frame per connection, as the original peers do; beside it,
the same clients against bench's bare libevent server, which parses the
frames and drops them with no plugin layer.

Usage: classicv1_bench.py --builddir DIR [--sizes 50,200] [--broadcasts 5]
                          [--messages 20000] [--clients 2]
"""
import argparse
import multiprocessing
import os
import random
import re
import socket
import statistics
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))


def frame(mtype, payload):
    return b"ClassicV1".ljust(12, b"\0") + mtype + struct.pack("!I", len(payload)) + payload


IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


def oneshot(port, payload, source):
    s = socket.socket()
    # Let connect() pick the port: a bind() to port 0 searches for one
    # free of TIME_WAIT sockets, which slows down as they pile up.
    s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    s.sendall(frame(b"MESG", payload))
    s.close()


def client(port, count, index, out):
    """Sends `count` MESG frames, one connection each. Source addresses
    rotate over 127.0.0.0/8 so the client's TIME_WAIT sockets never use up
    one address's ports."""
    sent = 0
    for i in range(count):
        src = "127.0.%d.%d" % (1 + index, 2 + i % 250)
        try:
            oneshot(port, b"REQ,bench message %d" % i, src)
            sent += 1
        except OSError:
            pass
    out.put(sent)


def drive(port, total, clients):
    q = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=client, args=(port, total // clients, i, q))
             for i in range(clients)]
    t0 = time.time()
    for p in procs:
        p.start()
    sent = sum(q.get() for _ in procs)
    for p in procs:
        p.join()
    return sent, t0, time.time() - t0


class Bench:
    def __init__(self, args):
        self.args = args
        os.environ["top_builddir"] = args.builddir
        sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
        sys.path.insert(0, os.path.join(TOP, "tests", "classicv1"))
        import mp2ptest
        mp2ptest.builddir = args.builddir
        self.mp2ptest = mp2ptest
        self.Host = mp2ptest.Host
        self.hosts = []

    def host(self, name, config, log_level="info", settings=""):
        h = self.Host(name=name, log_level=log_level, host_settings=settings,
                      plugins=[dict(name="cv1", file="classicv1.so", config=config)])
        self.hosts.append(h)
        return h

    def cleanup(self):
        for h in self.hosts:
            h.cleanup()
        self.hosts = []

    # ---- flood -------------------------------------------------------------

    def flood(self, n):
        rng = random.Random(n)
        net = []
        limits = "limits: { max_connections = 20000; max_connections_per_ip = 20000; };"
        for i in range(n):
            boot = [] if i == 0 else [net[j].addr for j in
                                      rng.sample(range(i), min(i, rng.choice((1, 2))))]
            cfg = 'bootstrap = [ %s ]; max_peers = 8; peer_timeout = 120;' % ", ".join(
                '"%s"' % b for b in boot)
            net.append(self.host("f%03d" % i, cfg, settings=limits).start())

        def sizes():
            return [len(h.ctl("cv1", "peers").get("rows", [])) for h in net]
        deadline = time.time() + 120
        while True:
            s = sizes()
            if min(s) >= 4 or time.time() > deadline:
                break
            time.sleep(1)
        if min(s) < 4:
            raise RuntimeError("tables did not fill: %s" % s)

        def for_sent():
            total = 0
            for h in net:
                for r in h.ctl("stats").get("rows", []):
                    if r.get("plugin") == "cv1" and r.get("counter") == "for_sent":
                        total += r["value"]
            return total

        def delivered(bid):
            return sum(1 for h in net if re.search("delivered (broadcast %s|message from [^:]+:\\d+: %s)"
                                                   % (bid, bid), h.log_text()))

        before = for_sent()
        latencies = []
        ids = []
        for k in range(self.args.broadcasts):
            origin = net[rng.randrange(n)]
            r = origin.ctl("cv1", "broadcast", "flood %d" % k)
            ids.append((r["id"], r["at_us"]))
            end = time.time() + 30
            while delivered(r["id"]) < n:
                if time.time() > end:
                    self.explain(net, r["id"], delivered)
                    raise RuntimeError("broadcast %d (%s from %s) reached %d of %d" % (k, r["id"], origin.name, delivered(r["id"]), n))
                time.sleep(0.1)
        frames = (for_sent() - before) / self.args.broadcasts
        inboxes = [h.ctl("cv1", "inbox").get("rows", []) for h in net]
        depth = 0
        for bid, t0 in ids:
            got = [m for box in inboxes for m in box if m["id"] == bid]
            if len(got) != n:
                raise RuntimeError("broadcast %s delivered %d times, not %d" % (bid, len(got), n))
            latencies.append((max(m["at_us"] for m in got) - t0) / 1000.0)
            # The origin delivers with the full limit; each hop takes one.
            limit = max(m["hops"] for m in got)
            depth = max(depth, limit - min(m["hops"] for m in got))

        # The original's broadcast: one peer with every host in its table
        # sends MESG to each, a new connection per message.
        base = []
        for k in range(self.args.broadcasts):
            text = "orig%dx%d" % (n, k)
            t0 = time.time()
            for h in net:
                oneshot(h.port, ("REQ," + text).encode(), "127.0.0.1")
            end = time.time() + 30
            while delivered(text) < n:
                if time.time() > end:
                    raise RuntimeError("original broadcast reached %d of %d" % (delivered(text), n))
                time.sleep(0.05)
            inboxes = [h.ctl("cv1", "inbox").get("rows", []) for h in net]
            times = [m["at_us"] for box in inboxes for m in box if m["text"] == text]
            base.append((max(times) / 1e6 - t0) * 1000.0)
        for h in net:
            h.stop()
        self.cleanup()
        return (statistics.median(latencies), max(latencies), frames, statistics.median(base),
                min(s), max(s), depth)

    @staticmethod
    def explain(net, bid, delivered):
        """Says, for each host that missed a broadcast, who knows it."""
        tables = {h.name: h.ctl("cv1", "peers") for h in net}
        by_pid = {t["pid"]: name for name, t in tables.items()}
        for h in net:
            if re.search("delivered broadcast %s" % bid, h.log_text()):
                continue
            t = tables[h.name]
            known_by = [name for name, o in tables.items()
                        if any(r["pid"] == t["pid"] for r in o.get("rows", []))]
            print("missed by %s: its peers %s; in the tables of %s" % (
                h.name, [(by_pid.get(r["pid"], "?"), r["kind"]) for r in t.get("rows", [])],
                known_by), file=sys.stderr)
            for name in known_by:
                o = [x for x in net if x.name == name][0]
                row = [r for r in tables[name]["rows"] if r["pid"] == t["pid"]][0]
                m = re.search("delivered broadcast %s from \\S+ hops (\\d+)" % bid, o.log_text())
                print("  %s sees it as %s fails %s silent %s; %s" % (
                    name, row["kind"], row["fails"], row["silent"],
                    "delivered it with %s hops left" % m.group(1) if m else "did not deliver it"),
                    file=sys.stderr)
            if os.environ.get("CV1_BENCH_DEBUG"):
                print(h.log_text()[-4000:], file=sys.stderr)

    # ---- inbound MESG --------------------------------------------------------

    def mesg_rate(self):
        m, c = self.args.messages, self.args.clients
        limits = "limits: { max_connections = 20000; max_connections_per_ip = 20000; };"
        h = self.host("rate", "", log_level="info", settings=limits).start()

        def got():
            for r in h.ctl("stats").get("rows", []):
                if r.get("plugin") == "cv1" and r.get("counter") == "delivered_direct":
                    return r["value"]
            return 0
        sent, t0, _ = drive(h.port, m, c)
        while got() < sent and time.time() - t0 < 120:
            time.sleep(0.05)
        delivered = got()
        # The inbox says when the last message was delivered, to the
        # microsecond, whatever the polling above cost.
        last = max(r["at_us"] for r in h.ctl("cv1", "inbox").get("rows", []))
        took = last / 1e6 - t0
        h.stop()
        self.cleanup()

        bare = os.path.join(self.args.builddir, "tests", "bench", "bare_server")
        bare_rate = None
        if os.path.exists(bare):
            port = self.mp2ptest.free_port()
            p = subprocess.Popen([bare, "-a", "127.0.0.1", "-p", str(port)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                for _ in range(100):
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                        break
                    except OSError:
                        time.sleep(0.05)
                bsent, _, btook = drive(port, m, c)
                bare_rate = bsent / btook
            finally:
                p.kill()
                p.wait()
        return delivered, sent, delivered / took, bare_rate


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", required=True)
    ap.add_argument("--sizes", default="50,200")
    ap.add_argument("--broadcasts", type=int, default=5)
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--clients", type=int, default=2)
    args = ap.parse_args()
    b = Bench(args)
    try:
        print("classicv1 flood: hosts with 8-entry tables, each bootstrapped from 1-2 others; "
              "median of %d broadcasts" % args.broadcasts)
        print("%6s %8s %6s %12s %10s %12s %16s %18s" % (
            "hosts", "tables", "depth", "all-have ms", "worst ms", "FOR frames", "original frames",
            "one-peer-MESG ms"))
        for n in [int(x) for x in args.sizes.split(",")]:
            med, worst, frames, base, lo, hi, depth = b.flood(n)
            print("%6d %8s %6d %12.1f %10.1f %12.0f %16d %18.1f" % (
                n, "%d-%d" % (lo, hi), depth, med, worst, frames, n * (n - 1), base), flush=True)
        print("  depth: most hops any copy took. FOR frames: copies sent per broadcast, all")
        print("  hosts together. original frames: every host sending to every peer of a full")
        print("  table, N(N-1). one-peer-MESG: one original peer sending MESG to all N hosts,")
        print("  a connection each, measured now.")
        delivered, sent, rate, bare_rate = b.mesg_rate()
        print()
        print("classicv1 inbound MESG, one frame per connection, %d client processes:" % args.clients)
        print("  host delivered %d of %d: %.0f messages/s" % (delivered, sent, rate))
        if bare_rate:
            print("  bare libevent server, same clients: %.0f frames/s (the clients' ceiling here)"
                  % bare_rate)
        if delivered != sent:
            print("ERROR: messages lost")
            return 1
    finally:
        b.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
