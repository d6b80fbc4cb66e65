#!/bin/sh
# agent_e2e: the whole pipeline from a running Go service to a diff. Two instances of the demo
# service (deploy/demo/shop, net/http/pprof, a known workload) run as production and as a canary
# whose main.applyDiscounts does 6x the work; cprof-agent scrapes both (every kind, CPU profiles
# of 10 s) into a real Kafka-protocol broker, a cprof-worker stores them in a real PostgreSQL.
# Once each side has CPU profiles in 4 minutes: `cprof-query top` shows the workload's hot
# functions; `diff` names main.applyDiscounts first, up and significant; every kind of profile of
# both instances is stored, the allocs, mutex and block ones as deltas over their seconds; and
# what PostgreSQL holds per function equals `go tool pprof -top` over exactly the bytes the agent
# published (--save-dir), per env, and for one single scraped profile its stored totals equal
# pprof's. SIGTERM stops the agent with every profile delivered. Takes 3 to 4 minutes.
set -u
. "$CPROF_ROOT/tests/lib.sh"
. "$CPROF_ROOT/tests/pg.sh"
work=$CPROF_WORK
tally agent_e2e
tab=$(printf '\t')

if ! command -v go >/dev/null 2>&1; then
	echo "agent_e2e: the go command is not installed; cannot build the demo service"
	exit 77
fi

broker_pid= prod_pid= canary_pid= agent_pid= worker_pid=
cleanup() {
	for p in $agent_pid $worker_pid $prod_pid $canary_pid $broker_pid; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	pg_stop "$work/pg"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pg_start "$work/pg" 0 || { bad "PostgreSQL did not start"; finish; }
db=$PG_CONNINFO
sql() { pg_psql "$work/pg" -F "$tab" -c "$1"; }
"$CPROF_BIN/cprof-worker" migrate --pg "$db" >/dev/null || bad "migrate"
devbroker_start "$work" --brokers 1 --topic cprof.profiles:4 --topic cprof.profiles.dlq:1 ||
	{ bad "the devbroker did not start: $(cat "$work/broker.err")"; finish; }

shop=$(shop_bin) || { bad "building deploy/demo/shop"; finish; }
"$shop" -listen 127.0.0.1:0 -port-file "$work/prod.addr" -cpu 0.4 2>"$work/prod.err" &
prod_pid=$!
"$shop" -listen 127.0.0.1:0 -port-file "$work/canary.addr" -cpu 0.4 -regress 2>"$work/canary.err" &
canary_pid=$!
wait_file "$work/prod.addr" && wait_file "$work/canary.addr" || { bad "the shop did not listen"; finish; }
cat >"$work/targets" <<EOF
# the checkout service: one production replica and one canary
service=checkout env=production version=1.4.2 zone=local instance=checkout-1 url=http://$(cat "$work/prod.addr") label.team=payments
service=checkout env=canary version=1.5.0-rc1 zone=local instance=checkout-canary-1 url=http://$(cat "$work/canary.addr") label.team=payments
EOF

"$CPROF_BIN/cprof-worker" run --pg "$db" -b "$brokers" --batch-ms 200 --stats-seconds 5 \
	-X session.timeout.ms=6000 >"$work/worker.out" 2>"$work/worker.err" &
worker_pid=$!
"$CPROF_BIN/cprof-agent" -b "$brokers" --targets "$work/targets" --save-dir "$work/saved" --stats-seconds 10 \
	--profiles cpu:12s:10s,heap:30s,allocs:30s:5s,mutex:30s:5s,block:30s:5s,goroutine:30s \
	2>"$work/agent.err" &
agent_pid=$!

# Until each side has CPU profiles in 4 distinct minutes (the diff's buckets: with 3, Welch's
# test has about 2 degrees of freedom and cannot be significant), at most 5 minutes.
minutes() {
	sql "SELECT count(DISTINCT date_trunc('minute', profile_time)) FROM cprof.profiles
	     WHERE profile_type = 'cpu' AND env = '$1'"
}
deadline=$(($(date +%s) + 300))
while [ "$(date +%s)" -lt "$deadline" ]; do
	[ "$(minutes production)" -ge 4 ] && [ "$(minutes canary)" -ge 4 ] && break
	kill -0 "$agent_pid" 2>/dev/null || break
	sleep 5
done
[ "$(minutes production)" -ge 4 ] && [ "$(minutes canary)" -ge 4 ] && ok ||
	bad "after 5 minutes: CPU profiles in $(minutes production) production and $(minutes canary) canary minutes; agent: $(tail -n 3 "$work/agent.err")"

# SIGTERM: the agent stops at once and every profile it published is delivered.
kill -TERM "$agent_pid"
wait "$agent_pid" && ok || bad "cprof-agent exited $? on SIGTERM: $(tail -n 3 "$work/agent.err")"
agent_pid=
grep -q 'stopping on signal 15' "$work/agent.err" && ok || bad "no stopping line: $(tail -n 3 "$work/agent.err")"
final=$(grep ': stats ' "$work/agent.err" | tail -n 1)
published=$(echo "$final" | sed -n 's/.* published=\([0-9]*\).*/\1/p')
delivered=$(echo "$final" | sed -n 's/.* delivered=\([0-9]*\).*/\1/p')
case $final in *" failed=0 "*" lost=0 in_flight=0 "*) ok ;; *) bad "final stats: $final" ;; esac
[ -n "$published" ] && [ "$published" -gt 12 ] && [ "$published" = "$delivered" ] && ok ||
	bad "published $published, delivered $delivered"
