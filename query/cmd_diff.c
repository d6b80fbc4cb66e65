/* cmd_diff: `cprof-query diff`: what changed between two selections of stored data (a base and
 * a target: envs, versions, zones, labels or time windows), through the read API's cprof.diff
 * (sql/005_rollups.sql), which Grafana calls too: each function's share of its side's total and
 * rate per profiled second, ranked by the change of share, new and vanished functions flagged,
 * and the significance of each change from the per-bucket variation of the shares. */
#define _GNU_SOURCE /* getopt_long */
#include <getopt.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cells.h"
#include "commands.h"
#include "cp_log.h"
#include "cp_text.h"
#include "cp_time.h"
#include "cp_units.h"
#include "selection.h"
#include "top.h"

static const char diff_usage[] =
	"usage: cprof-query diff --base SELECTOR --target SELECTOR [selection] [options]\n"
	"\n"
	"What changed from a base selection to a target selection of what PostgreSQL stores: each\n"
	"function's share of its side's total and its rate per profiled second, ranked by the\n"
	"change of share, with new and vanished functions flagged and the significance of the\n"
	"change. Examples:\n"
	"  cprof-query diff --service auth --since 1d --base env=production --target env=canary\n"
	"  cprof-query diff --service auth --since 1w --base version=1.4 --target version=1.5\n"
	"  cprof-query diff --service auth --base since=2w,until=1w --target since=1w\n"
	"\n"
	"SELECTOR: comma-separated KEY=VALUE terms (the option may be repeated): env, version, zone,\n"
	"since, until (times as --since takes them) and label.KEY. A side's term replaces the shared\n"
	"option of the same name for that side; labels add to the shared --label ones.\n"
	"\n"
	"Significance: the range of each side is cut into buckets (--bucket; default: 1d when the\n"
	"shorter side spans 7 days or more, 1h from 6 hours, else 1m) and a function's share of each\n"
	"bucket's total (0 where it is absent) is compared between the sides with Welch's t-test;\n"
	"p is two-sided, q the Benjamini-Hochberg adjustment over all the functions compared, and a\n"
	"change is significant when q < 0.05 (each side needs 2 buckets with profiles, else p is -).\n"
	"Only functions whose mean share of the two sides is at least --test-share are tested (and\n"
	"counted in q); the others are listed with p and q '-': hundreds of tiny functions that\n"
	"could never be significant would otherwise dilute the q of those that can.\n"
	"\n"
	"options:\n"
	"  --base SELECTOR, --target SELECTOR   the two sides (both required)\n"
	"  --by flat|cum        compare flat (default) or cum values\n"
	"  --bucket DURATION    the bucket of the significance test, a whole number of minutes\n"
	"  --test-share F       the least mean share of a function tested (default 0.005, the\n"
	"                       node fraction below which pprof hides a node; 0 tests all)\n"
	"  -n N                 print the first N functions (default 20; 0 prints all)\n"
	"  --format FORMAT      table (default), tsv, csv or json\n"
	"  --help               this text\n"
	"\n"
	"selection (shared by both sides):\n"
	"%s"
	"\n"
	"tsv and csv columns: function, base, target (summed values), base_share, target_share\n"
	"(fractions of each side's total of absolute values), delta (target_share - base_share),\n"
	"base_rate, target_rate (per profiled second), p_value, q_value, significant (yes|no),\n"
	"status (new, vanished or empty).\n";

#define MAX_TERMS 64

typedef struct {
	cp_selection_options side[2]; /* base, target */
	char *terms[2][MAX_TERMS];
	size_t nterms[2];
	char *copies[2 * MAX_TERMS]; /* the selector strings, split in place */
	size_t ncopies;
	const char *by;
	long long bucket_seconds; /* 0: the read API's choice */
	const char *test_share;   /* the least mean share of a function tested, as text */
	double test_share_value;
	cp_top_format format;
	size_t limit;
} diff_options;

static const char *const side_name[2] = {"base", "target"};

