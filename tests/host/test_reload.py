#!/usr/bin/env python3
"""test_reload.py -- hot swap under load: 20 reloads alternating two builds
of echo copied over the same file, with persistent connections busy and new
connections opening all the while; failed reloads leave the old generation
serving; plugin state survives a swap and a restart."""

import os
import shutil
import signal
import struct
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mp2ptest import Check, FrameConn, Host, plugin_dir  # noqa: E402
# host.security.mode = "plain": Python clients here speak plaintext frames to the host.
Host.default_security = "plain"

ok = Check("test_reload")
built = plugin_dir()


def install(private, build):
    """Replace echo.so the way an operator does: write a new file, rename it in."""
    tmp = os.path.join(private, ".echo.so.new")
    shutil.copyfile(os.path.join(built, "echo_%s.so" % build), tmp)
    os.rename(tmp, os.path.join(private, "echo.so"))


class Load:
    """Busy persistent connections and a stream of new ones, counting
    everything that goes wrong."""

    def __init__(self, port):
        self.port, self.stop = port, threading.Event()
        self.sent = self.answered = self.refused = self.lost = self.new_conns = 0
        self.errors = []
        self.lock = threading.Lock()

    def persistent(self, n):
        try:
            c = FrameConn(self.port)
        except OSError as e:
            with self.lock:
                self.refused += 1
            return
        seq = 0
        while not self.stop.is_set():
            for k in range(8):          # 8 frames in flight
                c.send("echo", "PING", b"%d-%d" % (n, seq + k))
            for k in range(8):
                with self.lock:
                    self.sent += 1
                try:
                    got = c.recv(timeout=5)
                except Exception as e:
                    got = None
                if got == ("echo", "PONG", b"%d-%d" % (n, seq + k)):
                    with self.lock:
                        self.answered += 1
                else:
                    with self.lock:
                        self.lost += 1
                        self.errors.append(repr(got))
            seq += 8
        c.close()

    def fresh(self):
        while not self.stop.is_set():
            try:
                c = FrameConn(self.port)
            except OSError:
                with self.lock:
                    self.refused += 1
                continue
            c.send("echo", "PING", b"fresh")
            with self.lock:
                self.sent += 1
            try:
                got = c.recv(timeout=5)
            except Exception:
                got = None
            with self.lock:
                self.new_conns += 1
                if got == ("echo", "PONG", b"fresh"):
                    self.answered += 1
                else:
                    self.lost += 1
            c.close()


def reload_under_load():
    private = os.path.join(os.environ.get("TMPDIR", "/tmp"), "mp2p-reload-%d" % os.getpid())
    os.makedirs(private, exist_ok=True)
    install(private, "a")
    h = Host("swap", plugin_dir=private, log_level="info").start()
    try:
        load = Load(h.port)
        threads = [threading.Thread(target=load.persistent, args=(i,)) for i in range(4)]
        threads += [threading.Thread(target=load.fresh) for _ in range(2)]
        for t in threads:
            t.start()
        probe = FrameConn(h.port)       # one connection that lives through all 20
        switched = 0
        build = "a"
        for i in range(20):
            build = "b" if build == "a" else "a"
            install(private, build)
            status, out, err = h.ctl_raw(["reload"])
            probe.send("echo", "VERS")
            got = probe.recv()
            if status == 0 and got == ("echo", "VERS", b"build-" + build.encode()):
                switched += 1
            else:
                print("reload %d: status %d %r %r" % (i, status, err, got))
            time.sleep(0.1)
        load.stop.set()
        for t in threads:
            t.join(30)
        ok(switched == 20, "each of 20 reloads switched the build answering on a live connection (%d)" % switched)
        ok(load.refused == 0, "no connection refused during reloads (%d refused)" % load.refused)
        ok(load.lost == 0 and load.sent == load.answered,
           "no frame lost or unanswered: %d sent, %d answered, %d lost %s" % (
               load.sent, load.answered, load.lost, load.errors[:3]))
        ok(load.new_conns > 20, "new connections kept opening throughout (%d)" % load.new_conns)
        ok(h.ctl("stats")["reloads"] == 20, "stats counts 20 reloads")

        # Failed reloads change nothing.
        good = open(h.config_path).read()
        h.write_config(good.replace("plugins = (", "plugins = (\n  oops", 1))
        status, out, err = h.ctl_raw(["reload"])
        ok(status == 1 and ("%s:" % h.config_path) in err and "syntax error" in err,
           "a broken config: reload exits 1 naming file and line: %r" % err.strip())
        h.write_config(good.replace('file = "echo.so"', 'file = "gone.so"'))
        status, out, err = h.ctl_raw(["reload"])
        ok(status == 1 and "gone.so: cannot open: No such file or directory" in err,
           "a missing plugin file: reload exits 1 with the reason: %r" % err.strip())
        h.write_config(good.replace('file = "echo.so"', 'file = "%s"' % os.path.join(built, "tp_major2.so")))
        status, out, err = h.ctl_raw(["reload"])
        ok(status == 1 and "tp_major2.so: built for ABI 2.0, this host speaks 1.1" in err,
           "a wrong-ABI plugin: reload exits 1 with both versions: %r" % err.strip())
        probe.send("echo", "VERS")
        ok(probe.recv() == ("echo", "VERS", b"build-" + build.encode()), "the old generation still serves")
        h.write_config(good)
        os.kill(h.proc.pid, signal.SIGHUP)
        h.wait_log(r"reload done")
        ok(True, "SIGHUP reloads")
        probe.close()
        ok(h.stop() == 0, "exit 0")
    finally:
        h.cleanup()
        shutil.rmtree(private, ignore_errors=True)


