// SPDX-License-Identifier: GPL-2.0
/* Unit tests of user/node/netns.c (and the /proc parsers of user/node/sockdiag.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "netns.h"
#include "sockdiag.h" /* only its inline parsers: sockdiag.c is not linked here */

static bool bit(const uint8_t *bitmap, unsigned int p)
{
	return bitmap[p / 8] & (1u << (p % 8));
}

static void test_port_range(void **state)
{
	uint16_t lo = 1, hi = 2;

	(void)state;
	assert_int_equal(eph_parse_port_range("32768\t60999\n", &lo, &hi), 0);
	assert_int_equal(lo, 32768);
	assert_int_equal(hi, 60999);
	assert_int_equal(eph_parse_port_range("40000 41999", &lo, &hi), 0);
	assert_int_equal(lo, 40000);
	assert_int_equal(hi, 41999);
	assert_int_equal(eph_parse_port_range("1\t65535\n", &lo, &hi), 0);
	assert_int_equal(lo, 1);
	assert_int_equal(hi, 65535);
	assert_int_equal(eph_parse_port_range("5000\t5000\n", &lo, &hi), 0);
	assert_int_equal(hi - lo, 0);

	lo = hi = 7;
	assert_int_equal(eph_parse_port_range("", &lo, &hi), -EINVAL);
	assert_int_equal(eph_parse_port_range("40000", &lo, &hi), -EINVAL);
	assert_int_equal(eph_parse_port_range("40000\t", &lo, &hi), -EINVAL);
	assert_int_equal(eph_parse_port_range("41999\t40000\n", &lo, &hi), -EINVAL);
	assert_int_equal(eph_parse_port_range("0\t100\n", &lo, &hi), -EINVAL);
	assert_int_equal(eph_parse_port_range("1\t65536\n", &lo, &hi), -EINVAL);
	assert_int_equal(eph_parse_port_range("1\t2\t3\n", &lo, &hi), -EINVAL);
	assert_int_equal(eph_parse_port_range("1\t2\n\n", &lo, &hi), -EINVAL);
	assert_int_equal(eph_parse_port_range("-1\t2\n", &lo, &hi), -EINVAL);
	assert_int_equal(eph_parse_port_range("1x\t2\n", &lo, &hi), -EINVAL);
	assert_int_equal(lo, 7); /* untouched on error */
	assert_int_equal(hi, 7);
}

static void test_reserved_ports(void **state)
{
	uint8_t *bm = calloc(1, EPH_PORT_BITMAP_BYTES);

	(void)state;
	assert_non_null(bm);
	assert_int_equal(eph_parse_reserved_ports("40100-40199,40500\n", bm), 0);
	assert_int_equal(eph_port_bitmap_count(bm, 0, 65535), 101);
	assert_int_equal(eph_port_bitmap_count(bm, 40000, 41999), 101);
	assert_int_equal(eph_port_bitmap_count(bm, 40000, 40499), 100);
	assert_int_equal(eph_port_bitmap_count(bm, 40150, 40150), 1);
	assert_int_equal(eph_port_bitmap_count(bm, 40200, 40499), 0);
	assert_false(bit(bm, 40099));
	assert_true(bit(bm, 40100));
	assert_true(bit(bm, 40199));
	assert_false(bit(bm, 40200));
	assert_true(bit(bm, 40500));

	memset(bm, 0, EPH_PORT_BITMAP_BYTES);
	assert_int_equal(eph_parse_reserved_ports("", bm), 0);
	assert_int_equal(eph_parse_reserved_ports("\n", bm), 0);
	assert_int_equal(eph_port_bitmap_count(bm, 0, 65535), 0);
	/* the kernel's own format has no overlaps, but a repeat must not count twice */
	assert_int_equal(eph_parse_reserved_ports("0,65535,10-12,11\n", bm), 0);
	assert_int_equal(eph_port_bitmap_count(bm, 0, 65535), 5);
	assert_true(bit(bm, 0));
	assert_true(bit(bm, 65535));

	assert_int_equal(eph_parse_reserved_ports("5-3\n", bm), -EINVAL);
	assert_int_equal(eph_parse_reserved_ports("65536\n", bm), -EINVAL);
	assert_int_equal(eph_parse_reserved_ports("1,,2\n", bm), -EINVAL);
	assert_int_equal(eph_parse_reserved_ports("1,\n", bm), -EINVAL);
	assert_int_equal(eph_parse_reserved_ports("1-\n", bm), -EINVAL);
	assert_int_equal(eph_parse_reserved_ports("1 2\n", bm), -EINVAL);
	assert_int_equal(eph_parse_reserved_ports("a\n", bm), -EINVAL);
	free(bm);
}

