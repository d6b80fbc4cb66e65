/* commands: the subcommands of cprof-query, each an entry point taking the arguments after
 * its name (argv[0] is the subcommand) and returning the process exit status:
 * 0 success, 1 the input or the data was bad (a message on stderr says which and why),
 * 2 the command line was wrong. */
#ifndef CP_QUERY_COMMANDS_H
#define CP_QUERY_COMMANDS_H

enum { CP_EXIT_OK = 0, CP_EXIT_FAILURE = 1, CP_EXIT_USAGE = 2 };

int cp_cmd_top(int argc, char **argv);
int cp_cmd_ls(int argc, char **argv);
int cp_cmd_diff(int argc, char **argv);
int cp_cmd_series(int argc, char **argv);
int cp_cmd_flame(int argc, char **argv);
int cp_cmd_export(int argc, char **argv);

#endif
