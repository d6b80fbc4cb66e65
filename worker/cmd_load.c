/* cmd_load: `cprof-worker load`: stores pprof files in PostgreSQL exactly as the ingest loop
 * stores what it consumes (same decoding, flattening, dedupe and store), without Kafka: for
 * backfills, benchmarks and tests. Files are read and checked first; any bad file stores
 * nothing. --repeat stores the list several times over and --every spreads the profiles in
 * time, so that a long history is a few distinct files decoded once (bench/history). */
#define _GNU_SOURCE /* getopt_long */
#include <getopt.h>
#include <libpq-fe.h>
#include <stdint.h>
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
	"Every file is read and checked first: a bad file stores nothing.\n"
	"\n"
	"  --pg CONNINFO     the database (else $CPROF_PG, else libpq's PG* variables)\n"
	"  --service S       required\n"
	"  --version V, --env E, --zone Z, --instance I   the upload's metadata\n"
	"  --label K=V       repeatable\n"
	"  --type T          cpu, heap, ... (default: guessed from the profile)\n"
	"  --time T          the profiles' time, RFC 3339 or unix nanoseconds (default: each\n"
	"                    profile's own time_nanos)\n"
	"  --every D         with --time: the i-th profile stored (from 0) gets T + i x D, e.g. 1m\n"
	"                    (a duration: 10s, 1m, 1h30m, 1d)\n"
	"  --repeat N        store the FILE list N times over, in order (default 1): N x FILEs\n"
	"                    profiles, each file read and decoded once; without --every the\n"
	"                    repeats have the first pass's times and are skipped as duplicates\n"
	"  --batch N         profiles per transaction (default 200)\n";

typedef struct {
	const char *pg;
	cp_envelope meta;
	cp_envelope_label labels[64];
	const char *type;
	int have_time;
	int64_t time_nanos, every_nanos;
	size_t repeat, batch;
	char **files;
	size_t nfiles;
} load_options;

/* A wrong command line: "cprof-worker load: WHAT" and the exit status for it. */
static int usage_error(const char *what)
{
	fprintf(stderr, "cprof-worker load: %s\n", what);
	return CP_WORKER_USAGE;
}

static int parse(int argc, char **argv, load_options *o)
{
	enum {
		O_PG = 256, O_SERVICE, O_VERSION, O_ENV, O_ZONE, O_INSTANCE, O_LABEL, O_TYPE, O_BATCH, O_TIME,
		O_EVERY, O_REPEAT, O_HELP
	};
	static const struct option longopts[] = {
		{"pg", required_argument, NULL, O_PG},		 {"service", required_argument, NULL, O_SERVICE},
		{"version", required_argument, NULL, O_VERSION}, {"env", required_argument, NULL, O_ENV},
		{"zone", required_argument, NULL, O_ZONE},	 {"instance", required_argument, NULL, O_INSTANCE},
		{"label", required_argument, NULL, O_LABEL},	 {"type", required_argument, NULL, O_TYPE},
		{"batch", required_argument, NULL, O_BATCH},	 {"help", no_argument, NULL, O_HELP},
		{"time", required_argument, NULL, O_TIME},	 {"every", required_argument, NULL, O_EVERY},
		{"repeat", required_argument, NULL, O_REPEAT},	 {NULL, 0, NULL, 0},
	};
	*o = (load_options){.batch = 200, .repeat = 1};
	o->meta.version = o->meta.env = o->meta.zone = o->meta.instance = o->meta.profile_id = "";
	o->meta.labels = o->labels;
	int have_every = 0;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		char err[256], msg[512];
		long v;
		switch (c) {
		case O_PG: o->pg = optarg; break;
		case O_SERVICE: o->meta.service = optarg; break;
		case O_VERSION: o->meta.version = optarg; break;
		case O_ENV: o->meta.env = optarg; break;
		case O_ZONE: o->meta.zone = optarg; break;
		case O_INSTANCE: o->meta.instance = optarg; break;
		case O_TYPE: o->type = optarg; break;
		case O_TIME:
			if (cp_time_parse_instant(optarg, &o->time_nanos, err, sizeof err)) {
				snprintf(msg, sizeof msg, "--time: %s", err);
				return usage_error(msg);
			}
			o->have_time = 1;
			break;
		case O_EVERY:
			if (cp_time_parse_duration(optarg, &o->every_nanos, err, sizeof err)) {
				snprintf(msg, sizeof msg, "--every: %s", err);
				return usage_error(msg);
			}
			have_every = 1;
			break;
		case O_LABEL: {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg || o->meta.nlabels == sizeof o->labels / sizeof o->labels[0]) {
				snprintf(msg, sizeof msg, "--label wants KEY=VALUE (at most 64), not '%.400s'", optarg);
				return usage_error(msg);
			}
			*eq = '\0';
			o->labels[o->meta.nlabels++] = (cp_envelope_label){optarg, eq + 1};
			break;
		}
		case O_BATCH:
		case O_REPEAT:
			if (cp_args_long(optarg, 1, c == O_BATCH ? 100000 : 1000000, &v)) {
				snprintf(msg, sizeof msg, "%s wants 1..%s, not '%.400s'", c == O_BATCH ? "--batch" : "--repeat",
					 c == O_BATCH ? "100000" : "1000000", optarg);
				return usage_error(msg);
			}
			*(c == O_BATCH ? &o->batch : &o->repeat) = (size_t)v;
			break;
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
	if (have_every && !o->have_time)
		return usage_error("--every needs --time (the first profile's time)");
	/* The last profile's time must stay within int64 nanoseconds (the year 2262). */
	size_t last = o->nfiles - 1 + (o->repeat - 1) * o->nfiles;
	if (o->nfiles > SIZE_MAX / o->repeat ||
	    (o->every_nanos > 0 && (uint64_t)last > (uint64_t)(INT64_MAX - o->time_nanos) / (uint64_t)o->every_nanos))
		return usage_error("--time + --every x the number of profiles is past the year 2262");
	return -1;
}

