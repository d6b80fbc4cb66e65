/* fleet_profiles: writes one small pprof CPU profile whose flat and cum values are known exactly,
 * for tests/query_fleet.sh, which loads many of them at chosen times and services and checks the
 * stored tiers, top, diff and series against sums it computes itself.
 *
 * usage: fleet_profiles OUT.pb.gz [--duration SECONDS] STACK=VALUE...
 *
 * Each STACK=VALUE is one sample: STACK lists function names root first, separated by ';'
 * ("main;serve;parse"); VALUE is its cpu/nanoseconds value (a decimal integer); its
 * samples/count value is 1. The profile has the sample types samples/count and cpu/nanoseconds,
 * period_type cpu/nanoseconds (period 10 ms) and duration_nanos SECONDS (default 10) seconds.
 * Every name gets one function and one single-line location, so a sample's flat goes to its last
 * frame and its cum to each distinct frame. The file is gzip'd when OUT ends in ".gz". */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "profile.pb-c.h"

#define MAX_NAMES 4096
#define MAX_SAMPLES 4096
#define MAX_DEPTH 64

static _Noreturn void die(const char *what, const char *detail)
{
	fprintf(stderr, "fleet_profiles: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	exit(2);
}

/* The string table: index 0 is "", then the fixed type names, then function names in order. */
static char *strings[MAX_NAMES + 8];
static size_t nstrings;

static int64_t intern(const char *s, size_t len)
{
	for (size_t i = 0; i < nstrings; i++)
		if (strlen(strings[i]) == len && memcmp(strings[i], s, len) == 0)
			return (int64_t)i;
	if (nstrings == sizeof strings / sizeof *strings)
		die("too many names", NULL);
	char *copy = calloc(len + 1, 1);
	if (!copy)
		die("out of memory", NULL);
	memcpy(copy, s, len);
	strings[nstrings] = copy;
	return (int64_t)nstrings++;
}

/* Functions and locations share their ids: function k is called by location k, one line each. */
static Perftools__Profiles__Function functions[MAX_NAMES];
static Perftools__Profiles__Location locations[MAX_NAMES];
static Perftools__Profiles__Line lines[MAX_NAMES];
static Perftools__Profiles__Line *line_ptrs[MAX_NAMES];
static size_t nfunctions;

static uint64_t function_for(const char *name, size_t len)
{
	int64_t s = intern(name, len);
	for (size_t i = 0; i < nfunctions; i++)
		if (functions[i].name == s)
			return functions[i].id;
	if (nfunctions == MAX_NAMES)
		die("too many functions", NULL);
	size_t i = nfunctions++;
	Perftools__Profiles__Function f = PERFTOOLS__PROFILES__FUNCTION__INIT;
	Perftools__Profiles__Location l = PERFTOOLS__PROFILES__LOCATION__INIT;
	Perftools__Profiles__Line line = PERFTOOLS__PROFILES__LINE__INIT;
	f.id = i + 1;
	f.name = f.system_name = s;
	functions[i] = f;
	line.function_id = f.id;
	line.line = 1;
	lines[i] = line;
	line_ptrs[i] = &lines[i];
	l.id = i + 1;
	l.address = 0x1000 + 0x10 * (uint64_t)i;
	l.n_line = 1;
	l.line = &line_ptrs[i];
	locations[i] = l;
	return f.id;
}

static Perftools__Profiles__Sample samples[MAX_SAMPLES];
static uint64_t sample_locations[MAX_SAMPLES][MAX_DEPTH];
static int64_t sample_values[MAX_SAMPLES][2];
static size_t nsamples;

/* One STACK=VALUE argument as a sample (locations leaf first, as in the proto). */
static void add_sample(const char *arg)
{
	const char *eq = strrchr(arg, '=');
	char *end;
	if (!eq || eq == arg)
		die("a sample is STACK=VALUE, not", arg);
	long long value = strtoll(eq + 1, &end, 10);
	if (end == eq + 1 || *end)
		die("a sample's VALUE is an integer, not", arg);
	if (nsamples == MAX_SAMPLES)
		die("too many samples", NULL);
	uint64_t ids[MAX_DEPTH];
	size_t depth = 0;
	for (const char *p = arg; p < eq;) {
		const char *semi = memchr(p, ';', (size_t)(eq - p));
		const char *stop = semi ? semi : eq;
		if (stop == p)
			die("an empty frame in", arg);
		if (depth == MAX_DEPTH)
			die("a stack too deep", arg);
		ids[depth++] = function_for(p, (size_t)(stop - p));
		p = semi ? semi + 1 : eq;
	}
	Perftools__Profiles__Sample s = PERFTOOLS__PROFILES__SAMPLE__INIT;
	size_t i = nsamples++;
	for (size_t k = 0; k < depth; k++)
		sample_locations[i][k] = ids[depth - 1 - k];
	sample_values[i][0] = 1;
	sample_values[i][1] = (int64_t)value;
	s.n_location_id = depth;
	s.location_id = sample_locations[i];
	s.n_value = 2;
	s.value = sample_values[i];
	samples[i] = s;
}

static void write_out(const char *path, const uint8_t *raw, size_t len)
{
	size_t plen = strlen(path);
	const uint8_t *data = raw;
	uint8_t *gz = NULL;
	size_t dlen = len;
	if (plen > 3 && strcmp(path + plen - 3, ".gz") == 0) {
		z_stream zs;
		memset(&zs, 0, sizeof zs);
		if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			die("deflateInit2 failed", NULL);
		uLong bound = deflateBound(&zs, (uLong)len) + 64;
		gz = calloc(bound, 1);
		if (!gz)
			die("out of memory", NULL);
		zs.next_in = (Bytef *)(uintptr_t)raw;
		zs.avail_in = (uInt)len;
		zs.next_out = gz;
		zs.avail_out = (uInt)bound;
		if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
			die("deflate did not finish", NULL);
		dlen = zs.total_out;
		deflateEnd(&zs);
		data = gz;
	}
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, dlen, f) != dlen || fclose(f))
		die("cannot write", path);
	free(gz);
}

