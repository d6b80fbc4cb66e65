#!/bin/sh
# flame_browser: the flame graphs as their consumers draw them, in Debian's headless Chromium
# (tests/browser: a page built with Vite, driven by playwright-core). Real Go cpu profiles
# (tests/gofixtures) are loaded for service shop; then
#   - the rows of cprof.flame_graph, as JSON, are drawn by Grafana's own flame graph component
#     (@grafana/flamegraph with @grafana/data, as Grafana's flame graph panel uses it): the panel
#     takes the frame, no error on the page, the root and every frame wide enough for a label
#     drawn on the canvas at the place the rows give it (and nothing else), the top frames among
#     them, the top table listing the largest self values, the tooltip naming the frame under the
#     mouse, a screenshot with coloured boxes;
#   - the SVG of `cprof-query flame --format svg` for the same selection opens as an SVG document,
#     not Chromium's XML error page, with boxes, the top frames named, a colourful screenshot.
# The checks are shown to fail: a frame without its self column is refused by the panel's own
# check; the heap's frame drawn where the cpu's is expected misses the cpu's top frames; a
# truncated SVG is seen as the XML error page it is. Screenshots stay in the scratch folder.
# Chromium and tests/browser's packages come with `make check` (deploy/install-deps.sh, the
# Makefile's browser target); missing, they fail this test rather than skip it.
set -u
. "$CPROF_ROOT/tests/lib.sh"
. "$CPROF_ROOT/tests/pg.sh"
work=$CPROF_WORK
tally flame_browser
q=$CPROF_BIN/cprof-query
browser=$CPROF_ROOT/tests/browser
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

[ -x "$CHROMIUM" ] || { bad "$CHROMIUM missing: run 'make deps' (deploy/install-deps.sh installs chromium)"; finish; }
command -v node >/dev/null || { bad "node missing: install Node.js >= 20.19"; finish; }
[ -f "$browser/node_modules/.stamp" ] && [ -f "$browser/dist/index.html" ] ||
	{ bad "tests/browser is not installed and built: run 'make browser'"; finish; }

trap 'pg_stop "$work/pg"' EXIT
trap 'exit 1' INT TERM
pg_start "$work/pg" 0 || { bad "PostgreSQL did not start"; finish; }
db=$PG_CONNINFO
"$CPROF_BIN/cprof-worker" migrate --pg "$db" >/dev/null || bad "migrate"
fixtures=$(gofixtures_bin) || { bad "building tests/gofixtures"; finish; }
"$fixtures" write "$work/fx" >/dev/null 2>&1 || { bad "gofixtures write"; finish; }
fx=$work/fx

# an hour ago, one profile a minute
t0=$(( $(date +%s) / 60 * 60 - 3600 ))
since=$(date -u -d "@$((t0 - 60))" +%Y-%m-%dT%H:%M:%SZ)
until=$(date -u -d "@$((t0 + 600))" +%Y-%m-%dT%H:%M:%SZ)
"$CPROF_BIN/cprof-worker" load --pg "$db" --service shop --env production --time "$t0""000000000" --every 1m \
	"$fx/cpu.pb.gz" "$fx/cpu2.pb.gz" "$fx/heap.pb.gz" >/dev/null 2>"$work/load.err" ||
	bad "load: $(cat "$work/load.err")"

# frame TYPE SAMPLE_TYPE FILE: the selection's cprof.flame_graph rows as a JSON array, in the
# order the function returns them (WITH ORDINALITY numbers them so, json_agg keeps that order)
frame() {
	pg_psql "$work/pg" -c "SELECT coalesce(json_agg(json_build_object('level', level, 'value', value,
		'self', self, 'label', label) ORDER BY n), '[]') FROM cprof.flame_graph('$since', '$until', '$1', '$2', 'shop')
		WITH ORDINALITY AS f(level, value, self, label, n)" >"$3"
}
frame cpu cpu "$work/cpu.json" || bad "cprof.flame_graph for cpu"
frame heap inuse_space "$work/heap.json" || bad "cprof.flame_graph for the heap"

# js CODE ARG...: node running CODE with rows(FILE), the rows of a frame file, at hand
js() {
	code=$1
	shift
	node -e "const fs = require('fs'), rows = (f) => JSON.parse(fs.readFileSync(f, 'utf8')); $code" "$@"
}
shape=$(js 'const r = rows(process.argv[1]); console.log(r.length, r[0].level, r[0].label)' "$work/cpu.json")
[ "${shape%% *}" -gt 10 ] && [ "${shape#* }" = "0 total" ] && ok || bad "the cpu frame: rows, root level and label: $shape"
[ "$(js 'console.log(rows(process.argv[1]).length)' "$work/heap.json")" -gt 1 ] && ok || bad "the heap frame is empty"

# drive ACTION ARG...: the driver; its PASS and FAIL lines counted, its output in $work/ACTION.out
drive() {
	action=$1
	shift
	TMPDIR=$work node "$browser/flame.mjs" "$@" >"$work/$action.out" 2>&1
	status=$?
	while IFS= read -r line; do
		case $line in
		PASS*) ok ;;
		FAIL*) bad "$action: ${line#FAIL }" ;;
		esac
	done <"$work/$action.out"
	grep -q '^PASS' "$work/$action.out" && [ "$status" -eq 0 ] && ok ||
		bad "$action: the driver exited $status: $(grep -v '^PASS' "$work/$action.out" | head -n 5)"
}
# refused ACTION WHAT ARG...: the driver must fail, with a FAIL line starting with WHAT
refused() {
	action=$1 what=$2
	shift 2
	TMPDIR=$work node "$browser/flame.mjs" "$@" >"$work/$action.out" 2>&1
	status=$?
	[ "$status" -eq 1 ] && grep -q "^FAIL $what" "$work/$action.out" && ok ||
		bad "$action: not refused (exit $status, no \"FAIL $what\"): $(head -n 5 "$work/$action.out")"
}

# Grafana's component
drive grafana grafana --dist "$browser/dist" --frame "$work/cpu.json" --unit ns --png "$work/grafana.png"
js 'fs.writeFileSync(process.argv[2], JSON.stringify(rows(process.argv[1]).map(({ self, ...rest }) => rest)))' \
	"$work/cpu.json" "$work/noself.json"
refused grafana-noself "the panel took the frame: rejected: Data is missing fields: self" \
	grafana --dist "$browser/dist" --frame "$work/noself.json" --png "$work/grafana-noself.png"
refused grafana-other "the top frames drawn" \
	grafana --dist "$browser/dist" --frame "$work/heap.json" --expect "$work/cpu.json" --png "$work/grafana-other.png"

# the SVG, with the top frames the Grafana check looks for: the widest under the root, down to
# level 4, at a tenth of the total or more
"$q" flame --pg "$db" --service shop --type cpu --sample-type cpu --since "$since" --until "$until" --format svg \
	>"$work/flame.svg" 2>"$work/svg.err" || bad "flame --format svg: $(cat "$work/svg.err")"
top=$(node "$browser/flame.mjs" top --frame "$work/cpu.json")
[ -n "$top" ] && ok || bad "no top frame in the cpu frame"
drive svg svg --svg "$work/flame.svg" --labels "$top" --png "$work/svg.png"
head -c $(($(wc -c <"$work/flame.svg") / 2)) "$work/flame.svg" >"$work/truncated.svg"
refused svg-truncated "no XML error page" svg --svg "$work/truncated.svg" --labels "$top" --png "$work/svg-truncated.png"

finish