saved=$(ls "$work/saved" | wc -l)
[ "$saved" = "$published" ] && ok || bad "$saved profiles saved, $published published"
for t in checkout/checkout-1 checkout/checkout-canary-1; do
	grep "target $t health=up " "$work/agent.err" | tail -n 1 | grep -q 'failed=0 ' && ok ||
		bad "$t not healthy: $(grep "target $t " "$work/agent.err" | tail -n 1)"
done

# The worker catches up with everything published, then stops.
kill -TERM "$worker_pid" && wait "$worker_pid"
worker_pid=
timeout 120 "$CPROF_BIN/cprof-worker" run --pg "$db" -b "$brokers" --batch-ms 200 --drain \
	-X session.timeout.ms=6000 >/dev/null 2>"$work/drain.err" && ok || bad "worker --drain: $(tail -n 3 "$work/drain.err")"
[ "$(sql "SELECT count(*) FROM cprof.profiles")" = "$published" ] && ok ||
	bad "$(sql "SELECT count(*) FROM cprof.profiles") profiles stored, $published published"
grep 'stats:' "$work/worker.err" "$work/drain.err" | grep -v 'dead-lettered 0,' | grep -q . &&
	bad "something was dead-lettered: $(grep 'stats:' "$work/worker.err" | tail -n 1)" || ok

# Every kind of both instances; the cumulative kinds as deltas over their 5 s.
for instance in checkout-1 checkout-canary-1; do
	kinds=$(sql "SELECT string_agg(DISTINCT profile_type, ',' ORDER BY profile_type) FROM cprof.profiles
	             WHERE instance = '$instance'")
	[ "$kinds" = "allocs,block,cpu,goroutine,heap,mutex" ] && ok || bad "$instance: kinds stored: $kinds"
done
deltas=$(sql "SELECT count(*) FROM cprof.profiles WHERE profile_type IN ('allocs', 'mutex', 'block')
              AND duration_nanos NOT BETWEEN 4900000000 AND 5500000000")
[ "$deltas" = 0 ] && ok || bad "$deltas allocs/mutex/block profiles are not 5 s deltas"
cpu_len=$(sql "SELECT count(*) FROM cprof.profiles WHERE profile_type = 'cpu'
               AND duration_nanos NOT BETWEEN 9900000000 AND 10500000000")
[ "$cpu_len" = 0 ] && ok || bad "$cpu_len CPU profiles are not 10 s long"
labels=$(sql "SELECT count(*) FROM cprof.profiles WHERE labels->>'team' IS DISTINCT FROM 'payments' OR zone <> 'local'")
[ "$labels" = 0 ] && ok || bad "$labels profiles without the target's zone and label"

# The hot functions of the workload, from PostgreSQL.
"$CPROF_BIN/cprof-query" top --pg "$db" --service checkout --env production --since 1h --by cum -n 0 \
	>"$work/top.txt" 2>"$work/top.err" || bad "top: $(cat "$work/top.err")"
for f in main.handleOrder main.parseOrder main.priceItems main.applyDiscounts main.hashReceipt main.renderReceipt; do
	grep -q " $f\$" "$work/top.txt" && ok || bad "$f not in the production top: $(cat "$work/top.txt")"
done

# The canary's regression: main.applyDiscounts first, up, significant.
"$CPROF_BIN/cprof-query" diff --pg "$db" --service checkout --since 1h --base env=production --target env=canary \
	--format tsv -n 5 >"$work/diff.tsv" 2>"$work/diff.err" || bad "diff: $(cat "$work/diff.err")"
first=$(sed -n 2p "$work/diff.tsv")
echo "$first" | awk -F "$tab" '$1 == "main.applyDiscounts" && $6 > 0.1 && $10 < 0.05 && $11 == "yes" { found = 1 }
	END { exit !found }' && ok || bad "the diff's first row is not main.applyDiscounts up and significant: $(head -n 4 "$work/diff.tsv")"

# What PostgreSQL holds equals go tool pprof on the bytes the agent published, per env: every
# function's flat and cum of the CPU profiles.
for env in production canary; do
	files=$(sql "SELECT '$work/saved/' || profile_id || '.pb.gz' FROM cprof.profiles
	             WHERE env = '$env' AND profile_type = 'cpu' ORDER BY profile_time")
	# shellcheck disable=SC2086 # a list of files
	pprof_top_tsv cpu ns $files >"$work/pprof.$env.tsv"
	{
		echo "function${tab}flat${tab}cum"
		"$CPROF_BIN/cprof-query" top --pg "$db" --service checkout --env "$env" --since 1h --format tsv -n 0 |
			tail -n +2 | sort
	} >"$work/db.$env.tsv"
	if [ "$(wc -l <"$work/db.$env.tsv")" -gt 5 ] && cmp -s "$work/pprof.$env.tsv" "$work/db.$env.tsv"; then ok; else
		bad "$env: PostgreSQL differs from go tool pprof on the published bytes:"
		diff "$work/pprof.$env.tsv" "$work/db.$env.tsv" | head -n 6
	fi
done

# One scraped profile: the totals stored for it equal pprof's total of its bytes.
one=$(sql "SELECT profile_id, totals[array_position(sample_types, 'cpu/nanoseconds')] FROM cprof.profiles
           WHERE profile_type = 'cpu' AND env = 'canary' ORDER BY profile_time DESC LIMIT 1")
id=${one%%"$tab"*} stored=${one#*"$tab"}
pprof_total=$(go tool pprof -top -unit=ns -sample_index=cpu "$work/saved/$id.pb.gz" 2>/dev/null |
	sed -n 's/.* of \([0-9]*\)ns total.*/\1/p')
[ -n "$stored" ] && [ "$stored" = "$pprof_total" ] && ok || bad "profile $id: stored total $stored, pprof's $pprof_total"

finish
