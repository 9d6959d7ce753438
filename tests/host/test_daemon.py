#!/usr/bin/env python3
"""test_daemon.py -- a real maybep2pd on loopback: echo round trips, every
timeout and limit, bad frames, -t on broken configs and plugins, SIGTERM."""

import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mp2ptest import Check, FrameConn, Host, builddir, frame  # noqa: E402
# host.security.mode = "plain": Python clients here speak plaintext frames to the host.
Host.default_security = "plain"

ok = Check("test_daemon")


def echo_round_trips():
    h = Host("rt").start()
    try:
        conns = [FrameConn(h.port) for _ in range(50)]
        good = 0
        for rnd in range(20):
            for i, c in enumerate(conns):
                c.send("echo", "PING", b"%d-%d" % (i, rnd))
            for i, c in enumerate(conns):
                if c.recv() == ("echo", "PONG", b"%d-%d" % (i, rnd)):
                    good += 1
        ok(good == 1000, "1000 PING/PONG round trips over 50 connections (%d good)" % good)
        # A payload of zero bytes and one split into single bytes.
        c = conns[0]
        c.send("echo", "PING", b"")
        ok(c.recv() == ("echo", "PONG", b""), "zero-length payload echoed")
        for b in frame("echo", "PING", b"trickled"):
            c.send_raw(bytes([b]))
        ok(c.recv() == ("echo", "PONG", b"trickled"), "a frame sent one byte at a time is answered")
        st = h.ctl("stats")
        ok(st["frames_in"] >= 1002 and st["frames_out"] >= 1002, "stats count frames in and out")
        for c in conns:
            c.close()
        ok(h.stop() == 0, "SIGTERM: exit status 0")
        ok("stopped" in h.log_text(), "the host logs that it stopped")
    finally:
        h.cleanup()


def timeouts():
    h = Host("to", host_settings="timeouts: { idle = 1.0; frame = 0.6; };").start()
    try:
        idle = FrameConn(h.port)
        t0 = time.time()
        closed = idle.closed_by_peer(timeout=4)
        took = time.time() - t0
        ok(closed and 0.8 < took < 2.5, "an idle connection is closed after idle=1.0 (%.2f s)" % took)
        h.wait_log(r"127\.0\.0\.1:\d+: closing connection \d+: idle timeout: no frame in 1 s")
        ok(True, "the idle close is logged naming the peer")

        half = FrameConn(h.port)
        half.send_raw(frame("echo", "PING", b"0123456789")[:15])
        t0 = time.time()
        # Keep trickling: each byte would reset a plain read timeout, not this one.
        closed = False
        for _ in range(20):
            try:
                half.sock.sendall(b"")
            except OSError:
                break
            if half.closed_by_peer(timeout=0.1):
                closed = True
                break
        took = time.time() - t0
        ok(closed and took < 1.5, "half a frame is closed after frame=0.6 (%.2f s)" % took)
        h.wait_log(r"closing connection \d+: frame timeout")
        ok(True, "the frame timeout is logged")

        busy = FrameConn(h.port)
        alive = True
        for _ in range(8):            # 2 s of traffic, longer than idle
            busy.send("echo", "PING", b"x")
            alive = alive and busy.recv() == ("echo", "PONG", b"x")
            time.sleep(0.25)
        ok(alive, "a connection sending frames is not closed by the idle timeout")
        st = h.ctl("stats")
        ok(st["timeouts_idle"] >= 1 and st["timeouts_frame"] == 1, "timeouts are counted")
        ok(h.stop() == 0, "exit 0")
    finally:
        h.cleanup()


def bad_frames():
    h = Host("bad", host_settings="limits: { max_frame = 1000; };").start()
    try:
        other = FrameConn(h.port)
        other.send("echo", "PING", b"before")
        ok(other.recv() == ("echo", "PONG", b"before"), "a second connection is answered")

        big = FrameConn(h.port)
        big.send("echo", "PING", b"y" * 1000)
        ok(big.recv() == ("echo", "PONG", b"y" * 1000), "a frame of exactly max_frame is answered")
        big.send_raw(frame("echo", "PING", b"z" * 1001)[:20])
        ok(big.closed_by_peer(3), "a frame header over max_frame closes that connection at once")
        h.wait_log(r"127\.0\.0\.1:\d+: closing connection \d+: frame of 1001 bytes is over max_frame \(1000\)")
        ok(True, "one log line names the peer and the reason (max_frame)")

        unk = FrameConn(h.port)
        unk.send("nobody", "PING", b"x")
        ok(unk.closed_by_peer(3), "a frame for an unregistered protocol closes that connection")
        h.wait_log(r"closing connection \d+: frame for unknown protocol 'nobody'")

        junk = FrameConn(h.port)
        junk.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        ok(junk.closed_by_peer(3), "garbage closes that connection")
        h.wait_log(r"closing connection \d+: not a frame: protocol name is not printable ASCII")

        other.send("echo", "PING", b"after")
        ok(other.recv() == ("echo", "PONG", b"after"), "the other connection is still answered")
        st = h.ctl("stats")
        ok(st["oversize_frames"] == 1 and st["unknown_protocol"] == 1 and st["bad_frames"] == 1,
           "each kind of bad frame is counted once")
        ok(h.stop() == 0, "exit 0")
    finally:
        h.cleanup()


