#!/bin/sh
# Build step: turns sql/NNN_name.sql files into C (the migrations cprof-worker carries inside
# itself, so `cprof-worker migrate` needs no files at run time). Usage: embed-migrations.sh
# FILE.sql... > migrations.c. Files must be named NNN_name.sql and are emitted in the order given.
set -eu
echo "/* Generated from the migrations in sql/ by worker/embed-migrations.sh: do not edit. */"
echo "#include \"migrations.h\""
echo "const cp_migration cp_migrations[] = {"
for f in "$@"; do
	base=$(basename "$f" .sql)
	version=$(echo "$base" | sed -n 's/^\([0-9][0-9]*\)_.*/\1/p')
	[ -n "$version" ] || { echo "embed-migrations: $f: name must be NNN_name.sql" >&2; exit 1; }
	number=$(echo "$version" | sed 's/^0*//')
	printf '\t{%d, "%s",\n' "${number:-0}" "$base"
	awk '{ gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\t/, "\\t"); printf "\t \"%s\\n\"\n", $0 }' "$f"
	printf '\t},\n'
done
echo "};"
echo "const size_t cp_migration_count = sizeof cp_migrations / sizeof cp_migrations[0];"
