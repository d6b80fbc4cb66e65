/* test_decode_errors: every kind of bad input cp_pprof_decode must reject, each with the exact
 * message that says what is wrong (and no profile), plus the flattener's refusal of values
 * whose sum overflows int64. Profiles are built with the protobuf-c structs of profile.proto
 * from a small valid baseline that each test breaks in one place; wire-level faults (wire
 * types, long varints, truncation) are made by editing the packed bytes. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <zlib.h>

#include "check.h"
#include "cp_flat.h"
#include "cp_pprof.h"
#include "cprof.pb-c.h"
#include "profile.pb-c.h"

/* ------------------------------------------------------------------ a valid baseline profile */

enum {
	STR_EMPTY,
	STR_SAMPLES,
	STR_COUNT,
	STR_CPU,
	STR_NANOSECONDS,
	STR_MAIN,
	STR_WORK,
	STR_MAIN_GO,
	STR_LIBFOO,
	STR_BUILD_ID,
	STR_THREAD,
	STR_WORKER,
	STR_BYTES,
	STR_COMMENT,
	NSTRINGS
};

static char baseline_strings[NSTRINGS][24] = {
	"", "samples", "count", "cpu", "nanoseconds", "main", "work", "main.go",
	"/usr/lib/libfoo.so", "build-id", "thread", "worker-1", "bytes", "a comment",
};

enum { MAX_ITEMS = 3, MAX_VALUES = 4 };

/* The baseline: two sample types (samples/count, cpu/nanoseconds), one mapping, two functions
 * (main, work), two locations (id 1 -> main, id 2 -> work), two samples with one label each
 * ([2,1] = 1,100 with thread=worker-1; [1] = 2,200 with thread=42 bytes), a comment and a
 * default sample type. Tests change fields and counts, then pack. */
typedef struct {
	Perftools__Profiles__Profile profile;
	Perftools__Profiles__ValueType sample_types[MAX_ITEMS], *sample_type_ptrs[MAX_ITEMS];
	Perftools__Profiles__ValueType period_type;
	Perftools__Profiles__Sample samples[MAX_ITEMS], *sample_ptrs[MAX_ITEMS];
	uint64_t sample_locations[MAX_ITEMS][MAX_VALUES];
	int64_t sample_values[MAX_ITEMS][MAX_VALUES];
	Perftools__Profiles__Label labels[MAX_ITEMS], *label_ptrs[MAX_ITEMS];
	Perftools__Profiles__Mapping mappings[MAX_ITEMS], *mapping_ptrs[MAX_ITEMS];
	Perftools__Profiles__Location locations[MAX_ITEMS], *location_ptrs[MAX_ITEMS];
	Perftools__Profiles__Line lines[MAX_ITEMS], *line_ptrs[MAX_ITEMS];
	Perftools__Profiles__Function functions[MAX_ITEMS], *function_ptrs[MAX_ITEMS];
	char *strings[NSTRINGS];
	int64_t comments[MAX_ITEMS];
} fixture;

static void fixture_init(fixture *f)
{
	static const Perftools__Profiles__Profile profile_init = PERFTOOLS__PROFILES__PROFILE__INIT;
	static const Perftools__Profiles__ValueType value_type_init = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	static const Perftools__Profiles__Sample sample_init = PERFTOOLS__PROFILES__SAMPLE__INIT;
	static const Perftools__Profiles__Label label_init = PERFTOOLS__PROFILES__LABEL__INIT;
	static const Perftools__Profiles__Mapping mapping_init = PERFTOOLS__PROFILES__MAPPING__INIT;
	static const Perftools__Profiles__Location location_init = PERFTOOLS__PROFILES__LOCATION__INIT;
	static const Perftools__Profiles__Line line_init = PERFTOOLS__PROFILES__LINE__INIT;
	static const Perftools__Profiles__Function function_init = PERFTOOLS__PROFILES__FUNCTION__INIT;

	memset(f, 0, sizeof *f);
	f->profile = profile_init;
	f->period_type = value_type_init;
	for (size_t i = 0; i < MAX_ITEMS; i++) {
		f->sample_types[i] = value_type_init;
		f->sample_type_ptrs[i] = &f->sample_types[i];
		f->samples[i] = sample_init;
		f->sample_ptrs[i] = &f->samples[i];
		f->samples[i].location_id = f->sample_locations[i];
		f->samples[i].value = f->sample_values[i];
		f->labels[i] = label_init;
		f->label_ptrs[i] = &f->labels[i];
		f->samples[i].label = &f->label_ptrs[i];
		f->mappings[i] = mapping_init;
		f->mapping_ptrs[i] = &f->mappings[i];
		f->locations[i] = location_init;
		f->location_ptrs[i] = &f->locations[i];
		f->lines[i] = line_init;
		f->line_ptrs[i] = &f->lines[i];
		f->locations[i].line = &f->line_ptrs[i];
		f->functions[i] = function_init;
		f->function_ptrs[i] = &f->functions[i];
	}
	for (size_t i = 0; i < NSTRINGS; i++)
		f->strings[i] = baseline_strings[i];

	Perftools__Profiles__Profile *p = &f->profile;
	p->sample_type = f->sample_type_ptrs;
	p->n_sample_type = 2;
	f->sample_types[0].type = STR_SAMPLES;
	f->sample_types[0].unit = STR_COUNT;
	f->sample_types[1].type = STR_CPU;
	f->sample_types[1].unit = STR_NANOSECONDS;

	p->mapping = f->mapping_ptrs;
	p->n_mapping = 1;
	f->mappings[0].id = 1;
	f->mappings[0].memory_start = 0x400000;
	f->mappings[0].memory_limit = 0x500000;
	f->mappings[0].filename = STR_LIBFOO;
	f->mappings[0].build_id = STR_BUILD_ID;

	p->function = f->function_ptrs;
	p->n_function = 2;
	f->functions[0].id = 1;
	f->functions[0].name = STR_MAIN;
	f->functions[0].system_name = STR_MAIN;
	f->functions[0].filename = STR_MAIN_GO;
	f->functions[1].id = 2;
	f->functions[1].name = STR_WORK;
	f->functions[1].system_name = STR_WORK;
	f->functions[1].filename = STR_MAIN_GO;

	p->location = f->location_ptrs;
	p->n_location = 2;
	for (size_t i = 0; i < 2; i++) {
		f->locations[i].id = i + 1;
		f->locations[i].mapping_id = 1;
		f->locations[i].address = 0x401000 + 0x100 * i;
		f->locations[i].n_line = 1;
		f->lines[i].function_id = i + 1;
		f->lines[i].line = 10 * ((int64_t)i + 1);
	}

	p->sample = f->sample_ptrs;
	p->n_sample = 2;
	f->samples[0].n_location_id = 2;
	f->sample_locations[0][0] = 2;
	f->sample_locations[0][1] = 1;
	f->samples[0].n_value = 2;
	f->sample_values[0][0] = 1;
	f->sample_values[0][1] = 100;
	f->samples[0].n_label = 1;
	f->labels[0].key = STR_THREAD;
	f->labels[0].str = STR_WORKER;
	f->samples[1].n_location_id = 1;
	f->sample_locations[1][0] = 1;
	f->samples[1].n_value = 2;
	f->sample_values[1][0] = 2;
	f->sample_values[1][1] = 200;
	f->samples[1].n_label = 1;
	f->labels[1].key = STR_THREAD;
	f->labels[1].num = 42;
	f->labels[1].num_unit = STR_BYTES;

	p->string_table = f->strings;
	p->n_string_table = NSTRINGS;
	p->period_type = &f->period_type;
	f->period_type.type = STR_CPU;
	f->period_type.unit = STR_NANOSECONDS;
	p->period = 10000000;
	p->time_nanos = 1700000000000000000;
	p->duration_nanos = 1000000000;
	p->comment = f->comments;
	p->n_comment = 1;
	f->comments[0] = STR_COMMENT;
	p->default_sample_type = STR_CPU;
}

