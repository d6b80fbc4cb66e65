/* cp_envelope: the Kafka message of cprof (cprof.v1.ProfileUpload, proto/cprof.proto) as a plain C
 * struct: encoding it (protobuf-c's generated packer), decoding it (a bounds-checked reader over
 * cp_pb that names what is wrong and copies no payload; test_envelope checks it against
 * protobuf-c's unpacker), building it from Kafka headers for producers that send the raw pprof
 * bytes as the message value, reading a Kafka message in either form, the derived profile id
 * (SHA-256), and the guess of a profile's type.
 *
 * Ownership:
 * - To encode, the caller fills a cp_envelope with pointers it owns (NULL strings count as "");
 *   cp_envelope_encode only reads them and returns a malloc'd buffer the caller frees.
 * - cp_envelope_decode and cp_envelope_from_headers fill an envelope whose strings and labels
 *   are copies the envelope owns (NUL-terminated, never NULL), released by cp_envelope_free.
 *   Its payload is NOT copied: it points into the caller's buffer (the Kafka message value),
 *   which must outlive the envelope's use of it. On failure nothing is left to free.
 *
 * Validation is the same for all three directions (cp_envelope_validate), so cprof never
 * produces a message its workers refuse: service is required; every string is UTF-8 text
 * without control characters and at most limits->max_string bytes; label keys are non-empty and
 * unique; at most limits->max_labels labels; times and durations are not negative; the payload is
 * present and at most limits->max_payload bytes. Unknown protobuf fields are skipped (a newer
 * producer may add some); a non-repeated field given twice takes its last value, as protobuf
 * says. */
#ifndef CP_ENVELOPE_H
#define CP_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

struct cp_pprof;

#define CP_ENVELOPE_DEFAULT_MAX_PAYLOAD ((size_t)64 << 20)
#define CP_ENVELOPE_DEFAULT_MAX_STRING ((size_t)1024)
#define CP_ENVELOPE_DEFAULT_MAX_LABELS ((size_t)64)

/* Length of a derived profile id: 32 lowercase hex digits (128 bits). */
#define CP_ENVELOPE_ID_LEN 32

/* The Kafka header names of raw uploads. A label KEY travels as CP_ENVELOPE_HEADER_LABEL "KEY". */
#define CP_ENVELOPE_HEADER_SERVICE "cprof-service"
#define CP_ENVELOPE_HEADER_VERSION "cprof-version"
#define CP_ENVELOPE_HEADER_ENV "cprof-env"
#define CP_ENVELOPE_HEADER_ZONE "cprof-zone"
#define CP_ENVELOPE_HEADER_INSTANCE "cprof-instance"
#define CP_ENVELOPE_HEADER_TYPE "cprof-profile-type"
#define CP_ENVELOPE_HEADER_ID "cprof-profile-id"
#define CP_ENVELOPE_HEADER_TIME "cprof-time"         /* decimal unix nanoseconds */
#define CP_ENVELOPE_HEADER_DURATION "cprof-duration" /* decimal nanoseconds */
#define CP_ENVELOPE_HEADER_LABEL "cprof-label-"

typedef struct {
	const char *key, *value;
} cp_envelope_label;

typedef struct {
	const char *profile_id; /* the idempotency key; "" asks the consumer to derive one */
	const char *service;    /* required */
	const char *version, *env, *zone, *instance;
	const char *profile_type; /* cpu, heap, allocs, mutex, block, goroutine, ... or "" */
	const cp_envelope_label *labels;
	size_t nlabels;
	int64_t start_time_unix_nanos; /* 0: the pprof's own time_nanos */
	int64_t duration_nanos;        /* 0: the pprof's own duration_nanos */
	const uint8_t *payload;        /* pprof bytes, gzip or raw protobuf */
	size_t payload_len;

	void *storage; /* private: what cp_envelope_free releases */
} cp_envelope;

typedef struct {
	size_t max_payload; /* 0: CP_ENVELOPE_DEFAULT_MAX_PAYLOAD */
	size_t max_string;  /* 0: CP_ENVELOPE_DEFAULT_MAX_STRING, for every string field */
	size_t max_labels;  /* 0: CP_ENVELOPE_DEFAULT_MAX_LABELS */
} cp_envelope_limits;

/* One Kafka header: a NUL-terminated name and a value of value_len bytes (not NUL-terminated;
 * NULL when the header has no value). */
typedef struct {
	const char *name;
	const void *value;
	size_t value_len;
} cp_envelope_header;

/* Checks the rules above. limits may be NULL for the defaults. Returns 0, or -1 with the reason
 * in err. */
int cp_envelope_validate(const cp_envelope *e, const cp_envelope_limits *limits, char *err, size_t errlen);

/* Validates, then packs e into a malloc'd buffer (*out, *out_len). Returns 0, or -1 with the
 * reason in err (*out NULL). */
