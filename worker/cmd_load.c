/* cmd_load: `cprof-worker load`: stores pprof files in PostgreSQL exactly as the ingest loop
 * stores what it consumes (same decoding, flattening, dedupe and store), without Kafka: for
 * backfills, benchmarks and tests. Files are read and checked first; any bad file stores
 * nothing. */
#define _GNU_SOURCE /* getopt_long */
#include <getopt.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "cp_time.h"
#include "cp_args.h"
#include "cp_envelope.h"
#include "cp_file.h"
#include "cp_flat.h"
#include "cp_pprof.h"
#include "store.h"

static const char load_usage[] =
	"usage: cprof-worker load --service S [options] FILE...\n"
	"\n"
	"Stores pprof files (gzip or raw) in the database as the worker stores consumed uploads.\n"
	"\n"
	"  --pg CONNINFO     the database (else $CPROF_PG, else libpq's PG* variables)\n"
	"  --service S       required\n"
	"  --version V, --env E, --zone Z, --instance I   the upload's metadata\n"
	"  --label K=V       repeatable\n"
	"  --type T          cpu, heap, ... (default: guessed from the profile)\n"
	"  --time T          the profiles' time, RFC 3339 or unix nanoseconds (default: each\n"
	"                    profile's own time_nanos)\n"
	"  --batch N         profiles per transaction (default 200)\n";

typedef struct {
	const char *pg;
	cp_envelope meta;
	cp_envelope_label labels[64];
	const char *type;
	int64_t time_nanos; /* 0: each profile's own */
	size_t batch;
	char **files;
	size_t nfiles;
} load_options;

static int parse(int argc, char **argv, load_options *o)
{
	enum { O_PG = 256, O_SERVICE, O_VERSION, O_ENV, O_ZONE, O_INSTANCE, O_LABEL, O_TYPE, O_BATCH, O_TIME, O_HELP };
	static const struct option longopts[] = {
		{"pg", required_argument, NULL, O_PG},		 {"service", required_argument, NULL, O_SERVICE},
		{"version", required_argument, NULL, O_VERSION}, {"env", required_argument, NULL, O_ENV},
		{"zone", required_argument, NULL, O_ZONE},	 {"instance", required_argument, NULL, O_INSTANCE},
		{"label", required_argument, NULL, O_LABEL},	 {"type", required_argument, NULL, O_TYPE},
		{"batch", required_argument, NULL, O_BATCH},	 {"help", no_argument, NULL, O_HELP},
		{"time", required_argument, NULL, O_TIME},
		{NULL, 0, NULL, 0},
	};
	*o = (load_options){.batch = 200};
	o->meta.version = o->meta.env = o->meta.zone = o->meta.instance = o->meta.profile_id = "";
	o->meta.labels = o->labels;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case O_PG: o->pg = optarg; break;
		case O_SERVICE: o->meta.service = optarg; break;
		case O_VERSION: o->meta.version = optarg; break;
		case O_ENV: o->meta.env = optarg; break;
		case O_ZONE: o->meta.zone = optarg; break;
		case O_INSTANCE: o->meta.instance = optarg; break;
		case O_TYPE: o->type = optarg; break;
		case O_TIME: {
			char err[256];
			if (cp_time_parse_instant(optarg, &o->time_nanos, err, sizeof err)) {
				fprintf(stderr, "cprof-worker load: --time: %s\n", err);
				return CP_WORKER_USAGE;
			}
			break;
		}
		case O_LABEL: {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg || o->meta.nlabels == sizeof o->labels / sizeof o->labels[0]) {
				fprintf(stderr, "cprof-worker load: --label wants KEY=VALUE (at most 64), not '%s'\n", optarg);
				return CP_WORKER_USAGE;
			}
			*eq = '\0';
			o->labels[o->meta.nlabels++] = (cp_envelope_label){optarg, eq + 1};
			break;
		}
		case O_BATCH: {
			long v;
			if (cp_args_long(optarg, 1, 100000, &v)) {
				fprintf(stderr, "cprof-worker load: --batch wants 1..100000, not '%s'\n", optarg);
				return CP_WORKER_USAGE;
			}
			o->batch = (size_t)v;
			break;
		}
		case O_HELP: fputs(load_usage, stdout); return CP_WORKER_OK;
		default:
			fprintf(stderr, "cprof-worker load: bad option '%s'\n%s", argv[optind - 1], load_usage);
			return CP_WORKER_USAGE;
		}
	}
	o->files = argv + optind;
	o->nfiles = (size_t)(argc - optind);
	if (!o->meta.service || !*o->meta.service || !o->nfiles) {
		fprintf(stderr, "cprof-worker load: give --service and at least one FILE\n%s", load_usage);
		return CP_WORKER_USAGE;
	}
	return -1;
}

