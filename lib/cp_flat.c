/* cp_flat: the flattener; see cp_flat.h.
 *
 * Per profile: (1) every function index gets the id of its interned printed name;
 * (2) drop_frames rules mark locations to prune (pprof's Profile.Prune); (3) every location
 * gets its frames as name ids, leaf first; (4) each sample adds its values to the leaf's flat,
 * to the cum of each distinct function once (a per-name stamp makes "once" O(1)), and, with
 * CP_FLAT_STACKS, to the self value of its node in the stack tree.
 *
 * No per-add overflow checks are needed: every flat, cum and self value is a sum over a subset
 * of samples counted at most once, so its magnitude is at most the sum of absolute values,
 * which cp_flat_add checks for overflow before adding anything. */
#include "cp_flat.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cp_arena.h"
#include "cp_hash.h"
#include "cp_prune.h"

#define NONE UINT32_MAX

enum { LOC_PRUNE = 1, LOC_PRUNE_BENEATH = 2 };

struct cp_flat {
	unsigned flags;
	cp_arena *strings; /* copies of names, sample types and units */
	size_t nprofiles;

	/* fixed by the first profile */
	size_t ntypes;
	cp_pstr *types, *units;
	cp_pstr period_type, period_unit;
	cp_pstr default_type;
	int64_t *total, *total_abs;
	cp_prune *prune; /* NULL: nothing to prune */

	/* mappings merged across profiles by pprof's mapping key: size rounded up to 4 KiB,
	 * offset, and build id (else file name); the first mapping seen names them all */
	size_t nmapkeys, cap_mapkeys;
	uint64_t *mapkey_size, *mapkey_offset, *mapkey_hash;
	cp_pstr *mapkey_id;   /* build id, else file */
	cp_pstr *mapkey_file; /* the first mapping's file, empty when pprof would clear it */
	uint32_t *mapkey_name; /* printed name id, NONE until a frame needs it */
	uint32_t *mapkey_table; /* open addressing: key index + 1, 0 empty */
	size_t mapkey_mask;

	/* functions by printed name */
	size_t nfuncs, cap_funcs;
	cp_pstr *fname;
	uint64_t *fhash;
	int64_t *fflat, *fcum; /* [function * ntypes + type] */
	uint32_t *seen;        /* stamp of the last sample that added to cum */
	uint32_t stamp;
	uint32_t *ftable; /* open addressing: function id + 1, 0 empty */
	size_t ftable_mask;

	/* stack tree */
	size_t nnodes, cap_nodes;
	uint32_t *node_parent, *node_func;
	int64_t *node_self; /* [node * ntypes + type] */
	uint64_t *ntable_keys;
	uint32_t *ntable_vals; /* node id; 0 (the root, never a child) marks an empty slot */
	size_t ntable_mask;

	/* per-profile scratch, reused */
	uint32_t *fn_name;    /* printed-name id per function index, NONE when unnamed */
	uint8_t *fn_drop;     /* drop_frames verdict per function: 0 unknown, 1 drop, 2 keep */
	uint32_t *map_key;    /* mapping key index per mapping index, NONE until resolved */
	uint32_t *loc_first;  /* index into frames of each location's first (leaf-most) frame */
	uint32_t *loc_nframes;
	uint8_t *loc_prune;
	uint32_t *frames;
	size_t cap_fn, cap_map, cap_loc, cap_frames;
};

/* ------------------------------------------------------------------ small helpers */

/* Capacity for at least need elements: doubling from 64. */
static size_t next_capacity(size_t cap, size_t need)
{
	size_t n = cap ? cap : 64;
	while (n < need)
		n *= 2;
	return n;
}

static void *resized(void *array, size_t n, size_t elem)
{
	if (elem && n > SIZE_MAX / elem)
		return NULL;
	return realloc(array, n * elem > 0 ? n * elem : 1);
}

/* Resizes arr to n elements of its type, or returns -1 from the calling function. */
#define RESIZE_OR_FAIL(arr, n)                                        \
	do {                                                          \
		void *resized_ = resized((arr), (n), sizeof *(arr)); \
		if (!resized_)                                        \
			return -1;                                    \
		(arr) = resized_;                                     \
	} while (0)

