#!/usr/bin/env python3
"""udp_requests.py -- counts the DHT requests one OpenDHT node sends, on the wire.

OpenDHT's debug log does not show every request: its lines for sending
`find` and plain `get` are commented out in its source, so a count of its
"sending" lines misses a search's whole walk. This helper counts from the
packets instead. It runs inside the benchmark's network namespace (which
has nothing but loopback), reads every datagram on `lo` through a packet
socket, and keeps those sent from one UDP port that are OpenDHT queries
(msgpack `y` = `q`) naming one key (the 20-byte hash anywhere in the
datagram: a `find`'s target, a `get`'s, `put`'s or `listen`'s `h`).

Commands, one per line on stdin; one JSON line answers each on stdout:
  watch PORT HASH   start counting queries from PORT that name HASH (hex)
  peek              {"requests": N, "by_type": {...}, "quiet": S}, where S
                    is the seconds since the last one counted (or since
                    watch, if none yet)
  stop              as peek, and stops counting

The packet socket is open only between watch and stop, so the nodes'
traffic costs this process nothing while other operations are timed.
It needs CAP_NET_RAW (the benchmark runs as root).
"""

import json
import socket
import struct
import sys
import threading
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
QUERY = b"\xa1y\xa1q"                 # msgpack: "y": "q"
TYPES = ("find", "get", "put", "listen", "ping", "refresh", "update")


def udp_payload(frame):
    """(source port, payload) of a UDP datagram in an Ethernet frame, or None."""
    if len(frame) < 14:
        return None
    ethertype = struct.unpack_from("!H", frame, 12)[0]
    ip = frame[14:]
    if ethertype == 0x0800 and len(ip) >= 20 and ip[9] == 17:
        ihl = (ip[0] & 0x0F) * 4
        udp = ip[ihl:]
    elif ethertype == 0x86DD and len(ip) >= 40 and ip[6] == 17:
        udp = ip[40:]
    else:
        return None
    if len(udp) < 8:
        return None
    return struct.unpack_from("!H", udp, 0)[0], udp[8:]


def query_type(payload):
    for t in TYPES:
        if b"\xa1q" + bytes([0xA0 | len(t)]) + t.encode() in payload:
            return t
    return "other"


class Counter:
    """Counts while watching, and only then has a packet socket open: the
    rest of the time it costs the nodes being measured nothing."""

    def __init__(self):
        self.lock = threading.Lock()
        self.port = None
        self.key = None
        self.by_type = {}
        self.last = 0.0
        self.sock = None
        self.reader = None

    def watch(self, port, key):
        self.stop()
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        sock.bind(("lo", 0))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        sock.settimeout(0.05)
        with self.lock:
            self.port, self.key, self.by_type, self.last = port, key, {}, time.monotonic()
        self.sock = sock
        self.reader = threading.Thread(target=self.sniff, args=(sock,), daemon=True)
        self.reader.start()

    def stop(self):
        with self.lock:
            self.port = None
        if self.reader is not None:
            self.reader.join()
            self.sock.close()
        self.reader = self.sock = None

    def report(self):
        with self.lock:
            return dict(requests=sum(self.by_type.values()), by_type=dict(self.by_type),
                        quiet=time.monotonic() - self.last)

    def seen(self, port, payload):
        with self.lock:
            if port != self.port or QUERY not in payload or self.key not in payload:
                return
            t = query_type(payload)
            self.by_type[t] = self.by_type.get(t, 0) + 1
            self.last = time.monotonic()

    def sniff(self, sock):
        while self.port is not None:
            try:
                frame, addr = sock.recvfrom(65535)
            except socket.timeout:
                continue
            # Loopback shows each packet twice, leaving and arriving: count
            # it once, as it leaves.
            if addr[2] != PACKET_OUTGOING:
                continue
            got = udp_payload(frame)
            if got:
                self.seen(*got)


def main():
    counter = Counter()
    print(json.dumps(dict(ready=True)), flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "watch" and len(words) == 3:
            counter.watch(int(words[1]), bytes.fromhex(words[2]))
            print(json.dumps(dict(watching=int(words[1]))), flush=True)
        elif words[0] == "peek":
            print(json.dumps(counter.report()), flush=True)
        elif words[0] == "stop":
            r = counter.report()
            counter.stop()
            print(json.dumps(r), flush=True)
        else:
            print(json.dumps(dict(error="unknown command: " + line.strip())), flush=True)
    counter.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
