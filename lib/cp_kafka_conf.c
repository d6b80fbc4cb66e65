/* cp_kafka_conf: -X properties onto a librdkafka configuration; see cp_kafka_conf.h. */
#include "cp_kafka_conf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "cp_args.h"
#include "cp_log.h"

int cp_kafka_conf_props(rd_kafka_conf_t *conf, const char *const *props, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		char key[256], why[512];
		const char *value;
		if (cp_args_pair(props[i], key, sizeof key, &value, why, sizeof why)) {
			snprintf(err, errlen, "-X %s", why);
			return -1;
		}
		if (rd_kafka_conf_set(conf, key, value, why, sizeof why) != RD_KAFKA_CONF_OK) {
			snprintf(err, errlen, "-X %s: %s", props[i], why);
			return -1;
		}
	}
	return 0;
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	cp_log("librdkafka %d %s: %s", level, fac, buf);
}

/* Client-level errors. A failed connection has already been logged (facility FAIL) by then. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (err != RD_KAFKA_RESP_ERR__TRANSPORT)
		cp_log("kafka: %s", reason);
}

rd_kafka_conf_t *cp_kafka_producer_conf(const char *client_id, const char *brokers, int64_t message_timeout_ms,
					 const char *const *props, size_t nprops)
{
	char errstr[512], timeout[32];
	snprintf(timeout, sizeof timeout, "%" PRId64, message_timeout_ms);
	if (!brokers || !*brokers) {
		const char *env = getenv("CPROF_KAFKA_BROKERS");
		brokers = env && *env ? env : NULL;
	}
	const char *defaults[][2] = {
		{"client.id", client_id},
		{"enable.idempotence", "true"},
		{"acks", "all"},
		{"partitioner", "murmur2_random"},
		{"message.timeout.ms", timeout},
		{"bootstrap.servers", brokers},
	};
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set_log_cb(conf, on_log);
	rd_kafka_conf_set_error_cb(conf, on_error);
	for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
		if (!defaults[i][1])
			continue;
		if (rd_kafka_conf_set(conf, defaults[i][0], defaults[i][1], errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
			cp_log("%s=%s: %s", defaults[i][0], defaults[i][1], errstr);
			rd_kafka_conf_destroy(conf);
			return NULL;
		}
	}
	if (cp_kafka_conf_props(conf, props, nprops, errstr, sizeof errstr)) {
		cp_log_usage("%s", errstr);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	size_t n = 0; /* the size of the value with its NUL */
	if (rd_kafka_conf_get(conf, "bootstrap.servers", NULL, &n) != RD_KAFKA_CONF_OK || n <= 1) {
		cp_log_usage("%s", "no Kafka brokers: give -b BROKERS (or set CPROF_KAFKA_BROKERS)");
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return conf;
}

size_t cp_kafka_conf_max_message(const rd_kafka_conf_t *conf)
{
	char buf[32];
	size_t n = sizeof buf;
	size_t v = 0;
	if (rd_kafka_conf_get(conf, "message.max.bytes", buf, &n) != RD_KAFKA_CONF_OK || cp_args_size(buf, &v))
		return 0;
	return v;
}
