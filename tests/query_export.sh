#!/bin/sh
# query_export: `cprof-query export`, one merged pprof profile of a selection of stored data
# (the read API's cprof.export_nodes). Real Go profiles (tests/gofixtures: cpu with recursion
# and inlining, heap with four sample types, mutex, goroutine) are loaded at known minutes for
# two envs across an hour boundary and rolled up, so the stacks come from minute and hour tiers.
# For every selection and every sample type in the file, `go tool pprof -top` on the exported
# file equals `cprof-query top` on the same selection, function by function (flat and cum);
# pprof's default sample type is top's default; for the cpu selection the export also equals
# pprof merging the original files; --sample-type keeps one type; the comment names the
# selection; standard output gets the same bytes; the read-only role may export; an empty
# selection, bad options and an unwritable path fail clearly and leave no file behind.
set -u
. "$CPROF_ROOT/tests/lib.sh"
. "$CPROF_ROOT/tests/pg.sh"
work=$CPROF_WORK
tally query_export
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

# pprof_default_tsv FILE: pprof's flat/cum per function for the file's default sample type
# (the one `go tool pprof -raw` marks [dflt]).
pprof_default_tsv() {
	_unit=$(go tool pprof -raw "$1" 2>/dev/null | tr ' ' '\n' | sed -n 's|.*/\(.*\)\[dflt\]$|\1|p')
	go tool pprof -top -symbolize=none -nodefraction=0 -nodecount=1000000 -unit="$_unit" "$1" 2>/dev/null |
		"$fixtures" toptsv
}
# top_tsv SELECTION...: cprof-query top of a selection, sorted as pprof_top_tsv sorts.
top_tsv() {
	echo "function${tab}flat${tab}cum"
	"$q" top --pg "$db" "$@" --format tsv -n 0 | tail -n +2 | sort
}
# same LABEL WANT GOT: the two tables are equal and not empty.
same() {
	if [ "$(wc -l <"$2")" -gt 2 ] && cmp -s "$2" "$3"; then ok; else
		bad "$1 (< cprof top, > pprof on the export): $(diff "$2" "$3" | head -n 6)"
	fi
}