/* The packed profile (malloc'd; never NULL). */
static uint8_t *pack_fixture(const fixture *f, size_t *len)
{
	*len = perftools__profiles__profile__get_packed_size(&f->profile);
	uint8_t *buf = malloc(*len + 64); /* room for the bytes some tests append */
	if (!buf)
		abort();
	perftools__profiles__profile__pack(&f->profile, buf);
	return buf;
}

/* gzip of len bytes (malloc'd; never NULL). */
static uint8_t *gzip_bytes(const uint8_t *data, size_t len, size_t *out_len)
{
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	size_t cap = deflateBound(&zs, (uLong)len) + 64;
	uint8_t *out = malloc(cap);
	if (!out)
		abort();
	zs.next_in = (Bytef *)(uintptr_t)data;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
		abort();
	*out_len = cap - zs.avail_out;
	deflateEnd(&zs);
	return out;
}

/* ------------------------------------------------------------------ assertions */

/* Decodes and checks the failure: -1, *out set to NULL, and expected in the message. */
static void expect_error_limits(const char *what, const uint8_t *data, size_t len,
				const cp_pprof_limits *limits, const char *expected)
{
	static cp_pprof not_a_profile;
	cp_pprof *profile = &not_a_profile; /* must come back NULL */
	char err[512] = "";
	int failures_before = check_failures_in_test;
	int rc = cp_pprof_decode(data, len, limits, &profile, err, sizeof err);
	CHECK(rc == -1);
	CHECK(profile == NULL);
	CHECK_CONTAINS(err, expected);
	if (check_failures_in_test != failures_before)
		fprintf(stderr, "    in case: %s (message: \"%s\")\n", what, err);
	if (rc == 0 && profile != &not_a_profile)
		cp_pprof_free(profile);
}

static void expect_error(const char *what, const uint8_t *data, size_t len, const char *expected)
{
	expect_error_limits(what, data, len, NULL, expected);
}

/* Packs the fixture and expects the decode to fail with expected, raw and gzip'd. */
static void expect_fixture_error(const char *what, const fixture *f, const char *expected)
{
	size_t len, gz_len;
	uint8_t *raw = pack_fixture(f, &len);
	uint8_t *gz = gzip_bytes(raw, len, &gz_len);
	expect_error(what, raw, len, expected);
	expect_error(what, gz, gz_len, expected);
	free(gz);
	free(raw);
}

/* Decodes and expects success; returns the profile (free it) or NULL after a failed check. */
static cp_pprof *expect_decoded(const char *what, const uint8_t *data, size_t len,
				const cp_pprof_limits *limits)
{
	cp_pprof *profile = NULL;
	char err[512] = "";
	int rc = cp_pprof_decode(data, len, limits, &profile, err, sizeof err);
	CHECK(rc == 0);
	CHECK(profile != NULL);
	if (rc != 0)
		fprintf(stderr, "    in case: %s: unexpected error \"%s\"\n", what, err);
	return rc == 0 ? profile : NULL;
}

/* A printf-formatted expectation; four rotating buffers, so a few can be alive at once. */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static const char *fmt(const char *format, ...)
{
	static char texts[4][512];
	static unsigned next;
	char *text = texts[next++ % 4];
	va_list ap;
	va_start(ap, format);
	vsnprintf(text, sizeof texts[0], format, ap);
	va_end(ap);
	return text;
}

/* Deterministic bytes: xorshift64*, whatever the C library. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

/* ------------------------------------------------------------------ the baseline is valid */

static void baseline_decodes(void)
{
	fixture f;
	fixture_init(&f);
	size_t len;
	uint8_t *raw = pack_fixture(&f, &len);
	cp_pprof *p = expect_decoded("baseline", raw, len, NULL);
	if (p) {
		CHECK(p->nsample_types == 2 && p->nsamples == 2 && p->nlocations == 2 && p->nfunctions == 2);
		CHECK(p->nmappings == 1 && p->nstrings == NSTRINGS && p->ncomments == 1);
		CHECK(p->encoded_size == len);
	}
	cp_pprof_free(p);
	free(raw);
}

