#!/bin/sh
# agent_faults: cprof-agent against targets that misbehave on purpose (tests/pprofbad, a local
# HTTP server whose first path segment picks the fault), and its schedule measured from the
# server's side.
# - Failure classes: a target that is down, slow (past --timeout), answers an HTML page, a 404, a
#   500, a body cut off mid-transfer, a truncated gzip, garbage, an empty body, or more than
#   --max-size. Each is logged with its target, url and reason, counted (health=down, ok=0),
#   retried (the server sees it again), and never published: every message on the topic is the
#   good profile, byte for byte, from the one good target, which keeps its full rate.
# - Amortization: 4 replicas of one deployment with --budget 1 are each scraped 1/4 as often as
#   a deployment of one; with --budget 2, 1/2 as often; counted by the server over a known time.
# - One slot (--max-concurrent 1) and two targets slower than their period: they take turns;
#   --once stopped mid-scrape exits 1.
# - TLS: a self-signed https target is refused without its CA, scraped with --cacert (and the
#   --header sent) or --insecure.
# - SIGHUP: a new targets file takes effect (the rate follows the new replica count, removed
#   targets are no longer scraped); a broken one is refused and the old targets stay.
# - Command-line and targets-file errors exit 2 and say what and where.
set -u
. "$CPROF_ROOT/tests/lib.sh"
work=$CPROF_WORK
tally agent_faults
agent=$CPROF_BIN/cprof-agent

if ! command -v go >/dev/null 2>&1; then
	echo "agent_faults: the go command is not installed; cannot build tests/pprofbad"
	exit 77
fi

broker_pid= server_pid= agent_pid= tls_pid=
cleanup() {
	for p in $agent_pid $server_pid $tls_pid $broker_pid; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
}
trap cleanup EXIT
trap 'exit 1' INT TERM

devbroker_start "$work" --brokers 1 --topic cprof.profiles:2 ||
	{ bad "the devbroker did not start: $(cat "$work/broker.err")"; finish; }
"$(gofixtures_bin)" write "$work/fx" >/dev/null 2>&1 || { bad "Go fixtures"; finish; }
profile=$work/fx/heap.pb.gz
bad_server=$(pprofbad_bin) || { bad "building tests/pprofbad"; finish; }
"$bad_server" -listen 127.0.0.1:0 -port-file "$work/server.addr" -profile "$profile" 2>"$work/server.err" &
server_pid=$!
wait_file "$work/server.addr" || { bad "pprofbad did not listen: $(cat "$work/server.err")"; finish; }
base=http://$(cat "$work/server.addr")
down_port=$(
	. "$CPROF_ROOT/tests/pg.sh"
	pg_free_port
)

server_stats() { curl -s "$base/stats$1"; }
hits() { # PREFIX: requests the server saw for it since the last reset
	server_stats "" | awk -v p="$1" '$1 == p { n += $3 } END { print n + 0 }'
}
# run_agent NAME SECONDS ARG...: the agent for SECONDS, then SIGTERM; its log in $work/NAME.err,
# which is also $log.
run_agent() {
	log=$work/$1.err _secs=$2
	shift 2
	"$agent" -b "$brokers" "$@" 2>"$log" &
	agent_pid=$!
	sleep "$_secs"
	kill -TERM "$agent_pid"
	wait "$agent_pid"
	_status=$?
	agent_pid=
	return $_status
}
target_line() { grep "target $1[^ ]* health=" "$log" | tail -n 1; }

# ---- failure classes ----
modes="slow html notfound error truncated cutgzip garbage empty huge"
{
	echo "service=f-good url=$base/good"
	echo "service=f-down url=http://127.0.0.1:$down_port"
	for m in $modes; do echo "service=f-$m url=$base/$m"; done
} >"$work/targets"
server_stats "?reset=1" >/dev/null
run_agent faults 14 --targets "$work/targets" --profiles heap:2s --timeout 2s --connect-timeout 1s --retry-min 500ms \
	--max-size 1048576 --stats-seconds 5 && ok || bad "the agent exited $? after SIGTERM (nothing was lost)"

good=$(target_line f-good/)
case $good in *"health=up ok="*" failed=0 "*" lost=0 "*) ok ;; *) bad "good target: $good" ;; esac
good_ok=$(echo "$good" | sed -n 's/.* ok=\([0-9]*\) .*/\1/p')
# 14 s at one scrape per 2 s (+/- 10%), the first within 0.2 s: 6 or 7, whatever the others do
[ "${good_ok:-0}" -ge 6 ] && [ "${good_ok:-0}" -le 8 ] && ok || bad "the good target was scraped $good_ok times in 14 s, not 6-8"

