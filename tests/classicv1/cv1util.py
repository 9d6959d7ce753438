"""cv1util.py -- helpers the classicv1 daemon-level tests share: hosts
running the classicv1 plugin, and waiting for what they report."""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))

from mp2ptest import Host, Check, FrameConn, free_port, builddir, next_ip  # noqa: E402,F401
from refpeer import RefPeer  # noqa: E402,F401


def cv1_host(name, bootstrap=(), peer_timeout=30, max_peers=None, hops=None,
             extra="", log_level="debug", host_settings="", ip=None):
    """A Host whose one plugin is classicv1, instance name "cv1", on its
    own loopback address unless `ip` says otherwise."""
    cfg = ["bootstrap = [ %s ];" % ", ".join('"%s"' % b for b in bootstrap),
           "peer_timeout = %s;" % peer_timeout]
    if max_peers is not None:
        cfg.append("max_peers = %d;" % max_peers)
    if hops is not None:
        cfg.append("broadcast_hops = %d;" % hops)
    if extra:
        cfg.append(extra)
    return Host(name=name, log_level=log_level, host_settings=host_settings, ip=ip or next_ip(),
                plugins=[dict(name="cv1", file="classicv1.so", config=" ".join(cfg))])


def wait_until(pred, timeout=10.0, what="condition", step=0.1):
    """Polls pred() until it returns something true; returns that value."""
    deadline = time.time() + timeout
    last_error = None
    while time.time() < deadline:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # a host busy starting, a ctl timing out
            last_error = e
        time.sleep(step)
    raise AssertionError("timed out after %.1f s waiting for %s%s" % (
        timeout, what, " (last error: %s)" % last_error if last_error else ""))


def peers(h):
    """The host's peer table: {pid: row}."""
    return {r["pid"]: r for r in h.ctl("cv1", "peers").get("rows", [])}


def pid(h):
    return h.ctl("cv1", "peers")["pid"]


def inbox(h):
    return h.ctl("cv1", "inbox").get("rows", [])


def counters(h):
    """classicv1's counters from `maybep2pctl stats`: {name: value}."""
    return {r["counter"]: r["value"] for r in h.ctl("stats").get("rows", [])
            if r.get("plugin") == "cv1"}
