/* agent_publish: cprof-agent's producer; see agent_publish.h. */
#include "agent_publish.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cp_kafka_conf.h"

struct agent_publisher {
	rd_kafka_t *rk;
	rd_kafka_topic_t *topic;
	agent_delivered_fn delivered;
	void *ctx;
	size_t max_message;
	long in_flight;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
	(void)rk;
	agent_publisher *p = opaque;
	p->in_flight--;
	p->delivered(msg->_private, msg->err ? rd_kafka_err2str(msg->err) : NULL, p->ctx);
}

agent_publisher *agent_publisher_new(rd_kafka_conf_t *conf, const char *topic, agent_delivered_fn delivered, void *ctx,
				     char *err, size_t errlen)
{
	agent_publisher *p = calloc(1, sizeof *p);
	if (!p) {
		rd_kafka_conf_destroy(conf);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->delivered = delivered;
	p->ctx = ctx;
	p->max_message = cp_kafka_conf_max_message(conf);
	rd_kafka_conf_set_opaque(conf, p);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	char errstr[512];
	p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	if (!p->rk) {
		rd_kafka_conf_destroy(conf);
		snprintf(err, errlen, "cannot create the Kafka producer: %s", errstr);
		free(p);
		return NULL;
	}
	p->topic = rd_kafka_topic_new(p->rk, topic, NULL);
	if (!p->topic) {
		snprintf(err, errlen, "topic %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
		rd_kafka_destroy(p->rk);
		free(p);
		return NULL;
	}
	return p;
}

int agent_publish(agent_publisher *p, const cp_envelope *e, void *message_opaque, char id[CP_ENVELOPE_ID_LEN + 1],
		  char *err, size_t errlen)
{
	cp_envelope with_id = *e;
	char derived[CP_ENVELOPE_ID_LEN + 1];
	if (!e->profile_id || !*e->profile_id) {
		if (cp_envelope_derive_id(e, derived)) {
			snprintf(err, errlen, "out of memory deriving the profile id");
			return -1;
		}
		with_id.profile_id = derived;
	}
	if (id)
		snprintf(id, CP_ENVELOPE_ID_LEN + 1, "%s", with_id.profile_id);
	uint8_t *value;
	size_t len;
	if (cp_envelope_encode(&with_id, NULL, &value, &len, err, errlen))
		return -1;
	char *key = cp_envelope_key(e->service, e->instance);
	if (!key) {
		free(value);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	size_t klen = strlen(key);
	if (p->max_message && len + klen > p->max_message) {
		snprintf(err, errlen,
			 "the message would be %zu bytes, more than message.max.bytes=%zu (raise it with -X "
			 "message.max.bytes=..., within the topic's max.message.bytes)",
			 len + klen, p->max_message);
		free(key);
		free(value);
		return -1;
	}
	int r = rd_kafka_produce(p->topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_FREE, value, len, key, klen,
				 message_opaque);
	free(key); /* librdkafka copies keys */
	if (r != 0) {
		rd_kafka_resp_err_t why = rd_kafka_last_error();
		snprintf(err, errlen, "not produced: %s%s", rd_kafka_err2str(why),
			 why == RD_KAFKA_RESP_ERR__QUEUE_FULL ? " (Kafka has not taken the earlier profiles yet)" : "");
		free(value);
		return -1;
	}
	p->in_flight++;
	return 0;
}

void agent_publisher_poll(agent_publisher *p)
{
	rd_kafka_poll(p->rk, 0);
}

long agent_publisher_in_flight(const agent_publisher *p)
{
	return p->in_flight;
}

int agent_publisher_fatal(agent_publisher *p, char *buf, size_t len)
{
	return rd_kafka_fatal_error(p->rk, buf, len) != RD_KAFKA_RESP_ERR_NO_ERROR;
}

void agent_publisher_flush(agent_publisher *p, int64_t timeout_ms)
{
	rd_kafka_flush(p->rk, (int)(timeout_ms > INT32_MAX ? INT32_MAX : timeout_ms < 0 ? 0 : timeout_ms));
	if (p->in_flight > 0) {
		rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_flush(p->rk, 1000);
	}
}

void agent_publisher_free(agent_publisher *p)
{
	if (!p)
		return;
	rd_kafka_topic_destroy(p->topic);
	rd_kafka_destroy(p->rk);
	free(p);
}
