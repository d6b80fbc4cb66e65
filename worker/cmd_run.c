/* cmd_run: `cprof-worker run`: the ingest loop (worker/README.md). A consumer group member that
 * starts every assigned partition at the offset stored in PostgreSQL, decodes and flattens each
 * upload, dead-letters what it cannot use, and writes each batch through the store in one
 * transaction together with the offsets it covers. */
#define _GNU_SOURCE /* getopt_long */
#include <getopt.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "cp_args.h"
#include "cp_kafka_conf.h"
#include "cp_log.h"
#include "cp_envelope.h"
#include "cp_flat.h"
#include "cp_pprof.h"
#include "batch_writer.h"
#include "maintain.h"
#include "store.h"

static const char run_usage[] =
	"usage: cprof-worker run [options]\n"
	"\n"
	"Consumes profile uploads from Kafka and stores them in PostgreSQL, exactly once.\n"
	"\n"
	"  --pg CONNINFO        the database (else $CPROF_PG, else libpq's PG* variables)\n"
	"  -b, --brokers LIST   bootstrap servers (else $CPROF_KAFKA_BROKERS)\n"
	"  -t, --topic T        the uploads topic (default cprof.profiles)\n"
	"  --dlq T              the dead-letter topic (default cprof.profiles.dlq)\n"
	"  --group G            the consumer group (default cprof-worker)\n"
	"  --batch-count N      profiles per batch at most (default 500)\n"
	"  --batch-bytes N      message bytes per batch at most (default 64 MiB)\n"
	"  --max-message-bytes N  the largest pprof payload taken; larger ones are dead-lettered\n"
	"                       (default 64 MiB)\n"
	"  --max-size BYTES     the largest profile after decompression (default 256 MiB)\n"
	"  --batch-ms MS        a batch is written at least this often (default 1000)\n"
	"  --stats-seconds S    the interval of the stats line and row (default 10)\n"
	"  --retention-days N   keep N days of minutes and profiles (UTC, today included):\n"
	"                       partitions of older days are dropped every hour, and older uploads\n"
	"                       are dead-lettered, not stored (default: keep everything;\n"
	"                       partitions are created ahead either way)\n"
	"  --hour-retention-days N, --day-retention-days N   the same for the hour and day tiers\n"
	"                       (default: keep everything). Every minute the worker compacts the\n"
	"                       last hours and rolls closed hours and days up into their tiers, or\n"
	"                       skips it while another worker does (see cprof-worker maintain)\n"
	"  --drain              exit once every assigned partition is consumed to its end\n"
	"  -X key=value         a librdkafka property, for the consumer and the dead-letter producer\n";

/* The most --max-message-bytes and --max-size take: librdkafka's own ceiling on a message. */
#define MAX_MESSAGE_LIMIT 900000000

typedef struct {
	const char *pg, *brokers, *topic, *dlq_topic, *group;
	size_t batch_count, batch_bytes;
	cp_envelope_limits envelope_limits;
	cp_pprof_limits pprof_limits;
	long batch_ms, stats_seconds;
	int retention_days, hour_retention_days, day_retention_days;
	int drain;
	const char **props;
	size_t nprops;
} run_options;

typedef struct {
	char *topic;
	int32_t partition;
	int64_t stored; /* the offset PostgreSQL holds for it; -1 when none yet */
	int64_t queued; /* the end of the batch handed to the writer; stored when none is */
	int64_t next;   /* past the last message taken */
	int eof;
} partition_state;

typedef struct {
	cp_envelope meta;
	char id[CP_ENVELOPE_ID_LEN + 1];
	cp_flat *flat;
	int64_t time_nanos, duration_nanos;
	size_t samples, payload_bytes;
	int32_t partition;
	int64_t offset;
} batch_entry;

/* A batch: the uploads taken, then, once handed to the writer, what the store reads. */
typedef struct {
	batch_entry *entries;
	size_t n, cap, bytes; /* bytes: its message bytes, dead-lettered ones included */
	uint64_t dead;        /* dead letters sent for its messages */
	cp_store_profile *profiles;
	cp_store_offsets *offsets;
	size_t noffsets;
} batch;

typedef struct {
	run_options o;
	PGconn *conn; /* offsets at assignment, stats, maintenance; the writer has its own */
	cp_batch_writer *writer;
	rd_kafka_t *consumer, *dlq;
	cp_pprof_decoder *decoder;
	partition_state *parts;
	size_t nparts;
	cp_envelope_header *headers; /* the message's headers, for the envelope reader */
	size_t headers_cap;
	batch fill;          /* the batch messages go into */
	batch flight;        /* the batch handed to the writer, while in_flight */
	int in_flight;       /* handed off and not yet stored (being written, or waiting to retry) */
	int64_t batch_started_ms;
	int write_failures;  /* consecutive failed writes of the batch in flight */
	int64_t retry_at_ms; /* when the next attempt is due, while write_failures > 0 */
	int paused;          /* fetching paused: the writer is behind, or PostgreSQL away */
	uint64_t consumed, stored, duplicates, dead, rows, gaps, dlq_failed;
	uint64_t last_stored, last_rows, last_dead, last_duplicates; /* at the last stats row */
	int64_t last_stats_ms;
	int64_t next_maintenance_ms, next_compaction_ms;
	PGconn *compact_conn; /* the compaction's own connection, once it has run */
	int compacting;       /* a compaction sent and not yet finished */
} worker;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ PostgreSQL */

