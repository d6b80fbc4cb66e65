/* cp_pprof: the pprof decoder and validator; see cp_pprof.h.
 *
 * Four scans over the top-level fields, each cheap because a scan skips payloads it does not
 * want: (1) count every repeated field so arrays are allocated once at their exact size;
 * (A) strings, sample types, mappings, functions and scalars; (B) locations, resolving
 * mapping and function ids; (C) samples, resolving location ids. Nothing is resolved before
 * the ids it needs are known, whatever order the fields come in. */
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

struct cp_pprof_private {
	cp_arena *arena;
	uint8_t *bytes; /* the protobuf, decompressed or copied; strings point into it */
};

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

typedef struct {
	cp_pprof *p;
	cp_arena *arena;
	const uint8_t *buf;
	size_t len;
	char *err;
	size_t errlen;

	/* the writable views of p's arrays */
	cp_pstr *strings;
	cp_pprof_value_type *sample_types;
	cp_pprof_sample *samples;
	cp_pprof_mapping *mappings;
	cp_pprof_location *locations;
	cp_pprof_function *functions;
	uint32_t *comments;

	cp_idmap mapping_ids, function_ids, location_ids;
	uint64_t *scratch; /* raw varints of one sample; reused, freed after decoding */
	size_t scratch_cap;
} decoder;

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

