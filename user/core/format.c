// SPDX-License-Identifier: GPL-2.0
/* Event lines: JSON (one object per line) and bcc-style text columns. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "container_out.h"
#include "format.h"
#include "jsonw.h"

#define NSEC_PER_SEC UINT64_C(1000000000)
#define ADDR_LEN INET6_ADDRSTRLEN
#define ERRNAME_LEN 16

/*
 * Text columns. Widths fit an IPv4 line (an address is at most 15 characters, an errno name
 * such as EADDRNOTAVAIL 13); a longer IPv6 address pushes the rest of its line to the right
 * instead of being cut.
 */
#define TEXT_FMT "%-8s %-7s %-16s %-5s %-8s %-15s %-5s %-15s %-5s %-13s %s"

int eph_format_json(struct strbuf *sb, const struct eph_rec *r, const char *backend)
{
	const struct eph_event *ev = &r->ev;
	struct jsonw w = { .sb = sb };
	bool held = ev->type == EPH_RELEASE && (ev->flags & EPH_F_HELD);
	const char *errname = NULL;
	size_t start = sb->len;
	char errbuf[ERRNAME_LEN];

	if (!backend)
		backend = eph_backend_name(ev->backend);
	if (ev->err)
		errname = eph_errno_name(ev->err, errbuf, sizeof(errbuf));

	jsonw_raw(&w, "{");
	jsonw_str(&w, "event", eph_type_name(ev->type), SIZE_MAX);
	jsonw_str(&w, "op", eph_op_name(ev->op), SIZE_MAX);
	jsonw_str(&w, "proto", eph_proto_name(ev->proto), SIZE_MAX);
	jsonw_str(&w, "family", eph_family_name(ev->family), SIZE_MAX);
	jsonw_u64(&w, "pid", ev->pid);
	jsonw_u64(&w, "tid", ev->tid);
	jsonw_str(&w, "comm", ev->comm, sizeof(ev->comm));
	jsonw_str(&w, "process_comm", eph_proc_comm(ev), EPH_COMM_LEN);
	jsonw_u64(&w, "cgroup_id", ev->cgroup_id);
	jsonw_u64(&w, "netns", ev->netns);
	jsonw_addr(&w, "saddr", ev->family, ev->flags & EPH_F_SADDR ? ev->saddr : NULL);
	jsonw_u64(&w, "sport", ev->sport);
	jsonw_addr(&w, "daddr", ev->family, ev->flags & EPH_F_DEST ? ev->daddr : NULL);
	jsonw_u64_or_null(&w, "dport", ev->dport, ev->flags & EPH_F_DEST);
	jsonw_u64_or_null(&w, "requested_port", ev->req_port, ev->flags & EPH_F_REQ);
	jsonw_bool(&w, "ephemeral", ev->flags & EPH_F_EPHEMERAL);
	jsonw_bool(&w, "bound", ev->flags & EPH_F_BOUND);
	jsonw_bool(&w, "bind_address_no_port", ev->flags & EPH_F_NO_PORT);
	jsonw_str(&w, "error", errname, SIZE_MAX);
	jsonw_i64(&w, "errno", ev->err);
	jsonw_u64_or_null(&w, "search_ns", ev->search_ns, ev->flags & EPH_F_SEARCH);
	jsonw_u64_or_null(&w, "held_ns", ev->held_ns, held);
	jsonw_time(&w, "time", r->wall_ns);
	jsonw_str(&w, "backend", backend, SIZE_MAX);
	eph_container__json(&w, r->ct);
	jsonw_raw(&w, "}");
	return jsonw_end(&w, start);
}

/*
 * Year, month and day of a day count since 1970-01-01 in the proleptic Gregorian calendar:
 * the days-to-civil algorithm (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms"),
 * counted in 400-year eras starting on March 1st so that the leap day ends the year.
 */
static void civil_from_days(uint64_t days, uint64_t *year, unsigned int *month, unsigned int *day)
{
	uint64_t z = days + 719468; /* days from 0000-03-01 */
	uint64_t era = z / 146097;
	uint64_t doe = z - era * 146097;				      /* [0, 146096] */
	uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
	uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);		      /* [0, 365] */
	uint64_t mp = (5 * doy + 2) / 153; /* [0, 11], March = 0 */

	*day = (unsigned int)(doy - (153 * mp + 2) / 5 + 1);
	*month = (unsigned int)(mp < 10 ? mp + 3 : mp - 9);
	*year = yoe + era * 400 + (*month <= 2);
}

