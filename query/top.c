/* top: ranking and printing of the top-functions report; see top.h. */
#include "top.h"

#include <stdlib.h>
#include <string.h>

#include "cells.h"
#include "cp_args.h"
#include "cp_log.h"
#include "cp_text.h"
#include "cp_units.h"

int cp_top_parse_order(const char *s, cp_top_order *out)
{
	if (strcmp(s, "flat") == 0)
		*out = CP_TOP_BY_FLAT;
	else if (strcmp(s, "cum") == 0)
		*out = CP_TOP_BY_CUM;
	else
		return -1;
	return 0;
}

int cp_top_parse_format(const char *s, cp_top_format *out)
{
	static const struct {
		const char *name;
		cp_top_format format;
	} formats[] = {{"table", CP_TOP_TABLE}, {"tsv", CP_TOP_TSV}, {"csv", CP_TOP_CSV}, {"json", CP_TOP_JSON}};
	for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
		if (strcmp(s, formats[i].name) == 0) {
			*out = formats[i].format;
			return 0;
		}
	}
	return -1;
}

static uint64_t magnitude(int64_t v)
{
	return v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
}

static int compare_names(const cp_top_row *a, const cp_top_row *b)
{
	size_t n = a->name.len < b->name.len ? a->name.len : b->name.len;
	int c = n ? memcmp(a->name.ptr, b->name.ptr, n) : 0;
	if (c)
		return c;
	return (a->name.len > b->name.len) - (a->name.len < b->name.len);
}

static int compare_desc(uint64_t a, uint64_t b)
{
	return (a < b) - (a > b);
}

static int by_flat(const void *pa, const void *pb)
{
	const cp_top_row *a = pa, *b = pb;
	int c = compare_desc(magnitude(a->flat), magnitude(b->flat));
	if (!c)
		c = compare_names(a, b);
	if (!c)
		c = compare_desc(magnitude(a->cum), magnitude(b->cum));
	return c;
}

static int by_cum(const void *pa, const void *pb)
{
	const cp_top_row *a = pa, *b = pb;
	int c = compare_desc(magnitude(a->cum), magnitude(b->cum));
	if (!c)
		c = compare_names(a, b);
	if (!c)
		c = compare_desc(magnitude(a->flat), magnitude(b->flat));
	return c;
}

int cp_top_format_option(const char *value, cp_top_format *out)
{
	return cp_top_parse_format(value, out) ? cp_log_usage("--format wants table, tsv, csv or json, not '%s'", value)
					       : 0;
}

int cp_top_limit_option(const char *value, size_t *out)
{
	return cp_args_size(value, out) ? cp_log_usage("-n wants a number >= 0, not '%s'", value) : 0;
}

void cp_top_sort(cp_top_row *rows, size_t n, cp_top_order order)
{
	if (n > 1)
		qsort(rows, n, sizeof *rows, order == CP_TOP_BY_CUM ? by_cum : by_flat);
}

static void print_table(FILE *out, const cp_top_report *r, size_t shown)
{
	char a[64], b[64], c[64], unit[32];
	int64_t shown_flat = 0;
	uint64_t min_value = 0;
	for (size_t i = 0; i < shown; i++) {
		uint64_t m = magnitude(r->rows[i].flat) ? magnitude(r->rows[i].flat) : magnitude(r->rows[i].cum);
		if (m && (!min_value || m < min_value))
			min_value = m;
		shown_flat += r->rows[i].flat;
	}
	const char *from = r->unit.ptr;
	cp_units_report_unit(min_value > INT64_MAX ? INT64_MAX : (int64_t)min_value, r->total, from, unit,
			     sizeof unit);

	fprintf(out, "Type: %.*s\n", (int)r->type.len, r->type.ptr);
	if (r->nprofiles > 1)
		fprintf(out, "Profiles: %zu (merged)\n", r->nprofiles);
	cp_units_percent(shown_flat, r->total, b, sizeof b);
	fprintf(out, "Showing nodes accounting for %s, %s of %s total\n",
		cp_units_label(shown_flat, from, unit, a, sizeof a), b + strspn(b, " "),
		cp_units_label(r->total, from, unit, c, sizeof c));
	if (shown < r->nrows)
		fprintf(out, "Showing top %zu nodes out of %zu\n", shown, r->nrows);
	fprintf(out, "%10s %5s%% %5s%% %10s %5s%%\n", "flat", "flat", "sum", "cum", "cum");

	int64_t sum = 0;
	for (size_t i = 0; i < shown; i++) {
		const cp_top_row *row = &r->rows[i];
		char flat[64], flat_pct[16], sum_pct[16], cum[64], cum_pct[16];
		sum += row->flat;
		fprintf(out, "%10s %s %s %10s %s  ", cp_units_label(row->flat, from, unit, flat, sizeof flat),
			cp_units_percent(row->flat, r->total, flat_pct, sizeof flat_pct),
			cp_units_percent(sum, r->total, sum_pct, sizeof sum_pct),
			cp_units_label(row->cum, from, unit, cum, sizeof cum),
			cp_units_percent(row->cum, r->total, cum_pct, sizeof cum_pct));
		cp_text_tsv(out, row->name.ptr, row->name.len);
		fputc('\n', out);
	}
}

