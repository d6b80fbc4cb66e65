/* cp_envelope: cprof.v1.ProfileUpload encode, decode, Kafka-header form, derived id and type
 * guess; see cp_envelope.h. */
#include "cp_envelope.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cp_pb.h"
#include "cp_pprof.h"
#include "cp_text.h"
#include "cprof.pb-c.h"

#define NOT_ENVELOPE "not a cprof.v1.ProfileUpload: "

/* Field numbers of cprof.v1.ProfileUpload and cprof.v1.Label (proto/cprof.proto). */
enum {
	F_PROFILE_ID = 1,
	F_SERVICE = 2,
	F_VERSION = 3,
	F_ENV = 4,
	F_ZONE = 5,
	F_INSTANCE = 6,
	F_LABELS = 7,
	F_PROFILE_TYPE = 8,
	F_START_TIME = 9,
	F_DURATION = 10,
	F_PAYLOAD = 11,
	F_LABEL_KEY = 1,
	F_LABEL_VALUE = 2,
};

/* The string fields in one table: field number, name in messages, header name, and where the
 * field lives in a cp_envelope. */
typedef struct {
	uint32_t number;
	const char *name;
	const char *header;
	size_t offset;
} string_field;

static const string_field string_fields[] = {
	{F_PROFILE_ID, "profile_id", CP_ENVELOPE_HEADER_ID, offsetof(cp_envelope, profile_id)},
	{F_SERVICE, "service", CP_ENVELOPE_HEADER_SERVICE, offsetof(cp_envelope, service)},
	{F_VERSION, "version", CP_ENVELOPE_HEADER_VERSION, offsetof(cp_envelope, version)},
	{F_ENV, "env", CP_ENVELOPE_HEADER_ENV, offsetof(cp_envelope, env)},
	{F_ZONE, "zone", CP_ENVELOPE_HEADER_ZONE, offsetof(cp_envelope, zone)},
	{F_INSTANCE, "instance", CP_ENVELOPE_HEADER_INSTANCE, offsetof(cp_envelope, instance)},
	{F_PROFILE_TYPE, "profile_type", CP_ENVELOPE_HEADER_TYPE, offsetof(cp_envelope, profile_type)},
};
enum { NSTRING_FIELDS = sizeof string_fields / sizeof string_fields[0] };

static const char **field_slot(cp_envelope *e, const string_field *f)
{
	return (const char **)(void *)((char *)e + f->offset);
}

static const char *field_value(const cp_envelope *e, const string_field *f)
{
	const char *const *slot = (const char *const *)(const void *)((const char *)e + f->offset);
	return *slot ? *slot : "";
}

static void resolve_limits(const cp_envelope_limits *in, cp_envelope_limits *out)
{
	*out = in ? *in : (cp_envelope_limits){0, 0, 0};
	if (!out->max_payload)
		out->max_payload = CP_ENVELOPE_DEFAULT_MAX_PAYLOAD;
	if (!out->max_string)
		out->max_string = CP_ENVELOPE_DEFAULT_MAX_STRING;
	if (!out->max_labels)
		out->max_labels = CP_ENVELOPE_DEFAULT_MAX_LABELS;
}

/* ------------------------------------------------------------------ validation */

/* What a text check found: 0 text, 1 too long, 2 not UTF-8, 3 a control character. *at is the
 * byte offset of the problem. */
static int text_problem(const char *s, size_t len, size_t max, size_t *at)
{
	if (len > max) {
		*at = max;
		return 1;
	}
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		if (p[i] < 0x20 || p[i] == 0x7f) {
			*at = i;
			return 3;
		}
		size_t n = cp_text_utf8_length(p + i, len - i);
		if (!n) {
			*at = i;
			return 2;
		}
		i += n;
	}
	return 0;
}

/* Checks one string; on a problem writes "WHAT: reason". When decoding protobuf, bytes that are
 * not UTF-8 (no proto3 string holds them) or binary control bytes mean the message is something
 * else, a raw pprof for instance: the reason then starts with "not a cprof.v1.ProfileUpload". */
