/* cprof-devbroker: the local stack's Kafka. Runs librdkafka's mock cluster (rdkafka_mock.h) as a
 * standalone process whose brokers speak the Kafka protocol over TCP on 127.0.0.1, so kcat, the
 * agent, the workers and the tests reach it exactly as they would reach Kafka. It creates the
 * pipeline's topics, prints `bootstrap.servers=...` once listening (and can write it to a file),
 * optionally reads control commands (broker down/up, leader moves) from a FIFO, and runs until
 * SIGTERM or SIGINT. */
#define _GNU_SOURCE /* getopt_long */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include "cp_args.h"
#include "cp_file.h"
#include "cp_kafka_conf.h"
#include "cp_log.h"

#define PROG "cprof-devbroker"
#define EXIT_USAGE 2
#define MAX_BROKERS 64
#define MAX_TOPICS 64
#define MAX_PARTITIONS 10000
#define MAX_TOPIC_NAME 249 /* Kafka's limit */
#define CONTROL_LINE_MAX 512

static const char usage_text[] =
	"usage: " PROG " [options]\n"
	"\n"
	"Runs librdkafka's mock Kafka cluster as a broker process on 127.0.0.1 (ephemeral ports)\n"
	"until SIGTERM or SIGINT. Prints one line 'bootstrap.servers=HOST:PORT,...' on stdout once\n"
	"listening; everything else goes to stderr. As librdkafka's mock does, a topic a client asks\n"
	"for that does not exist is created on the fly with 4 partitions, and each partition keeps\n"
	"only about its newest 5 MB.\n"
	"\n"
	"options:\n"
	"  --brokers N            number of brokers, ids 1..N (default 3)\n"
	"  --topic NAME[:PARTITIONS[:REPLICATION]]\n"
	"                         create a topic (repeatable; PARTITIONS default 1, REPLICATION\n"
	"                         default min(3, brokers)). Giving any --topic replaces the\n"
	"                         default set: cprof.profiles:12 and cprof.profiles.dlq:3\n"
	"  --bootstrap-file FILE  also write the bootstrap servers (one line) to FILE, atomically,\n"
	"                         once listening; FILE is removed on exit\n"
	"  --control-fifo PATH    read control commands from the FIFO PATH (created when missing,\n"
	"                         and then removed on exit), one per line:\n"
	"                           down BROKER                      disconnect a broker, refuse clients\n"
	"                           up BROKER                        bring it back\n"
	"                           leader TOPIC PARTITION BROKER    move a partition's leader (TOPIC:\n"
	"                                                            one of the topics created at start)\n"
	"                         (empty lines and lines starting with '#' are ignored)\n"
	"  -X KEY=VALUE           set a librdkafka property on the handle hosting the cluster\n"
	"                         (e.g. -X debug=broker,protocol); repeatable\n"
	"  --help                 this text\n"
	"\n"
	"Exit status: 0 after a clean shutdown on a signal, 1 on a runtime failure, 2 on a usage error.\n";

typedef struct {
	char name[MAX_TOPIC_NAME + 1];
	int partitions;
	int replication; /* 0: min(3, brokers) */
} topic_spec;

typedef struct {
	int brokers;
	topic_spec topics[MAX_TOPICS];
	int ntopics;
	const char *bootstrap_file;
	const char *control_fifo;
	char **props; /* "KEY=VALUE" from -X */
	int nprops;
} options;

/* Signal handlers write the signal number to this pipe; the main loop polls its read end. */
static int signal_pipe[2] = {-1, -1};

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs(PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(see '" PROG " --help')\n", stderr);
	return EXIT_USAGE;
}

/* Parses a decimal integer in [min, max] (within int); returns -1 when s is not one. */
static int parse_int(const char *s, long min, long max, int *out)
{
	long v;
	if (cp_args_long(s, min, max, &v))
		return -1;
	*out = (int)v;
	return 0;
}

