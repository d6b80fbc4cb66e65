/* kafka_envelopes: reads cprof's Kafka messages back for the tests. Consumes a topic from the
 * beginning of every partition (assigned directly, under a fresh group id that never commits, so
 * earlier runs and other consumers change nothing) and prints one TSV line per message, decoded
 * as a worker decodes it (cp_envelope_read_message): an envelope, or a raw pprof with cprof-*
 * headers. Lines are sorted by partition and offset.
 *
 * usage: kafka_envelopes -b BOOTSTRAP -t TOPIC [-n N] [-T SECONDS] [-p DIR]
 *
 * Columns: partition, offset, key, form (envelope | headers | error), profile_id, service,
 * version, env, zone, instance, profile_type, start_time_unix_nanos, duration_nanos, labels
 * (KEY=VALUE joined by ',' in message order), payload size, payload SHA-256 (hex, as sha256sum
 * prints it). An undecodable message has form "error" and the reason in the profile_id column,
 * the remaining columns empty. Strings are escaped as TSV (\\ \t \n \r).
 *
 * Stops after N messages with -n, else when every partition's end is reached. Exit status 0
 * when that happened within the time limit (-T, default 30 s), 1 otherwise, 2 usage error. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "cp_envelope.h"
#include "cp_text.h"
#include "cp_args.h"

#define PROG "kafka_envelopes"
#define EXIT_USAGE 2
#define MAX_HEADERS 256

static const char usage_text[] =
	"usage: " PROG " -b BOOTSTRAP -t TOPIC [-n N] [-T SECONDS] [-p DIR]\n"
	"\n"
	"Prints one TSV line per message of TOPIC, read from the beginning of every partition:\n"
	"partition, offset, key, form (envelope|headers|error), profile_id, service, version, env,\n"
	"zone, instance, profile_type, start_time_unix_nanos, duration_nanos, labels (K=V,...),\n"
	"payload size, payload SHA-256. An undecodable message has form 'error' and the reason next.\n"
	"\n"
	"  -b BOOTSTRAP  bootstrap.servers\n"
	"  -t TOPIC      the topic\n"
	"  -n N          stop after N messages (default: at the end of every partition)\n"
	"  -T SECONDS    time limit (default 30)\n"
	"  -p DIR        also write each payload to DIR/PARTITION-OFFSET.pprof\n"
	"  --help        this text\n"
	"\n"
	"Exit status: 0 done within the time limit, 1 otherwise, 2 usage error.\n";

typedef struct {
	int32_t partition;
	int64_t offset;
	char *line; /* the TSV line, newline included */
} row;

typedef struct {
	row *rows;
	size_t n, cap;
} rows;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage_error(const char *what)
{
	fprintf(stderr, PROG ": %s\n(see '" PROG " --help')\n", what);
	return EXIT_USAGE;
}

static int set_conf(rd_kafka_conf_t *conf, const char *key, const char *value)
{
	char errstr[512];
	if (rd_kafka_conf_set(conf, key, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, PROG ": %s=%s: %s\n", key, value, errstr);
		return -1;
	}
	return 0;
}

static void tsv(FILE *f, const char *s)
{
	fputc('\t', f);
	if (s)
		cp_text_tsv(f, s, strlen(s));
}

