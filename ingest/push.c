/* cprof-push: publishes pprof files to cprof's Kafka topic. Every file is read and validated with
 * the pprof decoder first; when any is bad, nothing is sent. Each profile then travels as a
 * cprof.v1.ProfileUpload envelope (or, with --raw, as the pprof bytes with the metadata in cprof-*
 * Kafka headers), keyed by service/instance, through an idempotent producer; the command waits
 * for every delivery report and prints where each profile landed. */
#define _GNU_SOURCE /* getopt_long */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "cp_envelope.h"
#include "cp_file.h"
#include "cp_pprof.h"
#include "cp_kafka_conf.h"
#include "cp_time.h"
#include "push_send.h"
#include "cp_args.h"
#include "cp_log.h"

#define PROG "cprof-push"
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

#define DEFAULT_TOPIC "cprof.profiles"
#define DEFAULT_TIMEOUT_NS (INT64_C(30) * 1000000000)
#define FLUSH_MARGIN_MS 2000 /* past message.timeout.ms, so librdkafka reports its own timeouts */
#define MAX_KEY 256          /* longest label key on the command line */

static const char usage_text[] =
	"usage: " PROG " -b BROKERS --service NAME [options] FILE...\n"
	"\n"
	"Publishes pprof profiles (gzip or raw protobuf) to cprof's Kafka topic. Every FILE is\n"
	"validated first; if any is not a valid profile, its name and the reason are printed and\n"
	"nothing is sent. Each profile goes as a cprof.v1.ProfileUpload envelope (proto/cprof.proto)\n"
	"keyed by SERVICE/INSTANCE, through an idempotent producer (enable.idempotence=true,\n"
	"acks=all); " PROG " waits for every delivery and prints one line per file:\n"
	"  FILE -> TOPIC [PARTITION] @ OFFSET (id PROFILE_ID)\n"
	"\n"
	"options:\n"
	"  -b, --brokers LIST     Kafka bootstrap servers (default: $CPROF_KAFKA_BROKERS)\n"
	"  -t, --topic TOPIC      topic (default " DEFAULT_TOPIC ")\n"
	"  --service NAME         the service (required)\n"
	"  --version V            its version\n"
	"  --env E                deployment track: production, canary, ...\n"
	"  --zone Z               zone or region\n"
	"  --instance I           the instance (pod, host) the profiles come from\n"
	"  --label KEY=VALUE      a free-form label (repeatable)\n"
	"  --type TYPE            cpu, heap, allocs, mutex, block, goroutine, threadcreate, wall or any\n"
	"                         name (default: guessed from each profile's sample types, see below)\n"
	"  --time TIME            the profile's start, RFC 3339 (2024-05-01T12:00:00Z) or unix\n"
	"                         nanoseconds (default: the profile's own time_nanos)\n"
	"  --duration DURATION    how long it covers, e.g. 10s, 1m30s, 250ms (default: the profile's\n"
	"                         own duration_nanos)\n"
	"  --id ID                the profile id, the key the worker stores a profile under once\n"
	"                         (one FILE only; default: derived from a SHA-256 of the metadata and\n"
	"                         the bytes, so pushing the same file again is stored once)\n"
	"  --raw                  send the pprof bytes as the message value with the metadata in Kafka\n"
	"                         headers (cprof-service, cprof-version, cprof-env, cprof-zone,\n"
	"                         cprof-instance, cprof-profile-type, cprof-profile-id, cprof-time,\n"
	"                         cprof-duration, cprof-label-KEY), as producers without protobuf do\n"
	"  -X KEY=VALUE           a librdkafka property, passed unchanged (repeatable; after and over\n"
	"                         cprof-push's own settings), e.g. -X security.protocol=SASL_SSL\n"
	"  --timeout DURATION     how long delivery may take (default 30s; sets message.timeout.ms)\n"
	"  --max-size BYTES       refuse profiles larger than this after decompression (default\n"
	"                         268435456)\n"
	"  --help                 this text\n"
	"\n"
	"The type guess, first match wins: cpu (a cpu/nanoseconds sample type, or samples/count with\n"
	"period type cpu); wall (a wall sample type or period); allocs (inuse_space with default sample\n"
	"type alloc_space or alloc_objects, or alloc_* types alone); heap (inuse_space); mutex or block\n"
	"(contentions/count and delay/nanoseconds: mutex when a sample's leaf function is an Unlock,\n"
	"block otherwise; unknown without samples); goroutine; threadcreate; else unknown.\n"
	"\n"
	"Exit status: 0 every profile delivered, 1 a bad file (nothing sent) or a failed delivery,\n"
	"2 a wrong command line or librdkafka property.\n";

