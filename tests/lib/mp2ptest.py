"""mp2ptest.py -- real maybep2pd processes on loopback, for the daemon-level
tests: a Host writes its own config in a private directory, starts the
daemon, talks to it through maybep2pctl, and is always cleaned up."""

import atexit
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time

builddir = os.environ.get("top_builddir") or os.getcwd()
srcdir = os.environ.get("top_srcdir") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_live = []


def _built_with_sanitizers():
    try:
        with open(os.path.join(builddir, "Makefile")) as f:
            return "-fsanitize=" in f.read()
    except OSError:
        return False


# How much slower than on an idle machine a host may be here. Every wait
# in these helpers is a deadline for something that must happen, so a
# longer one costs time only when a test fails anyway: twice the idle
# figure for a machine shared with builds (load 15-50 has been seen), and
# more under the sanitizers and valgrind, which slow every step.
# MP2P_SLOWDOWN overrides the factor.
SLOWDOWN = float(os.environ.get("MP2P_SLOWDOWN") or
                 (8 if os.environ.get("MP2P_VALGRIND") else 4 if _built_with_sanitizers() else 2))
# Start-up of one host, the one wait every test makes: OpenSSL's start-up
# alone takes seconds under valgrind, and a plain host on a loaded machine
# has taken over 10 s. A host that exits is reported at once all the same.
READY_TIMEOUT = 30.0 * SLOWDOWN


def patience(seconds):
    """A deadline of `seconds` on an idle machine, scaled by SLOWDOWN."""
    return seconds * SLOWDOWN


def wait_until(pred, timeout=10.0, what="condition", step=0.1):
    """Polls pred() until it returns something true and returns that;
    raises AssertionError after patience(timeout) s. An exception from
    pred (a host busy starting, a ctl timing out) counts as not yet."""
    deadline = time.time() + patience(timeout)
    last_error = None
    while time.time() < deadline:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:
            last_error = e
        time.sleep(step)
    raise AssertionError("timed out after %.1f s waiting for %s%s" % (
        patience(timeout), what, " (last error: %s)" % last_error if last_error else ""))


def poll(fn, until, timeout=10.0, step=0.1):
    """Calls fn() until until(value) holds or patience(timeout) s pass, and
    returns the last value, for the caller to check."""
    deadline = time.time() + patience(timeout)
    while True:
        v = fn()
        if until(v) or time.time() > deadline:
            return v
        time.sleep(step)


def wait_for(fn, timeout=10.0, step=0.1):
    """Polls fn() until it returns something true and returns that, or
    fn()'s last value after patience(timeout) s, for the caller to check."""
    return poll(fn, bool, timeout, step)


def received_chunks(c, size=65536):
    """Yields what arrives on socket c until the peer closes it or the
    socket fails (a reset, or closed under us by the test's cleanup)."""
    while True:
        try:
            data = c.recv(size)
        except OSError:
            return
        if not data:
            return
        yield data


class Listener(threading.Thread):
    """A TCP listener of a test's own on ip, in a thread, started at once.
    Each connection it accepts is counted in .accepted and handed to
    on_accept(), which by default holds it and says nothing (a tarpit).
    A subclass sets its own attributes before calling this __init__."""

    def __init__(self, ip="127.0.0.1", backlog=1024):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        self.addr = "%s:%d" % (ip, self.port)
        self.accepted = 0
        self.held = []
        self.start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.on_accept(c)

    def on_accept(self, c):
        self.held.append(c)

    def close(self):
        """The listener and every connection it holds close."""
        self.sock.close()
        for c in self.held:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()


def stop_all(check, hosts):
    """Stops each host with SIGTERM; one check per host that it exits 0."""
    for h in hosts:
        check(h.stop() == 0, "%s exits 0" % h.name)


def _cleanup():
    for h in list(_live):
        h.kill()


atexit.register(_cleanup)
for _sig in (signal.SIGTERM, signal.SIGINT):
    signal.signal(_sig, lambda s, f: (_cleanup(), os._exit(128 + s)))


_ip_base = __import__("random").randrange(16, 200)
_ip_next = [0]


