/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The rules of the findings engine (findings_rules.c), for findings.c, which runs them in this
 * order and sorts what they found. Not for other modules: they use findings.h.
 */
#ifndef EPH_FINDINGS_INT_H
#define EPH_FINDINGS_INT_H

#include "findings.h"

/* Each appends the findings of its kind(s) to out. 0 or -ENOMEM. */
int rule_bind_before_connect(const struct eph_find_in *in, struct eph_findings *out);
int rule_range(const struct eph_find_in *in, struct eph_findings *out);
int rule_udp(const struct eph_find_in *in, struct eph_findings *out);
int rule_fixed_port(const struct eph_find_in *in, struct eph_findings *out);
/* time_wait_churn, single_destination and socket_range, which look at one destination each */
int rule_dests(const struct eph_find_in *in, struct eph_findings *out);

#endif
