#!/bin/sh
# devbroker: cprof-devbroker, the local stack's Kafka (librdkafka's mock cluster as a process).
# Starts it with a bootstrap file and a control FIFO, checks that 1,000 messages of 2 KB make
# an exact round trip through it (tests/tools/kafka_roundtrip: idempotent producer, fresh
# consumer group, every payload once and intact), that the topics have the partitions asked
# for, that a round trip survives broker 1 going down and up again mid-run, that SIGTERM shuts
# it down cleanly (exit 0, bootstrap file and FIFO removed), custom topics and -X, and that bad
# command lines exit 2 and runtime failures 1. Needs tests/run's CPROF_BIN, CPROF_BUILD and
# CPROF_WORK.
set -u
export LC_ALL=C

broker_bin="$CPROF_BIN/cprof-devbroker"
roundtrip="$CPROF_BUILD/tests/kafka_roundtrip"
work="$CPROF_WORK"
passed=0 failed=0
pid=

pass() {
	passed=$((passed + 1))
	echo "ok   $1"
}

fail() {
	failed=$((failed + 1))
	echo "FAIL $1: $2"
}

# Shows the end of a file, indented, after a failure.
show() {
	[ -f "$1" ] && tail -n "${2:-15}" "$1" | sed 's/^/     | /'
}

cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		sleep 1
		kill -KILL "$pid" 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

for f in "$broker_bin" "$roundtrip"; do
	if [ ! -x "$f" ]; then
		echo "FAIL $f is not built"
		echo "devbroker: 0 passed, 1 failed"
		exit 1
	fi
done

