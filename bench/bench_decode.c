/* bench_decode: single-thread CPU throughput of cprof's ingest path on real pprof files.
 *
 * For every profile named on the command line, and for every variant below, repeats the work
 * on the same in-memory bytes until at least -t seconds of thread CPU time have passed
 * (CLOCK_THREAD_CPUTIME_ID; file I/O is done once, before any timing) and prints profiles/s,
 * compressed MB/s and decompressed MB/s (MB = 10^6 bytes), with the ratio to variant (e).
 * The time is taken in 3 rounds, the variants taking turns; "spread" is the fastest round's
 * rate minus the slowest's, relative to the rate, a measure of the machine's noise; "faults"
 * is minor page faults per profile (memory that malloc took from the kernel afresh).
 *
 *   (a) inflate only                    cp_gunzip, then free the output
 *   (b) cprof decode                    cp_pprof_decode + cp_pprof_free
 *   (c) cprof decode + flatten          (b) + cp_flat_new(0), cp_flat_add, cp_flat_destroy
 *   (d) cprof decode + flatten+stacks   (c) with CP_FLAT_STACKS: the ingest worker's work
 *   (e) inflate + protobuf-c unpack     cp_gunzip + protobuf-c's generated unpacker
 *                                       (perftools__profiles__profile__unpack) with a
 *                                       bump-arena ProtobufCAllocator, then free: the baseline
 *
 * and, to show where the time of (d) goes, its parts on their own (no ratio to (e)):
 *
 *   (f) cprof decode, no inflate        cp_pprof_decode of the inflated protobuf (it copies it)
 *   (g) flatten only                    cp_flat_new(0), cp_flat_add, cp_flat_destroy on a
 *                                       profile decoded once before the timing
 *   (h) flatten+stacks only             (g) with CP_FLAT_STACKS
 *
 * After the per-file rows, a "mean" row per variant gives the throughput of a stream holding
 * each file once (files / sum of per-file seconds per profile). With -m RATE the mean of
 * variants (c) and (d) is compared with a target of RATE profiles/s.
 *
 * usage: bench_decode [-t SECONDS] [-v VARIANTS] [-l LABEL] [-m RATE] FILE...
 *   -t  CPU seconds per measurement (default 1.0)
 *   -v  which variants to run, as letters (default "abcdefgh"); e.g. -v d for profiling one
 *   -l  a label printed above the table (e.g. "Go CPU")
 *   -m  target profiles/s for the mean of (c) and (d) */
#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cp_file.h"
#include "cp_flat.h"
#include "cp_inflate.h"
#include "cp_pprof.h"
#include "profile.pb-c.h"

#define MAX_FILE_BYTES ((size_t)1 << 30)
#define NVARIANTS 8
#define BASELINE_VARIANT 4
#define ROUNDS 3 /* each measurement is split into rounds taken in turn with the other variants */

/* ------------------------------------------------------------------ the baseline's arena */

/* A bump allocator handed to protobuf-c: allocation is a pointer bump in one block that is
 * reused for every iteration; freeing an object is a no-op and the whole block is reset after
 * each profile. Sized once per file so that the timed loop never mallocs for it. */
typedef struct {
	unsigned char *block;
	size_t size, used;
	int overflowed;
} bump_arena;

static void *bump_alloc(void *allocator_data, size_t size)
{
	bump_arena *a = allocator_data;
	const size_t align = alignof(max_align_t);
	size_t rounded = (size + align - 1) & ~(align - 1);
	if (rounded > a->size - a->used) {
		a->overflowed = 1;
		return NULL;
	}
	void *p = a->block + a->used;
	a->used += rounded;
	return p;
}

static void bump_free(void *allocator_data, void *pointer)
{
	(void)allocator_data;
	(void)pointer;
}

/* ------------------------------------------------------------------ inputs */

typedef struct {
	const char *path;
	const char *name; /* basename of path */
	uint8_t *data;
	size_t len;
	int gzip;
	size_t raw_len;     /* bytes of protobuf after decompression */
	uint8_t *protobuf;  /* those bytes: the inflated data, or data itself when not gzip */
	cp_pprof *decoded;  /* decoded once, for the flatten-only variants */
	size_t nsamples, nlocations, nfunctions, nstack_nodes;
	bump_arena arena;
	char err[512];
} bench_input;

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* Reads the file and decodes it once, for its shape and to size the baseline's arena.
 * Returns 0, or -1 with a message in in->err. */
