/* cmd_flame: `cprof-query flame`: the flame graph of pprof files (merged as `go tool pprof`
 * merges them) or of a selection of what PostgreSQL stores (the read API's cprof.flame_graph),
 * printed as folded stacks for flamegraph.pl and speedscope, or as the data frame Grafana's flame
 * graph panel reads (flame.h). A bad file or selection prints nothing on stdout. */
#define _GNU_SOURCE /* getopt_long */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "cp_args.h"
#include "cp_flat.h"
#include "cp_log.h"
#include "cp_pprof.h"
#include "files.h"
#include "flame.h"
#include "flame_svg.h"
#include "selection.h"

static const char flame_usage[] =
	"usage: cprof-query flame --file FILE... [options]\n"
	"       cprof-query flame [--service S] [--since T] [--until T] [selection] [options]\n"
	"\n"
	"The flame graph of the given pprof profiles (several are merged as `go tool pprof` merges\n"
	"them), or of what PostgreSQL stores for a selection, summed over a time range: a call tree at\n"
	"function granularity, children ordered by name.\n"
	"\n"
	"options:\n"
	"  --file FILE          a profile to read (repeatable; further FILE arguments may follow)\n"
	"  --sample-index N     the sample type by position (files only; default as pprof's)\n"
	"  --sample-type NAME   the sample type by name, e.g. cpu, alloc_space, inuse_objects\n"
	"  --format FORMAT      folded (default): one line 'root;...;leaf VALUE' per stack with a\n"
	"                       self value, the input of flamegraph.pl and speedscope;\n"
	"                       frame: TSV 'level value self label', one row per node in\n"
	"                       depth-first pre-order under a root 'total' at level 0 (value is\n"
	"                       inclusive, self exclusive): the data frame of Grafana's flame graph\n"
	"                       svg: a self-contained SVG flame graph (root at the bottom; hover a\n"
	"                       box for its name, value and share; one colour per package)\n"
	"  --svg                the same as --format svg\n"
	"  --max-size BYTES     refuse profiles larger than this after decompression\n"
	"  --help               this text\n"
	"\n"
	"selection (stored data):\n"
	"%s";

typedef struct {
	const char **files;
	size_t nfiles;
	cp_selection_options sel;
	long sample_index;
	const char *format; /* folded, frame or svg */
	size_t max_size;
} flame_options;

