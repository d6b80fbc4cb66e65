#!/bin/sh
# crafted: compares `cprof-query top` with `go tool pprof -top`, exactly, on the hand-built
# edge-case profiles that craft_profiles writes (recursion, inlining, unnamed frames, odd names and
# values, drop_frames/keep_frames, merging): one test case per file and sample index, one per merge
# set and sample index, plus the default sample type and the escaping of names with line breaks.
# Every case first checks that pprof accepted the input, so a file pprof rejects never passes as
# an empty-equals-empty comparison; the one file pprof is known to reject (function_id_zero) is
# compared through its twin and its rejection is asserted. Needs `go` (exit 77 without it).
# Environment: see tests/run. Prints one block per failing case and a final summary line.
set -u
. "$CPROF_ROOT/tests/lib.sh"

if ! command -v go >/dev/null 2>&1; then
	echo "crafted: go is not installed; no pprof to compare with"
	exit 77
fi

tool=$CPROF_BUILD/tests/craft_profiles
dir=$CPROF_WORK/crafted
tab=$(printf '\t')
pass=0 fail=0
# pprof looks for local copies of mapped files under PPROF_BINARY_PATH (default ~/pprof/binaries)
# and would rename mappings it finds; point it at an empty folder so the results never depend on
# the machine.
export PPROF_BINARY_PATH="$CPROF_WORK/no-binaries"
mkdir -p "$PPROF_BINARY_PATH"

passed() { pass=$((pass + 1)); }
failed() { # label [detail...]
	echo "FAIL $1"
	shift
	for line in "$@"; do printf '%s\n' "$line" | sed 's/^/    /'; done
	fail=$((fail + 1))
}

# pprof_top_tsv_multiline INDEX UNIT FILE...: pprof_top_tsv for names holding LF or CR. pprof
# prints such names raw, so a row spans several lines and Go's line scanner drops a CR that ends
# one. Rows are rejoined here (a line that does not start like a row continues the one before),
# with LF and CR carried past the converter as placeholders and then escaped as \n and \r.
pprof_top_tsv_multiline() {
	index=$1 unit=$2
	shift 2
	lf_mark=$(printf '\001LF\001') cr_mark=$(printf '\001CR\001')
	go tool pprof -top -symbolize=none -nodefraction=0 -nodecount=1000000 \
		-sample_index="$index" -unit="$unit" "$@" 2>/dev/null </dev/null |
		awk -v lf="$lf_mark" -v cr="$cr_mark" '
			{ gsub(/\r/, cr) }
			!body { print; if ($0 ~ /^ *flat  flat%/) body = 1; next }
			/^ *[^ ]+ +[^ ]+% +[^ ]+% +[^ ]+ +[^ ]+%  / { if (have) print row; row = $0; have = 1; next }
			{ row = row lf $0 }
			END { if (have) print row }' |
		"$(gofixtures_bin)" toptsv | sed "s/$lf_mark/\\\\n/g; s/$cr_mark/\\\\r/g"
}

# sorted FILE: the header line, then the rows in byte order (the two sides sort raw and escaped
# names differently; row order is not what is compared).
sorted() {
	head -n 1 "$1"
	tail -n +2 "$1" | sort
}

