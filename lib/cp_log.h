/* cp_log: diagnostics of cprof's programs on stderr, one line each, prefixed with the program
 * (and command) name, so that a line in a mixed log says who wrote it: "cprof-worker: ...".
 * Results go to stdout; these never do.
 *
 * Ownership: cp_log_init keeps the pointer it is given (a string literal or argv[0]). */
#ifndef CP_LOG_H
#define CP_LOG_H

#if defined(__GNUC__)
#define CP_LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CP_LOG_PRINTF(a, b)
/* Flushes stdout, where the results went: 0, or -1 after logging that writing them failed. */
int cp_log_results_written(void);

#endif

/* Sets the prefix, e.g. "cprof-query top". */
void cp_log_init(const char *program);

/* "program: message" and a newline, flushed. */
CP_LOG_PRINTF(1, 2) void cp_log(const char *fmt, ...);

/* A wrong command line: the message, then "(see 'program --help')". Returns 2, the exit
 * status of usage errors. */
CP_LOG_PRINTF(1, 2) int cp_log_usage(const char *fmt, ...);

/* Flushes stdout, where the results went: 0, or -1 after logging that writing them failed. */
int cp_log_results_written(void);

#endif