/* One distinct file, read and decoded once: what every profile stored from it shares. */
typedef struct {
	uint8_t *payload; /* the file's bytes, for the profile id */
	size_t len;
	cp_flat *flat;
	const char *type;
	int64_t time_nanos, duration_nanos;
	size_t samples;
} loaded;

static int load_file(const load_options *o, const char *path, loaded *l, char *err, size_t errlen)
{
	cp_pprof *p = NULL;
	char why[512];
	int rc = -1;
	if (cp_file_read(path, CP_ENVELOPE_DEFAULT_MAX_PAYLOAD, &l->payload, &l->len, err, errlen))
		return -1;
	if (cp_pprof_decode(l->payload, l->len, NULL, &p, why, sizeof why)) {
		snprintf(err, errlen, "%s: %s", path, why);
		goto out;
	}
	l->flat = cp_flat_new(CP_FLAT_STACKS);
	if (!l->flat || cp_flat_add(l->flat, p, why, sizeof why)) {
		snprintf(err, errlen, "%s: %s", path, l->flat ? why : "out of memory");
		goto out;
	}
	l->type = o->type ? o->type : cp_envelope_guess_type(p); /* a static string */
	l->time_nanos = p->time_nanos;
	l->duration_nanos = p->duration_nanos;
	l->samples = p->nsamples;
	rc = 0;
out:
	cp_pprof_free(p);
	return rc;
}

/* Profile i of the run (file i mod nfiles of the list): its envelope, id and store entry, in
 * the caller's slots. */
static int prepare(const load_options *o, const loaded *files, size_t i, cp_envelope *meta,
		   char id[CP_ENVELOPE_ID_LEN + 1], cp_store_profile *profile)
{
	const loaded *f = &files[i % o->nfiles];
	int64_t time_nanos = o->have_time ? o->time_nanos + (int64_t)i * o->every_nanos : f->time_nanos;
	*meta = o->meta;
	meta->profile_type = f->type;
	meta->start_time_unix_nanos = time_nanos;
	meta->duration_nanos = f->duration_nanos;
	meta->payload = f->payload;
	meta->payload_len = f->len;
	if (cp_envelope_derive_id(meta, id))
		return -1;
	meta->profile_id = id;
	meta->payload = NULL; /* not kept: the store needs only the flattened profile */
	*profile = (cp_store_profile){
		.meta = meta,
		.time_nanos = time_nanos,
		.duration_nanos = f->duration_nanos,
		.flat = f->flat,
		.samples = f->samples,
		.payload_bytes = f->len,
		.kafka_topic = "",
		.kafka_partition = -1,
		.kafka_offset = -1,
	};
	return 0;
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
	cp_envelope *metas = NULL;
	char(*ids)[CP_ENVELOPE_ID_LEN + 1] = NULL;
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
	metas = calloc(o.batch, sizeof *metas);
	ids = calloc(o.batch, sizeof *ids);
	if (!store || !batch || !metas || !ids) {
		fputs("cprof-worker load: out of memory\n", stderr);
		goto out;
	}
	size_t count = o.nfiles * o.repeat;
	cp_store_result total = {0};
	for (size_t first = 0; first < count; first += o.batch) {
		size_t n = count - first < o.batch ? count - first : o.batch;
		for (size_t i = 0; i < n; i++) {
			if (prepare(&o, files, first + i, &metas[i], ids[i], &batch[i])) {
				fputs("cprof-worker load: out of memory\n", stderr);
				goto out;
			}
		}
		cp_store_result r;
		if (cp_store_write(store, batch, n, NULL, 0, &r, err, sizeof err)) {
			fprintf(stderr, "cprof-worker load: profiles %zu to %zu: %s\n", first + 1, first + n, err);
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
	for (size_t i = 0; i < o.nfiles; i++) {
		cp_flat_destroy(files[i].flat);
		free(files[i].payload);
	}
	free(files);
	free(batch);
	free(metas);
	free(ids);
	cp_store_free(store);
	PQfinish(conn);
	return status;
}
