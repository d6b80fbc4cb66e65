/* cp_file: reads a whole file into memory, refusing files larger than a cap.
 *
 * Ownership: on success *data is a malloc'd buffer the caller frees. */
#ifndef CP_FILE_H
#define CP_FILE_H

#include <stddef.h>
#include <stdint.h>

/* Returns 0, or -1 with a message (naming the path) in err. */
int cp_file_read(const char *path, size_t cap, uint8_t **data, size_t *len, char *err, size_t errlen);

#endif
