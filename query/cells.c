/* cells: TSV and CSV cells of the reports; see cells.h. */
#include "cells.h"

#include <string.h>

#include "cp_text.h"

void cp_cells_field(FILE *out, int csv, const char *s, size_t len, int first)
{
	if (!first)
		fputc(csv ? ',' : '\t', out);
	if (csv)
		cp_text_csv(out, s, len);
	else
		cp_text_tsv(out, s, len);
}

void cp_cells_put(FILE *out, int csv, const char *s, int first)
{
	cp_cells_field(out, csv, s, strlen(s), first);
}

void cp_cells_number(FILE *out, int csv, double value, int digits, int missing)
{
	char text[64];
	if (missing)
		strcpy(text, "-");
	else
		snprintf(text, sizeof text, "%.*g", digits, value);
	cp_cells_put(out, csv, text, 0);
}
