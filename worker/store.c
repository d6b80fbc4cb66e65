/* store: a batch of flattened profiles into PostgreSQL, exactly once; see store.h and
 * worker/README.md. Rows travel as COPY text built in memory (open_memstream). */
#include "store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cp_keyindex.h"
#include "cp_text.h"

#define NONE_ID INT64_C(-1)
enum { MAX_REDO = 3, STACK_CACHE_LIMIT = 4000000 };

struct cp_store {
	PGconn *conn;
	char *group;
	int temp_tables; /* the session's temporary tables exist */
	cp_keyindex *series;   /* series identity -> index into series_ids */
	int64_t *series_ids;
	cp_keyindex *functions; /* name -> index into function_ids */
	int64_t *function_ids;
	cp_keyindex *stacks; /* (parent stack id, function id) -> index into stack_ids */
	int64_t *stack_ids;
	size_t series_cap, functions_cap, stacks_cap;
	int32_t ensured_first_day, ensured_last_day; /* days with partitions known to exist */
};

/* ------------------------------------------------------------------ small helpers */

static int fail(char *err, size_t errlen, const char *what, PGconn *conn)
{
	snprintf(err, errlen, "%s: %s", what, conn ? PQerrorMessage(conn) : "out of memory");
	size_t n = strlen(err);
	while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
		err[--n] = '\0';
	return -1;
}