static cp_pstr copy_str(cp_flat *f, const char *s, size_t len)
{
	cp_pstr out = {cp_arena_strndup(f->strings, s, len), (uint32_t)len};
	return out;
}

static int pstr_eq(cp_pstr a, cp_pstr b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* ------------------------------------------------------------------ function names */

/* Rebuilds an open-addressing index (slot = entry + 1, 0 empty) of count entries whose hashes
 * are given, into slots slots (a power of two). Used by the name and mapping-key tables. */
static int rebuild_index(uint32_t **table, size_t *mask, const uint64_t *hashes, size_t count, size_t slots)
{
	uint32_t *t = calloc(slots, sizeof *t);
	if (!t)
		return -1;
	for (size_t i = 0; i < count; i++) {
		size_t s = (size_t)hashes[i] & (slots - 1);
		while (t[s])
			s = (s + 1) & (slots - 1);
		t[s] = (uint32_t)i + 1;
	}
	free(*table);
	*table = t;
	*mask = slots - 1;
	return 0;
}

static int reserve_functions(cp_flat *f, size_t need)
{
	size_t cap = next_capacity(f->cap_funcs, need);
	RESIZE_OR_FAIL(f->fname, cap);
	RESIZE_OR_FAIL(f->fhash, cap);
	RESIZE_OR_FAIL(f->seen, cap);
	RESIZE_OR_FAIL(f->fflat, cap * f->ntypes);
	RESIZE_OR_FAIL(f->fcum, cap * f->ntypes);
	f->cap_funcs = cap;
	return 0;
}

/* Returns the id of the printed name, adding it when new; NONE when out of memory. */
static uint32_t intern(cp_flat *f, const char *s, size_t len)
{
	uint64_t h = cp_hash_bytes(s, len);
	size_t slot = (size_t)h & f->ftable_mask;
	for (uint32_t v; (v = f->ftable[slot]); slot = (slot + 1) & f->ftable_mask) {
		uint32_t id = v - 1;
		if (f->fhash[id] == h && f->fname[id].len == len && memcmp(f->fname[id].ptr, s, len) == 0)
			return id;
	}
	size_t id = f->nfuncs;
	if (id >= NONE - 1 || len > UINT32_MAX)
		return NONE;
	if (id + 1 > f->cap_funcs && reserve_functions(f, id + 1))
		return NONE;
	f->fname[id] = copy_str(f, s, len);
	if (!f->fname[id].ptr)
		return NONE;
	f->fhash[id] = h;
	f->seen[id] = 0;
	memset(&f->fflat[id * f->ntypes], 0, f->ntypes * sizeof *f->fflat);
	memset(&f->fcum[id * f->ntypes], 0, f->ntypes * sizeof *f->fcum);
	f->nfuncs++;
	f->ftable[slot] = (uint32_t)id + 1;
	if (f->nfuncs * 2 > f->ftable_mask + 1 && rebuild_index(&f->ftable, &f->ftable_mask, f->fhash, f->nfuncs, (f->ftable_mask + 1) * 2))
		return NONE;
	return (uint32_t)id;
}

/* Go's filepath.Base: the last path element, trailing slashes removed; "." for "". */
static cp_pstr path_base(cp_pstr path)
{
	const char *s = path.ptr;
	size_t len = path.len;
	if (len == 0)
		return (cp_pstr){".", 1};
	while (len > 0 && s[len - 1] == '/')
		len--;
	if (len == 0)
		return (cp_pstr){"/", 1};
	size_t start = len;
	while (start > 0 && s[start - 1] != '/')
		start--;
	return (cp_pstr){s + start, (uint32_t)(len - start)};
}

/* pprof clears a mapping's file name when the mapping has no build id and the name parses as
 * an absolute URL (net/url.Parse succeeds and finds a scheme): "memfd:jit (deleted)",
 * "file:///x", "C:\\x". This follows url.Parse: a scheme is a letter then letters, digits,
 * '+', '-' or '.', then ':'; control bytes, and bad %-escapes outside an opaque part, make
 * the parse fail. */
static int valid_escapes(const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdefABCDEF";
	for (size_t i = 0; i < len; i++)
		if (s[i] == '%' && (len - i < 3 || !s[i + 1] || !s[i + 2] || !strchr(hex, s[i + 1]) ||
				    !strchr(hex, s[i + 2])))
			return 0;
	return 1;
}

static int parses_as_absolute_url(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	const char *hash = memchr(s, '#', len);
	size_t url_len = hash ? (size_t)(hash - s) : len;
	if (hash && !valid_escapes(hash + 1, len - url_len - 1))
		return 0;
	size_t i = 0;
	for (; i < url_len; i++) {
		char c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			continue;
		if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.') {
			if (i == 0)
				return 0;
			continue;
		}
		if (c != ':' || i == 0)
			return 0; /* no scheme, or a parse error (":..." has no scheme) */
		break;
	}
	if (i == url_len)
		return 0;
	const char *rest = s + i + 1;
	size_t rest_len = url_len - i - 1;
	const char *query = memchr(rest, '?', rest_len);
	if (query)
		rest_len = (size_t)(query - rest);
	if (rest_len == 0 || rest[0] != '/')
		return 1; /* opaque: "scheme:anything" */
	return valid_escapes(rest, rest_len);
}

