#!/usr/bin/env python3
"""attacks.py -- the hostile-peer figures of the README's security section,
measured against the build in $top_builddir (run it once against a build of
an older commit for the "before" column; it uses only settings both know).

  top_builddir=_build top_srcdir=. PYTHONPATH=tests/lib python3 tests/bench/attacks.py

Loopback only: the attacker writes from 127.0.0.2, the third party it names
listens on 127.0.0.3."""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "kademlia"))

from mp2ptest import FrameConn, Host, Listener, frame  # noqa: E402
import kadnet  # noqa: E402


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def third_party(n=3000):
    victim = Listener("127.0.0.3")
    h = Host("dials", log_level="info", plugins=[
        dict(name="cv1", file="classicv1.so", config="peer_timeout = 30;"),
        dict(name="kad", file="kademlia.so", config="request_timeout = 1.0;")])
    h.start()
    try:
        c = FrameConn(h.port, source="127.0.0.2", timeout=60)
        for i in range(n):
            c.send("ClassicV1", "JOIN", b"REQ,evil%d,127.0.0.3,%d" % (i, victim.port))
        for i in range(n):
            c.send("Kademlia", "PING", kadnet.request("PING", i + 1, os.urandom(32),
                                                      "127.0.0.3:%d" % victim.port))
        # Until the victim has seen no new connection for 3 s (60 s at most).
        last, quiet, deadline = -1, time.time(), time.time() + 60
        while time.time() < deadline and time.time() - quiet < 3:
            if victim.accepted != last:
                last, quiet = victim.accepted, time.time()
            time.sleep(0.2)
        frames = 2 * n
        print("third-party connections per hostile frame: %d connections / %d frames = %.2f"
              % (victim.accepted, frames, victim.accepted / frames))
        c.close()
    finally:
        h.cleanup()
        victim.close()


def partial_frames(n=1000):
    h = Host("mem", log_level="info", host_settings="limits: { max_connections_per_ip = 100000; "
             "max_connections = 100000; }; timeouts: { frame = 120; };")
    h.start()
    try:
        base = rss(h.proc.pid)
        big = frame("echo", "PING", b"\0" * (1 << 20))[:-1]
        socks, peak = [], [base]
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                peak[0] = max(peak[0], rss(h.proc.pid))
                time.sleep(0.05)
        threading.Thread(target=watch, daemon=True).start()

        def attack(i):
            try:
                s = socket.create_connection(("127.0.0.1", h.port), timeout=120,
                                             source_address=("127.0.1.%d" % (1 + i % 200), 0))
                socks.append(s)
                s.sendall(big)
            except OSError:
                pass
        ts = [threading.Thread(target=attack, args=(i,)) for i in range(n)]
        for i in range(0, n, 50):
            for t in ts[i:i + 50]:
                t.start()
            for t in ts[i:i + 50]:
                t.join()
        time.sleep(2)
        stop.set()
        during = peak[0]
        for s in socks:
            s.close()
        deadline = time.time() + 30
        while h.ctl("stats")["connections"] > 0 and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(3)
        print("RSS, %d x 1 MiB partial frames: at start %.0f MiB, peak under attack %.0f MiB, "
              "after %.0f MiB" % (n, base, during, rss(h.proc.pid)))
    finally:
        h.cleanup()


def silent_flood():
    h = Host("silent", log_level="info",
             host_settings="limits: { max_connections = 300; max_connections_per_ip = 100; };")
    h.start()
    silent, honest = [], []
    try:
        for i in range(300):
            silent.append(socket.create_connection(("127.0.0.1", h.port),
                                                   source_address=("127.0.0.%d" % (10 + i % 10), 0)))
        time.sleep(1)
        good = 0
        for i in range(50):
            try:
                c = FrameConn(h.port, timeout=5)
                c.send("echo", "PING", b"h%d" % i)
                if c.recv(5) == ("echo", "PONG", b"h%d" % i):
                    good += 1
                honest.append(c)
            except (OSError, TimeoutError):
                pass
        print("honest connects during a flood of 300 silent connections (300 slots): %d/50" % good)
    finally:
        for s in silent:
            s.close()
        for c in honest:
            c.close()
        h.cleanup()


def symlinks():
    h = Host("links", log_level="info", plugins=[dict(name="tp", file="tp_good.so"),
                                                 dict(name="kad", file="kademlia.so")])
    h.write_config(h.config_text().replace('  id = "links";\n', ""))
    out = os.path.join(h.dir, "outside")
    os.makedirs(out)
    os.makedirs(os.path.join(h.state_dir, "kad"), mode=0o700)
    os.chmod(h.state_dir, 0o700)
    links = {"host-id": "hostid", ".tp.state.tmp": "state", "kad/node_id.tmp": "nodeid",
             "kad/routes.tmp": "routes"}
    for link, target in links.items():
        os.symlink(os.path.join(out, target), os.path.join(h.state_dir, link))
    try:
        h.start()
        time.sleep(1)
        h.stop()
        written = sorted(t for t in links.values() if os.path.exists(os.path.join(out, t)))
        print("files written through %d planted symlinks: %d %s" % (len(links), len(written), written))
    finally:
        h.cleanup()


if __name__ == "__main__":
    names = sys.argv[1:]
    for f in (third_party, silent_flood, symlinks, partial_frames):
        if names and f.__name__ not in names:
            continue
        try:
            f()
        except Exception as e:   # a figure that cannot be taken is said so, not hidden
            print("%s: could not measure: %s" % (f.__name__, e))
