/* cp_pprof: the pprof decoder and validator; see cp_pprof.h.
 *
 * One scan over the top-level fields collects the string table and the byte spans of every
 * sample type, mapping, function, location and sample (no copies: spans point into the
 * protobuf). Then each kind is decoded from its spans in dependency order, so ids are resolved
 * to indices whatever order the fields came in: mappings and functions, then locations
 * (resolving their mapping and function ids), then samples (resolving location ids). Repeated
 * fields inside a message are read in one pass into reusable scratch vectors, then copied into
 * arrays of their exact size in the profile's arena. */
#include "cp_pprof.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cp_arena.h"
#include "cp_idmap.h"
#include "cp_inflate.h"
#include "cp_pb.h"

/* Top-level field numbers of perftools.profiles.Profile. */
enum {
	F_SAMPLE_TYPE = 1,
	F_SAMPLE = 2,
	F_MAPPING = 3,
	F_LOCATION = 4,
	F_FUNCTION = 5,
	F_STRING_TABLE = 6,
	F_DROP_FRAMES = 7,
	F_KEEP_FRAMES = 8,
	F_TIME_NANOS = 9,
	F_DURATION_NANOS = 10,
	F_PERIOD_TYPE = 11,
	F_PERIOD = 12,
	F_COMMENT = 13,
	F_DEFAULT_SAMPLE_TYPE = 14,
};

/* A growable array of fixed-size elements (malloc'd; the decoder frees it). */
typedef struct {
	unsigned char *items;
	size_t n, cap, elem;
} vec;

/* Makes room for extra more elements; -1 when out of memory. */
static int vec_reserve(vec *v, size_t extra)
{
	if (v->cap - v->n >= extra)
		return 0;
	size_t cap = v->cap ? v->cap : 64;
	while (cap - v->n < extra)
		cap *= 2;
	unsigned char *grown = realloc(v->items, cap * v->elem);
	if (!grown)
		return -1;
	v->items = grown;
	v->cap = cap;
	return 0;
}

/* Appends one element, left for the caller to fill; NULL when out of memory. */
static void *vec_push(vec *v)
{
	if (v->n == v->cap && vec_reserve(v, 1))
		return NULL;
	return v->items + v->n++ * v->elem;
}

typedef struct {
	const uint8_t *data;
	size_t len;
} span;

/* Top-level fields that are not repeated messages, recorded by the scan and checked later. */
typedef struct {
	uint64_t drop_frames, keep_frames, default_sample_type; /* raw string indices */
	span period_type;
	int has_period_type;
} scalars;

typedef struct {
	cp_pprof *p;
	cp_arena *arena;
	const uint8_t *buf;
	size_t len;
	char *err;
	size_t errlen;

	/* spans of the top-level repeated messages, and the string table */
	vec sample_types, samples, mappings, locations, functions, comments, strings;
	scalars top;

	/* the writable views of p's arrays */
	cp_pprof_value_type *sample_type_array;
	cp_pprof_sample *sample_array;
	cp_pprof_mapping *mapping_array;
	cp_pprof_location *location_array;
	cp_pprof_function *function_array;
	uint32_t *comment_array;

	cp_idmap mapping_ids, function_ids, location_ids;

	/* scratch for one message's repeated fields, reused */
	vec ids, values, labels, lines, line_functions;
} decoder;