static int reserve_mapkeys(cp_flat *f, size_t need)
{
	size_t cap = next_capacity(f->cap_mapkeys, need);
	RESIZE_OR_FAIL(f->mapkey_size, cap);
	RESIZE_OR_FAIL(f->mapkey_offset, cap);
	RESIZE_OR_FAIL(f->mapkey_hash, cap);
	RESIZE_OR_FAIL(f->mapkey_id, cap);
	RESIZE_OR_FAIL(f->mapkey_file, cap);
	RESIZE_OR_FAIL(f->mapkey_name, cap);
	f->cap_mapkeys = cap;
	return 0;
}

/* The key of mapping m, registered when new: pprof's merge gives every mapping with the same
 * key the file of the first one met. Returns NONE when out of memory. */
static uint32_t mapping_key(cp_flat *f, const cp_pprof *p, uint32_t m)
{
	if (f->map_key[m] != NONE)
		return f->map_key[m];
	const cp_pprof_mapping *mp = &p->mappings[m];
	cp_pstr file = cp_pprof_string(p, mp->filename), build_id = cp_pprof_string(p, mp->build_id);
	uint64_t size = mp->memory_limit - mp->memory_start; /* uint64 arithmetic, as pprof's */
	size = size + 0xfff;
	size -= size % 0x1000;
	cp_pstr id = build_id.len ? build_id : file;
	uint64_t h = cp_hash_bytes(id.ptr, id.len) ^ cp_hash_mix(size ^ cp_hash_mix(mp->file_offset));

	if (!f->mapkey_table && rebuild_index(&f->mapkey_table, &f->mapkey_mask, f->mapkey_hash, f->nmapkeys, 64))
		return NONE;
	size_t slot = (size_t)h & f->mapkey_mask;
	for (uint32_t v; (v = f->mapkey_table[slot]); slot = (slot + 1) & f->mapkey_mask) {
		uint32_t k = v - 1;
		if (f->mapkey_hash[k] == h && f->mapkey_size[k] == size && f->mapkey_offset[k] == mp->file_offset &&
		    pstr_eq(f->mapkey_id[k], id))
			return f->map_key[m] = k;
	}

	if (build_id.len == 0 && parses_as_absolute_url(file.ptr, file.len))
		file.len = 0;
	size_t k = f->nmapkeys;
	if (k + 1 > f->cap_mapkeys && reserve_mapkeys(f, k + 1))
		return NONE;
	f->mapkey_id[k] = copy_str(f, id.ptr, id.len);
	f->mapkey_file[k] = copy_str(f, file.ptr, file.len);
	if (!f->mapkey_id[k].ptr || !f->mapkey_file[k].ptr)
		return NONE;
	f->mapkey_size[k] = size;
	f->mapkey_offset[k] = mp->file_offset;
	f->mapkey_hash[k] = h;
	f->mapkey_name[k] = NONE;
	f->mapkey_table[slot] = (uint32_t)k + 1;
	f->nmapkeys++;
	if (f->nmapkeys * 2 > f->mapkey_mask + 1 && rebuild_index(&f->mapkey_table, &f->mapkey_mask, f->mapkey_hash, f->nmapkeys, (f->mapkey_mask + 1) * 2))
		return NONE;
	return f->map_key[m] = (uint32_t)k;
}