static int load_input(bench_input *in, const char *path)
{
	memset(in, 0, sizeof *in);
	in->path = path;
	in->name = base_name(path);
	if (cp_file_read(path, MAX_FILE_BYTES, &in->data, &in->len, in->err, sizeof in->err))
		return -1;
	in->gzip = cp_is_gzip(in->data, in->len);
	in->protobuf = in->data;
	in->raw_len = in->len;
	if (in->gzip && cp_gunzip(in->data, in->len, CP_PPROF_DEFAULT_MAX_DECOMPRESSED, &in->protobuf,
				  &in->raw_len, in->err, sizeof in->err))
		return -1;

	if (cp_pprof_decode(in->data, in->len, NULL, &in->decoded, in->err, sizeof in->err))
		return -1;
	in->nsamples = in->decoded->nsamples;
	in->nlocations = in->decoded->nlocations;
	in->nfunctions = in->decoded->nfunctions;
	cp_flat *flat = cp_flat_new(CP_FLAT_STACKS);
	if (!flat || cp_flat_add(flat, in->decoded, in->err, sizeof in->err)) {
		cp_flat_destroy(flat);
		return -1;
	}
	in->nstack_nodes = cp_flat_nnodes(flat);
	cp_flat_destroy(flat);

	/* The arena grows until protobuf-c's unpacker fits in it. */
	for (size_t size = in->raw_len * 8 + 65536;; size *= 2) {
		free(in->arena.block);
		in->arena = (bump_arena){.block = malloc(size), .size = size};
		if (!in->arena.block) {
			snprintf(in->err, sizeof in->err, "out of memory for a %zu-byte arena", size);
			return -1;
		}
		ProtobufCAllocator allocator = {bump_alloc, bump_free, &in->arena};
		if (perftools__profiles__profile__unpack(&allocator, in->raw_len, in->protobuf))
			break;
		if (!in->arena.overflowed) {
			snprintf(in->err, sizeof in->err, "protobuf-c's unpacker rejects the profile");
			return -1;
		}
		if (size > ((size_t)1 << 34)) {
			snprintf(in->err, sizeof in->err, "protobuf-c's unpacker needs more than 16 GiB");
			return -1;
		}
	}
	return 0;
}

static void free_input(bench_input *in)
{
	if (in->protobuf != in->data)
		free(in->protobuf);
	free(in->data);
	free(in->arena.block);
	cp_pprof_free(in->decoded);
}

/* ------------------------------------------------------------------ the variants
 * Each runs one iteration on one input and returns a value derived from its result (summed
 * into a sink so the work cannot be optimised away), or -1 on error with a message. */

static long run_inflate(bench_input *in)
{
	uint8_t *out;
	size_t out_len;
	if (cp_gunzip(in->data, in->len, CP_PPROF_DEFAULT_MAX_DECOMPRESSED, &out, &out_len, in->err,
		      sizeof in->err))
		return -1;
	long result = out[out_len / 2];
	free(out);
	return result;
}

static long run_decode(bench_input *in)
{
	cp_pprof *p;
	if (cp_pprof_decode(in->data, in->len, NULL, &p, in->err, sizeof in->err))
		return -1;
	long result = (long)p->nsamples;
	cp_pprof_free(p);
	return result;
}

static long decode_and_flatten(bench_input *in, unsigned flags)
{
	cp_pprof *p;
	if (cp_pprof_decode(in->data, in->len, NULL, &p, in->err, sizeof in->err))
		return -1;
	cp_flat *flat = cp_flat_new(flags);
	long result = -1;
	if (!flat)
		snprintf(in->err, sizeof in->err, "out of memory");
	else if (cp_flat_add(flat, p, in->err, sizeof in->err) == 0)
		result = (long)(cp_flat_nfunctions(flat) + cp_flat_nnodes(flat));
	cp_flat_destroy(flat);
	cp_pprof_free(p);
	return result;
}

