#!/bin/sh
# cli_errors: `cprof-query top` on bad input. A bad profile file (empty, random bytes, cut
# gzip, missing, a directory, ...) must make the command exit 1 with nothing on stdout (no
# partial answer), and a message on stderr naming the file and saying what is wrong, also when
# the bad file comes after good ones in a merge. Usage errors must exit 2 with a message on
# stderr. Needs only the binaries (tests/run's CPROF_BIN and CPROF_WORK).
set -u
export LC_ALL=C

query="$CPROF_BIN/cprof-query"
work="$CPROF_WORK"
passed=0 failed=0

pass() {
	passed=$((passed + 1))
	echo "ok   $1"
}

fail() {
	failed=$((failed + 1))
	echo "FAIL $1: $2"
	echo "     stdout: $(head -c 400 "$work/out")"
	echo "     stderr: $(head -c 400 "$work/err")"
}

# expect NAME STATUS "NEEDLE1|NEEDLE2|..." ARGS...: runs cprof-query with ARGS, expects exit
# STATUS, an empty stdout, and every |-separated fixed string in stderr.
expect() {
	name=$1 want=$2 needles=$3
	shift 3
	"$query" "$@" >"$work/out" 2>"$work/err"
	status=$?
	if [ "$status" -ne "$want" ]; then
		fail "$name" "exit $status, expected $want"
		return
	fi
	if [ -s "$work/out" ]; then
		fail "$name" "printed on stdout"
		return
	fi
	old_ifs=$IFS
	IFS='|'
	for needle in $needles; do
		if ! grep -qF -- "$needle" "$work/err"; then
			IFS=$old_ifs
			fail "$name" "stderr lacks '$needle'"
			return
		fi
	done
	IFS=$old_ifs
	pass "$name"
}

# A valid profile of 52 bytes, raw protobuf, written field by field (octal escapes):
#   sample_type {type: 1 "samples", unit: 2 "count"}          0a 04 08 01 10 02
#   sample {location_id: [1], value: [5]} (packed)           12 06 0a 01 01 12 01 05
#   location {id: 1, line {function_id: 1}}                  22 06 08 01 22 02 08 01
#   function {id: 1, name: 3 "main"}                         2a 04 08 01 10 03
#   string_table "", "samples", "count", "main"              32 00, 32 07 ..., 32 05 ..., 32 04 ...
good="$work/good.pb"
printf '\012\004\010\001\020\002' >"$good"
printf '\022\006\012\001\001\022\001\005' >>"$good"
printf '\042\006\010\001\042\002\010\001' >>"$good"
printf '\052\004\010\001\020\003' >>"$good"
printf '\062\000\062\007samples\062\005count\062\004main' >>"$good"
gzip -9 -n -c "$good" >"$work/good.pb.gz"

# Bad files, made here so every run sees the same bytes.
: >"$work/empty.pb"
# 512 fixed pseudo-random bytes (an LCG), the same on every run.
awk 'BEGIN { x = 12345; for (i = 0; i < 512; i++) { x = (x * 1103515245 + 12345) % 2147483648; printf "%c", int(x / 65536) % 256 } }' >"$work/random.pb"
size=$(wc -c <"$work/good.pb.gz")
head -c $((size / 2)) "$work/good.pb.gz" >"$work/truncated.pb.gz"
printf 'this is not a profile\n' | gzip -n -c >"$work/text.gz"
cp "$work/good.pb.gz" "$work/garbage.pb.gz"
printf 'trailing' >>"$work/garbage.pb.gz"
mkdir -p "$work/a-directory"
# The good profile and an unknown field 15 of 1000 zero bytes (key 7a, length e8 07): about
# 100 bytes gzip'd, 1055 inflated.
cp "$good" "$work/padded.pb"
printf '\172\350\007' >>"$work/padded.pb"
head -c 1000 /dev/zero >>"$work/padded.pb"
gzip -9 -n -c "$work/padded.pb" >"$work/padded.pb.gz"
missing="$work/no-such-file.pb"

