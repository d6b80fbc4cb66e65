/* bench_alternate: times several commands side by side in one run, alternating them so that
 * drift in the machine's speed affects each alike, and reports per command the median and
 * minimum wall-clock time, the median CPU time (user + system, children included) and the
 * median peak resident set size (ru_maxrss from wait4, as /usr/bin/time -v reports it: the
 * largest single process of the command's tree), with the ratios of each median wall and
 * CPU time to the first command's.
 *
 * usage: bench_alternate [-r RUNS] [-w WARMUPS] [-d DIR] -- NAME ARGV... [:: NAME ARGV...]...
 *   -r  timed runs of each command (default 10)
 *   -w  untimed warm-up runs of each command first (default 1)
 *   -d  where each command's stdout and stderr go, as DIR/NAME.out and DIR/NAME.err
 *       (default /tmp); the last run's output is kept there
 *
 * Commands are executed directly (execvp, no shell). Round k runs the commands in order when
 * k is even and in reverse order when k is odd. A command that exits non-zero stops the
 * benchmark with its name and status. */
#define _DEFAULT_SOURCE /* wait4, which POSIX lacks */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
	const char *name;
	char **argv;
	double *wall, *cpu;
	long *rss_kb;
} command;

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double timeval_seconds(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec * 1e-6;
}

/* Runs one command with its output redirected; fills wall, cpu and rss. Returns 0, or -1
 * after printing why. */
static int run_once(const command *c, const char *dir, double *wall, double *cpu, long *rss_kb)
{
	char out_path[4096], err_path[4096];
	snprintf(out_path, sizeof out_path, "%s/%s.out", dir, c->name);
	snprintf(err_path, sizeof err_path, "%s/%s.err", dir, c->name);
	int out_fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int err_fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out_fd < 0 || err_fd < 0) {
		fprintf(stderr, "bench_alternate: cannot create %s or %s: %s\n", out_path, err_path, strerror(errno));
		return -1;
	}
	double start = now_seconds();
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "bench_alternate: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		dup2(out_fd, STDOUT_FILENO);
		dup2(err_fd, STDERR_FILENO);
		execvp(c->argv[0], c->argv);
		fprintf(stderr, "bench_alternate: cannot run %s: %s\n", c->argv[0], strerror(errno));
		_exit(127);
	}
	close(out_fd);
	close(err_fd);
	int status;
	struct rusage ru;
	if (wait4(pid, &status, 0, &ru) < 0) {
		fprintf(stderr, "bench_alternate: wait4: %s\n", strerror(errno));
		return -1;
	}
	*wall = now_seconds() - start;
	*cpu = timeval_seconds(ru.ru_utime) + timeval_seconds(ru.ru_stime);
	*rss_kb = ru.ru_maxrss;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "bench_alternate: %s failed (%s %d); see %s\n", c->name,
			WIFEXITED(status) ? "exit status" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), err_path);
		return -1;
	}
	return 0;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int compare_longs(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

/* Median of n values (sorts them). */
static double median_double(double *v, size_t n)
{
	qsort(v, n, sizeof *v, compare_doubles);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static long median_long(long *v, size_t n)
{
	qsort(v, n, sizeof *v, compare_longs);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int parse_count(const char *s, long min, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > 100000)
		return -1;
	*out = v;
	return 0;
}

static void usage(void)
{
	fputs("usage: bench_alternate [-r RUNS] [-w WARMUPS] [-d DIR] -- NAME ARGV... [:: NAME ARGV...]...\n", stderr);
}

int main(int argc, char **argv)
{
	long runs = 10, warmups = 1;
	const char *dir = "/tmp";
	int opt;
	while ((opt = getopt(argc, argv, "r:w:d:")) != -1) {
		switch (opt) {
		case 'r':
			if (parse_count(optarg, 1, &runs)) {
				fprintf(stderr, "bench_alternate: -r wants a number >= 1, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'w':
			if (parse_count(optarg, 0, &warmups)) {
				fprintf(stderr, "bench_alternate: -w wants a number >= 0, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'd':
			dir = optarg;
			break;
		default:
			usage();
			return 2;
		}
	}

	/* Split the rest at "::" into commands; argv is modified in place (each separator becomes
	 * the NULL that ends the previous command's argv). */
	command commands[16];
	size_t ncommands = 0;
	int i = optind;
	while (i < argc) {
		if (ncommands == sizeof commands / sizeof commands[0]) {
			fputs("bench_alternate: at most 16 commands\n", stderr);
			return 2;
		}
		int start = i;
		while (i < argc && strcmp(argv[i], "::") != 0)
			i++;
		if (i - start < 2) {
			usage();
			return 2;
		}
		commands[ncommands++] = (command){.name = argv[start], .argv = &argv[start + 1]};
		if (i < argc)
			argv[i++] = NULL;
	}
	if (ncommands == 0) {
		usage();
		return 2;
	}

	int status = 1;
	for (size_t c = 0; c < ncommands; c++) {
		commands[c].wall = calloc((size_t)runs, sizeof *commands[c].wall);
		commands[c].cpu = calloc((size_t)runs, sizeof *commands[c].cpu);
		commands[c].rss_kb = calloc((size_t)runs, sizeof *commands[c].rss_kb);
		if (!commands[c].wall || !commands[c].cpu || !commands[c].rss_kb) {
			fputs("bench_alternate: out of memory\n", stderr);
			goto out;
		}
	}

	for (long round = -warmups; round < runs; round++) {
		for (size_t k = 0; k < ncommands; k++) {
			size_t c = (round % 2 == 0) ? k : ncommands - 1 - k;
			double wall, cpu;
			long rss;
			if (run_once(&commands[c], dir, &wall, &cpu, &rss))
				goto out;
			if (round >= 0) {
				commands[c].wall[round] = wall;
				commands[c].cpu[round] = cpu;
				commands[c].rss_kb[round] = rss;
			}
		}
	}

	printf("%-18s %5s %13s %11s %12s %15s %14s %13s\n", "command", "runs", "median wall s", "min wall s",
	       "median cpu s", "median peak RSS", "wall vs first", "cpu vs first");
	double first_wall = 0, first_cpu = 0;
	for (size_t c = 0; c < ncommands; c++) {
		command *cmd = &commands[c];
		double min_wall = cmd->wall[0];
		for (long r = 1; r < runs; r++)
			if (cmd->wall[r] < min_wall)
				min_wall = cmd->wall[r];
		double wall = median_double(cmd->wall, (size_t)runs);
		double cpu = median_double(cmd->cpu, (size_t)runs);
		long rss = median_long(cmd->rss_kb, (size_t)runs);
		if (c == 0) {
			first_wall = wall;
			first_cpu = cpu;
		}
		printf("%-18s %5ld %13.4f %11.4f %12.4f %12.1f MB %13.1fx %12.1fx\n", cmd->name, runs, wall, min_wall,
		       cpu, (double)rss / 1024, wall / first_wall, first_cpu > 0 ? cpu / first_cpu : 0.0);
	}
	status = 0;
out:
	for (size_t c = 0; c < ncommands; c++) {
		free(commands[c].wall);
		free(commands[c].cpu);
		free(commands[c].rss_kb);
	}
	return status;
}
