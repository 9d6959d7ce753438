#!/usr/bin/env python3
"""test_kademlia_timing.py -- the timers PROTOCOL.md promises.

Bootstrap: a node whose bootstrap node does not answer retries after 1 s,
then 2, 4, 8 ... up to 60 s (section 5.4), so over 12 s it pings at about
0, 1, 3 and 7 s: 4 pings, where a retry on the 30 s maintenance tick would
have sent 1."""
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kadnet import NAME, kad_host, next_ip  # noqa: E402
from mp2ptest import Check  # noqa: E402
import mp2ptest  # noqa: E402
# host.security.mode = "plain": a stand-in bootstrap node in Python counts plaintext pings.
mp2ptest.Host.default_security = "plain"


class Silent(threading.Thread):
    """A listener that reads every PING and answers none, noting when."""

    def __init__(self, ip):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, 0))
        self.sock.listen(16)
        self.addr = "%s:%d" % (ip, self.sock.getsockname()[1])
        self.pings = []
        self.start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        buf = b""
        while True:
            try:
                d = c.recv(65536)
            except OSError:
                return
            if not d:
                return
            buf += d
            while len(buf) >= 20:
                n = struct.unpack("!I", buf[16:20])[0]
                if len(buf) < 20 + n:
                    break
                if buf[12:16] == b"PING":
                    self.pings.append(time.time())
                buf = buf[20 + n:]


def main():
    check = Check("test_kademlia_timing")
    hosts = []
    try:
        silent = Silent(next_ip())
        a = kad_host("a", [silent.addr], extra="request_timeout = 0.5; refresh = 120; republish = 3600;")
        t0 = time.time()
        a.start()
        hosts.append(a)
        time.sleep(12.0)
        times = ["%.1f" % (t - t0) for t in silent.pings]
        print("figure: bootstrap pings to a silent node in 12 s: %d, at %s s "
              "(a 30 s tick would send 1)" % (len(silent.pings), ", ".join(times)), flush=True)
        check(4 <= len(silent.pings) <= 5, "bootstrap retried after 1, 2, 4 s (%d pings)"
              % len(silent.pings))
        gaps = [b - a_ for a_, b in zip(silent.pings, silent.pings[1:])]
        check(all(g2 > g1 * 1.5 for g1, g2 in zip(gaps, gaps[1:])),
              "each wait about doubles: %s" % ["%.1f" % g for g in gaps])

        for h in hosts:
            check(h.stop() == 0, "%s exits 0" % h.name)
    finally:
        for h in hosts:
            h.cleanup()
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