# The good files are good: main has flat 5 in each, 10 merged (so the merge cases mean something).
if "$query" top --format tsv --file "$good" "$work/good.pb.gz" >"$work/out" 2>"$work/err" &&
	"$query" top --file "$work/padded.pb.gz" >/dev/null 2>&1 &&
	grep -q "^main	10	10$" "$work/out"; then
	pass "good files merge"
else
	fail "good files merge" "expected the row 'main 10 10'"
fi

expect "empty file" 1 "$work/empty.pb: empty input (0 bytes): not a profile" \
	top --file "$work/empty.pb"
expect "random bytes" 1 "$work/random.pb: " \
	top --file "$work/random.pb"
expect "truncated gzip" 1 "$work/truncated.pb.gz: gzip: truncated stream" \
	top --file "$work/truncated.pb.gz"
expect "gzip of text" 1 "$work/text.gz: profile: field at byte 0: invalid field key" \
	top --file "$work/text.gz"
expect "gzip with trailing garbage" 1 "$work/garbage.pb.gz: gzip: 8 bytes of trailing garbage" \
	top --file "$work/garbage.pb.gz"
expect "nonexistent path" 1 "$missing|No such file or directory" \
	top --file "$missing"
expect "a directory" 1 "$work/a-directory|Is a directory" \
	top --file "$work/a-directory"
expect "file over --max-size" 1 "$work/good.pb: larger than the cap of 10 bytes" \
	top --max-size 10 --file "$work/good.pb"
expect "gzip inflating over --max-size" 1 "$work/padded.pb.gz: gzip: decompressed size exceeds the cap of 500 bytes" \
	top --max-size 500 --file "$work/padded.pb.gz"

# The random bytes' message says why, beyond the name.
if "$query" top --file "$work/random.pb" 2>&1 >/dev/null | grep -qE "random\.pb: [a-z_]+.{10,}"; then
	pass "random bytes: a reason"
else
	fail "random bytes: a reason" "no reason after the file name"
fi

# Bad files after good ones in a merge: still no partial answer.
expect "merge: good, good, empty" 1 "$work/empty.pb: empty input" \
	top --file "$good" "$work/good.pb.gz" "$work/empty.pb"
expect "merge: good, random" 1 "$work/random.pb: " \
	top --file "$good" --file "$work/random.pb"
expect "merge: good, truncated gzip" 1 "$work/truncated.pb.gz: gzip: truncated stream" \
	top --file "$good" "$work/truncated.pb.gz"
expect "merge: good, nonexistent" 1 "$missing|No such file or directory" \
	top --format json --file "$good" "$missing"
expect "merge: good, directory" 1 "$work/a-directory|Is a directory" \
	top --format csv --file "$work/good.pb.gz" "$work/a-directory"
expect "merge: bad first, then good" 1 "$work/empty.pb: empty input" \
	top --file "$work/empty.pb" "$good"

# Usage errors: exit 2.
expect "unknown option" 2 "unknown option '--bogus'" top --bogus --file "$good"
expect "--by bogus" 2 "--by wants flat or cum, not 'bogus'" top --by bogus --file "$good"
expect "--format bogus" 2 "--format wants table, tsv, csv or json, not 'bogus'" top --format bogus --file "$good"
expect "-n -1" 2 "-n wants a number >= 0, not '-1'" top -n -1 --file "$good"
expect "-n abc" 2 "-n wants a number >= 0, not 'abc'" top -n abc --file "$good"
expect "no --file: stored data, no database there" 1 "cannot connect to PostgreSQL" top --pg "host=$CPROF_WORK/nowhere port=1"
expect "no --file, a bare path" 2 "profiles are given with --file" top "$good"
expect "--sample-index x" 2 "--sample-index wants a number >= 0, not 'x'" top --sample-index x --file "$good"
expect "--max-size 0" 2 "--max-size wants a number of bytes > 0, not '0'" top --max-size 0 --file "$good"
expect "option without its value" 2 "needs a value" top --file "$good" --by
expect "index and type both" 2 "not both" top --sample-index 0 --sample-type samples --file "$good"
expect "unknown command" 2 "unknown command 'bogus'" bogus
expect "no command" 2 "usage: cprof-query"

echo "cli_errors: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
