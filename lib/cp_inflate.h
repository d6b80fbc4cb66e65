/* cp_inflate: gzip decompression with a hard cap on the output size, so a compression bomb is
 * rejected after at most cap bytes of work and memory instead of being inflated.
 * Concatenated gzip members are decompressed as one stream, as Go's gzip reader does.
 *
 * Ownership: on success *out is a malloc'd buffer the caller frees; on failure *out is NULL. */
#ifndef CP_INFLATE_H
#define CP_INFLATE_H

#include <stddef.h>
#include <stdint.h>

/* True when the buffer starts with the gzip magic bytes 1f 8b. */
int cp_is_gzip(const uint8_t *data, size_t len);

/* Decompresses a gzip stream of in_len bytes into at most cap bytes.
 * Returns 0 on success, -1 with a message in err on corrupt, truncated or over-cap input. */
int cp_gunzip(const uint8_t *in, size_t in_len, size_t cap, uint8_t **out, size_t *out_len,
	      char *err, size_t errlen);

#endif