static void test_sysctl_u32(void **state)
{
	uint32_t v = 7;

	(void)state;
	assert_int_equal(eph_parse_sysctl_u32("2\n", 255, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(eph_parse_sysctl_u32("0\n", 255, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(eph_parse_sysctl_u32("255", 255, &v), 0);
	assert_int_equal(v, 255);
	assert_int_equal(eph_parse_sysctl_u32("1000\n", UINT32_MAX, &v), 0);
	assert_int_equal(v, 1000);
	assert_int_equal(eph_parse_sysctl_u32("4294967295\n", UINT32_MAX, &v), 0);
	assert_true(v == UINT32_MAX);
	assert_int_equal(eph_parse_sysctl_u32("007\n", 255, &v), 0);
	assert_int_equal(v, 7);

	v = 9;
	assert_int_equal(eph_parse_sysctl_u32("256\n", 255, &v), -EINVAL);
	assert_int_equal(eph_parse_sysctl_u32("4294967296\n", UINT32_MAX, &v), -EINVAL);
	assert_int_equal(eph_parse_sysctl_u32("99999999999999999999\n", UINT32_MAX, &v), -EINVAL);
	assert_int_equal(eph_parse_sysctl_u32("", 255, &v), -EINVAL);
	assert_int_equal(eph_parse_sysctl_u32("\n", 255, &v), -EINVAL);
	assert_int_equal(eph_parse_sysctl_u32("-1\n", 255, &v), -EINVAL);
	assert_int_equal(eph_parse_sysctl_u32(" 1\n", 255, &v), -EINVAL);
	assert_int_equal(eph_parse_sysctl_u32("1 \n", 255, &v), -EINVAL);
	assert_int_equal(eph_parse_sysctl_u32("1\n\n", 255, &v), -EINVAL);
	assert_int_equal(eph_parse_sysctl_u32("1\t2\n", 255, &v), -EINVAL);
	assert_int_equal(eph_parse_sysctl_u32("0x10\n", 255, &v), -EINVAL);
	assert_int_equal(v, 9); /* untouched on error */
}

/* A numeric sysctl of our namespace, -1 when the file is missing. */
static long sysctl_value(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (!f)
		return -1;
	assert_int_equal(fscanf(f, "%ld", &v), 1);
	fclose(f);
	return v;
}

static void test_socket_link(void **state)
{
	uint64_t ino = 5;

	(void)state;
	assert_int_equal(eph_parse_socket_link("socket:[123456]", &ino), 0);
	assert_int_equal(ino, 123456);
	assert_int_equal(eph_parse_socket_link("socket:[18446744073709551615]", &ino), 0);
	assert_true(ino == UINT64_MAX);
	ino = 5;
	assert_int_equal(eph_parse_socket_link("socket:[18446744073709551616]", &ino), -EINVAL);
	assert_int_equal(eph_parse_socket_link("pipe:[123456]", &ino), -EINVAL);
	assert_int_equal(eph_parse_socket_link("anon_inode:[eventfd]", &ino), -EINVAL);
	assert_int_equal(eph_parse_socket_link("/dev/null", &ino), -EINVAL);
	assert_int_equal(eph_parse_socket_link("socket:[12", &ino), -EINVAL);
	assert_int_equal(eph_parse_socket_link("socket:[0]", &ino), -EINVAL);
	assert_int_equal(ino, 5);
}

static void test_cgroup(void **state)
{
	char out[64] = "untouched";

	(void)state;
	assert_int_equal(
		eph_parse_cgroup("0::/user.slice/user-0.slice/session-1.scope\n", out, sizeof(out)),
		0);
	assert_string_equal(out, "/user.slice/user-0.slice/session-1.scope");
	/* hybrid hierarchy: v1 lines first */
	assert_int_equal(eph_parse_cgroup("12:pids:/system.slice\n1:name=systemd:/x\n"
					  "0::/system.slice/nginx.service\n",
					  out, sizeof(out)),
			 0);
	assert_string_equal(out, "/system.slice/nginx.service");
	assert_int_equal(eph_parse_cgroup("0::/", out, sizeof(out)), 0);
	assert_string_equal(out, "/");
	strcpy(out, "untouched");
	assert_int_equal(eph_parse_cgroup("12:pids:/a\n3:cpu:/b\n", out, sizeof(out)), -ENOENT);
	assert_int_equal(eph_parse_cgroup("", out, sizeof(out)), -ENOENT);
	assert_int_equal(eph_parse_cgroup("10::/a\n", out, sizeof(out)), -ENOENT);
	assert_int_equal(eph_parse_cgroup("0::/0123456789\n", out, 11), -ENAMETOOLONG);
	assert_string_equal(out, "untouched");
	assert_int_equal(eph_parse_cgroup("0::/012345678\n", out, 11), 0);
	assert_string_equal(out, "/012345678");
}

/* The live parts, in our own namespace (no privileges needed). */
static int read_into(void *ctx)
{
	return eph_port_range_read(ctx);
}

static void test_own_namespace(void **state)
{
	struct eph_port_range *r = calloc(1, sizeof(*r)), *r2 = calloc(1, sizeof(*r2));
	struct eph_netns_list *l = eph_netns_list__new();
	const struct eph_netns *self;
	struct stat st;
	long delay;
	size_t i;

	(void)state;
	assert_non_null(r);
	assert_non_null(r2);
	assert_non_null(l);
	assert_int_equal(stat("/proc/self/ns/net", &st), 0);
	assert_int_equal(l->self, st.st_ino);
	self = eph_netns_list__find(l, l->self);
	assert_non_null(self);
	assert_int_equal(self->fd, -1);
	for (i = 1; i < l->n; i++)
		assert_true(l->ns[i - 1].inode < l->ns[i].inode); /* sorted, no duplicates */
	assert_null(eph_netns_list__find(l, 1));

	assert_int_equal(eph_port_range_read(r), 0);
	assert_in_range(r->low, 1, r->high);
	assert_int_equal(r->nreserved, eph_port_bitmap_count(r->reserved, r->low, r->high));
	assert_int_equal(r->tw_reuse, sysctl_value("/proc/sys/net/ipv4/tcp_tw_reuse"));
	assert_int_equal(r->timestamps, sysctl_value("/proc/sys/net/ipv4/tcp_timestamps"));
	delay = sysctl_value("/proc/sys/net/ipv4/tcp_tw_reuse_delay"); /* not in 6.1, 6.12 */
	assert_int_equal(r->tw_reuse_delay_ms, delay < 0 ? 0 : delay);
	assert_int_equal(eph_netns__run(l, self, read_into, r2), 0);
	assert_memory_equal(r, r2, sizeof(*r));
	assert_int_equal(eph_netns__read_range(l, self, r2), 0);
	assert_memory_equal(r, r2, sizeof(*r));
	eph_netns_list__free(l);
	eph_netns_list__free(NULL);
	free(r);
	free(r2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_port_range), cmocka_unit_test(test_reserved_ports),
		cmocka_unit_test(test_sysctl_u32), cmocka_unit_test(test_socket_link),
		cmocka_unit_test(test_cgroup),	   cmocka_unit_test(test_own_namespace),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
