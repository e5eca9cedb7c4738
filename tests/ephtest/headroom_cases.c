// SPDX-License-Identifier: GPL-2.0
/*
 * The states of the headroom scenarios with a name of their own (scenarios.c; headroom-random
 * draws its own: headroom_random.c). headroom.c says what a state is and how it is counted.
 */
#include "headroom.h"

/* tcp_tw_reuse 2, TIME_WAIT aged, top from before */
const struct hr_case hr_case_basic = {
	.listen = { { "127.0.0.1", 40021 } },
	.bound = { "127.0.0.2", 40021 },
	.dest = {
		[D_LO_5000] = { .est = 8, .bbc = 3 },
		[D_LO_5001] = { .est = 4, .mapped = 3 },
		[D_LO2_5000] = { .est = 5 },
		[D_LO_5002] = { .tw = 7 },
	},
	.tcp_bind0 = { 9, 2, 0 },
	.udp_conn = 14,
	.udp_bind0 = { 8, 3, 0 },
	.aged = true,
	.top_before = true,
};

/* tcp_tw_reuse 0, TIME_WAIT fresh, top from after */
const struct hr_case hr_case_twreuse0 = {
	.listen = { { "127.0.0.1", 40040 } },
	.dest = {
		[D_LO_5000] = { .est = 5, .bbc = 6 },
		[D_LO_5001] = { .est = 6, .mapped = 2, .tw = 4 },
		[D_LO2_5000] = { .est = 3 },
		[D_LO_5002] = { .tw = 10 },
		[D_V6_5000] = { .est = 4 },
	},
	.tcp_bind0 = { 12, 0, 0 },
	.udp_conn = 20,
	.udp_bind0 = { 5, 0, 1 },
	.aged = false,
	.top_before = false,
};

/* tcp_tw_reuse 1, TIME_WAIT aged, top from before */
const struct hr_case hr_case_twreuse1 = {
	.listen = { { "127.0.0.1", 40007 } },
	.dest = {
		[D_LO_5000] = { .est = 9, .bbc = 1 },
		[D_LO_5001] = { .est = 2, .mapped = 5 },
		[D_LO2_5000] = { .est = 7, .tw = 3 },
		[D_LO_5002] = { .tw = 9 },
	},
	.tcp_bind0 = { 10, 0, 3 },
	.udp_conn = 9,
	.udp_bind0 = { 12, 0, 0 },
	.aged = true,
	.top_before = true,
};

/*
 * 40000-40062, 63 ports; top from after. UDP may take any of them. connect() and bind(0) scan an
 * even number of ports (62) per call, and which end of the range a call leaves out (40000 or
 * 40062) depends on where its scan starts, which moves from call to call: with an end free the
 * kernel's count is 62 or 63 (measured on 6.18: 63 in 37 runs of 40). Listeners on 0.0.0.0 at
 * both ends (they conflict with a bind to any IPv4 address, and their bind buckets stop every
 * connect()) make the TCP counts exact: every call sees 40001-40061.
 */
const struct hr_case hr_case_odd = {
	.listen = { { "0.0.0.0", 40000 }, { "0.0.0.0", 40062 }, { "127.0.0.1", 40017 } },
	.dest = {
		[D_LO_5000] = { .est = 7, .bbc = 4 },
		[D_LO_5001] = { .est = 5, .mapped = 1, .tw = 2 },
		[D_LO2_5000] = { .est = 2 },
		[D_LO_5002] = { .tw = 6 },
	},
	.tcp_bind0 = { 8, 3, 0, 1 },
	.udp_conn = 11,
	.udp_bind0 = { 6, 0, 0 },
	.aged = true,
	.top_before = false,
};

/*
 * 40000-40062 again, with 40000 taken by a bind() to it (then connect(), so no bind scope) and
 * 40062 free: connect() reaches 40062 from 30 of the 31 places its scan can start, and once the
 * even ports it sees are taken it takes 40062 before any odd one, so the count is exact (2 000
 * runs of 2 000 on 6.18): 62 ports, 40001-40062. bind(0) takes odd ports first and 40062 may be
 * its last one: no bind-only socket and no listener in the range here (a bind scope's count
 * would be one short now and then). tcp_tw_reuse 0, fresh TIME_WAIT; top from before.
 */
const struct hr_case hr_case_odd_low = {
	.dest = {
		[D_LO_5000] = { .est = 6, .bbc = 3, .fixed = 40000 },
		[D_LO_5001] = { .est = 4, .mapped = 2 },
		[D_LO2_5000] = { .est = 3, .tw = 2 },
		[D_LO_5002] = { .tw = 5 },
		[D_V6_5000] = { .est = 2 },
	},
	.udp_conn = 8,
	.udp_bind0 = { 7, 0, 2 },
	.aged = false,
	.top_before = true,
};

/* 40010-40013,40040,40051 reserved, a listener on 40011; tcp_tw_reuse 0, aged; top before */
const struct hr_case hr_case_reserved = {
	.listen = { { "127.0.0.1", 40011 }, { "127.0.0.1", 40030 } },
	.dest = {
		[D_LO_5000] = { .est = 6, .bbc = 2 },
		[D_LO_5001] = { .est = 3, .mapped = 4, .tw = 2 },
		[D_LO2_5000] = { .est = 4 },
		[D_LO_5002] = { .tw = 8 },
		[D_V6_5000] = { .est = 5 },
	},
	.tcp_bind0 = { 11, 1, 0 },
	.udp_conn = 7,
	.udp_bind0 = { 10, 2, 0 },
	.aged = true,
	.top_before = true,
};

/*
 * tcp_tw_reuse 2, aged; top from after, never resyncing: then part of the state goes (RST, FIN
 * into TIME_WAIT, bind(0) holders, UDP; headroom_depart.c) and top follows from events alone
 */
const struct hr_case hr_case_departed = {
	.listen = { { "127.0.0.1", 40021 } },
	.bound = { "127.0.0.2", 40021 },
	.dest = {
		[D_LO_5000] = { .est = 7, .bbc = 2, .tw = 2 },
		[D_LO_5001] = { .est = 4, .mapped = 2 },
		[D_LO2_5000] = { .est = 5, .tw = 1 },
		[D_LO_5002] = { .tw = 6 },
	},
	.tcp_bind0 = { 6, 2, 0, 1 },
	.tcp_shared = { 1 },
	.udp_conn = 9,
	.udp_bind0 = { 6, 3, 2 },
	.udp_shared = { 1 },
	.aged = true,
	.departures = true,
};
