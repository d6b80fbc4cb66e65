/* batch_writer: the store on a thread of its own; see batch_writer.h. */
#include "batch_writer.h"

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cp_batch_writer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t changed;
	PGconn *conn;
	cp_store *store;
	/* under mu: */
	int quit;
	int submitted, done; /* a batch in hand; its result is ready */
	const cp_store_profile *profiles;
	const cp_store_offsets *offsets;
	size_t n, noffsets;
	int rc;
	cp_store_result result;
	char err[1024];
};

static void *writer_main(void *arg)
{
	cp_batch_writer *bw = arg;
	pthread_mutex_lock(&bw->mu);
	for (;;) {
		while (!bw->quit && (!bw->submitted || bw->done))
			pthread_cond_wait(&bw->changed, &bw->mu);
		if (bw->quit && (!bw->submitted || bw->done))
			break;
		const cp_store_profile *profiles = bw->profiles;
		const cp_store_offsets *offsets = bw->offsets;
		size_t n = bw->n, noffsets = bw->noffsets;
		pthread_mutex_unlock(&bw->mu);

		if (PQstatus(bw->conn) != CONNECTION_OK)
			PQreset(bw->conn);
		cp_store_result result;
		char err[sizeof bw->err];
		int rc = cp_store_write(bw->store, profiles, n, offsets, noffsets, &result, err, sizeof err);

		pthread_mutex_lock(&bw->mu);
		bw->rc = rc;
		bw->result = result;
		memcpy(bw->err, err, sizeof err);
		bw->done = 1;
		pthread_cond_broadcast(&bw->changed);
	}
	pthread_mutex_unlock(&bw->mu);
	return NULL;
}

cp_batch_writer *cp_batch_writer_start(const char *conninfo, const char *consumer_group, char *err, size_t errlen)
{
	cp_batch_writer *bw = calloc(1, sizeof *bw);
	if (!bw) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	bw->conn = PQconnectdb(conninfo);
	if (PQstatus(bw->conn) != CONNECTION_OK) {
		snprintf(err, errlen, "cannot connect to PostgreSQL: %s", PQerrorMessage(bw->conn));
		PQfinish(bw->conn);
		free(bw);
		return NULL;
	}
	bw->store = cp_store_new(bw->conn, consumer_group);
	if (!bw->store) {
		snprintf(err, errlen, "out of memory");
		PQfinish(bw->conn);
		free(bw);
		return NULL;
	}
	pthread_mutex_init(&bw->mu, NULL);
	pthread_cond_init(&bw->changed, NULL);
	int e = pthread_create(&bw->thread, NULL, writer_main, bw);
	if (e) {
		snprintf(err, errlen, "cannot start the writer thread: %s", strerror(e));
		pthread_mutex_destroy(&bw->mu);
		pthread_cond_destroy(&bw->changed);
		cp_store_free(bw->store);
		PQfinish(bw->conn);
		free(bw);
		return NULL;
	}
	return bw;
}

void cp_batch_writer_submit(cp_batch_writer *bw, const cp_store_profile *profiles, size_t n,
			    const cp_store_offsets *offsets, size_t noffsets)
{
	pthread_mutex_lock(&bw->mu);
	bw->profiles = profiles;
	bw->n = n;
	bw->offsets = offsets;
	bw->noffsets = noffsets;
	bw->submitted = 1;
	bw->done = 0;
	pthread_cond_broadcast(&bw->changed);
	pthread_mutex_unlock(&bw->mu);
}

int cp_batch_writer_busy(cp_batch_writer *bw)
{
	pthread_mutex_lock(&bw->mu);
	int busy = bw->submitted;
	pthread_mutex_unlock(&bw->mu);
	return busy;
}

int cp_batch_writer_result(cp_batch_writer *bw, int wait_ms, int *rc, cp_store_result *result, char *err,
			   size_t errlen)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	if (wait_ms > 0) {
		until.tv_sec += wait_ms / 1000;
		until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&bw->mu);
	while (bw->submitted && !bw->done && wait_ms != 0) {
		if (wait_ms < 0)
			pthread_cond_wait(&bw->changed, &bw->mu);
		else if (pthread_cond_timedwait(&bw->changed, &bw->mu, &until) == ETIMEDOUT)
			break;
	}
	int ready = bw->submitted && bw->done;
	if (ready) {
		*rc = bw->rc;
		*result = bw->result;
		snprintf(err, errlen, "%s", bw->err);
		bw->submitted = 0;
		bw->done = 0;
	}
	pthread_mutex_unlock(&bw->mu);
	return ready;
}

void cp_batch_writer_stop(cp_batch_writer *bw)
{
	if (!bw)
		return;
	pthread_mutex_lock(&bw->mu);
	bw->quit = 1;
	pthread_cond_broadcast(&bw->changed);
	pthread_mutex_unlock(&bw->mu);
	pthread_join(bw->thread, NULL);
	pthread_mutex_destroy(&bw->mu);
	pthread_cond_destroy(&bw->changed);
	cp_store_free(bw->store);
	PQfinish(bw->conn);
	free(bw);
}
