"""kadnet.py -- a network of maybep2pd hosts running the kademlia plugin on
loopback, and an independent encoder/decoder of the Kademlia payloads
(written from PROTOCOL.md), for the multi-process tests and the benchmark."""

import concurrent.futures
import hashlib
import os
import random
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get("top_srcdir", os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))), "tests", "lib"))

from mp2ptest import (Host, CtlError, Listener, frame, next_ip, poll,  # noqa: E402,F401
                      received_chunks, spread_ip)

NAME = "kad"
# Short timers so a test sees refreshes and republication within seconds.
TEST_CONFIG = "request_timeout = 1.0; refresh = 30.0; republish = 60.0;"


def kad_host(name, bootstrap=(), extra=TEST_CONFIG, log_level="info", host_settings="", ip=None):
    boot = ""
    if bootstrap:
        boot = "bootstrap = [ %s ]; " % ", ".join('"%s"' % b for b in bootstrap)
    return Host(name=name, plugins=[dict(name=NAME, file="kademlia.so", config=boot + extra)],
                log_level=log_level, host_settings=host_settings, ip=ip or next_ip())


class Net:
    """A few seeds, then the rest bootstrapping through them."""

    def __init__(self, size, seeds=3, extra=TEST_CONFIG, host_settings=""):
        self.hosts = []
        self.seeds = []
        self.extra = extra
        self.host_settings = host_settings
        self.size = size
        self.nseeds = seeds

    def start(self):
        for i in range(self.nseeds):
            h = kad_host("seed%d" % i, [s.addr for s in self.seeds], self.extra,
                         host_settings=self.host_settings)
            h.start()
            self.seeds.append(h)
            self.hosts.append(h)
        for i in range(self.size - self.nseeds):
            h = kad_host("n%d" % i, [s.addr for s in self.seeds], self.extra,
                         host_settings=self.host_settings)
            h.start()
            self.hosts.append(h)
        return self

    def alive(self):
        return [h for h in self.hosts if h.proc is not None and h.proc.poll() is None]

    def wait_routes(self, minimum, timeout=60.0):
        """Until every live host knows at least `minimum` nodes."""
        return wait_routes(self.alive(), minimum, timeout)

    def cleanup(self):
        for h in self.hosts:
            h.kill()
        for h in self.hosts:
            h.cleanup()


def parallel(fn, items, workers=8):
    with concurrent.futures.ThreadPoolExecutor(workers) as ex:
        return list(ex.map(fn, items))


def wait_routes(hosts, minimum, timeout=30.0):
    """Until every one of hosts knows at least `minimum` nodes, for at most
    patience(timeout) s: the node counts last seen, which the caller checks."""
    return poll(lambda: parallel(lambda h: h.ctl(NAME, "routes")["nodes"], hosts),
                lambda counts: min(counts) >= minimum, timeout, 0.1 if len(hosts) <= 10 else 0.5)


def get_all(hosts, name):
    """`kad get name` on every host at once: the replies, in hosts' order,
    each a dict (with "error" where the get failed)."""
    return parallel(lambda h: ctl_or_error(h, "get", name), hosts)


def ctl_or_error(h, *args):
    """The reply as a dict, or {"error": text} if the command failed."""
    try:
        return h.ctl(NAME, *args)
    except CtlError as e:
        return {"error": (e.stdout + e.stderr).strip(), "status": e.status}


def random_id():
    return "%064x" % random.getrandbits(256)


# --- an independent codec of the payloads (PROTOCOL.md) ---------------------

VERSION = 2
# Bytes a record may add to its value (kad.h KAD_REC_OVERHEAD).
KAD_REC_OVERHEAD = 1 + 32 + 1 + 255 + 64


def _addr(a):
    a = a.encode()
    return struct.pack("B", len(a)) + a


def request(mtype, reqid, sender, addr, body=b""):
    return struct.pack("!BQ", VERSION, reqid) + sender + _addr(addr) + body


def request_reqid(p):
    """The request id of a request or answer payload."""
    return struct.unpack("!Q", p[1:9])[0]


def request_body(p):
    """What follows a request's version, id, sender and address."""
    return p[42 + p[41]:]


def answer(reqid, responder, body=b""):
    return struct.pack("!BQ", VERSION, reqid) + responder + body


def value_body(key, seq, ttl, value):
    return key + struct.pack("!QII", seq, ttl, len(value)) + value


def nodes_body(nodes):
    out = struct.pack("B", len(nodes))
    for nid, addr in nodes:
        out += nid + _addr(addr)
    return out


def decode_answer(mtype, p):
    """Parses an answer; raises ValueError on anything malformed."""
    if len(p) < 41 or p[0] not in (1, VERSION):
        raise ValueError("short or wrong version")
    reqid = struct.unpack("!Q", p[1:9])[0]
    responder = p[9:41]
    rest = p[41:]
    out = dict(reqid=reqid, id=responder)
    if mtype == "PONG":
        if rest:
            raise ValueError("trailing bytes")
    elif mtype == "STOK":
        if len(rest) != 1:
            raise ValueError("bad STOK")
        out["status"] = rest[0]
    elif mtype == "NODS":
        n = rest[0]
        pos = 1
        nodes = []
        for _ in range(n):
            nid = rest[pos:pos + 32]
            alen = rest[pos + 32]
            addr = rest[pos + 33:pos + 33 + alen].decode()
            pos += 33 + alen
            nodes.append((nid, addr))
        if pos != len(rest):
            raise ValueError("bad NODS length")
        out["nodes"] = nodes
    elif mtype == "VALU":
        key = rest[:32]
        seq, ttl, vlen = struct.unpack("!QII", rest[32:48])
        if len(rest) != 48 + vlen:
            raise ValueError("bad VALU length")
        out.update(key=key, seq=seq, ttl=ttl, value=rest[48:])
    else:
        raise ValueError("not an answer: %s" % mtype)
    return out


