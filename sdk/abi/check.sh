#!/bin/sh
# check.sh -- fails when the public headers change the plugin ABI in a way
# their version numbers do not allow.
#
#   sdk/abi/check.sh                 check sdk/include against the baseline
#   sdk/abi/check.sh -I DIR          check the headers under DIR instead
#   sdk/abi/check.sh --update        make the current headers the baseline
#
# It compiles anchor.c (functions naming every public type) into a shared
# object with debug information, dumps its ABI with abidw, shows abidiff's
# report against the committed baseline (plugin-abi.xml), and lets
# abicompat.py decide, header by header (plugin.h by MP2P_ABI_*, a service
# header by its service's version), whether the difference only appends
# (allowed with a minor bump) or breaks plugins already built (allowed only
# with a major bump, which for plugin.h also renames the entry symbol).
# Constants (#define MP2P_...) are compared too: their values are compiled
# into every plugin.
#
# Exit status: 0 allowed, 1 not allowed or failed, 77 the tools are missing.
# The rules and how to refresh the baseline: sdk/abi/README.md.
set -u

here=$(cd "$(dirname "$0")" && pwd)
include=$here/../include
update=no
while [ $# -gt 0 ]; do
	case $1 in
	-I) include=$2; shift 2 ;;
	--update) update=yes; shift ;;
	-h|--help) sed -n '2,17s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "check.sh: unknown argument '$1' (try --help)" >&2; exit 1 ;;
	esac
done

CC=${CC:-cc}
PYTHON3=${PYTHON3:-python3}
for tool in abidw abidiff; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "check.sh: $tool not found: install abigail-tools" >&2
		exit 77
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mp2p-abi.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# -fdebug-prefix-map keeps the checkout's location out of the dump, and
# abidw's options keep file paths and line numbers out: the baseline must
# not change when a comment moves a declaration down a line.
if ! $CC -std=gnu11 -g -O0 -shared -fPIC -fvisibility=hidden \
	-fdebug-prefix-map="$here"=. -fdebug-prefix-map="$include"=include \
	-I"$include" -o "$tmp/anchor.so" "$here/anchor.c"; then
	echo "check.sh: the headers under $include do not compile" >&2
	exit 1
fi
abidw --no-corpus-path --no-comp-dir-path --no-show-locs \
	--out-file "$tmp/plugin-abi.xml" "$tmp/anchor.so" || exit 1

# Object-like macros with a literal value: numbers and strings.
$CC -E -dM -I"$include" "$here/anchor.c" |
	grep -E '^#define MP2P_[A-Z0-9_]+ (0x[0-9a-fA-F]+u?|[0-9]+u?|"[^"]*")$' |
	LC_ALL=C sort > "$tmp/plugin-abi.constants"

if [ $update = yes ]; then
	cp "$tmp/plugin-abi.xml" "$tmp/plugin-abi.constants" "$here/" || exit 1
	echo "check.sh: the baseline is now:"
	grep -E '_(MAJOR|MINOR) ' "$here/plugin-abi.constants"
	echo "check.sh: commit sdk/abi/plugin-abi.*"
	exit 0
fi

abidiff "$here/plugin-abi.xml" "$tmp/plugin-abi.xml" > "$tmp/abidiff.txt" 2>&1
abidiff_status=$?
if [ $((abidiff_status & 3)) -ne 0 ]; then
	cat "$tmp/abidiff.txt" >&2
	echo "check.sh: abidiff failed (status $abidiff_status)" >&2
	exit 1
fi
"$PYTHON3" "$here/abicompat.py" "$here/plugin-abi.xml" "$tmp/plugin-abi.xml" \
	"$here/plugin-abi.constants" "$tmp/plugin-abi.constants" > "$tmp/verdict.txt"
verdict=$?
if [ $abidiff_status -ne 0 ]; then
	echo "--- abidiff baseline current"
	sed 's/^/  /' "$tmp/abidiff.txt"
fi
echo "--- what each change means for plugins already built"
cat "$tmp/verdict.txt"

if [ $verdict -eq 2 ]; then
	echo "check.sh: abicompat.py failed" >&2
	exit 1
fi
if [ $((abidiff_status & 12)) -ne 0 ] && grep -q '^no difference' "$tmp/verdict.txt"; then
	# abidiff saw something the classifier does not model: be safe.
	echo "check.sh: FAIL: abidiff reports a change abicompat.py cannot classify" >&2
	exit 1
fi
if [ $verdict -ne 0 ]; then
	echo "check.sh: FAIL: the headers change the ABI in a way their versions do not allow" \
		"(sdk/abi/README.md)" >&2
	exit 1
fi
echo "check.sh: ok"
exit 0
