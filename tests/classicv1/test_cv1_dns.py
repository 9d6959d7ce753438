#!/usr/bin/env python3
"""test_cv1_dns.py -- bootstrap from DNS TXT records "ADDR:PORT", served by a
real dnsmasq on loopback; a resolver that never answers does not stall the
host's loop."""
import getpass
import os
import re
import shutil
import socket
import subprocess
import sys
import time

from cv1util import Check, cv1_host, free_port, peers, pid, wait_until

SEED = "seed.mp2p.test"


def find_dnsmasq():
    return shutil.which("dnsmasq") or shutil.which("dnsmasq", path="/usr/sbin:/sbin")


def start_dnsmasq(exe, port, records):
    cmd = [exe, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
           "--listen-address=127.0.0.1", "--bind-interfaces", "--port=%d" % port,
           "--pid-file=", "--log-facility=-", "--log-queries"]
    if os.geteuid() == 0:
        cmd.append("--user=" + getpass.getuser())
    cmd += ["--txt-record=%s,%s" % (SEED, r) for r in records]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def main():
    exe = find_dnsmasq()
    if exe is None:
        print("dnsmasq not installed: skipped")
        return 77
    ok = Check("test_cv1_dns")
    a = cv1_host("dnsa").start()
    b = cv1_host("dnsb").start()
    hosts = [a, b]
    dns = None
    silent = None
    try:
        port = free_port()
        # Two good records, one that is not an address, one with quotes.
        dns = start_dnsmasq(exe, port, ['"%s"' % a.addr, b.addr, "not-an-address"])
        time.sleep(0.3)
        ok(dns.poll() is None, "dnsmasq runs on 127.0.0.1:%d" % port)

        c = cv1_host("dnsc", extra='dns_seed = "%s"; dns_server = "127.0.0.1:%d";' % (SEED, port))
        hosts.append(c.start())
        wait_until(lambda: {pid(a), pid(b)} <= set(peers(c)), 10, "c to join a and b from DNS")
        ok(True, "a host with only a dns_seed joined both hosts the TXT records name")
        ok(pid(c) in peers(a) and pid(c) in peers(b), "a and b know c")
        c.wait_log(r"dns seed %s: 2 addresses" % SEED, 5)
        ok(True, "the record that is not ADDR:PORT was ignored")

        # A resolver that never answers: the loop keeps serving.
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 0))
        d = cv1_host("dnsd", extra='dns_seed = "%s"; dns_server = "127.0.0.1:%d";' % (
            SEED, silent.getsockname()[1]))
        hosts.append(d.start())
        silent.settimeout(5)
        data, _ = silent.recvfrom(512)
        ok(len(data) > 12, "the host sent its TXT query to the silent resolver")
        # A loop blocked in the query would answer control only after the
        # query gave up (3 tries of 1 s), and that is logged first. So the
        # answer must come fast, or at least before the query's end: a
        # loaded machine may make it slow, but not late.
        t0 = time.time()
        d.ctl("cv1", "peers")
        took = time.time() - t0
        pending = not re.search(r"dns seed %s: " % SEED, d.log_text()[d.log_offset:])
        ok(took < 1.0 or pending, "control answered in %.3f s, %s the query ended" % (
            took, "before" if pending else "after"))
        d.wait_log(r"dns seed %s: " % SEED, 15)
        ok(d.proc.poll() is None, "the query timed out and the host runs on")
        for h in hosts:
            ok(h.stop() == 0, "%s stops cleanly" % h.name)
    except AssertionError as e:
        ok(False, str(e))
    finally:
        for h in hosts:
            h.cleanup()
        if dns is not None:
            dns.kill()
            dns.wait()
        if silent is not None:
            silent.close()
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
