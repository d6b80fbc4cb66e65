/* cp_inflate: zlib-based gzip decompression with an output cap; see cp_inflate.h. */
#include "cp_inflate.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

int cp_is_gzip(const uint8_t *data, size_t len)
{
	return len >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

/* First guess for the output size: the gzip trailer's ISIZE (size mod 2^32) of the last
 * member when it is plausible, else four times the input; never above the cap. */
static size_t initial_size(const uint8_t *in, size_t in_len, size_t cap)
{
	size_t guess = in_len * 4;
	if (in_len >= 18) {
		const uint8_t *t = in + in_len - 4;
		size_t isize = (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 | (size_t)t[3] << 24;
		if (isize >= in_len / 2)
			guess = isize + 1; /* +1: reaching the end without a full buffer saves a realloc */
	}
	if (guess < 4096)
		guess = 4096;
	if (guess > cap + 1)
		guess = cap + 1;
	return guess;
}

int cp_gunzip(const uint8_t *in, size_t in_len, size_t cap, uint8_t **out, size_t *out_len,
	      char *err, size_t errlen)
{
	*out = NULL;
	*out_len = 0;
	if (!cp_is_gzip(in, in_len)) {
		snprintf(err, errlen, "not gzip data (no 1f 8b magic)");
		return -1;
	}

	z_stream zs = {0};
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		snprintf(err, errlen, "gzip: cannot initialise zlib");
		return -1;
	}

	/* The buffer may reach cap + 1 bytes: output that fills exactly cap bytes must still be
	 * told apart from output that goes past it. */
	if (cap >= SIZE_MAX / 2)
		cap = SIZE_MAX / 2;
	size_t size = initial_size(in, in_len, cap);
	uint8_t *buf = malloc(size ? size : 1);
	size_t used = 0;
	size_t consumed = 0;
	int rc = -1;
	if (!buf) {
		snprintf(err, errlen, "gzip: out of memory for %zu bytes", size);
		goto out;
	}

	for (;;) {
		if (used == size) {
			size_t grown = size > cap / 2 ? cap + 1 : size * 2;
			uint8_t *nb = realloc(buf, grown);
			if (!nb) {
				snprintf(err, errlen, "gzip: out of memory for %zu bytes", grown);
				goto out;
			}
			buf = nb;
			size = grown;
		}
		size_t in_avail = in_len - consumed;
		size_t out_avail = size - used;
		zs.next_in = (Bytef *)(uintptr_t)(in + consumed);
		zs.avail_in = in_avail > UINT_MAX ? UINT_MAX : (uInt)in_avail;
		zs.next_out = buf + used;
		zs.avail_out = out_avail > UINT_MAX ? UINT_MAX : (uInt)out_avail;
		uInt in_before = zs.avail_in, out_before = zs.avail_out;

		int z = inflate(&zs, Z_NO_FLUSH);
		consumed += in_before - zs.avail_in;
		used += out_before - zs.avail_out;

		if (used > cap) {
			snprintf(err, errlen,
				 "gzip: decompressed size exceeds the cap of %zu bytes (compressed %zu bytes)",
				 cap, in_len);
			goto out;
		}
		if (z == Z_STREAM_END) {
			if (consumed == in_len)
				break;
			if (!cp_is_gzip(in + consumed, in_len - consumed)) {
				snprintf(err, errlen, "gzip: %zu bytes of trailing garbage after the stream at byte %zu",
					 in_len - consumed, consumed);
				goto out;
			}
			inflateReset(&zs); /* next member of a multi-member stream */
			continue;
		}
		if (z == Z_OK)
			continue;
		if (z == Z_BUF_ERROR && zs.avail_out == 0)
			continue; /* output full: grow and go on */
		if (z == Z_BUF_ERROR && consumed == in_len) {
			snprintf(err, errlen, "gzip: truncated stream: input ends after %zu bytes, before the end of the compressed data",
				 in_len);
			goto out;
		}
		snprintf(err, errlen, "gzip: corrupt data near compressed byte %zu: %s", consumed,
			 zs.msg ? zs.msg : "inflate error");
		goto out;
	}
	rc = 0;
	*out = buf;
	*out_len = used;
	buf = NULL;
out:
	inflateEnd(&zs);
	free(buf);
	return rc;
}
