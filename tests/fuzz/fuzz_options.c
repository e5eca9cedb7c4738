// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the command line. The input is argv, words separated by NUL bytes; the
 * first word names the command (top, events, hist, status, serve), else it is top's first
 * option, as for "ephtrace -i 5". Each command runs with eph_parse_only set, so it returns
 * after parsing and loads nothing. Promised, whatever the words:
 *   - status 0 or 2, and the same status and output when parsed again (getopt's state is
 *     reset between runs);
 *   - 2: exactly one line on stderr, with no control byte in it, and nothing on stdout;
 *   - 0: nothing on stderr; on stdout either nothing (the command would run) or its usage;
 *   - no leak (LeakSanitizer), no read outside a word (each is its own allocation).
 * Each word is also given to the value parsers of cli.c and to eph_backend_parse(), whose
 * results are checked against a second, simpler implementation.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "cli.h"
#include "commands.h"
#include "event.h"
#include "fuzz_util.h"

#define MAX_WORDS 64

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "top", cmd_top },	  { "events", cmd_events }, { "hist", cmd_hist },
	{ "status", cmd_status }, { "serve", cmd_serve },
};

struct run {
	int ret;
	char *out, *err;
	size_t out_len, err_len;
};

/* The words of data (each NUL ends one) as separate allocations, argv[0] = the command. */
static int split(const uint8_t *data, size_t size, char **argv, int (**fn)(int, char **))
{
	size_t i = 0, j;
	int argc = 1;

	*fn = cmd_top;
	argv[0] = strdup("top");
	while (i < size && argc < MAX_WORDS) {
		const uint8_t *end = memchr(data + i, 0, size - i);
		size_t len = end ? (size_t)(end - (data + i)) : size - i;
		char *w = strndup((const char *)data + i, len);
		bool first = i == 0;

		if (!w || !argv[0])
			abort();
		i += len + 1;
		for (j = 0; first && j < sizeof(commands) / sizeof(commands[0]); j++) {
			if (!strcmp(w, commands[j].name))
				break;
		}
		if (first && j < sizeof(commands) / sizeof(commands[0])) {
			*fn = commands[j].fn;
			free(argv[0]);
			argv[0] = w;
			continue;
		}
		argv[argc++] = w;
	}
	argv[argc] = NULL;
	return argc;
}

static void run_once(const uint8_t *data, size_t size, struct run *r)
{
	FILE *real_out = stdout, *real_err = stderr, *out, *err;
	char *argv[MAX_WORDS + 1];
	int (*fn)(int, char **);
	int argc, i;

	argc = split(data, size, argv, &fn);
	out = open_memstream(&r->out, &r->out_len);
	err = open_memstream(&r->err, &r->err_len);
	if (!out || !err)
		abort();
	stdout = out;
	stderr = err;
	r->ret = fn(argc, argv);
	stdout = real_out;
	stderr = real_err;
	fclose(out);
	fclose(err);
	/* getopt_long permutes argv: free every word, whatever its place now */
	for (i = 0; i < argc; i++)
		free(argv[i]);
}

static void check_run(const struct run *r, const uint8_t *data, size_t size)
{
	size_t i;

	FUZZ_ASSERT(r->ret == 0 || r->ret == EXIT_USAGE, data, size);
	if (r->ret == EXIT_USAGE) {
		FUZZ_ASSERT(r->out_len == 0, r->out, r->out_len);
		FUZZ_ASSERT(r->err_len > 9 && !strncmp(r->err, "ephtrace ", 9), r->err, r->err_len);
		FUZZ_ASSERT(r->err[r->err_len - 1] == '\n', r->err, r->err_len);
		for (i = 0; i + 1 < r->err_len; i++)
			FUZZ_ASSERT((uint8_t)r->err[i] >= 0x20 && r->err[i] != 0x7f, r->err,
				    r->err_len);
		return;
	}
	FUZZ_ASSERT(r->err_len == 0, r->err, r->err_len);
	FUZZ_ASSERT(r->out_len == 0 || !strncmp(r->out, "Usage: ephtrace ", 16), r->out,
		    r->out_len);
}

/* ---- the value parsers, against a reference ---- */

/* Digits only, no sign, no space; ERANGE beyond 64 bits. */
static int ref_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!n)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
	for (i = 0; i < n; i++) {
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s[i] - '0', &v))
			return -ERANGE;
	}
	*out = v;
	return 0;
}