def spread_ip(i):
    """The i-th loopback address of this test run, each in its own /24
    (127.X.Y.1): hosts and peers of a test get one each, as on a real
    network, so limits by address see many machines, not one."""
    return "127.%d.%d.1" % (_ip_base + i // 250, i % 250 + 1)


def next_ip():
    """A loopback address no other host or peer of this run has."""
    ip = spread_ip(_ip_next[0])
    _ip_next[0] += 1
    return ip


def free_port(host="127.0.0.1"):
    """A port nobody listens on now (the kernel's choice for port 0)."""
    s = socket.socket()
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sim_built(*plugin):
    """True when maybep2psim and the plugin file under the build tree
    (`plugin`, as path parts) are built; otherwise says which test is
    skipped, for the caller to exit 77."""
    if os.path.exists(os.path.join(builddir, "maybep2psim")) and os.path.exists(
            os.path.join(builddir, *plugin)):
        return True
    print("maybep2psim or %s not built: skipped" % plugin[-1])
    return False


def plugin_dir():
    """Where the build tree keeps every plugin .so, as one directory."""
    d = os.path.join(builddir, "tests", ".plugin-dir")
    os.makedirs(d, exist_ok=True)
    for top in ("plugins", "tests"):
        for root, _dirs, files in os.walk(os.path.join(builddir, top)):
            if not root.endswith(".libs"):
                continue
            for f in files:
                if not f.endswith(".so"):
                    continue
                src = os.path.join(root, f)
                dst = os.path.join(d, f)
                # Tests run in parallel: whoever links first wins, and the
                # link is the same for everyone.
                try:
                    os.symlink(src, dst)
                except FileExistsError:
                    pass
    return d


def frame(protocol, mtype, payload=b""):
    if isinstance(payload, str):
        payload = payload.encode()
    return protocol.encode().ljust(12, b"\0") + mtype.encode() + struct.pack("!I", len(payload)) + payload


class FrameConn:
    """One TCP connection speaking frames."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0, source=None):
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.buf = b""

    def send(self, protocol, mtype, payload=b""):
        self.sock.sendall(frame(protocol, mtype, payload))

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv(self, timeout=5.0):
        """The next frame as (protocol, type, payload); None if the peer closed."""
        self.sock.settimeout(timeout)
        deadline = time.time() + timeout
        while True:
            if len(self.buf) >= 20:
                n = struct.unpack("!I", self.buf[16:20])[0]
                if len(self.buf) >= 20 + n:
                    proto = self.buf[:12].rstrip(b"\0").decode()
                    mtype = self.buf[12:16].decode()
                    payload = self.buf[20:20 + n]
                    self.buf = self.buf[20 + n:]
                    return proto, mtype, payload
            if time.time() > deadline:
                raise TimeoutError("no frame within %.1f s" % timeout)
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data

    def closed_by_peer(self, timeout=5.0):
        """True if the peer closes (or resets) the connection within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


# An Ed25519 public key inside a certificate: the SubjectPublicKeyInfo
# header, then the 32 key bytes.
_ED25519_SPKI = bytes.fromhex("302a300506032b6570032100")


def peer_id_of_der(der):
    """The peer id (SHA-256 of the raw Ed25519 key) a DER certificate carries."""
    i = der.find(_ED25519_SPKI)
    if i < 0:
        raise ValueError("no Ed25519 key in the certificate")
    raw = der[i + len(_ED25519_SPKI):i + len(_ED25519_SPKI) + 32]
    return hashlib.sha256(raw).hexdigest()


class Identity:
    """An Ed25519 key and a self-signed certificate made with the openssl
    tool, so a Python client can be a TLS peer with a peer id of its own."""

    def __init__(self, directory, name="client"):
        self.key = os.path.join(directory, name + ".key")
        self.cert = os.path.join(directory, name + ".crt")
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", self.key],
                       check=True, capture_output=True)
        subprocess.run(["openssl", "req", "-new", "-x509", "-key", self.key, "-subj", "/CN=" + name,
                        "-days", "2", "-out", self.cert], check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", self.cert, "-outform", "DER"],
                             check=True, capture_output=True).stdout
        self.peer_id = peer_id_of_der(der)

    def client_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE      # the peer id is checked by the caller
        ctx.load_cert_chain(self.cert, self.key)
        return ctx

    def server_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.verify_mode = ssl.CERT_NONE      # asks the dialler for no key
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


class TLSFrameConn(FrameConn):
    """A FrameConn over TLS 1.3 with a client key; .peer_id is the host's."""

    def __init__(self, port, identity, host="127.0.0.1", timeout=5.0):
        raw = socket.create_connection((host, port), timeout=timeout)
        self.sock = identity.client_context().wrap_socket(raw)
        self.buf = b""
        self.peer_id = peer_id_of_der(self.sock.getpeercert(binary_form=True))

    def closed_by_peer(self, timeout=5.0):
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            return True
        except socket.timeout:
            return False


class CtlError(Exception):
    def __init__(self, status, stdout, stderr):
        super().__init__("maybep2pctl exited %d: %s%s" % (status, stdout, stderr))
        self.status, self.stdout, self.stderr = status, stdout, stderr


