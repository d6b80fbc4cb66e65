/* selection: the options and database side shared by the questions about stored data; see
 * selection.h. */
#define _GNU_SOURCE /* open_memstream */
#include "selection.h"

#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "cp_log.h"
#include "cp_text.h"
#include "cp_time.h"

const char cp_selection_usage[] =
	"  --pg CONNINFO        the database (else $CPROF_PG, else libpq's PG* variables)\n"
	"  --service S          one service (default: the whole fleet)\n"
	"  --since T            from T: a time back from now (90m, 36h, 2w, 1d12h), RFC 3339 or now\n"
	"                       (default 1h)\n"
	"  --until T            to T, the same forms (default now)\n"
	"  --type TYPE          the profile type: cpu (default), heap, allocs, mutex, block,\n"
	"                       goroutine, ...\n"
	"  --sample-type NAME   the sample type, e.g. cpu, alloc_space, inuse_objects (default: cpu\n"
	"                       for cpu, inuse_space for heap, alloc_space for allocs, delay for\n"
	"                       mutex and block)\n"
	"  --env E, --version V, --zone Z   only series with these\n"
	"  --label KEY=VALUE    only series with this label (repeatable: all of them)\n";

void cp_selection_options_init(cp_selection_options *o)
{
	*o = (cp_selection_options){0};
	o->sel.profile_type = "cpu";
	o->since = "1h";
	o->until = "now";
}

int cp_selection_add_label(cp_selection_options *o, const char *key_value, const char *what)
{
	const char *eq = strchr(key_value, '=');
	if (!eq || eq == key_value) {
		cp_log_usage("%s wants KEY=VALUE, not '%s'", what, key_value);
		return -1;
	}
	if (!o->labels && !(o->labels = open_memstream(&o->labels_json, &o->labels_len))) {
		cp_log_usage("%s", "out of memory");
		return -1;
	}
	fputc(ftell(o->labels) ? ',' : '{', o->labels);
	cp_text_json(o->labels, key_value, (size_t)(eq - key_value));
	fputc(':', o->labels);
	cp_text_json(o->labels, eq + 1, strlen(eq + 1));
	return 0;
}

int cp_selection_option(cp_selection_options *o, int code, const char *value)
{
	switch (code) {
	case CP_SEL_PG: o->sel.conninfo = value; break;
	case CP_SEL_SERVICE: o->sel.service = value; break;
	case CP_SEL_SINCE: o->since = value; break;
	case CP_SEL_UNTIL: o->until = value; break;
	case CP_SEL_TYPE: o->sel.profile_type = value; break;
	case CP_SEL_SAMPLE_TYPE: o->sel.sample_type = value; break;
	case CP_SEL_ENV: o->sel.env = value; break;
	case CP_SEL_VERSION: o->sel.version = value; break;
	case CP_SEL_ZONE: o->sel.zone = value; break;
	case CP_SEL_LABEL:
		if (cp_selection_add_label(o, value, "--label"))
			return -1;
		break;
	default: return 0;
	}
	if (code != CP_SEL_SAMPLE_TYPE) /* a files' option too */
		o->given = 1;
	return 1;
}

int cp_selection_options_finish(cp_selection_options *o)
{
	if (o->labels) {
		fputc('}', o->labels);
		int failed = fclose(o->labels);
		o->labels = NULL;
		if (failed) {
			cp_log_usage("%s", "out of memory");
			return -1;
		}
	}
	o->sel.labels_json = o->labels_json;
	char err[512];
	if (cp_time_range(o->since, o->until, cp_time_now(), &o->sel.from_nanos, &o->sel.to_nanos, err, sizeof err)) {
		cp_log_usage("%s", err);
		return -1;
	}
	if (!o->sel.conninfo)
		o->sel.conninfo = getenv("CPROF_PG") ? getenv("CPROF_PG") : "";
	return 0;
}

void cp_selection_options_free(cp_selection_options *o)
{
	if (o->labels)
		fclose(o->labels);
	free(o->labels_json);
	o->labels = NULL;
	o->labels_json = NULL;
}

int cp_selection_minutes_option(const char *option, const char *value, long long *seconds)
{
	char err[256];
	int64_t nanos;
	if (cp_time_parse_duration(value, &nanos, err, sizeof err) || nanos < 60000000000LL || nanos % 60000000000LL)
		return cp_log_usage("%s wants a whole number of minutes (1m, 1h, 1d, ...), not '%s'", option, value);
	*seconds = nanos / 1000000000LL;
	return 0;
}

