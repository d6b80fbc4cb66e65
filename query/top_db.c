/* top_db: `cprof-query top` over PostgreSQL; see top_db.h. */
#include "top_db.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "cp_log.h"
#include "cp_time.h"

const char *cp_top_db_default_sample_type(const char *profile_type)
{
	static const struct {
		const char *type, *sample_type;
	} defaults[] = {
		{"cpu", "cpu"}, {"heap", "inuse_space"}, {"allocs", "alloc_space"}, {"mutex", "delay"}, {"block", "delay"},
	};
	for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
		if (strcmp(profile_type, defaults[i].type) == 0)
			return defaults[i].sample_type;
	return profile_type;
}

/* Runs a read-API query with the selection's parameters ($1 from, $2 to, $3 profile type,
 * $4 sample type, $5 service, $6 env, $7 version, $8 zone, $9 labels). NULL after printing. */
static PGresult *select_rows(PGconn *conn, const char *sql, const cp_top_selection *sel, const char *sample_type,
			     const char *what)
{
	char from[64], to[64];
	cp_time_format(sel->from_nanos, from, sizeof from);
	cp_time_format(sel->to_nanos, to, sizeof to);
	const char *params[] = {from,	      to,	  sel->profile_type, sample_type,     sel->service,
				sel->env,     sel->version, sel->zone,	     sel->labels_json};
	PGresult *r = PQexecParams(conn, sql, 9, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		cp_log("%s: %s", what, PQerrorMessage(conn));
		PQclear(r);
		return NULL;
	}
	return r;
}

/* The sample type to report: the one asked for, else the profile type's usual one, else the only
 * one stored. NULL after printing why there is none (unknown service, nothing of the type). */
static const char *choose_sample_type(PGconn *conn, const cp_top_selection *sel, PGresult **keep)
{
	const char *params[] = {sel->profile_type, sel->service};
	PGresult *r = PQexecParams(conn, "SELECT sample_type FROM cprof.sample_types($1, $2)", 2, NULL, params, NULL,
				   NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		cp_log("reading the sample types: %s", PQerrorMessage(conn));
		PQclear(r);
		return NULL;
	}
	*keep = r;
	int n = PQntuples(r);
	if (n == 0) {
		PGresult *known = sel->service ? PQexecParams(conn,
							      "SELECT (SELECT count(*) FROM cprof.series WHERE service = $1), "
							      "(SELECT string_agg(service, ', ' ORDER BY service) FROM "
							      "(SELECT DISTINCT service FROM cprof.series LIMIT 50) s)",
							      1, NULL, params + 1, NULL, NULL, 0)
					       : NULL;
		if (known && PQresultStatus(known) == PGRES_TUPLES_OK && strcmp(PQgetvalue(known, 0, 0), "0") == 0)
			cp_log("no service '%s' is stored; the services are: %s", sel->service,
			       PQgetisnull(known, 0, 1) ? "(none)" : PQgetvalue(known, 0, 1));
		else
			cp_log("no %s profiles are stored%s%s", sel->profile_type, sel->service ? " for service " : "",
			       sel->service ? sel->service : "");
		PQclear(known);
		return NULL;
	}
	const char *want = sel->sample_type ? sel->sample_type : cp_top_db_default_sample_type(sel->profile_type);
	for (int i = 0; i < n; i++)
		if (strcmp(PQgetvalue(r, i, 0), want) == 0)
			return PQgetvalue(r, i, 0);
	if (!sel->sample_type && n == 1)
		return PQgetvalue(r, 0, 0);
	char list[512] = "";
	for (int i = 0, at = 0; i < n && at < (int)sizeof list; i++)
		at += snprintf(list + at, sizeof list - (size_t)at, "%s%s", i ? ", " : "", PQgetvalue(r, i, 0));
	cp_log("sample type '%s' is not stored for %s profiles%s%s; there are: %s", want, sel->profile_type,
	       sel->service ? " of " : "", sel->service ? sel->service : "", list);
	return NULL;
}

int cp_top_db(const cp_top_selection *sel, cp_top_order order, cp_top_format format, size_t limit)
{
	int status = CP_EXIT_FAILURE;
	PGresult *types = NULL, *totals = NULL, *rows_result = NULL;
	cp_top_row *rows = NULL;
	PGconn *conn = PQconnectdb(sel->conninfo);
	if (PQstatus(conn) != CONNECTION_OK) {
		cp_log("cannot connect to PostgreSQL: %s", PQerrorMessage(conn));
		goto out;
	}
	const char *sample_type = choose_sample_type(conn, sel, &types);
	if (!sample_type)
		goto out;
	totals = select_rows(conn, "SELECT total_abs, profiles, sample_unit FROM cprof.totals($1, $2, $3, $4, $5, $6, $7, $8, $9)",
			     sel, sample_type, "reading the totals");
	if (!totals)
		goto out;
	if (strtoll(PQgetvalue(totals, 0, 1), NULL, 10) == 0) {
		char from[64], to[64];
		cp_time_format(sel->from_nanos, from, sizeof from);
		cp_time_format(sel->to_nanos, to, sizeof to);
		cp_log("no %s profiles%s%s from %s to %s in this selection", sel->profile_type,
		       sel->service ? " of " : "", sel->service ? sel->service : "", from, to);
		goto out;
	}
	rows_result = select_rows(conn, "SELECT function_name, flat, cum FROM cprof.top($1, $2, $3, $4, $5, $6, $7, $8, $9)",
				  sel, sample_type, "reading the functions");
	if (!rows_result)
		goto out;
	size_t n = (size_t)PQntuples(rows_result);
	rows = malloc((n + 1) * sizeof *rows);
	if (!rows) {
		cp_log("out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		rows[i] = (cp_top_row){{PQgetvalue(rows_result, (int)i, 0), (uint32_t)PQgetlength(rows_result, (int)i, 0)},
				       strtoll(PQgetvalue(rows_result, (int)i, 1), NULL, 10),
				       strtoll(PQgetvalue(rows_result, (int)i, 2), NULL, 10)};
	cp_top_sort(rows, n, order);
	const char *unit = PQgetisnull(totals, 0, 2) ? "" : PQgetvalue(totals, 0, 2);
	cp_top_report report = {
		.rows = rows,
		.nrows = n,
		.type = {sample_type, (uint32_t)strlen(sample_type)},
		.unit = {unit, (uint32_t)strlen(unit)},
		.total = strtoll(PQgetvalue(totals, 0, 0), NULL, 10),
		.nprofiles = (size_t)strtoull(PQgetvalue(totals, 0, 1), NULL, 10),
	};
	cp_top_print(stdout, &report, format, limit);
	if (fflush(stdout) || ferror(stdout)) {
		cp_log("writing the result failed");
		goto out;
	}
	status = CP_EXIT_OK;
out:
	free(rows);
	PQclear(rows_result);
	PQclear(totals);
	PQclear(types);
	PQfinish(conn);
	return status;
}
