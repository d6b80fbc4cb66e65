/* maintain: the upkeep of cprof's store: the time partitions (cprof.partitioned_tables)
 * created ahead of time (so the first batch of a day does not create them) and, per tier
 * (minutes, hours, days), dropped once wholly before that tier's retention; and the work on
 * the tiers: the compaction of closed minutes (one packed row per minute and series) and the
 * rollup of closed hours and days (sql/005_rollups.sql). Partitions serialize on one advisory
 * lock, compaction and rollup each run in one session at a time (a tried advisory lock), so
 * every worker may run the maintenance: one does it, the others skip.
 *
 * Ownership: borrows the connection; keeps nothing. */
#ifndef CP_WORKER_MAINTAIN_H
#define CP_WORKER_MAINTAIN_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
	int retention_days;	 /* minutes and profiles: keep this many days back from today (UTC), today
				  * included; 0: keep all */
	int hour_retention_days; /* the hour tier, likewise (its partitions are months) */
	int day_retention_days;	 /* the day tier, likewise (its partitions are years) */
	int ahead_days;		 /* create the partitions of today and this many days after it */
} cp_maintain_options;

typedef struct {
	long created, dropped; /* partitions */
} cp_maintain_result;

/* Runs the maintenance once, at unix time now_seconds. Returns 0, or -1 with a message. */
int cp_maintain(PGconn *conn, const cp_maintain_options *options, int64_t now_seconds, cp_maintain_result *result,
		char *err, size_t errlen);

/* The work on the tiers at now_seconds (cprof.maintain_tiers): compacts the minutes (and late
 * hour and day rows) of the last compact_hours hours up to two minutes ago (each bucket and
 * series with rows from several batches becomes one row), then rolls up the hours closed two
 * minutes ago and the days whose hours are all rolled up. Returns 0 with the rows removed and
 * rolled up, or -1 with a message. */
typedef struct {
	long removed, rolled;
} cp_maintain_tiers_result;
int cp_maintain_tiers(PGconn *conn, int compact_hours, int64_t now_seconds, cp_maintain_tiers_result *result,
		      char *err, size_t errlen);

/* The same in two steps, for a loop that must not block: the query sent on conn (which then
 * serves nothing else until done), then cp_maintain_tiers_done until it returns 1 (finished,
 * *result set) or -1 (failed, with a message); 0 while it runs. wait: block until it ends. */
int cp_maintain_tiers_send(PGconn *conn, int compact_hours, int64_t now_seconds, char *err, size_t errlen);
int cp_maintain_tiers_done(PGconn *conn, int wait, cp_maintain_tiers_result *result, char *err, size_t errlen);

/* How far back the periodic compaction goes: later, late rows stay as written (still exact). */
#define CP_MAINTAIN_COMPACT_HOURS 3

/* How long after a minute ends its batches are taken to be written (compaction and rollup
 * leave the last minutes alone; later data is still exact, see roll_late). */
#define CP_MAINTAIN_SETTLE_SECONDS 120

/* The first unix time (seconds, midnight UTC) that a retention of retention_days keeps at
 * now_seconds; INT64_MIN when retention_days is 0 (everything is kept). */
int64_t cp_maintain_horizon(int retention_days, int64_t now_seconds);

#endif
