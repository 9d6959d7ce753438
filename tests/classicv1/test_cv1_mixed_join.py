#!/usr/bin/env python3
"""test_cv1_mixed_join.py -- in host.security.mode "mixed" a JOIN to an
address whose pid is not known yet (a bootstrap entry) reaches both kinds
of peer. Two mixed hosts bootstrap to each other: the JOIN goes over TLS,
so each has the other under its peer id on an authenticated connection
(a plaintext JOIN carrying a key-named pid would be refused). A mixed
host bootstrapping to an original peer sees its TLS dial fail the
handshake and joins again in plaintext, and both end up in each other's
tables."""
import sys

from cv1util import Check, RefPeer, cv1_host, next_ip, peers, started_pair, wait_until


def main():
    ok = Check("test_cv1_mixed_join")
    hosts, refs = [], []
    try:
        x, y = started_pair("mixed", "mixed", hosts)
        idx, idy = x.peer_id(), y.peer_id()
        ok(peers(x)[idy]["addr"] == y.addr and peers(y)[idx]["addr"] == x.addr,
           "each has the other under its peer id at its address")

        r = RefPeer(host=next_ip()).start()
        refs.append(r)
        z = cv1_host("z", bootstrap=[r.addr], security="mixed")
        hosts.append(z)
        z.start()
        wait_until(lambda: r.pid in peers(z) and z.peer_id() in r.peers, 20,
                   "a mixed host and an original peer know each other after a bootstrap")
        ok(peers(z)[r.pid]["addr"] == r.addr, "z has the original peer at its address")
        ok(r.peers[z.peer_id()][0] == z.ip, "the original peer has z at z's address")
    finally:
        for h in hosts:
            h.cleanup()
        for p in refs:
            p.stop()
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
