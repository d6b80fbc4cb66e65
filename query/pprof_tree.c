/* pprof_tree: a call tree of functions written out as one gzip'd pprof profile (pprof_tree.h). */
#include "pprof_tree.h"

#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile.pb-c.h"

int cp_pprof_tree_add_type(cp_pprof_tree *t, const char *type, const char *unit)
{
	if (t->ntypes == CP_PPROF_TREE_MAX_TYPES || t->n)
		return -1;
	char *type_copy = strdup(type), *unit_copy = strdup(unit);
	if (!type_copy || !unit_copy) {
		free(type_copy);
		free(unit_copy);
		return -1;
	}
	t->type[t->ntypes] = type_copy;
	t->unit[t->ntypes] = unit_copy;
	t->ntypes++;
	return 0;
}

int cp_pprof_tree_set_comment(cp_pprof_tree *t, const char *comment)
{
	char *copy = strdup(comment);
	if (!copy)
		return -1;
	free(t->comment);
	t->comment = copy;
	return 0;
}

int cp_pprof_tree_add_node(cp_pprof_tree *t, int64_t stack_id, int64_t parent_id, int64_t function_id,
			   const char *name, size_t name_len, const int64_t *selfs, char *err, size_t errlen)
{
	if (t->n && stack_id <= t->nodes[t->n - 1].stack_id) {
		snprintf(err, errlen, "stack %lld comes after stack %lld: nodes must come in increasing id",
			 (long long)stack_id, (long long)t->nodes[t->n - 1].stack_id);
		return -1;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 1024;
		cp_pprof_tree_node *nodes = realloc(t->nodes, cap * sizeof *nodes);
		if (!nodes)
			goto oom;
		t->nodes = nodes;
		int64_t *values = realloc(t->selfs, cap * (t->ntypes ? t->ntypes : 1) * sizeof *values);
		if (!values)
			goto oom;
		t->selfs = values;
		t->cap = cap;
	}
	char *copy = malloc(name_len + 1);
	if (!copy)
		goto oom;
	memcpy(copy, name, name_len);
	copy[name_len] = '\0';
	t->nodes[t->n] = (cp_pprof_tree_node){stack_id, parent_id, function_id, copy};
	for (size_t i = 0; i < t->ntypes; i++)
		t->selfs[t->n * t->ntypes + i] = selfs ? selfs[i] : 0;
	t->n++;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

void cp_pprof_tree_free(cp_pprof_tree *t)
{
	for (size_t i = 0; i < t->ntypes; i++) {
		free(t->type[i]);
		free(t->unit[i]);
	}
	for (size_t i = 0; i < t->n; i++)
		free(t->nodes[i].function_name);
	free(t->nodes);
	free(t->selfs);
	free(t->comment);
	*t = (cp_pprof_tree){0};
}

/* The node of a stack id, or -1. */
static long find_node(const cp_pprof_tree *t, int64_t stack_id)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->nodes[mid].stack_id < stack_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->n && t->nodes[lo].stack_id == stack_id ? (long)lo : -1;
}

static int has_self(const cp_pprof_tree *t, size_t node)
{
	for (size_t i = 0; i < t->ntypes; i++)
		if (t->selfs[node * t->ntypes + i])
			return 1;
	return 0;
}

typedef struct {
	int64_t function_id;
	size_t node;
} function_ref;

static int by_function_id(const void *a, const void *b)
{
	int64_t x = ((const function_ref *)a)->function_id, y = ((const function_ref *)b)->function_id;
	return (x > y) - (x < y);
}

/* Everything the packed profile points to, freed at once. */
typedef struct {
	char **strings;
	Perftools__Profiles__ValueType *types, **type_ptrs;
	Perftools__Profiles__Function *functions, **function_ptrs;
	Perftools__Profiles__Location *locations, **location_ptrs;
	Perftools__Profiles__Line *lines, **line_ptrs;
	Perftools__Profiles__Sample *samples, **sample_ptrs;
	uint64_t *stack_ids; /* every sample's location ids, one after the other */
	function_ref *refs;
	uint8_t *raw;
} profile_parts;

static void free_parts(profile_parts *p)
{
	free(p->strings);
	free(p->types);
	free(p->type_ptrs);
	free(p->functions);
	free(p->function_ptrs);
	free(p->locations);
	free(p->location_ptrs);
	free(p->lines);
	free(p->line_ptrs);
	free(p->samples);
	free(p->sample_ptrs);
	free(p->stack_ids);
	free(p->refs);
	free(p->raw);
}

