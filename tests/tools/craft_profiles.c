/* craft_profiles: writes hand-built pprof profiles that exercise the edge cases of flattening
 * (recursion, inlining, unnamed frames, odd names and values, drop_frames and keep_frames
 * pruning, merging) into a folder, for tests/crafted.sh to compare cprof-query with
 * `go tool pprof`. pprof accepts every one of them but function_id_zero.pb.gz (see its twin).
 *
 * usage: craft_profiles DIR
 *
 * Every file is named for what it covers; ".pb.gz" files are gzip'd, ".pb" files raw protobuf.
 * DIR/MANIFEST lists them, one per TAB-separated line:
 *   profile  FILE            TYPES  ORACLE  ABOUT
 *   merge    FILE,FILE[,...] TYPES  ORACLE  ABOUT
 * TYPES is "type/unit" per sample index, space-separated. ORACLE says what cprof is compared
 * with: "pprof" (pprof -top on the same files), "pprof-multiline" (the same, for names holding
 * line breaks, which the test rejoins before parsing), "pprof-collisions" (pprof prints several
 * rows with one name, which cprof merges into one: flat must equal their sum, and cum must lie
 * between the largest row's cum and their sum, since a sample can hold several of them), or
 * "twin:FILE" (pprof rejects this file;
 * cprof must answer for it what pprof answers for FILE, the same profile written the way pprof
 * accepts). Stacks are varied with a fixed-seed generator, so the output never changes. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "profile.pb-c.h"

/* ------------------------------------------------------------------ small helpers */

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "craft_profiles: %s\n", what);
	exit(1);
}

static void *checked_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		die("out of memory");
	return p;
}

static char *checked_strdup(const char *s)
{
	char *copy = strdup(s);
	if (!copy)
		die("out of memory");
	return copy;
}

/* Appends item to a growing array of pointers or values. */
#define APPEND(array, count, capacity, item)                                            \
	do {                                                                            \
		if ((count) == (capacity)) {                                            \
			(capacity) = (capacity) ? 2 * (capacity) : 16;                  \
			void *grown_ = realloc((array), (capacity) * sizeof *(array)); \
			if (!grown_)                                                    \
				die("out of memory");                                   \
			(array) = grown_;                                               \
		}                                                                       \
		(array)[(count)++] = (item);                                            \
	} while (0)

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void append_text(char *buf, size_t size, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + used, size - used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - used)
		die("stack text too long");
}

/* xorshift64*: a small deterministic generator, so the files are the same on every run. */
typedef struct {
	uint64_t state;
} rng;

static uint64_t rng_next(rng *r)
{
	r->state ^= r->state >> 12;
	r->state ^= r->state << 25;
	r->state ^= r->state >> 27;
	return r->state * 0x2545F4914F6CDD1DULL;
}

/* A number in [0, n). */
static int64_t pick(rng *r, int64_t n)
{
	return (int64_t)(rng_next(r) % (uint64_t)n);
}

/* ------------------------------------------------------------------ profile builder */

typedef struct {
	char *key; /* a folded-stack token or a function name */
	uint64_t id;
} cache_entry;

typedef struct {
	Perftools__Profiles__Profile profile;
	Perftools__Profiles__ValueType period_type;
	char **strings;
	size_t nstrings, cap_strings;
	Perftools__Profiles__ValueType **types;
	size_t ntypes, cap_types;
	Perftools__Profiles__Sample **samples;
	size_t nsamples, cap_samples;
	Perftools__Profiles__Mapping **mappings;
	size_t nmappings, cap_mappings;
	Perftools__Profiles__Location **locations;
	size_t nlocations, cap_locations;
	Perftools__Profiles__Function **functions;
	size_t nfunctions, cap_functions;
	cache_entry *named_functions, *token_locations;
	size_t nnamed, cap_named, ntokens, cap_tokens;
	void **blocks; /* every other allocation, freed with the builder */
	size_t nblocks, cap_blocks;
	uint64_t default_mapping; /* mapping of locations made from tokens; 0: none */
	uint64_t next_address;
} builder;

static void *owned_calloc(builder *b, size_t n, size_t size)
{
	void *p = checked_calloc(n, size);
	APPEND(b->blocks, b->nblocks, b->cap_blocks, p);
	return p;
}

static int64_t string_index(builder *b, const char *s)
{
	if (!s)
		s = "";
	for (size_t i = 0; i < b->nstrings; i++)
		if (strcmp(b->strings[i], s) == 0)
			return (int64_t)i;
	APPEND(b->strings, b->nstrings, b->cap_strings, checked_strdup(s));
	return (int64_t)b->nstrings - 1;
}

static builder *builder_new(void)
{
	builder *b = checked_calloc(1, sizeof *b);
	Perftools__Profiles__Profile init = PERFTOOLS__PROFILES__PROFILE__INIT;
	Perftools__Profiles__ValueType period_init = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	b->profile = init;
	b->period_type = period_init;
	string_index(b, ""); /* string_table[0] is always "" */
	b->next_address = 0x401000;
	return b;
}

static void builder_free(builder *b)
{
	for (size_t i = 0; i < b->nstrings; i++)
		free(b->strings[i]);
	for (size_t i = 0; i < b->nnamed; i++)
		free(b->named_functions[i].key);
	for (size_t i = 0; i < b->ntokens; i++)
		free(b->token_locations[i].key);
	for (size_t i = 0; i < b->nblocks; i++)
		free(b->blocks[i]);
	free(b->strings);
	free(b->types);
	free(b->samples);
	free(b->mappings);
	free(b->locations);
	free(b->functions);
	free(b->named_functions);
	free(b->token_locations);
	free(b->blocks);
	free(b);
}

static void add_sample_type(builder *b, const char *type, const char *unit)
{
	Perftools__Profiles__ValueType *vt = owned_calloc(b, 1, sizeof *vt);
	Perftools__Profiles__ValueType init = PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
	*vt = init;
	vt->type = string_index(b, type);
	vt->unit = string_index(b, unit);
	APPEND(b->types, b->ntypes, b->cap_types, vt);
}

static void set_period(builder *b, const char *type, const char *unit, int64_t period)
{
	b->period_type.type = string_index(b, type);
	b->period_type.unit = string_index(b, unit);
	b->profile.period_type = &b->period_type;
	b->profile.period = period;
}

static void set_drop_frames(builder *b, const char *drop, const char *keep)
{
	b->profile.drop_frames = string_index(b, drop);
	if (keep)
		b->profile.keep_frames = string_index(b, keep);
}

static uint64_t add_mapping(builder *b, uint64_t start, uint64_t limit, uint64_t offset, const char *file,
			    const char *build_id)
{
	Perftools__Profiles__Mapping *m = owned_calloc(b, 1, sizeof *m);
	Perftools__Profiles__Mapping init = PERFTOOLS__PROFILES__MAPPING__INIT;
	*m = init;
	m->id = b->nmappings + 1;
	m->memory_start = start;
	m->memory_limit = limit;
	m->file_offset = offset;
	m->filename = string_index(b, file);
	m->build_id = string_index(b, build_id);
	m->has_functions = 1;
	APPEND(b->mappings, b->nmappings, b->cap_mappings, m);
	return m->id;
}

/* A new function entry, even when another one has the same name. */
static uint64_t add_function(builder *b, const char *name, const char *system_name, const char *filename,
			     int64_t start_line)
{
	Perftools__Profiles__Function *f = owned_calloc(b, 1, sizeof *f);
	Perftools__Profiles__Function init = PERFTOOLS__PROFILES__FUNCTION__INIT;
	*f = init;
	f->id = b->nfunctions + 1;
	f->name = string_index(b, name);
	f->system_name = string_index(b, system_name);
	f->filename = string_index(b, filename);
	f->start_line = start_line;
	APPEND(b->functions, b->nfunctions, b->cap_functions, f);
	return f->id;
}

/* The one function this builder uses for a name (created on first use). */
static uint64_t named_function(builder *b, const char *name)
{
	for (size_t i = 0; i < b->nnamed; i++)
		if (strcmp(b->named_functions[i].key, name) == 0)
			return b->named_functions[i].id;
	uint64_t id = add_function(b, name, name, "src/app.c", 10 * (int64_t)(b->nfunctions + 1));
	cache_entry e = {checked_strdup(name), id};
	APPEND(b->named_functions, b->nnamed, b->cap_named, e);
	return id;
}

