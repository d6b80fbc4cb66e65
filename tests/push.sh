#!/bin/sh
# push: cprof-push against a real Kafka-protocol broker (cprof-devbroker over TCP). Real Go
# profiles (tests/gofixtures: cpu, heap, allocs, mutex, block, goroutine, and one uncompressed)
# are pushed with metadata and labels, then read back by tests/tools/kafka_envelopes the way a
# worker decodes them; every field is checked: the key, the metadata, the labels, the payload's
# SHA-256 against the file's, the guessed type, the time and duration against `go tool pprof`'s
# reading of the file, the partition and offset cprof-push printed, ids derived the same on a
# second push. Also: overrides (--type, --time, --duration, --id), raw mode with cprof-* headers,
# the CPROF_KAFKA_BROKERS fallback; bad files (random bytes, truncated gzip, empty, missing, too
# large for message.max.bytes) fail with exit 1 naming the file and send nothing; bad command
# lines and unknown -X properties exit 2 at start; an unreachable broker fails within the timeout.
# Needs tests/run's variables; skipped (77) without the go command.
set -u
. "$CPROF_ROOT/tests/lib.sh"

push="$CPROF_BIN/cprof-push"
broker_bin="$CPROF_BIN/cprof-devbroker"
envelopes="$CPROF_BUILD/tests/kafka_envelopes"
work="$CPROF_WORK"
fx="$work/fx"
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

show() {
	[ -f "$1" ] && tail -n "${2:-15}" "$1" | sed 's/^/     | /'
}

finish() {
	echo "push: $passed passed, $failed failed"
	[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
	exit
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

for f in "$push" "$broker_bin" "$envelopes"; do
	if [ ! -x "$f" ]; then
		fail "build" "$f is not built"
		finish
	fi
done
if ! command -v go >/dev/null 2>&1; then
	echo "push: the go command is not installed; cannot write the Go profiles this test pushes"
	exit 77
fi

# ------------------------------------------------------------------ fixtures

if ! fixtures=$(gofixtures_bin) || ! "$fixtures" write "$fx" >"$work/fx.log" 2>&1; then
	fail "fixtures" "gofixtures could not write profiles"
	show "$work/fx.log"
	finish
fi
gzip -dc "$fx/cpu.pb.gz" >"$fx/cpu.pb" # the same profile, uncompressed protobuf
files="cpu.pb.gz cpu2.pb.gz heap.pb.gz allocs.pb.gz mutex.pb.gz block.pb.gz goroutine.pb.gz cpu.pb"
expected_type() {
	case $1 in
	cpu*) echo cpu ;;
	heap.pb.gz) echo heap ;;
	allocs.pb.gz) echo allocs ;;
	mutex.pb.gz) echo mutex ;;
	block.pb.gz) echo block ;;
	goroutine.pb.gz) echo goroutine ;;
	esac
}

# pprof_time FILE: the profile's time_nanos as `go tool pprof -raw` reads it (exact nanoseconds).
pprof_time() {
	t=$(go tool pprof -raw "$1" 2>/dev/null | sed -n 's/^Time: //p' | head -n 1)
	if [ -z "$t" ]; then echo 0; else date -u -d "${t% UTC}" +%s%N; fi
}
# pprof_duration FILE: pprof's "Duration:" text (Go's %.4v of the duration), or "" when none.
pprof_duration() {
	go tool pprof -raw "$1" 2>/dev/null | sed -n 's/^Duration: //p' | head -n 1
}
# go_duration4 NANOS: the same text from a number of nanoseconds (from 1 ms to 1 minute).
go_duration4() {
	awk -v d="$1" 'BEGIN {
		if (d >= 1e9) { u = "s"; w = int(d / 1e9); f = d - w * 1e9; n = 9 }
		else { u = "ms"; w = int(d / 1e6); f = d - w * 1e6; n = 6 }
		s = sprintf("%d", w)
		if (f > 0) { fs = sprintf("%0" n "d", f); sub(/0+$/, "", fs); s = s "." fs }
		print substr(s u, 1, 4)
	}'
}

