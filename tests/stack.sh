#!/bin/sh
# stack: deploy/local/cprof-stack end to end, in a stack folder under CPROF_WORK on a free port:
# up; status 0; psql through the printed env over the Unix socket and over TCP; up again
# (idempotent, same processes); a table written; down (every process gone, port closed); status
# 3; up again (the table is still there); down. With bin/cprof-devbroker built: its bootstrap
# servers are in the env and its pid lives exactly while the stack is up. Also: env before any
# up, a port already in use, a bad command; and tests/pg.sh's own checks (pg_start/pg_stop twice
# in a row on one folder, recovery from a crashed server). Everything started is stopped on exit,
# also on failure.
set -u
export LC_ALL=C

. "$CPROF_ROOT/tests/pg.sh"

stack="$CPROF_ROOT/deploy/local/cprof-stack"
work=$CPROF_WORK
export CPROF_STACK_DIR="$work/stack"
export CPROF_BIN # the stack runs the binaries under test (bin, or the sanitized ones)
unset PGHOST PGPORT PGDATABASE PGUSER PGPASSWORD PGSERVICE PGOPTIONS CPROF_PG CPROF_KAFKA_BROKERS
broker_bin="$CPROF_BIN/cprof-devbroker"
passed=0 failed=0

pass() {
	passed=$((passed + 1))
	echo "ok   $1"
}

fail() {
	failed=$((failed + 1))
	echo "FAIL $1${2:+: $2}"
	for f in "$work/out" "$work/err"; do
		[ -s "$f" ] && sed 's/^/     | /' "$f" | tail -n 15
	done
}

# check NAME COMMAND...: COMMAND (stdout in $work/out, stderr in $work/err) exits 0
check() {
	name=$1
	shift
	if "$@" >"$work/out" 2>"$work/err"; then pass "$name"; else fail "$name" "exit $?"; fi
}

# expect_status NAME WANT COMMAND...
expect_status() {
	name=$1 want=$2
	shift 2
	"$@" >"$work/out" 2>"$work/err"
	got=$?
	if [ "$got" -eq "$want" ]; then pass "$name"; else fail "$name" "exit $got, expected $want"; fi
}

alive() { # PID: a live process (a zombie has no command line)
	[ -n "$1" ] && [ -n "$({ tr -d '\0' <"/proc/$1/cmdline"; } 2>/dev/null)" ]
}

pg_pid_now() { head -n 1 "$CPROF_STACK_DIR/pg/data/postmaster.pid" 2>/dev/null; }
broker_pid_now() { cat "$CPROF_STACK_DIR/devbroker.pid" 2>/dev/null; }

