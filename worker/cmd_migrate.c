/* cmd_migrate: `cprof-worker migrate`: applies the embedded migrations (migrate.h). */
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "migrate.h"
#include "migrations.h"

int cp_worker_migrate(int argc, char **argv)
{
	const char *pg = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--pg") == 0 && i + 1 < argc) {
			pg = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0) {
			puts("usage: cprof-worker migrate [--pg CONNINFO]\n\nApplies cprof's schema migrations, "
			     "each once, in order; safe to run again and from several workers at once.");
			return CP_WORKER_OK;
		} else {
			fprintf(stderr, "cprof-worker migrate: unexpected argument '%s'\n", argv[i]);
			return CP_WORKER_USAGE;
		}
	}
	PGconn *conn = PQconnectdb(cp_worker_conninfo(pg));
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "cprof-worker migrate: cannot connect to PostgreSQL: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return CP_WORKER_FAILURE;
	}
	PQclear(PQexec(conn, "SET client_min_messages = warning"));
	char err[1024];
	cp_migrate_result result;
	int rc = cp_migrate(conn, cp_migrations, cp_migration_count, &result, err, sizeof err);
	PQfinish(conn);
	if (rc) {
		fprintf(stderr, "cprof-worker migrate: %s\n", err);
		return CP_WORKER_FAILURE;
	}
	printf("migrations: %zu applied, %zu already applied\n", result.applied, result.already_applied);
	return CP_WORKER_OK;
}