static void pg_wait_and_reconnect(worker *w, int attempt)
{
	long ms = 100L << (attempt < 6 ? attempt : 6); /* 100 ms doubling to 6.4 s */
	usleep((useconds_t)ms * 1000);
	if (PQstatus(w->conn) != CONNECTION_OK)
		PQreset(w->conn);
}

/* The stored offset of a partition (-1 when none), retrying while PostgreSQL is away. */
static int64_t stored_offset(worker *w, const char *topic, int32_t partition)
{
	char part[16];
	snprintf(part, sizeof part, "%" PRId32, partition);
	const char *params[] = {w->o.group, topic, part};
	for (int attempt = 0; !stop_requested; attempt++) {
		PGresult *r = PQexecParams(w->conn,
					   "SELECT next_offset FROM cprof.kafka_offsets WHERE consumer_group = $1 AND "
					   "topic = $2 AND kafka_partition = $3::int",
					   3, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			int64_t v = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
			PQclear(r);
			return v;
		}
		cp_log("reading the stored offset of %s [%" PRId32 "]: %s (retrying)", topic, partition,
		      PQerrorMessage(w->conn));
		PQclear(r);
		pg_wait_and_reconnect(w, attempt);
	}
	return -1;
}

/* ------------------------------------------------------------------ the batch */

static partition_state *find_partition(worker *w, const char *topic, int32_t partition)
{
	for (size_t i = 0; i < w->nparts; i++)
		if (w->parts[i].partition == partition && strcmp(w->parts[i].topic, topic) == 0)
			return &w->parts[i];
	return NULL;
}

static void batch_clear(batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		cp_flat_destroy(b->entries[i].flat);
		cp_envelope_free(&b->entries[i].meta);
	}
	b->n = 0;
	b->bytes = 0;
	b->dead = 0;
	free(b->profiles);
	free(b->offsets);
	b->profiles = NULL;
	b->offsets = NULL;
	b->noffsets = 0;
}

static void batch_free(batch *b)
{
	batch_clear(b);
	free(b->entries);
}

/* Whether messages were taken past what was handed to the writer. */
static int fill_pending(const worker *w)
{
	if (w->fill.n)
		return 1;
	for (size_t i = 0; i < w->nparts; i++)
		if (w->parts[i].next > w->parts[i].queued)
			return 1;
	return 0;
}

/* Drops what is in hand, handed off or not (nothing of it is stored): every partition is read
 * again from its stored offset. The writer must not be writing. */
static void drop_in_hand(worker *w)
{
	batch_clear(&w->fill);
	batch_clear(&w->flight);
	w->in_flight = 0;
	w->write_failures = 0;
	for (size_t i = 0; i < w->nparts; i++)
		w->parts[i].queued = w->parts[i].next = w->parts[i].stored;
	w->batch_started_ms = now_ms();
}

/* Drops what is in hand and starts every assigned partition again from its stored offset,
 * read from PostgreSQL. The writer must not be writing. */
static void reseek_from_stored(worker *w)
{
	for (size_t i = 0; i < w->nparts; i++) {
		partition_state *p = &w->parts[i];
		p->stored = stored_offset(w, p->topic, p->partition);
		p->eof = 0;
		rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
		rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset =
			p->stored < 0 ? RD_KAFKA_OFFSET_BEGINNING : p->stored;
		rd_kafka_error_t *error = rd_kafka_seek_partitions(w->consumer, l, 5000);
		if (error) {
			cp_log("seeking %s [%" PRId32 "]: %s", p->topic, p->partition, rd_kafka_error_string(error));
			rd_kafka_error_destroy(error);
		}
		rd_kafka_topic_partition_list_destroy(l);
	}
	drop_in_hand(w);
}

/* Pauses (or resumes) fetching on every assigned partition: while the writer is behind or a
 * batch cannot be stored, the loop keeps polling, so the group still sees a live member, but
 * takes in little more. */
static void set_paused(worker *w, int paused)
{
	if (w->paused == paused)
		return;
	w->paused = paused;
	if (!w->nparts)
		return;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)w->nparts);
	for (size_t i = 0; i < w->nparts; i++)
		rd_kafka_topic_partition_list_add(l, w->parts[i].topic, w->parts[i].partition);
	rd_kafka_resp_err_t err = paused ? rd_kafka_pause_partitions(w->consumer, l) : rd_kafka_resume_partitions(w->consumer, l);
	if (err)
		cp_log("%s the assigned partitions: %s", paused ? "pausing" : "resuming", rd_kafka_err2str(err));
	rd_kafka_topic_partition_list_destroy(l);
}

/* Hands the batch taken so far to the writer with the offsets it covers, and starts a new one.
 * Only when none is in flight (its offsets start where the stored ones end). */