struct cp_pprof_decoder {
	cp_pprof_limits limits;
	cp_pprof profile;     /* the last profile decoded */
	decoder d;            /* its vectors keep their storage from one profile to the next */
	cp_arena *arena;      /* reset, not freed, between profiles */
	cp_inflater *inflater;
	uint8_t *bytes;       /* the protobuf, decompressed or copied; strings point into it */
	size_t bytes_size;
};

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int fail(decoder *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->err, d->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int fail_pb(decoder *d, cp_pb_status st, const char *where, size_t index, size_t offset)
{
	if (index == SIZE_MAX)
		return fail(d, "%s at byte %zu: %s", where, offset, cp_pb_status_text(st));
	return fail(d, "%s %zu at byte %zu: %s", where, index, offset, cp_pb_status_text(st));
}

static int out_of_memory(decoder *d)
{
	return fail(d, "out of memory decoding a %zu-byte profile", d->len);
}

static const char *wire_name(uint32_t wire)
{
	switch (wire) {
	case CP_PB_VARINT:
		return "varint";
	case CP_PB_I64:
		return "fixed64";
	case CP_PB_LEN:
		return "length-delimited";
	case CP_PB_I32:
		return "fixed32";
	}
	return "invalid";
}

/* Reports a known field with the wrong wire type; owner/index/field_name say where. */
#if defined(__GNUC__)
__attribute__((cold, noinline))
#endif
static int wrong_wire(decoder *d, const cp_pb_field *f, uint32_t wire, const char *owner, size_t index,
		      const char *field_name)
{
	if (index == SIZE_MAX)
		return fail(d, "%s field %" PRIu32 " (%s) has wire type %s, expected %s", owner,
			    f->number, field_name, wire_name(f->wire), wire_name(wire));
	return fail(d, "%s %zu: field %" PRIu32 " (%s) has wire type %s, expected %s", owner, index,
		    f->number, field_name, wire_name(f->wire), wire_name(wire));
}

/* Checks a known field's wire type: the check inline, the report out of line. */
static inline int want_wire(decoder *d, const cp_pb_field *f, uint32_t wire, const char *owner, size_t index,
			    const char *field_name)
{
	return f->wire == wire ? 0 : wrong_wire(d, f, wire, owner, index, field_name);
}

/* Validates a string index; owner/index/field_name say where it was found. */
static int string_index(decoder *d, uint64_t raw, uint32_t *out, const char *owner, size_t index,
			const char *field_name)
{
	if (raw < d->p->nstrings) {
		*out = (uint32_t)raw;
		return 0;
	}
	if (index == SIZE_MAX)
		return fail(d, "%s %s: string index %" PRId64 " out of range (the string table has %zu entries)",
			    owner, field_name, (int64_t)raw, d->p->nstrings);
	return fail(d, "%s %zu: %s: string index %" PRId64 " out of range (the string table has %zu entries)",
		    owner, index, field_name, (int64_t)raw, d->p->nstrings);
}

/* Appends the values of a repeated varint field, packed or not, to a vector of uint64. */
static int repeated_varints(decoder *d, const cp_pb_field *f, vec *out, const char *owner,
			    size_t index, const char *field_name)
{
	if (f->wire == CP_PB_VARINT) {
		uint64_t *slot = vec_push(out);
		if (!slot)
			return out_of_memory(d);
		*slot = f->value;
		return 0;
	}
	if (f->wire != CP_PB_LEN)
		return want_wire(d, f, CP_PB_LEN, owner, index, field_name);
	/* Packed: every complete varint ends in a byte below 0x80, so counting those bytes gives
	 * an upper bound on the values and the vector grows at most once (by at least one
	 * element, so that its storage exists even for an empty field). */
	if (vec_reserve(out, cp_pb_packed_count(f->data, f->len) + 1))
		return out_of_memory(d);
	uint64_t *dst = (uint64_t *)out->items + out->n;
	const uint8_t *p = f->data, *end = f->data + f->len;
	size_t n = 0;
	while (p < end) {
		/* Ids and small counts are one or two bytes: take those without the general loop. */
		if (p[0] < 0x80) {
			dst[n++] = p[0];
			p++;
			continue;
		}
		if (end - p >= 2 && p[1] < 0x80) {
			dst[n++] = (uint64_t)(p[0] & 0x7f) | (uint64_t)p[1] << 7;
			p += 2;
			continue;
		}
		cp_pb_reader r = cp_pb_reader_init(p, (size_t)(end - p));
		cp_pb_status st = cp_pb_varint(&r, &dst[n]);
		if (st)
			return fail(d, "%s %zu: %s: %s", owner, index, field_name, cp_pb_status_text(st));
		n++;
		p = r.pos;
	}
	out->n += n;
	return 0;
}

/* Copies a scratch vector into an arena array of its exact size. */
static void *arena_copy(decoder *d, const vec *v)
{
	void *out = cp_arena_alloc(d->arena, v->n * v->elem);
	if (out && v->n)
		memcpy(out, v->items, v->n * v->elem);
	return out;
}

/* ------------------------------------------------------------------ the top-level scan */

static int scan_top_level(decoder *d)
{
	static const char *const message_names[] = {"", "sample_type", "sample", "mapping",
						    "location", "function", "string_table"};
	vec *kinds[] = {NULL, &d->sample_types, &d->samples, &d->mappings, &d->locations, &d->functions};
	cp_pb_reader r = cp_pb_reader_init(d->buf, d->len);
	while (cp_pb_more(&r)) {
		cp_pb_field f;
		cp_pb_status st = cp_pb_next(&r, &f);
		if (st)
			return fail_pb(d, st, "profile: field", SIZE_MAX, f.offset);
		switch (f.number) {
		case F_SAMPLE_TYPE:
		case F_SAMPLE:
		case F_MAPPING:
		case F_LOCATION:
		case F_FUNCTION: {
			if (want_wire(d, &f, CP_PB_LEN, "profile", SIZE_MAX, message_names[f.number]))
				return -1;
			span *sp = vec_push(kinds[f.number]);
			if (!sp)
				return out_of_memory(d);
			*sp = (span){f.data, f.len};
			break;
		}
		case F_STRING_TABLE: {
			if (want_wire(d, &f, CP_PB_LEN, "profile", SIZE_MAX, "string_table"))
				return -1;
			if (f.len > UINT32_MAX)
				return fail(d, "string %zu: %zu bytes is too long", d->strings.n, f.len);
			cp_pstr *str = vec_push(&d->strings);
			if (!str)
				return out_of_memory(d);
			*str = (cp_pstr){(const char *)f.data, (uint32_t)f.len};
			break;
		}
		case F_DROP_FRAMES:
		case F_KEEP_FRAMES:
		case F_DEFAULT_SAMPLE_TYPE:
		case F_TIME_NANOS:
		case F_DURATION_NANOS:
		case F_PERIOD: {
			static const char *const names[] = {
				[F_DROP_FRAMES] = "drop_frames", [F_KEEP_FRAMES] = "keep_frames",
				[F_TIME_NANOS] = "time_nanos",   [F_DURATION_NANOS] = "duration_nanos",
				[F_PERIOD] = "period",           [F_DEFAULT_SAMPLE_TYPE] = "default_sample_type"};
			if (want_wire(d, &f, CP_PB_VARINT, "profile", SIZE_MAX, names[f.number]))
				return -1;
			if (f.number == F_DROP_FRAMES)
				d->top.drop_frames = f.value;
			else if (f.number == F_KEEP_FRAMES)
				d->top.keep_frames = f.value;
			else if (f.number == F_DEFAULT_SAMPLE_TYPE)
				d->top.default_sample_type = f.value;
			else if (f.number == F_TIME_NANOS)
				d->p->time_nanos = (int64_t)f.value;
			else if (f.number == F_DURATION_NANOS)
				d->p->duration_nanos = (int64_t)f.value;
			else
				d->p->period = (int64_t)f.value;
			break;
		}
		case F_PERIOD_TYPE:
			if (want_wire(d, &f, CP_PB_LEN, "profile", SIZE_MAX, "period_type"))
				return -1;
			d->top.period_type = (span){f.data, f.len};
			d->top.has_period_type = 1;
			break;
		case F_COMMENT:
			if (repeated_varints(d, &f, &d->comments, "comment", d->comments.n, "comment"))
				return -1;
			break;
		default:
			break;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ small messages */

static int decode_value_type(decoder *d, span msg, cp_pprof_value_type *vt, const char *owner, size_t index)
{
	cp_pb_reader r = cp_pb_reader_init(msg.data, msg.len);
	vt->type = vt->unit = 0;
	while (cp_pb_more(&r)) {
		cp_pb_field f;
		cp_pb_status st = cp_pb_next(&r, &f);
		if (st)
			return fail_pb(d, st, owner, index, f.offset);
		if (f.number == 1 || f.number == 2) {
			const char *name = f.number == 1 ? "type" : "unit";
			if (want_wire(d, &f, CP_PB_VARINT, owner, index, name) ||
			    string_index(d, f.value, f.number == 1 ? &vt->type : &vt->unit, owner, index, name))
				return -1;
		}
	}
	return 0;
}

static int decode_mapping(decoder *d, span msg, size_t index)
{
	cp_pprof_mapping *m = &d->mapping_array[index];
	memset(m, 0, sizeof *m);
	cp_pb_reader r = cp_pb_reader_init(msg.data, msg.len);
	while (cp_pb_more(&r)) {
		cp_pb_field f;
		cp_pb_status st = cp_pb_next(&r, &f);
		if (st)
			return fail_pb(d, st, "mapping", index, f.offset);
		if (f.number < 1 || f.number > 10)
			continue;
		if (want_wire(d, &f, CP_PB_VARINT, "mapping", index, "varint field"))
			return -1;
		switch (f.number) {
		case 1:
			m->id = f.value;
			break;
		case 2:
			m->memory_start = f.value;
			break;
		case 3:
			m->memory_limit = f.value;
			break;
		case 4:
			m->file_offset = f.value;
			break;
		case 5:
			if (string_index(d, f.value, &m->filename, "mapping", index, "filename"))
				return -1;
			break;
		case 6:
			if (string_index(d, f.value, &m->build_id, "mapping", index, "build_id"))
				return -1;
			break;
		default: /* has_functions and the other flags: not needed */
			break;
		}
	}
	return 0;
}

static int decode_function(decoder *d, span msg, size_t index)
{
	cp_pprof_function *fn = &d->function_array[index];
	memset(fn, 0, sizeof *fn);
	cp_pb_reader r = cp_pb_reader_init(msg.data, msg.len);
	while (cp_pb_more(&r)) {
		cp_pb_field f;
		cp_pb_status st = cp_pb_next(&r, &f);
		if (st)
			return fail_pb(d, st, "function", index, f.offset);
		if (f.number < 1 || f.number > 5)
			continue;
		if (want_wire(d, &f, CP_PB_VARINT, "function", index, "varint field"))
			return -1;
		switch (f.number) {
		case 1:
			fn->id = f.value;
			break;
		case 2:
			if (string_index(d, f.value, &fn->name, "function", index, "name"))
				return -1;
			break;
		case 3:
			if (string_index(d, f.value, &fn->system_name, "function", index, "system_name"))
				return -1;
			break;
		case 4:
			if (string_index(d, f.value, &fn->filename, "function", index, "filename"))
				return -1;
			break;
		case 5:
			fn->start_line = (int64_t)f.value;
			break;
		}
	}
	return 0;
}

/* The string table, the sample types and the profile-level string indices. */
static int decode_header(decoder *d)
{
	cp_pprof *p = d->p;
	if (p->nstrings == 0)
		return fail(d, "the string table is empty (string_table[0] must be \"\")");
	if (p->strings[0].len != 0)
		return fail(d, "string_table[0] is not empty (it must be \"\")");
	if (p->nsample_types == 0)
		return fail(d, "the profile has no sample types");

	const span *types = (const span *)d->sample_types.items;
	for (size_t i = 0; i < p->nsample_types; i++)
		if (decode_value_type(d, types[i], &d->sample_type_array[i], "sample_type", i))
			return -1;
	if (d->top.has_period_type &&
	    decode_value_type(d, d->top.period_type, &p->period_type, "period_type", SIZE_MAX))
		return -1;
	if (string_index(d, d->top.drop_frames, &p->drop_frames, "profile", SIZE_MAX, "drop_frames") ||
	    string_index(d, d->top.keep_frames, &p->keep_frames, "profile", SIZE_MAX, "keep_frames") ||
	    string_index(d, d->top.default_sample_type, &p->default_sample_type, "profile", SIZE_MAX,
			 "default_sample_type"))
		return -1;
	const uint64_t *comments = (const uint64_t *)d->comments.items;
	for (size_t i = 0; i < p->ncomments; i++)
		if (string_index(d, comments[i], &d->comment_array[i], "comment", i, "text"))
			return -1;
	return 0;
}

/* Id maps for mappings, functions and locations, rejecting the reserved id 0 and duplicates. */
static int build_id_map(decoder *d, cp_idmap *map, const char *kind, size_t count,
			const void *items, size_t stride /* bytes between ids */)
{
	const unsigned char *base = items;
	uint64_t max_id = 0;
	for (size_t i = 0; i < count; i++) {
		uint64_t id;
		memcpy(&id, base + i * stride, sizeof id);
		if (id == 0)
			return fail(d, "%s %zu has the reserved id 0", kind, i);
		if (id > max_id)
			max_id = id;
	}
	if (cp_idmap_init(map, d->arena, count, max_id))
		return out_of_memory(d);
	for (size_t i = 0; i < count; i++) {
		uint64_t id;
		memcpy(&id, base + i * stride, sizeof id);
		if (cp_idmap_put(map, id, (uint32_t)i))
			return fail(d, "%s %zu: id %" PRIu64 " is used by more than one %s", kind, i, id, kind);
	}
	return 0;
}

/* ------------------------------------------------------------------ locations */

static int decode_line(decoder *d, const cp_pb_field *msg, size_t loc_index)
{
	uint32_t line_index = (uint32_t)d->lines.n;
	cp_pprof_line *line = vec_push(&d->lines);
	uint64_t *function_id = vec_push(&d->line_functions);
	if (!line || !function_id)
		return out_of_memory(d);
	*line = (cp_pprof_line){0};
	*function_id = 0;
	cp_pb_reader r = cp_pb_reader_init(msg->data, msg->len);
	while (cp_pb_more(&r)) {
		cp_pb_field f;
		cp_pb_status st = cp_pb_next(&r, &f);
		if (st)
			return fail(d, "location %zu: line %" PRIu32 ": %s", loc_index, line_index,
				    cp_pb_status_text(st));
		if (f.number == 1 || f.number == 2) {
			if (want_wire(d, &f, CP_PB_VARINT, "location", loc_index, "line field"))
				return -1;
			if (f.number == 1)
				*function_id = f.value;
			else
				line->line = (int64_t)f.value;
		}
	}
	return 0;
}

static int decode_location(decoder *d, span msg, size_t index)
{
	cp_pprof_location *loc = &d->location_array[index];
	memset(loc, 0, sizeof *loc);
	uint64_t mapping_id = 0;
	d->lines.n = d->line_functions.n = 0;

	cp_pb_reader r = cp_pb_reader_init(msg.data, msg.len);
	while (cp_pb_more(&r)) {
		cp_pb_field f;
		cp_pb_status st = cp_pb_next(&r, &f);
		if (st)
			return fail_pb(d, st, "location", index, f.offset);
		switch (f.number) {
		case 1:
		case 2:
		case 3:
			if (want_wire(d, &f, CP_PB_VARINT, "location", index, "varint field"))
				return -1;
			if (f.number == 1)
				loc->id = f.value;
			else if (f.number == 2)
				mapping_id = f.value;
			else
				loc->address = f.value;
			break;
		case 4:
			if (want_wire(d, &f, CP_PB_LEN, "location", index, "line") || decode_line(d, &f, index))
				return -1;
			break;
		default:
			break;
		}
	}
	if (loc->id == 0)
		return fail(d, "location %zu has the reserved id 0", index);
	loc->mapping = CP_PPROF_NONE;
	if (mapping_id != 0) {
		loc->mapping = cp_idmap_get(&d->mapping_ids, mapping_id);
		if (loc->mapping == CP_PPROF_NONE)
			return fail(d, "location %zu (id %" PRIu64 "): mapping id %" PRIu64 " not found", index,
				    loc->id, mapping_id);
	}
	if (d->lines.n > UINT32_MAX)
		return fail(d, "location %zu: too many lines", index);
	cp_pprof_line *lines = (cp_pprof_line *)d->lines.items;
	const uint64_t *function_ids = (const uint64_t *)d->line_functions.items;
	for (size_t k = 0; k < d->lines.n; k++) {
		lines[k].function = CP_PPROF_NONE;
		if (function_ids[k] == 0)
			continue;
		lines[k].function = cp_idmap_get(&d->function_ids, function_ids[k]);
		if (lines[k].function == CP_PPROF_NONE)
			return fail(d, "location %zu (id %" PRIu64 "): line %zu: function id %" PRIu64 " not found",
				    index, loc->id, k, function_ids[k]);
	}
	loc->nlines = (uint32_t)d->lines.n;
	if (loc->nlines && !(loc->lines = arena_copy(d, &d->lines)))
		return out_of_memory(d);
	return 0;
}

/* ------------------------------------------------------------------ samples */

static int decode_label(decoder *d, const cp_pb_field *msg, size_t sample_index)
{
	cp_pprof_label *label = vec_push(&d->labels);
	if (!label)
		return out_of_memory(d);
	*label = (cp_pprof_label){0};
	cp_pb_reader r = cp_pb_reader_init(msg->data, msg->len);
	while (cp_pb_more(&r)) {
		cp_pb_field f;
		cp_pb_status st = cp_pb_next(&r, &f);
		if (st)
			return fail(d, "sample %zu: label: %s", sample_index, cp_pb_status_text(st));
		if (f.number < 1 || f.number > 4)
			continue;
		if (want_wire(d, &f, CP_PB_VARINT, "sample", sample_index, "label field"))
			return -1;
		switch (f.number) {
		case 1:
			if (string_index(d, f.value, &label->key, "sample", sample_index, "label key"))
				return -1;
			break;
		case 2:
			if (string_index(d, f.value, &label->str, "sample", sample_index, "label str"))
				return -1;
			break;
		case 3:
			label->num = (int64_t)f.value;
			break;
		case 4:
			if (string_index(d, f.value, &label->num_unit, "sample", sample_index, "label num_unit"))
				return -1;
			break;
		}
	}
	return 0;
}

static int decode_sample(decoder *d, span msg, size_t index)
{
	cp_pprof_sample *s = &d->sample_array[index];
	memset(s, 0, sizeof *s);
	d->ids.n = d->values.n = d->labels.n = 0;

	cp_pb_reader r = cp_pb_reader_init(msg.data, msg.len);
	while (cp_pb_more(&r)) {
		cp_pb_field f;
		cp_pb_status st = cp_pb_next(&r, &f);
		if (st)
			return fail_pb(d, st, "sample", index, f.offset);
		switch (f.number) {
		case 1:
			if (repeated_varints(d, &f, &d->ids, "sample", index, "location_id"))
				return -1;
			break;
		case 2:
			if (repeated_varints(d, &f, &d->values, "sample", index, "value"))
				return -1;
			break;
		case 3:
			if (want_wire(d, &f, CP_PB_LEN, "sample", index, "label") || decode_label(d, &f, index))
				return -1;
			break;
		default:
			break;
		}
	}
	if (d->values.n != d->p->nsample_types)
		return fail(d, "sample %zu: has %zu values, but the profile has %zu sample types", index,
			    d->values.n, d->p->nsample_types);
	if (d->ids.n > UINT32_MAX || d->labels.n > UINT32_MAX)
		return fail(d, "sample %zu: too many locations or labels", index);

	s->locations = cp_arena_alloc(d->arena, d->ids.n * sizeof *s->locations);
	s->values = arena_copy(d, &d->values); /* uint64 and int64 share a representation */
	if (!s->locations || !s->values)
		return out_of_memory(d);
	const uint64_t *ids = (const uint64_t *)d->ids.items;
	for (size_t i = 0; i < d->ids.n; i++) {
		uint32_t loc = ids[i] ? cp_idmap_get(&d->location_ids, ids[i]) : CP_PPROF_NONE;
		if (loc == CP_PPROF_NONE)
			return fail(d, "sample %zu: location id %" PRIu64 " not found", index, ids[i]);
		s->locations[i] = loc;
	}
	s->nlocations = (uint32_t)d->ids.n;
	if (d->labels.n) {
		if (!(s->labels = arena_copy(d, &d->labels)))
			return out_of_memory(d);
		s->nlabels = (uint32_t)d->labels.n;
	}
	return 0;
}

/* ------------------------------------------------------------------ entry points */

static int decode_protobuf(decoder *d)
{
	cp_pprof *p = d->p;
	if (scan_top_level(d))
		return -1;
	p->strings = (const cp_pstr *)d->strings.items;
	p->nstrings = d->strings.n;
	p->nsample_types = d->sample_types.n;
	p->nsamples = d->samples.n;
	p->nmappings = d->mappings.n;
	p->nlocations = d->locations.n;
	p->nfunctions = d->functions.n;
	p->ncomments = d->comments.n;
	if (p->nmappings >= UINT32_MAX || p->nlocations >= UINT32_MAX || p->nfunctions >= UINT32_MAX ||
	    p->nstrings >= UINT32_MAX)
		return fail(d, "the profile has too many entries");

	d->sample_type_array = cp_arena_alloc(d->arena, p->nsample_types * sizeof *d->sample_type_array);
	d->sample_array = cp_arena_alloc(d->arena, p->nsamples * sizeof *d->sample_array);
	d->mapping_array = cp_arena_alloc(d->arena, p->nmappings * sizeof *d->mapping_array);
	d->location_array = cp_arena_alloc(d->arena, p->nlocations * sizeof *d->location_array);
	d->function_array = cp_arena_alloc(d->arena, p->nfunctions * sizeof *d->function_array);
	d->comment_array = cp_arena_alloc(d->arena, p->ncomments * sizeof *d->comment_array);
	if (!d->sample_type_array || !d->sample_array || !d->mapping_array || !d->location_array ||
	    !d->function_array || !d->comment_array)
		return out_of_memory(d);
	p->sample_types = d->sample_type_array;
	p->samples = d->sample_array;
	p->mappings = d->mapping_array;
	p->locations = d->location_array;
	p->functions = d->function_array;
	p->comments = d->comment_array;

	if (decode_header(d))
		return -1;
	const span *spans = (const span *)d->mappings.items;
	for (size_t i = 0; i < p->nmappings; i++)
		if (decode_mapping(d, spans[i], i))
			return -1;
	spans = (const span *)d->functions.items;
	for (size_t i = 0; i < p->nfunctions; i++)
		if (decode_function(d, spans[i], i))
			return -1;
	if (build_id_map(d, &d->mapping_ids, "mapping", p->nmappings, d->mapping_array, sizeof *d->mapping_array) ||
	    build_id_map(d, &d->function_ids, "function", p->nfunctions, d->function_array,
			 sizeof *d->function_array))
		return -1;
	spans = (const span *)d->locations.items;
	for (size_t i = 0; i < p->nlocations; i++)
		if (decode_location(d, spans[i], i))
			return -1;
	if (build_id_map(d, &d->location_ids, "location", p->nlocations, d->location_array,
			 sizeof *d->location_array))
		return -1;
	spans = (const span *)d->samples.items;
	for (size_t i = 0; i < p->nsamples; i++)
		if (decode_sample(d, spans[i], i))
			return -1;
	return 0;
}

cp_pprof_decoder *cp_pprof_decoder_new(const cp_pprof_limits *limits)
{
	cp_pprof_decoder *ctx = calloc(1, sizeof *ctx);
	if (!ctx)
		return NULL;
	ctx->limits.max_decompressed = limits && limits->max_decompressed ? limits->max_decompressed
									   : CP_PPROF_DEFAULT_MAX_DECOMPRESSED;
	ctx->arena = cp_arena_new(0);
	ctx->inflater = cp_inflater_new();
	if (!ctx->arena || !ctx->inflater) {
		cp_pprof_decoder_free(ctx);
		return NULL;
	}
	decoder *d = &ctx->d;
	d->sample_types.elem = d->samples.elem = d->mappings.elem = sizeof(span);
	d->locations.elem = d->functions.elem = sizeof(span);
	d->comments.elem = d->ids.elem = d->values.elem = d->line_functions.elem = sizeof(uint64_t);
	d->strings.elem = sizeof(cp_pstr);
	d->labels.elem = sizeof(cp_pprof_label);
	d->lines.elem = sizeof(cp_pprof_line);
	return ctx;
}

void cp_pprof_decoder_free(cp_pprof_decoder *ctx)
{
	if (!ctx)
		return;
	decoder *d = &ctx->d;
	vec *vecs[] = {&d->sample_types, &d->samples, &d->mappings, &d->locations, &d->functions, &d->comments,
		       &d->strings, &d->ids, &d->values, &d->labels, &d->lines, &d->line_functions};
	for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++)
		free(vecs[i]->items);
	cp_arena_destroy(ctx->arena);
	cp_inflater_free(ctx->inflater);
	free(ctx->bytes);
	free(ctx);
}

int cp_pprof_decoder_decode(cp_pprof_decoder *ctx, const uint8_t *data, size_t len, const cp_pprof **out,
			    char *err, size_t errlen)
{
	size_t cap = ctx->limits.max_decompressed;
	*out = NULL;
	if (len == 0) {
		snprintf(err, errlen, "empty input (0 bytes): not a profile");
		return -1;
	}
	size_t size = len;
	if (cp_is_gzip(data, len)) {
		if (cp_inflater_gunzip(ctx->inflater, data, len, cap, &ctx->bytes, &ctx->bytes_size, &size, err, errlen))
			return -1;
		if (size == 0) {
			snprintf(err, errlen, "gzip stream decompresses to 0 bytes: not a profile");
			return -1;
		}
	} else {
		if (len > cap) {
			snprintf(err, errlen, "protobuf of %zu bytes exceeds the cap of %zu bytes", len, cap);
			return -1;
		}
		if (ctx->bytes_size < len) {
			uint8_t *grown = realloc(ctx->bytes, len);
			if (!grown) {
				snprintf(err, errlen, "out of memory for %zu bytes", len);
				return -1;
			}
			ctx->bytes = grown;
			ctx->bytes_size = len;
		}
		memcpy(ctx->bytes, data, len);
	}

	/* The decoded form cannot outgrow the encoding by more than a constant factor (the largest
	 * ratio is an empty sample: 2 bytes in, one struct out); the cap makes that explicit. */
	cp_arena_reset(ctx->arena, size * 32 + ((size_t)1 << 20));
	cp_pprof *p = &ctx->profile;
	*p = (cp_pprof){.encoded_size = size};
	decoder *d = &ctx->d;
	vec *vecs[] = {&d->sample_types, &d->samples, &d->mappings, &d->locations, &d->functions, &d->comments,
		       &d->strings, &d->ids, &d->values, &d->labels, &d->lines, &d->line_functions};
	for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++)
		vecs[i]->n = 0;
	d->p = p;
	d->arena = ctx->arena;
	d->buf = ctx->bytes;
	d->len = size;
	d->err = err;
	d->errlen = errlen;
	d->top = (scalars){0};
	if (decode_protobuf(d))
		return -1;
	*out = p;
	return 0;
}

int cp_pprof_decode(const uint8_t *data, size_t len, const cp_pprof_limits *limits, cp_pprof **out, char *err,
		    size_t errlen)
{
	*out = NULL;
	cp_pprof_decoder *ctx = cp_pprof_decoder_new(limits);
	if (!ctx) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	const cp_pprof *p;
	if (cp_pprof_decoder_decode(ctx, data, len, &p, err, errlen)) {
		cp_pprof_decoder_free(ctx);
		return -1;
	}
	ctx->profile.owner = ctx;
	*out = &ctx->profile;
	return 0;
}

void cp_pprof_free(cp_pprof *profile)
{
	if (profile)
		cp_pprof_decoder_free(profile->owner);
}
