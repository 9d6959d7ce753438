#!/usr/bin/env python3
"""test_safefiles.py -- nothing planted in state_dir or at the control path
can make the host write elsewhere, and no file can hang it:
- symlinks planted as host-id, a state temporary, kademlia's node_id and
  its temporaries: the files they point to stay untouched;
- a regular file at the control path is refused, not unlinked;
- a state_dir writable by others, or owned by another user, is refused;
- a second daemon on the same state_dir exits 1 naming the first one's pid
  and leaves its plugin copies alone;
- a plugin `file` that is a FIFO, a device or huge is refused by name, at
  start and on a reload, without hanging."""
import glob
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))

from mp2ptest import Check, FrameConn, Host  # noqa: E402
import mp2ptest  # noqa: E402
# host.security.mode = "plain": Python clients here speak plaintext frames to the host.
mp2ptest.Host.default_security = "plain"

ok = Check("test_safefiles")


def start_fails(h, timeout=20):
    """Starts h expecting failure: (exit status, log text)."""
    h.start(wait=False)
    try:
        rc = h.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        h.kill()
        return None, h.log_text()
    return rc, h.log_text()


def victim(dirpath, name, text="precious\n"):
    path = os.path.join(dirpath, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def read(path):
    with open(path) as f:
        return f.read()


def planted_links():
    h = Host("links", plugins=[dict(name="tp", file="tp_good.so"),
                               dict(name="kad", file="kademlia.so", config="request_timeout = 1.0;")])
    h.host_settings = ""
    h.write_config(h.config_text().replace('  id = "links";\n', ""))   # the id comes from state_dir
    outside = os.path.join(h.dir, "outside")
    os.makedirs(outside)
    os.makedirs(os.path.join(h.state_dir, "kad"), mode=0o700)
    os.chmod(h.state_dir, 0o700)
    gone = os.path.join(outside, "created-through-host-id")
    os.symlink(gone, os.path.join(h.state_dir, "host-id"))                 # dangling: would be created
    v_state = victim(outside, "state-victim")
    os.symlink(v_state, os.path.join(h.state_dir, ".tp.state.tmp"))         # the old temporary's name
    v_node = victim(outside, "node-victim", "%064x\n" % 7)
    os.symlink(v_node, os.path.join(h.state_dir, "kad", "node_id"))
    v_ntmp = victim(outside, "node-tmp-victim")
    os.symlink(v_ntmp, os.path.join(h.state_dir, "kad", "node_id.tmp"))
    v_rtmp = victim(outside, "routes-tmp-victim")
    os.symlink(v_rtmp, os.path.join(h.state_dir, "kad", "routes.tmp"))
    try:
        h.start()
        c = FrameConn(h.port)
        c.send("tplug", "ASK ", b"")
        ok(c.recv()[1] == "ANSR", "the host serves")
        c.close()
        kad_id = h.ctl("kad", "routes")["self"]
        ok(kad_id != "%064x" % 7, "kademlia did not take its id from a symlinked node_id")
        ok(h.stop() == 0, "the host stops cleanly, saving state")
        ok(not os.path.exists(gone), "nothing was created through the host-id symlink")
        hid = os.path.join(h.state_dir, "host-id")
        ok(not os.path.islink(hid) and read(hid).startswith("node-"), "host-id is now a plain file")
        ok(read(v_state) == "precious\n", "the state temporary's symlink target is untouched")
        ok(os.path.isfile(os.path.join(h.state_dir, "tp.state")) and
           not os.path.islink(os.path.join(h.state_dir, "tp.state")), "tp.state written as a plain file")
        for v in (v_node, v_ntmp, v_rtmp):
            ok(read(v) in ("precious\n", "%064x\n" % 7), "kademlia wrote nothing through %s"
               % os.path.basename(v))
        node_id = os.path.join(h.state_dir, "kad", "node_id")
        ok(not os.path.islink(node_id) and read(node_id).strip() == kad_id,
           "kademlia's node_id replaced by a plain file holding its id")
    finally:
        h.cleanup()


def control_path():
    h = Host("ctl")
    victim_text = "someone's file\n"
    with open(h.control, "w") as f:
        f.write(victim_text)
    try:
        rc, log = start_fails(h)
        ok(rc == 1 and "is a regular file, not a socket: refusing to replace it" in log,
           "a regular file at the control path is refused: %r" % log.strip()[-160:])
        ok(read(h.control) == victim_text, "and left as it was")
    finally:
        h.cleanup()


def state_dir_rules():
    for mode, who in ((0o777, "everyone"), (0o770, "its group")):
        h = Host("perm")
        os.makedirs(h.state_dir)
        os.chmod(h.state_dir, mode)
        try:
            rc, log = start_fails(h)
            ok(rc == 1 and "is writable by %s" % who in log and "host.state_dir" in log,
               "a state_dir writable by %s is refused: %r" % (who, log.strip()[-160:]))
        finally:
            h.cleanup()
    h = Host("owner")
    os.makedirs(h.state_dir, mode=0o700)
    os.chown(h.state_dir, 65534, 65534)
    try:
        rc, log = start_fails(h)
        ok(rc == 1 and "belongs to uid 65534" in log, "a state_dir of another user is refused: %r"
           % log.strip()[-160:])
    finally:
        h.cleanup()


def one_daemon():
    a = Host("first")
    a.start()
    b = Host("second", workdir=None)
    b.state_dir = a.state_dir
    b.write_config()
    try:
        copies = glob.glob(os.path.join(a.state_dir, ".plugins", "*"))
        rc, log = start_fails(b)
        ok(rc == 1 and "is in use by another maybep2pd (pid %d)" % a.proc.pid in log,
           "a second daemon on the same state_dir exits 1 naming the holder: %r" % log.strip()[-200:])
        ok(glob.glob(os.path.join(a.state_dir, ".plugins", "*")) == copies and copies,
           "the first daemon's plugin copies are still there")
        c = FrameConn(a.port)
        c.send("echo", "PING", b"x")
        ok(c.recv() == ("echo", "PONG", b"x"), "and the first daemon still serves")
        c.close()
        ok(a.stop() == 0, "the first stops cleanly")
        b.start()
        ok(True, "once it has stopped, another daemon may take the state_dir")
        ok(b.stop() == 0, "and stops cleanly")
    finally:
        a.cleanup()
        b.cleanup()


def plugin_files():
    fifo_dir = os.path.join(os.environ.get("TMPDIR", "/tmp"), "mp2p-fifo-%d" % os.getpid())
    os.makedirs(fifo_dir, exist_ok=True)
    fifo = os.path.join(fifo_dir, "echo.so")
    huge = os.path.join(fifo_dir, "huge.so")
    if not os.path.exists(fifo):
        os.mkfifo(fifo)
    with open(huge, "wb") as f:
        f.truncate(65 << 20)     # sparse: no disk used
    try:
        for path, why in ((fifo, "is a FIFO, not a plugin file"),
                          ("/dev/zero", "is a character device, not a plugin file"),
                          (huge, "more than the 64 MiB a plugin file may be")):
            h = Host("pf", plugins=[dict(name="echo", file=path)])
            try:
                t0 = time.time()
                rc, log = start_fails(h)
                ok(rc == 1 and why in log and path in log and time.time() - t0 < 15,
                   "plugin file %s refused at start: %r" % (path, log.strip()[-160:]))
            finally:
                h.cleanup()
        # On a reload: the running plugin keeps serving.
        h = Host("pfr")
        h.start()
        try:
            good = h.config_text()
            for path, why in ((fifo, "is a FIFO"), ("/dev/zero", "is a character device")):
                h.write_config(good.replace('file = "echo.so"', 'file = "%s"' % path))
                status, out, err = h.ctl_raw(["reload"])
                ok(status == 1 and why in err, "a reload naming %s fails with the reason: %r" % (path, err.strip()))
            c = FrameConn(h.port)
            c.send("echo", "PING", b"y")
            ok(c.recv() == ("echo", "PONG", b"y"), "the running plugin still serves")
            c.close()
            ok(h.stop() == 0, "the host stops cleanly")
        finally:
            h.cleanup()
    finally:
        for p in (fifo, huge):
            if os.path.exists(p):
                os.unlink(p)
        os.rmdir(fifo_dir)


def main():
    for t in (planted_links, control_path, state_dir_rules, one_daemon, plugin_files):
        try:
            t()
        except (AssertionError, RuntimeError, OSError, subprocess.SubprocessError) as e:
            ok(False, "%s: %s" % (t.__name__, e))
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
