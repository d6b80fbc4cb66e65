/* cp_log: prefixed one-line diagnostics on stderr; see cp_log.h. */
#include "cp_log.h"

#include <stdarg.h>
#include <stdio.h>

static const char *program = "cprof";

void cp_log_init(const char *name)
{
	program = name;
}

static void vline(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", program);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
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
	return 2;
}

int cp_log_results_written(void)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return 0;
	cp_log("writing the results failed");
	return -1;
}
