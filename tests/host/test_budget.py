#!/usr/bin/env python3
"""test_budget.py -- no peer takes more than its share of the host.

- Silent connections from ten addresses fill every inbound slot: honest
  peers still get in (the oldest silent connection is evicted), and the
  silent ones are closed at timeouts.first_frame.
- Outbound dials have their own budget: dials a peer provokes never use up
  inbound slots.
- Partial frames held open on many connections stay within
  limits.max_buffered, and the memory is given back afterwards.
Every refusal is counted in `maybep2pctl stats` and logged rate-limited."""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))

from mp2ptest import Check, FrameConn, Host, Listener, builddir, frame, wait_for  # noqa: E402
import mp2ptest  # noqa: E402
# host.security.mode = "plain": Python clients here speak plaintext frames to the host.
mp2ptest.Host.default_security = "plain"

ok = Check("test_budget")
VALGRIND = bool(os.environ.get("MP2P_VALGRIND"))
# AddressSanitizer keeps freed memory in quarantine and maps shadow memory,
# so a sanitized host's RSS says nothing about what it holds: the RSS
# checks run on the plain build only (the budget counters run on both).
with open(os.path.join(builddir, "maybep2pd"), "rb") as _f:
    SANITIZED = b"__asan_init" in _f.read()


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def ping_ok(h, source="127.0.0.1"):
    try:
        c = FrameConn(h.port, source=source, timeout=5)
        c.send("echo", "PING", b"x")
        got = c.recv(5)
        c.close()
        return got == ("echo", "PONG", b"x")
    except (OSError, TimeoutError):
        return False


def ping_ok_on(c):
    try:
        c.send("echo", "PING", b"again")
        return c.recv(5) == ("echo", "PONG", b"again")
    except (OSError, TimeoutError):
        return False


def silent_flood():
    h = Host("silent", log_level="info",
             host_settings="limits: { max_inbound = 300; max_connections_per_ip = 100; };")
    h.start()
    silent = []
    try:
        for i in range(300):
            silent.append(socket.create_connection(("127.0.0.1", h.port),
                                                   source_address=("127.0.0.%d" % (10 + i % 10), 0)))
        ok(wait_for(lambda: h.ctl("stats")["inbound"] == 300, 20),
           "300 silent connections from 10 addresses fill max_inbound")
        # The honest peers stay connected, so each one needs a slot of its own.
        honest, good = [], 0
        for i in range(50):
            try:
                c = FrameConn(h.port, timeout=5)
                c.send("echo", "PING", b"h%d" % i)
                if c.recv(5) == ("echo", "PONG", b"h%d" % i):
                    good += 1
                honest.append(c)
            except (OSError, TimeoutError):
                pass
        ok(good == 50, "honest connects answered while the silent ones hold every slot: %d/50" % good)
        st = h.ctl("stats")
        ok(st["evicted_silent"] == 50 and st["refused_max_inbound"] == 0,
           "each honest connect evicted a silent one: evicted_silent=%d refused=%d"
           % (st["evicted_silent"], st["refused_max_inbound"]))
        lines = [l for l in h.log_text().splitlines() if "evicted" in l]
        ok(1 <= len(lines) <= 12, "evictions logged rate-limited: %d lines" % len(lines))
        # The rest are closed at timeouts.first_frame (5 s by default).
        ok(wait_for(lambda: h.ctl("stats")["timeouts_first_frame"] == 250, 30),
           "the silent connections left are closed at first_frame: %d"
           % h.ctl("stats")["timeouts_first_frame"])
        ok(all(ping_ok_on(c) for c in honest), "the honest connections are still served")
        ok(h.stop() == 0, "the host stops cleanly")
    finally:
        for s in silent:
            s.close()
        h.cleanup()


def first_frame():
    h = Host("first", log_level="info", host_settings="timeouts: { first_frame = 1.0; idle = 60; };")
    h.start()
    try:
        quiet = FrameConn(h.port)
        partial = FrameConn(h.port)
        partial.send_raw(frame("echo", "PING", b"0123456789")[:25])
        talker = FrameConn(h.port)
        talker.send("echo", "PING", b"a")
        ok(talker.recv() == ("echo", "PONG", b"a"), "a connection that talks is answered")
        t0 = time.time()
        ok(quiet.closed_by_peer(10), "a silent connection is closed at first_frame")
        ok(partial.closed_by_peer(10), "so is one whose first frame never completes")
        ok(time.time() - t0 < 8, "within first_frame, not the 60 s idle timeout")
        time.sleep(1.5)
        talker.send("echo", "PING", b"b")
        ok(talker.recv() == ("echo", "PONG", b"b"), "a connection that sent a frame is kept")
        st = h.ctl("stats")
        ok(st["timeouts_first_frame"] == 2, "both counted: timeouts_first_frame=%d" % st["timeouts_first_frame"])
        h.wait_log(r"first frame timeout: no complete frame in 1 s")
        ok(True, "the log line says why")
        ok(h.stop() == 0, "the host stops cleanly")
    finally:
        h.cleanup()


