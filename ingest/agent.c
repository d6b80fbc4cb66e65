/* cprof-agent: collects pprof profiles from services' /debug/pprof endpoints and publishes them to
 * cprof's Kafka topic. One thread runs one loop: start the scrapes that are due (libcurl's multi
 * interface runs them concurrently), judge what each returned (agent_scrape), publish the good
 * profiles (agent_publish), schedule the next scrape or a retry (agent_schedule), serve delivery
 * reports, and log each target's health. SIGHUP re-reads the targets; SIGTERM and SIGINT stop it
 * after the profiles already published are delivered. */
#define _GNU_SOURCE /* getopt_long */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "agent_publish.h"
#include "agent_schedule.h"
#include "agent_scrape.h"
#include "agent_targets.h"
#include "cp_args.h"
#include "cp_kafka_conf.h"
#include "cp_log.h"
#include "cp_pprof.h"
#include "cp_time.h"

#define PROG "cprof-agent"
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

#define DEFAULT_TOPIC "cprof.profiles"
#define NS_PER_MS INT64_C(1000000)
#define NS_PER_S INT64_C(1000000000)
#define MAX_WAIT_MS 200 /* the longest sleep, so signals are served promptly */

static const char usage_text[] =
	"usage: " PROG " -b BROKERS (--targets FILE | --target SPEC...) [options]\n"
	"\n"
	"Collects pprof profiles from the /debug/pprof endpoints of running services (Go's\n"
	"net/http/pprof, or anything serving the same paths) and publishes each to cprof's Kafka\n"
	"topic as a cprof.v1.ProfileUpload, keyed by SERVICE/INSTANCE. Every response is checked with\n"
	"cprof's pprof decoder first: an error page, a cut-off or oversized body is logged with the\n"
	"target and the reason, counted and retried later, and never published.\n"
	"\n"
	"targets (one per line of FILE, or per --target; blank lines and # comments skipped):\n"
	"  service=NAME url=http://HOST:PORT [env=E] [version=V] [zone=Z] [instance=I] [label.KEY=VALUE]...\n"
	"  url is the base the /debug/pprof/... paths are appended to; instance defaults to HOST:PORT.\n"
	"  The replicas of a deployment (the targets with the same service, env and version) share its\n"
	"  budget (--budget).\n"
	"\n"
	"options:\n"
	"  -b, --brokers LIST       Kafka bootstrap servers (default: $CPROF_KAFKA_BROKERS)\n"
	"  -t, --topic TOPIC        topic (default " DEFAULT_TOPIC ")\n"
	"  --targets FILE           the targets, re-read on SIGHUP\n"
	"  --target SPEC            one target (repeatable), as a line of FILE\n"
	"  --profiles LIST          what to collect: KIND:EVERY[:SECONDS],... (default\n"
	"                           " AGENT_DEFAULT_KINDS ")\n"
	"                           cpu is /debug/pprof/profile?seconds=SECONDS; another KIND is\n"
	"                           /debug/pprof/KIND, with ?seconds=SECONDS when given: Go then\n"
	"                           returns the events of those seconds only (a delta), which is what\n"
	"                           allocs, mutex and block need, as theirs count from the process's\n"
	"                           start; without SECONDS a snapshot (heap, goroutine); KIND:off\n"
	"                           leaves a kind out\n"
	"  --budget N               profiles of each kind per period per deployment (default 1): with\n"
	"                           R replicas, each is profiled every EVERY x R / N, never more often\n"
	"                           than every EVERY\n"
	"  --jitter FRACTION        random spread of every interval, 0 to 0.5 (default 0.1)\n"
	"  --timeout DURATION       a request may take this long beyond its SECONDS (default 10s)\n"
	"  --connect-timeout D      (default 5s)\n"
	"  --retry-min DURATION     the first retry after a failure (default 1s); doubled per failure\n"
	"                           in a row, at most the target's period\n"
	"  --max-size BYTES         refuse responses larger than this (default 33554432)\n"
	"  --max-decompressed BYTES refuse profiles larger than this once gunzipped (default 268435456)\n"
	"  --max-concurrent N       scrapes at the same time at most (default 64)\n"
	"  --header 'NAME: VALUE'   an HTTP request header (repeatable), e.g. an Authorization\n"
	"  --cacert FILE, --cert FILE, --key FILE   TLS: CA bundle, client certificate and key\n"
	"  --insecure               do not verify servers' certificates\n";

