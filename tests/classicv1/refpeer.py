#!/usr/bin/env python3
"""refpeer.py -- a stand-in for the original Python MaybeP2P peer (0.0.3),
built from the project's description of its wire habits, for interop tests.

It behaves as the original did:
  * frames are `!12s4sL` (protocol, type, length) and the payload, the
    length counted in characters (wrong for non-ASCII text);
  * every message it sends goes on a new connection: connect (1 s timeout),
    write one frame, close;
  * it listens with a backlog of 5 and serves each inbound connection in a
    thread of its own: it reads exactly one frame, handles it, and closes;
    a LIST REQ is answered on that connection before it closes;
  * its own LIST REQ is sent and the connection closed at once, so it never
    reads the answer;
  * payloads are comma-separated; MESG keeps only the text up to the next
    comma; MESG FOR is accepted and ignored; unknown frame types and
    payloads that do not split into the expected fields are dropped.

Beyond the original it records what it saw, for the tests to check: the
frames received, the texts delivered, and any connection on which a second
frame (bytes after the first frame) arrived -- which the original would
never have read.

Run alone it serves on a port and prints what it delivers:
    refpeer.py PORT [JOIN_ADDR:PORT]
"""
import socket
import struct
import sys
import threading
import time
import uuid

try:
    from mp2ptest import patience
except ImportError:      # run by hand as a stand-alone peer
    def patience(seconds):
        return seconds

PROTOCOL = b"ClassicV1"
HEADER = struct.Struct("!12s4sL")


def frame(mtype, payload):
    """Packs one frame as the original did: the length it writes is the
    number of characters, so a text with non-ASCII characters gets a length
    shorter than its bytes (the original's quirk). Bytes go as they are."""
    if isinstance(payload, str):
        length = len(payload)
        payload = payload.encode("utf-8")
    else:
        length = len(payload)
    return HEADER.pack(PROTOCOL, mtype.encode("ascii"), length) + payload


