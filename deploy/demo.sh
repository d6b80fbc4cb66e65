#!/bin/sh
# The demo of `make demo`: the whole pipeline on this machine. The local stack comes up (a real
# PostgreSQL 15 and the Kafka-protocol devbroker, deploy/local/cprof-stack); real pprof profiles
# are published with cprof-push for a few services, envs and instances (a Go program's own
# profiles, recorded now with runtime/pprof, and, when shared/corpus is beside the project, real
# profiles of other Go services from it); one cprof-worker drains the topic into PostgreSQL; the
# top functions per service are then read back from PostgreSQL, and checked against
# `cprof-query top --file` of the same files; it ends with the fleet's top per env and what
# costs more in the canary than in production (cprof-query diff). Run from the project root
# after `make all`.
# The demo has a stack of its own (folder .demo-stack, PostgreSQL on port 55433 unless
# CPROF_PG_PORT says otherwise), made afresh on every run so that the totals it checks are this
# run's; it stays up afterwards for a look around (the last lines say how to reach and stop it).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export GOCACHE="$root/build/gocache" GOPATH="$root/build/gopath" GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local
stack=deploy/local/cprof-stack
export CPROF_STACK_DIR="$root/.demo-stack" CPROF_PG_PORT="${CPROF_PG_PORT:-55433}"

out="$root/build/demo"
rm -rf "$out"
mkdir -p "$out"

echo "== a fresh local stack in $CPROF_STACK_DIR: $stack up"
$stack down >/dev/null 2>&1 || true
rm -rf "$CPROF_STACK_DIR"
$stack up
eval "$($stack env)"

echo
echo "== recording a Go program's CPU, heap, mutex, block and goroutine profiles (tests/gofixtures)"
(cd tests/gofixtures && go build -o "$root/build/gofixtures" .)
build/gofixtures write "$out/run1" >/dev/null
build/gofixtures write "$out/run2" >/dev/null
ls "$out/run1"

# push SERVICE VERSION ENV INSTANCE MINUTES_AGO FILE...: one cprof-push call, the profiles
# stamped MINUTES_AGO minutes before now (so they land in recent minute buckets).
now=$(date -u +%s)
pushed=0
push() {
	service=$1 version=$2 env=$3 instance=$4 t=$(((now - $5 * 60) * 1000000000))
	shift 5
	bin/cprof-push --service "$service" --version "$version" --env "$env" --instance "$instance" \
		--zone eu-west-1a --time "$t" "$@" >>"$out/pushed.txt"
	pushed=$((pushed + $#))
}

echo
echo "== publishing with cprof-push to $CPROF_KAFKA_BROKERS"
r1=$out/run1 r2=$out/run2
for i in 1 2 3; do
	push checkout 1.4.2 production "checkout-$i" "$i" "$r1/cpu.pb.gz" "$r1/heap.pb.gz" "$r1/mutex.pb.gz" \
		"$r1/block.pb.gz" "$r1/goroutine.pb.gz"
	push checkout 1.4.2 production "checkout-$i" "$((i + 3))" "$r2/cpu.pb.gz" "$r2/heap.pb.gz"
done
# the canary runs a build whose CPU time is spent differently (the Go program's second mix),
# one profile a minute, as production does
for m in 1 2 3; do
	push checkout 1.5.0-rc1 canary checkout-canary-1 "$m" "$r1/cpu2.pb.gz"
	push checkout 1.5.0-rc1 canary checkout-canary-1 "$((m + 3))" "$r2/cpu2.pb.gz"
done
checkout_cpu="$r1/cpu.pb.gz $r1/cpu.pb.gz $r1/cpu.pb.gz $r2/cpu.pb.gz $r2/cpu.pb.gz $r2/cpu.pb.gz"
checkout_cpu="$checkout_cpu $r1/cpu2.pb.gz $r1/cpu2.pb.gz $r1/cpu2.pb.gz $r2/cpu2.pb.gz $r2/cpu2.pb.gz $r2/cpu2.pb.gz"

corpus=$root/../shared/corpus/profiles
others=
if [ -f "$corpus/profefe__go_cpu_1.pb.gz" ]; then
	c=$corpus
	push profiles-api 0.9.1 production api-1 2 "$c/profefe__go_cpu_1.pb.gz" "$c/profefe__go_heap_1.pb.gz"
	push profiles-api 0.9.1 production api-2 3 "$c/profefe__go_cpu_2.pb.gz" "$c/profefe__go_heap_2.pb.gz"
	push profiles-api 0.9.1 staging api-staging-1 4 "$c/profefe__go_cpu_3.pb.gz"
	for i in 1 2; do
		push metrics 2.45.0 production "metrics-$i" "$i" "$c/pyroscope__go_cpu_prometheus.pb.gz" \
			"$c/pyroscope__go_heap_prometheus.pb.gz"
	done
	others="profiles-api metrics"
else
	echo "(no corpus at $corpus: only the checkout service's profiles are published)"
fi
echo "$pushed profiles delivered (one line each in $out/pushed.txt)"

echo
echo "== one worker drains the topic into PostgreSQL: cprof-worker run --drain"
bin/cprof-worker run --drain --stats-seconds 5 2>&1 | sed -n 's/^cprof-worker: \(stats: .*\)/\1/p' | tail -n 1

psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
echo
echo "== what PostgreSQL holds, per service, env and profile type"
psql_q -c "SELECT service, env, profile_type, count(DISTINCT instance) AS instances, count(*) AS profiles
           FROM cprof.profiles GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"

for service in checkout $others; do
	echo
	echo "== from PostgreSQL: cprof-query top --service $service --since 1h -n 10"
	bin/cprof-query top --service "$service" --since 1h -n 10
done

echo
echo "== the same question on the files themselves: cprof-query top --file (checkout's 12 CPU profiles)"
# shellcheck disable=SC2086 # a list of files
bin/cprof-query top --sample-type cpu -n 10 --file $checkout_cpu
# every function's flat and cum, from PostgreSQL and from the files, must be the same
bin/cprof-query top --service checkout --since 1h --format tsv -n 0 >"$out/checkout.db.tsv"
# shellcheck disable=SC2086
bin/cprof-query top --sample-type cpu --format tsv -n 0 --file $checkout_cpu >"$out/checkout.files.tsv"
if cmp -s "$out/checkout.db.tsv" "$out/checkout.files.tsv"; then
	echo "checkout: all $(($(wc -l <"$out/checkout.db.tsv") - 1)) functions' flat and cum in PostgreSQL equal those of the files"
else
	echo "checkout: PostgreSQL and the files disagree:" >&2
	diff "$out/checkout.db.tsv" "$out/checkout.files.tsv" >&2
	exit 1
fi

echo
echo "== the store's upkeep (a running worker does it every minute): cprof-worker maintain"
bin/cprof-worker maintain

echo
echo "== the whole fleet's top CPU functions, per env: cprof-query top --since 1h --group-by env -n 3"
bin/cprof-query top --since 1h --group-by env -n 3

echo
echo "== what costs more in the canary than in production:"
echo "   cprof-query diff --service checkout --since 1h --base env=production --target env=canary -n 12"
bin/cprof-query diff --service checkout --since 1h --base env=production --target env=canary -n 12

echo
echo "The demo's stack is still up. To look around: export CPROF_STACK_DIR=.demo-stack, then"
echo "eval \"\$($stack env)\" and psql, or bin/cprof-push and bin/cprof-worker run; $stack down"
echo "stops it. The profiles are in $out."