static long run_decode_protobuf(bench_input *in)
{
	cp_pprof *p;
	if (cp_pprof_decode(in->protobuf, in->raw_len, NULL, &p, in->err, sizeof in->err))
		return -1;
	long result = (long)p->nsamples;
	cp_pprof_free(p);
	return result;
}

static long flatten_only(bench_input *in, unsigned flags)
{
	cp_flat *flat = cp_flat_new(flags);
	long result = -1;
	if (!flat)
		snprintf(in->err, sizeof in->err, "out of memory");
	else if (cp_flat_add(flat, in->decoded, in->err, sizeof in->err) == 0)
		result = (long)(cp_flat_nfunctions(flat) + cp_flat_nnodes(flat));
	cp_flat_destroy(flat);
	return result;
}

static long run_flatten_only(bench_input *in)
{
	return flatten_only(in, 0);
}

static long run_flatten_stacks_only(bench_input *in)
{
	return flatten_only(in, CP_FLAT_STACKS);
}

static long run_flatten(bench_input *in)
{
	return decode_and_flatten(in, 0);
}

static long run_flatten_stacks(bench_input *in)
{
	return decode_and_flatten(in, CP_FLAT_STACKS);
}

static long run_protobuf_c(bench_input *in)
{
	const uint8_t *pb = in->data;
	uint8_t *inflated = NULL;
	size_t pb_len = in->len;
	if (in->gzip) {
		if (cp_gunzip(in->data, in->len, CP_PPROF_DEFAULT_MAX_DECOMPRESSED, &inflated, &pb_len,
			      in->err, sizeof in->err))
			return -1;
		pb = inflated;
	}
	ProtobufCAllocator allocator = {bump_alloc, bump_free, &in->arena};
	in->arena.used = 0;
	Perftools__Profiles__Profile *msg = perftools__profiles__profile__unpack(&allocator, pb_len, pb);
	long result = -1;
	if (msg) {
		result = (long)msg->n_sample;
		perftools__profiles__profile__free_unpacked(msg, &allocator);
	} else {
		snprintf(in->err, sizeof in->err, "protobuf-c's unpacker failed");
	}
	in->arena.used = 0;
	free(inflated);
	return result;
}

typedef struct {
	char letter;
	const char *title;
	long (*run)(bench_input *in);
	int needs_gzip;
	int compared; /* printed with its ratio to the baseline */
} variant;

static const variant variants[NVARIANTS] = {
	{'a', "(a) inflate only", run_inflate, 1, 1},
	{'b', "(b) cprof decode", run_decode, 0, 1},
	{'c', "(c) cprof decode+flatten", run_flatten, 0, 1},
	{'d', "(d) cprof decode+flatten+stacks", run_flatten_stacks, 0, 1},
	{'e', "(e) inflate+protobuf-c unpack", run_protobuf_c, 0, 1},
	{'f', "(f) part: decode, no inflate", run_decode_protobuf, 0, 0},
	{'g', "(g) part: flatten only", run_flatten_only, 0, 0},
	{'h', "(h) part: flatten+stacks only", run_flatten_stacks_only, 0, 0},
};

/* ------------------------------------------------------------------ timing */

/* The sum over rounds, and the slowest and fastest round's rate. */
typedef struct {
	int done;
	unsigned long iterations;
	double seconds;
	double min_rate, max_rate;
	long page_faults; /* minor faults during the timed iterations */
} measurement;

static double thread_cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile long sink;

