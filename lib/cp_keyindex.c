/* cp_keyindex: dense indices for byte-string keys; see cp_keyindex.h. */
#include "cp_keyindex.h"

#include <stdlib.h>
#include <string.h>

#include "cp_arena.h"
#include "cp_hash.h"

typedef struct {
	const void *key;
	size_t len;
	uint64_t hash;
} entry;

struct cp_keyindex {
	cp_arena *keys;
	entry *entries;
	size_t count, cap;
	uint32_t *slots; /* entry index + 1; 0 empty */
	size_t mask;
};

cp_keyindex *cp_keyindex_new(void)
{
	cp_keyindex *ix = calloc(1, sizeof *ix);
	if (!ix)
		return NULL;
	ix->keys = cp_arena_new(0);
	ix->slots = calloc(64, sizeof *ix->slots);
	if (!ix->keys || !ix->slots) {
		cp_keyindex_free(ix);
		return NULL;
	}
	ix->mask = 63;
	return ix;
}

void cp_keyindex_free(cp_keyindex *ix)
{
	if (!ix)
		return;
	cp_arena_destroy(ix->keys);
	free(ix->entries);
	free(ix->slots);
	free(ix);
}

void cp_keyindex_clear(cp_keyindex *ix)
{
	cp_arena_reset(ix->keys, 0);
	memset(ix->slots, 0, (ix->mask + 1) * sizeof *ix->slots);
	ix->count = 0;
}

static uint32_t find(const cp_keyindex *ix, const void *key, size_t len, uint64_t h, size_t *slot)
{
	size_t s = (size_t)h & ix->mask;
	for (uint32_t v; (v = ix->slots[s]); s = (s + 1) & ix->mask) {
		const entry *e = &ix->entries[v - 1];
		if (e->hash == h && e->len == len && (len == 0 || memcmp(e->key, key, len) == 0)) {
			*slot = s;
			return v - 1;
		}
	}
	*slot = s;
	return CP_KEYINDEX_NONE;
}

static int grow_slots(cp_keyindex *ix)
{
	size_t n = (ix->mask + 1) * 2;
	uint32_t *slots = calloc(n, sizeof *slots);
	if (!slots)
		return -1;
	for (size_t i = 0; i < ix->count; i++) {
		size_t s = (size_t)ix->entries[i].hash & (n - 1);
		while (slots[s])
			s = (s + 1) & (n - 1);
		slots[s] = (uint32_t)i + 1;
	}
	free(ix->slots);
	ix->slots = slots;
	ix->mask = n - 1;
	return 0;
}

uint32_t cp_keyindex_put(cp_keyindex *ix, const void *key, size_t len, int *added)
{
	uint64_t h = cp_hash_bytes(key, len);
	size_t slot;
	if (added)
		*added = 0;
	uint32_t found = find(ix, key, len, h, &slot);
	if (found != CP_KEYINDEX_NONE)
		return found;
	if (ix->count + 1 >= CP_KEYINDEX_NONE)
		return CP_KEYINDEX_NONE;
	if (ix->count == ix->cap) {
		size_t cap = ix->cap ? ix->cap * 2 : 64;
		entry *grown = realloc(ix->entries, cap * sizeof *grown);
		if (!grown)
			return CP_KEYINDEX_NONE;
		ix->entries = grown;
		ix->cap = cap;
	}
	void *copy = cp_arena_alloc(ix->keys, len);
	if (!copy)
		return CP_KEYINDEX_NONE;
	if (len)
		memcpy(copy, key, len);
	uint32_t i = (uint32_t)ix->count++;
	ix->entries[i] = (entry){copy, len, h};
	ix->slots[slot] = i + 1;
	if (ix->count * 2 > ix->mask + 1 && grow_slots(ix)) {
		ix->count--; /* keep the table consistent: the key is not added */
		ix->slots[slot] = 0;
		return CP_KEYINDEX_NONE;
	}
	if (added)
		*added = 1;
	return i;
}

uint32_t cp_keyindex_get(const cp_keyindex *ix, const void *key, size_t len)
{
	size_t slot;
	return find(ix, key, len, cp_hash_bytes(key, len), &slot);
}

size_t cp_keyindex_count(const cp_keyindex *ix)
{
	return ix->count;
}

const void *cp_keyindex_key(const cp_keyindex *ix, uint32_t i, size_t *len)
{
	*len = ix->entries[i].len;
	return ix->entries[i].key;
}
