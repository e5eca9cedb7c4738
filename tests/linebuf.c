// SPDX-License-Identifier: GPL-2.0
/*
 * Linked into the unit tests and the kernel-side tests: their stdout line-buffered even into a
 * pipe, so that under `make test` (whose count reads their output through one, tests/counts.sh)
 * stdout and stderr still come in the order they were written, as on a terminal.
 */
#include <stdio.h>

__attribute__((constructor)) static void eph_test_linebuf(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
}