typedef struct {
	const char *brokers, *topic;
	const char *service, *version, *env, *zone, *instance, *type, *id;
	cp_envelope_label *labels;
	size_t nlabels;
	int64_t time_nanos, duration_nanos;
	int have_time, have_duration, raw;
	int64_t timeout_ns;
	size_t max_size;
	const char **props;
	size_t nprops;
	const char **files;
	size_t nfiles;
} options;

/* One file on its way: its bytes, the message made of them, and the message's fate. */
typedef struct {
	const char *path;
	uint8_t *data; /* the file */
	size_t len;
	uint8_t *encoded; /* the envelope (not with --raw) */
	size_t encoded_len;
	char id[CP_ENVELOPE_DEFAULT_MAX_STRING + 1]; /* derived, or --id */
	push_message msg;
} item;

static void free_options(options *o)
{
	for (size_t i = 0; i < o->nlabels; i++)
		free((void *)(uintptr_t)o->labels[i].key);
	free(o->labels);
	free(o->props);
	free(o->files);
}

static int add_label(options *o, const char *arg)
{
	char key[MAX_KEY];
	const char *value;
	char err[160];
	if (cp_args_pair(arg, key, sizeof key, &value, err, sizeof err))
		return cp_log_usage("--label %s", err);
	for (size_t i = 0; i < o->nlabels; i++)
		if (strcmp(o->labels[i].key, key) == 0)
			return cp_log_usage("--label '%s' given twice", key);
	char *copy = strdup(key);
	if (!copy) {
		fputs(PROG ": out of memory\n", stderr);
		return EXIT_FAIL;
	}
	o->labels[o->nlabels].key = copy;
	o->labels[o->nlabels].value = value;
	o->nlabels++;
	return -1;
}

