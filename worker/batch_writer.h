/* batch_writer: a thread that writes batches through the store (store.h) on a PostgreSQL
 * connection of its own, so that the ingest loop decodes and flattens the next batch while
 * PostgreSQL takes this one. One batch at a time: submit, then take the result before the next
 * submit. A write is one attempt (cp_store_write); retrying, and what a failure means for the
 * offsets, is the caller's business. A broken connection is reset before the next attempt.
 *
 * Ownership: the writer owns its thread, connection and store. A submitted batch (the profile
 * array, the offsets and everything they point to) is borrowed until its result is taken. */
#ifndef CP_WORKER_BATCH_WRITER_H
#define CP_WORKER_BATCH_WRITER_H

#include <stddef.h>

#include "store.h"

typedef struct cp_batch_writer cp_batch_writer;

/* Connects and starts the thread. NULL with a message when it cannot. */
cp_batch_writer *cp_batch_writer_start(const char *conninfo, const char *consumer_group, char *err, size_t errlen);

/* Hands a batch to the thread. Only when no batch is in hand (none submitted, or its result taken). */
void cp_batch_writer_submit(cp_batch_writer *bw, const cp_store_profile *profiles, size_t n,
			    const cp_store_offsets *offsets, size_t noffsets);

/* Whether a batch is in hand (submitted, result not yet taken). */
int cp_batch_writer_busy(cp_batch_writer *bw);

/* Takes the result of the batch in hand, waiting up to wait_ms (-1: until it is there). Returns
 * 0 when there is none yet; else 1 with *rc as cp_store_write returned it (0 stored, -1 not
 * stored with the reason in err, "fence" first for a fence) and *result. */
int cp_batch_writer_result(cp_batch_writer *bw, int wait_ms, int *rc, cp_store_result *result, char *err,
			   size_t errlen);

/* Lets a batch in hand finish, stops the thread, closes the connection. NULL is fine. */
void cp_batch_writer_stop(cp_batch_writer *bw);

#endif