static const char usage_text_more[] =
	"  --delivery-timeout D     how long Kafka may take to take a profile (default 2m)\n"
	"  --drain-timeout D        on SIGTERM, how long to wait for profiles in flight (default 30s)\n"
	"  --stats-seconds N        log totals and every target's health every N s (default 60; 0 off)\n"
	"  --once                   scrape every kind of every target once, publish, wait for the\n"
	"                           deliveries, exit (status 0 only when everything was delivered)\n"
	"  --save-dir DIR           also keep each published profile as DIR/PROFILE_ID.pb.gz\n"
	"  -v, --verbose            log every profile published\n"
	"  -X KEY=VALUE             a librdkafka property, passed unchanged (repeatable)\n"
	"  --help                   this text\n"
	"\n"
	"Logs (stderr): a failed scrape names its target, kind, url and reason; repeated failures are\n"
	"logged at the 1st, 2nd, 4th, 8th, ... in a row, and the recovery once. Every --stats-seconds:\n"
	"  " PROG ": stats targets=N up=N partial=N down=N ok=N failed=N published=N delivered=N lost=N ...\n"
	"  " PROG ": target SERVICE/INSTANCE health=up|partial|down|unknown ok=N failed=N ... last_error=\"...\"\n"
	"\n"
	"Exit status: 0 stopped with every published profile delivered, 1 profiles lost (or, with\n"
	"--once, a failed scrape), 2 a wrong command line or targets file.\n";

typedef struct {
	const char *brokers, *topic, *targets_file, *save_dir;
	const char **specs, **props, **headers;
	size_t nspecs, nprops, nheaders;
	agent_kind kinds[AGENT_MAX_KINDS];
	size_t nkinds;
	long budget, max_concurrent, stats_seconds;
	double jitter;
	int64_t timeout_ns, connect_timeout_ns, retry_min_ns, delivery_timeout_ns, drain_timeout_ns;
	size_t max_size, max_decompressed;
	const char *cacert, *cert, *key;
	int insecure, once, verbose;
} options;

/* One kind of one target. */
typedef struct {
	int64_t due;        /* the next scrape (monotonic ns); INT64_MAX: none (--once, done) */
	int scraping;       /* a scrape is in flight */
	int attempted;      /* at least one scrape finished */
	unsigned failures;  /* in a row */
	char last_error[400];
} kind_state;

typedef struct {
	agent_target t;
	kind_state kinds[AGENT_MAX_KINDS];
	int removed; /* no longer in the targets; freed when refs reaches 0 */
	long refs;   /* scrapes and messages in flight */
	uint64_t ok, failed, published, delivered, lost;
	char last_error[480];
} target_state;

typedef struct {
	options o;
	agent_http_options http;
	target_state **targets;
	size_t ntargets, cap;
	CURLM *multi;
	agent_scrape **flying; /* the scrapes in flight; max_concurrent of room */
	long nflying;
	agent_publisher *pub;
	uint64_t rng;
	uint64_t ok, failed, published, delivered, lost;
} agent;