/* Returns -1 to go on, or the exit status to return. */
static int parse_options(int argc, char **argv, options *o)
{
	enum {
		OPT_SERVICE = 256,
		OPT_VERSION,
		OPT_ENV,
		OPT_ZONE,
		OPT_INSTANCE,
		OPT_LABEL,
		OPT_TYPE,
		OPT_TIME,
		OPT_DURATION,
		OPT_ID,
		OPT_RAW,
		OPT_TIMEOUT,
		OPT_MAX_SIZE,
		OPT_HELP,
	};
	static const struct option longopts[] = {
		{"brokers", required_argument, NULL, 'b'},
		{"topic", required_argument, NULL, 't'},
		{"service", required_argument, NULL, OPT_SERVICE},
		{"version", required_argument, NULL, OPT_VERSION},
		{"env", required_argument, NULL, OPT_ENV},
		{"zone", required_argument, NULL, OPT_ZONE},
		{"instance", required_argument, NULL, OPT_INSTANCE},
		{"label", required_argument, NULL, OPT_LABEL},
		{"type", required_argument, NULL, OPT_TYPE},
		{"time", required_argument, NULL, OPT_TIME},
		{"duration", required_argument, NULL, OPT_DURATION},
		{"id", required_argument, NULL, OPT_ID},
		{"raw", no_argument, NULL, OPT_RAW},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"max-size", required_argument, NULL, OPT_MAX_SIZE},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof *o);
	o->topic = DEFAULT_TOPIC;
	o->timeout_ns = DEFAULT_TIMEOUT_NS;
	o->max_size = CP_PPROF_DEFAULT_MAX_DECOMPRESSED;
	o->labels = calloc((size_t)argc + 1, sizeof *o->labels);
	o->props = calloc((size_t)argc + 1, sizeof *o->props);
	o->files = calloc((size_t)argc + 1, sizeof *o->files);
	if (!o->labels || !o->props || !o->files) {
		fputs(PROG ": out of memory\n", stderr);
		return EXIT_FAIL;
	}
	char err[256];
	int c, status;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":b:t:X:", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			o->brokers = optarg;
			break;
		case 't':
			if (!*optarg)
				return cp_log_usage("%s", "-t: empty topic name");
			o->topic = optarg;
			break;
		case OPT_SERVICE:
			o->service = optarg;
			break;
		case OPT_VERSION:
			o->version = optarg;
			break;
		case OPT_ENV:
			o->env = optarg;
			break;
		case OPT_ZONE:
			o->zone = optarg;
			break;
		case OPT_INSTANCE:
			o->instance = optarg;
			break;
		case OPT_LABEL:
			if ((status = add_label(o, optarg)) >= 0)
				return status;
			break;
		case OPT_TYPE:
			o->type = optarg;
			break;
		case OPT_TIME:
			if (cp_time_parse_instant(optarg, &o->time_nanos, err, sizeof err))
				return cp_log_usage("--time %s", err);
			o->have_time = 1;
			break;
		case OPT_DURATION:
			if (cp_time_parse_duration(optarg, &o->duration_nanos, err, sizeof err))
				return cp_log_usage("--duration %s", err);
			o->have_duration = 1;
			break;
		case OPT_ID:
			o->id = optarg;
			break;
		case OPT_RAW:
			o->raw = 1;
			break;
		case OPT_TIMEOUT:
			if (cp_time_parse_duration(optarg, &o->timeout_ns, err, sizeof err))
				return cp_log_usage("--timeout %s", err);
			if (o->timeout_ns < 1000000 || o->timeout_ns / 1000000 > INT32_MAX - FLUSH_MARGIN_MS)
				return cp_log_usage("--timeout '%s': must be from 1ms to 24 days", optarg);
			break;
		case OPT_MAX_SIZE:
			if (cp_args_size(optarg, &o->max_size) || o->max_size == 0)
				return cp_log_usage("--max-size wants a number of bytes > 0, not '%s'", optarg);
			break;
		case 'X':
			if (!strchr(optarg, '=') || optarg[0] == '=')
				return cp_log_usage("-X '%s': expected KEY=VALUE", optarg);
			o->props[o->nprops++] = optarg;
			break;
		case OPT_HELP:
			fputs(usage_text, stdout);
			return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
		case ':':
			return cp_log_usage("%s needs a value", argv[optind - 1]);
		default:
			return cp_log_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	for (int i = optind; i < argc; i++)
		o->files[o->nfiles++] = argv[i];
	if (!o->service || !*o->service)
		return cp_log_usage("%s", "--service NAME is required");
	if (o->nfiles == 0)
		return cp_log_usage("%s", "no profile FILE given");
	if (o->id && o->nfiles > 1)
		return cp_log_usage("--id names one profile, but %zu files are given (leave the ids derived)",
				   o->nfiles);
	return -1;
}

/* cprof-push's producer settings (cp_kafka_producer_conf), then every -X over them. */
static rd_kafka_conf_t *build_conf(const options *o)
{
	return cp_kafka_producer_conf(PROG, o->brokers, o->timeout_ns / 1000000, o->props, o->nprops);
}

/* ------------------------------------------------------------------ preparing the messages */

/* The envelope of a profile, without its payload and per-file fields. */
static cp_envelope base_envelope(const options *o)
{
	cp_envelope e;
	memset(&e, 0, sizeof e);
	e.profile_id = o->id;
	e.service = o->service;
	e.version = o->version;
	e.env = o->env;
	e.zone = o->zone;
	e.instance = o->instance;
	e.profile_type = o->type;
	e.labels = o->labels;
	e.nlabels = o->nlabels;
	e.start_time_unix_nanos = o->time_nanos;
	e.duration_nanos = o->duration_nanos;
	return e;
}

