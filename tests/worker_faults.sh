#!/bin/sh
# worker_faults: exactly-once of `cprof-worker run` under faults, with a real PostgreSQL and the
# devbroker (librdkafka's mock cluster over TCP). Four scenarios, each on its own topic (16
# partitions), consumer group and service, each under a load pushed while the faults happen:
#   kill     a worker killed with -9 at random moments, at least 8 times, restarted each time
#            (at least 2,000 distinct uploads);
#   pg       PostgreSQL stopped and started again (same folder and port) three times mid-load,
#            the last outage longer than the worker's max.poll.interval.ms: the worker pauses
#            its partitions and keeps polling, so it stays in the group (no revocation);
#   broker   each broker set down and up in turn through the control FIFO, then all three;
#   rebal    a second and a third worker join and leave (SIGTERM), then the first leaves;
#   zombie   a worker holding a batch is frozen (SIGSTOP) past its session timeout, the other
#            worker takes its partitions over and stores the same messages, then the zombie
#            resumes (SIGCONT) and tries to store its batch: the offset fence must refuse it.
# After each, a final `run --drain`, and what PostgreSQL holds must be exact: the stored profile
# ids are the set of ids cprof-push had acknowledged (nothing lost, nothing extra), per-function
# flat/cum of the cpu and goroutine series equal N x `cprof-query top` of each pushed file,
# series_minutes counts each profile once and its totals equal the stack values, and the stored
# offsets are the ends of the partitions. The load: the Go fixtures' cpu, cpu2 and goroutine
# profiles in copies that differ only in the gzip header's mtime (so each has its own derived id),
# 20 files per cprof-push call, one distinct instance per call (spread over the partitions).
set -u
. "$CPROF_ROOT/tests/lib.sh"
. "$CPROF_ROOT/tests/pg.sh"
work=$CPROF_WORK
pass=0 fail=0
tab=$(printf '\t')
t_start=$(date +%s)
ok() {
	pass=$((pass + 1))
	echo "ok   $*"
}
bad() {
	fail=$((fail + 1))
	echo "FAIL $*"
}
t0=$t_start # the current scenario's start
note() { echo "     [$(($(date +%s) - t0)) s] $*"; }
show() { [ -f "$1" ] && tail -n "${2:-8}" "$1" | sed 's/^/     | /'; }
finish() {
	echo "total time $(($(date +%s) - t_start)) s"
	echo "worker_faults: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}

# Slower everywhere under ASan and UBSan.
slow=1
[ "${CPROF_SANITIZED:-0}" = 1 ] && slow=2

# ------------------------------------------------------------------ processes and cleanup

bgpids= # workers and pushers running in the background
broker_pid=
forget() { # PID
	bgpids=$(echo " $bgpids " | sed "s/ $1 / /g; s/^ *//; s/ *$//")
}
cleanup() {
	for p in $bgpids; do
		kill -9 "$p" 2>/dev/null
	done
	for p in $bgpids; do
		wait "$p" 2>/dev/null
	done
	for f in "$work"/*.push.pid; do # a pusher's cprof-push in flight
		_p=$(cat "$f" 2>/dev/null)
		[ -n "$_p" ] && tr '\0' ' ' 2>/dev/null <"/proc/$_p/cmdline" | grep -q cprof-push && kill -9 "$_p" 2>/dev/null
	done
	if [ -n "$broker_pid" ]; then
		kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
	fi
	pg_stop "$work/pg"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

rnd() { od -An -N2 -tu2 /dev/urandom | tr -d ' '; }
sleep_ms() { sleep "$(($1 / 1000)).$(printf %03d $(($1 % 1000)))"; }

# wait_until SECONDS COMMAND...: COMMAND every 0.1 s until it succeeds.
wait_until() {
	_w=$(($1 * 10))
	shift
	while [ "$_w" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		_w=$((_w - 1))
	done
	return 1
}
count_in() { # FILE PATTERN: lines matching (0 when FILE does not exist yet)
	_c=$(grep -c -- "$2" "$1" 2>/dev/null)
	echo "${_c:-0}"
}
has_more() { # FILE PATTERN N: more than N lines match
	[ "$(count_in "$1" "$2")" -gt "$3" ]
}

# ------------------------------------------------------------------ PostgreSQL and Kafka

pg_start "$work/pg" 0 || { bad "PostgreSQL did not start"; finish; }
pg_port=$PG_PORT
db=$PG_CONNINFO_TCP # stays valid across restarts on the same port
sql() { pg_psql "$work/pg" -F "$tab" -c "$1"; }
"$CPROF_BIN/cprof-worker" migrate --pg "$db" >/dev/null || { bad "migrate"; finish; }

fifo=$work/control
devbroker_start "$work" --brokers 3 --topic f.kill:16 --topic f.pg:16 --topic f.broker:16 \
	--topic f.rebal:16 --topic f.zombie:16 --topic cprof.profiles.dlq:2 --control-fifo "$fifo" ||
	{ bad "the devbroker did not start: $(cat "$work/broker.err")"; finish; }
control() { # LINE to the devbroker's FIFO (bounded: a dead broker leaves no reader)
	timeout 5 sh -c 'printf "%s\n" "$1" >"$2"' control "$1" "$fifo"
}

# ------------------------------------------------------------------ the load

fx=$work/fx
"$(gofixtures_bin)" write "$fx" >/dev/null 2>&1 || { bad "Go fixtures"; finish; }
mkdir -p "$work/copies"
copy() { # BASE K: fx/BASE.pb.gz with K as the gzip mtime (bytes 4-7): same profile, other bytes
	{
		head -c 4 "$fx/$1.pb.gz"
		printf "\\$(printf %03o $(($2 % 256)))\\$(printf %03o $(($2 / 256 % 256)))\\000\\000"
		tail -c +9 "$fx/$1.pb.gz"
	} >"$work/copies/$1-$2.pb.gz"
}
files=
for k in 1 2 3 4 5 6 7 8; do
	copy cpu "$k" && files="$files $work/copies/cpu-$k.pb.gz"
done
for k in 1 2 3 4 5 6; do
	copy cpu2 "$k" && copy goroutine "$k" &&
		files="$files $work/copies/cpu2-$k.pb.gz $work/copies/goroutine-$k.pb.gz"
done
# the copies are real, distinct profiles to cprof (same values, other derived ids)
if cprof_top_tsv 1 "$work/copies/cpu-3.pb.gz" >"$work/top.copy" && cprof_top_tsv 1 "$fx/cpu.pb.gz" >"$work/top.cpu.1" &&
	cmp -s "$work/top.copy" "$work/top.cpu.1" && [ "$(wc -l <"$work/top.cpu.1")" -gt 3 ]; then ok "gzip-mtime copies decode as the original"; else
	bad "the copies of cpu.pb.gz do not decode as the original"
	finish
fi
for bi in cpu.0 cpu.1 cpu2.0 cpu2.1 goroutine.0; do
	cprof_top_tsv "${bi#*.}" "$fx/${bi%.*}.pb.gz" >"$work/top.$bi" || { bad "cprof-query top $bi"; finish; }
done

# start_pusher SCEN TOPIC: pushes the 20 files under a new instance every PAUSE ms until
# $work/SCEN.stop exists (and at least MIN uploads went), in the background ($pusher_pid).
# Acknowledged uploads go to SCEN.pushed (one line each: FILE -> TOPIC [P] @ OFFSET (id ID)).
start_pusher() { # SCEN TOPIC PAUSE_MS MIN
	rm -f "$work/$1.stop" "$work/$1.pushed" "$work/$1.push.fail"
	: >"$work/$1.pushed"
	(
		n=0
		while [ ! -f "$work/$1.stop" ] || [ "$(wc -l <"$work/$1.pushed")" -lt "$4" ]; do
			n=$((n + 1))
			# shellcheck disable=SC2086
			"$CPROF_BIN/cprof-push" -b "$brokers" -t "$2" --service "svc-$1" --env production \
				--instance "$1-$n" --timeout 60s $files >>"$work/$1.pushed" 2>>"$work/$1.push.err" &
			echo "$!" >"$work/$1.push.pid" # for cleanup
			wait "$!" || echo "call $n: exit $?" >>"$work/$1.push.fail"
			rm -f "$work/$1.push.pid"
			sleep_ms "$3"
		done
	) &
	pusher_pid=$!
	bgpids="$bgpids $pusher_pid"
}
stop_pusher() { # SCEN
	touch "$work/$1.stop"
	wait "$pusher_pid"
	forget "$pusher_pid"
	if [ -s "$work/$1.push.fail" ]; then
		bad "$1: cprof-push failed: $(head -n 3 "$work/$1.push.fail") $(tail -n 3 "$work/$1.push.err")"
	else
		ok "$1: $(wc -l <"$work/$1.pushed") uploads pushed and acknowledged"
	fi
}
pushed_count() { sed -n 's/.*(id \([0-9a-f]*\))$/\1/p' "$work/$1.pushed" | sort -u | wc -l; }
stored_count() { sql "SELECT count(*) FROM cprof.profiles WHERE service = 'svc-$1'"; }
in_xact() { # client connections inside a transaction, other than this one
	sql "SELECT count(*) FROM pg_stat_activity WHERE datname = 'cprof' AND backend_type = 'client backend'
	     AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
}
# inconsistent SCEN: partitions where PostgreSQL's stored offset is not the count and the end of
# the profiles stored from that partition, plus series whose profile count is not the number of
# profile rows (0 when offsets, profiles and facts moved together). Every message is a distinct
# upload, so a partition stored up to N holds exactly the profiles of offsets 0 to N-1.
inconsistent() {
	sql "SELECT (SELECT count(*) FROM
	        (SELECT kafka_partition, next_offset FROM cprof.kafka_offsets WHERE consumer_group = 'g-$1' AND topic = 'f.$1') o
	        FULL JOIN (SELECT kafka_partition, count(*) AS n, max(kafka_offset) + 1 AS m FROM cprof.profiles
	                   WHERE service = 'svc-$1' GROUP BY 1) p USING (kafka_partition)
	        WHERE o.next_offset IS DISTINCT FROM p.n OR o.next_offset IS DISTINCT FROM p.m)
	     + (SELECT count(*) FROM cprof.series s WHERE s.service = 'svc-$1' AND
	        (SELECT coalesce(sum(m.profiles), 0) FROM cprof.series_minutes m WHERE m.series_id = s.series_id) <>
	        (SELECT count(*) FROM cprof.profiles p WHERE p.service = 'svc-$1' AND p.profile_type = s.profile_type))"
}
probes=0 torn=0
probe() { # SCEN WHEN: offsets, profiles and facts agree now, while workers run
	probes=$((probes + 1))
	_i=$(inconsistent "$1")
	[ "$_i" = 0 ] || {
		torn=$((torn + 1))
		note "$1: $2: $_i partition(s) or series where offsets, profiles and facts disagree"
	}
}
probe_verdict() { # SCEN
	if [ "$torn" = 0 ]; then
		ok "$1: at each of the $probes moments probed during the faults, offsets, profiles and series counts agree"
	else
		bad "$1: at $torn of the $probes moments probed, offsets, profiles and series counts disagree"
	fi
	probes=0 torn=0
}
retried='(attempt [0-9]*)\|(retrying)' # a failed write of a batch, or of an offset lookup
caught_up() { [ "$(stored_count "$1")" = "$(pushed_count "$1")" ]; }

# ------------------------------------------------------------------ workers

# start_worker NAME SCEN [OPTION...]: a worker of SCEN's topic and group in the background ($wpid).
start_worker() {
	_n=$1 _s=$2
	shift 2
	"$CPROF_BIN/cprof-worker" run --pg "$db" -b "$brokers" -t "f.$_s" --group "g-$_s" --batch-count 50 \
		--batch-ms 100 --stats-seconds 1 -X session.timeout.ms=6000 "$@" >"$work/$_n.out" 2>"$work/$_n.err" &
	wpid=$!
	bgpids="$bgpids $wpid"
}
wait_assigned() { # NAME [N]: the worker's log shows more than N assignments
	wait_until $((40 * slow)) has_more "$work/$1.err" ': assigned ' "${2:-0}"
}
# settled LOG N: the worker's log shows more than N rebalance events, the last an assignment
rebalance_event=': assigned \|partitions revoked'
settled() {
	[ "$(count_in "$1" "$rebalance_event")" -gt "$2" ] && grep -- "$rebalance_event" "$1" | tail -n 1 | grep -q ': assigned '
}
# stop_worker NAME PID: SIGTERM, then its exit status must be 0 (within 30 s)
stop_worker() {
	kill -TERM "$2"
	_t=$((300 * slow))
	while [ "$_t" -gt 0 ] && kill -0 "$2" 2>/dev/null; do
		sleep 0.1
		_t=$((_t - 1))
	done
	if kill -0 "$2" 2>/dev/null; then
		bad "$1 did not exit within $((30 * slow)) s of SIGTERM"
		show "$work/$1.err"
		kill -9 "$2"
		wait "$2" 2>/dev/null
	else
		wait "$2"
		_st=$?
		if [ "$_st" -eq 0 ]; then ok "$1 exits 0 on SIGTERM"; else
			bad "$1 exited $_st on SIGTERM"
			show "$work/$1.err" 20
		fi
	fi
	forget "$2"
}
drain() { # NAME SCEN: a final `run --drain` in the foreground
	if timeout $((150 * slow)) "$CPROF_BIN/cprof-worker" run --pg "$db" -b "$brokers" -t "f.$2" --group "g-$2" \
		--batch-ms 200 --drain -X session.timeout.ms=6000 >"$work/$1.out" 2>"$work/$1.err"; then
		ok "$2: the final --drain run exits 0 ($(grep 'stats:' "$work/$1.err" | tail -n 1 | sed 's/.*stats: //'))"
	else
		bad "$2: the final --drain run exited $?"
		show "$work/$1.err"
	fi
}

# ------------------------------------------------------------------ the checks

# want_functions SCEN TYPE INDEX: N x cprof-query top per pushed base file, summed, as sorted TSV
want_functions() {
	case $2 in cpu) bases="cpu cpu2" ;; *) bases=$2 ;; esac
	echo "function${tab}flat${tab}cum"
	for b in $bases; do
		n=$(grep -c "/$b-[0-9]*\.pb\.gz -> " "$work/$1.pushed")
		tail -n +2 "$work/top.$b.$3" | awk -F "$tab" -v n="$n" '{ printf "%s\t%.0f\t%.0f\n", $1, $2 * n, $3 * n }'
	done | awk -F "$tab" '{ f[$1] += $2; c[$1] += $3 }
		END { for (k in f) if (f[k] != 0 || c[k] != 0) printf "%s\t%.0f\t%.0f\n", k, f[k], c[k] }' | sort
}
got_functions() { # SCEN TYPE SAMPLE_TYPE
	echo "function${tab}flat${tab}cum"
	sql "SELECT f.name, sum(m.flat), sum(m.cum) FROM cprof.function_minutes m
	     JOIN cprof.functions f USING (function_id) JOIN cprof.series s USING (series_id)
	     WHERE s.service = 'svc-$1' AND s.profile_type = '$2' AND s.sample_type = '$3'
	     GROUP BY f.name HAVING sum(m.flat) <> 0 OR sum(m.cum) <> 0" | sort
}
total_of() { # FILE: the sum of the flat column
	tail -n +2 "$1" | awk -F "$tab" '{ t += $2 } END { printf "%.0f\n", t }'
}

# running_caught_up SCEN WHAT: the running worker SCEN.a stores everything pushed, after WHAT
running_caught_up() {
	if wait_until $((60 * slow)) caught_up "$1"; then
		ok "$1: the running worker caught up by itself after $2"
	else
		bad "$1: the running worker did not catch up: $(stored_count "$1") of $(pushed_count "$1") stored"
		show "$work/$1.a.err"
	fi
}
# settle SCEN: the final drain, the exact checks, the scenario's time
settle() {
	drain "$1.drain" "$1"
	check_exact "$1"
	note "$1: $(($(date +%s) - t0)) s"
}
# check_exact SCEN: what PostgreSQL holds for SCEN is exactly the acknowledged uploads
check_exact() {
	s=$1
	sed -n 's/.*(id \([0-9a-f]*\))$/\1/p' "$work/$s.pushed" | sort >"$work/$s.ids.want"
	sql "SELECT profile_id FROM cprof.profiles WHERE service = 'svc-$s'" | sort >"$work/$s.ids.got"
	n_want=$(wc -l <"$work/$s.ids.want")
	n_dist=$(sort -u "$work/$s.ids.want" | wc -l)
	[ "$n_want" = "$n_dist" ] || bad "$s: cprof-push acknowledged $n_want uploads but only $n_dist distinct ids"
	if cmp -s "$work/$s.ids.want" "$work/$s.ids.got"; then
		ok "$s: the stored profiles are exactly the $n_want acknowledged uploads"
	else
		bad "$s: stored profiles differ from the acknowledged uploads: $(wc -l <"$work/$s.ids.got") stored," \
			"$(comm -23 "$work/$s.ids.want" "$work/$s.ids.got" | wc -l) missing," \
			"$(comm -13 "$work/$s.ids.want" "$work/$s.ids.got" | wc -l) not pushed," \
			"$(uniq -d "$work/$s.ids.got" | wc -l) twice"
	fi
	dups=$(sql "SELECT count(*) FROM (SELECT profile_id, profile_time FROM cprof.profiles
	            WHERE service = 'svc-$s' GROUP BY 1, 2 HAVING count(*) > 1) d")
	[ "$dups" = 0 ] && ok "$s: no (profile_id, profile_time) twice" || bad "$s: $dups (profile_id, profile_time) stored twice"

	for spec in "cpu samples 0" "cpu cpu 1" "goroutine goroutine 0"; do
		# shellcheck disable=SC2086 # three words
		set -- $spec
		want_functions "$s" "$1" "$3" >"$work/$s.fn.$2.want"
		got_functions "$s" "$1" "$2" >"$work/$s.fn.$2.got"
		if [ "$(wc -l <"$work/$s.fn.$2.want")" -gt 3 ] && cmp -s "$work/$s.fn.$2.want" "$work/$s.fn.$2.got"; then
			ok "$s: per-function flat/cum of $1/$2 = N x cprof-query top ($(($(wc -l <"$work/$s.fn.$2.want") - 1)) functions)"
		else
			bad "$s: per-function flat/cum of $1/$2 differ from N x cprof-query top (want < > got):"
			diff "$work/$s.fn.$2.want" "$work/$s.fn.$2.got" | head -n 8 | sed 's/^/     | /'
		fi
	done

	# series_minutes: each profile counted once, totals equal the stack values and the expected sums
	n_cpu=$(grep -c '/cpu2\{0,1\}-[0-9]*\.pb\.gz -> ' "$work/$s.pushed")
	n_gor=$(grep -c '/goroutine-[0-9]*\.pb\.gz -> ' "$work/$s.pushed")
	{
		echo "cpu${tab}cpu${tab}$n_cpu${tab}$(total_of "$work/$s.fn.cpu.want")${tab}$(total_of "$work/$s.fn.cpu.want")"
		echo "cpu${tab}samples${tab}$n_cpu${tab}$(total_of "$work/$s.fn.samples.want")${tab}$(total_of "$work/$s.fn.samples.want")"
		echo "goroutine${tab}goroutine${tab}$n_gor${tab}$(total_of "$work/$s.fn.goroutine.want")${tab}$(total_of "$work/$s.fn.goroutine.want")"
	} >"$work/$s.series.want"
	sql "SELECT s.profile_type, s.sample_type,
	        (SELECT coalesce(sum(m.profiles), 0) FROM cprof.series_minutes m WHERE m.series_id = s.series_id),
	        (SELECT coalesce(sum(m.total), 0) FROM cprof.series_minutes m WHERE m.series_id = s.series_id),
	        (SELECT coalesce(sum(m.value), 0) FROM cprof.stack_minutes m WHERE m.series_id = s.series_id)
	     FROM cprof.series s WHERE s.service = 'svc-$s' ORDER BY 1, 2" >"$work/$s.series.got"
	if cmp -s "$work/$s.series.want" "$work/$s.series.got"; then
		ok "$s: series_minutes profiles and totals, and stack_minutes values, are exact"
	else
		bad "$s: series totals (type, sample type, profiles, total, stack values) want < > got:"
		diff "$work/$s.series.want" "$work/$s.series.got" | sed 's/^/     | /'
	fi

	# the stored offsets: each partition's end (last acknowledged offset + 1)
	sed -n 's/.* \[\([0-9]*\)\] @ \([0-9]*\) (id .*/\1 \2/p' "$work/$s.pushed" |
		awk '{ if (!($1 in m) || $2 + 1 > m[$1]) m[$1] = $2 + 1 } END { for (p in m) print p "\t" m[p] }' |
		sort -n >"$work/$s.offsets.want"
	sql "SELECT kafka_partition, next_offset FROM cprof.kafka_offsets
	     WHERE consumer_group = 'g-$s' AND topic = 'f.$s' AND next_offset > 0 ORDER BY 1" >"$work/$s.offsets.got"
	if cmp -s "$work/$s.offsets.want" "$work/$s.offsets.got"; then
		ok "$s: the stored offsets are the ends of the $(wc -l <"$work/$s.offsets.want") partitions written"
	else
		bad "$s: stored offsets (partition, next) want < > got:"
		diff "$work/$s.offsets.want" "$work/$s.offsets.got" | head -n 8 | sed 's/^/     | /'
	fi
	gaps=$(cat "$work/$s".*.err 2>/dev/null | grep -c 'GAP:')
	[ "$gaps" = 0 ] && ok "$s: no worker reported a gap" || {
		bad "$s: $gaps gap line(s) in the worker logs"
		grep -h 'GAP:' "$work/$s".*.err | head -n 3 | sed 's/^/     | /'
	}
	note "$s: $(cat "$work/$s".*.err | grep -c 'fence:') fenced batch(es), $(cat "$work/$s".*.err | grep -c "$retried") retried write(s) in the logs"
}

# ------------------------------------------------------------------ 1. kill -9 loop

t0=$(date +%s)
start_pusher kill f.kill $((300 * slow)) 2000
kills=0 cycle=0
while [ "$kills" -lt 8 ] || [ "$(wc -l <"$work/kill.pushed")" -lt 2000 ]; do
	cycle=$((cycle + 1))
	[ "$cycle" -gt 30 ] && { bad "kill: the loop did not reach 8 kills and 2,000 uploads in 30 cycles"; break; }
	start_worker "kill.$cycle" kill
	if ! wait_assigned "kill.$cycle"; then
		bad "kill: worker $cycle was not assigned partitions within $((40 * slow)) s"
		show "$work/kill.$cycle.err"
		kill -9 "$wpid"
		wait "$wpid" 2>/dev/null
		forget "$wpid"
		continue
	fi
	before=$(stored_count kill)
	if [ $((cycle % 2)) = 0 ]; then
		# at a random moment
		delay=$(($(rnd) % (1200 * slow)))
		sleep_ms "$delay"
		when="${delay} ms after its assignment"
	else
		# as soon as PostgreSQL shows it inside a transaction (it may have ended since)
		_t=$((30 * slow))
		while [ "$_t" -gt 0 ] && [ "$(in_xact)" = 0 ]; do
			_t=$((_t - 1))
		done
		when="when seen inside a transaction"
		[ "$_t" = 0 ] && when="after 3 s without a transaction seen"
	fi
	if ! kill -0 "$wpid" 2>/dev/null; then
		bad "kill: worker $cycle died by itself"
		show "$work/kill.$cycle.err"
	fi
	kill -9 "$wpid"
	wait "$wpid" 2>/dev/null
	forget "$wpid"
	kills=$((kills + 1))
	after=$(stored_count kill)
	probe kill "right after kill $kills"
	note "kill: worker $cycle killed -9 $when; stored $before -> $after of $(wc -l <"$work/kill.pushed") pushed"
done
stop_pusher kill
[ "$kills" -ge 8 ] && ok "kill: $kills workers killed with -9 at random moments" || bad "kill: only $kills kills"
probe_verdict kill
# evidence that kills hit open transactions
note "kill: PostgreSQL logged $(count_in "$work/pg/postgres.log" 'with an open transaction') connection(s) lost inside a transaction, $(count_in "$work/pg/postgres.log" 'could not receive data from client') reset"
settle kill

# ------------------------------------------------------------------ 2. PostgreSQL restarted

t0=$(date +%s)
start_pusher pg f.pg $((250 * slow)) 600
start_worker pg.a pg -X max.poll.interval.ms=8000
pg_a=$wpid
if wait_assigned pg.a && wait_until $((20 * slow)) eval '[ "$(stored_count pg)" -gt 0 ]'; then
	for down_ms in 3000 1000 12000; do
		sleep_ms $(($(rnd) % 1000))
		pg_stop "$work/pg" || bad "pg: pg_stop"
		note "pg: PostgreSQL stopped for $down_ms ms (worker running, $(wc -l <"$work/pg.pushed") pushed)"
		sleep_ms "$down_ms"
		pg_start "$work/pg" "$pg_port" || { bad "pg: PostgreSQL did not start again on port $pg_port"; finish; }
		probe pg "right after the restart"
		sleep 2
		probe pg "2 s after the restart"
	done
else
	bad "pg: the worker stored nothing before the fault"
	show "$work/pg.a.err"
fi
sleep 1
stop_pusher pg
running_caught_up pg "the restarts"
has_more "$work/pg.a.err" "$retried" 0 && ok "pg: the worker saw PostgreSQL go away and retried" ||
	bad "pg: no retry in the worker's log: the fault did not reach it"
# 12 s without PostgreSQL, max.poll.interval.ms 8 s: a worker that stopped polling would have
# been put out of the group and seen its partitions revoked
if has_more "$work/pg.a.err" 'partitions revoked' 0; then
	bad "pg: the worker lost its partitions during the long outage: $(grep -m 1 -i 'max.poll\|revoked' "$work/pg.a.err")"
else
	ok "pg: the worker kept its partitions through an outage longer than max.poll.interval.ms"
fi
probe_verdict pg
stop_worker pg.a "$pg_a"
settle pg

# ------------------------------------------------------------------ 3. brokers down and up

t0=$(date +%s)
start_pusher broker f.broker $((250 * slow)) 600
start_worker broker.a broker
broker_a=$wpid
if wait_assigned broker.a && wait_until $((20 * slow)) eval '[ "$(stored_count broker)" -gt 0 ]'; then
	for b in 1 2 3 "1 2 3"; do
		for x in $b; do control "down $x" || bad "broker: control down $x"; done
		note "broker: broker(s) $b down ($(stored_count broker) stored of $(wc -l <"$work/broker.pushed") pushed)"
		case $b in *" "*) sleep 3 ;; *) sleep 2 ;; esac
		probe broker "broker(s) $b down"
		for x in $b; do control "up $x" || bad "broker: control up $x"; done
		sleep 1.5
		probe broker "broker(s) $b up again"
	done
