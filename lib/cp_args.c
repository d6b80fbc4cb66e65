/* cp_args: strict command-line numbers; see cp_args.h. */
#include "cp_args.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

int cp_args_size(const char *s, size_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || s[0] == '+' || v > SIZE_MAX)
		return -1;
	*out = (size_t)v;
	return 0;
}

int cp_args_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}
