#!/bin/sh
# store: `cprof-worker load` writes real profiles to PostgreSQL exactly as the worker's store
# does, and what is stored equals cprof's own flattening: per function and sample type, the
# summed flat and cum in cprof.function_minutes equal `cprof-query top --file` (which equals
# go tool pprof, see gofixtures.sh); loading the same files again stores nothing twice; series
# totals and stack values add up.
set -u
. "$CPROF_ROOT/tests/lib.sh"
. "$CPROF_ROOT/tests/pg.sh"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

trap 'pg_stop "$CPROF_WORK/pg"' EXIT
trap 'exit 1' INT TERM
if ! pg_start "$CPROF_WORK/pg" 0; then
	echo "store: 0 passed, 1 failed (PostgreSQL did not start)"
	exit 1
fi
db=$PG_CONNINFO
sql() { pg_psql "$CPROF_WORK/pg" -F "$(printf '\t')" -c "$1"; }
worker() { "$CPROF_BIN/cprof-worker" "$@" --pg "$db"; }

worker migrate >/dev/null || bad "migrate"
fx=$CPROF_WORK/fx
if ! "$(gofixtures_bin)" write "$fx" >/dev/null 2>&1; then
	echo "store: 0 passed, 1 failed (could not write the Go fixtures)"
	exit 1
fi
files="$fx/cpu.pb.gz $fx/cpu2.pb.gz $fx/heap.pb.gz $fx/allocs.pb.gz $fx/mutex.pb.gz $fx/block.pb.gz $fx/goroutine.pb.gz"
# shellcheck disable=SC2086
out=$(worker load --service svc --env production --label team=core $files 2>&1)
case $out in "loaded: 7 profiles stored, 0 duplicates skipped"*) ok ;; *) bad "first load: $out" ;; esac

# stored_tsv TYPE SAMPLE_TYPE: the stored flat/cum per function, sorted like cprof_top_tsv.
stored_tsv() {
	echo "function${tab}flat${tab}cum"
	sql "SELECT f.name, sum(m.flat), sum(m.cum) FROM cprof.function_minutes m
	     JOIN cprof.functions f USING (function_id) JOIN cprof.series s USING (series_id)
	     WHERE s.service = 'svc' AND s.profile_type = '$1' AND s.sample_type = '$2'
	     GROUP BY f.name HAVING sum(m.flat) <> 0 OR sum(m.cum) <> 0" | sort
}
tab=$(printf '\t')
compare() { # TYPE FILES...: every sample type of the files' merge equals what is stored
	type=$1
	shift
	ntypes=$("$CPROF_BIN/cprof-query" top --format json -n 1 --file "$@" >/dev/null 2>&1; "$(gofixtures_bin)" inspect "$1" | sed -n 's/.*types=\([^ ]*\).*/\1/p')
	i=0
	for st in $(echo "$ntypes" | tr ',' ' '); do
		sample_type=${st%%/*}
		cprof_top_tsv "$i" "$@" >"$CPROF_WORK/want" 2>&1
		stored_tsv "$type" "$sample_type" >"$CPROF_WORK/got" 2>&1
		if cmp -s "$CPROF_WORK/want" "$CPROF_WORK/got" && [ "$(wc -l <"$CPROF_WORK/want")" -gt 1 ]; then
			ok
		else
			bad "$type/$sample_type: stored values differ from cprof-query top --file $*:"
			diff "$CPROF_WORK/want" "$CPROF_WORK/got" | head -n 6
		fi
		i=$((i + 1))
	done
}
compare cpu "$fx/cpu.pb.gz" "$fx/cpu2.pb.gz"
compare heap "$fx/heap.pb.gz"
compare allocs "$fx/allocs.pb.gz"
compare mutex "$fx/mutex.pb.gz"
compare block "$fx/block.pb.gz"
compare goroutine "$fx/goroutine.pb.gz"

snapshot() {
	sql "SELECT count(*), sum(flat), sum(cum) FROM cprof.function_minutes;
	     SELECT count(*), sum(value) FROM cprof.stack_minutes;
	     SELECT sum(total), sum(profiles) FROM cprof.series_minutes; SELECT count(*) FROM cprof.profiles"
}
before=$(snapshot)
# shellcheck disable=SC2086
out=$(worker load --service svc --env production --label team=core $files 2>&1)
case $out in "loaded: 0 profiles stored, 7 duplicates skipped"*) ok ;; *) bad "second load: $out" ;; esac
[ "$(snapshot)" = "$before" ] && ok || bad "a second load changed what is stored"
[ "$(sql "SELECT count(*) FROM cprof.profiles")" = 7 ] && ok || bad "profiles: $(sql "SELECT count(*) FROM cprof.profiles")"

# Per series: the stacks' self values add up to the functions' flat (both count each sample's
# value once, at its leaf), and the totals count every profile once.
check_sums=$(sql "SELECT s.series_id FROM cprof.series s
	WHERE (SELECT coalesce(sum(value), 0) FROM cprof.stack_minutes m WHERE m.series_id = s.series_id)
	   <> (SELECT coalesce(sum(flat), 0) FROM cprof.function_minutes m WHERE m.series_id = s.series_id)")
[ -z "$check_sums" ] && ok || bad "series whose stack values and flat differ: $check_sums"
[ "$(sql "SELECT count(*) FROM cprof.series WHERE service = 'svc' AND env = 'production' AND labels = '{\"team\": \"core\"}'")" -gt 10 ] \
	&& ok || bad "series metadata: $(sql "SELECT service, env, labels FROM cprof.series LIMIT 3")"
[ "$(sql "SELECT sum(profiles) FROM cprof.series_minutes m JOIN cprof.series s USING (series_id) WHERE s.profile_type = 'cpu' AND s.sample_type = 'cpu'")" = 2 ] \
	&& ok || bad "cpu series profile count"

# The same files under another service are other series and other profile ids.
# shellcheck disable=SC2086
out=$(worker load --service other $fx/cpu.pb.gz 2>&1)
case $out in "loaded: 1 profiles stored"*) ok ;; *) bad "load as another service: $out" ;; esac
out=$(worker load --service svc "$CPROF_WORK/nonexistent.pb.gz" 2>&1) && bad "a missing file loaded" || ok
printf 'not a profile' >"$CPROF_WORK/bad.pb"
out=$(worker load --service svc "$fx/cpu.pb.gz" "$CPROF_WORK/bad.pb" 2>&1)
case $out in *"bad.pb"*"nothing stored"*) ok ;; *) bad "a bad file among good ones: $out" ;; esac

# The bulk path of backfills and benchmarks: --repeat stores the list again, --every spreads the
# profiles a duration apart from --time (2 files x 3 repeats: 6 profiles a minute apart).
out=$(worker load --service bulk --time 2026-04-01T10:00:00Z --every 1m --repeat 3 "$fx/cpu.pb.gz" "$fx/cpu2.pb.gz" 2>&1)
case $out in "loaded: 6 profiles stored, 0 duplicates skipped"*) ok ;; *) bad "load --every --repeat: $out" ;; esac
[ "$(sql "SELECT string_agg(to_char(profile_time AT TIME ZONE 'UTC', 'HH24:MI'), ' ' ORDER BY profile_time)
        FROM cprof.profiles WHERE service = 'bulk'")" = "10:00 10:01 10:02 10:03 10:04 10:05" ] && ok ||
	bad "load --every: the profiles' times"
out=$(worker load --service bulk --every 1m "$fx/cpu.pb.gz" 2>&1) && bad "--every without --time loaded" ||
	case $out in *"--every needs --time"*) ok ;; *) bad "--every without --time: $out" ;; esac

echo "store: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