/* A location whose lines call the given functions, innermost (leaf) first, as in the proto; a
 * function id 0 writes a line without a function. nlines 0 makes an address-only location. */
static uint64_t add_location(builder *b, uint64_t mapping_id, uint64_t address, const uint64_t *function_ids,
			     size_t nlines)
{
	Perftools__Profiles__Location *l = owned_calloc(b, 1, sizeof *l);
	Perftools__Profiles__Location init = PERFTOOLS__PROFILES__LOCATION__INIT;
	*l = init;
	l->id = b->nlocations + 1;
	l->mapping_id = mapping_id;
	l->address = address;
	l->n_line = nlines;
	if (nlines) {
		l->line = owned_calloc(b, nlines, sizeof *l->line);
		for (size_t k = 0; k < nlines; k++) {
			Perftools__Profiles__Line line_init = PERFTOOLS__PROFILES__LINE__INIT;
			l->line[k] = owned_calloc(b, 1, sizeof *l->line[k]);
			*l->line[k] = line_init;
			l->line[k]->function_id = function_ids[k];
			l->line[k]->line = 100 + (int64_t)k;
		}
	}
	APPEND(b->locations, b->nlocations, b->cap_locations, l);
	return l->id;
}

static uint64_t fresh_address(builder *b)
{
	b->next_address += 0x40;
	return b->next_address;
}

/* A single-line location in the default mapping calling the named function (one per name). */
static uint64_t frame(builder *b, const char *name)
{
	uint64_t fn = named_function(b, name);
	return add_location(b, b->default_mapping, fresh_address(b), &fn, 1);
}

/* The location of a folded-stack token: "@N" is location N; "outer+mid+inner" is one location
 * whose lines are the named functions, the last one innermost (inlined deepest). Tokens are
 * cached, so the same token is always the same location. */
static uint64_t token_location(builder *b, const char *token, size_t len)
{
	if (len > 1 && token[0] == '@')
		return strtoull(token + 1, NULL, 10);
	for (size_t i = 0; i < b->ntokens; i++)
		if (strlen(b->token_locations[i].key) == len && memcmp(b->token_locations[i].key, token, len) == 0)
			return b->token_locations[i].id;
	char *key = checked_calloc(len + 1, 1);
	memcpy(key, token, len);
	uint64_t fns[16];
	size_t n = 0;
	for (char *part = key, *end;; part = end + 1) {
		end = strchr(part, '+');
		if (end)
			*end = '\0';
		if (n == 16)
			die("too many inlined lines in one token");
		fns[n++] = named_function(b, part);
		if (!end)
			break;
		*end = '+';
	}
	for (size_t k = 0; k < n / 2; k++) { /* token order is outer first; lines are inner first */
		uint64_t t = fns[k];
		fns[k] = fns[n - 1 - k];
		fns[n - 1 - k] = t;
	}
	uint64_t id = add_location(b, b->default_mapping, fresh_address(b), fns, n);
	cache_entry e = {key, id};
	APPEND(b->token_locations, b->ntokens, b->cap_tokens, e);
	return id;
}

/* Adds a sample of the given locations (leaf first). */
static void add_sample_ids(builder *b, const uint64_t *location_ids, size_t nlocations, const int64_t *values,
			   size_t nvalues)
{
	if (nvalues != b->ntypes)
		die("a sample has the wrong number of values");
	Perftools__Profiles__Sample *s = owned_calloc(b, 1, sizeof *s);
	Perftools__Profiles__Sample init = PERFTOOLS__PROFILES__SAMPLE__INIT;
	*s = init;
	s->n_location_id = nlocations;
	s->location_id = owned_calloc(b, nlocations, sizeof *s->location_id);
	if (nlocations)
		memcpy(s->location_id, location_ids, nlocations * sizeof *location_ids);
	s->n_value = nvalues;
	s->value = owned_calloc(b, nvalues, sizeof *s->value);
	memcpy(s->value, values, nvalues * sizeof *values);
	APPEND(b->samples, b->nsamples, b->cap_samples, s);
}

/* Adds a sample given as a folded stack: tokens root first, separated by ';' ("" is empty). */
static void add_stack(builder *b, const char *folded, const int64_t *values, size_t nvalues)
{
	uint64_t ids[256];
	size_t n = 0;
	for (const char *p = folded; *p;) {
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (n == 256)
			die("stack too deep");
		ids[n++] = token_location(b, p, len);
		p += len;
		if (*p == ';')
			p++;
	}
	for (size_t k = 0; k < n / 2; k++) { /* root first to leaf first */
		uint64_t t = ids[k];
		ids[k] = ids[n - 1 - k];
		ids[n - 1 - k] = t;
	}
	add_sample_ids(b, ids, n, values, nvalues);
}

#define VALUES(...) (const int64_t[]){__VA_ARGS__}, sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)
#define STACK(b, folded, ...) add_stack((b), (folded), VALUES(__VA_ARGS__))
#define SAMPLE_IDS(b, ids, n, ...) add_sample_ids((b), (ids), (n), VALUES(__VA_ARGS__))

/* The usual CPU profile shape: samples/count and cpu/nanoseconds, a main binary mapping. */
static builder *cpu_builder(void)
{
	builder *b = builder_new();
	add_sample_type(b, "samples", "count");
	add_sample_type(b, "cpu", "nanoseconds");
	set_period(b, "cpu", "nanoseconds", 10000000);
	b->default_mapping = add_mapping(b, 0x400000, 0x800000, 0, "/usr/local/bin/app", "");
	return b;
}

/* Plausible values for the two CPU types: a count and about ten milliseconds per count. */
static void cpu_values(rng *r, int64_t *count, int64_t *nanos)
{
	*count = 1 + pick(r, 5);
	*nanos = *count * 10000000 + pick(r, 50) * 1000;
}

/* ------------------------------------------------------------------ writing */

typedef struct {
	const char *dir;
	FILE *manifest;
} output;

static void types_text(const builder *b, char *buf, size_t size)
{
	buf[0] = '\0';
	for (size_t t = 0; t < b->ntypes; t++)
		append_text(buf, size, "%s%s/%s", t ? " " : "", b->strings[b->types[t]->type],
			    b->strings[b->types[t]->unit]);
}

static void write_file(const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "craft_profiles: cannot write %s\n", path);
		exit(1);
	}
}

/* Packs the profile, gzips it when the name ends in ".gz", writes it and frees the builder. */
static void write_profile(const output *out, builder *b, const char *file)
{
	Perftools__Profiles__Profile *p = &b->profile;
	p->n_sample_type = b->ntypes;
	p->sample_type = b->types;
	p->n_sample = b->nsamples;
	p->sample = b->samples;
	p->n_mapping = b->nmappings;
	p->mapping = b->mappings;
	p->n_location = b->nlocations;
	p->location = b->locations;
	p->n_function = b->nfunctions;
	p->function = b->functions;
	p->n_string_table = b->nstrings;
	p->string_table = b->strings;

	size_t len = perftools__profiles__profile__get_packed_size(p);
	uint8_t *raw = checked_calloc(len, 1);
	perftools__profiles__profile__pack(p, raw);

	char path[4096];
	snprintf(path, sizeof path, "%s/%s", out->dir, file);
	size_t flen = strlen(file);
	if (flen > 3 && strcmp(file + flen - 3, ".gz") == 0) {
		z_stream zs;
		memset(&zs, 0, sizeof zs);
		if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			die("deflateInit2 failed");
		uLong bound = deflateBound(&zs, (uLong)len) + 64;
		uint8_t *gz = checked_calloc(bound, 1);
		zs.next_in = raw;
		zs.avail_in = (uInt)len;
		zs.next_out = gz;
		zs.avail_out = (uInt)bound;
		if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
			die("deflate did not finish");
		write_file(path, gz, zs.total_out);
		deflateEnd(&zs);
		free(gz);
	} else {
		write_file(path, raw, len);
	}
	free(raw);
	builder_free(b);
}

static void manifest_line(const output *out, const char *kind, const char *files, const char *types,
			  const char *oracle, const char *about)
{
	fprintf(out->manifest, "%s\t%s\t%s\t%s\t%s\n", kind, files, types, oracle, about);
}