static int check_text(const char *what, const char *s, size_t len, size_t max, int decoding, char *err,
		      size_t errlen)
{
	size_t at = 0;
	switch (text_problem(s, len, max, &at)) {
	case 0:
		return 0;
	case 1:
		snprintf(err, errlen, "%s: %zu bytes, more than the limit of %zu", what, len, max);
		break;
	case 2:
		snprintf(err, errlen, "%s%s: not UTF-8 at byte %zu", decoding ? NOT_ENVELOPE : "", what, at);
		break;
	default: {
		/* TAB, LF and CR are text a careless producer may send; other control bytes are binary */
		unsigned char c = (unsigned char)s[at];
		int binary = decoding && c != '\t' && c != '\n' && c != '\r';
		snprintf(err, errlen, "%s%s: control character 0x%02x at byte %zu", binary ? NOT_ENVELOPE : "", what,
			 (unsigned)c, at);
		break;
	}
	}
	return -1;
}

static int validate(const cp_envelope *e, const cp_envelope_limits *lim, int decoding, char *err, size_t errlen)
{
	for (size_t i = 0; i < NSTRING_FIELDS; i++) {
		const char *v = field_value(e, &string_fields[i]);
		if (check_text(string_fields[i].name, v, strlen(v), lim->max_string, decoding, err, errlen))
			return -1;
	}
	if (!e->service || !*e->service) {
		snprintf(err, errlen, "missing service");
		return -1;
	}
	if (e->nlabels > lim->max_labels) {
		snprintf(err, errlen, "%zu labels, more than the limit of %zu", e->nlabels, lim->max_labels);
		return -1;
	}
	if (e->nlabels && !e->labels) {
		snprintf(err, errlen, "%zu labels but no label array", e->nlabels);
		return -1;
	}
	for (size_t i = 0; i < e->nlabels; i++) {
		const char *k = e->labels[i].key ? e->labels[i].key : "";
		const char *v = e->labels[i].value ? e->labels[i].value : "";
		char what[96];
		snprintf(what, sizeof what, "label %zu key", i);
		if (check_text(what, k, strlen(k), lim->max_string, decoding, err, errlen))
			return -1;
		if (!*k) {
			snprintf(err, errlen, "label %zu: empty key", i);
			return -1;
		}
		snprintf(what, sizeof what, "label '%.64s' value", k);
		if (check_text(what, v, strlen(v), lim->max_string, decoding, err, errlen))
			return -1;
		for (size_t j = 0; j < i; j++)
			if (e->labels[j].key && strcmp(e->labels[j].key, k) == 0) {
				snprintf(err, errlen, "label '%.64s' given twice", k);
				return -1;
			}
	}
	if (e->start_time_unix_nanos < 0) {
		snprintf(err, errlen, "start_time_unix_nanos is negative (%" PRId64 ")", e->start_time_unix_nanos);
		return -1;
	}
	if (e->duration_nanos < 0) {
		snprintf(err, errlen, "duration_nanos is negative (%" PRId64 ")", e->duration_nanos);
		return -1;
	}
	if (!e->payload || e->payload_len == 0) {
		snprintf(err, errlen, "payload missing");
		return -1;
	}
	if (e->payload_len > lim->max_payload) {
		snprintf(err, errlen, "payload of %zu bytes, more than the limit of %zu", e->payload_len,
			 lim->max_payload);
		return -1;
	}
	return 0;
}

int cp_envelope_validate(const cp_envelope *e, const cp_envelope_limits *limits, char *err, size_t errlen)
{
	cp_envelope_limits lim;
	resolve_limits(limits, &lim);
	return validate(e, &lim, 0, err, errlen);
}

/* ------------------------------------------------------------------ encode */

/* protobuf-c's generated structs hold non-const pointers even for packing, which only reads
 * them; the conversion goes through uintptr_t so the const is dropped knowingly. */
static char *packing_str(const char *s)
{
	return (char *)(uintptr_t)(s ? s : "");
}

