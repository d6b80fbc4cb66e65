/* cp_hash: the hash functions cprof's tables use: a fast 64-bit hash of byte strings (eight
 * bytes per step) and a mixer for integer keys. Not cryptographic; tables must not depend on
 * the hash for anything but speed. Header-only (static inline): used in hot loops. */
#ifndef CP_HASH_H
#define CP_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t cp_hash_mix(uint64_t x)
{
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ull;
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ull;
	x ^= x >> 32;
	return x;
}

static inline uint64_t cp_hash_bytes(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0x9E3779B97F4A7C15ull ^ (len * 0xff51afd7ed558ccdull);
	while (len >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ cp_hash_mix(w)) * 0x9E3779B97F4A7C15ull;
		p += 8;
		len -= 8;
	}
	uint64_t tail = 0;
	memcpy(&tail, p, len);
	return cp_hash_mix(h ^ tail ^ (uint64_t)len << 56);
}

#endif
