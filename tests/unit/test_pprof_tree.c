/* test_pprof_tree: the pprof writer of `cprof-query export` (query/pprof_tree.c). A small tree
 * written out decodes with cprof's own decoder into the expected sample types, default type,
 * comment, functions, one location per function and a sample per node with a self value, its
 * stack walked up to the root; nodes out of order, a missing parent, a cycle and a function id
 * of 0 are refused with their reason. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cp_pprof.h"
#include "pprof_tree.h"

static const char *str(const cp_pprof *p, uint32_t i)
{
	static char buf[256];
	snprintf(buf, sizeof buf, "%.*s", (int)p->strings[i].len, p->strings[i].ptr);
	return buf;
}

/* main -> work -> leaf (self 5, 50), main -> idle (self 0, 7), main (self 1, 0); work has no self. */
static void build(cp_pprof_tree *t)
{
	char err[256];
	CHECK(cp_pprof_tree_add_type(t, "samples", "count") == 0);
	CHECK(cp_pprof_tree_add_type(t, "cpu", "nanoseconds") == 0);
	t->default_type = 1;
	t->time_nanos = 1000;
	t->duration_nanos = 2000;
	CHECK(cp_pprof_tree_set_comment(t, "cprof export: test") == 0);
	const int64_t main_self[] = {1, 0}, leaf_self[] = {5, 50}, idle_self[] = {0, 7};
	CHECK(cp_pprof_tree_add_node(t, 10, 0, 1, "main", 4, main_self, err, sizeof err) == 0);
	CHECK(cp_pprof_tree_add_node(t, 11, 10, 2, "work", 4, NULL, err, sizeof err) == 0);
	CHECK(cp_pprof_tree_add_node(t, 12, 11, 3, "leaf", 4, leaf_self, err, sizeof err) == 0);
	CHECK(cp_pprof_tree_add_node(t, 13, 10, 4, "idle", 4, idle_self, err, sizeof err) == 0);
}

static void test_round_trip(void)
{
	cp_pprof_tree t = {0};
	build(&t);
	uint8_t *data = NULL;
	size_t len = 0;
	char err[256] = "";
	CHECK(cp_pprof_tree_encode(&t, &data, &len, err, sizeof err) == 0);
	CHECK(len > 2 && data[0] == 0x1f && data[1] == 0x8b);
	cp_pprof *p = NULL;
	CHECK(cp_pprof_decode(data, len, NULL, &p, err, sizeof err) == 0);
	if (p) {
		CHECK(p->nsample_types == 2);
		CHECK(strcmp(str(p, p->sample_types[1].type), "cpu") == 0);
		CHECK(strcmp(str(p, p->sample_types[1].unit), "nanoseconds") == 0);
		CHECK(strcmp(str(p, p->default_sample_type), "cpu") == 0);
		CHECK(p->ncomments == 1 && strcmp(str(p, p->comments[0]), "cprof export: test") == 0);
		CHECK(p->time_nanos == 1000 && p->duration_nanos == 2000);
		CHECK(p->nfunctions == 4 && p->nlocations == 4);
		CHECK(p->nsamples == 3); /* work has no self value: no sample */
		int leaf_found = 0;
		for (size_t i = 0; i < p->nsamples; i++) {
			const cp_pprof_sample *s = &p->samples[i];
			if (s->values[1] != 50)
				continue;
			leaf_found = 1;
			CHECK(s->values[0] == 5 && s->nlocations == 3);
			const char *want[] = {"leaf", "work", "main"};
			for (uint32_t k = 0; k < s->nlocations && k < 3; k++) {
				const cp_pprof_location *l = &p->locations[s->locations[k]];
				CHECK(l->nlines == 1);
				CHECK(strcmp(str(p, p->functions[l->lines[0].function].name), want[k]) == 0);
			}
		}
		CHECK(leaf_found);
	}
	cp_pprof_free(p);
	free(data);
	cp_pprof_tree_free(&t);
}

static void test_refused(void)
{
	char err[256] = "";
	uint8_t *data = NULL;
	size_t len = 0;
	const int64_t self[] = {1};

	cp_pprof_tree t = {0};
	CHECK(cp_pprof_tree_add_type(&t, "samples", "count") == 0);
	CHECK(cp_pprof_tree_add_node(&t, 5, 0, 1, "a", 1, self, err, sizeof err) == 0);
	CHECK(cp_pprof_tree_add_node(&t, 5, 0, 2, "b", 1, self, err, sizeof err) == -1);
	CHECK_CONTAINS(err, "increasing id");
	CHECK(cp_pprof_tree_add_type(&t, "late", "count") == -1); /* types come before nodes */
	cp_pprof_tree_free(&t);

	CHECK(cp_pprof_tree_add_type(&t, "samples", "count") == 0);
	CHECK(cp_pprof_tree_add_node(&t, 5, 4, 1, "orphan", 6, self, err, sizeof err) == 0);
	CHECK(cp_pprof_tree_encode(&t, &data, &len, err, sizeof err) == -1 && data == NULL);
	CHECK_CONTAINS(err, "stack 5: its parent 4 is missing");
	cp_pprof_tree_free(&t);

	CHECK(cp_pprof_tree_add_type(&t, "samples", "count") == 0);
	CHECK(cp_pprof_tree_add_node(&t, 1, 2, 1, "a", 1, self, err, sizeof err) == 0);
	CHECK(cp_pprof_tree_add_node(&t, 2, 1, 2, "b", 1, NULL, err, sizeof err) == 0);
	CHECK(cp_pprof_tree_encode(&t, &data, &len, err, sizeof err) == -1);
	CHECK_CONTAINS(err, "cycle");
	cp_pprof_tree_free(&t);

	CHECK(cp_pprof_tree_add_type(&t, "samples", "count") == 0);
	CHECK(cp_pprof_tree_add_node(&t, 1, 0, 0, "a", 1, self, err, sizeof err) == 0);
	CHECK(cp_pprof_tree_encode(&t, &data, &len, err, sizeof err) == -1);
	CHECK_CONTAINS(err, "function id 0 is not positive");
	cp_pprof_tree_free(&t);
}

int main(void)
{
	RUN(test_round_trip);
	RUN(test_refused);
	return check_summary("test_pprof_tree");
}
