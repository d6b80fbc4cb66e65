/* cp_keyindex: gives byte-string keys dense indices 0, 1, 2, ... in order of first sight, so
 * callers can keep values in plain arrays beside it: dictionary caches (function name ->
 * database id) and pre-aggregation (series, minute, function -> sums). Open addressing over a
 * 64-bit hash; keys are copied into an arena.
 *
 * Ownership: the caller owns the index (cp_keyindex_free); keys returned by cp_keyindex_key
 * live as long as the index or until cp_keyindex_clear. */
#ifndef CP_KEYINDEX_H
#define CP_KEYINDEX_H

#include <stddef.h>
#include <stdint.h>

typedef struct cp_keyindex cp_keyindex;

#define CP_KEYINDEX_NONE UINT32_MAX

cp_keyindex *cp_keyindex_new(void);
void cp_keyindex_free(cp_keyindex *index);
/* Forgets every key (indices start again at 0), keeping the memory for reuse. */
void cp_keyindex_clear(cp_keyindex *index);

/* The index of key, added when new (*added set to 1 then); CP_KEYINDEX_NONE when out of memory. */
uint32_t cp_keyindex_put(cp_keyindex *index, const void *key, size_t len, int *added);
/* The index of key, or CP_KEYINDEX_NONE when absent. */
uint32_t cp_keyindex_get(const cp_keyindex *index, const void *key, size_t len);

size_t cp_keyindex_count(const cp_keyindex *index);
const void *cp_keyindex_key(const cp_keyindex *index, uint32_t i, size_t *len);

#endif
