#!/usr/bin/env python3
"""test_abi11.py -- what ABI 1.1 added, seen from outside a real maybep2pd
running the probe test plugin: distinct send codes, flow control without a
close (MP2P_SEND_NOWAIT, on_drain, conn_pending, bytes_out as written),
owned connections, limits(), wall_now() and vlog(), checkpoints (on request
and periodic) surviving SIGKILL, origin() after a restart and a swap, a
deferred reply handed to the successor, start in config order and stop in
reverse with every service still offered."""

import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import mp2ptest  # noqa: E402
from mp2ptest import Check, FrameConn, Host  # noqa: E402
import mp2ptest  # noqa: E402
# host.security.mode = "plain": Python clients here speak plaintext frames to the host.
mp2ptest.Host.default_security = "plain"

ok = Check("test_abi11")
ERR = dict(gone=-2, too_big=-3, would_block=-4, refused=-5, invalid=-6)


def poll(fn, timeout=15.0):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(0.05)


def test_codes_and_flow():
    max_output = 8 << 20
    settings = "limits: { max_frame = 4096; max_output = %d; };" % max_output
    h = Host(name="abi11-flow", host_settings=settings, plugins=[
        dict(name="probe", file="probe_a.so"), dict(name="echo", file="echo.so")])
    try:
        h.start()
        lim = h.ctl("probe", "limits")
        ok(lim["rc"] == 0 and lim["max_frame"] == 4096 and lim["max_output"] == max_output
           and lim["idle_timeout"] == 300 and lim["checkpoint_interval"] == 0,
           "limits() reports the host's settings: %s" % lim)
        wall = h.ctl("probe", "wall")["wall_ms"] / 1000.0
        ok(abs(wall - time.time()) < 5, "wall_now() is the wall clock (%.3f)" % wall)
        h.ctl("probe", "vlog", "hello-vlog")
        ok(poll(lambda: "[probe] probe: vlog says hello-vlog" in h.log_text() or
                "probe: probe: vlog says hello-vlog" in h.log_text() or
                "vlog says hello-vlog" in h.log_text()), "vlog() writes the plugin's line")
        codes = h.ctl("probe", "codes")
        ok(codes == dict(gone=ERR["gone"], invalid=ERR["invalid"], bad_flag=ERR["invalid"],
                         bad_addr=ERR["refused"], pending_gone=ERR["gone"], low_gone=ERR["gone"]),
           "send_v2/send_to_v2/conn_pending/conn_set_low_water codes: %s" % codes)

        # A client that does not read: FILL queues with NOWAIT until refused.
        # A small receive buffer, set before connecting, keeps the kernel
        # from taking much of what the host queues.
        c = FrameConn.__new__(FrameConn)
        c.sock = socket.socket()
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.sock.settimeout(5)
        c.sock.connect(("127.0.0.1", h.port))
        c.buf = b""
        c.send("probe", "BIG_")
        ok(c.recv()[1] == "ALIV", "a frame over max_frame fails alone: the connection still works")
        c.send("probe", "FILL", struct.pack("!I", 2048))
        f = poll(lambda: (lambda r: r if r["code"] != 0 else None)(h.ctl("probe", "fill")))
        ok(f and f["big_code"] == ERR["too_big"], "over max_frame is MP2P_ERR_TOO_BIG: %s" % f)
        ok(f and f["code"] == ERR["would_block"] and f["frames"] > 0,
           "NOWAIT stops at the output limit with MP2P_ERR_WOULD_BLOCK after %s frames" % (f or {}).get("frames"))
        ok(f and 0 < f["pending_at_fill"] <= max_output and f["pending_at_fill"] + 2068 > max_output,
           "conn_pending() is just under max_output then: %s" % (f or {}).get("pending_at_fill"))
        ok(f and f["bytes_out"] + f["pending"] == 2068 * f["frames"] + 20 and f["pending"] > 0,
           "conn_info bytes_out counts written bytes, pending the rest: %s" % f)
        ok("output over max_output" not in h.log_text(), "and the connection was not closed")
        # Now read everything: on_drain follows, at the low-water mark 0.
        got = 0
        while got < f["frames"]:
            fr = c.recv(10)
            if fr is None:
                break
            got += fr[1] == "DATA"
        d = poll(lambda: (lambda r: r if r["drains"] >= 1 else None)(h.ctl("probe", "fill")))
        ok(got == f["frames"] and d and d["drains"] >= 1 and d["drain_pending"] == 0,
           "all %d frames arrive, then on_drain runs with nothing pending: %s" % (got, d))
        c.close()
        ok(h.stop() == 0, "exit 0")
    finally:
        h.cleanup()


