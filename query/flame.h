/* flame: a flame graph as `cprof-query flame` handles it, whatever it came from: the nodes of a
 * call tree in depth-first pre-order, each with its level (0 for the single root, "total"), its
 * inclusive value, its self value and its label; children ordered by label, bytewise. This is
 * also the data frame of Grafana's flame graph panel, which the read API's cprof.flame_graph
 * returns, so stored data and files give the same shape. Built from files (a cp_flat with
 * stacks) or from the rows of cprof.flame_graph; printed as folded stacks ("a;b;c 123", the
 * input of flamegraph.pl and speedscope) or as the frame itself.
 *
 * Ownership: a cp_flame owns its nodes and their labels (cp_flame_free). */
#ifndef CP_QUERY_FLAME_H
#define CP_QUERY_FLAME_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cp_flat.h"

typedef struct {
	int level;
	int64_t value, self;
	char *label;
} cp_flame_node;

typedef struct {
	cp_flame_node *nodes;
	size_t n, cap;
} cp_flame;

/* Appends a node (the label is copied; len bytes). Returns 0, or -1 out of memory. */
int cp_flame_add(cp_flame *f, int level, int64_t value, int64_t self, const char *label, size_t len);

/* The frame of a cp_flat built with CP_FLAT_STACKS, for sample type `type`: the root "total",
 * then every node whose subtree holds a non-zero self, in pre-order. Returns 0, or -1 out of
 * memory. */
int cp_flame_from_flat(cp_flame *f, const cp_flat *flat, size_t type);

/* "root;...;leaf SELF" for every node with a non-zero self, in frame order (the root left out).
 * Characters that would break the format (control characters) become '?'. */
void cp_flame_print_folded(FILE *out, const cp_flame *f);

/* The frame as TSV: a header "level value self label", then one row per node (labels escaped
 * as in cprof-query's other TSV). */
void cp_flame_print_frame(FILE *out, const cp_flame *f);

void cp_flame_free(cp_flame *f);

#endif
