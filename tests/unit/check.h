/* check.h: the smallest unit-test harness that does the job. A test is a function; CHECK
 * records a failure (file:line and the expression) without stopping the test; RUN counts a
 * test as passed when none of its checks failed; check_summary prints
 * "<suite>: N passed, N failed" and returns the process exit status. */
#ifndef CPROF_TEST_CHECK_H
#define CPROF_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures_in_test, check_passed, check_failed;

#define CHECK(cond)                                                                    \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			check_failures_in_test++;                                      \
		}                                                                      \
	} while (0)

/* Checks that haystack contains needle, printing both when not. */
#define CHECK_CONTAINS(haystack, needle)                                                        \
	do {                                                                                    \
		const char *h_ = (haystack), *n_ = (needle);                                    \
		if (!h_ || !strstr(h_, n_)) {                                                   \
			fprintf(stderr, "%s:%d: check failed: \"%s\" does not contain \"%s\"\n", \
				__FILE__, __LINE__, h_ ? h_ : "(null)", n_);                    \
			check_failures_in_test++;                                               \
		}                                                                               \
	} while (0)

#define RUN(test)                                                         \
	do {                                                              \
		check_failures_in_test = 0;                               \
		test();                                                   \
		if (check_failures_in_test) {                             \
			fprintf(stderr, "FAIL %s\n", #test);              \
			check_failed++;                                   \
		} else {                                                  \
			check_passed++;                                   \
		}                                                         \
	} while (0)

static inline int check_summary(const char *suite)
{
	printf("%s: %d passed, %d failed\n", suite, check_passed, check_failed);
	return check_failed || !check_passed ? 1 : 0;
}

#endif
