# tests/pg.sh: a private, throwaway PostgreSQL 15 for test scripts (sourced, not run:
# `. "$CPROF_ROOT/tests/pg.sh"`). Works as root (the server runs as the `postgres` OS user, which
# then owns DIR) and as any other user. Needs nothing from tests/run.
#
#   pg_start DIR PORT   initdb DIR/data (first time only; rm -rf DIR for a fresh cluster) and start
#                       the server: Unix socket in DIR/run (in /tmp if that path is too long for a
#                       socket), TCP on 127.0.0.1:PORT, PORT 0 = a free port picked at random.
#                       Returns 0 once it accepts connections (at most ~30 s), 1 with the reason
#                       on stderr. A server left running in DIR by a crashed run is stopped first;
#                       a stale pid file is cleared. Role `cprof` (superuser, no password: trust)
#                       and database `cprof` exist. Durability is off (fsync, synchronous_commit)
#                       for speed: throwaway data only.
#                       Sets (not exported) PG_DIR, PG_PORT, PG_SOCKDIR, PG_CONNINFO (socket) and
#                       PG_CONNINFO_TCP; also writes the port to DIR/port.
#   pg_stop DIR         stops it (fast, then immediate); 0 also when it was not running.
#   pg_conninfo DIR [PORT]      prints "host=SOCKDIR port=PORT dbname=cprof user=cprof"
#   pg_conninfo_tcp DIR [PORT]  prints "host=127.0.0.1 port=PORT dbname=cprof user=cprof"
#                       (PORT defaults to the one pg_start recorded in DIR/port)
#   pg_free_port        prints a port on 127.0.0.1 nothing listens on (20000-31999, below
#                       Linux's ephemeral range), for programs other than pg_start
#   pg_psql DIR ARGS... psql -X -q -A -t -v ON_ERROR_STOP=1 on DIR's server and database cprof,
#                       e.g. pg_psql "$dir" -c 'SELECT 1'
#
# Always stop the server, also on failure:
#   trap 'pg_stop "$CPROF_WORK/pg"' EXIT INT TERM
#   pg_start "$CPROF_WORK/pg" 0 || exit 1
#
# Functions keep their variables in _pg_* names so they do not clobber the caller's.

PG_BINDIR=${CPROF_PG_BINDIR:-/usr/lib/postgresql/15/bin}

_pg_err() {
	echo "pg.sh: $*" >&2
}

# _pg_as CMD...: CMD as the server's OS user (postgres when root), from / (whose home may be
# unreadable to that user).
_pg_as() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

_pg_abs() {
	case $1 in /*) echo "$1" ;; *) echo "$(pwd)/$1" ;; esac
}

_pg_sockdir() { # DIR: where the socket goes
	if [ -f "$1/sockdir" ]; then
		cat "$1/sockdir"
	else
		echo "$1/run"
	fi
}

_pg_port() { # DIR [PORT]
	if [ -n "${2:-}" ] && [ "$2" != 0 ]; then
		echo "$2"
	else
		cat "$1/port" 2>/dev/null
	fi
}

# _pg_pid DIR: the postmaster's pid when the server of DIR/data runs (checked in /proc, so a
# stale pid file or a reused pid is not taken for it).
_pg_pid() {
	_pg_p=$(head -n 1 "$1/data/postmaster.pid" 2>/dev/null)
	case $_pg_p in '' | *[!0-9]*) return 1 ;; esac
	{ tr '\0' ' ' <"/proc/$_pg_p/cmdline"; } 2>/dev/null | grep -qF -- "-D $1/data " || return 1
	echo "$_pg_p"
}

# _pg_busy DATADIR: some process works in DATADIR (every PostgreSQL process has it as its cwd).
_pg_busy() {
	find /proc/[0-9]*/cwd -maxdepth 0 -printf '%l\n' 2>/dev/null | grep -qFx -- "$1"
}

pg_free_port() { # a port below Linux's ephemeral range (32768-60999), not listened on
	_pg_i=0
	while [ "$_pg_i" -lt 50 ]; do
		_pg_r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
		_pg_cand=$((20000 + _pg_r % 12000))
		if ! command -v ss >/dev/null || ! ss -Hltn "sport = :$_pg_cand" 2>/dev/null | grep -q .; then
			echo "$_pg_cand"
			return 0
		fi
		_pg_i=$((_pg_i + 1))
	done
	echo 0
}

