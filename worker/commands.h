/* commands: the subcommands of cprof-worker. Each takes the arguments after its name (argv[0]
 * is the subcommand) and returns the exit status: 0 success, 1 failure (a message on stderr
 * says what and where), 2 a wrong command line. */
#ifndef CP_WORKER_COMMANDS_H
#define CP_WORKER_COMMANDS_H

enum { CP_WORKER_OK = 0, CP_WORKER_FAILURE = 1, CP_WORKER_USAGE = 2 };

int cp_worker_migrate(int argc, char **argv);
int cp_worker_load(int argc, char **argv);
int cp_worker_run(int argc, char **argv);
int cp_worker_maintain(int argc, char **argv);

/* The database to use: --pg's value, else $CPROF_PG, else libpq's defaults (""). */
const char *cp_worker_conninfo(const char *flag_value);

#endif