const char *cp_selection_default_sample_type(const char *profile_type)
{
	static const struct {
		const char *type, *sample_type;
	} defaults[] = {
		{"cpu", "cpu"}, {"heap", "inuse_space"}, {"allocs", "alloc_space"}, {"mutex", "delay"}, {"block", "delay"},
	};
	for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
		if (strcmp(profile_type, defaults[i].type) == 0)
			return defaults[i].sample_type;
	return profile_type;
}

PGconn *cp_selection_connect(const cp_selection *sel)
{
	PGconn *conn = PQconnectdb(sel->conninfo);
	if (PQstatus(conn) == CONNECTION_OK)
		return conn;
	cp_log("cannot connect to PostgreSQL: %s", PQerrorMessage(conn));
	PQfinish(conn);
	return NULL;
}

const char *cp_selection_sample_type(PGconn *conn, const cp_selection *sel, PGresult **keep)
{
	const char *params[] = {sel->profile_type, sel->service};
	PGresult *r = PQexecParams(conn, "SELECT sample_type FROM cprof.sample_types($1, $2)", 2, NULL, params, NULL,
				   NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		cp_log("reading the sample types: %s", PQerrorMessage(conn));
		PQclear(r);
		return NULL;
	}
	*keep = r;
	int n = PQntuples(r);
	if (n == 0) {
		PGresult *known = sel->service ? PQexecParams(conn,
							      "SELECT (SELECT count(*) FROM cprof.series WHERE service = $1), "
							      "(SELECT string_agg(service, ', ' ORDER BY service) FROM "
							      "(SELECT DISTINCT service FROM cprof.series LIMIT 50) s)",
							      1, NULL, params + 1, NULL, NULL, 0)
					       : NULL;
		if (known && PQresultStatus(known) == PGRES_TUPLES_OK && strcmp(PQgetvalue(known, 0, 0), "0") == 0)
			cp_log("no service '%s' is stored; the services are: %s", sel->service,
			       PQgetisnull(known, 0, 1) ? "(none)" : PQgetvalue(known, 0, 1));
		else
			cp_log("no %s profiles are stored%s%s", sel->profile_type, sel->service ? " for service " : "",
			       sel->service ? sel->service : "");
		PQclear(known);
		return NULL;
	}
	const char *want = sel->sample_type ? sel->sample_type : cp_selection_default_sample_type(sel->profile_type);
	for (int i = 0; i < n; i++)
		if (strcmp(PQgetvalue(r, i, 0), want) == 0)
			return PQgetvalue(r, i, 0);
	if (!sel->sample_type && n == 1)
		return PQgetvalue(r, 0, 0);
	char list[512] = "";
	for (int i = 0, at = 0; i < n && at < (int)sizeof list; i++)
		at += snprintf(list + at, sizeof list - (size_t)at, "%s%s", i ? ", " : "", PQgetvalue(r, i, 0));
	cp_log("sample type '%s' is not stored for %s profiles%s%s; there are: %s", want, sel->profile_type,
	       sel->service ? " of " : "", sel->service ? sel->service : "", list);
	return NULL;
}

PGresult *cp_selection_exec(PGconn *conn, const char *sql, const cp_selection *sel, const char *sample_type,
			    const char *const *extra, int nextra)
{
	char from[64], to[64];
	cp_selection_range_text(sel, from, to);
	const char *params[13] = {from,	    to,		  sel->profile_type, sample_type,     sel->service,
				  sel->env, sel->version, sel->zone,	     sel->labels_json};
	for (int i = 0; i < nextra && i < 4; i++)
		params[9 + i] = extra[i];
	return PQexecParams(conn, sql, 9 + (nextra < 4 ? nextra : 4), NULL, params, NULL, NULL, 0);
}

PGresult *cp_selection_query(PGconn *conn, const char *sql, const cp_selection *sel, const char *sample_type,
			     const char *const *extra, int nextra, const char *what)
{
	PGresult *r = cp_selection_exec(conn, sql, sel, sample_type, extra, nextra);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		cp_selection_log_error(conn, r, what);
		PQclear(r);
		return NULL;
	}
	return r;
}

void cp_selection_log_error(PGconn *conn, const PGresult *r, const char *what)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	if (state && (strcmp(state, "22023") == 0 || strcmp(state, "2201B") == 0))
		cp_log("%s", PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
	else
		cp_log("%s: %s", what, PQerrorMessage(conn));
}

void cp_selection_range_text(const cp_selection *sel, char from[64], char to[64])
{
	cp_time_format(sel->from_nanos, from, 64);
	cp_time_format(sel->to_nanos, to, 64);
}

void cp_selection_log_empty(const cp_selection *sel, const char *what)
{
	char from[64], to[64];
	cp_selection_range_text(sel, from, to);
	cp_log("%sno %s profiles%s%s from %s to %s in this selection", what, sel->profile_type,
	       sel->service ? " of " : "", sel->service ? sel->service : "", from, to);
}