static int valid_topic_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > MAX_TOPIC_NAME || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* NAME[:PARTITIONS[:REPLICATION]] into *t; returns 0, or -1 after printing why. */
static int parse_topic(const char *arg, topic_spec *t)
{
	char buf[MAX_TOPIC_NAME + 64];
	if (strlen(arg) >= sizeof buf) {
		usage_error("--topic '%.40s...': too long", arg);
		return -1;
	}
	strcpy(buf, arg);
	char *parts = strchr(buf, ':');
	char *repl = NULL;
	if (parts) {
		*parts++ = '\0';
		repl = strchr(parts, ':');
		if (repl)
			*repl++ = '\0';
	}
	if (!valid_topic_name(buf)) {
		usage_error("--topic '%s': the name must be 1 to %d characters of [a-zA-Z0-9._-]", arg,
			    MAX_TOPIC_NAME);
		return -1;
	}
	strcpy(t->name, buf);
	t->partitions = 1;
	t->replication = 0;
	if (parts && parse_int(parts, 1, MAX_PARTITIONS, &t->partitions) != 0) {
		usage_error("--topic '%s': PARTITIONS must be an integer from 1 to %d", arg, MAX_PARTITIONS);
		return -1;
	}
	if (repl && parse_int(repl, 1, MAX_BROKERS, &t->replication) != 0) {
		usage_error("--topic '%s': REPLICATION must be an integer from 1 to %d", arg, MAX_BROKERS);
		return -1;
	}
	return 0;
}

/* Returns -1 to go on, or the exit status to return. */
static int parse_options(int argc, char **argv, options *o)
{
	enum { OPT_BROKERS = 256, OPT_TOPIC, OPT_BOOTSTRAP_FILE, OPT_CONTROL_FIFO, OPT_HELP };
	static const struct option longopts[] = {
		{"brokers", required_argument, NULL, OPT_BROKERS},
		{"topic", required_argument, NULL, OPT_TOPIC},
		{"bootstrap-file", required_argument, NULL, OPT_BOOTSTRAP_FILE},
		{"control-fifo", required_argument, NULL, OPT_CONTROL_FIFO},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof *o);
	o->brokers = 3;
	o->props = calloc((size_t)argc, sizeof *o->props);
	if (!o->props) {
		cp_log("out of memory");
		return 1;
	}
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":X:", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_BROKERS:
			if (parse_int(optarg, 1, MAX_BROKERS, &o->brokers) != 0)
				return usage_error("--brokers '%s': must be an integer from 1 to %d", optarg,
						   MAX_BROKERS);
			break;
		case OPT_TOPIC:
			if (o->ntopics == MAX_TOPICS)
				return usage_error("at most %d --topic options", MAX_TOPICS);
			if (parse_topic(optarg, &o->topics[o->ntopics]) != 0)
				return EXIT_USAGE;
			for (int i = 0; i < o->ntopics; i++)
				if (strcmp(o->topics[i].name, o->topics[o->ntopics].name) == 0)
					return usage_error("--topic '%s' given twice", o->topics[i].name);
			o->ntopics++;
			break;
		case OPT_BOOTSTRAP_FILE:
			if (!*optarg)
				return usage_error("--bootstrap-file: empty path");
			o->bootstrap_file = optarg;
			break;
		case OPT_CONTROL_FIFO:
			if (!*optarg)
				return usage_error("--control-fifo: empty path");
			o->control_fifo = optarg;
			break;
		case 'X':
			if (!strchr(optarg, '=') || optarg[0] == '=')
				return usage_error("-X '%s': expected KEY=VALUE", optarg);
			o->props[o->nprops++] = optarg;
			break;
		case OPT_HELP:
			fputs(usage_text, stdout);
			return fflush(stdout) == 0 ? 0 : 1;
		case ':':
			return usage_error("%s needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (o->ntopics == 0) {
		o->topics[0] = (topic_spec){"cprof.profiles", 12, 0};
		o->topics[1] = (topic_spec){"cprof.profiles.dlq", 3, 0};
		o->ntopics = 2;
	}
	for (int i = 0; i < o->ntopics; i++) {
		topic_spec *t = &o->topics[i];
		if (t->replication == 0)
			t->replication = o->brokers < 3 ? o->brokers : 3;
		if (t->replication > o->brokers)
			return usage_error("--topic '%s': replication %d exceeds the %d broker(s)", t->name,
					   t->replication, o->brokers);
	}
	return -1;
}