class StandInNode(Listener):
    """A kademlia node in Python, on a listener of its own, started at once.
    Every frame it reads is noted in .seen as (arrival time, type,
    payload) and answered with what reply() returns. As it is, it answers
    PING with PONG as node .nid, which is what earns a node its place in a
    host's table; a test's subclass answers more, or less."""

    def __init__(self, nid=None, ip="127.0.0.1"):
        self.nid = nid or os.urandom(32)
        self.lock = threading.Lock()
        self.seen = []
        super().__init__(ip, backlog=16)

    def reply(self, mtype, payload):
        """The answer to one frame as (type, payload), or None for none."""
        if mtype == "PING" and len(payload) >= 9:
            return "PONG", answer(request_reqid(payload), self.nid)
        return None

    def received(self, mtype):
        """(arrival time, payload) of every frame of type mtype so far."""
        with self.lock:
            return [(t, p) for t, m, p in self.seen if m == mtype]

    @property
    def pings(self):
        return len(self.received("PING"))

    def on_accept(self, c):
        threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        buf = b""
        for data in received_chunks(c):
            buf += data
            while len(buf) >= 20:
                n = struct.unpack("!I", buf[16:20])[0]
                if len(buf) < 20 + n:
                    break
                mtype, payload = buf[12:16].decode(errors="replace"), buf[20:20 + n]
                buf = buf[20 + n:]
                with self.lock:
                    self.seen.append((time.time(), mtype, payload))
                out = self.reply(mtype, payload)
                if out is not None:
                    try:
                        c.sendall(frame("Kademlia", out[0], out[1]))
                    except OSError:
                        return


class SybilFarm(threading.Thread):
    """One machine (one IP) posing as many nodes: a listener per fake id,
    each answering PING with PONG as that id, all served by one thread.
    This is the cheapest Sybil attack: every id gets a real round trip."""

    def __init__(self, ip, ids):
        super().__init__(daemon=True)
        import selectors
        self.sel = selectors.DefaultSelector()
        self.ids = list(ids)
        self.addrs = []
        self.pings = 0
        self.stopped = False
        for nid in self.ids:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((ip, 0))
            s.listen(16)
            s.setblocking(False)
            self.sel.register(s, 1, ("listen", nid))
            self.addrs.append("%s:%d" % (ip, s.getsockname()[1]))

    def run(self):
        while not self.stopped:
            for key, _ in self.sel.select(0.2):
                kind, data = key.data
                if kind == "listen":
                    try:
                        c, _ = key.fileobj.accept()
                    except OSError:
                        continue
                    c.setblocking(False)
                    self.sel.register(c, 1, ("conn", [data, b""]))
                    continue
                state = data
                try:
                    got = key.fileobj.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    got = b""
                if not got:
                    self.sel.unregister(key.fileobj)
                    key.fileobj.close()
                    continue
                state[1] += got
                while len(state[1]) >= 20:
                    n = struct.unpack("!I", state[1][16:20])[0]
                    if len(state[1]) < 20 + n:
                        break
                    mtype, payload = state[1][12:16].decode(), state[1][20:20 + n]
                    state[1] = state[1][20 + n:]
                    if mtype == "PING" and len(payload) >= 9:
                        self.pings += 1
                        reqid = struct.unpack("!Q", payload[1:9])[0]
                        try:
                            key.fileobj.setblocking(True)
                            key.fileobj.sendall(frame("Kademlia", "PONG", answer(reqid, state[0])))
                            key.fileobj.setblocking(False)
                        except OSError:
                            pass

    def stop(self):
        """Every listener and connection closes: the farm vanishes."""
        self.stopped = True
        self.join(5)
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        self.sel.close()


def id_sharing(self_id, cpl):
    """A random id sharing exactly cpl leading bits with self_id."""
    x = int.from_bytes(self_id, "big")
    r = random.getrandbits(256)
    flip = 1 << (255 - cpl)
    keep = ~((1 << (256 - cpl)) - 1) & ((1 << 256) - 1)
    v = (x & keep) | ((x ^ flip) & flip) | (r & (flip - 1))
    return v.to_bytes(32, "big")


# --- version-2 records (PROTOCOL.md section 4.4) ------------------------------

def immutable(value):
    """An immutable record of value: (key, record). Its seq is 0."""
    return hashlib.sha256(value).digest(), b"\x00" + value


def record_value(rec):
    """The value inside a record (immutable or mutable)."""
    if rec[:1] == b"\x00":
        return rec[1:]
    if rec[:1] == b"\x01" and len(rec) >= 34:
        n = rec[33]
        return rec[34 + n + 64:]
    raise ValueError("not a record")


def record_writer(rec):
    """A mutable record's writer key, in hex."""
    return rec[1:33].hex()


def fetch_record(h, key, ip=None):
    """Asks host h for key with a raw FVAL: (seq, ttl, record) or None."""
    from mp2ptest import FrameConn
    c = FrameConn(h.port, h.ip, source=ip)
    try:
        c.send("Kademlia", "FVAL", request("FVAL", random.getrandbits(63) + 1, os.urandom(32),
                                           "%s:1" % (ip or "127.0.0.1"), key))
        _, t, p = c.recv(5)
        m = decode_answer(t, p)
        return (m["seq"], m["ttl"], m["value"]) if t == "VALU" else None
    finally:
        c.close()