static int add_header(rd_kafka_headers_t *h, const char *name, const char *value)
{
	if (!value || !*value)
		return 0;
	return rd_kafka_header_add(h, name, -1, value, -1) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

/* The cprof-* headers of a raw upload, or NULL when out of memory. */
static rd_kafka_headers_t *raw_headers(const cp_envelope *e, size_t *bytes)
{
	rd_kafka_headers_t *h = rd_kafka_headers_new(8 + e->nlabels);
	if (!h)
		return NULL;
	char time_s[24] = "", duration_s[24] = "";
	if (e->start_time_unix_nanos)
		snprintf(time_s, sizeof time_s, "%" PRId64, e->start_time_unix_nanos);
	if (e->duration_nanos)
		snprintf(duration_s, sizeof duration_s, "%" PRId64, e->duration_nanos);
	const char *fields[][2] = {
		{CP_ENVELOPE_HEADER_SERVICE, e->service}, {CP_ENVELOPE_HEADER_VERSION, e->version},
		{CP_ENVELOPE_HEADER_ENV, e->env},         {CP_ENVELOPE_HEADER_ZONE, e->zone},
		{CP_ENVELOPE_HEADER_INSTANCE, e->instance}, {CP_ENVELOPE_HEADER_TYPE, e->profile_type},
		{CP_ENVELOPE_HEADER_ID, e->profile_id},   {CP_ENVELOPE_HEADER_TIME, time_s},
		{CP_ENVELOPE_HEADER_DURATION, duration_s},
	};
	int bad = 0;
	*bytes = 0;
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		bad |= add_header(h, fields[i][0], fields[i][1]);
		if (fields[i][1] && *fields[i][1])
			*bytes += strlen(fields[i][0]) + strlen(fields[i][1]);
	}
	for (size_t i = 0; i < e->nlabels && !bad; i++) {
		size_t n = strlen(CP_ENVELOPE_HEADER_LABEL) + strlen(e->labels[i].key) + 1;
		char *name = malloc(n);
		if (!name) {
			bad = 1;
			break;
		}
		snprintf(name, n, "%s%s", CP_ENVELOPE_HEADER_LABEL, e->labels[i].key);
		/* a label with an empty value is still sent: its key is information */
		bad |= rd_kafka_header_add(h, name, -1, e->labels[i].value, -1) != RD_KAFKA_RESP_ERR_NO_ERROR;
		*bytes += n - 1 + strlen(e->labels[i].value);
		free(name);
	}
	if (bad) {
		rd_kafka_headers_destroy(h);
		return NULL;
	}
	return h;
}

/* Reads, validates and wraps one file. Returns 0, or -1 after printing "cprof-push: FILE: why". */
static int prepare(const options *o, size_t max_message, item *it)
{
	char err[640];
	cp_envelope_limits env_limits = {0, 0, 0};
	if (cp_file_read(it->path, CP_ENVELOPE_DEFAULT_MAX_PAYLOAD, &it->data, &it->len, err, sizeof err)) {
		fprintf(stderr, PROG ": %s\n", err);
		return -1;
	}
	cp_pprof_limits limits = {o->max_size};
	cp_pprof *p = NULL;
	if (cp_pprof_decode(it->data, it->len, &limits, &p, err, sizeof err)) {
		fprintf(stderr, PROG ": %s: %s\n", it->path, err);
		return -1;
	}
	cp_envelope e = base_envelope(o);
	if (!o->type)
		e.profile_type = cp_envelope_guess_type(p);
	if (!o->have_time)
		e.start_time_unix_nanos = p->time_nanos;
	if (!o->have_duration)
		e.duration_nanos = p->duration_nanos;
	cp_pprof_free(p);
	e.payload = it->data;
	e.payload_len = it->len;
	if (!o->id) {
		if (cp_envelope_derive_id(&e, it->id)) {
			fprintf(stderr, PROG ": %s: out of memory deriving the profile id\n", it->path);
			return -1;
		}
		e.profile_id = it->id;
	} else {
		snprintf(it->id, sizeof it->id, "%s", o->id);
	}
	if (cp_envelope_validate(&e, &env_limits, err, sizeof err)) {
		fprintf(stderr, PROG ": %s: %s\n", it->path, err);
		return -1;
	}
	size_t header_bytes = 0;
	if (o->raw) {
		it->msg.headers = raw_headers(&e, &header_bytes);
		if (!it->msg.headers) {
			fprintf(stderr, PROG ": %s: out of memory\n", it->path);
			return -1;
		}
		it->msg.value = it->data;
		it->msg.value_len = it->len;
	} else {
		if (cp_envelope_encode(&e, &env_limits, &it->encoded, &it->encoded_len, err, sizeof err)) {
			fprintf(stderr, PROG ": %s: %s\n", it->path, err);
			return -1;
		}
		free(it->data); /* the envelope holds a copy */
		it->data = NULL;
		it->msg.value = it->encoded;
		it->msg.value_len = it->encoded_len;
	}
	size_t total = it->msg.value_len + it->msg.key_len + header_bytes;
	if (max_message && total > max_message) {
		fprintf(stderr,
			PROG ": %s: the message would be %zu bytes, more than message.max.bytes=%zu (raise it with "
			     "-X message.max.bytes=..., within the topic's max.message.bytes)\n",
			it->path, total, max_message);
		return -1;
	}
	return 0;
}

