/* kafka_roundtrip: a Kafka end-to-end check for the tests. Produces N messages with distinct keys
 * and payloads through an idempotent producer, waits until every one is delivered, then reads
 * the topic back from the start with a fresh consumer group and verifies that each payload
 * arrives exactly once and intact. Messages of earlier runs on the same topic are recognised by
 * their key and skipped. A second mode prints a topic's partition count from the metadata.
 *
 * usage: kafka_roundtrip -b BOOTSTRAP -t TOPIC -n N [-s SIZE] [-r RATE] [-T SECONDS]
 *        kafka_roundtrip -b BOOTSTRAP -m TOPIC [-T SECONDS]
 *
 * Prints "produced N, consumed N" (or the partition count) on stdout; exit status 0 when every
 * message came back intact exactly once, 1 otherwise, 2 on a usage error. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include "cp_args.h"

#define PROG "kafka_roundtrip"
#define EXIT_USAGE 2
#define MIN_SIZE 48
#define MAX_REPORTED 10 /* problems of one kind printed in detail */

static const char usage_text[] =
	"usage: " PROG " -b BOOTSTRAP -t TOPIC -n N [-s SIZE] [-r RATE] [-T SECONDS]\n"
	"       " PROG " -b BOOTSTRAP -m TOPIC [-T SECONDS]\n"
	"\n"
	"Produces N distinct messages (idempotent producer), waits for their delivery, then consumes\n"
	"TOPIC from the start with a fresh consumer group until all N are back, checking each payload\n"
	"arrives intact exactly once. Prints 'produced N, consumed N'.\n"
	"With -m, prints the number of partitions of TOPIC instead.\n"
	"\n"
	"  -b BOOTSTRAP  bootstrap.servers\n"
	"  -t TOPIC      topic to produce to and consume from\n"
	"  -n N          number of messages (1 to 10000000)\n"
	"  -s SIZE       payload size in bytes (default 1024, at least 48)\n"
	"  -r RATE       produce at most RATE messages per second (default 0: as fast as possible)\n"
	"  -T SECONDS    time limit for delivery, and again for consumption (default 30)\n"
	"  -m TOPIC      metadata mode: print TOPIC's partition count\n"
	"  --help        this text\n"
	"\n"
	"Exit status: 0 all messages back intact exactly once, 1 otherwise, 2 usage error.\n";

typedef struct {
	const char *bootstrap;
	const char *topic;
	const char *meta_topic;
	long n;
	long size;
	long rate;
	long timeout_s;
} options;

typedef struct {
	long delivered;
	long failed;
	int fatal;
} produce_state;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	if (s <= 0)
		return;
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, PROG ": %s%s%s\n(see '" PROG " --help')\n", what, arg ? ": " : "", arg ? arg : "");
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

/* ------------------------------------------------------------------ messages */

/* The key of message seq of run runid: "RUNID:SEQ". */
static int make_key(char *buf, size_t n, const char *runid, long seq)
{
	return snprintf(buf, n, "%s:%ld", runid, seq);
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

/* Fills buf[0..size) with the payload of message seq: "RUNID seq SEQ|" then bytes that depend
 * on both, so any two payloads differ and a corrupted or misplaced one is caught. */
static void make_payload(char *buf, size_t size, const char *runid, long seq)
{
	uint64_t s = hash_str(runid) ^ ((uint64_t)seq * 0x100000001b3u);
	for (size_t i = 0; i < size; i += 8) {
		uint64_t r = splitmix64(&s);
		for (size_t j = 0; j < 8 && i + j < size; j++)
			buf[i + j] = (char)(r >> (8 * j));
	}
	char head[MIN_SIZE];
	int h = snprintf(head, sizeof head, "%s seq %ld|", runid, seq);
	if (h > 0)
		memcpy(buf, head, h < (int)sizeof head ? (size_t)h : sizeof head - 1);
}

/* ------------------------------------------------------------------ produce */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	produce_state *ps = opaque;
	if (m->err) {
		if (ps->failed < MAX_REPORTED)
			fprintf(stderr, PROG ": delivery failed: %s\n", rd_kafka_err2str(m->err));
		ps->failed++;
	} else {
		ps->delivered++;
	}
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	(void)opaque;
	char buf[512];
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(rk, buf, sizeof buf);
		fprintf(stderr, PROG ": fatal error: %s\n", buf);
	} else {
		fprintf(stderr, PROG ": %s (%s)\n", reason, rd_kafka_err2name((rd_kafka_resp_err_t)err));
	}
}

