#!/usr/bin/env python3
"""tls_idle_mem.py -- what one idle connection costs maybep2pd in user
space, plaintext and TLS, measured in the same run: N clients each finish
a frame exchange (so a TLS handshake is over and its buffers released) and
stay connected; the host's resident memory before and after, over N.
run.py (`make bench`) calls measure() for its TLS figures.

    top_builddir=_build python3 tests/bench/tls_idle_mem.py [N]
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mp2ptest import FrameConn, Host, Identity, TLSFrameConn  # noqa: E402


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def per_connection(mode, identity, n):
    h = Host("mem-" + mode, security=mode, log_level="info",
             host_settings="limits: { max_connections_per_ip = 100000; max_inbound = 100000; }; "
                           "timeouts: { idle = 3000.0; first_frame = 3000.0; };")
    conns = []
    try:
        h.start()

        def one():
            c = TLSFrameConn(h.port, identity) if mode == "tls" else FrameConn(h.port)
            c.send("echo", "PING", b"x" * 64)
            assert c.recv(10)[1] == "PONG"
            return c
        for _ in range(50):          # the allocator's first arenas are not the connections'
            conns.append(one())
        time.sleep(0.3)
        before = rss(h.proc.pid)
        for _ in range(n):
            conns.append(one())
        time.sleep(1.0)
        return (rss(h.proc.pid) - before) / n
    finally:
        for c in conns:
            c.sock.close()
        h.cleanup()


def host_like_identity(workdir):
    """A client key with a certificate made the way a host makes its own:
    self-signed, no X.509v3 extensions. The host keeps each peer's
    certificate for the life of the connection, and `openssl req`'s
    default extensions would add some 400 bytes that no host's peer
    carries."""
    identity = Identity(workdir, "client")
    conf = os.path.join(workdir, "bare.cnf")
    with open(conf, "w") as f:
        f.write("[req]\ndistinguished_name = dn\n[dn]\n")
    subprocess.run(["openssl", "req", "-new", "-x509", "-key", identity.key, "-subj", "/CN=client",
                    "-days", "2", "-config", conf, "-out", identity.cert],
                   check=True, capture_output=True)
    return identity


def measure(n, workdir):
    """Bytes per idle connection, (plaintext, TLS), each from a fresh host;
    the TLS clients' key is made in workdir."""
    identity = host_like_identity(workdir)
    return per_connection("plain", identity, n), per_connection("tls", identity, n)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    workdir = tempfile.mkdtemp(prefix="mp2p-mem-")
    try:
        plain, tls = measure(n, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("%d idle connections: plaintext %.0f B each, TLS %.0f B each, TLS beyond plaintext %.0f B"
          % (n, plain, tls, tls - plain))


if __name__ == "__main__":
    main()