def outbound_budget():
    # trust_claims on, so the JOINs below do make the host dial: the test is
    # of the outbound budget alone.
    h = Host("outb", log_level="info",
             host_settings="limits: { max_inbound = 60; max_outbound = 10; }; "
                           "dial: { trust_claims = true; rate = 100000; max_pending_per_ip = 1000; };",
             plugins=[dict(name="echo", file="echo.so"),
                      dict(name="cv1", file="classicv1.so", config="peer_timeout = 30;")])
    pits = [Listener("127.0.0.1") for _ in range(5)]
    h.start()
    try:
        c = FrameConn(h.port)
        for i in range(500):
            c.send("ClassicV1", "JOIN", b"REQ,j%d,127.0.0.1,%d" % (i, pits[i % 5].port))
        c.send("echo", "PING", b"sync")
        ok(c.recv(20) == ("echo", "PONG", b"sync"), "the host read all 500 JOINs")
        st = h.ctl("stats")
        ok(st["outbound"] <= 10 and st["dial_refused_outbound"] > 0,
           "outbound held at max_outbound: %d open, %d dials refused" % (st["outbound"], st["dial_refused_outbound"]))
        good = sum(1 for _ in range(50) if ping_ok(h))
        ok(good == 50, "honest connects while outbound is full: %d/50" % good)
        c.close()
        ok(h.stop() == 0, "the host stops cleanly")
    finally:
        for p in pits:
            p.close()
        h.cleanup()


def partial_frames():
    budget = 64
    n = 200
    h = Host("mem", log_level="info",
             host_settings="limits: { max_buffered = %d; max_connections_per_ip = 1000; }; "
                           "timeouts: { frame = 60; first_frame = 60; };" % (budget << 20))
    h.start()
    try:
        base = rss_mib(h.proc.pid)
        big = frame("echo", "PING", b"\0" * (1 << 20))[:-1]    # one byte short
        socks = []
        peak = [base]
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                try:
                    peak[0] = max(peak[0], rss_mib(h.proc.pid))
                except OSError:
                    return
                time.sleep(0.05)
        w = threading.Thread(target=watch, daemon=True)
        w.start()

        def attack(i):
            try:
                s = socket.create_connection(("127.0.0.1", h.port), timeout=120,
                                             source_address=("127.0.0.%d" % (20 + i % 20), 0))
                socks.append(s)
                s.sendall(big)
            except OSError:
                pass
        threads = [threading.Thread(target=attack, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ok(ping_ok(h), "an honest peer is answered during the attack")
        # On a loaded machine the host may still be reading: wait for it.
        wait_for(lambda: h.ctl("stats")["dropped_buffered"] > 0, 60)
        st = h.ctl("stats")
        ok(st["dropped_buffered"] > 0 and st["buffered"] <= budget << 20,
           "%d MiB of partial frames against a %d MiB budget: %d connections dropped, %.1f MiB held"
           % (n, budget, st["dropped_buffered"], st["buffered"] / 1048576.0))
        lines = [l for l in h.log_text().splitlines() if "max_buffered" in l]
        ok(1 <= len(lines) <= 12, "drops logged rate-limited: %d lines" % len(lines))
        stop.set()
        if not VALGRIND and not SANITIZED:
            ok(peak[0] <= base + budget + 64, "RSS under attack %.0f MiB <= start %.0f + budget %d + 64"
               % (peak[0], base, budget))
        for s in socks:
            s.close()
        ok(wait_for(lambda: h.ctl("stats")["connections"] == 0 and h.ctl("stats")["buffered"] == 0, 20),
           "every attacking connection is gone and nothing is held")
        if not VALGRIND and not SANITIZED:
            after = wait_for(lambda: (rss_mib(h.proc.pid) <= base + 24) and rss_mib(h.proc.pid), 10)
            ok(after, "RSS after the attack %.0f MiB, back within 24 MiB of the %.0f MiB at start"
               % (rss_mib(h.proc.pid), base))
        ok(h.stop() == 0, "the host stops cleanly")
    finally:
        h.cleanup()


def main():
    for t in (first_frame, silent_flood, outbound_budget, partial_frames):
        try:
            t()
        except (AssertionError, RuntimeError, OSError) as e:
            ok(False, "%s: %s" % (t.__name__, e))
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
