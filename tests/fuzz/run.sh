#!/usr/bin/env bash
# run.sh -- builds every tests/fuzz/fuzz_*.c harness with clang's libFuzzer
# and runs each for a few seconds. A harness names the project sources it
# needs on a line of its own: "// sources: host/frame.c host/diag.c".
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-20}
out="$top/_build-fuzz"
mkdir -p "$out"
for harness in "$top"/tests/fuzz/fuzz_*.c; do
	name=$(basename "$harness" .c)
	sources=$(sed -n 's|^// sources: ||p' "$harness")
	libs=$(sed -n 's|^// libs: ||p' "$harness")
	srcs=()
	for s in $sources; do srcs+=("$top/$s"); done
	echo "--- $name (${seconds}s)"
	# shellcheck disable=SC2086
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-I"$top/tests/fuzz" -I"$top/sdk/include" -I"$top/host" \
		"$harness" "${srcs[@]}" -o "$out/$name" $libs
	mkdir -p "$out/$name.corpus"
	"$out/$name" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=0 \
		"$out/$name.corpus" 2>"$out/$name.log" || { tail -50 "$out/$name.log"; exit 1; }
	grep -E "^#[0-9]+.*DONE" "$out/$name.log" | tail -1 || true
done
