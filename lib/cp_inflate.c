/* cp_inflate: gzip decompression with an output cap, libdeflate first and zlib to explain
 * failures; see cp_inflate.h. */
#include "cp_inflate.h"

#include <libdeflate.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <zlib.h>

struct cp_inflater {
	struct libdeflate_decompressor *fast;
};

cp_inflater *cp_inflater_new(void)
{
	cp_inflater *inflater = malloc(sizeof *inflater);
	if (!inflater)
		return NULL;
	inflater->fast = libdeflate_alloc_decompressor();
	if (!inflater->fast) {
		free(inflater);
		return NULL;
	}
	return inflater;
}

void cp_inflater_free(cp_inflater *inflater)
{
	if (!inflater)
		return;
	libdeflate_free_decompressor(inflater->fast);
	free(inflater);
}

int cp_is_gzip(const uint8_t *data, size_t len)
{
	return len >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

/* Grows *buf to at least want bytes (never above limit). Returns -1 when out of memory. */
static int reserve(uint8_t **buf, size_t *buf_size, size_t want)
{
	if (*buf && *buf_size >= want)
		return 0;
	uint8_t *grown = realloc(*buf, want ? want : 1);
	if (!grown)
		return -1;
	*buf = grown;
	*buf_size = want;
	return 0;
}

/* The size the whole output probably has: the last member's trailer (size mod 2^32) when it
 * is plausible, else four times the input; within [4096, limit]. Deflate expands at most
 * 1032:1, so a trailer claiming more is forged and not believed. */
static size_t expected_size(const uint8_t *in, size_t in_len, size_t limit)
{
	size_t guess = in_len * 4;
	if (in_len >= 18) {
		const uint8_t *t = in + in_len - 4;
		size_t isize = (size_t)t[0] | (size_t)t[1] << 8 | (size_t)t[2] << 16 | (size_t)t[3] << 24;
		if (isize >= in_len / 2 && isize / 1032 <= in_len)
			guess = isize;
	}
	if (guess < 4096)
		guess = 4096;
	return guess > limit ? limit : guess;
}

static void cap_exceeded(size_t cap, size_t in_len, char *err, size_t errlen)
{
	snprintf(err, errlen, "gzip: decompressed size exceeds the cap of %zu bytes (compressed %zu bytes)", cap,
		 in_len);
}

/* zlib's streaming inflate into *buf: slower, but it tells a truncated stream from corrupt
 * data and says where. Used only after the fast path found the data bad. The buffer may reach
 * cap + 1 bytes: output that fills exactly cap bytes must be told apart from output past it. */
static int explain_with_zlib(const uint8_t *in, size_t in_len, size_t cap, uint8_t **buf, size_t *buf_size,
			     size_t *out_len, char *err, size_t errlen)
{
	z_stream zs = {0};
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
		snprintf(err, errlen, "gzip: cannot initialise zlib");
		return -1;
	}
	size_t used = 0, consumed = 0;
	int rc = -1;
	for (;;) {
		if (used == *buf_size) {
			size_t grown = *buf_size > cap / 2 ? cap + 1 : (*buf_size ? *buf_size * 2 : 4096);
			if (reserve(buf, buf_size, grown)) {
				snprintf(err, errlen, "gzip: out of memory for %zu bytes", grown);
				goto out;
			}
		}
		size_t in_avail = in_len - consumed, out_avail = *buf_size - used;
		zs.next_in = (Bytef *)(uintptr_t)(in + consumed);
		zs.avail_in = in_avail > UINT_MAX ? UINT_MAX : (uInt)in_avail;
		zs.next_out = *buf + used;
		zs.avail_out = out_avail > UINT_MAX ? UINT_MAX : (uInt)out_avail;
		uInt in_before = zs.avail_in, out_before = zs.avail_out;

		int z = inflate(&zs, Z_NO_FLUSH);
		consumed += in_before - zs.avail_in;
		used += out_before - zs.avail_out;

		if (used > cap) {
			cap_exceeded(cap, in_len, err, errlen);
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
			inflateReset(&zs); /* the next member of a multi-member stream */
			continue;
		}
		if (z == Z_OK || (z == Z_BUF_ERROR && zs.avail_out == 0))
			continue; /* progress, or the output is full: grow and go on */
		if (z == Z_BUF_ERROR && consumed == in_len) {
			snprintf(err, errlen,
				 "gzip: truncated stream: input ends after %zu bytes, before the end of the compressed data",
				 in_len);
			goto out;
		}
		snprintf(err, errlen, "gzip: corrupt data near compressed byte %zu: %s", consumed,
			 zs.msg ? zs.msg : "inflate error");
		goto out;
	}
	*out_len = used;
	rc = 0;
out:
	inflateEnd(&zs);
	return rc;
}

int cp_inflater_gunzip(cp_inflater *inflater, const uint8_t *in, size_t in_len, size_t cap, uint8_t **buf,
		       size_t *buf_size, size_t *out_len, char *err, size_t errlen)
{
	*out_len = 0;
	if (!cp_is_gzip(in, in_len)) {
		snprintf(err, errlen, "not gzip data (no 1f 8b magic)");
		return -1;
	}
	if (cap >= SIZE_MAX / 2)
		cap = SIZE_MAX / 2;
	if (reserve(buf, buf_size, expected_size(in, in_len, cap))) {
		snprintf(err, errlen, "gzip: out of memory");
		return -1;
	}

	size_t consumed = 0, used = 0;
	while (consumed < in_len) {
		if (!cp_is_gzip(in + consumed, in_len - consumed)) {
			snprintf(err, errlen, "gzip: %zu bytes of trailing garbage after the stream at byte %zu",
				 in_len - consumed, consumed);
			return -1;
		}
		size_t member_in = 0, member_out = 0;
		size_t room = (*buf_size < cap ? *buf_size : cap) - used;
		enum libdeflate_result r = libdeflate_gzip_decompress_ex(
			inflater->fast, in + consumed, in_len - consumed, *buf + used, room, &member_in, &member_out);
		if (r == LIBDEFLATE_SUCCESS) {
			consumed += member_in;
			used += member_out;
			continue;
		}
		if (r == LIBDEFLATE_INSUFFICIENT_SPACE) {
			if (*buf_size >= cap) {
				cap_exceeded(cap, in_len, err, errlen);
				return -1;
			}
			size_t grown = *buf_size > cap / 2 ? cap : *buf_size * 2;
			if (reserve(buf, buf_size, grown)) {
				snprintf(err, errlen, "gzip: out of memory for %zu bytes", grown);
				return -1;
			}
			continue; /* this member again, with more room */
		}
		/* Bad data: let zlib read it all again and say what is wrong. */
		return explain_with_zlib(in, in_len, cap, buf, buf_size, out_len, err, errlen);
	}
	*out_len = used;
	return 0;
}

int cp_gunzip(const uint8_t *in, size_t in_len, size_t cap, uint8_t **out, size_t *out_len, char *err,
	      size_t errlen)
{
	*out = NULL;
	size_t size = 0;
	cp_inflater *inflater = cp_inflater_new();
	if (!inflater) {
		snprintf(err, errlen, "gzip: out of memory");
		return -1;
	}
	int rc = cp_inflater_gunzip(inflater, in, in_len, cap, out, &size, out_len, err, errlen);
	cp_inflater_free(inflater);
	if (rc) {
		free(*out);
		*out = NULL;
	}
	return rc;
}
