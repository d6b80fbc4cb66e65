/* cp_time: instants and durations written on command lines; see cp_time.h. */
#include "cp_time.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NANOS_PER_SECOND INT64_C(1000000000)

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Reads exactly n digits at *p into *out and advances *p. */
static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!is_digit((*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int expect(const char **p, const char *one_of)
{
	if (**p && strchr(one_of, **p)) {
		(*p)++;
		return 0;
	}
	return -1;
}

/* Days from 1970-01-01 to the proleptic Gregorian date y-m-d (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : days[m - 1];
}

static int parse_rfc3339(const char *s, int64_t *out)
{
	const char *p = s;
	int year, month, day, hour, min, sec, off_h = 0, off_m = 0, sign = 0;
	if (digits(&p, 4, &year) || expect(&p, "-") || digits(&p, 2, &month) || expect(&p, "-") ||
	    digits(&p, 2, &day) || expect(&p, "Tt ") || digits(&p, 2, &hour) || expect(&p, ":") ||
	    digits(&p, 2, &min) || expect(&p, ":") || digits(&p, 2, &sec))
		return -1;
	int64_t frac = 0;
	if (*p == '.') {
		p++;
		int n = 0;
		while (is_digit(*p) && n < 9) {
			frac = frac * 10 + (*p++ - '0');
			n++;
		}
		if (n == 0 || is_digit(*p))
			return -1;
		for (; n < 9; n++)
			frac *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (digits(&p, 2, &off_h) || expect(&p, ":") || digits(&p, 2, &off_m) || off_h > 23 || off_m > 59)
			return -1;
	} else {
		return -1;
	}
	if (*p || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 || min > 59 ||
	    sec > 59)
		return -1;
	int64_t secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec -
		       sign * (off_h * 3600 + off_m * 60);
	if (secs < 0 || secs > (INT64_MAX - frac) / NANOS_PER_SECOND)
		return 1;
	*out = secs * NANOS_PER_SECOND + frac;
	return 0;
}

int cp_time_parse_instant(const char *s, int64_t *out, char *err, size_t errlen)
{
	size_t n = strlen(s);
	if (n && strspn(s, "0123456789") == n) {
		int64_t v = 0;
		for (size_t i = 0; i < n; i++) {
			int d = s[i] - '0';
			if (v > (INT64_MAX - d) / 10) {
				snprintf(err, errlen, "'%s' is past the largest time in int64 nanoseconds (2262)", s);
				return -1;
			}
			v = v * 10 + d;
		}
		*out = v;
		return 0;
	}
	int rc = parse_rfc3339(s, out);
	if (rc == 1)
		snprintf(err, errlen, "'%s' is outside 1970-01-01T00:00:00Z to 2262-04-11T23:47:16Z", s);
	else if (rc)
		snprintf(err, errlen,
			 "'%s' is neither RFC 3339 (2024-05-01T12:00:00Z, 2024-05-01T14:00:00.5+02:00) nor unix "
			 "nanoseconds",
			 s);
	return rc ? -1 : 0;
}

int cp_time_parse_duration(const char *s, int64_t *out, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		int64_t nanos;
	} units[] = {
		{"ns", 1}, {"us", 1000}, {"\xc2\xb5s", 1000}, {"\xce\xbcs", 1000}, {"ms", 1000000},
		{"s", NANOS_PER_SECOND}, {"m", 60 * NANOS_PER_SECOND}, {"h", 3600 * NANOS_PER_SECOND},
		{"d", 86400 * NANOS_PER_SECOND}, {"w", 7 * 86400 * NANOS_PER_SECOND},
	};
	if (strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	const char *p = s;
	int64_t total = 0;
	if (!*p)
		goto bad;
	while (*p) {
		int64_t whole = 0, frac = 0, scale = 1;
		int any = 0;
		for (; is_digit(*p); p++, any = 1) {
			int d = *p - '0';
			if (whole > (INT64_MAX - d) / 10)
				goto overflow;
			whole = whole * 10 + d;
		}
		if (*p == '.') {
			p++;
			for (; is_digit(*p); p++, any = 1)
				if (scale < NANOS_PER_SECOND * 1000) { /* digits past nanosecond precision drop */
					frac = frac * 10 + (*p - '0');
					scale *= 10;
				}
		}
		if (!any)
			goto bad;
		size_t best = 0, best_len = 0;
		for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
			size_t len = strlen(units[u].name);
			if (strncmp(p, units[u].name, len) == 0 && len > best_len) {
				best = u;
				best_len = len;
			}
		}
		if (!best_len)
			goto bad;
		p += best_len;
		int64_t unit = units[best].nanos;
		if (whole > INT64_MAX / unit)
			goto overflow;
		int64_t v = whole * unit;
		/* the fraction of a unit, as Go computes it (in floating point, truncated) */
		int64_t part = frac ? (int64_t)((double)frac * ((double)unit / (double)scale)) : 0;
		if (v > INT64_MAX - part || total > INT64_MAX - (v + part))
			goto overflow;
		total += v + part;
	}
	*out = total;
	return 0;
overflow:
	snprintf(err, errlen, "'%s' is longer than int64 nanoseconds hold (about 292 years)", s);
	return -1;
bad:
	snprintf(err, errlen, "'%s' is not a duration such as 10s, 1m30s, 1.5h, 250ms or 2w", s);
	return -1;
}

int cp_time_parse_since(const char *s, int64_t now_nanos, int64_t *out, char *err, size_t errlen)
{
	if (strcmp(s, "now") == 0) {
		*out = now_nanos;
		return 0;
	}
	int64_t d;
	char ignored[16];
	if (s[0] >= '0' && s[0] <= '9' && strspn(s, "0123456789") != strlen(s) &&
	    cp_time_parse_duration(s, &d, ignored, sizeof ignored) == 0) {
		*out = d > now_nanos ? 0 : now_nanos - d;
		return 0;
	}
	if (strspn(s, "0123456789") == strlen(s) || cp_time_parse_instant(s, out, err, errlen)) {
		snprintf(err, errlen,
			 "'%s' is neither a time back from now (90m, 36h, 2w, 1d12h) nor RFC 3339 "
			 "(2024-05-01T12:00:00Z) nor now",
			 s);
		return -1;
	}
	return 0;
}

int cp_time_range(const char *since, const char *until, int64_t now_nanos, int64_t *from, int64_t *to, char *err,
		  size_t errlen)
{
	char why[200];
	if (cp_time_parse_since(since, now_nanos, from, why, sizeof why)) {
		snprintf(err, errlen, "--since: %s", why);
		return -1;
	}
	if (cp_time_parse_since(until, now_nanos, to, why, sizeof why)) {
		snprintf(err, errlen, "--until: %s", why);
		return -1;
	}
	if (*from >= *to) {
		snprintf(err, errlen, "the range is empty: --since %s is not before --until %s", since, until);
		return -1;
	}
	return 0;
}

int64_t cp_time_now(void)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	return (int64_t)now.tv_sec * NANOS_PER_SECOND + now.tv_nsec;
}

void cp_time_format(int64_t nanos, char *buf, size_t len)
{
	time_t secs = (time_t)(nanos / NANOS_PER_SECOND);
	struct tm tm;
	char day[32] = "?";
	if (gmtime_r(&secs, &tm))
		strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%.20s.%06" PRId64 "Z", day, nanos % NANOS_PER_SECOND / 1000);
}
