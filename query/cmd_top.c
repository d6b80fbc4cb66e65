/* cmd_top: `cprof-query top`: the top functions of one or more pprof files (merged as
 * `go tool pprof` merges them), or of a selection of what PostgreSQL stores (top_db.c). A bad
 * file or selection fails the whole command with a message saying what: no partial answer is
 * printed. */
#define _GNU_SOURCE /* getopt_long */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "cp_flat.h"
#include "cp_pprof.h"
#include "files.h"
#include "top.h"
#include "top_db.h"
#include "cp_args.h"
#include "cp_log.h"

static const char top_usage[] =
	"usage: cprof-query top --file FILE... [options]\n"
	"       cprof-query top [--service S] [--since T] [--until T] [selection] [options]\n"
	"\n"
	"The functions of the given pprof profiles (gzip or raw protobuf) ranked by flat or cum;\n"
	"several files are merged as `go tool pprof` merges them. Without --file, the functions of\n"
	"what PostgreSQL stores for a selection, summed over a time range.\n"
	"\n"
	"options:\n"
	"  --file FILE          a profile to read (repeatable; further FILE arguments may follow)\n"
	"  --sample-index N     the sample type by position (default: the profile's\n"
	"                       default_sample_type, else the last type, as pprof; files only)\n"
	"  --sample-type NAME   the sample type by name, e.g. cpu, alloc_space, inuse_objects\n"
	"  --by flat|cum        rank by flat (default) or cum\n"
	"  -n N                 print the first N functions (default 20; 0 prints all)\n"
	"  --format FORMAT      table (default, pprof's -top columns), tsv, csv or json\n"
	"  --max-size BYTES     refuse profiles larger than this after decompression\n"
	"                       (default 268435456)\n"
	"  --help               this text\n"
	"\n"
	"selection (stored data):\n"
	"%s"
	"  --group-by DIM       one top per value of service, env, version or zone (-n applies to\n"
	"                       each); tsv and csv gain a first column DIM\n"
	"\n"
	"tsv and csv print the header function,flat,cum and one row per function with non-zero\n"
	"flat or cum; names escape backslash, TAB, LF and CR as \\\\ \\t \\n \\r (tsv).\n";

typedef struct {
	const char **files;
	size_t nfiles;
	cp_selection_options sel; /* without --file */
	const char *group_by;
	long sample_index; /* -1: not given */
	const char *sample_type;
	cp_top_order order;
	cp_top_format format;
	size_t limit;
	size_t max_size;
} top_options;

