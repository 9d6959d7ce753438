#!/usr/bin/env python3
"""test_kademlia_forgery.py -- values nobody but their writer can change.

Version 1 let anyone STOR any key with any seq: seq 2^64-1 overwrote a key
for good, and lookups adopted and re-spread the highest seq they saw. In
version 2 a value is a record: mutable ones are signed by their writer
(the key is the hash of the writer's public key and a name), immutable
ones are stored under the hash of their value. Here an attacker on its own
IP takes a writer's signed record and tries, on every host of a network:
the same record with seq 2^64-1, with another value, with another name
under the writer's key; an immutable record under a key it does not hash
to; an unsigned version-1 STOR. Then it answers a get's lookup itself
with a forged VALU. Every attempt must be refused (STOK 2, counted), the
writer's next put must still win everywhere, and every get must return
what the writer signed. A version-1 peer still gets its PING and FNOD
answered. Every host and the attacker have their own loopback address."""
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kadnet  # noqa: E402
from kadnet import (NAME, Net, StandInNode, answer, decode_answer, get_all, next_ip, parallel,  # noqa: E402
                    request, request_reqid, value_body)
from mp2ptest import Check, FrameConn, wait_until  # noqa: E402
import mp2ptest  # noqa: E402
# host.security.mode = "plain": the forgers are Python nodes speaking plaintext frames.
mp2ptest.Host.default_security = "plain"

SIZE = 8
U64 = (1 << 64) - 1


def stor(h, ip, key, seq, rec, version=2):
    c = FrameConn(h.port, h.ip, source=ip)
    try:
        p = request("STOR", random.getrandbits(63) + 1, os.urandom(32), "%s:1" % ip,
                    value_body(key, seq, 600, rec))
        if version != 2:
            p = bytes([version]) + p[1:]
        c.send("Kademlia", "STOR", p)
        _, t, p = c.recv(5)
        return decode_answer(t, p)["status"] if p[0] == version else None
    finally:
        c.close()


class LiarNode(StandInNode):
    """Answers PING as `nid`, and every FVAL with a forged VALU."""

    def __init__(self, ip, nid, forged):
        self.forged = forged
        super().__init__(nid, ip)

    def reply(self, mtype, payload):
        if mtype == "FVAL":
            key, seq, rec = self.forged
            return "VALU", answer(request_reqid(payload), self.nid, value_body(key, seq, 600, rec))
        return super().reply(mtype, payload)


