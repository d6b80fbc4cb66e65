#!/bin/sh
# migrate: `cprof-worker migrate` against a real PostgreSQL 15: the schema is created once and
# recorded, a second run changes nothing, concurrent runs serialize, a migration changed after
# it was applied is refused, daily partitions are created and dropped as asked, and the writer
# and reader roles can do exactly what they are for.
set -u
. "$CPROF_ROOT/tests/pg.sh"
pass=0 fail=0
check() { # LABEL COMMAND...: one case
	label=$1
	shift
	if "$@" >"$CPROF_WORK/out" 2>&1; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL $label:"
		sed 's/^/    /' "$CPROF_WORK/out" | head -n 10
	fi
}
equals() { # EXPECTED COMMAND...: the command's output is EXPECTED
	want=$1
	shift
	got=$("$@" 2>&1)
	[ "$got" = "$want" ] || { echo "expected: $want"; echo "got:      $got"; return 1; }
}
fails_with() { # TEXT COMMAND...: the command fails and says TEXT
	text=$1
	shift
	if out=$("$@" 2>&1); then echo "succeeded: $out"; return 1; fi
	case $out in *"$text"*) return 0 ;; esac
	echo "failed without '$text': $out"
	return 1
}

trap 'pg_stop "$CPROF_WORK/pg"' EXIT
trap 'exit 1' INT TERM
if ! pg_start "$CPROF_WORK/pg" 0; then
	echo "migrate: 0 passed, 1 failed (PostgreSQL did not start)"
	exit 1
fi
db=$PG_CONNINFO
sql() { pg_psql "$CPROF_WORK/pg" -c "$1"; }
worker() { "$CPROF_BIN/cprof-worker" --pg "$db" "$@"; }

check "first run applies every migration" equals "migrations: $(ls "$CPROF_ROOT"/sql/[0-9]*.sql | wc -l) applied, 0 already applied" worker migrate
check "second run applies nothing" equals "migrations: 0 applied, $(ls "$CPROF_ROOT"/sql/[0-9]*.sql | wc -l) already applied" worker migrate
check "migrations are recorded" equals "001_schema" sql "SELECT name FROM cprof.schema_migrations WHERE version = 1"
check "core tables exist" equals "7" sql "SELECT count(*) FROM pg_tables WHERE schemaname = 'cprof' AND tablename IN
	('series','functions','stacks','kafka_offsets','partitioned_tables','worker_stats','schema_migrations')"
check "partitioned facts (minutes, hours, days) and profiles exist" equals "10" sql "SELECT count(*) FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid
	JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'cprof'"

# Concurrent runs: three at once all succeed and the migrations are recorded once.
concurrent() {
	worker migrate >"$CPROF_WORK/c1" 2>&1 & p1=$!
	worker migrate >"$CPROF_WORK/c2" 2>&1 & p2=$!
	worker migrate >"$CPROF_WORK/c3" 2>&1 & p3=$!
	wait $p1 && wait $p2 && wait $p3 && [ "$(sql "SELECT count(*) FROM cprof.schema_migrations")" = "$(ls "$CPROF_ROOT"/sql/[0-9]*.sql | wc -l)" ]
}
check "concurrent runs serialize" concurrent

# Partitions: three days each for the four daily tables, the month and year of the rollup tiers'
# tables, idempotent; retention drops one day.
check "ensure_partitions creates 18 (3 days of 4 daily tables, a month and a year of 3 tables each)" equals "18" sql "SELECT cprof.ensure_partitions(DATE '2030-01-01', DATE '2030-01-03')"
check "ensure_partitions again creates none" equals "0" sql "SELECT cprof.ensure_partitions(DATE '2030-01-01', DATE '2030-01-03')"
check "rows land in their day's partition" equals "function_minutes_packed_20300102" sql \
	"INSERT INTO cprof.function_minutes_packed VALUES ('2030-01-02 10:15+00', 1, '{1}', '{5}', '{7}');
	 SELECT c.relname FROM cprof.function_minutes_packed f JOIN pg_class c ON c.oid = f.tableoid
	 WHERE f.bucket = '2030-01-02 10:15+00'"
check "retention drops the days before" equals "2" sql "SELECT cprof.drop_partitions_before('function_minutes_packed', DATE '2030-01-03')"
check "retention keeps the rest" equals "1|0" sql \
	"SELECT count(*), (SELECT count(*) FROM cprof.function_minutes) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
	 WHERE c.relname LIKE 'function_minutes_packed_2030%'"
check "a day without a partition refuses rows" fails_with "no partition of relation" sql \
	"INSERT INTO cprof.function_minutes_packed VALUES ('2031-06-01 00:00+00', 1, '{1}', '{1}', '{1}')"

