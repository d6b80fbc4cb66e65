/* cp_arena: bump allocation in chunks that grow geometrically; see cp_arena.h. */
#include "cp_arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { ARENA_FIRST_CHUNK = 16 * 1024, ARENA_MAX_CHUNK = 4 * 1024 * 1024 };

typedef struct chunk {
	struct chunk *prev;
	size_t size; /* usable bytes in data[] */
	size_t used;
	alignas(max_align_t) unsigned char data[];
} chunk;

struct cp_arena {
	chunk *head;
	size_t cap;
	size_t handed_out;
	size_t next_chunk;
};

cp_arena *cp_arena_new(size_t cap_bytes)
{
	cp_arena *arena = calloc(1, sizeof *arena);
	if (!arena)
		return NULL;
	arena->cap = cap_bytes;
	arena->next_chunk = ARENA_FIRST_CHUNK;
	return arena;
}

void cp_arena_destroy(cp_arena *arena)
{
	if (!arena)
		return;
	chunk *c = arena->head;
	while (c) {
		chunk *prev = c->prev;
		free(c);
		c = prev;
	}
	free(arena);
}

void *cp_arena_alloc(cp_arena *arena, size_t size)
{
	const size_t align = alignof(max_align_t);
	if (size > SIZE_MAX / 2)
		return NULL;
	size_t rounded = (size + align - 1) & ~(align - 1);
	if (rounded == 0)
		rounded = align;
	if (arena->cap && (rounded > arena->cap || arena->handed_out > arena->cap - rounded))
		return NULL;

	chunk *c = arena->head;
	if (!c || c->size - c->used < rounded) {
		size_t want = arena->next_chunk;
		if (want < rounded)
			want = rounded;
		c = malloc(sizeof *c + want);
		if (!c)
			return NULL;
		c->prev = arena->head;
		c->size = want;
		c->used = 0;
		arena->head = c;
		if (arena->next_chunk < ARENA_MAX_CHUNK)
			arena->next_chunk *= 2;
	}
	void *p = c->data + c->used;
	c->used += rounded;
	arena->handed_out += rounded;
	return p;
}

void *cp_arena_calloc(cp_arena *arena, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	void *p = cp_arena_alloc(arena, n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

char *cp_arena_strndup(cp_arena *arena, const char *src, size_t len)
{
	if (len == SIZE_MAX)
		return NULL;
	char *p = cp_arena_alloc(arena, len + 1);
	if (!p)
		return NULL;
	if (len)
		memcpy(p, src, len);
	p[len] = '\0';
	return p;
}

void cp_arena_reset(cp_arena *arena, size_t cap_bytes)
{
	chunk *keep = arena->head; /* the newest chunk is the largest */
	if (keep) {
		chunk *c = keep->prev;
		while (c) {
			chunk *prev = c->prev;
			free(c);
			c = prev;
		}
		keep->prev = NULL;
		keep->used = 0;
	}
	arena->handed_out = 0;
	arena->cap = cap_bytes;
}

size_t cp_arena_used(const cp_arena *arena)
{
	return arena->handed_out;
}
