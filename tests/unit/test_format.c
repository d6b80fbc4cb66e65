/* test_format: pprof-compatible value labels and percentages (cp_units) and the escaping of
 * names into TSV, CSV and JSON (cp_text). Expected strings are what `go tool pprof` prints
 * for the same values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cp_text.h"
#include "cp_units.h"

static char buf[128];

static const char *label(int64_t v, const char *from, const char *to)
{
	return cp_units_label(v, from, to, buf, sizeof buf);
}

static void labels_autoscale(void)
{
	CHECK(strcmp(label(1760000000, "nanoseconds", "minimum"), "1.76s") == 0);
	CHECK(strcmp(label(150000000, "nanoseconds", "minimum"), "150ms") == 0);
	CHECK(strcmp(label(999, "nanoseconds", "minimum"), "999ns") == 0);
	CHECK(strcmp(label(1536, "bytes", "minimum"), "1.50kB") == 0);
	CHECK(strcmp(label(3 * 1048576, "bytes", "minimum"), "3MB") == 0);
	CHECK(strcmp(label(12345, "count", "minimum"), "12345") == 0);
	CHECK(strcmp(label(0, "nanoseconds", "minimum"), "0") == 0);
	CHECK(strcmp(label(-2000000000, "nanoseconds", "minimum"), "-2s") == 0);
	CHECK(strcmp(label(7200LL * 1000000000LL, "nanoseconds", "minimum"), "2hrs") == 0);
}

static void labels_fixed_unit(void)
{
	CHECK(strcmp(label(150000000, "nanoseconds", "s"), "0.15s") == 0);
	CHECK(strcmp(label(1000, "nanoseconds", "s"), "0") == 0);
	CHECK(strcmp(label(1280000000, "nanoseconds", "nanoseconds"), "1280000000ns") == 0);
	CHECK(strcmp(label(512, "bytes", "kB"), "0.50kB") == 0);
	CHECK(strcmp(label(42, "objects", "objects"), "42objects") == 0);
	CHECK(strcmp(label(42, "count", "count"), "42") == 0);
}

static void report_unit_as_pprof_selects(void)
{
	/* pprof's selectOutputUnit: smallest value 10ms, total 1.76s: both print in seconds. */
	CHECK(strcmp(cp_units_report_unit(10000000, 1760000000, "nanoseconds", buf, sizeof buf), "s") == 0);
	/* smallest 10ns against a total of 1s: 100x the minimum picks the unit. */
	CHECK(strcmp(cp_units_report_unit(10, 1000000000, "nanoseconds", buf, sizeof buf), "us") == 0);
	CHECK(strcmp(cp_units_report_unit(3, 12, "count", buf, sizeof buf), "count") == 0);
	CHECK(strcmp(cp_units_report_unit(2048, 4096, "bytes", buf, sizeof buf), "kB") == 0);
}

static void percentages(void)
{
	CHECK(strcmp(cp_units_percent(1280, 1760, buf, sizeof buf), "72.73%") == 0);
	CHECK(strcmp(cp_units_percent(1760, 1760, buf, sizeof buf), "  100%") == 0);
	CHECK(strcmp(cp_units_percent(10, 1760, buf, sizeof buf), " 0.57%") == 0);
	CHECK(strcmp(cp_units_percent(0, 1760, buf, sizeof buf), "    0%") == 0);
	CHECK(strcmp(cp_units_percent(5, 0, buf, sizeof buf), "    0%") == 0);
	CHECK(strcmp(cp_units_percent(-880, 1760, buf, sizeof buf), "50.00%") == 0);
}

/* Runs an escaping function into a memory buffer and returns the text. */
static const char *escaped(void (*escape)(FILE *, const char *, size_t), const char *s, size_t len)
{
	static char out[256];
	FILE *f = fmemopen(out, sizeof out, "w");
	if (!f)
		return "";
	escape(f, s, len);
	fputc('\0', f);
	fclose(f);
	return out;
}

static void tsv_escaping(void)
{
	CHECK(strcmp(escaped(cp_text_tsv, "plain", 5), "plain") == 0);
	CHECK(strcmp(escaped(cp_text_tsv, "a\\b\tc\nd\re", 9), "a\\\\b\\tc\\nd\\re") == 0);
	CHECK(strcmp(escaped(cp_text_tsv, "sym\t[mod]", 9), "sym\\t[mod]") == 0);
	CHECK(strcmp(escaped(cp_text_tsv, "q\"uote", 6), "q\"uote") == 0);
}

static void json_escaping(void)
{
	CHECK(strcmp(escaped(cp_text_json, "a\"b\\c", 5), "\"a\\\"b\\\\c\"") == 0);
	CHECK(strcmp(escaped(cp_text_json, "t\tn\n\x01", 5), "\"t\\tn\\n\\u0001\"") == 0);
	CHECK(strcmp(escaped(cp_text_json, "caf\xc3\xa9", 5), "\"caf\xc3\xa9\"") == 0);
	/* a lone continuation byte and a truncated sequence become U+FFFD */
	CHECK(strcmp(escaped(cp_text_json, "x\x80y\xe2\x82", 5), "\"x\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbd\"") == 0);
	/* an encoded surrogate is not valid UTF-8 */
	CHECK(strcmp(escaped(cp_text_json, "\xed\xa0\x80", 3), "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"") == 0);
}

static void csv_escaping(void)
{
	CHECK(strcmp(escaped(cp_text_csv, "plain name", 10), "plain name") == 0);
	CHECK(strcmp(escaped(cp_text_csv, "f(a, b)", 7), "\"f(a, b)\"") == 0);
	CHECK(strcmp(escaped(cp_text_csv, "say \"hi\"", 8), "\"say \"\"hi\"\"\"") == 0);
}

/* cp_text_utf8_clean says 1 exactly when cp_text_utf8_sanitize would change nothing. */
static void utf8_clean_agrees_with_sanitize(void)
{
	static const struct {
		const char *s;
		size_t len;
	} cases[] = {
		{"main.main", 9},	     {"", 0},		      {"caf\xc3\xa9", 5},	 {"\xe2\x82\xac", 3},
		{"\xf0\x9f\x98\x80x", 5}, {"a\0b", 3},		      {"\xc3", 1},		 {"\xc0\xaf", 2},
		{"\xed\xa0\x80", 3},      {"\xf4\x90\x80\x80", 4}, {"ok\xff", 3},		 {"\xe2\x82", 2},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len = 0;
		char *out = cp_text_utf8_sanitize(cases[i].s, cases[i].len, &len);
		int same = out && len == cases[i].len && memcmp(out, cases[i].s, len) == 0;
		CHECK(cp_text_utf8_clean(cases[i].s, cases[i].len) == same);
		CHECK(same == (i < 5));
		free(out);
	}
}

int main(void)
{
	RUN(labels_autoscale);
	RUN(labels_fixed_unit);
	RUN(report_unit_as_pprof_selects);
	RUN(percentages);
	RUN(tsv_escaping);
	RUN(json_escaping);
	RUN(csv_escaping);
	RUN(utf8_clean_agrees_with_sanitize);
	return check_summary("test_format");
}
