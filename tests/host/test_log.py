#!/usr/bin/env python3
"""test_log.py -- host.log: "syslog" sends every line to /dev/log with the
daemon facility and the level's priority; on stderr, a stderr that is the
journal's stream (JOURNAL_STREAM) gets "<N>" priority prefixes and no time,
any other stderr the plain timestamped form; a message with a newline stays
one line; a bad host.log value is reported with file, line and setting.

The syslog case runs the daemon in a mount namespace of its own whose /dev
holds this test's datagram socket as /dev/log, so no system logger is
needed and nothing reaches one."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mp2ptest import Check, FrameConn, Host, builddir  # noqa: E402
import mp2ptest  # noqa: E402
# host.security.mode = "plain": the bad frame here is a plaintext one.
mp2ptest.Host.default_security = "plain"

ok = Check("test_log")
LINE = re.compile(r"^(error|warn |info |debug) \S")


def bad_frame(h):
    """A header that cannot be a frame: one warn line naming the peer."""
    c = FrameConn(h.port)
    c.send_raw(b"\x01" * 20)
    c.closed_by_peer(10.0)
    c.close()


def syslog_case():
    if shutil.which("unshare") is None or os.geteuid() != 0:
        print("skip - syslog: needs root and unshare(1) for a private /dev/log")
        return
    work = tempfile.mkdtemp(prefix="mp2p-syslog-")
    sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sink.bind(os.path.join(work, "log"))
    sink.settimeout(0.5)
    h = Host("sl", host_settings='log = "syslog";', log_level="debug")
    os.makedirs(os.path.join(work, "olddev"))
    setup = ('mount --rbind /dev "$W/olddev" && mount -t tmpfs tmpfs /dev && '
             'for n in null zero random urandom; do touch /dev/$n && mount --bind "$W/olddev/$n" /dev/$n; done && '
             'touch /dev/log && mount --bind "$W/log" /dev/log && exec "$@"')
    errf = open(os.path.join(work, "stderr"), "wb")
    proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", setup, "sh",
                             os.path.join(builddir, "maybep2pd"), "-c", h.config_path],
                            env=dict(os.environ, W=work), stdout=errf, stderr=errf)
    got = []

    def wait_for(pattern, timeout=20.0):
        deadline = time.time() + timeout
        rx = re.compile(pattern)
        while time.time() < deadline:
            for g in got:
                if rx.search(g):
                    return g
            try:
                got.append(sink.recv(65536).decode(errors="replace"))
            except socket.timeout:
                if proc.poll() is not None and not got:
                    return None
        return None

    try:
        start = wait_for(r"running; advertising")
        ok(start is not None and re.match(r"^<30>.*maybep2pd\[%d\]: info  host sl " % proc.pid, start),
           "syslog: the start line, facility daemon, priority info, tagged maybep2pd[pid]: %r" % start)
        bad_frame(h)
        warn = wait_for(r"closing connection")
        ok(warn is not None and warn.startswith("<28>") and "warn  127.0.0.1:" in warn,
           "syslog: a bad frame's line has priority warning and names the peer: %r" % warn)
        dbg = [g for g in got if g.startswith("<31>")]
        ok(all(re.match(r"^<(27|28|30|31)>", g) for g in got) and len(got) >= 2,
           "syslog: every line has a daemon-facility priority (%d lines, %d debug)" % (len(got), len(dbg)))
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(30)
        stopped = wait_for(r"info  stopped", 5.0)
        ok(rc == 0 and stopped is not None, "syslog: a clean stop, logged there too (exit %s)" % rc)
        errf.close()
        with open(os.path.join(work, "stderr"), "rb") as f:
            err = f.read()
        ok(err == b"", "syslog: nothing on stderr (%r)" % err[:300])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sink.close()
        h.cleanup()
        shutil.rmtree(work, ignore_errors=True)


def journal_case():
    h = Host("jr", log_level="debug")
    try:
        # The stream the daemon's stderr will be, named as systemd does.
        open(h.log_path, "ab").close()
        st = os.stat(h.log_path)
        h.start(env=dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino)))
        bad_frame(h)
        h.wait_log(r"closing connection")
        ok(h.stop() == 0, "journal: a clean stop")
        lines = h.log_text().splitlines()
        ok(lines and all(re.match(r"^<[3467]>(error|warn |info |debug) \S", x) for x in lines),
           "journal: every line is <N>LEVEL message, no time (%d lines)" % len(lines))
        ok(any(x.startswith("<6>info  host jr ") for x in lines), "journal: info is <6>")
        ok(any(x.startswith("<4>warn  127.0.0.1:") and "closing connection" in x for x in lines),
           "journal: a bad frame's warning is <4> and names the peer")
        ok(any(x.startswith("<7>debug ") for x in lines), "journal: debug is <7>")
    finally:
        h.cleanup()

    # JOURNAL_STREAM set, but stderr is some other file: the plain form.
    h = Host("nj")
    try:
        h.start(env=dict(os.environ, JOURNAL_STREAM="1:1"))
        ok(h.stop() == 0, "not the journal: a clean stop")
        lines = h.log_text().splitlines()
        ok(lines and all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (error|warn |info |debug) \S", x)
                         for x in lines),
           "stderr that is not the journal: time, level, message on each line")
    finally:
        h.cleanup()


def one_line_case():
    # A reload that fails with two problems: both in one log line.
    h = Host("ol").start()
    try:
        good = h.config_text()
        h.write_config(good.replace('log_level = "debug";', 'log_level = "loud"; bogus = 1;'))
        h.proc.send_signal(signal.SIGHUP)
        m = h.wait_log(r"reload failed[^\n]*")
        line = m.group(0)
        ok("log_level" in line and "bogus" in line,
           "a multi-line reason stays on the one log line: %r" % line[:300])
        h.write_config(good)
        ok(h.stop() == 0, "the host stops cleanly")
    finally:
        h.cleanup()


def bad_value_case():
    h = Host("bv", host_settings='log = "file";')
    try:
        r = subprocess.run([os.path.join(builddir, "maybep2pd"), "-t", "-c", h.config_path],
                           capture_output=True, text=True, timeout=30)
        want = "%s:" % h.config_path
        ok(r.returncode == 1 and want in r.stdout and "setting 'host.log'" in r.stdout
           and 'must be "stderr" or "syslog" (got \'file\')' in r.stdout,
           "a bad host.log: file, line and setting: %r" % r.stdout.strip())
    finally:
        h.cleanup()


def main():
    syslog_case()
    journal_case()
    one_line_case()
    bad_value_case()
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