/* The printed name of an unnamed frame at a location: "[<base of the mapping file>]", or
 * "<unknown>" without a mapping or file. */
static uint32_t unnamed_frame(cp_flat *f, const cp_pprof *p, const cp_pprof_location *loc)
{
	uint32_t k = NONE;
	if (loc->mapping != CP_PPROF_NONE && (k = mapping_key(f, p, loc->mapping)) == NONE)
		return NONE;
	if (k == NONE || f->mapkey_file[k].len == 0)
		return intern(f, "<unknown>", 9);
	if (f->mapkey_name[k] != NONE)
		return f->mapkey_name[k];
	cp_pstr base = path_base(f->mapkey_file[k]);
	char *buf = malloc((size_t)base.len + 2);
	if (!buf)
		return NONE;
	buf[0] = '[';
	memcpy(buf + 1, base.ptr, base.len);
	buf[base.len + 1] = ']';
	f->mapkey_name[k] = intern(f, buf, (size_t)base.len + 2);
	free(buf);
	return f->mapkey_name[k];
}

/* True when a location has a frame named after its mapping. */
static int has_unnamed_frame(const cp_flat *f, const cp_pprof_location *loc)
{
	if (loc->nlines == 0)
		return 1;
	for (uint32_t k = 0; k < loc->nlines; k++)
		if (loc->lines[k].function == CP_PPROF_NONE || f->fn_name[loc->lines[k].function] == NONE)
			return 1;
	return 0;
}

/* Resolves mapping names in the order pprof's merge meets mappings: the first profile's first
 * mapping, then each non-zero sample's locations in order. Only the order of first meetings
 * matters, and only when unnamed frames exist, so this runs only then. */