int cp_envelope_encode(const cp_envelope *e, const cp_envelope_limits *limits, uint8_t **out, size_t *out_len,
		       char *err, size_t errlen)
{
	*out = NULL;
	*out_len = 0;
	if (cp_envelope_validate(e, limits, err, errlen))
		return -1;
	Cprof__V1__ProfileUpload msg;
	cprof__v1__profile_upload__init(&msg);
	Cprof__V1__Label *labels = NULL;
	Cprof__V1__Label **label_ptrs = NULL;
	if (e->nlabels) {
		labels = calloc(e->nlabels, sizeof *labels);
		label_ptrs = calloc(e->nlabels, sizeof *label_ptrs);
		if (!labels || !label_ptrs) {
			snprintf(err, errlen, "out of memory");
			free(labels);
			free(label_ptrs);
			return -1;
		}
		for (size_t i = 0; i < e->nlabels; i++) {
			cprof__v1__label__init(&labels[i]);
			labels[i].key = packing_str(e->labels[i].key);
			labels[i].value = packing_str(e->labels[i].value);
			label_ptrs[i] = &labels[i];
		}
	}
	msg.profile_id = packing_str(e->profile_id);
	msg.service = packing_str(e->service);
	msg.version = packing_str(e->version);
	msg.env = packing_str(e->env);
	msg.zone = packing_str(e->zone);
	msg.instance = packing_str(e->instance);
	msg.profile_type = packing_str(e->profile_type);
	msg.n_labels = e->nlabels;
	msg.labels = label_ptrs;
	msg.start_time_unix_nanos = e->start_time_unix_nanos;
	msg.duration_nanos = e->duration_nanos;
	msg.payload.len = e->payload_len;
	msg.payload.data = (uint8_t *)(uintptr_t)e->payload;

	size_t size = cprof__v1__profile_upload__get_packed_size(&msg);
	uint8_t *buf = malloc(size ? size : 1);
	int status = -1;
	if (!buf) {
		snprintf(err, errlen, "out of memory (%zu bytes)", size);
	} else if (cprof__v1__profile_upload__pack(&msg, buf) != size) {
		snprintf(err, errlen, "protobuf-c packed a size other than it announced");
		free(buf);
	} else {
		*out = buf;
		*out_len = size;
		status = 0;
	}
	free(labels);
	free(label_ptrs);
	return status;
}

/* ------------------------------------------------------------------ decode */

typedef struct {
	const char *ptr;
	size_t len;
} span;

/* The storage of a decoded envelope: the labels, then the strings. */
typedef struct {
	char *next; /* where the next string goes */
} arena_cursor;

static const char *copy_string(arena_cursor *c, const char *s, size_t len)
{
	char *dst = c->next;
	if (len)
		memcpy(dst, s, len);
	dst[len] = '\0';
	c->next += len + 1;
	return dst;
}

static const string_field *string_field_by_number(uint32_t number)
{
	for (size_t i = 0; i < NSTRING_FIELDS; i++)
		if (string_fields[i].number == number)
			return &string_fields[i];
	return NULL;
}

static const char *wire_name(uint32_t wire)
{
	switch (wire) {
	case CP_PB_VARINT:
		return "varint";
	case CP_PB_I64:
		return "64-bit";
	case CP_PB_LEN:
		return "length-delimited";
	case CP_PB_I32:
		return "32-bit";
	}
	return "invalid";
}

static int wire_error(const char *what, const cp_pb_field *f, uint32_t want, char *err, size_t errlen)
{
	snprintf(err, errlen, NOT_ENVELOPE "%s (field %" PRIu32 ") at byte %zu has wire type %s, expected %s", what,
		 f->number, f->offset, wire_name(f->wire), wire_name(want));
	return -1;
}

/* Reads one Label message; key and value are the last of each (absent: empty). */
static int read_label(const cp_pb_field *lf, size_t index, span *key, span *value, char *err, size_t errlen)
{
	*key = (span){"", 0};
	*value = (span){"", 0};
	cp_pb_reader r = cp_pb_reader_init(lf->data, lf->len);
	cp_pb_field f;
	while (cp_pb_more(&r)) {
		cp_pb_status st = cp_pb_next(&r, &f);
		if (st) {
			snprintf(err, errlen, NOT_ENVELOPE "label %zu (at byte %zu): %s", index, lf->offset,
				 cp_pb_status_text(st));
			return -1;
		}
		if (f.number != F_LABEL_KEY && f.number != F_LABEL_VALUE)
			continue;
		if (f.wire != CP_PB_LEN) {
			char what[48];
			snprintf(what, sizeof what, "label %zu %s", index, f.number == F_LABEL_KEY ? "key" : "value");
			return wire_error(what, &f, CP_PB_LEN, err, errlen);
		}
		*(f.number == F_LABEL_KEY ? key : value) = (span){(const char *)f.data, f.len};
	}
	return 0;
}

/* The first pass: every field's wire form, the last value of each scalar, the label count. */
typedef struct {
	span strings[NSTRING_FIELDS];
	size_t nlabels;
	size_t label_bytes; /* key and value bytes of all labels */
	int64_t start_time, duration;
	const uint8_t *payload;
	size_t payload_len;
} scan_result;