/* One loaded file: what the store needs, owned here. */
typedef struct {
	cp_envelope meta;
	char id[CP_ENVELOPE_ID_LEN + 1];
	cp_flat *flat;
	cp_store_profile profile;
} loaded;

static int load_file(const load_options *o, const char *path, loaded *l, char *err, size_t errlen)
{
	uint8_t *data = NULL;
	size_t len = 0;
	cp_pprof *p = NULL;
	char why[512];
	int rc = -1;
	if (cp_file_read(path, CP_ENVELOPE_DEFAULT_MAX_PAYLOAD, &data, &len, err, errlen))
		return -1;
	if (cp_pprof_decode(data, len, NULL, &p, why, sizeof why)) {
		snprintf(err, errlen, "%s: %s", path, why);
		goto out;
	}
	l->flat = cp_flat_new(CP_FLAT_STACKS);
	if (!l->flat || cp_flat_add(l->flat, p, why, sizeof why)) {
		snprintf(err, errlen, "%s: %s", path, l->flat ? why : "out of memory");
		goto out;
	}
	l->meta = o->meta;
	l->meta.profile_type = o->type ? o->type : cp_envelope_guess_type(p);
	int64_t time_nanos = o->time_nanos ? o->time_nanos : p->time_nanos;
	l->meta.start_time_unix_nanos = time_nanos;
	l->meta.duration_nanos = p->duration_nanos;
	l->meta.payload = data;
	l->meta.payload_len = len;
	if (cp_envelope_derive_id(&l->meta, l->id)) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	l->meta.profile_id = l->id;
	l->meta.payload = NULL; /* not kept: the store needs only the flattened profile */
	l->profile = (cp_store_profile){
		.meta = &l->meta,
		.time_nanos = time_nanos,
		.duration_nanos = p->duration_nanos,
		.flat = l->flat,
		.samples = p->nsamples,
		.payload_bytes = len,
		.kafka_topic = "",
		.kafka_partition = -1,
		.kafka_offset = -1,
	};
	rc = 0;
out:
	cp_pprof_free(p);
	free(data);
	return rc;
}

int cp_worker_load(int argc, char **argv)
{
	load_options o;
	int status = parse(argc, argv, &o);
	if (status >= 0)
		return status;

	char err[1024];
	loaded *files = calloc(o.nfiles, sizeof *files);
	if (!files) {
		fputs("cprof-worker load: out of memory\n", stderr);
		return CP_WORKER_FAILURE;
	}
	status = CP_WORKER_FAILURE;
	PGconn *conn = NULL;
	cp_store *store = NULL;
	cp_store_profile *batch = NULL;
	for (size_t i = 0; i < o.nfiles; i++) {
		if (load_file(&o, o.files[i], &files[i], err, sizeof err)) {
			fprintf(stderr, "cprof-worker load: %s (nothing stored)\n", err);
			goto out;
		}
	}
	conn = PQconnectdb(cp_worker_conninfo(o.pg));
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "cprof-worker load: cannot connect to PostgreSQL: %s", PQerrorMessage(conn));
		goto out;
	}
	store = cp_store_new(conn, NULL);
	batch = calloc(o.batch, sizeof *batch);
	if (!store || !batch) {
		fputs("cprof-worker load: out of memory\n", stderr);
		goto out;
	}
	cp_store_result total = {0};
	for (size_t first = 0; first < o.nfiles; first += o.batch) {
		size_t n = o.nfiles - first < o.batch ? o.nfiles - first : o.batch;
		for (size_t i = 0; i < n; i++)
			batch[i] = files[first + i].profile;
		cp_store_result r;
		if (cp_store_write(store, batch, n, NULL, 0, &r, err, sizeof err)) {
			fprintf(stderr, "cprof-worker load: files %zu to %zu: %s\n", first + 1, first + n, err);
			goto out;
		}
		total.stored += r.stored;
		total.duplicates += r.duplicates;
		total.rows += r.rows;
	}
	printf("loaded: %zu profiles stored, %zu duplicates skipped, %zu rows written\n", total.stored,
	       total.duplicates, total.rows);
	status = CP_WORKER_OK;
out:
	for (size_t i = 0; i < o.nfiles; i++)
		cp_flat_destroy(files[i].flat);
	free(files);
	free(batch);
	cp_store_free(store);
	PQfinish(conn);
	return status;
}
