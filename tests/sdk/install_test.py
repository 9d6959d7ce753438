#!/usr/bin/env python3
"""install_test.py -- what a plugin author gets from `make install` is
enough: install into a temporary root, copy the examples out of the
installed documentation, build each with its own Makefile through
pkg-config alone, load them in the installed maybep2pd and talk to them
over loopback; and every deployment config in etc/ passes `maybep2pd -t`.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import mp2ptest
from mp2ptest import Host, FrameConn, Check, builddir, srcdir
import mp2ptest  # noqa: E402
# host.security.mode = "plain": Python clients here speak plaintext frames to the host.
mp2ptest.Host.default_security = "plain"


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def sub_make_env():
    """The environment for a make started from inside `make check`: without
    the parent's jobserver and flags, which are not ours to share."""
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "DESTDIR"):
        env.pop(k, None)
    return env


def find(root, name, under=None):
    """The one path below root whose file name is `name` (and whose path
    contains `under`, if given)."""
    hits = []
    for d, _dirs, files in os.walk(root):
        if name in files and (under is None or under in os.path.join(d, name)):
            hits.append(os.path.join(d, name))
    return hits[0] if len(hits) == 1 else None


class Installed:
    """The layout of one installation below a DESTDIR."""

    def __init__(self, root):
        self.root = root
        self.maybep2pd = find(root, "maybep2pd", "/sbin/")
        self.maybep2pctl = find(root, "maybep2pctl", "/bin/")
        self.header = find(root, "plugin.h", "/include/maybep2p/")
        self.pc = find(root, "maybep2p-plugin.pc", "/pkgconfig/")
        echo = find(root, "echo.so")
        self.plugindir = os.path.dirname(echo) if echo else None
        self.guide = find(root, "README.md", "/doc/maybep2p/README.md")
        self.examples = os.path.join(os.path.dirname(self.guide), "examples") if self.guide else None
        self.conf = find(root, "maybep2p.conf", "/maybep2p/")
        # The two programs side by side, as mp2ptest expects them.
        self.programs = root.rstrip("/") + "-programs"
        os.makedirs(self.programs, exist_ok=True)
        for prog in (self.maybep2pd, self.maybep2pctl):
            link = os.path.join(self.programs, os.path.basename(prog or ""))
            if prog is not None and not os.path.lexists(link):
                os.symlink(prog, link)
        self.mans = [find(root, m) for m in ("maybep2pd.8", "maybep2pctl.8", "maybep2p.conf.5",
                                              "maybep2p-plugin.3")]

    def pkg_env(self):
        env = sub_make_env()
        env["PKG_CONFIG_PATH"] = os.path.dirname(self.pc)
        # The .pc file names the configured prefix; the sysroot maps it
        # below the DESTDIR, for the flags and the plugindir variable alike.
        env["PKG_CONFIG_SYSROOT_DIR"] = self.root
        env["CFLAGS"] = "-O2 -g -Wall -Wextra -Werror"
        return env


class InstalledHost(Host):
    """A Host that runs the installed programs and plugin directory."""

    def __init__(self, inst, **kw):
        self.inst = inst
        super().__init__(**kw)

    def config_text(self):
        return super().config_text().replace('plugin_dir = "%s";' % mp2ptest.plugin_dir(),
                                             'plugin_dir = "%s";' % self.inst.plugindir)

    def start(self, wait=True, env=None):
        return self._installed(super().start, wait, env)

    def ctl_raw(self, args, json_out=False):
        return self._installed(super().ctl_raw, args, json_out)

    def _installed(self, method, *args):
        # mp2ptest runs BUILDDIR/maybep2pd and BUILDDIR/maybep2pctl: point
        # it, for this call only, at links to the installed programs.
        saved = mp2ptest.builddir
        mp2ptest.builddir = self.inst.programs
        try:
            return method(*args)
        finally:
            mp2ptest.builddir = saved


