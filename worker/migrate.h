/* migrate: applies cprof's SQL migrations to a PostgreSQL database, in order, each once, each
 * in its own transaction, recorded in cprof.schema_migrations with a checksum. Concurrent
 * runs (several workers starting at once) serialize on an advisory lock, so running it again,
 * or from several places, is safe. A recorded migration whose text has changed since it was
 * applied is an error: migrations are append-only.
 *
 * Ownership: the caller owns the connection. */
#ifndef CP_WORKER_MIGRATE_H
#define CP_WORKER_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

#include "migrations.h"

typedef struct {
	size_t applied, already_applied;
} cp_migrate_result;

/* Returns 0, or -1 with a message naming the migration and PostgreSQL's error. */
int cp_migrate(PGconn *conn, const cp_migration *migrations, size_t count, cp_migrate_result *result,
	       char *err, size_t errlen);

#endif
