/* cp_units: formats values the way pprof's reports do, so cprof's tables read like
 * `go tool pprof -top`: values in one unit chosen for the report ("1.28s", "0.15s",
 * "512kB", "1234" for counts), and percentages ("72.73%", "  100%", " 0.52%").
 *
 * Ownership: results are written into caller-supplied buffers. */
#ifndef CP_UNITS_H
#define CP_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* pprof's ScaledLabel(value, from_unit, to_unit): to_unit "minimum" scales each value on its
 * own; a unit name converts into that unit. Returns out. */
char *cp_units_label(int64_t value, const char *from_unit, const char *to_unit, char *out, size_t outlen);
/* pprof's selectOutputUnit: the one unit a report prints all its values in, chosen from its
 * smallest non-zero value and its total. Writes the unit name into out and returns out. */
char *cp_units_report_unit(int64_t min_value, int64_t total, const char *from_unit, char *out, size_t outlen);
/* pprof's Percentage(value, total): a 6-character field. Returns out. */
char *cp_units_percent(int64_t value, int64_t total, char *out, size_t outlen);

#endif