int cp_envelope_encode(const cp_envelope *e, const cp_envelope_limits *limits, uint8_t **out, size_t *out_len,
		       char *err, size_t errlen);

/* Reads len bytes of a cprof.v1.ProfileUpload into *out and validates it. Returns 0, or -1 with
 * a precise reason in err: "not a cprof.v1.ProfileUpload: ..." (bad protobuf, gzip data, a string
 * that is not text, a field of the wrong wire type), "missing service", "payload missing", or
 * the size or value that breaks a limit. out->payload points into data. */
int cp_envelope_decode(const uint8_t *data, size_t len, const cp_envelope_limits *limits, cp_envelope *out,
		       char *err, size_t errlen);

/* Builds an envelope from the cprof-* headers of a raw upload and its payload (borrowed, as with
 * decode). Headers whose names do not start with "cprof-" are ignored, and so are unknown cprof-*
 * names (a newer producer may send more); a known header given twice, a time or duration that is
 * not a decimal number, or an envelope that fails validation is an error. Returns 0 or -1. */
int cp_envelope_from_headers(const cp_envelope_header *headers, size_t nheaders, const uint8_t *payload,
			     size_t payload_len, const cp_envelope_limits *limits, cp_envelope *out, char *err,
			     size_t errlen);

/* How a Kafka message carries its upload. */
typedef enum {
	CP_ENVELOPE_FORM_PROTOBUF = 1, /* the value is a cprof.v1.ProfileUpload */
	CP_ENVELOPE_FORM_HEADERS = 2,  /* the value is the pprof, the metadata is in cprof-* headers */
} cp_envelope_form;

/* Reads a Kafka message either way: a message with any header whose name starts with "cprof-"
 * is a raw upload (cp_envelope_from_headers), any other one an envelope (cp_envelope_decode).
 * *form (may be NULL) says which was tried, also on failure. Returns 0 or -1 as those do. */
int cp_envelope_read_message(const cp_envelope_header *headers, size_t nheaders, const uint8_t *value,
			     size_t value_len, const cp_envelope_limits *limits, cp_envelope *out,
			     cp_envelope_form *form, char *err, size_t errlen);

/* The Kafka key of an upload, "SERVICE/INSTANCE" (instance NULL counts as ""): one instance
 * stays in one partition, in order, and load spreads. Returns a malloc'd string the caller
 * frees, or NULL out of memory. */
char *cp_envelope_key(const char *service, const char *instance);

/* Releases what a decoded or header-built envelope owns and clears it. Safe on a zeroed
 * envelope and twice. */
void cp_envelope_free(cp_envelope *e);

/* The profile id derived from an envelope: the first 128 bits of SHA-256, as 32 lowercase hex
 * digits and a NUL in out, over this byte string (u64 and i64: 8 bytes little-endian; str: u64
 * length, then the bytes; NULL strings are ""):
 *   "cprof.v1.profile_id\n"
 *   str service, str version, str env, str zone, str instance, str profile_type
 *   u64 number of labels, then per label sorted by key (bytewise): str key, str value
 *   i64 start_time_unix_nanos, i64 duration_nanos
 *   str payload
 * profile_id itself is not part of it. Label order does not change the id; every other field and
 * every payload byte does. The same upload retried gets the same id, so the worker stores it
 * once; 128 bits keep accidental collisions out of reach (about 2^64 uploads for even odds).
 * Any language with SHA-256 can compute the same id. */
int cp_envelope_derive_id(const cp_envelope *e, char out[CP_ENVELOPE_ID_LEN + 1]); /* 0, or -1 out of memory */

/* SHA-256 of len bytes into digest (the primitive of cp_envelope_derive_id; also a payload
 * checksum for tools and tests). */
void cp_envelope_sha256(const void *data, size_t len, uint8_t digest[32]);

/* The profile type guessed from a decoded pprof, for uploads that do not say. The rule, first
 * match wins (type/unit are a sample type; "period" is the profile's period_type):
 *   cpu          a sample type cpu/nanoseconds, or samples/count with period cpu
 *   wall         a sample type wall/..., or period wall
 *   allocs       inuse_space present and default_sample_type alloc_space or alloc_objects
 *                (Go's allocs profile), or alloc_space/alloc_objects without inuse_space
 *   heap         inuse_space present (Go's heap profile)
 *   mutex/block  contentions/count and delay/nanoseconds (Go's mutex and block profiles share
 *                those and period contentions/count): mutex when the leaf frame of some sample is
 *                an unlock (a function whose name ends in "Unlock" or is "runtime.unlock": the mutex
 *                profile records contention where the lock is released), block when samples exist
 *                and none is; unknown when there are no samples to tell
 *   goroutine    goroutine/count
 *   threadcreate threadcreate/count
 *   unknown      anything else
 * Returns a static string. */
const char *cp_envelope_guess_type(const struct cp_pprof *profile);

#endif