# Compaction: three batches' rows of one (minute, series) become one, summed per function and
# stack, ids ascending; a minute with one row, and a minute outside the range, stay as they are.
sql "INSERT INTO cprof.function_minutes_packed VALUES
	('2030-01-03 10:00+00', 7, '{3,5}', '{1,2}', '{10,20}'), ('2030-01-03 10:00+00', 7, '{1,5}', '{4,8}', '{40,80}'),
	('2030-01-03 10:00+00', 7, '{5}', '{16}', '{160}'), ('2030-01-03 10:01+00', 7, '{5}', '{1}', '{1}'),
	('2030-01-03 10:05+00', 7, '{5}', '{1}', '{1}'), ('2030-01-03 10:05+00', 7, '{5}', '{1}', '{1}');
	INSERT INTO cprof.stack_minutes_packed VALUES
	('2030-01-03 10:00+00', 7, '{9}', '{2}'), ('2030-01-03 10:00+00', 7, '{2,9}', '{1,3}');
	INSERT INTO cprof.series_minutes VALUES ('2030-01-03 10:00+00', 7, 5, 1, 10), ('2030-01-03 10:00+00', 7, 6, 2, 20)" >/dev/null
check "compaction removes 4 rows" equals 4 sql "SELECT cprof.compact_minutes('2030-01-03 10:00+00', '2030-01-03 10:05+00')"
check "the compacted functions" equals "{1,3,5}|{4,1,26}|{40,10,260}" sql \
	"SELECT function_ids, flat, cum FROM cprof.function_minutes_packed WHERE bucket = '2030-01-03 10:00+00'"
check "the compacted stacks" equals "{2,9}|{1,5}" sql \
	"SELECT stack_ids, self FROM cprof.stack_minutes_packed WHERE bucket = '2030-01-03 10:00+00'"
check "the compacted series" equals "11|3|30" sql \
	"SELECT total, profiles, profiled_nanos FROM cprof.series_minutes WHERE bucket = '2030-01-03 10:00+00'"
check "outside the range, untouched" equals "2" sql \
	"SELECT count(*) FROM cprof.function_minutes_packed WHERE bucket = '2030-01-03 10:05+00'"
check "compaction again removes nothing" equals 0 sql "SELECT cprof.compact_minutes('2030-01-03 10:00+00', '2030-01-03 10:05+00')"

# Roles: a login in cprof_writer writes and makes partitions; one in cprof_reader only reads.
sql "CREATE ROLE migrate_test_writer LOGIN IN ROLE cprof_writer; CREATE ROLE migrate_test_reader LOGIN IN ROLE cprof_reader" >/dev/null
as_writer() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$db user=migrate_test_writer" -c "$1"; }
as_reader() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$db user=migrate_test_reader" -c "$1"; }
check "writer creates partitions (a day of 4 tables, a month of 3)" equals "7" as_writer "SELECT cprof.ensure_partitions(DATE '2030-02-01', DATE '2030-02-01')"
check "writer inserts dictionaries and facts" equals "1" as_writer \
	"INSERT INTO cprof.functions (name) VALUES ('main.main');
	 INSERT INTO cprof.function_minutes_packed VALUES ('2030-02-01 00:01+00', 1, '{1}', '{3}', '{4}');
	 SELECT count(*) FROM cprof.functions WHERE name = 'main.main'"
check "reader reads facts through the view" equals "3|4" as_reader \
	"SELECT sum(flat), sum(cum) FROM cprof.function_minutes WHERE bucket >= '2030-02-01'"
check "writer compacts" equals "0" as_writer "SELECT cprof.compact_minutes('2030-02-01', '2030-02-02')"
check "reader cannot compact" fails_with "permission denied" as_reader "SELECT cprof.compact_minutes('2030-02-01', '2030-02-02')"
check "reader cannot write" fails_with "permission denied" as_reader "INSERT INTO cprof.functions (name) VALUES ('x')"
check "reader cannot make partitions" fails_with "permission denied" as_reader \
	"SELECT cprof.ensure_partitions(DATE '2030-03-01', DATE '2030-03-01')"
check "function names are unique" fails_with "duplicate key" as_writer "INSERT INTO cprof.functions (name) VALUES ('main.main')"
long_name=$(printf 'ns::%.0s' $(seq 1 2000))
check "names longer than a btree entry are stored" equals "8000" as_writer \
	"INSERT INTO cprof.functions (name) VALUES ('$long_name') RETURNING length(name)"

# `cprof-worker maintain`: today and 2 days ahead exist afterwards (4 daily tables x 3 days, and
# the monthly and yearly partitions of the rollup tiers not made yet); with a retention of 3
# days, the days before the last 3 go. The rollup's part of the line depends on the clock: left out.
day() { date -u -d "@$(($(date -u +%s) + $1 * 86400))" +%Y-%m-%d; }
parts_of_day() { sql "SELECT count(*) FROM pg_class WHERE relnamespace = 'cprof'::regnamespace AND relname ~ ('_' || replace('$1', '-', '') || '\$')"; }
all_parts() { sql "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relnamespace = 'cprof'::regnamespace AND c.relkind = 'r'"; }
maintain() { worker maintain "$@" | sed 's/; rollup: [^;]*;/;/'; }
sql "SELECT cprof.ensure_partitions(DATE '$(day -9)', DATE '$(day -1)')" >/dev/null
# (the rollup starts at the oldest minute stored: one, yesterday)
sql "INSERT INTO cprof.series_minutes VALUES (date_trunc('minute', now() - interval '1 day'), 8, 1, 1, 1, 1)" >/dev/null
before=$(all_parts)
maintain >"$CPROF_WORK/maintain.out" 2>&1
made=$(($(all_parts) - before))
check "maintain creates today and 2 days ahead" equals "partitions: $made created, 0 dropped; compaction: 0 rows removed" \
	cat "$CPROF_WORK/maintain.out"
