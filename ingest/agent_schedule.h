/* agent_schedule: what cprof-agent collects and when. The profile kinds (cpu, heap, allocs,
 * mutex, block, goroutine, or any other /debug/pprof endpoint), each with its period and its
 * profiling seconds; and the times of scrapes: a deployment's period stretched over its replicas
 * by the budget, replicas staggered, every interval jittered, and the backoff after failures.
 *
 * The budget: a deployment gets `budget` profiles of each kind per period, whatever its size. A
 * deployment of R replicas thus profiles each replica every period x R / budget (never more often
 * than every period), as Google's Cloud Profiler spreads its one profile a minute over a
 * deployment: the overhead a service pays is fixed, and R replicas together still give the
 * period's data.
 *
 * Everything here is a pure function of its arguments (random draws come in as u in [0, 1)), so
 * it is unit tested; times are nanoseconds on any one clock. */
#ifndef CP_AGENT_SCHEDULE_H
#define CP_AGENT_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#define AGENT_MAX_KINDS 16
#define AGENT_KIND_NAME_MAX 32

typedef struct {
	char name[AGENT_KIND_NAME_MAX]; /* the envelope's profile type, and the endpoint */
	int64_t every_ns;               /* the deployment's period */
	int64_t seconds;                /* > 0: ?seconds=N, a CPU profile or a delta over N seconds */
} agent_kind;

/* The default set, as the spec "cpu:60s:10s,heap:60s,allocs:60s:10s,mutex:60s:10s,
 * block:60s:10s,goroutine:60s". */
#define AGENT_DEFAULT_KINDS "cpu:60s:10s,heap:60s,allocs:60s:10s,mutex:60s:10s,block:60s:10s,goroutine:60s"

/* Parses a comma-separated list of KIND:EVERY[:SECONDS] (KIND: letters, digits, '_', '-', '.';
 * EVERY a duration from 100ms to 7d such as 60s; SECONDS whole seconds, 10s or 10, or absent
 * for a snapshot; "KIND:off" leaves the kind out). A kind given twice is refused; a cpu kind without
 * SECONDS is refused (a CPU profile needs a length). Returns the number of kinds (>= 1), or -1
 * with the reason in err. */
int agent_kinds_parse(const char *spec, agent_kind kinds[AGENT_MAX_KINDS], char *err, size_t errlen);

/* The request path of a kind: "/debug/pprof/profile?seconds=10" for cpu, else
 * "/debug/pprof/KIND", with "?seconds=N" when seconds > 0. */
void agent_kind_path(const agent_kind *kind, char *buf, size_t len);

/* The period of one replica: every x replicas / budget, at least every (and at most ten years). */
int64_t agent_replica_period(int64_t every_ns, size_t replicas, size_t budget);

/* The first scrape of replica `replica` of `replicas`: the replicas' first scrapes are spread
 * evenly over one replica period, each delayed by up to jitter x its slot. */
int64_t agent_first_due(int64_t start, int64_t period, size_t replica, size_t replicas, double jitter, double u);

/* The scrape after the one due at last_due: period later, +/- jitter x period; never before now
 * (a scrape that took longer than its period is followed at once). On average exactly one period
 * apart, so the rate is the budget's. */
int64_t agent_next_due(int64_t last_due, int64_t now, int64_t period, double jitter, double u);

/* The wait before retrying after the failures-th failure in a row (failures >= 1): min_ns,
 * doubled per failure, +/- jitter, at most max_ns. */
int64_t agent_backoff(int64_t min_ns, int64_t max_ns, unsigned failures, double jitter, double u);

#endif