def state_kept():
    h = Host("st", plugins=[dict(name="tp", file="tp_good.so", config="answer = 5;")]).start()
    try:
        c = FrameConn(h.port)
        for _ in range(3):
            c.send("tplug", "ASK ")
            c.recv()
        ok(h.ctl("tp", "asked")["asked"] == 3, "the plugin counted 3 questions")
        h.plugins[0]["config"] = "answer = 6;"      # a changed config swaps the instance
        h.write_config()
        status, out, err = h.ctl_raw(["reload"])
        c.send("tplug", "ASK ")
        ok(status == 0 and c.recv() == ("tplug", "ANSR", b"6"), "after a reload the new config answers on the same connection")
        ok(h.ctl("tp", "asked")["asked"] == 4, "state was handed to the new instance (4 asked)")
        ok(h.stop() == 0, "SIGTERM exit 0")
        ok(os.path.exists(os.path.join(h.state_dir, "tp.state")), "state saved to state_dir/tp.state")
        h.start()
        ok(h.ctl("tp", "asked")["asked"] == 4, "a cold restart restores it")
        h.stop()
        with open(os.path.join(h.state_dir, "tp.state"), "r+b") as f:
            f.seek(33)
            f.write(b"\xff")
        h.start()
        h.wait_log(r"tp: saved state unusable, starting empty: .*checksum mismatch; moved aside")
        ok(h.ctl("tp", "asked")["asked"] == 0, "a corrupted state file is moved aside and the plugin starts empty")
        ok(any(n.startswith("tp.state.corrupt-") for n in os.listdir(h.state_dir)), "the bad file is kept aside")
        ok(h.stop() == 0, "exit 0")
        # A sound file in a state format this build cannot read (as if a
        # newer build wrote it): the plugin says so and starts empty.
        data = b"\0" * 12
        with open(os.path.join(h.state_dir, "tp.state"), "wb") as f:
            f.write(b"MP2PSTAT" + struct.pack("!IIQII", 1, 9, len(data), zlib.crc32(data), 0) + data)
        h.start()
        h.wait_log(r"tp: could not read its saved state \(format 9, 12 bytes\): unknown state format; starting empty")
        ok(h.ctl("tp", "asked")["asked"] == 0, "a state format the plugin cannot read: it says so and starts empty")
        ok(h.stop() == 0, "exit 0")
    finally:
        h.cleanup()


for t in (reload_under_load, state_kept):
    try:
        t()
    except Exception as e:
        ok(False, "%s raised %r" % (t.__name__, e))
sys.exit(ok.done())
