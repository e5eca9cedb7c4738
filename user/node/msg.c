// SPDX-License-Identifier: GPL-2.0
/* Run-time messages on stderr, one prefix for all (msg.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "msg.h"

static const char *msg_cmd;

void eph_msg_cmd(const char *cmd)
{
	msg_cmd = cmd;
}

/*
 * Formatted first, then written by one fprintf(): on the unbuffered stderr glibc makes that one
 * write() below BUFSIZ. A message longer than the line buffer is allocated; without memory
 * (the "out of memory" messages are short), its first bytes are said.
 */
static void say(const char *fmt, va_list ap)
{
	char line[1024], *big = NULL;
	va_list again;
	int n;

	va_copy(again, ap);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n >= (int)sizeof(line) && vasprintf(&big, fmt, again) < 0)
		big = NULL;
	va_end(again);
	if (n < 0)
		return;
	fprintf(stderr, "ephtrace%s%s: %s\n", msg_cmd ? " " : "", msg_cmd ? msg_cmd : "",
		big ? big : line);
	free(big);
}

void eph_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(fmt, ap);
	va_end(ap);
}

void eph_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(fmt, ap);
	va_end(ap);
}