static int scan(const uint8_t *data, size_t len, const cp_envelope_limits *lim, scan_result *s, char *err,
		size_t errlen)
{
	memset(s, 0, sizeof *s);
	for (size_t i = 0; i < NSTRING_FIELDS; i++)
		s->strings[i] = (span){"", 0};
	cp_pb_reader r = cp_pb_reader_init(data, len);
	cp_pb_field f;
	while (cp_pb_more(&r)) {
		cp_pb_status st = cp_pb_next(&r, &f);
		if (st) {
			snprintf(err, errlen, NOT_ENVELOPE "%s (field at byte %zu)", cp_pb_status_text(st), f.offset);
			return -1;
		}
		const string_field *sf = string_field_by_number(f.number);
		if (sf) {
			if (f.wire != CP_PB_LEN)
				return wire_error(sf->name, &f, CP_PB_LEN, err, errlen);
			s->strings[sf - string_fields] = (span){(const char *)f.data, f.len};
		} else if (f.number == F_LABELS) {
			if (f.wire != CP_PB_LEN)
				return wire_error("labels", &f, CP_PB_LEN, err, errlen);
			span k, v;
			if (read_label(&f, s->nlabels, &k, &v, err, errlen))
				return -1;
			if (++s->nlabels > lim->max_labels) {
				snprintf(err, errlen, "more than the limit of %zu labels", lim->max_labels);
				return -1;
			}
			s->label_bytes += k.len + v.len;
		} else if (f.number == F_START_TIME || f.number == F_DURATION) {
			if (f.wire != CP_PB_VARINT)
				return wire_error(f.number == F_START_TIME ? "start_time_unix_nanos" : "duration_nanos", &f,
						  CP_PB_VARINT, err, errlen);
			/* int64 on the wire is the two's complement as a varint */
			int64_t v = f.value > (uint64_t)INT64_MAX ? -(int64_t)(~f.value) - 1 : (int64_t)f.value;
			*(f.number == F_START_TIME ? &s->start_time : &s->duration) = v;
		} else if (f.number == F_PAYLOAD) {
			if (f.wire != CP_PB_LEN)
				return wire_error("payload", &f, CP_PB_LEN, err, errlen);
			s->payload = f.data;
			s->payload_len = f.len;
		}
	}
	return 0;
}

int cp_envelope_decode(const uint8_t *data, size_t len, const cp_envelope_limits *limits, cp_envelope *out,
		       char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	cp_envelope_limits lim;
	resolve_limits(limits, &lim);
	if (len == 0) {
		snprintf(err, errlen, NOT_ENVELOPE "empty message");
		return -1;
	}
	if (len >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
		snprintf(err, errlen,
			 NOT_ENVELOPE "the bytes are gzip data (a raw pprof upload needs the " CP_ENVELOPE_HEADER_SERVICE
				      " header)");
		return -1;
	}
	scan_result s;
	if (scan(data, len, &lim, &s, err, errlen))
		return -1;
	/* Text checks on the wire bytes, before copying: a NUL inside a string must not pass. */
	for (size_t i = 0; i < NSTRING_FIELDS; i++)
		if (check_text(string_fields[i].name, s.strings[i].ptr, s.strings[i].len, lim.max_string, 1, err,
			       errlen))
			return -1;

	size_t bytes = s.nlabels * sizeof(cp_envelope_label) + s.label_bytes + 2 * s.nlabels;
	for (size_t i = 0; i < NSTRING_FIELDS; i++)
		bytes += s.strings[i].len + 1;
	cp_envelope_label *labels = malloc(bytes);
	if (!labels) {
		snprintf(err, errlen, "out of memory (%zu bytes)", bytes);
		return -1;
	}
	arena_cursor c = {(char *)(labels + s.nlabels)};
	for (size_t i = 0; i < NSTRING_FIELDS; i++)
		*field_slot(out, &string_fields[i]) = copy_string(&c, s.strings[i].ptr, s.strings[i].len);

	/* Second pass over the labels only: the scan proved the wire form sound. */
	cp_pb_reader r = cp_pb_reader_init(data, len);
	cp_pb_field f;
	size_t n = 0;
	while (cp_pb_more(&r) && cp_pb_next(&r, &f) == CP_PB_OK) {
		if (f.number != F_LABELS)
			continue;
		span k, v;
		read_label(&f, n, &k, &v, err, errlen);
		char what[48];
		snprintf(what, sizeof what, "label %zu key", n);
		if (check_text(what, k.ptr, k.len, lim.max_string, 1, err, errlen))
			goto fail;
		snprintf(what, sizeof what, "label %zu value", n);
		if (check_text(what, v.ptr, v.len, lim.max_string, 1, err, errlen))
			goto fail;
		labels[n].key = copy_string(&c, k.ptr, k.len);
		labels[n].value = copy_string(&c, v.ptr, v.len);
		n++;
	}
	out->labels = labels;
	out->nlabels = n;
	out->start_time_unix_nanos = s.start_time;
	out->duration_nanos = s.duration;
	out->payload = s.payload;
	out->payload_len = s.payload_len;
	out->storage = labels;
	if (validate(out, &lim, 1, err, errlen))
		goto fail;
	return 0;
fail:
	free(labels);
	memset(out, 0, sizeof *out);
	return -1;
}

