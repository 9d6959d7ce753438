#!/bin/sh
# check.sh -- fails when the public headers change the plugin ABI in a way
# their version numbers do not allow.
#
#   sdk/abi/check.sh                 check sdk/include against the baseline
#   sdk/abi/check.sh -I DIR          check the headers under DIR instead
#   sdk/abi/check.sh --update        make the current headers the baseline
#
# It compiles anchor.c (one function naming every public type) into a shared
# object with debug information, dumps its ABI with abidw, shows abidiff's
# report against the committed baseline (plugin-abi.xml), and lets
# abicompat.py decide whether the difference only appends (allowed with a
# minor bump) or breaks plugins already built (allowed only with a major
# bump, which also renames the entry symbol). Constants (#define MP2P_...)
# are compared too: their values are compiled into every plugin.
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

version_of() {
	sed -n "s/^#define MP2P_ABI_$2 \([0-9]*\)$/\1/p" "$1"
}
cur_major=$(version_of "$tmp/plugin-abi.constants" MAJOR)
cur_minor=$(version_of "$tmp/plugin-abi.constants" MINOR)
if [ -z "$cur_major" ] || [ -z "$cur_minor" ]; then
	echo "check.sh: MP2P_ABI_MAJOR or MP2P_ABI_MINOR missing from the headers" >&2
	exit 1
fi

if [ $update = yes ]; then
	cp "$tmp/plugin-abi.xml" "$tmp/plugin-abi.constants" "$here/" || exit 1
	echo "check.sh: baseline is now ABI $cur_major.$cur_minor; commit sdk/abi/plugin-abi.*"
	exit 0
fi

base_major=$(version_of "$here/plugin-abi.constants" MAJOR)
base_minor=$(version_of "$here/plugin-abi.constants" MINOR)
echo "check.sh: headers declare ABI $cur_major.$cur_minor, baseline is $base_major.$base_minor"

symbol=$(sed -n 's/^#define MP2P_PLUGIN_SYMBOL "\(.*\)"$/\1/p' "$tmp/plugin-abi.constants")
if [ "$symbol" != "mp2p_plugin_v$cur_major" ]; then
	echo "check.sh: FAIL: the entry symbol is '$symbol' but the major is $cur_major:" \
		"a host of another major would misread it" >&2
	exit 1
fi
if [ "$cur_major" -lt "$base_major" ] ||
   { [ "$cur_major" -eq "$base_major" ] && [ "$cur_minor" -lt "$base_minor" ]; }; then
	echo "check.sh: FAIL: the version went backwards" >&2
	exit 1
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
if [ $verdict -ne 0 ]; then
	echo "--- abidiff baseline current"
	sed 's/^/  /' "$tmp/abidiff.txt"
	echo "--- what each change means for plugins already built"
	sed 's/^/  /' "$tmp/verdict.txt"
fi

case $verdict in
0)
	if [ $((abidiff_status & 12)) -ne 0 ]; then
		# abidiff saw something the classifier does not model: be safe.
		sed 's/^/  /' "$tmp/abidiff.txt"
		echo "check.sh: FAIL: abidiff reports a change abicompat.py cannot classify" >&2
		exit 1
	fi
	echo "check.sh: ok: the ABI is unchanged"
	;;
10)
	if [ "$cur_major" -eq "$base_major" ] && [ "$cur_minor" -eq "$base_minor" ]; then
		echo "check.sh: FAIL: the ABI grew but MP2P_ABI_MINOR is still $cur_minor:" \
			"bump it, then refresh the baseline (sdk/abi/README.md)" >&2
		exit 1
	fi
	echo "check.sh: ok: compatible additions under ABI $cur_major.$cur_minor"
	;;
20)
	if [ "$cur_major" -eq "$base_major" ]; then
		echo "check.sh: FAIL: incompatible change without a major bump:" \
			"plugins built against $base_major.$base_minor would break" >&2
		exit 1
	fi
	echo "check.sh: ok: incompatible changes under a new major ($cur_major);" \
		"refresh the baseline in the same commit (sdk/abi/README.md)"
	;;
*)
	echo "check.sh: abicompat.py failed" >&2
	exit 1
	;;
esac
exit 0
