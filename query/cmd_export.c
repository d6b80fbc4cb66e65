/* cmd_export: `cprof-query export`: one merged pprof profile (gzip) of a selection of what
 * PostgreSQL stores, for `go tool pprof` and every tool that reads pprof. It holds every sample
 * type stored for the profile type (or the one asked for), the stacks at function granularity
 * with their values summed over the selection (the read API's cprof.export_nodes), so that
 * pprof's flat and cum per function are `cprof-query top`'s for the same selection. The file is
 * written whole or not at all. */
#define _GNU_SOURCE /* getopt_long */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "cp_file.h"
#include "cp_log.h"
#include "pprof_tree.h"
#include "selection.h"

static const char export_usage[] =
	"usage: cprof-query export [--service S] [--since T] [--until T] [selection] [--output FILE]\n"
	"\n"
	"One pprof profile (gzip) merging what PostgreSQL stores for a selection over a time range,\n"
	"for `go tool pprof` and other pprof tools: every sample type stored for the profile type\n"
	"(or only --sample-type), stacks at function granularity, values summed. pprof's default\n"
	"sample type is the one `cprof-query top` reports, and its flat and cum per function are\n"
	"top's.\n"
	"\n"
	"options:\n"
	"  --output FILE, -o FILE  write the profile there (written whole or not at all); without\n"
	"                       it the profile goes to standard output, unless that is a terminal\n"
	"  --help               this text\n"
	"\n"
	"selection:\n"
	"%s";

typedef struct {
	cp_selection_options sel;
	const char *output; /* NULL: standard output */
} export_options;

/* Returns -1 to go on, or the exit status to return. */
static int parse_options(int argc, char **argv, export_options *o)
{
	enum { OPT_OUTPUT = 'o', OPT_HELP = 256 };
	static const struct option longopts[] = {
		{"output", required_argument, NULL, OPT_OUTPUT},
		{"help", no_argument, NULL, OPT_HELP},
		CP_SELECTION_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	*o = (export_options){.output = NULL};
	cp_selection_options_init(&o->sel);
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:", longopts, NULL)) != -1) {
		int taken = cp_selection_option(&o->sel, c, optarg);
		if (taken < 0)
			return CP_EXIT_USAGE;
		if (taken > 0)
			continue;
		switch (c) {
		case OPT_OUTPUT:
			if (!*optarg)
				return cp_log_usage("--output wants a file name");
			o->output = optarg;
			break;
		case OPT_HELP:
			printf(export_usage, cp_selection_usage);
			return CP_EXIT_OK;
		case ':':
			return cp_log_usage("option %s needs a value", argv[optind - 1]);
		default:
			return cp_log_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cp_log_usage("unexpected argument '%s' (export reads stored data only)", argv[optind]);
	if (!o->output && isatty(STDOUT_FILENO))
		return cp_log_usage("standard output is a terminal: give --output FILE, or redirect it");
	if (cp_selection_options_finish(&o->sel))
		return CP_EXIT_USAGE;
	return -1;
}

/* Appends s to the PostgreSQL array literal in buf (*at its length without the closing '}'),
 * quoted, with \ and " escaped; buf stays a whole literal. Returns 0, or -1 when buf is too
 * small. */
static int array_append(char *buf, size_t cap, size_t *at, const char *s)
{
	char separator = *at ? ',' : '{';
	if (*at + 4 >= cap) /* room for the separator, the quotes, '}' and the NUL */
		return -1;
	buf[(*at)++] = separator;
	buf[(*at)++] = '"';
	for (; *s; s++) {
		if (*at + 5 >= cap)
			return -1;
		if (*s == '"' || *s == '\\')
			buf[(*at)++] = '\\';
		buf[(*at)++] = *s;
	}
	buf[(*at)++] = '"';
	buf[*at] = '}';
	buf[*at + 1] = '\0';
	return 0;
}

/* The sample types to export, their units and the profiled time: every type stored for the
 * profile type (or the one asked for) that the selection holds. Returns 0, or -1 after logging
 * why. The array literal of their names goes to types_literal. */
static int add_types(PGconn *conn, const cp_selection *sel, PGresult *stored, const char *default_type,
		     cp_pprof_tree *t, char *types_literal, size_t cap)
{
	size_t at = 0;
	int64_t profiles = 0;
	for (int i = 0; i < PQntuples(stored); i++) {
		const char *type = PQgetvalue(stored, i, 0);
		if (sel->sample_type && strcmp(type, default_type) != 0)
			continue;
		PGresult *r = cp_selection_query(conn,
						 "SELECT sample_unit, profiles, profiled_nanos, series FROM "
						 "cprof.totals($1, $2, $3, $4, $5, $6, $7, $8, $9)",
						 sel, type, NULL, 0, "reading the totals");
		if (!r)
			return -1;
		int status = 0;
		if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 3), "0") != 0) {
			if (PQgetisnull(r, 0, 0)) {
				cp_log("the series of sample type %s disagree on its unit: select fewer (--env, --version, --zone)",
				       type);
				status = -1;
			} else if (cp_pprof_tree_add_type(t, type, PQgetvalue(r, 0, 0)) ||
				   array_append(types_literal, cap, &at, type)) {
				cp_log("too many sample types for %s", sel->profile_type);
				status = -1;
			} else if (strcmp(type, default_type) == 0) {
				t->default_type = t->ntypes - 1;
				t->duration_nanos = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
				profiles = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
			}
		}
		PQclear(r);
		if (status)
			return -1;
	}
	if (!t->ntypes || !profiles) {
		cp_selection_log_empty(sel, "");
		return -1;
	}
	return 0;
}