# compare_collisions LABEL PPROF_ROWS CPROF_TSV: cprof has one row per printed name where pprof
# may print several (unnamed functions apart by start line or mapping path, and functions
# really named like unnamed frames). Names must be the same set; a name pprof printed once must
# match exactly; for a name printed several times, flat must be their sum and cum must lie
# between the largest row's cum and their sum. The case must hold at least one collision.
compare_collisions() {
	label=$1
	report=$(awk -F '\t' '
		FNR == 1 { next }
		NR == FNR { flat[$1] = $2; cum[$1] = $3; cmax[$1] = $4; rows[$1] = $5; next }
		{
			seen[$1] = 1
			if (!($1 in flat)) { print "only in cprof: " $0; next }
			if (rows[$1] > 1) {
				collisions++
				if ($2 != flat[$1] || $3 < cmax[$1] || $3 > cum[$1])
					print "collision " $1 ": cprof " $2 "/" $3 ", pprof flat " flat[$1] " cum " cmax[$1] ".." cum[$1] " over " rows[$1] " rows"
			} else if ($2 != flat[$1] || $3 != cum[$1]) {
				print "differs " $1 ": cprof " $2 "/" $3 ", pprof " flat[$1] "/" cum[$1]
			}
		}
		END {
			for (n in flat) if (!(n in seen)) print "only in pprof: " n
			if (!collisions) print "no name printed twice by pprof: not a collision case"
		}' "$2" "$3")
	if [ -z "$report" ]; then
		passed
	else
		failed "$label: cprof and pprof disagree beyond name collisions:" "$(echo "$report" | head -n 12)"
	fi
}

# compare LABEL ORACLE INDEX UNIT CPROF_FILES... [-- ORACLE_FILES...]: one test case.
# INDEX "" means no index: each tool's default sample type.
compare() {
	label=$1 oracle=$2 index=$3 unit=$4
	shift 4
	cprof_files='' oracle_files='' seen_sep=0
	for f in "$@"; do
		if [ "$f" = -- ]; then seen_sep=1; continue; fi
		if [ $seen_sep = 0 ]; then cprof_files="$cprof_files $f"; else oracle_files="$oracle_files $f"; fi
	done
	[ -n "$oracle_files" ] || oracle_files=$cprof_files
	want=$CPROF_WORK/want.tsv got=$CPROF_WORK/got.tsv err=$CPROF_WORK/got.err
	# The file lists are split on purpose: craft_profiles names files without spaces, and the
	# work folder that tests/run makes has none.
	# shellcheck disable=SC2086
	case $oracle in
	pprof) pprof_top_tsv "$index" "$unit" $oracle_files </dev/null >"$want.raw" ;;
	pprof-multiline) pprof_top_tsv_multiline "$index" "$unit" $oracle_files >"$want.raw" ;;
	pprof-collisions)
		go tool pprof -top -symbolize=none -nodefraction=0 -nodecount=1000000 -sample_index="$index" \
			-unit="$unit" $oracle_files 2>/dev/null </dev/null | "$(gofixtures_bin)" toptsv -rows >"$want.rows"
		cut -f 1-3 "$want.rows" >"$want.raw"
		;;
	*) failed "$label: unknown oracle '$oracle' in the MANIFEST"; return ;;
	esac
	if [ "$(head -n 1 "$want.raw")" != "function${tab}flat${tab}cum" ]; then
		# shellcheck disable=SC2086
		failed "$label: pprof did not accept the input, or printed no table:" \
			"$(go tool pprof -top -symbolize=none -sample_index="$index" $oracle_files 2>&1 </dev/null | head -n 3)"
		return
	fi
	if [ -n "$index" ]; then
		# shellcheck disable=SC2086
		cprof_top_tsv "$index" $cprof_files </dev/null >"$got.raw" 2>"$err"
	else
		# shellcheck disable=SC2086
		"$CPROF_BIN/cprof-query" top --format tsv -n 0 --file $cprof_files </dev/null >"$got.raw" 2>"$err"
	fi
	status=$?
	if [ $status -ne 0 ] || [ -s "$err" ]; then
		failed "$label: cprof-query failed (exit $status):" "$(head -n 5 "$err")"
		return
	fi
	sorted "$want.raw" >"$want"
	sorted "$got.raw" >"$got"
	if [ "$oracle" = pprof-collisions ]; then
		compare_collisions "$label" "$want.rows" "$got"
		return
	fi
	if cmp -s "$want" "$got"; then
		passed
	else
		failed "$label: cprof differs from pprof (< pprof, > cprof):" "$(diff "$want" "$got" | grep '^[<>]' | head -n 12)"
	fi
}