check "that is the 12 daily partitions at least" test "$made" -ge 12
check "maintain again creates nothing, drops nothing" equals "partitions: 0 created, 0 dropped; compaction: 0 rows removed" maintain
check "the day after tomorrow has its 4 partitions" equals 4 parts_of_day "$(day 2)"
check "maintain rolls up to the last closed hour" equals "$(date -u -d "@$((($(date -u +%s) - 120) / 3600 * 3600))" +%Y-%m-%dT%H:00:00Z)" \
	sql "SELECT to_char(hours_done AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM cprof.rollup_state"
check "maintain --retention-days 3 drops the 7 older days" equals "partitions: 0 created, 28 dropped; compaction: 0 rows removed" \
	maintain --retention-days 3
check "the oldest day kept keeps its partitions" equals 4 parts_of_day "$(day -2)"
check "the day before it has none" equals 0 parts_of_day "$(day -3)"
sql "INSERT INTO cprof.function_minutes_packed SELECT date_trunc('minute', now() - interval '10 minutes'), 8, '{1}', '{1}', '{1}'
	FROM generate_series(1, 3); INSERT INTO cprof.function_minutes_packed VALUES (date_trunc('minute', now()), 8, '{1}', '{1}', '{1}'),
	(date_trunc('minute', now()), 8, '{1}', '{1}', '{1}')" >/dev/null
check "maintain compacts the closed minutes only" equals "partitions: 0 created, 0 dropped; compaction: 2 rows removed" maintain
check "maintain refuses a retention of 0 days" fails_with "wants a number of days" worker maintain --retention-days 0
check "maintain refuses a bad number" fails_with "not '3x'" worker maintain --ahead-days 3x

# 002 on a database that holds facts in the row shape of 001: after it, the views give the same
# sums per (minute, series, function or stack), and each minute and series is one packed row.
sql "CREATE DATABASE upgrade" >/dev/null
up_db="$(echo "$db" | sed 's/dbname=[^ ]*//') dbname=upgrade"
up_sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$up_db" -c "$1"; }
up_sql "CREATE SCHEMA cprof; CREATE TABLE cprof.schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
	checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 "$up_db" -f "$CPROF_ROOT/sql/001_schema.sql" >/dev/null 2>&1
up_sql "INSERT INTO cprof.schema_migrations (version, name, checksum)
	VALUES (1, '001_schema', '$(sql "SELECT checksum FROM cprof.schema_migrations WHERE version = 1")');
	SELECT cprof.ensure_partitions(DATE '2030-01-01', DATE '2030-01-02');
	INSERT INTO cprof.function_minutes VALUES ('2030-01-01 10:00+00', 1, 5, 1, 2), ('2030-01-01 10:00+00', 1, 3, 4, 8),
	('2030-01-01 10:00+00', 1, 5, 16, 32), ('2030-01-02 00:00+00', 2, 5, 64, 128);
	INSERT INTO cprof.stack_minutes VALUES ('2030-01-01 10:00+00', 1, 9, 3), ('2030-01-01 10:00+00', 1, 9, 4)" >/dev/null
check "002 and later apply on 001's row shape" equals "migrations: $(($(ls "$CPROF_ROOT"/sql/[0-9]*.sql | wc -l) - 1)) applied, 1 already applied" \
	"$CPROF_BIN/cprof-worker" --pg "$up_db" migrate
check "002 kept every function's sums" equals "2030-01-01 10:00:00+00|1|3|4|8
2030-01-01 10:00:00+00|1|5|17|34
2030-01-02 00:00:00+00|2|5|64|128" up_sql "SET TIME ZONE 'UTC';
	SELECT bucket, series_id, function_id, sum(flat), sum(cum) FROM cprof.function_minutes GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
check "002 packed one row per minute and series" equals "2|{3,5}" up_sql \
	"SELECT count(*), min(function_ids::text) FROM cprof.function_minutes_packed"
check "002 kept the stacks" equals "1|9|7" up_sql "SELECT count(*), min(stack_ids[1]), min(self[1]) FROM cprof.stack_minutes_packed"

# A migration edited after it was applied is refused (simulated by changing its checksum).
sql "UPDATE cprof.schema_migrations SET checksum = 'edited' WHERE version = 1" >/dev/null
check "a changed migration is refused" fails_with "migration 001_schema was changed after it was applied" worker migrate
check "a bad connection is a clear error" fails_with "cannot connect to PostgreSQL" \
	"$CPROF_BIN/cprof-worker" --pg "host=$CPROF_WORK/nowhere port=1" migrate

echo "migrate: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