/* Writes one profile and its MANIFEST line. */
static void emit(const output *out, builder *b, const char *file, const char *oracle, const char *about)
{
	char types[512];
	types_text(b, types, sizeof types);
	manifest_line(out, "profile", file, types, oracle, about);
	write_profile(out, b, file);
}

/* ------------------------------------------------------------------ recursion and inlining */

static void craft_recursion_direct(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed0001};
	for (int i = 0; i < 400; i++) {
		char stack[2048] = "";
		int64_t depth = pick(&r, 7), count, nanos;
		switch (pick(&r, 5)) {
		case 0: /* recursion in the middle, a different leaf */
			append_text(stack, sizeof stack, "main;run");
			for (int64_t d = 0; d < depth; d++)
				append_text(stack, sizeof stack, ";fact");
			append_text(stack, sizeof stack, ";leaf_compute");
			break;
		case 1: /* the recursive function is the leaf */
			append_text(stack, sizeof stack, "main;run");
			for (int64_t d = 0; d <= depth; d++)
				append_text(stack, sizeof stack, ";fib");
			break;
		case 2: /* recursion through a helper */
			append_text(stack, sizeof stack, "main;walk_tree");
			for (int64_t d = 0; d < depth; d++)
				append_text(stack, sizeof stack, ";visit;walk_tree");
			append_text(stack, sizeof stack, ";leaf_io");
			break;
		case 3: /* recursion at the root, no main */
			for (int64_t d = 0; d <= depth % 4; d++)
				append_text(stack, sizeof stack, "%sfact", d ? ";" : "");
			break;
		default: /* the same function recurring with others between */
			append_text(stack, sizeof stack, "main;fact;run;fact;run");
			if (depth > 3)
				append_text(stack, sizeof stack, ";leaf_io");
			break;
		}
		cpu_values(&r, &count, &nanos);
		STACK(b, stack, count, nanos);
	}
	emit(out, b, "recursion_direct.pb.gz", "pprof",
	     "direct recursion: in the middle, at the leaf, at the root, through a helper");
}

static void craft_recursion_mutual(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed0002};
	static const char *const cycle3[] = {"parse_expr", "parse_term", "parse_factor"};
	for (int i = 0; i < 400; i++) {
		char stack[2048] = "main;eval";
		int64_t depth = 1 + pick(&r, 9), count, nanos;
		if (pick(&r, 2)) {
			for (int64_t d = 0; d < depth; d++)
				append_text(stack, sizeof stack, ";%s", d % 2 ? "is_odd" : "is_even");
		} else {
			int64_t start = pick(&r, 3);
			for (int64_t d = 0; d < depth; d++)
				append_text(stack, sizeof stack, ";%s", cycle3[(start + d) % 3]);
		}
		if (pick(&r, 3) == 0)
			append_text(stack, sizeof stack, ";next_token");
		cpu_values(&r, &count, &nanos);
		STACK(b, stack, count, nanos);
	}
	emit(out, b, "recursion_mutual.pb.gz", "pprof", "mutual recursion: a 2-cycle and a 3-cycle, varied depths");
}

static void craft_recursion_inlined(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed0003};
	/* "a+b" is one location: a with b inlined into it. Each stack has one function both as an
	 * inlined line and as a frame of its own. */
	static const char *const stacks[] = {
		"main;decode_byte;decode+decode_byte",
		"main;decode;decode+decode_byte",
		"main;decode+decode_byte;decode_byte",
		"main;parse+parse",
		"main;parse+parse;parse",
		"main;eval+apply+eval;apply",
		"main;eval+apply+eval;apply;eval+apply",
		"main;loop;step+loop",
		"main;loop;step+loop;step+loop;emit",
		"serve+main;main",
		"main;run+main",
	};
	for (int i = 0; i < 300; i++) {
		int64_t count, nanos;
		cpu_values(&r, &count, &nanos);
		STACK(b, stacks[pick(&r, (int64_t)(sizeof stacks / sizeof *stacks))], count, nanos);
	}
	emit(out, b, "recursion_inlined.pb.gz", "pprof",
	     "recursion through inlined frames: a function as an inlined line and as an outer frame of one sample");
}

static void craft_inline_multiline(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed0004};
	static const char *const middle[] = {
		"serve+handle", "handle+parse_header+read_byte", "handle+parse_body", "dispatch+route+match_path",
		"compress+deflate_block+emit_bits+put_byte", "render",
	};
	static const char *const leaves[] = {
		"memcpy", "write_out+flush_buffer", "hash+mix+rotate", "parse_header+read_byte", "alloc",
	};
	for (int i = 0; i < 400; i++) {
		char stack[2048] = "main";
		int64_t depth = pick(&r, 4), count, nanos;
		for (int64_t d = 0; d < depth; d++)
			append_text(stack, sizeof stack, ";%s", middle[pick(&r, (int64_t)(sizeof middle / sizeof *middle))]);
		if (pick(&r, 4))
			append_text(stack, sizeof stack, ";%s", leaves[pick(&r, (int64_t)(sizeof leaves / sizeof *leaves))]);
		cpu_values(&r, &count, &nanos);
		STACK(b, stack, count, nanos);
	}
	emit(out, b, "inline_multiline.pb.gz", "pprof",
	     "locations of 2-4 inlined lines as leaves and in the middle of stacks");
}

/* ------------------------------------------------------------------ unnamed frames */

static void craft_address_only(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed0005};
	uint64_t libc = add_mapping(b, 0x7f0000000000, 0x7f0000200000, 0, "/usr/lib/x86_64-linux-gnu/libc.so.6", "");
	uint64_t vdso = add_mapping(b, 0x7ffd00000000, 0x7ffd00002000, 0, "[vdso]", "");
	uint64_t slash = add_mapping(b, 0x7f1000000000, 0x7f1000100000, 0, "/opt/plugins/", "");
	uint64_t slashes = add_mapping(b, 0x7f1100000000, 0x7f1100100000, 0, "/opt/cache//", "");
	uint64_t empty = add_mapping(b, 0x7f2000000000, 0x7f2000100000, 0, "", "");
	uint64_t empty_with_id = add_mapping(b, 0x7f2100000000, 0x7f2100300000, 0, "", "a1b2c3d4e5f60718");
	uint64_t root = add_mapping(b, 0x7f3000000000, 0x7f3000100000, 0, "/", "");
	uint64_t relative = add_mapping(b, 0x7f4000000000, 0x7f4000100000, 0, "libjit.so", "");
	uint64_t doubled = add_mapping(b, 0x7f5000000000, 0x7f5000100000, 0x1000, "/usr/lib//deep//libdeep.so.2", "");
	uint64_t kernel = add_mapping(b, 0xffffffff81000000, 0xffffffff82000000, 0, "[kernel.kallsyms]_text", "");
	uint64_t dot = add_mapping(b, 0x7f6000000000, 0x7f6000100000, 0, ".", "");

	uint64_t addr_only[] = {
		add_location(b, libc, 0x7f0000001234, NULL, 0),      add_location(b, libc, 0x7f0000005678, NULL, 0),
		add_location(b, vdso, 0x7ffd00000a10, NULL, 0),      add_location(b, slash, 0x7f1000000100, NULL, 0),
		add_location(b, slashes, 0x7f1100000100, NULL, 0),   add_location(b, empty, 0x7f2000000040, NULL, 0),
		add_location(b, empty_with_id, 0x7f2100000040, NULL, 0), add_location(b, 0, 0x1000, NULL, 0),
		add_location(b, 0, 0x2000, NULL, 0),                 add_location(b, root, 0x7f3000000010, NULL, 0),
		add_location(b, relative, 0x7f4000000020, NULL, 0),  add_location(b, doubled, 0x7f5000000030, NULL, 0),
		add_location(b, kernel, 0xffffffff81001000, NULL, 0), add_location(b, dot, 0x7f6000000050, NULL, 0),
	};
	/* a named function inside libc too: a named frame prints its name whatever its mapping */
	uint64_t memcpy_fn = named_function(b, "memcpy");
	uint64_t libc_named = add_location(b, libc, 0x7f0000009000, &memcpy_fn, 1);
	uint64_t named[] = {frame(b, "main"), frame(b, "worker"), frame(b, "syscall_wrapper"), libc_named};
	size_t n_addr = sizeof addr_only / sizeof *addr_only, n_named = sizeof named / sizeof *named;

	for (int i = 0; i < 500; i++) {
		uint64_t stack[16];
		size_t n = 0;
		int64_t depth = pick(&r, 6), count, nanos;
		for (int64_t d = 0; d < depth; d++) /* leaf side: a mix of unnamed and named frames */
			stack[n++] = pick(&r, 3) ? addr_only[pick(&r, (int64_t)n_addr)] : named[1 + pick(&r, (int64_t)n_named - 1)];
		if (pick(&r, 5))
			stack[n++] = named[0];
		cpu_values(&r, &count, &nanos);
		SAMPLE_IDS(b, stack, n, count, nanos);
	}
	emit(out, b, "address_only_mappings.pb.gz", "pprof",
	     "address-only locations: mapping file full path, [vdso], ending in /, //, empty, empty with build id, /, "
	     "relative, doubled slashes, [kernel.kallsyms]_text, ., and no mapping");
}

