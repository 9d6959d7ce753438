#!/usr/bin/env python3
"""kadanswer_bench.py -- runs kad_answer (see kad_answer.c): the time one
FNOD answer takes for tables of 100 to 8,192 entries, beside sorting the
whole table, in the same run.

Usage: kadanswer_bench.py --builddir DIR [--rounds N]"""

import argparse
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--builddir", default=os.environ.get("top_builddir", "."))
    ap.add_argument("--rounds", type=int, default=2000)
    args = ap.parse_args()
    exe = os.path.join(args.builddir, "tests", "bench", "kad_answer")
    return subprocess.run([exe, str(args.rounds)]).returncode


if __name__ == "__main__":
    sys.exit(main())
