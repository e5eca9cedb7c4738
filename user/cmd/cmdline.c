// SPDX-License-Identifier: GPL-2.0
/* The command line: the options several commands share, the getopt loop, usage errors. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "app.h"
#include "cli.h"
#include "cmdline.h"
#include "commands.h"
#include "container_out.h"
#include "procinfo.h"

/* n bytes of s as typed, but control bytes (newline, ESC, ...) as \xNN. */
static void put_arg(FILE *f, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && s[i]; i++) {
		unsigned char c = s[i];

		if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
}

int eph_bad_value(const char *cmd, const char *what, const char *val, const char *why)
{
	fprintf(stderr, "ephtrace %s: invalid %s '", cmd, what);
	put_arg(stderr, val, strlen(val));
	fprintf(stderr, "': %s\n", why);
	return EXIT_USAGE;
}

/*
 * Where getopt_long (glibc) leaves the option it refused: a long option, or a short one at the
 * end of its cluster, is argv[optind - 1] (optind has moved past it), but an unknown short
 * option inside a cluster ("-x4") leaves optind on the cluster. optopt is the short option,
 * the val of a long one given a value it does not take ("--json=1"), or 0 for an unknown long
 * option. Long options are named as typed, up to '='.
 */
int eph_bad_option(const char *cmd, int opt, char **argv)
{
	const char *word = argv[optind - 1], *cur = argv[optind], *p = NULL;
	char c = (char)optopt;
	bool is_long;

	if (opt == '?' && cur && cur[0] == '-' && cur[1] != '-' && optopt > 0 && optopt < 256)
		p = strchr(cur + 1, optopt);
	is_long = !(p && p[1]) && word[0] == '-' && word[1] == '-';
	fprintf(stderr, "ephtrace %s: %s '", cmd,
		opt == ':' || (is_long && optopt) ? "option" : "unknown option");
	if (is_long) {
		put_arg(stderr, word, strcspn(word, "="));
	} else {
		fputc('-', stderr);
		put_arg(stderr, &c, 1);
	}
	if (opt == ':')
		fputs("' needs a value\n", stderr);
	else if (is_long && optopt)
		fputs("' takes no value\n", stderr);
	else
		fprintf(stderr, "' (see ephtrace %s --help)\n", cmd);
	return EXIT_USAGE;
}

int eph_bad_arg(const char *cmd, const char *arg)
{
	fprintf(stderr, "ephtrace %s: unexpected argument '", cmd);
	put_arg(stderr, arg, strlen(arg));
	fputs("'\n", stderr);
	return EXIT_USAGE;
}

int eph_bad_command(const char *name)
{
	fputs("ephtrace: unknown command '", stderr);
	put_arg(stderr, name, strlen(name));
	fputs("' (see ephtrace --help)\n", stderr);
	return EXIT_USAGE;
}

/* The loader's options (EPH_LOADER_LONGOPTS), -v included. */
static int loader_opt(const char *cmd, int opt, const char *arg, struct eph_loader_opts *lo)
{
	uint64_t v;

	switch (opt) {
	case OPT_BACKEND:
		lo->backend = eph_backend_parse(arg);
		if (lo->backend < 0)
			return eph_bad_value(cmd, "backend", arg,
					     "auto, fentry, kprobe, cgroup or tracepoint");
		return 1;
	case OPT_RINGBUF:
		if (eph_parse_size(arg, 4096, 1u << 30, &v) || (v & (v - 1)))
			return eph_bad_value(cmd, "ring buffer size", arg,
					     "a power of two from 4K to 1G");
		lo->ringbuf_size = v;
		return 1;
	case OPT_MAX_HOLDS:
		if (eph_parse_u64(arg, 64, 16777216, &v))
			return eph_bad_value(cmd, "max holds", arg, "a number from 64 to 16777216");
		lo->max_holds = v;
		return 1;
	case OPT_BTF:
		if (!*arg)
			return eph_bad_value(cmd, "BTF file", arg, "empty");
		lo->btf_path = arg;
		return 1;
	case OPT_EXACT_ERRORS:
		lo->exact_errors = true;
		return 1;
	case 'v':
		lo->verbose = true;
		return 1;
	}
	return 0;
}