cleanup() {
	"$stack" down >/dev/null 2>&1
	# in case the script under test could not: the broker by its pid, the servers by pg.sh
	b=$(broker_pid_now)
	if alive "$b" && { tr '\0' ' ' <"/proc/$b/cmdline"; } 2>/dev/null | grep -q cprof-devbroker; then
		kill -TERM "$b" 2>/dev/null
	fi
	pg_stop "$CPROF_STACK_DIR/pg" >/dev/null 2>&1
	pg_stop "$work/blocker" >/dev/null 2>&1
	pg_stop "$work/pg-selftest" >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

if [ ! -x "$PG_BINDIR/postgres" ]; then
	echo "stack: PostgreSQL 15 is not installed (run make deps): 0 passed, 0 failed"
	exit 77
fi

port=$(pg_free_port)
export CPROF_PG_PORT="$port"

# --- before anything runs
expect_status "a bad command exits 2" 2 "$stack" frobnicate
expect_status "env before the first up fails" 1 "$stack" env
expect_status "status before the first up exits 3" 3 "$stack" status

# --- up
expect_status "up" 0 "$stack" up
cp "$work/out" "$work/up1.out"
expect_status "status after up exits 0" 0 "$stack" status
if grep -q "postgresql: running (pid [0-9]*), socket .*, tcp 127.0.0.1:$port" "$work/out"; then
	pass "status names the server's pid, socket and port"
else
	fail "status names the server's pid, socket and port"
fi
pg1=$(pg_pid_now)
if [ "$(id -u)" -eq 0 ]; then
	if [ "$(ps -o user= -p "$pg1" 2>/dev/null)" = postgres ]; then
		pass "as root, the server runs as the postgres user"
	else
		fail "as root, the server runs as the postgres user" "pid $pg1 runs as '$(ps -o user= -p "$pg1")'"
	fi
fi

check "env" "$stack" env
cp "$work/out" "$work/env"
if eval "$(cat "$work/env")" && [ "${PGPORT:-}" = "$port" ] && [ -S "${PGHOST:-}/.s.PGSQL.$port" ] &&
	[ "${PGDATABASE:-}" = cprof ] && [ "${PGUSER:-}" = cprof ] && [ -n "${CPROF_PG:-}" ]; then
	pass "env exports PGHOST (the socket folder), PGPORT, PGDATABASE, PGUSER, CPROF_PG"
else
	fail "env exports PGHOST (the socket folder), PGPORT, PGDATABASE, PGUSER, CPROF_PG" "$(cat "$work/env")"
fi

psql_is() { # WANT PSQL-ARGS...: psql's answer is WANT
	want=$1
	shift
	got=$(psql -X -A -t -v ON_ERROR_STOP=1 "$@") || return 1
	[ "$got" = "$want" ] || { echo "got '$got', want '$want'" >&2; return 1; }
}
check "SELECT 1 over the socket (PG* env)" psql_is 1 -c 'SELECT 1'
check "SELECT 1 over TCP (-h 127.0.0.1)" psql_is 1 -h 127.0.0.1 -c 'SELECT 1'
check "CPROF_PG connects, as cprof to cprof" psql_is "cprof|cprof" -d "$CPROF_PG" -c 'SELECT current_user, current_database()'
check "CPROF_PG_TCP connects over TCP" psql_is 1 -d "${CPROF_PG_TCP:-}" -c 'SELECT 1'
check "cprof is a superuser" psql_is on -c 'SHOW is_superuser'
check "create a table" psql_is "" -q -c 'CREATE TABLE stack_kept AS SELECT 42 AS answer'

b1=
if [ -x "$broker_bin" ]; then
	b1=$(broker_pid_now)
	if [ -n "${CPROF_KAFKA_BROKERS:-}" ]; then pass "CPROF_KAFKA_BROKERS is set ($CPROF_KAFKA_BROKERS)"; else fail "CPROF_KAFKA_BROKERS is set"; fi
	if alive "$b1"; then pass "the devbroker runs (pid $b1)"; else fail "the devbroker runs" "pid '$b1'"; fi
	if grep -q "devbroker: running (pid $b1)" "$work/out" 2>/dev/null || "$stack" status | grep -q "devbroker: running (pid $b1)"; then
		pass "status names the devbroker's pid"
	else
		fail "status names the devbroker's pid"
	fi
else
	echo "note: $broker_bin not built: the Kafka half is not tested"
fi

# --- up again: nothing restarted
expect_status "up again (already running) exits 0" 0 "$stack" up
if grep -q "postgresql: already running" "$work/out" && [ "$(pg_pid_now)" = "$pg1" ] &&
	{ [ -z "$b1" ] || [ "$(broker_pid_now)" = "$b1" ]; }; then
	pass "up again reports and keeps the same processes"
else
	fail "up again reports and keeps the same processes"
fi

# --- down
expect_status "down" 0 "$stack" down
gone=1
alive "$pg1" && gone=0
[ -n "$b1" ] && alive "$b1" && gone=0
if [ "$gone" -eq 1 ]; then pass "down: PostgreSQL${b1:+ and the devbroker} gone"; else fail "down: processes gone"; fi
if ! "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$port"; then pass "down: port $port closed"; else fail "down: port $port closed"; fi
if [ ! -e "$CPROF_STACK_DIR/kafka.bootstrap" ]; then pass "down: no bootstrap file left"; else fail "down: no bootstrap file left"; fi
expect_status "status after down exits 3" 3 "$stack" status
expect_status "down again (nothing running) exits 0" 0 "$stack" down

# --- up after down: the data persisted
expect_status "up after down" 0 "$stack" up
check "the table survived down and up" psql_is 42 -c 'SELECT answer FROM stack_kept'
expect_status "status exits 0 again" 0 "$stack" status
pg2=$(pg_pid_now) b2=$(broker_pid_now)
if [ -x "$broker_bin" ]; then
	if alive "$b2" && [ "$b2" != "$b1" ]; then pass "a new devbroker runs"; else fail "a new devbroker runs" "pid '$b2'"; fi
fi
expect_status "down (last)" 0 "$stack" down
# by pid and by command line: a devbroker the stack lost track of would escape the pid check
if ! alive "$pg2" && { [ -z "$b2" ] || ! alive "$b2"; } && ! pgrep -f -- "--bootstrap-file $CPROF_STACK_DIR/" >/dev/null; then
	pass "nothing left running"
else
	fail "nothing left running" "$(pgrep -af -- "--bootstrap-file $CPROF_STACK_DIR/")"
fi

# --- a port taken by another server: a clear error, nothing started
if pg_start "$work/blocker" 0 >"$work/err" 2>&1; then
	CPROF_STACK_DIR="$work/stack2" CPROF_PG_PORT=$PG_PORT "$stack" up >"$work/out" 2>"$work/err"
	st=$?
	if [ "$st" -eq 1 ] && grep -q "port $PG_PORT .*in use" "$work/err"; then
		pass "up on a port in use fails and says so"
	else
		fail "up on a port in use fails and says so" "exit $st"
	fi
	if [ ! -s "$work/stack2/devbroker.pid" ] && ! CPROF_STACK_DIR="$work/stack2" "$stack" status >/dev/null 2>&1; then
		pass "nothing left running after the failed up"
	else
		fail "nothing left running after the failed up"
	fi
	CPROF_STACK_DIR="$work/stack2" "$stack" down >/dev/null 2>&1
	pg_stop "$work/blocker" >/dev/null 2>&1
else
	fail "pg_start of a blocking server"
fi

# --- tests/pg.sh
pg_selftest "$work"
passed=$((passed + PG_SELFTEST_PASSED)) failed=$((failed + PG_SELFTEST_FAILED))

echo "stack: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
