#!/bin/sh
# The demo of `make demo`: cprof end to end on this machine, as it runs in production. The local
# stack comes up (a real PostgreSQL 15 and the Kafka-protocol devbroker, deploy/local/cprof-stack);
# two instances of the demo service (deploy/demo/shop, a Go service with net/http/pprof) run as
# checkout in production and as its canary, whose main.applyDiscounts does 6x the work;
# cprof-agent scrapes their /debug/pprof endpoints (CPU, heap, allocs, mutex, block, goroutine)
# into Kafka and a cprof-worker stores them in PostgreSQL. Once each side has CPU profiles in 4
# minutes (2 to 3 minutes after the start; the top functions of each env are shown after 2), it
# prints the canary-versus-production diff, which must name main.applyDiscounts as the top significant
# change, and checks that PostgreSQL holds exactly what `cprof-query top --file` finds in the
# bytes the agent published. Everything keeps running afterwards; the last lines say how to look
# further and how to stop (deploy/demo.sh stop). Run from the project root after `make all`.
#
# usage: deploy/demo.sh [stop]
# The demo has a stack of its own (folder .demo-stack, PostgreSQL on port 55433 unless
# CPROF_PG_PORT says otherwise), made afresh on every run.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export GOCACHE="$root/build/gocache" GOPATH="$root/build/gopath" GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local
stack=deploy/local/cprof-stack
export CPROF_STACK_DIR="$root/.demo-stack" CPROF_PG_PORT="${CPROF_PG_PORT:-55433}"
out="$root/build/demo"
pids="$CPROF_STACK_DIR/demo.pids"

# Stops what an earlier demo started: the agent first (it delivers what it published), then the
# worker, the services, and the stack.
stop_demo() {
	if [ -f "$pids" ]; then
		while read -r name pid; do
			if kill "$pid" 2>/dev/null; then
				while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
				echo "stopped $name ($pid)"
			fi
		done <<EOF
$(tac "$pids")
EOF
		rm -f "$pids"
	fi
	$stack down >/dev/null 2>&1 || true
}
if [ "${1:-}" = stop ]; then
	stop_demo
	echo "the demo is stopped"
	exit 0
fi

echo "== a fresh local stack in $CPROF_STACK_DIR: $stack up"
stop_demo
rm -rf "$CPROF_STACK_DIR" "$out"
$stack up
eval "$($stack env)"
mkdir -p "$out"

start() { # NAME COMMAND...: in the background, its stderr in $out/NAME.log, its pid recorded
	name=$1
	shift
	"$@" 2>"$out/$name.log" &
	echo "$name $!" >>"$pids"
}

echo
echo "== the demo service (deploy/demo/shop): checkout 1.4.2 in production, 1.5.0-rc1 as its canary"
(cd deploy/demo/shop && go build -o "$root/build/shop" .)
start production build/shop -listen 127.0.0.1:0 -port-file "$out/production.addr" -cpu 0.4
start canary build/shop -listen 127.0.0.1:0 -port-file "$out/canary.addr" -cpu 0.4 -regress
for side in production canary; do
	tries=100
	while [ ! -s "$out/$side.addr" ] && [ "$tries" -gt 0 ]; do sleep 0.1; tries=$((tries - 1)); done
	[ -s "$out/$side.addr" ] || { echo "the $side service did not start: $(cat "$out/$side.log")" >&2; exit 1; }
done
cat >"$out/targets" <<EOF
# cprof-agent's targets: one line per replica (see cprof-agent --help)
service=checkout env=production version=1.4.2 zone=local instance=checkout-1 url=http://$(cat "$out/production.addr")
service=checkout env=canary version=1.5.0-rc1 zone=local instance=checkout-canary-1 url=http://$(cat "$out/canary.addr")
EOF
sed -n '2,$p' "$out/targets"

echo
echo "== cprof-worker run (stores what arrives) and cprof-agent (scrapes every kind of profile; the"
echo "   demo takes a 10 s CPU profile every 12 s, the others every 30 s, the allocs, mutex and"
echo "   block ones as deltas over 5 s)"
start worker bin/cprof-worker run --stats-seconds 30
start agent bin/cprof-agent --targets "$out/targets" --save-dir "$out/published" --stats-seconds 30 \
	--profiles cpu:12s:10s,heap:30s,allocs:30s:5s,mutex:30s:5s,block:30s:5s,goroutine:30s

psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
minutes() { # ENV: the distinct minutes with CPU profiles stored
	psql_q -A -t -c "SELECT count(DISTINCT date_trunc('minute', profile_time)) FROM cprof.profiles
	                 WHERE service = 'checkout' AND profile_type = 'cpu' AND env = '$1'"
}
show_tops() {
	for env in production canary; do
		echo
		echo "== cprof-query top --service checkout --env $env --since 10m -n 8"
		bin/cprof-query top --service checkout --env "$env" --since 10m -n 8
	done
}
echo
echo "== waiting until each env has CPU profiles in 2 minutes (the tops), then 4 (the diff's buckets:"
echo "   its significance test needs them)"
started=$(date +%s) shown=
while :; do
	p=$(minutes production) c=$(minutes canary)
	stored=$(psql_q -A -t -c "SELECT count(*) FROM cprof.profiles")
	echo "   $(($(date +%s) - started))s: $stored profiles stored; minutes with CPU profiles: production $p, canary $c"
	if [ -z "$shown" ] && [ "$p" -ge 2 ] && [ "$c" -ge 2 ]; then
		show_tops
		shown=1
		echo
		echo "== waiting for the diff's 4 minutes"
	fi
	[ "$p" -ge 4 ] && [ "$c" -ge 4 ] && break
	if [ $(($(date +%s) - started)) -gt 300 ]; then
		echo "not enough data after 5 minutes; the agent's log:" >&2
		tail -n 5 "$out/agent.log" >&2
		exit 1
	fi
	sleep 15
done

echo
echo "== what PostgreSQL holds, per env and profile type"
psql_q -c "SELECT env, profile_type, count(*) AS profiles, round(sum(duration_nanos) / 1e9) AS seconds
           FROM cprof.profiles GROUP BY 1, 2 ORDER BY 1, 2"
show_tops
echo

echo "== what costs more in the canary than in production:"
echo "   cprof-query diff --service checkout --since 10m --base env=production --target env=canary -n 8"
bin/cprof-query diff --service checkout --since 10m --base env=production --target env=canary -n 8
bin/cprof-query diff --service checkout --since 10m --base env=production --target env=canary -n 1 --format tsv |
	tail -n 1 >"$out/diff.first"
if awk -F '\t' '$1 == "main.applyDiscounts" && $6 > 0 && $11 == "yes" { found = 1 } END { exit !found }' "$out/diff.first"; then
	echo "found: main.applyDiscounts is the top significant change, as planted in the canary"
else
	echo "the diff's first row is not main.applyDiscounts, up and significant: $(cat "$out/diff.first")" >&2
	exit 1
fi

echo
echo "== the same question on the bytes the agent published (--save-dir), without the database"
# up to a minute boundary at least 30 s ago, so that every CPU profile started before it is stored
until=$((($(date +%s) - 30) / 60 * 60))
until=$(date -u -d "@$until" +%Y-%m-%dT%H:%M:%SZ)
ids=$(psql_q -A -t -c "SELECT profile_id FROM cprof.profiles WHERE env = 'canary' AND profile_type = 'cpu'
                       AND profile_time < '$until'")
files=
for id in $ids; do files="$files $out/published/$id.pb.gz"; done
# shellcheck disable=SC2086 # a list of files
bin/cprof-query top --sample-type cpu --format tsv -n 0 --file $files >"$out/canary.files.tsv"
bin/cprof-query top --service checkout --env canary --since 10m --until "$until" --format tsv -n 0 >"$out/canary.db.tsv"
if cmp -s "$out/canary.db.tsv" "$out/canary.files.tsv"; then
	echo "canary, until $until: all $(($(wc -l <"$out/canary.db.tsv") - 1)) functions' flat and cum in PostgreSQL equal those"
	echo "of its $(echo "$ids" | wc -w) published CPU profiles"
else
	echo "canary: PostgreSQL and the published profiles disagree:" >&2
	diff "$out/canary.db.tsv" "$out/canary.files.tsv" >&2 || true
	exit 1
fi

echo
echo "== the agent's view of its targets (its log: $out/agent.log)"
grep ': target ' "$out/agent.log" | tail -n 2 | cut -c 1-160

cat <<EOF

Everything keeps running: the services, the agent (every 30 s it logs each target's health to
$out/agent.log) and the worker. To look further, in this shell:
  export CPROF_STACK_DIR=.demo-stack; eval "\$($stack env)"
  bin/cprof-query series --service checkout --function main.applyDiscounts --since 10m --step 1m
  bin/cprof-query top --service checkout --env canary --type heap --since 10m
  bin/cprof-query ls instances; psql -c 'SELECT * FROM cprof.profiles LIMIT 5'
  bin/cprof-query flame --service checkout --env canary --since 10m --svg >canary.svg   # a browser opens it
  bin/cprof-query export --service checkout --env canary --since 10m -o canary.pb.gz && go tool pprof -top canary.pb.gz
Grafana: deploy/grafana/README.md provisions the dashboards on this database.
To stop everything: deploy/demo.sh stop
EOF
