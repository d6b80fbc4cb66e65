/* top_db: `cprof-query top` over what PostgreSQL stores, through the SQL read API
 * (sql/003_read_api.sql: cprof.top, cprof.totals, cprof.sample_types), the same functions
 * Grafana calls. Prints the report as `top --file` does (top.h).
 *
 * Ownership: the selection's strings are borrowed; nothing is kept after the call. */
#ifndef CP_QUERY_TOP_DB_H
#define CP_QUERY_TOP_DB_H

#include <stddef.h>
#include <stdint.h>

#include "top.h"

typedef struct {
	const char *conninfo;     /* libpq's; "" for its defaults and PG* variables */
	const char *service;      /* NULL: the whole fleet */
	const char *env, *version, *zone; /* NULL: any */
	const char *labels_json;  /* a JSON object the series' labels must contain; NULL: any */
	const char *profile_type; /* cpu, heap, ... */
	const char *sample_type;  /* NULL: the profile type's usual one (cp_top_db_default_sample_type) */
	int64_t from_nanos, to_nanos; /* [from, to) */
} cp_top_selection;

/* pprof's default sample type of a profile type: cpu for cpu, inuse_space for heap, alloc_space
 * for allocs, delay for mutex and block, the type's own name otherwise. */
const char *cp_top_db_default_sample_type(const char *profile_type);

/* Answers the selection and prints the report. Returns the exit status (commands.h); on a
 * failure nothing is printed on stdout and stderr says what and where. */
int cp_top_db(const cp_top_selection *sel, cp_top_order order, cp_top_format format, size_t limit);

#endif