static void hand_off(worker *w)
{
	if (w->in_flight || !fill_pending(w))
		return;
	if (w->fill.dead) {
		/* Dead-lettered messages must be in Kafka before their offsets move past them. */
		rd_kafka_flush(w->dlq, 30000);
		if (w->dlq_failed) {
			cp_log("%" PRIu64 " dead-letter deliveries failed: the batch is not stored, its messages will be read again",
			      w->dlq_failed);
			w->dlq_failed = 0;
			reseek_from_stored(w);
			return;
		}
	}
	batch *b = &w->fill;
	b->profiles = calloc(b->n + 1, sizeof *b->profiles);
	b->offsets = calloc(w->nparts + 1, sizeof *b->offsets);
	if (!b->profiles || !b->offsets) {
		cp_log("out of memory handing a batch to the writer: it is read again");
		reseek_from_stored(w);
		return;
	}
	for (size_t i = 0; i < b->n; i++) {
		batch_entry *e = &b->entries[i];
		b->profiles[i] = (cp_store_profile){&e->meta,  e->time_nanos,	       e->duration_nanos, e->flat,
						    e->samples, e->payload_bytes, w->o.topic,	    e->partition,
						    e->offset};
	}
	for (size_t i = 0; i < w->nparts; i++) {
		partition_state *p = &w->parts[i];
		if (p->next > p->queued) {
			b->offsets[b->noffsets++] = (cp_store_offsets){p->topic, p->partition, p->queued, p->next};
			p->queued = p->next;
		}
	}
	batch spare = w->flight; /* empty: its entries array is reused */
	w->flight = w->fill;
	w->fill = spare;
	w->in_flight = 1;
	cp_batch_writer_submit(w->writer, w->flight.profiles, w->flight.n, w->flight.offsets, w->flight.noffsets);
	w->batch_started_ms = now_ms();
}

/* Takes the writer's result for the batch in flight, waiting up to wait_ms (-1: for it).
 * Stored: the offsets move on. Fenced off: everything in hand is dropped and read again from
 * the stored offsets. Failed: the batch stays in flight, to be handed again after a backoff of
 * 100 ms doubling to 6.4 s. */
static void collect(worker *w, int wait_ms)
{
	int rc;
	cp_store_result res;
	char err[1024];
	if (!w->in_flight || !cp_batch_writer_result(w->writer, wait_ms, &rc, &res, err, sizeof err))
		return;
	if (rc == 0) {
		w->stored += res.stored;
		w->duplicates += res.duplicates;
		w->rows += res.rows;
		for (size_t i = 0; i < w->flight.noffsets; i++) {
			partition_state *p = find_partition(w, w->flight.offsets[i].topic, w->flight.offsets[i].partition);
			if (p)
				p->stored = w->flight.offsets[i].end;
		}
		if (w->write_failures)
			cp_log("the batch of %zu profiles is stored after %d failed attempt(s)", w->flight.n,
			      w->write_failures);
		w->write_failures = 0;
		batch_clear(&w->flight);
		w->in_flight = 0;
	} else if (strncmp(err, "fence", 5) == 0) {
		/* Another worker moved a partition on: drop everything, start again from PostgreSQL. */
		cp_log("%s", err);
		reseek_from_stored(w);
	} else {
		w->write_failures++;
		cp_log("storing a batch of %zu profiles (attempt %d): %s", w->flight.n, w->write_failures, err);
		int attempt = w->write_failures - 1;
		w->retry_at_ms = now_ms() + (100L << (attempt < 6 ? attempt : 6));
	}
}

/* Hands the failed batch in flight to the writer again: once its backoff is over, or now. */
static void retry_flight(worker *w, int now)
{
	if (w->in_flight && w->write_failures && (now || now_ms() >= w->retry_at_ms) && !cp_batch_writer_busy(w->writer))
		cp_batch_writer_submit(w->writer, w->flight.profiles, w->flight.n, w->flight.offsets, w->flight.noffsets);
}

/* Stores everything in hand now, one attempt (revocation, stop): the batch in flight, then the
 * rest. What cannot be stored is dropped, nothing of it stored, and read again by the
 * partitions' next owner. */
static void store_all_now(worker *w, const char *why)
{
	if (!w->writer)
		return;
	for (int round = 0; round < 2; round++) {
		if (round)
			hand_off(w);
		retry_flight(w, 1);
		collect(w, -1);
		if (w->in_flight) {
			cp_log("%s: %zu profiles taken are not stored; their messages will be read again", why,
			      w->flight.n + w->fill.n);
			drop_in_hand(w);
			return;
		}
	}
}

/* ------------------------------------------------------------------ messages */

/* Produces a dead letter; hdrs is taken over whatever happens. With drop_value, the value is
 * left out and the header cprof-dlq-value-dropped says how many bytes it had. Returns
 * librdkafka's error. */
static rd_kafka_resp_err_t produce_dead_letter(worker *w, const void *key, size_t key_len, void *value,
					       size_t value_len, int drop_value, rd_kafka_headers_t *hdrs)
{
	if (drop_value) {
		char size[32];
		snprintf(size, sizeof size, "%zu", value_len);
		rd_kafka_header_add(hdrs, "cprof-dlq-value-dropped", -1, size, -1);
		value = NULL;
		value_len = 0;
	}
	rd_kafka_resp_err_t err = rd_kafka_producev(w->dlq, RD_KAFKA_V_TOPIC(w->o.dlq_topic),
						    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key_len),
						    RD_KAFKA_V_VALUE(value, value_len), RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
	if (err)
		rd_kafka_headers_destroy(hdrs); /* still ours when producev fails */
	return err;
}

/* A copy of a message's headers (an empty set when it has none), to add to. */
static rd_kafka_headers_t *headers_of(const rd_kafka_message_t *m)
{
	rd_kafka_headers_t *hdrs = NULL;
	return rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR ? rd_kafka_headers_copy(hdrs)
										 : rd_kafka_headers_new(5);
}