/* The number of frames from a node up to its root frame, or 0 after writing why in err. */
static size_t stack_depth(const cp_pprof_tree *t, size_t node, char *err, size_t errlen)
{
	size_t depth = 0;
	for (long at = (long)node; at >= 0; depth++) {
		if (depth == t->n) {
			snprintf(err, errlen, "stack %lld: its parents form a cycle", (long long)t->nodes[node].stack_id);
			return 0;
		}
		int64_t parent = t->nodes[at].parent_id;
		if (parent == 0)
			return depth + 1;
		if ((at = find_node(t, parent)) < 0) {
			snprintf(err, errlen, "stack %lld: its parent %lld is missing", (long long)t->nodes[node].stack_id,
				 (long long)parent);
			return 0;
		}
	}
	return depth;
}

static int gzip_bytes(const uint8_t *raw, size_t len, uint8_t **out, size_t *out_len)
{
	struct libdeflate_compressor *c = libdeflate_alloc_compressor(6);
	if (!c)
		return -1;
	size_t bound = libdeflate_gzip_compress_bound(c, len);
	uint8_t *buf = malloc(bound);
	size_t n = buf ? libdeflate_gzip_compress(c, raw, len, buf, bound) : 0;
	libdeflate_free_compressor(c);
	if (!n) {
		free(buf);
		return -1;
	}
	*out = buf;
	*out_len = n;
	return 0;
}

