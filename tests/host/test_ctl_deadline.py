#!/usr/bin/env python3
"""test_ctl_deadline.py -- maybep2pctl -T: a deferred reply that never comes
ends in exit 1 with a clear message once the limit passes, a bad -T is a
usage error, and the host survives the client leaving; --json output is
valid UTF-8 whatever bytes a plugin put in its reply."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mp2ptest import Check, Host, builddir  # noqa: E402

ok = Check("test_ctl_deadline")
ctl = os.path.join(builddir, "maybep2pctl")


def run(*args, timeout=60):
    r = subprocess.run([ctl] + list(args), capture_output=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr.decode(errors="replace")


def deadline(h):
    t0 = time.monotonic()
    code, out, err = run("-s", h.control, "-T", "1.5", "tp", "hang")
    took = time.monotonic() - t0
    ok(code == 1, "a reply deferred forever: exit 1 (%d)" % code)
    ok("no answer from maybep2pd" in err and "within 1.5 s" in err and "'tp hang'" in err,
       "the message says what did not come and the limit: %r" % err.strip())
    # At least the limit; the upper bound only guards against waiting forever.
    ok(1.5 <= took < 20, "it gave up after the limit (%.2f s)" % took)

    code, out, err = run("-s", h.control, "-T", "0.5", "status")
    ok(code == 0 and out.startswith(b"id "), "an answer within the limit is printed as usual")

    for bad in ("0", "-1", "abc", "1e400", "nan", ""):
        code, out, err = run("-s", h.control, "-T", bad, "status")
        ok(code == 2 and "-T wants a number of seconds" in err, "-T %r is a usage error" % bad)
    code, out, err = run("-s", h.control, "-T")
    ok(code == 2 and "usage:" in err, "-T without a value is a usage error")

    # The abandoned reply went nowhere; the host still answers, and stops cleanly.
    ok(h.ctl("tp", "asked")["asked"] == 0, "the host answers after the client gave up")


def utf8(h):
    code, out, err = run("-s", h.control, "--json", "tp", "bytes")
    try:
        text = out.decode("utf-8", errors="strict")
        valid = True
    except UnicodeDecodeError as e:
        text, valid = "", False
        print("#", e)
    ok(code == 0 and valid, "--json output of non-UTF-8 text is valid UTF-8")
    try:
        value = json.loads(text)["text"]
    except (ValueError, KeyError):
        value = None
    want = "ok \\xff caf\u00e9 \\xe2\\x82 \\xc0\\xaf \\xed\\xa0\\x80 \\xf4\\x90\\x80\\x80 \U0001f642 \x01 end"
    ok(value == want, "bad bytes are escaped as \\xHH, good text kept: %r" % value)
    code, out, err = run("-s", h.control, "tp", "bytes")
    ok(code == 0 and b"\xff" in out, "text output passes the bytes through unchanged")


def main():
    h = Host("deadline", plugins=[dict(name="tp", file="tp_good.so")]).start()
    try:
        deadline(h)
        utf8(h)
        ok(h.stop() == 0, "the host stops cleanly with a reply still deferred")
    finally:
        h.cleanup()
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