def check_install(ok, inst):
    ok(inst.maybep2pd is not None and os.access(inst.maybep2pd, os.X_OK), "maybep2pd in sbin")
    ok(inst.maybep2pctl is not None and os.access(inst.maybep2pctl, os.X_OK), "maybep2pctl in bin")
    ok(inst.header is not None, "<maybep2p/plugin.h> in includedir")
    ok(inst.pc is not None, "maybep2p-plugin.pc in libdir/pkgconfig")
    ok(inst.plugindir is not None and inst.plugindir.endswith("/maybep2p"), "plugins in pkglibdir")
    ok(inst.conf is not None, "the example config in sysconfdir/maybep2p")
    ok(all(inst.mans), "man pages maybep2pd(8), maybep2pctl(8), maybep2p.conf(5), maybep2p-plugin(3)")
    ok(inst.guide is not None and os.path.isdir(os.path.join(inst.examples, "minimal")),
       "the author's guide and the examples in docdir")
    docdir = os.path.dirname(inst.guide) if inst.guide else ""
    docs = ["classicv1/PROTOCOL.md", "kademlia/PROTOCOL.md", "abi/README.md", "examples/transfer/transfer.c"]
    ok(all(os.path.exists(os.path.join(docdir, d)) for d in docs),
       "the protocols, the ABI rules and the transfer example in docdir: %s" % docs)
    ok(os.path.exists(os.path.join(os.path.dirname(inst.header), "util.h")), "<maybep2p/util.h> in includedir")
    if inst.mans and all(inst.mans):
        page = open([m for m in inst.mans if m.endswith("maybep2p-plugin.3")][0]).read()
        ok("DOCDIR/README.md" in page and "DOCDIR/abi/README.md" in page,
           "maybep2p-plugin(3) names the installed guide and ABI rules")
    return all([inst.maybep2pd, inst.maybep2pctl, inst.header, inst.pc, inst.plugindir, inst.guide])


def build_example(ok, inst, work, name, product):
    """Copies an installed example out and builds it with its own Makefile."""
    src = os.path.join(inst.examples, name)
    dst = os.path.join(work, name)
    shutil.copytree(src, dst)
    env = inst.pkg_env()
    r = run(["make", "-C", dst], env=env)
    if not ok(r.returncode == 0, "examples/%s builds with its own Makefile and pkg-config" % name):
        print(r.stdout)
        return False
    syms = run(["nm", "-D", "--defined-only", os.path.join(dst, product)]).stdout.split()
    ok(syms[-1:] == ["mp2p_plugin_v1"] and len(syms) == 3, "%s exports mp2p_plugin_v1 alone" % product)
    r = run(["make", "-C", dst, "install"], env=env)
    ok(r.returncode == 0 and os.path.exists(os.path.join(inst.plugindir, product)),
       "make install puts %s in the plugin directory pkg-config names" % product)
    return True


def check_one_line_build(ok, inst, work):
    """The guide's promise: one cc line, flags from pkg-config."""
    env = inst.pkg_env()
    flags = run(["pkg-config", "--cflags", "maybep2p-plugin"], env=env).stdout.split()
    out = os.path.join(work, "oneline.so")
    r = run([os.environ.get("CC", "cc")] + flags + ["-shared", "-o", out,
            os.path.join(inst.examples, "minimal", "greet.c")], env=env)
    ok(r.returncode == 0 and os.path.exists(out), "cc $(pkg-config --cflags maybep2p-plugin) -shared: %s"
       % " ".join(flags))