expect_reason() { # MODE TEXT
	line=$(target_line "f-$1/")
	case $line in
	*"health=down ok=0 failed="*"published=0 "*"$2"*) ok ;;
	*) bad "$1: want health=down, nothing published and a reason with '$2': $line" ;;
	esac
	failed=$(echo "$line" | sed -n 's/.* failed=\([0-9]*\) .*/\1/p')
	[ "${failed:-0}" -ge 2 ] && ok || bad "$1: failed $failed times; not retried"
	grep -qF "$2" "$log" && grep "^cprof-agent: f-$1/[^ ]* heap [^ ]*: " "$log" | grep -qF "$2" && ok ||
		bad "$1: no log line with the target, url and '$2'"
}
expect_reason down "cannot connect"
expect_reason slow "timed out after 2s"
expect_reason html "not a pprof profile ("
expect_reason html "Content-Type text/html"
expect_reason notfound "HTTP 404: 404 page not found"
expect_reason error "HTTP 500: internal error"
expect_reason truncated "the response was cut short"
expect_reason cutgzip "not a pprof profile ("
expect_reason garbage "not a pprof profile (4096 bytes"
expect_reason empty "an empty response"
expect_reason huge "larger than --max-size 1048576 bytes"
for m in $modes; do
	[ "$(hits "/$m")" -ge 2 ] && ok || bad "$m: the server saw $(hits "/$m") requests; not retried"
done
grep -q '^cprof-agent: f-notfound/[^ ]* heap .*(2 failures in a row)' "$log" && ok ||
	bad "repeated failures are not logged with their count"
stats=$(grep ': stats ' "$log" | tail -n 1)
case $stats in *"targets=11 up=1 partial=0 down=10 "*) ok ;; *) bad "stats: $stats" ;; esac

# Nothing malformed was published: every message is the good profile, from the good target.
"$CPROF_BUILD/tests/kafka_envelopes" -b "$brokers" -t cprof.profiles -T 30 >"$work/topic.tsv" 2>"$work/topic.err" ||
	bad "reading the topic: $(cat "$work/topic.err")"
want_sha=$(sha256sum "$profile" | cut -d ' ' -f 1)
published=$(echo "$good" | sed -n 's/.* published=\([0-9]*\) .*/\1/p')
[ "$(wc -l <"$work/topic.tsv")" = "$published" ] && ok ||
	bad "$(wc -l <"$work/topic.tsv") messages on the topic, the good target published $published"
awk -F '\t' -v sha="$want_sha" '$4 != "envelope" || $6 != "f-good" || $11 != "heap" || $16 != sha { n++ }
	END { exit n > 0 }' "$work/topic.tsv" && ok || bad "a message other than the good profile: $(head -n 3 "$work/topic.tsv")"

# ---- amortization: 4 replicas share a budget; a deployment of one has it alone ----
amort_targets() { # REPLICAS...
	for r in "$@"; do echo "service=amort env=production instance=$r url=$base/good/$r"; done
	echo "service=solo env=production url=$base/good/solo"
}
amort_targets r1 r2 r3 r4 >"$work/amort"
# expect_rate PREFIX SECONDS PERIOD: the server saw SECONDS/PERIOD requests, +/- 1 and 10%
expect_rate() {
	n=$(hits "$1")
	awk -v n="$n" -v t="$2" -v p="$3" 'BEGIN { want = t / p; slack = 1 + want / 10;
		exit !(n >= want - slack && n <= want + slack) }' && ok ||
		bad "$1: $n scrapes in $2 s, want $2/$3 = $(awk -v t="$2" -v p="$3" 'BEGIN { print t / p }')"
}
server_stats "?reset=1" >/dev/null
run_agent budget1 24 --targets "$work/amort" --profiles heap:1s --budget 1 --stats-seconds 0 && ok || bad "amortization run"
for r in r1 r2 r3 r4; do expect_rate "/good/$r" 24 4; done
expect_rate /good/solo 24 1
grep -q 'target amort/r3 health=up .* replica=3/4 heap_every=4s ' "$log" && ok ||
	bad "replica line: $(target_line amort/r3)"

server_stats "?reset=1" >/dev/null
run_agent budget2 16 --targets "$work/amort" --profiles heap:1s --budget 2 --stats-seconds 0 && ok || bad "budget 2 run"
for r in r1 r2 r3 r4; do expect_rate "/good/$r" 16 2; done
expect_rate /good/solo 16 1

# ---- SIGHUP: fewer replicas, each scraped more often; the removed ones not at all ----
log=$work/reload.err
"$agent" -b "$brokers" --targets "$work/amort" --profiles heap:1s --budget 1 --stats-seconds 0 2>"$log" &
agent_pid=$!
sleep 6
echo "service=amort env=production url=$base/good/r9 color=red" >"$work/amort"
kill -HUP "$agent_pid"
sleep 1
grep -q "reload refused, the targets stay as they were: $work/amort:1: unknown key 'color'" "$log" && ok ||
	bad "a broken targets file on SIGHUP: $(tail -n 2 "$log")"