static int resolve_mappings_in_merge_order(cp_flat *f, const cp_pprof *p)
{
	int needed = 0;
	for (size_t li = 0; li < p->nlocations && !needed; li++)
		needed = has_unnamed_frame(f, &p->locations[li]);
	if (!needed)
		return 0;
	if (f->nmapkeys == 0 && p->nmappings > 0 && mapping_key(f, p, 0) == NONE)
		return -1;
	for (size_t i = 0; i < p->nsamples; i++) {
		const cp_pprof_sample *s = &p->samples[i];
		int nonzero = 0;
		for (size_t t = 0; t < f->ntypes; t++)
			nonzero |= s->values[t] != 0;
		if (!nonzero)
			continue;
		for (uint32_t k = 0; k < s->nlocations; k++) {
			uint32_t m = p->locations[s->locations[k]].mapping;
			if (m != CP_PPROF_NONE && f->map_key[m] == NONE && mapping_key(f, p, m) == NONE)
				return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ drop_frames */

static int function_dropped(cp_flat *f, const cp_pprof *p, uint32_t fn)
{
	if (!f->fn_drop[fn]) {
		cp_pstr name = cp_pprof_string(p, p->functions[fn].name);
		int drop = cp_prune_drops(f->prune, name.ptr, name.len);
		if (drop < 0)
			return -1;
		f->fn_drop[fn] = drop ? 1 : 2;
	}
	return f->fn_drop[fn] == 1;
}

/* Marks locations as pprof's Prune does; sets the first line the location keeps. -1 on OOM. */
static int prune_location(cp_flat *f, const cp_pprof *p, size_t li, uint32_t *first_line)
{
	const cp_pprof_location *loc = &p->locations[li];
	f->loc_prune[li] = 0;
	*first_line = 0;
	for (uint32_t k = loc->nlines; k-- > 0;) {
		uint32_t fn = loc->lines[k].function;
		if (fn == CP_PPROF_NONE || p->strings[p->functions[fn].name].len == 0)
			continue;
		int dropped = function_dropped(f, p, fn);
		if (dropped < 0)
			return -1;
		if (dropped) {
			f->loc_prune[li] = LOC_PRUNE_BENEATH;
			if (k == loc->nlines - 1)
				f->loc_prune[li] |= LOC_PRUNE;
			else
				*first_line = k + 1;
			return 0;
		}
	}
	return 0;
}

/* The leaf-most location a sample keeps after pruning (pprof's per-sample scan). */
static uint32_t sample_begin(const cp_flat *f, const cp_pprof_sample *s)
{
	int found_user = 0;
	for (uint32_t i = s->nlocations; i-- > 0;) {
		uint8_t mark = f->loc_prune[s->locations[i]];
		if (!mark) {
			found_user = 1;
			continue;
		}
		if (!found_user)
			continue;
		return mark & LOC_PRUNE ? i + 1 : i;
	}
	return 0;
}

/* ------------------------------------------------------------------ stack tree */

static int ntable_rehash(cp_flat *f, size_t slots)
{
	uint64_t *keys = malloc(slots * sizeof *keys);
	uint32_t *vals = calloc(slots, sizeof *vals);
	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -1;
	}
	for (size_t n = 1; n < f->nnodes; n++) {
		uint64_t key = (uint64_t)f->node_parent[n] << 32 | f->node_func[n];
		size_t s = (size_t)cp_hash_mix(key) & (slots - 1);
		while (vals[s])
			s = (s + 1) & (slots - 1);
		keys[s] = key;
		vals[s] = (uint32_t)n;
	}
	free(f->ntable_keys);
	free(f->ntable_vals);
	f->ntable_keys = keys;
	f->ntable_vals = vals;
	f->ntable_mask = slots - 1;
	return 0;
}

static int add_node(cp_flat *f, uint32_t parent, uint32_t func)
{
	size_t n = f->nnodes;
	if (n >= NONE - 1)
		return -1;
	if (n + 1 > f->cap_nodes) {
		size_t cap = next_capacity(f->cap_nodes, n + 1);
		RESIZE_OR_FAIL(f->node_parent, cap);
		RESIZE_OR_FAIL(f->node_func, cap);
		RESIZE_OR_FAIL(f->node_self, cap * f->ntypes);
		f->cap_nodes = cap;
	}
	f->node_parent[n] = parent;
	f->node_func[n] = func;
	memset(&f->node_self[n * f->ntypes], 0, f->ntypes * sizeof *f->node_self);
	f->nnodes++;
	return 0;
}

/* The child of parent for func, created when new; NONE when out of memory. */
static uint32_t child(cp_flat *f, uint32_t parent, uint32_t func)
{
	uint64_t key = (uint64_t)parent << 32 | func;
	size_t slot = (size_t)cp_hash_mix(key) & f->ntable_mask;
	for (uint32_t v; (v = f->ntable_vals[slot]); slot = (slot + 1) & f->ntable_mask)
		if (f->ntable_keys[slot] == key)
			return v;
	uint32_t node = (uint32_t)f->nnodes;
	if (add_node(f, parent, func))
		return NONE;
	f->ntable_keys[slot] = key;
	f->ntable_vals[slot] = node;
	if (f->nnodes * 2 > f->ntable_mask + 1 && ntable_rehash(f, (f->ntable_mask + 1) * 2))
		return NONE;
	return node;
}

/* ------------------------------------------------------------------ adding a profile */

static int setup_first(cp_flat *f, const cp_pprof *p, char *err, size_t errlen)
{
	f->ntypes = p->nsample_types;
	f->types = cp_arena_calloc(f->strings, f->ntypes, sizeof *f->types);
	f->units = cp_arena_calloc(f->strings, f->ntypes, sizeof *f->units);
	f->total = calloc(f->ntypes, sizeof *f->total);
	f->total_abs = calloc(f->ntypes, sizeof *f->total_abs);
	if (!f->types || !f->units || !f->total || !f->total_abs)
		goto oom;
	for (size_t t = 0; t < f->ntypes; t++) {
		cp_pstr ty = cp_pprof_string(p, p->sample_types[t].type);
		cp_pstr un = cp_pprof_string(p, p->sample_types[t].unit);
		f->types[t] = copy_str(f, ty.ptr, ty.len);
		f->units[t] = copy_str(f, un.ptr, un.len);
		if (!f->types[t].ptr || !f->units[t].ptr)
			goto oom;
	}
	cp_pstr pt = cp_pprof_string(p, p->period_type.type), pu = cp_pprof_string(p, p->period_type.unit);
	f->period_type = copy_str(f, pt.ptr, pt.len);
	f->period_unit = copy_str(f, pu.ptr, pu.len);
	f->ftable = calloc(64, sizeof *f->ftable);
	if (!f->period_type.ptr || !f->period_unit.ptr || !f->ftable)
		goto oom;
	f->ftable_mask = 63;

	if (f->flags & CP_FLAT_STACKS) {
		f->ntable_keys = malloc(64 * sizeof *f->ntable_keys);
		f->ntable_vals = calloc(64, sizeof *f->ntable_vals);
		if (!f->ntable_keys || !f->ntable_vals || add_node(f, NONE, NONE))
			goto oom;
		f->ntable_mask = 63;
	}

	/* The first profile's rules apply to the merge, as pprof prunes after merging. */
	cp_pstr drop = cp_pprof_string(p, p->drop_frames), keep = cp_pprof_string(p, p->keep_frames);
	int bad_rule = 0;
	f->prune = cp_prune_new(drop.ptr, drop.len, keep.ptr, keep.len, &bad_rule);
	if (drop.len && !f->prune && !bad_rule)
		goto oom;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int check_compatible(const cp_flat *f, const cp_pprof *p, char *err, size_t errlen)
{
	int same = p->nsample_types == f->ntypes;
	for (size_t t = 0; same && t < f->ntypes; t++)
		same = pstr_eq(cp_pprof_string(p, p->sample_types[t].type), f->types[t]) &&
		       pstr_eq(cp_pprof_string(p, p->sample_types[t].unit), f->units[t]);
	if (!same) {
		cp_pstr t0 = cp_pprof_string(p, p->sample_types[0].type);
		snprintf(err, errlen,
			 "incompatible sample types: %zu types starting with %.*s, the first profile has %zu starting with %.*s",
			 p->nsample_types, (int)t0.len, t0.ptr, f->ntypes, (int)f->types[0].len, f->types[0].ptr);
		return -1;
	}
	if (!pstr_eq(cp_pprof_string(p, p->period_type.type), f->period_type) ||
	    !pstr_eq(cp_pprof_string(p, p->period_type.unit), f->period_unit)) {
		snprintf(err, errlen, "incompatible period types: %.*s/%.*s, the first profile has %.*s/%.*s",
			 (int)cp_pprof_string(p, p->period_type.type).len, cp_pprof_string(p, p->period_type.type).ptr,
			 (int)cp_pprof_string(p, p->period_type.unit).len, cp_pprof_string(p, p->period_type.unit).ptr,
			 (int)f->period_type.len, f->period_type.ptr, (int)f->period_unit.len, f->period_unit.ptr);
		return -1;
	}
	return 0;
}

/* Checks that the sums of absolute values per type, running totals included, fit in int64.
 * Changes nothing, so a refused profile leaves the accumulator as it was. */
static int check_magnitudes(const cp_flat *f, const cp_pprof *p, char *err, size_t errlen)
{
	int64_t *sums = calloc(p->nsample_types, sizeof *sums);
	if (!sums) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (f->nprofiles)
		memcpy(sums, f->total_abs, f->ntypes * sizeof *sums);
	int rc = 0;
	for (size_t i = 0; i < p->nsamples && !rc; i++) {
		const int64_t *v = p->samples[i].values;
		for (size_t t = 0; t < p->nsample_types; t++) {
			if (v[t] == INT64_MIN || __builtin_add_overflow(sums[t], v[t] < 0 ? -v[t] : v[t], &sums[t])) {
				cp_pstr type = cp_pprof_string(p, p->sample_types[t].type);
				snprintf(err, errlen, "sample %zu: value %" PRId64 " of %.*s makes the total overflow int64",
					 i, v[t], (int)type.len, type.ptr);
				rc = -1;
				break;
			}
		}
	}
	free(sums);
	return rc;
}

static int prepare_profile(cp_flat *f, const cp_pprof *p)
{
	if (p->nfunctions + 1 > f->cap_fn) {
		size_t cap = next_capacity(f->cap_fn, p->nfunctions + 1);
		RESIZE_OR_FAIL(f->fn_name, cap);
		RESIZE_OR_FAIL(f->fn_drop, cap);
		f->cap_fn = cap;
	}
	if (p->nmappings + 1 > f->cap_map) {
		size_t cap = next_capacity(f->cap_map, p->nmappings + 1);
		RESIZE_OR_FAIL(f->map_key, cap);
		f->cap_map = cap;
	}
	if (p->nlocations + 1 > f->cap_loc) {
		size_t cap = next_capacity(f->cap_loc, p->nlocations + 1);
		RESIZE_OR_FAIL(f->loc_first, cap);
		RESIZE_OR_FAIL(f->loc_nframes, cap);
		RESIZE_OR_FAIL(f->loc_prune, cap);
		f->cap_loc = cap;
	}

	for (size_t m = 0; m < p->nmappings; m++)
		f->map_key[m] = NONE;
	memset(f->fn_drop, 0, p->nfunctions);
	for (size_t i = 0; i < p->nfunctions; i++) {
		cp_pstr name = cp_pprof_string(p, p->functions[i].name);
		f->fn_name[i] = NONE;
		if (name.len && (f->fn_name[i] = intern(f, name.ptr, name.len)) == NONE)
			return -1;
	}
	if (resolve_mappings_in_merge_order(f, p))
		return -1;

	size_t nframes = 0;
	for (size_t li = 0; li < p->nlocations; li++) {
		const cp_pprof_location *loc = &p->locations[li];
		uint32_t first_line = 0;
		f->loc_prune[li] = 0;
		if (f->prune && prune_location(f, p, li, &first_line))
			return -1;
		size_t n = loc->nlines ? loc->nlines - first_line : 1;
		if (nframes + n >= NONE)
			return -1;
		if (nframes + n > f->cap_frames) {
			size_t cap = next_capacity(f->cap_frames, nframes + n);
			RESIZE_OR_FAIL(f->frames, cap);
			f->cap_frames = cap;
		}
		f->loc_first[li] = (uint32_t)nframes;
		f->loc_nframes[li] = (uint32_t)n;
		if (!loc->nlines) {
			if ((f->frames[nframes++] = unnamed_frame(f, p, loc)) == NONE)
				return -1;
			continue;
		}
		for (uint32_t k = first_line; k < loc->nlines; k++) {
			uint32_t fn = loc->lines[k].function;
			uint32_t id = fn == CP_PPROF_NONE ? NONE : f->fn_name[fn];
			if (id == NONE && (id = unnamed_frame(f, p, loc)) == NONE)
				return -1;
			f->frames[nframes++] = id;
		}
	}
	return 0;
}

static int add_samples(cp_flat *f, const cp_pprof *p)
{
	const size_t nt = f->ntypes;
	for (size_t i = 0; i < p->nsamples; i++) {
		const cp_pprof_sample *s = &p->samples[i];
		const int64_t *v = s->values;
		int nonzero = 0;
		for (size_t t = 0; t < nt; t++) {
			f->total[t] += v[t];
			f->total_abs[t] += v[t] < 0 ? -v[t] : v[t];
			nonzero |= v[t] != 0;
		}
		uint32_t begin = f->prune ? sample_begin(f, s) : 0;
		if (!nonzero || begin >= s->nlocations)
			continue;

		if (++f->stamp == 0) { /* wrapped: forget every old stamp */
			memset(f->seen, 0, f->nfuncs * sizeof *f->seen);
			f->stamp = 1;
		}
		uint32_t leaf = f->frames[f->loc_first[s->locations[begin]]];
		for (size_t t = 0; t < nt; t++)
			f->fflat[leaf * nt + t] += v[t];
		for (uint32_t k = begin; k < s->nlocations; k++) {
			uint32_t loc = s->locations[k];
			const uint32_t *fr = &f->frames[f->loc_first[loc]];
			for (uint32_t j = 0; j < f->loc_nframes[loc]; j++) {
				uint32_t id = fr[j];
				if (f->seen[id] == f->stamp)
					continue;
				f->seen[id] = f->stamp;
				for (size_t t = 0; t < nt; t++)
					f->fcum[id * nt + t] += v[t];
			}
		}
		if (!(f->flags & CP_FLAT_STACKS))
			continue;
		uint32_t node = CP_FLAT_ROOT;
		for (uint32_t k = s->nlocations; k-- > begin;) {
			uint32_t loc = s->locations[k];
			const uint32_t *fr = &f->frames[f->loc_first[loc]];
			for (uint32_t j = f->loc_nframes[loc]; j-- > 0;)
				if ((node = child(f, node, fr[j])) == NONE)
					return -1;
		}
		for (size_t t = 0; t < nt; t++)
			f->node_self[(size_t)node * nt + t] += v[t];
	}
	return 0;
}

int cp_flat_add(cp_flat *f, const cp_pprof *p, char *err, size_t errlen)
{
	if (f->nprofiles && check_compatible(f, p, err, errlen))
		return -1;
	if (check_magnitudes(f, p, err, errlen))
		return -1;
	if (f->nprofiles == 0 && !f->types && setup_first(f, p, err, errlen))
		return -1;
	if (f->default_type.len == 0 && p->default_sample_type != 0) {
		cp_pstr d = cp_pprof_string(p, p->default_sample_type);
		f->default_type = copy_str(f, d.ptr, d.len);
		if (!f->default_type.ptr)
			goto oom;
	}
	f->nprofiles++;
	if (prepare_profile(f, p) || add_samples(f, p))
		goto oom;
	return 0;
oom:
	snprintf(err, errlen, "out of memory flattening a profile of %zu bytes", p->encoded_size);
	return -1;
}

/* ------------------------------------------------------------------ lifecycle and accessors */

cp_flat *cp_flat_new(unsigned flags)
{
	cp_flat *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	f->flags = flags;
	f->strings = cp_arena_new(0);
	if (!f->strings) {
		free(f);
		return NULL;
	}
	return f;
}

void cp_flat_destroy(cp_flat *f)
{
	if (!f)
		return;
	cp_prune_free(f->prune);
	cp_arena_destroy(f->strings);
	free(f->mapkey_size);
	free(f->mapkey_offset);
	free(f->mapkey_hash);
	free(f->mapkey_id);
	free(f->mapkey_file);
	free(f->mapkey_name);
	free(f->mapkey_table);
	free(f->total);
	free(f->total_abs);
	free(f->fname);
	free(f->fhash);
	free(f->fflat);
	free(f->fcum);
	free(f->seen);
	free(f->ftable);
	free(f->node_parent);
	free(f->node_func);
	free(f->node_self);
	free(f->ntable_keys);
	free(f->ntable_vals);
	free(f->fn_name);
	free(f->fn_drop);
	free(f->map_key);
	free(f->loc_first);
	free(f->loc_nframes);
	free(f->loc_prune);
	free(f->frames);
	free(f);
}

size_t cp_flat_nprofiles(const cp_flat *f) { return f->nprofiles; }
size_t cp_flat_ntypes(const cp_flat *f) { return f->ntypes; }
cp_pstr cp_flat_type(const cp_flat *f, size_t t) { return f->types[t]; }
cp_pstr cp_flat_unit(const cp_flat *f, size_t t) { return f->units[t]; }
cp_pstr cp_flat_default_type(const cp_flat *f) { return f->default_type.ptr ? f->default_type : (cp_pstr){"", 0}; }
int64_t cp_flat_total(const cp_flat *f, size_t t) { return f->total[t]; }
int64_t cp_flat_total_abs(const cp_flat *f, size_t t) { return f->total_abs[t]; }
size_t cp_flat_nfunctions(const cp_flat *f) { return f->nfuncs; }
cp_pstr cp_flat_function_name(const cp_flat *f, size_t fn) { return f->fname[fn]; }
int64_t cp_flat_flat(const cp_flat *f, size_t fn, size_t t) { return f->fflat[fn * f->ntypes + t]; }
int64_t cp_flat_cum(const cp_flat *f, size_t fn, size_t t) { return f->fcum[fn * f->ntypes + t]; }
size_t cp_flat_nnodes(const cp_flat *f) { return f->nnodes; }
uint32_t cp_flat_node_parent(const cp_flat *f, size_t n) { return f->node_parent[n]; }
uint32_t cp_flat_node_function(const cp_flat *f, size_t n) { return f->node_func[n]; }
int64_t cp_flat_node_self(const cp_flat *f, size_t n, size_t t) { return f->node_self[n * f->ntypes + t]; }
