/* test_decode_valid: what cp_pprof_decode makes of valid input, and what cp_flat computes from
 * it. Profiles are described once as plain data (a profile_spec) and written to protobuf by a
 * small writer here, in several equivalent encodings: repeated fields packed or not, fields in
 * any order, unknown fields mixed in, gzip in one or several members. Every encoding must
 * decode to the same profile, and each is also checked against protobuf-c's generated unpacker
 * of profile.proto, an independent reader of the same bytes. The flattener's flat, cum, totals
 * and stack tree are checked against values computed by hand. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"
#include "cp_flat.h"
#include "cp_pprof.h"
#include "profile.pb-c.h"

/* ------------------------------------------------------------------ a protobuf writer */

typedef struct {
	uint8_t *data;
	size_t len, cap;
} bytes;

static void put_raw(bytes *b, const void *data, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + len)
			cap *= 2;
		uint8_t *grown = realloc(b->data, cap);
		if (!grown)
			abort();
		b->data = grown;
		b->cap = cap;
	}
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
}

static void put_varint(bytes *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;
	do {
		tmp[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			tmp[n] |= 0x80;
		n++;
	} while (v);
	put_raw(b, tmp, n);
}

enum { WIRE_VARINT = 0, WIRE_I64 = 1, WIRE_LEN = 2, WIRE_I32 = 5 };

static void put_key(bytes *b, uint32_t field, uint32_t wire)
{
	put_varint(b, (uint64_t)field << 3 | wire);
}

/* A varint field; zero is left out, as proto3 writers do. */
static void put_uint(bytes *b, uint32_t field, uint64_t v)
{
	if (!v)
		return;
	put_key(b, field, WIRE_VARINT);
	put_varint(b, v);
}

static void put_len(bytes *b, uint32_t field, const void *data, size_t len)
{
	put_key(b, field, WIRE_LEN);
	put_varint(b, len);
	put_raw(b, data, len);
}

/* A length-delimited field holding msg, which is then emptied for reuse. */
static void put_message(bytes *b, uint32_t field, bytes *msg)
{
	put_len(b, field, msg->data, msg->len);
	msg->len = 0;
}

/* Writer options. */
enum {
	W_UNPACKED = 1,      /* repeated varints as one field per value */
	W_REVERSED = 2,      /* top-level sections in reverse: samples before their locations etc. */
	W_UNKNOWN = 4,       /* unknown fields of every wire type in every message */
	W_SPLIT_PACKED = 8,  /* packed repeated varints split over several fields */
};

static void put_repeated(bytes *b, uint32_t field, const uint64_t *v, size_t n, unsigned flags)
{
	if (n == 0)
		return;
	if (flags & W_UNPACKED) {
		for (size_t i = 0; i < n; i++) {
			put_key(b, field, WIRE_VARINT);
			put_varint(b, v[i]);
		}
		return;
	}
	size_t parts = flags & W_SPLIT_PACKED && n > 1 ? 2 : 1;
	for (size_t part = 0; part < parts; part++) {
		size_t from = part * n / parts, to = (part + 1) * n / parts;
		bytes packed = {0};
		for (size_t i = from; i < to; i++)
			put_varint(&packed, v[i]);
		put_len(b, field, packed.data, packed.len);
		free(packed.data);
	}
}

/* Unknown fields: a varint, a fixed64, a length-delimited and a fixed32 one. */
static void put_unknown(bytes *b, unsigned flags)
{
	if (!(flags & W_UNKNOWN))
		return;
	put_key(b, 100, WIRE_VARINT);
	put_varint(b, UINT64_MAX);
	put_key(b, 101, WIRE_I64);
	put_raw(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	put_len(b, 102, "\x0a\x02\x08\x01unknown", 11);
	put_key(b, 536870911, WIRE_I32); /* the largest field number */
	put_raw(b, "\xff\xff\xff\xff", 4);
}

/* ------------------------------------------------------------------ profiles as data */

enum { MAX_LINES = 4, MAX_LOCS = 8, MAX_VALUES = 3, MAX_LABELS = 3 };

typedef struct {
	uint64_t id, memory_start, memory_limit, file_offset;
	int64_t filename, build_id;
} mapping_spec;

typedef struct {
	uint64_t id;
	int64_t name, system_name, filename, start_line;
} function_spec;

typedef struct {
	uint64_t id, mapping_id, address;
	size_t nlines;
	uint64_t function_id[MAX_LINES];
	int64_t line[MAX_LINES];
} location_spec;

typedef struct {
	int64_t key, str, num, num_unit;
} label_spec;

typedef struct {
	size_t nlocations;
	uint64_t location_id[MAX_LOCS];
	int64_t value[MAX_VALUES];
	size_t nlabels;
	label_spec labels[MAX_LABELS];
} sample_spec;

typedef struct {
	const char *const *strings;
	size_t nstrings;
	size_t ntypes;
	int64_t types[MAX_VALUES][2]; /* type, unit */
	const sample_spec *samples;
	size_t nsamples;
	const mapping_spec *mappings;
	size_t nmappings;
	const location_spec *locations;
	size_t nlocations;
	const function_spec *functions;
	size_t nfunctions;
	int64_t drop_frames, keep_frames, time_nanos, duration_nanos, period, default_sample_type;
	int64_t period_type[2];
	const int64_t *comments;
	size_t ncomments;
} profile_spec;

static void write_value_type(bytes *out, uint32_t field, const int64_t vt[2], unsigned flags)
{
	bytes msg = {0};
	put_unknown(&msg, flags);
	put_uint(&msg, 1, (uint64_t)vt[0]);
	put_uint(&msg, 2, (uint64_t)vt[1]);
	put_message(out, field, &msg);
	free(msg.data);
}

static void write_labels(bytes *msg, const sample_spec *sample, unsigned flags)
{
	bytes sub = {0};
	for (size_t k = 0; k < sample->nlabels; k++) {
		const label_spec *l = &sample->labels[k];
		put_uint(&sub, 1, (uint64_t)l->key);
		put_uint(&sub, 2, (uint64_t)l->str);
		put_unknown(&sub, flags);
		put_uint(&sub, 3, (uint64_t)l->num);
		put_uint(&sub, 4, (uint64_t)l->num_unit);
		put_message(msg, 3, &sub);
	}
	free(sub.data);
}

static void write_samples(bytes *out, const profile_spec *s, unsigned flags)
{
	bytes msg = {0};
	for (size_t i = 0; i < s->nsamples; i++) {
		const sample_spec *sample = &s->samples[i];
		uint64_t values[MAX_VALUES];
		for (size_t t = 0; t < s->ntypes; t++)
			values[t] = (uint64_t)sample->value[t];
		if (flags & W_REVERSED) /* fields of a message may come in any order too */
			write_labels(&msg, sample, flags);
		put_repeated(&msg, 1, sample->location_id, sample->nlocations, flags);
		put_unknown(&msg, flags);
		put_repeated(&msg, 2, values, s->ntypes, flags);
		if (!(flags & W_REVERSED))
			write_labels(&msg, sample, flags);
		put_message(out, 2, &msg);
	}
	free(msg.data);
}

static void write_mappings(bytes *out, const profile_spec *s, unsigned flags)
{
	bytes msg = {0};
	for (size_t i = 0; i < s->nmappings; i++) {
		const mapping_spec *m = &s->mappings[i];
		put_uint(&msg, 1, m->id);
		put_uint(&msg, 2, m->memory_start);
		put_uint(&msg, 3, m->memory_limit);
		put_uint(&msg, 4, m->file_offset);
		put_uint(&msg, 5, (uint64_t)m->filename);
		put_uint(&msg, 6, (uint64_t)m->build_id);
		put_uint(&msg, 7, 1); /* has_functions */
		put_unknown(&msg, flags);
		put_message(out, 3, &msg);
	}
	free(msg.data);
}

static void write_locations(bytes *out, const profile_spec *s, unsigned flags)
{
	bytes msg = {0}, line = {0};
	for (size_t i = 0; i < s->nlocations; i++) {
		const location_spec *loc = &s->locations[i];
		put_unknown(&msg, flags);
		for (size_t k = 0; k < loc->nlines; k++) {
			put_uint(&line, 1, loc->function_id[k]);
			put_uint(&line, 2, (uint64_t)loc->line[k]);
			if (flags & W_UNKNOWN)
				put_uint(&line, 3, 17); /* column: newer than what cprof reads */
			put_unknown(&line, flags);
			put_message(&msg, 4, &line);
		}
		put_uint(&msg, 3, loc->address);
		put_uint(&msg, 2, loc->mapping_id);
		put_uint(&msg, 1, loc->id);
		put_message(out, 4, &msg);
	}
	free(msg.data);
	free(line.data);
}

static void write_functions(bytes *out, const profile_spec *s, unsigned flags)
{
	bytes msg = {0};
	for (size_t i = 0; i < s->nfunctions; i++) {
		const function_spec *fn = &s->functions[i];
		put_uint(&msg, 1, fn->id);
		put_uint(&msg, 2, (uint64_t)fn->name);
		put_uint(&msg, 3, (uint64_t)fn->system_name);
		put_unknown(&msg, flags);
		put_uint(&msg, 4, (uint64_t)fn->filename);
		put_uint(&msg, 5, (uint64_t)fn->start_line);
		put_message(out, 5, &msg);
	}
	free(msg.data);
}

static void write_strings(bytes *out, const profile_spec *s)
{
	for (size_t i = 0; i < s->nstrings; i++)
		put_len(out, 6, s->strings[i], strlen(s->strings[i]));
}

static void write_scalars(bytes *out, const profile_spec *s, unsigned flags)
{
	put_uint(out, 7, (uint64_t)s->drop_frames);
	put_uint(out, 8, (uint64_t)s->keep_frames);
	put_uint(out, 9, (uint64_t)s->time_nanos);
	put_unknown(out, flags);
	put_uint(out, 10, (uint64_t)s->duration_nanos);
	if (s->period_type[0] || s->period_type[1])
		write_value_type(out, 11, s->period_type, flags);
	put_uint(out, 12, (uint64_t)s->period);
	uint64_t comments[8];
	for (size_t i = 0; i < s->ncomments; i++)
		comments[i] = (uint64_t)s->comments[i];
	put_repeated(out, 13, comments, s->ncomments, flags);
	put_uint(out, 14, (uint64_t)s->default_sample_type);
}

/* The profile in the wire format, with the given options (free .data). */
static bytes write_profile(const profile_spec *s, unsigned flags)
{
	bytes out = {0};
	if (flags & W_REVERSED) {
		write_scalars(&out, s, flags);
		write_samples(&out, s, flags);
		write_locations(&out, s, flags);
		write_functions(&out, s, flags);
		write_mappings(&out, s, flags);
		for (size_t t = 0; t < s->ntypes; t++)
			write_value_type(&out, 1, s->types[t], flags);
		write_strings(&out, s);
		return out;
	}
	for (size_t t = 0; t < s->ntypes; t++)
		write_value_type(&out, 1, s->types[t], flags);
	write_samples(&out, s, flags);
	write_mappings(&out, s, flags);
	write_locations(&out, s, flags);
	write_functions(&out, s, flags);
	write_strings(&out, s);
	write_scalars(&out, s, flags);
	return out;
}

/* gzip of len bytes as one member (free the result). */
static bytes gzip_member(const uint8_t *data, size_t len)
{
	z_stream zs;
	memset(&zs, 0, sizeof zs);
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	bytes out = {0};
	out.cap = deflateBound(&zs, (uLong)len) + 64;
	out.data = malloc(out.cap);
	if (!out.data)
		abort();
	zs.next_in = (Bytef *)(uintptr_t)data;
	zs.avail_in = (uInt)len;
	zs.next_out = out.data;
	zs.avail_out = (uInt)out.cap;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
		abort();
	out.len = out.cap - zs.avail_out;
	deflateEnd(&zs);
	return out;
}

/* ------------------------------------------------------------------ the example profile */

enum {
	S_EMPTY,
	S_SAMPLES,
	S_COUNT,
	S_CPU,
	S_NANOSECONDS,
	S_MAIN,
	S_A,
	S_B,
	S_INLINED_LEAF,
	S_INLINED_CALLER,
	S_MAIN_GO,
	S_LIBFOO,
	S_APP,
	S_BUILD_ID,
	S_THREAD,
	S_WORKER,
	S_BYTES,
	S_COMMENT,
	S_REQUEST,
	S_COUNT_STRINGS
};

static const char *const example_strings[S_COUNT_STRINGS] = {
	"", "samples", "count", "cpu", "nanoseconds", "main", "a", "b", "inlined_leaf",
	"inlined_caller", "main.go", "/usr/lib/libfoo.so", "/bin/app", "abc123", "thread",
	"worker-1", "bytes", "a comment", "request",
};

/* Ids: deliberately not 1..n. */
#define M_LIBFOO ((uint64_t)1 << 40)
#define M_APP 7u
#define F_MAIN 3u
#define F_A ((uint64_t)1 << 33)
#define F_B 1000000u
#define F_LEAF UINT64_MAX
#define F_CALLER 2u
#define L_MAIN ((uint64_t)1 << 41)
#define L_A 5u
#define L_B 9u
#define L_INLINED 1u
#define L_LIBFOO_ADDR 77u
#define L_NO_MAPPING (UINT64_MAX - 1)
#define L_FUNCTION_ZERO 4u

static const mapping_spec example_mappings[] = {
	{M_LIBFOO, 0x7f0000000000, 0x7f0000100000, 0x1000, S_LIBFOO, S_BUILD_ID},
	{M_APP, 0x400000, 0x500000, 0, S_APP, 0},
};

static const function_spec example_functions[] = {
	{F_MAIN, S_MAIN, S_MAIN, S_MAIN_GO, 1},
	{F_A, S_A, S_A, S_MAIN_GO, 10},
	{F_B, S_B, S_B, S_MAIN_GO, 20},
	{F_LEAF, S_INLINED_LEAF, S_INLINED_LEAF, S_MAIN_GO, 30},
	{F_CALLER, S_INLINED_CALLER, S_INLINED_CALLER, S_MAIN_GO, 40},
};

static const location_spec example_locations[] = {
	{L_MAIN, M_APP, 0x401000, 1, {F_MAIN}, {5}},
	{L_A, M_APP, 0x401100, 1, {F_A}, {12}},
	{L_B, M_APP, 0x401200, 1, {F_B}, {22}},
	/* inlined_leaf inlined into inlined_caller: innermost first */
	{L_INLINED, M_APP, 0x401300, 2, {F_LEAF, F_CALLER}, {31, 45}},
	/* address only, in libfoo */
	{L_LIBFOO_ADDR, M_LIBFOO, 0x7f0000001234, 0, {0}, {0}},
	/* address only, no mapping */
	{L_NO_MAPPING, 0, 0xdead, 0, {0}, {0}},
	/* a line without a function (function_id 0), in libfoo */
	{L_FUNCTION_ZERO, M_LIBFOO, 0x7f0000005678, 1, {0}, {99}},
};

/* Leaf first. Values: samples/count, cpu/nanoseconds (x10). */
static const sample_spec example_samples[] = {
	/* main -> a -> b -> b: direct recursion */
	{4, {L_B, L_B, L_A, L_MAIN}, {1, 10}, 1, {{S_THREAD, S_WORKER, 0, 0}}},
	/* main -> a -> inlined_caller -> inlined_leaf */
	{3, {L_INLINED, L_A, L_MAIN}, {2, 20}, 2, {{S_THREAD, S_WORKER, 0, 0}, {S_REQUEST, 0, 4096, S_BYTES}}},
	/* main -> [libfoo.so] */
	{2, {L_LIBFOO_ADDR, L_MAIN}, {3, 30}, 0, {{0, 0, 0, 0}}},
	/* <unknown> */
	{1, {L_NO_MAPPING}, {4, 40}, 0, {{0, 0, 0, 0}}},
	/* main -> a, negative */
	{2, {L_A, L_MAIN}, {-5, -50}, 0, {{0, 0, 0, 0}}},
	/* main -> [libfoo.so] through a line with function_id 0 */
	{2, {L_FUNCTION_ZERO, L_MAIN}, {6, 60}, 0, {{0, 0, 0, 0}}},
	/* no stack at all */
	{0, {0}, {7, 70}, 0, {{0, 0, 0, 0}}},
	/* main -> b -> a -> b: indirect recursion */
	{4, {L_B, L_A, L_B, L_MAIN}, {8, 80}, 0, {{0, 0, 0, 0}}},
};

static const int64_t example_comments[] = {S_COMMENT, S_EMPTY, S_COMMENT};

static profile_spec example_profile(void)
{
	profile_spec s = {
		.strings = example_strings,
		.nstrings = S_COUNT_STRINGS,
		.ntypes = 2,
		.types = {{S_SAMPLES, S_COUNT}, {S_CPU, S_NANOSECONDS}},
		.samples = example_samples,
		.nsamples = sizeof example_samples / sizeof example_samples[0],
		.mappings = example_mappings,
		.nmappings = sizeof example_mappings / sizeof example_mappings[0],
		.locations = example_locations,
		.nlocations = sizeof example_locations / sizeof example_locations[0],
		.functions = example_functions,
		.nfunctions = sizeof example_functions / sizeof example_functions[0],
		.time_nanos = 1700000000123456789,
		.duration_nanos = 10000000000,
		.period = 10000000,
		.period_type = {S_CPU, S_NANOSECONDS},
		.default_sample_type = S_CPU,
		.comments = example_comments,
		.ncomments = sizeof example_comments / sizeof example_comments[0],
	};
	return s;
}

/* ------------------------------------------------------------------ checking decoded profiles */

static cp_pprof *decode_ok(const char *what, const uint8_t *data, size_t len)
{
	cp_pprof *p = NULL;
	char err[512] = "";
	int rc = cp_pprof_decode(data, len, NULL, &p, err, sizeof err);
	CHECK(rc == 0 && p != NULL);
	if (rc != 0) {
		fprintf(stderr, "    in case %s: unexpected error \"%s\"\n", what, err);
		return NULL;
	}
	return p;
}

static int pstr_is(cp_pstr s, const char *text)
{
	return s.len == strlen(text) && memcmp(s.ptr, text, s.len) == 0;
}

static int same_string(const cp_pprof *p, uint32_t index, const Perftools__Profiles__Profile *ref, int64_t ref_index)
{
	cp_pstr s = cp_pprof_string(p, index);
	return ref_index >= 0 && (size_t)ref_index < ref->n_string_table && pstr_is(s, ref->string_table[ref_index]);
}

static uint64_t mapping_id_of(const cp_pprof *p, uint32_t mapping)
{
	return mapping == CP_PPROF_NONE ? 0 : p->mappings[mapping].id;
}

static uint64_t function_id_of(const cp_pprof *p, uint32_t function)
{
	return function == CP_PPROF_NONE ? 0 : p->functions[function].id;
}

/* Checks p field by field against protobuf-c's reading of the same bytes, with ids resolved
 * through p's indices. Returns the number of mismatches (each also a failed check). */
static int compare_with_reference(const char *what, const cp_pprof *p, const uint8_t *data, size_t len)
{
	int before = check_failures_in_test;
	Perftools__Profiles__Profile *ref = perftools__profiles__profile__unpack(NULL, len, data);
	CHECK(ref != NULL);
	if (!ref)
		return 1;
	CHECK(p->nstrings == ref->n_string_table);
	for (size_t i = 0; i < p->nstrings && i < ref->n_string_table; i++)
		CHECK(same_string(p, (uint32_t)i, ref, (int64_t)i));
	CHECK(p->nsample_types == ref->n_sample_type);
	for (size_t i = 0; i < p->nsample_types && i < ref->n_sample_type; i++) {
		CHECK(p->sample_types[i].type == ref->sample_type[i]->type);
		CHECK(p->sample_types[i].unit == ref->sample_type[i]->unit);
	}
	CHECK(p->nmappings == ref->n_mapping);
	for (size_t i = 0; i < p->nmappings && i < ref->n_mapping; i++) {
		const cp_pprof_mapping *m = &p->mappings[i];
		const Perftools__Profiles__Mapping *r = ref->mapping[i];
		CHECK(m->id == r->id && m->memory_start == r->memory_start && m->memory_limit == r->memory_limit);
		CHECK(m->file_offset == r->file_offset && m->filename == r->filename && m->build_id == r->build_id);
	}
	CHECK(p->nfunctions == ref->n_function);
	for (size_t i = 0; i < p->nfunctions && i < ref->n_function; i++) {
		const cp_pprof_function *fn = &p->functions[i];
		const Perftools__Profiles__Function *r = ref->function[i];
		CHECK(fn->id == r->id && fn->name == r->name && fn->system_name == r->system_name);
		CHECK(fn->filename == r->filename && fn->start_line == r->start_line);
	}
	CHECK(p->nlocations == ref->n_location);
	for (size_t i = 0; i < p->nlocations && i < ref->n_location; i++) {
		const cp_pprof_location *loc = &p->locations[i];
		const Perftools__Profiles__Location *r = ref->location[i];
		CHECK(loc->id == r->id && loc->address == r->address);
		CHECK(mapping_id_of(p, loc->mapping) == r->mapping_id);
		CHECK(loc->nlines == r->n_line);
		for (size_t k = 0; k < loc->nlines && k < r->n_line; k++) {
			CHECK(function_id_of(p, loc->lines[k].function) == r->line[k]->function_id);
			CHECK(loc->lines[k].line == r->line[k]->line);
		}
	}
	CHECK(p->nsamples == ref->n_sample);
	for (size_t i = 0; i < p->nsamples && i < ref->n_sample; i++) {
		const cp_pprof_sample *s = &p->samples[i];
		const Perftools__Profiles__Sample *r = ref->sample[i];
		CHECK(s->nlocations == r->n_location_id);
		for (size_t k = 0; k < s->nlocations && k < r->n_location_id; k++)
			CHECK(p->locations[s->locations[k]].id == r->location_id[k]);
		CHECK(p->nsample_types == r->n_value);
		for (size_t t = 0; t < p->nsample_types && t < r->n_value; t++)
			CHECK(s->values[t] == r->value[t]);
		CHECK(s->nlabels == r->n_label);
		for (size_t k = 0; k < s->nlabels && k < r->n_label; k++) {
			CHECK(s->labels[k].key == r->label[k]->key && s->labels[k].str == r->label[k]->str);
			CHECK(s->labels[k].num == r->label[k]->num && s->labels[k].num_unit == r->label[k]->num_unit);
		}
	}
	CHECK(p->ncomments == ref->n_comment);
	for (size_t i = 0; i < p->ncomments && i < ref->n_comment; i++)
		CHECK(p->comments[i] == ref->comment[i]);
	CHECK(p->drop_frames == ref->drop_frames && p->keep_frames == ref->keep_frames);
	CHECK(p->default_sample_type == ref->default_sample_type);
	CHECK(p->time_nanos == ref->time_nanos && p->duration_nanos == ref->duration_nanos);
	CHECK(p->period == ref->period);
	CHECK(p->period_type.type == (ref->period_type ? ref->period_type->type : 0));
	CHECK(p->period_type.unit == (ref->period_type ? ref->period_type->unit : 0));
	CHECK(p->encoded_size == len);
	perftools__profiles__profile__free_unpacked(ref, NULL);
	if (check_failures_in_test != before)
		fprintf(stderr, "    in case %s: differs from protobuf-c's reading\n", what);
	return check_failures_in_test - before;
}

/* Checks that two decodings of one profile agree (the second may have been read from another
 * encoding: the same arrays in the same order). */
static void compare_profiles(const char *what, const cp_pprof *a, const cp_pprof *b)
{
	int before = check_failures_in_test;
	CHECK(a->nstrings == b->nstrings && a->nsample_types == b->nsample_types);
	CHECK(a->nsamples == b->nsamples && a->nmappings == b->nmappings);
	CHECK(a->nlocations == b->nlocations && a->nfunctions == b->nfunctions && a->ncomments == b->ncomments);
	if (check_failures_in_test != before)
		goto out;
	for (size_t i = 0; i < a->nstrings; i++)
		CHECK(a->strings[i].len == b->strings[i].len &&
		      memcmp(a->strings[i].ptr, b->strings[i].ptr, a->strings[i].len) == 0);
	CHECK(memcmp(a->sample_types, b->sample_types, a->nsample_types * sizeof *a->sample_types) == 0);
	CHECK(memcmp(a->mappings, b->mappings, a->nmappings * sizeof *a->mappings) == 0);
	CHECK(memcmp(a->functions, b->functions, a->nfunctions * sizeof *a->functions) == 0);
	for (size_t i = 0; i < a->nlocations; i++) {
		const cp_pprof_location *x = &a->locations[i], *y = &b->locations[i];
		CHECK(x->id == y->id && x->address == y->address && x->mapping == y->mapping && x->nlines == y->nlines);
		for (uint32_t k = 0; k < x->nlines && k < y->nlines; k++)
			CHECK(x->lines[k].function == y->lines[k].function && x->lines[k].line == y->lines[k].line);
	}
	for (size_t i = 0; i < a->nsamples; i++) {
		const cp_pprof_sample *x = &a->samples[i], *y = &b->samples[i];
		CHECK(x->nlocations == y->nlocations && x->nlabels == y->nlabels);
		for (uint32_t k = 0; k < x->nlocations && k < y->nlocations; k++)
			CHECK(x->locations[k] == y->locations[k]);
		for (size_t t = 0; t < a->nsample_types; t++)
			CHECK(x->values[t] == y->values[t]);
		for (uint32_t k = 0; k < x->nlabels && k < y->nlabels; k++)
			CHECK(memcmp(&x->labels[k], &y->labels[k], sizeof x->labels[k]) == 0);
	}
	CHECK(memcmp(a->comments, b->comments, a->ncomments * sizeof *a->comments) == 0);
	CHECK(a->drop_frames == b->drop_frames && a->keep_frames == b->keep_frames);
	CHECK(a->default_sample_type == b->default_sample_type);
	CHECK(a->time_nanos == b->time_nanos && a->duration_nanos == b->duration_nanos && a->period == b->period);
	CHECK(a->period_type.type == b->period_type.type && a->period_type.unit == b->period_type.unit);
out:
	if (check_failures_in_test != before)
		fprintf(stderr, "    in case %s: the two decodings differ\n", what);
}

/* Writes the example with flags, decodes it, checks it against protobuf-c and against the
 * plain encoding's decoding. */
static void check_encoding(const char *what, unsigned flags)
{
	profile_spec spec = example_profile();
	bytes plain = write_profile(&spec, 0), variant = write_profile(&spec, flags);
	cp_pprof *a = decode_ok("plain", plain.data, plain.len);
	cp_pprof *b = decode_ok(what, variant.data, variant.len);
	if (a && b) {
		compare_with_reference(what, b, variant.data, variant.len);
		compare_profiles(what, a, b);
	}
	cp_pprof_free(a);
	cp_pprof_free(b);
	free(plain.data);
	free(variant.data);
}

/* ------------------------------------------------------------------ decoding */

static void plain_encoding_matches_reference(void)
{
	profile_spec spec = example_profile();
	bytes plain = write_profile(&spec, 0);
	cp_pprof *p = decode_ok("plain", plain.data, plain.len);
	if (p)
		compare_with_reference("plain", p, plain.data, plain.len);
	cp_pprof_free(p);
	free(plain.data);
}

static void packed_and_unpacked_agree(void)
{
	check_encoding("unpacked", W_UNPACKED);
	check_encoding("packed in two fields each", W_SPLIT_PACKED);
}

static void unknown_fields_are_skipped(void)
{
	check_encoding("unknown fields", W_UNKNOWN);
	check_encoding("unknown fields, unpacked", W_UNKNOWN | W_UNPACKED);
}

static void references_resolve_in_any_order(void)
{
	check_encoding("samples before locations before functions before mappings before strings", W_REVERSED);
	check_encoding("reversed, unpacked, unknown fields", W_REVERSED | W_UNPACKED | W_UNKNOWN);
}

static void gzip_matches_raw(void)
{
	profile_spec spec = example_profile();
	bytes plain = write_profile(&spec, 0);
	bytes gz = gzip_member(plain.data, plain.len);
	cp_pprof *a = decode_ok("raw", plain.data, plain.len);
	cp_pprof *b = decode_ok("gzip", gz.data, gz.len);
	if (a && b)
		compare_profiles("gzip", a, b);
	CHECK(b && b->encoded_size == plain.len);
	cp_pprof_free(a);
	cp_pprof_free(b);
	free(gz.data);
	free(plain.data);
}

static void multi_member_gzip_is_the_concatenation(void)
{
	profile_spec spec = example_profile();
	bytes plain = write_profile(&spec, 0);
	cp_pprof *whole = decode_ok("raw", plain.data, plain.len);
	/* Split anywhere, even inside a field: the members decompress to one stream. */
	const size_t cuts[] = {1, plain.len / 3, plain.len / 2, plain.len - 1};
	for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
		bytes first = gzip_member(plain.data, cuts[c]);
		bytes second = gzip_member(plain.data + cuts[c], plain.len - cuts[c]);
		bytes both = {0};
		put_raw(&both, first.data, first.len);
		put_raw(&both, second.data, second.len);
		cp_pprof *p = decode_ok("two gzip members", both.data, both.len);
		if (whole && p) {
			compare_profiles("two gzip members", whole, p);
			CHECK(p->encoded_size == plain.len);
		}
		cp_pprof_free(p);
		free(first.data);
		free(second.data);
		free(both.data);
	}
	/* Three members, the middle one empty. */
	bytes first = gzip_member(plain.data, 10), empty = gzip_member(plain.data, 0);
	bytes rest = gzip_member(plain.data + 10, plain.len - 10), all = {0};
	put_raw(&all, first.data, first.len);
	put_raw(&all, empty.data, empty.len);
	put_raw(&all, rest.data, rest.len);
	cp_pprof *p = decode_ok("three gzip members", all.data, all.len);
	if (whole && p)
		compare_profiles("three gzip members", whole, p);
	cp_pprof_free(p);
	free(first.data);
	free(empty.data);
	free(rest.data);
	free(all.data);
	cp_pprof_free(whole);
	free(plain.data);
}

static size_t location_index(const cp_pprof *p, uint64_t id)
{
	for (size_t i = 0; i < p->nlocations; i++)
		if (p->locations[i].id == id)
			return i;
	return SIZE_MAX;
}

static void sparse_ids_resolve(void)
{
	profile_spec spec = example_profile();
	bytes plain = write_profile(&spec, 0);
	cp_pprof *p = decode_ok("sparse ids", plain.data, plain.len);
	if (!p)
		goto out;
	/* Indices follow the order of the messages; ids are kept as written. */
	CHECK(p->nmappings == 2 && p->mappings[0].id == M_LIBFOO && p->mappings[1].id == M_APP);
	CHECK(p->nfunctions == 5 && p->functions[1].id == F_A && p->functions[3].id == F_LEAF);
	CHECK(p->nlocations == 7 && p->locations[0].id == L_MAIN && p->locations[5].id == L_NO_MAPPING);
	/* Location -> mapping and line -> function. */
	CHECK(p->locations[0].mapping == 1);                       /* main in /bin/app */
	CHECK(p->locations[4].mapping == 0);                       /* 77 in libfoo (id 1<<40) */
	CHECK(p->locations[5].mapping == CP_PPROF_NONE);           /* no mapping */
	CHECK(p->locations[1].nlines == 1 && p->locations[1].lines[0].function == 1); /* a: id 1<<33 */
	CHECK(p->locations[3].nlines == 2);
	CHECK(p->locations[3].lines[0].function == 3 && p->locations[3].lines[0].line == 31); /* id 2^64-1 */
	CHECK(p->locations[3].lines[1].function == 4 && p->locations[3].lines[1].line == 45); /* id 2 */
	/* Sample -> locations: sample 1 is [L_INLINED, L_A, L_MAIN]. */
	const cp_pprof_sample *s = &p->samples[1];
	CHECK(s->nlocations == 3);
	CHECK(s->locations[0] == location_index(p, L_INLINED));
	CHECK(s->locations[1] == location_index(p, L_A));
	CHECK(s->locations[2] == location_index(p, L_MAIN));
	CHECK(p->samples[3].nlocations == 1 && p->samples[3].locations[0] == 5); /* id 2^64-2 */
	CHECK(p->samples[6].nlocations == 0);
out:
	cp_pprof_free(p);
	free(plain.data);
}

static void function_id_zero_is_none(void)
{
	profile_spec spec = example_profile();
	bytes plain = write_profile(&spec, 0);
	cp_pprof *p = decode_ok("function_id 0", plain.data, plain.len);
	if (p) {
		const cp_pprof_location *loc = &p->locations[location_index(p, L_FUNCTION_ZERO)];
		CHECK(loc->nlines == 1);
		CHECK(loc->lines[0].function == CP_PPROF_NONE);
		CHECK(loc->lines[0].line == 99);
		const cp_pprof_location *addr_only = &p->locations[location_index(p, L_LIBFOO_ADDR)];
		CHECK(addr_only->nlines == 0 && addr_only->address == 0x7f0000001234);
	}
	cp_pprof_free(p);
	free(plain.data);
}

static void labels_decode(void)
{
	profile_spec spec = example_profile();
	bytes plain = write_profile(&spec, W_UNKNOWN);
	cp_pprof *p = decode_ok("labels", plain.data, plain.len);
	if (p) {
		const cp_pprof_sample *s0 = &p->samples[0], *s1 = &p->samples[1], *s2 = &p->samples[2];
		CHECK(s0->nlabels == 1);
		CHECK(pstr_is(cp_pprof_string(p, s0->labels[0].key), "thread"));
		CHECK(pstr_is(cp_pprof_string(p, s0->labels[0].str), "worker-1"));
		CHECK(s0->labels[0].num == 0 && s0->labels[0].num_unit == 0);
		CHECK(s1->nlabels == 2);
		CHECK(pstr_is(cp_pprof_string(p, s1->labels[1].key), "request"));
		CHECK(s1->labels[1].str == 0);
		CHECK(s1->labels[1].num == 4096);
		CHECK(pstr_is(cp_pprof_string(p, s1->labels[1].num_unit), "bytes"));
		CHECK(s2->nlabels == 0);
	}
	cp_pprof_free(p);
	free(plain.data);
}

static void scalars_decode(void)
{
	profile_spec spec = example_profile();
	spec.drop_frames = S_A;
	spec.keep_frames = S_B;
	spec.time_nanos = -1; /* negative int64: a 10-byte varint */
	bytes plain = write_profile(&spec, 0);
	cp_pprof *p = decode_ok("scalars", plain.data, plain.len);
	if (p) {
		CHECK(p->time_nanos == -1 && p->duration_nanos == 10000000000 && p->period == 10000000);
		CHECK(pstr_is(cp_pprof_string(p, p->period_type.type), "cpu"));
		CHECK(pstr_is(cp_pprof_string(p, p->period_type.unit), "nanoseconds"));
		CHECK(pstr_is(cp_pprof_string(p, p->default_sample_type), "cpu"));
		CHECK(pstr_is(cp_pprof_string(p, p->drop_frames), "a"));
		CHECK(pstr_is(cp_pprof_string(p, p->keep_frames), "b"));
		CHECK(p->ncomments == 3 && p->comments[0] == S_COMMENT && p->comments[1] == S_EMPTY);
		CHECK(pstr_is(cp_pprof_string(p, p->sample_types[1].type), "cpu"));
		CHECK(pstr_is(cp_pprof_string(p, p->sample_types[0].unit), "count"));
	}
	cp_pprof_free(p);
	free(plain.data);

	/* Absent period type and fields at their defaults. */
	spec = example_profile();
	spec.period_type[0] = spec.period_type[1] = 0;
	spec.default_sample_type = 0;
	spec.period = 0;
	spec.ncomments = 0;
	plain = write_profile(&spec, 0);
	p = decode_ok("defaults", plain.data, plain.len);
	if (p) {
		CHECK(p->period_type.type == 0 && p->period_type.unit == 0 && p->period == 0);
		CHECK(p->default_sample_type == 0 && p->ncomments == 0 && p->drop_frames == 0);
	}
	cp_pprof_free(p);
	free(plain.data);
}

static void minimal_profile(void)
{
	/* The smallest valid profile: string_table [""] and one sample type {0, 0}. */
	static const uint8_t minimal[] = {0x32, 0x00, 0x0a, 0x00};
	cp_pprof *p = decode_ok("minimal", minimal, sizeof minimal);
	if (p) {
		CHECK(p->nstrings == 1 && p->nsample_types == 1 && p->nsamples == 0);
		CHECK(p->nmappings == 0 && p->nlocations == 0 && p->nfunctions == 0);
		cp_flat *flat = cp_flat_new(CP_FLAT_STACKS);
		char err[256];
		CHECK(cp_flat_add(flat, p, err, sizeof err) == 0);
		CHECK(cp_flat_ntypes(flat) == 1 && cp_flat_total(flat, 0) == 0 && cp_flat_nfunctions(flat) == 0);
		CHECK(cp_flat_nnodes(flat) == 1);
		cp_flat_destroy(flat);
	}
	cp_pprof_free(p);
}

/* ------------------------------------------------------------------ flattening */

static size_t function_named(const cp_flat *flat, const char *name)
{
	for (size_t f = 0; f < cp_flat_nfunctions(flat); f++)
		if (pstr_is(cp_flat_function_name(flat, f), name))
			return f;
	return SIZE_MAX;
}

/* Expects flat and cum of a function for both types (cpu is samples x 10). */
static void expect_function(const cp_flat *flat, const char *name, int64_t flat_samples, int64_t cum_samples)
{
	int before = check_failures_in_test;
	size_t f = function_named(flat, name);
	CHECK(f != SIZE_MAX);
	if (f != SIZE_MAX) {
		CHECK(cp_flat_flat(flat, f, 0) == flat_samples);
		CHECK(cp_flat_cum(flat, f, 0) == cum_samples);
		CHECK(cp_flat_flat(flat, f, 1) == 10 * flat_samples);
		CHECK(cp_flat_cum(flat, f, 1) == 10 * cum_samples);
	}
	if (check_failures_in_test != before)
		fprintf(stderr, "    function %s: expected flat %" PRId64 ", cum %" PRId64 "; got flat %" PRId64 ", cum %" PRId64 "\n",
			name, flat_samples, cum_samples, f == SIZE_MAX ? 0 : cp_flat_flat(flat, f, 0),
			f == SIZE_MAX ? 0 : cp_flat_cum(flat, f, 0));
}

static cp_flat *flatten_example(unsigned flat_flags, unsigned write_flags)
{
	profile_spec spec = example_profile();
	bytes plain = write_profile(&spec, write_flags);
	cp_pprof *p = decode_ok("example", plain.data, plain.len);
	free(plain.data);
	if (!p)
		return NULL;
	cp_flat *flat = cp_flat_new(flat_flags);
	char err[512] = "";
	int rc = cp_flat_add(flat, p, err, sizeof err);
	CHECK(rc == 0);
	if (rc)
		fprintf(stderr, "    cp_flat_add: %s\n", err);
	cp_pprof_free(p);
	return flat;
}

/* The hand computation (samples; cpu is x10), samples leaf first:
 *   b b a main 1 | leaf(caller) a main 2 | [libfoo.so] main 3 | <unknown> 4 | a main -5 |
 *   [libfoo.so](function_id 0) main 6 | (no stack) 7 | b a b main 8
 * total 26, |total| 36; flat: b 1+8, inlined_leaf 2, [libfoo.so] 3+6, <unknown> 4, a -5;
 * cum: main 1+2+3-5+6+8, a 1+2-5+8, b 1+8 (recursion once), inlined_* 2. */
static void flat_and_cum_by_hand(void)
{
	cp_flat *flat = flatten_example(0, 0);
	if (!flat)
		return;
	CHECK(cp_flat_nprofiles(flat) == 1);
	CHECK(cp_flat_ntypes(flat) == 2);
	CHECK(pstr_is(cp_flat_type(flat, 0), "samples") && pstr_is(cp_flat_unit(flat, 0), "count"));
	CHECK(pstr_is(cp_flat_type(flat, 1), "cpu") && pstr_is(cp_flat_unit(flat, 1), "nanoseconds"));
	CHECK(pstr_is(cp_flat_default_type(flat), "cpu"));
	CHECK(cp_flat_total(flat, 0) == 26 && cp_flat_total(flat, 1) == 260);
	CHECK(cp_flat_total_abs(flat, 0) == 36 && cp_flat_total_abs(flat, 1) == 360);
	expect_function(flat, "main", 0, 15);
	expect_function(flat, "a", -5, 6);
	expect_function(flat, "b", 9, 9);
	expect_function(flat, "inlined_leaf", 2, 2);
	expect_function(flat, "inlined_caller", 0, 2);
	expect_function(flat, "[libfoo.so]", 9, 9);
	expect_function(flat, "<unknown>", 4, 4);
	/* Only these names carry values (the two libfoo frames merge; other names, such as one
	 * for /bin/app, may exist with zero flat and cum). */
	static const char *const named[] = {"main", "a", "b", "inlined_leaf", "inlined_caller",
					    "[libfoo.so]", "<unknown>"};
	size_t with_values = 0;
	for (size_t f = 0; f < cp_flat_nfunctions(flat); f++) {
		int listed = 0;
		for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
			listed |= pstr_is(cp_flat_function_name(flat, f), named[i]);
		if (listed) {
			with_values++;
			continue;
		}
		for (size_t t = 0; t < 2; t++)
			CHECK(cp_flat_flat(flat, f, t) == 0 && cp_flat_cum(flat, f, t) == 0);
	}
	CHECK(with_values == sizeof named / sizeof named[0]);
	cp_flat_destroy(flat);

	/* Any encoding flattens the same. */
	flat = flatten_example(0, W_REVERSED | W_UNPACKED | W_UNKNOWN);
	if (flat) {
		expect_function(flat, "main", 0, 15);
		expect_function(flat, "b", 9, 9);
		expect_function(flat, "[libfoo.so]", 9, 9);
		CHECK(cp_flat_total(flat, 0) == 26);
	}
	cp_flat_destroy(flat);
}

/* The child of parent with the given function name, or SIZE_MAX. */
static size_t child_named(const cp_flat *flat, size_t parent, const char *name)
{
	size_t found = SIZE_MAX;
	for (size_t n = 1; n < cp_flat_nnodes(flat); n++) {
		if (cp_flat_node_parent(flat, n) != parent)
			continue;
		if (!pstr_is(cp_flat_function_name(flat, cp_flat_node_function(flat, n)), name))
			continue;
		CHECK(found == SIZE_MAX); /* one child per function */
		found = n;
	}
	return found;
}

/* The node at the end of a root-to-leaf path of names (NULL-terminated), or SIZE_MAX. */
static size_t node_at(const cp_flat *flat, const char *const *path)
{
	size_t node = CP_FLAT_ROOT;
	for (; *path && node != SIZE_MAX; path++)
		node = child_named(flat, node, *path);
	return node;
}

static void expect_self(const cp_flat *flat, const char *const *path, int64_t self_samples)
{
	size_t node = node_at(flat, path);
	CHECK(node != SIZE_MAX);
	if (node == SIZE_MAX) {
		fprintf(stderr, "    no node for the path starting %s\n", path[0]);
		return;
	}
	CHECK(cp_flat_node_self(flat, node, 0) == self_samples);
	CHECK(cp_flat_node_self(flat, node, 1) == 10 * self_samples);
	if (cp_flat_node_self(flat, node, 0) != self_samples)
		fprintf(stderr, "    path starting %s: self %" PRId64 ", expected %" PRId64 "\n", path[0],
			cp_flat_node_self(flat, node, 0), self_samples);
}

static void stack_tree_by_hand(void)
{
	cp_flat *flat = flatten_example(CP_FLAT_STACKS, 0);
	if (!flat)
		return;
	/* root; main, main/a, main/a/b, main/a/b/b, main/a/inlined_caller,
	 * main/a/inlined_caller/inlined_leaf, main/[libfoo.so], <unknown>, main/b, main/b/a,
	 * main/b/a/b: the stackless sample makes no node. */
	CHECK(cp_flat_nnodes(flat) == 12);
	CHECK(cp_flat_node_parent(flat, CP_FLAT_ROOT) == UINT32_MAX);
	for (size_t n = 1; n < cp_flat_nnodes(flat); n++) {
		CHECK(cp_flat_node_parent(flat, n) < n);
		CHECK(cp_flat_node_function(flat, n) < cp_flat_nfunctions(flat));
	}
	static const char *const main_a_b_b[] = {"main", "a", "b", "b", NULL};
	static const char *const main_a_leaf[] = {"main", "a", "inlined_caller", "inlined_leaf", NULL};
	static const char *const main_libfoo[] = {"main", "[libfoo.so]", NULL};
	static const char *const unknown[] = {"<unknown>", NULL};
	static const char *const main_a[] = {"main", "a", NULL};
	static const char *const main_b_a_b[] = {"main", "b", "a", "b", NULL};
	static const char *const main_only[] = {"main", NULL};
	static const char *const main_a_b[] = {"main", "a", "b", NULL};
	static const char *const main_a_caller[] = {"main", "a", "inlined_caller", NULL};
	expect_self(flat, main_a_b_b, 1);
	expect_self(flat, main_a_leaf, 2);
	expect_self(flat, main_libfoo, 3 + 6);
	expect_self(flat, unknown, 4);
	expect_self(flat, main_a, -5);
	expect_self(flat, main_b_a_b, 8);
	expect_self(flat, main_only, 0);
	expect_self(flat, main_a_b, 0);
	expect_self(flat, main_a_caller, 0);
	/* Self values add up to the total less the stackless sample. */
	int64_t sum = 0;
	for (size_t n = 0; n < cp_flat_nnodes(flat); n++)
		sum += cp_flat_node_self(flat, n, 0);
	CHECK(sum == 26 - 7);
	/* Flat and cum do not depend on the stack tree. */
	expect_function(flat, "main", 0, 15);
	expect_function(flat, "b", 9, 9);
	cp_flat_destroy(flat);
}

static void merging_two_profiles(void)
{
	profile_spec spec = example_profile();
	bytes plain = write_profile(&spec, 0), other = write_profile(&spec, W_REVERSED | W_UNPACKED);
	cp_pprof *a = decode_ok("first", plain.data, plain.len), *b = decode_ok("second", other.data, other.len);
	if (a && b) {
		cp_flat *flat = cp_flat_new(CP_FLAT_STACKS);
		char err[512] = "";
		CHECK(cp_flat_add(flat, a, err, sizeof err) == 0);
		size_t nnodes = cp_flat_nnodes(flat), nfunctions = cp_flat_nfunctions(flat);
		CHECK(cp_flat_add(flat, b, err, sizeof err) == 0);
		CHECK(cp_flat_nprofiles(flat) == 2);
		CHECK(cp_flat_total(flat, 0) == 52 && cp_flat_total_abs(flat, 1) == 720);
		CHECK(cp_flat_nnodes(flat) == nnodes && cp_flat_nfunctions(flat) == nfunctions);
		expect_function(flat, "main", 0, 30);
		expect_function(flat, "a", -10, 12);
		expect_function(flat, "[libfoo.so]", 18, 18);
		static const char *const main_b_a_b[] = {"main", "b", "a", "b", NULL};
		expect_self(flat, main_b_a_b, 16);
		cp_flat_destroy(flat);
	}
	cp_pprof_free(a);
	cp_pprof_free(b);
	free(plain.data);
	free(other.data);
}

int main(void)
{
	RUN(plain_encoding_matches_reference);
	RUN(packed_and_unpacked_agree);
	RUN(unknown_fields_are_skipped);
	RUN(references_resolve_in_any_order);
	RUN(gzip_matches_raw);
	RUN(multi_member_gzip_is_the_concatenation);
	RUN(sparse_ids_resolve);
	RUN(function_id_zero_is_none);
	RUN(labels_decode);
	RUN(scalars_decode);
	RUN(minimal_profile);
	RUN(flat_and_cum_by_hand);
	RUN(stack_tree_by_hand);
	RUN(merging_two_profiles);
	return check_summary("test_decode_valid");
}
