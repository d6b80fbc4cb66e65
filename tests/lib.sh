# tests/lib.sh: shell helpers shared by the test scripts (sourced, not run).
# Needs the variables tests/run exports (CPROF_ROOT, CPROF_BIN, CPROF_WORK, ...).

# Go builds stay inside the project's build folder and never reach for the network.
export GOCACHE="$CPROF_ROOT/build/gocache" GOPATH="$CPROF_ROOT/build/gopath"
export GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local GO111MODULE=on
export LC_ALL=C

# Prints the path of the gofixtures binary, building it when needed.
gofixtures_bin() {
	out="$CPROF_ROOT/build/gofixtures"
	(cd "$CPROF_ROOT/tests/gofixtures" && go build -o "$out" .) >&2 || return 1
	echo "$out"
}

# pprof_top_tsv INDEX UNIT FILE...: pprof's own flat/cum per function as sorted TSV.
pprof_top_tsv() {
	index=$1 unit=$2
	shift 2
	go tool pprof -top -symbolize=none -nodefraction=0 -nodecount=1000000 \
		-sample_index="$index" -unit="$unit" "$@" 2>/dev/null | "$(gofixtures_bin)" toptsv
}

# cprof_top_tsv INDEX FILE...: cprof-query's flat/cum per function as TSV sorted by name.
cprof_top_tsv() {
	index=$1
	shift
	"$CPROF_BIN/cprof-query" top --sample-index "$index" --format tsv -n 0 --file "$@" >"$CPROF_WORK/top.$$" || return 1
	head -n 1 "$CPROF_WORK/top.$$"
	tail -n +2 "$CPROF_WORK/top.$$" | sort
	rm -f "$CPROF_WORK/top.$$"
}

# devbroker_start DIR ARG...: cprof-devbroker ARG... in the background, its output in
# DIR/broker.out and DIR/broker.err; sets broker_pid, then brokers (the bootstrap servers) once
# it listens. Fails, brokers empty, when it does not listen within 15 s.
devbroker_start() {
	_dir=$1
	shift
	"$CPROF_BIN/cprof-devbroker" "$@" >"$_dir/broker.out" 2>"$_dir/broker.err" &
	broker_pid=$!
	_tries=150
	while [ "$_tries" -gt 0 ] && ! grep -q '^bootstrap.servers=' "$_dir/broker.out" 2>/dev/null; do
		sleep 0.1
		_tries=$((_tries - 1))
	done
	brokers=$(sed -n 's/^bootstrap\.servers=//p' "$_dir/broker.out")
	[ -n "$brokers" ]
}

# The counters of a test script: `tally NAME` once, then `ok` for each passing assertion, `bad
# MESSAGE` for each failing one, and `finish` at the end (prints "NAME: P passed, F failed" and
# exits non-zero when something failed).
tally() {
	_tally_name=$1
	pass=0 fail=0
}
ok() { pass=$((pass + 1)); }
bad() {
	fail=$((fail + 1))
	echo "FAIL $*"
}
finish() {
	echo "$_tally_name: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}

# go_tool_bin NAME DIR: prints the path of build/NAME, the Go program in DIR (relative to the
# project's root), building it when needed.
go_tool_bin() {
	out="$CPROF_ROOT/build/$1"
	(cd "$CPROF_ROOT/$2" && go build -o "$out" .) >&2 || return 1
	echo "$out"
}
# The demo service (deploy/demo/shop) and the misbehaving pprof server (tests/pprofbad).
shop_bin() { go_tool_bin shop deploy/demo/shop; }
pprofbad_bin() { go_tool_bin pprofbad tests/pprofbad; }

# wait_file FILE [SECONDS]: waits until FILE exists and is not empty (default 30 s); fails after.
wait_file() {
	_tries=$((${2:-30} * 10))
	while [ "$_tries" -gt 0 ] && [ ! -s "$1" ]; do
		sleep 0.1
		_tries=$((_tries - 1))
	done
	[ -s "$1" ]
}

# shop_fixtures_stored DB: real Go profiles (tests/gofixtures, written to $CPROF_WORK/fx)
# stored in the migrated database DB as service shop, one a minute from t0 (two hours ago at
# :50, so across an hour boundary): production gets cpu, cpu2, cpu, heap, mutex and goroutine,
# canary cpu2 twice; then rolled up, so reads come from minute and hour tiers. Sets fixtures (the
# gofixtures binary), fx (the files' folder), t0, since and until (a range holding them all).
# Counts a failure with bad for each step that fails; returns non-zero when the files are missing.
shop_fixtures_stored() {
	_db=$1
	fixtures=$(gofixtures_bin) || { bad "building tests/gofixtures"; return 1; }
	fx=$CPROF_WORK/fx
	"$fixtures" write "$fx" >/dev/null 2>&1 || { bad "gofixtures write"; return 1; }
	t0=$(( ($(date +%s) / 3600 - 2) * 3600 - 600 ))
	since=$(date -u -d "@$((t0 - 60))" +%Y-%m-%dT%H:%M:%SZ)
	until=$(date -u -d "@$((t0 + 1800))" +%Y-%m-%dT%H:%M:%SZ)
	for _env_files in "production cpu cpu2 cpu heap mutex goroutine" "canary cpu2 cpu2"; do
		set -- $_env_files
		_env=$1
		shift
		_files=
		for _f in "$@"; do _files="$_files $fx/$_f.pb.gz"; done
		# shellcheck disable=SC2086 # a list of files
		"$CPROF_BIN/cprof-worker" load --pg "$_db" --service shop --env "$_env" --time "$t0""000000000" --every 1m \
			$_files >/dev/null 2>"$CPROF_WORK/load.err" || bad "load $_env: $(cat "$CPROF_WORK/load.err")"
	done
	"$CPROF_BIN/cprof-worker" maintain --pg "$_db" >/dev/null 2>&1 || bad "maintain"
}
