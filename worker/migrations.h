/* migrations: the SQL migrations cprof-worker carries, generated at build time from
 * sql/NNN_name.sql (worker/embed-migrations.sh), in version order. Read-only static data. */
#ifndef CP_WORKER_MIGRATIONS_H
#define CP_WORKER_MIGRATIONS_H

#include <stddef.h>

typedef struct {
	int version;
	const char *name; /* "001_schema" */
	const char *sql;
} cp_migration;

extern const cp_migration cp_migrations[];
extern const size_t cp_migration_count;

#endif