/* Applies one KEY=VALUE term of a side's selector. -1 after printing a usage error. */
static int apply_term(cp_selection_options *side, const char *flag, char *term)
{
	char *eq = strchr(term, '=');
	if (!eq || eq == term) {
		cp_log_usage("%s: '%s' is not KEY=VALUE (keys: env, version, zone, since, until, label.KEY)", flag, term);
		return -1;
	}
	static const struct {
		const char *key;
		int code;
	} keys[] = {{"env", CP_SEL_ENV},     {"version", CP_SEL_VERSION}, {"zone", CP_SEL_ZONE},
		    {"since", CP_SEL_SINCE}, {"until", CP_SEL_UNTIL}};
	size_t key_len = (size_t)(eq - term);
	if (key_len > 6 && strncmp(term, "label.", 6) == 0)
		return cp_selection_add_label(side, term + 6, flag);
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (strlen(keys[i].key) != key_len || strncmp(term, keys[i].key, key_len) != 0)
			continue;
		if (keys[i].code == CP_SEL_SINCE || keys[i].code == CP_SEL_UNTIL) {
			char err[256];
			int64_t t;
			if (cp_time_parse_since(eq + 1, cp_time_now(), &t, err, sizeof err)) {
				cp_log_usage("%s: '%s': %s", flag, term, err);
				return -1;
			}
		}
		cp_selection_option(side, keys[i].code, eq + 1);
		return 0;
	}
	cp_log_usage("%s: unknown key '%.*s' in '%s' (keys: env, version, zone, since, until, label.KEY)", flag,
		     (int)key_len, term, term);
	return -1;
}

