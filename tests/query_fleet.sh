#!/bin/sh
# query_fleet: the storage tiers and the fleet questions of issue 4 against a real PostgreSQL 15,
# with known data and exact expected numbers. Small crafted CPU profiles (tools/fleet_profiles.c)
# are loaded with `cprof-worker load --time` at fixed past minutes (2025-12-31 to 2026-03-04) for
# two services; every number cprof-query must print is computed from the ledger of what was
# loaded (tools/fleet_expect.awk), never taken from cprof's output. Covered: top over ranges
# that are not hour-aligned before and after `cprof-worker maintain` rolls them up (identical,
# equal to the raw minutes, the day and hour tiers really used); late data into a rolled-up
# hour; retention per tier (exactly the partitions it should drop, the hour and day tiers still
# answering); diff (a planted regression found and significant, planted noise not, new and
# vanished functions, per-side selectors, malformed selectors); series (exact names and regular
# expressions, steps of 1h, 90m and 1d, absent steps as 0); top --group-by; hostile strings.
set -u
. "$CPROF_ROOT/tests/lib.sh"
. "$CPROF_ROOT/tests/pg.sh"
work=$CPROF_WORK
tally query_fleet
trap 'pg_stop "$work/pg"' EXIT
trap 'exit 1' INT TERM

pg_start "$work/pg" 0 || { bad "PostgreSQL did not start"; finish; }
export CPROF_PG="$PG_CONNINFO"
sql() { pg_psql "$work/pg" -c "$1"; }
"$CPROF_BIN/cprof-worker" migrate >/dev/null || { bad "migrate"; finish; }
q=$CPROF_BIN/cprof-query
w=$CPROF_BIN/cprof-worker
fleet=$CPROF_BUILD/tests/fleet_profiles
expect_awk=$CPROF_ROOT/tests/tools/fleet_expect.awk
ledger=$work/ledger
mkdir -p "$work/p"
: >"$ledger"
[ -x "$fleet" ] || { bad "no $fleet: run make"; finish; }

ep() { date -u -d "$1" +%s; }
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

# put SERVICE ENV VERSION ZONE LABEL INSTANCE TIME STACK=VALUE...: one profile of these samples
# written, loaded at TIME (LABEL K=V, or - for none) and written in the ledger.
nprof=0
put() {
	_s=$1 _e=$2 _v=$3 _z=$4 _l=$5 _i=$6 _t=$7
	shift 7
	nprof=$((nprof + 1))
	_f=$work/p/$nprof.pb.gz
	"$fleet" "$_f" "$@" 2>"$work/put.err" || { bad "fleet_profiles $*: $(cat "$work/put.err")"; return; }
	if [ "$_l" = - ]; then
		"$w" load --service "$_s" --env "$_e" --version "$_v" --zone "$_z" --instance "$_i" --time "$_t" "$_f"
	else
		"$w" load --service "$_s" --env "$_e" --version "$_v" --zone "$_z" --instance "$_i" --time "$_t" \
			--label "$_l" "$_f"
	fi >"$work/load.out" 2>&1 || { bad "load $_s $_t: $(cat "$work/load.out")"; return; }
	printf '%s\t%s\t%s\t%s\t%s\t%s\t10' "$(ep "$_t")" "$_s" "$_e" "$_v" "$_z" "$_l" >>"$ledger"
	printf '\t%s' "$@" >>"$ledger"
	echo >>"$ledger"
}

# want FILE MODE VAR=VALUE...: fleet_expect.awk's answer for the ledger into FILE.
want() {
	_file=$1 _mode=$2
	shift 2
	_n=$#
	while [ "$_n" -gt 0 ]; do # each VAR=VALUE becomes -v VAR=VALUE
		set -- "$@" -v "$1"
		shift
		_n=$((_n - 1))
	done
	awk -v mode="$_mode" "$@" -f "$expect_awk" "$ledger" >"$_file"
}

# expect LABEL FILE ARGS...: `cprof-query ARGS` exits 0 and prints FILE exactly.
expect() {
	_label=$1 _want=$2
	shift 2
	"$q" "$@" >"$work/got" 2>"$work/err"
	_st=$?
	if [ "$_st" -ne 0 ]; then
		bad "$_label: exit $_st: $(head -c 300 "$work/err")"
	elif cmp -s "$work/got" "$_want"; then
		ok
	else
		bad "$_label: want < got >: $(diff "$_want" "$work/got" | grep '^[<>]' | head -n 8)"
	fi
}

# fails STATUS TEXT ARGS...: `cprof-query ARGS` exits STATUS, says TEXT on stderr, prints nothing.
fails() {
	_st=$1 _text=$2
	shift 2
	"$q" "$@" >"$work/out" 2>"$work/err"
	_got=$?
	if [ "$_got" = "$_st" ] && grep -qF -- "$_text" "$work/err" && [ ! -s "$work/out" ]; then ok; else
		bad "$*: exit $_got (want $_st), stderr '$(head -c 300 "$work/err")' (want '$_text'), $(wc -c <"$work/out") bytes on stdout"
	fi
}