pg_conninfo() { # DIR [PORT]
	_pg_d=$(_pg_abs "$1")
	echo "host=$(_pg_sockdir "$_pg_d") port=$(_pg_port "$_pg_d" "${2:-}") dbname=cprof user=cprof"
}

pg_conninfo_tcp() { # DIR [PORT]
	_pg_d=$(_pg_abs "$1")
	echo "host=127.0.0.1 port=$(_pg_port "$_pg_d" "${2:-}") dbname=cprof user=cprof"
}

pg_psql() { # DIR ARGS...
	_pg_d=$(_pg_abs "$1")
	shift
	"$PG_BINDIR/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d "$(pg_conninfo "$_pg_d")" "$@"
}

pg_stop() { # DIR
	_pg_d=$(_pg_abs "$1")
	if _pg_pid "$_pg_d" >/dev/null; then
		if ! _pg_as "$PG_BINDIR/pg_ctl" stop -D "$_pg_d/data" -m fast -w -t 20 -s >/dev/null 2>&1; then
			_pg_as "$PG_BINDIR/pg_ctl" stop -D "$_pg_d/data" -m immediate -w -t 20 -s >/dev/null 2>&1
		fi
		if _pg_pid "$_pg_d" >/dev/null; then
			_pg_err "the server of $_pg_d did not stop"
			return 1
		fi
	fi
	if [ -f "$_pg_d/sockdir" ]; then # a socket folder in /tmp
		rm -rf "$(cat "$_pg_d/sockdir")" "$_pg_d/sockdir"
	fi
	return 0
}

