// SPDX-License-Identifier: GPL-2.0
/* ephtrace: who takes ephemeral ports, how close each destination is to running out, and why a
 * connect() or bind() failed. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "cmdline.h"
#include "commands.h"
#include "msg.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	bool until_stopped; /* runs until SIGINT/SIGTERM: catch them from the start */
	const char *help;
} commands[] = {
	{ "top", cmd_top, true,
	  "live view: ports held per destination and process, forecast (default)" },
	{ "events", cmd_events, true, "stream of port assignments, failures and releases" },
	{ "hist", cmd_hist, true, "histograms of port search, port choice and hold times" },
	{ "serve", cmd_serve, true, "Prometheus metrics over HTTP (/metrics, /healthz)" },
	{ "status", cmd_status, false,
	  "ports held now per destination and process, one shot (no tracing)" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: ephtrace [COMMAND] [OPTIONS]   (default command: top)\n\n"
		   "Commands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nephtrace COMMAND --help shows the options of a command.\n");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
			usage(stdout);
			return 0;
		}
		if (argc >= 2 && !strcmp(argv[1], "--version")) {
			printf("ephtrace %s\n", EPH_VERSION);
			return 0;
		}
		argv[0] = "top";
		eph_msg_cmd("top");
		eph_signals_init();
		return cmd_top(argc, argv);
	}
	if (!strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name))
			continue;
		eph_msg_cmd(commands[i].name);
		if (commands[i].until_stopped)
			eph_signals_init();
		return commands[i].fn(argc - 1, argv + 1);
	}
	return eph_bad_command(argv[1]);
}
