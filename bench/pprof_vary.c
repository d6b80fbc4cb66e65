/* pprof_vary: makes N distinct, realistic variants of real pprof profiles for benchmarks that
 * need many files (the cprof-query top vs `go tool pprof -top` merge benchmark).
 *
 * usage: pprof_vary -n N -seed S -o DIR FILE...
 *
 * Output k (0 <= k < N) starts from input k mod (number of inputs), decoded with protobuf-c's
 * generated unpacker; it then drops a random 10-30% of the samples, multiplies each remaining
 * sample's values by one factor (a per-output scale in [0.5, 2] times a per-sample jitter in
 * [0.9, 1.1]; non-zero values stay non-zero and keep their sign), shifts time_nanos, and is
 * re-encoded as gzip (zlib's default level) to DIR/vary_KKK_<input name>. Locations and
 * functions are kept as they are, so each output stays a valid profile. The same seed gives
 * the same files. Each output is checked by decoding it with cp_pprof_decode. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "cp_file.h"
#include "cp_inflate.h"
#include "cp_pprof.h"
#include "profile.pb-c.h"

#define MAX_FILE_BYTES ((size_t)1 << 30)

/* splitmix64: a small deterministic generator, the same on every platform. */
typedef struct {
	uint64_t state;
} rng;

static uint64_t rng_next(rng *r)
{
	uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Uniform in [lo, hi). */
static double rng_uniform(rng *r, double lo, double hi)
{
	return lo + (hi - lo) * ((double)(rng_next(r) >> 11) * 0x1.0p-53);
}

static int64_t scaled_value(int64_t value, double factor)
{
	if (value == 0)
		return 0;
	double scaled = nearbyint((double)value * factor);
	if (scaled >= 0x1.0p62)
		scaled = 0x1.0p62;
	if (scaled <= -0x1.0p62)
		scaled = -0x1.0p62;
	int64_t out = (int64_t)scaled;
	if (out == 0)
		out = value > 0 ? 1 : -1;
	return out;
}

/* Drops samples and scales values in place. Dropped samples are moved behind the kept ones so
 * that free_unpacked still frees them once n_sample is restored to *total. */
static void vary_profile(Perftools__Profiles__Profile *msg, rng *r, size_t k, size_t *total)
{
	double drop_fraction = rng_uniform(r, 0.10, 0.30);
	double scale = rng_uniform(r, 0.5, 2.0);
	size_t n = msg->n_sample, kept = 0;
	*total = n;
	for (size_t i = 0; i < n; i++) {
		Perftools__Profiles__Sample *s = msg->sample[i];
		if (rng_uniform(r, 0, 1) < drop_fraction)
			continue;
		double factor = scale * rng_uniform(r, 0.9, 1.1);
		for (size_t v = 0; v < s->n_value; v++)
			s->value[v] = scaled_value(s->value[v], factor);
		msg->sample[i] = msg->sample[kept];
		msg->sample[kept++] = s;
	}
	msg->n_sample = kept;
	int64_t step = msg->duration_nanos > 0 ? msg->duration_nanos : 10000000000;
	msg->time_nanos += (int64_t)(k + 1) * step;
}

/* gzip-compresses len bytes into a malloc'd buffer. Returns 0, or -1. */
static int gzip_bytes(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
	z_stream zs = {0};
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	if (len > UINT_MAX) {
		deflateEnd(&zs);
		return -1;
	}
	uLong bound = deflateBound(&zs, (uLong)len) + 32;
	uint8_t *buf = malloc(bound);
	if (!buf) {
		deflateEnd(&zs);
		return -1;
	}
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	zs.next_out = buf;
	zs.avail_out = (uInt)bound;
	int rc = deflate(&zs, Z_FINISH);
	*out_len = bound - zs.avail_out;
	deflateEnd(&zs);
	if (rc != Z_STREAM_END) {
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t written = fwrite(data, 1, len, f);
	int rc = fclose(f);
	return written == len && rc == 0 ? 0 : -1;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

typedef struct {
	const char *path;
	uint8_t *protobuf; /* decompressed */
	size_t len;
} source_profile;

static int load_source(source_profile *src, const char *path)
{
	char err[512];
	uint8_t *data;
	size_t len;
	src->path = path;
	if (cp_file_read(path, MAX_FILE_BYTES, &data, &len, err, sizeof err)) {
		fprintf(stderr, "pprof_vary: %s\n", err);
		return -1;
	}
	if (!cp_is_gzip(data, len)) {
		src->protobuf = data;
		src->len = len;
		return 0;
	}
	int rc = cp_gunzip(data, len, CP_PPROF_DEFAULT_MAX_DECOMPRESSED, &src->protobuf, &src->len, err, sizeof err);
	free(data);
	if (rc) {
		fprintf(stderr, "pprof_vary: %s: %s\n", path, err);
		return -1;
	}
	return 0;
}

/* Makes output k into dir. Returns 0, or -1 after printing why. */
static int make_variant(const source_profile *src, rng *r, size_t k, const char *dir, size_t *out_bytes)
{
	Perftools__Profiles__Profile *msg = perftools__profiles__profile__unpack(NULL, src->len, src->protobuf);
	if (!msg) {
		fprintf(stderr, "pprof_vary: %s: protobuf-c cannot unpack it\n", src->path);
		return -1;
	}
	size_t total;
	vary_profile(msg, r, k, &total);
	size_t packed_len = perftools__profiles__profile__get_packed_size(msg);
	uint8_t *packed = malloc(packed_len ? packed_len : 1);
	int rc = -1;
	uint8_t *gz = NULL;
	size_t gz_len = 0;
	if (!packed) {
		fputs("pprof_vary: out of memory\n", stderr);
		goto out;
	}
	perftools__profiles__profile__pack(msg, packed);
	if (gzip_bytes(packed, packed_len, &gz, &gz_len)) {
		fputs("pprof_vary: gzip failed\n", stderr);
		goto out;
	}

	char err[512];
	cp_pprof *check;
	if (cp_pprof_decode(gz, gz_len, NULL, &check, err, sizeof err)) {
		fprintf(stderr, "pprof_vary: variant %zu of %s does not decode: %s\n", k, src->path, err);
		goto out;
	}
	cp_pprof_free(check);

	char path[4096];
	int n = snprintf(path, sizeof path, "%s/vary_%03zu_%s", dir, k, base_name(src->path));
	if (n < 0 || (size_t)n >= sizeof path) {
		fprintf(stderr, "pprof_vary: output path too long in %s\n", dir);
		goto out;
	}
	if (strlen(path) > 3 && strcmp(path + strlen(path) - 3, ".gz") != 0 &&
	    (size_t)n + 3 < sizeof path)
		strcat(path, ".gz");
	if (write_file(path, gz, gz_len)) {
		fprintf(stderr, "pprof_vary: cannot write %s: %s\n", path, strerror(errno));
		goto out;
	}
	*out_bytes = gz_len;
	rc = 0;
out:
	free(gz);
	free(packed);
	msg->n_sample = total;
	perftools__profiles__profile__free_unpacked(msg, NULL);
	return rc;
}

static void usage(void)
{
	fputs("usage: pprof_vary -n N -seed S -o DIR FILE...\n", stderr);
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-')
		return -1;
	*out = (uint64_t)v;
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t count = 0, seed = 1;
	const char *dir = NULL;
	int have_count = 0, i = 1;
	/* Single-dash long option (-seed), as the command line is documented, so argv is parsed
	 * by hand. */
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-')
			break;
		if (i + 1 >= argc) {
			usage();
			return 2;
		}
		const char *value = argv[++i];
		if (strcmp(a, "-n") == 0) {
			if (parse_u64(value, &count) || count == 0 || count > 100000) {
				fprintf(stderr, "pprof_vary: -n wants 1..100000, not '%s'\n", value);
				return 2;
			}
			have_count = 1;
		} else if (strcmp(a, "-seed") == 0 || strcmp(a, "--seed") == 0) {
			if (parse_u64(value, &seed)) {
				fprintf(stderr, "pprof_vary: -seed wants a number >= 0, not '%s'\n", value);
				return 2;
			}
		} else if (strcmp(a, "-o") == 0) {
			dir = value;
		} else {
			fprintf(stderr, "pprof_vary: unknown option '%s'\n", a);
			usage();
			return 2;
		}
	}
	if (!have_count || !dir || i >= argc) {
		usage();
		return 2;
	}

	size_t nsources = (size_t)(argc - i);
	source_profile *sources = calloc(nsources, sizeof *sources);
	if (!sources) {
		fputs("pprof_vary: out of memory\n", stderr);
		return 1;
	}
	int status = 1;
	for (size_t s = 0; s < nsources; s++)
		if (load_source(&sources[s], argv[i + (int)s]))
			goto out;

	rng r = {seed};
	size_t total_bytes = 0;
	for (size_t k = 0; k < count; k++) {
		size_t bytes;
		if (make_variant(&sources[k % nsources], &r, k, dir, &bytes))
			goto out;
		total_bytes += bytes;
	}
	printf("pprof_vary: wrote %" PRIu64 " profiles (%.1f KB gzip on average) to %s\n", count,
	       (double)total_bytes / (double)count / 1e3, dir);
	status = 0;
out:
	for (size_t s = 0; s < nsources; s++)
		free(sources[s].protobuf);
	free(sources);
	return status;
}
