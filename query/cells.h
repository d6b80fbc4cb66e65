/* cells: one row of a report as TSV or CSV cells, escaped as `top` escapes names (TSV: \\ \t
 * \n \r; CSV: RFC 4180 quoting), for every delimited report of cprof-query (top, diff, series,
 * ls).
 *
 * Ownership: writes to the caller's stream; keeps nothing. */
#ifndef CP_QUERY_CELLS_H
#define CP_QUERY_CELLS_H

#include <stddef.h>
#include <stdio.h>


/* Writes s (len bytes) as a cell of a TSV (csv 0) or CSV row, after a separator unless it is
 * the first. */
void cp_cells_field(FILE *out, int csv, const char *s, size_t len, int first);

/* The same for a NUL-terminated s. */
void cp_cells_put(FILE *out, int csv, const char *s, int first);

/* A number as %.*g with digits significant digits, or "-" when missing. */
void cp_cells_number(FILE *out, int csv, double value, int digits, int missing);

#endif
