/* maintain: partitions created ahead and dropped past the retention; see maintain.h. */
#include "maintain.h"

#include <stdio.h>
#include <stdlib.h>

#define SECONDS_PER_DAY 86400

/* Days since 1970-01-01 (UTC) of a unix time, rounded down. */
static int64_t day_of(int64_t seconds)
{
	return seconds >= 0 ? seconds / SECONDS_PER_DAY : -((-seconds + SECONDS_PER_DAY - 1) / SECONDS_PER_DAY);
}

int64_t cp_maintain_horizon(int retention_days, int64_t now_seconds)
{
	if (retention_days <= 0)
		return INT64_MIN;
	return (day_of(now_seconds) - (retention_days - 1)) * SECONDS_PER_DAY;
}

/* Runs a query with integer parameters that returns one integer; -1 on error. */
static int query_long(PGconn *conn, const char *what, const char *sql, int nparams, const char *const *params,
		      long *out, char *err, size_t errlen)
{
	PGresult *r = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
	if (ok)
		*out = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	else
		snprintf(err, errlen, "%s: %s", what, PQerrorMessage(conn));
	PQclear(r);
	return ok ? 0 : -1;
}

int cp_maintain_compact_send(PGconn *conn, int64_t from_seconds, int64_t to_seconds, char *err, size_t errlen)
{
	char from[24], to[24];
	snprintf(from, sizeof from, "%lld", (long long)from_seconds);
	snprintf(to, sizeof to, "%lld", (long long)to_seconds);
	const char *params[] = {from, to};
	if (PQsendQueryParams(conn, "SELECT cprof.compact_minutes(to_timestamp($1::bigint), to_timestamp($2::bigint))", 2,
			      NULL, params, NULL, NULL, 0))
		return 0;
	snprintf(err, errlen, "compacting minutes: %s", PQerrorMessage(conn));
	return -1;
}

int cp_maintain_compact_done(PGconn *conn, int wait, long *removed, char *err, size_t errlen)
{
	if (!wait && (!PQconsumeInput(conn) || PQisBusy(conn)) && PQstatus(conn) == CONNECTION_OK)
		return 0;
	int ok = 0, results = 0;
	PGresult *r;
	while ((r = PQgetResult(conn))) {
		if (!results++ && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
			*removed = strtol(PQgetvalue(r, 0, 0), NULL, 10);
			ok = 1;
		}
		PQclear(r);
	}
	if (!ok) {
		snprintf(err, errlen, "compacting minutes: %s", PQerrorMessage(conn));
		return -1;
	}
	return 1;
}

int cp_maintain_compact(PGconn *conn, int64_t from_seconds, int64_t to_seconds, long *removed, char *err,
			size_t errlen)
{
	if (cp_maintain_compact_send(conn, from_seconds, to_seconds, err, errlen))
		return -1;
	return cp_maintain_compact_done(conn, 1, removed, err, errlen) == 1 ? 0 : -1;
}

void cp_maintain_compact_window(int compact_hours, int64_t now_seconds, int64_t *from_seconds, int64_t *to_seconds)
{
	int64_t minute = (now_seconds - 120) / 60 * 60;
	*to_seconds = minute;
	*from_seconds = minute - (int64_t)compact_hours * 3600;
}

int cp_maintain(PGconn *conn, const cp_maintain_options *options, int64_t now_seconds, cp_maintain_result *result,
		char *err, size_t errlen)
{
	*result = (cp_maintain_result){0, 0};
	int64_t today = day_of(now_seconds);
	char first[24], last[24];
	snprintf(first, sizeof first, "%lld", (long long)today);
	snprintf(last, sizeof last, "%lld", (long long)(today + options->ahead_days));
	const char *ensure[] = {first, last};
	if (query_long(conn, "creating partitions",
		       "SELECT cprof.ensure_partitions(DATE '1970-01-01' + $1::int, DATE '1970-01-01' + $2::int)", 2,
		       ensure, &result->created, err, errlen))
		return -1;
	if (options->retention_days <= 0)
		return 0;
	char keep[24];
	snprintf(keep, sizeof keep, "%lld", (long long)(cp_maintain_horizon(options->retention_days, now_seconds) /
							 SECONDS_PER_DAY));
	const char *drop[] = {keep};
	return query_long(conn, "dropping partitions",
			  "SELECT coalesce(sum(cprof.drop_partitions_before(table_name, DATE '1970-01-01' + $1::int)), 0) "
			  "FROM cprof.partitioned_tables",
			  1, drop, &result->dropped, err, errlen);
}