/* Formats one message as a line (malloc'd into r->line). */
static int format_message(const rd_kafka_message_t *m, const char *payload_dir, row *r)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	if (!f)
		return -1;
	fprintf(f, "%" PRId32 "\t%" PRId64 "\t", m->partition, m->offset);
	if (m->key)
		cp_text_tsv(f, m->key, m->key_len);

	cp_envelope_header headers[MAX_HEADERS];
	size_t nheaders = 0;
	rd_kafka_headers_t *hdrs = NULL;
	if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		const char *name;
		const void *value;
		size_t vlen;
		for (size_t i = 0; nheaders < MAX_HEADERS && rd_kafka_header_get_all(hdrs, i, &name, &value, &vlen) ==
								     RD_KAFKA_RESP_ERR_NO_ERROR;
		     i++)
			headers[nheaders++] = (cp_envelope_header){name, value, vlen};
	}
	cp_envelope e;
	cp_envelope_form form;
	char err[512];
	if (cp_envelope_read_message(headers, nheaders, m->payload, m->len, NULL, &e, &form, err, sizeof err)) {
		tsv(f, "error");
		tsv(f, err);
		for (int i = 0; i < 11; i++)
			fputc('\t', f);
	} else {
		tsv(f, form == CP_ENVELOPE_FORM_HEADERS ? "headers" : "envelope");
		tsv(f, e.profile_id);
		tsv(f, e.service);
		tsv(f, e.version);
		tsv(f, e.env);
		tsv(f, e.zone);
		tsv(f, e.instance);
		tsv(f, e.profile_type);
		fprintf(f, "\t%" PRId64 "\t%" PRId64 "\t", e.start_time_unix_nanos, e.duration_nanos);
		for (size_t i = 0; i < e.nlabels; i++) {
			if (i)
				fputc(',', f);
			cp_text_tsv(f, e.labels[i].key, strlen(e.labels[i].key));
			fputc('=', f);
			cp_text_tsv(f, e.labels[i].value, strlen(e.labels[i].value));
		}
		uint8_t digest[32];
		cp_envelope_sha256(e.payload, e.payload_len, digest);
		fprintf(f, "\t%zu\t", e.payload_len);
		for (int i = 0; i < 32; i++)
			fprintf(f, "%02x", digest[i]);
		if (payload_dir) {
			char path[4096];
			snprintf(path, sizeof path, "%s/%" PRId32 "-%" PRId64 ".pprof", payload_dir, m->partition,
				 m->offset);
			FILE *out = fopen(path, "wb");
			if (!out || fwrite(e.payload, 1, e.payload_len, out) != e.payload_len || fclose(out) != 0) {
				fprintf(stderr, PROG ": cannot write %s: %s\n", path, strerror(errno));
				cp_envelope_free(&e);
				fclose(f);
				free(buf);
				return -1;
			}
		}
		cp_envelope_free(&e);
	}
	fputc('\n', f);
	if (fclose(f) != 0) {
		free(buf);
		return -1;
	}
	r->partition = m->partition;
	r->offset = m->offset;
	r->line = buf;
	return 0;
}

