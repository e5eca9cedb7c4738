// SPDX-License-Identifier: GPL-2.0
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "ephbench.h"

static const char usage[] =
	"Usage: ephbench COMMAND [OPTIONS] [+ COMMAND [OPTIONS]]...\n"
	"The benchmarks of `make bench` (tests/bench/run.sh). Each command prints its figures as\n"
	"\"BENCH kind=K where=W key=value...\" lines; \"+\" chains commands in one run (the test\n"
	"VM's /init runs one program).\n"
	"\n"
	"  overhead    a loop's throughput (connect, bind, getppid()), no tracer vs each\n"
	"              tracer, alternating\n"
	"  throughput  highest event rate ephtrace takes without a drop\n"
	"  startup     exec to attached, ephtrace and tcpconnect\n"
	"  memory      RSS of ephtrace top while N ports are held\n"
	"  progcost    what each BPF program of ephtrace costs per connection (bpf_stats)\n"
	"  replay      the aggregation core alone, on synthetic events\n"
	"  meta        the machine: kernel, CPUs, date\n"
	"  report      BENCH lines (files or stdin) to the table\n"
	"COMMAND --help lists its options.\n"
	"\n"
	"EXAMPLES:\n"
	"  ephbench overhead --backend tracepoint --rounds 9\n"
	"  ephbench overhead --workload syscall --backend tracepoint,cgroup --modes events\n"
	"  ephbench startup --backend fentry,kprobe --tcpconnect /usr/sbin/tcpconnect\n"
	"  ephbench report --json results.json raw.txt\n";

static int cmd_meta(int argc, char **argv)
{
	char model[256] = "?", line[512], date[32], q[256];
	const char *where = argc > 2 && !strcmp(argv[1], "--where") ? argv[2] : "host";
	struct utsname u;
	time_t now = time(NULL);
	struct tm tm;
	FILE *f;

	if (argc != 1 && argc != 3) {
		fprintf(stderr, "Usage: ephbench meta [--where NAME]\n");
		return 2;
	}
	uname(&u);
	f = fopen("/proc/cpuinfo", "re");
	while (f && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && p) {
			snprintf(model, sizeof(model), "%s", p + 2);
			model[strcspn(model, "\n")] = '\0';
			break;
		}
	}
	if (f)
		fclose(f);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	bench_quote(q, sizeof(q), model);
	bench_line("meta", where, "kernel=%s cpus=%ld cpu=\"%s\" date=%s", u.release,
		   sysconf(_SC_NPROCESSORS_ONLN), q, date);
	return 0;
}

/* clang-format off */
static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} cmds[] = {
	{ "overhead", cmd_overhead },
	{ "throughput", cmd_throughput },
	{ "startup", cmd_startup },
	{ "memory", cmd_memory },
	{ "progcost", cmd_progcost },
	{ "replay", cmd_replay },
	{ "meta", cmd_meta },
	{ "report", cmd_report },
};
/* clang-format on */

static int run(int argc, char **argv)
{
	unsigned int i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[0], cmds[i].name))
			continue;
		optind = 0; /* glibc: start over, argv is a new vector */
		opterr = 0;
		return cmds[i].fn(argc, argv);
	}
	fprintf(stderr, "ephbench: unknown command '%s'\n%s", argv[0], usage);
	return 2;
}

int main(int argc, char **argv)
{
	int start = 1, i, ret = 0;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	/* COMMAND ARGS [+ COMMAND ARGS]...: every command runs, the worst status is returned */
	for (i = 1; i <= argc; i++) {
		int r;

		if (i < argc && strcmp(argv[i], "+"))
			continue;
		if (i == start) {
			fprintf(stderr, "ephbench: empty command before '+'\n");
			return 2;
		}
		argv[i < argc ? i : argc] = NULL;
		r = run(i - start, argv + start);
		if (r > ret)
			ret = r;
		start = i + 1;
	}
	return ret;
}
