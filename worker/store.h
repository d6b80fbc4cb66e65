/* store: writes a batch of flattened profiles into cprof's PostgreSQL schema, exactly once (see
 * worker/README.md): duplicates (same profile id and time) are dropped, within the batch and
 * against what is stored; series, function and stack ids are resolved through in-memory caches
 * (misses inserted in their own short transactions); then one transaction writes the profile
 * rows, the pre-aggregated per-minute facts (COPY) and, when given, the Kafka offsets the batch
 * covers, fenced so that a partition another worker has moved on makes the whole batch roll
 * back. A concurrent insert of the same profile is detected and the batch redone.
 *
 * Ownership: the store borrows the connection (the caller keeps it open while the store lives)
 * and everything in the batch; it owns its caches. */
#ifndef CP_WORKER_STORE_H
#define CP_WORKER_STORE_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "cp_envelope.h"
#include "cp_flat.h"

typedef struct cp_store cp_store;

typedef struct {
	const cp_envelope *meta; /* service, version, env, zone, instance, type, labels, id */
	int64_t time_nanos;      /* the profile's time (the envelope's, else the pprof's) */
	int64_t duration_nanos;
	const cp_flat *flat; /* this profile alone, flattened with CP_FLAT_STACKS */
	size_t samples, payload_bytes;
	const char *kafka_topic; /* "" when not from Kafka */
	int32_t kafka_partition;
	int64_t kafka_offset;
} cp_store_profile;

/* The messages a batch covers on one partition: [start, end), end being the next offset. */
typedef struct {
	const char *topic;
	int32_t partition;
	int64_t start, end;
} cp_store_offsets;

typedef struct {
	size_t stored;     /* profiles written */
	size_t duplicates; /* profiles skipped: seen in the batch or stored before */
	size_t rows;       /* fact rows written */
} cp_store_result;

/* consumer_group names the rows of cprof.kafka_offsets this store moves (NULL: none). */
cp_store *cp_store_new(PGconn *conn, const char *consumer_group);
void cp_store_free(cp_store *store);

/* Writes the batch. Returns 0, or -1 with a message; after -1 nothing of the batch is stored
 * (the caller may retry it, after reconnecting if the connection broke). A fence violation
 * (another worker moved a partition on) is reported with the text "fence". */
int cp_store_write(cp_store *store, const cp_store_profile *profiles, size_t n, const cp_store_offsets *offsets,
		   size_t noffsets, cp_store_result *result, char *err, size_t errlen);

#endif