# ------------------------------------------------------------------ command line

if "$push" --help >"$work/out" 2>"$work/err" && grep -q '^usage: cprof-push' "$work/out" && [ ! -s "$work/err" ]; then
	pass "--help exits 0 with the usage on stdout"
else
	fail "--help" "exit status, stdout or stderr wrong"
fi

# usage_case NAME NEEDLE ARGS...: exit 2 at once, nothing on stdout, NEEDLE on stderr.
usage_case() {
	name=$1 needle=$2
	shift 2
	env -u CPROF_KAFKA_BROKERS timeout 20 "$push" "$@" >"$work/out" 2>"$work/err"
	status=$?
	if [ "$status" -ne 2 ]; then
		fail "usage error: $name" "exit $status, expected 2"
		show "$work/err"
	elif [ -s "$work/out" ]; then
		fail "usage error: $name" "printed on stdout"
	elif ! grep -qF -- "$needle" "$work/err"; then
		fail "usage error: $name" "stderr lacks '$needle'"
		show "$work/err"
	else
		pass "usage error: $name exits 2"
	fi
}
cpu="$fx/cpu.pb.gz"
usage_case "no service" "--service NAME is required" -b 127.0.0.1:1 "$cpu"
usage_case "no file" "no profile FILE given" -b 127.0.0.1:1 --service s
usage_case "unknown option" "unknown option '--bogus'" --bogus
usage_case "missing value" "--service needs a value" --service
usage_case "no brokers" "no Kafka brokers: give -b BROKERS (or set CPROF_KAFKA_BROKERS)" --service s "$cpu"
usage_case "--id with two files" "--id names one profile, but 2 files are given" -b 127.0.0.1:1 --service s \
	--id x "$cpu" "$cpu"
usage_case "bad --time" "--time 'yesterday' is neither RFC 3339" -b 127.0.0.1:1 --service s --time yesterday "$cpu"
usage_case "bad --time date" "--time '2024-02-30T00:00:00Z' is neither" -b 127.0.0.1:1 --service s \
	--time 2024-02-30T00:00:00Z "$cpu"
usage_case "bad --duration" "--duration '10' is not a duration" -b 127.0.0.1:1 --service s --duration 10 "$cpu"
usage_case "bad --label" "--label 'team': expected KEY=VALUE" -b 127.0.0.1:1 --service s --label team "$cpu"
usage_case "repeated --label" "--label 'team' given twice" -b 127.0.0.1:1 --service s --label team=a \
	--label team=b "$cpu"
usage_case "control character in --env" "env: control character 0x09 at byte 4" -b 127.0.0.1:1 --service s \
	--env "$(printf 'prod\tx')" "$cpu"
usage_case "-X without =" "-X 'debug': expected KEY=VALUE" -b 127.0.0.1:1 --service s -X debug "$cpu"
usage_case "unknown -X property" "-X no.such.property=1: No such configuration property: \"no.such.property\"" \
	-b 127.0.0.1:1 --service s -X no.such.property=1 "$cpu"
usage_case "bad -X value" "-X acks=banana: Invalid value" -b 127.0.0.1:1 --service s -X acks=banana "$cpu"

# ------------------------------------------------------------------ the broker

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
started() { [ -s "$work/broker.out" ] || ! kill -0 "$pid" 2>/dev/null; }

"$broker_bin" --topic cprof.profiles:12 --topic push.again:3 --topic push.over:3 --topic push.raw:4 \
	--topic push.bad:2 --topic push.env:2 >"$work/broker.out" 2>"$work/broker.err" &
pid=$!
wait_for 150 started
bootstrap=$(sed -n 's/^bootstrap\.servers=//p' "$work/broker.out")
if [ -z "$bootstrap" ]; then
	fail "devbroker" "no bootstrap line within 15 s"
	show "$work/broker.err"
	finish
