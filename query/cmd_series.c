/* cmd_series: `cprof-query series`: one function's (or every function a regular expression
 * names) flat and cum over time, one point per step, as values and as shares of the step's
 * total, through the read API's cprof.function_series (sql/005_rollups.sql), which Grafana's
 * time-series panels call too. */
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
#include "cp_units.h"
#include "selection.h"
#include "top.h"

static const char series_usage[] =
	"usage: cprof-query series --function NAME_OR_REGEX [selection] [options]\n"
	"\n"
	"A function's flat and cum over time: one point per step that holds profiles of the\n"
	"selection (steps start at whole multiples of the step since the Unix epoch, UTC); where the\n"
	"function is absent from a step it is 0 there. Shares are of the step's total of absolute\n"
	"values, as top's percentages.\n"
	"\n"
	"options:\n"
	"  --function F         the function named exactly F if there is one, else every function\n"
	"                       whose name matches F as a (PostgreSQL) regular expression\n"
	"  --step DURATION      the step, a whole number of minutes (default 1h)\n"
	"  --format FORMAT      table (default), tsv, csv or json\n"
	"  --help               this text\n"
	"\n"
	"selection:\n"
	"%s"
	"\n"
	"tsv and csv columns: time (RFC 3339, the step's start), function, flat, cum, flat_share,\n"
	"cum_share.\n";

enum { COL_TIME, COL_NAME, COL_FLAT, COL_CUM, COL_TOTAL, COL_NANOS };

static double share(const PGresult *r, int row, int col)
{
	double total = strtod(PQgetvalue(r, row, COL_TOTAL), NULL);
	return total ? strtod(PQgetvalue(r, row, col), NULL) / total : 0.0;
}

static void print_rows(const PGresult *r, cp_top_format format, const char *sample_type, const char *unit,
		       long long step)
{
	int n = PQntuples(r), csv = format == CP_TOP_CSV;
	if (format == CP_TOP_JSON) {
		fputs("{\"sample_type\":", stdout);
		cp_text_json(stdout, sample_type, strlen(sample_type));
		fputs(",\"unit\":", stdout);
		cp_text_json(stdout, unit, strlen(unit));
		printf(",\"step_seconds\":%lld,\"points\":[", step);
	} else if (format == CP_TOP_TABLE) {
		printf("Type: %s, per %lld-minute step\n%-20s %10s %7s %10s %7s  %s\n", sample_type, step / 60, "time",
		       "flat", "flat%", "cum", "cum%", "function");
	} else {
		static const char *const names[] = {"time", "function", "flat", "cum", "flat_share", "cum_share"};
		for (int c = 0; c < 6; c++)
			cp_cells_put(stdout, csv, names[c], c == 0);
		putchar('\n');
	}
	for (int i = 0; i < n; i++) {
		const char *time = PQgetvalue(r, i, COL_TIME), *name = PQgetvalue(r, i, COL_NAME);
		if (format == CP_TOP_JSON) {
			printf("%s\n{\"time\":\"%s\",\"function\":", i ? "," : "", time);
			cp_text_json(stdout, name, (size_t)PQgetlength(r, i, COL_NAME));
			printf(",\"flat\":%s,\"cum\":%s,\"flat_share\":%.9g,\"cum_share\":%.9g,\"total\":%s}",
			       PQgetvalue(r, i, COL_FLAT), PQgetvalue(r, i, COL_CUM), share(r, i, COL_FLAT),
			       share(r, i, COL_CUM), PQgetvalue(r, i, COL_TOTAL));
		} else if (format == CP_TOP_TABLE) {
			char flat[48], cum[48];
			printf("%-20s %10s %6.2f%% %10s %6.2f%%  ", time,
			       cp_units_label(strtoll(PQgetvalue(r, i, COL_FLAT), NULL, 10), unit, "minimum", flat, sizeof flat),
			       share(r, i, COL_FLAT) * 100,
			       cp_units_label(strtoll(PQgetvalue(r, i, COL_CUM), NULL, 10), unit, "minimum", cum, sizeof cum),
			       share(r, i, COL_CUM) * 100);
			cp_text_tsv(stdout, name, (size_t)PQgetlength(r, i, COL_NAME));
			putchar('\n');
		} else {
			cp_cells_put(stdout, csv, time, 1);
			cp_cells_put(stdout, csv, name, 0);
			cp_cells_put(stdout, csv, PQgetvalue(r, i, COL_FLAT), 0);
			cp_cells_put(stdout, csv, PQgetvalue(r, i, COL_CUM), 0);
			cp_cells_number(stdout, csv, share(r, i, COL_FLAT), 6, 0);
			cp_cells_number(stdout, csv, share(r, i, COL_CUM), 6, 0);
			putchar('\n');
		}
	}
	if (format == CP_TOP_JSON)
		fputs("\n]}\n", stdout);
}

