#!/usr/bin/env python3
"""test_cv1_mixed.py -- in host.security.mode "mixed" a plaintext peer
cannot speak for a TLS host. A host x serves original peers in plaintext
and our hosts over TLS on one listener; y, a TLS host, is in its table
under its peer id. A plaintext connection from y's own IP (so the claim
passes every address check classicv1 makes of an original peer) sends
QUIT, CAPA, JOIN and a broadcast copy (MESG FOR) in y's name, and a direct
MESG: each is ignored and counted, y keeps its entry and its address, and
the direct message is attributed to the plaintext connection's address,
not to y. The same frames in an original peer's name from that peer's IP
are believed, which shows the refusals come from the key rule and nothing
else."""
import socket
import sys
import time

from cv1util import Check, RefPeer, counters, inbox, next_ip, peers, started_pair, stop_all, wait_until
from refpeer import frame


def send_from(ip, host, frame_bytes):
    """One frame on a new plaintext connection from `ip`, as an original
    peer sends: connect, write, close. Returns the local port used."""
    s = socket.create_connection((host.ip, host.port), timeout=5, source_address=(ip, 0))
    try:
        s.sendall(frame_bytes)
        return s.getsockname()[1]
    finally:
        s.close()


def main():
    ok = Check("test_cv1_mixed")
    hosts, refs = [], []
    try:
        # y speaks TLS only: its JOIN reaches x over TLS, so x has it
        # under its peer id, on a connection authenticated with its key.
        x, y = started_pair("mixed", "tls", hosts)
        idx, idy = x.peer_id(), y.peer_id()
        row_y = peers(x)[idy]
        ok(row_y["addr"] == y.addr, "x has y under its peer id at its address: %s" % row_y["addr"])

        # An original peer in x's table, spoken to in plaintext.
        r = RefPeer(host=next_ip()).start()
        refs.append(r)
        r.join(x.addr)
        wait_until(lambda: r.pid in peers(x), 10, "x knows the original peer")
        ok(True, "an original peer joined x in plaintext on the same listener")

        before = counters(x)
        # The forger: plaintext, from y's own IP, speaking for y.
        fake_port = send_from(y.ip, x, frame("QUIT", idy))
        send_from(y.ip, x, frame("CAPA", "REQ,%s,%s,%d,1" % (idy, y.ip, fake_port)))
        send_from(y.ip, x, frame("JOIN", "REQ,%s,%s,%d" % (idy, y.ip, fake_port)))
        send_from(y.ip, x, frame("MESG", "FOR,00000000c0ffee01,3,%s,%s,forged as y" % (idy, idy)))
        src = send_from(y.ip, x, frame("MESG", "REQ,direct from the forger"))
        row = wait_until(lambda: [m for m in inbox(x) if m["text"] == "direct from the forger"],
                         10, "the forger's direct message")
        ok(row[0]["from"] == "%s:%d" % (y.ip, src),
           "a direct MESG on a plaintext connection is the address's, not y's: %s" % row[0]["from"])
        after = wait_until(lambda: (lambda n: n if n.get("pid_mismatch", 0) - before.get("pid_mismatch", 0) >= 3
                                    and n.get("quit_refused", 0) > before.get("quit_refused", 0) else None)(counters(x)),
                           10, "the refusals counted")
        ok(after["quit_refused"] - before.get("quit_refused", 0) == 1,
           "QUIT for y in plaintext refused and counted once")
        ok(after["pid_mismatch"] - before.get("pid_mismatch", 0) == 3,
           "CAPA, JOIN and FOR for y in plaintext refused and counted: %d"
           % (after["pid_mismatch"] - before.get("pid_mismatch", 0)))
        ok(after.get("peers_quit", 0) == before.get("peers_quit", 0), "no peer was removed by QUIT")
        time.sleep(0.5)
        now_y = peers(x).get(idy)
        ok(now_y is not None and now_y["addr"] == y.addr,
           "y is still in x's table at its own address: %s" % (now_y and now_y["addr"]))
        ok(not [m for m in inbox(x) if m["text"] == "forged as y"], "the forged broadcast was not delivered")

        # y is still reached: a broadcast from x arrives at y.
        x.ctl("cv1", "broadcast", "still friends")
        wait_until(lambda: [m for m in inbox(y) if m["text"] == "still friends" and m["from"] == idx],
                   10, "x's broadcast at y")
        ok(True, "x's broadcast still reaches y, from x's peer id")

        # The control: the same kind of frames in an original peer's name,
        # from that peer's IP, are believed. Only the key rule stopped y's.
        send_from(r.host, x, frame("MESG", "FOR,00000000c0ffee02,3,%s,%s,copy from r" % (r.pid, r.pid)))
        wait_until(lambda: [m for m in inbox(x) if m["text"] == "copy from r"], 10,
                   "the original peer's broadcast copy")
        ok(True, "a broadcast copy from an original peer's IP in its name is delivered")
        send_from(r.host, x, frame("QUIT", r.pid))
        wait_until(lambda: r.pid not in peers(x), 10, "the original peer's QUIT")
        ok(counters(x).get("peers_quit", 0) == before.get("peers_quit", 0) + 1,
           "a QUIT from an original peer's IP in its name removes it")
        ok(idy in peers(x), "and y is still there")

        stop_all(ok, hosts)
    except (AssertionError, RuntimeError) as e:
        ok(False, str(e))
    finally:
        for r in refs:
            r.stop()
        for h in hosts:
            h.cleanup()
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