/* A dead letter the broker refused as too large goes again without its value; any other failure
 * is counted, and the batch is then not stored but read again (hand_off). */
static void dlq_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	worker *w = opaque;
	if (!m->err)
		return;
	if (m->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && m->payload &&
	    produce_dead_letter(w, m->key, m->key_len, NULL, m->len, 1, headers_of(m)) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		cp_log("a dead letter of %zu bytes was too large for the dead-letter topic: sent again without its value",
		      m->len);
		return;
	}
	cp_log("a dead letter was not delivered: %s", rd_kafka_err2str(m->err));
	w->dlq_failed++;
}

/* Dead-letters a message: its key, value and headers, then the headers cprof-dlq-reason,
 * -topic, -partition and -offset. One too large for the dead-letter producer goes without its
 * value; any other refusal is counted (see dlq_delivered). */
static void dead_letter(worker *w, const rd_kafka_message_t *m, const char *reason)
{
	char part[16], off[32];
	snprintf(part, sizeof part, "%" PRId32, m->partition);
	snprintf(off, sizeof off, "%" PRId64, m->offset);
	const char *topic = rd_kafka_topic_name(m->rkt);
	cp_log("%s [%" PRId32 "] @ %" PRId64 ": dead-lettered: %s", topic, m->partition, m->offset, reason);
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE;
	for (int drop_value = 0; drop_value < 2 && err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE; drop_value++) {
		rd_kafka_headers_t *hdrs = headers_of(m);
		rd_kafka_header_add(hdrs, "cprof-dlq-reason", -1, reason, -1);
		rd_kafka_header_add(hdrs, "cprof-dlq-topic", -1, topic, -1);
		rd_kafka_header_add(hdrs, "cprof-dlq-partition", -1, part, -1);
		rd_kafka_header_add(hdrs, "cprof-dlq-offset", -1, off, -1);
		err = produce_dead_letter(w, m->key, m->key_len, m->payload, m->len, drop_value, hdrs);
	}
	if (err) {
		cp_log("%s [%" PRId32 "] @ %" PRId64 ": dead-lettering failed: %s", topic, m->partition, m->offset,
		      rd_kafka_err2str(err));
		w->dlq_failed++;
	}
	w->dead++;
	w->fill.dead++;
}

/* Whether a profile of this time is older than the retention keeps (then says so in reason):
 * storing it would bring back a partition the retention dropped. */
static int before_retention(const worker *w, int64_t time_nanos, char *reason, size_t len)
{
	if (!w->o.retention_days)
		return 0;
	int64_t horizon = cp_maintain_horizon(w->o.retention_days, (int64_t)time(NULL));
	int64_t seconds = time_nanos / 1000000000 - (time_nanos % 1000000000 < 0);
	if (seconds >= horizon)
		return 0;
	char when[32] = "?", from[32] = "?";
	time_t a = (time_t)seconds, b = (time_t)horizon;
	struct tm tm;
	if (gmtime_r(&a, &tm))
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (gmtime_r(&b, &tm))
		strftime(from, sizeof from, "%Y-%m-%d", &tm);
	snprintf(reason, len, "too old: the profile's time %s is before %s, the start of the %d day(s) of retention",
		 when, from, w->o.retention_days);
	return 1;
}

/* Takes one message into the batch, or to the dead-letter topic. */
static void take(worker *w, rd_kafka_message_t *m)
{
	partition_state *p = find_partition(w, rd_kafka_topic_name(m->rkt), m->partition);
	if (!p || m->offset < p->next)
		return; /* not ours, or already in the batch */
	p->eof = 0;
	if (p->next >= 0 && m->offset > p->next) {
		w->gaps++;
		cp_log("GAP: %s [%" PRId32 "] offsets %" PRId64 " to %" PRId64 " are gone from Kafka (retention?): "
		      "those uploads are lost",
		      rd_kafka_topic_name(m->rkt), m->partition, p->next, m->offset - 1);
	}
	p->next = m->offset + 1;
	w->consumed++;
	w->fill.bytes += m->len;

	/* every header: the envelope reader judges them all (a raw upload's cprof-* headers may
	 * come after any number of others) */
	size_t nheaders = 0;
	rd_kafka_headers_t *hdrs = NULL;
	if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		size_t count = rd_kafka_header_cnt(hdrs);
		if (count > w->headers_cap) {
			cp_envelope_header *grown = realloc(w->headers, count * sizeof *grown);
			if (!grown) {
				dead_letter(w, m, "the worker ran out of memory for this upload's headers");
				return;
			}
			w->headers = grown;
			w->headers_cap = count;
		}
		const char *name;
		const void *value;
		size_t size;
		while (nheaders < count && rd_kafka_header_get_all(hdrs, nheaders, &name, &value, &size) == 0)
			w->headers[nheaders++] = (cp_envelope_header){name, value ? value : "", value ? size : 0};
	}
	batch *b = &w->fill;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		batch_entry *grown = realloc(b->entries, cap * sizeof *grown);
		if (!grown) {
			dead_letter(w, m, "the worker ran out of memory for this upload");
			return;
		}
		b->entries = grown;
		b->cap = cap;
	}
	batch_entry *e = &b->entries[b->n];
	memset(e, 0, sizeof *e);
	char err[640], reason[700];
	cp_envelope_form form;
	if (cp_envelope_read_message(w->headers, nheaders, m->payload, m->len, &w->o.envelope_limits, &e->meta, &form,
				     err, sizeof err)) {
		snprintf(reason, sizeof reason, "bad upload: %s", err);
		dead_letter(w, m, reason);
		return;
	}
	const cp_pprof *prof;
	if (cp_pprof_decoder_decode(w->decoder, e->meta.payload, e->meta.payload_len, &prof, err, sizeof err)) {
		snprintf(reason, sizeof reason, "bad profile: %s", err);
		goto dead;
	}
	e->flat = cp_flat_new(CP_FLAT_STACKS);
	if (!e->flat || cp_flat_add(e->flat, prof, err, sizeof err)) {
		snprintf(reason, sizeof reason, "bad profile: %s", e->flat ? err : "out of memory");
		goto dead;
	}
	if (!e->meta.profile_type || !*e->meta.profile_type)
		e->meta.profile_type = cp_envelope_guess_type(prof);
	e->time_nanos = e->meta.start_time_unix_nanos ? e->meta.start_time_unix_nanos : prof->time_nanos;
	e->duration_nanos = e->meta.duration_nanos ? e->meta.duration_nanos : prof->duration_nanos;
	if (before_retention(w, e->time_nanos, reason, sizeof reason))
		goto dead;
	if (!e->meta.profile_id || !*e->meta.profile_id) {
		if (cp_envelope_derive_id(&e->meta, e->id)) {
			snprintf(reason, sizeof reason, "the worker ran out of memory deriving the profile id");
			goto dead;
		}
		e->meta.profile_id = e->id;
	}
	e->samples = prof->nsamples;
	e->payload_bytes = e->meta.payload_len;
	e->meta.payload = NULL; /* the message is released after this */
	e->partition = m->partition;
	e->offset = m->offset;
	b->n++;
	return;
