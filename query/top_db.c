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

/* The index of group among the n sorted group values; n when absent. */
static size_t find_group(const char *const *groups, size_t n, const char *group)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(groups[mid], group);
		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return n;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int cp_top_db(const cp_selection *sel, const char *group_by, cp_top_order order, cp_top_format format, size_t limit)
{
	int status = CP_EXIT_FAILURE;
	PGresult *types = NULL, *totals = NULL, *rows_result = NULL;
	cp_top_row *rows = NULL;
	size_t *row_group = NULL, *fill = NULL;
	cp_top_report *reports = NULL;
	const char **groups = NULL;
	PGconn *conn = cp_selection_connect(sel);
	if (!conn)
		goto out;
	const char *sample_type = cp_selection_sample_type(conn, sel, &types);
	if (!sample_type)
		goto out;
	totals = cp_selection_query(conn,
			     "SELECT group_value, total_abs, profiles, sample_unit FROM "
			     "cprof.totals($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) WHERE profiles > 0",
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
				  "cprof.top($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
				  sel, sample_type, &group_by, 1, "reading the functions");
	if (!rows_result)
		goto out;
	size_t n = (size_t)PQntuples(rows_result);
	rows = malloc((n + 1) * sizeof *rows);
	row_group = malloc((n + 1) * sizeof *row_group);
	fill = calloc(ngroups + 1, sizeof *fill);
	reports = calloc(ngroups, sizeof *reports);
	groups = calloc(ngroups, sizeof *groups);
	if (!rows || !row_group || !fill || !reports || !groups) {
		cp_log("out of memory");
		goto out;
	}
	for (size_t g = 0; g < ngroups; g++)
		groups[g] = value_or_empty(totals, (int)g, 0);
	qsort(groups, ngroups, sizeof *groups, compare_strings);
	/* rows counted per group, then placed group after group */
	for (size_t i = 0; i < n; i++) {
		row_group[i] = find_group(groups, ngroups, PQgetvalue(rows_result, (int)i, 0));
		fill[row_group[i]]++; /* a group without profiles (n) collects what it cannot have */
	}
	size_t at = 0;
	for (size_t g = 0; g <= ngroups; g++) {
		size_t count = fill[g];
		fill[g] = at;
		if (g < ngroups)
			reports[g].rows = rows + at, reports[g].nrows = count;
		at += count;
	}
	for (size_t i = 0; i < n; i++)
		rows[fill[row_group[i]]++] =
			(cp_top_row){{PQgetvalue(rows_result, (int)i, 1), (uint32_t)PQgetlength(rows_result, (int)i, 1)},
				     strtoll(PQgetvalue(rows_result, (int)i, 2), NULL, 10),
				     strtoll(PQgetvalue(rows_result, (int)i, 3), NULL, 10)};
	for (size_t t = 0; t < ngroups; t++) {
		size_t g = find_group(groups, ngroups, value_or_empty(totals, (int)t, 0));
		const char *unit = value_or_empty(totals, (int)t, 3);
		cp_top_sort(reports[g].rows, reports[g].nrows, order);
		reports[g].type = (cp_pstr){sample_type, (uint32_t)strlen(sample_type)};
		reports[g].unit = (cp_pstr){unit, (uint32_t)strlen(unit)};
		reports[g].total = strtoll(PQgetvalue(totals, (int)t, 1), NULL, 10);
		reports[g].nprofiles = (size_t)strtoull(PQgetvalue(totals, (int)t, 2), NULL, 10);
	}
	cp_top_print_groups(stdout, reports, ngroups, group_by, groups, format, limit);
	if (!cp_log_results_written())
		status = CP_EXIT_OK;
out:
	free(groups);
	free(reports);
	free(fill);
	free(row_group);
	free(rows);
	PQclear(rows_result);
	PQclear(totals);
	PQclear(types);
	PQfinish(conn);
	return status;
}
