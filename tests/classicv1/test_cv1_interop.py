#!/usr/bin/env python3
"""test_cv1_interop.py -- a maybep2pd running classicv1 beside stand-ins of
the original Python peer (refpeer.py): JOIN both ways, LIST both ways, MESG
both ways, QUIT both ways, and never more than one frame per connection
toward a peer that might be an original one."""
import socket
import struct
import sys
import time

from cv1util import Check, RefPeer, counters, cv1_host, inbox, next_ip, patience, peers, pid, wait_until
from refpeer import frame
import mp2ptest  # noqa: E402
# host.security.mode = "mixed": the original peers' stand-ins speak plaintext
# on the same listener as TLS hosts would.
mp2ptest.Host.default_security = "mixed"

HEADER = struct.Struct("!12s4sL")


def read_frame(sock, timeout=5.0):
    sock.settimeout(timeout)
    data = b""
    while True:
        if len(data) >= 20:
            n = HEADER.unpack(data[:20])[2]
            if len(data) >= 20 + n:
                proto, mtype, _ = HEADER.unpack(data[:20])
                return proto.rstrip(b"\0"), mtype, data[20:20 + n]
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk


def main():
    ok = Check("test_cv1_interop")
    h = cv1_host("interop", peer_timeout=6).start()
    r1 = RefPeer(host=next_ip()).start()
    r2 = RefPeer(host=next_ip()).start()
    r3 = RefPeer(host=next_ip()).start()
    started = time.time()
    try:
        me = pid(h)

        # A reference peer joins us: both end with each other.
        r1.join(h.addr)
        wait_until(lambda: r1.pid in peers(h), 5, "host knows r1")
        r1.wait(lambda: r1.knows(me), 5, "r1 knows the host")
        ok(r1.peers[me] == (h.ip, h.port), "JOIN RES told r1 our advertised address")
        row = wait_until(lambda: peers(h)[r1.pid]["kind"] == "classic" and peers(h)[r1.pid],
                         5, "r1 found to be classic")
        ok(row["addr"] == r1.addr, "host has r1 at its own address: %s" % row["addr"])
        ok(len(r1.frames_of("CAPA")) >= 1, "r1 was offered CAPA, and dropped it")

        # We join a reference peer: r2 already knows r3, so the table we
        # read back with LIST carries r3, whom we then join too.
        r3.join(r2.addr)
        r2.wait(lambda: r2.knows(r3.pid), 5, "r2 knows r3")
        h.ctl("cv1", "join", r2.addr)
        r2.wait(lambda: r2.knows(me), 5, "r2 knows the host")
        wait_until(lambda: r2.pid in peers(h), 5, "host knows r2")
        ok(True, "JOIN from us to a reference peer: both sides know each other")
        wait_until(lambda: r3.pid in peers(h), 10, "host learnt r3 from r2's LIST RES")
        ok(True, "LIST from us: we read the LIST RES on the connection we asked on")
        r3.wait(lambda: r3.knows(me), 5, "r3 knows the host after our JOIN")
        ok(True, "a peer learnt from a list is joined, so it knows us too")

        # LIST REQ from a peer: answered on the same connection. A LIST
        # answer names only peers heard from within peer_timeout / 2, and a
        # quiet peer is heard again when it answers the next probe, so the
        # question is asked again until one probe round has had its time.
        want = {"%s|%s|%d" % (p.pid, p.host, p.port) for p in (r1, r2, r3)}
        deadline = time.time() + patience(6)
        while True:
            s = socket.create_connection((h.ip, h.port), timeout=5)
            s.sendall(frame("LIST", "REQ"))
            s.shutdown(socket.SHUT_WR)
            got = read_frame(s)
            s.close()
            if time.time() > deadline or (got and set(got[2].decode().split(",")[1:]) == want):
                break
            time.sleep(0.3)
        ok(got is not None and got[0] == b"ClassicV1" and got[1] == b"LIST",
           "LIST REQ answered on the same connection: %r" % (got,))
        entries = set(got[2].decode().split(",")[1:]) if got else set()
        ok(got is not None and got[2].startswith(b"RES,"), "the answer is a LIST RES")
        ok(entries == want, "LIST RES lists exactly r1, r2, r3: %s" % sorted(entries))
        r1.list_req(h.addr)   # the original's way: it hangs up at once
        time.sleep(0.2)
        ok(h.proc.poll() is None, "a LIST REQ whose asker hung up is harmless")

        # MESG from a reference peer, commas and all.
        r1.send_mesg(h.addr, "hello from r1, with a comma")
        row = wait_until(lambda: [m for m in inbox(h) if m["text"].startswith("hello from r1")],
                         5, "host delivered r1's MESG")[0]
        ok(row["text"] == "hello from r1, with a comma" and row["kind"] == "direct",
           "MESG from a reference peer delivered whole: %r" % row["text"])
        h.wait_log(r"delivered message from %s:\d+: hello from r1, with a comma" % r1.host.replace(".", r"\."), 2)
        ok(True, "delivered message logged (at debug: peers choose how many)")

        # The original's length quirk: non-ASCII text gets a length in
        # characters, short of its bytes. We drop it; the next one arrives.
        before = counters(h).get("malformed", 0)
        r1.send_mesg(h.addr, "caf\u00e9")
        r1.send_mesg(h.addr, "plain again")
        wait_until(lambda: [m for m in inbox(h) if m["text"] == "plain again"], 5,
                   "the MESG after the bad one")
        ok(counters(h).get("malformed", 0) == before + 1 and
           not [m for m in inbox(h) if m["text"].startswith("caf")],
           "a MESG with the original's short length for non-ASCII text is dropped and counted")

        # MESG from us to a reference peer; it keeps the text up to a comma.
        h.ctl("cv1", "send", r2.pid, "hi r2, how are you")
        r2.wait(lambda: "hi r2" in r2.delivered, 5, "r2 delivered our MESG")
        ok(r2.delivered == ["hi r2"], "reference peer delivered our MESG: %r" % r2.delivered)
        ok(r2.frames_of("MESG") == [b"REQ,hi r2, how are you"], "MESG payload bytes exact")

        # A broadcast reaches reference peers as the original's MESG.
        bid = h.ctl("cv1", "broadcast", "to everyone")["id"]
        for r in (r1, r2, r3):
            r.wait(lambda r=r: "to everyone" in r.delivered, 5, "broadcast text at a ref peer")
        ok(True, "broadcast given to every reference peer as MESG REQ")
        ok(len([m for m in inbox(h) if m["id"] == bid]) == 1, "the origin delivers its broadcast once")

        # A reference peer's QUIT removes it.
        r3.quit()
        wait_until(lambda: r3.pid not in peers(h), 5, "r3 removed after QUIT")
        ok(True, "QUIT from a reference peer removes it")

        # Nothing we sent to a reference peer put a second frame on a
        # connection: the original would never have read it.
        ok(r1.second_frames == 0 and r2.second_frames == 0 and r3.second_frames == 0,
           "one frame per connection toward reference peers (%d %d %d)" % (
               r1.second_frames, r2.second_frames, r3.second_frames))

        # Liveness with original peers: silent ones are probed with LIST REQ
        # and stay while they answer; one that dies without QUIT goes.
        t_end = started + 8
        while time.time() < t_end:
            time.sleep(0.2)
        table = peers(h)
        ok(r1.pid in table and r2.pid in table,
           "live reference peers kept past peer_timeout (6 s): probes answered")
        ok(len(r1.frames_of("LIST")) >= 1, "r1 was probed with LIST REQ")
        r2.stop()
        t0 = time.time()
        wait_until(lambda: r2.pid not in peers(h), 12, "r2 removed after it died")
        ok(True, "a reference peer that died without QUIT removed in %.1f s" % (time.time() - t0))
        h.wait_log(r"peer %s at \S+ removed: " % r2.pid, 2)
        ok(r1.second_frames == 0, "still one frame per connection after probing")

        # On shutdown we send QUIT to every peer.
        rc = h.stop()
        ok(rc == 0, "host exits 0")
        r1.wait(lambda: not r1.knows(me), 5, "r1 got our QUIT")
        ok(r1.frames_of("QUIT") == [me.encode()], "QUIT payload is our bare pid")
    except AssertionError as e:
        ok(False, str(e))
    finally:
        h.cleanup()
        for r in (r1, r2, r3):
            r.stop()
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