void cp_envelope_free(cp_envelope *e)
{
	if (!e)
		return;
	free(e->storage);
	memset(e, 0, sizeof *e);
}

/* ------------------------------------------------------------------ Kafka headers */

static int parse_nanos(const char *name, const void *value, size_t len, int64_t *out, char *err, size_t errlen)
{
	const char *s = value;
	int64_t v = 0;
	int ok = len > 0 && len <= 19;
	for (size_t i = 0; ok && i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			ok = 0;
			break;
		}
		int d = s[i] - '0';
		if (v > (INT64_MAX - d) / 10)
			ok = 0;
		else
			v = v * 10 + d;
	}
	if (!ok) {
		size_t at = 0;
		if (len <= 40 && text_problem(s, len, 40, &at) == 0)
			snprintf(err, errlen, "header %s: '%.*s' is not a decimal number of nanoseconds", name, (int)len, s);
		else
			snprintf(err, errlen, "header %s: %zu bytes that are not a decimal number of nanoseconds", name, len);
		return -1;
	}
	*out = v;
	return 0;
}

int cp_envelope_from_headers(const cp_envelope_header *headers, size_t nheaders, const uint8_t *payload,
			     size_t payload_len, const cp_envelope_limits *limits, cp_envelope *out, char *err,
			     size_t errlen)
{
	memset(out, 0, sizeof *out);
	cp_envelope_limits lim;
	resolve_limits(limits, &lim);
	const size_t prefix_len = strlen(CP_ENVELOPE_HEADER_LABEL);

	/* Pass 1: classify, check, size. */
	const cp_envelope_header *found[NSTRING_FIELDS] = {NULL};
	int have_time = 0, have_duration = 0;
	size_t nlabels = 0, bytes = 0;
	for (size_t h = 0; h < nheaders; h++) {
		const cp_envelope_header *hd = &headers[h];
		if (!hd->name || strncmp(hd->name, "cprof-", 6) != 0)
			continue;
		const char *val = hd->value ? hd->value : "";
		size_t vlen = hd->value ? hd->value_len : 0;
		if (strncmp(hd->name, CP_ENVELOPE_HEADER_LABEL, prefix_len) == 0) {
			const char *key = hd->name + prefix_len;
			char what[96];
			snprintf(what, sizeof what, "header %.80s", hd->name);
			if (!*key) {
				snprintf(err, errlen, "header %s: empty label key", hd->name);
				return -1;
			}
			if (check_text(what, key, strlen(key), lim.max_string, 0, err, errlen) ||
			    check_text(what, val, vlen, lim.max_string, 0, err, errlen))
				return -1;
			if (++nlabels > lim.max_labels) {
				snprintf(err, errlen, "more than the limit of %zu labels", lim.max_labels);
				return -1;
			}
			bytes += strlen(key) + vlen + 2;
			continue;
		}
		int *flag = strcmp(hd->name, CP_ENVELOPE_HEADER_TIME) == 0       ? &have_time
			    : strcmp(hd->name, CP_ENVELOPE_HEADER_DURATION) == 0 ? &have_duration
										 : NULL;
		if (flag) {
			if (*flag) {
				snprintf(err, errlen, "header %s given twice", hd->name);
				return -1;
			}
			*flag = 1;
			if (parse_nanos(hd->name, val, vlen,
					flag == &have_time ? &out->start_time_unix_nanos : &out->duration_nanos, err,
					errlen))
				return -1;
			continue;
		}
		for (size_t i = 0; i < NSTRING_FIELDS; i++) {
			if (strcmp(hd->name, string_fields[i].header) != 0)
				continue;
			if (found[i]) {
				snprintf(err, errlen, "header %s given twice", hd->name);
				return -1;
			}
			if (check_text(string_fields[i].header, val, vlen, lim.max_string, 0, err, errlen))
				return -1;
			found[i] = hd;
			bytes += vlen + 1;
		}
	}

	bytes += nlabels * sizeof(cp_envelope_label) + NSTRING_FIELDS; /* + "" for absent fields */
	cp_envelope_label *labels = malloc(bytes);
	if (!labels) {
		snprintf(err, errlen, "out of memory (%zu bytes)", bytes);
		memset(out, 0, sizeof *out);
		return -1;
	}
	arena_cursor c = {(char *)(labels + nlabels)};
	for (size_t i = 0; i < NSTRING_FIELDS; i++) {
		const cp_envelope_header *hd = found[i];
		*field_slot(out, &string_fields[i]) =
			hd && hd->value ? copy_string(&c, hd->value, hd->value_len) : copy_string(&c, "", 0);
	}
	size_t n = 0;
	for (size_t h = 0; h < nheaders; h++) {
		const cp_envelope_header *hd = &headers[h];
		if (!hd->name || strncmp(hd->name, CP_ENVELOPE_HEADER_LABEL, prefix_len) != 0)
			continue;
		const char *key = hd->name + prefix_len;
		labels[n].key = copy_string(&c, key, strlen(key));
		labels[n].value = hd->value ? copy_string(&c, hd->value, hd->value_len) : copy_string(&c, "", 0);
		n++;
	}
	out->labels = labels;
	out->nlabels = n;
	out->payload = payload;
	out->payload_len = payload_len;
	out->storage = labels;
	if (validate(out, &lim, 0, err, errlen)) {
		free(labels);
		memset(out, 0, sizeof *out);
		return -1;
	}
	return 0;
}

