/* fuzz_pprof: the fuzz target for cprof's pprof decoder and flattener. Every input is decoded
 * with a small decompression cap; an accepted profile is flattened with the stack tree and
 * every accessor is read once, so a decoder that lets an inconsistent profile through shows
 * up as a sanitizer report in the flattener. Built and run by `make fuzz` (tests/fuzz/run-fuzz). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cp_flat.h"
#include "cp_pprof.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { FUZZ_MAX_DECOMPRESSED = 16 << 20 };

/* Keeps the compiler from dropping reads whose results are otherwise unused. */
static volatile uint64_t fuzz_sink;

static void touch_string(cp_pstr s)
{
	uint64_t h = s.len;
	for (uint32_t i = 0; i < s.len; i++)
		h = h * 31 + (unsigned char)s.ptr[i];
	fuzz_sink += h;
}

/* Reads every field of a decoded profile, including the strings its indices point at. */
static void read_profile(const cp_pprof *p)
{
	for (size_t i = 0; i < p->nsample_types; i++) {
		touch_string(cp_pprof_string(p, p->sample_types[i].type));
		touch_string(cp_pprof_string(p, p->sample_types[i].unit));
	}
	for (size_t i = 0; i < p->nsamples; i++) {
		const cp_pprof_sample *s = &p->samples[i];
		for (uint32_t k = 0; k < s->nlocations; k++)
			fuzz_sink += p->locations[s->locations[k]].id;
		for (size_t t = 0; t < p->nsample_types; t++)
			fuzz_sink += (uint64_t)s->values[t];
		for (uint32_t k = 0; k < s->nlabels; k++) {
			touch_string(cp_pprof_string(p, s->labels[k].key));
			touch_string(cp_pprof_string(p, s->labels[k].str));
			touch_string(cp_pprof_string(p, s->labels[k].num_unit));
		}
	}
	for (size_t i = 0; i < p->nmappings; i++) {
		touch_string(cp_pprof_string(p, p->mappings[i].filename));
		touch_string(cp_pprof_string(p, p->mappings[i].build_id));
	}
	for (size_t i = 0; i < p->nlocations; i++) {
		const cp_pprof_location *loc = &p->locations[i];
		if (loc->mapping != CP_PPROF_NONE)
			fuzz_sink += p->mappings[loc->mapping].id;
		for (uint32_t k = 0; k < loc->nlines; k++)
			if (loc->lines[k].function != CP_PPROF_NONE)
				fuzz_sink += p->functions[loc->lines[k].function].id;
	}
	for (size_t i = 0; i < p->nfunctions; i++) {
		touch_string(cp_pprof_string(p, p->functions[i].name));
		touch_string(cp_pprof_string(p, p->functions[i].system_name));
		touch_string(cp_pprof_string(p, p->functions[i].filename));
	}
	for (size_t i = 0; i < p->ncomments; i++)
		touch_string(cp_pprof_string(p, p->comments[i]));
	touch_string(cp_pprof_string(p, p->drop_frames));
	touch_string(cp_pprof_string(p, p->keep_frames));
	touch_string(cp_pprof_string(p, p->default_sample_type));
	touch_string(cp_pprof_string(p, p->period_type.type));
	touch_string(cp_pprof_string(p, p->period_type.unit));
}

/* Reads every accessor of a flattened profile once. */
static void read_flat(const cp_flat *flat)
{
	size_t ntypes = cp_flat_ntypes(flat);
	fuzz_sink += cp_flat_nprofiles(flat);
	touch_string(cp_flat_default_type(flat));
	for (size_t t = 0; t < ntypes; t++) {
		touch_string(cp_flat_type(flat, t));
		touch_string(cp_flat_unit(flat, t));
		fuzz_sink += (uint64_t)cp_flat_total(flat, t) + (uint64_t)cp_flat_total_abs(flat, t);
	}
	size_t nfunctions = cp_flat_nfunctions(flat);
	for (size_t fn = 0; fn < nfunctions; fn++) {
		touch_string(cp_flat_function_name(flat, fn));
		for (size_t t = 0; t < ntypes; t++)
			fuzz_sink += (uint64_t)cp_flat_flat(flat, fn, t) + (uint64_t)cp_flat_cum(flat, fn, t);
	}
	size_t nnodes = cp_flat_nnodes(flat);
	for (size_t n = 0; n < nnodes; n++) {
		uint32_t parent = cp_flat_node_parent(flat, n);
		uint32_t function = cp_flat_node_function(flat, n);
		/* The documented shape: node 0 is the root; every other node has a smaller parent and
		 * a function that exists. */
		if (n > 0 && (parent >= n || function >= nfunctions))
			abort();
		fuzz_sink += parent + function;
		for (size_t t = 0; t < ntypes; t++)
			fuzz_sink += (uint64_t)cp_flat_node_self(flat, n, t);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cp_pprof_limits limits = {.max_decompressed = FUZZ_MAX_DECOMPRESSED};
	cp_pprof *profile = NULL;
	char err[512];
	if (cp_pprof_decode(data, size, &limits, &profile, err, sizeof err)) {
		if (profile || err[0] == '\0')
			abort(); /* a failure must leave no profile and say why */
		return 0;
	}
	read_profile(profile);

	cp_flat *flat = cp_flat_new(CP_FLAT_STACKS);
	if (!flat)
		abort();
	err[0] = '\0';
	if (cp_flat_add(flat, profile, err, sizeof err) == 0) {
		read_flat(flat);
		/* A second add of the same profile exercises merging. */
		if (cp_flat_add(flat, profile, err, sizeof err) == 0)
			read_flat(flat);
	} else if (err[0] == '\0') {
		abort();
	}
	cp_flat_destroy(flat);
	cp_pprof_free(profile);
	return 0;
}