static void free_item(item *it)
{
	free(it->data);
	free(it->encoded);
	if (it->msg.headers)
		rd_kafka_headers_destroy(it->msg.headers);
}

int main(int argc, char **argv)
{
	options o;
	cp_log_init(PROG);
	int status = parse_options(argc, argv, &o);
	if (status >= 0) {
		free_options(&o);
		return status;
	}
	/* The metadata once, before any file: a bad --label or --env is a usage error. */
	char err[640];
	cp_envelope probe = base_envelope(&o);
	probe.payload = (const uint8_t *)"-";
	probe.payload_len = 1;
	if (cp_envelope_validate(&probe, NULL, err, sizeof err)) {
		status = cp_log_usage("%s", err);
		free_options(&o);
		return status;
	}
	rd_kafka_conf_t *conf = build_conf(&o);
	if (!conf) {
		free_options(&o);
		return EXIT_USAGE;
	}

	status = EXIT_FAIL;
	char *key = cp_envelope_key(o.service, o.instance);
	item *items = calloc(o.nfiles, sizeof *items);
	if (!key || !items) {
		fputs(PROG ": out of memory\n", stderr);
		rd_kafka_conf_destroy(conf);
		goto out;
	}

	size_t max_message = cp_kafka_conf_max_message(conf), bad = 0;
	for (size_t i = 0; i < o.nfiles; i++) {
		items[i].path = o.files[i];
		items[i].msg.key = key;
		items[i].msg.key_len = strlen(key);
		bad += prepare(&o, max_message, &items[i]) != 0;
	}
	if (bad) {
		fprintf(stderr, PROG ": %zu of %zu file(s) cannot be sent; nothing was sent\n", bad, o.nfiles);
		rd_kafka_conf_destroy(conf);
		goto out;
	}

	push_message *msgs = malloc(o.nfiles * sizeof *msgs);
	if (!msgs) {
		fputs(PROG ": out of memory\n", stderr);
		rd_kafka_conf_destroy(conf);
		goto out;
	}
	for (size_t i = 0; i < o.nfiles; i++) {
		msgs[i] = items[i].msg;
		items[i].msg.headers = NULL; /* push_send's now */
	}
	long failed = push_send(conf, o.topic, msgs, o.nfiles, o.timeout_ns / 1000000 + FLUSH_MARGIN_MS);
	if (failed >= 0) {
		for (size_t i = 0; i < o.nfiles; i++)
			if (msgs[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
				printf("%s -> %s [%" PRId32 "] @ %" PRId64 " (id %s)\n", items[i].path, o.topic,
				       msgs[i].partition, msgs[i].offset, items[i].id);
		fflush(stdout);
		for (size_t i = 0; i < o.nfiles; i++)
			if (msgs[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
				fprintf(stderr, PROG ": %s: not delivered: %s\n", items[i].path, msgs[i].reason);
		if (failed)
			fprintf(stderr, PROG ": %ld of %zu profile(s) not delivered\n", failed, o.nfiles);
		else if (!ferror(stdout))
			status = EXIT_OK;
	}
	free(msgs);
out:
	if (items)
		for (size_t i = 0; i < o.nfiles; i++)
			free_item(&items[i]);
	free(items);
	free(key);
	free_options(&o);
	return status;
}
