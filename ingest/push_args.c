/* push_args: key=value pairs of cprof-push's command line; see push_args.h. */
#include "push_args.h"

#include <stdio.h>
#include <string.h>

int push_split_pair(const char *s, char *keybuf, size_t keylen, const char **value, char *err, size_t errlen)
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
