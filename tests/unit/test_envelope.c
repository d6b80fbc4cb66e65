/* test_envelope: cp_envelope, the Kafka message of cprof. Round trips through encode and decode
 * (and protobuf-c's generated unpacker as an independent reader of what encode writes), wire
 * forms other producers may write (field order, unknown fields, repeated scalars), each decode
 * and validation error with its message, the Kafka-header form of raw uploads, SHA-256 and the
 * derived id against values computed independently (Python's hashlib over the byte string the
 * header documents), and the profile type guess on small hand-built profiles. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cp_envelope.h"
#include "cp_pprof.h"
#include "cprof.pb-c.h"

/* ------------------------------------------------------------------ a protobuf writer */

typedef struct {
	uint8_t data[4096];
	size_t len;
} buf;

static void put_raw(buf *b, const void *data, size_t len)
{
	if (b->len + len > sizeof b->data)
		abort();
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
}

static void put_varint(buf *b, uint64_t v)
{
	do {
		uint8_t byte = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			byte |= 0x80;
		put_raw(b, &byte, 1);
	} while (v);
}

static void put_key(buf *b, uint32_t field, uint32_t wire)
{
	put_varint(b, (uint64_t)field << 3 | wire);
}

static void put_bytes(buf *b, uint32_t field, const void *data, size_t len)
{
	put_key(b, field, 2);
	put_varint(b, len);
	put_raw(b, data, len);
}

static void put_str(buf *b, uint32_t field, const char *s)
{
	put_bytes(b, field, s, strlen(s));
}

static void put_int(buf *b, uint32_t field, uint64_t v)
{
	put_key(b, field, 0);
	put_varint(b, v);
}

static void put_label(buf *b, const char *key, const char *value)
{
	buf l = {.len = 0};
	put_str(&l, 1, key);
	put_str(&l, 2, value);
	put_bytes(b, 7, l.data, l.len);
}

/* ------------------------------------------------------------------ fixtures */

static const uint8_t payload[] = "payload-0123456789"; /* 18 bytes without the NUL */
#define PAYLOAD_LEN (sizeof payload - 1)

static const cp_envelope_label full_labels[] = {{"region", "eu"}, {"arch", "amd64"}};

static cp_envelope full_envelope(void)
{
	cp_envelope e;
	memset(&e, 0, sizeof e);
	e.profile_id = "id-1";
	e.service = "auth";
	e.version = "1.2.3";
	e.env = "canary";
	e.zone = "eu-west-1a";
	e.instance = "auth-7f9c";
	e.profile_type = "cpu";
	e.labels = full_labels;
	e.nlabels = 2;
	e.start_time_unix_nanos = 1700000000123456789;
	e.duration_nanos = 10000000000;
	e.payload = payload;
	e.payload_len = PAYLOAD_LEN;
	return e;
}

static int same_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static int same_envelope(const cp_envelope *a, const cp_envelope *b)
{
	if (!same_str(a->profile_id, b->profile_id) || !same_str(a->service, b->service) ||
	    !same_str(a->version, b->version) || !same_str(a->env, b->env) || !same_str(a->zone, b->zone) ||
	    !same_str(a->instance, b->instance) || !same_str(a->profile_type, b->profile_type) ||
	    a->nlabels != b->nlabels || a->start_time_unix_nanos != b->start_time_unix_nanos ||
	    a->duration_nanos != b->duration_nanos || a->payload_len != b->payload_len ||
	    memcmp(a->payload, b->payload, a->payload_len) != 0)
		return 0;
	for (size_t i = 0; i < a->nlabels; i++)
		if (!same_str(a->labels[i].key, b->labels[i].key) || !same_str(a->labels[i].value, b->labels[i].value))
			return 0;
	return 1;
}

/* Decodes and expects the error message to contain want. */
static void expect_decode_error(const uint8_t *data, size_t len, const cp_envelope_limits *lim, const char *want)
{
	cp_envelope e;
	char err[256] = "";
	int rc = cp_envelope_decode(data, len, lim, &e, err, sizeof err);
	CHECK(rc == -1);
	CHECK(e.service == NULL && e.storage == NULL);
	CHECK_CONTAINS(err, want);
	if (rc == 0)
		cp_envelope_free(&e);
}

static void expect_encode_error(const cp_envelope *e, const cp_envelope_limits *lim, const char *want)
{
	static uint8_t poison[1];
	uint8_t *out = poison;
	size_t len = 1;
	char err[256] = "";
	CHECK(cp_envelope_encode(e, lim, &out, &len, err, sizeof err) == -1);
	CHECK(out == NULL && len == 0);
	CHECK_CONTAINS(err, want);
}

/* ------------------------------------------------------------------ round trips */

