/* cp_flat: flattens pprof profiles into what cprof stores and answers from: for every sample
 * type, the exact flat and cum of every function, as `go tool pprof` computes them at function
 * granularity, and per-stack values (a prefix tree of functions, root to leaf) for flame graphs
 * and pprof export.
 *
 * Semantics (shared/corpus/README.md, DESIGN.md): frames run location[0].line[0] (the leaf),
 * location[0].line[1], ..., location[1].line[0], ...; flat goes to the leaf frame's function,
 * cum to every distinct function of the sample once (recursion counts once). A frame with no
 * function name (address-only location, function_id 0, empty name) is named
 * "[<basename of the mapping file>]", or "<unknown>" without one, as pprof prints it; functions
 * are merged by that printed name (pprof keeps unnamed functions that differ in start line or
 * mapping path as separate rows with the same printed name; cprof's unit is the printed name,
 * as in the corpus oracle). Mappings are merged as pprof's merge does (same size rounded to
 * 4 KiB, offset and build id or file: the first one met names them all), and a mapping file
 * that parses as an absolute URL without a build id names its frames "<unknown>", as pprof
 * clears it. drop_frames/keep_frames prune stacks as pprof's RemoveUninteresting does
 * (cp_prune.h); rules that do not compile prune nothing, as in pprof.
 *
 * Several profiles added to one accumulator merge as `go tool pprof` merges them: the first
 * fixes the sample types, period type and drop_frames rules; later ones must have the same
 * sample types and period type. Memory grows with the distinct functions and stack prefixes,
 * never with samples x depth.
 *
 * Ownership: the caller owns the accumulator (cp_flat_destroy); it keeps no pointer into the
 * profiles it was given, which may be freed right after cp_flat_add. Strings returned by the
 * accessors live as long as the accumulator. */
#ifndef CP_FLAT_H
#define CP_FLAT_H

#include <stddef.h>
#include <stdint.h>

#include "cp_pprof.h"

typedef struct cp_flat cp_flat;

enum {
	CP_FLAT_STACKS = 1, /* also build the stack prefix tree */
};

#define CP_FLAT_ROOT 0u /* the stack tree's root node: no function, parent of every root frame */

cp_flat *cp_flat_new(unsigned flags);
void cp_flat_destroy(cp_flat *flat);

/* Adds one profile. Returns 0, or -1 with a message: sample types or period type that differ
 * from the first profile's, values whose absolute sum overflows int64 (both checked before
 * anything is added, so such a profile leaves the accumulator unchanged), or out of memory
 * (after which the accumulator must be destroyed). */
int cp_flat_add(cp_flat *flat, const cp_pprof *profile, char *err, size_t errlen);

size_t cp_flat_nprofiles(const cp_flat *flat);
size_t cp_flat_ntypes(const cp_flat *flat);
cp_pstr cp_flat_type(const cp_flat *flat, size_t type);
cp_pstr cp_flat_unit(const cp_flat *flat, size_t type);
/* The first non-empty default_sample_type among the profiles added (empty when none). */
cp_pstr cp_flat_default_type(const cp_flat *flat);
/* Plain sum of the sample values of one type, and the sum of their absolute values (pprof's
 * -top total). Empty stacks count. */
int64_t cp_flat_total(const cp_flat *flat, size_t type);
int64_t cp_flat_total_abs(const cp_flat *flat, size_t type);

/* Functions, by printed name. Some may have zero flat and cum for a given type. */
size_t cp_flat_nfunctions(const cp_flat *flat);
cp_pstr cp_flat_function_name(const cp_flat *flat, size_t function);
int64_t cp_flat_flat(const cp_flat *flat, size_t function, size_t type);
int64_t cp_flat_cum(const cp_flat *flat, size_t function, size_t type);

/* The stack tree (only with CP_FLAT_STACKS): node CP_FLAT_ROOT and nodes 1..n-1, each with a
 * parent (a smaller node id) and a function. self is the value of the samples whose stack ends
 * exactly at this node; a stack is the path from the root to a node with non-zero self. */
size_t cp_flat_nnodes(const cp_flat *flat);
uint32_t cp_flat_node_parent(const cp_flat *flat, size_t node);
uint32_t cp_flat_node_function(const cp_flat *flat, size_t node);
int64_t cp_flat_node_self(const cp_flat *flat, size_t node, size_t type);

#endif
