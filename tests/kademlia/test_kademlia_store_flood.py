#!/usr/bin/env python3
"""test_kademlia_store_flood.py -- filling a host's value store.

The attack: one connection sends STOR after STOR, each under a fresh
claimed node id, each with a large value. Quotas that trust the claimed id
let it fill the whole store, after which honest stores and the operator's
own puts are refused. Quotas count the address a STOR came from instead:
one IP may hold an eighth of the store, one /24 a quarter, and a full store
gives way to sources that hold little. Then eight IPs in eight /24s flood
together and do fill the store; honest sources, each on its own /24, must
still get every value in, and so must the operator's own put.
Every host and source has its own loopback address."""

import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kadnet  # noqa: E402
from kadnet import NAME, decode_answer, immutable, next_ip, request, value_body  # noqa: E402
from mp2ptest import Check, FrameConn  # noqa: E402
import mp2ptest  # noqa: E402
# host.security.mode = "plain": the flooding stand-in nodes speak plaintext frames.
mp2ptest.Host.default_security = "plain"

MAX_VALUES = 2000
VALUE = b"x" * 4000


def flood(h, ip, count):
    """STORs from one connection at ip, a fresh claimed id each: how many
    were stored, and the seconds it took."""
    c = FrameConn(h.port, h.ip, source=ip, timeout=30)
    stored = 0
    t0 = time.time()
    window = 64
    sent = got = 0
    while got < count:
        while sent < count and sent - got < window:
            k, rec = immutable(os.urandom(16) + VALUE)
            c.send("Kademlia", "STOR", request("STOR", random.getrandbits(63) + 1, os.urandom(32),
                                               "%s:1" % ip, value_body(k, 0, 3600, rec)))
            sent += 1
        _, t, p = c.recv(30)
        stored += decode_answer(t, p)["status"] == 0
        got += 1
    c.close()
    return stored, time.time() - t0


def honest_stores(h, n_sources, per_source):
    refused = 0
    for i in range(n_sources):
        ip = next_ip()
        c = FrameConn(h.port, h.ip, source=ip)
        for _ in range(per_source):
            k, rec = immutable(b"honest " + os.urandom(8))
            c.send("Kademlia", "STOR", request("STOR", random.getrandbits(63) + 1, os.urandom(32),
                                               "%s:1" % ip, value_body(k, 0, 3600, rec)))
            _, t, p = c.recv(10)
            refused += decode_answer(t, p)["status"] != 0
        c.close()
    return refused


def main():
    check = Check("test_kademlia_store_flood")
    h = kadnet.kad_host("victim", extra="max_values = %d; max_value_size = 4096; "
                                         "request_timeout = 1.0;" % MAX_VALUES)
    try:
        h.start()
        attacker = next_ip()
        stored, secs = flood(h, attacker, 2 * MAX_VALUES)
        st = h.ctl(NAME, "stats")
        print("figure: one IP, a fresh id per STOR: %d of %d STORs stored in %.1f s "
              "(store holds %d of %d)" % (stored, 2 * MAX_VALUES, secs, st["values"], MAX_VALUES),
              flush=True)
        check(stored == MAX_VALUES // 8, "one IP holds its eighth of the store and no more (%d)" % stored)
        check(st["store_quota"] == 2 * MAX_VALUES - stored, "the refusals are counted as quota")
        refused = honest_stores(h, 20, 3)
        print("figure: honest stores refused after a one-IP flood: %d of 60" % refused, flush=True)
        check(refused == 0, "no honest store is refused after a one-IP flood")

        # Eight IPs in eight /24s: together they may fill the store.
        total = 0
        for _ in range(8):
            s, _secs = flood(h, next_ip(), MAX_VALUES // 4)
            total += s
        st = h.ctl(NAME, "stats")
        print("figure: eight /24s: %d STORs stored, store holds %d of %d"
              % (total, st["values"], MAX_VALUES), flush=True)
        check(st["values"] >= MAX_VALUES - 60, "the eight-/24 flood fills the store (%d)" % st["values"])
        refused = honest_stores(h, 30, 3)
        print("figure: honest stores refused during a full-store flood: %d of 90" % refused, flush=True)
        check(refused == 0, "a full store still takes every honest store (sources with few values)")
        check(h.ctl(NAME, "stats")["values"] <= MAX_VALUES, "and stays within max_values")
        # The operator's own put has room whatever the flood did.
        r = kadnet.ctl_or_error(h, "put", "mine", "operator")
        g = h.ctl(NAME, "get", "mine")
        check(g.get("value") == "operator" and g.get("local") == 1,
              "the operator's own put is kept (%s)" % r.get("error", "stored"))
        check(h.proc.poll() is None and h.stop() == 0, "the victim exits cleanly")
    finally:
        h.cleanup()
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
