/* push_args: the key=value pairs of cprof-push's command line (times and durations are
 * lib/cp_time's). Returns 0, or -1 with the reason in err (which the caller prefixes with the
 * option). */
#ifndef CP_PUSH_ARGS_H
#define CP_PUSH_ARGS_H

#include <stddef.h>
#include <stdint.h>

/* Splits "KEY=VALUE" at the first '=' into key (NUL-terminated copy in keybuf) and *value (into
 * s). The key must be non-empty and shorter than keylen. */
int push_split_pair(const char *s, char *keybuf, size_t keylen, const char **value, char *err, size_t errlen);

#endif