fi

# read_topic TOPIC OUT [N]: the topic's messages as kafka_envelopes prints them.
read_topic() {
	if [ -n "${3:-}" ]; then
		"$envelopes" -b "$bootstrap" -t "$1" -n "$3" -T 60 >"$2" 2>"$2.err"
	else
		"$envelopes" -b "$bootstrap" -t "$1" -T 60 >"$2" 2>"$2.err"
	fi
}

# field LINE N: the Nth TSV column of LINE (1: partition, 2: offset, 3: key, 4: form, 5: id,
# 6: service, 7: version, 8: env, 9: zone, 10: instance, 11: type, 12: time, 13: duration,
# 14: labels, 15: payload size, 16: payload SHA-256).
field() {
	printf '%s\n' "$1" | awk -F '\t' -v n="$2" '{ print $n }'
}

# ------------------------------------------------------------------ envelopes with metadata

# shellcheck disable=SC2086 # files is a list of words without blanks
(cd "$fx" && "$push" -b "$bootstrap" --service auth --version 1.2.3 --env canary --zone eu-west-1a \
	--instance auth-7f9c --label team=perf --label region=eu-west $files) >"$work/push.out" 2>"$work/push.err"
status=$?
if [ "$status" -eq 0 ] && [ "$(wc -l <"$work/push.out")" -eq 8 ] && [ ! -s "$work/push.err" ] &&
	[ "$(grep -cE '^[a-z0-9]+\.pb(\.gz)? -> cprof\.profiles \[[0-9]+\] @ [0-9]+ \(id [0-9a-f]{32}\)$' "$work/push.out")" -eq 8 ]; then
	pass "8 profiles pushed to cprof.profiles (the default topic): one line each, exit 0, quiet stderr"
else
	fail "push with metadata" "exit $status"
	show "$work/push.out"
	show "$work/push.err"
fi

if read_topic cprof.profiles "$work/main.tsv" 8 && [ "$(wc -l <"$work/main.tsv")" -eq 8 ]; then
	pass "kafka_envelopes reads the 8 messages back"
else
	fail "read back" "$(wc -l <"$work/main.tsv") message(s)"
	show "$work/main.tsv.err"
fi

ok_fields=0 ok_type=0 ok_time=0 ok_position=0
for f in $files; do
	sum=$(sha256sum "$fx/$f" | cut -d ' ' -f 1)
	size=$(wc -c <"$fx/$f" | tr -d ' ')
	line=$(awk -F '\t' -v s="$sum" '$16 == s' "$work/main.tsv")
	printed=$(grep "^$f -> " "$work/push.out")
	if [ "$(printf '%s\n' "$line" | grep -c .)" -ne 1 ]; then
		fail "$f" "no single message with the file's SHA-256 $sum"
		continue
	fi
	want="auth/auth-7f9c	envelope	auth	1.2.3	canary	eu-west-1a	auth-7f9c	team=perf,region=eu-west	$size"
	got="$(field "$line" 3)	$(field "$line" 4)	$(field "$line" 6)	$(field "$line" 7)	$(field "$line" 8)	$(field "$line" 9)	$(field "$line" 10)	$(field "$line" 14)	$(field "$line" 15)"
	if [ "$got" = "$want" ]; then
		ok_fields=$((ok_fields + 1))
	else
		fail "$f: key, metadata, labels, size" "got '$got', expected '$want'"
	fi
	if [ "$(field "$line" 11)" = "$(expected_type "$f")" ]; then
		ok_type=$((ok_type + 1))
	else
		fail "$f: guessed type" "got '$(field "$line" 11)', expected '$(expected_type "$f")'"
	fi
	t=$(pprof_time "$fx/$f")
	d=$(field "$line" 13)
	pd=$(pprof_duration "$fx/$f")
	if [ "$(field "$line" 12)" != "$t" ]; then
		fail "$f: time" "got $(field "$line" 12), pprof reads $t"
	elif { [ -z "$pd" ] && [ "$d" != 0 ]; } || { [ -n "$pd" ] && [ "$(go_duration4 "$d")" != "$pd" ]; }; then
		fail "$f: duration" "got $d ns, pprof prints 'Duration: $pd'"
	else
		ok_time=$((ok_time + 1))
	fi
	if [ "$printed" = "$f -> cprof.profiles [$(field "$line" 1)] @ $(field "$line" 2) (id $(field "$line" 5))" ]; then
		ok_position=$((ok_position + 1))
	else
		fail "$f: printed line" "'$printed' does not match partition $(field "$line" 1), offset $(field "$line" 2), id $(field "$line" 5)"
	fi
