#!/usr/bin/env python3
"""test_restart.py -- systemd socket activation: the daemon takes its
listening socket from LISTEN_FDS, and a restart with the socket held
outside refuses no connection while clients keep dialling."""

import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mp2ptest import Check, FrameConn, Host, builddir, _live  # noqa: E402
# host.security.mode = "plain": Python clients here speak plaintext frames to the host.
Host.default_security = "plain"

ok = Check("test_restart")


def start_with_socket(h, lsock):
    """Start maybep2pd as systemd would: the socket as fd 3, LISTEN_PID set
    in the child to its own pid."""
    def child():
        os.dup2(lsock.fileno(), 3)
        os.environ["LISTEN_FDS"] = "1"
        os.environ["LISTEN_PID"] = str(os.getpid())
    # Popen closes every descriptor not in pass_fds after child() runs: if
    # this process already has an fd 3 (the lock file of a flock(1) it
    # runs under, say), the socket is elsewhere and fd 3 must be kept too,
    # or the dup2() above is undone.
    keep = [lsock.fileno()]
    try:
        os.fstat(3)
        keep.append(3)
    except OSError:
        pass
    h.logf = open(h.log_path, "ab")
    h.log_offset = len(h.log_text())
    h.proc = subprocess.Popen([os.path.join(builddir, "maybep2pd"), "-c", h.config_path],
                              stdout=h.logf, stderr=h.logf, preexec_fn=child, pass_fds=keep)
    _live.append(h)
    h.wait_ready()


def main():
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1024)
    port = lsock.getsockname()[1]
    # The config names another port: the socket from systemd wins.
    h = Host("sa")
    try:
        start_with_socket(h, lsock)
        ok("listening on 127.0.0.1:%d (from systemd)" % port in h.log_text(), "the listener comes from LISTEN_FDS")
        stop = threading.Event()
        stats = {"refused": 0, "answered": 0, "dropped": 0}

        def dial():
            while not stop.is_set():
                try:
                    c = FrameConn(port, timeout=10)
                except OSError:
                    stats["refused"] += 1
                    continue
                try:
                    c.send("echo", "PING", b"r")
                    if c.recv(timeout=10) == ("echo", "PONG", b"r"):
                        stats["answered"] += 1
                    else:
                        stats["dropped"] += 1
                except OSError:
                    stats["dropped"] += 1    # closed by a stopping daemon: not a refusal
                c.close()
        t = threading.Thread(target=dial)
        t.start()
        for _ in range(3):
            time.sleep(0.3)
            ok(h.stop() == 0, "SIGTERM exit 0")
            start_with_socket(h, lsock)
        time.sleep(0.3)
        stop.set()
        t.join(20)
        ok(stats["refused"] == 0, "no connection refused across 3 restarts (%s)" % stats)
        ok(stats["answered"] > 10, "and connections kept being answered (%d)" % stats["answered"])
        ok(h.stop() == 0, "exit 0")
    finally:
        h.cleanup()
        lsock.close()


try:
    main()
except Exception as e:
    ok(False, "raised %r" % e)
sys.exit(ok.done())
