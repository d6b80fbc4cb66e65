#!/bin/sh
# worker_poison: every kind of poison message goes from `cprof-worker run` to the dead-letter
# topic exactly once, with its reason, its origin (topic, partition, offset), its key and its bytes,
# while every good upload around it is stored. The poison: each bad profile of the decoder (the
# classes of tests/unit/test_decode_errors.c, built here from one small valid profile broken in one
# place, plus gzip framing and a gzip bomb over the decompression cap), in both message forms;
# envelopes that are not envelopes or lack the service or the payload; raw uploads with wrong
# cprof-* headers; and, on topics of their own, an oversize message (over --max-message-bytes
# and over librdkafka's default message.max.bytes) and an upload older than --retention-days.
# Poison is sent with tools/kafka_raw between real Go profiles pushed by cprof-push (envelope and
# raw-header form) onto the same partitions.
set -u
. "$CPROF_ROOT/tests/lib.sh"
. "$CPROF_ROOT/tests/pg.sh"
work=$CPROF_WORK
raw=$CPROF_BUILD/tests/kafka_raw
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
finish() {
	echo "worker_poison: $pass passed, $fail failed"
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
tab=$(printf '\t')
sql() { pg_psql "$work/pg" -F "$tab" -c "$1"; }
"$CPROF_BIN/cprof-worker" migrate --pg "$db" >/dev/null || bad "migrate"

devbroker_start "$work" --brokers 3 --topic cprof.profiles:6 --topic cprof.profiles.dlq:2 \
	--topic cprof.big:2 --topic cprof.big.dlq:1 --topic cprof.old:1 --topic cprof.old.dlq:1 ||
	{ bad "the devbroker did not start: $(cat "$work/broker.err")"; finish; }

fx=$work/fx
"$(gofixtures_bin)" write "$fx" >/dev/null 2>&1 || { bad "Go fixtures"; finish; }

# Good uploads: the Go profiles pushed by cprof-push; goods.tsv gets partition and offset.
: >"$work/goods.tsv"
push() { # INSTANCE [--raw]: the five Go profiles for that instance
	if "$CPROF_BIN/cprof-push" -b "$brokers" --service svc --env production --instance "$@" \
		"$fx/cpu.pb.gz" "$fx/cpu2.pb.gz" "$fx/heap.pb.gz" "$fx/mutex.pb.gz" "$fx/goroutine.pb.gz" \
		>"$work/push.out" 2>"$work/push.err"; then ok; else bad "cprof-push: $(cat "$work/push.err")"; fi
	sed -n 's/.* \[\([0-9]*\)\] @ \([0-9]*\) .*/\1\t\2/p' "$work/push.out" >>"$work/goods.tsv"
}
push i1 # before, between and after the rounds of poison

# ------------------------------------------------------------------ bytes from the shell

hex() { printf %s "$1" | od -An -v -tx1 | tr -d ' \n'; } # TEXT: its bytes in hex
varint() {                                                  # N >= 0: its protobuf varint in hex
	_v=$1
	while [ "$_v" -ge 128 ]; do
		printf %02x $(((_v & 127) | 128))
		_v=$((_v >> 7))
	done
	printf %02x "$_v"
}
ld() { printf %02x $(($1 * 8 + 2)) && varint $((${#2} / 2)) && printf %s "$2"; } # FIELD HEX: length-delimited
vi() { printf %02x $(($1 * 8)) && varint "$2"; }                                  # FIELD N: a varint field
unhex() {                                                                           # HEX: the bytes
	# shellcheck disable=SC2059 # the format holds octal escapes only
	printf "$(printf %s "$1" | awk '{ for (i = 1; i < length($0); i += 2)
		printf "\\%03o", 16 * (index("0123456789abcdef", substr($0, i, 1)) - 1) + index("0123456789abcdef", substr($0, i + 1, 1)) - 1 }')"
}
size() { echo $(($(wc -c <"$1"))); }
bytes=$work/bytes
mkdir -p "$bytes"

# The valid baseline: strings "", samples, count, main; sample type samples/count; mapping 1;
# function 1 (main); location 1 (mapping 1, a line in function 1); one sample [1] = 5. Each bad
# profile is it with one part replaced.
st=$(ld 1 "$(vi 1 1)$(vi 2 2)")
tb=$(ld 6 '')$(ld 6 "$(hex samples)")$(ld 6 "$(hex count)")$(ld 6 "$(hex main)")
mp=$(ld 3 "$(vi 1 1)")
fn=$(ld 5 "$(vi 1 1)$(vi 2 3)")
lc=$(ld 4 "$(vi 1 1)$(vi 2 1)$(ld 4 "$(vi 1 1)")")
sm=$(ld 2 "$(ld 1 01)$(ld 2 05)")
int64_max=ffffffffffffffff7f
unhex "$st$sm$mp$lc$fn$tb" >"$bytes/base.pb"
gzip -n -c "$bytes/base.pb" >"$bytes/base.pb.gz"
# The baseline is a profile, so each class below is a profile broken in one place.
"$CPROF_BIN/cprof-query" top --format tsv --file "$bytes/base.pb" >"$work/base.top" 2>&1 &&
	grep -q "^main${tab}5" "$work/base.top" && ok || bad "the baseline profile: $(cat "$work/base.top")"

# ------------------------------------------------------------------ the poison

# Poison is sent in rounds (one kafka_raw each), partitions in turn; poison.tsv gets one line per
# message: partition, offset, name, value size (-1: null), SHA-256, key, reason, its headers.
npoison=0 round_args=
: >"$work/poison.tsv"
: >"$work/round.meta"
quote() { printf "'%s'" "$(printf %s "$1" | sed "s/'/'\\\\''/g")"; }
add() { # NAME REASON KAFKA_RAW_MESSAGE_ARGS... (ending in -f FILE or -0)
	_name=$1 _reason=$2 _headers='' _prev='' _file=''
	shift 2
	round_args="$round_args -p $((npoison % 6)) -k poison-$_name"
	for _a; do
		round_args="$round_args $(quote "$_a")"
		[ "$_prev" = -H ] && _headers="$_headers$tab$_a"
		[ "$_prev" = -f ] && _file=$_a
		_prev=$_a
	done
	if [ -n "$_file" ]; then
		_len=$(size "$_file") _sha=$(sha256sum <"$_file" | cut -c1-64)
	else
		_len=-1 _sha=$(printf '' | sha256sum | cut -c1-64)
	fi
	printf '%s\t%s\t%s\t%s\t%s%s\n' "$_name" "$_len" "$_sha" "poison-$_name" "$_reason" "$_headers" >>"$work/round.meta"
	npoison=$((npoison + 1))
}
# shellcheck disable=SC2120 # its "$@" is the round's, set inside
send_round() {
	eval "set -- $round_args"
	if "$raw" -b "$brokers" -t cprof.profiles "$@" >"$work/round.out" 2>"$work/round.err" &&
		[ "$(wc -l <"$work/round.out")" = "$(wc -l <"$work/round.meta")" ]; then ok; else
		bad "kafka_raw: $(head -c 300 "$work/round.err")"
	fi
	paste "$work/round.out" "$work/round.meta" >>"$work/poison.tsv"
	: >"$work/round.meta"
	round_args=
}
envelope() { # PAYLOAD NAME: an envelope (service svc) around PAYLOAD, as $bytes/NAME
	{ unhex "$(ld 2 "$(hex svc)")5a$(varint "$(size "$1")")" && cat "$1"; } >"$bytes/$2"
}
form=0
profile() { # NAME REASON HEX|@FILE: a bad profile, sent in the envelope and raw forms in turn
	case $3 in @*) cp "${3#@}" "$bytes/$1" ;; *) unhex "$3" >"$bytes/$1" ;; esac
	form=$((1 - form))
	if [ "$form" = 1 ]; then
		envelope "$bytes/$1" "$1.env"
		add "$1" "bad profile: $2" -f "$bytes/$1.env"
	else
		add "$1" "bad profile: $2" -H cprof-service=svc -H cprof-instance=bad -f "$bytes/$1"
	fi
}

# The decoder's classes (unit/test_decode_errors.c).
profile garbage "profile field 1 (sample_type) has wire type fixed32, expected length-delimited" \
	"0d01020304$(hex 'not a profile')"
gz=$(size "$bytes/base.pb.gz")
head -c $((gz / 2)) "$bytes/base.pb.gz" >"$work/cut.gz"
profile truncated-gzip \
	"gzip: truncated stream: input ends after $((gz / 2)) bytes, before the end of the compressed data" "@$work/cut.gz"
{ cat "$bytes/base.pb.gz" && printf 'garbage!'; } >"$work/trail.gz"
profile gzip-trailing-garbage "gzip: 8 bytes of trailing garbage after the stream at byte $gz" "@$work/trail.gz"
{ head -c $((gz - 8)) "$bytes/base.pb.gz" && printf '\377\377\377\377' && tail -c 4 "$bytes/base.pb.gz"; } >"$work/crc.gz"
profile gzip-bad-crc "gzip: corrupt data near compressed byte $((gz - 4)): incorrect data check" "@$work/crc.gz"
printf '' | gzip -n -c >"$work/nothing.gz"
profile gzip-of-nothing "gzip stream decompresses to 0 bytes: not a profile" "@$work/nothing.gz"
head -c $((257 << 20)) /dev/zero | gzip -n -c >"$work/bomb.gz"
profile gzip-bomb "gzip: decompressed size exceeds the cap of 268435456 bytes (compressed $(size "$work/bomb.gz") bytes)" \
	"@$work/bomb.gz"
base_len=$((${#st} / 2 + ${#sm} / 2 + ${#mp} / 2 + ${#lc} / 2 + ${#fn} / 2 + ${#tb} / 2))
profile truncated-protobuf \
	"profile: field at byte $base_len: truncated protobuf (a field runs past the end of its message)" "$st$sm$mp$lc$fn${tb}70"
profile wire-type "profile field 6 (string_table) has wire type fixed32, expected length-delimited" \
	"$st$sm$mp$lc$fn${tb}3501020304"
profile string-index "function 0: name: string index 9 out of range (the string table has 4 entries)" \
	"$st$sm$mp$lc$(ld 5 "$(vi 1 1)$(vi 2 9)")$tb"
profile string0-not-empty "string_table[0] is not empty (it must be \"\")" \
	"$st$sm$mp$lc$fn$(ld 6 "$(hex x)")$(ld 6 "$(hex samples)")$(ld 6 "$(hex count)")$(ld 6 "$(hex main)")"
profile no-strings "the string table is empty (string_table[0] must be \"\")" "$st$sm$mp$lc$fn"
profile unknown-location "sample 0: location id 7 not found" "$st$(ld 2 "$(ld 1 07)$(ld 2 05)")$mp$lc$fn$tb"
profile unknown-function "location 0 (id 1): line 0: function id 7 not found" \
	"$st$sm$mp$(ld 4 "$(vi 1 1)$(vi 2 1)$(ld 4 "$(vi 1 7)")")$fn$tb"
profile unknown-mapping "location 0 (id 1): mapping id 5 not found" \
	"$st$sm$mp$(ld 4 "$(vi 1 1)$(vi 2 5)$(ld 4 "$(vi 1 1)")")$fn$tb"
profile id-zero "function 0 has the reserved id 0" "$st$sm$mp$lc$(ld 5 "$(vi 2 3)")$tb"
profile duplicate-id "function 1: id 1 is used by more than one function" "$st$sm$mp$lc$fn$fn$tb"
profile value-count "sample 0: has 2 values, but the profile has 1 sample types" \
	"$st$(ld 2 "$(ld 1 01)$(ld 2 0506)")$mp$lc$fn$tb"
profile no-sample-types "the profile has no sample types" "$sm$mp$lc$fn$tb"
profile value-overflow "sample 1: value 9223372036854775807 of samples makes the total overflow int64" \
	"$st$(ld 2 "$(ld 1 01)$(ld 2 $int64_max)")$(ld 2 "$(ld 1 01)$(ld 2 $int64_max)")$mp$lc$fn$tb"
send_round

# Uploads, not profiles: the envelope and the Kafka headers.
good=$fx/goroutine.pb.gz
svc=$(ld 2 "$(hex svc)")
payload="5a$(varint "$(size "$good")")"
upload() { # NAME REASON HEX [+]: an envelope from HEX, followed by the good payload with +
	{ unhex "$3" && if [ "${4:-}" = + ]; then cat "$good"; fi; } >"$bytes/$1"
	add "$1" "bad upload: $2" -f "$bytes/$1"
}
upload envelope-garbage "not a cprof.v1.ProfileUpload: profile_id (field 1) at byte 0 has wire type 32-bit, expected length-delimited" \
	"0d01020304$(hex 'not an envelope')"
upload envelope-truncated "not a cprof.v1.ProfileUpload: truncated protobuf (a field runs past the end of its message) (field at byte 0)" \
	"120a$(hex svc)"
upload envelope-wire-type "not a cprof.v1.ProfileUpload: service (field 2) at byte 0 has wire type varint, expected length-delimited" \
	"1001$payload" +
upload envelope-not-text "not a cprof.v1.ProfileUpload: service: not UTF-8 at byte 0" "$(ld 2 ff)$payload" +
upload envelope-no-service "missing service" "$(ld 6 "$(hex i1)")$payload" +
upload envelope-no-payload "payload missing" "$svc"
upload envelope-negative-duration "duration_nanos is negative (-1)" "${svc}50ffffffffffffffffff01$payload" +
label=$(ld 7 "$(ld 1 "$(hex a)")$(ld 2 "$(hex 1)")")
upload envelope-label-twice "label 'a' given twice" "$svc$label$label$payload" +
labels=$(for i in $(seq 0 64); do ld 7 "$(ld 1 "$(hex "k$i")")"; done)
upload envelope-65-labels "more than the limit of 64 labels" "$svc$labels$payload" +
: >"$bytes/empty"
add empty-value "bad upload: not a cprof.v1.ProfileUpload: empty message" -f "$bytes/empty"
add null-value "bad upload: not a cprof.v1.ProfileUpload: empty message" -0
add raw-without-headers "bad upload: not a cprof.v1.ProfileUpload: the bytes are gzip data (a raw pprof upload needs the cprof-service header)" \
	-f "$good"
add raw-no-service "bad upload: missing service" -H cprof-instance=i1 -H cprof-env=production -f "$good"
add raw-null-service "bad upload: missing service" -H cprof-service -f "$good"
add raw-service-twice "bad upload: header cprof-service given twice" -H cprof-service=svc -H cprof-service=svc -f "$good"
add raw-bad-time "bad upload: header cprof-time: 'yesterday' is not a decimal number of nanoseconds" \
	-H cprof-service=svc -H cprof-time=yesterday -f "$good"
add raw-control-char "bad upload: cprof-service: control character 0x01 at byte 1" \
	-H "cprof-service=s$(printf '\001')vc" -f "$good"
add raw-empty-label-key "bad upload: header cprof-label-: empty label key" -H cprof-service=svc -H cprof-label-=x -f "$good"
add raw-empty-payload "bad upload: payload missing" -H cprof-service=svc -f "$bytes/empty"
# shellcheck disable=SC2046 # split on purpose: -H NAME=VALUE, 65 times
add raw-65-labels "bad upload: more than the limit of 64 labels" -H cprof-service=svc-labels \
	$(seq 0 64 | sed 's/.*/-H cprof-label-k&=v/') -f "$good"

send_round
push i2 --raw
# A good raw upload whose cprof-* headers come after 64 others (tracing, say).
# shellcheck disable=SC2046 # split on purpose: -H NAME=VALUE, 64 times
"$raw" -b "$brokers" -t cprof.profiles -p 3 $(seq 0 63 | sed 's/.*/-H x-trace-&=&/') \
	-H cprof-service=svc-headers -H cprof-instance=h \
	-f "$fx/heap.pb.gz" >>"$work/goods.tsv" 2>"$work/raw.err" || bad "kafka_raw: $(cat "$work/raw.err")"
push i3
ngood=$(wc -l <"$work/goods.tsv")
[ "$npoison" = 39 ] && [ "$(wc -l <"$work/poison.tsv")" = "$npoison" ] && [ "$ngood" = 16 ] && ok ||
	bad "sent $(wc -l <"$work/poison.tsv") of $npoison poison, $ngood of 16 good uploads"

# ------------------------------------------------------------------ the worker

worker_run() { # SECONDS ARGS...
	_t=$1
	shift
	timeout "$_t" "$CPROF_BIN/cprof-worker" run --pg "$db" -b "$brokers" --batch-ms 200 --drain \
		-X session.timeout.ms=6000 "$@"
}
if worker_run 90 >"$work/run.out" 2>"$work/run.err"; then ok; else bad "worker run exited $?: $(tail -n 5 "$work/run.err")"; fi
stats=$(grep 'stats:' "$work/run.err" | tail -n 1)
case $stats in *"consumed $((npoison + ngood)), stored $ngood "*"duplicates 0, dead-lettered $npoison, "*"gaps 0,"*) ok ;;
*) bad "stats: want consumed $((npoison + ngood)), stored $ngood, dead-lettered $npoison: $stats" ;; esac
[ "$(grep -c ': dead-lettered: ' "$work/run.err")" = "$npoison" ] && ok ||
	bad "dead-letter log lines: $(grep -c ': dead-lettered: ' "$work/run.err"), want $npoison, one per poison message"

# The dead-letter topic: per message, its origin, key, size, SHA-256, reason and other headers.
dlq_table() { # TOPIC: source partition, offset, topic, key, size, SHA-256, reason, other headers
	"$raw" -b "$brokers" -t "$1" -d -T 20 2>"$work/dump.err" | awk -F '\t' -v OFS='\t' '{
		r = t = p = o = h = ""
		for (i = 6; i <= NF; i++)
			if (sub(/^cprof-dlq-reason=/, "", $i)) r = $i
			else if (sub(/^cprof-dlq-topic=/, "", $i)) t = $i
			else if (sub(/^cprof-dlq-partition=/, "", $i)) p = $i
			else if (sub(/^cprof-dlq-offset=/, "", $i)) o = $i
			else h = h "\t" $i
		print p, o, t, $3, $4, $5, r h }'
}
# Each poison message once in TOPIC's dead letters, as it was sent, with its reason: "ok NAME" or
# "FAIL ...", one line per message of poison.tsv (the names of those that lost headers to kept).
verdicts() { # TOPIC DLQ_TABLE POISON_TSV
	awk -F '\t' -v topic="$1" -v kept="$work/headers-lost" 'FILENAME == ARGV[1] { k = $1 "/" $2; n[k]++; row[k] = $0; next }
	{
		k = $1 "/" $2
		if (n[k] != 1) { print "FAIL " $3 ": " n[k] + 0 " dead letters for " topic " [" $1 "] @ " $2; next }
		split(row[k], d, "\t")
		if (d[7] != $7) { print "FAIL " $3 ": reason \"" d[7] "\", want \"" $7 "\""; next }
		if (d[3] != topic || d[4] != $6 || d[5] != $4 || d[6] != $5) {
			print "FAIL " $3 ": dead letter from topic " d[3] ", key " d[4] ", " d[5] " bytes, SHA-256 " d[6] \
				"; want " topic ", " $6 ", " $4 " bytes, " $5
			next
		}
		want = got = ""
		for (i = 8; i <= NF; i++) want = want "\t" $i
		for (i = 8; i <= split(row[k], d, "\t"); i++) got = got "\t" d[i]
		if (want != got) print $3 >kept
		print "ok " $3
	}' "$2" "$3"
}
dlq_table cprof.profiles.dlq >"$work/dlq.tsv"
[ "$(wc -l <"$work/dlq.tsv")" = "$npoison" ] && ok ||
	bad "the dead-letter topic holds $(wc -l <"$work/dlq.tsv") messages, want $npoison: $(head -c 300 "$work/dump.err")"
: >"$work/headers-lost"
verdicts cprof.profiles "$work/dlq.tsv" "$work/poison.tsv" >"$work/verdicts"
while read -r verdict rest; do
	if [ "$verdict" = ok ]; then ok; else bad "$rest"; fi
done <"$work/verdicts"
[ -s "$work/headers-lost" ] && bad "dead letters without the headers of their raw upload: $(tr '\n' ' ' <"$work/headers-lost")" || ok

# Every good upload stored, at its Kafka position; what is stored per function equals cprof's
# merge of the Go profiles, three times each (three instances).
[ "$(sql "SELECT count(*) FROM cprof.profiles WHERE kafka_topic = 'cprof.profiles'")" = "$ngood" ] && ok ||
	bad "profiles stored: $(sql "SELECT count(*) FROM cprof.profiles WHERE kafka_topic = 'cprof.profiles'"), want $ngood"
sql "SELECT kafka_partition, kafka_offset FROM cprof.profiles WHERE kafka_topic = 'cprof.profiles'" | sort >"$work/stored.tsv"
sort "$work/goods.tsv" | cmp -s - "$work/stored.tsv" && ok || bad "good uploads not stored (partition@offset): $(sort "$work/goods.tsv" | comm -23 - "$work/stored.tsv" | tr '\t\n' '@ ')"
[ "$(sql "SELECT count(*) FROM cprof.profiles WHERE service = 'svc-labels'")" = 0 ] && ok ||
	bad "the raw upload with 65 labels (poison) is stored"
[ "$(sql "SELECT count(*) FROM cprof.profiles WHERE service = 'svc-headers'")" = 1 ] && ok ||
	bad "the raw upload with 64 other headers before its cprof-* ones is not stored"
compare() { # TYPE INDEX SAMPLE_TYPE FILE...: stored = cprof-query top over each FILE three times
	_type=$1 _index=$2 _sample=$3
	shift 3
	cprof_top_tsv "$_index" "$@" "$@" "$@" >"$work/want" 2>&1
	{
		echo "function${tab}flat${tab}cum"
		sql "SELECT f.name, sum(m.flat), sum(m.cum) FROM cprof.function_minutes m
		     JOIN cprof.functions f USING (function_id) JOIN cprof.series s USING (series_id)
		     WHERE s.service = 'svc' AND s.profile_type = '$_type' AND s.sample_type = '$_sample'
		     GROUP BY f.name HAVING sum(m.flat) <> 0 OR sum(m.cum) <> 0" | sort
	} >"$work/got"
	if [ "$(wc -l <"$work/want")" -gt 1 ] && cmp -s "$work/want" "$work/got"; then ok; else
		bad "$_type/$_sample stored values differ from cprof-query top:"
		diff "$work/want" "$work/got" | head -n 6
	fi
}
compare cpu 1 cpu "$fx/cpu.pb.gz" "$fx/cpu2.pb.gz"
compare heap 3 inuse_space "$fx/heap.pb.gz"
compare mutex 1 delay "$fx/mutex.pb.gz"
compare goroutine 0 goroutine "$fx/goroutine.pb.gz"

# The stored offsets are the ends of the partitions (every message, good or poison, is behind).
ends() { # TSV...: "PARTITION<TAB>last offset + 1" per partition in the files' first two columns
	cat "$@" | awk -F '\t' -v OFS='\t' '{ if ($2 + 1 > end[$1]) end[$1] = $2 + 1 } END { for (p in end) print p, end[p] }' | sort
}
want_ends=$(ends "$work/poison.tsv" "$work/goods.tsv")
got_ends=$(sql "SELECT kafka_partition, next_offset FROM cprof.kafka_offsets
                WHERE consumer_group = 'cprof-worker' AND topic = 'cprof.profiles'" | sort)
[ "$got_ends" = "$want_ends" ] && ok || bad "stored offsets: $(echo "$got_ends" | tr '\n\t' ' :'); want $(echo "$want_ends" | tr '\n\t' ' :')"

# ------------------------------------------------------------------ an oversize message

# A valid profile of 1.5 MiB (the Go CPU profile plus an unknown field of zeros, which pprof
# readers skip) on a topic whose worker takes at most 1,000,000 bytes (--max-message-bytes; the
# default, 64 MiB, is past what the devbroker keeps per partition), between good uploads on its
# partition: dead-lettered whole, and larger than librdkafka's default message.max.bytes, so the
# dead-letter producer must make room for it. A topic and group of its own, so a worker stuck on
# it leaves the checks above alone.
{ gzip -dc "$fx/cpu.pb.gz" && unhex "a206$(varint $((3 << 19)))" && head -c $((3 << 19)) /dev/zero; } >"$bytes/oversize"
"$CPROF_BIN/cprof-query" top --format tsv --file "$bytes/oversize" >"$work/oversize.top" 2>&1 &&
	gzip -dc "$fx/cpu.pb.gz" >"$bytes/cpu.pb" && "$CPROF_BIN/cprof-query" top --format tsv --file "$bytes/cpu.pb" |
	cmp -s - "$work/oversize.top" && ok || bad "the padded profile is not the CPU profile: $(head -c 300 "$work/oversize.top")"
"$raw" -b "$brokers" -t cprof.big -X message.max.bytes=4000000 \
	-p 0 -H cprof-service=big -H cprof-instance=b1 -f "$fx/heap.pb.gz" \
	-p 0 -k poison-oversize -H cprof-service=big -H cprof-instance=b2 -f "$bytes/oversize" \
	-p 0 -H cprof-service=big -H cprof-instance=b3 -f "$fx/goroutine.pb.gz" \
	-p 1 -H cprof-service=big -H cprof-instance=b4 -f "$fx/cpu.pb.gz" >"$work/big.out" 2>"$work/big.err" &&
	[ "$(tr '\n\t' ' :' <"$work/big.out")" = "0:0 0:1 0:2 1:0 " ] && ok || bad "kafka_raw to cprof.big: $(cat "$work/big.err" "$work/big.out")"
printf '0\t1\toversize\t%s\t%s\tpoison-oversize\t%s\tcprof-service=big\tcprof-instance=b2\n' "$(size "$bytes/oversize")" \
	"$(sha256sum <"$bytes/oversize" | cut -c1-64)" \
	"bad upload: payload of $(size "$bytes/oversize") bytes, more than the limit of 1000000" >"$work/big.tsv"
if worker_run 30 -t cprof.big --dlq cprof.big.dlq --group cprof-big --max-message-bytes 1000000 \
	>"$work/big-run.out" 2>"$work/big-run.err"; then ok; else
	bad "worker run on cprof.big exited $? (124: still running after 30 s): $(grep -v 'dead-lettered:' "$work/big-run.err" | tail -n 3)"
fi
stats=$(grep 'stats:' "$work/big-run.err" | tail -n 1)
case $stats in *"stored 3 "*"dead-lettered 1, "*"lag 0") ok ;; *) bad "cprof.big stats: want stored 3, dead-lettered 1, lag 0: $stats" ;; esac
dlq_table cprof.big.dlq >"$work/big-dlq.tsv"
verdicts cprof.big "$work/big-dlq.tsv" "$work/big.tsv" >"$work/verdicts"
while read -r verdict rest; do
	if [ "$verdict" = ok ]; then ok; else bad "$rest"; fi
done <"$work/verdicts"
[ "$(sql "SELECT count(*) FROM cprof.profiles WHERE kafka_topic = 'cprof.big'")" = 3 ] && ok ||
	bad "cprof.big: $(sql "SELECT count(*) FROM cprof.profiles WHERE kafka_topic = 'cprof.big'") of 3 good uploads stored"
[ "$(sql "SELECT kafka_partition, next_offset FROM cprof.kafka_offsets WHERE consumer_group = 'cprof-big'" | sort | tr '\n\t' ' :')" = "0:3 1:1 " ] &&
	ok || bad "cprof.big stored offsets: $(sql "SELECT kafka_partition, next_offset FROM cprof.kafka_offsets WHERE consumer_group = 'cprof-big'" | tr '\n\t' ' :')"

# ------------------------------------------------------------------ older than the retention

# With --retention-days 30, an upload of 2020 is dead-lettered (storing it would bring back a
# dropped day), and one of now is stored.
now_ns=$(($(date -u +%s) * 1000000000))
"$CPROF_BIN/cprof-push" -b "$brokers" -t cprof.old --service old --instance o1 --time 2020-01-01T00:00:00Z \
	"$fx/cpu.pb.gz" >"$work/old.out" 2>&1 &&
	"$CPROF_BIN/cprof-push" -b "$brokers" -t cprof.old --service old --instance o2 --time "$now_ns" \
		"$fx/cpu.pb.gz" >>"$work/old.out" 2>&1 && ok || bad "cprof-push to cprof.old: $(cat "$work/old.out")"
if worker_run 30 -t cprof.old --dlq cprof.old.dlq --group cprof-old --retention-days 30 \
	>"$work/old-run.out" 2>"$work/old-run.err"; then ok; else bad "worker run on cprof.old exited $?"; fi
dlq_table cprof.old.dlq >"$work/old-dlq.tsv"
case $(cut -f 2,7 "$work/old-dlq.tsv") in
"0${tab}too old: the profile's time 2020-01-01T00:00:00Z is before "*", the start of the 30 day(s) of retention") ok ;;
*) bad "cprof.old dead letters: $(cat "$work/old-dlq.tsv")" ;;
esac
[ "$(sql "SELECT instance FROM cprof.profiles WHERE kafka_topic = 'cprof.old'")" = o2 ] && ok ||
	bad "cprof.old: stored $(sql "SELECT instance FROM cprof.profiles WHERE kafka_topic = 'cprof.old'" | tr '\n' ' ')"
finish
