#!/usr/bin/env python3
"""test_ctl.py -- every maybep2pctl command, in both output forms, against a
running host; its errors with no daemon and for unknown commands; the
control socket's mode, its stale file, and a second daemon refused."""

import json
import os
import stat
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mp2ptest import Check, FrameConn, Host, builddir  # noqa: E402
# host.security.mode = "plain": a Python client here speaks plaintext frames to the host.
Host.default_security = "plain"

ok = Check("test_ctl")
ctl = os.path.join(builddir, "maybep2pctl")


def run(*args):
    r = subprocess.run([ctl] + list(args), capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout, r.stderr


def commands():
    h = Host("ctl", plugins=[dict(name="echo", file="echo.so"),
                             dict(name="tp", file="tp_good.so")]).start()
    try:
        c = FrameConn(h.port)
        c.send("echo", "PING", b"x")
        c.recv()
        mode = stat.S_IMODE(os.stat(h.control).st_mode)
        ok(mode == 0o600, "the control socket is mode 0600 (%o)" % mode)

        st = h.ctl("status")
        ok(st["id"] == "ctl" and st["abi"] == "1.1" and st["listen"] == h.addr and st["connections"] == 1
           and st["uptime"] >= 0 and st["version"], "status --json: %s" % st)
        code, out, err = run("-s", h.control, "status")
        ok(code == 0 and out.startswith("id ") and "listen       %s" % h.addr in out, "status as text")

        pl = h.ctl("plugins")["rows"]
        ok([p["name"] for p in pl] == ["echo", "tp"] and pl[0]["protocols"] == "echo"
           and pl[1]["version"] == "0.0.1" and pl[0]["abi"] == "1.1" and pl[0]["state"] == "running",
           "plugins --json lists instance, version, ABI, protocols, state")
        code, out, err = run("-s", h.control, "plugins")
        ok(code == 0 and out.split("\n")[0].split() == ["name", "file", "plugin", "version", "abi", "protocols", "state"],
           "plugins as an aligned table")

        cs = h.ctl("connections")["rows"]
        ok(len(cs) == 1 and cs[0]["direction"] == "in" and cs[0]["plugins"] == "echo" and cs[0]["bytes_in"] == 21,
           "connections --json: %s" % cs)
        code, out, err = run("-s", h.control, "connections")
        ok(code == 0 and "peer" in out.split("\n")[0], "connections as text")

        s = h.ctl("stats")
        rows = {(r["plugin"], r["counter"]): r["value"] for r in s["rows"]}
        ok(s["frames_in"] == 1 and rows[("echo", "frames_in")] == 1 and rows[("echo", "pings")] == 1,
           "stats --json: host and per-plugin counters")
        code, out, err = run("-s", h.control, "stats")
        ok(code == 0 and "frames_in" in out, "stats as text")

        ok(h.ctl("echo", "version") == {"version": "1.0.0"}, "a plugin command: echo version")
        code, out, err = run("-s", h.control, "echo", "version")
        ok(code == 0 and out.split() == ["version", "1.0.0"], "a plugin command as text")
        code, out, err = run("-s", h.control, "echo", "frobnicate")
        ok(code == 2 and "unknown command 'frobnicate'" in err, "an unknown plugin command: exit 2")
        code, out, err = run("-s", h.control, "--json", "nonsense")
        ok(code == 2 and json.loads(err)["error"].startswith("unknown command 'nonsense'"),
           "an unknown command: exit 2, JSON error")
        code, out, err = run("-s", h.control, "status", "extra")
        ok(code == 2, "extra arguments: exit 2")
        code, out, err = run()
        ok(code == 2 and "usage" in err, "no command: exit 2 with usage")
        code, out, err = run("-c", h.config_path, "--json", "reload")
        ok(code == 0 and json.loads(out) == {"reload": "done"}, "reload through -c CONFIG")

        # A second daemon on the same socket is refused; the first carries on.
        other = Host("ctl2")
        other.control = h.control
        other.write_config()
        other.start(wait=False)
        # Under valgrind on a busy machine a daemon takes seconds to start.
        rc = other.proc.wait(60)
        ok(rc != 0 and "in use by another maybep2pd" in other.log_text(), "a second daemon on the socket refuses to start")
        other.cleanup()
        ok(h.ctl("status")["id"] == "ctl", "the first daemon still answers")

        code, out, err = run("-s", h.control, "--json", "stop")
        ok(code == 0 and json.loads(out) == {"stop": "stopping"}, "stop answers")
        ok(h.proc.wait(60) == 0, "and the daemon exits 0")
        code, out, err = run("-s", h.control, "status")
        ok(code == 1 and err.count("\n") == 1 and "no maybep2pd is listening on %s" % h.control in err,
           "no daemon: exit 1 and one line")

        # A stale socket file from a dead daemon is replaced.
        h.start()
        h.kill()
        ok(os.path.exists(h.control), "a killed daemon leaves its socket file")
        h.start()
        ok(h.ctl("status")["id"] == "ctl", "a new daemon replaces the stale socket")
        ok(h.stop() == 0, "exit 0")
    finally:
        h.cleanup()


try:
    commands()
except Exception as e:
    ok(False, "raised %r" % e)
sys.exit(ok.done())
