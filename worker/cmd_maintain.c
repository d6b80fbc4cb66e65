/* cmd_maintain: `cprof-worker maintain`: the partition maintenance (maintain.h) once, for cron
 * or a Kubernetes CronJob; `cprof-worker run --retention-days` does the same every hour. */
#define _GNU_SOURCE /* getopt_long */
#include <getopt.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <time.h>

#include "commands.h"
#include "cp_args.h"
#include "maintain.h"

static const char maintain_usage[] =
	"usage: cprof-worker maintain [--pg CONNINFO] [--retention-days N] [--ahead-days N]\n"
	"                             [--compact-hours N]\n"
	"\n"
	"Creates the daily partitions of today and the next days ahead (default 2), and with\n"
	"--retention-days N drops the partitions of days before the last N (UTC, today included).\n"
	"Without --retention-days nothing is dropped. Then compacts the minutes of the last N hours\n"
	"(default 3; 0: none) up to two minutes ago: a minute and series written by several batches\n"
	"becomes one row. Safe to run from several places at once.\n";

int cp_worker_maintain(int argc, char **argv)
{
	enum { O_PG = 256, O_RETENTION, O_AHEAD, O_COMPACT, O_HELP };
	static const struct option longopts[] = {
		{"pg", required_argument, NULL, O_PG},	      {"retention-days", required_argument, NULL, O_RETENTION},
		{"ahead-days", required_argument, NULL, O_AHEAD}, {"compact-hours", required_argument, NULL, O_COMPACT},
		{"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0},
	};
	const char *pg = NULL;
	cp_maintain_options options = {0, 2};
	long compact_hours = CP_MAINTAIN_COMPACT_HOURS;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		long v = 0;
		switch (c) {
		case O_PG: pg = optarg; break;
		case O_RETENTION:
		case O_AHEAD:
			if (cp_args_long(optarg, c == O_RETENTION ? 1 : 0, 3650, &v)) {
				fprintf(stderr, "cprof-worker maintain: %s wants a number of days (%d to 3650), not '%s'\n",
					argv[optind - 1], c == O_RETENTION ? 1 : 0, optarg);
				return CP_WORKER_USAGE;
			}
			if (c == O_RETENTION)
				options.retention_days = (int)v;
			else
				options.ahead_days = (int)v;
			break;
		case O_COMPACT:
			if (cp_args_long(optarg, 0, 24L * 3650, &compact_hours)) {
				fprintf(stderr, "cprof-worker maintain: --compact-hours wants a number of hours, not '%s'\n",
					optarg);
				return CP_WORKER_USAGE;
			}
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
	char err[1024];
	cp_maintain_result result;
	int64_t now = (int64_t)time(NULL), from, to;
	long compacted = 0;
	cp_maintain_compact_window((int)compact_hours, now, &from, &to);
	int rc = cp_maintain(conn, &options, now, &result, err, sizeof err);
	if (rc == 0 && compact_hours)
		rc = cp_maintain_compact(conn, from, to, &compacted, err, sizeof err);
	PQfinish(conn);
	if (rc) {
		fprintf(stderr, "cprof-worker maintain: %s\n", err);
		return CP_WORKER_FAILURE;
	}
	printf("partitions: %ld created, %ld dropped; compaction: %ld rows removed\n", result.created, result.dropped,
	       compacted);
	return CP_WORKER_OK;
}
