#!/usr/bin/env python3
"""oldabi_test.py -- a plugin built against the 1.0 headers, kept in the
tree as source (tests/abi/include-1.0), still loads and works in the current
host: frames, timers, dialling, services, topics, watches, control replies,
config and state across a restart."""
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile

from mp2ptest import Host, FrameConn, Check, free_port, builddir, srcdir
# host.security.mode = "plain": Python clients here speak plaintext frames to the host.
Host.default_security = "plain"

HERE = os.path.join(srcdir, "tests", "abi")
# The SHA-256 of plugin.h as ABI 1.0 shipped it (the header the committed
# 1.0 baseline of sdk/abi was made from). The copy here must stay that file,
# byte for byte: it stands for plugins built back then.
SHIPPED_1_0 = "ab4b00213eb699f73249fc87d71c3d347e2de62ddf91dfacadf426c8010810ca"


def build_old_plugin(out_dir):
    """Compiles old_plugin.c against the 1.0 headers only. No sanitizer
    flags: a plain plugin must load into any host build."""
    so = os.path.join(out_dir, "abi10.so")
    cc = os.environ.get("CC", "cc").split()
    cmd = cc + ["-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter",
                "-fPIC", "-fvisibility=hidden", "-shared",
                "-I", os.path.join(HERE, "include-1.0"), "-o", so, os.path.join(HERE, "old_plugin.c")]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(" ".join(cmd))
        print(r.stdout + r.stderr)
        return None
    return so


def read_frame(sock):
    buf = b""
    while len(buf) < 20:
        d = sock.recv(20 - len(buf))
        if not d:
            return None
        buf += d
    n = struct.unpack("!I", buf[16:20])[0]
    payload = b""
    while len(payload) < n:
        d = sock.recv(n - len(payload))
        if not d:
            return None
        payload += d
    return buf[:12].rstrip(b"\0").decode(), buf[12:16].decode(), payload


