/* cp_log: prefixed one-line diagnostics on stderr; see cp_log.h. */
#include "cp_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *program = "cprof";

void cp_log_init(const char *name)
{
	program = name;
}

/* One line, written with one call: lines that threads (librdkafka's log callback) write at the
 * same time do not interleave. Longer lines than the buffer are cut, marked with "...". */
static void vline(const char *fmt, va_list ap)
{
	char line[8192];
	int n = snprintf(line, sizeof line, "%s: ", program);
	int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof line - 2) {
		len = sizeof line - 2;
		memcpy(line + len - 3, "...", 3);
	}
	line[len++] = '\n';
	fwrite(line, 1, len, stderr);
}

void cp_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(fmt, ap);
	va_end(ap);
	fflush(stderr);
}

int cp_log_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(fmt, ap);
	va_end(ap);
	fprintf(stderr, "(see '%s --help')\n", program);
	fflush(stderr);
	return 2;
}

int cp_log_results_written(void)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return 0;
	cp_log("writing the results failed");
	return -1;
}
