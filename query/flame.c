/* flame: flame graphs for cprof-query, from files or stored data; see flame.h. */
#include "flame.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cp_text.h"

int cp_flame_add(cp_flame *f, int level, int64_t value, int64_t self, const char *label, size_t len)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 256;
		cp_flame_node *nodes = realloc(f->nodes, cap * sizeof *nodes);
		if (!nodes)
			return -1;
		f->nodes = nodes;
		f->cap = cap;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		return -1;
	memcpy(copy, label, len);
	copy[len] = '\0';
	f->nodes[f->n++] = (cp_flame_node){level, value, self, copy};
	return 0;
}

/* Sorting a node's children by label, bytewise (then by node id, for a stable order). */
static const cp_flat *sort_flat;
static int by_label(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	cp_pstr nx = cp_flat_function_name(sort_flat, cp_flat_node_function(sort_flat, x));
	cp_pstr ny = cp_flat_function_name(sort_flat, cp_flat_node_function(sort_flat, y));
	size_t n = nx.len < ny.len ? nx.len : ny.len;
	int c = memcmp(nx.ptr, ny.ptr, n);
	if (c == 0)
		c = (nx.len > ny.len) - (nx.len < ny.len);
	return c ? c : (x > y) - (x < y);
}

int cp_flame_from_flat(cp_flame *f, const cp_flat *flat, size_t type)
{
	size_t n = cp_flat_nnodes(flat);
	int64_t *value = calloc(n ? n : 1, sizeof *value);
	unsigned char *kept = calloc(n ? n : 1, 1);
	size_t *first = calloc(n + 1, sizeof *first); /* children of node i: child[first[i] .. first[i+1]) */
	uint32_t *child = malloc((n ? n : 1) * sizeof *child);
	uint32_t *stack = malloc((n ? n : 1) * sizeof *stack);
	int *level = malloc((n ? n : 1) * sizeof *level);
	int status = -1;
	if (!value || !kept || !first || !child || !stack || !level)
		goto out;
	/* a parent's id is smaller than its children's: one pass from the leaves up sums them */
	for (size_t i = n; i-- > 1;) {
		int64_t self = cp_flat_node_self(flat, i, type);
		value[i] += self;
		kept[i] |= self != 0;
		uint32_t p = cp_flat_node_parent(flat, i);
		value[p] += value[i];
		kept[p] |= kept[i];
	}
	for (size_t i = 1; i < n; i++)
		if (kept[i])
			first[cp_flat_node_parent(flat, i) + 1]++;
	for (size_t i = 0; i < n; i++)
		first[i + 1] += first[i];
	size_t *fill = calloc(n ? n : 1, sizeof *fill);
	if (!fill)
		goto out;
	for (size_t i = 1; i < n; i++)
		if (kept[i]) {
			uint32_t p = cp_flat_node_parent(flat, i);
			child[first[p] + fill[p]++] = (uint32_t)i;
		}
	free(fill);
	sort_flat = flat;
	for (size_t i = 0; i < n; i++)
		qsort(child + first[i], first[i + 1] - first[i], sizeof *child, by_label);
	if (cp_flame_add(f, 0, n ? value[CP_FLAT_ROOT] : 0, 0, "total", 5))
		goto out;
	/* pre-order: children pushed in reverse so the first comes out first */
	size_t top = 0;
	if (n)
		level[CP_FLAT_ROOT] = 0;
	for (size_t j = n ? first[CP_FLAT_ROOT + 1] : 0; j-- > (n ? first[CP_FLAT_ROOT] : 0);)
		stack[top++] = child[j];
	while (top) {
		uint32_t node = stack[--top];
		level[node] = level[cp_flat_node_parent(flat, node)] + 1;
		cp_pstr name = cp_flat_function_name(flat, cp_flat_node_function(flat, node));
		if (cp_flame_add(f, level[node], value[node], cp_flat_node_self(flat, node, type), name.ptr, name.len))
			goto out;
		for (size_t j = first[node + 1]; j-- > first[node];)
			stack[top++] = child[j];
	}
	status = 0;
out:
	free(value);
	free(kept);
	free(first);
	free(child);
	free(stack);
	free(level);
	return status;
}

static void put_label(FILE *out, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
}

void cp_flame_print_folded(FILE *out, const cp_flame *f)
{
	const char **path = malloc((f->n ? f->n : 1) * sizeof *path); /* labels of the current path by level */
	if (!path)
		return;
	for (size_t i = 0; i < f->n; i++) {
		const cp_flame_node *node = &f->nodes[i];
		path[node->level] = node->label;
		if (node->level == 0 || node->self == 0)
			continue;
		for (int l = 1; l <= node->level; l++) {
			if (l > 1)
				fputc(';', out);
			put_label(out, path[l]);
		}
		fprintf(out, " %" PRId64 "\n", node->self);
	}
	free(path);
}

void cp_flame_print_frame(FILE *out, const cp_flame *f)
{
	fputs("level\tvalue\tself\tlabel\n", out);
	for (size_t i = 0; i < f->n; i++) {
		const cp_flame_node *node = &f->nodes[i];
		fprintf(out, "%d\t%" PRId64 "\t%" PRId64 "\t", node->level, node->value, node->self);
		cp_text_tsv(out, node->label, strlen(node->label));
		fputc('\n', out);
	}
}

void cp_flame_free(cp_flame *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->nodes[i].label);
	free(f->nodes);
	f->nodes = NULL;
	f->n = f->cap = 0;
}
