#!/bin/sh
# query_flame: flame graphs from stored data and from files (`cprof-query flame`, the read API's
# cprof.flame_graph and cprof.flame_folded). Real Go profiles (tests/gofixtures: cpu with
# recursion and inlining, heap, mutex, goroutine) are loaded at known minutes for two envs and
# spread over an hour boundary, then rolled up, so the stacks are read from minute and hour tiers.
# For every profile and sample type: the folded stacks and the frame from PostgreSQL equal those of
# the same files read directly; the folded stacks give back, per function, exactly the flat
# (value at the leaf) and cum (value of every stack holding the function, once) that
# `cprof-query top` reports, so the flame graph agrees with pprof's numbers; the frame is what
# Grafana's flame graph panel needs: one root "total" at level 0 first, depth-first pre-order
# (each level at most one deeper than the row before), value >= self, every value the sum of its
# self and its children's values, the root's value the selection's total; cprof.flame_folded
# equals the command's output; the SVG (--format svg) is the same drawing from both, with a box
# per node wide enough, the root at 100% and one colour per package; the read-only role gets the same; an empty selection and bad
# options fail clearly.
set -u
. "$CPROF_ROOT/tests/lib.sh"
. "$CPROF_ROOT/tests/pg.sh"
work=$CPROF_WORK
tally query_flame
q=$CPROF_BIN/cprof-query
tab=$(printf '\t')

trap 'pg_stop "$work/pg"' EXIT
trap 'exit 1' INT TERM
pg_start "$work/pg" 0 || { bad "PostgreSQL did not start"; finish; }
db=$PG_CONNINFO
sql() { pg_psql "$work/pg" -F "$tab" -c "$1"; }
"$CPROF_BIN/cprof-worker" migrate --pg "$db" >/dev/null || bad "migrate"
shop_fixtures_stored "$db" || finish
[ "$(sql "SELECT count(*) FROM cprof.stack_hours_packed")" -gt 0 ] && ok || bad "no hour rows: the tiers are not exercised"

# check NAME TYPE SAMPLE_TYPE ENV FILE...: stored (shop, ENV or all envs when "-") against FILE...
check() {
	name=$1 type=$2 st=$3 env=$4
	shift 4
	sel="--service shop --type $type --sample-type $st --since $since --until $until"
	[ "$env" != - ] && sel="$sel --env $env"
	# shellcheck disable=SC2086 # the selection is a list of words
	"$q" flame --pg "$db" $sel >"$work/db.folded" 2>"$work/err" || { bad "$name: flame: $(cat "$work/err")"; return; }
	"$q" flame --sample-type "$st" --file "$@" >"$work/file.folded" 2>"$work/err" || bad "$name: flame --file: $(cat "$work/err")"
	sort "$work/db.folded" >"$work/db.sorted"
	sort "$work/file.folded" >"$work/file.sorted"
	[ -s "$work/db.sorted" ] && cmp -s "$work/db.sorted" "$work/file.sorted" && ok ||
		bad "$name: folded stacks, stored < files >: $(diff "$work/db.sorted" "$work/file.sorted" | head -n 4)"
	# shellcheck disable=SC2086
	"$q" flame --pg "$db" $sel --format frame >"$work/db.frame" 2>"$work/err" || bad "$name: frame: $(cat "$work/err")"
	"$q" flame --sample-type "$st" --file "$@" --format frame >"$work/file.frame" 2>&1
	cmp -s "$work/db.frame" "$work/file.frame" && ok ||
		bad "$name: frame, stored < files >: $(diff "$work/db.frame" "$work/file.frame" | head -n 4)"

	# the folded stacks' flat and cum per function equal top's
	awk '{ v = $NF; sub(/ [^ ]*$/, ""); n = split($0, f, ";"); flat[f[n]] += v
	       delete seen; for (i = 1; i <= n; i++) if (!(f[i] in seen)) { seen[f[i]] = 1; cum[f[i]] += v } }
	     END { for (k in cum) if (flat[k] != 0 || cum[k] != 0) printf "%s\t%.0f\t%.0f\n", k, flat[k], cum[k] }' \
		"$work/db.folded" | sort >"$work/from_folded"
	# shellcheck disable=SC2086
	"$q" top --pg "$db" $sel --format tsv -n 0 | tail -n +2 | sort >"$work/top"
	[ -s "$work/top" ] && cmp -s "$work/from_folded" "$work/top" && ok ||
		bad "$name: flat/cum from the folded stacks differ from top: $(diff "$work/from_folded" "$work/top" | head -n 4)"

	# the frame is what Grafana's flame graph panel needs
	awk -F "$tab" -v name="$name" '
		NR == 1 { next }
		NR == 2 { if ($1 != 0 || $4 != "total") { print name ": the first row is not the root: " $0; bad = 1 } }
		NR > 2 && $1 == 0 { print name ": a second root at row " NR; bad = 1 }
		NR > 2 && $1 > last + 1 { print name ": row " NR " jumps from level " last " to " $1; bad = 1 }
		$2 < $3 && $3 >= 0 { print name ": value < self at row " NR; bad = 1 }
		{ # close the nodes this row is not under, checking their sums
		  while (depth > 0 && lvl[depth] >= $1) { close_node(); }
		  depth++; lvl[depth] = $1; val[depth] = $2; sum[depth] = $3; last = $1 }
		function close_node() {
			if (sum[depth] != val[depth]) { print name ": a value is not self + children: level " lvl[depth]; bad = 1 }
			depth--; if (depth > 0) sum[depth] += val[depth + 1]
		}
		END { while (depth > 0) close_node(); exit bad }' "$work/db.frame" >"$work/frame.err" && ok ||
		bad "$(head -n 3 "$work/frame.err")"
	root=$(sed -n 2p "$work/db.frame" | cut -f 2)
	want=$(awk -F "$tab" '{ s += $2 } END { printf "%.0f", s }' "$work/top")
	[ "$root" = "$want" ] && ok || bad "$name: the root's value $root is not the total of the flat values $want"

	# the SVG: the same drawing from stored data and from the files (the title aside); a box for
	# every node at least 0.1 px wide; the root at 100%; one colour per package
	# shellcheck disable=SC2086
	"$q" flame --pg "$db" $sel --format svg | sed 6d >"$work/db.svg"
	"$q" flame --sample-type "$st" --file "$@" --format svg | sed 6d >"$work/file.svg"
	[ -s "$work/db.svg" ] && cmp -s "$work/db.svg" "$work/file.svg" && ok || bad "$name: the SVGs differ"
	boxes=$(grep -c '^<g class="f">' "$work/db.svg")
	want_boxes=$(awk -F "$tab" 'NR == 2 { t = $2 } NR > 1 && $2 > 0 && $2 / t * 1180 >= 0.1 { n++ } END { print n + 0 }' "$work/db.frame")
	[ "$boxes" -gt 1 ] && [ "$boxes" = "$want_boxes" ] && ok || bad "$name: $boxes boxes in the SVG, $want_boxes nodes wide enough"
	grep -q '^<g class="f"><title>total (.*, 100.00%)</title>' "$work/db.svg" && tail -n 1 "$work/db.svg" | grep -qx '</svg>' && ok ||
		bad "$name: no root box at 100%, or the SVG is not closed"
	fills=$(grep '^<g class="f"><title>main\.' "$work/db.svg" | sed 's/.*fill="\([^"]*\)".*/\1/' | sort -u | wc -l)
	[ "$fills" -le 1 ] && ok || bad "$name: the main package's boxes have $fills colours"

	# the SQL of Grafana and psql: cprof.flame_folded is the same
	envarg=NULL
	[ "$env" != - ] && envarg="'$env'"
	sql "SELECT stack || ' ' || value FROM cprof.flame_folded('$since', '$until', '$type', '$st', 'shop', $envarg)" |
		sort >"$work/sql.folded"
	cmp -s "$work/sql.folded" "$work/db.sorted" && ok || bad "$name: cprof.flame_folded differs from the command"
}