class Host:
    """One maybep2pd process with its own config, state and control socket.

    `security` is host.security.mode; None writes no security group, so the
    host runs the default ("tls"). A test file whose Python clients speak
    plaintext frames sets Host.default_security = "plain" and says why."""

    default_security = None

    def __init__(self, name="node", plugins=None, listen_port=None, host_settings="",
                 log_level="debug", workdir=None, plugin_dir=None, ip="127.0.0.1",
                 security="default", allow=None):
        self.name = name
        self.dir = workdir or tempfile.mkdtemp(prefix="mp2p-%s-" % name)
        # Any address of 127.0.0.0/8 is loopback on Linux: hosts of one
        # test may each take their own, as on a real network.
        self.ip = ip
        self.port = listen_port or free_port(ip)
        self.addr = "%s:%d" % (ip, self.port)
        self.plugins = plugins if plugins is not None else [dict(name="echo", file="echo.so")]
        self.host_settings = host_settings
        self.log_level = log_level
        self.config_path = os.path.join(self.dir, "maybep2p.conf")
        self.control = os.path.join(self.dir, "control.sock")
        self.state_dir = os.path.join(self.dir, "state")
        self.log_path = os.path.join(self.dir, "host.log")
        self.plugin_dir = plugin_dir
        self.security = Host.default_security if security == "default" else security
        self.allow = allow
        self.proc = None
        self.write_config()

    def config_text(self):
        parts = []
        for p in self.plugins:
            parts.append('  { name = "%s"; file = "%s"; required = %s; config: { %s }; }' % (
                p["name"], p["file"], "true" if p.get("required", True) else "false", p.get("config", "")))
        sec = []
        if self.security is not None:
            sec.append('mode = "%s";' % self.security)
        if self.allow is not None:
            sec.append("allow = [ %s ];" % ", ".join('"%s"' % a for a in self.allow))
        settings = self.host_settings
        if sec:
            settings += "\n  security: { %s };" % " ".join(sec)
        return """host: {
  id = "%s";
  listen = [ "%s" ];
  state_dir = "%s";
  control = "%s";
  plugin_dir = "%s";
  log_level = "%s";
  %s
};
plugins = (
%s
);
""" % (self.name, self.addr, self.state_dir, self.control, self.plugin_dir or plugin_dir(), self.log_level,
       settings, ",\n".join(parts))

    def write_config(self, text=None):
        with open(self.config_path, "w") as f:
            f.write(text if text is not None else self.config_text())

    def start(self, wait=True, env=None):
        self.logf = open(self.log_path, "ab")
        self.log_offset = len(self.log_text())   # this run's lines start here
        cmd = [os.path.join(builddir, "maybep2pd"), "-c", self.config_path]
        if os.environ.get("MP2P_VALGRIND"):
            # Definite leaks fail the run. A reload's forked probe process
            # exits holding the daemon's whole heap, which valgrind then
            # calls "possibly lost" in the child: that is not a leak.
            cmd = ["valgrind", "--error-exitcode=99", "--leak-check=full", "-q",
                   "--errors-for-leak-kinds=definite"] + cmd
        self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=self.logf, env=env)
        _live.append(self)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=None):
        """Until the host logs that it runs (READY_TIMEOUT at most). A
        host that exits meanwhile is reported at once, with its log."""
        deadline = time.time() + (timeout or READY_TIMEOUT)
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %d:\n%s" % (self.name, self.proc.returncode, self.log_text()))
            if "running; advertising" in self.log_text()[self.log_offset:]:
                return
            time.sleep(0.02)
        raise RuntimeError("%s did not start in %.0f s:\n%s" % (
            self.name, timeout or READY_TIMEOUT, self.log_text()))

    def peer_id(self):
        """This host's peer id, read from the start-up log line."""
        return re.search(r"peer id ([0-9a-f]{64})", self.log_text()).group(1)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=10.0):
        """The first match of pattern in the log, waiting up to
        patience(timeout) s for it."""
        timeout = patience(timeout)
        deadline = time.time() + timeout
        rx = re.compile(pattern)
        while time.time() < deadline:
            m = rx.search(self.log_text())
            if m:
                return m
            time.sleep(0.05)
        raise AssertionError("%s: no log line matching %r in %.1f s:\n%s" % (
            self.name, pattern, timeout, self.log_text()[-3000:]))

    def ctl_raw(self, args, json_out=False):
        cmd = [os.path.join(builddir, "maybep2pctl"), "-s", self.control]
        if json_out:
            cmd.append("--json")
        r = subprocess.run(cmd + list(args), capture_output=True, text=True,
                           timeout=patience(30))
        return r.returncode, r.stdout, r.stderr

    def ctl(self, *args):
        status, out, err = self.ctl_raw(args, json_out=True)
        if status != 0:
            raise CtlError(status, out, err)
        return json.loads(out)

    def stop(self, timeout=20.0):
        """SIGTERM; the daemon must exit 0 (within patience(timeout) s)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(patience(timeout))
        finally:
            if self in _live:
                _live.remove(self)
        self.logf.close()
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self in _live:
            _live.remove(self)

    def restart(self):
        self.stop()
        return self.start()

    def cleanup(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class Check:
    """Counts assertions and prints one closing line: 'N passed, N failed'."""

    def __init__(self, name):
        self.name, self.passed, self.failed = name, 0, 0

    def __call__(self, cond, what):
        if cond:
            self.passed += 1
            print("ok   - %s" % what, flush=True)
        else:
            self.failed += 1
            print("FAIL - %s" % what, flush=True)
        return cond

    def done(self):
        print("%s: %d passed, %d failed" % (self.name, self.passed, self.failed))
        return 1 if self.failed else 0