dead:
	dead_letter(w, m, reason);
	cp_flat_destroy(e->flat);
	cp_envelope_free(&e->meta);
}

/* ------------------------------------------------------------------ the group */

static void rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *list, void *opaque)
{
	worker *w = opaque;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		store_all_now(w, "reassigned"); /* nothing is in hand after a revocation */
		set_paused(w, 0);
		partition_state *parts = calloc((size_t)list->cnt + 1, sizeof *parts);
		for (int i = 0; parts && i < list->cnt; i++) {
			rd_kafka_topic_partition_t *tp = &list->elems[i];
			int64_t stored = stored_offset(w, tp->topic, tp->partition);
			tp->offset = stored < 0 ? RD_KAFKA_OFFSET_BEGINNING : stored;
			parts[i] = (partition_state){strdup(tp->topic), tp->partition, stored, stored, stored, 0};
			cp_log("assigned %s [%" PRId32 "] from %s %" PRId64, tp->topic, tp->partition,
			      stored < 0 ? "the beginning, nothing stored at" : "stored offset", stored);
		}
		for (size_t i = 0; i < w->nparts; i++)
			free(w->parts[i].topic);
		free(w->parts);
		w->parts = parts;
		w->nparts = parts ? (size_t)list->cnt : 0;
		rd_kafka_assign(rk, list);
	} else {
		/* what is in hand is stored, or else read again by the next owner */
		store_all_now(w, "partitions revoked");
		set_paused(w, 0);
		for (size_t i = 0; i < w->nparts; i++)
			free(w->parts[i].topic);
		free(w->parts);
		w->parts = NULL;
		w->nparts = 0;
		rd_kafka_assign(rk, NULL);
		cp_log("partitions revoked");
	}
}

static int all_at_end(const worker *w)
{
	if (!w->nparts)
		return 0;
	for (size_t i = 0; i < w->nparts; i++)
		if (!w->parts[i].eof)
			return 0;
	return 1;
}

/* Whether the batch being taken has reached its count or byte limit. */
static int fill_full(const worker *w)
{
	return w->fill.n >= w->o.batch_count || w->fill.bytes >= w->o.batch_bytes;
}

/* Whether to hand the batch being taken to the writer: a limit reached, its time up, or, with
 * --drain, every partition consumed to its end. */
static int fill_due(const worker *w)
{
	return fill_full(w) || now_ms() - w->batch_started_ms >= w->o.batch_ms || (w->o.drain && all_at_end(w));
}

