// SPDX-License-Identifier: GPL-2.0
/* Decoding of ring-buffer records and the names of their fields. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "event.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Indexed by value; a NULL slot is a value that has no name. */
/* clang-format off */
static const char *const type_names[] = {
	[EPH_ASSIGN] = "assign",
	[EPH_FAIL] = "fail",
	[EPH_RELEASE] = "release",
	[EPH_TIME_WAIT] = "time_wait",
	[EPH_CONNECT] = "bound_connect",
};
/* clang-format on */

static const char *const op_names[] = {
	[EPH_OP_CONNECT] = "connect",
	[EPH_OP_BIND] = "bind",
	[EPH_OP_SENDMSG] = "sendmsg",
	[EPH_OP_LISTEN] = "listen",
};

static const char *const backend_names[] = {
	[EPH_BACKEND_AUTO] = "auto",
	[EPH_BACKEND_FENTRY] = "fentry",
	[EPH_BACKEND_KPROBE] = "kprobe",
	[EPH_BACKEND_TRACEPOINT] = "tracepoint",
	[EPH_BACKEND_CGROUP] = "cgroup",
};

static const char *const proto_names[] = {
	[IPPROTO_TCP] = "tcp",
	[IPPROTO_UDP] = "udp",
};

static const char *const family_names[] = {
	[AF_INET] = "ipv4",
	[AF_INET6] = "ipv6",
};

static const char *name_of(const char *const *names, size_t n, unsigned int v)
{
	return v < n ? names[v] : NULL;
}

const char *eph_type_name(uint8_t type)
{
	return name_of(type_names, ARRAY_SIZE(type_names), type);
}

const char *eph_op_name(uint8_t op)
{
	return name_of(op_names, ARRAY_SIZE(op_names), op);
}

const char *eph_proto_name(uint8_t proto)
{
	return name_of(proto_names, ARRAY_SIZE(proto_names), proto);
}

const char *eph_family_name(uint8_t family)
{
	return name_of(family_names, ARRAY_SIZE(family_names), family);
}

const char *eph_backend_name(uint8_t backend)
{
	return name_of(backend_names, ARRAY_SIZE(backend_names), backend);
}

int eph_backend_parse(const char *name)
{
	size_t i;

	if (!name)
		return -1;
	for (i = 0; i < ARRAY_SIZE(backend_names); i++) {
		if (backend_names[i] && !strcmp(name, backend_names[i]))
			return (int)i;
	}
	return -1;
}

/* op is EPH_OP_NONE on records that no system call caused (a release, a TIME_WAIT move). */
static bool op_valid(uint8_t op)
{
	return op == EPH_OP_NONE || eph_op_name(op);
}

int eph_decode(const void *data, size_t size, int64_t mono_to_wall_ns, struct eph_rec *out)
{
	const uint8_t *p = data;
	uint8_t type, op, proto, family, backend;
	int32_t err;

	if (!data || !out || size != sizeof(out->ev))
		return -EINVAL;
	/* The ring buffer gives no alignment promise a replayed file would keep: the fields that
	 * decide are copied out first, and the record is copied once, when it is valid. */
	memcpy(&type, p + offsetof(struct eph_event, type), sizeof(type));
	memcpy(&op, p + offsetof(struct eph_event, op), sizeof(op));
	memcpy(&proto, p + offsetof(struct eph_event, proto), sizeof(proto));
	memcpy(&family, p + offsetof(struct eph_event, family), sizeof(family));
	memcpy(&backend, p + offsetof(struct eph_event, backend), sizeof(backend));
	memcpy(&err, p + offsetof(struct eph_event, err), sizeof(err));
	if (!eph_type_name(type) || !op_valid(op) || !eph_proto_name(proto) ||
	    !eph_family_name(family) || !eph_backend_name(backend))
		return -EINVAL;
	/* a failure carries the positive errno of the system call; nothing else carries one */
	if (type == EPH_FAIL ? err <= 0 : err != 0)
		return -EINVAL;
	/* only a connect() finds its socket bound already (TCP; UDP: one it moved) */
	if (type == EPH_CONNECT && op != EPH_OP_CONNECT)
		return -EINVAL;
	memcpy(&out->ev, data, sizeof(out->ev));
	out->ev.comm[EPH_COMM_LEN - 1] = '\0';
	out->ev.pcomm[EPH_COMM_LEN - 1] = '\0';
	/* Unsigned arithmetic: a negative offset is a subtraction, and nothing here is UB. */
	out->wall_ns = out->ev.ts_ns + (uint64_t)mono_to_wall_ns;
	out->ct = NULL;
	return 0;
}

const char *eph_proc_comm(const struct eph_event *ev)
{
	return ev->pcomm[0] ? ev->pcomm : ev->comm;
}

const char *eph_errno_name(int err, char *buf, size_t len)
{
	const char *name = err > 0 ? strerrorname_np(err) : NULL;

	if (name)
		return name;
	if (buf && len)
		snprintf(buf, len, "E%d", err);
	return buf;
}

/*
 * inet_ntop()'s IPv4 form, without the sprintf() glibc's inet_ntop4() makes it with: that
 * sprintf() was a third of `events --json`'s time per record.
 */
static int ipv4_str(const uint8_t a[4], char *buf, size_t len)
{
	char out[sizeof("255.255.255.255")], *p = out;
	int i;

	for (i = 0; i < 4; i++) {
		if (i)
			*p++ = '.';
		if (a[i] >= 100)
			*p++ = (char)('0' + a[i] / 100);
		if (a[i] >= 10)
			*p++ = (char)('0' + a[i] / 10 % 10);
		*p++ = (char)('0' + a[i] % 10);
	}
	*p++ = '\0';
	if ((size_t)(p - out) > len)
		return -ENOSPC;
	memcpy(buf, out, (size_t)(p - out));
	return 0;
}

int eph_addr_str(uint8_t family, const uint8_t addr[16], char *buf, size_t len)
{
	if (!addr || !buf || (family != AF_INET && family != AF_INET6))
		return -EINVAL;
	if (family == AF_INET)
		return ipv4_str(addr, buf, len);
	if (len > (socklen_t)-1)
		len = (socklen_t)-1;
	if (!inet_ntop(family, addr, buf, (socklen_t)len))
		return -errno;
	return 0;
}
