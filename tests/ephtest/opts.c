// SPDX-License-Identifier: GPL-2.0
/* ephtest's command line (opts.h). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ephtest.h"
#include "hookplan.h"
#include "opts.h"

void usage(FILE *f)
{
	fprintf(f,
		"Usage: ephtest [--ephtrace PATH] [--backend B] [--scenario NAME]... [--list]\n"
		"               [--keep] [--verbose] [--timeout SECONDS]\n"
		"       ephtest --workload-only SCENARIO\n"
		"Runs workloads in private network namespaces with ephtrace alongside and\n"
		"compares ephtrace's JSON with what the kernel returned to the workload.\n"
		"  --ephtrace PATH        ephtrace binary (default ./ephtrace)\n"
		"  --backend B            auto|fentry|kprobe|cgroup|tracepoint (default auto)\n"
		"  --expect-backend B     fail unless ephtrace attaches backend B\n"
		"  --exact-errors         give ephtrace --exact-errors (cgroup backend)\n"
		"  --perfbuf              ephtrace's records through the perf buffer, not the ring\n"
		"                         buffer (EPH_TEST_PERFBUF=1 in its environment)\n"
		"  --nested               the *_nested twin programs do the work of the hooks that\n"
		"                         have them (EPH_TEST_NESTED=1 in its environment)\n"
		"  --stand-in FN[,FN...]  these hooked functions unattachable in both fentry and\n"
		"                         kprobe (EPH_TEST_UNATTACHABLE): with --backend auto, the\n"
		"                         tracepoint stand-ins of their groups do their work\n"
		"  --then-exact           then run again, with --exact-errors, the scenarios the\n"
		"                         cgroup backend skipped for want of it\n"
		"  --scenario NAME        run only NAME (repeatable; default: all, see --list)\n"
		"  --core                 only the core scenarios (marked * by --list): the extra VM\n"
		"                         cells' set\n"
		"  --keep                 keep ephtrace's output and the oracle in a directory\n"
		"  --verbose              print every JSON line and ephtrace's stderr\n"
		"  --timeout SECONDS      attach/exit timeout (default 60; workloads get 5x)\n"
		"  --seed N               headroom-random's state from seed N (default: from the\n"
		"                         clock; the scenario's line names the seed it drew)\n"
		"  --states N             headroom-random checks N states, one after the other\n"
		"                         (with --seed S: seeds S to S+N-1; default 1)\n"
		"  --workload-only NAME   run the workload alone, print the oracle as JSON lines\n"
		"  --tracer-env           print what the options above put in every ephtrace's\n"
		"                         environment (NAME=VALUE lines), and exit\n"
		"EXAMPLES:\n"
		"  ephtest --backend tracepoint --ephtrace ./ephtrace\n"
		"  ephtest --scenario v4-connect --scenario bind0 --verbose\n");
}

const char *stand_in;

/* the groups of the --stand-in list (set_stand_in()) */
static unsigned int stand_in_groups;

bool stand_in_group(unsigned int group)
{
	return stand_in_groups & group;
}

/* --stand-in: every ephtrace started inherits EPH_TEST_UNATTACHABLE (user/node/attach.c) */
static int set_stand_in(const char *list)
{
	char env[1024];
	const char *fn, *end;
	size_t n = 0;

	for (fn = list; *fn; fn = *end ? end + 1 : end) {
		char name[64];
		unsigned int group;

		end = strchrnul(fn, ',');
		if (end == fn || n >= sizeof(env))
			break;
		snprintf(name, sizeof(name), "%.*s", (int)(end - fn), fn);
		group = eph_hook_group(name);
		if (!group) {
			fprintf(stderr, "ephtest: --stand-in: '%s' is not a hooked function\n", name);
			return -EINVAL;
		}
		stand_in_groups |= group;
		n += snprintf(env + n, sizeof(env) - n, "%sfentry/%.*s,kprobe/%.*s", n ? "," : "",
			      (int)(end - fn), fn, (int)(end - fn), fn);
	}
	if (*fn || !n || n >= sizeof(env)) {
		fprintf(stderr, "ephtest: bad --stand-in '%s'\n", list);
		return -EINVAL;
	}
	setenv("EPH_TEST_UNATTACHABLE", env, 1);
	stand_in = list;
	return 0;
}

/* --tracer-env: what the options put in every ephtrace's environment, NAME=VALUE a line (for
 * tests/vm/init's ephtrace -v run, which shows the hooks of the cell); then exit 0. */