static void stats(worker *w, int force)
{
	int64_t t = now_ms();
	double secs = (double)(t - w->last_stats_ms) / 1000.0;
	if (!force && secs < (double)w->o.stats_seconds)
		return;
	double rate = secs > 0 ? (double)(w->stored - w->last_stored) / secs : 0;
	double row_rate = secs > 0 ? (double)(w->rows - w->last_rows) / secs : 0;
	/* the row holds the interval's counts, so a dashboard sums or divides by interval_seconds */
	char a[32], b[32], c[32], d[32], e[32], f[32];
	snprintf(a, sizeof a, "%" PRIu64, w->stored - w->last_stored);
	snprintf(b, sizeof b, "%" PRIu64, w->rows - w->last_rows);
	snprintf(c, sizeof c, "%" PRIu64, w->dead - w->last_dead);
	snprintf(d, sizeof d, "%" PRIu64, w->duplicates - w->last_duplicates);
	int64_t lag = 0;
	for (size_t i = 0; i < w->nparts; i++) {
		int64_t low = 0, high = 0;
		if (rd_kafka_get_watermark_offsets(w->consumer, w->parts[i].topic, w->parts[i].partition, &low, &high) ==
			    RD_KAFKA_RESP_ERR_NO_ERROR &&
		    high > w->parts[i].next)
			lag += high - (w->parts[i].next < low ? low : w->parts[i].next);
	}
	snprintf(e, sizeof e, "%" PRId64, lag);
	cp_log("stats: consumed %" PRIu64 ", stored %" PRIu64 " (%.0f/s), duplicates %" PRIu64 ", dead-lettered %" PRIu64
	      ", rows %" PRIu64 " (%.0f/s), gaps %" PRIu64 ", lag %" PRId64,
	      w->consumed, w->stored, rate, w->duplicates, w->dead, w->rows, row_rate, w->gaps, lag);
	snprintf(f, sizeof f, "%.3f", secs);
	char name[128];
	snprintf(name, sizeof name, "%s/%ld", w->o.group, (long)getpid());
	const char *params[] = {name, a, b, c, d, e, f};
	PQclear(PQexecParams(w->conn,
			     "INSERT INTO cprof.worker_stats (worker, profiles, rows_written, dead_lettered, duplicates, "
			     "lag_messages, interval_seconds) VALUES ($1, $2::bigint, $3::bigint, $4::bigint, $5::bigint, "
			     "$6::bigint, $7::float8)",
			     7, NULL, params, NULL, NULL, 0));
	w->last_stats_ms = t;
	w->last_stored = w->stored;
	w->last_rows = w->rows;
	w->last_dead = w->dead;
	w->last_duplicates = w->duplicates;
}

/* The partition maintenance (maintain.h): at start, then every hour; after a failure (logged;
 * the store still creates the partitions each batch needs) again in a minute. */
static void maintenance(worker *w)
{
	int64_t t = now_ms();
	if (t < w->next_maintenance_ms)
		return;
	cp_maintain_options options = {w->o.retention_days, w->o.hour_retention_days, w->o.day_retention_days, 2};
	cp_maintain_result res;
	char err[1024];
	if (cp_maintain(w->conn, &options, (int64_t)time(NULL), &res, err, sizeof err)) {
		cp_log("%s (again in a minute)", err);
		w->next_maintenance_ms = t + 60 * 1000;
		return;
	}
	if (res.created || res.dropped)
		cp_log("partitions: %ld created ahead, %ld dropped past the retention", res.created, res.dropped);
	w->next_maintenance_ms = t + 3600 * 1000;
}

/* The work on the tiers (maintain.h): the compaction of the closed minutes of the last
 * CP_MAINTAIN_COMPACT_HOURS hours and the rollup of closed hours and days, every minute, on a
 * connection of its own and without waiting for it: the loop goes on while PostgreSQL works. A
 * failure is logged and tried again at the next minute, on a new connection if it broke. */
static void compaction(worker *w)
{
	char err[1024];
	if (w->compacting) {
		cp_maintain_tiers_result res = {0, 0};
		int done = cp_maintain_tiers_done(w->compact_conn, 0, &res, err, sizeof err);
		if (done == 0)
			return;
		w->compacting = 0;
		if (done < 0)
			cp_log("%s (again in a minute)", err);
		else if (res.removed || res.rolled)
			cp_log("tiers: %ld rows of closed minutes merged away, %ld rows rolled up", res.removed, res.rolled);
	}
	int64_t t = now_ms();
	if (t < w->next_compaction_ms)
		return;
	w->next_compaction_ms = t + 60 * 1000;
	if (!w->compact_conn)
		w->compact_conn = PQconnectdb(cp_worker_conninfo(w->o.pg));
	else if (PQstatus(w->compact_conn) != CONNECTION_OK)
		PQreset(w->compact_conn);
	if (PQstatus(w->compact_conn) != CONNECTION_OK)
		cp_log("compacting and rolling up: %s (again in a minute)", PQerrorMessage(w->compact_conn));
	else if (cp_maintain_tiers_send(w->compact_conn, CP_MAINTAIN_COMPACT_HOURS, (int64_t)time(NULL), err, sizeof err))
		cp_log("%s (again in a minute)", err);
	else
		w->compacting = 1;
}

/* ------------------------------------------------------------------ setup */