# check NAME TYPE ENV: the export of shop's TYPE profiles (ENV, or all envs when "-") against top,
# for every sample type stored for TYPE, and for the default one.
check() {
	name=$1 type=$2 env=$3
	sel="--service shop --type $type --since $since --until $until"
	[ "$env" != - ] && sel="$sel --env $env"
	out=$work/$type.$env.pb.gz
	# shellcheck disable=SC2086 # the selection is a list of words
	"$q" export --pg "$db" $sel --output "$out" 2>"$work/err" || { bad "$name: export: $(cat "$work/err")"; return; }
	[ "$(head -c 2 "$out" | od -An -tx1 | tr -d ' ')" = 1f8b ] && ok || bad "$name: the export is not gzip'd"
	n=0
	for type_unit in $(sql "SELECT DISTINCT sample_type || ':' || sample_unit FROM cprof.series
	                        WHERE service = 'shop' AND profile_type = '$type' ORDER BY 1"); do
		st=${type_unit%%:*} unit=${type_unit#*:}
		# shellcheck disable=SC2086
		top_tsv $sel --sample-type "$st" >"$work/want"
		pprof_top_tsv "$st" "$unit" "$out" >"$work/got"
		same "$name, $st" "$work/want" "$work/got"
		n=$((n + 1))
	done
	[ "$n" -gt 0 ] || bad "$name: no sample types stored"
	# shellcheck disable=SC2086
	top_tsv $sel >"$work/want"
	pprof_default_tsv "$out" >"$work/got"
	same "$name, pprof's default sample type" "$work/want" "$work/got"
}

check "cpu, production" cpu production
check "cpu, both envs" cpu -
check "heap" heap production
check "mutex" mutex production
check "goroutine" goroutine production

# The cpu export of production equals pprof merging the files stored for it.
for type_unit in samples:count cpu:nanoseconds; do
	pprof_top_tsv "${type_unit%%:*}" "${type_unit#*:}" "$work/cpu.production.pb.gz" >"$work/export.tsv"
	pprof_top_tsv "${type_unit%%:*}" "${type_unit#*:}" "$fx/cpu.pb.gz" "$fx/cpu2.pb.gz" "$fx/cpu.pb.gz" >"$work/files.tsv"
	if [ "$(wc -l <"$work/files.tsv")" -gt 2 ] && cmp -s "$work/files.tsv" "$work/export.tsv"; then ok; else
		bad "${type_unit%%:*}: pprof on the export differs from pprof on the files: $(diff "$work/files.tsv" "$work/export.tsv" | head -n 4)"
	fi
done

# The header: the selection in a comment, the sample types with the default marked, and the
# profiled time of the profiles merged (three 1 s cpu profiles).
go tool pprof -raw "$work/cpu.production.pb.gz" >"$work/raw" 2>&1
grep -q "cprof export: cpu profiles of shop, env production from ${since%Z}.000000Z to ${until%Z}.000000Z" "$work/raw" && ok ||
	bad "no comment naming the selection: $(head -n 8 "$work/raw")"
grep -qx 'cpu/nanoseconds\[dflt\] samples/count' "$work/raw" && ok ||
	bad "the sample types or the default are wrong: $(grep -A1 '^Samples:' "$work/raw")"
want_nanos=$(sql "SELECT sum(duration_nanos) FROM cprof.profiles WHERE env = 'production' AND profile_type = 'cpu'")
got_seconds=$(sed -n 's/^Duration: //p' "$work/raw")
awk -v n="$want_nanos" -v got="$got_seconds" 'BEGIN { d = got - n / 1e9; exit !(got != "" && d < 0.01 && d > -0.01) }' &&
	ok || bad "Duration '$got_seconds' is not the profiled time $want_nanos ns"

# --sample-type keeps one type; standard output gets the same bytes as --output.
sel="--service shop --type heap --since $since --until $until"
# shellcheck disable=SC2086
"$q" export --pg "$db" $sel --sample-type alloc_space -o "$work/alloc.pb.gz" 2>"$work/err" || bad "export --sample-type: $(cat "$work/err")"
go tool pprof -raw "$work/alloc.pb.gz" 2>&1 | grep -qx 'alloc_space/bytes\[dflt\]' && ok || bad "--sample-type alloc_space: not the only type"
# shellcheck disable=SC2086
top_tsv $sel --sample-type alloc_space >"$work/want"
pprof_default_tsv "$work/alloc.pb.gz" >"$work/got"
same "--sample-type alloc_space" "$work/want" "$work/got"
# shellcheck disable=SC2086
"$q" export --pg "$db" $sel --sample-type alloc_space | cmp -s - "$work/alloc.pb.gz" && ok || bad "standard output differs from --output"

# The read-only role of Grafana and analysts may export.
sql "CREATE ROLE export_reader LOGIN IN ROLE cprof_reader" >/dev/null
"$q" export --pg "$db user=export_reader" --service shop --env production --since "$since" --until "$until" \
	-o "$work/reader.pb.gz" 2>"$work/err" && cmp -s "$work/reader.pb.gz" "$work/cpu.production.pb.gz" && ok ||
	bad "the reader role: $(cat "$work/err")"

# Failures: the exit status, a clear message, no file (nor a temporary one) left behind.
expect_fail() { # STATUS TEXT ARG...
	want=$1 text=$2
	shift 2
	rm -f "$work/fail.pb.gz"
	"$q" export "$@" >"$work/out" 2>"$work/err"
	st=$?
	[ "$st" = "$want" ] && [ ! -s "$work/out" ] && [ -z "$(find "$work" -maxdepth 1 -name 'fail.pb.gz*')" ] &&
		grep -qF -- "$text" "$work/err" && ok ||
		bad "export $*: exit $st (want $want), $(head -n 2 "$work/err") (want '$text')"
}
expect_fail 1 "no cpu profiles" --pg "$db" --service shop --since 10m -o "$work/fail.pb.gz"
expect_fail 1 "no service 'nope'" --pg "$db" --service nope --since "$since" -o "$work/fail.pb.gz"
expect_fail 1 "sample type 'nope' is not stored" --pg "$db" --service shop --since "$since" --sample-type nope -o "$work/fail.pb.gz"
expect_fail 2 "unknown option '--file'" --file "$fx/cpu.pb.gz" -o "$work/fail.pb.gz"
expect_fail 2 "unexpected argument 'extra'" --pg "$db" -o "$work/fail.pb.gz" extra
expect_fail 1 "$work/nodir/x.pb.gz" --pg "$db" --service shop --since "$since" --until "$until" -o "$work/nodir/x.pb.gz"

finish
