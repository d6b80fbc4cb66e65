#!/bin/sh
# The demo of `make demo`: a real Go program (tests/gofixtures) profiles its own workload with
# runtime/pprof, and cprof-query shows the top functions of those profiles, then a merge of
# two CPU profiles. Run from the project root after `make all`.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export GOCACHE="$root/build/gocache" GOPATH="$root/build/gopath" GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local

out="$root/build/demo"
rm -rf "$out"
mkdir -p "$out"
echo "== building the profiled Go program and recording its CPU, heap, mutex, block and goroutine profiles"
(cd tests/gofixtures && go build -o "$root/build/gofixtures" .)
build/gofixtures write "$out"
ls -l "$out"

echo
echo "== cprof-query top --file $out/cpu.pb.gz -n 15"
bin/cprof-query top --file "$out/cpu.pb.gz" -n 15
echo
echo "== cprof-query top --file $out/heap.pb.gz --sample-type alloc_space --by cum -n 10"
bin/cprof-query top --file "$out/heap.pb.gz" --sample-type alloc_space --by cum -n 10
echo
echo "== two CPU profiles merged: cprof-query top --file $out/cpu.pb.gz $out/cpu2.pb.gz -n 10"
bin/cprof-query top --file "$out/cpu.pb.gz" "$out/cpu2.pb.gz" -n 10
echo
echo "Profiles are in $out; try: bin/cprof-query top --help"