/* nsamples CPU samples, each a random stack of 1 to max_depth + 1 frames drawn from locs (the
 * first nlocs of them), called from a common "main". */
static void stacks_over_locations(builder *b, rng *r, const uint64_t *locs, int64_t nlocs, int64_t max_depth,
				  int nsamples)
{
	uint64_t main_loc = frame(b, "main");
	for (int i = 0; i < nsamples; i++) {
		uint64_t stack[64];
		size_t n = 0;
		int64_t depth = 1 + pick(r, max_depth), count, nanos;
		for (int64_t d = 0; d < depth && n < sizeof stack / sizeof *stack - 1; d++)
			stack[n++] = locs[pick(r, nlocs)];
		stack[n++] = main_loc;
		cpu_values(r, &count, &nanos);
		SAMPLE_IDS(b, stack, n, count, nanos);
	}
}

static void craft_unnamed_functions(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed0006};
	uint64_t libm = add_mapping(b, 0x7f0000000000, 0x7f0000100000, 0, "/usr/lib/x86_64-linux-gnu/libm.so.6", "");
	uint64_t empty = add_mapping(b, 0x7f2000000000, 0x7f2000100000, 0, "", "");
	/* every unnamed function has start_line 0: pprof keeps unnamed functions with different
	 * start lines apart (see unnamed_start_lines for that) */
	uint64_t anon1 = add_function(b, "", "", "", 0);
	uint64_t anon2 = add_function(b, "", "hidden_system_name", "lib/hidden.c", 0);
	uint64_t anon3 = add_function(b, "", "", "lib/other.c", 0);
	uint64_t caller = named_function(b, "caller");
	uint64_t callee = named_function(b, "callee");
	uint64_t lines_a[] = {anon1};
	uint64_t lines_b[] = {anon2, caller};         /* unnamed inlined into caller */
	uint64_t lines_c[] = {callee, anon3};         /* callee inlined into an unnamed function */
	uint64_t lines_d[] = {anon1, callee, anon2}; /* unnamed, named, unnamed in one location */
	uint64_t locs[] = {
		add_location(b, libm, 0x7f0000000100, lines_a, 1),
		add_location(b, libm, 0x7f0000000200, lines_b, 2),
		add_location(b, b->default_mapping, fresh_address(b), lines_b, 2),
		add_location(b, b->default_mapping, fresh_address(b), lines_c, 2),
		add_location(b, libm, 0x7f0000000300, lines_c, 2),
		add_location(b, 0, 0x3000, lines_a, 1),
		add_location(b, empty, 0x7f2000000100, lines_d, 3),
		add_location(b, libm, 0x7f0000000400, NULL, 0), /* address-only, same mapping as anon1 */
		add_location(b, b->default_mapping, fresh_address(b), lines_d, 3),
		frame(b, "callee"),
	};
	stacks_over_locations(b, &r, locs, (int64_t)(sizeof locs / sizeof *locs), 5, 400);
	emit(out, b, "unnamed_functions.pb.gz", "pprof",
	     "functions with an empty name (one with a system name, some with file names) as leaves, inlined "
	     "and outer lines, in a mapping, an empty-file mapping and no mapping");
}

/* The same profile twice: with lines whose function_id is 0 (which pprof refuses: "location has
 * a line with nil function"), and with an unnamed function in their place. */
static builder *function_id_zero_profile(int use_id_zero)
{
	builder *b = cpu_builder();
	rng r = {0x5eed0007};
	uint64_t libz = add_mapping(b, 0x7f0000000000, 0x7f0000100000, 0, "/usr/lib/x86_64-linux-gnu/libz.so.1", "");
	uint64_t empty = add_mapping(b, 0x7f2000000000, 0x7f2000100000, 0, "", "");
	uint64_t none = use_id_zero ? 0 : add_function(b, "", "", "", 0);
	uint64_t outer = named_function(b, "outer_named");
	uint64_t inner = named_function(b, "inner_named");
	uint64_t lines_a[] = {none};
	uint64_t lines_b[] = {none, outer};
	uint64_t lines_c[] = {inner, none};
	uint64_t locs[] = {
		add_location(b, libz, 0x7f0000000100, lines_a, 1),
		add_location(b, b->default_mapping, fresh_address(b), lines_b, 2),
		add_location(b, 0, 0x3000, lines_a, 1),
		add_location(b, libz, 0x7f0000000200, lines_c, 2),
		add_location(b, empty, 0x7f2000000100, lines_a, 1),
		frame(b, "inner_named"),
	};
	stacks_over_locations(b, &r, locs, (int64_t)(sizeof locs / sizeof *locs), 4, 300);
	return b;
}

static void craft_function_id_zero(const output *out)
{
	emit(out, function_id_zero_profile(1), "function_id_zero.pb.gz", "twin:function_id_zero_twin.pb.gz",
	     "lines with function_id 0 (pprof refuses them; cprof names them as unnamed frames)");
	emit(out, function_id_zero_profile(0), "function_id_zero_twin.pb.gz", "pprof",
	     "function_id_zero.pb.gz with an unnamed function in place of function_id 0");
}

static void craft_same_name_functions(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed0008};
	uint64_t process[] = {
		add_function(b, "process", "process_v1", "src/a.c", 10),
		add_function(b, "process", "process_v2", "src/b.c", 200),
		add_function(b, "process", "", "", 0),
	};
	uint64_t init[] = {add_function(b, "init", "", "src/a.c", 1), add_function(b, "init", "", "src/b.c", 1)};
	uint64_t pi_lines[] = {init[1], process[2]}; /* init inlined into the third process */
	uint64_t locs[] = {
		add_location(b, b->default_mapping, fresh_address(b), &process[0], 1),
		add_location(b, b->default_mapping, fresh_address(b), &process[1], 1),
		add_location(b, b->default_mapping, fresh_address(b), &process[2], 1),
		add_location(b, b->default_mapping, fresh_address(b), &init[0], 1),
		add_location(b, b->default_mapping, fresh_address(b), &init[1], 1),
		add_location(b, b->default_mapping, fresh_address(b), pi_lines, 2),
		frame(b, "helper"),
	};
	stacks_over_locations(b, &r, locs, (int64_t)(sizeof locs / sizeof *locs), 5, 400);
	emit(out, b, "same_name_functions.pb.gz", "pprof",
	     "several function entries with one name (different ids, system names, files, start lines), "
	     "together in one stack: merged by name, cum counted once");
}

/* ------------------------------------------------------------------ names */

/* Random stacks over a list of function names, main at the root. */
static void stacks_over_names(builder *b, rng *r, const char *const *names, size_t nnames, int nsamples)
{
	uint64_t *locs = checked_calloc(nnames, sizeof *locs);
	for (size_t i = 0; i < nnames; i++)
		locs[i] = frame(b, names[i]);
	stacks_over_locations(b, r, locs, (int64_t)nnames, 5, nsamples);
	free(locs);
}

static void craft_names_special(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed0009};
	static const char *const names[] = {
		"has\ttab",
		"two\t\ttabs\t",
		"mid\rcarriage_return",
		"back\\slash",
		"\\t_is_a_backslash_and_t",
		"\\",
		"tab\tthen\\backslash",
		"quote\"d \"name\"",
		"'single'",
		"  leading spaces",
		"trailing spaces  ",
		"inner  double  spaces",
		"invalid\xff\xfeutf8",
		"truncated\xe2\x82",
		"\xc0\xaf overlong",
		"caf\xc3\xa9",
		"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
		"std::map<int, std::string>::operator[](int const&)",
		"C:\\path\\like\\name",
		"a,b,c",
		"{json: \"like\"}",
	};
	stacks_over_names(b, &r, names, sizeof names / sizeof *names, 500);
	emit(out, b, "names_special_chars.pb", "pprof",
	     "names with tab, CR, backslash, quotes, leading/trailing/inner spaces, invalid and valid UTF-8 (raw, not gzip'd)");
}

