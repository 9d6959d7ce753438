#!/usr/bin/env python3
"""test_cv1_eclipse.py -- one machine trying to take over a host's peer
table (an eclipse) with the lies classicv1 once believed.

Every 8 seconds for 50 seconds an attacker on one IP sends the victim:
a QUIT naming the honest peer, 16 JOINs of made-up peers whose addresses
(on the attacker's IP) answer like hosts of ours, a CAPA claiming the
honest peer's pid and address followed by a MESG on that connection, and
a LIST RES nobody asked for naming 20 more peers. The victim must keep the
honest peer the whole time, give the attacker's IP at most 2 of its 16
slots, never show the attacker's message as the honest peer's, and take
nothing from the unasked list. Every host and the attacker have their own
loopback addresses."""
import os
import selectors
import socket
import struct
import sys
import threading
import time

from cv1util import Check, FrameConn, cv1_host, inbox, next_ip, peers, pid, wait_until
import mp2ptest  # noqa: E402
# host.security.mode = "plain": the eclipse attackers are Python peers speaking plaintext frames.
mp2ptest.Host.default_security = "plain"
from refpeer import frame

SECONDS = float(os.environ.get("ECLIPSE_SECONDS", "50"))
CYCLE = 8.0
FAKES = 16


class FakeHosts(threading.Thread):
    """Made-up classicv1 hosts on one IP: a listener each, answering CAPA
    and LIST as a host of ours would, so the victim hears from them."""

    def __init__(self, ip, n):
        super().__init__(daemon=True)
        self.sel = selectors.DefaultSelector()
        self.peers = []
        self.stopped = False
        for i in range(n):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((ip, 0))
            s.listen(16)
            s.setblocking(False)
            fake_pid = "fake-%d-%s" % (i, os.urandom(4).hex())
            self.peers.append((fake_pid, ip, s.getsockname()[1]))
            self.sel.register(s, selectors.EVENT_READ, ("listen", (fake_pid, ip, s.getsockname()[1])))
        self.start()

    def run(self):
        while not self.stopped:
            for key, _ in self.sel.select(0.2):
                kind, data = key.data
                if kind == "listen":
                    try:
                        c, _ = key.fileobj.accept()
                    except OSError:
                        continue
                    self.sel.register(c, selectors.EVENT_READ, ("conn", [data, b""]))
                    continue
                try:
                    got = key.fileobj.recv(65536)
                except OSError:
                    got = b""
                if not got:
                    self.sel.unregister(key.fileobj)
                    key.fileobj.close()
                    continue
                data[1] += got
                me, buf = data
                while len(buf) >= 20:
                    n = struct.unpack("!I", buf[16:20])[0]
                    if len(buf) < 20 + n:
                        break
                    mtype, payload = buf[12:16].decode(), buf[20:20 + n]
                    buf = buf[20 + n:]
                    try:
                        if mtype == "CAPA" and payload.startswith(b"REQ"):
                            key.fileobj.sendall(frame("CAPA", "RES,%s,%s,%d,1" % me))
                        elif mtype == "LIST" and payload == b"REQ":
                            key.fileobj.sendall(frame("LIST", "RES"))
                    except OSError:
                        pass
                data[1] = buf

    def stop(self):
        self.stopped = True
        self.join(5)
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()


def attack_once(v, honest_pid, honest_ip, honest_port, fakes, ip):
    c = FrameConn(v.port, v.ip, source=ip)
    c.send("ClassicV1", "QUIT", honest_pid)
    for fake_pid, fip, fport in fakes.peers:
        c.send("ClassicV1", "JOIN", "REQ,%s,%s,%d" % (fake_pid, fip, fport))
    c.send("ClassicV1", "CAPA", "REQ,%s,%s,%d,1" % (honest_pid, honest_ip, honest_port))
    c.send("ClassicV1", "MESG", "REQ,a lie in the honest peer's name")
    c.send("ClassicV1", "LIST", "RES," + ",".join(
        "listed%d|127.%d.%d.9|%d" % (i, 200 + i % 50, i, 4000 + i) for i in range(20)))
    time.sleep(0.3)
    c.close()


def main():
    ok = Check("test_cv1_eclipse")
    v = cv1_host("victim", peer_timeout=30).start()
    h = cv1_host("honest", bootstrap=[v.addr], peer_timeout=30).start()
    attacker = next_ip()
    fakes = FakeHosts(attacker, FAKES)
    try:
        hp = pid(h)
        wait_until(lambda: hp in peers(v), 10, "the victim knows the honest peer")
        samples = kept = 0
        most_fake = 0
        started = time.time()
        next_attack = started
        while time.time() - started < SECONDS:
            if time.time() >= next_attack:
                attack_once(v, hp, h.ip, h.port, fakes, attacker)
                next_attack += CYCLE
            time.sleep(1.0)
            table = peers(v)
            samples += 1
            kept += hp in table
            most_fake = max(most_fake, sum(p.startswith("fake-") for p in table))
        st = {r["counter"]: r["value"] for r in v.ctl("stats").get("rows", [])
              if r.get("plugin") == "cv1"}
        print("figure: honest peer in the victim's table in %d of %d samples over %.0f s; "
              "the attacker's IP held at most %d of 16 slots; QUITs refused %d, unasked lists %d"
              % (kept, samples, time.time() - started, most_fake, st.get("quit_refused", 0),
                 st.get("unasked_list", 0)), flush=True)
        ok(kept == samples, "the honest peer was kept through the whole attack (%d/%d)"
           % (kept, samples))
        ok(most_fake <= 2, "one IP held at most 2 slots (%d)" % most_fake)
        ok(st.get("quit_refused", 0) >= samples // int(CYCLE), "the QUITs were refused and counted")
        ok(not any(p.startswith("listed") for p in peers(v)) and st.get("unasked_list", 0) >= 1,
           "nothing was taken from a LIST RES nobody asked for")
        lies = [m for m in inbox(v) if m["text"].startswith("a lie")]
        ok(lies and all(m["from"] != hp for m in lies),
           "the attacker's MESG is not shown as the honest peer's (%s)"
           % sorted(set(m["from"] for m in lies)))
        # The honest peer still hears from the victim and can reach it.
        h.ctl("cv1", "send", pid(v), "still here")
        wait_until(lambda: [m for m in inbox(v) if m["text"] == "still here" and m["from"] == hp],
                   10, "the honest peer's own message, under its pid")
        ok(True, "the honest peer's own message arrives under its pid")
        # A stranger asking for the list learns only peers heard lately.
        s = FrameConn(v.port, v.ip, source=next_ip())
        s.send("ClassicV1", "LIST", "REQ")
        got = s.recv(5)
        s.close()
        listed = [e.split("|")[0] for e in got[2].decode().split(",")[1:]] if got else []
        table = peers(v)
        ok(got is not None and hp in listed and
           all(table.get(p, {}).get("silent", 99) <= 15 for p in listed),
           "LIST answers name only peers heard from lately (%d listed)" % len(listed))
        ok(v.stop() == 0 and h.stop() == 0, "both hosts stop cleanly")
    except AssertionError as e:
        ok(False, str(e))
    finally:
        fakes.stop()
        v.cleanup()
        h.cleanup()
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