static int parse(int argc, char **argv, run_options *o)
{
	enum { O_PG = 256, O_DLQ, O_GROUP, O_COUNT, O_BYTES, O_MS, O_STATS, O_RETENTION, O_HOUR_RETENTION, O_DAY_RETENTION, O_MAX_MESSAGE, O_MAX_SIZE, O_DRAIN, O_HELP };
	static const struct option longopts[] = {
		{"pg", required_argument, NULL, O_PG},	      {"brokers", required_argument, NULL, 'b'},
		{"topic", required_argument, NULL, 't'},      {"dlq", required_argument, NULL, O_DLQ},
		{"group", required_argument, NULL, O_GROUP},  {"batch-count", required_argument, NULL, O_COUNT},
		{"batch-bytes", required_argument, NULL, O_BYTES},
		{"batch-ms", required_argument, NULL, O_MS},  {"stats-seconds", required_argument, NULL, O_STATS},
		{"retention-days", required_argument, NULL, O_RETENTION},
		{"hour-retention-days", required_argument, NULL, O_HOUR_RETENTION},
		{"day-retention-days", required_argument, NULL, O_DAY_RETENTION},
		{"max-message-bytes", required_argument, NULL, O_MAX_MESSAGE},
		{"max-size", required_argument, NULL, O_MAX_SIZE},
		{"drain", no_argument, NULL, O_DRAIN},	      {"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0},
	};
	*o = (run_options){.topic = "cprof.profiles", .dlq_topic = "cprof.profiles.dlq", .group = "cprof-worker",
			   .batch_count = 500, .batch_bytes = 64 << 20, .batch_ms = 1000, .stats_seconds = 10};
	o->brokers = getenv("CPROF_KAFKA_BROKERS");
	o->props = calloc((size_t)argc + 1, sizeof *o->props);
	if (!o->props)
		return CP_WORKER_FAILURE;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "b:t:X:", longopts, NULL)) != -1) {
		long v = 0;
		if (c == O_COUNT || c == O_BYTES || c == O_MS || c == O_STATS) {
			if (cp_args_long(optarg, 1, 1000000000L, &v)) {
				fprintf(stderr, "cprof-worker run: %s wants a positive number, not '%s'\n", argv[optind - 1],
					optarg);
				return CP_WORKER_USAGE;
			}
		}
		switch (c) {
		case O_PG: o->pg = optarg; break;
		case 'b': o->brokers = optarg; break;
		case 't': o->topic = optarg; break;
		case O_DLQ: o->dlq_topic = optarg; break;
		case O_GROUP: o->group = optarg; break;
		case O_COUNT: o->batch_count = (size_t)v; break;
		case O_BYTES: o->batch_bytes = (size_t)v; break;
		case O_MS: o->batch_ms = v; break;
		case O_STATS: o->stats_seconds = v; break;
		case O_MAX_MESSAGE:
		case O_MAX_SIZE: {
			size_t bytes = 0;
			if (cp_args_size(optarg, &bytes) || bytes == 0 || bytes > MAX_MESSAGE_LIMIT) {
				fprintf(stderr, "cprof-worker run: %s wants a number of bytes (1 to %d), not '%s'\n",
					argv[optind - 1], MAX_MESSAGE_LIMIT, optarg);
				return CP_WORKER_USAGE;
			}
			if (c == O_MAX_MESSAGE)
				o->envelope_limits.max_payload = bytes;
			else
				o->pprof_limits.max_decompressed = bytes;
			break;
		}
		case O_RETENTION:
		case O_HOUR_RETENTION:
		case O_DAY_RETENTION:
			if (cp_args_long(optarg, 1, 36500, &v)) {
				fprintf(stderr, "cprof-worker run: %s wants a number of days (1 to 36500), not '%s'\n",
					argv[optind - 1], optarg);
				return CP_WORKER_USAGE;
			}
			*(c == O_RETENTION ? &o->retention_days
			  : c == O_HOUR_RETENTION ? &o->hour_retention_days : &o->day_retention_days) = (int)v;
			break;
		case O_DRAIN: o->drain = 1; break;
		case 'X': o->props[o->nprops++] = optarg; break;
		case O_HELP: fputs(run_usage, stdout); return CP_WORKER_OK;
		default:
			fprintf(stderr, "cprof-worker run: bad option '%s'\n%s", argv[optind - 1], run_usage);
			return CP_WORKER_USAGE;
		}
	}
	if (optind != argc || !o->brokers || !*o->brokers) {
		fprintf(stderr, "cprof-worker run: %s\n%s",
			optind != argc ? "unexpected arguments" : "give -b BROKERS (or set CPROF_KAFKA_BROKERS)", run_usage);
		return CP_WORKER_USAGE;
	}
	return -1;
}

/* A librdkafka configuration with our settings, then the -X properties. NULL after printing. */
static rd_kafka_conf_t *make_conf(const run_options *o, const char *const *settings)
{
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	if (rd_kafka_conf_set(conf, "bootstrap.servers", o->brokers, err, sizeof err) != RD_KAFKA_CONF_OK)
		goto bad;
	for (size_t i = 0; settings[i]; i += 2)
		if (rd_kafka_conf_set(conf, settings[i], settings[i + 1], err, sizeof err) != RD_KAFKA_CONF_OK)
			goto bad;
	if (cp_kafka_conf_props(conf, o->props, o->nprops, err, sizeof err))
		goto bad;
	return conf;
bad:
	fprintf(stderr, "cprof-worker run: %s\n", err);
	rd_kafka_conf_destroy(conf);
	return NULL;
}