static volatile sig_atomic_t stop_signal, reload_requested;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_requested = 1;
	else
		stop_signal = sig;
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* A uniform draw in [0, 1) (splitmix64). */
static double uniform(agent *a)
{
	uint64_t z = (a->rng += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	z ^= z >> 31;
	return (double)(z >> 11) / 9007199254740992.0;
}

static void format_duration(int64_t ns, char *buf, size_t len)
{
	if (ns % NS_PER_S == 0)
		snprintf(buf, len, "%llds", (long long)(ns / NS_PER_S));
	else
		snprintf(buf, len, "%.3gs", (double)ns / (double)NS_PER_S);
}

/* ------------------------------------------------------------------ options */

static int parse_duration_option(const char *name, const char *arg, int64_t min, int64_t *out)
{
	char err[160];
	if (cp_time_parse_duration(arg, out, err, sizeof err))
		return cp_log_usage("%s %s", name, err);
	if (*out < min)
		return cp_log_usage("%s '%s': too short", name, arg);
	return -1;
}

/* Returns -1 to go on, or the exit status to return. */
static int parse_options(int argc, char **argv, options *o)
{
	enum {
		OPT_TARGETS = 256,
		OPT_TARGET,
		OPT_PROFILES,
		OPT_BUDGET,
		OPT_JITTER,
		OPT_TIMEOUT,
		OPT_CONNECT_TIMEOUT,
		OPT_RETRY_MIN,
		OPT_MAX_SIZE,
		OPT_MAX_DECOMPRESSED,
		OPT_MAX_CONCURRENT,
		OPT_HEADER,
		OPT_CACERT,
		OPT_CERT,
		OPT_KEY,
		OPT_INSECURE,
		OPT_DELIVERY_TIMEOUT,
		OPT_DRAIN_TIMEOUT,
		OPT_STATS,
		OPT_ONCE,
		OPT_SAVE_DIR,
		OPT_HELP,
	};
	static const struct option longopts[] = {
		{"brokers", required_argument, NULL, 'b'},
		{"topic", required_argument, NULL, 't'},
		{"targets", required_argument, NULL, OPT_TARGETS},
		{"target", required_argument, NULL, OPT_TARGET},
		{"profiles", required_argument, NULL, OPT_PROFILES},
		{"budget", required_argument, NULL, OPT_BUDGET},
		{"jitter", required_argument, NULL, OPT_JITTER},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
		{"retry-min", required_argument, NULL, OPT_RETRY_MIN},
		{"max-size", required_argument, NULL, OPT_MAX_SIZE},
		{"max-decompressed", required_argument, NULL, OPT_MAX_DECOMPRESSED},
		{"max-concurrent", required_argument, NULL, OPT_MAX_CONCURRENT},
		{"header", required_argument, NULL, OPT_HEADER},
		{"cacert", required_argument, NULL, OPT_CACERT},
		{"cert", required_argument, NULL, OPT_CERT},
		{"key", required_argument, NULL, OPT_KEY},
		{"insecure", no_argument, NULL, OPT_INSECURE},
		{"delivery-timeout", required_argument, NULL, OPT_DELIVERY_TIMEOUT},
		{"drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT},
		{"stats-seconds", required_argument, NULL, OPT_STATS},
		{"once", no_argument, NULL, OPT_ONCE},
		{"save-dir", required_argument, NULL, OPT_SAVE_DIR},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof *o);
	o->topic = DEFAULT_TOPIC;
	o->budget = 1;
	o->jitter = 0.1;
	o->timeout_ns = 10 * NS_PER_S;
	o->connect_timeout_ns = 5 * NS_PER_S;
	o->retry_min_ns = NS_PER_S;
	o->delivery_timeout_ns = 120 * NS_PER_S;
	o->drain_timeout_ns = 30 * NS_PER_S;
	o->max_size = (size_t)32 << 20;
	o->max_decompressed = CP_PPROF_DEFAULT_MAX_DECOMPRESSED;
	o->max_concurrent = 64;
	o->stats_seconds = 60;
	o->specs = calloc((size_t)argc + 1, sizeof *o->specs);
	o->props = calloc((size_t)argc + 1, sizeof *o->props);
	o->headers = calloc((size_t)argc + 1, sizeof *o->headers);
	if (!o->specs || !o->props || !o->headers) {
		cp_log("out of memory");
		return EXIT_FAIL;
	}
	char err[256];
	const char *profiles = AGENT_DEFAULT_KINDS;
	int c, status;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":b:t:X:v", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			o->brokers = optarg;
			break;
		case 't':
			if (!*optarg)
				return cp_log_usage("%s", "-t: empty topic name");
			o->topic = optarg;
			break;
		case OPT_TARGETS:
			o->targets_file = optarg;
			break;
		case OPT_TARGET:
			o->specs[o->nspecs++] = optarg;
			break;
		case OPT_PROFILES:
			profiles = optarg;
			break;
		case OPT_BUDGET:
			if (cp_args_long(optarg, 1, 1000000, &o->budget))
				return cp_log_usage("--budget wants a whole number from 1 up, not '%s'", optarg);
			break;
		case OPT_JITTER: {
			char *end;
			errno = 0;
			o->jitter = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(o->jitter >= 0 && o->jitter <= 0.5))
				return cp_log_usage("--jitter wants a fraction from 0 to 0.5, not '%s'", optarg);
			break;
		}
		case OPT_TIMEOUT:
			if ((status = parse_duration_option("--timeout", optarg, NS_PER_MS, &o->timeout_ns)) >= 0)
				return status;
			break;
		case OPT_CONNECT_TIMEOUT:
			if ((status = parse_duration_option("--connect-timeout", optarg, NS_PER_MS, &o->connect_timeout_ns)) >= 0)
				return status;
			break;
		case OPT_RETRY_MIN:
			if ((status = parse_duration_option("--retry-min", optarg, 10 * NS_PER_MS, &o->retry_min_ns)) >= 0)
				return status;
			break;
		case OPT_DELIVERY_TIMEOUT:
			if ((status = parse_duration_option("--delivery-timeout", optarg, NS_PER_MS, &o->delivery_timeout_ns)) >=
			    0)
				return status;
			if (o->delivery_timeout_ns / NS_PER_MS > INT32_MAX)
				return cp_log_usage("--delivery-timeout '%s': at most 24 days", optarg);
			break;
		case OPT_DRAIN_TIMEOUT:
			if ((status = parse_duration_option("--drain-timeout", optarg, 0, &o->drain_timeout_ns)) >= 0)
				return status;
			break;
		case OPT_MAX_SIZE:
			if (cp_args_size(optarg, &o->max_size) || o->max_size == 0)
				return cp_log_usage("--max-size wants a number of bytes > 0, not '%s'", optarg);
			break;
		case OPT_MAX_DECOMPRESSED:
			if (cp_args_size(optarg, &o->max_decompressed) || o->max_decompressed == 0)
				return cp_log_usage("--max-decompressed wants a number of bytes > 0, not '%s'", optarg);
			break;
		case OPT_MAX_CONCURRENT:
			if (cp_args_long(optarg, 1, 100000, &o->max_concurrent))
				return cp_log_usage("--max-concurrent wants a whole number from 1 up, not '%s'", optarg);
			break;
		case OPT_HEADER:
			if (!strchr(optarg, ':') || optarg[0] == ':' || strpbrk(optarg, "\r\n"))
				return cp_log_usage("--header '%s': expected 'NAME: VALUE' on one line", optarg);
			o->headers[o->nheaders++] = optarg;
			break;
		case OPT_CACERT:
			o->cacert = optarg;
			break;
		case OPT_CERT:
			o->cert = optarg;
			break;
		case OPT_KEY:
			o->key = optarg;
			break;
		case OPT_INSECURE:
			o->insecure = 1;
			break;
		case OPT_STATS:
			if (cp_args_long(optarg, 0, 86400, &o->stats_seconds))
				return cp_log_usage("--stats-seconds wants seconds from 0 to 86400, not '%s'", optarg);
			break;
		case OPT_ONCE:
			o->once = 1;
			break;
		case OPT_SAVE_DIR:
			o->save_dir = optarg;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'X':
			if (!strchr(optarg, '=') || optarg[0] == '=')
				return cp_log_usage("-X '%s': expected KEY=VALUE", optarg);
			o->props[o->nprops++] = optarg;
			break;
		case OPT_HELP:
			fputs(usage_text, stdout);
			fputs(usage_text_more, stdout);
			return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
		case ':':
			return cp_log_usage("%s needs a value", argv[optind - 1]);
		default:
			return cp_log_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cp_log_usage("unexpected argument '%s' (targets go in --targets FILE or --target SPEC)", argv[optind]);
	int n = agent_kinds_parse(profiles, o->kinds, err, sizeof err);
	if (n < 0)
		return cp_log_usage("--profiles %s", err);
	o->nkinds = (size_t)n;
	if (!o->targets_file && o->nspecs == 0)
		return cp_log_usage("%s", "no targets: give --targets FILE or --target SPEC");
	if (o->save_dir && mkdir(o->save_dir, 0777) != 0 && errno != EEXIST) {
		cp_log("--save-dir %s: %s", o->save_dir, strerror(errno));
		return EXIT_FAIL;
	}
	return -1;
}

static void free_options(options *o)
{
	free(o->specs);
	free(o->props);
	free(o->headers);
}

/* ------------------------------------------------------------------ targets */

static int64_t replica_period(const agent *a, const target_state *ts, size_t k)
{
	return agent_replica_period(a->o.kinds[k].every_ns, ts->t.replicas, (size_t)a->o.budget);
}

static void schedule_first(agent *a, target_state *ts, int64_t now)
{
	for (size_t k = 0; k < a->o.nkinds; k++)
		ts->kinds[k].due = a->o.once ? now
					     : agent_first_due(now, replica_period(a, ts, k), ts->t.replica, ts->t.replicas,
							       a->o.jitter, uniform(a));
}

/* Drops one reference; a removed target goes with its last. */
static void release(target_state *ts)
{
	if (--ts->refs == 0 && ts->removed) {
		agent_target_free(&ts->t);
		free(ts);
	}
}

/* Takes list's targets: each one already known (the same service, env, version, instance and
 * url) keeps its schedule and counts, and takes its new zone and labels; new ones are scheduled
 * from now; the ones gone are dropped (their scrapes and messages
 * in flight finish first). The list is left empty. */
static int apply_targets(agent *a, agent_target_list *list, int64_t now, size_t *added, size_t *removed)
{
	*added = *removed = 0;
	/* room for every target first, so nothing can fail halfway through */
	target_state **fresh = malloc((list->n ? list->n : 1) * sizeof *fresh);
	if (!fresh) {
		agent_targets_free(list);
		return -1;
	}
	target_state **old = a->targets;
	size_t nold = a->ntargets;
	a->targets = fresh;
	a->ntargets = 0;
	a->cap = list->n ? list->n : 1;
	int status = 0;
	for (size_t i = 0; i < list->n; i++) {
		target_state *ts = NULL;
		for (size_t j = 0; j < nold; j++)
			if (old[j] && strcmp(old[j]->t.identity, list->items[i].identity) == 0) {
				ts = old[j];
				old[j] = NULL;
				agent_target_free(&ts->t);
				break;
			}
		int is_new = !ts;
		if (!ts) {
			ts = calloc(1, sizeof *ts);
			if (!ts) {
				agent_target_free(&list->items[i]);
				status = -1;
				continue;
			}
			ts->refs = 1; /* the agent's own reference, dropped when removed */
			(*added)++;
		}
		ts->t = list->items[i];
		a->targets[a->ntargets++] = ts;
		if (is_new)
			schedule_first(a, ts, now);
	}
	for (size_t j = 0; j < nold; j++)
		if (old[j]) {
			(*removed)++;
			old[j]->removed = 1;
			release(old[j]);
		}
	free(old);
	free(list->items);
	list->items = NULL;
	list->n = 0;
	return status;
}

static void reload(agent *a)
{
	agent_target_list list;
	char err[800];
	if (agent_targets_load(a->o.targets_file, a->o.specs, a->o.nspecs, &list, err, sizeof err)) {
		cp_log("reload refused, the targets stay as they were: %s", err);
		return;
	}
	size_t n = list.n, added, removed;
	if (apply_targets(a, &list, mono_ns(), &added, &removed))
		cp_log("reload: out of memory; some targets are missing");
	cp_log("reloaded %s: %zu targets (%zu new, %zu removed, %zu kept)", a->o.targets_file ? a->o.targets_file : "the targets",
	       n, added, removed, n - added);
}

/* ------------------------------------------------------------------ scrapes */

static void forget_scrape(agent *a, const agent_scrape *s)
{
	for (long i = 0; i < a->nflying; i++)
		if (a->flying[i] == s) {
			a->flying[i] = a->flying[--a->nflying];
			return;
		}
}

static int start_scrape(agent *a, target_state *ts, size_t k, char *why, size_t len)
{
	char path[128];
	agent_kind_path(&a->o.kinds[k], path, sizeof path);
	agent_scrape *s = agent_scrape_new(ts->t.url, path, a->o.kinds[k].seconds, &a->http, why, len);
	if (!s)
		return -1;
	s->owner = ts;
	s->kind = k;
	CURLMcode mc = curl_multi_add_handle(a->multi, s->easy);
	if (mc != CURLM_OK) {
		snprintf(why, len, "cannot start the request: %s", curl_multi_strerror(mc));
		agent_scrape_free(s);
		return -1;
	}
	ts->kinds[k].scraping = 1;
	ts->refs++;
	a->flying[a->nflying++] = s;
	return 0;
}

/* A kind of a target that is due. */
typedef struct {
	target_state *ts;
	size_t kind;
	int64_t due;
} due_item;

static int earlier(const void *x, const void *y)
{
	int64_t a = ((const due_item *)x)->due, b = ((const due_item *)y)->due;
	return (a > b) - (a < b);
}

static void count_failure(agent *a, target_state *ts, size_t k, const char *why, int64_t now);

/* Starts the scrapes that are due, the longest overdue first, while slots are free: a target
 * slower than its period cannot keep the others from their turn. */
static void start_due(agent *a, int64_t now)
{
	size_t n = 0;
	for (size_t i = 0; i < a->ntargets; i++)
		for (size_t k = 0; k < a->o.nkinds; k++)
			n += !a->targets[i]->kinds[k].scraping && a->targets[i]->kinds[k].due <= now;
	if (n == 0 || a->nflying >= a->o.max_concurrent)
		return;
	due_item *items = malloc(n * sizeof *items);
	if (!items)
		return; /* tried again on the next turn of the loop */
	n = 0;
	for (size_t i = 0; i < a->ntargets; i++)
		for (size_t k = 0; k < a->o.nkinds; k++) {
			kind_state *ks = &a->targets[i]->kinds[k];
			if (!ks->scraping && ks->due <= now)
				items[n++] = (due_item){a->targets[i], k, ks->due};
		}
	qsort(items, n, sizeof *items, earlier);
	char why[300];
	for (size_t i = 0; i < n && a->nflying < a->o.max_concurrent; i++)
		if (start_scrape(a, items[i].ts, items[i].kind, why, sizeof why))
			count_failure(a, items[i].ts, items[i].kind, why, now);
	free(items);
}

static void save_copy(const agent *a, const char *id, const uint8_t *body, size_t len)
{
	size_t n = strlen(a->o.save_dir) + CP_ENVELOPE_ID_LEN + 16;
	char *path = malloc(n);
	if (!path)
		return;
	snprintf(path, n, "%s/%s.pb.gz", a->o.save_dir, id);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(body, 1, len, f) != len || fclose(f) != 0) {
		cp_log("--save-dir: cannot write %s: %s", path, strerror(errno));
		if (f)
			fclose(f);
	}
	free(path);
}

