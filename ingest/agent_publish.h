/* agent_publish: cprof-agent's Kafka side. One long-lived idempotent producer; each scraped
 * profile goes as a cprof.v1.ProfileUpload envelope keyed by SERVICE/INSTANCE (one instance stays
 * in one partition, in order), with a profile id derived from its metadata and bytes, so a
 * profile published twice is stored once. Delivery reports come back through a callback with the
 * caller's pointer; on stop, what is still in flight is flushed within a deadline.
 *
 * Ownership: the publisher owns its producer (and the configuration given to
 * agent_publisher_new, consumed either way); agent_publish copies what it needs from the
 * envelope. The opaque pointer given with a message is returned in its delivery report and never
 * dereferenced here. */
#ifndef CP_AGENT_PUBLISH_H
#define CP_AGENT_PUBLISH_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "cp_envelope.h"

typedef struct agent_publisher agent_publisher;

/* Called from agent_publisher_poll/flush on the caller's thread, once per message: error is
 * NULL when the message was written, else why it was not. */
typedef void (*agent_delivered_fn)(void *message_opaque, const char *error, void *ctx);

/* Returns NULL with the reason in err. */
agent_publisher *agent_publisher_new(rd_kafka_conf_t *conf, const char *topic, agent_delivered_fn delivered, void *ctx,
				     char *err, size_t errlen);

/* Derives the id when e has none, encodes and produces. Returns 0 (the delivery report follows),
 * or -1 with the reason in err (no report follows): a refused envelope, a message larger than
 * message.max.bytes, or a full producer queue (Kafka has been unreachable for long). id, when
 * not NULL, receives the profile id. */
int agent_publish(agent_publisher *p, const cp_envelope *e, void *message_opaque, char id[CP_ENVELOPE_ID_LEN + 1],
		  char *err, size_t errlen);

/* Serves delivery reports. */
void agent_publisher_poll(agent_publisher *p);

/* Messages produced and not yet reported. */
long agent_publisher_in_flight(const agent_publisher *p);

/* 1 with the reason in buf when the producer hit a fatal error (an idempotent producer's
 * broken sequence, say): it publishes nothing more, and only a new producer can go on. */
int agent_publisher_fatal(agent_publisher *p, char *buf, size_t len);

/* Waits up to timeout_ms for every report; what is still in flight then is purged and reported
 * as not delivered. */
void agent_publisher_flush(agent_publisher *p, int64_t timeout_ms);

void agent_publisher_free(agent_publisher *p);

#endif
