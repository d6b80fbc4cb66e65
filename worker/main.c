/* cprof-worker: the ingest side of cprof. Dispatches to one subcommand (commands.h):
 *   migrate   apply the SQL schema migrations (idempotent; safe from several workers at once)
 *   load      store pprof files directly, as the ingest loop stores what it consumes
 *   run       the ingest loop: Kafka to PostgreSQL, exactly once
 *   maintain  partitions created ahead and dropped past the retention
 * Connection: --pg CONNINFO, else $CPROF_PG, else libpq's own PG* environment variables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

static const char usage_text[] =
	"usage: cprof-worker COMMAND [OPTIONS]\n"
	"\n"
	"commands:\n"
	"  migrate   apply cprof's schema migrations to the database (safe to run again)\n"
	"  load      store pprof files in the database, as the worker stores what it consumes\n"
	"  run       consume profile uploads from Kafka and store them, exactly once\n"
	"  maintain  create the coming days' partitions; drop those past a retention\n"
	"\n"
	"Every command takes --pg CONNINFO (a libpq connection string or URI); without it, $CPROF_PG,\n"
	"else libpq's defaults and PG* environment variables. 'cprof-worker COMMAND --help' for more.\n";

const char *cp_worker_conninfo(const char *flag_value)
{
	if (flag_value)
		return flag_value;
	const char *env = getenv("CPROF_PG");
	return env ? env : "";
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_text, stderr);
		return CP_WORKER_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		fputs(usage_text, stdout);
		return CP_WORKER_OK;
	}
	/* The connection may also come first: cprof-worker --pg X migrate. */
	const char *pg_first = NULL;
	if (strcmp(argv[1], "--pg") == 0 && argc >= 4) {
		pg_first = argv[2];
		argv += 2;
		argc -= 2;
	}
	if (pg_first)
		setenv("CPROF_PG", pg_first, 1);
	if (strcmp(argv[1], "migrate") == 0)
		return cp_worker_migrate(argc - 1, argv + 1);
	if (strcmp(argv[1], "load") == 0)
		return cp_worker_load(argc - 1, argv + 1);
	if (strcmp(argv[1], "run") == 0)
		return cp_worker_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "maintain") == 0)
		return cp_worker_maintain(argc - 1, argv + 1);
	fprintf(stderr, "cprof-worker: unknown command '%s'\n%s", argv[1], usage_text);
	return CP_WORKER_USAGE;
}
