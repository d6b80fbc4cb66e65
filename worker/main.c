/* cprof-worker: the ingest side of cprof. Subcommands:
 *   migrate   apply the SQL schema migrations (idempotent; safe from several workers at once)
 * Connection: --pg CONNINFO, else $CPROF_PG, else libpq's own PG* environment variables. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate.h"
#include "migrations.h"

enum { EXIT_OK = 0, EXIT_FAILURE_ = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
	"usage: cprof-worker COMMAND [--pg CONNINFO]\n"
	"\n"
	"commands:\n"
	"  migrate   apply cprof's schema migrations to the database (safe to run again)\n"
	"\n"
	"The database is --pg CONNINFO (a libpq connection string or URI), else $CPROF_PG, else\n"
	"libpq's defaults and PG* environment variables.\n";

static int cmd_migrate(const char *conninfo)
{
	PGconn *conn = PQconnectdb(conninfo ? conninfo : "");
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "cprof-worker migrate: cannot connect to PostgreSQL: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return EXIT_FAILURE_;
	}
	PQclear(PQexec(conn, "SET client_min_messages = warning"));
	char err[1024];
	cp_migrate_result result;
	int rc = cp_migrate(conn, cp_migrations, cp_migration_count, &result, err, sizeof err);
	PQfinish(conn);
	if (rc) {
		fprintf(stderr, "cprof-worker migrate: %s\n", err);
		return EXIT_FAILURE_;
	}
	printf("migrations: %zu applied, %zu already applied\n", result.applied, result.already_applied);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	const char *command = NULL, *conninfo = getenv("CPROF_PG");
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage_text, stdout);
			return EXIT_OK;
		} else if (strcmp(argv[i], "--pg") == 0 && i + 1 < argc) {
			conninfo = argv[++i];
		} else if (argv[i][0] != '-' && !command) {
			command = argv[i];
		} else {
			fprintf(stderr, "cprof-worker: unexpected argument '%s'\n%s", argv[i], usage_text);
			return EXIT_USAGE;
		}
	}
	if (command && strcmp(command, "migrate") == 0)
		return cmd_migrate(conninfo);
	fprintf(stderr, "cprof-worker: %s\n%s", command ? "unknown command" : "no command given", usage_text);
	return EXIT_USAGE;
}
