/* cmd_ls: `cprof-query ls WHAT`: what PostgreSQL stores, through the read API (cprof.ls of
 * sql/004_ls.sql for services, versions, envs, zones, instances, types and labels; cprof.top for
 * functions): each value with its profile count and the first and last profile's time, in a
 * time range. */
#define _GNU_SOURCE /* getopt_long */
#include <getopt.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cells.h"
#include "commands.h"
#include "cp_log.h"
#include "cp_text.h"
#include "cp_time.h"
#include "top.h"
#include "selection.h"

static const char ls_usage[] =
	"usage: cprof-query ls services|versions|envs|zones|instances|types|labels|functions [options]\n"
	"\n"
	"What is stored: each value with its number of profiles and the times of the first and last,\n"
	"over a time range; functions: the functions of a profile type's profiles in the range.\n"
	"\n"
	"  --pg CONNINFO        the database (else $CPROF_PG, else libpq's PG* variables)\n"
	"  --service S          only this service's profiles\n"
	"  --since T, --until T the range, as for top (default: the last 24 hours)\n"
	"  --type TYPE          functions: the profile type (default cpu)\n"
	"  --format FORMAT      table (default), tsv, csv or json\n"
	"  --help               this text\n";

static const char *const dimensions[] = {"services", "versions", "envs", "zones", "instances", "types", "labels",
					 "functions"};

/* One row of cells as the format wants it. */
static void print_row(cp_top_format format, const char *const *cells, size_t n, int header, int first)
{
	if (format == CP_TOP_JSON) {
		static const char *const names[] = {"value", "profiles", "first", "last"};
		if (header)
			return;
		fputs(first ? "[\n  {" : ",\n  {", stdout);
		for (size_t i = 0; i < n; i++) {
			printf("%s\"%s\": ", i ? ", " : "", names[i]);
			if (i == 1)
				fputs(cells[i], stdout);
			else
				cp_text_json(stdout, cells[i], strlen(cells[i]));
		}
		putchar('}');
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (format == CP_TOP_TABLE)
			printf(i == 0 ? "%-40s" : i == 1 ? " %9s" : "  %s", cells[i]);
		else
			cp_cells_put(stdout, format == CP_TOP_CSV, cells[i], i == 0);
	}
	putchar('\n');
}

int cp_cmd_ls(int argc, char **argv)
{
	enum { O_PG = 256, O_SERVICE, O_SINCE, O_UNTIL, O_TYPE, O_FORMAT, O_HELP };
	static const struct option longopts[] = {
		{"pg", required_argument, NULL, O_PG},		{"service", required_argument, NULL, O_SERVICE},
		{"since", required_argument, NULL, O_SINCE},	{"until", required_argument, NULL, O_UNTIL},
		{"type", required_argument, NULL, O_TYPE},	{"format", required_argument, NULL, O_FORMAT},
		{"help", no_argument, NULL, O_HELP},		{NULL, 0, NULL, 0},
	};
	cp_log_init("cprof-query ls");
	cp_selection sel = {.conninfo = getenv("CPROF_PG") ? getenv("CPROF_PG") : "", .profile_type = "cpu"};
	const char *since = "24h", *until = "now";
	cp_top_format format = CP_TOP_TABLE;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (c) {
		case O_PG: sel.conninfo = optarg; break;
		case O_SERVICE: sel.service = optarg; break;
		case O_SINCE: since = optarg; break;
		case O_UNTIL: until = optarg; break;
		case O_TYPE: sel.profile_type = optarg; break;
		case O_FORMAT:
			if (cp_top_format_option(optarg, &format))
				return CP_EXIT_USAGE;
			break;
		case O_HELP: fputs(ls_usage, stdout); return CP_EXIT_OK;
		case ':': return cp_log_usage("option %s needs a value", argv[optind - 1]);
		default: return cp_log_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cp_log_usage("%s", optind >= argc ? "say what to list: services, versions, envs, zones, instances, "
							    "types, labels or functions"
							  : "list one thing at a time");
	const char *what = argv[optind];
	size_t d = 0;
	while (d < sizeof dimensions / sizeof dimensions[0] && strcmp(dimensions[d], what) != 0)
		d++;
	if (d == sizeof dimensions / sizeof dimensions[0])
		return cp_log_usage("cannot list '%s': services, versions, envs, zones, instances, types, labels or "
				    "functions",
				    what);
	char err[512];
	if (cp_time_range(since, until, cp_time_now(), &sel.from_nanos, &sel.to_nanos, err, sizeof err))
		return cp_log_usage("%s", err);

	int status = CP_EXIT_FAILURE;
	PGresult *r = NULL;
	PGconn *conn = PQconnectdb(sel.conninfo);
	if (PQstatus(conn) != CONNECTION_OK) {
		cp_log("cannot connect to PostgreSQL: %s", PQerrorMessage(conn));
		goto out;
	}
	char from[64], to[64];
	cp_time_format(sel.from_nanos, from, sizeof from);
	cp_time_format(sel.to_nanos, to, sizeof to);
	int functions = strcmp(what, "functions") == 0;
	const char *sample_type = cp_selection_default_sample_type(sel.profile_type);
	const char *params[] = {functions ? sel.profile_type : what, from, to, functions ? sample_type : sel.service,
				sel.service};
	r = functions ? PQexecParams(conn,
				     "SELECT function_name FROM cprof.top($2, $3, $1, $4, $5) ORDER BY 1",
				     5, NULL, params, NULL, NULL, 0)
		      : PQexecParams(conn,
				     "SELECT value, profiles, to_char(first_time AT TIME ZONE 'UTC', "
				     "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), to_char(last_time AT TIME ZONE 'UTC', "
				     "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM cprof.ls($1, $2, $3, $4)",
				     4, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		cp_log("listing %s: %s", what, PQerrorMessage(conn));
		goto out;
	}
	int n = PQntuples(r);
	if (n == 0) {
		cp_log("no %s%s%s from %s to %s", functions ? sel.profile_type : "profiles", functions ? " functions" : "",
		       sel.service ? " of that service" : "", from, to);
		goto out;
	}
	size_t ncells = functions ? 1 : 4;
	const char *header[] = {functions ? "function" : what, "profiles", "first", "last"};
	print_row(format, header, ncells, 1, 0);
	for (int i = 0; i < n; i++) {
		const char *cells[4];
		for (size_t k = 0; k < ncells; k++)
			cells[k] = PQgetvalue(r, i, (int)k);
		print_row(format, cells, ncells, 0, i == 0);
	}
	if (format == CP_TOP_JSON)
		fputs("\n]\n", stdout);
	if (!cp_log_results_written())
		status = CP_EXIT_OK;
out:
	PQclear(r);
	PQfinish(conn);
	return status;
}
