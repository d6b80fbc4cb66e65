/* cp_arena: a bump allocator for objects that live and die together (one decoded profile,
 * one flattening). Allocation is a pointer bump; everything is freed at once by
 * cp_arena_destroy. Every arena has a byte cap, so hostile input cannot make it grow without
 * bound: an allocation past the cap fails (returns NULL) instead.
 *
 * Ownership: the caller owns the arena; memory returned by cp_arena_alloc belongs to the arena
 * and must not be freed on its own. */
#ifndef CP_ARENA_H
#define CP_ARENA_H

#include <stddef.h>

typedef struct cp_arena cp_arena;

/* Creates an arena that will hand out at most cap_bytes in total (0: no cap). NULL on OOM. */
cp_arena *cp_arena_new(size_t cap_bytes);
void cp_arena_destroy(cp_arena *arena);

/* Returns size bytes aligned for any object, or NULL when out of memory or over the cap.
 * Size 0 returns a valid unique pointer. Memory is not zeroed. */
void *cp_arena_alloc(cp_arena *arena, size_t size);
/* As cp_arena_alloc for n objects of size bytes, zeroed, with overflow checking. */
void *cp_arena_calloc(cp_arena *arena, size_t n, size_t size);
/* Copies len bytes and appends a NUL. */
char *cp_arena_strndup(cp_arena *arena, const char *src, size_t len);

/* Forgets every allocation and sets a new cap, keeping the largest chunk for reuse, so an arena
 * reused for object after object stops asking the system for memory. */
void cp_arena_reset(cp_arena *arena, size_t cap_bytes);

/* Bytes handed out so far (what the cap is compared with). */
size_t cp_arena_used(const cp_arena *arena);

#endif
