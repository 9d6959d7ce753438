#!/usr/bin/env python3
"""test_dialguard.py -- every dial a plugin asks for passes the host's guard.

A test plugin dials whatever address a peer names in a DIAL frame (the most
naive plugin possible), so what is tested is the host alone:
- host.dial.deny, by default the unspecified, link-local, multicast and
  broadcast ranges in every spelling (IPv4-mapped IPv6 included). Those
  addresses are named only inside a network namespace of our own that has
  nothing but loopback (unshare -n), so even a broken guard reaches nothing;
- the host's own listen address is never dialled;
- host.dial.rate and host.dial.max_pending_per_ip;
- each refusal counted in `maybep2pctl stats` and logged rate-limited."""
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))

from mp2ptest import Check, FrameConn, Host, frame  # noqa: E402
import mp2ptest  # noqa: E402
# host.security.mode = "plain": Python clients here speak plaintext frames to the host.
mp2ptest.Host.default_security = "plain"

ok = Check("test_dialguard")
INSIDE = "--inside-netns"


def tp_host(name, dial=""):
    return Host(name=name, log_level="info", host_settings="dial: { %s };" % dial if dial else "",
                plugins=[dict(name="tp", file="tp_good.so")])


def ask_dials(h, addrs):
    """Sends one DIAL per address in a single write; returns the answers."""
    c = FrameConn(h.port)
    c.send_raw(b"".join(frame("tplug", "DIAL", a) for a in addrs))
    answers = [c.recv(20)[2].decode() for _ in addrs]
    c.close()
    return answers


class Listener:
    """A listening socket that counts what reaches it, polled by accept()."""

    def __init__(self, ip="127.0.0.1", port=0, family=socket.AF_INET):
        self.sock = socket.socket(family)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, port))
        self.sock.listen(128)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.count = 0

    def poll(self, wait=0.5):
        deadline = time.time() + wait
        while time.time() < deadline:
            try:
                c, _ = self.sock.accept()
                c.close()
                self.count += 1
            except BlockingIOError:
                time.sleep(0.02)
        return self.count

    def close(self):
        self.sock.close()


def loopback_rules():
    # The host's own address, and a range the operator denies.
    pit = Listener("127.0.0.3")
    h = tp_host("self", 'deny = [ "127.0.0.3/32" ];')
    h.start()
    try:
        got = ask_dials(h, [h.addr, "[::ffff:127.0.0.1]:%d" % h.port, "127.0.0.3:%d" % pit.port])
        ok(got == ["refused", "refused", "refused"], "own address (both spellings) and a denied range refused: %s" % got)
        st = h.ctl("stats")
        ok(st["dial_refused_self"] == 2 and st["dial_refused_deny"] == 1,
           "counted: dial_refused_self=%d dial_refused_deny=%d" % (st["dial_refused_self"], st["dial_refused_deny"]))
        ok(pit.poll() == 0, "the denied listener saw nothing")
        h.wait_log(r"refused to dial 127\.0\.0\.3:\d+: in host\.dial\.deny")
        h.wait_log(r"refused to dial 127\.0\.0\.1:\d+: it is this host's own address")
        ok(True, "each refusal logged with its reason")
        ok(h.stop() == 0, "the host stops cleanly")
    finally:
        pit.close()
        h.cleanup()

    # Rate: at most a second's worth of dials at once.
    pits = [Listener() for _ in range(20)]
    h = tp_host("rate", "rate = 5; max_pending_per_ip = 1000;")
    h.start()
    try:
        got = ask_dials(h, ["127.0.0.1:%d" % p.port for p in pits])
        allowed = got.count("ok")
        ok(1 <= allowed <= 6, "host.dial.rate = 5: %d of 20 dials in a burst allowed" % allowed)
        st = h.ctl("stats")
        ok(st["dial_refused_rate"] == 20 - allowed, "refusals counted: %d" % st["dial_refused_rate"])
        lines = [l for l in h.log_text().splitlines() if "over host.dial.rate" in l]
        ok(len(lines) == 1, "logged once for the burst: %d line(s)" % len(lines))
        ok(h.stop() == 0, "the host stops cleanly")
    finally:
        for p in pits:
            p.close()
        h.cleanup()

    # Dials still connecting to one IP. The DIALs arrive in one write and
    # are handled in one turn of the loop, before any connect completes.
    pits = [Listener("127.0.0.4") for _ in range(10)]
    h = tp_host("pending", "rate = 100000; max_pending_per_ip = 2;")
    h.start()
    try:
        got = ask_dials(h, ["127.0.0.4:%d" % p.port for p in pits])
        ok(got.count("ok") == 2, "max_pending_per_ip = 2: %d of 10 simultaneous dials to one IP" % got.count("ok"))
        ok(h.ctl("stats")["dial_refused_pending"] == 8, "refusals counted")
        got = ask_dials(h, ["127.0.0.5:%d" % Listener("127.0.0.5").port])
        ok(got == ["ok"], "another IP is still dialled")
        ok(h.stop() == 0, "the host stops cleanly")
    finally:
        for p in pits:
            p.close()
        h.cleanup()


DENIED = [
    "169.254.169.254:80", "[::ffff:169.254.169.254]:80", "[::ffff:a9fe:a9fe]:80",
    "[64:ff9b::a9fe:a9fe]:80", "[fe80::1]:80", "224.0.0.1:80", "[ff02::1]:80",
    "255.255.255.255:80", "[::ffff:224.0.0.1]:80",
]


def inside_netns():
    """Runs in a namespace with only loopback: here denied ranges may be named."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    # Dialling 0.0.0.0 or :: reaches this machine's own listeners on Linux:
    # one listens on every address to see whether anything gets through.
    # A dual-stack socket on :: hears IPv4 and IPv6 alike.
    anyl = Listener("::", family=socket.AF_INET6)
    named = DENIED + ["0.0.0.0:%d" % anyl.port, "0.1.2.3:%d" % anyl.port, "[::]:%d" % anyl.port,
                      "[::ffff:0.0.0.0]:%d" % anyl.port]
    h = tp_host("netns")
    h.start()
    try:
        got = ask_dials(h, named)
        ok(got == ["refused"] * len(named), "every denied range refused in every spelling: %s"
           % [a for a, g in zip(named, got) if g != "refused"])
        ok(anyl.poll() == 0, "dials to 0.0.0.0 and :: reached nothing")
        st = h.ctl("stats")
        ok(st["dial_refused_deny"] == len(named), "dial_refused_deny = %d" % st["dial_refused_deny"])
        ok(st["dial_failures"] == 0 and st["outbound"] == 0, "no dial was even attempted")
        lines = [l for l in h.log_text().splitlines() if "in host.dial.deny" in l]
        ok(len(lines) == 1, "one log line for the burst of %d: %d" % (len(named), len(lines)))
        ok(h.stop() == 0, "the host stops cleanly")
    finally:
        anyl.close()
        h.cleanup()
    return ok.done()


def main():
    if INSIDE in sys.argv:
        return inside_netns()
    try:
        loopback_rules()
    except (AssertionError, RuntimeError, OSError) as e:
        ok(False, "loopback rules: %s" % e)
    r = subprocess.run(["unshare", "-n", sys.executable, os.path.abspath(__file__), INSIDE],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                       timeout=300)
    print(r.stdout, end="")
    if "unshare failed" in r.stdout or (r.returncode != 0 and "test_dialguard:" not in r.stdout):
        ok(False, "the network-namespace part could not run (unshare -n needs root): exit %d" % r.returncode)
    else:
        ok(r.returncode == 0, "the network-namespace part passed")
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
