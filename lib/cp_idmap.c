/* cp_idmap: id -> index lookup, direct table or hash; see cp_idmap.h. */
#include "cp_idmap.h"

static size_t slot_of(uint64_t id, size_t mask)
{
	return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

int cp_idmap_init(cp_idmap *map, cp_arena *arena, size_t count, uint64_t max_id)
{
	*map = (cp_idmap){0};
	if (max_id < 4 * (uint64_t)count + 1024) {
		map->ndirect = max_id + 1;
		map->direct = cp_arena_calloc(arena, (size_t)map->ndirect, sizeof *map->direct);
		return map->direct ? 0 : -1;
	}
	size_t slots = 16;
	while (slots < 2 * count)
		slots *= 2;
	map->hash_mask = slots - 1;
	map->hash_keys = cp_arena_alloc(arena, slots * sizeof *map->hash_keys);
	map->hash_vals = cp_arena_calloc(arena, slots, sizeof *map->hash_vals);
	return map->hash_keys && map->hash_vals ? 0 : -1;
}

int cp_idmap_put(cp_idmap *map, uint64_t id, uint32_t index)
{
	if (map->direct) {
		if (map->direct[id])
			return -1;
		map->direct[id] = index + 1;
		return 0;
	}
	for (size_t s = slot_of(id, map->hash_mask);; s = (s + 1) & map->hash_mask) {
		if (!map->hash_vals[s]) {
			map->hash_keys[s] = id;
			map->hash_vals[s] = index + 1;
			return 0;
		}
		if (map->hash_keys[s] == id)
			return -1;
	}
}

uint32_t cp_idmap_get_hashed(const cp_idmap *map, uint64_t id)
{
	for (size_t s = slot_of(id, map->hash_mask);; s = (s + 1) & map->hash_mask) {
		if (!map->hash_vals[s])
			return CP_IDMAP_NONE;
		if (map->hash_keys[s] == id)
			return map->hash_vals[s] - 1;
	}
}
