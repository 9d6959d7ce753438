#!/usr/bin/env python3
"""guide_test.py -- the author's guide tells the truth about itself: the
complete plugin that opens sdk/README.md is examples/minimal/greet.c word
for word and under 80 lines, and the man pages format without warnings."""
import os
import re
import shutil
import subprocess
import sys

from mp2ptest import Check, srcdir


def main():
    ok = Check("guide_test")
    with open(os.path.join(srcdir, "sdk", "README.md"), encoding="utf-8") as f:
        guide = f.read()
    with open(os.path.join(srcdir, "sdk", "examples", "minimal", "greet.c"), encoding="utf-8") as f:
        greet = f.read()
    blocks = re.findall(r"```c\n(.*?)```", guide, flags=re.S)
    ok(len(blocks) > 0 and blocks[0] == greet, "the guide opens with examples/minimal/greet.c as it is")
    ok(len(greet.splitlines()) < 80, "the complete plugin is under 80 lines (%d)" % len(greet.splitlines()))
    ok(guide.index("```c") < guide.index("## The lifecycle"), "and it comes before everything else")

    groff = shutil.which("groff")
    if groff is None:
        print("skip - groff not installed: man pages not formatted")
    else:
        for page in ("maybep2pd.8", "maybep2pctl.8", "maybep2p.conf.5", "maybep2p-plugin.3"):
            r = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z", os.path.join(srcdir, "sdk", "man", page)],
                               capture_output=True, text=True)
            ok(r.returncode == 0 and r.stderr == "", "%s formats without warnings %s" % (page, r.stderr.strip()))
    return ok.done()


if __name__ == "__main__":
    sys.exit(main())
