#!/bin/sh
# worker: `cprof-worker run` from a real Kafka-protocol broker (cprof-devbroker over TCP) into a
# real PostgreSQL. Real profiles pushed for two instances, then the same uploads again, then
# poison messages: after --drain, what is stored per function equals cprof's own merge of every
# distinct upload (the duplicates counted once), the poison is in the dead-letter topic with its
# reason, the stored offsets are the ends of the partitions, and a second run stores nothing.
set -u
. "$CPROF_ROOT/tests/lib.sh"
. "$CPROF_ROOT/tests/pg.sh"
work=$CPROF_WORK
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
finish() {
	echo "worker: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}
broker_pid=
cleanup() {
	[ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
	pg_stop "$work/pg"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pg_start "$work/pg" 0 || { bad "PostgreSQL did not start"; finish; }
db=$PG_CONNINFO
sql() { pg_psql "$work/pg" -F "$(printf '\t')" -c "$1"; }
"$CPROF_BIN/cprof-worker" migrate --pg "$db" >/dev/null || bad "migrate"

devbroker_start "$work" --brokers 3 --topic cprof.profiles:6 --topic cprof.profiles.dlq:2 ||
	{ bad "the devbroker did not start: $(cat "$work/broker.err")"; finish; }

fx=$work/fx
"$(gofixtures_bin)" write "$fx" >/dev/null 2>&1 || { bad "Go fixtures"; finish; }
files="$fx/cpu.pb.gz $fx/cpu2.pb.gz $fx/heap.pb.gz $fx/mutex.pb.gz $fx/goroutine.pb.gz"
push() { # INSTANCE: the five files for that instance
	# shellcheck disable=SC2086
	"$CPROF_BIN/cprof-push" -b "$brokers" --service svc --env production --instance "$1" $files >/dev/null 2>"$work/push.err"
}
push i1 && push i2 && push i1 && ok || bad "cprof-push: $(cat "$work/push.err")"
# Poison: three messages that are not uploads.
"$CPROF_BUILD/tests/kafka_roundtrip" -b "$brokers" -t cprof.profiles -n 3 -s 64 -T 20 >/dev/null 2>&1 || true

worker_run() {
	timeout 120 "$CPROF_BIN/cprof-worker" run --pg "$db" -b "$brokers" --batch-ms 200 --drain \
		-X session.timeout.ms=6000 "$@"
}
if worker_run >"$work/run1.out" 2>"$work/run1.err"; then ok; else bad "worker run exited $?: $(tail -n 5 "$work/run1.err")"; fi
last_stats=$(grep 'stats:' "$work/run1.err" | tail -n 1)
case $last_stats in *"stored 10 "*) ok ;; *) bad "stored count: $last_stats" ;; esac
case $last_stats in *"duplicates 5,"*) ok ;; *) bad "duplicates: $last_stats" ;; esac
case $last_stats in *"dead-lettered 3,"*) ok ;; *) bad "dead-lettered: $last_stats" ;; esac
[ "$(grep -c 'dead-lettered: bad upload' "$work/run1.err")" = 3 ] && ok || bad "dead-letter log lines: $(grep -c 'dead-lettered' "$work/run1.err")"