def main():
    check = Check("test_kademlia_forgery")
    net = Net(SIZE, seeds=1)
    liar = None
    try:
        net.start()
        net.wait_routes(SIZE - 1, timeout=60)
        owner, victim = net.hosts[1], net.hosts[-1]
        attacker = next_ip()
        r = kadnet.ctl_or_error(owner, "put", "color", "blue")
        # Sent to the 7 others, answered once 4 hold it.
        check(r.get("stored", 0) >= 4, "the writer's put is stored (%s)" % r.get("stored", r))
        key, writer = bytes.fromhex(r["key"]), r["writer"]
        seq, _ttl, rec = kadnet.fetch_record(owner, key)

        # Every host is offered every forgery.
        tampered = rec[:-1] + bytes([rec[-1] ^ 1])
        n = rec[33]
        renamed = rec[:34] + b"x" * n + rec[34 + n:]
        ikey, irec = kadnet.immutable(b"honest bytes")
        attempts = [
            ("seq 2^64-1, the writer's signature", key, U64, rec, 2),
            ("another value, same seq", key, seq, tampered, 2),
            ("another name under the writer's key", key, seq + 1, renamed, 2),
            ("an immutable record under another key", key, 0, irec, 2),
            ("an immutable record whose value is not its key's", ikey, 0, b"\x00forged", 2),
            ("an unsigned version-1 write, seq 2^64-1", key, U64, b"frozen", 1),
        ]
        accepted = 0
        for what, k, s, body, version in attempts:
            statuses = parallel(lambda h: stor(h, attacker, k, s, body, version), net.hosts)
            ok = all(st == 2 for st in statuses)
            accepted += sum(st == 0 for st in statuses)
            check(ok, "%s: refused by all %d hosts with STOK 2 (%s)" % (what, SIZE, statuses))
        stats = parallel(lambda h: h.ctl(NAME, "stats"), net.hosts)
        check(sum(s["bad_signature"] for s in stats) >= 2 * SIZE and
              sum(s["bad_key"] for s in stats) >= 3 * SIZE and
              sum(s["v1_store_refused"] for s in stats) >= SIZE,
              "each refusal counted (bad_signature %d, bad_key %d, v1_store_refused %d)"
              % (sum(s["bad_signature"] for s in stats), sum(s["bad_key"] for s in stats),
                 sum(s["v1_store_refused"] for s in stats)))

        # The writer's next put wins everywhere: nothing was frozen.
        kadnet.ctl_or_error(owner, "put", "color", "green")
        got = [r.get("value") for r in get_all(net.hosts, "%s/color" % writer)]
        frozen = sum(v != "green" for v in got)
        print("figure: keys an attacker could overwrite or freeze: %d of 1 on %d hosts "
              "(%d forged STORs accepted of %d)" % (1 if frozen else 0, SIZE, accepted,
                                                    len(attempts) * SIZE), flush=True)
        check(frozen == 0, "after the attack the writer's next put is got from every host (%s)" % got)

        # A liar closest to the key answers the victim's lookup with a
        # forged newer version: it is refused, and the get returns what
        # the writer signed.
        kx = int.from_bytes(key, "big") ^ 1
        liar = LiarNode(attacker, kx.to_bytes(32, "big"), (key, U64, rec))
        c = FrameConn(victim.port, victim.ip, source=attacker)
        c.send("Kademlia", "PING", request("PING", 5, liar.nid, liar.addr))
        c.recv(5)
        c.close()
        wait_until(lambda: liar.nid.hex() in [x["id"] for x in victim.ctl(NAME, "routes").get("rows", [])],
                   10, "the liar in the victim's table")
        before = victim.ctl(NAME, "stats")["bad_signature"]
        r = kadnet.ctl_or_error(victim, "get", "%s/color" % writer)
        after = victim.ctl(NAME, "stats")["bad_signature"]
        print("figure: forged VALU answers to the victim's get: %d, adopted: %d"
              % (len(liar.received("FVAL")), 0 if r.get("value") == "green" else 1), flush=True)
        check(len(liar.received("FVAL")) >= 1 and after > before,
              "the liar was asked and its forged VALU refused (%d asked, bad_signature +%d)"
              % (len(liar.received("FVAL")), after - before))
        check(r.get("value") == "green" and r.get("writer") == writer,
              "the get returns the writer's signed value (%s)" % r.get("value", r))
        time.sleep(0.5)
        seq2, _t, rec2 = kadnet.fetch_record(victim, key, attacker)
        check(kadnet.record_value(rec2) == b"green" and seq2 < U64,
              "and the victim holds no forged version")

        # A version-1 peer: routing still works with it.
        c = FrameConn(victim.port, victim.ip, source=attacker)
        c.send("Kademlia", "PING", b"\x01" + request("PING", 9, os.urandom(32), "%s:1" % attacker)[1:])
        _, t, p = c.recv(5)
        check(t == "PONG" and p[0] == 1, "a version-1 PING is answered by a version-1 PONG")
        c.send("Kademlia", "FVAL", b"\x01" + request("FVAL", 10, os.urandom(32), "%s:1" % attacker,
                                                     key)[1:])
        _, t, p = c.recv(5)
        check(t == "NODS" and p[0] == 1, "a version-1 FVAL gets NODS: a record has no version-1 form")
        c.close()
        for h in net.hosts:
            check(h.proc.poll() is None, "%s is still running" % h.name)
    finally:
        net.cleanup()
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
