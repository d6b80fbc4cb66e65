/* cp_file: whole-file reads with a size cap, whole-or-nothing writes; see cp_file.h. */
#include "cp_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cp_file_read(const char *path, size_t cap, uint8_t **data, size_t *len, char *err, size_t errlen)
{
	*data = NULL;
	*len = 0;
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* A regular file's size is known: refuse it before reading, and read it in one buffer. */
	struct stat st;
	size_t size = 0, alloc = 64 * 1024;
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode)) {
		if ((uintmax_t)st.st_size > cap) {
			snprintf(err, errlen, "%s: larger than the cap of %zu bytes", path, cap);
			fclose(f);
			return -1;
		}
		alloc = (size_t)st.st_size + 1; /* +1: end of file is seen without growing */
	}
	uint8_t *buf = malloc(alloc);
	int rc = -1;
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		if (size == alloc) {
			if (alloc > cap) {
				snprintf(err, errlen, "%s: larger than the cap of %zu bytes", path, cap);
				goto out;
			}
			size_t grown = alloc > cap / 2 ? cap + 1 : alloc * 2; /* never more than cap + 1 */
			uint8_t *nb = realloc(buf, grown);
			if (!nb) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto out;
			}
			buf = nb;
			alloc = grown;
		}
		size_t n = fread(buf + size, 1, alloc - size, f);
		size += n;
		if (n == 0) {
			if (ferror(f)) {
				snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
				goto out;
			}
			break;
		}
	}
	if (size > cap) {
		snprintf(err, errlen, "%s: larger than the cap of %zu bytes", path, cap);
		goto out;
	}
	*data = buf;
	*len = size;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	fclose(f);
	return rc;
}

int cp_file_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
	size_t n = strlen(path) + 32;
	char *tmp = malloc(n);
	if (!tmp) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
	FILE *f = fopen(tmp, "wb");
	if (!f) {
		snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	int bad = fwrite(data, 1, len, f) != len;
	bad |= fflush(f) != 0;
	bad |= fsync(fileno(f)) != 0;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}