static void check_u64(const char *s, uint64_t min, uint64_t max)
{
	uint64_t got = 0xdeadbeef, want = 0;
	int err = eph_parse_u64(s, min, max, &got);
	int ref = ref_u64(s, strlen(s), &want);

	if (!ref && (want < min || want > max))
		ref = -ERANGE;
	FUZZ_ASSERT(err == ref, s, strlen(s));
	FUZZ_ASSERT(err ? got == 0xdeadbeef : got == want, s, strlen(s));
}

static void check_size(const char *s, uint64_t min, uint64_t max)
{
	static const char suffix[] = "kKmMgG";
	uint64_t got = 0xdeadbeef, want = 0, mult = 1;
	size_t n = strlen(s);
	const char *k = n ? strchr(suffix, s[n - 1]) : NULL;
	int err = eph_parse_size(s, min, max, &got), ref;

	if (k && *k) {
		mult = 1ull << (10 * (1 + (k - suffix) / 2));
		n--;
	}
	ref = ref_u64(s, n, &want);
	if (!ref && __builtin_mul_overflow(want, mult, &want))
		ref = -ERANGE;
	if (!ref && (want < min || want > max))
		ref = -ERANGE;
	FUZZ_ASSERT(err == ref, s, strlen(s));
	FUZZ_ASSERT(err ? got == 0xdeadbeef : got == want, s, strlen(s));
}

/* WHOLE[.FRACTION], truncated to milliseconds, in (0, max_s] seconds. */
static void check_seconds(const char *s, uint64_t max_s)
{
	uint64_t got = 0xdeadbeef, whole = 0, ms = 0;
	const char *dot = strchr(s, '.');
	size_t n = dot ? (size_t)(dot - s) : strlen(s), i;
	int err = eph_parse_seconds(s, max_s, &got), ref;

	ref = ref_u64(s, n, &whole);
	if (ref != -EINVAL && dot) {
		uint64_t frac;
		size_t len = strlen(dot + 1);

		if (ref_u64(dot + 1, len, &frac) == -EINVAL)
			ref = -EINVAL; /* no digit, a second dot, a suffix... */
		for (i = 1; i <= 3; i++)
			ms = ms * 10 + (i <= len ? dot[i] - '0' : 0);
	}
	if (max_s > UINT64_MAX / 1000)
		max_s = UINT64_MAX / 1000;
	if (!ref && (whole > max_s || (whole == max_s && ms) || (!whole && !ms)))
		ref = -ERANGE;
	FUZZ_ASSERT(err == ref, s, strlen(s));
	if (err) {
		FUZZ_ASSERT(got == 0xdeadbeef, s, strlen(s));
		return;
	}
	/* exact, without wrapping: the milliseconds read back as the same seconds */
	FUZZ_ASSERT(got / 1000 == whole && got % 1000 == ms, s, strlen(s));
}

static void check_backend(const char *s)
{
	int b = eph_backend_parse(s), i;

	for (i = 0; i < 256; i++) {
		const char *name = eph_backend_name(i);

		if (name && !strcmp(name, s)) {
			FUZZ_ASSERT(b == i, s, strlen(s));
			return;
		}
	}
	FUZZ_ASSERT(b == -1, s, strlen(s));
}

static void check_values(const uint8_t *data, size_t size)
{
	size_t i = 0;

	while (i < size) {
		const uint8_t *end = memchr(data + i, 0, size - i);
		size_t len = end ? (size_t)(end - (data + i)) : size - i;
		char *w = strndup((const char *)data + i, len);

		if (!w)
			abort();
		check_u64(w, 0, UINT64_MAX);
		check_u64(w, 1, 4194304);
		check_u64(w, 64, 16777216);
		check_size(w, 0, UINT64_MAX);
		check_size(w, 4096, 1u << 30);
		check_seconds(w, 86400);
		check_seconds(w, 31536000);
		check_seconds(w, UINT64_MAX);
		check_backend(w);
		free(w);
		i += len + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run a = { 0 }, b = { 0 };

	eph_parse_only = true;
	run_once(data, size, &a);
	check_run(&a, data, size);
	run_once(data, size, &b);
	FUZZ_ASSERT(a.ret == b.ret && a.out_len == b.out_len && a.err_len == b.err_len &&
			    !memcmp(a.out, b.out, a.out_len) && !memcmp(a.err, b.err, a.err_len),
		    data, size);
	free(a.out);
	free(a.err);
	free(b.out);
	free(b.err);
	check_values(data, size);
	return 0;
}
