/* maintain: the time partitions of cprof's partitioned tables (cprof.partitioned_tables):
 * daily partitions created ahead of time (so the first batch of a day does not create them),
 * and, when a retention is set, the partitions of days wholly before the retention horizon
 * dropped; and the compaction of closed minutes (one packed row per minute and series). Both go through cprof.ensure_partitions and cprof.drop_partitions_before, which
 * serialize on one advisory lock, so several workers may run the maintenance at once.
 *
 * Ownership: borrows the connection; keeps nothing. */
#ifndef CP_WORKER_MAINTAIN_H
#define CP_WORKER_MAINTAIN_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
	int retention_days; /* keep this many days back from today (UTC), today included; 0: keep all */
	int ahead_days;     /* create the partitions of today and this many days after it */
} cp_maintain_options;

typedef struct {
	long created, dropped; /* partitions */
} cp_maintain_result;

/* Runs the maintenance once, at unix time now_seconds. Returns 0, or -1 with a message. */
int cp_maintain(PGconn *conn, const cp_maintain_options *options, int64_t now_seconds, cp_maintain_result *result,
		char *err, size_t errlen);

/* Compacts the minutes in [from_seconds, to_seconds) (cprof.compact_minutes: each minute and
 * series with rows from several batches becomes one row). Returns 0 with *removed, the rows
 * removed, or -1 with a message. */
int cp_maintain_compact(PGconn *conn, int64_t from_seconds, int64_t to_seconds, long *removed, char *err,
			size_t errlen);

/* The same in two steps, for a loop that must not block: the query sent on conn (which then
 * serves nothing else until done), then cp_maintain_compact_done until it returns 1 (finished,
 * *removed set) or -1 (failed, with a message); 0 while it runs. wait: block until it ends. */
int cp_maintain_compact_send(PGconn *conn, int64_t from_seconds, int64_t to_seconds, char *err, size_t errlen);
int cp_maintain_compact_done(PGconn *conn, int wait, long *removed, char *err, size_t errlen);

/* How far back the periodic compaction goes: later, late rows stay as written (still exact). */
#define CP_MAINTAIN_COMPACT_HOURS 3

/* The minutes the periodic compaction covers at now_seconds: from compact_hours back to the
 * start of the minute two minutes ago (by then a minute's batches are written). */
void cp_maintain_compact_window(int compact_hours, int64_t now_seconds, int64_t *from_seconds, int64_t *to_seconds);

/* The first unix time (seconds, midnight UTC) that a retention of retention_days keeps at
 * now_seconds; INT64_MIN when retention_days is 0 (everything is kept). */
int64_t cp_maintain_horizon(int retention_days, int64_t now_seconds);

#endif
