/* top_db: `cprof-query top` over what PostgreSQL stores, through the SQL read API
 * (sql/005_rollups.sql: cprof.top, cprof.totals; cprof.sample_types), the same functions
 * Grafana calls. Prints the report as `top --file` does (top.h), one per group when split.
 *
 * Ownership: the selection's strings are borrowed; nothing is kept after the call. */
#ifndef CP_QUERY_TOP_DB_H
#define CP_QUERY_TOP_DB_H

#include <stddef.h>

#include "selection.h"
#include "top.h"

/* Answers the selection and prints the report; group_by (service, env, version or zone; NULL:
 * no split) prints one report per value of that dimension, values ascending. Returns the exit
 * status (commands.h); on a failure nothing is printed on stdout and stderr says what. */
int cp_top_db(const cp_selection *sel, const char *group_by, cp_top_order order, cp_top_format format, size_t limit);

#endif
