/* cp_profile_files: reads and decodes pprof files on worker threads (one per core, each with
 * its own reusable cp_pprof_decoder) and hands the profiles to a callback one at a time, strictly
 * in the order of the file list, on the calling thread. Decoding, most of the work, runs in
 * parallel; whatever the callback does (flattening, merging) stays sequential and ordered, so
 * the result is the same as a loop over the files.
 *
 * Ownership: the profile passed to the callback is valid only during the call. */
#ifndef CP_PROFILE_FILES_H
#define CP_PROFILE_FILES_H

#include <stddef.h>

#include "cp_pprof.h"

/* Returns 0 to go on, -1 to stop (with a message in err). */
typedef int (*cp_profile_fn)(const cp_pprof *profile, const char *path, void *arg, char *err, size_t errlen);

/* Calls fn for every file in order. Stops at the first file that cannot be read or decoded, or
 * the first callback that fails: returns -1 with "PATH: reason" in err, and no later file is
 * given to fn. max_size caps both the file size and the decompressed size. threads 0 picks
 * one per online core. */
int cp_profile_files_each(const char *const *paths, size_t npaths, size_t max_size, size_t threads,
			  cp_profile_fn fn, void *arg, char *err, size_t errlen);

#endif