/* Returns -1 to go on, or the exit status to return. */
static int parse_options(int argc, char **argv, top_options *o)
{
	enum {
		OPT_FILE = 256, OPT_SAMPLE_INDEX, OPT_BY, OPT_FORMAT, OPT_MAX_SIZE, OPT_HELP, OPT_GROUP_BY
	};
	static const struct option longopts[] = {
		{"file", required_argument, NULL, OPT_FILE},
		{"sample-index", required_argument, NULL, OPT_SAMPLE_INDEX},
		{"by", required_argument, NULL, OPT_BY},
		{"format", required_argument, NULL, OPT_FORMAT},
		{"max-size", required_argument, NULL, OPT_MAX_SIZE},
		{"help", no_argument, NULL, OPT_HELP},
		{"group-by", required_argument, NULL, OPT_GROUP_BY},
		CP_SELECTION_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	*o = (top_options){.sample_index = -1, .limit = 20, .max_size = CP_PPROF_DEFAULT_MAX_DECOMPRESSED};
	cp_selection_options_init(&o->sel);
	o->files = calloc((size_t)argc + 1, sizeof *o->files);
	if (!o->files) {
		fputs("cprof-query top: out of memory\n", stderr);
		return CP_EXIT_FAILURE;
	}
	int file_mode = 0, c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":n:", longopts, NULL)) != -1) {
		int taken = cp_selection_option(&o->sel, c, optarg);
		if (taken < 0)
			return CP_EXIT_USAGE;
		if (taken > 0)
			continue;
		switch (c) {
		case OPT_FILE:
			o->files[o->nfiles++] = optarg;
			file_mode = 1;
			break;
		case OPT_SAMPLE_INDEX:
			if (cp_files_sample_index_option(optarg, &o->sample_index))
				return CP_EXIT_USAGE;
			break;
		case OPT_BY:
			if (cp_top_parse_order(optarg, &o->order))
				return cp_log_usage("--by wants flat or cum, not '%s'", optarg);
			break;
		case OPT_FORMAT:
			if (cp_top_format_option(optarg, &o->format))
				return CP_EXIT_USAGE;
			break;
		case 'n':
			if (cp_top_limit_option(optarg, &o->limit))
				return CP_EXIT_USAGE;
			break;
		case OPT_MAX_SIZE:
			if (cp_args_size(optarg, &o->max_size) || o->max_size == 0)
				return cp_log_usage("--max-size wants a number of bytes > 0, not '%s'", optarg);
			break;
		case OPT_HELP:
			printf(top_usage, cp_selection_usage);
			return CP_EXIT_OK;
		case OPT_GROUP_BY:
			if (strcmp(optarg, "service") && strcmp(optarg, "env") && strcmp(optarg, "version") &&
			    strcmp(optarg, "zone"))
				return cp_log_usage("--group-by wants service, env, version or zone, not '%s'%s", optarg,
						    strcmp(optarg, "instance") == 0
							    ? " (function facts are kept per series, which instances share; "
							      "`cprof-query ls instances` lists them)"
							    : "");
			o->group_by = optarg;
			break;
		case ':':
			return cp_log_usage("option %s needs a value", argv[optind - 1]);
		default:
			return cp_log_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	for (int i = optind; i < argc; i++)
		o->files[o->nfiles++] = argv[i];
	o->sample_type = o->sel.sel.sample_type;
	int status = cp_files_check_mode(file_mode, o->files, o->nfiles, o->sel.given, o->group_by, o->sample_index,
					 o->sel.sel.sample_type);
	if (status >= 0)
		return status;
	if (!file_mode && cp_selection_options_finish(&o->sel))
		return CP_EXIT_USAGE;
	return -1;
}

int cp_cmd_top(int argc, char **argv)
{
	top_options o;
	cp_log_init("cprof-query top");
	int status = parse_options(argc, argv, &o);
	if (status >= 0) {
		cp_selection_options_free(&o.sel);
		free(o.files);
		return status;
	}
	if (!o.nfiles) {
		status = cp_top_db(&o.sel.sel, o.group_by, o.order, o.format, o.limit);
		cp_selection_options_free(&o.sel);
		free(o.files);
		return status;
	}
	status = CP_EXIT_FAILURE;
	cp_top_row *rows = NULL;
	cp_flat *flat = cp_flat_new(0);
	if (!flat) {
		fputs("cprof-query top: out of memory\n", stderr);
		goto out;
	}
	if (cp_files_flatten(flat, o.files, o.nfiles, o.max_size))
		goto out;
	long t = cp_files_sample_index(flat, o.sample_index, o.sample_type);
	if (t < 0)
		goto out;

	size_t nfuncs = cp_flat_nfunctions(flat), nrows = 0;
	rows = malloc((nfuncs + 1) * sizeof *rows);
	if (!rows) {
		fputs("cprof-query top: out of memory\n", stderr);
		goto out;
	}
	for (size_t f = 0; f < nfuncs; f++) {
		int64_t fl = cp_flat_flat(flat, f, (size_t)t), cu = cp_flat_cum(flat, f, (size_t)t);
		if (fl || cu)
			rows[nrows++] = (cp_top_row){cp_flat_function_name(flat, f), fl, cu};
	}
	cp_top_sort(rows, nrows, o.order);
	cp_top_report report = {
		.rows = rows,
		.nrows = nrows,
		.type = cp_flat_type(flat, (size_t)t),
		.unit = cp_flat_unit(flat, (size_t)t),
		.total = cp_flat_total_abs(flat, (size_t)t),
		.nprofiles = cp_flat_nprofiles(flat),
	};
	cp_top_print(stdout, &report, o.format, o.limit);
	if (fflush(stdout) || ferror(stdout)) {
		perror("cprof-query top: writing the result");
		goto out;
	}
	status = CP_EXIT_OK;
out:
	free(rows);
	cp_flat_destroy(flat);
	cp_selection_options_free(&o.sel);
	free(o.files);
	return status;
}