def check_greet(ok, inst):
    h = InstalledHost(inst, name="inst", plugins=[
        dict(name="greet", file="greet.so", config='greeting = "good morning";'),
        dict(name="echo", file="echo.so")])
    try:
        r = run([inst.maybep2pd, "-t", "-c", h.config_path])
        ok(r.returncode == 0, "installed maybep2pd -t accepts the config: %s" % r.stdout.strip())
        h.start()
        c = FrameConn(h.port)
        c.send("greet", "HELO", b"ann")
        ok(c.recv() == ("greet", "HELO", b"good morning, ann"), "greet answers HELO over loopback")
        c.send("greet", "HELO", b"x" * 65)
        c.send("echo", "PING", b"after")
        ok(c.recv() == ("echo", "PONG", b"after"),
           "an oversize name is dropped, and the installed echo plugin answers on the same listener")
        c.close()
        ok(h.ctl("greet", "greeted").get("greeted") == 1, "maybep2pctl greet greeted")
        status, out, err = h.ctl_raw(["greet", "nonsense"])
        ok(status == 2 and "usage: greeted" in out + err, "an unknown command is a usage error")
        rows = h.ctl("plugins")["rows"]
        ok(any(p["name"] == "greet" and p["file"].startswith(inst.plugindir) for p in rows),
           "loaded from the installed plugin directory")
        ok(h.stop() == 0, "the installed host stops cleanly")
    finally:
        h.cleanup()


def check_chat(ok, inst):
    a = InstalledHost(inst, name="node-a", plugins=[])
    b = InstalledHost(inst, name="node-b", plugins=[])
    a.plugins = [dict(name="cv1", file="classicv1.so", config='bootstrap = [ "%s" ];' % b.addr),
                 dict(name="chat", file="chat.so", config='nick = "ann";')]
    b.plugins = [dict(name="cv1", file="classicv1.so"),
                 dict(name="chat", file="chat.so", config='nick = "bob"; history = 5;')]
    try:
        a.write_config()
        b.write_config()
        b.start()
        a.start()
        deadline = time.time() + 15
        while time.time() < deadline:
            if a.ctl("cv1", "peers").get("count", 0) >= 1 and b.ctl("cv1", "peers").get("count", 0) >= 1:
                break
            time.sleep(0.1)
        ok(a.ctl("cv1", "peers").get("count") == 1 and b.ctl("cv1", "peers").get("count") == 1,
           "two installed hosts joined over classicv1")

        listener = FrameConn(b.port)
        listener.send("chat", "LSTN")
        ok(listener.recv() == ("chat", "OKAY", b""), "a chat client on B listens")
        said = a.ctl("chat", "say", "hello", "there")
        ok(re.fullmatch(r"[0-9a-f]{16}", said.get("id", "")) is not None,
           "chat on A says a line through the classicv1 service: %s" % said)
        line = listener.recv(10.0)
        ok(line is not None and line[1] == "LINE" and line[2].endswith(b"\tann: hello there"),
           "the line reaches B's client through the classicv1.message topic: %r" % (line,))
        hist = b.ctl("chat", "history")
        ok(hist.get("count") == 1 and hist["rows"][0]["text"] == "ann: hello there",
           "and B's history: %s" % hist)

        sayer = FrameConn(b.port)
        sayer.send("chat", "SAYS", b"hi back")
        reply = sayer.recv()
        ok(reply is not None and reply[1] == "OKAY" and len(reply[2]) == 16, "a client on B says a line")
        deadline = time.time() + 10
        texts = []
        while time.time() < deadline:
            texts = [r["text"] for r in a.ctl("chat", "history").get("rows", [])]
            if "bob: hi back" in texts:
                break
            time.sleep(0.1)
        ok("bob: hi back" in texts, "A hears it: %s" % texts)
        sayer.send("chat", "SAYS", b"bad\x01byte")
        ok(sayer.recv() == ("chat", "FAIL", b"a line is printable ASCII"), "a bad line is refused")
        sayer.close()
        listener.close()
        deadline = time.time() + 5
        while time.time() < deadline and b.ctl("chat", "listeners").get("listeners") != 0:
            time.sleep(0.1)
        ok(b.ctl("chat", "listeners").get("listeners") == 0, "a closed listener is forgotten")
        ok(a.stop() == 0 and b.stop() == 0, "both hosts stop cleanly")
    finally:
        a.cleanup()
        b.cleanup()


