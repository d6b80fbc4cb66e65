/* push_args: the values of cprof-push's command line that need more than strtol: times (RFC 3339
 * or unix nanoseconds), Go-style durations (10s, 1m30s, 250ms) and key=value pairs.
 * Each returns 0, or -1 with the reason in err (which the caller prefixes with the option). */
#ifndef CP_PUSH_ARGS_H
#define CP_PUSH_ARGS_H

#include <stddef.h>
#include <stdint.h>

/* An instant as unix nanoseconds: all digits ("1700000000000000000"), or RFC 3339
 * ("2024-05-01T12:00:00Z", "2024-05-01T14:00:00.25+02:00"; 't', 'z' and a space separator are
 * accepted as RFC 3339 allows; at most 9 fractional digits). From 1970 to 2262, the range of
 * int64 nanoseconds. */
int push_parse_time(const char *s, int64_t *out, char *err, size_t errlen);

/* A non-negative duration in nanoseconds, written as Go's time.ParseDuration reads it: one or
 * more decimal numbers (fractions allowed), each with a unit ns, us (or µs), ms, s, m or h, e.g.
 * "10s", "1m30s", "1.5h", "250ms"; a bare "0" is zero. */
int push_parse_duration(const char *s, int64_t *out, char *err, size_t errlen);

/* Splits "KEY=VALUE" at the first '=' into key (NUL-terminated copy in keybuf) and *value (into
 * s). The key must be non-empty and shorter than keylen. */
int push_split_pair(const char *s, char *keybuf, size_t keylen, const char **value, char *err, size_t errlen);

#endif