static int exec(PGconn *conn, const char *sql, const char *what, char *err, size_t errlen)
{
	PGresult *r = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(r);
	PQclear(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return 0;
	return fail(err, errlen, what, conn);
}

static void rollback(PGconn *conn)
{
	PQclear(PQexec(conn, "ROLLBACK"));
}

/* Grows an int64 array (with its capacity) to hold at least need entries. */
static int reserve_ids(int64_t **ids, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap * 2 : 1024;
	while (n < need)
		n *= 2;
	int64_t *grown = realloc(*ids, n * sizeof *grown);
	if (!grown)
		return -1;
	*ids = grown;
	*cap = n;
	return 0;
}

/* Rows for COPY FROM STDIN, written with stdio into memory. */
typedef struct {
	char *buf;
	size_t len;
	FILE *f;
} rows;

static int rows_open(rows *r)
{
	r->buf = NULL;
	r->len = 0;
	r->f = open_memstream(&r->buf, &r->len);
	return r->f ? 0 : -1;
}

static void rows_discard(rows *r)
{
	if (r->f)
		fclose(r->f);
	free(r->buf);
	r->f = NULL;
	r->buf = NULL;
}

/* Sends the rows with copy_sql ("COPY ... FROM STDIN") and frees them. */
static int rows_copy(PGconn *conn, rows *r, const char *copy_sql, const char *what, char *err, size_t errlen)
{
	if (fclose(r->f) != 0) {
		r->f = NULL;
		rows_discard(r);
		return fail(err, errlen, what, NULL);
	}
	r->f = NULL;
	PGresult *res = PQexec(conn, copy_sql);
	int ok = PQresultStatus(res) == PGRES_COPY_IN;
	PQclear(res);
	if (ok) {
		size_t off = 0;
		while (ok && off < r->len) {
			size_t chunk = r->len - off > (1u << 30) ? (1u << 30) : r->len - off;
			ok = PQputCopyData(conn, r->buf + off, (int)chunk) == 1;
			off += chunk;
		}
		ok = PQputCopyEnd(conn, ok ? NULL : "cprof-worker: sending rows failed") == 1 && ok;
		while ((res = PQgetResult(conn))) {
			ok = ok && PQresultStatus(res) == PGRES_COMMAND_OK;
			PQclear(res);
		}
	}
	rows_discard(r);
	return ok ? 0 : fail(err, errlen, what, conn);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* A UTC timestamp at microsecond precision (what timestamptz keeps): nanoseconds are cut. */
static void put_timestamp(FILE *f, int64_t unix_nanos)
{
	int64_t secs = floor_div(unix_nanos, 1000000000);
	time_t t = (time_t)secs;
	struct tm tm;
	gmtime_r(&t, &tm);
	char buf[40];
	strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
	fprintf(f, "%s.%06" PRId64 "+00", buf, (unix_nanos - secs * 1000000000) / 1000);
}

/* The dedupe key of a profile: id and time at the precision PostgreSQL stores. */
static size_t dedupe_key(char *key, size_t size, const char *id, int64_t time_nanos)
{
	int len = snprintf(key, size, "%s|%" PRId64, id, floor_div(time_nanos, 1000));
	return len < (int)size ? (size_t)len : size - 1;
}

/* ------------------------------------------------------------------ lifecycle */

cp_store *cp_store_new(PGconn *conn, const char *consumer_group)
{
	cp_store *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->conn = conn;
	s->group = consumer_group ? strdup(consumer_group) : NULL;
	s->series = cp_keyindex_new();
	s->functions = cp_keyindex_new();
	s->stacks = cp_keyindex_new();
	s->ensured_first_day = 1;
	s->ensured_last_day = 0; /* empty range */
	if ((consumer_group && !s->group) || !s->series || !s->functions || !s->stacks) {
		cp_store_free(s);
		return NULL;
	}
	return s;
}

void cp_store_free(cp_store *s)
{
	if (!s)
		return;
	free(s->group);
	cp_keyindex_free(s->series);
	cp_keyindex_free(s->functions);
	cp_keyindex_free(s->stacks);
	free(s->series_ids);
	free(s->function_ids);
	free(s->stack_ids);
	free(s);
}

static int ensure_temp_tables(cp_store *s, char *err, size_t errlen)
{
	if (s->temp_tables)
		return 0;
	if (exec(s->conn,
		 "SET client_encoding = 'UTF8';"
		 "CREATE TEMP TABLE IF NOT EXISTS cprof_in_ids (profile_id text, profile_time timestamptz);"
		 "CREATE TEMP TABLE IF NOT EXISTS cprof_in_functions (name text);"
		 "CREATE TEMP TABLE IF NOT EXISTS cprof_in_stacks (parent_id bigint, function_id bigint, depth integer);"
		 "CREATE TEMP TABLE IF NOT EXISTS cprof_in_profiles (LIKE cprof.profiles INCLUDING DEFAULTS)",
		 "creating the session's staging tables", err, errlen))
		return -1;
	s->temp_tables = 1;
	return 0;
}

/* ------------------------------------------------------------------ labels and series */

/* The upload's labels as a JSON object, keys in order (what jsonb keeps), to *json. */
static int labels_json(const cp_envelope *e, char **json, size_t *len)
{
	FILE *f = open_memstream(json, len);
	if (!f)
		return -1;
	fputc('{', f);
	size_t last = SIZE_MAX;
	for (size_t step = 0; step < e->nlabels; step++) { /* selection by key: labels are few */
		size_t best = SIZE_MAX;
		for (size_t i = 0; i < e->nlabels; i++) {
			int after = last == SIZE_MAX || strcmp(e->labels[i].key, e->labels[last].key) > 0;
			if (after && (best == SIZE_MAX || strcmp(e->labels[i].key, e->labels[best].key) < 0))
				best = i;
		}
		if (best == SIZE_MAX)
			break;
		if (step)
			fputc(',', f);
		cp_text_json(f, e->labels[best].key, strlen(e->labels[best].key));
		fputc(':', f);
		cp_text_json(f, e->labels[best].value, strlen(e->labels[best].value));
		last = best;
	}
	fputc('}', f);
	return fclose(f) == 0 ? 0 : -1;
}

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

/* The series id of one sample type of a profile, from the cache or the database. */
static int64_t series_id(cp_store *s, const cp_envelope *e, const char *labels, const char *type,
			 const char *unit, char *err, size_t errlen)
{
	const char *parts[] = {or_empty(e->service), or_empty(e->version), or_empty(e->env), or_empty(e->zone),
			       or_empty(e->profile_type), type, unit, labels};
	char *key = NULL;
	size_t key_len = 0;
	FILE *f = open_memstream(&key, &key_len);
	if (!f)
		return fail(err, errlen, "series", NULL), NONE_ID;
	for (size_t i = 0; i < 8; i++)
		fprintf(f, "%s%c", parts[i], 0x1f);
	fclose(f);
	int added;
	uint32_t i = cp_keyindex_put(s->series, key, key_len, &added);
	free(key);
	if (i == CP_KEYINDEX_NONE || reserve_ids(&s->series_ids, &s->series_cap, (size_t)i + 1))
		return fail(err, errlen, "series", NULL), NONE_ID;
	if (!added && s->series_ids[i] != NONE_ID)
		return s->series_ids[i];

	/* Insert when new, then read: a concurrent insert of the same series makes ours a no-op. */
	static const char insert_sql[] =
		"INSERT INTO cprof.series (service, version, env, zone, profile_type, sample_type, sample_unit, labels) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb) ON CONFLICT DO NOTHING";
	static const char select_sql[] =
		"SELECT series_id FROM cprof.series WHERE md5(service || E'\\x1f' || version || E'\\x1f' || env || "
		"E'\\x1f' || zone || E'\\x1f' || profile_type || E'\\x1f' || sample_type || E'\\x1f' || sample_unit || "
		"E'\\x1f' || labels::text) = md5($1 || E'\\x1f' || $2 || E'\\x1f' || $3 || E'\\x1f' || $4 || E'\\x1f' "
		"|| $5 || E'\\x1f' || $6 || E'\\x1f' || $7 || E'\\x1f' || $8::jsonb::text)";
	PGresult *r = PQexecParams(s->conn, insert_sql, 8, NULL, parts, NULL, NULL, 0);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok)
		return fail(err, errlen, "inserting a series", s->conn), NONE_ID;
	r = PQexecParams(s->conn, select_sql, 8, NULL, parts, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		PQclear(r);
		return fail(err, errlen, "reading a series id", s->conn), NONE_ID;
	}
	s->series_ids[i] = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return s->series_ids[i];
}

/* ------------------------------------------------------------------ functions and stacks */

/* Resolves the names of every listed function: misses are inserted and read back in one short
 * transaction. ids[k] receives the id of names[k]. */
static int function_ids(cp_store *s, const cp_flat *flat, int64_t *ids, char *err, size_t errlen)
{
	size_t n = cp_flat_nfunctions(flat), misses = 0;
	uint32_t *slot = malloc((n + 1) * sizeof *slot);
	rows r = {0};
	int rc = -1;
	if (!slot)
		return fail(err, errlen, "functions", NULL);
	/* Names are keyed as PostgreSQL will store them: valid UTF-8, no NUL. */
	for (size_t k = 0; k < n; k++) {
		cp_pstr raw = cp_flat_function_name(flat, k);
		size_t len = raw.len;
		/* most names are clean already: they key the cache as they are, without a copy */
		int clean = cp_text_utf8_clean(raw.ptr, raw.len);
		char *copy = clean ? NULL : cp_text_utf8_sanitize(raw.ptr, raw.len, &len);
		const char *name = copy ? copy : raw.ptr;
		int added = 0;
		slot[k] = clean || copy ? cp_keyindex_put(s->functions, name, len, &added) : CP_KEYINDEX_NONE;
		if (slot[k] == CP_KEYINDEX_NONE || reserve_ids(&s->function_ids, &s->functions_cap, (size_t)slot[k] + 1)) {
			free(copy);
			fail(err, errlen, "functions", NULL);
			goto out;
		}
		if (added)
			s->function_ids[slot[k]] = NONE_ID;
		if (s->function_ids[slot[k]] == NONE_ID) {
			if (!r.f && rows_open(&r)) {
				free(copy);
				fail(err, errlen, "functions", NULL);
				goto out;
			}
			cp_text_tsv(r.f, name, len);
			fputc('\n', r.f);
			misses++;
		}
		free(copy);
	}
	if (misses) {
		if (exec(s->conn, "BEGIN; TRUNCATE cprof_in_functions", "resolving functions", err, errlen) ||
		    rows_copy(s->conn, &r, "COPY cprof_in_functions FROM STDIN", "resolving functions", err, errlen) ||
		    exec(s->conn,
			 "INSERT INTO cprof.functions (name) SELECT DISTINCT name FROM cprof_in_functions "
			 "ON CONFLICT DO NOTHING",
			 "inserting functions", err, errlen)) {
			rollback(s->conn);
			goto out;
		}
		PGresult *res = PQexec(s->conn, "SELECT f.function_id, f.name FROM cprof.functions f JOIN "
						"(SELECT DISTINCT name FROM cprof_in_functions) i ON md5(f.name) = md5(i.name)");
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			PQclear(res);
			rollback(s->conn);
			fail(err, errlen, "reading function ids", s->conn);
			goto out;
		}
		for (int row = 0; row < PQntuples(res); row++) {
			uint32_t i = cp_keyindex_get(s->functions, PQgetvalue(res, row, 1), (size_t)PQgetlength(res, row, 1));
			if (i != CP_KEYINDEX_NONE)
				s->function_ids[i] = strtoll(PQgetvalue(res, row, 0), NULL, 10);
		}
		PQclear(res);
		if (exec(s->conn, "COMMIT", "resolving functions", err, errlen))
			goto out;
	}
	for (size_t k = 0; k < n; k++) {
		ids[k] = s->function_ids[slot[k]];
		if (ids[k] == NONE_ID) {
			snprintf(err, errlen, "function %zu: no id after inserting it", k);
			goto out;
		}
	}
	rc = 0;
out:
	rows_discard(&r);
	free(slot);
	return rc;
}

