/* cp_pb: a minimal, bounds-checked protobuf wire-format reader used by cprof's hand-written
 * decoders. It never reads outside [pos, end); every function reports truncation instead.
 * Header-only (static inline) because it sits in the innermost decode loops.
 *
 * Ownership: a cp_pb_reader borrows the bytes it reads; fields with wire type LEN point into
 * them (zero copy). */
#ifndef CP_PB_H
#define CP_PB_H

#include <stddef.h>
#include <stdint.h>

enum { CP_PB_VARINT = 0, CP_PB_I64 = 1, CP_PB_LEN = 2, CP_PB_I32 = 5 };

typedef enum {
	CP_PB_OK = 0,
	CP_PB_TRUNCATED,  /* the data ends inside a field */
	CP_PB_BAD_VARINT, /* a varint longer than 10 bytes */
	CP_PB_BAD_WIRE,   /* wire types 3, 4 (groups), 6 and 7, or field number 0 */
} cp_pb_status;

typedef struct {
	const uint8_t *start; /* for byte offsets in error messages */
	const uint8_t *pos;
	const uint8_t *end;
} cp_pb_reader;

typedef struct {
	uint32_t number;
	uint32_t wire;
	uint64_t value;       /* VARINT, I64 and I32 fields */
	const uint8_t *data;  /* LEN fields */
	size_t len;           /* LEN fields */
	size_t offset;        /* byte offset of the field's key from the reader's start */
} cp_pb_field;

#if defined(__GNUC__)
#define CP_PB_INLINE static inline __attribute__((always_inline))
#else
#define CP_PB_INLINE static inline
#endif

static inline cp_pb_reader cp_pb_reader_init(const uint8_t *data, size_t len)
{
	cp_pb_reader r = {data, data, data + len};
	return r;
}

static inline int cp_pb_more(const cp_pb_reader *r)
{
	return r->pos < r->end;
}

CP_PB_INLINE cp_pb_status cp_pb_varint(cp_pb_reader *r, uint64_t *out)
{
	const uint8_t *p = r->pos;
	if (p < r->end && *p < 0x80) { /* the common one-byte case */
		*out = *p;
		r->pos = p + 1;
		return CP_PB_OK;
	}
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (p >= r->end)
			return CP_PB_TRUNCATED;
		uint8_t b = *p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (b < 0x80) {
			*out = v;
			r->pos = p;
			return CP_PB_OK;
		}
	}
	return CP_PB_BAD_VARINT;
}

/* Reads one field: its key and its value (for LEN, the payload's bounds). */
CP_PB_INLINE cp_pb_status cp_pb_next(cp_pb_reader *r, cp_pb_field *f)
{
	uint64_t key;
	f->offset = (size_t)(r->pos - r->start);
	f->value = 0; /* every member defined, whatever the wire type */
	f->data = NULL;
	f->len = 0;
	cp_pb_status st = cp_pb_varint(r, &key);
	if (st)
		return st;
	f->number = (uint32_t)(key >> 3);
	f->wire = (uint32_t)(key & 7);
	if ((key >> 3) == 0 || (key >> 3) > 0x1fffffff)
		return CP_PB_BAD_WIRE;
	switch (f->wire) {
	case CP_PB_VARINT:
		return cp_pb_varint(r, &f->value);
	case CP_PB_I64:
		if (r->end - r->pos < 8)
			return CP_PB_TRUNCATED;
		f->value = 0;
		for (int i = 7; i >= 0; i--)
			f->value = f->value << 8 | r->pos[i];
		r->pos += 8;
		return CP_PB_OK;
	case CP_PB_I32:
		if (r->end - r->pos < 4)
			return CP_PB_TRUNCATED;
		f->value = (uint64_t)r->pos[0] | (uint64_t)r->pos[1] << 8 | (uint64_t)r->pos[2] << 16 |
			   (uint64_t)r->pos[3] << 24;
		r->pos += 4;
		return CP_PB_OK;
	case CP_PB_LEN: {
		uint64_t len;
		st = cp_pb_varint(r, &len);
		if (st)
			return st;
		if (len > (uint64_t)(r->end - r->pos))
			return CP_PB_TRUNCATED;
		f->data = r->pos;
		f->len = (size_t)len;
		r->pos += len;
		return CP_PB_OK;
	}
	default:
		return CP_PB_BAD_WIRE;
	}
}

static inline const char *cp_pb_status_text(cp_pb_status st)
{
	switch (st) {
	case CP_PB_OK:
		return "ok";
	case CP_PB_TRUNCATED:
		return "truncated protobuf (a field runs past the end of its message)";
	case CP_PB_BAD_VARINT:
		return "malformed varint (longer than 10 bytes)";
	case CP_PB_BAD_WIRE:
		return "invalid field key (field number 0 or unsupported wire type)";
	}
	return "unknown protobuf error";
}

/* Number of varints in a packed repeated field: the bytes without a continuation bit. */
static inline size_t cp_pb_packed_count(const uint8_t *data, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += data[i] < 0x80;
	return n;
}

#endif