/* Returns the number of messages delivered, or -1 on an error that stops the run. */
static long produce(const options *o, const char *runid)
{
	char errstr[512];
	produce_state ps = {0, 0, 0};
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (set_conf(conf, "bootstrap.servers", o->bootstrap) || set_conf(conf, "enable.idempotence", "true") ||
	    set_conf(conf, "linger.ms", "5") || set_conf(conf, "message.timeout.ms", "0")) {
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_error_cb(conf, on_error);
	rd_kafka_conf_set_opaque(conf, &ps);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	if (!rk) {
		fprintf(stderr, PROG ": cannot create the producer: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	char *payload = malloc((size_t)o->size);
	if (!payload) {
		fprintf(stderr, PROG ": out of memory\n");
		rd_kafka_destroy(rk);
		return -1;
	}
	long result = -1;
	double start = now_s();
	for (long seq = 0; seq < o->n; seq++) {
		if (o->rate > 0)
			sleep_s(start + (double)seq / (double)o->rate - now_s());
		char key[96];
		int klen = make_key(key, sizeof key, runid, seq);
		make_payload(payload, (size_t)o->size, runid, seq);
		for (;;) {
			rd_kafka_resp_err_t err = rd_kafka_producev(
				rk, RD_KAFKA_V_TOPIC(o->topic), RD_KAFKA_V_KEY(key, (size_t)klen),
				RD_KAFKA_V_VALUE(payload, (size_t)o->size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				RD_KAFKA_V_END);
			if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
				break;
			if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
				fprintf(stderr, PROG ": produce of message %ld failed: %s\n", seq, rd_kafka_err2str(err));
				goto out;
			}
			if (now_s() - start > (double)o->timeout_s) {
				fprintf(stderr, PROG ": the producer queue stayed full for %ld s\n", o->timeout_s);
				goto out;
			}
			rd_kafka_poll(rk, 50);
		}
		rd_kafka_poll(rk, 0);
	}
	double left = (double)o->timeout_s - (now_s() - start);
	rd_kafka_resp_err_t ferr = rd_kafka_flush(rk, left > 0 ? (int)(left * 1000) : 0);
	if (ferr) {
		fprintf(stderr, PROG ": %d message(s) still undelivered after %ld s\n", rd_kafka_outq_len(rk),
			o->timeout_s);
		goto out;
	}
	if (rd_kafka_fatal_error(rk, errstr, sizeof errstr)) {
		fprintf(stderr, PROG ": producer failed: %s\n", errstr);
		goto out;
	}
	if (ps.failed) {
		fprintf(stderr, PROG ": %ld message(s) failed delivery\n", ps.failed);
		goto out;
	}
	result = ps.delivered;
	fprintf(stderr, PROG ": %ld message(s) of %ld bytes delivered in %.2f s\n", ps.delivered, o->size,
		now_s() - start);
out:
	free(payload);
	rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_poll(rk, 0);
	rd_kafka_destroy(rk);
	return result;
}

/* ------------------------------------------------------------------ consume */

typedef struct {
	long consumed; /* distinct messages of this run, intact */
	long duplicates;
	long corrupt;
	long foreign; /* of other runs */
} consume_state;

/* Checks one message of the topic against what this run produced. */
static void check_message(const options *o, const char *runid, const rd_kafka_message_t *m, unsigned char *seen,
			  char *expect, consume_state *cs)
{
	size_t rlen = strlen(runid);
	const char *key = m->key;
	if (!key || m->key_len <= rlen + 1 || memcmp(key, runid, rlen) != 0 || key[rlen] != ':') {
		cs->foreign++;
		return;
	}
	char digits[32];
	size_t dlen = m->key_len - rlen - 1;
	long seq = -1;
	if (dlen < sizeof digits) {
		memcpy(digits, key + rlen + 1, dlen);
		digits[dlen] = '\0';
		if (cp_args_long(digits, 0, o->n - 1, &seq) != 0)
			seq = -1;
	}
	if (seq < 0) {
		if (cs->corrupt < MAX_REPORTED)
			fprintf(stderr, PROG ": partition %" PRId32 " offset %" PRId64 ": bad key\n", m->partition,
				m->offset);
		cs->corrupt++;
		return;
	}
	make_payload(expect, (size_t)o->size, runid, seq);
	if (m->len != (size_t)o->size || memcmp(m->payload, expect, (size_t)o->size) != 0) {
		if (cs->corrupt < MAX_REPORTED)
			fprintf(stderr, PROG ": message %ld (partition %" PRId32 " offset %" PRId64 "): payload differs (%zu bytes)\n",
				seq, m->partition, m->offset, m->len);
		cs->corrupt++;
		return;
	}
	if (seen[seq]) {
		if (cs->duplicates < MAX_REPORTED)
			fprintf(stderr, PROG ": message %ld seen again (partition %" PRId32 " offset %" PRId64 ")\n", seq,
				m->partition, m->offset);
		cs->duplicates++;
		return;
	}
	seen[seq] = 1;
	cs->consumed++;
}

/* Returns 0 when the consumer ran to the end (done or timed out), -1 when it could not run. */
static int consume(const options *o, const char *runid, consume_state *cs)
{
	char errstr[512];
	char group[128];
	snprintf(group, sizeof group, PROG ".%s", runid);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (set_conf(conf, "bootstrap.servers", o->bootstrap) || set_conf(conf, "group.id", group) ||
	    set_conf(conf, "auto.offset.reset", "earliest") || set_conf(conf, "fetch.wait.max.ms", "10") ||
	    set_conf(conf, "enable.auto.commit", "false") || set_conf(conf, "session.timeout.ms", "6000")) {
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
	if (!rk) {
		fprintf(stderr, PROG ": cannot create the consumer: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	rd_kafka_poll_set_consumer(rk);
	int result = -1;
	unsigned char *seen = calloc((size_t)o->n, 1);
	char *expect = malloc((size_t)o->size);
	rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
	if (!seen || !expect || !subs) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	rd_kafka_topic_partition_list_add(subs, o->topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, subs);
	if (err) {
		fprintf(stderr, PROG ": cannot subscribe to %s: %s\n", o->topic, rd_kafka_err2str(err));
		goto out;
	}
	double start = now_s(), first = -1;
	long errors = 0;
	while (cs->consumed < o->n && now_s() - start < (double)o->timeout_s) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		if (m->err) {
			if (errors++ < MAX_REPORTED)
				fprintf(stderr, PROG ": consumer: %s\n", rd_kafka_message_errstr(m));
			if (rd_kafka_fatal_error(rk, errstr, sizeof errstr)) {
				fprintf(stderr, PROG ": consumer failed: %s\n", errstr);
				rd_kafka_message_destroy(m);
				goto out;
			}
		} else {
			if (first < 0)
				first = now_s();
			check_message(o, runid, m, seen, expect, cs);
		}
		rd_kafka_message_destroy(m);
	}
	if (cs->consumed < o->n) {
		long shown = 0;
		fprintf(stderr, PROG ": %ld of %ld message(s) missing after %ld s; first missing:", o->n - cs->consumed,
			o->n, o->timeout_s);
		for (long i = 0; i < o->n && shown < MAX_REPORTED; i++)
			if (!seen[i]) {
				fprintf(stderr, " %ld", i);
				shown++;
			}
		fputc('\n', stderr);
	}
	fprintf(stderr, PROG ": consumed for %.2f s (first message after %.2f s); %ld of other runs skipped\n",
		now_s() - start, first < 0 ? 0.0 : first - start, cs->foreign);
	result = 0;
out:
	if (subs)
		rd_kafka_topic_partition_list_destroy(subs);
	free(seen);
	free(expect);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return result;
}

/* ------------------------------------------------------------------ metadata */

static int print_partitions(const options *o)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (set_conf(conf, "bootstrap.servers", o->bootstrap)) {
		rd_kafka_conf_destroy(conf);
		return 1;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	if (!rk) {
		fprintf(stderr, PROG ": cannot create a client: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		return 1;
	}
	int status = 1;
	const struct rd_kafka_metadata *md = NULL;
	/* All topics, so that asking never auto-creates the one asked about. */
	rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, (int)(o->timeout_s * 1000));
	if (err) {
		fprintf(stderr, PROG ": metadata request failed: %s\n", rd_kafka_err2str(err));
	} else {
		int found = 0;
		for (int i = 0; i < md->topic_cnt; i++) {
			const struct rd_kafka_metadata_topic *t = &md->topics[i];
			if (strcmp(t->topic, o->meta_topic) != 0)
				continue;
			found = 1;
			if (t->err) {
				fprintf(stderr, PROG ": topic %s: %s\n", t->topic, rd_kafka_err2str(t->err));
			} else {
				printf("%d\n", t->partition_cnt);
				status = fflush(stdout) == 0 ? 0 : 1;
			}
		}
		if (!found)
			fprintf(stderr, PROG ": topic %s does not exist (%d topic(s) on the cluster)\n", o->meta_topic,
				md->topic_cnt);
		rd_kafka_metadata_destroy(md);
	}
	rd_kafka_destroy(rk);
	return status;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
	options o = {NULL, NULL, NULL, 0, 1024, 0, 30};
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0) {
			fputs(usage_text, stdout);
			return 0;
		}
	opterr = 0;
	int c;
	while ((c = getopt(argc, argv, ":b:t:n:s:r:T:m:")) != -1) {
		switch (c) {
		case 'b':
			o.bootstrap = optarg;
			break;
		case 't':
			o.topic = optarg;
			break;
		case 'm':
			o.meta_topic = optarg;
			break;
		case 'n':
			if (cp_args_long(optarg, 1, 10000000, &o.n))
				return usage_error("-n must be an integer from 1 to 10000000", optarg);
			break;
		case 's':
			if (cp_args_long(optarg, MIN_SIZE, 100000000, &o.size))
				return usage_error("-s must be an integer from 48 to 100000000", optarg);
			break;
		case 'r':
			if (cp_args_long(optarg, 0, 10000000, &o.rate))
				return usage_error("-r must be an integer from 0 to 10000000", optarg);
			break;
		case 'T':
			if (cp_args_long(optarg, 1, 86400, &o.timeout_s))
				return usage_error("-T must be an integer from 1 to 86400", optarg);
			break;
		case ':':
			return usage_error("option needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument", argv[optind]);
	if (!o.bootstrap)
		return usage_error("-b BOOTSTRAP is required", NULL);
	if (o.meta_topic) {
		if (o.topic || o.n)
			return usage_error("-m cannot be combined with -t or -n", NULL);
		return print_partitions(&o);
	}
	if (!o.topic || !o.n)
		return usage_error("-t TOPIC and -n N are required", NULL);

	char runid[40];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(runid, sizeof runid, "rt%ld.%ld.%ld", (long)getpid(), (long)ts.tv_sec, ts.tv_nsec);

	long produced = produce(&o, runid);
	if (produced < 0) {
		printf("produced 0, consumed 0\n");
		return 1;
	}
	consume_state cs = {0, 0, 0, 0};
	if (consume(&o, runid, &cs) != 0) {
		printf("produced %ld, consumed 0\n", produced);
		return 1;
	}
	printf("produced %ld, consumed %ld\n", produced, cs.consumed);
	if (cs.duplicates || cs.corrupt)
		fprintf(stderr, PROG ": %ld duplicate(s), %ld corrupt message(s)\n", cs.duplicates, cs.corrupt);
	if (fflush(stdout) != 0)
		return 1;
	return produced == o.n && cs.consumed == o.n && !cs.duplicates && !cs.corrupt ? 0 : 1;
}
