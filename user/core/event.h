/* SPDX-License-Identifier: GPL-2.0 */
/* Decoded events and the names of their fields. No libbpf here (user/core/: see
 * ARCHITECTURE.md). */
#ifndef EPH_EVENT_H
#define EPH_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct eph_container;

#include "ephtrace_user.h"

/* One event as user space sees it: the kernel's record plus its wall-clock time. */
struct eph_rec {
	struct eph_event ev;
	uint64_t wall_ns; /* CLOCK_REALTIME, ns since the epoch */
	/* The process's container or pod, when the command looked it up (procinfo.h); NULL:
	 * a host process, or not looked up. eph_decode() sets NULL. */
	const struct eph_container *ct;
};

/*
 * Check and convert one ring-buffer record. mono_to_wall_ns is CLOCK_REALTIME minus
 * CLOCK_MONOTONIC, taken once at start-up. Returns 0, or -EINVAL when the record is not a
 * well-formed struct eph_event (wrong size, unknown type/op/proto/family/backend, a failure
 * without a positive errno or another type with one, EPH_CONNECT other than a connect());
 * *out is then left untouched. op may be EPH_OP_NONE (releases, TIME_WAIT moves). data needs no
 * alignment and does not overlap *out. comm and pcomm are always NUL-terminated in *out.
 */
int eph_decode(const void *data, size_t size, int64_t mono_to_wall_ns, struct eph_rec *out);

/* The name of the event's process: pcomm (the thread group leader's comm), or comm (the
 * thread's) on a record without one (pcomm empty: a synthetic or replayed record). What every
 * per-process table, label and column shows; NUL-terminated on a decoded record. */
const char *eph_proc_comm(const struct eph_event *ev);

/* Names used in JSON and text. Each returns NULL for a value it does not know. */
/* "assign" "fail" "release" "time_wait" "bound_connect" */
const char *eph_type_name(uint8_t type);
const char *eph_op_name(uint8_t op);	       /* "connect" "bind" "sendmsg" "listen" */
const char *eph_proto_name(uint8_t proto);     /* "tcp" "udp" */
const char *eph_family_name(uint8_t family);   /* "ipv4" "ipv6" */
const char *eph_backend_name(uint8_t backend); /* "auto" "fentry" "kprobe" "tracepoint" "cgroup" */
/* Backend by name; -1 if unknown. */
int eph_backend_parse(const char *name);

/* "EADDRNOTAVAIL" for 99; "E<n>" (written into buf, and buf returned) for an errno without a
 * name, 0 and negative values included. */
const char *eph_errno_name(int err, char *buf, size_t len);

/* Address as text (inet_ntop); family AF_INET uses addr[0..3]. Returns 0, -EINVAL (family is
 * neither AF_INET nor AF_INET6) or -ENOSPC (buf too small; INET6_ADDRSTRLEN always fits). */
int eph_addr_str(uint8_t family, const uint8_t addr[16], char *buf, size_t len);

#endif
