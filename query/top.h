/* top: the "top functions" report of cprof-query: rows of (function, flat, cum) for one sample
 * type, ranked as pprof ranks them, printed as pprof's -top table, TSV, CSV or JSON. The same
 * report serves profiles read from files and (later) selections answered by PostgreSQL.
 *
 * Ownership: a cp_top_report borrows its rows and strings from whoever built it. */
#ifndef CP_QUERY_TOP_H
#define CP_QUERY_TOP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cp_pprof.h"

typedef struct {
	cp_pstr name;
	int64_t flat, cum;
} cp_top_row;

typedef enum { CP_TOP_BY_FLAT, CP_TOP_BY_CUM } cp_top_order;
typedef enum { CP_TOP_TABLE, CP_TOP_TSV, CP_TOP_CSV, CP_TOP_JSON } cp_top_format;

typedef struct {
	cp_top_row *rows;
	size_t nrows;
	cp_pstr type, unit; /* NUL-terminated */
	int64_t total; /* sum of absolute sample values: the 100% of the percent columns */
	size_t nprofiles;
} cp_top_report;

/* Parses "flat"/"cum" and "table"/"tsv"/"csv"/"json"; -1 when unknown. */
int cp_top_parse_order(const char *s, cp_top_order *out);
int cp_top_parse_format(const char *s, cp_top_format *out);

/* The report options every command shares, parsed with a usage message on failure: 0, or the
 * exit status of a usage error. --format: table, tsv, csv or json; -n: a count, 0 for all. */
int cp_top_format_option(const char *value, cp_top_format *out);
int cp_top_limit_option(const char *value, size_t *out);

/* Ranks rows as pprof does: by |flat| (or |cum|) descending, then name, then the other value. */
void cp_top_sort(cp_top_row *rows, size_t n, cp_top_order order);

/* Prints the first limit rows (0: all). */
void cp_top_print(FILE *out, const cp_top_report *report, cp_top_format format, size_t limit);

/* Prints n reports, one per value groups[g] of the dimension group_by (a top split by service,
 * env, ...): tables one after the other under "group_by: value", TSV and CSV with a first
 * column group_by and one header, JSON as {"group_by": ..., "groups": [report + "group", ...]}.
 * group_by NULL: one report, as cp_top_print. limit applies to each report. */
void cp_top_print_groups(FILE *out, const cp_top_report *reports, size_t n, const char *group_by,
			 const char *const *groups, cp_top_format format, size_t limit);

#endif