# What is stored equals the merge of the distinct uploads: each file twice (two instances).
tab=$(printf '\t')
compare() { # TYPE INDEX SAMPLE_TYPE FILE: stored = cprof-query top over FILE twice
	cprof_top_tsv "$2" "$4" "$4" >"$work/want" 2>&1
	{
		echo "function${tab}flat${tab}cum"
		sql "SELECT f.name, sum(m.flat), sum(m.cum) FROM cprof.function_minutes m
		     JOIN cprof.functions f USING (function_id) JOIN cprof.series s USING (series_id)
		     WHERE s.service = 'svc' AND s.profile_type = '$1' AND s.sample_type = '$3'
		     GROUP BY f.name HAVING sum(m.flat) <> 0 OR sum(m.cum) <> 0" | sort
	} >"$work/got"
	if [ "$(wc -l <"$work/want")" -gt 1 ] && cmp -s "$work/want" "$work/got"; then ok; else
		bad "$1/$3 stored values differ from cprof-query top:"
		diff "$work/want" "$work/got" | head -n 6
	fi
}
cprof_top_tsv 1 "$fx/cpu.pb.gz" "$fx/cpu2.pb.gz" "$fx/cpu.pb.gz" "$fx/cpu2.pb.gz" >"$work/want" 2>&1
{
	echo "function${tab}flat${tab}cum"
	sql "SELECT f.name, sum(m.flat), sum(m.cum) FROM cprof.function_minutes m
	     JOIN cprof.functions f USING (function_id) JOIN cprof.series s USING (series_id)
	     WHERE s.service = 'svc' AND s.profile_type = 'cpu' AND s.sample_type = 'cpu'
	     GROUP BY f.name HAVING sum(m.flat) <> 0 OR sum(m.cum) <> 0" | sort
} >"$work/got"
cmp -s "$work/want" "$work/got" && ok || { bad "cpu/cpu stored values differ:"; diff "$work/want" "$work/got" | head -n 6; }
compare heap 3 inuse_space "$fx/heap.pb.gz"
compare mutex 1 delay "$fx/mutex.pb.gz"
compare goroutine 0 goroutine "$fx/goroutine.pb.gz"
[ "$(sql "SELECT count(*), count(DISTINCT instance) FROM cprof.profiles")" = "10${tab}2" ] && ok \
	|| bad "profiles: $(sql "SELECT count(*), count(DISTINCT instance) FROM cprof.profiles")"
[ "$(sql "SELECT count(*) FROM cprof.profiles WHERE kafka_topic = 'cprof.profiles' AND kafka_offset >= 0")" = 10 ] && ok \
	|| bad "profiles lack their Kafka position"

# The stored offsets cover every message (5 files x 3 pushes + 3 poison = 18).
[ "$(sql "SELECT sum(next_offset) FROM cprof.kafka_offsets WHERE consumer_group = 'cprof-worker' AND topic = 'cprof.profiles'")" = 18 ] \
	&& ok || bad "stored offsets: $(sql "SELECT kafka_partition, next_offset FROM cprof.kafka_offsets")"
# The dead-letter topic holds the poison with its reason and origin.
"$CPROF_BUILD/tests/kafka_envelopes" -b "$brokers" -t cprof.profiles.dlq -n 3 -T 20 >"$work/dlq.tsv" 2>"$work/dlq.err"
[ "$(wc -l <"$work/dlq.tsv")" -ge 3 ] && ok || bad "dead-letter topic: $(wc -l <"$work/dlq.tsv") lines; $(head -c 300 "$work/dlq.err")"

# A second run starts from the stored offsets: nothing new, nothing twice.
before=$(sql "SELECT count(*), sum(flat) FROM cprof.function_minutes")
if worker_run >"$work/run2.out" 2>"$work/run2.err"; then ok; else bad "second run exited $?"; fi
case $(grep 'stats:' "$work/run2.err" | tail -n 1) in *"consumed 0,"*"stored 0 "*) ok ;; *) bad "second run: $(grep 'stats:' "$work/run2.err" | tail -n 1)" ;; esac
[ "$(sql "SELECT count(*), sum(flat) FROM cprof.function_minutes")" = "$before" ] && ok || bad "the second run changed the facts"
[ "$(sql "SELECT count(*) > 0 FROM cprof.worker_stats")" = t ] && ok || bad "no worker_stats rows"
# each stats row holds its interval's counts: over all runs they add up to what is stored
got_stats=$(sql "SELECT sum(profiles), sum(dead_lettered), sum(rows_written) > 0 FROM cprof.worker_stats")
want_stats="$(sql "SELECT count(*) FROM cprof.profiles")${tab}3${tab}t"
[ "$got_stats" = "$want_stats" ] && ok || bad "worker_stats sums: $got_stats, want $want_stats"
finish