int cp_pprof_tree_encode(const cp_pprof_tree *t, uint8_t **out, size_t *len, char *err, size_t errlen)
{
	profile_parts p = {0};
	int status = -1;
	size_t nstrings = 0, nfunctions = 0, nsamples = 0, nframes = 0;
	*out = NULL;
	*len = 0;

	/* the functions: one per distinct function id, named by the first node that has it */
	p.refs = malloc((t->n ? t->n : 1) * sizeof *p.refs);
	if (!p.refs)
		goto oom;
	for (size_t i = 0; i < t->n; i++) {
		if (t->nodes[i].function_id <= 0) {
			snprintf(err, errlen, "stack %lld: function id %lld is not positive", (long long)t->nodes[i].stack_id,
				 (long long)t->nodes[i].function_id);
			goto out;
		}
		p.refs[i] = (function_ref){t->nodes[i].function_id, i};
	}
	qsort(p.refs, t->n, sizeof *p.refs, by_function_id);
	for (size_t i = 0; i < t->n; i++)
		if (i == 0 || p.refs[i].function_id != p.refs[nfunctions - 1].function_id)
			p.refs[nfunctions++] = p.refs[i];

	for (size_t i = 0; i < t->n; i++) {
		if (!has_self(t, i))
			continue;
		size_t depth = stack_depth(t, i, err, errlen);
		if (!depth)
			goto out;
		nsamples++;
		nframes += depth;
	}

	/* strings: "", the types and units, the comment, the mapping's name, the functions' names */
	size_t max_strings = 3 + 2 * t->ntypes + nfunctions;
	p.strings = malloc(max_strings * sizeof *p.strings);
	p.types = malloc((t->ntypes ? t->ntypes : 1) * sizeof *p.types);
	p.type_ptrs = malloc((t->ntypes ? t->ntypes : 1) * sizeof *p.type_ptrs);
	p.functions = malloc((nfunctions ? nfunctions : 1) * sizeof *p.functions);
	p.function_ptrs = malloc((nfunctions ? nfunctions : 1) * sizeof *p.function_ptrs);
	p.locations = malloc((nfunctions ? nfunctions : 1) * sizeof *p.locations);
	p.location_ptrs = malloc((nfunctions ? nfunctions : 1) * sizeof *p.location_ptrs);
	p.lines = malloc((nfunctions ? nfunctions : 1) * sizeof *p.lines);
	p.line_ptrs = malloc((nfunctions ? nfunctions : 1) * sizeof *p.line_ptrs);
	p.samples = malloc((nsamples ? nsamples : 1) * sizeof *p.samples);
	p.sample_ptrs = malloc((nsamples ? nsamples : 1) * sizeof *p.sample_ptrs);
	p.stack_ids = malloc((nframes ? nframes : 1) * sizeof *p.stack_ids);
	if (!p.strings || !p.types || !p.type_ptrs || !p.functions || !p.function_ptrs || !p.locations ||
	    !p.location_ptrs || !p.lines || !p.line_ptrs || !p.samples || !p.sample_ptrs || !p.stack_ids)
		goto oom;

	/* The strings are borrowed from t: protobuf-c only reads them. */
	static char empty[] = "", mapping_name[] = "cprof";
	p.strings[nstrings++] = empty;
	for (size_t i = 0; i < t->ntypes; i++) {
		p.types[i] = (Perftools__Profiles__ValueType)PERFTOOLS__PROFILES__VALUE_TYPE__INIT;
		p.types[i].type = (int64_t)nstrings;
		p.strings[nstrings++] = t->type[i];
		p.types[i].unit = (int64_t)nstrings;
		p.strings[nstrings++] = t->unit[i];
		p.type_ptrs[i] = &p.types[i];
	}
	int64_t comment = 0;
	if (t->comment) {
		comment = (int64_t)nstrings;
		p.strings[nstrings++] = t->comment;
	}
	Perftools__Profiles__Mapping mapping = PERFTOOLS__PROFILES__MAPPING__INIT, *mapping_ptr = &mapping;
	mapping.id = 1;
	mapping.filename = (int64_t)nstrings;
	p.strings[nstrings++] = mapping_name;
	mapping.has_functions = 1; /* nothing for pprof to symbolize */

	for (size_t i = 0; i < nfunctions; i++) {
		Perftools__Profiles__Function *f = &p.functions[i];
		*f = (Perftools__Profiles__Function)PERFTOOLS__PROFILES__FUNCTION__INIT;
		f->id = (uint64_t)p.refs[i].function_id;
		f->name = f->system_name = (int64_t)nstrings;
		p.strings[nstrings++] = t->nodes[p.refs[i].node].function_name;
		p.function_ptrs[i] = f;
		p.lines[i] = (Perftools__Profiles__Line)PERFTOOLS__PROFILES__LINE__INIT;
		p.lines[i].function_id = f->id;
		p.line_ptrs[i] = &p.lines[i];
		Perftools__Profiles__Location *l = &p.locations[i];
		*l = (Perftools__Profiles__Location)PERFTOOLS__PROFILES__LOCATION__INIT;
		l->id = f->id; /* a location per function: the same id */
		l->mapping_id = 1;
		l->n_line = 1;
		l->line = &p.line_ptrs[i];
		p.location_ptrs[i] = l;
	}

	size_t frame = 0, sample = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (!has_self(t, i))
			continue;
		Perftools__Profiles__Sample *s = &p.samples[sample];
		*s = (Perftools__Profiles__Sample)PERFTOOLS__PROFILES__SAMPLE__INIT;
		s->location_id = &p.stack_ids[frame];
		for (long at = (long)i; at >= 0; at = t->nodes[at].parent_id ? find_node(t, t->nodes[at].parent_id) : -1)
			p.stack_ids[frame + s->n_location_id++] = (uint64_t)t->nodes[at].function_id;
		frame += s->n_location_id;
		s->n_value = t->ntypes;
		s->value = &t->selfs[i * t->ntypes];
		p.sample_ptrs[sample++] = s;
	}

	Perftools__Profiles__Profile profile = PERFTOOLS__PROFILES__PROFILE__INIT;
	profile.n_sample_type = t->ntypes;
	profile.sample_type = p.type_ptrs;
	profile.n_sample = nsamples;
	profile.sample = p.sample_ptrs;
	profile.n_mapping = 1;
	profile.mapping = &mapping_ptr;
	profile.n_location = nfunctions;
	profile.location = p.location_ptrs;
	profile.n_function = nfunctions;
	profile.function = p.function_ptrs;
	profile.n_string_table = nstrings;
	profile.string_table = p.strings;
	profile.time_nanos = t->time_nanos;
	profile.duration_nanos = t->duration_nanos;
	profile.n_comment = comment ? 1 : 0;
	profile.comment = &comment;
	profile.default_sample_type = t->ntypes ? p.types[t->default_type < t->ntypes ? t->default_type : 0].type : 0;

	size_t raw_len = perftools__profiles__profile__get_packed_size(&profile);
	if (!(p.raw = malloc(raw_len ? raw_len : 1)))
		goto oom;
	perftools__profiles__profile__pack(&profile, p.raw);
	if (gzip_bytes(p.raw, raw_len, out, len))
		goto oom;
	status = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	free_parts(&p);
	return status;
}