done
n=$(echo "$files" | wc -w)
[ "$ok_fields" -eq "$n" ] && pass "every message: key service/instance, service, version, env, zone, instance, labels, payload size and SHA-256 equal the file's"
[ "$ok_type" -eq "$n" ] && pass "guessed types: cpu, cpu, heap, allocs, mutex, block, goroutine, and cpu for the uncompressed file"
[ "$ok_time" -eq "$n" ] && pass "time and duration are the profile's own, as go tool pprof reads them"
[ "$ok_position" -eq "$n" ] && pass "the printed partition, offset and id are where each message is"

# One key, one partition, in the order given.
if [ "$(cut -f 1 "$work/main.tsv" | sort -u | wc -l)" -eq 1 ] &&
	[ "$(sed 's/ -> .*//' "$work/push.out" | tr '\n' ' ')" = "$files " ] &&
	[ "$(sed 's/.* @ \([0-9]*\) .*/\1/' "$work/push.out" | tr '\n' ' ')" = "$(sed 's/.* @ \([0-9]*\) .*/\1/' "$work/push.out" | sort -n | tr '\n' ' ')" ]; then
	pass "one key: one partition, offsets in the order the files were given"
else
	fail "ordering" "messages spread over partitions or out of order"
	show "$work/push.out"
fi

# The same push again: the derived ids are the same (a retry is stored once).
(cd "$fx" && "$push" -b "$bootstrap" -t push.again --service auth --version 1.2.3 --env canary \
	--zone eu-west-1a --instance auth-7f9c --label region=eu-west --label team=perf $files) >"$work/again.out" 2>"$work/again.err"
if [ "$(sed 's/.*(id \(.*\))$/\1/' "$work/again.out")" = "$(sed 's/.*(id \(.*\))$/\1/' "$work/push.out")" ] &&
	[ "$(wc -l <"$work/again.out")" -eq 8 ]; then
	pass "pushing again (labels in another order) derives the same 8 ids"
else
	fail "derived ids" "differ between two pushes of the same files"
	show "$work/again.err"
fi
ids=$(sed 's/.*(id \(.*\))$/\1/' "$work/push.out" | sort -u | wc -l)
if [ "$ids" -eq 8 ]; then
	pass "8 different profiles have 8 different ids (cpu.pb.gz and cpu.pb too)"
else
	fail "derived ids" "$ids distinct ids for 8 profiles"
fi

# ------------------------------------------------------------------ overrides

"$push" -b "$bootstrap" -t push.over --service auth --type wall --time 2024-05-01T14:00:00.25+02:00 \
	--duration 1m30s --id my-profile-1 "$fx/heap.pb.gz" >"$work/over.out" 2>"$work/over.err"
status=$?
"$push" -b "$bootstrap" -t push.over --service auth --instance i2 --time 1700000000000000001 \
	--duration 250ms "$fx/goroutine.pb.gz" >>"$work/over.out" 2>>"$work/over.err"