amort_targets r1 r2 >"$work/amort"
kill -HUP "$agent_pid"
sleep 1
server_stats "?reset=1" >/dev/null
sleep 16
kill -TERM "$agent_pid"
wait "$agent_pid" && ok || bad "agent after reloads exited $?"
agent_pid=
grep -q "reloaded $work/amort: 3 targets (0 new, 2 removed, 3 kept)" "$log" && ok ||
	bad "reload line: $(grep reload "$log")"
for r in r1 r2; do expect_rate "/good/$r" 16 2; done
[ "$(hits /good/r3)" = 0 ] && [ "$(hits /good/r4)" = 0 ] && ok || bad "removed targets still scraped"

# ---- one slot, two targets slower than their period: they take turns (the longest overdue first;
# a target due again at once must not keep the slot) ----
server_stats "?reset=1" >/dev/null
run_agent turns 9 --max-concurrent 1 --profiles heap:1s:2 --stats-seconds 0 \
	--target "service=first url=$base/good/first" --target "service=second url=$base/good/second" && ok ||
	bad "one-slot run"
[ "$(hits /good/first)" -ge 2 ] && [ "$(hits /good/second)" -ge 2 ] && ok ||
	bad "with one slot: first scraped $(hits /good/first) times, second $(hits /good/second) in 9 s of 2 s scrapes"
# --once stopped before it is done fails: a scrape abandoned is not a success
"$agent" -b "$brokers" --once --profiles heap:1s --timeout 30s --stats-seconds 0 --target "service=hangs url=$base/slow" \
	2>"$work/once_stopped.err" &
agent_pid=$!
sleep 1.5
kill -TERM "$agent_pid"
wait "$agent_pid"
[ $? = 1 ] && grep -q '1 scrape in progress abandoned' "$work/once_stopped.err" && ok ||
	bad "--once stopped mid-scrape: $(tail -n 2 "$work/once_stopped.err")"
agent_pid=

# ---- TLS and request headers: an https target with a self-signed certificate ----
"$bad_server" -listen 127.0.0.1:0 -port-file "$work/tls.addr" -profile "$profile" -tls-cert "$work/tls.pem" \
	2>"$work/tls.err" &
tls_pid=$!
wait_file "$work/tls.addr" && wait_file "$work/tls.pem" || { bad "pprofbad -tls-cert: $(cat "$work/tls.err")"; finish; }
tls=https://$(cat "$work/tls.addr")
once() { # NAME ARG...: cprof-agent --once on the https target; its log in $work/NAME.err
	_name=$1
	shift
	"$agent" -b "$brokers" --once --stats-seconds 0 --profiles heap:1s --target "service=tls url=$tls/good" "$@" \
		2>"$work/$_name.err"
}
once tls_unknown_ca
[ $? = 1 ] && grep -q "SSL certificate problem" "$work/tls_unknown_ca.err" && ok ||
	bad "an unknown CA is not refused: $(head -n 3 "$work/tls_unknown_ca.err")"
once tls_cacert --cacert "$work/tls.pem" --header "X-Cprof-Test: ca" && ok ||
	bad "--cacert: $(head -n 3 "$work/tls_cacert.err")"
once tls_insecure --insecure && ok || bad "--insecure: $(head -n 3 "$work/tls_insecure.err")"
curl -sk "$tls/stats" >"$work/tls.stats"
grep -qx '/good heap 2' "$work/tls.stats" && grep -qx '/good header:ca 1' "$work/tls.stats" && ok ||
	bad "the https target's counts (2 scrapes, 1 with the header): $(cat "$work/tls.stats")"

# ---- wrong command lines and targets files: exit 2, what and where ----
usage() { # WANT_TEXT ARG...
	want=$1
	shift
	"$agent" -b "$brokers" "$@" >/dev/null 2>"$work/usage.err"
	status=$?
	[ "$status" = 2 ] && grep -qF -- "$want" "$work/usage.err" && ok ||
		bad "cprof-agent $*: exit $status, $(head -n 1 "$work/usage.err") (want '$want')"
}
printf 'service=a url=http://h:1\n\nservice=b\n' >"$work/broken"
usage "$work/broken:3: url=http://HOST:PORT (or https://) is required" --targets "$work/broken"
usage "no targets: give --targets FILE or --target SPEC"
usage "--profiles cpu:60s: a CPU profile needs its length" --target "service=a url=http://h:1" --profiles cpu:60s
usage "--budget wants a whole number" --target "service=a url=http://h:1" --budget 0
usage "--jitter wants a fraction" --target "service=a url=http://h:1" --jitter 0.9
usage "-X nope=1: No such configuration property" --target "service=a url=http://h:1" -X nope=1
usage "--header 'x': expected 'NAME: VALUE'" --target "service=a url=http://h:1" --header x
usage "/nonexistent/targets" --targets /nonexistent/targets
"$agent" --help | grep -q "KIND:EVERY" && ok || bad "--help"

finish
