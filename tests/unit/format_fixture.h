/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the unit tests of user/core/format.c share (format_fixture.c): the time of their
 * events, ::1, and one event of each kind, as the decoder hands them to format.c.
 */
#ifndef EPH_TEST_FORMAT_FIXTURE_H
#define EPH_TEST_FORMAT_FIXTURE_H

#include <stdint.h>

#include "format.h"

/* 2026-11-24T05:18:08.123456789Z */
#define WALL_NS 1795497488123456789ull

extern const uint8_t V6_LO[16];

/* TCP/IPv4: curl (4242) connects from 127.0.0.1:40000 to 127.0.0.2:8080. */
struct eph_rec v4_assign(void);
/* The same connect() failing: no port, no local address known. */
struct eph_rec v4_fail(void);
/* The port of v4_assign going back 1.5 s later. */
struct eph_rec v4_release(void);
/* The same socket had 40000 from bind(127.0.0.1:0): its connect() chooses no port. */
struct eph_rec v4_bound_connect(void);
/* UDP/IPv6: nc (77) binds [2001:db8::1]:0 and gets 50000. */
struct eph_rec v6_bind(void);

#endif /* EPH_TEST_FORMAT_FIXTURE_H */