else
	bad "broker: the worker stored nothing before the fault"
	show "$work/broker.a.err"
fi
[ "$(count_in "$work/broker.err" 'control: broker [0-9] is down')" -ge 6 ] && ok "broker: the devbroker took the down/up commands" ||
	bad "broker: the devbroker did not log the commands: $(tail -n 3 "$work/broker.err")"
stop_pusher broker
running_caught_up broker "the outages"
probe_verdict broker
stop_worker broker.a "$broker_a"
settle broker

# ------------------------------------------------------------------ 4. rebalances

t0=$(date +%s)
start_pusher rebal f.rebal $((200 * slow)) 600
start_worker rebal.a rebal
rebal_a=$wpid
wait_assigned rebal.a || bad "rebal: the first worker was not assigned partitions"
start_worker rebal.b rebal
rebal_b=$wpid
wait_assigned rebal.b || bad "rebal: the second worker was not assigned partitions"
probe rebal "the second worker joined"
sleep_ms $(($(rnd) % 1500))
start_worker rebal.c rebal
rebal_c=$wpid
wait_assigned rebal.c || bad "rebal: the third worker was not assigned partitions"
probe rebal "the third worker joined"
sleep_ms $(($(rnd) % 1500))
note "rebal: three workers ($(stored_count rebal) stored of $(wc -l <"$work/rebal.pushed") pushed); the second leaves"
n_a=$(count_in "$work/rebal.a.err" "$rebalance_event")
stop_worker rebal.b "$rebal_b"
probe rebal "the second worker left"
wait_until $((20 * slow)) settled "$work/rebal.a.err" "$n_a"
sleep_ms $(($(rnd) % 1000))
note "rebal: the third leaves ($(stored_count rebal) stored)"
n_a=$(count_in "$work/rebal.a.err" "$rebalance_event")
stop_worker rebal.c "$rebal_c"
probe rebal "the third worker left"
wait_until $((20 * slow)) settled "$work/rebal.a.err" "$n_a"
sleep_ms $(($(rnd) % 1000))
start_worker rebal.d rebal
rebal_d=$wpid
wait_assigned rebal.d || bad "rebal: the fourth worker was not assigned partitions"
sleep_ms $(($(rnd) % 1500))
note "rebal: the first leaves ($(stored_count rebal) stored)"
stop_worker rebal.a "$rebal_a"
probe rebal "the first worker left"
sleep 2
stop_pusher rebal
if wait_until $((60 * slow)) caught_up rebal; then
	ok "rebal: the remaining worker caught up"
