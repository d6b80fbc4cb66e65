/* cp_time: instants and durations written on command lines, as unix nanoseconds. Shared by
 * cprof-push (--time, --duration, --timeout) and cprof-query (--since, --until). Each returns
 * 0, or -1 with the reason in err (which the caller prefixes with the option). */
#ifndef CP_TIME_H
#define CP_TIME_H

#include <stddef.h>
#include <stdint.h>

/* An instant: all digits (unix nanoseconds, "1700000000000000000"), or RFC 3339
 * ("2024-05-01T12:00:00Z", "2024-05-01T14:00:00.25+02:00"; 't', 'z' and a space separator are
 * accepted as RFC 3339 allows; at most 9 fractional digits). From 1970 to 2262, the range of
 * int64 nanoseconds. */
int cp_time_parse_instant(const char *s, int64_t *out, char *err, size_t errlen);

/* A non-negative duration, written as Go's time.ParseDuration reads it: one or more decimal
 * numbers (fractions allowed), each with a unit ns, us (or µs), ms, s, m or h, e.g. "10s",
 * "1m30s", "1.5h", "250ms"; a bare "0" is zero. Also d (24h) and w (7d), which Go lacks. */
int cp_time_parse_duration(const char *s, int64_t *out, char *err, size_t errlen);

/* A point in the past for a query: a duration back from now_nanos ("90m", "36h", "2w"), an RFC
 * 3339 instant, or "now". Bare digits are refused (seconds or nanoseconds would be a guess). */
int cp_time_parse_since(const char *s, int64_t now_nanos, int64_t *out, char *err, size_t errlen);

/* [from, to) of a query from --since and --until (cp_time_parse_since each); an empty range is
 * refused. The message in err names the option. */
int cp_time_range(const char *since, const char *until, int64_t now_nanos, int64_t *from, int64_t *to, char *err,
		  size_t errlen);

/* now, as unix nanoseconds. */
int64_t cp_time_now(void);

/* An instant as RFC 3339 UTC with microseconds ("2026-11-21T10:00:00.000000Z"): what a
 * timestamptz parameter reads exactly. len >= 40. */
void cp_time_format(int64_t nanos, char *buf, size_t len);

#endif