pg_start() { # DIR PORT
	if [ $# -ne 2 ]; then
		_pg_err "usage: pg_start DIR PORT (PORT 0: pick a free one)"
		return 1
	fi
	_pg_d=$(_pg_abs "$1")
	_pg_want=$2
	case $_pg_want in '' | *[!0-9]*)
		_pg_err "bad port '$_pg_want'"
		return 1
		;;
	esac
	for _pg_x in initdb pg_ctl postgres psql; do
		if [ ! -x "$PG_BINDIR/$_pg_x" ]; then
			_pg_err "PostgreSQL 15 is not installed ($PG_BINDIR/$_pg_x missing): run 'make deps'"
			return 1
		fi
	done
	if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
		_pg_err "no 'postgres' OS user (PostgreSQL 15 not installed?): run 'make deps'"
		return 1
	fi
	mkdir -p "$_pg_d" || return 1
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres:postgres "$_pg_d" || return 1
	fi
	if ! _pg_as test -w "$_pg_d"; then
		_pg_err "the server's OS user cannot write $_pg_d (a parent folder not searchable by others?)"
		return 1
	fi

	# A server left by a crashed run: stop it, whatever port it has.
	if _pg_pid "$_pg_d" >/dev/null; then
		_pg_as "$PG_BINDIR/pg_ctl" stop -D "$_pg_d/data" -m immediate -w -t 20 -s >/dev/null 2>&1
	fi
	# A stale pid file (its postmaster killed): once no process of the old server is left (they
	# exit when their postmaster dies), it is removed, since PostgreSQL would refuse it when its
	# pid is a zombie not reaped yet or has been reused by another program.
	if [ -f "$_pg_d/data/postmaster.pid" ] && ! _pg_pid "$_pg_d" >/dev/null; then
		_pg_i=0
		while _pg_busy "$_pg_d/data"; do
			_pg_i=$((_pg_i + 1))
			if [ "$_pg_i" -gt 100 ]; then
				_pg_err "processes of an old server still run in $_pg_d/data"
				return 1
			fi
			sleep 0.1
		done
		rm -f "$_pg_d/data/postmaster.pid"
		rm -f "$(_pg_sockdir "$_pg_d")"/.s.PGSQL.* # the folder is this server's alone
	fi

	if [ ! -f "$_pg_d/data/PG_VERSION" ]; then
		rm -rf "$_pg_d/data"
		if ! _pg_as "$PG_BINDIR/initdb" -D "$_pg_d/data" -U postgres --auth=trust -E UTF8 --no-locale -N \
			>"$_pg_d/initdb.log" 2>&1; then
			cat "$_pg_d/initdb.log" >&2
			_pg_err "initdb failed in $_pg_d/data"
			return 1
		fi
		echo "include_if_exists 'cprof-test.conf'" | _pg_as tee -a "$_pg_d/data/postgresql.conf" >/dev/null || return 1
	fi

	# The socket: in DIR/run, or in /tmp when DIR is too deep for a socket path (107 bytes).
	rm -f "$_pg_d/sockdir"
	if [ "${#_pg_d}" -le 80 ]; then
		_pg_sock=$_pg_d/run
		_pg_as mkdir -p "$_pg_sock" || return 1
	else
		_pg_sock=$(_pg_as mktemp -d /tmp/cprof-pg.XXXXXX) || return 1
		echo "$_pg_sock" >"$_pg_d/sockdir"
	fi
	_pg_as chmod 755 "$_pg_sock"

	_pg_try=0
	while :; do
		_pg_try=$((_pg_try + 1))
		_pg_port=$_pg_want
		[ "$_pg_port" -eq 0 ] && _pg_port=$(pg_free_port)
		printf "listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = '%s'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n" \
			"$_pg_port" "$(printf '%s' "$_pg_sock" | sed "s/'/''/g")" |
			_pg_as tee "$_pg_d/data/cprof-test.conf" >/dev/null || return 1
		[ -f "$_pg_d/postgres.log" ] && : >"$_pg_d/postgres.log" # this start's log only
		if _pg_as "$PG_BINDIR/pg_ctl" start -D "$_pg_d/data" -l "$_pg_d/postgres.log" -w -t 30 -s >/dev/null 2>&1; then
			break
		fi
		# another server in the same folder, or a crashed one's children still exiting
		if grep -q 'pre-existing shared memory block\|lock file .* already exists' "$_pg_d/postgres.log" 2>/dev/null &&
			[ "$_pg_try" -lt 10 ]; then
			sleep 1
			continue
		fi
		if grep -q 'Address already in use' "$_pg_d/postgres.log" 2>/dev/null; then
			if [ "$_pg_want" -eq 0 ] && [ "$_pg_try" -lt 10 ]; then
				continue # raced with another program for a random port
			fi
			_pg_err "port $_pg_port on 127.0.0.1 is in use by another program"
			return 1
		fi
		tail -n 20 "$_pg_d/postgres.log" >&2 2>/dev/null
		_pg_err "PostgreSQL did not start in $_pg_d (log above: $_pg_d/postgres.log)"
		return 1
	done
	echo "$_pg_port" >"$_pg_d/port"

	if ! "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$_pg_sock" -p "$_pg_port" -U postgres -d postgres >/dev/null <<'EOF'; then
DO $$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cprof') THEN
    CREATE ROLE cprof SUPERUSER LOGIN;
  END IF;
END$$;
SELECT 'CREATE DATABASE cprof OWNER cprof' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'cprof')\gexec
EOF
		_pg_err "cannot create the cprof role and database in $_pg_d"
		return 1
	fi

	# shellcheck disable=SC2034 # for the caller
	PG_DIR=$_pg_d
	PG_PORT=$_pg_port
	# shellcheck disable=SC2034 # for the caller
	PG_SOCKDIR=$_pg_sock
	# shellcheck disable=SC2034 # for the caller
	PG_CONNINFO=$(pg_conninfo "$_pg_d")
	# shellcheck disable=SC2034 # for the caller
	PG_CONNINFO_TCP=$(pg_conninfo_tcp "$_pg_d")
	return 0
}

