#!/usr/bin/env python3
"""test_peer_ids.py -- the shipped plugins over TLS trust keys, not claims:
a classicv1 host's pid is its peer id, and a frame speaking for another
host's pid (a QUIT, a CAPA, a broadcast copy) on a connection with another
key is ignored; a kademlia node's id is its host's peer id, and a node
whose claimed id is not the key it connected with gets no answer."""
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "kademlia"))
sys.path.insert(0, os.path.join(HERE, "..", "classicv1"))
from mp2ptest import Check, Identity, TLSFrameConn  # noqa: E402
from kadnet import NAME, decode_answer, kad_host, request  # noqa: E402
from cv1util import counters, peers, started_pair, wait_until  # noqa: E402


def main():
    ok = Check("test_peer_ids")
    work = tempfile.mkdtemp(prefix="mp2p-peerids-")
    liar = Identity(work, "liar")
    hosts = []
    try:
        x, y = started_pair("tls", "tls", hosts)
        idx, idy = x.peer_id(), y.peer_id()
        ok(True, "over TLS each classicv1 host's pid is its peer id")

        # A liar with a key of its own speaks for y on its own connection.
        c = TLSFrameConn(x.port, liar, host=x.ip)
        c.send("ClassicV1", "QUIT", idy.encode())
        c.send("ClassicV1", "CAPA", ("REQ,%s,127.0.0.1,%d,1" % (idy, c.sock.getsockname()[1])).encode())
        c.send("ClassicV1", "MESG", ("FOR,0123456789abcdef,3,%s,%s,forged" % (idy, idy)).encode())
        wait_until(lambda: counters(x).get("pid_mismatch", 0) >= 2 and counters(x).get("quit_refused", 0) >= 1,
                   10, "three refusals counted")
        ok(True, "QUIT, CAPA and FOR for y on the liar's key were refused and counted")
        time.sleep(0.5)
        ok(idy in peers(x), "y is still in x's table")
        ok(not [m for m in x.ctl("cv1", "inbox").get("rows", []) if "forged" in m.get("text", "")],
           "the forged broadcast was not delivered")
        # The liar speaking for itself is heard, and named by its key.
        c.send("ClassicV1", "MESG", b"REQ,hello from me")
        row = wait_until(lambda: [m for m in x.ctl("cv1", "inbox").get("rows", [])
                                  if m.get("text") == "hello from me"], 10, "the liar's own message")
        ok(row[0]["from"] == liar.peer_id if "from" in row[0] else liar.peer_id in str(row[0]),
           "a direct message is attributed to the connection's key: %s" % row[0])
        c.close()

        # Kademlia: the node id is the peer id, checked against the key.
        k = kad_host("k")
        hosts.append(k)
        k.start()
        t = TLSFrameConn(k.port, liar, host=k.ip)
        t.send("Kademlia", "PING", request("PING", 1, os.urandom(32), "127.0.0.1:9"))
        got = None
        try:
            got = t.recv(2)
        except (TimeoutError, OSError):
            got = None
        ok(got is None, "a PING claiming an id that is not its key gets no answer")
        ok(k.ctl(NAME, "stats").get("id_not_key", 0) >= 1 or "id_not_key" in str(k.ctl("stats")),
           "and is counted as id_not_key")
        t.send("Kademlia", "PING", request("PING", 2, bytes.fromhex(liar.peer_id), "127.0.0.1:9"))
        proto, mtype, payload = t.recv(5)
        m = decode_answer(mtype, payload)
        ok(mtype == "PONG" and m["id"] == bytes.fromhex(k.peer_id()),
           "a PING with its own key's id is answered, from k's peer id as node id")
        t.close()
        for h in hosts:
            ok(h.stop() == 0, "%s exits 0" % h.name)
    except (AssertionError, RuntimeError) as e:
        ok(False, str(e))
    finally:
        for h in hosts:
            h.cleanup()
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