/* Checks a known field's wire type. what names the field, e.g. "location 3: field 4 (line)". */
static int want_wire(decoder *d, const cp_pb_field *f, uint32_t wire, const char *owner,
		     size_t index, const char *field_name)
{
	if (f->wire == wire)
		return 0;
	if (index == SIZE_MAX)
		return fail(d, "%s field %" PRIu32 " (%s) has wire type %s, expected %s", owner,
			    f->number, field_name, wire_name(f->wire), wire_name(wire));
	return fail(d, "%s %zu: field %" PRIu32 " (%s) has wire type %s, expected %s", owner, index,
		    f->number, field_name, wire_name(f->wire), wire_name(wire));
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

/* A repeated varint field, packed or not: calls back for each value. Returns the count decoded,
 * or -1 after reporting an error. Bounds: never writes more than cap values. */
static long repeated_varints(decoder *d, const cp_pb_field *f, uint64_t *dst, size_t cap,
			     const char *owner, size_t index, const char *field_name)
{
	if (f->wire == CP_PB_VARINT) {
		if (cap < 1)
			return fail(d, "%s %zu: %s: more values than counted", owner, index, field_name);
		dst[0] = f->value;
		return 1;
	}
	if (f->wire != CP_PB_LEN)
		return want_wire(d, f, CP_PB_LEN, owner, index, field_name);
	cp_pb_reader r = cp_pb_reader_init(f->data, f->len);
	size_t n = 0;
	while (cp_pb_more(&r)) {
		if (n == cap)
			return fail(d, "%s %zu: %s: more values than counted", owner, index, field_name);
		cp_pb_status st = cp_pb_varint(&r, &dst[n]);
		if (st)
			return fail(d, "%s %zu: %s: %s", owner, index, field_name, cp_pb_status_text(st));
		n++;
	}
	return (long)n;
}

static size_t repeated_count(const cp_pb_field *f)
{
	if (f->wire == CP_PB_VARINT)
		return 1;
	if (f->wire == CP_PB_LEN)
		return cp_pb_packed_count(f->data, f->len);
	return 0;
}

/* ------------------------------------------------------------------ scan 1: counting */

static int count_fields(decoder *d, size_t *counts /* indexed by field number, 0..14 */)
{
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
		case F_FUNCTION:
		case F_STRING_TABLE: {
			static const char *const names[] = {"", "sample_type", "sample", "mapping",
							    "location", "function", "string_table"};
			if (want_wire(d, &f, CP_PB_LEN, "profile", SIZE_MAX, names[f.number]))
				return -1;
			counts[f.number]++;
			break;
		}
		case F_COMMENT:
			counts[F_COMMENT] += repeated_count(&f);
			break;
		default:
			break;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ scan A */

static int decode_value_type(decoder *d, const uint8_t *data, size_t len, cp_pprof_value_type *vt,
			     const char *owner, size_t index)
{
	cp_pb_reader r = cp_pb_reader_init(data, len);
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

static int decode_mapping(decoder *d, const cp_pb_field *msg, size_t index)
{
	cp_pprof_mapping *m = &d->mappings[index];
	memset(m, 0, sizeof *m);
	cp_pb_reader r = cp_pb_reader_init(msg->data, msg->len);
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

static int decode_function(decoder *d, const cp_pb_field *msg, size_t index)
{
	cp_pprof_function *fn = &d->functions[index];
	memset(fn, 0, sizeof *fn);
	cp_pb_reader r = cp_pb_reader_init(msg->data, msg->len);
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

static int profile_string_field(decoder *d, const cp_pb_field *f, uint32_t *out, const char *name)
{
	return want_wire(d, f, CP_PB_VARINT, "profile", SIZE_MAX, name) ||
	       string_index(d, f->value, out, "profile", SIZE_MAX, name);
}

static int scan_a(decoder *d)
{
	cp_pprof *p = d->p;
	size_t n_types = 0, n_mappings = 0, n_functions = 0, n_comments = 0;

	/* Strings first: every other field validates its string indices against them. */
	size_t n_strings = 0;
	cp_pb_reader r = cp_pb_reader_init(d->buf, d->len);
	while (cp_pb_more(&r)) {
		cp_pb_field f;
		(void)cp_pb_next(&r, &f); /* scan 1 validated the framing */
		if (f.number == F_STRING_TABLE) {
			if (f.len > UINT32_MAX)
				return fail(d, "string %zu: %zu bytes is too long", n_strings, f.len);
			d->strings[n_strings].ptr = (const char *)f.data;
			d->strings[n_strings].len = (uint32_t)f.len;
			n_strings++;
		}
	}
	if (p->nstrings == 0)
		return fail(d, "the string table is empty (string_table[0] must be \"\")");
	if (d->strings[0].len != 0)
		return fail(d, "string_table[0] is not empty (it must be \"\")");

	r = cp_pb_reader_init(d->buf, d->len);
	while (cp_pb_more(&r)) {
		cp_pb_field f;
		(void)cp_pb_next(&r, &f);
		switch (f.number) {
		case F_SAMPLE_TYPE:
			if (decode_value_type(d, f.data, f.len, &d->sample_types[n_types], "sample_type", n_types))
				return -1;
			n_types++;
			break;
		case F_MAPPING:
			if (decode_mapping(d, &f, n_mappings))
				return -1;
			n_mappings++;
			break;
		case F_FUNCTION:
			if (decode_function(d, &f, n_functions))
				return -1;
			n_functions++;
			break;
		case F_DROP_FRAMES:
			if (profile_string_field(d, &f, &p->drop_frames, "drop_frames"))
				return -1;
			break;
		case F_KEEP_FRAMES:
			if (profile_string_field(d, &f, &p->keep_frames, "keep_frames"))
				return -1;
			break;
		case F_DEFAULT_SAMPLE_TYPE:
			if (profile_string_field(d, &f, &p->default_sample_type, "default_sample_type"))
				return -1;
			break;
		case F_TIME_NANOS:
		case F_DURATION_NANOS:
		case F_PERIOD: {
			const char *name = f.number == F_TIME_NANOS       ? "time_nanos"
					   : f.number == F_DURATION_NANOS ? "duration_nanos"
									  : "period";
			if (want_wire(d, &f, CP_PB_VARINT, "profile", SIZE_MAX, name))
				return -1;
			int64_t v = (int64_t)f.value;
			if (f.number == F_TIME_NANOS)
				p->time_nanos = v;
			else if (f.number == F_DURATION_NANOS)
				p->duration_nanos = v;
			else
				p->period = v;
			break;
		}
		case F_PERIOD_TYPE:
			if (want_wire(d, &f, CP_PB_LEN, "profile", SIZE_MAX, "period_type") ||
			    decode_value_type(d, f.data, f.len, &p->period_type, "period_type", SIZE_MAX))
				return -1;
			break;
		case F_COMMENT: {
			uint64_t *tmp = cp_arena_alloc(d->arena, (repeated_count(&f) + 1) * sizeof *tmp);
			if (!tmp)
				return out_of_memory(d);
			long n = repeated_varints(d, &f, tmp, repeated_count(&f), "comment", n_comments, "comment");
			if (n < 0)
				return -1;
			for (long i = 0; i < n; i++, n_comments++)
				if (string_index(d, tmp[i], &d->comments[n_comments], "comment", n_comments, "text"))
					return -1;
			break;
		}
		default:
			break;
		}
	}
	p->ncomments = n_comments;
	if (p->nsample_types == 0)
		return fail(d, "the profile has no sample types");
	return 0;
}

/* Id maps for mappings and functions, rejecting the reserved id 0 and duplicates. */
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

/* ------------------------------------------------------------------ scan B: locations */

static int decode_line(decoder *d, const cp_pb_field *msg, size_t loc_index, uint32_t line_index,
		       cp_pprof_line *line)
{
	uint64_t function_id = 0;
	line->line = 0;
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
				function_id = f.value;
			else
				line->line = (int64_t)f.value;
		}
	}
	line->function = CP_PPROF_NONE;
	if (function_id != 0) {
		line->function = cp_idmap_get(&d->function_ids, function_id);
		if (line->function == CP_PPROF_NONE)
			return fail(d, "location %zu (id %" PRIu64 "): line %" PRIu32 ": function id %" PRIu64 " not found",
				    loc_index, d->locations[loc_index].id, line_index, function_id);
	}
	return 0;
}

static int decode_location(decoder *d, const cp_pb_field *msg, size_t index)
{
	cp_pprof_location *loc = &d->locations[index];
	memset(loc, 0, sizeof *loc);
	uint64_t mapping_id = 0;
	uint32_t nlines = 0;

	cp_pb_reader r = cp_pb_reader_init(msg->data, msg->len);
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
			if (want_wire(d, &f, CP_PB_LEN, "location", index, "line"))
				return -1;
			if (nlines == UINT32_MAX)
				return fail(d, "location %zu: too many lines", index);
			nlines++;
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
	if (nlines == 0)
		return 0;

	loc->lines = cp_arena_alloc(d->arena, nlines * sizeof *loc->lines);
	if (!loc->lines)
		return out_of_memory(d);
	r = cp_pb_reader_init(msg->data, msg->len);
	while (cp_pb_more(&r)) {
		cp_pb_field f;
		(void)cp_pb_next(&r, &f); /* framing checked above */
		if (f.number == 4) {
			if (decode_line(d, &f, index, loc->nlines, &loc->lines[loc->nlines]))
				return -1;
			loc->nlines++;
		}
	}
	return 0;
}

static int scan_b(decoder *d)
{
	size_t n = 0;
	cp_pb_reader r = cp_pb_reader_init(d->buf, d->len);
	while (cp_pb_more(&r)) {
		cp_pb_field f;
		(void)cp_pb_next(&r, &f);
		if (f.number == F_LOCATION) {
			if (decode_location(d, &f, n))
				return -1;
			n++;
		}
	}
	return build_id_map(d, &d->location_ids, "location", d->p->nlocations, d->locations,
			    sizeof d->locations[0]);
}

/* ------------------------------------------------------------------ scan C: samples */

static int decode_label(decoder *d, const cp_pb_field *msg, size_t sample_index, cp_pprof_label *label)
{
	memset(label, 0, sizeof *label);
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

static int decode_sample(decoder *d, const cp_pb_field *msg, size_t index)
{
	cp_pprof_sample *s = &d->samples[index];
	memset(s, 0, sizeof *s);
	size_t nlocs = 0, nvalues = 0, nlabels = 0;

	cp_pb_reader r = cp_pb_reader_init(msg->data, msg->len);
	while (cp_pb_more(&r)) {
		cp_pb_field f;
		cp_pb_status st = cp_pb_next(&r, &f);
		if (st)
			return fail_pb(d, st, "sample", index, f.offset);
		switch (f.number) {
		case 1:
		case 2:
			if (f.wire != CP_PB_VARINT && f.wire != CP_PB_LEN)
				return want_wire(d, &f, CP_PB_LEN, "sample", index,
						 f.number == 1 ? "location_id" : "value");
			if (f.number == 1)
				nlocs += repeated_count(&f);
			else
				nvalues += repeated_count(&f);
			break;
		case 3:
			if (want_wire(d, &f, CP_PB_LEN, "sample", index, "label"))
				return -1;
			nlabels++;
			break;
		default:
			break;
		}
	}
	if (nlocs > UINT32_MAX || nlabels > UINT32_MAX)
		return fail(d, "sample %zu: too many locations or labels", index);

	/* Location ids are read into a scratch array of uint64 and resolved to uint32 indices. */
	if (nlocs + nvalues > d->scratch_cap) {
		size_t cap = (nlocs + nvalues) * 2;
		uint64_t *grown = realloc(d->scratch, cap * sizeof *grown);
		if (!grown)
			return out_of_memory(d);
		d->scratch = grown;
		d->scratch_cap = cap;
	}
	uint64_t *ids = d->scratch;
	s->locations = cp_arena_alloc(d->arena, nlocs * sizeof *s->locations);
	s->values = cp_arena_alloc(d->arena, nvalues * sizeof *s->values);
	s->labels = nlabels ? cp_arena_alloc(d->arena, nlabels * sizeof *s->labels) : NULL;
	if (!s->locations || !s->values || (nlabels && !s->labels))
		return out_of_memory(d);

	size_t got_locs = 0, got_values = 0;
	uint64_t *vals = ids + nlocs;
	r = cp_pb_reader_init(msg->data, msg->len);
	while (cp_pb_more(&r)) {
		cp_pb_field f;
		(void)cp_pb_next(&r, &f);
		long n;
		switch (f.number) {
		case 1:
			n = repeated_varints(d, &f, ids + got_locs, nlocs - got_locs, "sample", index, "location_id");
			if (n < 0)
				return -1;
			got_locs += (size_t)n;
			break;
		case 2:
			n = repeated_varints(d, &f, vals + got_values, nvalues - got_values, "sample", index, "value");
			if (n < 0)
				return -1;
			got_values += (size_t)n;
			break;
		case 3:
			if (decode_label(d, &f, index, &s->labels[s->nlabels]))
				return -1;
			s->nlabels++;
			break;
		default:
			break;
		}
	}
	if (got_values != d->p->nsample_types)
		return fail(d, "sample %zu: has %zu values, but the profile has %zu sample types", index,
			    got_values, d->p->nsample_types);
	for (size_t i = 0; i < got_values; i++)
		s->values[i] = (int64_t)vals[i];
	for (size_t i = 0; i < got_locs; i++) {
		uint32_t loc = ids[i] ? cp_idmap_get(&d->location_ids, ids[i]) : CP_PPROF_NONE;
		if (loc == CP_PPROF_NONE)
			return fail(d, "sample %zu: location id %" PRIu64 " not found", index, ids[i]);
		s->locations[i] = loc;
	}
	s->nlocations = (uint32_t)got_locs;
	return 0;
}

static int scan_c(decoder *d)
{
	size_t n = 0;
	cp_pb_reader r = cp_pb_reader_init(d->buf, d->len);
	while (cp_pb_more(&r)) {
		cp_pb_field f;
		(void)cp_pb_next(&r, &f);
		if (f.number == F_SAMPLE) {
			if (decode_sample(d, &f, n))
				return -1;
			n++;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ entry points */

static int decode_protobuf(decoder *d)
{
	cp_pprof *p = d->p;
	size_t counts[F_DEFAULT_SAMPLE_TYPE + 1] = {0};
	if (count_fields(d, counts))
		return -1;
	p->nsample_types = counts[F_SAMPLE_TYPE];
	p->nsamples = counts[F_SAMPLE];
	p->nmappings = counts[F_MAPPING];
	p->nlocations = counts[F_LOCATION];
	p->nfunctions = counts[F_FUNCTION];
	p->nstrings = counts[F_STRING_TABLE];
	if (p->nmappings >= UINT32_MAX || p->nlocations >= UINT32_MAX || p->nfunctions >= UINT32_MAX ||
	    p->nstrings >= UINT32_MAX)
		return fail(d, "the profile has too many entries");

	d->strings = cp_arena_alloc(d->arena, (p->nstrings + 1) * sizeof *d->strings);
	d->sample_types = cp_arena_alloc(d->arena, (p->nsample_types + 1) * sizeof *d->sample_types);
	d->samples = cp_arena_alloc(d->arena, (p->nsamples + 1) * sizeof *d->samples);
	d->mappings = cp_arena_alloc(d->arena, (p->nmappings + 1) * sizeof *d->mappings);
	d->locations = cp_arena_alloc(d->arena, (p->nlocations + 1) * sizeof *d->locations);
	d->functions = cp_arena_alloc(d->arena, (p->nfunctions + 1) * sizeof *d->functions);
	d->comments = cp_arena_alloc(d->arena, (counts[F_COMMENT] + 1) * sizeof *d->comments);
	if (!d->strings || !d->sample_types || !d->samples || !d->mappings || !d->locations ||
	    !d->functions || !d->comments)
		return out_of_memory(d);
	p->strings = d->strings;
	p->sample_types = d->sample_types;
	p->samples = d->samples;
	p->mappings = d->mappings;
	p->locations = d->locations;
	p->functions = d->functions;
	p->comments = d->comments;

	if (scan_a(d))
		return -1;
	if (build_id_map(d, &d->mapping_ids, "mapping", p->nmappings, d->mappings, sizeof d->mappings[0]) ||
	    build_id_map(d, &d->function_ids, "function", p->nfunctions, d->functions, sizeof d->functions[0]))
		return -1;
	if (scan_b(d) || scan_c(d))
		return -1;
	return 0;
}

int cp_pprof_decode(const uint8_t *data, size_t len, const cp_pprof_limits *limits, cp_pprof **out,
		    char *err, size_t errlen)
{
	size_t cap = limits && limits->max_decompressed ? limits->max_decompressed
							: CP_PPROF_DEFAULT_MAX_DECOMPRESSED;
	*out = NULL;
	if (len == 0) {
		snprintf(err, errlen, "empty input (0 bytes): not a profile");
		return -1;
	}

	cp_pprof *p = calloc(1, sizeof *p);
	struct cp_pprof_private *priv = calloc(1, sizeof *priv);
	if (!p || !priv) {
		free(p);
		free(priv);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	p->priv = priv;

	size_t size = len;
	if (cp_is_gzip(data, len)) {
		if (cp_gunzip(data, len, cap, &priv->bytes, &size, err, errlen))
			goto fail;
		if (size == 0) {
			snprintf(err, errlen, "gzip stream decompresses to 0 bytes: not a profile");
			goto fail;
		}
	} else {
		if (len > cap) {
			snprintf(err, errlen, "protobuf of %zu bytes exceeds the cap of %zu bytes", len, cap);
			goto fail;
		}
		priv->bytes = malloc(len);
		if (!priv->bytes) {
			snprintf(err, errlen, "out of memory for %zu bytes", len);
			goto fail;
		}
		memcpy(priv->bytes, data, len);
	}
	p->encoded_size = size;

	/* The decoded form cannot outgrow the encoding by more than a constant factor (the largest
	 * ratio is an empty sample: 2 bytes in, one struct out); the cap makes that explicit. */
	priv->arena = cp_arena_new(size * 32 + ((size_t)1 << 20));
	if (!priv->arena) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	decoder d = {.p = p, .arena = priv->arena, .buf = priv->bytes, .len = size, .err = err, .errlen = errlen};
	int rc = decode_protobuf(&d);
	free(d.scratch);
	if (rc)
		goto fail;
	*out = p;
	return 0;
fail:
	cp_pprof_free(p);
	return -1;
}

void cp_pprof_free(cp_pprof *profile)
{
	if (!profile)
		return;
	if (profile->priv) {
		cp_arena_destroy(profile->priv->arena);
		free(profile->priv->bytes);
		free(profile->priv);
	}
	free(profile);
}
