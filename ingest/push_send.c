/* push_send: producing cprof-push's messages and collecting their delivery reports; see
 * push_send.h. */
#include "push_send.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define PROG "cprof-push"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_reason(push_message *m, const char *reason)
{
	size_t n = strlen(reason);
	if (n >= sizeof m->reason)
		n = sizeof m->reason - 1;
	memcpy(m->reason, reason, n);
	m->reason[n] = '\0';
}

static void mark_failed(push_message *m, rd_kafka_resp_err_t err, const char *reason)
{
	if (m->done)
		return;
	m->done = 1;
	m->err = err ? err : RD_KAFKA_RESP_ERR__FAIL;
	set_reason(m, reason);
}

/* Delivery reports arrive here, from rd_kafka_poll/flush on this thread. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	(void)rk;
	(void)opaque;
	push_message *m = msg->_private;
	if (!m || m->done)
		return;
	if (msg->err) {
		mark_failed(m, msg->err, rd_kafka_err2str(msg->err));
		return;
	}
	m->done = 1;
	m->err = RD_KAFKA_RESP_ERR_NO_ERROR;
	m->partition = msg->partition;
	m->offset = msg->offset;
}

long push_send(rd_kafka_conf_t *conf, const char *topic, push_message *msgs, size_t n, int64_t timeout_ms)
{
	char errstr[512];
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	if (!rk) {
		fprintf(stderr, PROG ": cannot create the Kafka producer: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		for (size_t i = 0; i < n; i++)
			if (msgs[i].headers) {
				rd_kafka_headers_destroy(msgs[i].headers);
				msgs[i].headers = NULL;
			}
		return -1;
	}
	int64_t deadline = now_ms() + timeout_ms;
	for (size_t i = 0; i < n; i++) {
		push_message *m = &msgs[i];
		for (;;) {
			rd_kafka_resp_err_t err = rd_kafka_producev(
				rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(m->key, m->key_len),
				RD_KAFKA_V_VALUE((void *)(uintptr_t)m->value, m->value_len),
				RD_KAFKA_V_HEADERS(m->headers), RD_KAFKA_V_OPAQUE(m), RD_KAFKA_V_END);
			if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
				m->headers = NULL; /* librdkafka's now */
				break;
			}
			if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && now_ms() < deadline) {
				rd_kafka_poll(rk, 50);
				continue;
			}
			if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
				char reason[160];
				char max[32] = "?";
				size_t maxlen = sizeof max;
				rd_kafka_conf_get(rd_kafka_conf(rk), "message.max.bytes", max, &maxlen);
				snprintf(reason, sizeof reason,
					 "%s: %zu bytes, more than message.max.bytes=%s (see -X message.max.bytes)",
					 rd_kafka_err2str(err), m->value_len, max);
				mark_failed(m, err, reason);
			} else {
				mark_failed(m, err, rd_kafka_err2str(err));
			}
			if (m->headers) {
				rd_kafka_headers_destroy(m->headers);
				m->headers = NULL;
			}
			break;
		}
		rd_kafka_poll(rk, 0);
	}

	int64_t left = deadline - now_ms();
	rd_kafka_flush(rk, left > 0 ? (int)(left > INT32_MAX ? INT32_MAX : left) : 0);

	/* An idempotent producer that hit a fatal error delivers nothing more. */
	if (rd_kafka_fatal_error(rk, errstr, sizeof errstr))
		for (size_t i = 0; i < n; i++)
			mark_failed(&msgs[i], RD_KAFKA_RESP_ERR__FATAL, errstr);
	/* Whatever is still queued or in flight is abandoned; draining its reports also means
	 * librdkafka no longer refers to the caller's buffers. */
	rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	rd_kafka_flush(rk, 1000);
	char reason[96];
	snprintf(reason, sizeof reason, "not delivered within the timeout of %lld ms", (long long)timeout_ms);
	for (size_t i = 0; i < n; i++) {
		push_message *m = &msgs[i];
		if (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE) {
			m->err = RD_KAFKA_RESP_ERR__TIMED_OUT;
			set_reason(m, reason);
		} else if (m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
			m->err = RD_KAFKA_RESP_ERR__TIMED_OUT;
			snprintf(m->reason, sizeof m->reason,
				 "not confirmed within the timeout of %lld ms (it may have been written; sending it again "
				 "is safe, its profile id is the same)",
				 (long long)timeout_ms);
		}
		mark_failed(m, RD_KAFKA_RESP_ERR__TIMED_OUT, reason);
	}
	rd_kafka_destroy(rk);

	long failed = 0;
	for (size_t i = 0; i < n; i++)
		failed += msgs[i].err != RD_KAFKA_RESP_ERR_NO_ERROR;
	return failed;
}
