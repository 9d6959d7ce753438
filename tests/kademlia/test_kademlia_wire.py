#!/usr/bin/env python3
"""test_kademlia_wire.py -- one kademlia host spoken to byte by byte with
payloads built from PROTOCOL.md: every message type is answered as
specified, and bad input (malformed payloads, unknown request ids, lists
of hundreds of nodes, impossible addresses, oversized values, a peer
storing more than its share, claims never confirmed by a round trip) is
dropped and counted while the host keeps serving."""

import os
import random
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kadnet  # noqa: E402
from kadnet import NAME, StandInNode, answer, decode_answer, nodes_body, request, value_body, wait_routes  # noqa: E402
from mp2ptest import Check, FrameConn, free_port  # noqa: E402
import mp2ptest  # noqa: E402
# host.security.mode = "plain": the wire is checked from Python with plaintext frames.
mp2ptest.Host.default_security = "plain"

PROTO = "Kademlia"


def rid():
    return random.getrandbits(64) or 1


def main():
    check = Check("test_kademlia_wire")
    a = kadnet.kad_host("a", extra="max_value_size = 100; max_values = 40; request_timeout = 1.0;")
    a.start()
    b = kadnet.kad_host("b", [a.addr])
    b.start()
    hosts_to_clean = []
    try:
        wait_routes([a], 1)
        ra = a.ctl(NAME, "routes")
        a_id = bytes.fromhex(ra["self"])
        b_id = bytes.fromhex(b.ctl(NAME, "routes")["self"])
        check(ra["nodes"] == 1 and ra["rows"][0]["id"] == b_id.hex(), "a knows b after b bootstrapped")

        dead_addr = "127.0.0.1:%d" % free_port()
        fake = os.urandom(32)
        c = FrameConn(a.port, a.ip)

        def ask(mtype, body, addr=dead_addr, sender=fake, timeout=5.0):
            r = rid()
            c.send(PROTO, mtype, request(mtype, r, sender, addr, body))
            proto, atype, payload = c.recv(timeout)
            msg = decode_answer(atype, payload)
            return r, atype, msg

        def silent(data, mtype):
            """Sends a frame that must get no answer."""
            c.send(PROTO, mtype, data)
            try:
                got = c.recv(0.5)
            except TimeoutError:
                got = None
            return got is None

        r, t, m = ask("PING", b"")
        check(t == "PONG" and m["reqid"] == r and m["id"] == a_id, "PING answered by PONG echoing the id")

        r, t, m = ask("FNOD", os.urandom(32))
        ids = [n[0] for n in m["nodes"]]
        check(t == "NODS" and m["reqid"] == r and ids == [b_id] and m["nodes"][0][1] == b.addr,
              "FNOD answered by NODS naming b at its address, not the asker")

        # Values are records (section 4.4). An immutable one is stored
        # under the hash of its value, with seq 0.
        key, rec = kadnet.immutable(b"hello")
        r, t, m = ask("STOR", value_body(key, 0, 600, rec))
        check(t == "STOK" and m["status"] == 0, "STOR stored (status 0)")
        r, t, m = ask("FVAL", key)
        check(t == "VALU" and m["value"] == rec and m["seq"] == 0 and 590 <= m["ttl"] <= 600,
              "FVAL answered by VALU with the record, seq and ttl")
        # Signed versions come from a writer of our own: a host that knows
        # nobody, so its puts stay with it, read back with a raw FVAL.
        w = kadnet.kad_host("w")
        w.start()
        hosts_to_clean.append(w)
        wid = w.ctl(NAME, "routes")["writer"]

        def signed(name, value):
            kadnet.ctl_or_error(w, "put", name, value)
            k = bytes.fromhex(w.ctl(NAME, "get", name)["key"])
            seq, _ttl, rec_ = kadnet.fetch_record(w, k)
            return k, seq, rec_

        key, s1, r1 = signed("ver", "older")
        _, s2, r2 = signed("ver", "newer")
        r, t, m = ask("STOR", value_body(key, s2, 600, r2))
        r, t, m = ask("STOR", value_body(key, s1, 600, r1))
        check(t == "STOK" and m["status"] == 1, "an older write is refused as NEWER-held (status 1)")
        _, s3, r3 = signed("ver", "newest")
        r, t, m = ask("STOR", value_body(key, s3, 600, r3))
        r, t, m = ask("FVAL", key)
        check(kadnet.record_value(m.get("value", b"\x00")) == b"newest",
              "a newer write replaces the value")
        r, t, m = ask("FVAL", os.urandom(32))
        check(t == "NODS", "FVAL of an unknown key answered by NODS")

        # Versions: a host that missed a write adopts the newer version its
        # get finds; a peer that gave an older version is sent the newer.
        cb = FrameConn(b.port, b.ip)
        writer = os.urandom(32)      # not `fake`, whose quota is tested below

        def store_at(conn, key, seq, value):
            conn.send(PROTO, "STOR", request("STOR", rid(), writer, dead_addr,
                                             value_body(key, seq, 600, value)))
            return decode_answer(*conn.recv(5)[1:])

        def fval_at(conn, key):
            conn.send(PROTO, "FVAL", request("FVAL", rid(), writer, dead_addr, key))
            return decode_answer(*conn.recv(5)[1:])

        vkey, s_old, r_old = signed("versioned", "old")
        _, s_new, r_new = signed("versioned", "new")
        store_at(c, vkey, s_old, r_old)
        store_at(cb, vkey, s_new, r_new)
        r = a.ctl(NAME, "get", "%s/versioned" % wid)
        check(r["value"] == "new" and r["local"] == 0, "a get returns the newer version a peer holds")
        check(kadnet.record_value(fval_at(c, vkey)["value"]) == b"new" and
              a.ctl(NAME, "stats")["refetched"] == 1, "and the stale local copy was replaced")
        hkey, s_older, r_older = signed("healed", "older")
        _, s_newest, r_newest = signed("healed", "newest")
        store_at(c, hkey, s_newest, r_newest)
        store_at(cb, hkey, s_older, r_older)
        r = a.ctl(NAME, "get", "%s/healed" % wid)
        check(r["value"] == "newest" and r["local"] == 1, "a get keeps its own copy when it is the newest")
        time.sleep(0.3)
        check(kadnet.record_value(fval_at(cb, hkey)["value"]) == b"newest" and
              a.ctl(NAME, "stats")["healed"] == 1,
              "and the peer that gave an older version was sent the newer")
        cb.close()

        # Abuse. Each is dropped without an answer and counted.
        before = a.ctl(NAME, "stats")
        check(silent(request("STOR", rid(), fake, dead_addr,
                             value_body(key, 200, 60, b"x" * (101 + kadnet.KAD_REC_OVERHEAD))), "STOR"),
              "a record over max_value_size and its overhead gets no answer")
        check(silent(b"\x01\x00", "PING"), "a truncated PING gets no answer")
        check(silent(request("PING", rid(), fake, dead_addr) + b"\x00", "PING"), "a trailing byte gets no answer")
        check(silent(b"\x03" + request("PING", rid(), fake, dead_addr)[1:], "PING"), "wrong version: no answer")
        check(silent(request("PING", rid(), fake, "0.0.0.0:0"), "PING"), "an impossible address: no answer")
        check(silent(request("PING", rid(), fake, "127.0.0.1:99999"), "PING"), "port 99999: no answer")
        huge = answer(rid(), fake, struct.pack("B", 200) + b"\x00" * 64)
        check(silent(huge, "NODS"), "a NODS listing 200 nodes is dropped")
        check(silent(answer(rid(), fake, nodes_body([(os.urandom(32), "127.0.0.1:1")])), "NODS"),
              "an unsolicited NODS is dropped")
        check(silent(b"junk", "XXXX"), "an unknown type is dropped")
        after = a.ctl(NAME, "stats")
        for name, n in (("value_too_big", 1), ("bad_payload", 3), ("bad_address", 2),
                        ("too_many_nodes", 1), ("unknown_reqid", 1), ("bad_type", 1)):
            check(after[name] - before[name] == n, "%s counted %d (got %d)" % (name, n, after[name] - before[name]))

        # A peer storing more than its share: max_values 40, so one
        # address may hold 5 (an eighth), whatever ids it claims: a fresh
        # one per STOR changes nothing. It already holds 3 from above.
        refused = 0
        for i in range(15):
            k, rec = kadnet.immutable(os.urandom(8))
            r, t, m = ask("STOR", value_body(k, 0, 600, rec), sender=os.urandom(32))
            refused += m["status"] == 2
        check(refused == 13, "a peer storing more than its address's share is refused (%d of 15)" % refused)
        check(a.ctl(NAME, "stats")["store_quota"] == 13, "quota refusals counted")

        # The fake node claimed an address where nobody answers: it never
        # entered the table.
        time.sleep(1.5)
        rows = a.ctl(NAME, "routes").get("rows", [])
        check(fake.hex() not in [x["id"] for x in rows], "a node that never answered is not in the table")

        # A node whose address answers the host's ping does enter it.
        honest = StandInNode()
        r, t, m = ask("PING", b"", addr=honest.addr, sender=honest.nid)
        deadline = time.time() + 5
        while time.time() < deadline:
            rows = a.ctl(NAME, "routes").get("rows", [])
            if honest.nid.hex() in [x["id"] for x in rows]:
                break
            time.sleep(0.1)
        check(honest.nid.hex() in [x["id"] for x in rows] and honest.pings >= 1,
              "a node enters the table after answering the host's ping")

        # A node that answers for someone else's id is a wrong responder.
        liar = StandInNode()
        claimed = os.urandom(32)
        ask("PING", b"", addr=liar.addr, sender=claimed)
        time.sleep(1.0)
        rows = a.ctl(NAME, "routes").get("rows", [])
        ids = [x["id"] for x in rows]
        check(claimed.hex() not in ids and liar.nid.hex() not in ids,
              "an answer from another id than the one claimed enters nothing")
        check(a.ctl(NAME, "stats")["wrong_responder"] >= 1, "wrong responder counted")

        r, t, m = ask("PING", b"")
        check(t == "PONG", "the host still answers after all that")
        check(a.proc.poll() is None and a.stop() == 0, "a exits cleanly")
    finally:
        a.cleanup()
        b.cleanup()
        for h in hosts_to_clean:
            h.cleanup()
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