/* v as exactly width digits, right to left. */
static void put_digits(char *p, uint64_t v, int width)
{
	while (width--) {
		p[width] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* Arithmetic instead of gmtime_r + strftime + printf: four times faster, and no locale or
 * time-zone state involved. */
int eph_format_time(struct strbuf *sb, uint64_t wall_ns)
{
	char out[] = "YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ";
	uint64_t sec = wall_ns / NSEC_PER_SEC, rem = sec % 86400, year;
	unsigned int month, day;

	civil_from_days(sec / 86400, &year, &month, &day);
	put_digits(out, year, 4); /* 1970..2554 for any uint64_t */
	put_digits(out + 5, month, 2);
	put_digits(out + 8, day, 2);
	put_digits(out + 11, rem / 3600, 2);
	put_digits(out + 14, rem / 60 % 60, 2);
	put_digits(out + 17, rem % 60, 2);
	put_digits(out + 20, wall_ns % NSEC_PER_SEC, 9);
	return sb_append(sb, out, sizeof(out) - 1);
}

int eph_format_text_header(struct strbuf *sb)
{
	return sb_printf(sb, TEXT_FMT, "TIME", "PID", "COMM", "PROTO", "OP", "LADDR", "LPORT",
			 "RADDR", "RPORT", "RESULT", "SEARCH_US");
}

/* The comm as printable ASCII: a task name may hold escape sequences or stray bytes. */
static void text_comm(const char *comm, char out[EPH_COMM_LEN])
{
	size_t i;

	for (i = 0; i < EPH_COMM_LEN - 1 && comm[i]; i++)
		out[i] = comm[i] >= 0x20 && comm[i] < 0x7f ? comm[i] : '?';
	out[i] = '\0';
}

static void text_addr(const struct eph_event *ev, const uint8_t addr[16], bool known, char *buf,
		      size_t len)
{
	if (!known || eph_addr_str(ev->family, addr, buf, len))
		snprintf(buf, len, "-");
}

static void text_port(uint16_t port, bool known, char *buf, size_t len)
{
	if (known && port)
		snprintf(buf, len, "%u", port);
	else
		snprintf(buf, len, "-");
}

/* Microseconds with two decimals from nanoseconds, or "-"; prefix names what it is. */
static void text_usec(const char *prefix, uint64_t ns, bool known, char *buf, size_t len)
{
	if (known)
		snprintf(buf, len, "%s%" PRIu64 ".%02" PRIu64, prefix, ns / 1000, ns % 1000 / 10);
	else
		snprintf(buf, len, "-");
}

/*
 * One text line. The columns mean:
 *   OP      the system call; '!' in front on a failure; '-' when none (releases).
 *   LPORT/RPORT  '-' when unknown or 0.
 *   RESULT  "ok" for an assignment, the errno name for a failure, "released" for a release,
 *           "time_wait" for a move to TIME_WAIT, "bound" for a connect() on the port bind()
 *           had given the socket (EPH_CONNECT).
 *   SEARCH_US  assign/fail: the port search in microseconds. A release has no search: the
 *           column shows how long the port was held instead, as "held=<microseconds>".
 *           '-' when unknown.
 */
int eph_format_text(struct strbuf *sb, const struct eph_rec *r)
{
	const struct eph_event *ev = &r->ev;
	char laddr[ADDR_LEN], raddr[ADDR_LEN], lport[8], rport[8], pid[16];
	char tbuf[16], op[16], comm[EPH_COMM_LEN], errbuf[ERRNAME_LEN], usec[48];
	const char *opname = eph_op_name(ev->op);
	const char *proto = eph_proto_name(ev->proto);
	const char *result;
	time_t sec = (time_t)(r->wall_ns / NSEC_PER_SEC);
	struct tm tm;

	if (!localtime_r(&sec, &tm) || !strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm))
		snprintf(tbuf, sizeof(tbuf), "-");
	snprintf(pid, sizeof(pid), "%u", ev->pid);
	text_comm(eph_proc_comm(ev), comm); /* the process's name: "dig", not its thread's */
	snprintf(op, sizeof(op), "%s%s", ev->type == EPH_FAIL ? "!" : "", opname ? opname : "-");
	text_addr(ev, ev->saddr, ev->flags & EPH_F_SADDR, laddr, sizeof(laddr));
	text_port(ev->sport, true, lport, sizeof(lport));
	text_addr(ev, ev->daddr, ev->flags & EPH_F_DEST, raddr, sizeof(raddr));
	text_port(ev->dport, ev->flags & EPH_F_DEST, rport, sizeof(rport));

	switch (ev->type) {
	case EPH_ASSIGN:
		result = "ok";
		text_usec("", ev->search_ns, ev->flags & EPH_F_SEARCH, usec, sizeof(usec));
		break;
	case EPH_FAIL:
		result = eph_errno_name(ev->err, errbuf, sizeof(errbuf));
		text_usec("", ev->search_ns, ev->flags & EPH_F_SEARCH, usec, sizeof(usec));
		break;
	case EPH_RELEASE:
		result = "released";
		text_usec("held=", ev->held_ns, ev->flags & EPH_F_HELD, usec, sizeof(usec));
		break;
	case EPH_TIME_WAIT:
		result = "time_wait";
		text_usec("", 0, false, usec, sizeof(usec));
		break;
	case EPH_CONNECT:
		result = "bound";
		text_usec("", 0, false, usec, sizeof(usec));
		break;
	default:
		return -EINVAL;
	}
	return sb_printf(sb, TEXT_FMT, tbuf, pid, comm, proto ? proto : "-", op, laddr, lport,
			 raddr, rport, result, usec);
}