int cp_cmd_series(int argc, char **argv)
{
	enum { OPT_FUNCTION = 256, OPT_STEP, OPT_FORMAT, OPT_HELP };
	static const struct option longopts[] = {
		{"function", required_argument, NULL, OPT_FUNCTION}, {"step", required_argument, NULL, OPT_STEP},
		{"format", required_argument, NULL, OPT_FORMAT},     {"help", no_argument, NULL, OPT_HELP},
		CP_SELECTION_LONGOPTS,				     {NULL, 0, NULL, 0},
	};
	cp_log_init("cprof-query series");
	cp_selection_options o;
	cp_selection_options_init(&o);
	const char *function = NULL;
	long long step = 3600;
	cp_top_format format = CP_TOP_TABLE;
	int status = CP_EXIT_USAGE, c;
	PGconn *conn = NULL;
	PGresult *types = NULL, *r = NULL;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		int taken = cp_selection_option(&o, c, optarg);
		if (taken < 0)
			goto out;
		if (taken > 0)
			continue;
		switch (c) {
		case OPT_FUNCTION: function = optarg; break;
		case OPT_STEP:
			if (cp_selection_minutes_option("--step", optarg, &step))
				goto out;
			break;
		case OPT_FORMAT:
			if (cp_top_format_option(optarg, &format))
				goto out;
			break;
		case OPT_HELP: printf(series_usage, cp_selection_usage); status = CP_EXIT_OK; goto out;
		case ':': cp_log_usage("option %s needs a value", argv[optind - 1]); goto out;
		default: cp_log_usage("unknown option '%s'", argv[optind - 1]); goto out;
		}
	}
	if (optind != argc) {
		cp_log_usage("unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (!function || !*function) {
		cp_log_usage("%s", "say which function: --function NAME_OR_REGEX");
		goto out;
	}
	if (cp_selection_options_finish(&o))
		goto out;
	status = CP_EXIT_FAILURE;
	if (!(conn = cp_selection_connect(&o.sel)))
		goto out;
	const char *sample_type = cp_selection_sample_type(conn, &o.sel, &types);
	if (!sample_type)
		goto out;
	PGresult *t = cp_selection_query(conn,
					 "SELECT profiles, coalesce(sample_unit, '') FROM "
					 "cprof.totals($1, $2, $3, $4, $5, $6, $7, $8, $9)",
					 &o.sel, sample_type, NULL, 0, "reading the totals");
	if (!t)
		goto out;
	int empty = strcmp(PQgetvalue(t, 0, 0), "0") == 0;
	char unit[64];
	snprintf(unit, sizeof unit, "%s", PQgetvalue(t, 0, 1));
	PQclear(t);
	if (empty) {
		cp_selection_log_empty(&o.sel, "");
		goto out;
	}
	char step_text[32];
	snprintf(step_text, sizeof step_text, "%lld seconds", step);
	r = cp_selection_exec(conn,
			      "SELECT to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), function_name, "
			      "flat, cum, total_abs, profiled_nanos FROM cprof.function_series($1, $2, $10::interval, $11, "
			      "$3, $4, $5, $6, $7, $8, $9)",
			      &o.sel, sample_type, (const char *const[]){step_text, function}, 2);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		if (state && strcmp(state, "2201B") == 0) { /* a regex that does not compile is the user's to fix */
			cp_log_usage("invalid --function regex '%s': %s", function, PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
			status = CP_EXIT_USAGE;
		} else {
			cp_selection_log_error(conn, r, "reading the series");
		}
		goto out;
	}
	if (PQntuples(r) == 0) {
		char from[64], to[64];
		cp_selection_range_text(&o.sel, from, to);
		cp_log("no function %s '%s' in this selection from %s to %s", strpbrk(function, ".^$*+?()[]{}|\\") ? "matching" : "named",
		       function, from, to);
		goto out;
	}
	print_rows(r, format, sample_type, unit, step);
	if (!cp_log_results_written())
		status = CP_EXIT_OK;
out:
	PQclear(r);
	PQclear(types);
	PQfinish(conn);
	cp_selection_options_free(&o);
	return status;
}
