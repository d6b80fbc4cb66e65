/* files: decoding, merging and the sample type of pprof files for cprof-query; see files.h. */
#include "files.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cp_args.h"
#include "cp_log.h"
#include "cp_profile_files.h"

long cp_files_sample_index(const cp_flat *flat, long index, const char *type)
{
	size_t n = cp_flat_ntypes(flat);
	if (index >= 0) {
		if ((size_t)index >= n) {
			cp_log("sample index %ld is outside the range [0..%zu]", index, n - 1);
			return -1;
		}
		return index;
	}
	const char *want = type;
	size_t want_len = want ? strlen(want) : 0;
	if (!want) {
		cp_pstr d = cp_flat_default_type(flat);
		want = d.ptr;
		want_len = d.len;
	}
	if (want_len) {
		const char *no_inuse = want;
		size_t no_inuse_len = want_len;
		if (want_len > 6 && memcmp(want, "inuse_", 6) == 0) {
			no_inuse += 6;
			no_inuse_len -= 6;
		}
		for (size_t t = 0; t < n; t++) {
			cp_pstr ty = cp_flat_type(flat, t);
			if ((ty.len == want_len && memcmp(ty.ptr, want, want_len) == 0) ||
			    (ty.len == no_inuse_len && memcmp(ty.ptr, no_inuse, no_inuse_len) == 0))
				return (long)t;
		}
		if (type) {
			char have[1024] = "";
			size_t at = 0;
			for (size_t t = 0; t < n && at < sizeof have; t++)
				at += (size_t)snprintf(have + at, sizeof have - at, " %.*s", (int)cp_flat_type(flat, t).len,
						       cp_flat_type(flat, t).ptr);
			cp_log("sample type '%s' not found; the profiles have:%s", want, have);
			return -1;
		}
	}
	return (long)n - 1;
}

static int add_to_flat(const cp_pprof *profile, const char *path, void *flat, char *err, size_t errlen)
{
	(void)path;
	return cp_flat_add(flat, profile, err, errlen);
}

int cp_files_flatten(cp_flat *flat, const char *const *files, size_t nfiles, size_t max_size)
{
	char err[640];
	if (cp_profile_files_each(files, nfiles, max_size, 0, add_to_flat, flat, err, sizeof err)) {
		cp_log("%s", err);
		return -1;
	}
	return 0;
}


int cp_files_sample_index_option(const char *value, long *out)
{
	size_t n;
	if (cp_args_size(value, &n) || n > INT32_MAX)
		return cp_log_usage("--sample-index wants a number >= 0, not '%s'", value);
	*out = (long)n;
	return 0;
}

int cp_files_check_mode(int file_mode, const char *const *files, size_t nfiles, int selection_given,
			const char *extra, long sample_index, const char *sample_type)
{
	if (file_mode && (selection_given || extra))
		return cp_log_usage("%s", "--file reads files; the selection options (--service, --since, ...) query "
					  "stored data: give one or the other");
	if (!file_mode && nfiles)
		return cp_log_usage("unexpected argument '%s' (profiles are given with --file)", files[0]);
	if (sample_index >= 0 && (sample_type || !file_mode))
		return cp_log_usage("%s", file_mode ? "give --sample-index or --sample-type, not both"
						    : "--sample-index is for files; stored data is selected with --sample-type");
	return -1;
}