static void print_tracer_env(void)
{
	static const char *const names[] = { "EPH_TEST_PERFBUF", "EPH_TEST_NESTED",
					     "EPH_TEST_UNATTACHABLE" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (getenv(names[i]))
			printf("%s=%s\n", names[i], getenv(names[i]));
	exit(0);
}

int parse_opts(int argc, char **argv, struct opts *op)
{
	static const struct option longopts[] = {
		{ "ephtrace", required_argument, NULL, 'e' },
		{ "backend", required_argument, NULL, 'b' },
		{ "expect-backend", required_argument, NULL, 'x' },
		{ "exact-errors", no_argument, NULL, 'E' },
		{ "perfbuf", no_argument, NULL, 'P' },
		{ "nested", no_argument, NULL, 'N' },
		{ "stand-in", required_argument, NULL, 'I' },
		{ "then-exact", no_argument, NULL, 'T' },
		{ "scenario", required_argument, NULL, 's' },
		{ "core", no_argument, NULL, 'C' },
		{ "list", no_argument, NULL, 'l' },
		{ "keep", no_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "timeout", required_argument, NULL, 't' },
		{ "workload-only", required_argument, NULL, 'w' },
		{ "seed", required_argument, NULL, 'S' },
		{ "states", required_argument, NULL, 'R' },
		{ "tracer-env", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	bool tracer_env = false;
	unsigned long lu;
	char *end;
	size_t i;
	int c;

	while ((c = getopt_long(argc, argv, "e:b:s:Clkvt:w:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			op->ephtrace = optarg;
			break;
		case 'b':
			op->backend = optarg;
			break;
		case 'x':
			op->expect_backend = optarg;
			break;
		case 'E':
			tracer_extra_arg = "--exact-errors";
			break;
		case 'T':
			op->then_exact = true;
			break;
		case 'P': /* every ephtrace started inherits it (user/node/evbuf.c) */
			setenv("EPH_TEST_PERFBUF", "1", 1);
			break;
		case 'N': /* likewise (user/node/loader.c, bpf/nest.bpf.h) */
			setenv("EPH_TEST_NESTED", "1", 1);
			break;
		case 'I':
			if (set_stand_in(optarg))
				return -EINVAL;
			break;
		case 's':
			if (!scenario_find(optarg)) {
				fprintf(stderr, "ephtest: unknown scenario '%s' (see --list)\n",
					optarg);
				return -EINVAL;
			}
			if (op->nr_selected == MAX_SELECTED) {
				fprintf(stderr, "ephtest: too many --scenario\n");
				return -EINVAL;
			}
			op->selected[op->nr_selected++] = optarg;
			break;
		case 'C':
			op->core = true;
			break;
		case 'l':
			for (i = 0; i < nr_scenarios; i++)
				printf("%-18s %c %s\n", scenarios[i].name,
				       scenarios[i].core ? '*' : ' ', scenarios[i].desc);
			exit(0);
		case 'k':
			op->keep = true;
			break;
		case 'v':
			op->verbose = true;
			break;
		case 't':
			op->timeout_s = atoi(optarg);
			if (op->timeout_s <= 0) {
				fprintf(stderr, "ephtest: bad --timeout '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case 'w':
			if (!scenario_find(optarg)) {
				fprintf(stderr, "ephtest: unknown scenario '%s' (see --list)\n",
					optarg);
				return -EINVAL;
			}
			op->workload_only = optarg;
			break;
		case 'S':
			errno = 0;
			op->seed = strtoull(optarg, &end, 0);
			if (errno || end == optarg || *end) {
				fprintf(stderr, "ephtest: bad --seed '%s'\n", optarg);
				return -EINVAL;
			}
			op->seeded = true;
			break;
		case 'R':
			errno = 0;
			lu = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || !lu || lu > 100000) {
				fprintf(stderr, "ephtest: bad --states '%s' (1 to 100000)\n",
					optarg);
				return -EINVAL;
			}
			op->states = lu;
			break;
		case 'V':
			tracer_env = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ephtest: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (tracer_env)
		print_tracer_env();
	return 0;
}

bool selected(const struct opts *op, const char *name)
{
	const struct scenario *s = scenario_find(name);
	int i;

	if (op->core && !(s && s->core))
		return false;
	if (!op->nr_selected)
		return true;
	for (i = 0; i < op->nr_selected; i++)
		if (!strcmp(op->selected[i], name))
			return true;
	return false;
}

void make_keep_dir(struct opts *op)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(op->keep_dir, sizeof(op->keep_dir), "%s/ephtest.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(op->keep_dir)) {
		fprintf(stderr, "ephtest: --keep: cannot create %s: %s\n", op->keep_dir,
			strerror(errno));
		op->keep_dir[0] = '\0';
	}
}