# The sample type at INDEX of a MANIFEST types field ("type/unit type/unit ..."), as "type unit".
type_at() { # TYPES INDEX
	echo "$1" | tr ' ' '\n' | sed -n "$(($2 + 1))p" | tr '/' ' '
}

if [ ! -x "$tool" ]; then
	echo "crafted: $tool is missing: run 'make all' first"
	echo "crafted: 0 passed, 1 failed"
	exit 1
fi
rm -rf "$dir"
if ! "$tool" "$dir" >"$CPROF_WORK/craft.log" 2>&1; then
	echo "crafted: craft_profiles failed:"
	cat "$CPROF_WORK/craft.log"
	echo "crafted: 0 passed, 1 failed"
	exit 1
fi

# Every profile and merge set of the MANIFEST, at every sample index.
while IFS="$tab" read -r kind files types oracle _about <&3; do
	case $kind in
	profile | merge) ;;
	*) continue ;;
	esac
	paths=$(echo "$files" | tr ',' '\n' | sed "s|^|$dir/|" | tr '\n' ' ')
	ntypes=$(echo "$types" | wc -w)
	case $oracle in
	twin:*)
		twin=$dir/${oracle#twin:}
		# The file is kept out of pprof's way for a reason: make sure the reason still holds.
		# shellcheck disable=SC2086
		if go tool pprof -top -symbolize=none $paths </dev/null 2>/dev/null | grep -q 'flat  flat%'; then
			failed "$files: pprof now accepts it: compare it with pprof directly (MANIFEST oracle pprof)"
		else
			passed
		fi
		oracle=pprof
		;;
	*) twin= ;;
	esac
	type_index=0
	while [ $type_index -lt "$ntypes" ]; do
		# shellcheck disable=SC2046 # "type unit" becomes $1 and $2
		set -- $(type_at "$types" $type_index)
		label="$files [$type_index $1/$2]"
		if [ -n "$twin" ]; then
			# shellcheck disable=SC2086
			compare "$label (oracle: pprof on $(basename "$twin"))" "$oracle" $type_index "$2" $paths -- "$twin"
		else
			# shellcheck disable=SC2086
			compare "$label" "$oracle" $type_index "$2" $paths
		fi
		type_index=$((type_index + 1))
	done
done 3<"$dir/MANIFEST"

# No index given: both tools pick default_sample_type (alloc_space), not the last type; or the last
# type when default_sample_type names none of them.
compare "default_sample_type.pb.gz [default: alloc_space/bytes]" pprof "" bytes "$dir/default_sample_type.pb.gz"
compare "default_sample_type_unknown.pb.gz [default: cpu/nanoseconds]" pprof "" nanoseconds \
	"$dir/default_sample_type_unknown.pb.gz"

# Names with line breaks reach the TSV escaped, one row each (checked on cprof's own output, so
# it holds even if the rejoining of pprof's rows above were to go wrong).
if cprof_top_tsv 0 "$dir/names_newline_cr.pb.gz" </dev/null >"$CPROF_WORK/newline.tsv" 2>"$CPROF_WORK/newline.err"; then
	missing=
	# shellcheck disable=SC1003 # the backslashes are the escapes expected in the TSV
	for name in 'two\nlines' 'three\nline\nname' 'ends_with_cr\r' 'cr_lf\r\nsplit' '\nleading_newline' \
		'ends_with_lf\n' 'mid\rcr' 'tab\tand\nnewline\\'; do
		cut -f 1 "$CPROF_WORK/newline.tsv" | grep -Fxq -e "$name" || missing="$missing $name"
	done
	rows=$(tail -n +2 "$CPROF_WORK/newline.tsv" | wc -l)
	if [ -z "$missing" ] && [ "$rows" -eq 9 ]; then
		passed
	else
		failed "names_newline_cr.pb.gz: escaped names in cprof's TSV: missing:${missing:- none}; $rows rows, want 9 (8 names and main)"
	fi
else
	failed "names_newline_cr.pb.gz: cprof-query failed:" "$(head -n 5 "$CPROF_WORK/newline.err")"
fi

echo "crafted: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
