/* files: what the commands that read pprof files share (`cprof-query top --file`, `flame
 * --file`): decoding and merging them into a cp_flat on every core, in order, and picking the
 * sample type to report as pprof picks it. Messages go through cp_log (the command's name). */
#ifndef CP_QUERY_FILES_H
#define CP_QUERY_FILES_H

#include <stddef.h>

#include "cp_flat.h"

/* Decodes every file (on all cores) and adds them to flat in order. Returns 0, or -1 after
 * logging the first failure with its file name. */
int cp_files_flatten(cp_flat *flat, const char *const *files, size_t nfiles, size_t max_size);

/* pprof's SampleIndexByName: by position (index >= 0), by type name (also without an "inuse_"
 * prefix), or the default_sample_type, else the last type. Returns the index, or -1 after
 * logging why. */
long cp_files_sample_index(const cp_flat *flat, long index, const char *type);

/* --sample-index N: a position >= 0. Returns 0, or the usage error's exit status after
 * logging it. */
int cp_files_sample_index_option(const char *value, long *out);

/* The rules a command reading files or stored data checks once its options are parsed: files
 * (--file given) and a selection are not mixed, FILE arguments come with --file, and
 * --sample-index is for files and excludes --sample-type. extra names another option of stored
 * data only that was given (NULL: none). Returns -1 to go on, or the usage error's status. */
int cp_files_check_mode(int file_mode, const char *const *files, size_t nfiles, int selection_given,
			const char *extra, long sample_index, const char *sample_type);

#endif
