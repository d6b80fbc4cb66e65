#!/bin/sh
# query_top: `cprof-query top` and `ls` over what PostgreSQL stores (sql/003_read_api.sql) against a real
# PostgreSQL 15. Real Go profiles are loaded at known minutes for two services, two envs and a
# label; every selection (service, env, label, time window, the whole fleet, another profile
# type) must equal `cprof-query top --file` of exactly the files it selects, row for row and in
# every format; bad selections fail with a clear message and a non-zero exit, hostile strings
# are only values, and a login in the read-only role gets the same answers. `ls` lists each
# dimension's values with their profile counts and first and last times.
set -u
. "$CPROF_ROOT/tests/lib.sh"
. "$CPROF_ROOT/tests/pg.sh"
work=$CPROF_WORK
tally query_top
trap 'pg_stop "$work/pg"' EXIT
trap 'exit 1' INT TERM

pg_start "$work/pg" 0 || { bad "PostgreSQL did not start"; finish; }
export CPROF_PG="$PG_CONNINFO"
sql() { pg_psql "$work/pg" -c "$1"; }
"$CPROF_BIN/cprof-worker" migrate >/dev/null || { bad "migrate"; finish; }
fx=$work/fx
"$(gofixtures_bin)" write "$fx" >/dev/null 2>&1 || { bad "Go fixtures"; finish; }

# The minute t0 two hours ago, and RFC 3339 for t0 + N minutes.
t0=$((($(date -u +%s) - 7200) / 60 * 60))
at() { date -u -d "@$((t0 + $1 * 60))" +%Y-%m-%dT%H:%M:%SZ; }
load() { # SERVICE ENV INSTANCE MINUTE FILE [--label K=V]
	_f=$5
	_s=$1 _e=$2 _i=$3 _m=$4
	shift 5
	"$CPROF_BIN/cprof-worker" load --service "$_s" --env "$_e" --instance "$_i" --time "$(at "$_m")" "$@" \
		"$fx/$_f.pb.gz" >"$work/load.out" 2>&1 || bad "load $_s $_f: $(cat "$work/load.out")"
}
load auth production a1 0 cpu
load auth production a2 5 cpu2
load auth canary c1 10 cpu
load auth production a1 0 heap
load billing production b1 0 cpu2 --label team=payments
load billing production b2 1 cpu

# same LABEL "DB ARGS" "FILE ARGS": top over the selection equals top over the files, in tsv
# (every function) and in the table; the DB side gets --format and -n from here.
same() {
	_label=$1 _db=$2 _files=$3
	for _fmt in "tsv -n 0" "table -n 12" "json -n 0" "csv -n 5"; do
		# shellcheck disable=SC2086 # word lists on purpose
		if ! "$CPROF_BIN/cprof-query" top $_db --format $_fmt >"$work/db.out" 2>"$work/db.err"; then
			bad "$_label ($_fmt): exit $?: $(head -c 300 "$work/db.err")"
			continue
		fi
		# shellcheck disable=SC2086
		"$CPROF_BIN/cprof-query" top $_files --format $_fmt >"$work/files.out" 2>&1
		if cmp -s "$work/db.out" "$work/files.out" && [ -s "$work/db.out" ]; then ok; else
			bad "$_label ($_fmt): stored data and files differ: $(diff "$work/db.out" "$work/files.out" | head -n 6)"
		fi
	done
}
f() { echo "$fx/$1.pb.gz"; }
same "a service, the last 3 hours" "--service auth --since 3h" "--sample-type cpu --file $(f cpu) $(f cpu2) $(f cpu)"
same "a service and env" "--service auth --env production --since 3h" "--sample-type cpu --file $(f cpu) $(f cpu2)"
same "a window by RFC 3339" "--service auth --since $(at 1) --until $(at 7)" "--sample-type cpu --file $(f cpu2)"
same "a window's end is exclusive" "--service auth --since $(at 0) --until $(at 5)" "--sample-type cpu --file $(f cpu)"
same "the whole fleet" "--since 3h" "--sample-type cpu --file $(f cpu) $(f cpu2) $(f cpu) $(f cpu2) $(f cpu)"
same "a label" "--label team=payments --since 3h" "--sample-type cpu --file $(f cpu2)"
same "by cum" "--service billing --since 3h --by cum" "--sample-type cpu --by cum --file $(f cpu2) $(f cpu)"
same "another sample type" "--service auth --since 3h --sample-type samples" "--sample-type samples --file $(f cpu) $(f cpu2) $(f cpu)"
same "heap, inuse_space by default" "--service auth --type heap --since 3h" "--sample-type inuse_space --file $(f heap)"
same "heap, alloc_objects" "--service auth --type heap --since 3h --sample-type alloc_objects" "--sample-type alloc_objects --file $(f heap)"

# A login in the read-only role gets the same answer.
sql "CREATE ROLE query_reader LOGIN IN ROLE cprof_reader" >/dev/null
"$CPROF_BIN/cprof-query" top --pg "$PG_CONNINFO user=query_reader" --service auth --since 3h --format tsv -n 0 >"$work/reader.out" 2>&1
"$CPROF_BIN/cprof-query" top --service auth --since 3h --format tsv -n 0 >"$work/owner.out" 2>&1
cmp -s "$work/reader.out" "$work/owner.out" && [ -s "$work/owner.out" ] && ok || bad "the reader role: $(head -c 300 "$work/reader.out")"

