/* cp_file: reads a whole file into memory, refusing files larger than a cap; writes a whole
 * file so that readers see all of it or none of it.
 *
 * Ownership: on success *data is a malloc'd buffer the caller frees. */
#ifndef CP_FILE_H
#define CP_FILE_H

#include <stddef.h>
#include <stdint.h>

/* Returns 0, or -1 with a message (naming the path) in err. */
int cp_file_read(const char *path, size_t cap, uint8_t **data, size_t *len, char *err, size_t errlen);

/* Writes len bytes to path whole or not at all: into PATH.tmp.PID beside it, flushed to disk,
 * then renamed over path. Returns 0, or -1 with a message naming the file in err (the
 * temporary file removed). */
int cp_file_write_atomic(const char *path, const void *data, size_t len, char *err, size_t errlen);

#endif
