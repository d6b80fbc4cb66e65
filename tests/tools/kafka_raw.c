/* kafka_raw: arbitrary Kafka messages for the tests, which cprof-push (it validates every file
 * first) cannot send, and every header of what a topic holds, which kafka_envelopes (it decodes
 * uploads) does not print. tests/worker_poison.sh sends poison with it and reads the dead-letter
 * topic back.
 *
 * usage: kafka_raw -b BOOTSTRAP -t TOPIC [-X KEY=VALUE]... MESSAGE...
 *        kafka_raw -b BOOTSTRAP -t TOPIC -d [-T SECONDS]
 *
 * Produce mode: each MESSAGE is [-p PARTITION] [-k KEY] [-H NAME[=VALUE]]... then -f FILE (the
 * value: the file's bytes; an empty file is an empty value) or -0 (a null value); -p, -k and -H
 * apply to the next message only, -H NAME without '=' is a header with a null value. Messages go
 * in order through one idempotent producer (-X sets librdkafka properties on it); once every
 * one is delivered, prints "PARTITION<TAB>OFFSET" per message in the order given.
 *
 * Dump mode (-d): reads every partition of TOPIC from its low to its high watermark and prints
 * one line per message, sorted by partition and offset: partition, offset, key, value size
 * (-1 for a null value), value SHA-256 (hex), then one column per header, NAME=VALUE (NAME alone
 * for a null value), all TSV-escaped (\\ \t \n \r).
 *
 * Exit status: 0 done within the time limit (-T, default 30 s), 1 otherwise, 2 usage error. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "cp_args.h"
#include "cp_envelope.h"
#include "cp_file.h"
#include "cp_text.h"

#define PROG "kafka_raw"
#define MAX_HEADERS 256

typedef struct {
	int32_t partition;
	const char *key;
	const char *headers[MAX_HEADERS];
	size_t nheaders;
	uint8_t *value; /* NULL: a null value */
	size_t len;
	int64_t offset; /* -1 until delivered */
	int32_t delivered_partition;
} message;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(const char *what)
{
	fprintf(stderr, PROG ": %s\nusage: " PROG " -b BOOTSTRAP -t TOPIC [-X KEY=VALUE]... "
			"([-p PARTITION] [-k KEY] [-H NAME[=VALUE]]... (-f FILE | -0))...\n"
			"       " PROG " -b BOOTSTRAP -t TOPIC -d [-T SECONDS]\n",
		what);
	return 2;
}

static rd_kafka_conf_t *new_conf(const char *bootstrap, const char *const *props, size_t nprops)
{
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err) == RD_KAFKA_CONF_OK) {
		size_t i = 0;
		for (; i < nprops; i++) {
			char kv[512];
			snprintf(kv, sizeof kv, "%s", props[i]);
			char *eq = strchr(kv, '=');
			if (eq)
				*eq = '\0';
			if (!eq || rd_kafka_conf_set(conf, kv, eq + 1, err, sizeof err) != RD_KAFKA_CONF_OK)
				break;
		}
		if (i == nprops)
			return conf;
	}
	fprintf(stderr, PROG ": %s\n", err);
	rd_kafka_conf_destroy(conf);
	return NULL;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	message *msg = m->_private;
	if (m->err) {
		fprintf(stderr, PROG ": delivery failed: %s\n", rd_kafka_err2str(m->err));
		return;
	}
	msg->offset = m->offset;
	msg->delivered_partition = m->partition;
}

static int produce(const char *bootstrap, const char *topic, const char *const *props, size_t nprops, message *msgs,
		   size_t n, long timeout_s)
{
	static const char *const own[] = {"enable.idempotence=true", "linger.ms=5"};
	const char *all[128];
	if (nprops > 126)
		return usage("too many -X");
	memcpy(all, own, sizeof own);
	memcpy(all + 2, props, nprops * sizeof *props);
	rd_kafka_conf_t *conf = new_conf(bootstrap, all, nprops + 2);
	if (!conf)
		return 2;
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	char err[512];
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	if (!rk) {
		fprintf(stderr, PROG ": %s\n", err);
		rd_kafka_conf_destroy(conf);
		return 1;
	}
	int status = 1;
	for (size_t i = 0; i < n; i++) {
		message *m = &msgs[i];
		rd_kafka_headers_t *hdrs = rd_kafka_headers_new(m->nheaders);
		for (size_t h = 0; h < m->nheaders; h++) {
			const char *eq = strchr(m->headers[h], '=');
			rd_kafka_header_add(hdrs, m->headers[h], eq ? eq - m->headers[h] : -1, eq ? eq + 1 : NULL,
					    eq ? -1 : 0);
		}
		rd_kafka_resp_err_t e = rd_kafka_producev(
			rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(m->partition),
			RD_KAFKA_V_KEY(m->key, m->key ? strlen(m->key) : 0), RD_KAFKA_V_VALUE(m->value, m->len),
			RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(m),
			RD_KAFKA_V_END);
		if (e) {
			rd_kafka_headers_destroy(hdrs);
			fprintf(stderr, PROG ": message %zu (%zu bytes): %s\n", i + 1, m->len, rd_kafka_err2str(e));
			goto out;
		}
		rd_kafka_poll(rk, 0);
	}
	if (rd_kafka_flush(rk, (int)(timeout_s * 1000))) {
		fprintf(stderr, PROG ": not all delivered within %ld s\n", timeout_s);
		goto out;
	}
	status = 0;
	for (size_t i = 0; i < n; i++)
		if (msgs[i].offset < 0)
			status = 1;
		else
			printf("%" PRId32 "\t%" PRId64 "\n", msgs[i].delivered_partition, msgs[i].offset);
out:
	rd_kafka_destroy(rk);
	return status;
}