# raw_top SERVICE FROM TO: top's TSV summed straight from the raw minutes (cprof.function_minutes).
raw_top() {
	printf 'function\tflat\tcum\n'
	sql "SELECT f.name || E'\t' || sum(m.flat) || E'\t' || sum(m.cum)
	     FROM cprof.function_minutes m JOIN cprof.functions f USING (function_id) JOIN cprof.series s USING (series_id)
	     WHERE s.service = '$1' AND s.profile_type = 'cpu' AND s.sample_type = 'cpu'
	       AND m.bucket >= '$2' AND m.bucket < '$3'
	     GROUP BY f.name HAVING sum(m.flat) <> 0 OR sum(m.cum) <> 0" | sort -t "$tab" -k2,2nr -k1,1
}
tab=$(printf '\t')

# pieces FROM TO [STEP]: cprof.tier_pieces as "TIER LO HI" lines (tier by its first letter: m, h
# or d), adjacent pieces of one tier merged (how a tier's run is cut is not the point).
pieces() {
	_step=NULL
	[ $# -ge 3 ] && _step="interval '$3'"
	sql "SELECT left(tier, 1) || ' ' || to_char(lo AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI') || ' ' ||
	            to_char(hi AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI')
	     FROM cprof.tier_pieces('$1', '$2', $_step) ORDER BY lo" |
		awk '$1 == t && $2 == hi { hi = $3; next } { if (t != "") print t, lo, hi; t = $1; lo = $2; hi = $3 }
		     END { if (t != "") print t, lo, hi }'
}
has_pieces() { # LABEL WANT FROM TO [STEP]
	_label=$1 _want=$2
	shift 2
	_got=$(pieces "$@" 2>&1)
	[ "$_got" = "$_want" ] && ok || bad "tier_pieces $_label: got '$_got', want '$_want'"
}

# ---------------------------------------------------------------- the data
# tiers: a profile every 23 minutes (at 0, 17 or 34 seconds past the minute) from 2026-03-01T22:00Z
# to 2026-03-04T01:45Z, plus one at each edge of the range R1 below, and two long before.
t0=$(ep 2026-03-01T22:00:00Z)
k=0
while [ $k -le 135 ]; do
	set -- "main=$((5 + k % 3))" "main;serve;parse=$((1000 + 7 * k))" "main;serve;encode=$((200 + 3 * (k % 17)))" \
		"main;gc=$((50 + k % 5))"
	[ $((k % 4)) -eq 0 ] && set -- "$@" "main;serve;compress=$((11 * k + 1))"
	put tiers production v1 z1 - "t$((k % 2))" "$(iso $((t0 + k * 23 * 60 + (k % 3) * 17)))" "$@"
	k=$((k + 1))
done
put tiers production v1 z1 - t0 2026-03-01T22:16:45Z "main;serve;parse=900" "main;edge_before=31"
put tiers production v1 z1 - t1 2026-03-01T22:17:00Z "main;serve;parse=900" "main;edge_first=37"
put tiers production v1 z1 - t0 2026-03-04T01:42:59Z "main;serve;parse=900" "main;edge_last=41"
put tiers production v1 z1 - t1 2026-03-04T01:43:00Z "main;serve;parse=900" "main;edge_after=43"
put tiers production v1 z1 - t0 2025-12-31T23:30:00Z "main;serve;parse=4000" "main;year_end=70"
put tiers production v1 z1 - t0 2026-02-27T10:00:00Z "main;serve;parse=3000" "main;february=60"

# shop: 2026-03-02 08:00 to 20:00, one production profile (at :20) and one canary profile (at :40)
# an hour. Planted: hot's share is about 0.105 in production and 0.26 in canary in every hour
# (a regression); noise has 2 in one production hour and 3 in one canary hour; legacy is only in
# production (vanished), größe_計算 only in canary (new).
h=0
while [ $h -lt 12 ]; do
	hh=$(printf %02d $((8 + h)))
	hd="main;main.(*Server).handle"
	set -- "main=$((3 + h % 2))" "$hd=$((4 + h % 3))" "$hd;db.query=$((500 + 5 * h))" \
		"$hd;render=$((300 + h * 7 % 11))" "$hd;hot=$((100 + h % 4))" "main;legacy=$((40 + h % 3))"
	[ $h -eq 3 ] && set -- "$@" "main;noise=2"
	put shop production v1.4 z1 cohort=stable p1 "2026-03-02T$hh:20:00Z" "$@"
	set -- "main=$((3 + (h + 1) % 2))" "$hd=$((4 + h % 2))" "$hd;db.query=$((505 + 4 * h))" \
		"$hd;render=$((300 + h * 5 % 13))" "$hd;hot=$((300 + 2 * (h % 5)))" "main;größe_計算=$((50 + h % 6))"
	[ $h -eq 8 ] && set -- "$@" "main;noise=3"
	put shop canary v1.5 z2 cohort=beta c1 "2026-03-02T$hh:40:00Z" "$@"
	h=$((h + 1))
done
[ "$(wc -l <"$ledger")" -eq 166 ] && ok || bad "the ledger holds $(wc -l <"$ledger") profiles, not 166"

# ---------------------------------------------------------------- 1. tiers
# R1: not hour-aligned, two whole days and two whole hours inside; R2: hours across a day
# boundary; R3: whole days; R4: one day.
R1="2026-03-01T22:17:00Z 2026-03-04T01:43:00Z"
R2="2026-03-02T05:31:00Z 2026-03-03T19:02:00Z"
R3="2026-03-01T00:00:00Z 2026-03-05T00:00:00Z"
R4="2026-03-02T00:00:00Z 2026-03-03T00:00:00Z"
# tiers_top NAME FROM TO WHEN [noraw]: top of the tiers service over [FROM, TO): exact, and
# (unless noraw: minutes dropped) equal to the raw minutes.
tiers_top() {
	want "$work/want.$1" top "sel=service=tiers,from=$(ep "$2"),to=$(ep "$3")"
	expect "top $1 [$2, $3) ($4)" "$work/want.$1" top --service tiers --since "$2" --until "$3" --format tsv -n 0
	cp "$work/got" "$work/top.$1.$4"
	[ $# -ge 5 ] && return
	raw_top tiers "$2" "$3" >"$work/raw.$1"
	cmp -s "$work/raw.$1" "$work/want.$1" && ok || bad "raw minutes of $1 ($4): $(diff "$work/want.$1" "$work/raw.$1" | head -n 6)"
}
# shellcheck disable=SC2086 # the ranges are word lists on purpose
{
	tiers_top R1 $R1 before
	tiers_top R2 $R2 before
	tiers_top R3 $R3 before
	tiers_top R4 $R4 before
	grep -q "edge_first" "$work/want.R1" && ! grep -q "edge_before\|edge_after" "$work/want.R1" && grep -q edge_last "$work/want.R1" &&
		ok || bad "the expected top of R1 misses its edges: $(cat "$work/want.R1")"
	has_pieces "R1 before any rollup" "m 2026-03-01T22:17 2026-03-04T01:43" $R1
}

"$w" maintain --now 2026-03-05T00:10:00Z >"$work/maintain.out" 2>&1
st=$?
[ $st -eq 0 ] && grep -qF "hours to 2026-03-05T00:00:00Z, days to 2026-03-05T00:00:00Z" "$work/maintain.out" && ok ||
	bad "maintain --now 2026-03-05T00:10:00Z: exit $st: $(head -c 400 "$work/maintain.out")"
[ "$(sql "SELECT hours_done = '2026-03-05T00:00Z' AND days_done = '2026-03-05T00:00Z' FROM cprof.rollup_state")" = t ] && ok ||
	bad "rollup_state: $(sql "SELECT * FROM cprof.rollup_state")"

# shellcheck disable=SC2086
{
	for r in R1 R2 R3 R4; do
		eval "tiers_top $r \$$r after"
		cmp -s "$work/top.$r.before" "$work/top.$r.after" && ok || bad "top $r changed with the rollup"
	done
	has_pieces "R1 rolled up" "m 2026-03-01T22:17 2026-03-01T23:00
h 2026-03-01T23:00 2026-03-02T00:00
d 2026-03-02T00:00 2026-03-04T00:00
h 2026-03-04T00:00 2026-03-04T01:00
m 2026-03-04T01:00 2026-03-04T01:43" $R1
	has_pieces "R2 rolled up" "m 2026-03-02T05:31 2026-03-02T06:00
h 2026-03-02T06:00 2026-03-03T19:00
m 2026-03-03T19:00 2026-03-03T19:02" $R2
	has_pieces "R3 rolled up" "d 2026-03-01T00:00 2026-03-05T00:00" $R3
	has_pieces "R1 with a 1h step" "m 2026-03-01T22:17 2026-03-01T23:00
h 2026-03-01T23:00 2026-03-04T01:00
m 2026-03-04T01:00 2026-03-04T01:43" $R1 "1 hour"
	has_pieces "R1 with a 90m step" "m 2026-03-01T22:17 2026-03-04T01:43" $R1 "90 minutes"
}

# What the tiers hold: the same sums as the minutes, hour and day buckets where the minutes are.
tiers_hold() { # LABEL
	for _t in hours days; do
		_got=$(sql "SELECT (SELECT sum(u.flat) || ' ' || sum(u.cum) FROM cprof.function_${_t}_packed p,
		                    unnest(p.flat, p.cum) u(flat, cum))
		                = (SELECT sum(flat) || ' ' || sum(cum) FROM cprof.function_minutes)
		           AND (SELECT sum(u.self) FROM cprof.stack_${_t}_packed p, unnest(p.self) u(self))
		                = (SELECT sum(value) FROM cprof.stack_minutes)
		           AND (SELECT sum(total) || ' ' || sum(total_abs) || ' ' || sum(profiles) || ' ' || sum(profiled_nanos)
		                FROM cprof.series_${_t})
		                = (SELECT sum(total) || ' ' || sum(total_abs) || ' ' || sum(profiles) || ' ' || sum(profiled_nanos)
		                   FROM cprof.series_minutes)" 2>&1)
		[ "$_got" = t ] && ok || bad "$1: the $_t tier's sums differ from the minutes' ($_got)"
	done
	_got=$(sql "SELECT (SELECT array_agg(DISTINCT bucket) FROM cprof.function_hours_packed)
	                 = (SELECT array_agg(DISTINCT date_trunc('hour', bucket, 'UTC')) FROM cprof.function_minutes_packed)
	            AND (SELECT array_agg(DISTINCT bucket) FROM cprof.function_days_packed)
	                 = (SELECT array_agg(DISTINCT date_trunc('day', bucket, 'UTC')) FROM cprof.function_minutes_packed)" 2>&1)
	[ "$_got" = t ] && ok || bad "$1: the hour and day buckets are not those of the minutes ($_got)"
}
tiers_hold "after the rollup"
[ "$(sql "SELECT count(*) FROM cprof.function_hours_packed h JOIN cprof.series s USING (series_id)
          WHERE s.service = 'tiers' AND h.bucket >= '2026-03-01T22:00Z' AND h.bucket < '2026-03-04T02:00Z'")" -ge 52 ] &&
	[ "$(sql "SELECT count(*) FROM cprof.function_days_packed d JOIN cprof.series s USING (series_id)
          WHERE s.service = 'tiers' AND d.bucket >= '2026-03-01' AND d.bucket < '2026-03-05'")" -ge 4 ] && ok ||
	bad "rows missing in function_hours_packed or function_days_packed"

# ---------------------------------------------------------------- 2. late data
# A profile into 10:30 of 2026-03-02, an hour and a day rolled up already.
put tiers production v1 z1 - t9 2026-03-02T10:30:00Z "main;serve;parse=100000" "main;late_arrival=777"
# shellcheck disable=SC2086
{
	tiers_top R1 $R1 late
	tiers_top R4 $R4 late
	tiers_top H10 2026-03-02T10:00:00Z 2026-03-02T11:00:00Z late
	grep -q late_arrival "$work/want.R1" && ok || bad "the late profile is not in the expected top"
	has_pieces "the late hour" "h 2026-03-02T10:00 2026-03-02T11:00" 2026-03-02T10:00:00Z 2026-03-02T11:00:00Z
}
tiers_hold "after late data"

# ---------------------------------------------------------------- 4. diff
S0=2026-03-02T08:00:00Z S1=2026-03-02T20:00:00Z
e0=$(ep $S0) e1=$(ep $S1)
base_prod="service=shop,env=production,from=$e0,to=$e1"
target_can="service=shop,env=canary,from=$e0,to=$e1"
norm() { awk -v mode=norm -f "$expect_awk" "$1"; }
# expect_diff LABEL WANT ARGS...: `cprof-query diff ARGS --format tsv` prints WANT (p and q values
# below 1e-10 taken as equal).
expect_diff() {
	_label=$1 _want=$2
	shift 2
	"$q" diff "$@" --format tsv >"$work/dgot" 2>"$work/err"
	_st=$?
	norm "$work/dgot" >"$work/dgot.n"
	norm "$_want" >"$work/dwant.n"
	if [ "$_st" -ne 0 ]; then
		bad "diff $_label: exit $_st: $(head -c 300 "$work/err")"
	elif cmp -s "$work/dgot.n" "$work/dwant.n"; then
		ok
	else
		bad "diff $_label: want < got >: $(diff "$work/dwant.n" "$work/dgot.n" | grep '^[<>]' | head -n 10)"
	fi
}
want "$work/d1" diff "base=$base_prod" "target=$target_can" width=3600 n=0
expect_diff "production vs canary, 1h buckets" "$work/d1" --service shop --since $S0 --until $S1 \
	--base env=production --target env=canary --bucket 1h -n 0
cp "$work/dgot" "$work/d1.got"
# The planted facts, each on its own (they hold in the expected table too: checked first).
field() { # FILE FUNCTION COLUMN
	awk -F '\t' -v f="$2" -v c="$3" '$1 == f { print $c }' "$1"
}
planted() { # LABEL FILE
	_f=$2
	[ "$(sed -n 2p "$_f" | cut -f 1)" = hot ] && ok || bad "$1: the regression 'hot' is not listed first: $(sed -n 2p "$_f")"
	[ "$(field "$_f" hot 11)" = yes ] && ok || bad "$1: hot is not significant: $(grep '^hot' "$_f")"
	[ "$(field "$_f" noise 11)" = no ] && [ "$(field "$_f" noise 12)" = "" ] && ok ||
		bad "$1: noise: $(grep '^noise' "$_f")"
	[ "$(field "$_f" größe_計算 12)" = new ] && [ "$(field "$_f" größe_計算 2)" = 0 ] && ok ||
		bad "$1: größe_計算 is not new: $(grep '^größe' "$_f")"
	[ "$(field "$_f" legacy 12)" = vanished ] && [ "$(field "$_f" legacy 3)" = 0 ] && ok ||
		bad "$1: legacy has not vanished: $(grep '^legacy' "$_f")"
}
planted "expected" "$work/d1"
# Only the functions with a mean share of at least --test-share get a p and count in q
# (006_diff_filter); the ledger applies the same rule. With 0.1 some are left out, with 0 none.
for share in 0.1 0; do
	want "$work/dts$share" diff "base=$base_prod" "target=$target_can" width=3600 n=0 test_share=$share
	expect_diff "--test-share $share" "$work/dts$share" --service shop --since $S0 --until $S1 \
		--base env=production --target env=canary --bucket 1h -n 0 --test-share $share
done
untested() { awk -F '\t' 'NR > 1 && $9 == "-"' "$1" | wc -l; }
[ "$(untested "$work/dts0.1")" -gt "$(untested "$work/d1")" ] && [ "$(untested "$work/dts0")" = 0 ] &&
	[ "$(field "$work/dts0.1" hot 11)" = yes ] && ok ||
	bad "--test-share: untested at 0.1: $(untested "$work/dts0.1"), at 0.005: $(untested "$work/d1"), at 0: $(untested "$work/dts0")"
planted "cprof-query" "$work/d1.got"
# hot's sums by hand: production 100 + h%4, canary 300 + 2*(h%5) over h = 0..11.
[ "$(field "$work/d1.got" hot 2) $(field "$work/d1.got" hot 3)" = "1218 3642" ] && ok ||
	bad "hot's sums: $(grep '^hot' "$work/d1.got")"
expect_diff "the default bucket of a 12h range is 1h" "$work/d1" --service shop --since $S0 --until $S1 \
	--base env=production --target env=canary -n 0
expect_diff "1m buckets: one profile a minute, the same shares" "$work/d1" --service shop --since $S0 --until $S1 \
	--base env=production --target env=canary --bucket 1m -n 0
expect_diff "by version" "$work/d1" --service shop --since $S0 --until $S1 --base version=v1.4 --target version=v1.5 -n 0
expect_diff "by zone" "$work/d1" --service shop --since $S0 --until $S1 --base zone=z1 --target zone=z2 -n 0
expect_diff "by label" "$work/d1" --service shop --since $S0 --until $S1 \
	--base label.cohort=stable --target label.cohort=beta -n 0
expect_diff "a side's term overrides the shared flag" "$work/d1" --service shop --env canary --since $S0 --until $S1 \
	--base env=production --target version=v1.5 -n 0
want "$work/d1d" diff "base=$base_prod" "target=$target_can" width=86400 n=0
expect_diff "1d buckets: one a side, nothing significant" "$work/d1d" --service shop --since $S0 --until $S1 \
	--base env=production --target env=canary --bucket 1d -n 0
[ "$(cut -f 11 "$work/d1d" | sort -u | tr '\n' ' ')" = "no significant " ] && ok || bad "1d buckets: something significant"
want "$work/d3" diff "base=$base_prod" "target=$target_can" width=3600 n=3
expect_diff "-n 3 (q-values across all the functions compared)" "$work/d3" --service shop --since $S0 --until $S1 \
	--base env=production --target env=canary -n 3
# by cum: the rates are left out (the cum of a function per profiled second is its own
# question); main's cum share is 1 in every bucket on both sides: no difference, p = 1.
want "$work/dcum" diff "base=$base_prod" "target=$target_can" width=3600 n=0 by=cum
"$q" diff --service shop --since $S0 --until $S1 --base env=production --target env=canary --by cum -n 0 --format tsv \
	>"$work/dcum.got" 2>"$work/err"
cut -f 1-6,9-12 "$work/dcum" >"$work/dcum.w"
cut -f 1-6,9-12 "$work/dcum.got" >"$work/dcum.g"
cmp -s "$work/dcum.w" "$work/dcum.g" && [ -s "$work/dcum.w" ] && ok ||
	bad "diff --by cum: want < got >: $(diff "$work/dcum.w" "$work/dcum.g" | grep '^[<>]' | head -n 8) $(head -c 200 "$work/err")"
[ "$(field "$work/dcum.got" main 9)" = 1 ] && ok || bad "diff --by cum: main's share is 1 on both sides, yet p = '$(field "$work/dcum.got" main 9)'"
# Time windows per side: production's first six hours against its last six.
S6=2026-03-02T14:00:00Z
want "$work/dw" diff "base=service=shop,env=production,from=$e0,to=$(ep $S6)" \
	"target=service=shop,env=production,from=$(ep $S6),to=$e1" width=3600 n=0
expect_diff "time windows per side" "$work/dw" --service shop --env production --until $S1 \
	--base "since=$S0,until=$S6" --target "since=$S6" -n 0
# -n 3 there: q-values (none below 1e-10 here) across all the functions compared, not the 3 listed.
want "$work/dw3" diff "base=service=shop,env=production,from=$e0,to=$(ep $S6)" \
	"target=service=shop,env=production,from=$(ep $S6),to=$e1" width=3600 n=3
expect_diff "time windows per side, -n 3 (q-values across all the functions compared)" "$work/dw3" --service shop --env production \
	--until $S1 --base "since=$S0,until=$S6" --target "since=$S6" -n 3
# Bad selectors and empty sides.
diff_fails() { # STATUS TEXT ARGS...
	_st=$1 _text=$2
	shift 2
	fails "$_st" "$_text" diff --service shop --since $S0 --until $S1 "$@"
}
diff_fails 2 "envproduction" --base envproduction --target env=canary
diff_fails 2 "colour=red" --base env=production --target colour=red
diff_fails 2 "since=yesterday" --base since=yesterday --target env=canary
diff_fails 2 "until=2026-13-45T00:00:00Z" --base env=production --target until=2026-13-45T00:00:00Z
diff_fails 1 "target selects no profiles" --base env=production --target env=staging
diff_fails 1 "base selects no profiles" --base "since=2026-03-03T08:00:00Z,until=2026-03-03T09:00:00Z" --target env=canary

# ---------------------------------------------------------------- 5. series
shop_sel="service=shop,from=$e0,to=$e1"
want "$work/s.hot" series "sel=$shop_sel" step=3600 fns=hot
expect "series hot, 1h (default step)" "$work/s.hot" series --service shop --since $S0 --until $S1 --function hot --format tsv
want "$work/s.hd" series "sel=$shop_sel" step=3600 "fns=main.(*Server).handle"
expect "series of an exact name that is no valid regex" "$work/s.hd" series --service shop --since $S0 --until $S1 \
	--function 'main.(*Server).handle' --step 1h --format tsv
want "$work/s.uni" series "sel=$shop_sel,env=canary" step=3600 "fns=größe_計算"
expect "series of a unicode name" "$work/s.uni" series --service shop --env canary --since $S0 --until $S1 \
	--function 'größe_計算' --format tsv
want "$work/s.noise" series "sel=$shop_sel,env=production" step=3600 fns=noise
expect "series: absent steps are 0" "$work/s.noise" series --service shop --env production --since $S0 --until $S1 \
	--function noise --format tsv
[ "$(awk -F '\t' 'NR > 1 && $3 == 0' "$work/s.noise" | wc -l)" -eq 11 ] && ok || bad "series noise: want 11 steps of 0"
# A regular expression (the order of the rows of several functions is not said: sorted here).
want "$work/s.re" series "sel=$shop_sel" step=7200 "fns=hot render"
"$q" series --service shop --since $S0 --until $S1 --function '^(hot|rend.r)$' --step 2h --format tsv >"$work/s.re.got" 2>"$work/err"
st=$?
{ head -n 1 "$work/s.re.got"; tail -n +2 "$work/s.re.got" | sort -t "$tab" -k1,1 -k2,2; } >"$work/s.re.sorted"
[ $st -eq 0 ] && cmp -s "$work/s.re.sorted" "$work/s.re" && ok ||
	bad "series of a regex: exit $st $(head -c 200 "$work/err") want < got >: $(diff "$work/s.re" "$work/s.re.sorted" | grep '^[<>]' | head -n 6)"
# Steps across the tiers (tiers service over R1): 1d (clipped to the range), 1h and 90m.
r1a=$(ep 2026-03-01T22:17:00Z) r1b=$(ep 2026-03-04T01:43:00Z)
for s in 1d:86400 1h:3600 90m:5400; do
	want "$work/s.t.${s%%:*}" series "sel=service=tiers,from=$r1a,to=$r1b" "step=${s#*:}" fns=parse
	expect "series parse over R1, step ${s%%:*}" "$work/s.t.${s%%:*}" series --service tiers --since 2026-03-01T22:17:00Z \
		--until 2026-03-04T01:43:00Z --function parse --step "${s%%:*}" --format tsv
	cp "$work/got" "$work/s.t.${s%%:*}.got"
done
# The 1d steps equal the raw minutes of each day clipped to R1.
raw_days=$(sql "SELECT to_char(day AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') || ' ' || flat || ' ' || cum
                 FROM (SELECT date_trunc('day', m.bucket, 'UTC') AS day, sum(m.flat) AS flat, sum(m.cum) AS cum
                       FROM cprof.function_minutes m JOIN cprof.functions f USING (function_id)
                       JOIN cprof.series s USING (series_id)
                       WHERE s.service = 'tiers' AND s.profile_type = 'cpu' AND s.sample_type = 'cpu' AND f.name = 'parse'
                         AND m.bucket >= '2026-03-01T22:17Z' AND m.bucket < '2026-03-04T01:43Z' GROUP BY 1) d ORDER BY day")
got_days=$(awk -F '\t' 'NR > 1 { print $1, $3, $4 }' "$work/s.t.1d.got")
[ "$raw_days" = "$got_days" ] && [ -n "$raw_days" ] && ok || bad "series 1d steps vs raw minutes: '$raw_days' vs '$got_days'"
fails 2 "invalid --function regex" series --service shop --since $S0 --until $S1 --function '(unclosed'
fails 1 "" series --service shop --since $S0 --until $S1 --function 'no_such_function_zz'
# Many functions matched (20: each row unnested and filtered) and few (3: each looked up in the
# row's ids) give the same points: function wNN has flat and cum NN in its one profile.
wide_args=
for k in $(seq 1 20); do wide_args="$wide_args wide;w$(printf %02d "$k")=$k"; done
# shellcheck disable=SC2086 # one stack per word
"$fleet" "$work/p/wide.pb.gz" $wide_args && "$w" load --service wide --time 2026-03-04T10:30:00Z "$work/p/wide.pb.gz" >/dev/null ||
	bad "loading the wide profile"
wide_total=210
wide_expect() { # K...: the TSV of the series of wK... in the hour of 10:30
	printf 'time\tfunction\tflat\tcum\tflat_share\tcum_share\n'
	for _k in "$@"; do
		awk -v k="$_k" -v t="$wide_total" 'BEGIN { printf "2026-03-04T10:00:00Z\tw%02d\t%d\t%d\t%.6g\t%.6g\n", k, k, k, k / t, k / t }'
	done
}
wide_series() { # REGEX
	"$q" series --service wide --since 2026-03-04T10:00:00Z --until 2026-03-04T11:00:00Z --function "$1" --format tsv
}
wide_expect $(seq 1 20) >"$work/wide.want"
wide_series '^w[0-9]+$' >"$work/wide.got" 2>&1 && cmp -s "$work/wide.want" "$work/wide.got" && ok ||
	bad "series of 20 functions: want < got >: $(diff "$work/wide.want" "$work/wide.got" | grep '^[<>]' | head -n 4)"
wide_expect 3 13 17 >"$work/wide3.want"
wide_series '^w(03|13|17)$' >"$work/wide3.got" 2>&1 && cmp -s "$work/wide3.want" "$work/wide3.got" && ok ||
	bad "series of 3 functions: want < got >: $(diff "$work/wide3.want" "$work/wide3.got" | grep '^[<>]' | head -n 4)"

# The read-only role runs diff and series (and top, grouped) and gets the same answers.
sql "CREATE ROLE fleet_reader LOGIN IN ROLE cprof_reader" >/dev/null
as_reader() { # FILE ARGS...: the output of cprof-query ARGS as the reader and as the owner must match
	_o=$1
	shift
	"$q" "$@" --pg "$PG_CONNINFO user=fleet_reader" --format tsv >"$_o.reader" 2>&1
	"$q" "$@" --format tsv >"$_o.owner" 2>&1
	cmp -s "$_o.reader" "$_o.owner" && [ -s "$_o.owner" ] && ok || bad "the reader role, $1: $(head -c 300 "$_o.reader")"
}
as_reader "$work/r.diff" diff --service shop --since $S0 --until $S1 --base env=production --target env=canary -n 0
as_reader "$work/r.series" series --service shop --since $S0 --until $S1 --function hot
as_reader "$work/r.top" top --service shop --since $S0 --until $S1 --group-by env -n 0

# ---------------------------------------------------------------- 6. top --group-by
want "$work/g.env" top "sel=$shop_sel" group=env
expect "top --group-by env" "$work/g.env" top --service shop --since $S0 --until $S1 --group-by env --format tsv -n 0
want "$work/g.env2" top "sel=$shop_sel" group=env n=2 by=cum
expect "top --group-by env -n 2 --by cum" "$work/g.env2" top --service shop --since $S0 --until $S1 --group-by env \
	--by cum --format tsv -n 2
want "$work/g.ver" top "sel=$shop_sel" group=version
expect "top --group-by version" "$work/g.ver" top --service shop --since $S0 --until $S1 --group-by version --format tsv -n 0
want "$work/g.svc" top "sel=from=$(ep 2026-03-02T00:00:00Z),to=$(ep 2026-03-03T00:00:00Z)" group=service
expect "top --group-by service (the fleet, one day)" "$work/g.svc" top --since 2026-03-02T00:00:00Z \
	--until 2026-03-03T00:00:00Z --group-by service --format tsv -n 0
fails 2 "" top --service shop --since $S0 --until $S1 --group-by instance

# ---------------------------------------------------------------- 7. hostile strings
hostile="a'; DROP TABLE cprof.functions; --"
fails 1 "" diff --service "$hostile" --since $S0 --until $S1 --base env=production --target env=canary
fails 1 "base selects" diff --service shop --since $S0 --until $S1 --base "env=x'\"; DROP TABLE cprof.series; --" \
	--target env=canary
fails 1 "base selects" diff --service shop --since $S0 --until $S1 --base "label.k'\";--=ü" --target env=canary
fails 1 "" series --service shop --since $S0 --until $S1 --function "$hostile"
fails 1 "" series --service shop --env "prödüction'; --" --since $S0 --until $S1 --function hot
fails 1 "" top --service shop --env "$hostile" --since $S0 --until $S1 --group-by env
[ "$(sql "SELECT (SELECT count(*) FROM cprof.functions) > 0 AND (SELECT count(*) FROM cprof.series) > 0")" = t ] && ok ||
	bad "a hostile string reached SQL"

# ---------------------------------------------------------------- 3. retention (last: it drops data)
parts() { # the partitions (tables) of cprof's tables
	sql "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
	     JOIN pg_namespace n ON n.oid = p.relnamespace WHERE n.nspname = 'cprof' AND c.relkind = 'r' ORDER BY 1"
}
parts >"$work/parts.before"
# At 2026-03-05T00:10Z: minutes (and profiles) keep 03-04 and 03-05; hours keep the months
# ending after 2026-03-01 (5 days); days keep the years ending after 2026-01-05 (60 days).
awk '{
	day = substr($0, length($0) - 7); table = substr($0, 1, length($0) - 9)
	if (day !~ /^[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]$/ || substr($0, length($0) - 8, 1) != "_") next
	if (table ~ /^(function_minutes_packed|stack_minutes_packed|series_minutes|profiles)$/ && day < "20260304") print
	if (table ~ /^(function_hours_packed|stack_hours_packed|series_hours)$/ && day < "20260301") print
	if (table ~ /^(function_days_packed|stack_days_packed|series_days)$/ && day < "20260101") print
}' "$work/parts.before" >"$work/parts.drop"
for p in function_minutes_packed_20260301 profiles_20260227 series_minutes_20251231 function_hours_packed_20260201 \
	series_hours_20251201 function_days_packed_20250101; do
	grep -qx "$p" "$work/parts.drop" || bad "retention: $p should exist before and be dropped"
done
for p in function_minutes_packed_20260304 profiles_20260305 function_hours_packed_20260301 function_days_packed_20260101; do
	grep -qx "$p" "$work/parts.before" || bad "retention: $p should exist before"
done
"$w" maintain --now 2026-03-05T00:10:00Z --retention-days 2 --hour-retention-days 5 --day-retention-days 60 \
	>"$work/maintain.out" 2>&1
st=$?
ndrop=$(wc -l <"$work/parts.drop")
[ $st -eq 0 ] && grep -q " $ndrop dropped;" "$work/maintain.out" && ok ||
	bad "maintain with retention: exit $st, want $ndrop dropped: $(head -c 400 "$work/maintain.out")"
parts >"$work/parts.after"
comm -23 "$work/parts.before" "$work/parts.after" >"$work/parts.gone"
if cmp -s "$work/parts.gone" "$work/parts.drop"; then ok; else
	bad "retention: dropped but should be kept: $(comm -13 "$work/parts.drop" "$work/parts.gone" | tr '\n' ' '); kept but should be dropped: $(comm -23 "$work/parts.drop" "$work/parts.gone" | tr '\n' ' ')"
fi
# Hour-aligned ranges whose minutes are gone answer from the hour and day tiers.
tiers_top K1 2026-03-01T23:00:00Z 2026-03-03T07:00:00Z retained noraw
tiers_top K2 2026-03-04T00:00:00Z 2026-03-04T02:00:00Z retained
want "$work/want.feb" top "sel=service=tiers,from=$(ep 2026-02-27T00:00:00Z),to=$(ep 2026-02-28T00:00:00Z)"
expect "top of a day whose minutes and hours are dropped (the day tier)" "$work/want.feb" top --service tiers \
	--since 2026-02-27T00:00:00Z --until 2026-02-28T00:00:00Z --format tsv -n 0
grep -q february "$work/want.feb" || bad "the expected top of 2026-02-27 misses its profile"
fails 1 "" top --service tiers --since 2025-12-31T00:00:00Z --until 2026-01-01T00:00:00Z

finish
