/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the unit tests of user/core/metrics*.c share (metrics_fixture.c): the writer's whole
 * output for an input, and a histogram sample by its key's parts.
 */
#ifndef EPH_TEST_METRICS_FIXTURE_H
#define EPH_TEST_METRICS_FIXTURE_H

#include <stdint.h>

#include "metrics.h"

/* eph_metrics_write() of in, asserted to succeed; the caller frees it. */
char *write_all(const struct eph_metrics_input *in, enum eph_metrics_format fmt);
/* A TCP/IPv4 sample of kind with result in slot, count v, asserted to be added. */
void add_hist(struct eph_hists *h, uint8_t kind, uint8_t result, uint8_t slot, uint64_t v);

#endif /* EPH_TEST_METRICS_FIXTURE_H */
