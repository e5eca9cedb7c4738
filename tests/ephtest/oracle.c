// SPDX-License-Identifier: GPL-2.0
/*
 * The oracle: what a workload did, one record per system call that can take a port, with what
 * the kernel answered (workload.c and the other bodies record; rec_new() here hands out the
 * records). Its names (op, protocol, family, expectation), its JSON (one line per record), its
 * premise (the kernel did what the scenario is about) and its tally for the RESULT lines.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ephtest.h"

static struct orec scratch; /* where records go once the oracle is full */

struct orec *rec_new(struct oracle *o, uint8_t op, int proto, int family)
{
	struct orec *r;

	if (o->n >= ORACLE_MAX) {
		o->overflow++;
		r = &scratch;
	} else {
		r = &o->rec[o->n++];
	}
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->proto = proto;
	r->family = family;
	r->tid = gettid();
	return r;
}

const char *oracle_comm(const struct oracle *o, int32_t tid)
{
	return o->thread_tid && tid == o->thread_tid ? o->thread_comm : o->comm;
}

/* ---- names and JSON ---- */

const char *op_name(uint8_t op)
{
	switch (op) {
	case OP_CONNECT:
		return "connect";
	case OP_BIND:
		return "bind";
	case OP_SENDMSG:
		return "sendmsg";
	}
	return "?";
}

const char *proto_name(uint8_t proto)
{
	return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "?";
}

const char *family_name(uint8_t family)
{
	return family == AF_INET ? "ipv4" : family == AF_INET6 ? "ipv6" : "?";
}

static const char *expect_name(uint8_t expect)
{
	switch (expect) {
	case EXPECT_ASSIGN:
		return "assign";
	case EXPECT_FAIL:
		return "fail";
	case EXPECT_BOUND_CONNECT:
		return "bound_connect";
	}
	return "none";
}

int oracle_to_json(const struct oracle *o, pid_t pid, struct buf *b)
{
	char addr[INET6_ADDRSTRLEN], daddr[INET6_ADDRSTRLEN], tmp[16];
	const struct orec *r;
	uint32_t i;
	int err = 0;

	for (i = 0; i < o->n && !err; i++) {
		r = &o->rec[i];
		inet_ntop(r->family, r->addr, addr, sizeof(addr));
		inet_ntop(r->family, r->daddr, daddr, sizeof(daddr));
		err = buf_printf(b,
				 "{\"pid\":%d,\"tid\":%d,\"comm\":\"%s\",\"process_comm\":\"%s\","
				 "\"netns\":%llu,\"op\":\"%s\",\"proto\":\"%s\",\"family\":\"%s\","
				 "\"ret\":%d,\"errno\":%d,",
				 (int)pid, (int)r->tid, oracle_comm(o, r->tid), o->comm,
				 (unsigned long long)o->netns, op_name(r->op), proto_name(r->proto),
				 family_name(r->family), r->ret, r->err);
		if (err)
			break;
		if (r->err)
			err = buf_printf(b, "\"error\":\"%s\",",
					 errno_name(r->err, tmp, sizeof(tmp)));
		else
			err = buf_printf(b, "\"error\":null,");
		if (!err)
			err = buf_printf(b, "\"port\":%u,\"addr\":\"%s\",", r->port, addr);
		if (!err && r->has_dest)
			err = buf_printf(b, "\"daddr\":\"%s\",\"dport\":%u,", daddr, r->dport);
		else if (!err)
			err = buf_printf(b, "\"daddr\":null,\"dport\":null,");
		if (!err && r->has_req)
			err = buf_printf(b, "\"requested_port\":%u,", r->req_port);
		else if (!err)
			err = buf_printf(b, "\"requested_port\":null,");
		if (!err)
			err = buf_printf(b, "\"ephemeral\":%s,\"bound\":%s,\"no_port\":%s,",
					 r->ephemeral ? "true" : "false",
					 r->bound ? "true" : "false",
					 r->no_port ? "true" : "false");
		if (!err)
			err = buf_printf(b, "\"expect\":\"%s\"}\n", expect_name(r->expect));
	}
	return err;
}

/*
 * Did the kernel do what the scenario is about? At least one port taken; failures only with
 * the scenario's errno, and at least one of them (none at all when it names no errno).
 * A record that expects an assign or bound_connect took its port, or found its 4-tuple free:
 * its errno (a connect() still in progress, or refused after its SYN) is no failure to take one.
 */
int oracle_premise(const struct oracle *o, const struct scenario *s, char *msg, size_t len)
{
	unsigned int assigned = 0, failed = 0;
	char tmp[16], tmp2[16];
	uint32_t i;

	if (o->overflow) {
		snprintf(msg, len, "oracle full: %u records lost", o->overflow);
		return -ENOSPC;
	}
	for (i = 0; i < o->n; i++) {
		const struct orec *r = &o->rec[i];

		if (r->err && r->err != s->premise_err && r->expect != EXPECT_ASSIGN &&
		    r->expect != EXPECT_BOUND_CONNECT) {
			snprintf(msg, len, "workload: %s %s %s returned %s, expected only %s",
				 op_name(r->op), proto_name(r->proto), family_name(r->family),
				 errno_name(r->err, tmp, sizeof(tmp)),
				 s->premise_err ? errno_name(s->premise_err, tmp2, sizeof(tmp2)) :
						  "success");
			return -EPROTO;
		}
		assigned += r->expect == EXPECT_ASSIGN;
		failed += r->expect == EXPECT_FAIL;
	}
	if (!assigned) {
		snprintf(msg, len, "workload: no port was assigned at all");
		return -EPROTO;
	}
	if (s->premise_err && !failed) {
		snprintf(msg, len,
			 "workload: the kernel never returned %s: the range was not exhausted",
			 errno_name(s->premise_err, tmp, sizeof(tmp)));
		return -EPROTO;
	}
	return 0;
}

int oracle_tally(const struct oracle *o, int family, struct buf *b)
{
	const struct orec *r, *q;
	uint32_t i, k, assigned, failed, bound;
	const char *sep = "";
	char tmp[16];
	int err = 0;

	for (i = 0; i < o->n && !err; i++) {
		r = &o->rec[i];
		if (r->expect == EXPECT_NONE || (family && r->family != family))
			continue;
		for (k = 0; k < i; k++) { /* each (op, proto, family) once */
			q = &o->rec[k];
			if (q->expect != EXPECT_NONE && q->op == r->op && q->proto == r->proto &&
			    q->family == r->family)
				break;
		}
		if (k < i)
			continue;
		assigned = failed = bound = 0;
		for (k = i; k < o->n; k++) {
			q = &o->rec[k];
			if (q->op != r->op || q->proto != r->proto || q->family != r->family)
				continue;
			assigned += q->expect == EXPECT_ASSIGN;
			failed += q->expect == EXPECT_FAIL;
			bound += q->expect == EXPECT_BOUND_CONNECT;
		}
		err = buf_printf(b, "%s%s %s %s: %u assigned", sep, op_name(r->op),
				 proto_name(r->proto), family_name(r->family), assigned);
		if (bound && !err)
			err = buf_printf(b, ", %u bound_connect", bound);
		/* Scenarios fail with one errno only (oracle_premise). */
		for (k = i; k < o->n && failed && !err; k++) {
			if (o->rec[k].expect == EXPECT_FAIL && o->rec[k].op == r->op &&
			    o->rec[k].proto == r->proto && o->rec[k].family == r->family) {
				err = buf_printf(b, ", %u %s", failed,
						 errno_name(o->rec[k].err, tmp, sizeof(tmp)));
				break;
			}
		}
		sep = "; ";
	}
	return err;
}