static void craft_names_newline(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed000a};
	static const char *const names[] = {
		"two\nlines", "three\nline\nname", "ends_with_cr\r", "cr_lf\r\nsplit", "\nleading_newline",
		"ends_with_lf\n", "mid\rcr", "tab\tand\nnewline\\",
	};
	stacks_over_names(b, &r, names, sizeof names / sizeof *names, 300);
	emit(out, b, "names_newline_cr.pb.gz", "pprof-multiline",
	     "names with LF (leading, inner, trailing) and CR (inner, trailing), which break pprof's text rows");
}

/* ------------------------------------------------------------------ values */

static void craft_values(const output *out)
{
	builder *b = builder_new();
	rng r = {0x5eed000b};
	add_sample_type(b, "samples", "count");
	add_sample_type(b, "cpu", "nanoseconds");
	add_sample_type(b, "alloc_space", "bytes"); /* zero in every sample */
	set_period(b, "cpu", "nanoseconds", 10000000);
	b->default_mapping = add_mapping(b, 0x400000, 0x800000, 0, "/usr/local/bin/app", "");

	STACK(b, "main;net_zero;gain", 5, 50000000, 0); /* net_zero: flat 0, cum 0: no row */
	STACK(b, "main;net_zero;loss", -5, -50000000, 0);
	STACK(b, "main;flat_only", 7, 70000000, 0); /* flat_only: flat 7, cum 0 */
	STACK(b, "main;flat_only;refund", -7, -70000000, 0);
	STACK(b, "main;cancelled", 3, 30000000, 0); /* the same stack twice, summing to 0 */
	STACK(b, "main;cancelled", -3, -30000000, 0);
	STACK(b, "main;all_zero", 0, 0, 0);
	STACK(b, "main;all_zero;deeper", 0, 0, 0);
	STACK(b, "main;count_only", 4, 0, 0);
	STACK(b, "main;cpu_only", 0, 40000000, 0);
	STACK(b, "main;negative_only", -2, -25000000, 0);
	STACK(b, "negative_root;negative_leaf", -1, -1000, 0);
	static const char *const leaves[] = {"compute", "io_wait", "refund", "gain", "loss"};
	for (int i = 0; i < 300; i++) {
		char stack[256] = "main";
		int64_t count, nanos;
		cpu_values(&r, &count, &nanos);
		if (pick(&r, 3) == 0) { /* a third of the samples are negative */
			count = -count;
			nanos = -nanos;
		}
		if (pick(&r, 7) == 0)
			count = 0;
		if (pick(&r, 7) == 0)
			nanos = 0;
		if (pick(&r, 2))
			append_text(stack, sizeof stack, ";middle");
		append_text(stack, sizeof stack, ";%s", leaves[pick(&r, 5)]);
		STACK(b, stack, count, nanos, 0);
	}
	emit(out, b, "values_negative_zero.pb.gz", "pprof",
	     "negative values, zero-valued samples, a function netting to zero, flat without cum, "
	     "a type zero in one sample but not another, and a type (alloc_space) zero everywhere");
}

static void craft_empty_stacks(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed000c};
	for (int i = 0; i < 200; i++) {
		int64_t count, nanos;
		cpu_values(&r, &count, &nanos);
		switch (pick(&r, 3)) {
		case 0:
			STACK(b, "", count, nanos);
			break;
		case 1:
			STACK(b, "main;compute", count, nanos);
			break;
		default:
			STACK(b, "main;io", count, nanos);
			break;
		}
	}
	STACK(b, "", -3, -30000000);
	emit(out, b, "empty_stacks.pb.gz", "pprof", "samples without locations among ordinary ones");
}

static void craft_default_sample_type(const output *out)
{
	builder *b = builder_new();
	rng r = {0x5eed000d};
	add_sample_type(b, "alloc_objects", "count");
	add_sample_type(b, "alloc_space", "bytes");
	add_sample_type(b, "inuse_objects", "count");
	add_sample_type(b, "inuse_space", "bytes");
	set_period(b, "space", "bytes", 524288);
	b->profile.default_sample_type = string_index(b, "alloc_space");
	b->default_mapping = add_mapping(b, 0x400000, 0x800000, 0, "/usr/local/bin/app", "");
	static const char *const stacks[] = {
		"main;load;decode;malloc", "main;load;malloc", "main;serve;buffer_grow;realloc", "main;serve;new_session;calloc",
	};
	for (int i = 0; i < 300; i++) {
		int64_t objects = 1 + pick(&r, 20), size = objects * (16 << pick(&r, 8));
		int64_t live = pick(&r, 3) ? objects / 2 : 0;
		STACK(b, stacks[pick(&r, 4)], objects, size, live, live * (size / objects));
	}
	emit(out, b, "default_sample_type.pb.gz", "pprof",
	     "a heap profile with default_sample_type alloc_space (index 1, not the last)");
}

static void craft_default_sample_type_unknown(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed0028};
	b->profile.default_sample_type = string_index(b, "wall");
	static const char *const stacks[] = {"main;serve;compute", "main;io"};
	for (int i = 0; i < 100; i++) {
		int64_t count, nanos;
		cpu_values(&r, &count, &nanos);
		STACK(b, stacks[pick(&r, 2)], count, nanos);
	}
	emit(out, b, "default_sample_type_unknown.pb.gz", "pprof",
	     "default_sample_type naming no sample type (wall): the last type is the default");
}

static void craft_many_functions(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed0025};
	enum { NFUNCS = 3000, MAXDEPTH = 160 };
	uint64_t *locs = checked_calloc(NFUNCS, sizeof *locs);
	for (int i = 0; i < NFUNCS; i++) {
		char name[64];
		snprintf(name, sizeof name, "pkg%d.function_%04d", i % 17, i);
		locs[i] = frame(b, name);
	}
	uint64_t main_loc = frame(b, "main");
	uint64_t stack[MAXDEPTH + 1];
	for (int i = 0; i < 1500; i++) {
		size_t n = 0;
		int64_t depth = 1 + pick(&r, MAXDEPTH), base = pick(&r, NFUNCS), count, nanos;
		for (int64_t d = 0; d < depth; d++) /* mostly a walk through nearby functions, some repeats */
			stack[n++] = locs[(base + pick(&r, 40)) % NFUNCS];
		stack[n++] = main_loc;
		cpu_values(&r, &count, &nanos);
		SAMPLE_IDS(b, stack, n, count, nanos);
	}
	free(locs);
	emit(out, b, "many_functions_deep_stacks.pb.gz", "pprof",
	     "3000 functions, 1500 samples with stacks up to 160 frames and repeats within a stack");
}

static void craft_large_values(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed0026};
	static const char *const stacks[] = {"main;a", "main;b;a", "main;c", "other_root;c"};
	for (int i = 0; i < 400; i++) {
		/* up to 2^40 per sample: totals stay below 2^53, which pprof prints exactly */
		int64_t count = 3000000000 + pick(&r, 1000000), nanos = ((int64_t)1 << 40) - pick(&r, 1 << 30);
		if (pick(&r, 4) == 0) {
			count = -count;
			nanos = -nanos;
		}
		STACK(b, stacks[pick(&r, 4)], count, nanos);
	}
	emit(out, b, "large_values.pb.gz", "pprof", "values beyond 32 bits (counts near 3e9, nanoseconds near 2^40), some negative");
}

/* ------------------------------------------------------------------ drop_frames */

