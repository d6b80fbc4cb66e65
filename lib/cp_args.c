/* cp_args: strict command-line numbers and KEY=VALUE pairs; see cp_args.h. */
#include "cp_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

int cp_args_pair(const char *s, char *keybuf, size_t keylen, const char **value, char *err, size_t errlen)
{
	const char *eq = strchr(s, '=');
	if (!eq || eq == s) {
		snprintf(err, errlen, "'%s': expected KEY=VALUE", s);
		return -1;
	}
	size_t n = (size_t)(eq - s);
	if (n >= keylen) {
		snprintf(err, errlen, "'%.40s...': the key is longer than %zu bytes", s, keylen - 1);
		return -1;
	}
	memcpy(keybuf, s, n);
	keybuf[n] = '\0';
	*value = eq + 1;
	return 0;
}
