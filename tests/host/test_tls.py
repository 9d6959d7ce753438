#!/usr/bin/env python3
"""test_tls.py -- TLS 1.3 between hosts and peer ids: two hosts exchange
frames over TLS and each sees the other's peer id; `openssl s_client` sees
TLS 1.3 and an Ed25519 certificate; a plaintext client of a "tls" host is
refused with one log line; `allow` refuses strangers in and out; a man in
the middle with its own key is refused when the dial named the expected
peer id; mode "mixed" serves TLS and plaintext clients on one listener."""
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mp2ptest import Check, FrameConn, Host, Identity, TLSFrameConn, free_port, wait_for  # noqa: E402

TP = dict(name="tp", file="tp_good.so", config="answer = 7;")
ECHO = dict(name="echo", file="echo.so")


class Relay:
    """A man in the middle: terminates TLS with its own key, and dials the
    real host with that same key, passing bytes both ways."""

    def __init__(self, identity, target_port):
        self.identity = identity
        self.target_port = target_port
        self.port = free_port()
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", self.port))
        self.lsock.listen(8)
        self.bytes_from_dialler = 0
        self.handshakes_failed = 0
        self.stopping = False
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        ctx = self.identity.server_context()
        while not self.stopping:
            try:
                raw, _ = self.lsock.accept()
            except OSError:
                return
            try:
                raw.settimeout(5)
                left = ctx.wrap_socket(raw, server_side=True)
                right = self.identity.client_context().wrap_socket(
                    socket.create_connection(("127.0.0.1", self.target_port), timeout=5))
            except (ssl.SSLError, OSError):
                self.handshakes_failed += 1
                raw.close()
                continue
            threading.Thread(target=self.pump, args=(left, right, True), daemon=True).start()
            threading.Thread(target=self.pump, args=(right, left, False), daemon=True).start()

    def pump(self, src, dst, count):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if count:
                    self.bytes_from_dialler += len(data)
                dst.sendall(data)
        except (OSError, ssl.SSLError):
            pass
        for s in (src, dst):
            try:
                s.close()
            except OSError:
                pass

    def stop(self):
        self.stopping = True
        self.lsock.close()


def connections(h):
    return h.ctl("connections").get("rows", [])