typedef struct {
	int64_t parent, function;
} stack_key;

/* Resolves the stack id of every node of a profile's stack tree (node 0, the root, is 0).
 * Nodes come parents first; misses are resolved a depth at a time. */
static int stack_ids(cp_store *s, const cp_flat *flat, const int64_t *fids, int64_t *nodes, char *err,
		     size_t errlen)
{
	size_t n = cp_flat_nnodes(flat);
	uint32_t *depth = malloc((n + 1) * sizeof *depth);
	if (!depth)
		return fail(err, errlen, "stacks", NULL);
	nodes[0] = 0;
	depth[0] = 0;
	uint32_t max_depth = 0;
	for (size_t k = 1; k < n; k++) {
		depth[k] = depth[cp_flat_node_parent(flat, k)] + 1;
		if (depth[k] > max_depth)
			max_depth = depth[k];
		nodes[k] = NONE_ID;
	}
	int rc = 0;
	for (uint32_t d = 1; d <= max_depth && rc == 0; d++) {
		rows r = {0};
		size_t misses = 0;
		for (size_t k = 1; k < n; k++) {
			if (depth[k] != d)
				continue;
			stack_key key = {nodes[cp_flat_node_parent(flat, k)], fids[cp_flat_node_function(flat, k)]};
			int added;
			uint32_t i = cp_keyindex_put(s->stacks, &key, sizeof key, &added);
			if (i == CP_KEYINDEX_NONE || reserve_ids(&s->stack_ids, &s->stacks_cap, (size_t)i + 1)) {
				rc = fail(err, errlen, "stacks", NULL);
				break;
			}
			if (added)
				s->stack_ids[i] = NONE_ID;
			nodes[k] = s->stack_ids[i];
			if (nodes[k] != NONE_ID)
				continue;
			if (!r.f && rows_open(&r)) {
				rc = fail(err, errlen, "stacks", NULL);
				break;
			}
			fprintf(r.f, "%" PRId64 "\t%" PRId64 "\t%" PRIu32 "\n", key.parent, key.function, d);
			misses++;
		}
		if (rc || !misses) {
			rows_discard(&r);
			continue;
		}
		if (exec(s->conn, "BEGIN; TRUNCATE cprof_in_stacks", "resolving stacks", err, errlen) ||
		    rows_copy(s->conn, &r, "COPY cprof_in_stacks FROM STDIN", "resolving stacks", err, errlen) ||
		    exec(s->conn,
			 "INSERT INTO cprof.stacks (parent_id, function_id, depth) SELECT DISTINCT parent_id, function_id, "
			 "depth FROM cprof_in_stacks ON CONFLICT DO NOTHING",
			 "inserting stacks", err, errlen)) {
			rows_discard(&r);
			rollback(s->conn);
			rc = -1;
			break;
		}
		PGresult *res = PQexec(s->conn, "SELECT s.stack_id, s.parent_id, s.function_id FROM cprof.stacks s "
						"JOIN cprof_in_stacks i USING (parent_id, function_id)");
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			PQclear(res);
			rollback(s->conn);
			rc = fail(err, errlen, "reading stack ids", s->conn);
			break;
		}
		for (int row = 0; row < PQntuples(res); row++) {
			stack_key key = {strtoll(PQgetvalue(res, row, 1), NULL, 10), strtoll(PQgetvalue(res, row, 2), NULL, 10)};
			uint32_t i = cp_keyindex_get(s->stacks, &key, sizeof key);
			if (i != CP_KEYINDEX_NONE)
				s->stack_ids[i] = strtoll(PQgetvalue(res, row, 0), NULL, 10);
		}
		PQclear(res);
		if (exec(s->conn, "COMMIT", "resolving stacks", err, errlen)) {
			rc = -1;
			break;
		}
		for (size_t k = 1; k < n; k++) {
			if (depth[k] != d || nodes[k] != NONE_ID)
				continue;
			stack_key key = {nodes[cp_flat_node_parent(flat, k)], fids[cp_flat_node_function(flat, k)]};
			nodes[k] = s->stack_ids[cp_keyindex_get(s->stacks, &key, sizeof key)];
		}
	}
	free(depth);
	return rc;
}

