#!/usr/bin/env python3
"""test_cv1_badinput.py -- malformed ClassicV1 payloads are dropped and
counted, the connection and the host carry on, the peer table stays within
its bound; bad settings are refused with the key named."""
import os
import subprocess
import sys

from cv1util import Check, FrameConn, builddir, counters, cv1_host, free_port, peers, wait_until
import mp2ptest  # noqa: E402
# host.security.mode = "plain": hostile input is sent from Python as plaintext frames.
mp2ptest.Host.default_security = "plain"

P = "ClassicV1"

# (type, payload): each one must be dropped as malformed.
MALFORMED = [
    ("JOIN", b""),
    ("JOIN", b"REQ,p1,127.0.0.1"),                 # missing field
    ("JOIN", b"REQ,p1,127.0.0.1,4000,extra"),      # one too many
    ("JOIN", b"REQ,p1,127.0.0.1,0"),               # port 0
    ("JOIN", b"REQ,p1,127.0.0.1,70000"),           # not a port
    ("JOIN", b"REQ,p1,127.0.0.1,http"),
    ("JOIN", b"REQ,p1,127.0.0.1,-1"),
    ("JOIN", b"REQ,,127.0.0.1,4000"),              # empty pid
    ("JOIN", b"REQ,p|1,127.0.0.1,4000"),           # pid with a separator
    ("JOIN", b"REQ,p1,example.org,4000"),          # not a numeric address
    ("JOIN", b"REQ,p\xc3\xa9,127.0.0.1,4000"),      # non-ASCII
    ("JOIN", b"XYZ,p1,127.0.0.1,4000"),
    ("LIST", b"REQ,more"),
    ("LIST", b"RES,"),
    ("LIST", b"RES,a|127.0.0.1"),
    ("LIST", b"RES," + b",".join(b"p%d|127.0.0.1|%d" % (i, 2000 + i) for i in range(3000))),
    ("QUIT", b""),
    ("QUIT", b"a,b"),
    ("MESG", b"hello"),
    ("MESG", b"REQ,caf\xc3\xa9"),
    ("MESG", b"REQ,nul\x00byte"),
    ("MESG", b"FOR,0123456789abcdef,0,o,f,zero hops"),
    ("MESG", b"FOR,0123,3,o,f,short id"),
    ("MESG", b"FOR,0123456789abcdef,3,o,f"),
    ("CAPA", b"REQ,p1,127.0.0.1,4000"),
    ("CAPA", b"REQ,p1,127.0.0.1,4000,x"),
    ("GONE", b""),
]
UNKNOWN = [("ZZZZ", b"whatever"), ("FOR ", b"FOR,0123456789abcdef,3,o,f,t")]


def list_res(conn):
    conn.send(P, "LIST", b"REQ")
    got = conn.recv(5)
    return got is not None and got[1] == "LIST" and got[2].startswith(b"RES")


def config_error(cfg_text):
    h = cv1_host("cfg")
    h.plugins[0]["config"] = cfg_text
    h.write_config()
    try:
        r = subprocess.run([os.path.join(builddir, "maybep2pd"), "-t", "-c", h.config_path],
                           capture_output=True, text=True, timeout=30)
        return r.returncode, r.stdout + r.stderr
    finally:
        h.cleanup()


def main():
    ok = Check("test_cv1_badinput")
    h = cv1_host("bad", max_peers=4, peer_timeout=30).start()
    try:
        # Every malformed payload on one connection: all dropped, and the
        # connection still answers afterwards.
        c = FrameConn(h.port, h.ip)
        for t, p in MALFORMED + UNKNOWN:
            c.send(P, t, p)
        ok(list_res(c), "the connection still answers LIST REQ after %d bad frames"
           % len(MALFORMED + UNKNOWN))
        c.close()
        n = counters(h)
        ok(n.get("malformed") == len(MALFORMED),
           "malformed counter %s == %d" % (n.get("malformed"), len(MALFORMED)))
        ok(n.get("unknown_type") == len(UNKNOWN), "unknown types counted: %s" % n.get("unknown_type"))
        ok(peers(h) == {}, "no malformed JOIN added a peer")
        h.wait_log(r"debug cv1: dropped JOIN .*bad port", 2)
        ok(True, "a dropped payload leaves a debug line naming why")

        # The original's habit: one frame per connection, many connections.
        for t, p in MALFORMED[:10]:
            c = FrameConn(h.port, h.ip)
            c.send(P, t, p)
            c.close()
        wait_until(lambda: counters(h).get("malformed") == len(MALFORMED) + 10, 5,
                   "one-frame connections counted")
        ok(True, "malformed one-frame connections dropped and counted")

        # Gossip and joins cannot grow the table past max_peers.
        c = FrameConn(h.port, h.ip)
        c.send(P, "LIST", b"RES," + b",".join(b"g%d|127.0.0.1|%d" % (i, 3000 + i)
                                              for i in range(200)))
        for i in range(300):
            c.send(P, "JOIN", b"REQ,j%d,127.0.0.1,%d" % (i, 5000 + i))
        ok(list_res(c), "the host still answers after 200 gossiped and 300 joining peers")
        c.close()
        ok(len(peers(h)) <= 4, "peer table within max_peers: %d" % len(peers(h)))
        # A joiner is refused by the full table, or earlier, when the host
        # will not dial its address yet (too many dials to that IP pending).
        n = counters(h)
        ok(n.get("peers_refused", 0) + n.get("claims_refused", 0) >= 290,
           "refusals counted: %s full, %s not dialled" % (n.get("peers_refused"),
                                                          n.get("claims_refused")))
        ok(h.proc.poll() is None, "the host is still running")
        ok(h.stop() == 0, "and stops cleanly")

        # Settings: unknown keys and bad values are errors naming the key.
        for cfg, key in (("colour = \"blue\";", "colour"),
                         ("max_peers = 0;", "max_peers"),
                         ("max_peers = 100000;", "max_peers"),
                         ("broadcast_hops = 0;", "broadcast_hops"),
                         ("peer_timeout = 0.1;", "peer_timeout"),
                         ("dns_server = \"resolver:53\";", "dns_server"),
                         ("persistent_connections = 3;", "persistent_connections")):
            code, text = config_error(cfg)
            ok(code != 0 and key in text, "config '%s' refused: %s" % (cfg, text.strip()[-120:]))
        code, text = config_error("")
        ok(code == 0, "the default settings are accepted")
        # Announcing 0.0.0.0 would send peers to their own machine.
        h3 = cv1_host("anyaddr", host_settings='advertise = "0.0.0.0:%d";' % free_port())
        try:
            h3.start()
            ok(False, "a host advertising 0.0.0.0 must not start")
        except RuntimeError as e:
            ok("host.advertise" in str(e), "advertising 0.0.0.0 is refused with the setting named")
        finally:
            h3.cleanup()
        code, text = config_error('bootstrap = [ "localhost:4000" ];')
        ok(code != 0 and "bootstrap" in text,
           "a bootstrap entry that is not numeric ADDR:PORT is refused")
    except AssertionError as e:
        ok(False, str(e))
    finally:
        h.cleanup()
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