def check_names(ok, inst):
    kad = "request_timeout = 1.0; "
    b = InstalledHost(inst, name="node-b", plugins=[dict(name="dht", file="kademlia.so", config=kad),
                                                     dict(name="names", file="names.so")])
    a = InstalledHost(inst, name="node-a", plugins=[
        dict(name="dht", file="kademlia.so", config=kad + 'bootstrap = [ "%s" ];' % b.addr),
        dict(name="names", file="names.so", config="ttl = 600;")])
    try:
        b.start()
        a.start()
        deadline = time.time() + 15
        while time.time() < deadline and (a.ctl("dht", "routes").get("nodes", 0) < 1 or
                                          b.ctl("dht", "routes").get("nodes", 0) < 1):
            time.sleep(0.1)
        ok(a.ctl("dht", "routes").get("nodes") == 1 and b.ctl("dht", "routes").get("nodes") == 1,
           "two installed hosts know each other over kademlia")
        r = a.ctl("names", "register", "alice", "127.0.0.20:25565")
        ok(r.get("stored", 0) >= 1, "names on A registers through the kademlia service: %s" % r)
        # Values are signed by the host that put them: B names A's by A's key.
        r = b.ctl("names", "lookup", "%s/alice" % a.ctl("dht", "routes")["writer"])
        ok(r.get("addr") == "127.0.0.20:25565", "names on B looks it up (a deferred reply): %s" % r)
        status, out, err = b.ctl_raw(["names", "lookup", "bob"])
        ok(status == 1 and "bob: not registered" in out + err, "an unknown name fails: %s" % (out + err).strip())
        c = FrameConn(a.port)
        c.send("names", "RSLV", b"alice")
        ok(c.recv(10.0) == ("names", "ADDR", b"127.0.0.20:25565"), "a client resolves over loopback")
        c.send("names", "RSLV", b"carol")
        ok(c.recv(10.0) == ("names", "NONE", b"carol"), "and hears NONE for an unknown name")
        c.close()
        ok(a.ctl("names", "pending").get("pending") == 0 and b.ctl("names", "pending").get("pending") == 0,
           "no request left in flight")
        ok(a.stop() == 0 and b.stop() == 0, "both hosts stop cleanly")
    finally:
        a.cleanup()
        b.cleanup()


def check_transfer(ok, inst, work):
    """The bulk example between two installed hosts whose output limit is
    small, so the sender is held back and resumed by on_drain hundreds of
    times; the file arrives whole and the hashes agree."""
    import hashlib
    limits = "limits: { max_frame = 16384; max_output = 65536; };"
    inbox = os.path.join(work, "inbox")
    os.makedirs(inbox)
    a = InstalledHost(inst, name="xfer-a", host_settings=limits,
                      plugins=[dict(name="xfer", file="transfer.so", config="chunk = 16384;")])
    b = InstalledHost(inst, name="xfer-b", host_settings=limits,
                      plugins=[dict(name="xfer", file="transfer.so", config='dir = "%s";' % inbox)])
    src = os.path.join(work, "payload.bin")
    data = os.urandom(6 * 1024 * 1024 + 12345)
    with open(src, "wb") as f:
        f.write(data)
    try:
        b.start()
        a.start()
        r = a.ctl("xfer", "send", b.addr, src, "copy.bin")
        want = hashlib.sha256(data).hexdigest()
        ok(r.get("bytes") == len(data) and r.get("sha256") == want,
           "transfer sends %d bytes through a 64 KiB output limit, SHA-256 agreed: %s" % (len(data), r))
        out = os.path.join(inbox, "copy.bin")
        got = open(out, "rb").read() if os.path.exists(out) else b""
        ok(got == data and not os.path.exists(out + ".part"), "the receiver kept the file whole")
        drains = [r["value"] for r in a.ctl("stats").get("rows", [])
                  if r.get("plugin") == "xfer" and r.get("counter") == "drains"]
        ok(drains and drains[0] >= len(data) // 65536,
           "the sender waited for on_drain at least once per 64 KiB: %s" % drains)
        status, out_text, err = a.ctl_raw(["xfer", "send", b.addr, src, "../escape"])
        ok(status == 2, "a name with a slash is refused before anything is sent")
        status, out_text, err = a.ctl_raw(["xfer", "send", b.addr, os.path.join(work, "nonexistent")])
        ok(status == 1 and "No such file" in out_text + err, "a missing file fails: %s" % (out_text + err).strip())
        ok(a.stop() == 0 and b.stop() == 0, "both hosts stop cleanly")
    finally:
        a.cleanup()
        b.cleanup()


