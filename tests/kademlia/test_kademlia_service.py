#!/usr/bin/env python3
"""test_kademlia_service.py -- the kademlia service as another plugin sees it
(through the kadclient test plugin): asynchronous put, get and find_node
complete through their callbacks, and a caller that is hot-swapped away
while its request is outstanding is never called back."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kadnet import NAME, StandInNode, TEST_CONFIG, kad_host, request, wait_routes  # noqa: E402
from mp2ptest import Check, FrameConn, Host, wait_until  # noqa: E402
import mp2ptest  # noqa: E402
# host.security.mode = "plain": stand-in nodes in Python speak plaintext frames.
mp2ptest.Host.default_security = "plain"

CLIENT = "kc"


def with_client(name, bootstrap=(), generation=1):
    boot = ""
    if bootstrap:
        boot = "bootstrap = [ %s ]; " % ", ".join('"%s"' % b for b in bootstrap)
    return Host(name=name, log_level="info", plugins=[
        dict(name=NAME, file="kademlia.so", config=boot + "request_timeout = 2.0;"),
        dict(name=CLIENT, file="kadclient.so", config="generation = %d;" % generation)])


def set_generation(h, generation):
    h.plugins[1]["config"] = "generation = %d;" % generation
    h.write_config()
    status, out, err = h.ctl_raw(["reload"])
    return status


def befriend_silent_node(h):
    """Makes h's only known node one that answers PING and nothing else."""
    f = StandInNode()
    c = FrameConn(h.port, h.ip)
    c.send("Kademlia", "PING", request("PING", 7, f.nid, f.addr))
    c.recv(5)
    wait_routes([h], 1)
    c.close()
    return f


def main():
    check = Check("test_kademlia_service")
    a = with_client("a")
    a.start()
    b = kad_host("b", [a.addr], extra=TEST_CONFIG)
    b.start()
    lone = with_client("lone")
    lone.start()
    try:
        wait_routes([a], 1)
        b_id = b.ctl(NAME, "routes")["self"]

        r = a.ctl(CLIENT, "put", "color", "blue")
        check(r["status"] == 0 and r["stored"] == 1, "service put: OK, stored on 1 node (%s)" % r)
        r = a.ctl(CLIENT, "get", "color")
        check(r["status"] == 0 and r["value"] == "blue", "service get: the value (%s)" % r)
        # Signed with a's key: b names it by a's writer id.
        writer = a.ctl(NAME, "routes")["writer"]
        check(b.ctl(NAME, "get", "%s/color" % writer)["value"] == "blue", "the peer has it too")
        r = a.ctl(CLIENT, "get", "no-such-key")
        check(r["status"] == 1 and "value" not in r, "service get of a missing key: NOT_FOUND (%s)" % r)
        r = a.ctl(CLIENT, "find", b_id)
        check(r["status"] == 0 and r["count"] == 1 and r["rows"][0]["id"] == b_id and
              r["rows"][0]["addr"] == b.addr, "service find_node: the peer, with its address")

        # A request that takes the full request timeout (2 s): its caller
        # gets exactly one callback.
        befriend_silent_node(lone)
        t0 = time.time()
        lone.ctl(CLIENT, "start-get", "slow")
        check(lone.ctl(CLIENT, "result")["calls"] == 0, "no callback from inside the call")
        r = wait_until(lambda: (lambda r: r if r["calls"] else None)(lone.ctl(CLIENT, "result")),
                       20, "the slow get's callback")
        check(r["calls"] == 1 and r["status"] == 2 and time.time() - t0 >= 1.5,
              "one callback, FAILED, after the 2 s timeout (%s, %.1f s)" % (r, time.time() - t0))

        # The same, but the caller is swapped for a new generation meanwhile:
        # the old one is unloaded and must not be called; the new one did not ask.
        # (The count is read first: on a loaded machine the reload may take
        # longer than the get.)
        lookups = lone.ctl(NAME, "stats")["lookups"]
        lone.ctl(CLIENT, "start-get", "slow2")
        check(set_generation(lone, 2) == 0, "the caller was hot-swapped with its request outstanding")
        done = wait_until(lambda: lone.ctl(NAME, "stats")["lookups"] > lookups and
                          lone.ctl(NAME, "stats")["lookups"], 20, "the provider to finish the get")
        check(done == lookups + 1, "the request completed in the provider")
        r = lone.ctl(CLIENT, "result")
        check(r["calls"] == 0, "neither the unloaded caller nor its successor was called (%s)" % r)
        check(lone.proc.poll() is None, "the host is still running")
        check(lone.stop() == 0, "and exits 0")
        check(a.stop() == 0, "a exits 0")
    finally:
        for h in (a, b, lone):
            h.cleanup()
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