int cp_envelope_read_message(const cp_envelope_header *headers, size_t nheaders, const uint8_t *value,
			     size_t value_len, const cp_envelope_limits *limits, cp_envelope *out,
			     cp_envelope_form *form, char *err, size_t errlen)
{
	int raw = 0;
	for (size_t h = 0; h < nheaders && !raw; h++)
		raw = headers[h].name && strncmp(headers[h].name, "cprof-", 6) == 0;
	if (form)
		*form = raw ? CP_ENVELOPE_FORM_HEADERS : CP_ENVELOPE_FORM_PROTOBUF;
	return raw ? cp_envelope_from_headers(headers, nheaders, value, value_len, limits, out, err, errlen)
		   : cp_envelope_decode(value, value_len, limits, out, err, errlen);
}

/* ------------------------------------------------------------------ SHA-256 (OpenSSL) */

void cp_envelope_sha256(const void *data, size_t len, uint8_t digest[32])
{
	SHA256(data, len, digest);
}

/* ------------------------------------------------------------------ derived id */

static void hash_u64(EVP_MD_CTX *c, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	EVP_DigestUpdate(c, b, 8);
}

static void hash_bytes(EVP_MD_CTX *c, const void *data, size_t len)
{
	hash_u64(c, (uint64_t)len);
	EVP_DigestUpdate(c, data, len);
}

static void hash_str(EVP_MD_CTX *c, const char *s)
{
	s = s ? s : "";
	hash_bytes(c, s, strlen(s));
}

/* Orders labels by key, then by position (so the order is total even with repeated keys). */
static int label_before(const cp_envelope *e, size_t a, size_t b)
{
	const char *ka = e->labels[a].key ? e->labels[a].key : "";
	const char *kb = e->labels[b].key ? e->labels[b].key : "";
	int c = strcmp(ka, kb);
	return c < 0 || (c == 0 && a < b);
}

