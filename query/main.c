/* cprof-query: the command-line front of cprof's read side. Dispatches to one subcommand per
 * question; results go to stdout, diagnostics to stderr, and the exit status says which
 * (see commands.h). */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{"top", cp_cmd_top, "functions ranked by flat or cum time/bytes/count"},
	{"diff", cp_cmd_diff, "what changed between two selections, with significance"},
	{"series", cp_cmd_series, "a function's flat and cum over time, per step"},
	{"flame", cp_cmd_flame, "a flame graph: folded stacks (flamegraph.pl, speedscope) or Grafana's frame"},
	{"export", cp_cmd_export, "one merged pprof profile (gzip) of a selection, for go tool pprof"},
	{"ls", cp_cmd_ls, "what is stored: services, versions, envs, zones, instances, types, labels, functions"},
};

static void usage(FILE *out)
{
	fputs("usage: cprof-query COMMAND [OPTIONS]\n\ncommands:\n", out);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fputs("\n'cprof-query COMMAND --help' describes a command's options.\n", out);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CP_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return CP_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "cprof-query: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return CP_EXIT_USAGE;
}