/* Returns -1 to go on, or the exit status to return. */
static int parse_options(int argc, char **argv, flame_options *o)
{
	enum { OPT_FILE = 256, OPT_SAMPLE_INDEX, OPT_FORMAT, OPT_SVG, OPT_MAX_SIZE, OPT_HELP };
	static const struct option longopts[] = {
		{"file", required_argument, NULL, OPT_FILE},	 {"sample-index", required_argument, NULL, OPT_SAMPLE_INDEX},
		{"format", required_argument, NULL, OPT_FORMAT}, {"svg", no_argument, NULL, OPT_SVG},
		{"max-size", required_argument, NULL, OPT_MAX_SIZE},
		{"help", no_argument, NULL, OPT_HELP},		 CP_SELECTION_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	*o = (flame_options){.sample_index = -1, .format = "folded", .max_size = CP_PPROF_DEFAULT_MAX_DECOMPRESSED};
	cp_selection_options_init(&o->sel);
	o->files = calloc((size_t)argc + 1, sizeof *o->files);
	if (!o->files) {
		cp_log("out of memory");
		return CP_EXIT_FAILURE;
	}
	int file_mode = 0, c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
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
		case OPT_FORMAT:
			if (strcmp(optarg, "folded") && strcmp(optarg, "frame") && strcmp(optarg, "svg"))
				return cp_log_usage("--format wants folded, frame or svg, not '%s'", optarg);
			o->format = optarg;
			break;
		case OPT_SVG:
			o->format = "svg";
			break;
		case OPT_MAX_SIZE:
			if (cp_args_size(optarg, &o->max_size) || o->max_size == 0)
				return cp_log_usage("--max-size wants a number of bytes > 0, not '%s'", optarg);
			break;
		case OPT_HELP:
			printf(flame_usage, cp_selection_usage);
			return CP_EXIT_OK;
		case ':':
			return cp_log_usage("option %s needs a value", argv[optind - 1]);
		default:
			return cp_log_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	for (int i = optind; i < argc; i++)
		o->files[o->nfiles++] = argv[i];
	int status = cp_files_check_mode(file_mode, o->files, o->nfiles, o->sel.given, NULL, o->sample_index,
					 o->sel.sel.sample_type);
	if (status >= 0)
		return status;
	if (!file_mode && cp_selection_options_finish(&o->sel))
		return CP_EXIT_USAGE;
	return -1;
}

/* The graph's heading and its values' unit, for the SVG. */
typedef struct {
	char title[512];
	char unit[64];
} flame_meta;

static int flame_of_files(cp_flame *f, const flame_options *o, flame_meta *meta)
{
	int status = -1;
	cp_flat *flat = cp_flat_new(CP_FLAT_STACKS);
	if (!flat) {
		cp_log("out of memory");
		return -1;
	}
	if (cp_files_flatten(flat, o->files, o->nfiles, o->max_size) == 0) {
		long t = cp_files_sample_index(flat, o->sample_index, o->sel.sel.sample_type);
		if (t >= 0 && (status = cp_flame_from_flat(f, flat, (size_t)t)) != 0)
			cp_log("out of memory");
		if (t >= 0) {
			cp_pstr type = cp_flat_type(flat, (size_t)t), unit = cp_flat_unit(flat, (size_t)t);
			snprintf(meta->title, sizeof meta->title, "%.*s of %s%s (%zu profile%s)", (int)type.len, type.ptr,
				 o->files[0], o->nfiles > 1 ? " and others" : "", cp_flat_nprofiles(flat),
				 cp_flat_nprofiles(flat) == 1 ? "" : "s");
			snprintf(meta->unit, sizeof meta->unit, "%.*s", (int)unit.len, unit.ptr);
		}
	}
	cp_flat_destroy(flat);
	return status;
}

static int flame_of_store(cp_flame *f, const cp_selection *sel, flame_meta *meta)
{
	int status = -1;
	PGresult *types = NULL, *r = NULL, *totals = NULL;
	PGconn *conn = cp_selection_connect(sel);
	if (!conn)
		goto out;
	const char *sample_type = cp_selection_sample_type(conn, sel, &types);
	if (!sample_type)
		goto out;
	r = cp_selection_query(conn, "SELECT level, value, self, label FROM cprof.flame_graph($1, $2, $3, $4, $5, $6, $7, $8, $9)",
			       sel, sample_type, NULL, 0, "reading the stacks");
	if (!r)
		goto out;
	if (PQntuples(r) <= 1) {
		cp_selection_log_empty(sel, "");
		goto out;
	}
	totals = cp_selection_query(conn, "SELECT coalesce(sample_unit, ''), profiles FROM cprof.totals($1, $2, $3, $4, $5, $6, $7, $8, $9)",
				    sel, sample_type, NULL, 0, "reading the totals");
	if (!totals)
		goto out;
	char from[64], to[64];
	cp_selection_range_text(sel, from, to);
	snprintf(meta->title, sizeof meta->title, "%s of %s%s%s, %s to %s (%s profiles)", sample_type,
		 sel->service ? sel->service : "the fleet", sel->env ? " in " : "", sel->env ? sel->env : "", from, to,
		 PQntuples(totals) ? PQgetvalue(totals, 0, 1) : "0");
	snprintf(meta->unit, sizeof meta->unit, "%s", PQntuples(totals) ? PQgetvalue(totals, 0, 0) : "");
	for (int i = 0; i < PQntuples(r); i++)
		if (cp_flame_add(f, atoi(PQgetvalue(r, i, 0)), strtoll(PQgetvalue(r, i, 1), NULL, 10),
				 strtoll(PQgetvalue(r, i, 2), NULL, 10), PQgetvalue(r, i, 3), (size_t)PQgetlength(r, i, 3))) {
			cp_log("out of memory");
			goto out;
		}
	status = 0;
out:
	PQclear(totals);
	PQclear(r);
	PQclear(types);
	PQfinish(conn);
	return status;
}

int cp_cmd_flame(int argc, char **argv)
{
	flame_options o;
	cp_log_init("cprof-query flame");
	int status = parse_options(argc, argv, &o);
	if (status < 0) {
		cp_flame f = {NULL, 0, 0};
		flame_meta meta = {"", ""};
		status = CP_EXIT_FAILURE;
		if ((o.nfiles ? flame_of_files(&f, &o, &meta) : flame_of_store(&f, &o.sel.sel, &meta)) == 0) {
			if (strcmp(o.format, "frame") == 0)
				cp_flame_print_frame(stdout, &f);
			else if (strcmp(o.format, "svg") == 0)
				cp_flame_print_svg(stdout, &f, meta.title, meta.unit);
			else
				cp_flame_print_folded(stdout, &f);
			if (!cp_log_results_written())
				status = CP_EXIT_OK;
		}
		cp_flame_free(&f);
	}
	cp_selection_options_free(&o.sel);
	free(o.files);
	return status;
}
