#!/usr/bin/env python3
"""test_shutdown.py -- a host stopping with a TLS dial still in its
handshake and a frame queued on it (a goodbye, say) stops promptly.

The far end is a listener that takes the connection and the ClientHello
and answers nothing, as a host does that is itself stopping. The write
timeout is set to a minute, so a host that waits out its stop timeout
shows it. Two cases:
  - the far end closes after the host began to stop (two hosts stopping
    together): the host must see the close and exit at once;
  - the far end stays silent: the connect timeout (2 s) must still end
    the handshake, and the host exit after it."""

import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mp2ptest import (Check, Host, Listener, next_ip, patience, received_chunks,  # noqa: E402
                      wait_until)

ok = Check("test_shutdown")


class Silent(Listener):
    """Holds the connections it accepts and reads them; answers nothing."""

    def __init__(self, ip):
        self.received = 0
        super().__init__(ip)

    def on_accept(self, c):
        super().on_accept(c)
        threading.Thread(target=self.drain, args=(c,), daemon=True).start()

    def drain(self, c):
        for data in received_chunks(c):
            self.received += len(data)


def stop_with_handshake_pending(name, connect, far_end_closes):
    """Starts a host, has it dial a Silent listener over TLS with a frame
    queued, stops it; returns the seconds from the stop to its exit."""
    silent = Silent(next_ip())
    h = Host(name=name, plugins=[dict(name="probe", file="probe_a.so")],
             host_settings="timeouts: { connect = %.1f; write = 60.0; };" % connect)
    try:
        h.start()
        r = h.ctl("probe", "dial", silent.addr, "plain")
        ok(r["rc"] == 0, "%s: the probe dialled the silent listener" % name)
        # The ClientHello arrived and nothing answered it: the handshake
        # is under way, the probe's HELO queued behind it.
        wait_until(lambda: silent.received > 0, 10, "the ClientHello")
        rows = h.ctl("connections").get("rows", [])
        ok([x["state"] for x in rows if x["direction"] == "out"] == ["connecting"],
           "%s: the dial is still in its handshake (%s)" % (name, rows))
        h.proc.send_signal(signal.SIGTERM)
        h.wait_log(r"SIGTERM: stopping")
        t0 = time.time()
        if far_end_closes:
            silent.close()
        try:
            rc = h.proc.wait(patience(30))
        except subprocess.TimeoutExpired:
            rc = None
        took = time.time() - t0
        ok(rc == 0, "%s: the host exits 0 (%s)" % (name, rc))
        ok("still had output" not in h.log_text(),
           "%s: no connection was left waiting for the stop timeout" % name)
        return took
    finally:
        silent.close()
        h.cleanup()


def main():
    took = stop_with_handshake_pending("closes", 60.0, True)
    print("figure: stop with the far end closing during the handshake: %.2f s "
          "(the stop timeout is 60 s)" % took, flush=True)
    ok(took < patience(5), "the host saw the far end close and exited at once (%.2f s)" % took)

    took = stop_with_handshake_pending("silent", 2.0, False)
    print("figure: stop with the far end silent: %.2f s (connect timeout 2 s)" % took, flush=True)
    ok(took < 2.0 + patience(5), "the connect timeout still ended the handshake (%.2f s)" % took)
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