static void craft_drop_whole_location(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed000e};
	set_drop_frames(b, "runtime\\.mallocgc", NULL);
	static const char *const stacks[] = {
		"main;handler;runtime.mallocgc;runtime.nextFreeFast",
		"main;handler;runtime.mallocgc",
		"main;handler;runtime.mallocgc+runtime.memclrNoHeapPointers",
		"main;handler;encode;runtime.mallocgc+runtime.memclrNoHeapPointers;runtime.heapBitsSetType",
		"main;handler;encode",
		"main;runtime.mallocgc;handler;runtime.mallocgc;runtime.nextFreeFast",
		"main;handler+inlined_helper;runtime.mallocgc",
		"main;handler;runtime.mallocgc_not_matched;leaf",
	};
	for (int i = 0; i < 300; i++) {
		int64_t count, nanos;
		cpu_values(&r, &count, &nanos);
		STACK(b, stacks[pick(&r, (int64_t)(sizeof stacks / sizeof *stacks))], count, nanos);
	}
	emit(out, b, "drop_frames_whole_location.pb.gz", "pprof",
	     "drop_frames matching a location's only or outermost line: the location and all beneath it go");
}

static void craft_drop_inlined_inner(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed000f};
	set_drop_frames(b, "inner_alloc|second_match", NULL);
	static const char *const stacks[] = {
		"main;outer_fn+inner_alloc+leaf_fn",
		"main;outer_fn+inner_alloc",
		"main;caller;outer_fn+inner_alloc+leaf_fn;more_leaf",
		"main;top+second_match+middle+inner_alloc+bottom",
		"main;top+middle+inner_alloc;deeper+second_match",
		"main;outer_fn;plain_leaf",
		"main;outer_fn+inner_alloc+leaf_fn;outer_fn+inner_alloc+leaf_fn",
	};
	for (int i = 0; i < 300; i++) {
		int64_t count, nanos;
		cpu_values(&r, &count, &nanos);
		STACK(b, stacks[pick(&r, (int64_t)(sizeof stacks / sizeof *stacks))], count, nanos);
	}
	emit(out, b, "drop_frames_inlined_inner.pb.gz", "pprof",
	     "drop_frames matching an inner inlined line: the outer lines of that location stay, all beneath goes");
}

static void craft_drop_middle(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed0010};
	set_drop_frames(b, "lock_.*|sched_yield", NULL);
	uint64_t anon = add_function(b, "", "", "", 0);
	uint64_t lock_fn = named_function(b, "lock_acquire");
	uint64_t anon_lines[] = {anon};
	uint64_t mixed_lines[] = {anon, lock_fn}; /* unnamed inlined into lock_acquire */
	char unnamed_token[32], mixed_token[32];
	snprintf(unnamed_token, sizeof unnamed_token, "@%" PRIu64,
		 add_location(b, b->default_mapping, fresh_address(b), anon_lines, 1));
	snprintf(mixed_token, sizeof mixed_token, "@%" PRIu64,
		 add_location(b, b->default_mapping, fresh_address(b), mixed_lines, 2));
	static const char *const parts[] = {
		"worker", "lock_acquire", "spin", "sched_yield", "lock_release", "compute", "io", "unlock_all",
	};
	for (int i = 0; i < 500; i++) {
		char stack[2048] = "main";
		int64_t depth = 1 + pick(&r, 7), count, nanos;
		for (int64_t d = 0; d < depth; d++) {
			int64_t k = pick(&r, 10);
			append_text(stack, sizeof stack, ";%s", k < 8 ? parts[k] : k == 8 ? unnamed_token : mixed_token);
		}
		cpu_values(&r, &count, &nanos);
		STACK(b, stack, count, nanos);
	}
	emit(out, b, "drop_frames_middle.pb.gz", "pprof",
	     "drop_frames matching frames in the middle of stacks, several times per stack, around unnamed frames");
}

static void craft_drop_root_side(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed0011};
	set_drop_frames(b, "clone|start_thread|__libc_start_main|runtime\\.goexit|malloc", NULL);
	static const char *const stacks[] = {
		"clone;start_thread;worker;compute",
		"clone;start_thread;worker;malloc;arena_get",
		"clone;start_thread",
		"clone",
		"clone;start_thread;malloc",
		"__libc_start_main;main;start_thread;later",
		"__libc_start_main;main;compute",
		"runtime.goexit;runtime.main;main.main;malloc;sbrk",
		"runtime.goexit+clone;start_thread;worker",
		"clone;worker+start_thread;compute",
		"clone;start_thread;worker;clone;start_thread;compute",
	};
	for (int i = 0; i < 300; i++) {
		int64_t count, nanos;
		cpu_values(&r, &count, &nanos);
		STACK(b, stacks[pick(&r, (int64_t)(sizeof stacks / sizeof *stacks))], count, nanos);
	}
	emit(out, b, "drop_frames_root_side.pb.gz", "pprof",
	     "drop_frames matching root-side frames before any user frame (pprof keeps those), "
	     "stacks that match entirely, and matches after the first user frame");
}

static void craft_drop_keep(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed0012};
	set_drop_frames(b, "alloc.*|free.*", "alloc_tracked|free_list_.*");
	static const char *const stacks[] = {
		"main;load;alloc_small;page_in",
		"main;load;alloc_tracked;page_in",
		"main;load;alloc_tracked;alloc_small;page_in",
		"main;unload;free_list_push;free_slow",
		"main;unload;free_slow;free_list_push",
		"main;unload;free_list_push+free_slow",
		"main;unload;free_slow+free_list_push",
		"main;load+alloc_tracked+alloc_small",
		"main;compute",
	};
	for (int i = 0; i < 300; i++) {
		int64_t count, nanos;
		cpu_values(&r, &count, &nanos);
		STACK(b, stacks[pick(&r, (int64_t)(sizeof stacks / sizeof *stacks))], count, nanos);
	}
	emit(out, b, "drop_keep_frames.pb.gz", "pprof",
	     "keep_frames overriding drop_frames, in single-line and inlined locations");
}

static void craft_drop_simplify(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed0013};
	set_drop_frames(b, "parse|\\(anonymous namespace\\)::helper|Widget::operator\\(\\)|ppc_entry|"
			   "ns::Foo::run|\\.dotted|Outer::operator\\(\\)::inner",
			NULL);
	static const char *const names[] = {
		"parse(char const*, int)",                    /* simplified to parse: dropped */
		"parse_all(int)",                             /* parse_all: kept */
		"(anonymous namespace)::helper(int)",         /* dropped */
		"(anonymous namespace)::helper_two(int)",     /* kept */
		"Widget::operator()(int) const",              /* Widget::operator(): dropped */
		"Gadget::operator()(int) const",              /* kept */
		".ppc_entry",                                 /* leading '.' goes: dropped */
		"..dotted",                                   /* one '.' goes, .dotted: dropped */
		"ns::Foo::run<int>(std::vector<int> const&)", /* ns::Foo::run<int>: kept */
		"ns::Foo::run(double)",                       /* dropped */
		"Outer::operator()::inner(long)",             /* dropped */
		"fn(a)(b)",                                   /* fn: kept */
		"(anonymous namespace)",                      /* kept */
		"compute",
		"render",
	};
	stacks_over_names(b, &r, names, sizeof names / sizeof *names, 500);
	emit(out, b, "drop_frames_simplify.pb.gz", "pprof",
	     "drop_frames against pprof's simplified names: argument lists cut, (anonymous namespace), "
	     "operator(), a leading '.'");
}

static void craft_drop_alternation(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed0014};
	set_drop_frames(b, "malloc|calloc|operator new.*", NULL);
	static const char *const names[] = {
		"malloc", "calloc", "realloc", "xmalloc", "malloc_trim",
		"operator new(unsigned long)", "operator new[](unsigned long)",
		"operator new(unsigned long, std::nothrow_t const&)", "operator delete(void*)",
		"je_malloc", "compute", "serve",
	};
	stacks_over_names(b, &r, names, sizeof names / sizeof *names, 500);
	emit(out, b, "drop_frames_alternation.pb.gz", "pprof",
	     "drop_frames alternation malloc|calloc|operator new.* (anchored as a whole: xmalloc, malloc_trim stay)");
}