status=$((status + $?))
read_topic push.over "$work/over.tsv" 2
l1=$(grep -F "	my-profile-1	" "$work/over.tsv")
l2=$(awk -F '\t' '$3 == "auth/i2"' "$work/over.tsv")
if [ "$status" -eq 0 ] && [ "$(field "$l1" 11)" = wall ] && [ "$(field "$l1" 12)" = 1714564800250000000 ] &&
	[ "$(field "$l1" 13)" = 90000000000 ] && [ "$(field "$l1" 3)" = "auth/" ] &&
	grep -q "(id my-profile-1)$" "$work/over.out" &&
	[ "$(field "$l2" 12)" = 1700000000000000001 ] && [ "$(field "$l2" 13)" = 250000000 ] &&
	[ "$(field "$l2" 11)" = goroutine ]; then
	pass "--type, --time (RFC 3339 with offset, and unix nanoseconds), --duration and --id override"
else
	fail "overrides" "exit $status"
	show "$work/over.tsv"
	show "$work/over.err"
fi

# ------------------------------------------------------------------ raw mode

"$push" -b "$bootstrap" -t push.raw --raw --service billing --env production --instance b-1 \
	--label "k=v with spaces" --label empty= "$fx/mutex.pb.gz" "$fx/cpu.pb" >"$work/raw.out" 2>"$work/raw.err"
status=$?
read_topic push.raw "$work/raw.tsv" 2
ok=0
for f in mutex.pb.gz cpu.pb; do
	sum=$(sha256sum "$fx/$f" | cut -d ' ' -f 1)
	line=$(awk -F '\t' -v s="$sum" '$16 == s' "$work/raw.tsv")
	want="billing/b-1	headers	billing		production		b-1	$(expected_type "$f")	$(pprof_time "$fx/$f")	k=v with spaces,empty=	$(wc -c <"$fx/$f" | tr -d ' ')"
	got="$(field "$line" 3)	$(field "$line" 4)	$(field "$line" 6)	$(field "$line" 7)	$(field "$line" 8)	$(field "$line" 9)	$(field "$line" 10)	$(field "$line" 11)	$(field "$line" 12)	$(field "$line" 14)	$(field "$line" 15)"
	if [ "$got" = "$want" ] && grep -q "^$fx/$f -> push.raw \[$(field "$line" 1)\] @ $(field "$line" 2) (id $(field "$line" 5))$" "$work/raw.out"; then
		ok=$((ok + 1))
	else
		fail "raw $f" "got '$got', expected '$want'"
	fi
done
if [ "$status" -eq 0 ] && [ "$ok" -eq 2 ]; then
	pass "--raw: the pprof bytes as the value (SHA-256 equal), metadata, id and labels in cprof-* headers"
else
	fail "--raw" "exit $status"
	show "$work/raw.err"
fi

# ------------------------------------------------------------------ CPROF_KAFKA_BROKERS

if CPROF_KAFKA_BROKERS=$bootstrap "$push" -t push.env --service envsvc "$cpu" >"$work/env.out" 2>"$work/env.err" &&
	CPROF_KAFKA_BROKERS=127.0.0.1:1 "$push" -b "$bootstrap" -t push.env --service envsvc "$fx/heap.pb.gz" \
		>>"$work/env.out" 2>>"$work/env.err" &&
	read_topic push.env "$work/env.tsv" 2 && [ "$(wc -l <"$work/env.tsv")" -eq 2 ]; then
	pass "CPROF_KAFKA_BROKERS stands in for -b, and -b wins over it"
else
	fail "CPROF_KAFKA_BROKERS" "push or read back failed"
	show "$work/env.err"
fi

# ------------------------------------------------------------------ bad files: nothing sent

