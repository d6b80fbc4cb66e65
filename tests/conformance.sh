#!/bin/sh
# Conformance: for every profile and sample type of the shared corpus (and its merged groups),
# `cprof-query top --format tsv -n 0` must equal the oracle that `go tool pprof` computes,
# exactly, row for row. Needs shared/corpus beside the project (exit 77 without it).
# Environment: see tests/run. Prints one line per failing table and a final summary line.
set -u
bin=$CPROF_BIN corpus=$CPROF_CORPUS work=$CPROF_WORK
if [ -z "$corpus" ]; then
	echo "conformance: shared/corpus is not beside the project; nothing to compare"
	exit 77
fi
pass=0 fail=0
export LC_ALL=C

# ORACLE_INDEX.tsv: file sample_index sample_type unit oracle_tsv total n_rows ...
# TAB is whitespace to `read`, which would merge the empty type/unit columns: use '|'.
tail -n +2 "$corpus/ORACLE_INDEX.tsv" | tr '\t' '|' | {
	while IFS='|' read -r file index type unit tsv total rows rest; do
		case $file in
		merged/*)
			group=${file#merged/}
			set --
			while read -r member; do set -- "$@" "$corpus/profiles/$member"; done \
				<"$corpus/oracle/merged/$group.members.txt"
			;;
		*) set -- "$corpus/profiles/$file" ;;
		esac
		out="$work/$(echo "$tsv" | tr '/' '_')"
		if ! "$bin/cprof-query" top --sample-index "$index" --format tsv -n 0 --file "$@" >"$out.got" 2>"$out.err"; then
			echo "FAIL $tsv: cprof-query exited non-zero: $(cat "$out.err")"
			fail=$((fail + 1))
			continue
		fi
		# Row order: cprof ranks, the oracle sorts by name; the header must be first in both.
		{ head -n 1 "$out.got"; tail -n +2 "$out.got" | sort; } >"$out.sorted"
		{ head -n 1 "$corpus/$tsv"; tail -n +2 "$corpus/$tsv" | sort; } >"$out.want"
		if cmp -s "$out.sorted" "$out.want"; then
			pass=$((pass + 1))
		else
			echo "FAIL $tsv ($type/$unit): differs from the oracle:"
			diff "$out.want" "$out.sorted" | head -n 10
			fail=$((fail + 1))
		fi
	done
	echo "conformance: $pass passed, $fail failed"
	[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
}