static void test_round_trip(void)
{
	cp_envelope in = full_envelope(), out;
	uint8_t *bytes;
	size_t len;
	char err[256];
	CHECK(cp_envelope_encode(&in, NULL, &bytes, &len, err, sizeof err) == 0);
	CHECK(cp_envelope_decode(bytes, len, NULL, &out, err, sizeof err) == 0);
	CHECK(same_envelope(&in, &out));
	/* zero copy: the payload points into the message */
	CHECK(out.payload >= bytes && out.payload + out.payload_len <= bytes + len);
	CHECK(strcmp(out.labels[0].key, "region") == 0 && strcmp(out.labels[1].value, "amd64") == 0);
	cp_envelope_free(&out);
	CHECK(out.service == NULL && out.storage == NULL);
	cp_envelope_free(&out); /* twice is safe */

	/* protobuf-c's generated unpacker reads the same bytes the same way */
	Cprof__V1__ProfileUpload *m = cprof__v1__profile_upload__unpack(NULL, len, bytes);
	CHECK(m != NULL);
	if (m) {
		CHECK(strcmp(m->service, "auth") == 0 && strcmp(m->profile_id, "id-1") == 0);
		CHECK(strcmp(m->version, "1.2.3") == 0 && strcmp(m->env, "canary") == 0);
		CHECK(strcmp(m->zone, "eu-west-1a") == 0 && strcmp(m->instance, "auth-7f9c") == 0);
		CHECK(strcmp(m->profile_type, "cpu") == 0);
		CHECK(m->n_labels == 2 && strcmp(m->labels[1]->key, "arch") == 0);
		CHECK(m->start_time_unix_nanos == 1700000000123456789 && m->duration_nanos == 10000000000);
		CHECK(m->payload.len == PAYLOAD_LEN && memcmp(m->payload.data, payload, PAYLOAD_LEN) == 0);
		cprof__v1__profile_upload__free_unpacked(m, NULL);
	}
	free(bytes);
}

static void test_round_trip_minimal(void)
{
	cp_envelope in, out;
	memset(&in, 0, sizeof in);
	in.service = "svc"; /* every other string NULL: encoded as absent, decoded as "" */
	in.payload = (const uint8_t *)"x";
	in.payload_len = 1;
	uint8_t *bytes;
	size_t len;
	char err[256];
	CHECK(cp_envelope_encode(&in, NULL, &bytes, &len, err, sizeof err) == 0);
	CHECK(len == 5 + 3); /* service (2 + 3) and payload (2 + 1) only */
	CHECK(cp_envelope_decode(bytes, len, NULL, &out, err, sizeof err) == 0);
	CHECK(same_envelope(&in, &out));
	CHECK(out.version && *out.version == '\0' && out.profile_id && out.nlabels == 0);
	cp_envelope_free(&out);
	free(bytes);
}

/* Wire forms another producer may write: fields in any order, unknown fields (every wire type),
 * a non-repeated field twice (the last wins), negative-looking varints, a label without a value. */
static void test_decode_other_writers(void)
{
	buf b = {.len = 0};
	put_bytes(&b, 11, payload, PAYLOAD_LEN);
	put_int(&b, 99, 12345);                  /* unknown varint */
	put_str(&b, 2, "first");
	put_key(&b, 98, 1);                      /* unknown 64-bit */
	put_raw(&b, "\1\2\3\4\5\6\7\10", 8);
	put_label(&b, "k1", "v1");
	put_str(&b, 2, "auth");                  /* the last service wins */
	put_key(&b, 97, 5);                      /* unknown 32-bit */
	put_raw(&b, "\1\2\3\4", 4);
	put_str(&b, 100, "unknown string");
	put_int(&b, 10, 5);
	put_int(&b, 9, 42);
	{
		buf l = {.len = 0};
		put_str(&l, 1, "k2");
		put_int(&l, 3, 7); /* unknown field inside a label */
		put_bytes(&b, 7, l.data, l.len);
	}
	put_str(&b, 8, "heap");
	cp_envelope e;
	char err[256] = "";
	CHECK(cp_envelope_decode(b.data, b.len, NULL, &e, err, sizeof err) == 0);
	if (*err)
		fprintf(stderr, "  %s\n", err);
	CHECK(same_str(e.service, "auth"));
	CHECK(same_str(e.profile_type, "heap"));
	CHECK(e.nlabels == 2 && same_str(e.labels[0].key, "k1") && same_str(e.labels[1].key, "k2") &&
	      same_str(e.labels[1].value, ""));
	CHECK(e.start_time_unix_nanos == 42 && e.duration_nanos == 5);
	CHECK(e.payload_len == PAYLOAD_LEN && memcmp(e.payload, payload, PAYLOAD_LEN) == 0);
	cp_envelope_free(&e);
}

/* ------------------------------------------------------------------ decode errors */