else
	bad "rebal: the remaining worker did not catch up: $(stored_count rebal) of $(pushed_count rebal) stored"
	show "$work/rebal.d.err"
fi
probe_verdict rebal
stop_worker rebal.d "$rebal_d"
n_rev=$(cat "$work"/rebal.[abcd].err | grep -c 'partitions revoked')
[ "$n_rev" -ge 6 ] && ok "rebal: $n_rev revocations across the workers" || bad "rebal: only $n_rev revocations: the rebalances did not happen"
settle rebal

# ------------------------------------------------------------------ 5. a zombie worker

# in_hand LOG: messages the worker had taken but not stored at its last stats line
in_hand() {
	grep 'stats:' "$1" | tail -n 1 | awk '{ print $4 - $6 - $9 - $11 }'
}
holds_batch() { [ "$(in_hand "$1")" -gt 0 ] 2>/dev/null; }

t0=$(date +%s)
start_pusher zombie f.zombie $((250 * slow)) 400
# The zombie-to-be never writes a batch on its own (time and count limits out of reach): it
# stores only on a revocation or a stop, so it surely holds messages when it is frozen.
start_worker zombie.a zombie --batch-ms 3600000 --batch-count 1000000
zombie_a=$wpid
wait_assigned zombie.a || bad "zombie: the first worker was not assigned partitions"
start_worker zombie.b zombie
zombie_b=$wpid
wait_assigned zombie.b || bad "zombie: the second worker was not assigned partitions"
wait_until $((20 * slow)) has_more "$work/zombie.a.err" ': assigned ' 16 # A's share after B joined
sleep_ms $(($(rnd) % 1500))
wait_until $((20 * slow)) holds_batch "$work/zombie.a.err" || bad "zombie: the first worker took no messages"
n_b=$(count_in "$work/zombie.b.err" ': assigned ')
kill -STOP "$zombie_a"
note "zombie: the first worker frozen holding $(in_hand "$work/zombie.a.err") message(s) ($(stored_count zombie) stored of $(wc -l <"$work/zombie.pushed") pushed)"
# B gets every partition once A's session (6 s) expires, and stores what A held
if wait_until $((30 * slow)) has_more "$work/zombie.b.err" ': assigned ' $((n_b + 15)); then
	wait_until $((20 * slow)) caught_up zombie
	note "zombie: the second worker took over ($(stored_count zombie) stored of $(wc -l <"$work/zombie.pushed") pushed)"
else
	bad "zombie: the second worker did not take the partitions over"
fi
probe zombie "the second worker took over"
kill -CONT "$zombie_a"
if wait_until $((20 * slow)) has_more "$work/zombie.a.err" 'fence:' 0; then
	ok "zombie: the resumed worker's batch was fenced off: $(grep -m 1 'fence:' "$work/zombie.a.err" | sed 's/.*fence: //')"
else
	bad "zombie: the resumed worker stored its batch or did not try (no fence in its log)"
	show "$work/zombie.a.err"
fi
probe zombie "the zombie was fenced off"
sleep 1
stop_pusher zombie
stop_worker zombie.a "$zombie_a" # it stores what it holds on its way out
if wait_until $((60 * slow)) caught_up zombie; then
	ok "zombie: the workers caught up"
else
	bad "zombie: the workers did not catch up: $(stored_count zombie) of $(pushed_count zombie) stored"
fi
probe zombie "the first worker left"
probe_verdict zombie
stop_worker zombie.b "$zombie_b"
settle zombie

finish
