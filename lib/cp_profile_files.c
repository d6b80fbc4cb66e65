/* cp_profile_files: ordered hand-off of profiles decoded on worker threads; see
 * cp_profile_files.h.
 *
 * Worker w decodes files w, w + n, w + 2n, ... alternating between DEPTH decoders of its own,
 * one per slot. It publishes each profile in its slot and, before reusing a slot's decoder,
 * waits until the calling thread has passed that slot's profile to the callback. The calling
 * thread walks the files in order, waiting for each file's slot. So each worker is at most
 * DEPTH files ahead (memory: DEPTH decoded profiles per worker), a worker seldom waits for the
 * consumer, and files are never handed over out of order. */
#include "cp_profile_files.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cp_file.h"

enum { SLOT_EMPTY, SLOT_READY, SLOT_FAILED };
enum { DEPTH = 2 }; /* decoders per worker */

typedef struct {
	size_t file; /* the file in the slot, when not empty */
	int state;
	const cp_pprof *profile;
	char err[512];
} slot;

typedef struct {
	pthread_t thread;
	size_t index;
	slot slots[DEPTH];
	pthread_cond_t slot_freed; /* the consumer emptied one of this worker's slots, or stop */
	struct pipeline *pipe;
} worker;

/* Wakeups are targeted (a worker's own condition, or the consumer's): a broadcast to every
 * thread on each hand-off showed up as scheduler time in profiles. */
typedef struct pipeline {
	const char *const *paths;
	size_t npaths, nworkers, max_size;
	pthread_mutex_t mu;
	pthread_cond_t slot_filled; /* a worker published a slot */
	int stop;
	worker *workers;
} pipeline;

/* The slot that carries file i. */
static slot *slot_of(pipeline *pipe, size_t i)
{
	return &pipe->workers[i % pipe->nworkers].slots[(i / pipe->nworkers) % DEPTH];
}

static void *decode_files(void *arg)
{
	worker *w = arg;
	pipeline *pipe = w->pipe;
	cp_pprof_limits limits = {.max_decompressed = pipe->max_size};
	cp_pprof_decoder *decoders[DEPTH];
	for (size_t k = 0; k < DEPTH; k++)
		decoders[k] = cp_pprof_decoder_new(&limits);

	for (size_t i = w->index; i < pipe->npaths; i += pipe->nworkers) {
		size_t k = (i / pipe->nworkers) % DEPTH;
		slot *s = &w->slots[k];
		pthread_mutex_lock(&pipe->mu);
		while (s->state != SLOT_EMPTY && !pipe->stop)
			pthread_cond_wait(&w->slot_freed, &pipe->mu);
		int stop = pipe->stop;
		pthread_mutex_unlock(&pipe->mu);
		if (stop)
			break;

		char err[sizeof s->err];
		uint8_t *data = NULL;
		size_t len = 0;
		const cp_pprof *profile = NULL;
		int rc = -1;
		if (!decoders[k])
			snprintf(err, sizeof err, "%s: out of memory", pipe->paths[i]);
		else if (cp_file_read(pipe->paths[i], pipe->max_size, &data, &len, err, sizeof err) == 0) {
			char reason[sizeof err - 64];
			rc = cp_pprof_decoder_decode(decoders[k], data, len, &profile, reason, sizeof reason);
			if (rc)
				snprintf(err, sizeof err, "%s: %s", pipe->paths[i], reason);
		}
		free(data);

		pthread_mutex_lock(&pipe->mu);
		s->file = i;
		s->profile = profile;
		s->state = rc ? SLOT_FAILED : SLOT_READY;
		if (rc)
			memcpy(s->err, err, sizeof err);
		pthread_cond_signal(&pipe->slot_filled);
		pthread_mutex_unlock(&pipe->mu);
		if (rc)
			break;
	}

	/* The decoders' memory holds published profiles until the consumer is done with them. */
	pthread_mutex_lock(&pipe->mu);
	for (size_t k = 0; k < DEPTH; k++)
		while (w->slots[k].state == SLOT_READY && !pipe->stop)
			pthread_cond_wait(&w->slot_freed, &pipe->mu);
	pthread_mutex_unlock(&pipe->mu);
	for (size_t k = 0; k < DEPTH; k++)
		cp_pprof_decoder_free(decoders[k]);
	return NULL;
}

static size_t online_cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (size_t)n : 1;
}

int cp_profile_files_each(const char *const *paths, size_t npaths, size_t max_size, size_t threads,
			  cp_profile_fn fn, void *arg, char *err, size_t errlen)
{
	if (npaths == 0)
		return 0;
	pipeline pipe = {.paths = paths, .npaths = npaths, .max_size = max_size};
	pipe.nworkers = threads ? threads : online_cores();
	if (pipe.nworkers > npaths)
		pipe.nworkers = npaths;
	if (pipe.nworkers > 64)
		pipe.nworkers = 64;
	pipe.workers = calloc(pipe.nworkers, sizeof *pipe.workers);
	if (!pipe.workers) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&pipe.mu, NULL);
	pthread_cond_init(&pipe.slot_filled, NULL);
	for (size_t w = 0; w < pipe.nworkers; w++)
		pthread_cond_init(&pipe.workers[w].slot_freed, NULL);

	size_t started = 0;
	for (; started < pipe.nworkers; started++) {
		worker *w = &pipe.workers[started];
		w->index = started;
		w->pipe = &pipe;
		if (pthread_create(&w->thread, NULL, decode_files, w) != 0)
			break;
	}
	int rc = 0;
	if (started < pipe.nworkers) {
		snprintf(err, errlen, "cannot start decoding threads");
		rc = -1;
	}

	for (size_t i = 0; i < npaths && rc == 0; i++) {
		slot *s = slot_of(&pipe, i);
		pthread_mutex_lock(&pipe.mu);
		while (s->state == SLOT_EMPTY || s->file != i)
			pthread_cond_wait(&pipe.slot_filled, &pipe.mu);
		pthread_mutex_unlock(&pipe.mu);

		if (s->state == SLOT_FAILED) {
			snprintf(err, errlen, "%s", s->err);
			rc = -1;
		} else {
			char reason[512];
			if (fn(s->profile, paths[i], arg, reason, sizeof reason)) {
				snprintf(err, errlen, "%s: %s", paths[i], reason);
				rc = -1;
			}
		}
		pthread_mutex_lock(&pipe.mu);
		s->state = SLOT_EMPTY;
		pipe.stop = rc != 0;
		pthread_cond_signal(&pipe.workers[i % pipe.nworkers].slot_freed);
		pthread_mutex_unlock(&pipe.mu);
	}

	pthread_mutex_lock(&pipe.mu);
	pipe.stop = 1;
	for (size_t w = 0; w < pipe.nworkers; w++)
		pthread_cond_signal(&pipe.workers[w].slot_freed);
	pthread_mutex_unlock(&pipe.mu);
	for (size_t w = 0; w < started; w++)
		pthread_join(pipe.workers[w].thread, NULL);
	for (size_t w = 0; w < pipe.nworkers; w++)
		pthread_cond_destroy(&pipe.workers[w].slot_freed);
	pthread_cond_destroy(&pipe.slot_filled);
	pthread_mutex_destroy(&pipe.mu);
	free(pipe.workers);
	return rc;
}