/* One dump line: partition, offset, key, size, SHA-256, headers. */
static void print_message(const rd_kafka_message_t *m)
{
	printf("%" PRId32 "\t%" PRId64 "\t", m->partition, m->offset);
	if (m->key)
		cp_text_tsv(stdout, m->key, m->key_len);
	uint8_t digest[32];
	cp_envelope_sha256(m->payload ? m->payload : "", m->len, digest);
	printf("\t%lld\t", m->payload ? (long long)m->len : -1LL);
	for (int i = 0; i < 32; i++)
		printf("%02x", digest[i]);
	rd_kafka_headers_t *hdrs = NULL;
	const char *name;
	const void *value;
	size_t size;
	if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
		for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == 0; i++) {
			putchar('\t');
			cp_text_tsv(stdout, name, strlen(name));
			if (value) {
				putchar('=');
				cp_text_tsv(stdout, value, size);
			}
		}
	putchar('\n');
}

/* Assigns each partition at its low watermark and consumes up to its high one (partitions are
 * assigned and read in order, one at a time, so the lines come out sorted). */
static int dump(const char *bootstrap, const char *topic, long timeout_s)
{
	static const char *const own[] = {"group.id=" PROG, "enable.auto.commit=false", "fetch.wait.max.ms=10"};
	rd_kafka_conf_t *conf = new_conf(bootstrap, own, 3);
	char err[512];
	rd_kafka_t *rk = conf ? rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err) : NULL;
	if (!rk) {
		if (conf) {
			fprintf(stderr, PROG ": %s\n", err);
			rd_kafka_conf_destroy(conf);
		}
		return 1;
	}
	rd_kafka_poll_set_consumer(rk);
	double start = now_s();
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
	rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, (int)(timeout_s * 1000));
	rd_kafka_topic_destroy(t);
	int status = 1, partitions = 0;
	if (e || md->topic_cnt != 1 || md->topics[0].err)
		fprintf(stderr, PROG ": metadata of %s: %s\n", topic,
			rd_kafka_err2str(e ? e : md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
	else
		partitions = md->topics[0].partition_cnt;
	if (md)
		rd_kafka_metadata_destroy(md);
	for (int32_t p = 0; p < partitions; p++) {
		int64_t low, high;
		e = rd_kafka_query_watermark_offsets(rk, topic, p, &low, &high, 5000);
		if (e) {
			fprintf(stderr, PROG ": watermarks of %s [%" PRId32 "]: %s\n", topic, p, rd_kafka_err2str(e));
			goto out;
		}
		rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
		rd_kafka_topic_partition_list_add(l, topic, p)->offset = low;
		rd_kafka_assign(rk, l);
		rd_kafka_topic_partition_list_destroy(l);
		for (int64_t next = low; next < high;) {
			if (now_s() - start > (double)timeout_s) {
				fprintf(stderr, PROG ": %s [%" PRId32 "] not read to %" PRId64 " within %ld s\n", topic, p,
					high, timeout_s);
				goto out;
			}
			rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
			if (m && m->err)
				fprintf(stderr, PROG ": %s\n", rd_kafka_message_errstr(m));
			else if (m && m->partition == p && m->offset >= next) {
				print_message(m);
				next = m->offset + 1;
			}
			if (m)
				rd_kafka_message_destroy(m);
		}
	}
	status = partitions > 0 ? 0 : 1;
out:
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return status;
}

int main(int argc, char **argv)
{
	const char *bootstrap = NULL, *topic = NULL;
	const char *props[64];
	size_t nprops = 0, n = 0;
	message *msgs = calloc((size_t)argc + 1, sizeof *msgs);
	message next = {RD_KAFKA_PARTITION_UA, NULL, {NULL}, 0, NULL, 0, -1, -1};
	int dumping = 0;
	long timeout_s = 30, v;
	int c;
	if (!msgs)
		return 1;
	opterr = 0;
	while ((c = getopt(argc, argv, "+b:t:X:p:k:H:f:0dT:")) != -1) {
		switch (c) {
		case 'b': bootstrap = optarg; break;
		case 't': topic = optarg; break;
		case 'X':
			if (nprops == 64)
				return usage("too many -X");
			props[nprops++] = optarg;
			break;
		case 'p':
			if (cp_args_long(optarg, 0, INT32_MAX, &v))
				return usage("-p wants a partition number");
			next.partition = (int32_t)v;
			break;
		case 'k': next.key = optarg; break;
		case 'H':
			if (next.nheaders == MAX_HEADERS)
				return usage("too many -H");
			next.headers[next.nheaders++] = optarg;
			break;
		case 'f':
		case '0':
			if (c == 'f') {
				char err[512];
				if (cp_file_read(optarg, (size_t)1 << 30, &next.value, &next.len, err, sizeof err)) {
					fprintf(stderr, PROG ": %s\n", err);
					return 1;
				}
			}
			msgs[n++] = next;
			next = (message){RD_KAFKA_PARTITION_UA, NULL, {NULL}, 0, NULL, 0, -1, -1};
			break;
		case 'd': dumping = 1; break;
		case 'T':
			if (cp_args_long(optarg, 1, 86400, &timeout_s))
				return usage("-T wants seconds from 1 to 86400");
			break;
		default: return usage("bad option or missing value");
		}
	}
	if (optind != argc || !bootstrap || !topic || dumping == (n > 0))
		return usage(optind != argc ? "unexpected argument" : "give -b, -t, and -d or messages");
	int status = dumping ? dump(bootstrap, topic, timeout_s)
			     : produce(bootstrap, topic, props, nprops, msgs, n, timeout_s);
	for (size_t i = 0; i < n; i++)
		free(msgs[i].value);
	free(msgs);
	return status;
}
