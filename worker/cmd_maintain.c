/* cmd_maintain: `cprof-worker maintain`: the store's upkeep (maintain.h) once, for cron or a
 * Kubernetes CronJob: partitions, compaction, rollup and retention per tier. `cprof-worker run`
 * does the same on its own (the tiers every minute, partitions and retention every hour). */
#define _GNU_SOURCE /* getopt_long */
#include <getopt.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <time.h>

#include "commands.h"
#include "cp_args.h"
#include "cp_time.h"
#include "maintain.h"

static const char maintain_usage[] =
	"usage: cprof-worker maintain [--pg CONNINFO] [--now T] [--retention-days N]\n"
	"                             [--hour-retention-days N] [--day-retention-days N]\n"
	"                             [--ahead-days N] [--compact-hours N]\n"
	"\n"
	"The store's upkeep, once:\n"
	"  1. compacts the minutes of the last N hours (--compact-hours, default 3; 0: none) up to\n"
	"     two minutes ago: a bucket and series written by several batches becomes one row;\n"
	"  2. rolls the hours closed two minutes ago up into the hour tier, and the days whose\n"
	"     hours are all rolled up into the day tier (each hour and day once, exact sums);\n"
	"  3. creates the partitions of today and the next days (--ahead-days, default 2);\n"
	"  4. retention, per tier, counted in UTC days back from today (today included); without\n"
	"     the option the tier is kept whole:\n"
	"       --retention-days N       minutes and profiles: daily partitions before the last N\n"
	"                                days are dropped (never minutes not yet rolled up)\n"
	"       --hour-retention-days N  the hour tier: monthly partitions that end before them\n"
	"       --day-retention-days N   the day tier: yearly partitions that end before them\n"
	"  --now T   the time to act at (RFC 3339 or unix nanoseconds; default: the clock), for\n"
	"            backfills and tests\n"
	"Safe to run from several places at once: one compacts and rolls up, the others skip.\n";

/* Prints where the rollup stands (cprof.rollup_state). */
static void print_rollup_state(PGconn *conn)
{
	PGresult *r = PQexec(conn, "SELECT coalesce(to_char(hours_done AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
				   "'-'), coalesce(to_char(days_done AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '-') "
				   "FROM cprof.rollup_state");
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		printf("hours to %s, days to %s", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
	else
		printf("state unknown");
	PQclear(r);
}

int cp_worker_maintain(int argc, char **argv)
{
	enum { O_PG = 256, O_RETENTION, O_HOUR_RETENTION, O_DAY_RETENTION, O_AHEAD, O_COMPACT, O_NOW, O_HELP };
	static const struct option longopts[] = {
		{"pg", required_argument, NULL, O_PG},
		{"retention-days", required_argument, NULL, O_RETENTION},
		{"hour-retention-days", required_argument, NULL, O_HOUR_RETENTION},
		{"day-retention-days", required_argument, NULL, O_DAY_RETENTION},
		{"ahead-days", required_argument, NULL, O_AHEAD},
		{"compact-hours", required_argument, NULL, O_COMPACT},
		{"now", required_argument, NULL, O_NOW},
		{"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0},
	};
	const char *pg = NULL;
	cp_maintain_options options = {.ahead_days = 2};
	long compact_hours = CP_MAINTAIN_COMPACT_HOURS;
	int64_t now = (int64_t)time(NULL);
	char err[1024];
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		long v = 0;
		int64_t nanos;
		switch (c) {
		case O_PG: pg = optarg; break;
		case O_RETENTION:
		case O_HOUR_RETENTION:
		case O_DAY_RETENTION:
		case O_AHEAD:
			if (cp_args_long(optarg, c == O_AHEAD ? 0 : 1, 36500, &v)) {
				fprintf(stderr, "cprof-worker maintain: %s wants a number of days (%d to 36500), not '%s'\n",
					argv[optind - 1], c == O_AHEAD ? 0 : 1, optarg);
				return CP_WORKER_USAGE;
			}
			*(c == O_RETENTION	  ? &options.retention_days
			  : c == O_HOUR_RETENTION ? &options.hour_retention_days
			  : c == O_DAY_RETENTION  ? &options.day_retention_days
						  : &options.ahead_days) = (int)v;
			break;
		case O_COMPACT:
			if (cp_args_long(optarg, 0, 24L * 3650, &compact_hours)) {
				fprintf(stderr, "cprof-worker maintain: --compact-hours wants a number of hours, not '%s'\n",
					optarg);
				return CP_WORKER_USAGE;
			}
			break;
		case O_NOW:
			if (cp_time_parse_instant(optarg, &nanos, err, sizeof err)) {
				fprintf(stderr, "cprof-worker maintain: --now: %s\n", err);
				return CP_WORKER_USAGE;
			}
			now = nanos / 1000000000;
			break;
		case O_HELP: fputs(maintain_usage, stdout); return CP_WORKER_OK;
		default:
			fprintf(stderr, "cprof-worker maintain: bad option '%s'\n%s", argv[optind - 1], maintain_usage);
			return CP_WORKER_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "cprof-worker maintain: unexpected argument '%s'\n%s", argv[optind], maintain_usage);
		return CP_WORKER_USAGE;
	}
	PGconn *conn = PQconnectdb(cp_worker_conninfo(pg));
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "cprof-worker maintain: cannot connect to PostgreSQL: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return CP_WORKER_FAILURE;
	}
	PQclear(PQexec(conn, "SET client_min_messages = warning"));
	cp_maintain_result result = {0, 0};
	cp_maintain_tiers_result tiers = {0, 0};
	int rc = cp_maintain_tiers(conn, (int)compact_hours, now, &tiers, err, sizeof err);
	if (rc == 0)
		rc = cp_maintain(conn, &options, now, &result, err, sizeof err);
	if (rc) {
		fprintf(stderr, "cprof-worker maintain: %s\n", err);
		PQfinish(conn);
		return CP_WORKER_FAILURE;
	}
	printf("partitions: %ld created, %ld dropped; rollup: %ld rows, ", result.created, result.dropped, tiers.rolled);
	print_rollup_state(conn);
	printf("; compaction: %ld rows removed\n", tiers.removed);
	PQfinish(conn);
	return CP_WORKER_OK;
}