/* ------------------------------------------------------------------ not a profile at all */

static void empty_input(void)
{
	static const uint8_t nothing[1] = {0};
	expect_error("0 bytes", nothing, 0, "empty input (0 bytes): not a profile");
}

static void random_bytes(void)
{
	uint8_t buf[4096];
	rng_state = 0x9E3779B97F4A7C15ull;
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)(rng_next() >> 56);
	/* The fixed seed's bytes start with a key of field 1 and wire type 5. */
	CHECK(buf[0] == 0x0d);
	expect_error("4096 random bytes", buf, sizeof buf,
		     "profile field 1 (sample_type) has wire type fixed32, expected length-delimited");

	/* Many more, of many sizes: every one rejected with a message. */
	for (int round = 0; round < 2000; round++) {
		size_t len = 1 + (size_t)(rng_next() % sizeof buf);
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)(rng_next() >> 56);
		cp_pprof *p = NULL;
		char err[256] = "";
		int rc = cp_pprof_decode(buf, len, NULL, &p, err, sizeof err);
		CHECK(rc == -1 && p == NULL && err[0] != '\0');
		if (rc == 0)
			cp_pprof_free(p);
	}
}

/* The upload envelope producers publish (cprof.v1.ProfileUpload), given where its pprof payload
 * belongs. */
static void expect_upload_error(const char *what, const Cprof__V1__ProfileUpload *upload, const char *expected)
{
	size_t len = cprof__v1__profile_upload__get_packed_size(upload);
	uint8_t *buf = malloc(len);
	if (!buf)
		abort();
	cprof__v1__profile_upload__pack(upload, buf);
	expect_error(what, buf, len, expected);
	free(buf);
}

static void upload_message_is_not_a_profile(void)
{
	static char service[] = "checkout", version[] = "v1.2.3", env[] = "production", profile_type[] = "cpu";
	static uint8_t payload[] = {0x1f, 0x8b, 0x08, 0x00};
	Cprof__V1__ProfileUpload upload;
	cprof__v1__profile_upload__init(&upload); /* the INIT macro casts const away */
	upload.service = service;
	upload.version = version;
	upload.env = env;
	upload.payload.data = payload;
	upload.payload.len = sizeof payload;
	/* Fields 2, 3, 4 and 11 are all length-delimited in a profile too, and field 6 (the
	 * string table; instance here) is absent. */
	expect_upload_error("ProfileUpload without instance", &upload,
			    "the string table is empty (string_table[0] must be \"\")");
	/* profile_type is field 8, keep_frames in a profile: a varint. */
	upload.profile_type = profile_type;
	expect_upload_error("ProfileUpload with profile_type", &upload,
			    "profile field 8 (keep_frames) has wire type length-delimited, expected varint");
}

static void function_message_is_not_a_profile(void)
{
	Perftools__Profiles__Function fn = PERFTOOLS__PROFILES__FUNCTION__INIT;
	fn.id = 7;
	fn.name = 1;
	size_t len = perftools__profiles__function__get_packed_size(&fn);
	uint8_t buf[64];
	perftools__profiles__function__pack(&fn, buf);
	/* Function.id is field 1 as a varint, where a profile has sample_type messages. */
	expect_error("Function", buf, len,
		     "profile field 1 (sample_type) has wire type varint, expected length-delimited");
}

/* ------------------------------------------------------------------ gzip framing */

static void truncated_gzip(void)
{
	fixture f;
	fixture_init(&f);
	size_t len, gz_len;
	uint8_t *raw = pack_fixture(&f, &len);
	uint8_t *gz = gzip_bytes(raw, len, &gz_len);
	size_t half = gz_len / 2;
	expect_error("gzip cut in half", gz, half,
		     fmt("gzip: truncated stream: input ends after %zu bytes, before the end of the compressed data", half));
	/* Missing only the trailer's last byte. */
	expect_error("gzip without its last byte", gz, gz_len - 1,
		     fmt("gzip: truncated stream: input ends after %zu bytes", gz_len - 1));
	/* Only the magic. */
	expect_error("gzip magic only", gz, 2, "gzip: truncated stream: input ends after 2 bytes");
	free(gz);
	free(raw);
}

static void gzip_trailing_garbage(void)
{
	fixture f;
	fixture_init(&f);
	size_t len, gz_len;
	uint8_t *raw = pack_fixture(&f, &len);
	uint8_t *gz = gzip_bytes(raw, len, &gz_len);
	uint8_t *with_garbage = malloc(gz_len + 8);
	if (!with_garbage)
		abort();
	memcpy(with_garbage, gz, gz_len);
	memcpy(with_garbage + gz_len, "garbage!", 8);
	expect_error("gzip + 8 bytes", with_garbage, gz_len + 8,
		     fmt("gzip: 8 bytes of trailing garbage after the stream at byte %zu", gz_len));
	free(with_garbage);
	free(gz);
	free(raw);
}

static void gzip_corrupt_data(void)
{
	fixture f;
	fixture_init(&f);
	size_t len, gz_len;
	uint8_t *raw = pack_fixture(&f, &len);
	uint8_t *gz = gzip_bytes(raw, len, &gz_len);
	gz[gz_len - 5] ^= 0xff; /* the CRC-32 of the trailer */
	expect_error("gzip with a bad CRC", gz, gz_len, "gzip: corrupt data near compressed byte");
	expect_error("gzip with a bad CRC", gz, gz_len, "incorrect data check");
	free(gz);
	free(raw);
}

static void gzip_of_nothing(void)
{
	size_t gz_len;
	uint8_t *gz = gzip_bytes((const uint8_t *)"", 0, &gz_len);
	expect_error("gzip of 0 bytes", gz, gz_len, "gzip stream decompresses to 0 bytes: not a profile");
	free(gz);
}

