#!/usr/bin/env python3
"""idlehold.py -- opens many TCP connections to an echo server and holds them idle.

Each connection exchanges one PING/PONG before it goes quiet, so the
server has accepted it, parsed a frame on it and answered: the state a real
peer leaves behind when it stops talking, not a half-open socket still in
the accept queue. Connections are opened in batches no larger than the
listen backlog, so none waits for a SYN retry.

As a module: IdleHolder(port, count).open() ... .close().
As a program: idlehold.py PORT COUNT holds them until stdin closes.
"""
import resource
import selectors
import socket
import struct
import sys
import time

PING_PAYLOAD = b"idle-ping"


def frame(protocol, ftype, payload):
    """One frame: 12-byte NUL-padded protocol, 4-byte type, be32 length."""
    return (protocol.encode().ljust(12, b"\0") + ftype.encode()
            + struct.pack(">I", len(payload)) + payload)


def raise_fd_limit(need):
    """Raises the soft descriptor limit to the hard one; fails if short."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need:
        raise RuntimeError("need %d descriptors, hard limit is %d" % (need, hard))
    if soft != resource.RLIM_INFINITY and soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class IdleHolder:
    """Holds `count` idle connections to 127.0.0.1:port."""

    def __init__(self, port, count, addr="127.0.0.1", batch=500, timeout=20.0):
        self.port = port
        self.count = count
        self.addr = addr
        self.batch = batch
        self.timeout = timeout
        self.socks = []

    def open(self):
        raise_fd_limit(self.count + 64)
        ping = frame("echo", "PING", PING_PAYLOAD)
        pong = frame("echo", "PONG", PING_PAYLOAD)
        while len(self.socks) < self.count:
            n = min(self.batch, self.count - len(self.socks))
            self.socks.extend(self._open_batch(n, ping, pong))
        return self

    def _open_batch(self, n, ping, pong):
        sel = selectors.DefaultSelector()
        batch = []
        got = {}
        try:
            for _ in range(n):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                batch.append(s)
                s.setblocking(False)
                s.connect_ex((self.addr, self.port))
                sel.register(s, selectors.EVENT_WRITE)
                got[s] = b""
            pending = n
            deadline = time.monotonic() + self.timeout
            while pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError("%d of %d idle connections not answered in %.0fs"
                                       % (pending, n, self.timeout))
                for key, events in sel.select(left):
                    s = key.fileobj
                    if events & selectors.EVENT_WRITE:
                        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                        if err:
                            raise OSError(err, "idle connect failed")
                        s.sendall(ping)
                        sel.modify(s, selectors.EVENT_READ)
                        continue
                    data = s.recv(len(pong) - len(got[s]))
                    if not data:
                        raise RuntimeError("server closed an idle connection during setup")
                    got[s] += data
                    if len(got[s]) == len(pong):
                        if got[s] != pong:
                            raise RuntimeError("wrong answer on an idle connection")
                        sel.unregister(s)
                        pending -= 1
        except BaseException:
            for s in batch:
                s.close()
            raise
        finally:
            sel.close()
        return batch

    def closed_count(self):
        """How many held connections the server has closed (readable at EOF)."""
        sel = selectors.DefaultSelector()
        try:
            for s in self.socks:
                sel.register(s, selectors.EVENT_READ)
            return len(sel.select(0))
        finally:
            sel.close()

    def close(self):
        # An abortive close (RST) leaves no TIME_WAIT behind, so repeated
        # runs do not eat the ephemeral port range.
        linger = struct.pack("ii", 1, 0)
        for s in self.socks:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            except OSError:
                pass
            s.close()
        self.socks = []


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: idlehold.py PORT COUNT\n")
        return 2
    holder = IdleHolder(int(sys.argv[1]), int(sys.argv[2])).open()
    print("holding %d" % len(holder.socks), flush=True)
    try:
        sys.stdin.read()
    finally:
        holder.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
