/* cp_args: strict parsing of numbers given on command lines: the whole string must be a decimal
 * number within the bounds, or the call fails (no silent 0 for "abc", no wrap of "-1" to a
 * huge size); and KEY=VALUE pairs (labels, -X properties). Shared by every cprof command. */
#ifndef CP_ARGS_H
#define CP_ARGS_H

#include <stddef.h>

/* A size: decimal digits only. Returns 0, or -1 when s is not one. */
int cp_args_size(const char *s, size_t *out);
/* A decimal integer in [min, max]. Returns 0, or -1 when s is not one. */
int cp_args_long(const char *s, long min, long max, long *out);

/* Splits "KEY=VALUE" at the first '=' into key (NUL-terminated copy in keybuf) and *value (into
 * s). The key must be non-empty and shorter than keylen. Returns 0, or -1 with the reason in err
 * ("'KEY': expected KEY=VALUE"), which the caller prefixes with the option. */
int cp_args_pair(const char *s, char *keybuf, size_t keylen, const char **value, char *err, size_t errlen);

#endif