/* A gzip stream of `mib` MiB of zeros, built without deflating them all: one MiB of zeros
 * deflated (run-length, about 1 KiB) with a full flush is a self-contained run of blocks, repeated; an empty final
 * stored block and the trailer close it. */
static uint8_t *gzip_bomb(size_t mib, size_t *out_len)
{
	enum { MIB = 1 << 20 };
	uint8_t *zeros = calloc(1, MIB);
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	if (!zeros || deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, -MAX_WBITS, 8, Z_RLE) != Z_OK)
		abort();
	uint8_t block[8192];
	zs.next_in = zeros;
	zs.avail_in = MIB;
	zs.next_out = block;
	zs.avail_out = sizeof block;
	if (deflate(&zs, Z_FULL_FLUSH) != Z_OK || zs.avail_in != 0 || zs.avail_out == 0)
		abort();
	size_t block_len = sizeof block - zs.avail_out;
	deflateEnd(&zs);

	static const uint8_t header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
	static const uint8_t final_block[5] = {0x01, 0x00, 0x00, 0xff, 0xff};
	size_t len = sizeof header + mib * block_len + sizeof final_block + 8;
	uint8_t *out = malloc(len), *w = out;
	if (!out)
		abort();
	memcpy(w, header, sizeof header);
	w += sizeof header;
	uLong crc_mib = crc32(0, zeros, MIB), crc = crc32(0, NULL, 0);
	for (size_t i = 0; i < mib; i++) {
		memcpy(w, block, block_len);
		w += block_len;
		crc = crc32_combine(crc, crc_mib, MIB);
	}
	memcpy(w, final_block, sizeof final_block);
	w += sizeof final_block;
	uint64_t size = (uint64_t)mib * MIB;
	for (int i = 0; i < 4; i++)
		*w++ = (uint8_t)(crc >> (8 * i));
	for (int i = 0; i < 4; i++)
		*w++ = (uint8_t)(size >> (8 * i));
	free(zeros);
	*out_len = len;
	return out;
}

static long max_rss_mib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss / 1024;
}

static void gzip_bomb_hits_the_cap(void)
{
	size_t small_len, bomb_len;
	/* The construction itself: a 2 MiB bomb within a 4 MiB cap inflates to 2 MiB of zeros,
	 * which are no profile (field number 0). */
	uint8_t *small = gzip_bomb(2, &small_len);
	cp_pprof_limits four_mib = {.max_decompressed = (size_t)4 << 20};
	expect_error_limits("2 MiB of zeros", small, small_len, &four_mib,
			    "profile: field at byte 0: invalid field key");
	free(small);

	uint8_t *bomb = gzip_bomb(1024, &bomb_len);
	CHECK(bomb_len < ((size_t)4 << 20)); /* 1 GiB in a few MiB */
	cp_pprof_limits one_mib = {.max_decompressed = (size_t)1 << 20};
	expect_error_limits("1 GiB bomb, 1 MiB cap", bomb, bomb_len, &one_mib,
			    fmt("gzip: decompressed size exceeds the cap of 1048576 bytes (compressed %zu bytes)", bomb_len));
	expect_error("1 GiB bomb, default cap", bomb, bomb_len,
		     fmt("gzip: decompressed size exceeds the cap of %zu bytes", CP_PPROF_DEFAULT_MAX_DECOMPRESSED));
	free(bomb);
	/* Rejected at the 256 MiB cap, never 1 GiB in memory. */
	long rss = max_rss_mib();
	CHECK(rss < 900);
	if (rss >= 900)
		fprintf(stderr, "    peak RSS %ld MiB\n", rss);
}

static void decompression_cap_boundary(void)
{
	fixture f;
	fixture_init(&f);
	size_t len, gz_len;
	uint8_t *raw = pack_fixture(&f, &len);
	uint8_t *gz = gzip_bytes(raw, len, &gz_len);

	cp_pprof_limits exact = {.max_decompressed = len}, one_less = {.max_decompressed = len - 1};
	cp_pprof *p = expect_decoded("gzip, size == cap", gz, gz_len, &exact);
	CHECK(p && p->encoded_size == len);
	cp_pprof_free(p);
	expect_error_limits("gzip, size == cap + 1", gz, gz_len, &one_less,
			    fmt("gzip: decompressed size exceeds the cap of %zu bytes", len - 1));

	p = expect_decoded("raw, size == cap", raw, len, &exact);
	cp_pprof_free(p);
	expect_error_limits("raw, size == cap + 1", raw, len, &one_less,
			    fmt("protobuf of %zu bytes exceeds the cap of %zu bytes", len, len - 1));
	free(gz);
	free(raw);
}

/* ------------------------------------------------------------------ protobuf framing */

static void truncated_protobuf(void)
{
	fixture f;
	fixture_init(&f);
	size_t len, gz_len;
	uint8_t *raw = pack_fixture(&f, &len);
	/* The last field is default_sample_type, 2 bytes (key 0x70, value 3): cutting its value
	 * leaves a key whose varint runs past the end. */
	CHECK(raw[len - 2] == 0x70 && raw[len - 1] == STR_CPU);
	const char *expected = fmt("profile: field at byte %zu: truncated protobuf (a field runs past the end of its message)", len - 2);
	expect_error("raw, last byte cut", raw, len - 1, expected);
	uint8_t *gz = gzip_bytes(raw, len - 1, &gz_len);
	expect_error("gzip of raw with its last byte cut", gz, gz_len, expected);
	free(gz);

	/* Cut inside the first field (sample_type 0: 0a 04 08 01 10 02). */
	CHECK(raw[0] == 0x0a && raw[1] == 4);
	expect_error("raw cut inside its first field", raw, 3,
		     "profile: field at byte 0: truncated protobuf (a field runs past the end of its message)");
	gz = gzip_bytes(raw, 3, &gz_len);
	expect_error("gzip of raw cut inside its first field", gz, gz_len,
		     "profile: field at byte 0: truncated protobuf (a field runs past the end of its message)");
	free(gz);
	/* Cut in half: inside the string table, where it happens to leave too few strings. */
	expect_error("raw cut in half", raw, len / 2, "out of range (the string table has 3 entries)");

	/* A length that runs past the end: string_table entry claiming 100 bytes. */
	static const uint8_t long_string[] = {0x32, 0x00, 0x32, 100, 'a', 'b'};
	expect_error("string longer than the input", long_string, sizeof long_string,
		     "profile: field at byte 2: truncated protobuf");
	free(raw);
}

