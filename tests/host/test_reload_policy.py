#!/usr/bin/env python3
"""test_reload_policy.py -- start-up and reload share one policy
(host/generation.c), so the same plugin entry has the same outcome either
way, down to the log line:
- a plugin that is not required and fails in init() or in start(): the host
  serves without it, and one warning names the entry (and the file, for
  start()) and the reason, ending "(not required: skipped)"; the reload that
  adds it succeeds;
- a required plugin that fails in init() or start(): start-up exits 1, a
  reload that adds it exits 1 with the same line, counts a reload failure,
  and the host serves on with the plugins it had;
- an instance's state comes from its file in state_dir when nothing runs
  under its name: at start-up, and at the reload that adds it (origin
  MP2P_ORIGIN_RESTART both times, the same "restored" line)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))

from mp2ptest import Check, FrameConn, Host  # noqa: E402
import mp2ptest  # noqa: E402
# host.security.mode = "plain": the Python client here speaks plaintext frames.
mp2ptest.Host.default_security = "plain"

ok = Check("test_reload_policy")
ECHO = dict(name="echo", file="echo.so")


def serves(h):
    c = FrameConn(h.port)
    c.send("echo", "PING", b"policy")
    got = c.recv(10)
    c.close()
    return got == ("echo", "PONG", b"policy")


def names(h):
    return sorted(row["name"] for row in h.ctl("plugins")["rows"])


def lines_about(text, what, levels=("warn ", "error ")):
    """The lines of `text` at `levels` that mention `what`, without their
    time stamp."""
    found = [line.split(" ", 1)[1] for line in text.splitlines() if what in line]
    return [x for x in found if x.startswith(levels)]


def start_failing(h):
    """Starts h expecting exit 1; returns its lines about plugin 'opt'."""
    h.start(wait=False)
    rc = h.proc.wait(60)
    h.kill()
    h.logf.close()
    return rc, lines_about(h.log_text()[h.log_offset:], "plugin 'opt'")


def reload_adding(h, opt):
    """With h running echo alone, a reload that adds `opt`: its exit status,
    stderr, and the log lines about plugin 'opt' it wrote."""
    mark = len(h.log_text())
    h.plugins = [ECHO, opt]
    h.write_config()
    status, out, err = h.ctl_raw(["reload"])
    return status, err, lines_about(h.log_text()[mark:], "plugin 'opt'")


def case(kind, so, required):
    what = "%s %s in %s" % ("a required" if required else "a not required", so,
                            "init()" if "init" in so else "start()")
    opt = dict(name="opt", file=so, required=required)
    h = Host("pol", plugins=[ECHO, opt])
    try:
        if required:
            rc, at_start = start_failing(h)
            ok(rc == 1 and len(at_start) == 1 and at_start[0].startswith("error ") and kind in at_start[0],
               "start-up: %s exits 1 with one line: %s" % (what, at_start))
        else:
            h.start()
            at_start = lines_about(h.log_text()[h.log_offset:], "plugin 'opt'")
            ok(serves(h) and names(h) == ["echo"], "start-up: %s is left out and echo serves" % what)
            ok(len(at_start) == 1 and at_start[0].startswith("warn ") and kind in at_start[0]
               and at_start[0].endswith("(not required: skipped)"),
               "start-up: one warning names the entry and the reason: %s" % at_start)
            ok(h.stop() == 0, "the host stops cleanly")

        h.plugins = [ECHO]
        h.write_config()
        h.start()
        before = h.ctl("stats")["reload_failures"]
        status, err, at_reload = reload_adding(h, opt)
        if required:
            ok(status == 1 and kind in err, "reload: %s fails the reload: %r" % (what, err.strip()[-200:]))
            ok(h.ctl("stats")["reload_failures"] == before + 1, "reload_failures + 1")
            # init() fails before anything is swapped; start() fails after:
            # the operator is told which of the two happened.
            said = "unchanged" if "init" in so else "not every plugin started"
            ok(said in err, "reload: the error says %r: %r" % (said, err.strip()[-200:]))
        else:
            ok(status == 0, "reload: %s does not fail the reload: %r" % (what, err.strip()[-200:]))
            ok(h.ctl("stats")["reload_failures"] == before, "reload_failures unchanged")
        ok(serves(h) and names(h) == ["echo"], "reload: the host serves without it, echo untouched")
        ok(at_reload == at_start, "reload: the same line as start-up: %s" % at_reload)
        ok(h.stop() == 0, "the host stops cleanly")
    finally:
        h.cleanup()


def restore_case():
    probe = dict(name="probe", file="probe_a.so")
    h = Host("polr", plugins=[ECHO, probe])
    try:
        h.start()
        for _ in range(3):
            h.ctl("probe", "bump")
        ok(h.stop() == 0, "the first run saves its state")

        h.start()
        v = h.ctl("probe", "value")
        at_start = lines_about(h.log_text()[h.log_offset:], "restored", ("info ",))
        ok(v["value"] == 3 and v["origin"] == 1, "start-up: restored from state_dir, origin RESTART: %s" % v)
        h.ctl("probe", "bump")
        ok(h.stop() == 0, "the second run saves its state")

        h.plugins = [ECHO]
        h.write_config()
        h.start()
        mark = len(h.log_text())
        h.plugins = [ECHO, probe]
        h.write_config()
        status, out, err = h.ctl_raw(["reload"])
        ok(status == 0, "the reload that adds it succeeds: %r" % err)
        v = h.ctl("probe", "value")
        at_reload = lines_about(h.log_text()[mark:], "restored", ("info ",))
        ok(v["value"] == 4 and v["origin"] == 1, "reload: restored from state_dir, origin RESTART: %s" % v)
        ok(len(at_start) == 2 and [x.replace("value 3", "value 4") for x in at_start] == at_reload,
           "the same restore lines at start-up and at reload: %s / %s" % (at_start, at_reload))
        ok(h.stop() == 0, "the host stops cleanly")
    finally:
        h.cleanup()


def main():
    case("init failed: the test plugin refuses to start: no frobnicator", "tp_initfail.so", False)
    case("start failed: the test plugin cannot start: no frobnicator", "tp_startfail.so", False)
    case("init failed: the test plugin refuses to start: no frobnicator", "tp_initfail.so", True)
    case("start failed: the test plugin cannot start: no frobnicator", "tp_startfail.so", True)
    restore_case()
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
