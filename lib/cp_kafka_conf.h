/* cp_kafka_conf: librdkafka properties given on a command line as -X KEY=VALUE, applied the same
 * way by cprof-push, cprof-agent, cprof-worker and cprof-devbroker; and the producer
 * configuration that cprof-push and cprof-agent share. */
#ifndef CP_KAFKA_CONF_H
#define CP_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

/* Sets each "KEY=VALUE" of props on conf, in order (later ones win). Returns 0, or -1 with
 * "-X 'PROP': expected KEY=VALUE" or "-X PROP: librdkafka's reason" in err. */
int cp_kafka_conf_props(rd_kafka_conf_t *conf, const char *const *props, size_t n, char *err, size_t errlen);

/* A producer configuration for publishing profiles: client.id, an idempotent producer
 * (enable.idempotence=true, acks=all), the partitioner of the Java client (murmur2_random: the
 * partition of a service/instance key is the one other clients choose), message.timeout.ms,
 * bootstrap.servers (brokers; NULL or "": $CPROF_KAFKA_BROKERS, when set), librdkafka's logs and client errors through cp_log,
 * then every -X over them. Returns NULL after logging why: a property or value librdkafka refused
 * (a usage error), or no bootstrap servers at all. The caller owns the result. */
rd_kafka_conf_t *cp_kafka_producer_conf(const char *client_id, const char *brokers, int64_t message_timeout_ms,
					 const char *const *props, size_t nprops);

/* message.max.bytes of conf, or 0 when it cannot be read. */
size_t cp_kafka_conf_max_message(const rd_kafka_conf_t *conf);

#endif
