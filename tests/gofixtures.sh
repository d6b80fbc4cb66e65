#!/bin/sh
# gofixtures: real profiles written at test time by a Go program with runtime/pprof (cpu, a second
# cpu, heap, allocs, mutex, block, goroutine), checked first for the features they are meant to
# exercise (inlined frames, recursion, the expected sample types), then read by cprof-query and by
# `go tool pprof`: for every file and every sample index (and for the two cpu profiles merged) the
# flat/cum of every function must be equal; for one cpu and one heap table the rows of
# `cprof-query top` must equal pprof's -top rows (units, percentages, ranking); the sample type
# picked by default must be pprof's. Environment: see tests/run. Prints one line per failure and a
# final summary line.
set -u
. "$CPROF_ROOT/tests/lib.sh"

work=$CPROF_WORK
query=$CPROF_BIN/cprof-query
fx_dir=$work/fx
files="cpu.pb.gz cpu2.pb.gz heap.pb.gz allocs.pb.gz mutex.pb.gz block.pb.gz goroutine.pb.gz"
heap_types=alloc_objects/count,alloc_space/bytes,inuse_objects/count,inuse_space/bytes
contention_types=contentions/count,delay/nanoseconds
passed=0 failed=0

pass() { passed=$((passed + 1)); }
fail() {
	echo "FAIL $*"
	failed=$((failed + 1))
}
finish() {
	echo "gofixtures: $passed passed, $failed failed"
	[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
	exit
}

if ! command -v go >/dev/null 2>&1; then
	echo "gofixtures: the go command is not installed; cannot write or read Go profiles"
	exit 77
fi

# ---- write the profiles ----

if ! fixtures=$(gofixtures_bin); then
	fail "building tests/gofixtures"
	finish
fi
pass
if ! "$fixtures" write "$fx_dir"; then
	fail "gofixtures write $fx_dir"
	finish
fi
pass
for f in $files; do
	if [ -s "$fx_dir/$f" ]; then pass; else fail "$f: missing or empty"; fi
done

# ---- prove the features ----

# fact FILE KEY: one value of `gofixtures inspect FILE` (see tests/gofixtures/inspect.go).
fact() {
	[ -f "$fx_dir/$1.facts" ] && tr ' ' '\n' <"$fx_dir/$1.facts" | sed -n "s/^$2=//p"
}
for f in $files; do
	[ -s "$fx_dir/$f" ] || continue
	if "$fixtures" inspect "$fx_dir/$f" >"$fx_dir/$f.facts"; then
		echo "$f: $(cat "$fx_dir/$f.facts")"
	else
		fail "gofixtures inspect $f"
		: >"$fx_dir/$f.facts"
	fi
done

# expect WHAT ACTUAL is|at-least EXPECTED: one test case (is: equal strings; at-least: numbers).
expect() {
	if [ "$3" = is ] && [ "$2" = "$4" ]; then
		pass
	elif [ "$3" = at-least ] && [ -n "$2" ] && [ "$2" -ge "$4" ]; then
		pass
	else
		fail "$1: got '$2', want $3 '$4'"
	fi
}
expect "cpu.pb.gz types" "$(fact cpu.pb.gz types)" is samples/count,cpu/nanoseconds
expect "cpu.pb.gz samples" "$(fact cpu.pb.gz samples)" at-least 20
expect "cpu.pb.gz locations with inlined frames" "$(fact cpu.pb.gz inlined_locations)" at-least 1
expect "cpu.pb.gz recursion" "$(fact cpu.pb.gz recursion)" is yes
expect "cpu2.pb.gz types" "$(fact cpu2.pb.gz types)" is samples/count,cpu/nanoseconds
expect "cpu2.pb.gz samples" "$(fact cpu2.pb.gz samples)" at-least 10
expect "heap.pb.gz types" "$(fact heap.pb.gz types)" is $heap_types
expect "heap.pb.gz recursion" "$(fact heap.pb.gz recursion)" is yes
expect "allocs.pb.gz types" "$(fact allocs.pb.gz types)" is $heap_types
expect "allocs.pb.gz default_sample_type" "$(fact allocs.pb.gz default_sample_type)" is alloc_space
expect "mutex.pb.gz types" "$(fact mutex.pb.gz types)" is $contention_types
expect "mutex.pb.gz samples" "$(fact mutex.pb.gz samples)" at-least 1
expect "block.pb.gz types" "$(fact block.pb.gz types)" is $contention_types
expect "block.pb.gz samples" "$(fact block.pb.gz samples)" at-least 1
expect "goroutine.pb.gz types" "$(fact goroutine.pb.gz types)" is goroutine/count
expect "goroutine.pb.gz samples" "$(fact goroutine.pb.gz samples)" at-least 48

# ---- flat/cum per function, every file and sample index ----

# compare_tsv LABEL IDX UNIT FILE...: cprof's and pprof's flat/cum tables must be equal.
compare_tsv() {
	label=$1 idx=$2 idx_unit=$3
	shift 3
	want=$work/want.tsv got=$work/got.tsv
	if ! pprof_top_tsv "$idx" "$idx_unit" "$@" >"$want"; then
		fail "$label: go tool pprof -top failed"
	elif ! cprof_top_tsv "$idx" "$@" >"$got"; then
		fail "$label: cprof-query top failed"
	elif cmp -s "$want" "$got"; then
		pass
	else
		fail "$label: cprof-query differs from pprof (< pprof, > cprof):"
		diff "$want" "$got" | head -n 10
	fi
}

# units FILE: the unit of every sample index, one per line.
units() {
	fact "$1" types | tr ',' '\n' | sed 's|.*/||'
}

for f in $files; do
	[ -s "$fx_dir/$f.facts" ] || continue
	idx=0
	for idx_unit in $(units "$f"); do
		compare_tsv "$f index $idx ($idx_unit)" "$idx" "$idx_unit" "$fx_dir/$f"
		idx=$((idx + 1))
	done
done
if [ -s "$fx_dir/cpu.pb.gz.facts" ] && [ -s "$fx_dir/cpu2.pb.gz.facts" ]; then
	idx=0
	for idx_unit in $(units cpu.pb.gz); do
		compare_tsv "cpu.pb.gz + cpu2.pb.gz index $idx ($idx_unit)" "$idx" "$idx_unit" \
			"$fx_dir/cpu.pb.gz" "$fx_dir/cpu2.pb.gz"
		idx=$((idx + 1))
	done
fi

# ---- table rows and the default sample type ----

# table_body: the rows after the column header of a -top table, without pprof's inline marks.
table_body() {
	sed -n '/^ *flat  flat%   sum%        cum   cum%$/,$p' | tail -n +2 |
		sed -e 's/ (partial-inline)$//' -e 's/ (inline)$//'
}

# pprof_table FILE [IDX], cprof_table FILE [IDX]: the -top tables (IDX absent: the default type).
pprof_table() {
	[ $# -ge 2 ] && set -- "-sample_index=$2" "$1"
	go tool pprof -top -symbolize=none -nodefraction=0 -nodecount=1000000 "$@" 2>/dev/null
}
cprof_table() {
	[ $# -ge 2 ] && set -- --sample-index "$2" --file "$1"
	[ $# -eq 1 ] && set -- --file "$1"
	"$query" top -n 0 "$@"
}

# compare_table LABEL FILE [IDX]: the rows of both tables must be identical.
compare_table() {
	label=$1
	shift
	pprof_table "$@" | table_body >"$work/want.table"
	if ! cprof_table "$@" >"$work/got.full"; then
		fail "$label: cprof-query top failed"
		return
	fi
	table_body <"$work/got.full" >"$work/got.table"
	if [ ! -s "$work/want.table" ]; then
		fail "$label: no rows from go tool pprof -top"
	elif cmp -s "$work/want.table" "$work/got.table"; then
		pass
	else
		fail "$label: cprof-query table rows differ from pprof's (< pprof, > cprof):"
		diff "$work/want.table" "$work/got.table" | head -n 10
	fi
}

# cpu_index: the position of the cpu sample type in cpu.pb.gz.
cpu_index() {
	fact cpu.pb.gz types | tr ',' '\n' | awk '/^cpu\// { print NR - 1 }'
}

if [ -s "$fx_dir/cpu.pb.gz.facts" ]; then
	compare_table "cpu.pb.gz table rows (cpu)" "$fx_dir/cpu.pb.gz" "$(cpu_index)"
fi
[ -s "$fx_dir/heap.pb.gz" ] && compare_table "heap.pb.gz table rows (default type)" "$fx_dir/heap.pb.gz"

for f in $files; do
	[ -s "$fx_dir/$f" ] || continue
	want=$(go tool pprof -top -symbolize=none -nodecount=1 "$fx_dir/$f" 2>/dev/null | grep '^Type: ')
	got=$("$query" top -n 1 --file "$fx_dir/$f" | grep '^Type: ')
	if [ -n "$want" ] && [ "$want" = "$got" ]; then
		pass
	else
		fail "$f default sample type: pprof '$want', cprof '$got'"
	fi
done

finish
