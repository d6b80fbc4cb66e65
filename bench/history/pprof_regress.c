/* pprof_regress: plants a CPU regression in a pprof profile for bench/history: the samples
 * whose leaf function (the first line of the first location, the function pprof's flat goes
 * to) is named NAME get every value multiplied by FACTOR; the rest is kept as it is.
 *
 * usage: pprof_regress -f NAME -x FACTOR IN.pb >OUT.pb
 *
 * IN and the output (on standard output) are raw (uncompressed) protobuf: gunzip before, and
 * feed the output to pprof_vary, which reads raw profiles and writes gzip. Says on stderr how
 * many samples it scaled; no sample with that leaf is an error (exit 1), so a renamed function
 * cannot plant nothing unnoticed. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cp_file.h"
#include "profile.pb-c.h"

#define MAX_FILE_BYTES ((size_t)1 << 30)

static const Perftools__Profiles__Location *find_location(const Perftools__Profiles__Profile *p, uint64_t id)
{
	for (size_t i = 0; i < p->n_location; i++)
		if (p->location[i]->id == id)
			return p->location[i];
	return NULL;
}

static const char *function_name(const Perftools__Profiles__Profile *p, uint64_t id)
{
	for (size_t i = 0; i < p->n_function; i++)
		if (p->function[i]->id == id)
			return p->function[i]->name >= 0 && (size_t)p->function[i]->name < p->n_string_table
				       ? p->string_table[p->function[i]->name]
				       : NULL;
	return NULL;
}

/* The name of the sample's leaf function, or NULL. */
static const char *leaf_name(const Perftools__Profiles__Profile *p, const Perftools__Profiles__Sample *s)
{
	if (s->n_location_id == 0)
		return NULL;
	const Perftools__Profiles__Location *loc = find_location(p, s->location_id[0]);
	if (!loc || loc->n_line == 0)
		return NULL;
	return function_name(p, loc->line[0]->function_id);
}

int main(int argc, char **argv)
{
	if (argc != 6 || strcmp(argv[1], "-f") != 0 || strcmp(argv[3], "-x") != 0) {
		fputs("usage: pprof_regress -f NAME -x FACTOR IN.pb >OUT.pb\n", stderr);
		return 2;
	}
	const char *name = argv[2], *in = argv[5];
	char *end;
	double factor = strtod(argv[4], &end);
	if (end == argv[4] || *end || !(factor > 0) || factor > 1000) {
		fprintf(stderr, "pprof_regress: -x wants a factor in (0, 1000], not '%s'\n", argv[4]);
		return 2;
	}
	uint8_t *data;
	size_t len;
	char err[512];
	if (cp_file_read(in, MAX_FILE_BYTES, &data, &len, err, sizeof err)) {
		fprintf(stderr, "pprof_regress: %s\n", err);
		return 1;
	}
	Perftools__Profiles__Profile *p = perftools__profiles__profile__unpack(NULL, len, data);
	free(data);
	if (!p) {
		fprintf(stderr, "pprof_regress: %s is not a raw pprof profile (gunzip it first?)\n", in);
		return 1;
	}
	size_t scaled = 0;
	for (size_t i = 0; i < p->n_sample; i++) {
		Perftools__Profiles__Sample *s = p->sample[i];
		const char *leaf = leaf_name(p, s);
		if (!leaf || strcmp(leaf, name) != 0)
			continue;
		for (size_t v = 0; v < s->n_value; v++)
			s->value[v] = (int64_t)llround((double)s->value[v] * factor);
		scaled++;
	}
	int status = 1;
	size_t packed_len = perftools__profiles__profile__get_packed_size(p);
	uint8_t *packed = malloc(packed_len ? packed_len : 1);
	if (!scaled) {
		fprintf(stderr, "pprof_regress: no sample of %s has the leaf function %s\n", in, name);
	} else if (!packed) {
		fputs("pprof_regress: out of memory\n", stderr);
	} else {
		perftools__profiles__profile__pack(p, packed);
		if (fwrite(packed, 1, packed_len, stdout) != packed_len || fflush(stdout) != 0) {
			fprintf(stderr, "pprof_regress: cannot write the output: %s\n", strerror(errno));
		} else {
			fprintf(stderr, "pprof_regress: %s: %zu of %zu samples (leaf %s) scaled by %g\n", in, scaled,
				p->n_sample, name, factor);
			status = 0;
		}
	}
	free(packed);
	perftools__profiles__profile__free_unpacked(p, NULL);
	return status;
}