int cp_worker_run(int argc, char **argv)
{
	worker w = {0};
	cp_log_init("cprof-worker");
	int status = parse(argc, argv, &w.o);
	if (status >= 0) {
		free(w.o.props);
		return status;
	}
	status = CP_WORKER_FAILURE;
	static const char *const consumer_settings[] = {
		"enable.auto.commit", "false", "enable.auto.offset.store", "false", "auto.offset.reset", "earliest",
		"enable.partition.eof", "true", "fetch.wait.max.ms", "10", "client.id", "cprof-worker", NULL};
	/* a dead letter carries its message: room for the largest payload taken, and headers */
	char dlq_max[32];
	snprintf(dlq_max, sizeof dlq_max, "%zu",
		 (w.o.envelope_limits.max_payload ? w.o.envelope_limits.max_payload : CP_ENVELOPE_DEFAULT_MAX_PAYLOAD) +
			 ((size_t)1 << 20));
	const char *const producer_settings[] = {"enable.idempotence", "true", "acks", "all", "client.id",
						 "cprof-worker-dlq", "message.max.bytes", dlq_max, NULL};
	char err[512];
	rd_kafka_conf_t *cconf = make_conf(&w.o, consumer_settings), *pconf = NULL;
	if (!cconf || rd_kafka_conf_set(cconf, "group.id", w.o.group, err, sizeof err) != RD_KAFKA_CONF_OK) {
		if (cconf)
			fprintf(stderr, "cprof-worker run: %s\n", err);
		status = CP_WORKER_USAGE;
		goto out;
	}
	pconf = make_conf(&w.o, producer_settings);
	if (!pconf) {
		status = CP_WORKER_USAGE;
		goto out;
	}
	rd_kafka_conf_set_opaque(cconf, &w);
	rd_kafka_conf_set_rebalance_cb(cconf, rebalance);
	rd_kafka_conf_set_opaque(pconf, &w);
	rd_kafka_conf_set_dr_msg_cb(pconf, dlq_delivered);

	w.conn = PQconnectdb(cp_worker_conninfo(w.o.pg));
	if (PQstatus(w.conn) != CONNECTION_OK) {
		fprintf(stderr, "cprof-worker run: cannot connect to PostgreSQL: %s", PQerrorMessage(w.conn));
		goto out;
	}
	w.writer = cp_batch_writer_start(cp_worker_conninfo(w.o.pg), w.o.group, err, sizeof err);
	if (!w.writer) {
		fprintf(stderr, "cprof-worker run: %s\n", err);
		goto out;
	}
	w.decoder = cp_pprof_decoder_new(&w.o.pprof_limits);
	w.dlq = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, err, sizeof err);
	if (w.dlq)
		pconf = NULL;
	w.consumer = w.dlq ? rd_kafka_new(RD_KAFKA_CONSUMER, cconf, err, sizeof err) : NULL;
	if (w.consumer)
		cconf = NULL;
	if (!w.decoder || !w.dlq || !w.consumer) {
		fprintf(stderr, "cprof-worker run: cannot start: %s\n", w.dlq && w.consumer ? "out of memory" : err);
		goto out;
	}
	rd_kafka_poll_set_consumer(w.consumer);
	rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, w.o.topic, RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t serr = rd_kafka_subscribe(w.consumer, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (serr) {
		fprintf(stderr, "cprof-worker run: subscribing to %s: %s\n", w.o.topic, rd_kafka_err2str(serr));
		goto out;
	}

	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	cp_log("consuming %s as group %s; dead letters to %s", w.o.topic, w.o.group, w.o.dlq_topic);
	w.batch_started_ms = w.last_stats_ms = now_ms();
	while (!stop_requested) {
		/* The writer behind with the next batch full: wait for it (librdkafka goes on fetching
		 * meanwhile; pausing the partitions would drop what it has fetched). Else short polls
		 * while the writer works, to hand it the next batch as soon as it is done. */
		rd_kafka_message_t *m = NULL;
		if (w.in_flight && !w.write_failures && fill_full(&w))
			collect(&w, 100);
		else
			m = rd_kafka_consumer_poll(w.consumer, w.in_flight ? 5 : 50);
		if (m) {
			if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
				partition_state *p = find_partition(&w, rd_kafka_topic_name(m->rkt), m->partition);
				if (p)
					p->eof = 1;
			} else if (m->err) {
				cp_log("consumer: %s", rd_kafka_message_errstr(m));
			} else {
				take(&w, m);
			}
			rd_kafka_message_destroy(m);
		}
		rd_kafka_poll(w.dlq, 0);
		collect(&w, 0);
		retry_flight(&w, 0);
		if (!w.in_flight && fill_due(&w))
			hand_off(&w);
		/* PostgreSQL away: take in no more, but go on polling (group membership) */
		set_paused(&w, w.write_failures > 0);
		stats(&w, 0);
		maintenance(&w);
		compaction(&w);
		if (w.o.drain && all_at_end(&w) && !w.in_flight && !fill_pending(&w))
			break;
	}
	store_all_now(&w, "stopping");
	stats(&w, 1);
	status = CP_WORKER_OK;
out:
	if (w.consumer) {
		rd_kafka_consumer_close(w.consumer); /* its revocation stores what is in hand: the writer still runs */
		rd_kafka_destroy(w.consumer);
	}
	cp_batch_writer_stop(w.writer);
	if (w.compacting) { /* cancelled: rolled back, it is done again by the next run */
		char cerr[256];
		PGcancel *cancel = PQgetCancel(w.compact_conn);
		if (cancel) {
			PQcancel(cancel, cerr, sizeof cerr);
			PQfreeCancel(cancel);
		}
		cp_maintain_tiers_result res;
		cp_maintain_tiers_done(w.compact_conn, 1, &res, cerr, sizeof cerr);
	}
	PQfinish(w.compact_conn);
	if (w.dlq) {
		rd_kafka_flush(w.dlq, 10000);
		rd_kafka_destroy(w.dlq);
	}
	if (cconf)
		rd_kafka_conf_destroy(cconf);
	if (pconf)
		rd_kafka_conf_destroy(pconf);
	batch_free(&w.fill);
	batch_free(&w.flight);
	free(w.headers);
	for (size_t i = 0; i < w.nparts; i++)
		free(w.parts[i].topic);
	free(w.parts);
	cp_pprof_decoder_free(w.decoder);
	PQfinish(w.conn);
	free(w.o.props);
	return status;
}
