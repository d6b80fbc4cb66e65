/* cp_idmap: maps the 64-bit ids a pprof profile gives its mappings, locations and functions to
 * array indices. Profiles almost always number ids 1..n, so small ids use a direct table; any
 * other numbering falls back to an open-addressing hash. Memory comes from a cp_arena.
 *
 * Ownership: the map's memory belongs to the arena passed to cp_idmap_init. */
#ifndef CP_IDMAP_H
#define CP_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "cp_arena.h"

#define CP_IDMAP_NONE UINT32_MAX

typedef struct {
	uint32_t *direct;    /* direct[id] = index + 1, for id < ndirect; 0 when absent */
	uint64_t ndirect;
	uint64_t *hash_keys; /* open addressing, used when ids are not small */
	uint32_t *hash_vals; /* index + 1; 0 marks an empty slot */
	size_t hash_mask;
} cp_idmap;

/* Prepares a map for count ids whose largest is max_id. Returns 0, or -1 when out of memory. */
int cp_idmap_init(cp_idmap *map, cp_arena *arena, size_t count, uint64_t max_id);
/* Adds id -> index. Returns 0, or -1 when the id is already present. */
int cp_idmap_put(cp_idmap *map, uint64_t id, uint32_t index);
uint32_t cp_idmap_get_hashed(const cp_idmap *map, uint64_t id);

/* Returns the index of id, or CP_IDMAP_NONE. Inline: the decoder calls it once per reference. */
static inline uint32_t cp_idmap_get(const cp_idmap *map, uint64_t id)
{
	if (map->direct)
		return id < map->ndirect ? map->direct[id] - 1 : CP_IDMAP_NONE;
	return cp_idmap_get_hashed(map, id);
}

#endif