/* The size of the packed baseline: the offset of anything appended to it. */
static size_t baseline_len(void)
{
	fixture f;
	fixture_init(&f);
	return perftools__profiles__profile__get_packed_size(&f.profile);
}

/* Appends bytes after the packed baseline (top-level fields may come in any order). */
static void expect_appended_error(const char *what, const uint8_t *extra, size_t extra_len, const char *expected)
{
	fixture f;
	fixture_init(&f);
	size_t len;
	uint8_t *raw = pack_fixture(&f, &len);
	memcpy(raw + len, extra, extra_len);
	expect_error(what, raw, len + extra_len, expected);
	free(raw);
}

static void wrong_wire_types_top_level(void)
{
	static const uint8_t sample_type_varint[] = {0x08, 0x01};
	expect_appended_error("sample_type as varint", sample_type_varint, sizeof sample_type_varint,
			      "profile field 1 (sample_type) has wire type varint, expected length-delimited");
	static const uint8_t string_fixed32[] = {0x35, 1, 2, 3, 4};
	expect_appended_error("string_table as fixed32", string_fixed32, sizeof string_fixed32,
			      "profile field 6 (string_table) has wire type fixed32, expected length-delimited");
	static const uint8_t period_fixed64[] = {0x61, 1, 2, 3, 4, 5, 6, 7, 8};
	expect_appended_error("period as fixed64", period_fixed64, sizeof period_fixed64,
			      "profile field 12 (period) has wire type fixed64, expected varint");
	static const uint8_t drop_frames_len[] = {0x3a, 0x01, 0x00};
	expect_appended_error("drop_frames as bytes", drop_frames_len, sizeof drop_frames_len,
			      "profile field 7 (drop_frames) has wire type length-delimited, expected varint");
	static const uint8_t period_type_varint[] = {0x58, 0x01};
	expect_appended_error("period_type as varint", period_type_varint, sizeof period_type_varint,
			      "profile field 11 (period_type) has wire type varint, expected length-delimited");
}

static void wrong_wire_types_in_messages(void)
{
	static const uint8_t function_name_len[] = {0x2a, 0x05, 0x08, 0x09, 0x12, 0x01, 0x00};
	expect_appended_error("function name as bytes", function_name_len, sizeof function_name_len,
			      "function 2: field 2 (varint field) has wire type length-delimited, expected varint");
	static const uint8_t location_line_varint[] = {0x22, 0x04, 0x08, 0x09, 0x20, 0x01};
	expect_appended_error("location line as varint", location_line_varint, sizeof location_line_varint,
			      "location 2: field 4 (line) has wire type varint, expected length-delimited");
	static const uint8_t sample_value_fixed32[] = {0x12, 0x05, 0x15, 1, 0, 0, 0};
	expect_appended_error("sample value as fixed32", sample_value_fixed32, sizeof sample_value_fixed32,
			      "sample 2: field 2 (value) has wire type fixed32, expected length-delimited");
	static const uint8_t sample_type_unit_len[] = {0x0a, 0x03, 0x12, 0x01, 0x00};
	expect_appended_error("sample_type unit as bytes", sample_type_unit_len, sizeof sample_type_unit_len,
			      "sample_type 2: field 2 (unit) has wire type length-delimited, expected varint");
}

/* Wire types 3 and 4 (groups), 6 and 7, and field number 0 are not protobuf of today. */
static void invalid_field_keys(void)
{
	static const uint8_t group_start[] = {0x0b};
	expect_appended_error("a group", group_start, sizeof group_start,
			      fmt("profile: field at byte %zu: invalid field key (field number 0 or unsupported wire type)", baseline_len()));
	static const uint8_t wire_7[] = {0x0f, 0x00};
	expect_appended_error("wire type 7", wire_7, sizeof wire_7,
			      fmt("profile: field at byte %zu: invalid field key (field number 0 or unsupported wire type)", baseline_len()));
	static const uint8_t field_0[] = {0x00, 0x00};
	expect_appended_error("field number 0", field_0, sizeof field_0,
			      fmt("profile: field at byte %zu: invalid field key (field number 0 or unsupported wire type)", baseline_len()));
}

