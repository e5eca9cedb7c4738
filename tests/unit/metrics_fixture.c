// SPDX-License-Identifier: GPL-2.0
/* The helpers the unit tests of user/core/metrics*.c share: see metrics_fixture.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "metrics_fixture.h"

char *write_all(const struct eph_metrics_input *in, enum eph_metrics_format fmt)
{
	struct strbuf sb = STRBUF_INIT;

	assert_int_equal(eph_metrics_write(&sb, in, fmt), 0);
	return sb.buf;
}

void add_hist(struct eph_hists *h, uint8_t kind, uint8_t result, uint8_t slot, uint64_t v)
{
	struct eph_hist_key k = { .kind = kind,
				  .proto = IPPROTO_TCP,
				  .family = AF_INET,
				  .result = result,
				  .slot = slot };

	assert_int_equal(eph_hists__add(h, &k, v), 0);
}