/* ------------------------------------------------------------------ the batch */

typedef struct {
	int64_t series, minute, id;
} fact_key;

typedef struct {
	cp_keyindex *function_keys, *stack_keys, *series_keys;
	int64_t *function_sums; /* flat, cum per function key */
	int64_t *stack_sums;
	int64_t *series_sums; /* total, profiles, nanos, total of absolute values per series key */
	size_t function_cap, stack_cap, series_cap;
} facts;

static void facts_free(facts *f)
{
	cp_keyindex_free(f->function_keys);
	cp_keyindex_free(f->stack_keys);
	cp_keyindex_free(f->series_keys);
	free(f->function_sums);
	free(f->stack_sums);
	free(f->series_sums);
}

/* Adds values to the sums of a key (width values per key). */
static int add_fact(cp_keyindex *keys, int64_t **sums, size_t *cap, const fact_key *key, size_t width,
		    const int64_t *values)
{
	int added;
	uint32_t i = cp_keyindex_put(keys, key, sizeof *key, &added);
	if (i == CP_KEYINDEX_NONE || reserve_ids(sums, cap, ((size_t)i + 1) * width))
		return -1;
	for (size_t w = 0; w < width; w++)
		(*sums)[(size_t)i * width + w] = (added ? 0 : (*sums)[(size_t)i * width + w]) + values[w];
	return 0;
}

