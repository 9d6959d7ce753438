#!/usr/bin/env python3
"""test_plugin_log.py -- a peer cannot flood the log through a plugin. The
test plugin writes a warning and a debug line for every NOIS frame; after
1,000 of them the log holds at most one warning a second plus "N similar
lines suppressed" summaries that account for every one held back, the
debug lines are all there (the operator asked for each), the host still
answers, and the three lines the plugin logs from stop() are all written."""
import math
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))

from mp2ptest import Check, FrameConn, Host  # noqa: E402
import mp2ptest  # noqa: E402
# host.security.mode = "plain": the Python client here speaks plaintext frames.
mp2ptest.Host.default_security = "plain"

ok = Check("test_plugin_log")
FRAMES = 1000
FULL = re.compile(r"^\S+ warn  tp: noisy frame \d+ on conn \d+$", re.M)
SUMMARY = re.compile(r"^\S+ warn  tp: (\d+) similar lines suppressed in the last [0-9.]+ s: "
                     r"\"noisy frame %llu on conn %llu\"$", re.M)


def accounted(log):
    return len(FULL.findall(log)) + sum(int(n) for n in SUMMARY.findall(log))


def main():
    h = Host("plog", plugins=[dict(name="tp", file="tp_good.so")], log_level="debug")
    try:
        h.start()
        c = FrameConn(h.port)
        began = time.time()
        for _ in range(FRAMES):
            c.send("tplug", "NOIS", b"")
        # Frames on one connection are handled in order: the answer comes
        # after every NOIS has been logged (or held back).
        c.send("tplug", "ASK ", b"")
        ok(c.recv(30) == ("tplug", "ANSR", b"42"), "after %d noisy frames the host still answers" % FRAMES)
        flood = time.time() - began
        c.close()
        ok(h.ctl("tp", "noisy")["noisy"] == FRAMES, "the plugin saw every frame")

        # The last summary comes a second after the last line held back.
        deadline = time.time() + 30
        while time.time() < deadline and accounted(h.log_text()) < FRAMES:
            time.sleep(0.1)
        log = h.log_text()
        full, sums = FULL.findall(log), SUMMARY.findall(log)
        # One line a second per reason: a full line or a summary each second
        # of the flood, and one summary after it.
        most = 2 * (math.ceil(flood) + 2)
        ok(1 <= len(full) and len(full) + len(sums) <= most,
           "the warnings are held to one a second: %d full lines and %d summaries in a %.1f s flood "
           "(at most %d)" % (len(full), len(sums), flood, most))
        ok(len(sums) >= 1, "a summary says how many were suppressed: %s" % sums)
        ok(accounted(log) == FRAMES,
           "full lines and summaries account for every warning: %d of %d" % (accounted(log), FRAMES))
        quiet = re.findall(r"debug tp: quiet frame \d+$", log, re.M)
        ok(len(quiet) == FRAMES, "debug lines are never held back: %d of %d" % (len(quiet), FRAMES))

        c = FrameConn(h.port)
        c.send("tplug", "ASK ", b"")
        ok(c.recv(10) == ("tplug", "ANSR", b"42"), "a new peer is served")
        c.close()
        ok(h.stop() == 0, "the host stops cleanly")
        stops = re.findall(r"info  tp: stopping \(reason 1\): line (\d) of 3$", h.log_text(), re.M)
        ok(stops == ["1", "2", "3"], "every line logged from stop() is written: %s" % stops)
    finally:
        h.cleanup()
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
