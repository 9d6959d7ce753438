#!/usr/bin/env python3
"""test_metrics.py -- host.metrics_listen: /metrics in the Prometheus text
format, scraped while clients load the host (every scrape answers, passes
`promtool check metrics`, and no counter goes backwards), then compared
number for number with `maybep2pctl stats`; other paths and methods are
refused; a client holding a half-sent request delays nobody; connections
over the port's limits (16 in all, 4 from one address) are closed at once
while an honest scrape still answers; the endpoint
is off by default; a bad or busy address is reported."""

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mp2ptest import Check, FrameConn, Host, builddir, free_port, next_ip, patience, wait_until  # noqa: E402
import mp2ptest  # noqa: E402
# host.security.mode = "plain": Python clients here speak plaintext frames to the host.
mp2ptest.Host.default_security = "plain"

ok = Check("test_metrics")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')

# The names `stats` fields take; a field not listed is maybep2p_KEY_total.
KNOWN = {
    "connections": "maybep2p_connections",
    "accepted": "maybep2p_connections_accepted_total",
    "closed": "maybep2p_connections_closed_total",
    "inbound": "maybep2p_connections_inbound",
    "outbound": "maybep2p_connections_outbound",
    "buffered": "maybep2p_buffered_budget_bytes",
    "refused_max_inbound": 'maybep2p_connections_refused_total{reason="max_inbound"}',
    "refused_per_ip": 'maybep2p_connections_refused_total{reason="per_ip"}',
    "frames_in": "maybep2p_host_frames_received_total",
    "frames_out": "maybep2p_host_frames_sent_total",
    "bytes_in": "maybep2p_host_bytes_received_total",
    "bytes_out": "maybep2p_host_bytes_sent_total",
    "bad_frames": "maybep2p_bad_frames_total",
    "unknown_protocol": "maybep2p_unknown_protocol_frames_total",
    "oversize_frames": "maybep2p_oversize_frames_total",
    "timeouts_idle": 'maybep2p_timeouts_total{kind="idle"}',
    "timeouts_frame": 'maybep2p_timeouts_total{kind="frame"}',
    "timeouts_write": 'maybep2p_timeouts_total{kind="write"}',
    "timeouts_connect": 'maybep2p_timeouts_total{kind="connect"}',
    "output_overflows": "maybep2p_output_overflows_total",
    "dial_failures": "maybep2p_dial_failures_total",
    "reloads": "maybep2p_reloads_total",
    "reload_failures": "maybep2p_reload_failures_total",
}
PER_PLUGIN = {"frames_in": "maybep2p_frames_received_total", "frames_out": "maybep2p_frames_sent_total",
              "bytes_in": "maybep2p_bytes_received_total", "bytes_out": "maybep2p_bytes_sent_total"}


def scrape(url, timeout=20.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type"), r.read()


def parse(body):
    """{'name{labels}': value} of every sample line."""
    out = {}
    for line in body.decode().splitlines():
        if line.startswith("#") or not line:
            continue
        m = SAMPLE.match(line)
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def promtool(body):
    """None when promtool is absent, else (passed, its output)."""
    if shutil.which("promtool") is None:
        return None
    r = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=60)
    return r.returncode == 0, (r.stdout + r.stderr).decode(errors="replace")


