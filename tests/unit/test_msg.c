// SPDX-License-Identifier: GPL-2.0
/* user/node/msg.c: every run-time message as "ephtrace CMD: ...", one line, whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "msg.h"

/* What stderr received while fn ran (a temporary file in its place), NUL-terminated. */
static char *captured(void (*fn)(void))
{
	static char got[8192];
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	assert_non_null(f);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_true(dup2(fileno(f), STDERR_FILENO) >= 0);
	fn();
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(f);
	n = fread(got, 1, sizeof(got) - 1, f);
	got[n] = '\0';
	fclose(f);
	return got;
}

static void say_err(void)
{
	eph_err("cannot read %s: %s", "the kernel counters", "Operation not permitted");
}

static void say_note(void)
{
	eph_note("using backend %s (%d programs attached%s)", "tracepoint", 15, "");
}

static void say_lines(void)
{
	eph_err("backend %s: %s\n  %s", "kprobe", "failed", "try --backend cgroup");
}

/* Before main() names the command (the kernel-side tests link the node modules alone). */
static void test_no_command(void **state)
{
	(void)state;
	eph_msg_cmd(NULL);
	assert_string_equal(captured(say_err),
			    "ephtrace: cannot read the kernel counters: Operation not permitted\n");
}

static void test_command(void **state)
{
	(void)state;
	eph_msg_cmd("events");
	assert_string_equal(captured(say_err), "ephtrace events: cannot read the kernel counters: "
					       "Operation not permitted\n");
	eph_msg_cmd("serve");
	assert_string_equal(captured(say_note),
			    "ephtrace serve: using backend tracepoint (15 programs attached)\n");
	/* the lines after the first as the caller indented them */
	assert_string_equal(captured(say_lines),
			    "ephtrace serve: backend kprobe: failed\n  try --backend cgroup\n");
	eph_msg_cmd(NULL);
}

static char long_text[3000];

static void say_long(void)
{
	eph_note("%s.", long_text);
}

/* Longer than the printer's line buffer: allocated, nothing cut. */
static void test_long(void **state)
{
	const char *got;

	(void)state;
	memset(long_text, 'x', sizeof(long_text) - 1);
	eph_msg_cmd("top");
	got = captured(say_long);
	eph_msg_cmd(NULL);
	assert_int_equal(strlen(got), strlen("ephtrace top: ") + sizeof(long_text) - 1 + 2);
	assert_memory_equal(got, "ephtrace top: xxx", 17);
	assert_string_equal(got + strlen(got) - 4, "xx.\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_command),
		cmocka_unit_test(test_command),
		cmocka_unit_test(test_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