static void overlong_varints(void)
{
	/* time_nanos (key 0x48) with an 11-byte varint. */
	static const uint8_t time_11[] = {0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	expect_appended_error("11-byte varint value", time_11, sizeof time_11,
			      fmt("profile: field at byte %zu: malformed varint (longer than 10 bytes)", baseline_len()));
	/* A key that is itself 11 bytes long. */
	static const uint8_t key_11[] = {0xc8, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
	expect_appended_error("11-byte key", key_11, sizeof key_11,
			      fmt("profile: field at byte %zu: malformed varint (longer than 10 bytes)", baseline_len()));
	/* 10 bytes is the most a varint may have: still fine (time_nanos = a large value). */
	static const uint8_t time_10[] = {0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	fixture f;
	fixture_init(&f);
	size_t len;
	uint8_t *raw = pack_fixture(&f, &len);
	memcpy(raw + len, time_10, sizeof time_10);
	cp_pprof *p = expect_decoded("10-byte varint", raw, len + sizeof time_10, NULL);
	CHECK(p && p->time_nanos == -1);
	cp_pprof_free(p);
	free(raw);
	/* Inside a packed field: a sample whose location_ids hold an 11-byte varint. */
	static const uint8_t packed_11[] = {0x12, 0x11, 0x0a, 0x0b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					    0xff, 0xff, 0xff, 0xff, 0x01, 0x12, 0x02, 0x01, 0x02};
	expect_appended_error("11-byte varint in packed location ids", packed_11, sizeof packed_11,
			      "sample 2: location_id: malformed varint (longer than 10 bytes)");
}

/* ------------------------------------------------------------------ the string table */

static void string_table_first_not_empty(void)
{
	static char not_empty[] = "x";
	fixture f;
	fixture_init(&f);
	f.strings[0] = not_empty;
	expect_fixture_error("string_table[0] = \"x\"", &f, "string_table[0] is not empty (it must be \"\")");
}

static void string_table_empty(void)
{
	fixture f;
	fixture_init(&f);
	f.profile.n_string_table = 0;
	expect_fixture_error("no strings", &f, "the string table is empty (string_table[0] must be \"\")");
}

#define OUT_OF_RANGE(index) fmt("string index %" PRId64 " out of range (the string table has %d entries)", (int64_t)(index), NSTRINGS)

/* Sets one string index of the fixture to a bad value and expects where + the range message. */
static void expect_bad_index(const char *what, fixture *f, int64_t *field, int64_t bad, const char *where)
{
	int64_t saved = *field;
	*field = bad;
	char expected[512];
	snprintf(expected, sizeof expected, "%s: %s", where, OUT_OF_RANGE(bad));
	expect_fixture_error(what, f, expected);
	*field = saved;
}

/* Every bad value for one string index: the size of the table, beyond it, negative. */
static void expect_bad_indices(const char *what, fixture *f, int64_t *field, const char *where)
{
	static const int64_t bad[] = {NSTRINGS, 99, -1, INT64_MIN};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect_bad_index(what, f, field, bad[i], where);
}

/* One test per kind of string index: FIELD is an lvalue in the fixture f. */
#define STRING_INDEX_TEST(name, FIELD, where)                      \
	static void name(void)                                      \
	{                                                           \
		fixture f;                                          \
		fixture_init(&f);                                   \
		expect_bad_indices(#name, &f, &(FIELD), where);     \
	}

STRING_INDEX_TEST(bad_index_sample_type_type, f.sample_types[0].type, "sample_type 0: type")
STRING_INDEX_TEST(bad_index_sample_type_unit, f.sample_types[1].unit, "sample_type 1: unit")
STRING_INDEX_TEST(bad_index_period_type_type, f.period_type.type, "period_type type")
STRING_INDEX_TEST(bad_index_period_type_unit, f.period_type.unit, "period_type unit")
STRING_INDEX_TEST(bad_index_function_name, f.functions[1].name, "function 1: name")
STRING_INDEX_TEST(bad_index_function_system_name, f.functions[0].system_name, "function 0: system_name")
STRING_INDEX_TEST(bad_index_function_filename, f.functions[1].filename, "function 1: filename")
STRING_INDEX_TEST(bad_index_mapping_filename, f.mappings[0].filename, "mapping 0: filename")
STRING_INDEX_TEST(bad_index_mapping_build_id, f.mappings[0].build_id, "mapping 0: build_id")
STRING_INDEX_TEST(bad_index_label_key, f.labels[1].key, "sample 1: label key")
STRING_INDEX_TEST(bad_index_label_str, f.labels[0].str, "sample 0: label str")
STRING_INDEX_TEST(bad_index_label_num_unit, f.labels[1].num_unit, "sample 1: label num_unit")
STRING_INDEX_TEST(bad_index_drop_frames, f.profile.drop_frames, "profile drop_frames")
STRING_INDEX_TEST(bad_index_keep_frames, f.profile.keep_frames, "profile keep_frames")
STRING_INDEX_TEST(bad_index_default_sample_type, f.profile.default_sample_type, "profile default_sample_type")
STRING_INDEX_TEST(bad_index_comment, f.comments[0], "comment 0: text")

static void bad_index_third_comment(void)
{
	fixture f;
	fixture_init(&f);
	f.profile.n_comment = 3;
	f.comments[1] = STR_MAIN;
	f.comments[2] = 500;
	expect_fixture_error("third comment", &f, fmt("comment 2: text: %s", OUT_OF_RANGE(500)));
}

/* ------------------------------------------------------------------ ids and references */

static void unknown_location_in_sample(void)
{
	fixture f;
	fixture_init(&f);
	f.sample_locations[1][0] = 99;
	expect_fixture_error("location 99", &f, "sample 1: location id 99 not found");
	f.sample_locations[1][0] = 1;
	f.sample_locations[0][1] = (uint64_t)1 << 40;
	expect_fixture_error("location 1<<40", &f, "sample 0: location id 1099511627776 not found");
	/* With sparse location ids (the hash map rather than the direct table). */
	f.locations[0].id = (uint64_t)1 << 41;
	f.sample_locations[0][1] = (uint64_t)1 << 41;
	f.sample_locations[1][0] = 3;
	expect_fixture_error("location 3 among sparse ids", &f, "sample 1: location id 3 not found");
	f.sample_locations[1][0] = 0;
	expect_fixture_error("location 0 in a sample", &f, "sample 1: location id 0 not found");
}

static void unknown_function_in_line(void)
{
	fixture f;
	fixture_init(&f);
	f.lines[1].function_id = 77;
	expect_fixture_error("function 77", &f, "location 1 (id 2): line 0: function id 77 not found");
	f.lines[1].function_id = UINT64_MAX;
	expect_fixture_error("function 2^64-1", &f, "location 1 (id 2): line 0: function id 18446744073709551615 not found");
}

static void unknown_mapping_in_location(void)
{
	fixture f;
	fixture_init(&f);
	f.locations[0].mapping_id = 5;
	expect_fixture_error("mapping 5", &f, "location 0 (id 1): mapping id 5 not found");
}

static void reserved_id_zero(void)
{
	fixture f;
	fixture_init(&f);
	f.mappings[0].id = 0;
	expect_fixture_error("mapping id 0", &f, "mapping 0 has the reserved id 0");

	fixture_init(&f);
	f.functions[1].id = 0;
	expect_fixture_error("function id 0", &f, "function 1 has the reserved id 0");

	fixture_init(&f);
	f.locations[1].id = 0;
	expect_fixture_error("location id 0", &f, "location 1 has the reserved id 0");
}

static void duplicate_ids(void)
{
	fixture f;
	fixture_init(&f);
	f.profile.n_mapping = 2;
	f.mappings[1] = f.mappings[0];
	expect_fixture_error("two mappings with id 1", &f, "mapping 1: id 1 is used by more than one mapping");
	f.mappings[0].id = f.mappings[1].id = (uint64_t)1 << 40;
	f.locations[0].mapping_id = f.locations[1].mapping_id = (uint64_t)1 << 40;
	expect_fixture_error("two mappings with id 1<<40", &f,
			     "mapping 1: id 1099511627776 is used by more than one mapping");

	fixture_init(&f);
	f.functions[1].id = 1;
	expect_fixture_error("two functions with id 1", &f, "function 1: id 1 is used by more than one function");

	fixture_init(&f);
	f.profile.n_function = 3;
	f.functions[2] = f.functions[0];
	f.functions[2].id = f.functions[1].id = UINT64_MAX;
	f.lines[1].function_id = UINT64_MAX;
	expect_fixture_error("two functions with id 2^64-1", &f,
			     "function 2: id 18446744073709551615 is used by more than one function");

	fixture_init(&f);
	f.locations[1].id = 1;
	expect_fixture_error("two locations with id 1", &f, "location 1: id 1 is used by more than one location");

	fixture_init(&f);
	f.profile.n_location = 3;
	f.locations[2] = f.locations[1];
	f.locations[2].line = &f.line_ptrs[2];
	f.lines[2] = f.lines[1];
	expect_fixture_error("three locations, ids 1, 2, 2", &f, "location 2: id 2 is used by more than one location");
}

/* ------------------------------------------------------------------ sample values */

static void value_count_mismatch(void)
{
	fixture f;
	fixture_init(&f);
	f.samples[1].n_value = 3;
	f.sample_values[1][2] = 7;
	expect_fixture_error("3 values for 2 types", &f, "sample 1: has 3 values, but the profile has 2 sample types");
	f.samples[1].n_value = 1;
	expect_fixture_error("1 value for 2 types", &f, "sample 1: has 1 values, but the profile has 2 sample types");
	f.samples[1].n_value = 2;
	f.samples[0].n_value = 0;
	expect_fixture_error("0 values for 2 types", &f, "sample 0: has 0 values, but the profile has 2 sample types");
}

static void no_sample_types(void)
{
	fixture f;
	fixture_init(&f);
	f.profile.n_sample_type = 0;
	expect_fixture_error("no sample types", &f, "the profile has no sample types");
	f.profile.n_sample = 0;
	expect_fixture_error("no sample types, no samples", &f, "the profile has no sample types");
}

/* ------------------------------------------------------------------ the flattener */

/* One sample type (samples/count) and the given values, one sample each at location 1. */
static cp_pprof *profile_with_values(const int64_t *values, size_t n)
{
	fixture f;
	fixture_init(&f);
	f.profile.n_sample_type = 1;
	f.profile.n_sample = n;
	for (size_t i = 0; i < n; i++) {
		f.samples[i].n_value = 1;
		f.sample_values[i][0] = values[i];
		f.samples[i].n_location_id = 1;
		f.sample_locations[i][0] = 1;
		f.samples[i].n_label = 0;
	}
	f.profile.default_sample_type = 0;
	f.profile.period_type = NULL;
	size_t len;
	uint8_t *raw = pack_fixture(&f, &len);
	cp_pprof *p = expect_decoded("flattener input", raw, len, NULL);
	free(raw);
	return p;
}

/* Adds p, expecting the failure message; checks the accumulator kept what it had. */
static void expect_flat_error(cp_flat *flat, const cp_pprof *p, const char *expected)
{
	size_t nprofiles = cp_flat_nprofiles(flat), nfunctions = cp_flat_nfunctions(flat);
	int64_t total = nprofiles ? cp_flat_total(flat, 0) : 0;
	int64_t total_abs = nprofiles ? cp_flat_total_abs(flat, 0) : 0;
	char err[512] = "";
	CHECK(cp_flat_add(flat, p, err, sizeof err) == -1);
	CHECK_CONTAINS(err, expected);
	CHECK(cp_flat_nprofiles(flat) == nprofiles);
	CHECK(cp_flat_nfunctions(flat) == nfunctions);
	if (nprofiles) {
		CHECK(cp_flat_total(flat, 0) == total);
		CHECK(cp_flat_total_abs(flat, 0) == total_abs);
	}
}

static void flat_sum_overflow(void)
{
	static const int64_t two_max[] = {INT64_MAX, INT64_MAX};
	static const int64_t one_min[] = {INT64_MIN};
	static const int64_t max_and_minus_one[] = {INT64_MAX, -1};
	static const int64_t almost_max[] = {INT64_MAX - 2};
	static const int64_t three[] = {3};
	cp_pprof *p_two_max = profile_with_values(two_max, 2);
	cp_pprof *p_one_min = profile_with_values(one_min, 1);
	cp_pprof *p_max_minus = profile_with_values(max_and_minus_one, 2);
	cp_pprof *p_almost = profile_with_values(almost_max, 1);
	cp_pprof *p_three = profile_with_values(three, 1);
	if (!p_two_max || !p_one_min || !p_max_minus || !p_almost || !p_three)
		goto out;

	/* Within one profile, into an empty accumulator. */
	cp_flat *flat = cp_flat_new(CP_FLAT_STACKS);
	expect_flat_error(flat, p_two_max, "sample 1: value 9223372036854775807 of samples makes the total overflow int64");
	cp_flat_destroy(flat);
	flat = cp_flat_new(CP_FLAT_STACKS);
	expect_flat_error(flat, p_one_min, "sample 0: value -9223372036854775808 of samples makes the total overflow int64");
	cp_flat_destroy(flat);
	/* |INT64_MAX| + |-1| overflows even though the plain sum does not. */
	flat = cp_flat_new(CP_FLAT_STACKS);
	expect_flat_error(flat, p_max_minus, "sample 1: value -1 of samples makes the total overflow int64");
	cp_flat_destroy(flat);
	/* INT64_MAX - 2 fits alone. */
	flat = cp_flat_new(0);
	char err[512] = "";
	CHECK(cp_flat_add(flat, p_almost, err, sizeof err) == 0);
	CHECK(cp_flat_total(flat, 0) == INT64_MAX - 2);
	cp_flat_destroy(flat);

	/* After a profile of 3, each fails at its first sample and changes nothing. */
	flat = cp_flat_new(CP_FLAT_STACKS);
	CHECK(cp_flat_add(flat, p_three, err, sizeof err) == 0);
	size_t nnodes = cp_flat_nnodes(flat);
	CHECK(nnodes == 2);
	expect_flat_error(flat, p_two_max, "sample 0: value 9223372036854775807 of samples makes the total overflow int64");
	expect_flat_error(flat, p_one_min, "sample 0: value -9223372036854775808 of samples makes the total overflow int64");
	expect_flat_error(flat, p_max_minus, "sample 0: value 9223372036854775807 of samples makes the total overflow int64");
	expect_flat_error(flat, p_almost, "sample 0: value 9223372036854775805 of samples makes the total overflow int64");
	CHECK(cp_flat_total(flat, 0) == 3 && cp_flat_total_abs(flat, 0) == 3);
	CHECK(cp_flat_nprofiles(flat) == 1 && cp_flat_nnodes(flat) == nnodes);
	CHECK(cp_flat_nfunctions(flat) == 2);
	CHECK(cp_flat_flat(flat, 0, 0) == 3 && cp_flat_cum(flat, 0, 0) == 3);
	CHECK(cp_flat_node_self(flat, 1, 0) == 3);
	/* And it still takes good profiles. */
	CHECK(cp_flat_add(flat, p_three, err, sizeof err) == 0);
	CHECK(cp_flat_total(flat, 0) == 6 && cp_flat_flat(flat, 0, 0) == 6 && cp_flat_node_self(flat, 1, 0) == 6);
	CHECK(cp_flat_nprofiles(flat) == 2 && cp_flat_nnodes(flat) == nnodes);
	cp_flat_destroy(flat);
out:
	cp_pprof_free(p_two_max);
	cp_pprof_free(p_one_min);
	cp_pprof_free(p_max_minus);
	cp_pprof_free(p_almost);
	cp_pprof_free(p_three);
}

/* A first profile that fails leaves an accumulator as good as new: the next profile gives
 * what it gives in a fresh one. */
static void flat_first_profile_overflow(void)
{
	static const int64_t two_max[] = {INT64_MAX, INT64_MAX};
	static const int64_t three[] = {3};
	cp_pprof *p_two_max = profile_with_values(two_max, 2);
	cp_pprof *p_three = profile_with_values(three, 1);
	if (p_two_max && p_three) {
		cp_flat *fresh = cp_flat_new(CP_FLAT_STACKS), *reused = cp_flat_new(CP_FLAT_STACKS);
		char err[512];
		CHECK(cp_flat_add(fresh, p_three, err, sizeof err) == 0);
		expect_flat_error(reused, p_two_max, "sample 1: value 9223372036854775807 of samples makes the total overflow int64");
		CHECK(cp_flat_nprofiles(reused) == 0);
		CHECK(cp_flat_add(reused, p_three, err, sizeof err) == 0);
		CHECK(cp_flat_nprofiles(reused) == 1);
		CHECK(cp_flat_total(reused, 0) == 3);
		CHECK(cp_flat_nnodes(reused) == cp_flat_nnodes(fresh));
		CHECK(cp_flat_nfunctions(reused) == cp_flat_nfunctions(fresh));
		cp_flat_destroy(fresh);
		cp_flat_destroy(reused);
	}
	cp_pprof_free(p_two_max);
	cp_pprof_free(p_three);
}

int main(void)
{
	RUN(baseline_decodes);
	RUN(gzip_bomb_hits_the_cap); /* first, so its peak memory is its own */
	RUN(empty_input);
	RUN(random_bytes);
	RUN(upload_message_is_not_a_profile);
	RUN(function_message_is_not_a_profile);
	RUN(truncated_gzip);
	RUN(gzip_trailing_garbage);
	RUN(gzip_corrupt_data);
	RUN(gzip_of_nothing);
	RUN(decompression_cap_boundary);
	RUN(truncated_protobuf);
	RUN(wrong_wire_types_top_level);
	RUN(wrong_wire_types_in_messages);
	RUN(invalid_field_keys);
	RUN(overlong_varints);
	RUN(string_table_first_not_empty);
	RUN(string_table_empty);
	RUN(bad_index_sample_type_type);
	RUN(bad_index_sample_type_unit);
	RUN(bad_index_period_type_type);
	RUN(bad_index_period_type_unit);
	RUN(bad_index_function_name);
	RUN(bad_index_function_system_name);
	RUN(bad_index_function_filename);
	RUN(bad_index_mapping_filename);
	RUN(bad_index_mapping_build_id);
	RUN(bad_index_label_key);
	RUN(bad_index_label_str);
	RUN(bad_index_label_num_unit);
	RUN(bad_index_drop_frames);
	RUN(bad_index_keep_frames);
	RUN(bad_index_default_sample_type);
	RUN(bad_index_comment);
	RUN(bad_index_third_comment);
	RUN(unknown_location_in_sample);
	RUN(unknown_function_in_line);
	RUN(unknown_mapping_in_location);
	RUN(reserved_id_zero);
	RUN(duplicate_ids);
	RUN(value_count_mismatch);
	RUN(no_sample_types);
	RUN(flat_sum_overflow);
	RUN(flat_first_profile_overflow);
	return check_summary("test_decode_errors");
}
