#!/usr/bin/env python3
"""test_claims.py -- a peer cannot make the host dial a third party by
naming its address. Frames come from 127.0.0.2 and name a listener at
127.0.0.3 (the "victim"): classicv1 JOIN and CAPA, a Kademlia request whose
sender address is the victim. The victim must see no connection, the host
counts every refusal in `maybep2pctl stats` and logs them rate-limited, and
a peer naming its own IP is still answered. With host.dial.trust_claims the
old behaviour returns, which proves the test can fail."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "kademlia"))

from mp2ptest import Check, FrameConn, Host, Listener, wait_for  # noqa: E402
import mp2ptest  # noqa: E402
# host.security.mode = "plain": Python peers here make their claims in plaintext frames.
mp2ptest.Host.default_security = "plain"
import kadnet  # noqa: E402

ATTACKER = "127.0.0.2"
VICTIM_IP = "127.0.0.3"
FRAMES = 300


class Victim(Listener):
    """A listener that counts the connections it is given, and closes them."""

    def on_accept(self, c):
        c.close()


def host_stats(h):
    return h.ctl("stats")


def plugin_counter(h, plugin, name):
    for r in h.ctl("stats").get("rows", []):
        if r.get("plugin") == plugin and r.get("counter") == name:
            return r["value"]
    return 0


def both_host(name, trust=False):
    dial = "dial: { trust_claims = %s; };" % ("true" if trust else "false")
    return Host(name=name, log_level="info", host_settings=dial, plugins=[
        dict(name="cv1", file="classicv1.so", config="peer_timeout = 30;"),
        dict(name="kad", file="kademlia.so", config="request_timeout = 1.0;")])


def attack(h, victim):
    """Sends FRAMES claims of each kind from ATTACKER naming the victim."""
    c = FrameConn(h.port, source=ATTACKER)
    for i in range(FRAMES):
        c.send("ClassicV1", "JOIN", b"REQ,evil%d,%s,%d" % (i, VICTIM_IP.encode(), victim.port))
    for i in range(FRAMES):
        c.send("ClassicV1", "CAPA", b"REQ,cap%d,%s,%d,1" % (i, VICTIM_IP.encode(), victim.port))
    for i in range(FRAMES):
        c.send("Kademlia", "PING", kadnet.request("PING", i + 1, os.urandom(32),
                                                  "%s:%d" % (VICTIM_IP, victim.port)))
    # The host answers the pings on this connection; reading them shows it
    # has handled every frame before we count.
    got = 0
    while got < FRAMES:
        f = c.recv(20)
        if f is None:
            break
        if f[1] == "PONG":
            got += 1
    return c, got


def main():
    ok = Check("test_claims")
    victim = Victim(VICTIM_IP)
    honest = Victim(ATTACKER)
    h = both_host("claims")
    try:
        h.start()
        c, pongs = attack(h, victim)
        ok(pongs == FRAMES, "the host answered all %d pings of the attacker" % FRAMES)
        time.sleep(1.0)   # any dial would have connected by now, on loopback
        ok(victim.accepted == 0, "%d claims naming a third party: it saw %d connections"
           % (3 * FRAMES, victim.accepted))
        st = host_stats(h)
        ok(st.get("dial_refused_claim") == 3 * FRAMES,
           "every refusal counted: dial_refused_claim = %s" % st.get("dial_refused_claim"))
        ok(plugin_counter(h, "cv1", "claims_refused") == 2 * FRAMES,
           "classicv1 counts its refused claims: %s" % plugin_counter(h, "cv1", "claims_refused"))
        ok(h.ctl("cv1", "peers").get("rows", []) == [], "no liar entered the classicv1 table")
        lines = [l for l in h.log_text().splitlines() if "refused to dial" in l]
        ok(1 <= len(lines) <= 10, "refusals logged rate-limited: %d lines for %d refusals"
           % (len(lines), 3 * FRAMES))
        ok(any("claimed by %s" % ATTACKER in l and "%s:%d" % (VICTIM_IP, victim.port) in l
               for l in lines), "the log line names the address and who claimed it")

        # A peer naming its own IP is answered there (the port may differ).
        c.send("ClassicV1", "JOIN", b"REQ,honest,%s,%d" % (ATTACKER.encode(), honest.port))
        ok(wait_for(lambda: honest.accepted >= 1), "a JOIN naming the sender's own IP is answered")
        ok(wait_for(lambda: "honest" in [r["pid"] for r in h.ctl("cv1", "peers").get("rows", [])]),
           "and the honest joiner enters the table")
        c.close()
        ok(h.proc.poll() is None and h.stop() == 0, "the host kept running and stops cleanly")
        h.cleanup()

        # The switch is real: trusting claims dials the victim again.
        h = both_host("trusting", trust=True)
        h.start()
        c, _ = attack(h, victim)
        ok(wait_for(lambda: victim.accepted > 0, 10),
           "with host.dial.trust_claims the same frames reach the victim (%d connections)"
           % victim.accepted)
        c.close()
        ok(h.stop() == 0, "the trusting host stops cleanly")
    except (AssertionError, RuntimeError, OSError) as e:
        ok(False, str(e))
    finally:
        h.cleanup()
        victim.close()
        honest.close()
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