/* Parses the self values "{1,0,-3}" of a node into values (n of them). Returns 0, or -1. */
static int parse_selfs(const char *text, int64_t *values, size_t n)
{
	if (*text++ != '{')
		return -1;
	for (size_t i = 0; i < n; i++) {
		char *end;
		errno = 0;
		values[i] = strtoll(text, &end, 10);
		if (errno || end == text || *end != (i + 1 < n ? ',' : '}'))
			return -1;
		text = end + 1;
	}
	return *text ? -1 : 0;
}

/* Reads the selection's call tree into t. Returns 0, or -1 after logging why. */
static int add_nodes(PGconn *conn, const cp_selection *sel, const char *types_literal, cp_pprof_tree *t)
{
	PGresult *r = cp_selection_query(conn,
					 "SELECT stack_id, parent_id, function_id, function_name, self_values FROM "
					 "cprof.export_nodes($1, $2, $3, $4::text[], $5, $6, $7, $8, $9)",
					 sel, types_literal, NULL, 0, "reading the stacks");
	if (!r)
		return -1;
	int status = 0;
	int64_t selfs[CP_PPROF_TREE_MAX_TYPES];
	char err[256];
	for (int i = 0; i < PQntuples(r) && status == 0; i++) {
		int leaf = !PQgetisnull(r, i, 4);
		if (leaf && parse_selfs(PQgetvalue(r, i, 4), selfs, t->ntypes)) {
			cp_log("stack %s: unexpected self values '%s'", PQgetvalue(r, i, 0), PQgetvalue(r, i, 4));
			status = -1;
		} else if (cp_pprof_tree_add_node(t, strtoll(PQgetvalue(r, i, 0), NULL, 10),
						  strtoll(PQgetvalue(r, i, 1), NULL, 10), strtoll(PQgetvalue(r, i, 2), NULL, 10),
						  PQgetvalue(r, i, 3), (size_t)PQgetlength(r, i, 3), leaf ? selfs : NULL, err,
						  sizeof err)) {
			cp_log("%s", err);
			status = -1;
		}
	}
	if (status == 0 && t->n == 0) {
		cp_selection_log_empty(sel, "");
		status = -1;
	}
	PQclear(r);
	return status;
}

static int set_comment(cp_pprof_tree *t, const cp_selection *sel)
{
	char from[64], to[64], comment[1024];
	cp_selection_range_text(sel, from, to);
	snprintf(comment, sizeof comment, "cprof export: %s profiles of %s%s%s%s%s%s%s%s%s from %s to %s", sel->profile_type,
		 sel->service ? sel->service : "the fleet", sel->env ? ", env " : "", sel->env ? sel->env : "",
		 sel->version ? ", version " : "", sel->version ? sel->version : "", sel->zone ? ", zone " : "",
		 sel->zone ? sel->zone : "", sel->labels_json ? ", labels " : "", sel->labels_json ? sel->labels_json : "",
		 from, to);
	return cp_pprof_tree_set_comment(t, comment);
}

/* Writes the bytes to path whole or not at all, or to standard output (path NULL). Returns 0,
 * or -1 after logging why. */
static int write_output(const char *path, const uint8_t *data, size_t len)
{
	char err[512];
	if (path) {
		if (cp_file_write_atomic(path, data, len, err, sizeof err) == 0)
			return 0;
		cp_log("%s", err);
		return -1;
	}
	if (fwrite(data, 1, len, stdout) != len || fflush(stdout)) {
		cp_log("writing standard output: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int export_selection(const cp_selection *sel, const char *output)
{
	int status = -1;
	cp_pprof_tree t = {0};
	PGresult *stored = NULL;
	uint8_t *data = NULL;
	size_t len = 0;
	char types_literal[4096], err[256];
	PGconn *conn = cp_selection_connect(sel);
	if (!conn)
		goto out;
	const char *default_type = cp_selection_sample_type(conn, sel, &stored);
	if (!default_type || add_types(conn, sel, stored, default_type, &t, types_literal, sizeof types_literal) ||
	    add_nodes(conn, sel, types_literal, &t))
		goto out;
	t.time_nanos = sel->from_nanos;
	if (set_comment(&t, sel)) {
		cp_log("out of memory");
		goto out;
	}
	if (cp_pprof_tree_encode(&t, &data, &len, err, sizeof err)) {
		cp_log("%s", err);
		goto out;
	}
	status = write_output(output, data, len);
out:
	free(data);
	cp_pprof_tree_free(&t);
	PQclear(stored);
	PQfinish(conn);
	return status;
}

int cp_cmd_export(int argc, char **argv)
{
	export_options o;
	cp_log_init("cprof-query export");
	int status = parse_options(argc, argv, &o);
	if (status < 0)
		status = export_selection(&o.sel.sel, o.output) == 0 ? CP_EXIT_OK : CP_EXIT_FAILURE;
	cp_selection_options_free(&o.sel);
	return status;
}
