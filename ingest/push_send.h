/* push_send: cprof-push's Kafka side. Produces prepared messages through one librdkafka producer
 * and waits for every delivery report, so each message ends with a partition and offset or with
 * the reason it was not delivered.
 *
 * Ownership: the caller owns the messages, their keys and values, and keeps them until
 * push_send returns (librdkafka sends from them without copying). headers, when not NULL, pass
 * to librdkafka once produced; push_send destroys the ones it could not produce and sets the
 * field to NULL either way. The configuration is consumed (by rd_kafka_new, or destroyed). */
#ifndef CP_PUSH_SEND_H
#define CP_PUSH_SEND_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

typedef struct {
	const char *key;
	size_t key_len;
	const uint8_t *value;
	size_t value_len;
	rd_kafka_headers_t *headers;

	/* results */
	int done;                /* a delivery report (or a produce error) came */
	rd_kafka_resp_err_t err; /* 0: delivered */
	char reason[256];        /* why not delivered */
	int32_t partition;
	int64_t offset;
} push_message;

/* Produces the n messages to topic and waits up to timeout_ms for all their delivery reports;
 * messages still undelivered then are purged and marked failed. Returns the number of messages
 * not delivered, or -1 (with a message on stderr) when no producer could be created. */
long push_send(rd_kafka_conf_t *conf, const char *topic, push_message *msgs, size_t n, int64_t timeout_ms);

#endif