/* Publishes a good scrape. Returns 0, or -1 with the reason. */
static int publish(agent *a, target_state *ts, size_t k, agent_scrape *s, const cp_pprof *p, char *why, size_t len)
{
	cp_envelope e;
	memset(&e, 0, sizeof e);
	e.service = ts->t.service;
	e.version = ts->t.version;
	e.env = ts->t.env;
	e.zone = ts->t.zone;
	e.instance = ts->t.instance;
	e.labels = ts->t.labels;
	e.nlabels = ts->t.nlabels;
	e.profile_type = a->o.kinds[k].name;
	/* The profile's own times; a snapshot without one is stamped with when it was taken. */
	e.start_time_unix_nanos = p->time_nanos > 0 ? p->time_nanos : cp_time_now();
	e.duration_nanos = p->duration_nanos > 0 ? p->duration_nanos : 0;
	e.payload = s->body;
	e.payload_len = s->len;
	char id[CP_ENVELOPE_ID_LEN + 1];
	if (agent_publish(a->pub, &e, ts, id, why, len))
		return -1;
	ts->refs++;
	ts->published++;
	a->published++;
	if (a->o.save_dir)
		save_copy(a, id, s->body, s->len);
	if (a->o.verbose)
		cp_log("%s/%s %s: published %zu bytes, id %s", ts->t.service, ts->t.instance, a->o.kinds[k].name, s->len, id);
	return 0;
}

