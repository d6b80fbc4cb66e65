/* cp_inflate: gzip decompression with a hard cap on the output size, so a compression bomb is
 * rejected after at most cap bytes of memory instead of being inflated. Concatenated gzip
 * members decompress as one stream, as Go's gzip reader does.
 *
 * The fast path is libdeflate (whole-buffer decompression, 1.6-2.2x zlib's speed on profiles;
 * bench/RESULTS.md); the gzip trailer's size field sizes the buffer, which grows up to the cap
 * when that field is wrong. When libdeflate reports bad data, zlib's streaming inflater goes
 * over the input again to say precisely what is wrong (truncated, corrupt, trailing garbage).
 *
 * Ownership: a cp_inflater is owned by its creator and used by one thread at a time. The output
 * buffer belongs to the caller: *buf may be NULL or a malloc'd buffer of *buf_size bytes from an
 * earlier call, which is reused and grown (the caller frees it). */
#ifndef CP_INFLATE_H
#define CP_INFLATE_H

#include <stddef.h>
#include <stdint.h>

typedef struct cp_inflater cp_inflater;

cp_inflater *cp_inflater_new(void);
void cp_inflater_free(cp_inflater *inflater);

/* True when the buffer starts with the gzip magic bytes 1f 8b. */
int cp_is_gzip(const uint8_t *data, size_t len);

/* Decompresses a gzip stream of in_len bytes into *buf, at most cap bytes. Returns 0 with the
 * size in *out_len, or -1 with a message in err on corrupt, truncated or over-cap input. */
int cp_inflater_gunzip(cp_inflater *inflater, const uint8_t *in, size_t in_len, size_t cap, uint8_t **buf,
		       size_t *buf_size, size_t *out_len, char *err, size_t errlen);

/* One call without a reusable inflater or buffer: on success *out is a malloc'd buffer the
 * caller frees; on failure *out is NULL. */
int cp_gunzip(const uint8_t *in, size_t in_len, size_t cap, uint8_t **out, size_t *out_len, char *err,
	      size_t errlen);

#endif