def test_owned():
    h = Host(name="abi11-own", plugins=[
        dict(name="probe", file="probe_a.so"), dict(name="echo", file="echo.so")])
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except socket.timeout:
                pass
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        h.start()
        # Inbound: the probe claims a connection nobody else used.
        c = FrameConn(h.port)
        c.send("probe", "OWN_")
        ok(c.recv()[1] == "CLAM", "the claiming frame arrives")
        code = struct.unpack("!i", c.recv()[2])[0]
        ok(code == 0, "send_v2(MP2P_SEND_OWNED) claims a fresh inbound connection")
        c.send("echo", "PING", b"x")
        ok(c.closed_by_peer(), "a frame for another plugin on an owned connection closes it")
        ok(poll(lambda: "owned by 'probe'" in h.log_text()), "and the log says why")
        c = FrameConn(h.port)
        c.send("echo", "PING", b"x")
        ok(c.recv() == ("echo", "PONG", b"x"), "echo uses a second connection")
        c.send("probe", "OWN_")
        fr = c.recv()
        code = struct.unpack("!i", fr[2])[0] if fr and fr[1] == "OWND" else None
        ok(code == ERR["refused"], "claiming a connection another plugin used is refused (%d)" % code)
        c.send("echo", "PING", b"y")
        ok(c.recv() == ("echo", "PONG", b"y"), "and it stays shared")
        c.close()
        # Outbound: owned dials are never reused by plain ones.
        addr = "127.0.0.1:%d" % srv.getsockname()[1]
        r1 = h.ctl("probe", "dial", addr, "reuse")
        r2 = h.ctl("probe", "dial", addr, "reuse")
        o1 = h.ctl("probe", "dial", addr, "owned")
        r3 = h.ctl("probe", "dial", addr, "reuse")
        ok(r1["rc"] == 0 and r1["conn"] == r2["conn"] == r3["conn"] and o1["rc"] == 0
           and o1["conn"] != r1["conn"], "plain send_to reuses, OWNED dials its own: %s %s %s %s"
           % (r1, r2, o1, r3))
        ok(h.ctl("probe", "close", str(o1["conn"]))["rc"] == 0, "its owner closes it")
        ok(h.stop() == 0, "exit 0")
    finally:
        stop.set()
        t.join()
        for s in held:
            s.close()
        srv.close()
        h.cleanup()


def test_checkpoints():
    h = Host(name="abi11-ckpt", host_settings="checkpoint_interval = 1;",
             plugins=[dict(name="probe", file="probe_a.so")])
    try:
        h.start()
        ok(h.ctl("probe", "limits")["checkpoint_interval"] == 1, "host.checkpoint_interval is read")
        ok(h.ctl("probe", "value")["origin"] == 0, "a first start is MP2P_ORIGIN_FRESH")
        for _ in range(3):
            h.ctl("probe", "bump")
        state = os.path.join(h.state_dir, "probe.state")
        before = os.path.getmtime(state) if os.path.exists(state) else 0
        ok(poll(lambda: os.path.exists(state) and os.path.getmtime(state) > before, 5),
           "the periodic checkpoint writes state_dir/probe.state while running")
        time.sleep(1.5)
        h.kill()
        h.start()
        v = h.ctl("probe", "value")
        ok(v["value"] == 3 and v["origin"] == 1, "after SIGKILL the checkpoint is restored, "
           "origin MP2P_ORIGIN_RESTART: %s" % v)
        h.stop()
        h.host_settings = ""
        h.write_config()
        h.start()
        h.ctl("probe", "bump")
        ok(h.ctl("probe", "checkpoint")["rc"] == 0, "checkpoint() on request: MP2P_OK")
        h.ctl("probe", "bump")
        h.kill()
        h.start()
        ok(h.ctl("probe", "value")["value"] == 4, "SIGKILL keeps what checkpoint() saved, loses the rest")
        ok(h.stop() == 0, "exit 0")
    finally:
        h.cleanup()


def test_swap_and_handover():
    h = Host(name="abi11-swap", plugins=[dict(name="probe", file="probe_a.so")])
    try:
        h.start()
        h.ctl("probe", "bump")
        cmd = [os.path.join(mp2ptest.builddir, "maybep2pctl"), "-s", h.control, "--json", "probe", "wait"]
        waiter = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        h.wait_log(r"probe: waiting")
        h.plugins = [dict(name="probe", file="probe_b.so")]
        h.write_config()
        status, out, err = h.ctl_raw(["reload"])
        ok(status == 0, "reload to probe_b: %s" % (out + err).strip())
        out, err = waiter.communicate(timeout=15)
        res = json.loads(out) if out.strip().startswith("{") else {}
        ok(waiter.returncode == 0 and res.get("adopted_by") == "b",
           "the deferred reply was handed over and answered by the successor: %s %s" % (out, err))
        v = h.ctl("probe", "value")
        ok(v["version"] == "b" and v["value"] == 1 and v["origin"] == 2,
           "the successor has the state, origin MP2P_ORIGIN_SWAP: %s" % v)
        mark = len(h.log_text())
        waiter = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        poll(lambda: "probe: waiting" in h.log_text()[mark:])
        h.stop()
        out, err = waiter.communicate(timeout=15)
        ok(waiter.returncode == 1 and "stopped before it answered" in out + err,
           "at shutdown there is no successor: the reply fails: %s" % (out + err).strip())
    finally:
        h.cleanup()


def test_order():
    h = Host(name="abi11-order", plugins=[
        dict(name="first", file="probe_a.so", config='other = "second";'),
        dict(name="second", file="probe2.so", config='other = "first";')])
    try:
        h.start()
        ok(h.stop() == 0, "exit 0")
        log = h.log_text()
        starts = [log.find("probe: start first"), log.find("probe: start second")]
        stops = [log.find("probe: stop second"), log.find("probe: stop first")]
        ok(-1 not in starts and starts[0] < starts[1], "start() in config order")
        ok(-1 not in stops and stops[0] < stops[1], "stop() in reverse config order")
        ok("probe: stop second (1): svc.first found" in log,
           "the later instance stops while the earlier one's service is offered")
        ok("probe: stop first (1): svc.second found" in log,
           "and the earlier one still finds the service of one that already stopped")
    finally:
        h.cleanup()


def main():
    test_codes_and_flow()
    test_owned()
    test_checkpoints()
    test_swap_and_handover()
    test_order()
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