static void craft_drop_everything(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed0023};
	set_drop_frames(b, ".*", NULL);
	uint64_t lib = add_mapping(b, 0x7f0000000000, 0x7f0000100000, 0, "/usr/lib/libstripped.so.1", "");
	uint64_t anon = add_function(b, "", "", "", 0);
	uint64_t named_ids[] = {frame(b, "main"), frame(b, "serve"), frame(b, "compute"), frame(b, "leaf")};
	uint64_t unnamed_ids[] = {add_location(b, lib, 0x7f0000000100, NULL, 0), add_location(b, lib, 0x7f0000000200, &anon, 1)};
	for (int i = 0; i < 300; i++) {
		uint64_t stack[16];
		size_t n = 0;
		int64_t depth = 1 + pick(&r, 6), count, nanos;
		for (int64_t d = 0; d < depth; d++)
			stack[n++] = pick(&r, 4) ? named_ids[pick(&r, 4)] : unnamed_ids[pick(&r, 2)];
		cpu_values(&r, &count, &nanos);
		SAMPLE_IDS(b, stack, n, count, nanos);
	}
	emit(out, b, "drop_frames_everything.pb.gz", "pprof",
	     "drop_frames .* matching every named frame: only unnamed frames count as user frames");
}

static void craft_keep_without_drop(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed0024};
	b->profile.keep_frames = string_index(b, "compute");
	static const char *const stacks[] = {"main;serve;compute", "main;compute;leaf", "main;serve"};
	for (int i = 0; i < 100; i++) {
		int64_t count, nanos;
		cpu_values(&r, &count, &nanos);
		STACK(b, stacks[pick(&r, 3)], count, nanos);
	}
	emit(out, b, "keep_frames_without_drop.pb.gz", "pprof", "keep_frames without drop_frames: nothing is pruned");
}

/* ------------------------------------------------------------------ merging */

static void craft_merge_set(const output *out)
{
	rng r = {0x5eed0015};
	static const char *const parts[] = {
		"serve", "handle", "mutex_lock", "futex_wait", "encode", "mutex_unlock", "compress", "write",
	};
	static const char *const files[] = {"merge_1_drop_frames.pb.gz", "merge_2_other_drop_frames.pb.gz",
					    "merge_3_raw.pb"};
	static const char *const drops[] = {"mutex_.*", "serve", NULL};
	for (int f = 0; f < 3; f++) {
		builder *b = cpu_builder();
		if (drops[f])
			set_drop_frames(b, drops[f], NULL);
		uint64_t libc = add_mapping(b, 0x7f0000000000, 0x7f0000200000, 0, "/usr/lib/x86_64-linux-gnu/libc.so.6", "");
		/* name the functions in a different order in each file, so ids mean different names */
		for (int k = 0; k < 8; k++)
			named_function(b, parts[(k + 3 * f) % 8]);
		uint64_t anon = add_function(b, "", "", "", 0);
		char libc_token[32], anon_token[32];
		snprintf(libc_token, sizeof libc_token, "@%" PRIu64,
			 add_location(b, libc, 0x7f0000001000 + 0x10 * (uint64_t)f, NULL, 0));
		snprintf(anon_token, sizeof anon_token, "@%" PRIu64, add_location(b, libc, 0x7f0000002000, &anon, 1));
		for (int i = 0; i < 250; i++) {
			char stack[2048] = "main";
			int64_t depth = 1 + pick(&r, 6), count, nanos;
			for (int64_t d = 0; d < depth; d++) {
				int64_t k = pick(&r, 10);
				append_text(stack, sizeof stack, ";%s", k < 8 ? parts[k] : k == 8 ? libc_token : anon_token);
			}
			cpu_values(&r, &count, &nanos);
			STACK(b, stack, count, nanos);
		}
		emit(out, b, files[f], "pprof",
		     f == 0	  ? "merge set member with drop_frames mutex_.*"
		     : f == 1 ? "merge set member with drop_frames serve (which applies only when it is first)"
			      : "merge set member without drop_frames (raw protobuf)");
	}
	manifest_line(out, "merge", "merge_1_drop_frames.pb.gz,merge_2_other_drop_frames.pb.gz,merge_3_raw.pb",
		      "samples/count cpu/nanoseconds", "pprof", "three profiles merged: the first's drop_frames apply to all");
	manifest_line(out, "merge", "merge_2_other_drop_frames.pb.gz,merge_3_raw.pb,merge_1_drop_frames.pb.gz",
		      "samples/count cpu/nanoseconds", "pprof",
		      "the same three in another order: the second's drop_frames apply to all");
}

static void craft_merge_drop_in_second(const output *out)
{
	rng r = {0x5eed0016};
	static const char *const stacks[] = {"main;serve;lock_wait;futex", "main;serve;compute", "main;lock_wait"};
	for (int f = 0; f < 2; f++) {
		builder *b = cpu_builder();
		if (f == 1)
			set_drop_frames(b, "lock_wait", NULL);
		for (int i = 0; i < 150; i++) {
			int64_t count, nanos;
			cpu_values(&r, &count, &nanos);
			STACK(b, stacks[pick(&r, 3)], count, nanos);
		}
		emit(out, b, f ? "merge_second_has_drop_frames_2.pb.gz" : "merge_second_has_drop_frames_1.pb.gz", "pprof",
		     f ? "merge set member with drop_frames lock_wait, second in its set" : "merge set member without drop_frames");
	}
	manifest_line(out, "merge", "merge_second_has_drop_frames_1.pb.gz,merge_second_has_drop_frames_2.pb.gz",
		      "samples/count cpu/nanoseconds", "pprof", "only the second profile has drop_frames: nothing is pruned");
}

/* ------------------------------------------------------------------ pprof behaviour beyond printed
 * names and POSIX regexes: node identity, mapping merges and rewrites, RE2 syntax */

static void craft_unnamed_start_lines(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed0017};
	uint64_t lib = add_mapping(b, 0x7f0000000000, 0x7f0000100000, 0, "/usr/lib/libstripped.so", "");
	uint64_t a = add_function(b, "", "", "", 5);
	uint64_t c = add_function(b, "", "", "", 7);
	uint64_t locs[] = {
		add_location(b, lib, 0x7f0000000100, &a, 1),
		add_location(b, lib, 0x7f0000000200, &c, 1),
		add_location(b, lib, 0x7f0000000300, NULL, 0),
	};
	stacks_over_locations(b, &r, locs, 3, 3, 200);
	emit(out, b, "unnamed_start_lines.pb.gz", "pprof-collisions",
	     "unnamed functions of one mapping with different start_line (and an address-only location) in one "
	     "stack: pprof keeps them as separate nodes printed alike");
}

static void craft_same_basename_mappings(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed0018};
	uint64_t m1 = add_mapping(b, 0x7f0000000000, 0x7f0000100000, 0, "/usr/lib/libfoo.so", "");
	uint64_t m2 = add_mapping(b, 0x7f1000000000, 0x7f1000200000, 0, "/opt/vendor/lib/libfoo.so", "");
	uint64_t locs[] = {add_location(b, m1, 0x7f0000000100, NULL, 0), add_location(b, m2, 0x7f1000000100, NULL, 0)};
	stacks_over_locations(b, &r, locs, 2, 3, 200);
	emit(out, b, "same_basename_mappings.pb.gz", "pprof-collisions",
	     "address-only frames of two mappings with one basename in different folders, in one stack");
}

static void craft_names_like_unnamed(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed0019};
	uint64_t libc = add_mapping(b, 0x7f0000000000, 0x7f0000200000, 0, "/usr/lib/x86_64-linux-gnu/libc.so.6", "");
	uint64_t locs[] = {
		add_location(b, libc, 0x7f0000000100, NULL, 0), add_location(b, 0, 0x1000, NULL, 0),
		frame(b, "[libc.so.6]"), frame(b, "<unknown>"), frame(b, "compute"),
	};
	stacks_over_locations(b, &r, locs, 5, 4, 200);
	emit(out, b, "names_like_unnamed_frames.pb.gz", "pprof-collisions",
	     "functions really named [libc.so.6] and <unknown> in stacks with unnamed frames printed the same way");
}

static void craft_mapping_shared_build_id(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed001a};
	uint64_t m1 = add_mapping(b, 0x7f0000000000, 0x7f0000100000, 0, "/usr/lib/libalpha.so", "0123456789abcdef");
	uint64_t m2 = add_mapping(b, 0x7f1000000000, 0x7f1000100000, 0, "/usr/lib/libbeta.so", "0123456789abcdef");
	uint64_t locs[] = {
		add_location(b, m1, 0x7f0000000100, NULL, 0), add_location(b, m2, 0x7f1000000200, NULL, 0),
		frame(b, "compute"),
	};
	stacks_over_locations(b, &r, locs, 3, 3, 200);
	emit(out, b, "mapping_shared_build_id.pb.gz", "pprof",
	     "two mappings of one size with the same build id and different files: pprof merges them");
}

