#!/bin/sh
# fuzz: the decoder fuzzer as part of the test run. Builds build/fuzz/fuzz_pprof (clang,
# libFuzzer, ASan, UBSan), replays every saved reproducer in tests/fuzz/regressions (inputs
# that once crashed it: each must now pass), then fuzzes for ${CPROF_FUZZ_SECONDS:-30} seconds
# over the corpus kept in build/fuzz/corpus (tests/fuzz/run-fuzz). Skipped (77) where clang
# is missing.
set -u

root=$CPROF_ROOT
seconds=${CPROF_FUZZ_SECONDS:-30}
fuzz_bin="$root/build/fuzz/fuzz_pprof"
passed=0 failed=0

if ! command -v clang >/dev/null 2>&1; then
	echo "fuzz: clang is not installed (make deps installs it); skipped"
	exit 77
fi

if ! make -C "$root" build/fuzz/fuzz_pprof >"$CPROF_WORK/build.log" 2>&1; then
	tail -n 30 "$CPROF_WORK/build.log"
	echo "fuzz: building the fuzzer failed"
	echo "fuzz: 0 passed, 1 failed"
	exit 1
fi

# Saved reproducers: one run of the target each.
for input in "$root"/tests/fuzz/regressions/*; do
	[ -f "$input" ] || continue
	name=$(basename "$input")
	if "$fuzz_bin" -timeout=10 -rss_limit_mb=2048 "$input" >"$CPROF_WORK/replay.log" 2>&1; then
		passed=$((passed + 1))
		echo "ok   regression $name"
	else
		failed=$((failed + 1))
		echo "FAIL regression $name:"
		grep -aE -A 12 'runtime error|ERROR|deadly signal' "$CPROF_WORK/replay.log" | head -n 30
	fi
done

# Fuzzing: one more test, passed when no crash was found.
fuzz_log="$CPROF_WORK/run-fuzz.log"
if "$root/tests/fuzz/run-fuzz" "$fuzz_bin" "$seconds" >"$fuzz_log" 2>&1; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi
grep -v '^fuzz: [0-9]* passed' "$fuzz_log"

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