/* Resolves every id a new profile needs and adds its values to the batch's sums. */
static int aggregate(cp_store *s, const cp_store_profile *p, facts *f, char *err, size_t errlen)
{
	const cp_flat *flat = p->flat;
	size_t ntypes = cp_flat_ntypes(flat), nfuncs = cp_flat_nfunctions(flat), nnodes = cp_flat_nnodes(flat);
	int64_t *fids = malloc((nfuncs + 1) * sizeof *fids), *nodes = malloc((nnodes + 1) * sizeof *nodes);
	int64_t *sids = malloc((ntypes + 1) * sizeof *sids);
	char *labels = NULL;
	size_t labels_len = 0;
	int rc = -1;
	if (!fids || !nodes || !sids || labels_json(p->meta, &labels, &labels_len)) {
		fail(err, errlen, "aggregating", NULL);
		goto out;
	}
	for (size_t t = 0; t < ntypes; t++)
		if ((sids[t] = series_id(s, p->meta, labels, cp_flat_type(flat, t).ptr, cp_flat_unit(flat, t).ptr, err,
					 errlen)) == NONE_ID)
			goto out;
	if (function_ids(s, flat, fids, err, errlen) || stack_ids(s, flat, fids, nodes, err, errlen))
		goto out;

	int64_t minute = floor_div(p->time_nanos, INT64_C(60000000000)) * 60; /* seconds */
	for (size_t t = 0; t < ntypes; t++) {
		int64_t totals[4] = {cp_flat_total(flat, t), 1, p->duration_nanos, cp_flat_total_abs(flat, t)};
		fact_key sk = {sids[t], minute, 0};
		if (add_fact(f->series_keys, &f->series_sums, &f->series_cap, &sk, 4, totals))
			goto oom;
		for (size_t k = 0; k < nfuncs; k++) {
			int64_t v[2] = {cp_flat_flat(flat, k, t), cp_flat_cum(flat, k, t)};
			fact_key key = {sids[t], minute, fids[k]};
			if ((v[0] || v[1]) && add_fact(f->function_keys, &f->function_sums, &f->function_cap, &key, 2, v))
				goto oom;
		}
		for (size_t k = 1; k < nnodes; k++) {
			int64_t v = cp_flat_node_self(flat, k, t);
			fact_key key = {sids[t], minute, nodes[k]};
			if (v && add_fact(f->stack_keys, &f->stack_sums, &f->stack_cap, &key, 1, &v))
				goto oom;
		}
	}
	rc = 0;
	goto out;
oom:
	fail(err, errlen, "aggregating", NULL);
out:
	free(fids);
	free(nodes);
	free(sids);
	free(labels);
	return rc;
}

/* Marks duplicates: the same (id, time) earlier in the batch, or already stored. */
static int find_duplicates(cp_store *s, const cp_store_profile *ps, size_t n, char *dup, char *err, size_t errlen)
{
	cp_keyindex *seen = cp_keyindex_new();
	rows r = {0};
	if (!seen || rows_open(&r)) {
		cp_keyindex_free(seen);
		return fail(err, errlen, "dedupe", NULL);
	}
	for (size_t i = 0; i < n; i++) {
		char key[512];
		int added = 0;
		cp_keyindex_put(seen, key, dedupe_key(key, sizeof key, ps[i].meta->profile_id, ps[i].time_nanos), &added);
		dup[i] = !added;
		cp_text_copy(r.f, ps[i].meta->profile_id, strlen(ps[i].meta->profile_id));
		fputc('\t', r.f);
		put_timestamp(r.f, ps[i].time_nanos);
		fputc('\n', r.f);
	}
	int rc = -1;
	if (exec(s->conn, "BEGIN; TRUNCATE cprof_in_ids", "dedupe", err, errlen) ||
	    rows_copy(s->conn, &r, "COPY cprof_in_ids FROM STDIN", "dedupe", err, errlen)) {
		rollback(s->conn);
		goto out;
	}
	PGresult *res = PQexec(s->conn,
			       "SELECT i.profile_id, (extract(epoch FROM i.profile_time) * 1000000)::bigint::text "
			       "FROM cprof_in_ids i JOIN cprof.profiles p USING (profile_id, profile_time)");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		rollback(s->conn);
		fail(err, errlen, "dedupe", s->conn);
		goto out;
	}
	cp_keyindex *stored = cp_keyindex_new();
	for (int row = 0; stored && row < PQntuples(res); row++) {
		char key[512];
		int len = snprintf(key, sizeof key, "%s|%s", PQgetvalue(res, row, 0), PQgetvalue(res, row, 1));
		cp_keyindex_put(stored, key, len < (int)sizeof key ? (size_t)len : sizeof key - 1, NULL);
	}
	PQclear(res);
	for (size_t i = 0; stored && i < n; i++) {
		char key[512];
		size_t len = dedupe_key(key, sizeof key, ps[i].meta->profile_id, ps[i].time_nanos);
		if (cp_keyindex_get(stored, key, len) != CP_KEYINDEX_NONE)
			dup[i] = 1;
	}
	cp_keyindex_free(stored);
	rc = exec(s->conn, "COMMIT", "dedupe", err, errlen);
out:
	rows_discard(&r);
	cp_keyindex_free(seen);
	return rc;
}

static void put_labels(FILE *f, const cp_envelope *e)
{
	char *json = NULL;
	size_t len = 0;
	if (labels_json(e, &json, &len) == 0)
		cp_text_copy(f, json, len);
	else
		fputs("{}", f);
	free(json);
}