def _recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class RefPeer:
    def __init__(self, host="127.0.0.1", port=0, pid=None, linger_check=0.3):
        self.host = host
        self.pid = pid or str(uuid.uuid4())
        self.peers = {}            # pid -> (addr, port)
        self.delivered = []        # texts, as the original would print them
        self.frames = []           # (type, payload bytes) of every frame read
        self.second_frames = 0     # connections that carried more than one frame
        self.lock = threading.Lock()
        self.linger_check = linger_check
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.port = self.sock.getsockname()[1]
        self.running = False
        self.thread = None

    @property
    def addr(self):
        return "%s:%d" % (self.host, self.port)

    # ---- serving -----------------------------------------------------------

    def start(self):
        self.sock.listen(5)
        self.running = True
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()
        return self

    def _accept_loop(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            head = _recv_exact(conn, HEADER.size)
            if head is None:
                return
            proto, mtype, length = HEADER.unpack(head)
            payload = _recv_exact(conn, length)
            if payload is None:
                return
            with self.lock:
                self.frames.append((mtype, payload))
            if proto.rstrip(b"\0") == PROTOCOL:
                self._handle(conn, mtype, payload)
            # The original closes here. We look a little longer, only to
            # report a sender that put a second frame on this connection.
            if self.linger_check:
                conn.settimeout(self.linger_check)
                try:
                    if conn.recv(1):
                        with self.lock:
                            self.second_frames += 1
                except OSError:
                    pass
        except OSError:
            pass
        finally:
            conn.close()

    def _handle(self, conn, mtype, payload):
        try:
            text = payload.decode("ascii")
        except UnicodeDecodeError:
            return
        fields = text.split(",")
        if mtype == b"JOIN":
            if len(fields) != 4:
                return
            kind, pid, addr, port = fields
            try:
                port = int(port)
            except ValueError:
                return
            with self.lock:
                new = pid not in self.peers
                self.peers[pid] = (addr, port)
            if kind == "REQ" and new:
                self._send(addr, port, "JOIN", "RES,%s,%s,%d" % (self.pid, self.host, self.port))
        elif mtype == b"LIST":
            if fields[0] == "REQ":
                with self.lock:
                    entries = ["%s|%s|%d" % (p, a, pt) for p, (a, pt) in self.peers.items()]
                conn.sendall(frame("LIST", ",".join(["RES"] + entries)))
            elif fields[0] == "RES":
                parsed = []
                for entry in fields[1:]:
                    parts = entry.split("|")
                    if len(parts) != 3:
                        return
                    try:
                        parsed.append((parts[0], parts[1], int(parts[2])))
                    except ValueError:
                        return
                with self.lock:
                    for pid, addr, port in parsed:
                        if pid != self.pid:
                            self.peers[pid] = (addr, port)
        elif mtype == b"QUIT":
            with self.lock:
                self.peers.pop(text, None)
        elif mtype == b"MESG":
            if fields[0] == "REQ" and len(fields) >= 2:
                with self.lock:
                    self.delivered.append(fields[1])
            # FOR: reserved for forwarding, accepted and ignored.
        # ERRO and unknown types: dropped silently.

    # ---- sending: one connection per message -------------------------------

    def _send(self, addr, port, mtype, payload):
        try:
            # From the address it listens on, as a machine with one
            # address would: hosts believe a claim only from its own IP.
            s = socket.create_connection((addr, port), timeout=1, source_address=(self.host, 0))
        except OSError:
            return False
        try:
            s.sendall(frame(mtype, payload))
            return True
        except OSError:
            return False
        finally:
            s.close()

    @staticmethod
    def _split(hostport):
        addr, port = hostport.rsplit(":", 1)
        return addr, int(port)

    def join(self, hostport):
        addr, port = self._split(hostport)
        return self._send(addr, port, "JOIN", "REQ,%s,%s,%d" % (self.pid, self.host, self.port))

    def list_req(self, hostport):
        """The original's list request: sent, then closed before any answer."""
        addr, port = self._split(hostport)
        return self._send(addr, port, "LIST", "REQ")

    def send_mesg(self, hostport, text):
        addr, port = self._split(hostport)
        return self._send(addr, port, "MESG", "REQ," + text)

    def broadcast(self, text):
        """The original's broadcast: MESG to every peer in its table."""
        with self.lock:
            targets = list(self.peers.values())
        for addr, port in targets:
            self._send(addr, port, "MESG", "REQ," + text)

    def quit(self):
        """What the original does on exit: QUIT to every peer, then stop."""
        with self.lock:
            targets = list(self.peers.values())
        for addr, port in targets:
            self._send(addr, port, "QUIT", self.pid)
        self.stop()

    def stop(self):
        self.running = False
        try:
            self.sock.close()
        except OSError:
            pass

    # ---- for tests ---------------------------------------------------------

    def knows(self, pid):
        with self.lock:
            return pid in self.peers

    def frames_of(self, mtype):
        with self.lock:
            return [p for t, p in self.frames if t == mtype.encode("ascii")]

    def wait(self, predicate, timeout=10.0, what="condition"):
        """Until predicate() holds, for patience(timeout) s (mp2ptest's
        scaling for a loaded or instrumented run, where it is importable)."""
        deadline = time.time() + patience(timeout)
        while time.time() < deadline:
            with self.lock:
                pass
            if predicate():
                return True
            time.sleep(0.05)
        raise AssertionError("refpeer: timed out waiting for " + what)


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    peer = RefPeer(port=port).start()
    print("refpeer pid %s listening on %s" % (peer.pid, peer.addr), flush=True)
    if len(sys.argv) > 2:
        peer.join(sys.argv[2])
    seen = 0
    try:
        while True:
            time.sleep(0.2)
            with peer.lock:
                new = peer.delivered[seen:]
                seen = len(peer.delivered)
            for text in new:
                print("delivered: " + text, flush=True)
    except KeyboardInterrupt:
        peer.quit()


if __name__ == "__main__":
    main()
