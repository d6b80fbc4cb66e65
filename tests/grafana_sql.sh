#!/bin/sh
# grafana_sql: the Grafana dashboards of deploy/grafana/ against a real PostgreSQL 15 holding
# known data. tests/grafana/ (grafana-sql) expands every query variable's and every panel's SQL
# as Grafana does (template variables as its browser code replaces them, then the macros and the
# interval as its PostgreSQL backend does; its unit tests check each macro and quoting rule), and
# validates each dashboard's structure (a broken copy must be refused). The provisioning files
# agree with the dashboards and the guide. Real Go profiles (tests/gofixtures) are loaded for two
# services, two envs, three versions and five instances at known minutes across an hour boundary
# and rolled up, and known rows are put in cprof.worker_stats and cprof.kafka_offsets; every
# expanded query then runs as a login role made with the guide's SQL (granted only cprof_reader)
# and returns its panel's columns (time series: time first and in order; flame graphs: exactly
# level, value, self, label; variables: one column), and the values are checked: variables list
# what is stored; top tables equal `cprof-query top` (order included); the service's flame frame
# equals `cprof-query flame --format frame`, and every frame is in pre-order under one root with
# value >= self and value = self + children, the root the selection's total; series sum to top's
# and totals' values, also at a 1h interval that reads the hour tier; the diff table equals
# `cprof-query diff`; pipeline health gives the rates, dead letters, lag, delay, coverage and
# offsets put in; "All" (NULL) and hostile values (quotes, SQL) run as plain values.
set -u
. "$CPROF_ROOT/tests/lib.sh"
. "$CPROF_ROOT/tests/pg.sh"
work=$CPROF_WORK
tally grafana_sql
tab=$(printf '\t')
q=$CPROF_BIN/cprof-query
gdir=$CPROF_ROOT/deploy/grafana
dash=$gdir/dashboards

trap 'pg_stop "$work/pg"' EXIT
trap 'exit 1' INT TERM

# --- the expander's unit tests: every macro, the quoting rules
(cd "$CPROF_ROOT/tests/grafana" && go test -count=1 . >"$work/gotest.out" 2>&1) && ok ||
	bad "go test tests/grafana: $(tail -n 15 "$work/gotest.out")"
gs=$(go_tool_bin grafana-sql tests/grafana) || { bad "building tests/grafana"; finish; }

# --- provisioning and structure
uid=$(sed -n 's/^ *uid: *\([^ ]*\) *$/\1/p' "$gdir/provisioning/datasources/cprof.yaml")
dstype=$(sed -n 's/^ *type: *\([^ ]*\) *$/\1/p' "$gdir/provisioning/datasources/cprof.yaml")
[ "$uid" = cprof ] && [ "$dstype" = grafana-postgresql-datasource ] && ok ||
	bad "datasource file: uid '$uid', type '$dstype'"
path=$(sed -n 's/^ *path: *\([^ ]*\) *$/\1/p' "$gdir/provisioning/dashboards/cprof.yaml")
[ -n "$path" ] && grep -qF "deploy/grafana/dashboards/*.json $path/" "$gdir/README.md" && ok ||
	bad "the dashboards provider's path '$path' is not where the guide copies the dashboards"