/* The profile rows of the new profiles, as COPY text for cprof_in_profiles. */
static int profile_rows(const cp_store_profile *ps, size_t n, const char *dup, rows *r)
{
	if (rows_open(r))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (dup[i])
			continue;
		const cp_store_profile *p = &ps[i];
		const cp_envelope *e = p->meta;
		put_timestamp(r->f, p->time_nanos);
		fputc('\t', r->f);
		const char *texts[] = {e->profile_id, e->service, e->version, e->env, e->zone, e->instance, e->profile_type};
		for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
			cp_text_copy(r->f, or_empty(texts[k]), strlen(or_empty(texts[k])));
			fputc('\t', r->f);
		}
		put_labels(r->f, e);
		fprintf(r->f, "\t%" PRId64 "\t{", p->duration_nanos);
		for (size_t t = 0; t < cp_flat_ntypes(p->flat); t++) {
			fputs(t ? ",\"" : "\"", r->f);
			/* an array element inside COPY text: escape for both */
			cp_pstr ty = cp_flat_type(p->flat, t), un = cp_flat_unit(p->flat, t);
			for (size_t c = 0; c < ty.len + 1 + un.len; c++) {
				char ch = c < ty.len ? ty.ptr[c] : c == ty.len ? '/' : un.ptr[c - ty.len - 1];
				if (ch == '"' || ch == '\\')
					fputs("\\\\", r->f);
				cp_text_copy(r->f, &ch, 1);
			}
			fputc('"', r->f);
		}
		fputs("}\t{", r->f);
		for (size_t t = 0; t < cp_flat_ntypes(p->flat); t++)
			fprintf(r->f, t ? ",%" PRId64 : "%" PRId64, cp_flat_total(p->flat, t));
		fprintf(r->f, "}\t%zu\t%zu\t", p->samples, p->payload_bytes);
		cp_text_copy(r->f, or_empty(p->kafka_topic), strlen(or_empty(p->kafka_topic)));
		fprintf(r->f, "\t%" PRId32 "\t%" PRId64 "\n", p->kafka_partition, p->kafka_offset);
	}
	return 0;
}

/* Appends the decimal text of v. */
static void put_int(FILE *f, int64_t v)
{
	char buf[24], *p = buf + sizeof buf;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	fwrite(p, 1, (size_t)(buf + sizeof buf - p), f);
}

/* series_minutes rows: one per (series, minute) key, its width sums in columns. */
static int series_rows(const cp_keyindex *keys, const int64_t *sums, size_t width, rows *r)
{
	if (rows_open(r))
		return -1;
	for (size_t i = 0; i < cp_keyindex_count(keys); i++) {
		size_t len;
		const fact_key *k = cp_keyindex_key(keys, (uint32_t)i, &len);
		put_timestamp(r->f, k->minute * 1000000000);
		fputc('\t', r->f);
		put_int(r->f, k->series);
		for (size_t w = 0; w < width; w++) {
			fputc('\t', r->f);
			put_int(r->f, sums[i * width + w]);
		}
		fputc('\n', r->f);
	}
	return 0;
}

static const cp_keyindex *sorting_keys; /* the keys order_by_key compares (qsort has no context) */

