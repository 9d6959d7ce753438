#!/usr/bin/env python3
"""test_kademlia_swap.py -- hot swaps of the kademlia plugin: a host whose
kademlia.so is replaced and reloaded (and then reconfigured and reloaded)
keeps its node id, routing table and values, and goes on serving lookups
and gets, its own and its peers'."""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kadnet import NAME, TEST_CONFIG, ctl_or_error, get_all, kad_host, wait_routes  # noqa: E402
from mp2ptest import Check, plugin_dir  # noqa: E402


def install(private):
    """Replace the file the way an operator does: copy, then rename in."""
    tmp = os.path.join(private, ".kademlia.so.new")
    shutil.copyfile(os.path.join(plugin_dir(), "kademlia.so"), tmp)
    os.rename(tmp, os.path.join(private, "kademlia.so"))


def main():
    check = Check("test_kademlia_swap")
    private = os.path.join(os.environ.get("TMPDIR", "/tmp"), "mp2p-kadswap-%d" % os.getpid())
    os.makedirs(private, exist_ok=True)
    install(private)
    hosts = []
    try:
        seed = kad_host("seed")
        seed.start()
        hosts.append(seed)
        swap = kad_host("swap", [seed.addr])
        swap.plugin_dir = private
        swap.write_config()
        swap.start()
        hosts.append(swap)
        for i in range(8):
            h = kad_host("p%d" % i, [seed.addr])
            h.start()
            hosts.append(h)
        wait_routes(hosts, 9)
        # Each value is signed by the host that put it: others get it as
        # WRITER/NAME.
        plain = {"k%d" % i: "v%d" % i for i in range(10)}
        values = {}
        for i, (k, v) in enumerate(sorted(plain.items())):
            h = hosts[i % len(hosts)]
            ctl_or_error(h, "put", k, v)
            values["%s/%s" % (h.ctl(NAME, "routes")["writer"], k)] = v
        name = {k.split("/")[1]: k for k in values}
        before = swap.ctl(NAME, "routes")
        held = swap.ctl(NAME, "stats")["values"]
        check(before["nodes"] == 9 and held > 0, "before: swap knows 9 nodes, holds %d values" % held)

        for round_ in range(3):
            install(private)
            status, out, err = swap.ctl_raw(["reload"])
            check(status == 0, "reload %d of a new kademlia.so succeeded (%r)" % (round_ + 1, err.strip()))
            after = swap.ctl(NAME, "routes")
            stats = swap.ctl(NAME, "stats")
            check(after["self"] == before["self"], "the node id survived the swap")
            check(stats["restored_nodes"] == 9 and after["nodes"] == 9,
                  "the routing table survived (%d restored, %d known)" % (stats["restored_nodes"], after["nodes"]))
            check(stats["values"] == held, "the values survived (%d of %d)" % (stats["values"], held))
            got = [ctl_or_error(swap, "get", k) for k in sorted(values)]
            missed = [r for k, r in zip(sorted(values), got) if r.get("value") != values[k]]
            check(not missed, "the swapped host gets every value (missed: %s)" % missed[:2])
            r = ctl_or_error(swap, "lookup", "%064x" % (round_ + 1))
            check(r.get("answered") == 9, "the swapped host finds every other node (%s)" % r.get("answered", r))
            others = [r.get("value") for r in get_all(hosts, name["k3"])]
            check(others == ["v3"] * len(hosts), "every host still gets k3")

        # A changed setting is a swap too, through the same saved state.
        swap.plugins[0]["config"] = 'bootstrap = [ "%s" ]; alpha = 4; %s' % (seed.addr, TEST_CONFIG)
        swap.write_config()
        status, out, err = swap.ctl_raw(["reload"])
        check(status == 0, "reload with alpha = 4 succeeded")
        stats = swap.ctl(NAME, "stats")
        check(stats["values"] == held and stats["restored_nodes"] == 9,
              "values and routes survived the reconfiguration")
        # Unknown settings are refused, and the running instance carries on.
        swap.plugins[0]["config"] = "alhpa = 4;"
        swap.write_config()
        status, out, err = swap.ctl_raw(["reload"])
        check(status != 0 and "alhpa" in err, "a typo in a setting fails the reload, named: %r" % err.strip())
        check(ctl_or_error(swap, "get", name["k5"]).get("value") == "v5", "the old instance still serves")
        check(swap.stop() == 0, "the swapped host exits 0")
    finally:
        for h in hosts:
            h.cleanup()
        shutil.rmtree(private, ignore_errors=True)
    return check.done()


if __name__ == "__main__":
    sys.exit(main())