int cp_envelope_derive_id(const cp_envelope *e, char out[CP_ENVELOPE_ID_LEN + 1])
{
	static const char tag[] = "cprof.v1.profile_id\n";
	out[0] = '\0';
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(c);
		return -1;
	}
	EVP_DigestUpdate(c, tag, sizeof tag - 1);
	hash_str(c, e->service);
	hash_str(c, e->version);
	hash_str(c, e->env);
	hash_str(c, e->zone);
	hash_str(c, e->instance);
	hash_str(c, e->profile_type);
	hash_u64(c, (uint64_t)e->nlabels);
	/* Labels in key order without allocating: each step picks the least label after the last. */
	size_t last = SIZE_MAX;
	for (size_t step = 0; step < e->nlabels; step++) {
		size_t best = SIZE_MAX;
		for (size_t i = 0; i < e->nlabels; i++)
			if ((last == SIZE_MAX || label_before(e, last, i)) &&
			    (best == SIZE_MAX || label_before(e, i, best)))
				best = i;
		hash_str(c, e->labels[best].key);
		hash_str(c, e->labels[best].value);
		last = best;
	}
	hash_u64(c, (uint64_t)e->start_time_unix_nanos);
	hash_u64(c, (uint64_t)e->duration_nanos);
	hash_bytes(c, e->payload ? (const void *)e->payload : (const void *)"", e->payload ? e->payload_len : 0);
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;
	int ok = EVP_DigestFinal_ex(c, digest, &digest_len) && digest_len >= CP_ENVELOPE_ID_LEN / 2;
	EVP_MD_CTX_free(c);
	if (!ok)
		return -1;
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < CP_ENVELOPE_ID_LEN / 2; i++) {
		out[2 * i] = hex[digest[i] >> 4];
		out[2 * i + 1] = hex[digest[i] & 15];
	}
	out[CP_ENVELOPE_ID_LEN] = '\0';
	return 0;
}

/* ------------------------------------------------------------------ profile type guess */

static int pstr_is(cp_pstr s, const char *want)
{
	size_t n = strlen(want);
	return s.len == n && memcmp(s.ptr, want, n) == 0;
}

static int has_type(const cp_pprof *p, const char *type, const char *unit)
{
	for (size_t i = 0; i < p->nsample_types; i++)
		if (pstr_is(cp_pprof_string(p, p->sample_types[i].type), type) &&
		    (!unit || pstr_is(cp_pprof_string(p, p->sample_types[i].unit), unit)))
			return 1;
	return 0;
}

/* Whether a sample's leaf frame (first line of its first location) is an unlock. */
static int leaf_is_unlock(const cp_pprof *p, const cp_pprof_sample *s)
{
	if (!s->nlocations)
		return 0;
	const cp_pprof_location *loc = &p->locations[s->locations[0]];
	if (!loc->nlines || loc->lines[0].function == CP_PPROF_NONE)
		return 0;
	cp_pstr name = cp_pprof_string(p, p->functions[loc->lines[0].function].name);
	static const char suffix[] = "Unlock";
	size_t n = sizeof suffix - 1;
	return (name.len >= n && memcmp(name.ptr + name.len - n, suffix, n) == 0) ||
	       pstr_is(name, "runtime.unlock") || pstr_is(name, "runtime._LostContendedRuntimeLock");
}

const char *cp_envelope_guess_type(const cp_pprof *p)
{
	cp_pstr period = cp_pprof_string(p, p->period_type.type);
	cp_pstr deflt = cp_pprof_string(p, p->default_sample_type);
	if (has_type(p, "cpu", "nanoseconds") || (pstr_is(period, "cpu") && has_type(p, "samples", "count")))
		return "cpu";
	if (has_type(p, "wall", NULL) || pstr_is(period, "wall"))
		return "wall";
	int inuse = has_type(p, "inuse_space", NULL);
	if (inuse && (pstr_is(deflt, "alloc_space") || pstr_is(deflt, "alloc_objects")))
		return "allocs";
	if (inuse)
		return "heap";
	if (has_type(p, "alloc_space", NULL) || has_type(p, "alloc_objects", NULL))
		return "allocs";
	if (has_type(p, "contentions", "count") && has_type(p, "delay", "nanoseconds")) {
		for (size_t i = 0; i < p->nsamples; i++)
			if (leaf_is_unlock(p, &p->samples[i]))
				return "mutex";
		return p->nsamples ? "block" : "unknown";
	}
	if (has_type(p, "goroutine", "count"))
		return "goroutine";
	if (has_type(p, "threadcreate", "count"))
		return "threadcreate";
	return "unknown";
}

char *cp_envelope_key(const char *service, const char *instance)
{
	if (!instance)
		instance = "";
	size_t n = strlen(service) + 1 + strlen(instance) + 1;
	char *key = malloc(n);
	if (key)
		snprintf(key, n, "%s/%s", service, instance);
	return key;
}