def main():
    ok = Check("oldabi_test")
    tmp = tempfile.mkdtemp(prefix="mp2p-oldabi-")
    host = None
    try:
        import hashlib
        with open(os.path.join(HERE, "include-1.0", "maybep2p", "plugin.h"), "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        ok(digest == SHIPPED_1_0, "include-1.0/maybep2p/plugin.h is the 1.0 header as shipped (%s)" % digest)
        so = build_old_plugin(tmp)
        if not ok(so is not None, "old_plugin.c builds against the 1.0 headers"):
            return ok.done()
        symbols = subprocess.run(["nm", "-D", "--defined-only", so], capture_output=True, text=True).stdout
        ok([l.split()[-1] for l in symbols.splitlines() if l.strip()] == ["mp2p_plugin_v1"],
           "it exports mp2p_plugin_v1 alone")

        settings = 'number = 7; ratio = 0.5; flag = true; word = "w"; list = [ "a", "b" ];'
        host = Host(name="old", plugins=[dict(name="old", file=so, config=settings)])
        r = subprocess.run([os.path.join(builddir, "maybep2pd"), "-t", "-c", host.config_path],
                           capture_output=True, text=True)
        ok(r.returncode == 0, "maybep2pd -t accepts it (%s)" % (r.stdout + r.stderr).strip())
        host.start()

        plugins = host.ctl("plugins")["rows"]
        row = [p for p in plugins if p["name"] == "old"]
        ok(len(row) == 1 and row[0]["abi"] == "1.0" and row[0]["state"] == "running"
           and row[0]["protocols"] == "abi10", "the host runs it as an ABI 1.0 plugin: %s" % row)

        c = FrameConn(host.port)
        for i in range(3):
            c.send("abi10", "PING", b"abc%d" % i)
            ok(c.recv() == ("abi10", "PONG", b"abc%d" % i), "PING %d answered by PONG" % i)

        c.send("abi10", "INFO")
        proto, mtype, payload = c.recv()
        fields = payload.decode().split("|")
        local = "%s:%d" % c.sock.getsockname()
        ok(fields == ["old", "old", host.addr, local, "old", "in"],
           "instance name, host id, advertise, conn_info and state_dir: %s" % fields)

        c.send("abi10", "TICK")
        ok(c.recv(3.0) == ("abi10", "TOCK", b"once"), "a one-shot timer fires")
        c.send("abi10", "TICK", b"repeat")
        ok([c.recv(3.0) for _ in range(3)] == [("abi10", "TOCK", b"repeat")] * 3,
           "a repeating timer fires three times")
        try:
            extra = c.recv(0.4)
        except TimeoutError:
            extra = None
        ok(extra is None, "and stops when told: %r" % (extra,))

        lst = socket.socket()
        lst.bind(("127.0.0.1", 0))
        lst.listen(1)
        lst.settimeout(5.0)
        target = "127.0.0.1:%d" % lst.getsockname()[1]
        c.send("abi10", "DIAL", target)
        ok(c.recv() == ("abi10", "DIAL", b"queued"), "send_to queues a frame to a new address")
        peer, _ = lst.accept()
        peer.settimeout(5.0)
        ok(read_frame(peer) == ("abi10", "HELO", b"from abi10"), "the dialled peer receives it")
        ok(c.recv() == ("abi10", "OPEN", target.encode()), "on_conn reports the connection opened")
        peer.close()
        lst.close()

        c.send("abi10", "SERV")
        ok(c.recv() == ("abi10", "SERV", b"5"), "service_offer and service_find")
        c.send("abi10", "PUBL", b"hi")
        ok(c.recv() == ("abi10", "PUBL", b"1:hi"), "subscribe and publish")
        c.send("abi10", "RAND")
        r1 = c.recv()
        c.send("abi10", "RAND")
        r2 = c.recv()
        ok(r1[1] == "RAND" and len(r1[2]) == 16 and len(r2[2]) == 16 and r1[2] != r2[2], "random_bytes")
        c.send("abi10", "WTCH")
        ok(c.recv() == ("abi10", "WTCH", b"ready"), "watch_new reports a readable pipe")

        s = host.ctl("old", "settings")
        ok((s.get("number"), s.get("ratio"), s.get("flag"), s.get("word"), s.get("list")) ==
           (7, 0.5, 1, "w", "a,b"), "config getters and lists: %s" % s)
        p = host.ctl("old", "pings")
        ok(p.get("pings") == 3 and p.get("restored") == 0, "counter: %s" % p)
        rows = host.ctl("old", "conns").get("rows", [])
        ok(any(r["peer"] == local for r in rows), "a control reply with rows: %s" % rows)
        stats = host.ctl("stats").get("rows", [])
        ok({"plugin": "old", "counter": "pings", "value": 3} in stats, "the counter shows in stats")
        status, out, err = host.ctl_raw(["old", "fail", "x"])
        ok(status == 1 and "failed on purpose with 1 argument" in out + err, "reply_error exits 1")
        status, out, err = host.ctl_raw(["old", "nonsense"])
        ok(status == 2, "reply_usage exits 2")

        c.send("abi10", "CLOS")
        ok(c.recv() == ("abi10", "BYE!", b""), "the last frame is flushed")
        ok(c.closed_by_peer(), "before conn_close closes the connection")
        c.close()

        ok(host.stop() == 0, "SIGTERM stops the host cleanly")
        ok("stopping (reason 1) after 3 pings" in host.log_text(), "stop() is told the reason")
        host.start()
        p = host.ctl("old", "pings")
        ok(p.get("restored") == 3, "save_state and restore_state across a restart: %s" % p)
        c = FrameConn(host.port)
        c.send("abi10", "PING", b"again")
        ok(c.recv() == ("abi10", "PONG", b"again"), "and it still answers")
        c.close()
        ok(host.stop() == 0, "stops cleanly again")

        bad = Host(name="old-bad", plugins=[dict(name="old", file=so, config="number = -1;")])
        r = subprocess.run([os.path.join(builddir, "maybep2pd"), "-t", "-c", bad.config_path],
                           capture_output=True, text=True)
        ok(r.returncode == 1 and "%s:" % bad.config_path in r.stdout and "must not be negative" in r.stdout,
           "config_error reaches the operator with file and line: %s" % r.stdout.strip())
        bad.cleanup()
    finally:
        if host is not None:
            host.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