def limits():
    h = Host("lim", host_settings="limits: { max_connections = 20; max_connections_per_ip = 15; };").start()
    try:
        conns = [FrameConn(h.port) for _ in range(15)]
        for c in conns:
            c.send("echo", "PING", b"1")
            c.recv()
        extra = FrameConn(h.port, source="127.0.0.1")
        ok(extra.closed_by_peer(3), "the 16th connection from one IP is refused (max_connections_per_ip=15)")
        others = [FrameConn(h.port, source="127.0.0.2") for _ in range(5)]
        for c in others:
            c.send("echo", "PING", b"2")
        ok(all(c.recv() == ("echo", "PONG", b"2") for c in others), "another IP is still admitted")
        over = FrameConn(h.port, source="127.0.0.3")
        ok(over.closed_by_peer(3), "the 21st connection is refused (max_connections=20, the old name "
           "of max_inbound; none of the 20 is silent, so none is evicted)")
        conns[0].send("echo", "PING", b"still")
        ok(conns[0].recv() == ("echo", "PONG", b"still"), "the host still answers after refusing")
        st = h.ctl("stats")
        ok(st["refused_max_inbound"] == 1 and st["refused_per_ip"] == 1, "refusals are counted")
        h.wait_log(r"connection refused: max_inbound reached")
        ok(h.stop() == 0, "exit 0")
    finally:
        h.cleanup()


def slow_reader():
    """A peer that never reads: its output stops at max_output and it is dropped."""
    h = Host("slow", host_settings="limits: { max_frame = 65536; max_output = 200000; }; "
                                   "timeouts: { write = 1.0; frame = 60.0; };").start()
    try:
        s = socket.socket()
        # A small window before connecting, so the kernel cannot soak up the answers.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(20)
        s.connect(("127.0.0.1", h.port))
        payload = b"p" * 60000
        try:
            for _ in range(400):
                s.sendall(frame("echo", "PING", payload))
        except OSError:
            pass                       # reset or timed out: the host dropped us
        h.wait_log(r"closing connection \d+: (output over max_output \(200000 bytes\)|write timeout): peer is not reading",
                   timeout=20)
        ok(True, "a peer that does not read is dropped (max_output or write timeout)")
        st = h.ctl("stats")
        ok(st["output_overflows"] + st["timeouts_write"] >= 1, "and it is counted")
        s.close()
        ok(h.stop() == 0, "exit 0")
    finally:
        h.cleanup()


def check_mode():
    h = Host("chk")
    try:
        exe = os.path.join(builddir, "maybep2pd")
        r = subprocess.run([exe, "-t", "-c", h.config_path], capture_output=True, text=True)
        ok(r.returncode == 0 and "configuration ok, 1 plugin loaded" in r.stdout, "-t accepts a good config")
        text = h.config_text().replace('log_level = "debug";', 'log_level = "debug";\n  max_conns = 5;')
        h.write_config(text)
        line = text.split("\n").index("  max_conns = 5;") + 1
        r = subprocess.run([exe, "-t", "-c", h.config_path], capture_output=True, text=True)
        ok(r.returncode != 0 and r.stdout.strip() == "%s:%d: setting 'host.max_conns': unknown setting" % (h.config_path, line),
           "-t names the file, line and setting of a typo: %r" % r.stdout.strip())
        h.plugins = [dict(name="old", file="tp_major2.so")]
        h.write_config()
        r = subprocess.run([exe, "-t", "-c", h.config_path], capture_output=True, text=True)
        ok(r.returncode != 0 and "tp_major2.so: built for ABI 2.0, this host speaks 1." in r.stdout,
           "-t refuses a wrong-ABI plugin by file name and both versions")
        h.plugins = [dict(name="echo", file="echo.so"), dict(name="opt", file="tp_initfail.so", required=False)]
        h.write_config()
        h.start()
        h.wait_log(r"plugin 'opt': init failed: the test plugin refuses to start: no frobnicator \(not required: skipped\)")
        c = FrameConn(h.port)
        c.send("echo", "PING", b"ok")
        ok(c.recv() == ("echo", "PONG", b"ok"), "a failing plugin with required = false is skipped; the host runs")
        ok(h.stop() == 0, "exit 0")
        h.plugins = [dict(name="echo", file="echo.so"), dict(name="must", file="tp_initfail.so")]
        h.write_config()
        h.start(wait=False)
        rc = h.proc.wait(10)
        ok(rc != 0 and "plugin 'must': init failed" in h.log_text(), "a failing required plugin stops the host (exit %d)" % rc)
    finally:
        h.cleanup()


for t in (echo_round_trips, timeouts, bad_frames, limits, slow_reader, check_mode):
    try:
        t()
    except Exception as e:  # a crash in one area is a failure, not the end of the run
        ok(False, "%s raised %r" % (t.__name__, e))
sys.exit(ok.done())