static void test_decode_not_envelope(void)
{
	expect_decode_error(NULL, 0, NULL, "not a cprof.v1.ProfileUpload: empty message");
	static const uint8_t gz[] = {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0xff};
	expect_decode_error(gz, sizeof gz, NULL, "not a cprof.v1.ProfileUpload: the bytes are gzip data");
	static const uint8_t text[] = "hello, world";
	expect_decode_error(text, sizeof text - 1, NULL, "not a cprof.v1.ProfileUpload: ");

	/* truncated: every proper prefix of a valid message that ends inside a field */
	cp_envelope in = full_envelope();
	uint8_t *bytes;
	size_t len;
	char err[256];
	CHECK(cp_envelope_encode(&in, NULL, &bytes, &len, err, sizeof err) == 0);
	expect_decode_error(bytes, len - 1, NULL, "not a cprof.v1.ProfileUpload: truncated protobuf");
	expect_decode_error(bytes, 3, NULL, "not a cprof.v1.ProfileUpload: truncated protobuf");
	free(bytes);

	static const uint8_t long_varint[] = {0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	expect_decode_error(long_varint, sizeof long_varint, NULL, "malformed varint");
	static const uint8_t group[] = {0x13}; /* field 2, wire type 3 (start group) */
	expect_decode_error(group, sizeof group, NULL, "invalid field key");

	buf b = {.len = 0};
	put_int(&b, 2, 7); /* service as a varint */
	expect_decode_error(b.data, b.len, NULL,
			    "not a cprof.v1.ProfileUpload: service (field 2) at byte 0 has wire type varint, expected "
			    "length-delimited");
	b.len = 0;
	put_str(&b, 2, "auth");
	put_str(&b, 9, "1700000000"); /* start time as a string */
	expect_decode_error(b.data, b.len, NULL, "start_time_unix_nanos (field 9) at byte 6 has wire type length-delimited");
	b.len = 0;
	put_str(&b, 2, "auth");
	put_int(&b, 11, 1); /* payload as a varint */
	expect_decode_error(b.data, b.len, NULL, "payload (field 11)");
	b.len = 0;
	put_str(&b, 2, "auth");
	put_int(&b, 7, 1); /* labels as a varint */
	expect_decode_error(b.data, b.len, NULL, "labels (field 7)");
	b.len = 0;
	put_str(&b, 2, "auth");
	put_bytes(&b, 7, "\x0a\x05" "ab", 4); /* a label whose key runs past its end */
	expect_decode_error(b.data, b.len, NULL, "not a cprof.v1.ProfileUpload: label 0 (at byte 6): truncated");
	b.len = 0;
	put_str(&b, 2, "auth");
	put_bytes(&b, 7, "\x08\x01", 2); /* a label key as a varint */
	expect_decode_error(b.data, b.len, NULL, "label 0 key (field 1) at byte 0 has wire type varint");

	/* a string that is not UTF-8 cannot be proto3: the bytes are something else */
	b.len = 0;
	put_str(&b, 2, "au\xffth");
	put_bytes(&b, 11, payload, PAYLOAD_LEN);
	expect_decode_error(b.data, b.len, NULL, "not a cprof.v1.ProfileUpload: service: not UTF-8 at byte 2");
}

/* A raw pprof protobuf (no gzip) is refused, not read as an envelope with garbage metadata. */
static void test_decode_raw_pprof(void)
{
	buf vt = {.len = 0}, b = {.len = 0};
	put_int(&vt, 1, 1);
	put_int(&vt, 2, 2);
	put_bytes(&b, 1, vt.data, vt.len); /* sample_type {1, 2} */
	{
		buf s = {.len = 0};
		put_bytes(&s, 1, "\x01", 1); /* location_id [1] */
		put_bytes(&s, 2, "\x05", 1); /* value [5] */
		put_bytes(&b, 2, s.data, s.len);
	}
	put_str(&b, 6, "");
	put_str(&b, 6, "samples");
	put_str(&b, 6, "count");
	expect_decode_error(b.data, b.len, NULL, "not a cprof.v1.ProfileUpload: profile_id: control character 0x08 at byte 0");
}

static void test_decode_invalid_fields(void)
{
	buf b = {.len = 0};
	put_bytes(&b, 11, payload, PAYLOAD_LEN);
	expect_decode_error(b.data, b.len, NULL, "missing service");
	b.len = 0;
	put_str(&b, 2, "auth");
	expect_decode_error(b.data, b.len, NULL, "payload missing");
	put_bytes(&b, 11, "", 0);
	expect_decode_error(b.data, b.len, NULL, "payload missing");

	b.len = 0;
	put_str(&b, 2, "auth");
	put_label(&b, "a", "x\ny");
	put_bytes(&b, 11, payload, PAYLOAD_LEN);
	expect_decode_error(b.data, b.len, NULL, "label 0 value: control character 0x0a at byte 1");
	b.len = 0;
	put_str(&b, 2, "auth");
	put_bytes(&b, 6, "in\0st", 5); /* a NUL inside a string never truncates it silently */
	put_bytes(&b, 11, payload, PAYLOAD_LEN);
	expect_decode_error(b.data, b.len, NULL, "not a cprof.v1.ProfileUpload: instance: control character 0x00 at byte 2");
	b.len = 0;
	put_str(&b, 2, "auth");
	put_label(&b, "", "v");
	put_bytes(&b, 11, payload, PAYLOAD_LEN);
	expect_decode_error(b.data, b.len, NULL, "label 0: empty key");
	b.len = 0;
	put_str(&b, 2, "auth");
	put_label(&b, "k", "1");
	put_label(&b, "j", "2");
	put_label(&b, "k", "3");
	put_bytes(&b, 11, payload, PAYLOAD_LEN);
	expect_decode_error(b.data, b.len, NULL, "label 'k' given twice");
	b.len = 0;
	put_str(&b, 2, "auth");
	put_int(&b, 9, (uint64_t)-5);
	put_bytes(&b, 11, payload, PAYLOAD_LEN);
	expect_decode_error(b.data, b.len, NULL, "start_time_unix_nanos is negative (-5)");
	b.len = 0;
	put_str(&b, 2, "auth");
	put_int(&b, 10, (uint64_t)INT64_MIN);
	put_bytes(&b, 11, payload, PAYLOAD_LEN);
	expect_decode_error(b.data, b.len, NULL, "duration_nanos is negative (-9223372036854775808)");
}

static void test_decode_limits(void)
{
	cp_envelope in = full_envelope();
	uint8_t *bytes;
	size_t len;
	char err[256];
	CHECK(cp_envelope_encode(&in, NULL, &bytes, &len, err, sizeof err) == 0);
	cp_envelope_limits lim = {.max_payload = PAYLOAD_LEN - 1};
	expect_decode_error(bytes, len, &lim, "payload of 18 bytes, more than the limit of 17");
	lim = (cp_envelope_limits){.max_labels = 1};
	expect_decode_error(bytes, len, &lim, "more than the limit of 1 labels");
	lim = (cp_envelope_limits){.max_string = 9};
	expect_decode_error(bytes, len, &lim, "zone: 10 bytes, more than the limit of 9");
	lim = (cp_envelope_limits){.max_payload = PAYLOAD_LEN, .max_labels = 2, .max_string = 10};
	cp_envelope out;
	CHECK(cp_envelope_decode(bytes, len, &lim, &out, err, sizeof err) == 0); /* exactly at the limits */
	cp_envelope_free(&out);
	free(bytes);

	/* the defaults: a 1025-byte service is refused */
	char *big = malloc(CP_ENVELOPE_DEFAULT_MAX_STRING + 2);
	if (!big)
		abort();
	memset(big, 's', CP_ENVELOPE_DEFAULT_MAX_STRING + 1);
	big[CP_ENVELOPE_DEFAULT_MAX_STRING + 1] = '\0';
	in.service = big;
	lim = (cp_envelope_limits){.max_string = CP_ENVELOPE_DEFAULT_MAX_STRING + 1};
	CHECK(cp_envelope_encode(&in, &lim, &bytes, &len, err, sizeof err) == 0);
	expect_decode_error(bytes, len, NULL, "service: 1025 bytes, more than the limit of 1024");
	free(bytes);
	free(big);
}

/* ------------------------------------------------------------------ encode errors */

static void test_encode_validates(void)
{
	cp_envelope e = full_envelope();
	e.service = "";
	expect_encode_error(&e, NULL, "missing service");
	e = full_envelope();
	e.service = NULL;
	expect_encode_error(&e, NULL, "missing service");
	e = full_envelope();
	e.payload_len = 0;
	expect_encode_error(&e, NULL, "payload missing");
	e = full_envelope();
	e.env = "prod\tx";
	expect_encode_error(&e, NULL, "env: control character 0x09 at byte 4");
	e = full_envelope();
	e.version = "v\xc3";
	expect_encode_error(&e, NULL, "version: not UTF-8 at byte 1");
	e = full_envelope();
	e.duration_nanos = -1;
	expect_encode_error(&e, NULL, "duration_nanos is negative (-1)");
	static const cp_envelope_label dup[] = {{"a", "1"}, {"a", "2"}};
	e = full_envelope();
	e.labels = dup;
	expect_encode_error(&e, NULL, "label 'a' given twice");
	static const cp_envelope_label empty_key[] = {{"", "1"}};
	e = full_envelope();
	e.labels = empty_key;
	e.nlabels = 1;
	expect_encode_error(&e, NULL, "label 0: empty key");
	e = full_envelope();
	cp_envelope_limits lim = {.max_labels = 1};
	expect_encode_error(&e, &lim, "2 labels, more than the limit of 1");

	/* UTF-8 text is fine, control characters aside */
	e = full_envelope();
	e.zone = "zürich-1 ☃";
	char err[256];
	CHECK(cp_envelope_validate(&e, NULL, err, sizeof err) == 0);
}

/* ------------------------------------------------------------------ headers */

#define HDR(n, v) {n, v, sizeof v - 1}

static void test_headers(void)
{
	const cp_envelope_header h[] = {
		HDR("cprof-service", "auth"),
		HDR("cprof-version", "1.2.3"),
		HDR("cprof-env", "canary"),
		HDR("cprof-zone", "eu-west-1a"),
		HDR("cprof-instance", "auth-7f9c"),
		HDR("cprof-profile-type", "cpu"),
		HDR("cprof-profile-id", "id-1"),
		HDR("cprof-time", "1700000000123456789"),
		HDR("cprof-duration", "10000000000"),
		HDR("cprof-label-region", "eu"),
		HDR("traceparent", "00-abc-01"),      /* not ours: ignored */
		HDR("cprof-label-arch", "amd64"),
		HDR("cprof-future-field", "whatever"), /* unknown cprof-*: ignored */
	};
	cp_envelope e, want = full_envelope();
	char err[256] = "";
	CHECK(cp_envelope_from_headers(h, sizeof h / sizeof h[0], payload, PAYLOAD_LEN, NULL, &e, err, sizeof err) == 0);
	if (*err)
		fprintf(stderr, "  %s\n", err);
	CHECK(same_envelope(&e, &want));
	CHECK(e.payload == payload); /* borrowed */
	/* and the id derived from headers equals the one derived from the envelope */
	char a[CP_ENVELOPE_ID_LEN + 1], b[CP_ENVELOPE_ID_LEN + 1];
	cp_envelope_derive_id(&e, a);
	cp_envelope_derive_id(&want, b);
	CHECK(strcmp(a, b) == 0);
	cp_envelope_free(&e);

	/* only the service: everything else empty or zero; a header without a value is "" */
	const cp_envelope_header only[] = {{"cprof-service", "svc", 3}, {"cprof-env", NULL, 0},
					   {"cprof-label-empty", NULL, 0}};
	CHECK(cp_envelope_from_headers(only, 3, payload, PAYLOAD_LEN, NULL, &e, err, sizeof err) == 0);
	CHECK(same_str(e.service, "svc") && same_str(e.env, "") && same_str(e.instance, ""));
	CHECK(e.nlabels == 1 && same_str(e.labels[0].key, "empty") && same_str(e.labels[0].value, ""));
	CHECK(e.start_time_unix_nanos == 0 && e.duration_nanos == 0);
	cp_envelope_free(&e);
}

static void expect_headers_error(const cp_envelope_header *h, size_t n, const char *want)
{
	cp_envelope e;
	char err[256] = "";
	int rc = cp_envelope_from_headers(h, n, payload, PAYLOAD_LEN, NULL, &e, err, sizeof err);
	CHECK(rc == -1);
	CHECK(e.storage == NULL);
	CHECK_CONTAINS(err, want);
	if (rc == 0)
		cp_envelope_free(&e);
}

static void test_headers_errors(void)
{
	const cp_envelope_header none[] = {HDR("cprof-env", "prod")};
	expect_headers_error(none, 1, "missing service");
	const cp_envelope_header twice[] = {HDR("cprof-service", "a"), HDR("cprof-service", "b")};
	expect_headers_error(twice, 2, "header cprof-service given twice");
	const cp_envelope_header time_twice[] = {HDR("cprof-service", "a"), HDR("cprof-time", "1"),
						 HDR("cprof-time", "2")};
	expect_headers_error(time_twice, 3, "header cprof-time given twice");
	const cp_envelope_header bad_time[] = {HDR("cprof-service", "a"), HDR("cprof-time", "2024-01-01")};
	expect_headers_error(bad_time, 2, "header cprof-time: '2024-01-01' is not a decimal number of nanoseconds");
	const cp_envelope_header neg[] = {HDR("cprof-service", "a"), HDR("cprof-duration", "-5")};
	expect_headers_error(neg, 2, "header cprof-duration: '-5' is not a decimal number");
	const cp_envelope_header overflow[] = {HDR("cprof-service", "a"), HDR("cprof-time", "9223372036854775808")};
	expect_headers_error(overflow, 2, "header cprof-time: '9223372036854775808' is not");
	const cp_envelope_header empty_time[] = {HDR("cprof-service", "a"), HDR("cprof-time", "")};
	expect_headers_error(empty_time, 2, "header cprof-time: '' is not");
	const cp_envelope_header empty_key[] = {HDR("cprof-service", "a"), HDR("cprof-label-", "v")};
	expect_headers_error(empty_key, 2, "header cprof-label-: empty label key");
	const cp_envelope_header dup_label[] = {HDR("cprof-service", "a"), HDR("cprof-label-k", "1"),
						HDR("cprof-label-k", "2")};
	expect_headers_error(dup_label, 3, "label 'k' given twice");
	const cp_envelope_header nul[] = {{"cprof-service", "a\0b", 3}};
	expect_headers_error(nul, 1, "cprof-service: control character 0x00 at byte 1");
	const cp_envelope_header ok[] = {HDR("cprof-service", "a")};
	cp_envelope e;
	char err[256];
	CHECK(cp_envelope_from_headers(ok, 1, NULL, 0, NULL, &e, err, sizeof err) == -1);
	CHECK_CONTAINS(err, "payload missing");
}

/* A Kafka message is read as headers when it has any cprof-* header, as an envelope otherwise. */
static void test_read_message(void)
{
	cp_envelope in = full_envelope(), out;
	uint8_t *bytes;
	size_t len;
	char err[256];
	cp_envelope_form form = 0;
	CHECK(cp_envelope_encode(&in, NULL, &bytes, &len, err, sizeof err) == 0);
	const cp_envelope_header other[] = {HDR("traceparent", "00-abc-01")};
	CHECK(cp_envelope_read_message(other, 1, bytes, len, NULL, &out, &form, err, sizeof err) == 0);
	CHECK(form == CP_ENVELOPE_FORM_PROTOBUF && same_envelope(&in, &out));
	cp_envelope_free(&out);
	CHECK(cp_envelope_read_message(NULL, 0, bytes, len, NULL, &out, NULL, err, sizeof err) == 0);
	cp_envelope_free(&out);
	free(bytes);

	const cp_envelope_header raw[] = {HDR("traceparent", "x"), HDR("cprof-service", "auth")};
	CHECK(cp_envelope_read_message(raw, 2, payload, PAYLOAD_LEN, NULL, &out, &form, err, sizeof err) == 0);
	CHECK(form == CP_ENVELOPE_FORM_HEADERS && same_str(out.service, "auth") && out.payload == payload);
	cp_envelope_free(&out);
	/* a raw upload that forgot its service says so, rather than "not an envelope" */
	const cp_envelope_header no_service[] = {HDR("cprof-env", "prod")};
	CHECK(cp_envelope_read_message(no_service, 1, payload, PAYLOAD_LEN, NULL, &out, &form, err, sizeof err) == -1);
	CHECK(form == CP_ENVELOPE_FORM_HEADERS);
	CHECK_CONTAINS(err, "missing service");
}

/* ------------------------------------------------------------------ SHA-256 and the id */

static void hex(const uint8_t *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_sha256(void)
{
	static const struct {
		size_t len;
		const char *want;
	} vectors[] = {
		/* bytes (i*7+3) & 255 for i < len, digests from Python's hashlib: the padding edges */
		{55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"},
		{56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"},
		{63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"},
		{64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"},
		{65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"},
		{119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"},
		{120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"},
		{1000, "1e9bc38cbf860b9ec31918b065f9b52476c549a782e0e7990bed8ce3868d2371"},
	};
	uint8_t data[1000], d[32];
	char h[65];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)((i * 7 + 3) & 255);
	for (size_t v = 0; v < sizeof vectors / sizeof vectors[0]; v++) {
		cp_envelope_sha256(data, vectors[v].len, d);
		hex(d, 32, h);
		if (strcmp(h, vectors[v].want) != 0)
			fprintf(stderr, "  sha256 of %zu bytes: %s\n", vectors[v].len, h);
		CHECK(strcmp(h, vectors[v].want) == 0);
	}
	/* FIPS 180-4 examples */
	cp_envelope_sha256("", 0, d);
	hex(d, 32, h);
	CHECK(strcmp(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
	cp_envelope_sha256("abc", 3, d);
	hex(d, 32, h);
	CHECK(strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
}

static void test_derive_id_known(void)
{
	char id[CP_ENVELOPE_ID_LEN + 1];
	cp_envelope e = full_envelope();
	cp_envelope_derive_id(&e, id);
	/* Python: sha256(b"cprof.v1.profile_id\n" + fields as the header documents)[:16].hex() */
	CHECK(strcmp(id, "06d9925c323fecc96fd47abfe7cfae4b") == 0);
	CHECK(strlen(id) == CP_ENVELOPE_ID_LEN);
	cp_envelope m;
	memset(&m, 0, sizeof m);
	m.service = "svc";
	m.payload = (const uint8_t *)"x";
	m.payload_len = 1;
	cp_envelope_derive_id(&m, id);
	CHECK(strcmp(id, "9a573216cd3b11b66a75f65b05ffa694") == 0);
}

static void test_derive_id_stable(void)
{
	char a[CP_ENVELOPE_ID_LEN + 1], b[CP_ENVELOPE_ID_LEN + 1];
	cp_envelope e = full_envelope();
	cp_envelope_derive_id(&e, a);
	/* the profile id itself, label order, and where the payload lives do not matter */
	e.profile_id = "something else";
	static const cp_envelope_label swapped[] = {{"arch", "amd64"}, {"region", "eu"}};
	e.labels = swapped;
	uint8_t copy[PAYLOAD_LEN];
	memcpy(copy, payload, PAYLOAD_LEN);
	e.payload = copy;
	cp_envelope_derive_id(&e, b);
	CHECK(strcmp(a, b) == 0);
	/* NULL strings are "" */
	e = full_envelope();
	e.version = "";
	cp_envelope_derive_id(&e, a);
	e.version = NULL;
	cp_envelope_derive_id(&e, b);
	CHECK(strcmp(a, b) == 0);
}

static void test_derive_id_sensitive(void)
{
	char base[CP_ENVELOPE_ID_LEN + 1], id[CP_ENVELOPE_ID_LEN + 1];
	cp_envelope e = full_envelope();
	cp_envelope_derive_id(&e, base);
	int changed = 0, tried = 0;
#define DIFFERS(mutation)                               \
	do {                                            \
		e = full_envelope();                    \
		mutation;                               \
		cp_envelope_derive_id(&e, id);          \
		tried++;                                \
		if (strcmp(id, base) != 0)              \
			changed++;                      \
		else                                    \
			fprintf(stderr, "  same id after %s\n", #mutation); \
	} while (0)
	DIFFERS(e.service = "auth2");
	DIFFERS(e.version = "1.2.4");
	DIFFERS(e.env = "production");
	DIFFERS(e.zone = "eu-west-1b");
	DIFFERS(e.instance = "auth-7f9d");
	DIFFERS(e.profile_type = "heap");
	DIFFERS(e.start_time_unix_nanos++);
	DIFFERS(e.duration_nanos++);
	DIFFERS(e.nlabels = 1);
	static const cp_envelope_label other_value[] = {{"region", "us"}, {"arch", "amd64"}};
	DIFFERS(e.labels = other_value);
	static const cp_envelope_label other_key[] = {{"regio", "eu"}, {"arch", "amd64"}};
	DIFFERS(e.labels = other_key);
	/* moving bytes between adjacent fields changes the id (lengths are hashed) */
	DIFFERS((e.service = "authc", e.version = "anary"));
	DIFFERS((e.env = "canaryeu-west-1a", e.zone = ""));
	static const cp_envelope_label shifted[] = {{"regione", "u"}, {"arch", "amd64"}};
	DIFFERS(e.labels = shifted);
	DIFFERS(e.payload_len--);
	uint8_t copy[PAYLOAD_LEN];
	for (size_t i = 0; i < PAYLOAD_LEN; i++) {
		memcpy(copy, payload, PAYLOAD_LEN);
		copy[i] ^= 1;
		DIFFERS(e.payload = copy);
	}
#undef DIFFERS
	CHECK(changed == tried);
}

/* ------------------------------------------------------------------ type guess */

typedef struct {
	const char *type, *unit;
} vtype;

/* A raw pprof with the given sample types, period type and default sample type; with leaf, one
 * sample whose single frame is the function named leaf, and no samples without. */
static void make_profile(buf *b, const vtype *types, size_t ntypes, const char *period_type, const char *deflt,
			 const char *leaf)
{
	const char *strings[16];
	size_t nstrings = 0;
	b->len = 0;
	strings[nstrings++] = "";
#define INTERN(s, out)                                                          \
	do {                                                                    \
		size_t i_;                                                      \
		for (i_ = 0; i_ < nstrings && strcmp(strings[i_], (s)) != 0; i_++) \
			;                                                       \
		if (i_ == nstrings)                                             \
			strings[nstrings++] = (s);                              \
		(out) = i_;                                                     \
	} while (0)
	for (size_t t = 0; t < ntypes; t++) {
		size_t ti, ui;
		INTERN(types[t].type, ti);
		INTERN(types[t].unit, ui);
		buf vt = {.len = 0};
		put_int(&vt, 1, ti);
		put_int(&vt, 2, ui);
		put_bytes(b, 1, vt.data, vt.len);
	}
	if (leaf) {
		size_t name;
		INTERN(leaf, name);
		buf s = {.len = 0}, loc = {.len = 0}, line = {.len = 0}, fn = {.len = 0};
		put_bytes(&s, 1, "\x01", 1);
		uint8_t values[16];
		memset(values, 1, ntypes);
		put_bytes(&s, 2, values, ntypes);
		put_bytes(b, 2, s.data, s.len);
		put_int(&line, 1, 1);
		put_int(&loc, 1, 1);
		put_bytes(&loc, 4, line.data, line.len);
		put_bytes(b, 4, loc.data, loc.len);
		put_int(&fn, 1, 1);
		put_int(&fn, 2, name);
		put_bytes(b, 5, fn.data, fn.len);
	}
	if (period_type) {
		size_t pi, ci;
		INTERN(period_type, pi);
		INTERN("count", ci);
		buf vt = {.len = 0};
		put_int(&vt, 1, pi);
		put_int(&vt, 2, ci);
		put_bytes(b, 11, vt.data, vt.len);
	}
	size_t di = 0;
	if (deflt)
		INTERN(deflt, di);
#undef INTERN
	for (size_t i = 0; i < nstrings; i++)
		put_str(b, 6, strings[i]);
	if (deflt)
		put_int(b, 14, di);
}

static const char *guess(const vtype *types, size_t ntypes, const char *period, const char *deflt, const char *leaf)
{
	buf b;
	make_profile(&b, types, ntypes, period, deflt, leaf);
	cp_pprof *p;
	char err[256];
	if (cp_pprof_decode(b.data, b.len, NULL, &p, err, sizeof err)) {
		fprintf(stderr, "  test profile does not decode: %s\n", err);
		return "(bad profile)";
	}
	const char *t = cp_envelope_guess_type(p);
	cp_pprof_free(p);
	return t;
}

static void test_guess_type(void)
{
	static const vtype go_cpu[] = {{"samples", "count"}, {"cpu", "nanoseconds"}};
	static const vtype samples[] = {{"samples", "count"}};
	static const vtype go_heap[] = {{"alloc_objects", "count"},
					{"alloc_space", "bytes"},
					{"inuse_objects", "count"},
					{"inuse_space", "bytes"}};
	static const vtype allocs_only[] = {{"alloc_objects", "count"}, {"alloc_space", "bytes"}};
	static const vtype contention[] = {{"contentions", "count"}, {"delay", "nanoseconds"}};
	static const vtype goroutine[] = {{"goroutine", "count"}};
	static const vtype threadcreate[] = {{"threadcreate", "count"}};
	static const vtype wall[] = {{"samples", "count"}, {"wall", "nanoseconds"}};
	static const vtype other[] = {{"objects", "count"}};
	CHECK(strcmp(guess(go_cpu, 2, "cpu", NULL, NULL), "cpu") == 0);
	CHECK(strcmp(guess(go_cpu + 1, 1, NULL, NULL, NULL), "cpu") == 0);
	CHECK(strcmp(guess(samples, 1, "cpu", NULL, NULL), "cpu") == 0);
	CHECK(strcmp(guess(samples, 1, NULL, NULL, NULL), "unknown") == 0);
	CHECK(strcmp(guess(samples, 1, "wall", NULL, NULL), "wall") == 0);
	CHECK(strcmp(guess(wall, 2, NULL, NULL, NULL), "wall") == 0);
	CHECK(strcmp(guess(go_heap, 4, "space", NULL, NULL), "heap") == 0);
	CHECK(strcmp(guess(go_heap, 4, "space", "alloc_space", NULL), "allocs") == 0);
	CHECK(strcmp(guess(go_heap, 4, "space", "alloc_objects", NULL), "allocs") == 0);
	CHECK(strcmp(guess(go_heap, 4, "space", "inuse_objects", NULL), "heap") == 0);
	CHECK(strcmp(guess(allocs_only, 2, NULL, NULL, NULL), "allocs") == 0);
	CHECK(strcmp(guess(contention, 2, "contentions", NULL, "sync.(*Mutex).Unlock"), "mutex") == 0);
	CHECK(strcmp(guess(contention, 2, "contentions", NULL, "sync.(*RWMutex).RUnlock"), "mutex") == 0);
	CHECK(strcmp(guess(contention, 2, "contentions", NULL, "runtime.unlock"), "mutex") == 0);
	CHECK(strcmp(guess(contention, 2, "contentions", NULL, "sync.(*Mutex).Lock"), "block") == 0);
	CHECK(strcmp(guess(contention, 2, "contentions", NULL, "runtime.chanrecv1"), "block") == 0);
	CHECK(strcmp(guess(contention, 2, "contentions", NULL, NULL), "unknown") == 0);
	CHECK(strcmp(guess(contention, 1, "contentions", NULL, "x.Unlock"), "unknown") == 0); /* no delay */
	CHECK(strcmp(guess(goroutine, 1, "goroutine", NULL, NULL), "goroutine") == 0);
	CHECK(strcmp(guess(threadcreate, 1, "threadcreate", NULL, NULL), "threadcreate") == 0);
	CHECK(strcmp(guess(other, 1, NULL, NULL, NULL), "unknown") == 0);
}

int main(void)
{
	RUN(test_round_trip);
	RUN(test_round_trip_minimal);
	RUN(test_decode_other_writers);
	RUN(test_decode_not_envelope);
	RUN(test_decode_raw_pprof);
	RUN(test_decode_invalid_fields);
	RUN(test_decode_limits);
	RUN(test_encode_validates);
	RUN(test_headers);
	RUN(test_headers_errors);
	RUN(test_read_message);
	RUN(test_sha256);
	RUN(test_derive_id_known);
	RUN(test_derive_id_stable);
	RUN(test_derive_id_sensitive);
	RUN(test_guess_type);
	return check_summary("test_envelope");
}
