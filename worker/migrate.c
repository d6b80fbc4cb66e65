/* migrate: ordered, recorded, idempotent schema migrations; see migrate.h. */
#include "migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A key of our own for pg_advisory_lock: "cprof" in ASCII, then "migr". */
#define MIGRATE_LOCK_KEY "7165107111514105"

static int run(PGconn *conn, const char *sql, const char *what, char *err, size_t errlen)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
	if (!ok)
		snprintf(err, errlen, "%s: %s", what, PQerrorMessage(conn));
	PQclear(res);
	return ok ? 0 : -1;
}

static void trim_newline(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
}

/* Looks up a recorded migration: 1 with its checksum compared (*same), 0 when not recorded. */
static int recorded(PGconn *conn, const cp_migration *m, int *same, char *err, size_t errlen)
{
	char version[16];
	snprintf(version, sizeof version, "%d", m->version);
	const char *params[] = {version, m->sql};
	PGresult *res = PQexecParams(conn,
				     "SELECT checksum = md5($2::text) FROM cprof.schema_migrations WHERE version = $1::int",
				     2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "reading cprof.schema_migrations: %s", PQerrorMessage(conn));
		PQclear(res);
		return -1;
	}
	int found = PQntuples(res) == 1;
	if (found)
		*same = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return found;
}

static int apply(PGconn *conn, const cp_migration *m, char *err, size_t errlen)
{
	char what[128];
	snprintf(what, sizeof what, "migration %s", m->name);
	if (run(conn, "BEGIN", what, err, errlen))
		return -1;
	if (run(conn, m->sql, what, err, errlen))
		goto fail;
	char version[16];
	snprintf(version, sizeof version, "%d", m->version);
	const char *params[] = {version, m->name, m->sql};
	PGresult *res = PQexecParams(conn,
				     "INSERT INTO cprof.schema_migrations (version, name, checksum) "
				     "VALUES ($1::int, $2, md5($3::text))",
				     3, NULL, params, NULL, NULL, 0);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		snprintf(err, errlen, "%s: recording it: %s", what, PQerrorMessage(conn));
	PQclear(res);
	if (!ok)
		goto fail;
	return run(conn, "COMMIT", what, err, errlen);
fail:
	trim_newline(err);
	PQclear(PQexec(conn, "ROLLBACK"));
	return -1;
}

int cp_migrate(PGconn *conn, const cp_migration *migrations, size_t count, cp_migrate_result *result,
	       char *err, size_t errlen)
{
	*result = (cp_migrate_result){0};
	if (run(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", "taking the migration lock", err, errlen))
		return -1;
	int rc = run(conn,
		     "CREATE SCHEMA IF NOT EXISTS cprof;"
		     "CREATE TABLE IF NOT EXISTS cprof.schema_migrations ("
		     " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
		     " applied_at timestamptz NOT NULL DEFAULT now())",
		     "creating cprof.schema_migrations", err, errlen);
	for (size_t i = 0; i < count && rc == 0; i++) {
		const cp_migration *m = &migrations[i];
		int same = 0;
		int found = recorded(conn, m, &same, err, errlen);
		if (found < 0) {
			rc = -1;
		} else if (found && !same) {
			snprintf(err, errlen,
				 "migration %s was changed after it was applied: migrations are append-only; "
				 "add a new one instead",
				 m->name);
			rc = -1;
		} else if (found) {
			result->already_applied++;
		} else if (apply(conn, m, err, errlen)) {
			rc = -1;
		} else {
			result->applied++;
		}
	}
	char unlock_err[256];
	run(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", "releasing the migration lock", unlock_err,
	    sizeof unlock_err);
	if (rc)
		trim_newline(err);
	return rc;
}
