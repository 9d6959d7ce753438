#!/usr/bin/env bash
# run-all.sh -- the whole test suite, as the README promises and CI runs it:
# a plain build with `make check`, the same suite under AddressSanitizer and
# UndefinedBehaviorSanitizer, the libFuzzer harnesses, and the ABI guard.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=${JOBS:-2}

step() { printf '\n=== %s\n' "$*"; }

# The suite builds in _build/ and _build-san/. A configure run in the
# source tree itself would make every such build refuse to start ("source
# directory already configured"), so that build is cleaned away first.
if [ -f config.status ]; then
	step "the source tree was configured in place: make distclean there"
	if [ -f Makefile ]; then make distclean >/dev/null; else rm -f config.status config.h config.log; fi
fi

step "autoreconf"
autoreconf -fi >/dev/null

step "build and make check"
mkdir -p _build && cd _build
"$top/configure" --quiet
make -j"$jobs" >/dev/null
make -j"$jobs" check || { cat tests/*.log tests/*/*.log 2>/dev/null | tail -200; exit 1; }

step "daemon tests with maybep2pd under valgrind"
for t in test_ctl test_reload test_abi11; do
	MP2P_VALGRIND=1 top_builddir="$top/_build" top_srcdir="$top" python3 "$top/tests/host/$t.py" | tail -1
	[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "$t failed under valgrind"; exit 1; }
done
for t in classicv1/test_cv1_three kademlia/test_kademlia_wire kademlia/test_kademlia_swap; do
	MP2P_VALGRIND=1 top_builddir="$top/_build" top_srcdir="$top" python3 "$top/tests/$t.py" | tail -1
	[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "$t failed under valgrind"; exit 1; }
done
cd "$top"

step "build and make check under ASan and UBSan"
mkdir -p _build-san && cd _build-san
"$top/configure" --quiet --enable-sanitizers
make -j"$jobs" >/dev/null
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	make -j"$jobs" check || { cat tests/*.log tests/*/*.log 2>/dev/null | tail -200; exit 1; }
cd "$top"

step "minimal build: --disable-classicv1 --disable-kademlia"
# No plugin with a library of its own is built: nothing links c-ares, only
# the daemon links OpenSSL (for the secure channel), and it still runs echo.
mkdir -p _build-min && cd _build-min
"$top/configure" --quiet --disable-classicv1 --disable-kademlia
make -j"$jobs" >/dev/null
if ls plugins/classicv1/.libs/*.so plugins/kademlia/.libs/*.so >/dev/null 2>&1; then
	echo "the minimal build built classicv1 or kademlia"; exit 1
fi
if ldd maybep2pd maybep2pctl plugins/echo/.libs/echo.so | grep -E 'libcares' ||
	ldd maybep2pctl plugins/echo/.libs/echo.so | grep -E 'libssl|libcrypto'; then
	echo "the minimal build links a library it should not need"; exit 1
fi
printf 'host: { plugin_dir = "%s"; };\nplugins = ( { name = "echo"; file = "echo.so"; } );\n' \
	"$PWD/plugins/echo/.libs" > minimal.conf
./maybep2pd -t -c minimal.conf
cd "$top"

step "fuzzers"
bash tests/fuzz/run.sh "${FUZZ_SECONDS:-20}"

if [ -f sdk/abi/check.sh ]; then
	step "ABI guard"
	bash sdk/abi/check.sh
fi
step "all passed"
# One closing line for whoever reads the log: test programs of both builds.
passed=$(grep -h '^# PASS:' _build/test-suite.log _build-san/test-suite.log | awk '{n += $3} END {print n + 0}')
failed=$(grep -h '^# FAIL:' _build/test-suite.log _build-san/test-suite.log | awk '{n += $3} END {print n + 0}')
echo "tests: $passed passed, $failed failed"