def main():
    ok = Check("test_tls")
    work = tempfile.mkdtemp(prefix="mp2p-tls-ids-")
    stranger = Identity(work, "stranger")
    friend = Identity(work, "friend")
    mitm_id = Identity(work, "mitm")
    a = Host("a", plugins=[TP, ECHO])
    b = Host("b", plugins=[TP, ECHO])
    hosts = [a, b]
    relay = None
    try:
        a.start()
        b.start()
        ida, idb = a.peer_id(), b.peer_id()
        ok(re.fullmatch(r"[0-9a-f]{64}", ida) is not None and ida != idb, "each host has its own peer id")
        st = a.ctl("status")
        ok(st["peer_id"] == ida and st["security"] == "tls",
           "status shows the peer id and mode \"tls\", the default of a config without host.security")
        out = subprocess.run([os.path.join(os.environ.get("top_builddir", "."), "maybep2pd"), "--peer-id",
                              "-c", a.config_path], capture_output=True, text=True)
        ok(out.returncode == 0 and out.stdout.strip() == ida, "maybep2pd --peer-id prints the same id")
        key = os.path.join(a.state_dir, "host.key")
        ok(oct(os.stat(key).st_mode & 0o777) == "0o600", "state_dir/host.key is mode 0600")

        # Two hosts exchange frames over TLS; each knows the other by key.
        a.ctl("tp", "ask", b.addr, idb)
        last = wait_for(lambda: a.ctl("tp", "last")["answer"] == "7" and a.ctl("tp", "last"))
        ok(last and last["authenticated"] == 1 and last["tls"] == 1 and last["peer_id"] == idb,
           "a dial naming b's peer id gets b's answer over TLS, authenticated as b: %s" % last)
        rows = wait_for(lambda: [r for r in connections(b) if r["direction"] == "in" and r["peer_id"] == ida])
        ok(rows and rows[0]["tls"] == "yes", "b's connections show a's peer id and TLS: %s" % rows)

        # A Python TLS client with a key of its own.
        c = TLSFrameConn(b.port, friend)
        ok(c.peer_id == idb, "a TLS client sees b's peer id in b's certificate")
        c.send("echo", "PING", b"over tls")
        ok(c.recv(5) == ("echo", "PONG", b"over tls"), "echo over TLS")
        rows = [r for r in connections(b) if r["peer_id"] == friend.peer_id]
        ok(len(rows) == 1 and rows[0]["tls"] == "yes", "b lists the client's peer id")
        c.close()

        # openssl s_client: TLS 1.3, an Ed25519 certificate, an AEAD suite.
        r = subprocess.run(["openssl", "s_client", "-connect", b.addr, "-cert", friend.cert, "-key",
                            friend.key, "-brief"], input="", capture_output=True, text=True, timeout=20)
        text = r.stdout + r.stderr
        ok("Protocol version: TLSv1.3" in text, "s_client: TLSv1.3")
        ok(re.search(r"^(Peer s|S)ignature type: [Ee]d25519$", text, re.M) is not None and
           "Peer certificate: CN = %s" % idb in text,
           "s_client: an Ed25519 certificate: %s" % text.strip().replace("\n", " | ")[:300])
        ok(re.search(r"Ciphersuite: TLS_(AES_128_GCM|AES_256_GCM|CHACHA20_POLY1305)_SHA(256|384)", text)
           is not None, "s_client: an AEAD suite")
        r = subprocess.run(["openssl", "s_client", "-connect", b.addr, "-tls1_2", "-brief"], input="",
                           capture_output=True, text=True, timeout=20)
        ok("Protocol version: TLSv1.2" not in r.stdout + r.stderr, "TLS 1.2 is refused")

        # Plaintext to a "tls" host: refused, one log line.
        before = len(re.findall("not a TLS handshake", b.log_text()))
        p = FrameConn(b.port)
        p.send("echo", "PING", b"plain")
        ok(p.closed_by_peer(5), "a plaintext client of a \"tls\" host is closed")
        p.close()
        b.wait_log("not a TLS handshake", 5)
        time.sleep(0.3)
        ok(len(re.findall("not a TLS handshake", b.log_text())) == before + 1,
           "with one log line naming the reason")

        # A client whose key is not Ed25519 (P-256 here) is refused in the
        # handshake: Ed25519 is the only signature scheme a host accepts.
        eckey, eccert = os.path.join(work, "ec.key"), os.path.join(work, "ec.crt")
        subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-out", eckey], check=True, capture_output=True)
        subprocess.run(["openssl", "req", "-new", "-x509", "-key", eckey, "-subj", "/CN=ec", "-days", "2",
                        "-out", eccert], check=True, capture_output=True)
        before = b.ctl("stats")["tls_refused"]
        raw = socket.create_connection(("127.0.0.1", b.port), timeout=5)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.load_cert_chain(eccert, eckey)
        try:
            e = ctx.wrap_socket(raw)
            e.sendall(b"echo")
            e.settimeout(5)
            refused = e.recv(10) == b""
        except (OSError, ssl.SSLError):
            refused = True
        raw.close()
        ok(refused, "a client with a P-256 key is refused")
        ok(wait_for(lambda: b.ctl("stats")["tls_refused"] == before + 1), "and the refusal counted")
        b.wait_log("TLS handshake refused: the peer presented no Ed25519 key", 5)
        ok(True, "and logged as a peer without an Ed25519 key")

        # A man in the middle with its own key, relaying to b's address.
        relay = Relay(mitm_id, b.port)
        mitm_addr = "127.0.0.1:%d" % relay.port
        a.ctl("tp", "ask", mitm_addr)
        last = wait_for(lambda: a.ctl("tp", "last")["answer"] == "7" and a.ctl("tp", "last"))
        ok(last and last["peer_id"] == mitm_id.peer_id,
           "the relay works: a dial naming no id reaches b through it, as the relay's peer id")
        seen = relay.bytes_from_dialler
        asked = b.ctl("tp", "asked")["asked"]
        a.ctl("tp", "ask", mitm_addr, idb)
        last = wait_for(lambda: a.ctl("tp", "last")["closed"] and a.ctl("tp", "last"))
        ok(last and last["answer"] == "" and "not the expected" in last["closed"],
           "a dial naming b's peer id refuses the relay's key: %s" % (last and last["closed"]))
        time.sleep(0.3)
        ok(relay.bytes_from_dialler == seen and b.ctl("tp", "asked")["asked"] == asked,
           "no frame left a for the relay, none reached b")

        # A private network: c admits a and the friend, nobody else.
        cc = Host("c", plugins=[TP, ECHO], allow=[ida, friend.peer_id], log_level="info")
        hosts.append(cc)
        cc.start()
        idc = cc.peer_id()
        s = TLSFrameConn(cc.port, stranger)
        try:
            s.send("echo", "PING", b"let me in")
            refused = s.closed_by_peer(5)
        except (OSError, ssl.SSLError):
            refused = True
        ok(refused, "a stranger's key is refused by a host with an allow list")
        cc.wait_log(r"peer id %s is not in host.security.allow" % stranger.peer_id, 5)
        ok(True, "the refusal is logged with the stranger's peer id")
        for _ in range(10):
            try:
                s = TLSFrameConn(cc.port, stranger)
                s.send("echo", "PING", b"x")
                s.closed_by_peer(2)
            except (OSError, ssl.SSLError):
                pass
        wait_for(lambda: cc.ctl("stats")["tls_refused"] >= 11)
        ok(cc.ctl("stats")["tls_refused"] >= 11, "every refusal is counted")
        ok(len(re.findall("not in host.security.allow", cc.log_text())) <= 3,
           "eleven refusals in a burst make at most a line a second")
        f = TLSFrameConn(cc.port, friend)
        f.send("echo", "PING", b"friend")
        ok(f.recv(5) == ("echo", "PONG", b"friend"), "a listed key is admitted")
        f.close()
        a.ctl("tp", "ask", cc.addr, idc)
        last = wait_for(lambda: a.ctl("tp", "last")["answer"] == "7" and a.ctl("tp", "last"))
        ok(last and last["peer_id"] == idc, "a listed host dials in")
        cc.ctl("tp", "ask", b.addr)
        last = wait_for(lambda: cc.ctl("tp", "last")["closed"] and cc.ctl("tp", "last"))
        ok(last and last["answer"] == "" and "not in host.security.allow" in last["closed"],
           "c refuses to dial out to a host not listed: %s" % (last and last["closed"]))

        # Mode "mixed": TLS and plaintext clients on one listener.
        m = Host("m", plugins=[ECHO], security="mixed")
        hosts.append(m)
        m.start()
        p = FrameConn(m.port)
        p.send("echo", "PING", b"plain")
        ok(p.recv(5) == ("echo", "PONG", b"plain"), "mixed: a plaintext client is served")
        t = TLSFrameConn(m.port, friend)
        t.send("echo", "PING", b"tls")
        ok(t.recv(5) == ("echo", "PONG", b"tls"), "mixed: a TLS client is served on the same port")
        rows = {r["tls"]: r for r in connections(m)}
        ok(rows.get("no", {}).get("peer_id") == "-" and rows.get("yes", {}).get("peer_id") == friend.peer_id,
           "mixed: the plaintext connection has no peer id, the TLS one has the client's")
        p.close()
        t.close()
        g = socket.create_connection(("127.0.0.1", m.port), timeout=5)
        g.sendall(b"\x00\x01garbage")
        g.settimeout(5)
        try:
            closed = g.recv(10) == b""
        except ConnectionResetError:
            closed = True
        ok(closed, "mixed: a connection that is neither TLS nor frames is closed")
        m.wait_log("neither a TLS handshake nor a frame", 5)
        ok(True, "and the reason logged")
        g.close()

        for h in hosts:
            ok(h.stop() == 0, "%s exits 0" % h.name)
    except AssertionError as e:
        ok(False, str(e))
    finally:
        if relay is not None:
            relay.stop()
        for h in hosts:
            h.cleanup()
        subprocess.run(["rm", "-rf", work])
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
