/* cp_units: pprof's measurement.ScaledLabel and Percentage in C; see cp_units.h. The unit
 * tables and the alias rules (lower case, one trailing 's' dropped from names longer than two
 * characters) follow pprof's internal/measurement. */
#include "cp_units.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
	const char *name;
	const char *aliases[4];
	double factor;
} unit_def;

typedef struct {
	const unit_def *units;
	size_t n;
	unit_def base; /* what a value is shown in when nothing scales it to >= 1 */
} unit_family;

static const unit_def memory_units[] = {
	{"B", {"b", "byte"}, 1},
	{"kB", {"kb", "kbyte", "kilobyte"}, 1024.0},
	{"MB", {"mb", "mbyte", "megabyte"}, 1048576.0},
	{"GB", {"gb", "gbyte", "gigabyte"}, 1073741824.0},
	{"TB", {"tb", "tbyte", "terabyte"}, 1099511627776.0},
	{"PB", {"pb", "pbyte", "petabyte"}, 1125899906842624.0},
};
static const unit_def time_units[] = {
	{"ns", {"ns", "nanosecond"}, 1},
	{"us", {"\xce\xbcs", "us", "microsecond"}, 1e3},
	{"ms", {"ms", "millisecond"}, 1e6},
	{"s", {"s", "sec", "second"}, 1e9},
	{"hrs", {"hour", "hr"}, 3600e9},
};
static const unit_def gcu_units[] = {
	{"n*GCU", {"nanogcu"}, 1e-9},  {"u*GCU", {"microgcu"}, 1e-6}, {"m*GCU", {"milligcu"}, 1e-3},
	{"GCU", {"gcu"}, 1},           {"k*GCU", {"kilogcu"}, 1e3},   {"M*GCU", {"megagcu"}, 1e6},
	{"G*GCU", {"gigagcu"}, 1e9},   {"T*GCU", {"teragcu"}, 1e12},  {"P*GCU", {"petagcu"}, 1e15},
};
static const unit_family families[] = {
	{memory_units, sizeof memory_units / sizeof memory_units[0], {"B", {0}, 1}},
	{time_units, sizeof time_units / sizeof time_units[0], {"s", {0}, 1e9}},
	{gcu_units, sizeof gcu_units / sizeof gcu_units[0], {"GCU", {0}, 1}},
};

static const unit_def *sniff(const unit_family *fam, const char *unit)
{
	char lower[32];
	size_t len = strlen(unit);
	if (len >= sizeof lower)
		return NULL;
	for (size_t i = 0; i < len; i++)
		lower[i] = (char)tolower((unsigned char)unit[i]);
	if (len > 2 && lower[len - 1] == 's')
		len--;
	lower[len] = '\0';
	for (size_t u = 0; u < fam->n; u++)
		for (size_t a = 0; a < 4 && fam->units[u].aliases[a]; a++)
			if (strcmp(lower, fam->units[u].aliases[a]) == 0)
				return &fam->units[u];
	return NULL;
}

static int autoscaled(const char *to)
{
	return strcmp(to, "minimum") == 0 || strcmp(to, "auto") == 0;
}

/* pprof's Scale: value in from, converted into to (or autoscaled when to is "minimum"); the
 * unit name shown after the number goes to *out_unit. */
static double scale(int64_t value, const char *from, const char *to, const char **out_unit)
{
	if (value < 0 && value != INT64_MIN)
		return -scale(-value, from, to, out_unit);
	for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
		const unit_family *fam = &families[f];
		const unit_def *src = sniff(fam, from);
		if (!src)
			continue;
		double v = (double)value * src->factor;
		if (autoscaled(to)) {
			double best = 0;
			for (size_t u = 0; u < fam->n; u++) {
				if (fam->units[u].factor >= best && v / fam->units[u].factor >= 1.0) {
					best = fam->units[u].factor;
					*out_unit = fam->units[u].name;
				}
			}
			if (best > 0)
				return v / best;
			*out_unit = fam->base.name;
			return v / fam->base.factor;
		}
		const unit_def *dst = sniff(fam, to);
		if (!dst)
			dst = &fam->base;
		*out_unit = dst->name;
		return v / dst->factor;
	}
	/* Counts and units pprof does not know: the plain number, named unless uninteresting. */
	static const char *const plain[] = {"count", "sample", "unit", "minimum", "auto"};
	*out_unit = to;
	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
		if (strcmp(to, plain[i]) == 0)
			*out_unit = "";
	return (double)value;
}

char *cp_units_label(int64_t value, const char *from_unit, const char *to_unit, char *out, size_t outlen)
{
	const char *u = "";
	double v = scale(value, from_unit, to_unit, &u);
	char num[64];
	snprintf(num, sizeof num, "%.2f", v);
	size_t n = strlen(num);
	if (n > 3 && strcmp(num + n - 3, ".00") == 0)
		num[n - 3] = '\0';
	if (strcmp(num, "0") == 0 || strcmp(num, "-0") == 0)
		snprintf(out, outlen, "0");
	else
		snprintf(out, outlen, "%s%s", num, u);
	return out;
}

char *cp_units_report_unit(int64_t min_value, int64_t total, const char *from_unit, char *out, size_t outlen)
{
	int64_t max_value = total;
	if (min_value == 0)
		min_value = max_value;
	const char *min_unit = "", *max_unit = "", *unit;
	scale(min_value, from_unit, "minimum", &min_unit);
	scale(max_value, from_unit, "minimum", &max_unit);
	unit = min_unit;
	if (strcmp(min_unit, max_unit) != 0 && min_value < max_value / 100 + (max_value % 100 != 0))
		scale(100 * min_value, from_unit, "minimum", &unit);
	snprintf(out, outlen, "%s", *unit ? unit : from_unit);
	return out;
}

char *cp_units_percent(int64_t value, int64_t total, char *out, size_t outlen)
{
	double ratio = 0;
	if (total != 0)
		ratio = fabs((double)value / (double)total) * 100;
	if (ratio >= 99.95 && ratio <= 100.05)
		snprintf(out, outlen, "  100%%");
	else if (ratio >= 1.0)
		snprintf(out, outlen, "%5.2f%%", ratio);
	else
		snprintf(out, outlen, "%5.2g%%", ratio);
	return out;
}