# wait_for TENTHS COMMAND...: runs COMMAND every 0.1 s until it succeeds, at most TENTHS times.
wait_for() {
	tries=$1
	shift
	while [ "$tries" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	return 1
}

alive() { kill -0 "$pid" 2>/dev/null; }
file_or_dead() { [ -s "$1" ] || ! alive; }
log_has() { grep -qF -- "$1" "$work/broker.err"; }

# start_broker ARGS...: starts the broker in the background (pid in $pid, output in
# $work/broker.out and broker.err) and waits up to 15 s for its bootstrap line on stdout.
start_broker() {
	rm -f "$work/broker.out" "$work/broker.err" # the background shell may not have truncated them yet
	"$broker_bin" "$@" >"$work/broker.out" 2>"$work/broker.err" &
	pid=$!
	wait_for 150 file_or_dead "$work/broker.out"
	bootstrap=$(sed -n 's/^bootstrap\.servers=//p' "$work/broker.out")
	[ -n "$bootstrap" ]
}

# stop_broker SIGNAL: sends SIGNAL, waits up to 10 s; sets $stop_status (or "timeout").
stop_broker() {
	kill "-$1" "$pid"
	if wait_for 100 eval '! alive'; then
		wait "$pid"
		stop_status=$?
	else
		stop_status=timeout
	fi
	pid=
}

# control LINE: writes LINE to the control FIFO (bounded: a dead broker leaves no reader).
control() {
	timeout 5 sh -c 'printf "%s\n" "$1" >"$2"' control "$1" "$fifo"
}

# ------------------------------------------------------------------ usage

if "$broker_bin" --help >"$work/out" 2>"$work/err" && grep -q '^usage: cprof-devbroker' "$work/out" &&
	[ ! -s "$work/err" ]; then
	pass "--help exits 0 with the usage on stdout"
else
	fail "--help" "exit status, stdout or stderr wrong"
	show "$work/err"
fi

# usage_case NAME NEEDLE ARGS...: the broker must exit 2 at once, print nothing on stdout and
# name the problem (NEEDLE) on stderr.
usage_case() {
	name=$1 needle=$2
	shift 2
	timeout 10 "$broker_bin" "$@" >"$work/out" 2>"$work/err"
	status=$?
	if [ "$status" -ne 2 ]; then
		fail "usage error: $name" "exit $status, expected 2"
	elif [ -s "$work/out" ]; then
		fail "usage error: $name" "printed on stdout"
	elif ! grep -qF -- "$needle" "$work/err"; then
		fail "usage error: $name" "stderr lacks '$needle'"
		show "$work/err"
	else
		pass "usage error: $name exits 2"
	fi
}
usage_case "unknown option" "unknown option '--bogus'" --bogus
usage_case "missing value" "--brokers needs a value" --brokers
usage_case "zero brokers" "--brokers '0'" --brokers 0
usage_case "bad topic name" "--topic 'a/b'" --topic a/b
usage_case "zero partitions" "PARTITIONS must be" --topic t:0
usage_case "replication above brokers" "replication 4 exceeds the 3 broker(s)" --topic t:2:4
usage_case "stray argument" "unexpected argument 'extra'" extra
usage_case "bad -X" "-X 'debug': expected KEY=VALUE" -X debug
usage_case "unknown -X property" "-X no.such.property=1" -X no.such.property=1

# runtime_case NAME NEEDLE ARGS...: the broker must fail with exit 1 and say why (NEEDLE).
runtime_case() {
	name=$1 needle=$2
	shift 2
	timeout 10 "$broker_bin" "$@" >"$work/out" 2>"$work/err"
	status=$?
	if [ "$status" -ne 1 ]; then
		fail "runtime error: $name" "exit $status, expected 1"
		show "$work/err"
	elif [ -s "$work/out" ] || ! grep -qF -- "$needle" "$work/err"; then
		fail "runtime error: $name" "printed on stdout, or stderr lacks '$needle'"
		show "$work/err"
	else
		pass "runtime error: $name exits 1"
	fi
}
runtime_case "bootstrap file in a missing folder" "cannot create $work/missing/bs" \
	--bootstrap-file "$work/missing/bs"
: >"$work/regular"
runtime_case "control FIFO path is a regular file" "$work/regular exists and is not a FIFO" \
	--control-fifo "$work/regular"

# ------------------------------------------------------------------ the default cluster

bsfile="$work/bootstrap"
fifo="$work/control"
if start_broker --bootstrap-file "$bsfile" --control-fifo "$fifo" && [ -f "$bsfile" ] &&
	[ "$(cat "$bsfile")" = "$bootstrap" ] && [ -p "$fifo" ] &&
	[ "$(echo "$bootstrap" | tr ',' '\n' | grep -c '^127\.0\.0\.1:[0-9][0-9]*$')" -eq 3 ]; then
	pass "starts 3 brokers, prints bootstrap.servers=$bootstrap and writes the bootstrap file"
else
	fail "start" "no bootstrap line, bootstrap file or FIFO within 15 s"
	show "$work/broker.err"
	echo "devbroker: $passed passed, $failed failed"
	exit 1
fi

if "$roundtrip" -b "$bootstrap" -t cprof.profiles -n 1000 -s 2048 >"$work/rt.out" 2>"$work/rt.err" &&
	grep -qx 'produced 1000, consumed 1000' "$work/rt.out"; then
	pass "1000 messages of 2 KB round-trip exactly once through cprof.profiles"
else
	fail "round trip" "$(cat "$work/rt.out")"
	show "$work/rt.err"
fi

# partitions TOPIC WANT
partitions() {
	got=$("$roundtrip" -b "$bootstrap" -m "$1" -T 10 2>"$work/meta.err")
	if [ "$got" = "$2" ]; then
		pass "metadata: $1 has $2 partitions"
	else
		fail "metadata: $1" "got '$got' partitions, expected $2"
		show "$work/meta.err"
	fi
}
partitions cprof.profiles 12
partitions cprof.profiles.dlq 3

# Broker 1 goes down 0.5 s into a paced run (3,000 messages over 3 s) and comes back 1.5 s later:
# the idempotent producer must deliver everything exactly once and the consumer read it all.
"$roundtrip" -b "$bootstrap" -t cprof.profiles -n 3000 -s 2048 -r 1000 >"$work/rt2.out" 2>"$work/rt2.err" &
rt_pid=$!
sleep 0.5
control "down 1" && wait_for 50 log_has "control: broker 1 is down"
down_ok=$?
sleep 1.5
control "up 1" && wait_for 50 log_has "control: broker 1 is up"
up_ok=$?
wait "$rt_pid"
rt_status=$?
if [ "$down_ok" -ne 0 ] || [ "$up_ok" -ne 0 ]; then
	fail "broker 1 down and up mid-run" "the control FIFO commands were not applied"
	show "$work/broker.err"
elif [ "$rt_status" -ne 0 ] || ! grep -qx 'produced 3000, consumed 3000' "$work/rt2.out"; then
	fail "broker 1 down and up mid-run" "exit $rt_status: $(cat "$work/rt2.out")"
	show "$work/rt2.err"
else
	# Whether the client happens to log the outage depends on timing (it may not touch broker 1
	# in the 1.5 s window): shown for the reader, not asserted. The broker's log proves the
	# outage was applied, and the count proves nothing was lost or repeated.
	grep -q 'Connection refused' "$work/rt2.err" && echo "     | the client saw broker 1 refuse connections"
	pass "3000 messages round-trip exactly once while broker 1 goes down and up"
fi

control "leader cprof.profiles 0 2" && wait_for 50 log_has "control: leader of cprof.profiles [0] is broker 2"
leader_ok=$?
control "frobnicate 7" && wait_for 50 log_has "control: unknown command 'frobnicate'"
bad_ok=$?
control "leader cprof.profile 0 2" && wait_for 50 log_has "control: 'leader cprof.profile ...': not one of the topics"
typo_ok=$?
if [ "$leader_ok" -eq 0 ] && [ "$bad_ok" -eq 0 ] && [ "$typo_ok" -eq 0 ] && alive; then
	pass "control FIFO: leader move applied; unknown command and unknown topic reported and ignored"
else
	fail "control FIFO" "leader move, unknown command or unknown topic not logged, or the broker died"
	show "$work/broker.err"
fi

stop_broker TERM
if [ "$stop_status" = 0 ] && [ ! -e "$bsfile" ] && [ ! -e "$fifo" ]; then
	pass "SIGTERM: exit 0 within 10 s, bootstrap file and FIFO removed"
else
	fail "SIGTERM" "status $stop_status; bootstrap file $([ -e "$bsfile" ] && echo left || echo removed), FIFO $([ -e "$fifo" ] && echo left || echo removed)"
	show "$work/broker.err"
fi

# ------------------------------------------------------------------ custom topics, SIGINT

if start_broker --brokers 1 --topic custom.topic:5 --topic other:2:1 -X debug=mock &&
	[ "$(echo "$bootstrap" | tr ',' '\n' | wc -l)" -eq 1 ]; then
	if log_has 'MOCK: [thrd:mock]: Created topic "custom.topic" with 5 partition(s)'; then
		pass "-X debug=mock reaches librdkafka; its log goes to stderr"
	else
		fail "-X debug=mock" "no librdkafka MOCK debug line on stderr"
		show "$work/broker.err"
	fi
	partitions custom.topic 5
	partitions other 2
	if "$roundtrip" -b "$bootstrap" -m cprof.profiles -T 10 >/dev/null 2>&1; then
		fail "custom topics replace the defaults" "cprof.profiles exists"
	else
		pass "custom topics replace the default ones"
	fi
	stop_broker INT
	if [ "$stop_status" = 0 ]; then
		pass "SIGINT: exit 0 within 10 s"
	else
		fail "SIGINT" "status $stop_status"
		show "$work/broker.err"
	fi
else
	fail "one broker with custom topics" "did not start"
	show "$work/broker.err"
fi

echo "devbroker: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