static long minor_faults(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* One round: an untimed warm-up iteration, then batches until min_seconds of CPU time have
 * passed; adds to m. */
static int measure_round(const variant *v, bench_input *in, double min_seconds, measurement *m)
{
	long r = v->run(in);
	if (r < 0)
		return -1;
	sink += r;
	unsigned long iterations = 0, batch = 1;
	long faults_before = minor_faults();
	double start = thread_cpu_seconds(), elapsed = 0;
	while (elapsed < min_seconds) {
		for (unsigned long i = 0; i < batch; i++) {
			r = v->run(in);
			if (r < 0)
				return -1;
			sink += r;
		}
		iterations += batch;
		elapsed = thread_cpu_seconds() - start;
		/* Aim for about 20 clock reads per measurement. */
		double per_iteration = elapsed / (double)iterations;
		double want = min_seconds / 20 / (per_iteration > 0 ? per_iteration : 1e-9);
		batch = want < 1 ? 1 : want > 1e6 ? 1000000 : (unsigned long)want;
	}
	double rate = (double)iterations / elapsed;
	if (!m->done || rate < m->min_rate)
		m->min_rate = rate;
	if (!m->done || rate > m->max_rate)
		m->max_rate = rate;
	m->done = 1;
	m->page_faults += minor_faults() - faults_before;
	m->iterations += iterations;
	m->seconds += elapsed;
	return 0;
}

/* ------------------------------------------------------------------ report */

static void print_header(void)
{
	printf("%-48s %-32s %7s %6s %10s %7s %7s %8s %7s %7s\n", "file", "variant", "iters", "cpu_s", "profiles/s",
	       "spread", "gz MB/s", "raw MB/s", "faults", "vs (e)");
}

/* spread: the fastest round's rate minus the slowest's, relative to the rate (0: not known).
 * faults: minor page faults per profile (memory taken from the kernel afresh). */
static void print_row(const char *file, const variant *v, unsigned long iterations, double seconds,
		      double rate, double spread, double gz_bytes_per_profile, double raw_bytes_per_profile,
		      double faults, double baseline_rate, int has_gz)
{
	char gz[32], ratio[32], spread_text[32];
	if (spread > 0)
		snprintf(spread_text, sizeof spread_text, "%6.1f%%", spread * 100);
	else
		snprintf(spread_text, sizeof spread_text, "%7s", "");
	if (has_gz)
		snprintf(gz, sizeof gz, "%7.1f", rate * gz_bytes_per_profile / 1e6);
	else
		snprintf(gz, sizeof gz, "%7s", "-");
	if (baseline_rate > 0 && v->compared)
		snprintf(ratio, sizeof ratio, "%6.2fx", rate / baseline_rate);
	else
		snprintf(ratio, sizeof ratio, "%7s", "-");
	printf("%-48s %-32s %7lu %6.2f %10.0f %s %s %8.1f %7.1f %s\n", file, v->title, iterations, seconds, rate,
	       spread_text, gz, rate * raw_bytes_per_profile / 1e6, faults, ratio);
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 3600)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	double min_seconds = 1.0, target = 0;
	const char *wanted = "abcdefgh", *label = NULL;
	int c;
	while ((c = getopt(argc, argv, "t:v:l:m:")) != -1) {
		switch (c) {
		case 't':
			if (parse_seconds(optarg, &min_seconds)) {
				fprintf(stderr, "bench_decode: -t wants seconds in (0, 3600], not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'v':
			wanted = optarg;
			break;
		case 'l':
			label = optarg;
			break;
		case 'm':
			target = strtod(optarg, NULL);
			if (!(target > 0)) {
				fprintf(stderr, "bench_decode: -m wants a rate > 0, not '%s'\n", optarg);
				return 2;
			}
			break;
		default:
			fputs("usage: bench_decode [-t SECONDS] [-v abcdefgh] [-l LABEL] [-m RATE] FILE...\n", stderr);
			return 2;
		}
	}
	size_t nfiles = (size_t)(argc - optind);
	if (nfiles == 0) {
		fputs("usage: bench_decode [-t SECONDS] [-v abcdefgh] [-l LABEL] [-m RATE] FILE...\n", stderr);
		return 2;
	}

	int status = 1;
	bench_input *inputs = calloc(nfiles, sizeof *inputs);
	measurement(*results)[NVARIANTS] = calloc(nfiles, sizeof *results);
	if (!inputs || !results) {
		fputs("bench_decode: out of memory\n", stderr);
		goto out;
	}
	for (size_t i = 0; i < nfiles; i++) {
		if (load_input(&inputs[i], argv[optind + (int)i])) {
			fprintf(stderr, "bench_decode: %s: %s\n", argv[optind + (int)i], inputs[i].err);
			goto out;
		}
	}

	if (label)
		printf("== %s\n", label);
	printf("%-48s %8s %9s %8s %10s %10s %11s\n", "file", "gz KB", "raw KB", "samples", "locations",
	       "functions", "stack nodes");
	for (size_t i = 0; i < nfiles; i++) {
		const bench_input *in = &inputs[i];
		char gz[32];
		if (in->gzip)
			snprintf(gz, sizeof gz, "%8.1f", (double)in->len / 1e3);
		else
			snprintf(gz, sizeof gz, "%8s", "raw");
		printf("%-48s %s %9.1f %8zu %10zu %10zu %11zu\n", in->name, gz, (double)in->raw_len / 1e3,
		       in->nsamples, in->nlocations, in->nfunctions, in->nstack_nodes);
	}
	printf("\n");
	print_header();
	fflush(stdout);

	for (size_t i = 0; i < nfiles; i++) {
		bench_input *in = &inputs[i];
		/* Variants take turns, round by round, so that drift in the machine's speed affects
		 * them alike. */
		for (int round = 0; round < ROUNDS; round++) {
			for (int vi = 0; vi < NVARIANTS; vi++) {
				const variant *v = &variants[vi];
				if (!strchr(wanted, v->letter) || (v->needs_gzip && !in->gzip))
					continue;
				if (measure_round(v, in, min_seconds / ROUNDS, &results[i][vi])) {
					fprintf(stderr, "bench_decode: %s: %s: %s\n", in->path, v->title, in->err);
					goto out;
				}
			}
		}
		for (int vi = 0; vi < NVARIANTS; vi++) {
			const measurement *m = &results[i][vi];
			if (!m->done)
				continue;
			const measurement *base = &results[i][BASELINE_VARIANT];
			double rate = (double)m->iterations / m->seconds;
			double base_rate = base->done ? (double)base->iterations / base->seconds : 0;
			print_row(in->name, &variants[vi], m->iterations, m->seconds, rate,
				  (m->max_rate - m->min_rate) / rate, (double)in->len, (double)in->raw_len,
				  (double)m->page_faults / (double)m->iterations, base_rate, in->gzip);
		}
		fflush(stdout);
	}

	/* The mean: a stream holding each file once, so profiles / sum of seconds per profile. */
	struct {
		double rate, seconds, gz_bytes, raw_bytes, faults;
		unsigned long iterations;
		size_t counted;
		int all_gzip;
	} mean[NVARIANTS] = {{0}};
	for (int vi = 0; vi < NVARIANTS; vi++) {
		double seconds_per_stream = 0;
		mean[vi].all_gzip = 1;
		for (size_t i = 0; i < nfiles; i++) {
			const measurement *m = &results[i][vi];
			if (!m->done)
				continue;
			seconds_per_stream += m->seconds / (double)m->iterations;
			mean[vi].seconds += m->seconds;
			mean[vi].iterations += m->iterations;
			mean[vi].gz_bytes += (double)inputs[i].len;
			mean[vi].raw_bytes += (double)inputs[i].raw_len;
			mean[vi].faults += (double)m->page_faults / (double)m->iterations;
			mean[vi].all_gzip &= inputs[i].gzip;
			mean[vi].counted++;
		}
		if (mean[vi].counted)
			mean[vi].rate = (double)mean[vi].counted / seconds_per_stream;
	}
	for (int vi = 0; nfiles > 1 && vi < NVARIANTS; vi++) {
		if (!mean[vi].counted)
			continue;
		char mean_name[64];
		snprintf(mean_name, sizeof mean_name, "mean over %zu file%s", mean[vi].counted,
			 mean[vi].counted == 1 ? "" : "s");
		print_row(mean_name, &variants[vi], mean[vi].iterations, mean[vi].seconds, mean[vi].rate, 0,
			  mean[vi].gz_bytes / (double)mean[vi].counted, mean[vi].raw_bytes / (double)mean[vi].counted,
			  mean[vi].faults / (double)mean[vi].counted, mean[BASELINE_VARIANT].rate, mean[vi].all_gzip);
	}
	if (target > 0) {
		for (int vi = 2; vi <= 3; vi++) {
			if (!mean[vi].counted)
				continue;
			printf("target >= %.0f profiles/s per core, %s: %.0f profiles/s: %s\n", target,
			       variants[vi].title, mean[vi].rate, mean[vi].rate >= target ? "MET" : "NOT MET");
		}
	}
	printf("\n");
	status = 0;
out:
	for (size_t i = 0; inputs && i < nfiles; i++)
		free_input(&inputs[i]);
	free(inputs);
	free(results);
	return status;
}