# pg_selftest WORKDIR: pg_start/pg_stop twice in a row on one folder (port 0), connections over
# the socket and TCP, data kept across a restart, recovery from a crashed run (postmaster killed
# with -9: stale pid file) and a pid file naming a dead process. Prints "ok   ..."/"FAIL ..."
# lines; adds to PG_SELFTEST_PASSED and PG_SELFTEST_FAILED; always leaves the server stopped.
# shellcheck disable=SC2317 # its helpers run through _pg_check
pg_selftest() {
	_pg_w=$(_pg_abs "$1")/pg-selftest
	PG_SELFTEST_PASSED=${PG_SELFTEST_PASSED:-0} PG_SELFTEST_FAILED=${PG_SELFTEST_FAILED:-0}
	_pg_check() { # NAME COMMAND...
		_pg_n=$1
		shift
		if "$@" >"$_pg_w.out" 2>&1; then
			PG_SELFTEST_PASSED=$((PG_SELFTEST_PASSED + 1))
			echo "ok   pg: $_pg_n"
		else
			PG_SELFTEST_FAILED=$((PG_SELFTEST_FAILED + 1))
			echo "FAIL pg: $_pg_n"
			sed 's/^/     | /' "$_pg_w.out" | tail -n 20
		fi
	}
	_pg_is() { # WANT ARGS... : pg_psql's output is WANT
		_pg_want_out=$1
		shift
		_pg_got=$(pg_psql "$_pg_w" "$@") || return 1
		[ "$_pg_got" = "$_pg_want_out" ] || { echo "got '$_pg_got', want '$_pg_want_out'"; return 1; }
	}
	_pg_tcp() {
		_pg_got=$("$PG_BINDIR/psql" -X -A -t -d "$(pg_conninfo_tcp "$_pg_w")" -c 'SELECT 1') &&
			[ "$_pg_got" = 1 ]
	}
	_pg_down() { # the server of the folder is gone: no process, nothing listening
		! _pg_pid "$_pg_w" && ! "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"
	}
	_pg_crash() { # kill -9 the postmaster, as a crashed run would leave it
		_pg_k=$(_pg_pid "$_pg_w") && kill -KILL "$_pg_k" && sleep 0.3 && [ -f "$_pg_w/data/postmaster.pid" ]
	}
	_pg_fake_stale() { # a pid file naming a process that does not exist
		# shellcheck disable=SC2016 # expanded by that sh
		_pg_as sh -c 'printf "999999\n%s\n" "$1" >"$1/postmaster.pid"' sh "$_pg_w/data"
	}
	rm -rf "$_pg_w"
	_pg_check "pg_start DIR 0 (first)" pg_start "$_pg_w" 0
	_pg_check "SELECT 1 over the socket" _pg_is 1 -c 'SELECT 1'
	_pg_check "SELECT 1 over TCP" _pg_tcp
	_pg_check "write a table" pg_psql "$_pg_w" -c 'CREATE TABLE kept AS SELECT 7 AS x'
	_pg_check "pg_stop DIR (first)" pg_stop "$_pg_w"
	_pg_check "stopped: no server, port closed" _pg_down
	_pg_check "pg_start DIR 0 (second, same folder)" pg_start "$_pg_w" 0
	_pg_check "the table survived the restart" _pg_is 7 -c 'SELECT x FROM kept'
	_pg_check "pg_stop DIR (second)" pg_stop "$_pg_w"
	_pg_check "stopped again" _pg_down
	_pg_check "pg_stop DIR when not running" pg_stop "$_pg_w"
	_pg_check "pg_start DIR PORT (a given port)" pg_start "$_pg_w" "$PG_PORT"
	_pg_check "crash: postmaster killed with -9" _pg_crash
	_pg_check "pg_start after a crash (stale pid file)" pg_start "$_pg_w" 0
	_pg_check "SELECT after the crash recovery" _pg_is 7 -c 'SELECT x FROM kept'
	pg_stop "$_pg_w" >/dev/null 2>&1
	_pg_check "pid file of a dead process" _pg_fake_stale
	_pg_check "pg_start with it" pg_start "$_pg_w" 0
	_pg_check "pg_stop (last)" pg_stop "$_pg_w"
	pg_stop "$_pg_w" >/dev/null 2>&1 # whatever failed above
	rm -f "$_pg_w.out"
}

# Run as a script (tests/run runs every tests/*.sh): the self-test, as a test named "pg".
case ${0##*/} in
pg.sh)
	set -u
	_pg_self_work=${CPROF_WORK:-$(mktemp -d)}
	trap 'pg_stop "$_pg_self_work/pg-selftest" >/dev/null 2>&1' EXIT
	trap 'exit 1' INT TERM
	pg_selftest "$_pg_self_work"
	echo "pg: $PG_SELFTEST_PASSED passed, $PG_SELFTEST_FAILED failed"
	[ "$PG_SELFTEST_FAILED" -eq 0 ]
	exit
	;;
esac