/* librdkafka's own log lines (including -X debug=... output), prefixed like ours. The hosting
 * handle never connects anywhere, so its warning that no bootstrap.servers is set is expected and
 * dropped. Called from librdkafka's threads; each line is one stdio call. */
static void on_rdkafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	if (strcmp(fac, "CONFWARN") == 0 && strstr(buf, "bootstrap.servers"))
		return;
	fprintf(stderr, PROG ": librdkafka %d %s: %s\n", level, fac, buf);
}

/* ------------------------------------------------------------------ signals */

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	ssize_t w = write(signal_pipe[1], &b, 1); /* a full pipe already holds a wake-up */
	(void)w;
	errno = saved;
}

static int set_cloexec_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	int fdfl = fcntl(fd, F_GETFD);
	if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0)
		return -1;
	return 0;
}

/* Installs the handlers. SIGTERM and SIGINT stay blocked (so librdkafka's threads, which inherit
 * the mask, never take them) until unblock_signals() in the main thread. */
static int setup_signals(void)
{
	if (pipe(signal_pipe) != 0 || set_cloexec_nonblock(signal_pipe[0]) != 0 ||
	    set_cloexec_nonblock(signal_pipe[1]) != 0) {
		cp_log("cannot create the signal pipe: %s", strerror(errno));
		return -1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0) {
		cp_log("sigaction: %s", strerror(errno));
		return -1;
	}
	sa.sa_handler = SIG_IGN; /* a client that hangs up must not kill the broker */
	if (sigaction(SIGPIPE, &sa, NULL) != 0) {
		cp_log("sigaction: %s", strerror(errno));
		return -1;
	}
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	int err = pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (err) {
		cp_log("pthread_sigmask: %s", strerror(err));
		return -1;
	}
	return 0;
}