static int row_order(const void *a, const void *b)
{
	const row *x = a, *y = b;
	if (x->partition != y->partition)
		return x->partition < y->partition ? -1 : 1;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Assigns every partition of topic at its beginning; returns the partition count or -1. */
static int assign_all(rd_kafka_t *rk, const char *topic, long timeout_s)
{
	const struct rd_kafka_metadata *md = NULL;
	double start = now_s();
	int count = -1;
	/* The topic may be created on first use: ask until it has partitions. */
	while (count < 0 && now_s() - start < (double)timeout_s) {
		rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
		rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, t, &md, 5000);
		rd_kafka_topic_destroy(t);
		if (!err && md->topic_cnt == 1 && !md->topics[0].err && md->topics[0].partition_cnt > 0)
			count = md->topics[0].partition_cnt;
		else if (err)
			fprintf(stderr, PROG ": metadata: %s\n", rd_kafka_err2str(err));
		if (md)
			rd_kafka_metadata_destroy(md);
		md = NULL;
		if (count < 0)
			nanosleep(&(struct timespec){0, 200000000}, NULL);
	}
	if (count < 0) {
		fprintf(stderr, PROG ": topic %s: no partitions within %ld s\n", topic, timeout_s);
		return -1;
	}
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(count);
	for (int p = 0; p < count; p++)
		rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_resp_err_t err = rd_kafka_assign(rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (err) {
		fprintf(stderr, PROG ": assign: %s\n", rd_kafka_err2str(err));
		return -1;
	}
	return count;
}

int main(int argc, char **argv)
{
	const char *bootstrap = NULL, *topic = NULL, *payload_dir = NULL;
	long n = 0, timeout_s = 30;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0) {
			fputs(usage_text, stdout);
			return 0;
		}
	opterr = 0;
	int c;
	while ((c = getopt(argc, argv, ":b:t:n:T:p:")) != -1) {
		switch (c) {
		case 'b':
			bootstrap = optarg;
			break;
		case 't':
			topic = optarg;
			break;
		case 'p':
			payload_dir = optarg;
			break;
		case 'n':
			if (cp_args_long(optarg, 1, 10000000, &n))
				return usage_error("-n must be an integer from 1 to 10000000");
			break;
		case 'T':
			if (cp_args_long(optarg, 1, 86400, &timeout_s))
				return usage_error("-T must be an integer from 1 to 86400");
			break;
		case ':':
			return usage_error("an option needs a value");
		default:
			return usage_error("unknown option");
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument");
	if (!bootstrap || !topic)
		return usage_error("-b BOOTSTRAP and -t TOPIC are required");

	char group[96], errstr[512];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(group, sizeof group, PROG ".%ld.%ld.%ld", (long)getpid(), (long)ts.tv_sec, ts.tv_nsec);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (set_conf(conf, "bootstrap.servers", bootstrap) || set_conf(conf, "group.id", group) ||
	    set_conf(conf, "enable.auto.commit", "false") || set_conf(conf, "enable.partition.eof", "true") ||
	    set_conf(conf, "fetch.wait.max.ms", "10")) {
		rd_kafka_conf_destroy(conf);
		return 1;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
	if (!rk) {
		fprintf(stderr, PROG ": cannot create the consumer: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		return 1;
	}
	rd_kafka_poll_set_consumer(rk);
	int status = 1;
	rows out = {NULL, 0, 0};
	char *at_end = NULL;
	double start = now_s();
	int partitions = assign_all(rk, topic, timeout_s);
	if (partitions < 0)
		goto done;
	at_end = calloc((size_t)partitions, 1);
	if (!at_end)
		goto done;
	int ended = 0, finished = 0;
	while (!finished && now_s() - start < (double)timeout_s) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			if (m->partition >= 0 && m->partition < partitions && !at_end[m->partition]) {
				at_end[m->partition] = 1;
				ended++;
			}
			finished = !n && ended == partitions;
		} else if (m->err) {
			fprintf(stderr, PROG ": consumer: %s\n", rd_kafka_message_errstr(m));
		} else {
			if (out.n == out.cap) {
				size_t cap = out.cap ? 2 * out.cap : 64;
				row *grown = realloc(out.rows, cap * sizeof *grown);
				if (!grown) {
					rd_kafka_message_destroy(m);
					goto done;
				}
				out.rows = grown;
				out.cap = cap;
			}
			if (format_message(m, payload_dir, &out.rows[out.n])) {
				rd_kafka_message_destroy(m);
				goto done;
			}
			out.n++;
			finished = n && (long)out.n >= n;
		}
		rd_kafka_message_destroy(m);
	}
	if (out.n)
		qsort(out.rows, out.n, sizeof *out.rows, row_order);
	for (size_t i = 0; i < out.n; i++)
		fputs(out.rows[i].line, stdout);
	if (fflush(stdout) != 0)
		goto done;
	if (!finished) {
		if (n)
			fprintf(stderr, PROG ": %zu of %ld message(s) within %ld s\n", out.n, n, timeout_s);
		else
			fprintf(stderr, PROG ": %d of %d partition(s) read to the end within %ld s\n", ended, partitions,
				timeout_s);
		goto done;
	}
	status = 0;
done:
	for (size_t i = 0; i < out.n; i++)
		free(out.rows[i].line);
	free(out.rows);
	free(at_end);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return status;
}