# fails STATUS TEXT ARGS...: cprof-query top exits STATUS, says TEXT, prints nothing on stdout.
fails() {
	_st=$1 _text=$2
	shift 2
	"$CPROF_BIN/cprof-query" top "$@" >"$work/out" 2>"$work/err"
	_got=$?
	if [ "$_got" = "$_st" ] && grep -qF -- "$_text" "$work/err" && [ ! -s "$work/out" ]; then ok; else
		bad "top $*: exit $_got (want $_st), stderr '$(head -c 300 "$work/err")', $(wc -c <"$work/out") bytes on stdout"
	fi
}
fails 1 "no service 'nope' is stored; the services are: auth, billing" --service nope --since 3h
fails 1 "no cpu profiles of auth from" --service auth --since 10d --until 9d
fails 2 "the range is empty" --service auth --since 1h --until 2h
fails 2 "--since: 'yesterday' is neither" --service auth --since yesterday
fails 2 "--until: '17' is neither" --service auth --until 17
fails 1 "sample type 'bogus' is not stored for cpu profiles of auth; there are: cpu, samples" --service auth --since 3h --sample-type bogus
fails 1 "no mutex profiles are stored for service auth" --service auth --type mutex --since 3h
fails 2 "give one or the other" --service auth --file "$(f cpu)"
fails 2 "--label wants KEY=VALUE" --label team --since 3h
fails 2 "--sample-index is for files" --service auth --sample-index 0
fails 1 "cannot connect to PostgreSQL" --pg "host=$work/nowhere port=1" --service auth
hostile="a'; DROP TABLE cprof.functions; --"
fails 1 "no service '$hostile' is stored" --service "$hostile" --since 3h
fails 1 "no cpu profiles from" --label "x\"'}=1" --since 3h
[ "$(sql "SELECT count(*) > 0 FROM cprof.functions")" = t ] && ok || bad "a hostile service string reached SQL"

# cprof-query ls: each dimension's values with their profile counts and first and last times.
tab=$(printf '\t')
lists() { # LABEL EXPECTED ARGS...: cprof-query ls ARGS --format tsv prints EXPECTED
	_label=$1 _want=$2
	shift 2
	_got=$("$CPROF_BIN/cprof-query" ls "$@" --format tsv 2>&1)
	[ "$_got" = "$_want" ] && ok || bad "ls $_label: got '$_got', want '$_want'"
}
lists services "services${tab}profiles${tab}first${tab}last
auth${tab}4${tab}$(at 0)${tab}$(at 10)
billing${tab}2${tab}$(at 0)${tab}$(at 1)" services --since 3h
lists "envs of a service" "envs${tab}profiles${tab}first${tab}last
canary${tab}1${tab}$(at 10)${tab}$(at 10)
production${tab}3${tab}$(at 0)${tab}$(at 5)" envs --service auth --since 3h
lists "types of a service" "types${tab}profiles${tab}first${tab}last
cpu${tab}3${tab}$(at 0)${tab}$(at 10)
heap${tab}1${tab}$(at 0)${tab}$(at 0)" types --service auth --since 3h
lists labels "labels${tab}profiles${tab}first${tab}last
team=payments${tab}1${tab}$(at 0)${tab}$(at 0)" labels --since 3h
lists "instances in a window" "instances${tab}profiles${tab}first${tab}last
a2${tab}1${tab}$(at 5)${tab}$(at 5)" instances --service auth --since "$(at 1)" --until "$(at 7)"
"$CPROF_BIN/cprof-query" ls functions --service billing --since 3h --format tsv | tail -n +2 | LC_ALL=C sort >"$work/ls.fn"
"$CPROF_BIN/cprof-query" top --sample-type cpu --format tsv -n 0 --file "$(f cpu2)" "$(f cpu)" | tail -n +2 | cut -f 1 |
	LC_ALL=C sort >"$work/top.fn"
cmp -s "$work/ls.fn" "$work/top.fn" && [ -s "$work/ls.fn" ] && ok || bad "ls functions: $(diff "$work/ls.fn" "$work/top.fn" | head -n 4)"
"$CPROF_BIN/cprof-query" ls services --since 3h --format json >"$work/ls.json" 2>&1
grep -q '"value": "auth", "profiles": 4' "$work/ls.json" && ok || bad "ls as JSON: $(head -c 300 "$work/ls.json")"
lsfails() { # STATUS TEXT ARGS...
	_st=$1 _text=$2
	shift 2
	"$CPROF_BIN/cprof-query" ls "$@" >"$work/out" 2>"$work/err"
	_got=$?
	if [ "$_got" = "$_st" ] && grep -qF -- "$_text" "$work/err" && [ ! -s "$work/out" ]; then ok; else
		bad "ls $*: exit $_got (want $_st), stderr '$(head -c 300 "$work/err")'"
	fi
}
lsfails 2 "cannot list 'bogus'" bogus
lsfails 2 "say what to list" --since 3h
lsfails 1 "no profiles from" services --since 10d --until 9d
lsfails 1 "no profiles of that service" envs --service "$hostile" --since 3h

finish