/* Returns -1 to go on, or the exit status to return. */
static int parse_options(int argc, char **argv, diff_options *o)
{
	enum { OPT_BASE = 256, OPT_TARGET, OPT_BY, OPT_BUCKET, OPT_TEST_SHARE, OPT_FORMAT, OPT_HELP };
	static const struct option longopts[] = {
		{"base", required_argument, NULL, OPT_BASE},	 {"target", required_argument, NULL, OPT_TARGET},
		{"by", required_argument, NULL, OPT_BY},	 {"bucket", required_argument, NULL, OPT_BUCKET},
		{"format", required_argument, NULL, OPT_FORMAT}, {"help", no_argument, NULL, OPT_HELP},
		{"test-share", required_argument, NULL, OPT_TEST_SHARE},
		CP_SELECTION_LONGOPTS,				 {NULL, 0, NULL, 0},
	};
	*o = (diff_options){.by = "flat", .limit = 20, .test_share = "0.005", .test_share_value = 0.005};
	cp_selection_options_init(&o->side[0]);
	cp_selection_options_init(&o->side[1]);
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":n:", longopts, NULL)) != -1) {
		int taken = cp_selection_option(&o->side[0], c, optarg);
		if (taken < 0)
			return CP_EXIT_USAGE;
		if (taken > 0) {
			cp_selection_option(&o->side[1], c, optarg);
			continue;
		}
		switch (c) {
		case OPT_BASE:
		case OPT_TARGET: {
			int s = c == OPT_TARGET;
			char *copy = strdup(optarg), *save = NULL;
			if (!copy || o->ncopies == sizeof o->copies / sizeof o->copies[0]) {
				free(copy);
				return cp_log_usage("%s", "too many selectors");
			}
			o->copies[o->ncopies++] = copy;
			for (char *term = strtok_r(copy, ",", &save); term; term = strtok_r(NULL, ",", &save)) {
				if (o->nterms[s] == MAX_TERMS)
					return cp_log_usage("--%s: more than %d terms", side_name[s], MAX_TERMS);
				o->terms[s][o->nterms[s]++] = term;
			}
			break;
		}
		case OPT_BY:
			if (strcmp(optarg, "flat") && strcmp(optarg, "cum"))
				return cp_log_usage("--by wants flat or cum, not '%s'", optarg);
			o->by = optarg;
			break;
		case OPT_BUCKET:
			if (cp_selection_minutes_option("--bucket", optarg, &o->bucket_seconds))
				return CP_EXIT_USAGE;
			break;
		case OPT_TEST_SHARE: {
			char *end;
			double v = strtod(optarg, &end);
			if (end == optarg || *end || !(v >= 0 && v <= 1))
				return cp_log_usage("--test-share wants a fraction from 0 to 1, not '%s'", optarg);
			o->test_share = optarg;
			o->test_share_value = v;
			break;
		}
		case OPT_FORMAT:
			if (cp_top_format_option(optarg, &o->format))
				return CP_EXIT_USAGE;
			break;
		case 'n':
			if (cp_top_limit_option(optarg, &o->limit))
				return CP_EXIT_USAGE;
			break;
		case OPT_HELP: printf(diff_usage, cp_selection_usage); return CP_EXIT_OK;
		case ':': return cp_log_usage("option %s needs a value", argv[optind - 1]);
		default: return cp_log_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cp_log_usage("unexpected argument '%s'", argv[optind]);
	for (int s = 0; s < 2; s++) {
		char flag[16];
		snprintf(flag, sizeof flag, "--%s", side_name[s]);
		if (!o->nterms[s])
			return cp_log_usage("say what to compare: --base SELECTOR and --target SELECTOR, e.g. "
					    "--base env=production --target env=canary");
		for (size_t i = 0; i < o->nterms[s]; i++)
			if (apply_term(&o->side[s], flag, o->terms[s][i]))
				return CP_EXIT_USAGE;
		if (cp_selection_options_finish(&o->side[s]))
			return CP_EXIT_USAGE;
	}
	return -1;
}

static void free_options(diff_options *o)
{
	cp_selection_options_free(&o->side[0]);
	cp_selection_options_free(&o->side[1]);
	for (size_t i = 0; i < o->ncopies; i++)
		free(o->copies[i]);
}

/* A side's totals: profiles, total of absolute values, profiled nanoseconds and unit. */
typedef struct {
	long long profiles, total_abs, nanos;
	char unit[64];
} side_totals;

static int read_totals(PGconn *conn, const cp_selection *sel, const char *sample_type, int s, side_totals *t)
{
	PGresult *r = cp_selection_query(conn,
					 "SELECT profiles, total_abs, profiled_nanos, coalesce(sample_unit, '') FROM "
					 "cprof.totals($1, $2, $3, $4, $5, $6, $7, $8, $9)",
					 sel, sample_type, NULL, 0, "reading the totals");
	if (!r)
		return -1;
	t->profiles = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	t->total_abs = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	t->nanos = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
	snprintf(t->unit, sizeof t->unit, "%s", PQgetvalue(r, 0, 3));
	PQclear(r);
	if (t->profiles == 0) {
		char what[32];
		snprintf(what, sizeof what, "%s selects no profiles: ", side_name[s]);
		cp_selection_log_empty(sel, what);
		return -1;
	}
	return 0;
}

/* The bucket of the significance test: the one asked for, else the read API's choice. */
static int resolve_bucket(PGconn *conn, const diff_options *o, long long *seconds)
{
	char asked[32], range[2][2][64];
	snprintf(asked, sizeof asked, "%lld seconds", (long long)o->bucket_seconds);
	for (int s = 0; s < 2; s++)
		cp_selection_range_text(&o->side[s].sel, range[s][0], range[s][1]);
	const char *params[] = {o->bucket_seconds ? asked : NULL, range[0][0], range[0][1], range[1][0], range[1][1]};
	PGresult *r = PQexecParams(conn,
				   "SELECT extract(epoch FROM coalesce($1::interval, cprof.diff_bucket(least("
				   "$3::timestamptz - $2::timestamptz, $5::timestamptz - $4::timestamptz))))::bigint",
				   5, NULL, params, NULL, NULL, 0);
	int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
	if (ok)
		*seconds = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	else
		cp_log("choosing the bucket: %s", PQerrorMessage(conn));
	PQclear(r);
	return ok ? 0 : -1;
}

enum { COL_NAME, COL_BASE, COL_TARGET, COL_BASE_SHARE, COL_TARGET_SHARE, COL_DELTA, COL_BASE_RATE, COL_TARGET_RATE,
       COL_P, COL_Q, COL_SIGNIFICANT, COL_STATUS, NCOLS };
static const char *const column_names[NCOLS] = {"function",   "base",	     "target",	"base_share",
						"target_share", "delta",     "base_rate", "target_rate",
						"p_value",    "q_value",   "significant", "status"};

static double cell(const PGresult *r, int row, int col)
{
	return strtod(PQgetvalue(r, row, col), NULL);
}

static void print_delimited(const PGresult *r, int shown, int csv)
{
	for (int c = 0; c < NCOLS; c++)
		cp_cells_put(stdout, csv, column_names[c], c == 0);
	putchar('\n');
	for (int i = 0; i < shown; i++) {
		cp_cells_put(stdout, csv, PQgetvalue(r, i, COL_NAME), 1);
		cp_cells_put(stdout, csv, PQgetvalue(r, i, COL_BASE), 0);
		cp_cells_put(stdout, csv, PQgetvalue(r, i, COL_TARGET), 0);
		for (int c = COL_BASE_SHARE; c <= COL_Q; c++)
			cp_cells_number(stdout, csv, cell(r, i, c), c >= COL_P ? 3 : 6, PQgetisnull(r, i, c));
		cp_cells_put(stdout, csv, PQgetvalue(r, i, COL_SIGNIFICANT)[0] == 't' ? "yes" : "no", 0);
		cp_cells_put(stdout, csv, PQgetvalue(r, i, COL_STATUS), 0);
		putchar('\n');
	}
}

static void json_number(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		fputs("null", stdout);
	else
		printf("%.9g", cell(r, row, col));
}

static void print_json(const PGresult *r, int shown, const char *sample_type, const side_totals *t,
		       long long bucket, const diff_options *o)
{
	fputs("{\"sample_type\":", stdout);
	cp_text_json(stdout, sample_type, strlen(sample_type));
	fputs(",\"unit\":", stdout);
	cp_text_json(stdout, t[0].unit, strlen(t[0].unit));
	printf(",\"by\":\"%s\",\"bucket_seconds\":%lld", o->by, bucket);
	for (int s = 0; s < 2; s++)
		printf(",\"%s\":{\"profiles\":%lld,\"total\":%lld,\"profiled_seconds\":%.9g}", side_name[s], t[s].profiles,
		       t[s].total_abs, (double)t[s].nanos / 1e9);
	printf(",\"functions_total\":%d,\"functions\":[", PQntuples(r));
	for (int i = 0; i < shown; i++) {
		fputs(i ? ",\n{\"function\":" : "\n{\"function\":", stdout);
		cp_text_json(stdout, PQgetvalue(r, i, COL_NAME), (size_t)PQgetlength(r, i, COL_NAME));
		printf(",\"base\":%s,\"target\":%s", PQgetvalue(r, i, COL_BASE), PQgetvalue(r, i, COL_TARGET));
		for (int c = COL_BASE_SHARE; c <= COL_Q; c++) {
			printf(",\"%s\":", column_names[c]);
			json_number(r, i, c);
		}
		printf(",\"significant\":%s,\"status\":\"%s\"}",
		       PQgetvalue(r, i, COL_SIGNIFICANT)[0] == 't' ? "true" : "false", PQgetvalue(r, i, COL_STATUS));
	}
	fputs("\n]}\n", stdout);
}

/* A rate per second in the report's unit ("1.20s/s", "512kB/s"), or "-". */
static const char *rate_text(const PGresult *r, int row, int col, const char *unit, char *out, size_t len)
{
	if (PQgetisnull(r, row, col))
		return "-";
	char label[48];
	cp_units_label((int64_t)llround(cell(r, row, col)), unit, "minimum", label, sizeof label);
	snprintf(out, len, "%s/s", label);
	return out;
}

static void print_table(const PGresult *r, int shown, const char *sample_type, const side_totals *t,
			long long bucket, const diff_options *o)
{
	printf("Type: %s, compared by %s: each function's share of its side's total\n", sample_type, o->by);
	for (int s = 0; s < 2; s++) {
		char total[48], profiled[48];
		printf("%-7s", side_name[s]);
		for (size_t i = 0; i < o->nterms[s]; i++)
			printf("%s%s", i ? "," : "", o->terms[s][i]);
		printf(": %lld profiles, %s total, %s profiled\n", t[s].profiles,
		       cp_units_label(t[s].total_abs, t[s].unit, "minimum", total, sizeof total),
		       cp_units_label(t[s].nanos, "nanoseconds", "minimum", profiled, sizeof profiled));
	}
	int tested = 0;
	for (int i = 0; i < PQntuples(r); i++)
		tested += !PQgetisnull(r, i, COL_P);
	printf("Significance: Welch's t-test on the shares per %lld-minute bucket of the %d functions with\n"
	       "a mean share of at least %.3g%%; significant when the Benjamini-Hochberg q < 0.05\n",
	       bucket / 60, tested, o->test_share_value * 100);
	if (shown < PQntuples(r))
		printf("Showing the top %d changes out of %d\n", shown, PQntuples(r));
	printf("%8s %8s %8s %11s %11s %8s %4s  %s\n", "base%", "target%", "change", "base/s", "target/s", "q", "sig",
	       "function");
	for (int i = 0; i < shown; i++) {
		char base_rate[64], target_rate[64], q[16];
		if (PQgetisnull(r, i, COL_Q))
			strcpy(q, "-");
		else
			snprintf(q, sizeof q, "%.2g", cell(r, i, COL_Q));
		printf("%7.2f%% %7.2f%% %+8.2f %11s %11s %8s %4s  ", cell(r, i, COL_BASE_SHARE) * 100,
		       cell(r, i, COL_TARGET_SHARE) * 100, cell(r, i, COL_DELTA) * 100,
		       rate_text(r, i, COL_BASE_RATE, t[0].unit, base_rate, sizeof base_rate),
		       rate_text(r, i, COL_TARGET_RATE, t[1].unit, target_rate, sizeof target_rate), q,
		       PQgetvalue(r, i, COL_SIGNIFICANT)[0] == 't' ? "yes" : "no");
		cp_text_tsv(stdout, PQgetvalue(r, i, COL_NAME), (size_t)PQgetlength(r, i, COL_NAME));
		const char *status = PQgetvalue(r, i, COL_STATUS);
		printf("%s%s%s\n", *status ? " (" : "", status, *status ? ")" : "");
	}
}

int cp_cmd_diff(int argc, char **argv)
{
	diff_options o;
	cp_log_init("cprof-query diff");
	int status = parse_options(argc, argv, &o);
	if (status >= 0) {
		free_options(&o);
		return status;
	}
	status = CP_EXIT_FAILURE;
	PGresult *types = NULL, *r = NULL;
	PGconn *conn = cp_selection_connect(&o.side[0].sel);
	if (!conn)
		goto out;
	const char *sample_type = cp_selection_sample_type(conn, &o.side[0].sel, &types);
	side_totals totals[2];
	long long bucket;
	if (!sample_type || read_totals(conn, &o.side[0].sel, sample_type, 0, &totals[0]) ||
	    read_totals(conn, &o.side[1].sel, sample_type, 1, &totals[1]) || resolve_bucket(conn, &o, &bucket))
		goto out;
	char range[2][2][64], bucket_text[32];
	const cp_selection *b = &o.side[0].sel, *t = &o.side[1].sel;
	cp_selection_range_text(b, range[0][0], range[0][1]);
	cp_selection_range_text(t, range[1][0], range[1][1]);
	snprintf(bucket_text, sizeof bucket_text, "%lld seconds", bucket);
	const char *params[] = {b->profile_type, sample_type,	 b->service,	range[0][0], range[0][1], b->env,
				b->version,	 b->zone,	 b->labels_json, range[1][0], range[1][1], t->env,
				t->version,	 t->zone,	 t->labels_json, o.by,	      bucket_text, o.test_share};
	r = PQexecParams(conn,
			 "SELECT function_name, base, target, base_share, target_share, delta, base_rate, target_rate, "
			 "p_value, q_value, significant, status FROM cprof.diff($1, $2, $3, $4, $5, $6, $7, $8, $9, "
			 "$10, $11, $12, $13, $14, $15, $16, $17::interval, $18::float8)",
			 18, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		cp_selection_log_error(conn, r, "comparing");
		goto out;
	}
	int shown = o.limit && o.limit < (size_t)PQntuples(r) ? (int)o.limit : PQntuples(r);
	if (o.format == CP_TOP_TABLE)
		print_table(r, shown, sample_type, totals, bucket, &o);
	else if (o.format == CP_TOP_JSON)
		print_json(r, shown, sample_type, totals, bucket, &o);
	else
		print_delimited(r, shown, o.format == CP_TOP_CSV);
	if (!cp_log_results_written())
		status = CP_EXIT_OK;
out:
	PQclear(r);
	PQclear(types);
	PQfinish(conn);
	free_options(&o);
	return status;
}