def check_etc(ok, inst, work):
    """Each deployment config in etc/ passes -t with the installed host,
    its state and control paths moved into the test's directory."""
    etc = os.path.join(srcdir, "etc")
    confs = sorted(f for f in os.listdir(etc) if f.endswith(".conf"))
    deployments = ["lan-classicv1.conf", "dht-node.conf", "both-protocols.conf", "third-party.conf"]
    ok(all(d in confs for d in deployments), "etc/ has a config per typical deployment: %s" % confs)
    have = set(os.listdir(inst.plugindir))
    for name in confs:
        with open(os.path.join(etc, name)) as f:
            text = f.read()
        files = set(re.findall(r'file\s*=\s*"([^"]+)"', text))
        missing = sorted(x for x in files if os.path.basename(x) not in have)
        if missing:
            print("skip - etc/%s: this build has no %s" % (name, ", ".join(missing)))
            continue
        d = os.path.join(work, "etc-" + name)
        os.makedirs(d)
        text = re.sub(r'state_dir\s*=\s*"[^"]*"', 'state_dir = "%s/state"' % d, text)
        text = re.sub(r'control\s*=\s*"[^"]*"', 'control = "%s/control.sock"' % d, text)
        text = re.sub(r'plugin_dir\s*=\s*"[^"]*"\s*;', "", text)
        text = re.sub(r"host\s*:\s*\{", 'host: {\n  plugin_dir = "%s";' % inst.plugindir, text, count=1)
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(text)
        r = run([inst.maybep2pd, "-t", "-c", path])
        # Every plugin must load, the optional ones too.
        n = len(re.findall(r'\bfile\s*=\s*"', text))
        ok(r.returncode == 0 and "configuration ok, %d plugin%s loaded" % (n, "" if n == 1 else "s") in r.stdout,
           "etc/%s passes maybep2pd -t: %s" % (name, r.stdout.strip()))


def main():
    ok = Check("install_test")
    tmp = tempfile.mkdtemp(prefix="mp2p-install-")
    try:
        root = os.path.join(tmp, "root")
        make = os.environ.get("MAKE", "make")
        r = run([make, "-C", builddir, "install", "DESTDIR=" + root], env=sub_make_env())
        if not ok(r.returncode == 0, "make install DESTDIR=..."):
            print(r.stdout[-4000:])
            return ok.done()
        inst = Installed(root)
        if not check_install(ok, inst):
            return ok.done()
        work = os.path.join(tmp, "work")
        os.makedirs(work)
        check_one_line_build(ok, inst, work)
        if build_example(ok, inst, work, "minimal", "greet.so"):
            check_greet(ok, inst)
        if not os.path.exists(os.path.join(inst.plugindir, "classicv1.so")):
            print("skip - examples/chat: this build has no classicv1 plugin")
        elif build_example(ok, inst, work, "chat", "chat.so"):
            check_chat(ok, inst)
        if not os.path.exists(os.path.join(inst.plugindir, "kademlia.so")):
            print("skip - examples/names: this build has no kademlia plugin")
        elif build_example(ok, inst, work, "names", "names.so"):
            check_names(ok, inst)
        if subprocess.run(["pkg-config", "--exists", "libcrypto"]).returncode != 0:
            print("skip - examples/transfer: libcrypto's development files are not installed")
        elif build_example(ok, inst, work, "transfer", "transfer.so"):
            check_transfer(ok, inst, work)
        check_etc(ok, inst, work)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