for f in "$dash"/*.json; do
	"$gs" validate --uid "$uid" "$f" >"$work/validate.out" 2>&1 && ok || bad "validate $f: $(head -n 5 "$work/validate.out")"
done
[ "$(ls "$dash"/*.json | wc -l)" -eq 4 ] && "$gs" validate --uid "$uid" "$dash"/*.json >/dev/null 2>&1 && ok ||
	bad "not 4 dashboards with distinct uids"
"$gs" validate --uid other "$dash/service.json" >/dev/null 2>&1 && bad "validate took another datasource uid" || ok
refuse() { # NAME SED WANT: a copy of service.json edited by SED is refused with WANT
	sed "$2" "$dash/service.json" >"$work/broken.json"
	cmp -s "$work/broken.json" "$dash/service.json" && { bad "$1: the edit changed nothing"; return; }
	"$gs" validate --uid "$uid" "$work/broken.json" >"$work/validate.out" 2>&1
	[ $? -eq 1 ] && grep -q "$3" "$work/validate.out" && ok || bad "$1: not refused ($(head -n 2 "$work/validate.out"))"
}
refuse "a duplicate panel id" '0,/"id": 2,/s//"id": 1,/' "a second panel with id 1"
refuse "an undefined variable" "0,/'\$service'/s//'\$servce'/" 'not a variable of this dashboard'
refuse "a quoted value left bare" "0,/'\$type'/s//\$type/" 'write it inside single quotes'
refuse "a panel off the grid" '0,/"w": 24,/s//"w": 25,/' 'outside the 24-column grid'

# --- the store: real profiles at known minutes, rolled up
pg_start "$work/pg" 0 || { bad "PostgreSQL did not start"; finish; }
db=$PG_CONNINFO
sql() { pg_psql "$work/pg" -F "$tab" -c "$1"; }
"$CPROF_BIN/cprof-worker" migrate --pg "$db" >/dev/null || { bad "migrate"; finish; }
fixtures=$(gofixtures_bin) || { bad "building tests/gofixtures"; finish; }
"$fixtures" write "$work/fx" >/dev/null 2>&1 || { bad "gofixtures write"; finish; }
fx=$work/fx
# three hours ago at :50; the range [t0 - 1m, t0 + 2h) holds one whole hour
t0=$(( ($(date +%s) / 3600 - 3) * 3600 - 600 ))
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
since=$(iso $((t0 - 60)))
until=$(iso $((t0 + 7200)))
load() { # SERVICE ENV VERSION INSTANCE START EVERY FILE...
	_s=$1 _e=$2 _v=$3 _i=$4 _t=$5 _every=$6
	shift 6
	"$CPROF_BIN/cprof-worker" load --pg "$db" --service "$_s" --env "$_e" --version "$_v" --instance "$_i" \
		--time "$_t""000000000" --every "$_every" "$@" >/dev/null 2>"$work/load.err" || bad "load $_s $_i: $(cat "$work/load.err")"
}
load shop production v1 shop-1 "$t0" 10m "$fx/cpu.pb.gz" "$fx/cpu2.pb.gz" "$fx/cpu.pb.gz" "$fx/cpu2.pb.gz" "$fx/cpu.pb.gz" "$fx/cpu2.pb.gz"
load shop production v1 shop-1 $((t0 + 300)) 1m "$fx/heap.pb.gz"
load shop production v1 shop-2 $((t0 + 60)) 10m "$fx/cpu2.pb.gz" "$fx/cpu.pb.gz"
load shop canary v2 shop-c1 "$t0" 10m "$fx/cpu2.pb.gz" "$fx/cpu2.pb.gz" "$fx/cpu.pb.gz" "$fx/cpu2.pb.gz"
load auth production v7 auth-1 "$t0" 10m "$fx/cpu.pb.gz" "$fx/cpu2.pb.gz"
load auth production v7 auth-1 $((t0 + 120)) 1m "$fx/mutex.pb.gz"
load auth production v7 auth-2 $((t0 + 180)) 1m "$fx/cpu.pb.gz"
"$CPROF_BIN/cprof-worker" maintain --pg "$db" >/dev/null 2>&1 || bad "maintain"
[ "$(sql "SELECT count(*) FROM cprof.function_hours_packed WHERE bucket >= '$since' AND bucket < '$until'")" -gt 0 ] && ok ||
	bad "no hour rows in the range: the tiers are not exercised"

# pipeline statistics and offsets with known values: w1 and w2 in the range, w3 before it
at() { iso $((t0 + $1)); }
sql "INSERT INTO cprof.worker_stats (at, worker, profiles, rows_written, dead_lettered, duplicates, lag_messages, interval_seconds)
     VALUES ('$(at 60)', 'w1', 120, 1200, 2, 1, 40, 60), ('$(at 120)', 'w1', 60, 600, 0, 0, 10, 60),
            ('$(at 60)', 'w2', 30, 300, 1, 3, 5, 60), ('$(at 70)', 'w2', 30, 300, 0, 0, 7, 30),
            ('$(at -3600)', 'w3', 999, 9990, 9, 9, 99, 60)" >/dev/null &&
	sql "INSERT INTO cprof.kafka_offsets (consumer_group, topic, kafka_partition, next_offset)
         VALUES ('cprof', 'cprof.profiles', 1, 42), ('cprof', 'cprof.profiles', 0, 17)" >/dev/null &&
	sql "UPDATE cprof.profiles SET ingested_at = profile_time + duration_nanos / 1000 * interval '1 us'
         + CASE service WHEN 'shop' THEN interval '7 s' ELSE interval '3 s' END" >/dev/null && ok || bad "putting in known statistics"

# the login role of the guide: its SQL as written, granted only cprof_reader
sed -n '/^ *```sql$/,/^ *```$/p' "$gdir/README.md" | sed '1d;$d' >"$work/role.sql"
pg_psql "$work/pg" -f "$work/role.sql" >/dev/null 2>&1 &&
	[ "$(sql "SELECT string_agg(b.rolname, ',') FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.member
	          JOIN pg_roles b ON b.oid = m.roleid WHERE r.rolname = 'grafana_cprof' AND NOT r.rolsuper")" = cprof_reader ] && ok ||
	bad "the guide's role SQL: $(cat "$work/role.sql")"
reader="$db user=grafana_cprof"
! "$PG_BINDIR/psql" -X -q -d "$reader" -c "DELETE FROM cprof.worker_stats" >/dev/null 2>&1 && ok || bad "the reader role could write"

# run NAME DASHBOARD [expand options]: every query expanded into $work/NAME/, run as the reader
# role; each answer (a header line and TSV rows) in NNN.tsv. One assertion: all ran.
run() {
	_n=$1 _d=$2
	shift 2
	rm -rf "${work:?}/$_n"
	"$gs" expand --from "$since" --to "$until" --out "$work/$_n" "$@" "$dash/$_d" >"$work/$_n.index" 2>"$work/expand.err" ||
		{ bad "$_n: expand: $(cat "$work/expand.err")"; return 1; }
	_failed=
	while IFS="$tab" read -r _file _kind _id _ref _type _format _title; do
		"$PG_BINDIR/psql" -X -q -A -F "$tab" -P footer=off -v ON_ERROR_STOP=1 -d "$reader" -f "$work/$_n/$_file" \
			>"$work/$_n/${_file%.sql}.tsv" 2>"$work/$_n/${_file%.sql}.err" || _failed="$_failed $_kind $_id ($_title): $(head -c 300 "$work/$_n/${_file%.sql}.err");"
	done <"$work/$_n.index"
	[ -s "$work/$_n.index" ] && [ -z "$_failed" ] && ok || { bad "$_n:$_failed"; return 1; }
}
# answer NAME KIND ID: the answer file of a run's variable or panel
answer() { awk -F "$tab" -v k="$2" -v i="$3" '$2 == k && $3 == i { sub(/\.sql$/, ".tsv", $1); print $1; exit }' "$work/$1.index" | sed "s|^|$work/$1/|"; }
rows() { tail -n +2 "$(answer "$@")"; } # without the header

# expected_columns DASHBOARD_UID KIND ID TYPE: a query's documented columns, tab-separated
expected_columns() {
	case "$1 $2 $3 $4" in
	*" variable sample_type "*) echo sample_type ;;
	"cprof-service variable function "*) echo function_name ;;
	"cprof-pipeline variable worker "*) echo worker ;;
	*" variable "*) echo value ;;
	*" flamegraph") echo "level value self label" ;;
	"cprof-fleet panel 1 "*) echo "service total share profiles profiled_seconds unit" ;;
	"cprof-fleet panel 2 "* | "cprof-service panel 5 "* | "cprof-canary panel 5 "*) echo "time metric total" ;;
	"cprof-fleet panel 3 "* | "cprof-service panel 2 "*) echo "function flat flat_share sum_share cum cum_share" ;;
	"cprof-service panel 1 "*) echo "total profiles profiled_seconds series unit" ;;
	"cprof-service panel 4 "*) echo "time metric flat cum" ;;
	"cprof-canary panel 1 "*) echo "function base target base_share target_share delta base_rate target_rate p_value q_value significant status" ;;
	"cprof-canary panel 2 "*) echo "base_total target_total base_profiles target_profiles" ;;
	"cprof-pipeline panel 1 "*) echo "time metric profiles_per_second" ;;
	"cprof-pipeline panel 2 "*) echo "time metric rows_per_second" ;;
	"cprof-pipeline panel 3 "*) echo "time dead_lettered duplicates" ;;
	"cprof-pipeline panel 4 "*) echo "time metric lag_messages" ;;
	"cprof-pipeline panel 5 "*) echo "time metric delay_seconds" ;;
	"cprof-pipeline panel 6 "*) echo "worker profiles rows_written dead_lettered duplicates profiles_per_second lag_messages last_report" ;;
	"cprof-pipeline panel 7 "*) echo "service type instances profiles envs first_profile last_profile last_ingested" ;;
	"cprof-pipeline panel 8 "*) echo "consumer_group topic partition next_offset updated_at" ;;
	*) echo "(no documented columns)" ;;
	esac | tr ' ' "$tab"
}
# columns NAME DASHBOARD_UID: every answer of a run has its panel's documented columns; time
# series have their times in order; nothing is left unexpanded (one assertion per query)
columns() {
	while IFS="$tab" read -r _file _kind _id _ref _type _format _title; do
		_got=$(head -n 1 "$work/$1/${_file%.sql}.tsv")
		_want=$(expected_columns "$2" "$_kind" "$_id" "$_type")
		if [ "$_got" != "$_want" ]; then
			bad "$2 $_kind $_id ($_title): columns '$_got', want '$_want'"
			continue
		fi
		if [ "$_format" = time_series ]; then # time first, epoch seconds, in order
			awk -F "$tab" 'NR == 1 { next } $1 !~ /^[0-9]+$/ || $1 + 0 < last { exit 1 } { last = $1 + 0 }' "$work/$1/${_file%.sql}.tsv" ||
				{ bad "$2 panel $_id ($_title): the time column is not in order"; continue; }
		fi
		if grep -q '\$' "$work/$1/$_file"; then
			bad "$2 $_kind $_id: a \$ left in the expanded SQL"
			continue
		fi
		ok
	done <"$work/$1.index"
}

# the flame frame's shape: one root first, pre-order levels, value >= self, value = self + children
frame_ok() { # FILE NAME
	awk -F "$tab" -v name="$2" '
		NR == 1 { next }
		NR == 2 { if ($1 != 0 || $4 != "total") { print name ": the first row is not the root"; bad = 1 } }
		NR > 2 && $1 == 0 { print name ": a second root at row " NR; bad = 1 }
		NR > 2 && $1 > last + 1 { print name ": row " NR " jumps from level " last " to " $1; bad = 1 }
		$2 < $3 { print name ": value < self at row " NR; bad = 1 }
		{ while (depth > 0 && lvl[depth] >= $1) close_node()
		  depth++; lvl[depth] = $1; val[depth] = $2; sum[depth] = $3; last = $1 }
		function close_node() {
			if (sum[depth] != val[depth]) { print name ": a value is not self + children at level " lvl[depth]; bad = 1 }
			depth--; if (depth > 0) sum[depth] += val[depth + 1]
		}
		END { while (depth > 0) close_node(); if (NR < 3) { print name ": no nodes"; bad = 1 } exit bad }' "$1" >"$work/frame.err" && ok ||
		bad "$(head -n 3 "$work/frame.err")"
}
sumcol() { awk -F "$tab" -v c="$1" '{ s += $c } END { printf "%.0f", s }'; }

# --- service: shop, production, every version, cpu
run svc service.json --var service=shop --var env=production --var 'version=$__all' --var type=cpu \
	--var sample_type=cpu --var function=main.fib
columns svc cprof-service
[ "$(rows svc variable service | tr '\n' ' ')" = "auth shop " ] && [ "$(rows svc variable env | tr '\n' ' ')" = "canary production " ] &&
	[ "$(rows svc variable version | tr '\n' ' ')" = "v1 v2 " ] && [ "$(rows svc variable type | tr '\n' ' ')" = "cpu heap " ] &&
	[ "$(rows svc variable sample_type | tr '\n' ' ')" = "cpu samples " ] && ok || bad "service: the variables' values"
sel="--service shop --env production --type cpu --sample-type cpu --since $since --until $until"
# shellcheck disable=SC2086 # the selection is a list of words
"$q" top --pg "$db" $sel --format tsv -n 0 | tail -n +2 >"$work/top.all"
head -n 100 "$work/top.all" >"$work/top.want"
rows svc panel 2 | cut -f 1,2,5 >"$work/top.got"
[ -s "$work/top.want" ] && cmp -s "$work/top.got" "$work/top.want" && ok ||
	bad "service top differs from cprof-query top: $(diff "$work/top.got" "$work/top.want" | head -n 4)"
total=$(sumcol 2 <"$work/top.all")
rows svc panel 2 | awk -F "$tab" -v t="$total" '{ s += $2; d = $3 - $2 / t; e = $4 - s / t; if (d * d > 1e-18 || e * e > 1e-18) bad = 1 }
	END { exit bad }' && ok || bad "service top: the shares are not flat / total and the running sum"
[ "$(rows svc panel 1 | cut -f 1,2,4,5)" = "$total${tab}8${tab}1${tab}nanoseconds" ] && ok ||
	bad "service totals: $(rows svc panel 1), want total $total, 8 profiles, 1 series"
rows svc variable function >"$work/fn.got"
head -n 50 "$work/top.all" | cut -f 1 >"$work/fn.want"
cmp -s "$work/fn.got" "$work/fn.want" && ok || bad "the function variable is not top's first 50"
# shellcheck disable=SC2086
"$q" flame --pg "$db" $sel --format frame >"$work/frame.want"
cmp -s "$(answer svc panel 3)" "$work/frame.want" && ok || bad "service flame frame differs from cprof-query flame"
frame_ok "$(answer svc panel 3)" "service flame"
[ "$(rows svc panel 3 | head -n 1 | cut -f 2)" = "$total" ] && ok || bad "service flame: the root is not the total $total"
fib=$(awk -F "$tab" '$1 == "main.fib" { print $2 "/" $3 }' "$work/top.all")
series_sums() { rows "$@" | awk -F "$tab" '{ f[$2] += $3; c[$2] += $4 } END { for (k in f) printf "%s %.0f/%.0f\n", k, f[k], c[k] }' | sort; }
[ -n "$fib" ] && [ "$(series_sums svc panel 4)" = "main.fib $fib" ] && ok ||
	bad "main.fib over time sums to $(series_sums svc panel 4), top says $fib"
[ "$(rows svc panel 4 | wc -l)" -eq 8 ] && ok || bad "main.fib over time: $(rows svc panel 4 | wc -l) points, want 8 (one per minute with profiles)"
[ "$(rows svc panel 5 | awk -F "$tab" '{ print $2 }' | sort -u)" = v1 ] && [ "$(rows svc panel 5 | sumcol 3)" = "$total" ] && ok ||
	bad "total by version: $(rows svc panel 5 | head -n 3)"

# a 1h interval: the series read whole hours from the hour tier, and still sum to the same
run svc1h service.json --interval 1h --var service=shop --var env=production --var 'version=$__all' --var type=cpu \
	--var sample_type=cpu --var 'function=^main\.(fib|ping)$'
grep -q "/3600)\*3600" "$work/svc1h/$(awk -F "$tab" '$2 == "panel" && $3 == 4 { print $1 }' "$work/svc1h.index")" && ok ||
	bad "the 1h run's \$__timeGroup is not 3600 s"
ping=$(awk -F "$tab" '$1 == "main.ping" { print $2 "/" $3 }' "$work/top.all")
[ "$(series_sums svc1h panel 4 | tr '\n' ' ')" = "main.fib $fib main.ping $ping " ] && ok ||
	bad "a regular expression at 1h sums to $(series_sums svc1h panel 4 | tr '\n' ' '), top says main.fib $fib main.ping $ping"
[ "$(rows svc1h panel 5 | sumcol 3)" = "$total" ] && [ "$(rows svc1h panel 5 | wc -l)" -eq 2 ] && ok ||
	bad "total by version at 1h: $(rows svc1h panel 5 | tr '\n' ' ')"

# All envs: NULL, the whole service
run svcall service.json --var service=shop --var 'env=$__all' --var 'version=$__all' --var type=cpu \
	--var sample_type=cpu --var function=main.fib
"$q" top --pg "$db" --service shop --since "$since" --until "$until" --format tsv -n 100 | tail -n +2 >"$work/top.want"
rows svcall panel 2 | cut -f 1,2,5 >"$work/top.got"
cmp -s "$work/top.got" "$work/top.want" && ok || bad "service top with All envs differs from cprof-query top"
alltotal=$("$q" top --pg "$db" --service shop --since "$since" --until "$until" --format tsv -n 0 | tail -n +2 | sumcol 2)
[ "$(rows svcall panel 3 | head -n 1 | cut -f 2)" = "$alltotal" ] && [ "$(rows svcall panel 5 | awk -F "$tab" '{ print $2 }' | sort -u | tr '\n' ' ')" = "v1 v2 " ] && ok ||
	bad "All envs: flame root or versions"

# hostile values stay values: nothing fails, nothing is found, nothing is dropped
profiles=$(sql "SELECT count(*) FROM cprof.profiles")
run svcbad service.json --var "service=sh'op" --var "env=pro'd\"\\" --var 'version=$__all' --var type=cpu \
	--var sample_type=cpu --var "function=x'; DROP TABLE cprof.profiles; SELECT '"
[ "$(rows svcbad panel 2 | wc -l)" -eq 0 ] && [ "$(rows svcbad panel 4 | wc -l)" -eq 0 ] &&
	[ "$(sql "SELECT count(*) FROM cprof.profiles")" = "$profiles" ] && ok || bad "hostile values found rows or changed the store"

# --- fleet overview: cpu, every env
run fleet fleet-overview.json --var type=cpu --var sample_type=cpu --var 'env=$__all'
columns fleet cprof-fleet
[ "$(rows fleet variable type | tr '\n' ' ')" = "cpu heap mutex " ] && ok || bad "fleet: types $(rows fleet variable type | tr '\n' ' ')"
"$q" top --pg "$db" --since "$since" --until "$until" --format tsv -n 0 | tail -n +2 >"$work/fleet.all"
rows fleet panel 3 | cut -f 1,2,5 >"$work/fleet.got"
head -n 100 "$work/fleet.all" | cmp -s "$work/fleet.got" - && ok || bad "fleet top differs from cprof-query top"
fleettotal=$(sumcol 2 <"$work/fleet.all")
shoptotal=$alltotal
authtotal=$("$q" top --pg "$db" --service auth --since "$since" --until "$until" --format tsv -n 0 | tail -n +2 | sumcol 2)
[ "$(rows fleet panel 1 | cut -f 1,2,4 | sort | tr '\n' ' ')" = "auth${tab}$authtotal${tab}3 shop${tab}$shoptotal${tab}12 " ] &&
	rows fleet panel 1 | awk -F "$tab" '{ s += $3 } END { exit !(s > 0.999999 && s < 1.000001) }' && ok ||
	bad "fleet services: $(rows fleet panel 1 | tr '\n' ' '), want auth $authtotal 3, shop $shoptotal 12, shares summing to 1"
[ "$(rows fleet panel 2 | awk -F "$tab" '{ s[$2] += $3 } END { for (k in s) printf "%s=%.0f\n", k, s[k] }' | sort | tr '\n' ' ')" = \
	"auth=$authtotal shop=$shoptotal " ] && ok || bad "fleet total per service over time does not sum to the totals"
frame_ok "$(answer fleet panel 4)" "fleet flame"
[ "$(rows fleet panel 4 | head -n 1 | cut -f 2)" = "$fleettotal" ] && ok || bad "fleet flame: the root is not the total $fleettotal"

# --- canary versus production: shop, every version
run canary canary-vs-production.json --var service=shop --var type=cpu --var sample_type=cpu \
	--var base_env=production --var 'base_version=$__all' --var target_env=canary --var 'target_version=$__all'
columns canary cprof-canary
"$q" diff --pg "$db" --service shop --since "$since" --until "$until" --base env=production --target env=canary \
	--format tsv -n 100 | tail -n +2 >"$work/diff.want"
rows canary panel 1 | awk -F "$tab" -v OFS="$tab" '
	function g(x, d) { return x == "" ? "-" : sprintf("%." d "g", x) }
	{ print $1, $2, $3, g($4, 6), g($5, 6), g($6, 6), g($7, 6), g($8, 6), g($9, 3), g($10, 3), ($11 == "t" ? "yes" : "no"), $12 }' >"$work/diff.got"
[ -s "$work/diff.want" ] && cmp -s "$work/diff.got" "$work/diff.want" && ok ||
	bad "the diff table differs from cprof-query diff: $(diff "$work/diff.got" "$work/diff.want" | head -n 4)"
canarytotal=$("$q" top --pg "$db" --service shop --env canary --since "$since" --until "$until" --format tsv -n 0 | tail -n +2 | sumcol 2)
[ "$(rows canary panel 2)" = "$total${tab}$canarytotal${tab}8${tab}4" ] && ok ||
	bad "base and target: $(rows canary panel 2), want $total $canarytotal 8 4"
frame_ok "$(answer canary panel 3)" "base flame"
frame_ok "$(answer canary panel 4)" "target flame"
[ "$(rows canary panel 3 | head -n 1 | cut -f 2)/$(rows canary panel 4 | head -n 1 | cut -f 2)" = "$total/$canarytotal" ] && ok ||
	bad "the two flame graphs' roots are not the sides' totals"
[ "$(rows canary panel 5 | awk -F "$tab" '{ s[$2] += $3 } END { for (k in s) printf "%s=%.0f\n", k, s[k] }' | sort | tr '\n' ' ')" = \
	"canary=$canarytotal production=$total " ] && ok || bad "total per env does not sum to the sides' totals"

# --- pipeline health: every worker, then w2
run pipe pipeline-health.json --var 'worker=$__all'
columns pipe cprof-pipeline
[ "$(rows pipe variable worker | tr '\n' ' ')" = "w1 w2 " ] && ok || bad "pipeline: workers $(rows pipe variable worker | tr '\n' ' ')"
m1=$(( (t0 + 60) / 60 * 60 )) m2=$(( (t0 + 120) / 60 * 60 ))
expect() { # NAME PANEL WANT AWK-FORMAT: the panel's rows, printed by awk, are WANT (rows joined by spaces)
	_got=$(rows "$1" panel "$2" | awk -F "$tab" "$4" | tr '\n' ' ')
	[ "$_got" = "$3" ] && ok || bad "$1 panel $2: got '$_got', want '$3'"
}
expect pipe 1 "$m1 w1 2 $m1 w2 0.666667 $m2 w1 1 " '{ printf "%s %s %g\n", $1, $2, $3 }'
expect pipe 2 "$m1 w1 20 $m1 w2 6.66667 $m2 w1 10 " '{ printf "%s %s %g\n", $1, $2, $3 }'
expect pipe 3 "$m1 3 4 $m2 0 0 " '{ print $1, $2, $3 }'
expect pipe 4 "$m1 w1 40 $m1 w2 7 $m2 w1 10 " '{ print $1, $2, $3 }'
expect pipe 6 "w1 180 1800 2 1 1.5 10 w2 60 600 1 3 0.666667 7 " '{ printf "%s %s %s %s %s %g %s\n", $1, $2, $3, $4, $5, $6, $7 }'
expect pipe 7 "auth cpu 2 3 production auth mutex 1 1 production shop cpu 3 12 canary, production shop heap 1 1 production " \
	'{ print $1, $2, $3, $4, $5 }'
expect pipe 8 "cprof cprof.profiles 0 17 cprof cprof.profiles 1 42 " '{ print $1, $2, $3, $4 }'
[ "$(rows pipe panel 5 | awk -F "$tab" '{ d = sprintf("%.3f", $3); m[$2 " " d] = 1 } END { for (k in m) print k }' | sort | tr '\n' ' ')" = \
	"auth 3.000 shop 7.000 " ] && ok || bad "end-to-end delay: $(rows pipe panel 5 | head -n 3 | tr '\n' ' ')"
grep -qF "at BETWEEN '$since' AND '$until'" "$work/pipe/$(awk -F "$tab" '$2 == "panel" && $3 == 1 { print $1 }' "$work/pipe.index")" &&
	grep -qF "floor(extract(epoch from at)/60)*60 AS \"time\"" "$work/pipe/$(awk -F "$tab" '$2 == "panel" && $3 == 1 { print $1 }' "$work/pipe.index")" && ok ||
	bad "\$__timeFilter and \$__timeGroupAlias are not expanded as Grafana expands them"
run pipew2 pipeline-health.json --var worker=w2
expect pipew2 1 "$m1 w2 0.666667 " '{ printf "%s %s %g\n", $1, $2, $3 }'

finish
