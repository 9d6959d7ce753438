#!/usr/bin/env python3
"""test_kademlia_hostkey.py -- signed values carry the host's identity.

A host with a key (every daemon has one: state_dir/host.key) signs its
kademlia values with it through the host API's sign(), so the writer id is
the host's peer id: `kad put NAME VALUE` on host A, then on host B
`kad get PEERID_OF_A/NAME`, with the peer id `maybep2pctl status` prints
on A, returns the value. The record's public key hashes to that peer id,
the key is SHA-256(SHA-256(public key) || name) as PROTOCOL.md says, and
no kad.key is written beside the host key."""

import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kadnet import NAME, TEST_CONFIG, ctl_or_error, fetch_record, kad_host, wait_routes  # noqa: E402
from mp2ptest import Check, stop_all  # noqa: E402
import mp2ptest  # noqa: E402
# Plain mode, so fetch_record() can read the raw record with a Python client;
# the host key exists in every mode.
mp2ptest.Host.default_security = "plain"


def main():
    check = Check("test_kademlia_hostkey")
    hosts = []
    try:
        a = kad_host("a", extra=TEST_CONFIG)
        a.start()
        hosts.append(a)
        b = kad_host("b", [a.addr], extra=TEST_CONFIG)
        b.start()
        hosts.append(b)
        wait_routes([a, b], 1)

        peer_a = a.ctl("status")["peer_id"]
        routes = a.ctl(NAME, "routes")
        check(routes["writer"] == peer_a and routes["writer_key"] == "host",
              "A's writer id is its peer id (%s, %s)" % (routes["writer"], routes.get("writer_key")))
        check(not os.path.exists(os.path.join(a.state_dir, NAME, "kad.key")),
              "no kad.key written beside the host key")

        r = ctl_or_error(a, "put", "color", "teal")
        check(r.get("stored", 0) >= 1 and r.get("writer") == peer_a,
              "put on A stored, writer = A's peer id (%s)" % r)
        key = bytes.fromhex(r.get("key", "00" * 32))
        want = hashlib.sha256(bytes.fromhex(peer_a) + b"color").digest()
        check(key == want, "key = SHA-256(peer id || name)")

        got = ctl_or_error(b, "get", "%s/color" % peer_a)
        check(got.get("value") == "teal" and got.get("writer") == peer_a,
              "B: kad get PEERID_OF_A/color = teal (%s)" % got)

        # The record itself: its public key is A's, which hashes to the peer id.
        rec = fetch_record(b, key)
        check(rec is not None and rec[2][:1] == b"\x01" and
              hashlib.sha256(rec[2][1:33]).hexdigest() == peer_a,
              "B holds a record signed by the key whose hash is A's peer id")

        # After a restart A signs with the same key: its next put replaces
        # the value under the same key.
        check(a.stop() == 0, "a exits 0")
        a.start()
        wait_routes([a], 1)
        r = ctl_or_error(a, "put", "color", "navy")
        check(r.get("key") == key.hex(), "after a restart the same key (%s)" % r.get("key"))
        got = ctl_or_error(b, "get", "%s/color" % peer_a)
        check(got.get("value") == "navy", "and B gets the new version (%s)" % got.get("value", got))

        stop_all(check, hosts)
    finally:
        for h in hosts:
            h.cleanup()
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
