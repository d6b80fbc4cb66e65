#!/bin/sh
# rollup_race: the rollup tiers stay exact while batches are written around them, against a real
# PostgreSQL 15. Three `cprof-worker load` processes store profiles concurrently, many of them
# late (in hours and days already rolled up) and some in new days (whose partitions are made
# meanwhile), while `cprof-worker maintain` rolls up, compacts and makes partitions over and
# over with a moving clock. Nothing may fail (a lock cycle between a batch, the rollup and the
# making of partitions would abort one of them), and at the end every range, read through the
# tiers, must equal the sum over the raw minutes.
set -u
. "$CPROF_ROOT/tests/lib.sh"
. "$CPROF_ROOT/tests/pg.sh"
work=$CPROF_WORK
tally rollup_race
trap 'pg_stop "$work/pg"' EXIT
trap 'exit 1' INT TERM

pg_start "$work/pg" 0 || { bad "PostgreSQL did not start"; finish; }
export CPROF_PG="$PG_CONNINFO"
sql() { pg_psql "$work/pg" -c "$1"; }
w=$CPROF_BIN/cprof-worker
q=$CPROF_BIN/cprof-query
fleet=$CPROF_BUILD/tests/fleet_profiles
[ -x "$fleet" ] || { bad "no $fleet: run make"; finish; }
"$w" migrate >/dev/null || { bad "migrate"; finish; }
mkdir -p "$work/p"
for k in 1 2 3 4; do
	"$fleet" "$work/p/$k.pb.gz" "main;serve;parse=$((k * 100))" "main;serve;render=$((k * 37))" "main;gc=$k" ||
		{ bad "fleet_profiles"; finish; }
done

# The history: 2026-05-01 00:00 onwards. Writer k stores a profile at minute m of hour h for
# several hours, in an order that goes back and forth, so later profiles land in hours (and
# days) that maintain has rolled up by then.
base=$(date -u -d 2026-05-01T00:00:00Z +%s)
at() { date -u -d "@$((base + $1 * 60))" +%Y-%m-%dT%H:%M:%SZ; }
writer() { # K
	_k=$1
	for _round in 1 2 3 4 5 6; do
		for _h in 0 5 23 26 47 49 2; do
			_m=$(((_h * 60) + (_round * 7 + _k * 3) % 60))
			"$w" load --service race --env "e$_k" --instance "i$_k" --time "$(at "$_m")" "$work/p/$((_round % 4 + 1)).pb.gz" \
				>/dev/null 2>>"$work/writer$_k.err" || echo "load failed at minute $_m" >>"$work/writer$_k.err"
		done
	done
}
maintainer() {
	for _h in 1 3 6 12 24 25 30 48 50 52 60 60 60; do
		"$w" maintain --now "$(at $((_h * 60 + 3)))" >>"$work/maintain.out" 2>>"$work/maintain.err" ||
			echo "maintain failed at hour $_h" >>"$work/maintain.err"
	done
}
writer 1 & p1=$!
writer 2 & p2=$!
writer 3 & p3=$!
maintainer & p4=$!
wait $p1 $p2 $p3 $p4
for f in "$work/writer1.err" "$work/writer2.err" "$work/writer3.err" "$work/maintain.err"; do
	if [ -s "$f" ]; then bad "$(basename "$f"): $(head -c 600 "$f")"; else ok; fi
done
"$w" maintain --now "$(at $((60 * 60)))" >/dev/null 2>"$work/err" && ok || bad "the last maintain: $(cat "$work/err")"

# New days while others write: three loads that each store profiles on days no one has
# written yet (each day's first batch makes its partitions, in every tier, while the other
# loads are inside their transactions), in different orders, with maintain rolling up meanwhile.
newdays() { # K
	_k=$1
	for _d in $(seq 0 17); do
		_day=$(((_d * (_k * 2 + 1)) % 18 + 10))
		"$w" load --service race --env "n$_k" --instance "n$_k" --time "2026-05-${_day}T0$_k:$((_d + 10)):00Z" \
			"$work/p/$((_d % 4 + 1)).pb.gz" >/dev/null 2>>"$work/new$_k.err" || echo "load failed on day $_day" >>"$work/new$_k.err"
	done
}
newdays 1 & p1=$!
newdays 2 & p2=$!
newdays 3 & p3=$!
for _d in 12 16 20 24 28; do "$w" maintain --now "2026-05-${_d}T00:03:00Z" >/dev/null 2>>"$work/new-maintain.err"; done
wait $p1 $p2 $p3
for f in "$work/new1.err" "$work/new2.err" "$work/new3.err" "$work/new-maintain.err"; do
	if [ -s "$f" ]; then bad "$(basename "$f"): $(head -c 600 "$f")"; else ok; fi
done
"$w" maintain --now "$(at $((60 * 60)))" >/dev/null 2>"$work/err" && ok || bad "the maintain after the new days: $(cat "$work/err")"

check_sql() { # LABEL EXPECTED SQL
	_got=$(sql "$3" 2>&1)
	[ "$_got" = "$2" ] && ok || bad "$1: expected '$2', got '$_got'"
}
check_sql "180 profiles stored" 180 "SELECT count(*) FROM cprof.profiles"
check_sql "the rollup reached the last closed hour and day" "2026-05-28 00:00:00|2026-05-28 00:00:00" \
	"SELECT hours_done AT TIME ZONE 'UTC', days_done AT TIME ZONE 'UTC' FROM cprof.rollup_state"