static int power_of_two(unsigned n)
{
	return n && (n & (n - 1)) == 0;
}

/* A scrape of kind k of ts failed (or could not start) for the reason why: counted, logged at
 * the 1st, 2nd, 4th, ... failure in a row or when the reason changes, and retried after the
 * backoff (never under --once). */
static void count_failure(agent *a, target_state *ts, size_t k, const char *why, int64_t now)
{
	kind_state *ks = &ts->kinds[k];
	const char *kind = a->o.kinds[k].name;
	char path[128];
	agent_kind_path(&a->o.kinds[k], path, sizeof path);
	ks->attempted = 1;
	ks->failures++;
	ts->failed++;
	a->failed++;
	int64_t wait = agent_backoff(a->o.retry_min_ns, replica_period(a, ts, k), ks->failures, a->o.jitter, uniform(a));
	ks->due = a->o.once ? INT64_MAX : now + wait;
	if (power_of_two(ks->failures) || strcmp(why, ks->last_error) != 0) {
		char retry[48] = "";
		if (!a->o.once) {
			char d[24];
			format_duration(wait, d, sizeof d);
			snprintf(retry, sizeof retry, "; retry in %s", d);
		}
		char times[48] = "";
		if (ks->failures > 1)
			snprintf(times, sizeof times, " (%u failures in a row)", ks->failures);
		cp_log("%s/%s %s %s%s: %s%s%s", ts->t.service, ts->t.instance, kind, ts->t.url, path, why, retry, times);
	}
	snprintf(ks->last_error, sizeof ks->last_error, "%s", why);
	snprintf(ts->last_error, sizeof ts->last_error, "%s: %s", kind, why);
}

