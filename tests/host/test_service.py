#!/usr/bin/env python3
"""test_service.py -- etc/maybep2p.service is locked down: `systemd-analyze
security --offline=true` rates the built unit 2.0 or lower ("OK"), and it
keeps the settings the issue names (a dedicated user, StateDirectory=,
RuntimeDirectory=, no capabilities, a read-only system, a private /tmp,
three address families, a system-call filter). And what the unit relies
on: with no host.state_dir or host.control in the config, the host uses
systemd's STATE_DIRECTORY and RUNTIME_DIRECTORY, and maybep2pctl finds the
socket there."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from mp2ptest import Check, Host, builddir, srcdir  # noqa: E402

ok = Check("test_service")
UNIT = os.path.join(builddir, "etc", "maybep2p.service")


def settings(path):
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                out.setdefault(k, []).append(v)
    return out


def security():
    if shutil.which("systemd-analyze") is None:
        print("skip - systemd-analyze is not installed (Debian package systemd): "
              "the unit's exposure score is not checked")
        return
    r = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", UNIT],
                       capture_output=True, text=True, timeout=120)
    m = re.search(r"Overall exposure level for maybep2p\.service: (\d+\.\d+) (\S+)", r.stdout)
    score = float(m.group(1)) if m else None
    ok(r.returncode == 0 and score is not None and score <= 2.0,
       "systemd-analyze security rates the unit %s (at most 2.0)" % (m.group(0) if m else r.stdout[-500:] + r.stderr))
    for line in r.stdout.splitlines():
        if line.startswith("\u2717"):
            print("#", re.sub(r"\s{2,}", "  ", line))


def verify():
    """systemd-analyze verify: every directive known, the unit well formed
    (with the build's programs in place of the installed ones)."""
    if shutil.which("systemd-analyze") is None:
        return
    d = tempfile.mkdtemp(prefix="mp2p-unit-")
    try:
        with open(UNIT) as f:
            text = f.read()
        text = re.sub(r"=(\S*/)?maybep2pd ", "=%s " % os.path.join(builddir, "maybep2pd"), text)
        text = re.sub(r"=(\S*/)?maybep2pctl ", "=%s " % os.path.join(builddir, "maybep2pctl"), text)
        with open(os.path.join(d, "maybep2p.service"), "w") as f:
            f.write(text)
        shutil.copy(os.path.join(srcdir, "etc", "maybep2p.socket"), d)
        r = subprocess.run(["systemd-analyze", "verify", "--man=no", "maybep2p.service"], cwd=d,
                           capture_output=True, text=True, timeout=120)
        ok(r.returncode == 0 and (r.stdout + r.stderr).strip() == "",
           "systemd-analyze verify finds nothing to say: %r" % (r.stdout + r.stderr)[-500:])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def directives():
    s = settings(UNIT)

    def has(key, value):
        return value in s.get(key, [])

    ok(has("DynamicUser", "yes") and has("User", "maybep2p"), "a dedicated user, maybep2p")
    ok(has("StateDirectory", "maybep2p") and has("RuntimeDirectory", "maybep2p"),
       "StateDirectory= and RuntimeDirectory=")
    ok(has("NoNewPrivileges", "yes") and has("ProtectSystem", "strict") and has("PrivateTmp", "yes"),
       "NoNewPrivileges=, ProtectSystem=strict, PrivateTmp=")
    ok(s.get("CapabilityBoundingSet") == [""] and s.get("AmbientCapabilities") == [""],
       "an empty capability set")
    ok(s.get("RestrictAddressFamilies") == ["AF_UNIX AF_INET AF_INET6"], "three address families")
    ok("@system-service" in s.get("SystemCallFilter", []), "a system-call filter")
    with open(UNIT) as f:
        unresolved = re.findall(r"@[a-z]+@", f.read())
    ok(not unresolved and s["ExecStart"][0].startswith("/"), "every path in the built unit is resolved: %s" % unresolved)


def systemd_dirs():
    h = Host("unit")
    try:
        state = os.path.join(h.dir, "var-lib")
        run = os.path.join(h.dir, "run")
        os.makedirs(state)
        os.makedirs(run)
        # The config the unit runs with: no state_dir, no control.
        text = h.config_text()
        text = re.sub(r'\n\s*state_dir = "[^"]*";', "", text)
        text = re.sub(r'\n\s*control = "[^"]*";', "", text)
        h.write_config(text)
        h.control = os.path.join(run, "control.sock")
        env = dict(os.environ, STATE_DIRECTORY=state, RUNTIME_DIRECTORY=run + ":" + h.dir)
        h.start(env=env)
        ok(os.path.exists(os.path.join(run, "control.sock")), "the control socket is in RUNTIME_DIRECTORY")
        ok(os.path.isdir(os.path.join(state, ".plugins")), "the state is in STATE_DIRECTORY")
        # What ExecReload runs: maybep2pctl -c CONFIG, in the unit's environment.
        r = subprocess.run([os.path.join(builddir, "maybep2pctl"), "-c", h.config_path, "status"],
                           capture_output=True, text=True, timeout=30, env=env)
        ok(r.returncode == 0 and "id " in r.stdout, "maybep2pctl -c finds the socket through RUNTIME_DIRECTORY")
        ok(h.stop() == 0, "the host stops cleanly")
    finally:
        h.cleanup()


def main():
    if not os.path.exists(UNIT):
        print("FAIL - %s was not built" % UNIT)
        return 1
    security()
    verify()
    directives()
    systemd_dirs()
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