head -c 4096 /dev/urandom >"$work/random.bin"
head -c 700 "$fx/heap.pb.gz" >"$work/truncated.pb.gz"
: >"$work/empty.pb"
# bad_case NAME NEEDLES ARGS...: exit 1, nothing on stdout, each '|'-separated needle on stderr.
bad_case() {
	name=$1 needles=$2
	shift 2
	timeout 60 "$push" -b "$bootstrap" -t push.bad --service bad "$@" >"$work/out" 2>"$work/err"
	status=$?
	missing=$(echo "$needles" | tr '|' '\n' | while IFS= read -r nd; do grep -qF -- "$nd" "$work/err" || echo "$nd"; done)
	if [ "$status" -ne 1 ]; then
		fail "bad file: $name" "exit $status, expected 1"
		show "$work/err"
	elif [ -s "$work/out" ]; then
		fail "bad file: $name" "printed on stdout"
	elif [ -n "$missing" ]; then
		fail "bad file: $name" "stderr lacks '$missing'"
		show "$work/err"
	else
		pass "bad file: $name: exit 1, the file and the reason named"
	fi
}
bad_case "random bytes among good files" \
	"cprof-push: $work/random.bin: |nothing was sent" "$cpu" "$work/random.bin" "$fx/heap.pb.gz"
bad_case "truncated gzip" "cprof-push: $work/truncated.pb.gz: gzip: truncated" "$work/truncated.pb.gz" "$cpu"
bad_case "empty file" "cprof-push: $work/empty.pb: " "$work/empty.pb"
bad_case "missing file" "cprof-push: $work/missing.pb.gz: No such file or directory" "$cpu" "$work/missing.pb.gz"
bad_case "three bad files, each reported" \
	"$work/random.bin: |$work/truncated.pb.gz: |$work/empty.pb: |3 of 4 file(s) cannot be sent; nothing was sent" \
	"$work/random.bin" "$work/truncated.pb.gz" "$cpu" "$work/empty.pb"
bad_case "larger than message.max.bytes" \
	"heap.pb.gz: the message would be|more than message.max.bytes=1000" -X message.max.bytes=1000 "$cpu" \
	"$fx/heap.pb.gz"
if read_topic push.bad "$work/bad.tsv" && [ ! -s "$work/bad.tsv" ]; then
	pass "nothing was sent by any of the failed pushes (push.bad is empty)"
else
	fail "bad files" "push.bad holds $(wc -l <"$work/bad.tsv") message(s)"
	show "$work/bad.tsv.err"
fi

# ------------------------------------------------------------------ unreachable broker

start=$(date +%s)
timeout 60 "$push" -b 127.0.0.1:1 --service s -X message.timeout.ms=3000 "$cpu" >"$work/out" 2>"$work/err"
status=$?
took=$(($(date +%s) - start))
if [ "$status" -eq 1 ] && [ "$took" -le 15 ] && [ ! -s "$work/out" ] &&
	grep -qF "cprof-push: $cpu: not delivered: " "$work/err" &&
	grep -qF "1 of 1 profile(s) not delivered" "$work/err"; then
	pass "unreachable broker: exit 1 after ${took}s (message.timeout.ms=3000), the file named"
else
	fail "unreachable broker" "exit $status after ${took}s"
	show "$work/err"
fi
start=$(date +%s)
timeout 60 "$push" -b 127.0.0.1:1 --service s --timeout 2s "$cpu" >"$work/out" 2>"$work/err"
status=$?
took=$(($(date +%s) - start))
if [ "$status" -eq 1 ] && [ "$took" -le 15 ] && grep -qF "not delivered" "$work/err"; then
	pass "unreachable broker: --timeout 2s gives up after ${took}s with exit 1"
else
	fail "--timeout" "exit $status after ${took}s"
	show "$work/err"
fi

# After everything, the main topic still holds exactly the first push.
if read_topic cprof.profiles "$work/final.tsv" && [ "$(wc -l <"$work/final.tsv")" -eq 8 ]; then
	pass "cprof.profiles holds exactly the 8 messages of the first push"
else
	fail "final count" "cprof.profiles holds $(wc -l <"$work/final.tsv") message(s)"
fi

finish
