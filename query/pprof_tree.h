/* pprof_tree: a call tree at function granularity, as cprof stores stacks (each node a function
 * under its parent, with a self value per sample type), written out as one gzip'd pprof profile
 * that `go tool pprof` opens: a function and a location per distinct function, a sample per
 * node with a non-zero self (its stack the path from the node up to its root frame), the
 * sample types with their units, the default sample type, time, duration and a comment.
 * Values are written as they are, so pprof's flat and cum per function are cprof's.
 *
 * Ownership: a cp_pprof_tree owns copies of every string and node given to it
 * (cp_pprof_tree_free); cp_pprof_tree_encode returns a malloc'd buffer the caller frees. */
#ifndef CP_QUERY_PPROF_TREE_H
#define CP_QUERY_PPROF_TREE_H

#include <stddef.h>
#include <stdint.h>

#define CP_PPROF_TREE_MAX_TYPES 16

typedef struct {
	int64_t stack_id, parent_id, function_id; /* parent_id 0: a root frame */
	char *function_name;
} cp_pprof_tree_node;

typedef struct {
	size_t ntypes;
	char *type[CP_PPROF_TREE_MAX_TYPES], *unit[CP_PPROF_TREE_MAX_TYPES];
	size_t default_type; /* the sample type pprof shows unless told otherwise */
	int64_t time_nanos, duration_nanos;
	char *comment; /* NULL: none */
	cp_pprof_tree_node *nodes; /* in increasing stack_id */
	int64_t *selfs;            /* ntypes per node */
	size_t n, cap;
} cp_pprof_tree;

/* Adds a sample type (before any node). Returns 0, or -1 out of memory or past the maximum. */
int cp_pprof_tree_add_type(cp_pprof_tree *t, const char *type, const char *unit);

/* Sets the comment (copied). Returns 0, or -1 out of memory. */
int cp_pprof_tree_set_comment(cp_pprof_tree *t, const char *comment);

/* Adds a node: selfs holds a value per sample type, NULL for a node without self values (one
 * that only leads to others). Stack ids must increase from call to call. Returns 0, or -1 with
 * the reason in err (out of memory, ids out of order). */
int cp_pprof_tree_add_node(cp_pprof_tree *t, int64_t stack_id, int64_t parent_id, int64_t function_id,
			   const char *name, size_t name_len, const int64_t *selfs, char *err, size_t errlen);

/* The gzip'd pprof profile. Returns 0, or -1 with the reason in err (a node whose parent is
 * missing, a function id of 0, out of memory). */
int cp_pprof_tree_encode(const cp_pprof_tree *t, uint8_t **out, size_t *len, char *err, size_t errlen);

void cp_pprof_tree_free(cp_pprof_tree *t);

#endif