check "cpu, production" cpu cpu production "$fx/cpu.pb.gz" "$fx/cpu2.pb.gz" "$fx/cpu.pb.gz"
check "cpu samples, both envs" cpu samples - "$fx/cpu.pb.gz" "$fx/cpu2.pb.gz" "$fx/cpu.pb.gz" "$fx/cpu2.pb.gz" "$fx/cpu2.pb.gz"
check "heap inuse_space" heap inuse_space production "$fx/heap.pb.gz"
check "heap alloc_objects" heap alloc_objects production "$fx/heap.pb.gz"
check "mutex delay" mutex delay production "$fx/mutex.pb.gz"
check "goroutine" goroutine goroutine production "$fx/goroutine.pb.gz"

# the read-only role of Grafana gets the same frame
sql "CREATE ROLE flame_reader LOGIN IN ROLE cprof_reader" >/dev/null
"$q" flame --pg "$db user=flame_reader" --service shop --since "$since" --until "$until" --format frame >"$work/reader.frame" 2>&1
"$q" flame --pg "$db" --service shop --since "$since" --until "$until" --format frame >"$work/owner.frame" 2>&1
[ -s "$work/owner.frame" ] && cmp -s "$work/reader.frame" "$work/owner.frame" && ok ||
	bad "the reader role: $(head -c 300 "$work/reader.frame")"

# --svg is --format svg
"$q" flame --svg --file "$fx/cpu.pb.gz" >"$work/short.svg" 2>&1
"$q" flame --format svg --file "$fx/cpu.pb.gz" >"$work/long.svg" 2>&1
grep -q '^<svg ' "$work/short.svg" && cmp -s "$work/short.svg" "$work/long.svg" && ok || bad "--svg differs from --format svg"

# failures: nothing on stdout, a clear message, the exit status
expect_fail() { # STATUS TEXT ARG...
	want=$1 text=$2
	shift 2
	"$q" flame "$@" >"$work/out" 2>"$work/err"
	st=$?
	[ "$st" = "$want" ] && [ ! -s "$work/out" ] && grep -qF -- "$text" "$work/err" && ok ||
		bad "flame $*: exit $st (want $want), $(head -n 2 "$work/err") (want '$text')"
}
expect_fail 1 "no cpu profiles" --pg "$db" --service shop --since 10m
expect_fail 2 "--format wants folded, frame or svg" --file "$fx/cpu.pb.gz" --format svgz
expect_fail 2 "give one or the other" --file "$fx/cpu.pb.gz" --service shop
expect_fail 1 "sample type 'nope' not found" --file "$fx/cpu.pb.gz" --sample-type nope
printf 'not a profile' >"$work/bad.pb"
expect_fail 1 "bad.pb" --file "$fx/cpu.pb.gz" "$work/bad.pb"

finish
