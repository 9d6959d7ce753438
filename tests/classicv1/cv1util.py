"""cv1util.py -- helpers the classicv1 daemon-level tests share: hosts
running the classicv1 plugin, and waiting for what they report."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))

from mp2ptest import Host, Check, FrameConn, free_port, builddir, next_ip, patience, stop_all, wait_until  # noqa: E402,F401
from refpeer import RefPeer  # noqa: E402,F401


def cv1_host(name, bootstrap=(), peer_timeout=30, max_peers=None, hops=None,
             extra="", log_level="debug", host_settings="", ip=None, security="default"):
    """A Host whose one plugin is classicv1, instance name "cv1", on its
    own loopback address unless `ip` says otherwise; `security` is
    host.security.mode ("default": the test file's Host.default_security)."""
    cfg = ["bootstrap = [ %s ];" % ", ".join('"%s"' % b for b in bootstrap),
           "peer_timeout = %s;" % peer_timeout]
    if max_peers is not None:
        cfg.append("max_peers = %d;" % max_peers)
    if hops is not None:
        cfg.append("broadcast_hops = %d;" % hops)
    if extra:
        cfg.append(extra)
    return Host(name=name, log_level=log_level, host_settings=host_settings, ip=ip or next_ip(),
                security=security, plugins=[dict(name="cv1", file="classicv1.so", config=" ".join(cfg))])


def started_pair(x_mode, y_mode, hosts):
    """Host x in security mode x_mode, then y in y_mode bootstrapping to
    it, both started and appended to `hosts` (for the caller's cleanup);
    returns (x, y) once each has the other in its table under its peer id."""
    x = cv1_host("x", security=x_mode)
    hosts.append(x)
    x.start()
    y = cv1_host("y", bootstrap=[x.addr], security=y_mode)
    hosts.append(y)
    y.start()
    idx, idy = x.peer_id(), y.peer_id()
    wait_until(lambda: idy in peers(x) and idx in peers(y), 20,
               "x (%s) and y (%s) to know each other" % (x_mode, y_mode))
    return x, y


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