static void finish_scrape(agent *a, agent_scrape *s, CURLcode result, int64_t now)
{
	target_state *ts = s->owner;
	size_t k = s->kind;
	kind_state *ks = &ts->kinds[k];
	const char *kind = a->o.kinds[k].name;
	cp_pprof *p = NULL;
	char why[400];
	int good = agent_scrape_verdict(s, result, &a->http, &p, why, sizeof why) == 0;
	if (good) {
		good = publish(a, ts, k, s, p, why, sizeof why) == 0;
		cp_pprof_free(p);
	}
	ks->scraping = 0;
	if (good) {
		ks->attempted = 1;
		if (ks->failures)
			cp_log("%s/%s %s: ok again after %u failed scrape%s", ts->t.service, ts->t.instance, kind, ks->failures,
			       ks->failures == 1 ? "" : "s");
		ks->failures = 0;
		ts->ok++;
		a->ok++;
		ks->due = a->o.once ? INT64_MAX
				    : agent_next_due(ks->due, now, replica_period(a, ts, k), a->o.jitter, uniform(a));
	} else {
		count_failure(a, ts, k, why, now);
	}
	release(ts);
}

static void serve_curl(agent *a)
{
	int running, left;
	curl_multi_perform(a->multi, &running);
	CURLMsg *m;
	while ((m = curl_multi_info_read(a->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CURL *easy = m->easy_handle;
		CURLcode result = m->data.result;
		char *priv = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
		curl_multi_remove_handle(a->multi, easy);
		agent_scrape *s = (agent_scrape *)(void *)priv;
		forget_scrape(a, s);
		finish_scrape(a, s, result, mono_ns());
		agent_scrape_free(s);
	}
}

/* Abandons every scrape in flight (on stop). Returns how many. */
static long abandon_scrapes(agent *a)
{
	long n = 0;
	while (a->nflying > 0) {
		agent_scrape *s = a->flying[a->nflying - 1];
		curl_multi_remove_handle(a->multi, s->easy);
		forget_scrape(a, s);
		target_state *ts = s->owner;
		ts->kinds[s->kind].scraping = 0;
		agent_scrape_free(s);
		release(ts);
		n++;
	}
	return n;
}

static void on_delivered(void *message_opaque, const char *error, void *ctx)
{
	agent *a = ctx;
	target_state *ts = message_opaque;
	if (error) {
		ts->lost++;
		a->lost++;
		snprintf(ts->last_error, sizeof ts->last_error, "not delivered to Kafka: %s", error);
		cp_log("%s/%s: a profile was not delivered to Kafka: %s", ts->t.service, ts->t.instance, error);
	} else {
		ts->delivered++;
		a->delivered++;
	}
	release(ts);
}

/* ------------------------------------------------------------------ stats */

static const char *health(const agent *a, const target_state *ts)
{
	size_t attempted = 0, failing = 0;
	for (size_t k = 0; k < a->o.nkinds; k++) {
		attempted += ts->kinds[k].attempted;
		failing += ts->kinds[k].attempted && ts->kinds[k].failures > 0;
	}
	if (attempted == 0)
		return "unknown";
	return failing == 0 ? "up" : failing == attempted ? "down" : "partial";
}

/* The text of a logfmt value: quotes and backslashes escaped. */
static void quoted(const char *s, char *out, size_t len)
{
	size_t j = 0;
	for (; *s && j + 3 < len; s++) {
		if (*s == '"' || *s == '\\')
			out[j++] = '\\';
		out[j++] = *s;
	}
	out[j] = '\0';
}

static void log_stats(const agent *a)
{
	size_t up = 0, partial = 0, down = 0;
	for (size_t i = 0; i < a->ntargets; i++) {
		const char *h = health(a, a->targets[i]);
		up += strcmp(h, "up") == 0;
		partial += strcmp(h, "partial") == 0;
		down += strcmp(h, "down") == 0;
	}
	cp_log("stats targets=%zu up=%zu partial=%zu down=%zu ok=%" PRIu64 " failed=%" PRIu64 " published=%" PRIu64
	       " delivered=%" PRIu64 " lost=%" PRIu64 " in_flight=%ld scraping=%ld",
	       a->ntargets, up, partial, down, a->ok, a->failed, a->published, a->delivered, a->lost,
	       agent_publisher_in_flight(a->pub), a->nflying);
	for (size_t i = 0; i < a->ntargets; i++) {
		const target_state *ts = a->targets[i];
		char every[24], last[sizeof ts->last_error * 2];
		format_duration(replica_period(a, ts, 0), every, sizeof every);
		quoted(ts->last_error, last, sizeof last);
		cp_log("target %s/%s health=%s ok=%" PRIu64 " failed=%" PRIu64 " published=%" PRIu64 " delivered=%" PRIu64
		       " lost=%" PRIu64 " replica=%zu/%zu %s_every=%s url=%s last_error=\"%s\"",
		       ts->t.service, ts->t.instance, health(a, ts), ts->ok, ts->failed, ts->published, ts->delivered,
		       ts->lost, ts->t.replica + 1, ts->t.replicas, a->o.kinds[0].name, every, ts->t.url, last);
	}
}

/* ------------------------------------------------------------------ the loop */

static int64_t next_due(const agent *a)
{
	int64_t next = INT64_MAX;
	for (size_t i = 0; i < a->ntargets; i++)
		for (size_t k = 0; k < a->o.nkinds; k++)
			if (!a->targets[i]->kinds[k].scraping && a->targets[i]->kinds[k].due < next)
				next = a->targets[i]->kinds[k].due;
	return next;
}

static int all_done(const agent *a)
{
	return a->nflying == 0 && next_due(a) == INT64_MAX;
}

static int run(agent *a)
{
	int64_t stats_every = a->o.stats_seconds * NS_PER_S;
	int64_t next_stats = mono_ns() + stats_every;
	char fatal[512] = "";
	while (!stop_signal) {
		if (agent_publisher_fatal(a->pub, fatal, sizeof fatal)) {
			cp_log("stopping: the Kafka producer failed for good: %s", fatal);
			break;
		}
		if (reload_requested) {
			reload_requested = 0;
			reload(a);
		}
		int64_t now = mono_ns();
		start_due(a, now);
		serve_curl(a);
		agent_publisher_poll(a->pub);
		if (a->o.once && all_done(a))
			break;
		now = mono_ns();
		if (stats_every && now >= next_stats) {
			log_stats(a);
			next_stats = now + stats_every;
		}
		/* with every slot taken, what is due waits for a scrape to end: curl's events wake the poll */
		int64_t wait = a->nflying >= a->o.max_concurrent ? INT64_MAX : next_due(a) - now;
		if (stats_every && next_stats - now < wait)
			wait = next_stats - now;
		long wait_ms = wait <= 0 ? 0 : wait / NS_PER_MS + 1;
		long curl_ms = -1;
		curl_multi_timeout(a->multi, &curl_ms);
		if (curl_ms >= 0 && curl_ms < wait_ms)
			wait_ms = curl_ms;
		if (wait_ms > MAX_WAIT_MS)
			wait_ms = MAX_WAIT_MS;
		curl_multi_poll(a->multi, NULL, 0, (int)wait_ms, NULL);
	}
	long abandoned = 0;
	if (stop_signal || fatal[0]) {
		abandoned = abandon_scrapes(a);
		cp_log("stopping on signal %d: %ld scrape%s in progress abandoned; waiting up to %llds for %ld profile%s in "
		       "flight",
		       (int)stop_signal, abandoned, abandoned == 1 ? "" : "s", (long long)(a->o.drain_timeout_ns / NS_PER_S),
		       agent_publisher_in_flight(a->pub), agent_publisher_in_flight(a->pub) == 1 ? "" : "s");
	}
	/* --once waits for its deliveries as long as Kafka may take; a stop, --drain-timeout */
	agent_publisher_flush(a->pub, (a->o.once && !stop_signal ? a->o.delivery_timeout_ns : a->o.drain_timeout_ns) /
					      NS_PER_MS);
	log_stats(a);
	if (a->lost || fatal[0])
		return EXIT_FAIL;
	/* --once fails when any scrape failed, was abandoned or never ran */
	return a->o.once && (a->failed || abandoned || !all_done(a)) ? EXIT_FAIL : EXIT_OK;
}

static int setup_http(agent *a)
{
	agent_http_options *h = &a->http;
	h->connect_timeout_ms = a->o.connect_timeout_ns / NS_PER_MS;
	h->timeout_ms = a->o.timeout_ns / NS_PER_MS;
	h->max_body = a->o.max_size;
	h->max_decompressed = a->o.max_decompressed;
	h->cacert = a->o.cacert;
	h->cert = a->o.cert;
	h->key = a->o.key;
	h->insecure = a->o.insecure;
	h->user_agent = PROG;
	for (size_t i = 0; i < a->o.nheaders; i++) {
		struct curl_slist *l = curl_slist_append(h->headers, a->o.headers[i]);
		if (!l)
			return -1;
		h->headers = l;
	}
	return 0;
}

int main(int argc, char **argv)
{
	agent a;
	memset(&a, 0, sizeof a);
	cp_log_init(PROG);
	int status = parse_options(argc, argv, &a.o);
	if (status >= 0) {
		free_options(&a.o);
		return status;
	}
	agent_target_list list;
	char err[800];
	if (agent_targets_load(a.o.targets_file, a.o.specs, a.o.nspecs, &list, err, sizeof err)) {
		status = cp_log_usage("%s", err);
		free_options(&a.o);
		return status;
	}
	char timeout[32];
	snprintf(timeout, sizeof timeout, "%lld", (long long)(a.o.delivery_timeout_ns / NS_PER_MS));
	/* a bound on what waits for Kafka; -X comes after and wins */
	const char *own[] = {"queue.buffering.max.kbytes=262144"};
	const char **props = calloc(a.o.nprops + 2, sizeof *props);
	if (!props) {
		cp_log("out of memory");
		agent_targets_free(&list);
		free_options(&a.o);
		return EXIT_FAIL;
	}
	props[0] = own[0];
	memcpy(props + 1, a.o.props, a.o.nprops * sizeof *props);
	rd_kafka_conf_t *conf = cp_kafka_producer_conf(PROG, a.o.brokers, a.o.delivery_timeout_ns / NS_PER_MS, props,
						       a.o.nprops + 1);
	free(props);
	if (!conf) {
		agent_targets_free(&list);
		free_options(&a.o);
		return EXIT_USAGE;
	}
	status = EXIT_FAIL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		cp_log("libcurl cannot start");
		rd_kafka_conf_destroy(conf);
		agent_targets_free(&list);
		free_options(&a.o);
		return EXIT_FAIL;
	}
	a.rng = (uint64_t)cp_time_now() ^ ((uint64_t)getpid() << 32);
	a.pub = agent_publisher_new(conf, a.o.topic, on_delivered, &a, err, sizeof err);
	a.multi = curl_multi_init();
	a.flying = calloc((size_t)a.o.max_concurrent, sizeof *a.flying);
	if (!a.pub || !a.multi || !a.flying || setup_http(&a)) {
		cp_log("%s", a.pub ? "out of memory" : err);
		agent_targets_free(&list);
		goto out;
	}
	size_t ntargets = list.n, added, removed;
	if (apply_targets(&a, &list, mono_ns(), &added, &removed)) {
		cp_log("out of memory");
		goto out;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	char kinds[256];
	size_t at = 0;
	for (size_t k = 0; k < a.o.nkinds && at < sizeof kinds; k++) {
		char every[24];
		format_duration(a.o.kinds[k].every_ns, every, sizeof every);
		at += (size_t)snprintf(kinds + at, sizeof kinds - at, "%s%s every %s", k ? ", " : "", a.o.kinds[k].name, every);
		if (a.o.kinds[k].seconds && at < sizeof kinds)
			at += (size_t)snprintf(kinds + at, sizeof kinds - at, " (%llds)", (long long)a.o.kinds[k].seconds);
	}
	cp_log("%zu target%s, to %s; %s per deployment, budget %ld", ntargets, ntargets == 1 ? "" : "s", a.o.topic, kinds,
	       a.o.budget);
	status = run(&a);
out:
	if (a.multi)
		abandon_scrapes(&a);
	agent_publisher_free(a.pub); /* no delivery report comes after this */
	for (size_t i = 0; i < a.ntargets; i++) {
		agent_target_free(&a.targets[i]->t);
		free(a.targets[i]);
	}
	free(a.targets);
	free(a.flying);
	if (a.multi)
		curl_multi_cleanup(a.multi);
	curl_slist_free_all(a.http.headers);
	curl_global_cleanup();
	free_options(&a.o);
	return status;
}
