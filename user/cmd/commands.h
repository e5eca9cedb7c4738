/* SPDX-License-Identifier: GPL-2.0 */
/* Subcommands: each takes its own argv (argv[0] = its name) and returns the exit status. */
#ifndef EPH_COMMANDS_H
#define EPH_COMMANDS_H

#define EXIT_USAGE 2

int cmd_events(int argc, char **argv);
int cmd_hist(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_status(int argc, char **argv);

#endif