static int order_by_key(const void *a, const void *b)
{
	size_t len;
	const fact_key *x = cp_keyindex_key(sorting_keys, *(const uint32_t *)a, &len);
	const fact_key *y = cp_keyindex_key(sorting_keys, *(const uint32_t *)b, &len);
	if (x->series != y->series)
		return x->series < y->series ? -1 : 1;
	if (x->minute != y->minute)
		return x->minute < y->minute ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Packed rows: one per (series, minute), the ids ascending in one array and each of the width
 * sums in an array of its own, in the same order. Sets *nrows. */
static int packed_rows(const cp_keyindex *keys, const int64_t *sums, size_t width, rows *r, size_t *nrows)
{
	size_t n = cp_keyindex_count(keys);
	uint32_t *order = malloc((n + 1) * sizeof *order);
	if (!order || rows_open(r)) {
		free(order);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	sorting_keys = keys;
	qsort(order, n, sizeof *order, order_by_key);
	*nrows = 0;
	size_t len;
	for (size_t first = 0, end; first < n; first = end) {
		const fact_key *k = cp_keyindex_key(keys, order[first], &len);
		for (end = first + 1; end < n; end++) {
			const fact_key *e = cp_keyindex_key(keys, order[end], &len);
			if (e->series != k->series || e->minute != k->minute)
				break;
		}
		put_timestamp(r->f, k->minute * 1000000000);
		fputc('\t', r->f);
		put_int(r->f, k->series);
		for (size_t column = 0; column <= width; column++) { /* the ids, then each sum */
			fputs("\t{", r->f);
			for (size_t i = first; i < end; i++) {
				if (i > first)
					fputc(',', r->f);
				put_int(r->f, column ? sums[(size_t)order[i] * width + column - 1]
						     : ((const fact_key *)cp_keyindex_key(keys, order[i], &len))->id);
			}
			fputc('}', r->f);
		}
		fputc('\n', r->f);
		++*nrows;
	}
	free(order);
	return 0;
}

/* The first and last minute (unix seconds) the batch's facts fall in; first > last when none. */
static void minute_range(const facts *f, int64_t *first, int64_t *last)
{
	*first = INT64_MAX;
	*last = INT64_MIN;
	for (size_t i = 0; i < cp_keyindex_count(f->series_keys); i++) {
		size_t len;
		const fact_key *k = cp_keyindex_key(f->series_keys, (uint32_t)i, &len);
		*first = k->minute < *first ? k->minute : *first;
		*last = k->minute > *last ? k->minute : *last;
	}
}

/* Partitions for every day of the batch's minutes [first, last] (cached: a day is checked once
 * per store). */
static int ensure_days(cp_store *s, int64_t first, int64_t last, char *err, size_t errlen)
{
	if (first <= last) {
		first = floor_div(first, 86400);
		last = floor_div(last, 86400);
	}
	if (first > last || (first >= s->ensured_first_day && last <= s->ensured_last_day))
		return 0;
	char a[32], b[32];
	snprintf(a, sizeof a, "%" PRId64, first);
	snprintf(b, sizeof b, "%" PRId64, last);
	const char *params[] = {a, b};
	PGresult *r = PQexecParams(s->conn,
				   "SELECT cprof.ensure_partitions(DATE '1970-01-01' + $1::int, DATE '1970-01-01' + $2::int)", 2,
				   NULL, params, NULL, NULL, 0);
	int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	if (!ok)
		return fail(err, errlen, "creating partitions", s->conn);
	if (s->ensured_first_day > s->ensured_last_day || (first >= s->ensured_first_day - 1 && last <= s->ensured_last_day + 1)) {
		s->ensured_first_day = (int32_t)(s->ensured_first_day > s->ensured_last_day || first < s->ensured_first_day ? first : s->ensured_first_day);
		s->ensured_last_day = (int32_t)(last > s->ensured_last_day ? last : s->ensured_last_day);
	}
	return 0;
}

/* Late data: minutes of the batch in hours or days already rolled up are added to those tiers
 * in this transaction (cprof.roll_late, sql/005_rollups.sql); the rows it adds count as written. */
static int roll_late(cp_store *s, int64_t first, int64_t last, size_t *written, char *err, size_t errlen)
{
	if (first > last)
		return 0;
	char a[32], b[32];
	snprintf(a, sizeof a, "%" PRId64, first);
	snprintf(b, sizeof b, "%" PRId64, last);
	const char *params[] = {a, b};
	PGresult *r = PQexecParams(s->conn, "SELECT cprof.roll_late(to_timestamp($1::bigint), to_timestamp($2::bigint))", 2,
				   NULL, params, NULL, NULL, 0);
	int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
	if (ok)
		*written += (size_t)strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return ok ? 0 : fail(err, errlen, "adding late data to the rollups", s->conn);
}

/* Moves each partition's stored offset from start to end, or fails with "fence". */
static int move_offsets(cp_store *s, const cp_store_offsets *offs, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		char part[16], start[32], end[32];
		snprintf(part, sizeof part, "%" PRId32, offs[i].partition);
		snprintf(start, sizeof start, "%" PRId64, offs[i].start);
		snprintf(end, sizeof end, "%" PRId64, offs[i].end);
		const char *params[] = {s->group, offs[i].topic, part, start, end};
		PGresult *r = PQexecParams(
			s->conn,
			"WITH moved AS (UPDATE cprof.kafka_offsets SET next_offset = $5::bigint, updated_at = now() "
			"  WHERE consumer_group = $1 AND topic = $2 AND kafka_partition = $3::int AND next_offset = $4::bigint "
			"  RETURNING 1), "
			"created AS (INSERT INTO cprof.kafka_offsets (consumer_group, topic, kafka_partition, next_offset) "
			"  SELECT $1, $2, $3::int, $5::bigint WHERE NOT EXISTS (SELECT 1 FROM cprof.kafka_offsets "
			"  WHERE consumer_group = $1 AND topic = $2 AND kafka_partition = $3::int) "
			"  ON CONFLICT DO NOTHING RETURNING 1) "
			"SELECT (SELECT count(*) FROM moved) + (SELECT count(*) FROM created)",
			5, NULL, params, NULL, NULL, 0);
		int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
		int moved = ok && strcmp(PQgetvalue(r, 0, 0), "1") == 0;
		PQclear(r);
		if (!ok)
			return fail(err, errlen, "storing offsets", s->conn);
		if (!moved) {
			snprintf(err, errlen,
				 "fence: %s [%" PRId32 "] is no longer at offset %" PRId64
				 " for this group (another worker moved it on): the batch is not stored",
				 offs[i].topic, offs[i].partition, offs[i].start);
			return -1;
		}
	}
	return 0;
}

/* One attempt: 1 when a concurrent insert of some profile requires a redo. */
static int write_once(cp_store *s, const cp_store_profile *ps, size_t n, const cp_store_offsets *offs,
		      size_t noffs, cp_store_result *res, char *err, size_t errlen)
{
	char *dup = calloc(n + 1, 1);
	facts f = {cp_keyindex_new(), cp_keyindex_new(), cp_keyindex_new(), NULL, NULL, NULL, 0, 0, 0};
	rows r = {0};
	int rc = -1;
	if (!dup || !f.function_keys || !f.stack_keys || !f.series_keys) {
		fail(err, errlen, "batch", NULL);
		goto out;
	}
	if (find_duplicates(s, ps, n, dup, err, errlen))
		goto out;
	size_t fresh = 0;
	for (size_t i = 0; i < n; i++) {
		if (dup[i])
			continue;
		if (aggregate(s, &ps[i], &f, err, errlen))
			goto out;
		fresh++;
	}
	int64_t first_minute, last_minute;
	minute_range(&f, &first_minute, &last_minute);
	if (ensure_days(s, first_minute, last_minute, err, errlen) ||
	    exec(s->conn, "BEGIN; TRUNCATE cprof_in_profiles", "batch", err, errlen))
		goto out;
	if (profile_rows(ps, n, dup, &r) ||
	    rows_copy(s->conn, &r,
		      "COPY cprof_in_profiles (profile_time, profile_id, service, version, env, zone, instance, "
		      "profile_type, labels, duration_nanos, sample_types, totals, samples, payload_bytes, kafka_topic, "
		      "kafka_partition, kafka_offset) FROM STDIN",
		      "staging profiles", err, errlen))
		goto abort;
	PGresult *ins = PQexec(s->conn, "INSERT INTO cprof.profiles SELECT * FROM cprof_in_profiles ON CONFLICT DO NOTHING");
	int ok = PQresultStatus(ins) == PGRES_COMMAND_OK;
	size_t inserted = ok ? (size_t)strtoull(PQcmdTuples(ins), NULL, 10) : 0;
	PQclear(ins);
	if (!ok) {
		fail(err, errlen, "inserting profiles", s->conn);
		goto abort;
	}
	if (inserted != fresh) { /* another worker stored some meanwhile: look again */
		rollback(s->conn);
		rc = 1;
		goto out;
	}
	size_t written = 0, nrows[3] = {0, 0, cp_keyindex_count(f.series_keys)};
	if ((packed_rows(f.function_keys, f.function_sums, 2, &r, &nrows[0]) && fail(err, errlen, "writing facts", NULL)) ||
	    rows_copy(s->conn, &r, "COPY cprof.function_minutes_packed (bucket, series_id, function_ids, flat, cum) FROM STDIN",
		      "writing function facts", err, errlen) ||
	    (packed_rows(f.stack_keys, f.stack_sums, 1, &r, &nrows[1]) && fail(err, errlen, "writing facts", NULL)) ||
	    rows_copy(s->conn, &r, "COPY cprof.stack_minutes_packed (bucket, series_id, stack_ids, self) FROM STDIN",
		      "writing stack facts", err, errlen) ||
	    (series_rows(f.series_keys, f.series_sums, 4, &r) && fail(err, errlen, "writing facts", NULL)) ||
	    rows_copy(s->conn, &r,
		      "COPY cprof.series_minutes (bucket, series_id, total, profiles, profiled_nanos, total_abs) FROM STDIN",
		      "writing series facts", err, errlen))
		goto abort;
	written = nrows[0] + nrows[1] + nrows[2];
	if (roll_late(s, first_minute, last_minute, &written, err, errlen))
		goto abort;
	if ((s->group && move_offsets(s, offs, noffs, err, errlen)) || exec(s->conn, "COMMIT", "committing the batch", err, errlen))
		goto abort;
	res->stored += fresh;
	res->duplicates += n - fresh;
	res->rows += written;
	rc = 0;
	goto out;
abort:
	rows_discard(&r);
	rollback(s->conn);
out:
	rows_discard(&r);
	free(dup);
	facts_free(&f);
	return rc;
}

int cp_store_write(cp_store *s, const cp_store_profile *ps, size_t n, const cp_store_offsets *offs, size_t noffs,
		   cp_store_result *result, char *err, size_t errlen)
{
	*result = (cp_store_result){0};
	if (ensure_temp_tables(s, err, errlen))
		return -1;
	for (int attempt = 0; attempt < MAX_REDO; attempt++) {
		int rc = write_once(s, ps, n, offs, noffs, result, err, errlen);
		if (rc <= 0) {
			if (rc < 0 && PQstatus(s->conn) != CONNECTION_OK)
				s->temp_tables = 0; /* a new session will need them again */
			if (cp_keyindex_count(s->stacks) > STACK_CACHE_LIMIT)
				cp_keyindex_clear(s->stacks);
			return rc;
		}
	}
	snprintf(err, errlen, "profiles kept being stored concurrently by another writer; gave up after %d tries",
		 MAX_REDO);
	return -1;
}
