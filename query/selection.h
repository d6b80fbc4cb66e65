/* selection: what a question about stored data selects (service, env, version, zone, labels,
 * profile and sample type, time range) and the command-line options that say it, shared by
 * `cprof-query top`, `diff` and `series`; and the database side every one of them starts with:
 * the connection and the sample type to report.
 *
 * Ownership: a cp_selection borrows its strings from argv, except labels_json, which the
 * cp_selection_options that built it owns (cp_selection_options_free). */
#ifndef CP_QUERY_SELECTION_H
#define CP_QUERY_SELECTION_H

#include <getopt.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
	const char *conninfo;     /* libpq's; "" for its defaults and PG* variables */
	const char *service;      /* NULL: the whole fleet */
	const char *env, *version, *zone; /* NULL: any */
	const char *labels_json;  /* a JSON object the series' labels must contain; NULL: any */
	const char *profile_type; /* cpu, heap, ... */
	const char *sample_type;  /* NULL: the profile type's usual one (cp_selection_default_sample_type) */
	int64_t from_nanos, to_nanos; /* [from, to) */
} cp_selection;

/* The options being parsed into a selection. */
typedef struct {
	cp_selection sel;
	const char *since, *until;
	char *labels_json; /* built by cp_selection_add_label */
	size_t labels_len;
	FILE *labels;
	int given; /* some selection option was given */
} cp_selection_options;

/* getopt_long codes of the selection options, and their entries for a longopts table. */
enum {
	CP_SEL_PG = 1000, CP_SEL_SERVICE, CP_SEL_SINCE, CP_SEL_UNTIL, CP_SEL_TYPE, CP_SEL_SAMPLE_TYPE, CP_SEL_ENV,
	CP_SEL_VERSION, CP_SEL_ZONE, CP_SEL_LABEL
};
#define CP_SELECTION_LONGOPTS                                                                                          \
	{"pg", required_argument, NULL, CP_SEL_PG}, {"service", required_argument, NULL, CP_SEL_SERVICE},             \
		{"since", required_argument, NULL, CP_SEL_SINCE}, {"until", required_argument, NULL, CP_SEL_UNTIL},   \
		{"type", required_argument, NULL, CP_SEL_TYPE},                                                       \
		{"sample-type", required_argument, NULL, CP_SEL_SAMPLE_TYPE},                                         \
		{"env", required_argument, NULL, CP_SEL_ENV}, {"version", required_argument, NULL, CP_SEL_VERSION},   \
		{"zone", required_argument, NULL, CP_SEL_ZONE}, {"label", required_argument, NULL, CP_SEL_LABEL}

/* The --help lines of the selection options. */
extern const char cp_selection_usage[];

/* Starts options with the defaults: the whole fleet, cpu, the last hour up to now. */
void cp_selection_options_init(cp_selection_options *o);

/* Takes one getopt code and its value: 1 when it was a selection option, 0 when not, -1 after
 * printing a usage error (a malformed label). */
int cp_selection_option(cp_selection_options *o, int code, const char *value);

/* Adds a label the series must carry, "KEY=VALUE". -1 after printing a usage error (what names
 * the option or term for the message). */
int cp_selection_add_label(cp_selection_options *o, const char *key_value, const char *what);

/* Ends the parsing: the time range from since and until (at now), the database from $CPROF_PG
 * when --pg was not given, the labels. -1 after printing a usage error. */
int cp_selection_options_finish(cp_selection_options *o);

void cp_selection_options_free(cp_selection_options *o);

/* A step or bucket: a duration of a whole number of minutes ("1m", "1h", "1d"), as seconds. 0,
 * or the exit status of a usage error naming option. */
int cp_selection_minutes_option(const char *option, const char *value, long long *seconds);

/* pprof's default sample type of a profile type: cpu for cpu, inuse_space for heap, alloc_space
 * for allocs, delay for mutex and block, the type's own name otherwise. */
const char *cp_selection_default_sample_type(const char *profile_type);

/* Connects to the selection's database; NULL after printing why. */
PGconn *cp_selection_connect(const cp_selection *sel);

/* The sample type to report: the one asked for, else the profile type's usual one, else the
 * only one stored. NULL after printing why there is none (unknown service, nothing of the
 * type). The string lives in *keep, which the caller clears with PQclear. */
const char *cp_selection_sample_type(PGconn *conn, const cp_selection *sel, PGresult **keep);

/* Runs a read-API query with the selection's parameters: $1 from, $2 to, $3 profile type,
 * $4 sample type, $5 service, $6 env, $7 version, $8 zone, $9 labels, then the nextra (at most
 * 4) values of extra as $10, $11, ... NULL after printing what failed; an error the read API
 * raises about a parameter (SQLSTATE 22023, 2201B) is printed as its message alone. */
PGresult *cp_selection_query(PGconn *conn, const char *sql, const cp_selection *sel, const char *sample_type,
			     const char *const *extra, int nextra, const char *what);

/* The same query, its result returned as it is (failed or not), for a caller that handles an
 * error itself; PQclear it. */
PGresult *cp_selection_exec(PGconn *conn, const char *sql, const cp_selection *sel, const char *sample_type,
			    const char *const *extra, int nextra);

/* Prints a failed query's error as cp_selection_query does. */
void cp_selection_log_error(PGconn *conn, const PGresult *r, const char *what);

/* RFC 3339 texts of the selection's range, for query parameters and messages. */
void cp_selection_range_text(const cp_selection *sel, char from[64], char to[64]);

/* Prints "no TYPE profiles [of SERVICE] from FROM to TO in this selection" (what: a prefix
 * such as "base: ", or ""). */
void cp_selection_log_empty(const cp_selection *sel, const char *what);

#endif