/* The rows as TSV or CSV; group_by: a first column of that name holding group (NULL: none). */
static void print_delimited(FILE *out, const cp_top_report *r, size_t shown, int csv, const char *group_by,
			    const char *group, int header)
{
	if (header) {
		if (group_by)
			cp_cells_put(out, csv, group_by, 1);
		cp_cells_put(out, csv, "function", !group_by);
		cp_cells_put(out, csv, "flat", 0);
		cp_cells_put(out, csv, "cum", 0);
		fputc('\n', out);
	}
	for (size_t i = 0; i < shown; i++) {
		const cp_top_row *row = &r->rows[i];
		if (group_by)
			cp_cells_put(out, csv, group, 1);
		cp_cells_field(out, csv, row->name.ptr, row->name.len, !group_by);
		fprintf(out, csv ? ",%lld,%lld\n" : "\t%lld\t%lld\n", (long long)row->flat, (long long)row->cum);
	}
}

static double share(int64_t v, int64_t total)
{
	return total ? (double)v / (double)total * 100.0 : 0.0;
}

/* One report as a JSON object; group (not NULL) adds "group": its value. */
static void print_json(FILE *out, const cp_top_report *r, size_t shown, const char *group)
{
	fputc('{', out);
	if (group) {
		fputs("\"group\":", out);
		cp_text_json(out, group, strlen(group));
		fputc(',', out);
	}
	fputs("\"sample_type\":", out);
	cp_text_json(out, r->type.ptr, r->type.len);
	fputs(",\"unit\":", out);
	cp_text_json(out, r->unit.ptr, r->unit.len);
	fprintf(out, ",\"total\":%lld,\"profiles\":%zu,\"functions_total\":%zu,\"functions\":[",
		(long long)r->total, r->nprofiles, r->nrows);
	for (size_t i = 0; i < shown; i++) {
		const cp_top_row *row = &r->rows[i];
		fputs(i ? ",\n{\"function\":" : "\n{\"function\":", out);
		cp_text_json(out, row->name.ptr, row->name.len);
		fprintf(out, ",\"flat\":%lld,\"flat_pct\":%.4f,\"cum\":%lld,\"cum_pct\":%.4f}", (long long)row->flat,
			share(row->flat, r->total), (long long)row->cum, share(row->cum, r->total));
	}
	fputs("\n]}", out);
}

void cp_top_print(FILE *out, const cp_top_report *report, cp_top_format format, size_t limit)
{
	cp_top_print_groups(out, report, 1, NULL, NULL, format, limit);
}

void cp_top_print_groups(FILE *out, const cp_top_report *reports, size_t n, const char *group_by,
			 const char *const *groups, cp_top_format format, size_t limit)
{
	if (format == CP_TOP_JSON && group_by) {
		fputs("{\"group_by\":", out);
		cp_text_json(out, group_by, strlen(group_by));
		fputs(",\"groups\":[", out);
	}
	for (size_t g = 0; g < n; g++) {
		const cp_top_report *report = &reports[g];
		const char *group = group_by ? groups[g] : NULL;
		size_t shown = limit && limit < report->nrows ? limit : report->nrows;
		switch (format) {
		case CP_TOP_TABLE:
			if (group_by) {
				fprintf(out, "%s%s: ", g ? "\n" : "", group_by);
				cp_text_tsv(out, group, strlen(group));
				fputc('\n', out);
			}
			print_table(out, report, shown);
			break;
		case CP_TOP_TSV:
		case CP_TOP_CSV:
			print_delimited(out, report, shown, format == CP_TOP_CSV, group_by, group, g == 0);
			break;
		case CP_TOP_JSON:
			if (g)
				fputs(",\n", out);
			print_json(out, report, shown, group);
			break;
		}
	}
	if (format == CP_TOP_JSON)
		fputs(group_by ? "]}\n" : "\n", out);
}
