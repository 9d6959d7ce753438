#!/usr/bin/env python3
"""test_reload_safe.py -- a reload never lies and never loses anything:
- a replacement whose start() fails: the running build resumes with the
  state it had, `maybep2pctl reload` exits 1 with the reason, and
  reload_failures grows;
- a plugin that crashes in init(): tried in a probe process first, so the
  reload fails with the reason and the daemon keeps serving; at start-up
  the daemon exits 1 saying so, instead of dying of the signal."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))

from mp2ptest import Check, FrameConn, Host  # noqa: E402
import mp2ptest  # noqa: E402
# host.security.mode = "plain": Python clients here speak plaintext frames to the host.
mp2ptest.Host.default_security = "plain"

ok = Check("test_reload_safe")


def ask(h):
    c = FrameConn(h.port)
    c.send("tplug", "ASK ", b"")
    got = c.recv(5)
    c.close()
    return got


def main():
    h = Host("rs", plugins=[dict(name="tp", file="tp_good.so")])
    try:
        h.start()
        for _ in range(3):
            ok(ask(h) == ("tplug", "ANSR", b"42"), "the running plugin answers")
        good = h.config_text()
        before = h.ctl("stats")["reload_failures"]

        h.write_config(good.replace('"tp_good.so"', '"tp_startfail.so"'))
        status, out, err = h.ctl_raw(["reload"])
        ok(status == 1 and "start failed: the test plugin cannot start" in err and "resumed" in err,
           "a replacement that cannot start: reload exits 1 with the reason: %r" % err.strip()[-220:])
        ok(h.ctl("stats")["reload_failures"] == before + 1, "reload_failures + 1")
        ok(ask(h) == ("tplug", "ANSR", b"42"), "the running build still answers")
        ok(h.ctl("tp", "asked")["asked"] == 4, "with the state it had: asked = %s" % h.ctl("tp", "asked"))
        plugins = h.ctl("plugins")["rows"]
        ok(len(plugins) == 1 and plugins[0]["file"].endswith("tp_good.so") and plugins[0]["state"] == "running",
           "plugins shows the running build: %s" % plugins)

        h.write_config(good.replace('"tp_good.so"', '"tp_initcrash.so"'))
        status, out, err = h.ctl_raw(["reload"])
        ok(status == 1 and "crashed in init()" in err, "a plugin that crashes in init(): reload exits 1: %r"
           % err.strip()[-220:])
        ok(h.proc.poll() is None, "the daemon is alive")
        ok(ask(h) == ("tplug", "ANSR", b"42") and h.ctl("tp", "asked")["asked"] == 5,
           "and the running plugin serves with its state")
        ok(h.ctl("stats")["reload_failures"] == before + 2, "reload_failures + 2")

        h.write_config(good)
        status, out, err = h.ctl_raw(["reload"])
        ok(status == 0, "a reload that changes nothing succeeds: %r" % err)
        ok(h.stop() == 0, "the host stops cleanly")
    finally:
        h.cleanup()

    h = Host("crash", plugins=[dict(name="tp", file="tp_initcrash.so")])
    try:
        h.start(wait=False)
        rc = h.proc.wait(30)
        log = h.log_text()
        ok(rc == 1 and "crashed in init()" in log and "tp_initcrash.so" in log,
           "at start-up a crashing init() is reported and the daemon exits 1: %d %r" % (rc, log.strip()[-200:]))
    finally:
        h.cleanup()
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