# Late data, one batch on its own: a profile in an hour and a day rolled up long ago adds a row
# there at once and marks the buckets; the next maintain merges them into one row again.
"$w" load --service race --env e1 --instance late --time "$(at 5)" "$work/p/4.pb.gz" >/dev/null 2>"$work/err" ||
	bad "the late load: $(cat "$work/err")"
check_sql "the late batch added a second row to its hour" 2 "SELECT count(*) FROM cprof.series_hours h
	JOIN cprof.series s USING (series_id) WHERE s.env = 'e1' AND s.sample_type = 'cpu' AND h.bucket = '$(at 0)'"
check_sql "and marked its hour and day" "days $(at 0)|hours $(at 0)" "SELECT string_agg(DISTINCT tier || ' ' ||
	to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '|') FROM cprof.late_buckets"
"$w" maintain --now "$(at $((60 * 60)))" >/dev/null 2>"$work/err" && ok || bad "the maintain after the late batch: $(cat "$work/err")"
check_sql "the maintain merged every late bucket" "0|0" "SELECT (SELECT count(*) FROM cprof.late_buckets),
	(SELECT count(*) FROM (SELECT 1 FROM cprof.series_hours GROUP BY bucket, series_id HAVING count(*) > 1
	                       UNION ALL SELECT 1 FROM cprof.series_days GROUP BY bucket, series_id HAVING count(*) > 1) c)"
# Each tier holds the same sums as the minutes it covers.
for tier in hours days; do
	check_sql "the $tier tier sums its minutes" "t" "
		WITH t AS (SELECT date_trunc('${tier%s}', bucket, 'UTC') AS b, series_id, u.id, sum(u.flat) AS flat, sum(u.cum) AS cum
		           FROM cprof.function_${tier}_packed p, unnest(p.function_ids, p.flat, p.cum) u(id, flat, cum)
		           GROUP BY 1, 2, 3),
		     m AS (SELECT date_trunc('${tier%s}', bucket, 'UTC') AS b, series_id, u.id, sum(u.flat) AS flat, sum(u.cum) AS cum
		           FROM cprof.function_minutes_packed p, unnest(p.function_ids, p.flat, p.cum) u(id, flat, cum)
		           WHERE bucket < (SELECT ${tier}_done FROM cprof.rollup_state)
		           GROUP BY 1, 2, 3)
		SELECT count(*) > 0 AND NOT EXISTS (SELECT * FROM t FULL JOIN m USING (b, series_id, id)
		                                     WHERE t.flat IS DISTINCT FROM m.flat OR t.cum IS DISTINCT FROM m.cum)
		FROM m"
	check_sql "the $tier tier's totals sum their minutes" "t" "
		WITH t AS (SELECT date_trunc('${tier%s}', bucket, 'UTC') AS b, series_id, sum(total) AS total, sum(profiles) AS profiles
		           FROM cprof.series_${tier} GROUP BY 1, 2),
		     m AS (SELECT date_trunc('${tier%s}', bucket, 'UTC') AS b, series_id, sum(total) AS total, sum(profiles) AS profiles
		           FROM cprof.series_minutes WHERE bucket < (SELECT ${tier}_done FROM cprof.rollup_state) GROUP BY 1, 2)
		SELECT count(*) > 0 AND NOT EXISTS (SELECT * FROM t FULL JOIN m USING (b, series_id)
		                                     WHERE t.total IS DISTINCT FROM m.total OR t.profiles IS DISTINCT FROM m.profiles)
		FROM m"
done
# A top over a range that spans minutes, hours and days equals the raw minutes'.
raw_top() { # FROM TO
	sql "SELECT f.name || E'\t' || sum(m.flat) || E'\t' || sum(m.cum) FROM cprof.function_minutes m
	     JOIN cprof.series s USING (series_id) JOIN cprof.functions f USING (function_id)
	     WHERE s.sample_type = 'cpu' AND m.bucket >= '$1' AND m.bucket < '$2'
	     GROUP BY f.name HAVING sum(m.flat) <> 0 OR sum(m.cum) <> 0 ORDER BY sum(m.flat) DESC, f.name"
}
from=$(at 17) to=$(at $((49 * 60 + 31)))
check_sql "the range uses the day tier" "1" "SELECT count(*) FROM cprof.tier_pieces('$from', '$to') WHERE tier = 'day'"
{ printf 'function\tflat\tcum\n'; raw_top "$from" "$to"; } >"$work/raw.tsv"
"$q" top --service race --since "$from" --until "$to" --format tsv -n 0 >"$work/top.tsv" 2>"$work/err" &&
	cmp -s "$work/raw.tsv" "$work/top.tsv" && ok ||
	bad "top over the tiers differs from the raw minutes: $(diff "$work/raw.tsv" "$work/top.tsv" | head -n 6) $(cat "$work/err")"
[ "$(wc -l <"$work/raw.tsv")" -gt 3 ] && ok || bad "the raw top is too small: $(cat "$work/raw.tsv")"
finish
