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

/* The minutes the compaction covers and where the rollup stops, at now_seconds. */
static void tiers_window(int compact_hours, int64_t now_seconds, int64_t *from_seconds, int64_t *to_seconds)
{
	int64_t minute = (now_seconds - CP_MAINTAIN_SETTLE_SECONDS) / 60 * 60;
	*to_seconds = minute;
	*from_seconds = minute - (int64_t)compact_hours * 3600;
}

int cp_maintain_tiers_send(PGconn *conn, int compact_hours, int64_t now_seconds, char *err, size_t errlen)
{
	int64_t from_seconds, to_seconds;
	tiers_window(compact_hours, now_seconds, &from_seconds, &to_seconds);
	char from[24], to[24];
	snprintf(from, sizeof from, "%lld", (long long)from_seconds);
	snprintf(to, sizeof to, "%lld", (long long)to_seconds);
	const char *params[] = {from, to};
	if (PQsendQueryParams(conn,
			      "SELECT removed, rolled FROM cprof.maintain_tiers(to_timestamp($1::bigint), "
			      "to_timestamp($2::bigint), to_timestamp($2::bigint))",
			      2, NULL, params, NULL, NULL, 0))
		return 0;
	snprintf(err, errlen, "compacting and rolling up: %s", PQerrorMessage(conn));
	return -1;
}

int cp_maintain_tiers_done(PGconn *conn, int wait, cp_maintain_tiers_result *result, char *err, size_t errlen)
{
	if (!wait && (!PQconsumeInput(conn) || PQisBusy(conn)) && PQstatus(conn) == CONNECTION_OK)
		return 0;
	int ok = 0, results = 0;
	PGresult *r;
	while ((r = PQgetResult(conn))) {
		if (!results++ && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
			result->removed = strtol(PQgetvalue(r, 0, 0), NULL, 10);
			result->rolled = strtol(PQgetvalue(r, 0, 1), NULL, 10);
			ok = 1;
		}
		PQclear(r);
	}
	if (!ok) {
		snprintf(err, errlen, "compacting and rolling up: %s", PQerrorMessage(conn));
		return -1;
	}
	return 1;
}

int cp_maintain_tiers(PGconn *conn, int compact_hours, int64_t now_seconds, cp_maintain_tiers_result *result,
		      char *err, size_t errlen)
{
	if (cp_maintain_tiers_send(conn, compact_hours, now_seconds, err, errlen))
		return -1;
	return cp_maintain_tiers_done(conn, 1, result, err, errlen) == 1 ? 0 : -1;
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
	if (options->retention_days <= 0 && options->hour_retention_days <= 0 && options->day_retention_days <= 0)
		return 0;
	char keep[3][24];
	const char *drop[3];
	int days[3] = {options->retention_days, options->hour_retention_days, options->day_retention_days};
	for (int i = 0; i < 3; i++) {
		drop[i] = NULL; /* SQL NULL: this tier is kept whole */
		if (days[i] > 0) {
			snprintf(keep[i], sizeof keep[i], "%lld",
				 (long long)(cp_maintain_horizon(days[i], now_seconds) / SECONDS_PER_DAY));
			drop[i] = keep[i];
		}
	}
	return query_long(conn, "dropping partitions",
			  "SELECT cprof.apply_retention(DATE '1970-01-01' + $1::int, DATE '1970-01-01' + $2::int, "
			  "DATE '1970-01-01' + $3::int)",
			  3, drop, &result->dropped, err, errlen);
}