static void craft_mapping_file_url(const output *out)
{
	builder *b = cpu_builder();
	rng r = {0x5eed001b};
	uint64_t url = add_mapping(b, 0x7f0000000000, 0x7f0000100000, 0, "file:///opt/app/libplugin.so", "");
	uint64_t memfd = add_mapping(b, 0x7f1000000000, 0x7f1000100000, 0, "memfd:jit-code (deleted)", "");
	uint64_t url_with_id =
		add_mapping(b, 0x7f2000000000, 0x7f2000100000, 0, "file:///opt/app/libkept.so", "feedfacecafebeef");
	uint64_t locs[] = {
		add_location(b, url, 0x7f0000000100, NULL, 0), add_location(b, memfd, 0x7f1000000100, NULL, 0),
		add_location(b, url_with_id, 0x7f2000000100, NULL, 0), frame(b, "compute"),
	};
	stacks_over_locations(b, &r, locs, 4, 3, 200);
	emit(out, b, "mapping_file_url.pb.gz", "pprof",
	     "mapping files that parse as absolute URLs (file:///..., memfd:...) without a build id");
}

/* A small drop_frames profile over a few names, for regex-engine cases. */
static void craft_drop_regex_case(const output *out, const char *file, const char *oracle, const char *drop,
				  const char *keep, const char *const *names, size_t nnames, uint64_t seed,
				  const char *about)
{
	builder *b = cpu_builder();
	rng r = {seed};
	set_drop_frames(b, drop, keep);
	stacks_over_names(b, &r, names, nnames, 200);
	emit(out, b, file, oracle, about);
}

static void craft_drop_regex_cases(const output *out)
{
	static const char *const newline_names[] = {"alloc\nslow", "alloc_fast", "compute"};
	craft_drop_regex_case(out, "drop_frames_newline_name.pb.gz", "pprof-multiline", "alloc.*", NULL, newline_names,
			      3, 0x5eed001c, "drop_frames alloc.* against a name with a newline (RE2's . stops at \\n)");

	static const char *const utf8_names[] = {"caf\xc3\xa9_alloc", "cafe_alloc", "compute"};
	craft_drop_regex_case(out, "drop_frames_utf8.pb.gz", "pprof", "caf._alloc", NULL, utf8_names, 3, 0x5eed001d,
			      "drop_frames caf._alloc against caf\xc3\xa9_alloc (RE2's . is one UTF-8 character)");

	static const char *const group_names[] = {"je_malloc", "tc_malloc", "malloc", "compute"};
	craft_drop_regex_case(out, "drop_frames_re2_group.pb.gz", "pprof", "(?:je_|tc_)?malloc", NULL, group_names, 4,
			      0x5eed001e, "drop_frames with an RE2 non-capturing group (?:...)");

	static const char *const class_names[] = {"thunk_12", "thunk_dd", "compute"};
	craft_drop_regex_case(out, "drop_frames_re2_perl_class.pb.gz", "pprof", "thunk_\\d+", NULL, class_names, 3,
			      0x5eed001f, "drop_frames with RE2's \\d class");

	static const char *const brace_names[] = {"worker::{{closure}}", "worker::run", "compute"};
	craft_drop_regex_case(out, "drop_frames_literal_braces.pb.gz", "pprof", ".*{{closure}}", NULL, brace_names, 3,
			      0x5eed0027, "drop_frames with braces that are not a repetition ({{closure}}: RE2 reads them as text)");

	/* (.*a){200} keeps up to 200 DFA states alive at once: more than a small fixed workspace
	 * holds, so this checks that matching grows its workspace rather than giving up. */
	static char long_a[301];
	memset(long_a, 'a', 300);
	static const char *const many_state_names[] = {long_a, "compute", "serve"};
	craft_drop_regex_case(out, "drop_frames_many_states.pb.gz", "pprof", "(.*a){200}", NULL, many_state_names, 3,
			      0x5eed0028, "drop_frames (.*a){200} against a name of 300 a's (many simultaneous matcher states)");

	static const char *const invalid_names[] = {"alloc", "compute", "serve"};
	craft_drop_regex_case(out, "drop_frames_invalid_regex.pb.gz", "pprof", "alloc(", NULL, invalid_names, 3,
			      0x5eed0020, "drop_frames that does not compile (pprof then prunes nothing)");
	craft_drop_regex_case(out, "keep_frames_invalid_regex.pb.gz", "pprof", "alloc", "keep[", invalid_names, 3,
			      0x5eed0021, "valid drop_frames with keep_frames that does not compile (pprof then prunes nothing)");
}

static void craft_merge_build_id(const output *out)
{
	rng r = {0x5eed0022};
	static const char *const files[] = {"merge_build_id_1.pb.gz", "merge_build_id_2.pb.gz"};
	static const char *const libs[] = {"/srv/releases/v1/libsvc.so", "/srv/releases/v2/libsvc-renamed.so"};
	for (int f = 0; f < 2; f++) {
		builder *b = cpu_builder();
		uint64_t lib = add_mapping(b, 0x7f0000000000 + 0x1000000000 * (uint64_t)f,
					   0x7f0000100000 + 0x1000000000 * (uint64_t)f, 0, libs[f], "5ca1ab1e00c0ffee");
		uint64_t locs[] = {
			add_location(b, lib, 0x7f0000000100 + 0x1000000000 * (uint64_t)f, NULL, 0), frame(b, "compute"),
		};
		uint64_t main_loc = frame(b, "main");
		for (int i = 0; i < 100; i++) {
			uint64_t stack[8];
			size_t n = 0;
			int64_t depth = 1 + pick(&r, 3), count, nanos;
			for (int64_t d = 0; d < depth; d++)
				stack[n++] = locs[pick(&r, 2)];
			stack[n++] = main_loc;
			cpu_values(&r, &count, &nanos);
			SAMPLE_IDS(b, stack, n, count, nanos);
		}
		emit(out, b, files[f], "pprof", "merge set member: a library mapping with build id 5ca1ab1e00c0ffee");
	}
	manifest_line(out, "merge", "merge_build_id_1.pb.gz,merge_build_id_2.pb.gz", "samples/count cpu/nanoseconds",
		      "pprof", "one build id under two file names in two profiles: pprof merges the mappings");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fputs("usage: craft_profiles DIR\n", stderr);
		return 2;
	}
	output out = {argv[1], NULL};
	if (mkdir(out.dir, 0777) && errno != EEXIST) {
		fprintf(stderr, "craft_profiles: cannot create %s: %s\n", out.dir, strerror(errno));
		return 1;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/MANIFEST", out.dir);
	out.manifest = fopen(path, "w");
	if (!out.manifest) {
		fprintf(stderr, "craft_profiles: cannot write %s: %s\n", path, strerror(errno));
		return 1;
	}
	fputs("# kind\tfiles\tsample types (type/unit by index)\toracle\twhat it covers\n", out.manifest);

	craft_recursion_direct(&out);
	craft_recursion_mutual(&out);
	craft_recursion_inlined(&out);
	craft_inline_multiline(&out);
	craft_address_only(&out);
	craft_unnamed_functions(&out);
	craft_function_id_zero(&out);
	craft_same_name_functions(&out);
	craft_names_special(&out);
	craft_names_newline(&out);
	craft_values(&out);
	craft_empty_stacks(&out);
	craft_default_sample_type(&out);
	craft_default_sample_type_unknown(&out);
	craft_many_functions(&out);
	craft_large_values(&out);
	craft_drop_whole_location(&out);
	craft_drop_inlined_inner(&out);
	craft_drop_middle(&out);
	craft_drop_root_side(&out);
	craft_drop_keep(&out);
	craft_drop_simplify(&out);
	craft_drop_alternation(&out);
	craft_drop_everything(&out);
	craft_keep_without_drop(&out);
	craft_merge_set(&out);
	craft_merge_drop_in_second(&out);
	craft_unnamed_start_lines(&out);
	craft_same_basename_mappings(&out);
	craft_names_like_unnamed(&out);
	craft_mapping_shared_build_id(&out);
	craft_mapping_file_url(&out);
	craft_drop_regex_cases(&out);
	craft_merge_build_id(&out);

	if (fclose(out.manifest)) {
		fprintf(stderr, "craft_profiles: cannot write %s\n", path);
		return 1;
	}
	return 0;
}