def listening_tcp_ports(pid):
    """Ports the process listens on, from its fds and /proc/net/tcp{,6}."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", link)
        if m:
            inodes.add(m.group(1))
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] == "0A" and cols[9] in inodes:
                ports.add(int(cols[1].split(":")[1], 16))
    return ports


class Load:
    """Clients that keep PINGs in flight until stopped."""

    def __init__(self, port, clients=4):
        self.port, self.stop_flag, self.sent, self.errors = port, False, 0, []
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(clients)]

    def run(self):
        try:
            c = FrameConn(self.port, timeout=30.0)
            while not self.stop_flag:
                for _ in range(16):
                    c.send("echo", "PING", b"m" * 64)
                for _ in range(16):
                    if c.recv(30.0) is None:
                        raise RuntimeError("the host closed a client")
                self.sent += 16
            c.close()
        except Exception as e:  # reported by the test, not lost in a thread
            self.errors.append(repr(e))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag = True
        for t in self.threads:
            t.join(60)


def under_load(ok_, h, url):
    scrapes, bad, slow = [], [], 0.0
    lint = None
    with Load(h.port) as load:
        deadline = time.time() + 60
        while len(scrapes) < 12 and time.time() < deadline:
            t0 = time.monotonic()
            status, ctype, body = scrape(url)
            slow = max(slow, time.monotonic() - t0)
            if status != 200 or not ctype.startswith("text/plain; version=0.0.4"):
                bad.append((status, ctype))
            if lint is None or len(scrapes) == 6:
                r = promtool(body)
                if r is not None and not r[0]:
                    lint = r
                elif lint is None:
                    lint = r if r is not None else (True, "absent")
            scrapes.append(parse(body))
            time.sleep(0.1)
        sent_during = load.sent
    ok_(not load.errors, "the load ran without errors: %s" % load.errors[:2])
    ok_(len(scrapes) == 12 and not bad, "12 scrapes under load, each 200 text/plain 0.0.4 (%s)" % bad[:2])
    print("# slowest scrape under load: %.1f ms" % (slow * 1000))
    if lint is not None and lint[1] == "absent":
        print("skip - promtool is not installed (Debian package prometheus): format not linted")
    else:
        ok_(lint is not None and lint[0], "promtool check metrics passes under load: %s" % (lint[1] if lint else ""))
    backwards = []
    for a, b in zip(scrapes, scrapes[1:]):
        for k, v in a.items():
            if (k.endswith("_total") or "_total{" in k) and b.get(k, v) < v:
                backwards.append((k, v, b.get(k)))
    ok_(not backwards, "no counter went backwards across scrapes: %s" % backwards[:3])
    first = scrapes[0].get('maybep2p_frames_received_total{plugin="echo"}', 0)
    last = scrapes[-1].get('maybep2p_frames_received_total{plugin="echo"}', 0)
    ok_(sent_during > 0 and last > first, "echo's frames rose while scraped (%d -> %d)" % (first, last))
    ok_(any(s.get("maybep2p_connections", 0) >= 4 for s in scrapes), "the load's connections were seen")


def exact(ok_, h, url):
    # Quiet now: every client gone. Then the scrape must agree with stats.
    deadline = time.time() + 30
    while h.ctl("stats")["connections"] != 0 and time.time() < deadline:
        time.sleep(0.05)
    st = h.ctl("stats")
    m = parse(scrape(url)[2])
    missing = []
    for key, value in st.items():
        if key == "rows" or not isinstance(value, int):
            continue
        name = KNOWN.get(key, "maybep2p_%s_total" % re.sub(r"[^A-Za-z0-9_]", "_", key))
        if m.get(name) != value:
            missing.append((key, value, name, m.get(name)))
    ok_(not missing, "every host counter of stats is in /metrics with its value: %s" % missing[:3])
    rows_missing = []
    for r in st["rows"]:
        name = PER_PLUGIN.get(r["counter"])
        if name is None:
            name = "maybep2p_plugin_%s_total" % re.sub(r"[^A-Za-z0-9_]", "_", r["counter"])
        series = '%s{plugin="%s"}' % (name, r["plugin"])
        if m.get(series) != r["value"]:
            rows_missing.append((r, series, m.get(series)))
    ok_(not rows_missing and len(st["rows"]) >= 8,
        "every per-plugin counter of stats is in /metrics with its value (%d rows): %s"
        % (len(st["rows"]), rows_missing[:3]))
    status = h.ctl("status")
    ok_(m.get('maybep2p_build_info{version="%s",abi="%s"}' % (status["version"], status["abi"])) == 1,
        "build_info names the version and ABI")
    ok_(m.get('maybep2p_buffered_bytes{direction="out"}') == 0 and m.get("maybep2p_uptime_seconds", 0) > 0,
        "buffered bytes (none now) and uptime")
    info = [k for k in m if k.startswith('maybep2p_plugin_info{plugin="echo",')]
    ok_(len(info) == 1 and 'version="1.0.0"' in info[0], "plugin_info for echo: %s" % info)


def refusals(ok_, url, port):
    try:
        scrape(url.replace("/metrics", "/other"))
        code = 200
    except urllib.error.HTTPError as e:
        code = e.code
    ok_(code == 404, "another path is 404 (%d)" % code)
    try:
        urllib.request.urlopen(urllib.request.Request(url, data=b"x", method="POST"), timeout=20)
        code = 200
    except urllib.error.HTTPError as e:
        code = e.code
    ok_(code in (405, 501), "POST is refused (%d)" % code)
    # A client that sends half a request and waits holds only itself.
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    t0 = time.monotonic()
    status = scrape(url)[0]
    ok_(status == 200, "a scrape beside a half-sent request answers (%.0f ms)" % ((time.monotonic() - t0) * 1000))
    s.close()


def closed_by_peer(s, timeout):
    """True if the host closes (or resets) socket s within timeout s."""
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def capped(ok_, h, url, port):
    """The port takes 16 connections, 4 from one address: a fifth from one
    address, or a seventeenth in all, is closed as soon as it is accepted,
    counted and logged; an honest scrape from elsewhere still answers."""
    def hold(ip, n):
        return [socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(ip, 0))
                for _ in range(n)]

    def refused():
        return h.ctl("stats")["metrics_refused"]

    held = []
    try:
        greedy = next_ip()
        held += hold(greedy, 4)
        fifth = hold(greedy, 1)[0]
        ok_(closed_by_peer(fifth, patience(5)), "a fifth connection from one address is closed at once")
        ok_(wait_until(lambda: refused() == 1, 5, "the refusal counted") and
            parse(scrape(url)[2]).get("maybep2p_metrics_refused_total") == 1,
            "only the fifth was refused: counted once in stats and in /metrics")
        ok_(scrape(url)[0] == 200, "an honest scrape from another address still answers")
        for _ in range(3):
            held += hold(next_ip(), 4)
        extra = hold(next_ip(), 1)[0]
        ok_(closed_by_peer(extra, patience(5)), "a seventeenth connection, from a fifth address, is closed")
        ok_(wait_until(lambda: refused() == 2, 5, "the second refusal counted"), "and counted")
        try:
            logged = h.wait_log(r"metrics: refused a connection from %s:\d+: 4 open of 16, "
                                r"4 from its address of 4" % greedy.replace(".", r"\."), 5)
        except AssertionError:
            logged = None
        ok_(logged is not None, "the first refusal is logged with the address and both limits")
    finally:
        for c in held:
            c.close()
    # Every slot freed: a scrape answers again.
    ok_(wait_until(lambda: scrape(url)[0] == 200, 20, "a scrape after the flood"),
        "once the held connections close, a scrape answers")


def main():
    mport = free_port()
    h = Host("metrics", host_settings='metrics_listen = "127.0.0.1:%d";' % mport,
             plugins=[dict(name="echo", file="echo.so"), dict(name="tp", file="tp_good.so")]).start()
    url = "http://127.0.0.1:%d/metrics" % mport
    try:
        h.wait_log(r"metrics on http://127\.0\.0\.1:%d/metrics" % mport)
        ok(mport in listening_tcp_ports(h.proc.pid), "the host listens on metrics_listen")
        under_load(ok, h, url)
        refusals(ok, url, mport)
        capped(ok, h, url, mport)
        exact(ok, h, url)
        ok(h.stop() == 0, "the host stops cleanly")
    finally:
        h.cleanup()

    # Off by default: the host listens on its listen address alone.
    h = Host("nometrics").start()
    try:
        ports = listening_tcp_ports(h.proc.pid)
        ok(ports == {h.port}, "without metrics_listen only the listen port is open: %s" % ports)
    finally:
        h.cleanup()

    # IPv6 loopback, bracketed.
    try:
        s6 = socket.socket(socket.AF_INET6)
        s6.bind(("::1", 0))
        p6 = s6.getsockname()[1]
        s6.close()
    except OSError:
        p6 = None
        print("skip - no IPv6 loopback here")
    if p6 is not None:
        h = Host("m6", host_settings='metrics_listen = "[::1]:%d";' % p6).start()
        try:
            ok(scrape("http://[::1]:%d/metrics" % p6)[0] == 200, "metrics_listen on [::1]")
        finally:
            h.cleanup()

    # A bad address is a config error with file, line and setting.
    h = Host("mbad", host_settings='metrics_listen = "localhost:9464";')
    try:
        r = subprocess.run([os.path.join(builddir, "maybep2pd"), "-t", "-c", h.config_path],
                           capture_output=True, text=True, timeout=30)
        ok(r.returncode == 1 and "%s:" % h.config_path in r.stdout and "setting 'host.metrics_listen'" in r.stdout,
           "a name instead of an address: %r" % r.stdout.strip())
    finally:
        h.cleanup()

    # A busy port: the start fails and says which setting.
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    h = Host("mbusy", host_settings='metrics_listen = "127.0.0.1:%d";' % busy.getsockname()[1])
    try:
        h.start(wait=False)
        rc = h.proc.wait(30)
        ok(rc == 1 and "cannot serve metrics on 127.0.0.1:%d (host.metrics_listen)" % busy.getsockname()[1]
           in h.log_text(), "a busy metrics port stops the start with a clear line (exit %s)" % rc)
    finally:
        busy.close()
        h.cleanup()
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