int main(int argc, char **argv)
{
	if (argc < 3)
		die("usage: fleet_profiles OUT.pb.gz [--duration SECONDS] STACK=VALUE...", NULL);
	const char *out = argv[1];
	int64_t duration_seconds = 10;
	int first = 2;
	if (strcmp(argv[2], "--duration") == 0) {
		char *end;
		if (argc < 4)
			die("--duration wants SECONDS", NULL);
		duration_seconds = strtoll(argv[3], &end, 10);
		if (end == argv[3] || *end || duration_seconds < 0)
			die("--duration wants whole seconds, not", argv[3]);
		first = 4;
	}
	intern("", 0);
	int64_t samples_type = intern("samples", 7), count_unit = intern("count", 5);
	int64_t cpu_type = intern("cpu", 3), nanos_unit = intern("nanoseconds", 11);
	for (int i = first; i < argc; i++)
		add_sample(argv[i]);
	if (!nsamples)
		die("give at least one STACK=VALUE", NULL);

	Perftools__Profiles__ValueType types[2] = {PERFTOOLS__PROFILES__VALUE_TYPE__INIT,
						  PERFTOOLS__PROFILES__VALUE_TYPE__INIT};
	Perftools__Profiles__ValueType period_type = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	Perftools__Profiles__ValueType *type_ptrs[2] = {&types[0], &types[1]};
	types[0].type = samples_type;
	types[0].unit = count_unit;
	types[1].type = period_type.type = cpu_type;
	types[1].unit = period_type.unit = nanos_unit;

	Perftools__Profiles__Sample *sample_ptrs[MAX_SAMPLES];
	Perftools__Profiles__Location *location_ptrs[MAX_NAMES];
	Perftools__Profiles__Function *function_ptrs[MAX_NAMES];
	for (size_t i = 0; i < nsamples; i++)
		sample_ptrs[i] = &samples[i];
	for (size_t i = 0; i < nfunctions; i++) {
		location_ptrs[i] = &locations[i];
		function_ptrs[i] = &functions[i];
	}

	Perftools__Profiles__Profile p = PERFTOOLS__PROFILES__PROFILE__INIT;
	p.n_sample_type = 2;
	p.sample_type = type_ptrs;
	p.n_sample = nsamples;
	p.sample = sample_ptrs;
	p.n_location = nfunctions;
	p.location = location_ptrs;
	p.n_function = nfunctions;
	p.function = function_ptrs;
	p.n_string_table = nstrings;
	p.string_table = strings;
	p.period_type = &period_type;
	p.period = 10000000;
	p.duration_nanos = duration_seconds * 1000000000;
	p.time_nanos = INT64_C(1772402400) * 1000000000; /* 2026-03-01T22:00Z; load --time replaces it */

	size_t len = perftools__profiles__profile__get_packed_size(&p);
	uint8_t *raw = calloc(len ? len : 1, 1);
	if (!raw)
		die("out of memory", NULL);
	perftools__profiles__profile__pack(&p, raw);
	write_out(out, raw, len);
	free(raw);
	for (size_t i = 0; i < nstrings; i++)
		free(strings[i]);
	return 0;
}
