/* top_db: `cprof-query top` over PostgreSQL; see top_db.h. */
#include "top_db.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "cp_log.h"

static const char *value_or_empty(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
}

int cp_top_db(const cp_selection *sel, const char *group_by, cp_top_order order, cp_top_format format, size_t limit)
{
	int status = CP_EXIT_FAILURE;
	PGresult *types = NULL, *totals = NULL, *rows_result = NULL;
	cp_top_row *rows = NULL;
	cp_top_report *reports = NULL;
	const char **groups = NULL;
	PGconn *conn = cp_selection_connect(sel);
	if (!conn)
		goto out;
	const char *sample_type = cp_selection_sample_type(conn, sel, &types);
	if (!sample_type)
		goto out;
	totals = cp_selection_query(conn,
			     "SELECT coalesce(group_value, ''), total_abs, profiles, sample_unit FROM "
			     "cprof.totals($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) WHERE profiles > 0 ORDER BY coalesce(group_value, '') COLLATE \"C\"",
			     sel, sample_type, &group_by, 1, "reading the totals");
	if (!totals)
		goto out;
	size_t ngroups = (size_t)PQntuples(totals);
	if (ngroups == 0) {
		cp_selection_log_empty(sel, "");
		goto out;
	}
	rows_result = cp_selection_query(conn,
				  "SELECT coalesce(group_value, ''), function_name, flat, cum FROM "
				  "cprof.top($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ORDER BY coalesce(group_value, '') COLLATE \"C\"",
				  sel, sample_type, &group_by, 1, "reading the functions");
	if (!rows_result)
		goto out;
	/* both ordered by group: each group's rows are the run of rows carrying its value */
	int n = PQntuples(rows_result), at = 0;
	rows = malloc(((size_t)n + 1) * sizeof *rows);
	reports = calloc(ngroups, sizeof *reports);
	groups = calloc(ngroups, sizeof *groups);
	if (!rows || !reports || !groups) {
		cp_log("out of memory");
		goto out;
	}
	for (size_t g = 0; g < ngroups; g++) {
		const char *unit = value_or_empty(totals, (int)g, 3);
		groups[g] = PQgetvalue(totals, (int)g, 0);
		while (at < n && strcmp(PQgetvalue(rows_result, at, 0), groups[g]) < 0)
			at++; /* facts of a group without profiles: none are expected */
		reports[g].rows = rows + at;
		for (; at < n && strcmp(PQgetvalue(rows_result, at, 0), groups[g]) == 0; at++)
			rows[at] = (cp_top_row){{PQgetvalue(rows_result, at, 1), (uint32_t)PQgetlength(rows_result, at, 1)},
						strtoll(PQgetvalue(rows_result, at, 2), NULL, 10),
						strtoll(PQgetvalue(rows_result, at, 3), NULL, 10)};
		reports[g].nrows = (size_t)(rows + at - reports[g].rows);
		cp_top_sort(reports[g].rows, reports[g].nrows, order);
		reports[g].type = (cp_pstr){sample_type, (uint32_t)strlen(sample_type)};
		reports[g].unit = (cp_pstr){unit, (uint32_t)strlen(unit)};
		reports[g].total = strtoll(PQgetvalue(totals, (int)g, 1), NULL, 10);
		reports[g].nprofiles = (size_t)strtoull(PQgetvalue(totals, (int)g, 2), NULL, 10);
	}
	cp_top_print_groups(stdout, reports, ngroups, group_by, groups, format, limit);
	if (!cp_log_results_written())
		status = CP_EXIT_OK;
out:
	free(groups);
	free(reports);
	free(rows);
	PQclear(rows_result);
	PQclear(totals);
	PQclear(types);
	PQfinish(conn);
	return status;
}
