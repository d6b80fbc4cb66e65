/* cp_pprof: decodes and validates a pprof profile (perftools.profiles.Profile), gzip-compressed
 * or raw protobuf, into flat arrays with every reference resolved to an index.
 *
 * The decoder is hand-written over cp_pb rather than generated: it reads strings in place (zero
 * copy), allocates from one arena, and says exactly what is wrong with a bad profile, for
 * example "sample 17: location id 99 not found". bench/RESULTS.md has the measured comparison
 * with protobuf-c's generated unpacker.
 *
 * Validation: every string index is in range; mapping, location and function ids are non-zero
 * and unique; every referenced id exists (a line's function_id 0 is accepted as "no function"
 * and named like an unnamed function, as the corpus oracle defines; pprof itself refuses such a
 * line); every sample has exactly one value per sample type; the profile has at least one
 * sample type; decompressed size is at most limits->max_decompressed.
 *
 * Two ways to decode. cp_pprof_decode returns a profile that owns all its memory (free it with
 * cp_pprof_free). A cp_pprof_decoder is for decoding profile after profile, as a worker does: it
 * keeps its memory (arena, buffers, tables) from one profile to the next, so steady-state
 * decoding asks the system for none; the profile it returns lives until the next decode on the
 * same decoder. Either way the input is copied where needed; the caller keeps its buffer. */
#ifndef CP_PPROF_H
#define CP_PPROF_H

#include <stddef.h>
#include <stdint.h>

#define CP_PPROF_NONE UINT32_MAX
#define CP_PPROF_DEFAULT_MAX_DECOMPRESSED ((size_t)256 << 20)

typedef struct {
	const char *ptr; /* not NUL-terminated; may contain any bytes */
	uint32_t len;
} cp_pstr;

typedef struct {
	uint32_t type, unit; /* string indices */
} cp_pprof_value_type;

typedef struct {
	uint64_t id, memory_start, memory_limit, file_offset;
	uint32_t filename, build_id; /* string indices */
} cp_pprof_mapping;

typedef struct {
	uint32_t function; /* index into functions, or CP_PPROF_NONE for function_id 0 */
	int64_t line;
} cp_pprof_line;

typedef struct {
	uint64_t id, address;
	uint32_t mapping; /* index into mappings, or CP_PPROF_NONE for mapping_id 0 */
	uint32_t nlines;
	cp_pprof_line *lines; /* innermost inlined callee first, caller last */
} cp_pprof_location;

typedef struct {
	uint64_t id;
	uint32_t name, system_name, filename; /* string indices */
	int64_t start_line;
} cp_pprof_function;

typedef struct {
	uint32_t key, str, num_unit; /* string indices */
	int64_t num;
} cp_pprof_label;

typedef struct {
	uint32_t *locations; /* indices into locations, leaf first */
	int64_t *values;     /* nsample_types values */
	cp_pprof_label *labels;
	uint32_t nlocations, nlabels;
} cp_pprof_sample;

typedef struct cp_pprof {
	const cp_pstr *strings;
	const cp_pprof_value_type *sample_types;
	const cp_pprof_sample *samples;
	const cp_pprof_mapping *mappings;
	const cp_pprof_location *locations;
	const cp_pprof_function *functions;
	const uint32_t *comments; /* string indices */
	size_t nstrings, nsample_types, nsamples, nmappings, nlocations, nfunctions, ncomments;

	uint32_t drop_frames, keep_frames, default_sample_type; /* string indices; 0 is "" */
	int64_t time_nanos, duration_nanos, period;
	cp_pprof_value_type period_type; /* {0, 0} when absent */
	size_t encoded_size;             /* bytes of protobuf after decompression */

	struct cp_pprof_decoder *owner; /* private: the decoder cp_pprof_free releases, if any */
} cp_pprof;

typedef struct cp_pprof_decoder cp_pprof_decoder;

typedef struct {
	size_t max_decompressed; /* cap on the protobuf size after gunzip; 0: the default */
} cp_pprof_limits;

/* Decodes len bytes of gzip or raw pprof. Returns 0 and a profile in *out, or -1 with a
 * precise message in err (and *out NULL). limits may be NULL for the defaults. */
int cp_pprof_decode(const uint8_t *data, size_t len, const cp_pprof_limits *limits,
		    cp_pprof **out, char *err, size_t errlen);

void cp_pprof_free(cp_pprof *profile);

/* A decoder for many profiles, one thread at a time. limits may be NULL for the defaults.
 * NULL when out of memory. */
cp_pprof_decoder *cp_pprof_decoder_new(const cp_pprof_limits *limits);
void cp_pprof_decoder_free(cp_pprof_decoder *decoder);

/* As cp_pprof_decode, into the decoder's memory: *out is valid until the next call on this
 * decoder or its cp_pprof_decoder_free, and must not be given to cp_pprof_free. */
int cp_pprof_decoder_decode(cp_pprof_decoder *decoder, const uint8_t *data, size_t len,
			    const cp_pprof **out, char *err, size_t errlen);

/* The string at a validated index. */
static inline cp_pstr cp_pprof_string(const cp_pprof *profile, uint32_t index)
{
	return profile->strings[index];
}

#endif
