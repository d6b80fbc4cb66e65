/* agent_schedule: profile kinds and scrape times of cprof-agent; see agent_schedule.h. */
#include "agent_schedule.h"

#include <stdio.h>
#include <string.h>

#include "cp_args.h"
#include "cp_time.h"

#define NS_PER_S INT64_C(1000000000)
#define MAX_SECONDS 3600
#define MAX_EVERY_NS (7 * 86400 * NS_PER_S)
#define MAX_REPLICA_PERIOD_NS (INT64_C(3650) * 86400 * NS_PER_S) /* ten years: far from overflow */

static int kind_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
	       c == '.';
}

/* One KIND:EVERY[:SECONDS] of n bytes. Returns 1 (a kind), 0 (off) or -1. */
static int parse_one(const char *s, size_t n, agent_kind *k, char *err, size_t errlen)
{
	char item[128];
	if (n == 0 || n >= sizeof item) {
		snprintf(err, errlen, "'%.*s': expected KIND:EVERY[:SECONDS], e.g. cpu:60s:10s or heap:60s", (int)n, s);
		return -1;
	}
	memcpy(item, s, n);
	item[n] = '\0';
	char *every = strchr(item, ':');
	if (!every) {
		snprintf(err, errlen, "'%s': expected KIND:EVERY[:SECONDS], e.g. cpu:60s:10s or heap:60s", item);
		return -1;
	}
	*every++ = '\0';
	char *seconds = strchr(every, ':');
	if (seconds)
		*seconds++ = '\0';
	size_t nlen = strlen(item);
	if (nlen == 0 || nlen >= AGENT_KIND_NAME_MAX) {
		snprintf(err, errlen, "'%.*s': a kind is a name of 1 to %d characters", (int)n, s, AGENT_KIND_NAME_MAX - 1);
		return -1;
	}
	for (size_t i = 0; i < nlen; i++)
		if (!kind_char(item[i])) {
			snprintf(err, errlen, "'%s': a kind is made of letters, digits, '_', '-' and '.'", item);
			return -1;
		}
	memset(k, 0, sizeof *k);
	memcpy(k->name, item, nlen + 1);
	if (strcmp(every, "off") == 0) {
		if (seconds) {
			snprintf(err, errlen, "'%.*s': a kind that is off has no seconds", (int)n, s);
			return -1;
		}
		return 0;
	}
	char why[160];
	if (cp_time_parse_duration(every, &k->every_ns, why, sizeof why)) {
		snprintf(err, errlen, "%s: period '%s': %s", item, every, why);
		return -1;
	}
	if (k->every_ns < NS_PER_S / 10 || k->every_ns > MAX_EVERY_NS) {
		snprintf(err, errlen, "%s: period '%s': from 100ms to 7d, such as 60s", item, every);
		return -1;
	}
	if (seconds) {
		long v = 0;
		int64_t ns = 0;
		int bad = seconds[strspn(seconds, "0123456789")] == '\0' ? cp_args_long(seconds, 1, MAX_SECONDS, &v)
			  : cp_time_parse_duration(seconds, &ns, why, sizeof why) || ns % NS_PER_S != 0 ||
				    ns < NS_PER_S || ns > MAX_SECONDS * NS_PER_S;
		if (bad) {
			snprintf(err, errlen, "%s: length '%s': whole seconds from 1s to %ds, such as 10s", item, seconds,
				 MAX_SECONDS);
			return -1;
		}
		k->seconds = v ? v : ns / NS_PER_S;
	} else if (strcmp(item, "cpu") == 0) {
		snprintf(err, errlen, "cpu:%s: a CPU profile needs its length, e.g. cpu:%s:10", every, every);
		return -1;
	}
	return 1;
}

int agent_kinds_parse(const char *spec, agent_kind kinds[AGENT_MAX_KINDS], char *err, size_t errlen)
{
	int n = 0;
	char seen[AGENT_MAX_KINDS * 2][AGENT_KIND_NAME_MAX];
	size_t nseen = 0;
	for (const char *p = spec;;) {
		size_t len = strcspn(p, ",");
		agent_kind k;
		int r = parse_one(p, len, &k, err, errlen);
		if (r < 0)
			return -1;
		for (size_t i = 0; i < nseen; i++)
			if (strcmp(seen[i], k.name) == 0) {
				snprintf(err, errlen, "%s: given twice", k.name);
				return -1;
			}
		if (nseen == sizeof seen / sizeof seen[0] || (r == 1 && n == AGENT_MAX_KINDS)) {
			snprintf(err, errlen, "more than %d kinds", AGENT_MAX_KINDS);
			return -1;
		}
		memcpy(seen[nseen++], k.name, AGENT_KIND_NAME_MAX);
		if (r == 1)
			kinds[n++] = k;
		if (!p[len])
			break;
		p += len + 1;
	}
	if (n == 0) {
		snprintf(err, errlen, "'%s': every kind is off; nothing would be collected", spec);
		return -1;
	}
	return n;
}

void agent_kind_path(const agent_kind *kind, char *buf, size_t len)
{
	const char *endpoint = strcmp(kind->name, "cpu") == 0 ? "profile" : kind->name;
	if (kind->seconds > 0)
		snprintf(buf, len, "/debug/pprof/%s?seconds=%lld", endpoint, (long long)kind->seconds);
	else
		snprintf(buf, len, "/debug/pprof/%s", endpoint);
}

/* a + b, or INT64_MAX where that would overflow (both are non-negative here) */
static int64_t add_saturating(int64_t a, int64_t b)
{
	return b > INT64_MAX - a ? INT64_MAX : a + b;
}

int64_t agent_replica_period(int64_t every_ns, size_t replicas, size_t budget)
{
	if (budget == 0 || replicas <= budget)
		return every_ns;
	double period = (double)every_ns * (double)replicas / (double)budget;
	return period >= (double)MAX_REPLICA_PERIOD_NS ? MAX_REPLICA_PERIOD_NS : (int64_t)period;
}

int64_t agent_first_due(int64_t start, int64_t period, size_t replica, size_t replicas, double jitter, double u)
{
	if (replicas == 0)
		replicas = 1;
	double slot = (double)period / (double)replicas;
	return add_saturating(start, (int64_t)(slot * ((double)replica + jitter * u)));
}

int64_t agent_next_due(int64_t last_due, int64_t now, int64_t period, double jitter, double u)
{
	int64_t next = add_saturating(last_due, (int64_t)((double)period * (1.0 + jitter * (2.0 * u - 1.0))));
	return next < now ? now : next;
}

int64_t agent_backoff(int64_t min_ns, int64_t max_ns, unsigned failures, double jitter, double u)
{
	double wait = (double)min_ns;
	for (unsigned i = 1; i < failures && wait < (double)max_ns; i++)
		wait *= 2;
	wait *= 1.0 + jitter * (2.0 * u - 1.0);
	return wait > (double)max_ns ? max_ns : (int64_t)wait;
}