static int unblock_signals(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	int err = pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	if (err) {
		cp_log("pthread_sigmask: %s", strerror(err));
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ bootstrap file */

/* Writes "SERVERS\n" to path whole or not at all (cp_file_write_atomic). */
static int write_bootstrap_file(const char *path, const char *servers)
{
	size_t len = strlen(servers) + 1;
	char *line = malloc(len + 1), err[512];
	if (!line) {
		cp_log("out of memory");
		return -1;
	}
	snprintf(line, len + 1, "%s\n", servers);
	int status = cp_file_write_atomic(path, line, len, err, sizeof err);
	if (status)
		cp_log("%s", err);
	free(line);
	return status;
}

/* ------------------------------------------------------------------ control FIFO */

typedef struct {
	int fd;
	int created; /* we made the FIFO, so we remove it */
	char buf[CONTROL_LINE_MAX];
	size_t len;
	int discarding; /* inside an over-long line */
} control_fifo;

static int control_open(control_fifo *cf, const char *path)
{
	cf->fd = -1;
	cf->created = 0;
	cf->len = 0;
	cf->discarding = 0;
	if (mkfifo(path, 0600) == 0) {
		cf->created = 1;
	} else if (errno != EEXIST) {
		cp_log("cannot create the control FIFO %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISFIFO(st.st_mode)) {
		cp_log("%s exists and is not a FIFO", path);
		return -1;
	}
	/* Opened read-write (Linux semantics) so the FIFO always has a writer: no EOF and no
	 * POLLHUP storm between clients, and `echo down 1 > PATH` never blocks. */
	cf->fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (cf->fd < 0) {
		cp_log("cannot open the control FIFO %s: %s", path, strerror(errno));
		if (cf->created)
			unlink(path);
		cf->created = 0;
		return -1;
	}
	return 0;
}

static void control_run(rd_kafka_mock_cluster_t *mc, const options *o, char *line)
{
	int brokers = o->brokers;
	char *words[5];
	int n = 0;
	char *save = NULL;
	for (char *w = strtok_r(line, " \t\r", &save); w; w = strtok_r(NULL, " \t\r", &save)) {
		if (n == 5) {
			cp_log("control: too many words, ignored");
			return;
		}
		words[n++] = w;
	}
	if (n == 0 || words[0][0] == '#')
		return;
	int broker, partition;
	rd_kafka_resp_err_t err;
	if ((strcmp(words[0], "down") == 0 || strcmp(words[0], "up") == 0) && n == 2) {
		if (parse_int(words[1], 1, brokers, &broker) != 0) {
			cp_log("control: '%s %s': broker must be an id from 1 to %d, ignored", words[0], words[1],
				brokers);
			return;
		}
		int down = words[0][0] == 'd';
		err = down ? rd_kafka_mock_broker_set_down(mc, broker) : rd_kafka_mock_broker_set_up(mc, broker);
		if (err)
			cp_log("control: broker %d %s failed: %s", broker, words[0], rd_kafka_err2str(err));
		else
			cp_log("control: broker %d is %s", broker, words[0]);
	} else if (strcmp(words[0], "leader") == 0 && n == 4) {
		if (parse_int(words[2], 0, INT32_MAX, &partition) != 0 ||
		    parse_int(words[3], 1, brokers, &broker) != 0) {
			cp_log("control: 'leader %s %s %s': expected leader TOPIC PARTITION BROKER (broker 1 to "
				"%d), ignored",
				words[1], words[2], words[3], brokers);
			return;
		}
		int known = 0;
		for (int i = 0; i < o->ntopics; i++)
			known |= strcmp(o->topics[i].name, words[1]) == 0;
		if (!known) { /* the mock would silently create a mistyped topic */
			cp_log("control: 'leader %s ...': not one of the topics this broker was started with, ignored",
				words[1]);
			return;
		}
		err = rd_kafka_mock_partition_set_leader(mc, words[1], partition, broker);
		if (err)
			cp_log("control: leader of %s [%d] -> broker %d failed: %s", words[1], partition, broker,
				rd_kafka_err2str(err));
		else
			cp_log("control: leader of %s [%d] is broker %d", words[1], partition, broker);
	} else {
		cp_log("control: unknown command '%s' (with %d argument(s)); expected 'down BROKER', "
			"'up BROKER' or 'leader TOPIC PARTITION BROKER', ignored",
			words[0], n - 1);
	}
}

/* Reads what is available and runs every complete line. Returns -1 on a read error. */
static int control_read(control_fifo *cf, rd_kafka_mock_cluster_t *mc, const options *o)
{
	for (;;) {
		char chunk[256];
		ssize_t r = read(cf->fd, chunk, sizeof chunk);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			cp_log("control FIFO: read: %s", strerror(errno));
			return -1;
		}
		if (r == 0)
			return 0;
		for (ssize_t i = 0; i < r; i++) {
			char c = chunk[i];
			if (c == '\n') {
				if (cf->discarding) {
					cp_log("control: line longer than %d bytes, ignored", CONTROL_LINE_MAX - 1);
				} else {
					cf->buf[cf->len] = '\0';
					control_run(mc, o, cf->buf);
				}
				cf->len = 0;
				cf->discarding = 0;
			} else if (!cf->discarding) {
				if (cf->len + 1 >= sizeof cf->buf)
					cf->discarding = 1;
				else
					cf->buf[cf->len++] = c;
			}
		}
	}
}

/* ------------------------------------------------------------------ main */

static int run(const options *o)
{
	int status = 1;
	rd_kafka_t *host = NULL;
	rd_kafka_mock_cluster_t *mc = NULL;
	control_fifo cf = {.fd = -1};
	int wrote_file = 0;
	char errstr[512];

	if (setup_signals() != 0)
		return 1;

	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set_log_cb(conf, on_rdkafka_log);
	if (cp_kafka_conf_props(conf, (const char *const *)o->props, (size_t)o->nprops, errstr, sizeof errstr)) {
		cp_log("%s", errstr);
		rd_kafka_conf_destroy(conf);
		return EXIT_USAGE;
	}
	host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
	if (!host) {
		cp_log("cannot create the librdkafka handle: %s", errstr);
		rd_kafka_conf_destroy(conf);
		return 1;
	}
	mc = rd_kafka_mock_cluster_new(host, o->brokers);
	if (!mc) {
		cp_log("cannot create the mock cluster of %d broker(s)", o->brokers);
		goto out;
	}
	for (int i = 0; i < o->ntopics; i++) {
		const topic_spec *t = &o->topics[i];
		rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, t->name, t->partitions, t->replication);
		if (err) {
			cp_log("cannot create topic %s: %s", t->name, rd_kafka_err2str(err));
			goto out;
		}
		cp_log("topic %s: %d partition(s), replication %d", t->name, t->partitions, t->replication);
	}
	if (o->control_fifo && control_open(&cf, o->control_fifo) != 0)
		goto out;

	const char *servers = rd_kafka_mock_cluster_bootstraps(mc);
	if (o->bootstrap_file) {
		if (write_bootstrap_file(o->bootstrap_file, servers) != 0)
			goto out;
		wrote_file = 1;
	}
	if (printf("bootstrap.servers=%s\n", servers) < 0 || fflush(stdout) != 0) {
		cp_log("cannot write to stdout: %s", strerror(errno));
		goto out;
	}
	cp_log("%d broker(s) listening: %s%s%s", o->brokers, servers, o->control_fifo ? "; control FIFO " : "",
		o->control_fifo ? o->control_fifo : "");
	if (unblock_signals() != 0)
		goto out;

	for (;;) {
		struct pollfd pfd[2] = {{.fd = signal_pipe[0], .events = POLLIN}, {.fd = cf.fd, .events = POLLIN}};
		int r = poll(pfd, cf.fd >= 0 ? 2 : 1, -1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			cp_log("poll: %s", strerror(errno));
			goto out;
		}
		if (pfd[0].revents) {
			unsigned char sig = 0;
			if (read(signal_pipe[0], &sig, 1) == 1) {
				cp_log("got signal %d, shutting down", sig);
				status = 0;
				goto out;
			}
		}
		if (cf.fd >= 0 && pfd[1].revents) {
			if (pfd[1].revents & (POLLERR | POLLNVAL)) {
				cp_log("control FIFO: poll error");
				goto out;
			}
			if (control_read(&cf, mc, o) != 0)
				goto out;
		}
	}

out:
	if (mc)
		rd_kafka_mock_cluster_destroy(mc);
	if (host)
		rd_kafka_destroy(host);
	if (rd_kafka_wait_destroyed(5000) != 0) {
		cp_log("librdkafka did not shut down within 5 s");
		status = 1;
	}
	if (cf.fd >= 0)
		close(cf.fd);
	if (cf.created)
		unlink(o->control_fifo);
	if (wrote_file && unlink(o->bootstrap_file) != 0 && errno != ENOENT) {
		cp_log("cannot remove %s: %s", o->bootstrap_file, strerror(errno));
		status = 1;
	}
	if (status == 0)
		cp_log("stopped");
	return status;
}

int main(int argc, char **argv)
{
	options o;
	cp_log_init(PROG);
	int status = parse_options(argc, argv, &o);
	if (status < 0)
		status = run(&o);
	free(o.props);
	return status;
}