/* --container ID, --pod NAME */
static int ct_opt(const char *cmd, int opt, const char *arg, struct eph_ct_filter *f)
{
	switch (opt) {
	case OPT_CONTAINER:
		if (eph_ct_filter__set_id(f, arg))
			return eph_bad_value(cmd, "container id", arg,
					     "hexadecimal digits, 1 to 64 of them");
		return 1;
	case OPT_POD:
		if (eph_ct_filter__set_pod(f, arg))
			return eph_bad_value(cmd, "pod", arg, "NAME or NAMESPACE/NAME");
		return 1;
	}
	return 0;
}

/* --node-root DIR: sets eph_node_root */
static int node_opt(const char *cmd, int opt, const char *arg)
{
	struct stat st;

	if (opt != OPT_NODE_ROOT)
		return 0;
	if (!*arg || stat(arg, &st) || !S_ISDIR(st.st_mode))
		return eph_bad_value(cmd, "node root", arg, "not a directory");
	eph_node_root = arg;
	return 1;
}

/* -i SECONDS and -n COUNT of the commands that print every interval */
static int interval_opt(const char *cmd, int opt, const char *arg, struct eph_interval *iv)
{
	switch (opt) {
	case 'i':
		if (eph_parse_seconds(arg, 86400, &iv->interval_ms) || iv->interval_ms < 10)
			return eph_bad_value(cmd, "interval", arg, "seconds, from 0.01 to 86400");
		return 1;
	case 'n':
		if (eph_parse_u64(arg, 1, UINT32_MAX, &iv->count))
			return eph_bad_value(cmd, "count", arg, "a number from 1 to 4294967295");
		return 1;
	}
	return 0;
}

/* --json, -l/--limit, --max-ports */
static int view_opt(const struct eph_cmdline *cl, int opt, const char *arg)
{
	uint64_t v;

	if (opt == OPT_JSON && cl->json) {
		*cl->json = true;
		return 1;
	}
	if (opt == 'l' && cl->limit) {
		if (eph_parse_u64(arg, 0, 1000000, cl->limit))
			return eph_bad_value(cl->cmd, "limit", arg, "a number from 0 to 1000000");
		return 1;
	}
	if (opt == OPT_MAX_PORTS && cl->max_ports) {
		if (eph_parse_u64(arg, 1, 1u << 24, &v))
			return eph_bad_value(cl->cmd, "max-ports", arg,
					     "a number from 1 to 16777216");
		*cl->max_ports = v;
		return 1;
	}
	return 0;
}

/* One of the shared options cl names: 1 = taken, 0 = not one of them, 2 = bad value (printed). */
static int shared_opt(const struct eph_cmdline *cl, int opt, const char *arg)
{
	int taken = 0;

	if (cl->lo)
		taken = loader_opt(cl->cmd, opt, arg, cl->lo);
	if (!taken && cl->iv)
		taken = interval_opt(cl->cmd, opt, arg, cl->iv);
	if (!taken && cl->ctf)
		taken = ct_opt(cl->cmd, opt, arg, cl->ctf);
	if (!taken && cl->node_root)
		taken = node_opt(cl->cmd, opt, arg);
	if (!taken)
		taken = view_opt(cl, opt, arg);
	return taken;
}

int eph_cmdline_parse(const struct eph_cmdline *cl, int argc, char **argv)
{
	int opt;

	opterr = 0;
	optind = 0; /* glibc: a full restart, also of a cluster left half read */
	while ((opt = getopt_long(argc, argv, cl->optstring, cl->longopts, NULL)) != -1) {
		int taken = shared_opt(cl, opt, optarg) ?: cl->opt(cl->ctx, opt, optarg, argv);

		if (taken == 1)
			continue;
		if (taken)
			return taken;
		if (opt == 'h') {
			fputs(cl->usage, stdout);
			return 0;
		}
		return eph_bad_option(cl->cmd, opt, argv);
	}
	if (optind < argc)
		return eph_bad_arg(cl->cmd, argv[optind]);
	return eph_parse_only ? 0 : -1;
}
