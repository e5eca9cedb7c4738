// SPDX-License-Identifier: GPL-2.0
/* Reading ephtrace's JSON lines into events (struct jev) and the summary (check.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check_int.h"

/* clang-format off */
static const char *const event_keys[] = {
	"event", "op", "proto", "family", "pid", "tid", "comm", "process_comm", "cgroup_id",
	"netns", "saddr", "sport", "daddr", "dport", "requested_port", "ephemeral", "bound",
	"bind_address_no_port", "error", "errno", "search_ns", "held_ns", "time", "backend",
};
/* clang-format on */

#define NR_EVENT_KEYS (sizeof(event_keys) / sizeof(event_keys[0]))


/* ---- reading one event ---- */

bool get_str(json_object *o, const char *key, const char **out)
{
	json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return false;
	if (json_object_is_type(v, json_type_null))
		return true;
	if (!json_object_is_type(v, json_type_string))
		return false;
	*out = json_object_get_string(v);
	return true;
}

/* Integer or null (-1). */
bool get_int(json_object *o, const char *key, long long *out)
{
	json_object *v;

	*out = -1;
	if (!json_object_object_get_ex(o, key, &v))
		return false;
	if (json_object_is_type(v, json_type_null))
		return true;
	if (!json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

static bool get_bool(json_object *o, const char *key, bool *out)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_boolean))
		return false;
	*out = json_object_get_boolean(v);
	return true;
}

static bool get_addr(json_object *o, const char *key, uint8_t family, uint8_t addr[16], bool *has)
{
	const char *s;

	*has = false;
	memset(addr, 0, 16);
	if (!get_str(o, key, &s))
		return false;
	if (!s)
		return true;
	if (inet_pton(family, s, addr) != 1)
		return false;
	*has = true;
	return true;
}

static uint8_t parse_op(const char *s)
{
	if (!s)
		return 0;
	if (!strcmp(s, "connect"))
		return OP_CONNECT;
	if (!strcmp(s, "bind"))
		return OP_BIND;
	if (!strcmp(s, "sendmsg"))
		return OP_SENDMSG;
	return 0xff; /* listen and whatever else: matches no oracle record */
}

static uint8_t parse_proto(const char *s)
{
	if (s && !strcmp(s, "tcp"))
		return IPPROTO_TCP;
	if (s && !strcmp(s, "udp"))
		return IPPROTO_UDP;
	return 0;
}

static uint8_t parse_family(const char *s)
{
	if (s && !strcmp(s, "ipv4"))
		return AF_INET;
	if (s && !strcmp(s, "ipv6"))
		return AF_INET6;
	return 0;
}

static int decode_event(struct checker *c, json_object *o, struct jev *e)
{
	const char *op = NULL, *proto = NULL, *family = NULL, *bad = NULL;
	json_object *v;
	size_t i;

	for (i = 0; i < NR_EVENT_KEYS; i++) {
		if (!json_object_object_get_ex(o, event_keys[i], &v)) {
			problem(c, "expected key \"%s\" in every event got an event without it",
				event_keys[i]);
			show_line(c, e->lineno, e->line);
			return -EINVAL;
		}
	}
	if (!get_str(o, "op", &op) || !get_str(o, "proto", &proto) ||
	    !get_str(o, "family", &family))
		bad = "op/proto/family";
	e->op = parse_op(op);
	e->proto = parse_proto(proto);
	e->family = parse_family(family);
	if (!e->family)
		bad = "family";
	else if (!get_addr(o, "saddr", e->family, e->saddr, &e->has_saddr))
		bad = "saddr";
	else if (!get_addr(o, "daddr", e->family, e->daddr, &e->has_daddr))
		bad = "daddr";
	if (!get_int(o, "pid", &e->pid) || !get_int(o, "tid", &e->tid))
		bad = "pid/tid";
	if (!get_int(o, "netns", &e->netns) || !get_int(o, "sport", &e->sport) ||
	    !get_int(o, "dport", &e->dport) || !get_int(o, "requested_port", &e->req_port))
		bad = "netns/sport/dport/requested_port";
	if (!get_int(o, "errno", &e->errnum) || !get_str(o, "error", &e->error))
		bad = "errno/error";
	if (!get_str(o, "comm", &e->comm) || !get_str(o, "process_comm", &e->pcomm) ||
	    !get_str(o, "backend", &e->backend))
		bad = "comm/process_comm/backend";
	if (!get_bool(o, "ephemeral", &e->ephemeral))
		bad = "ephemeral";
	else if (!get_bool(o, "bound", &e->bound))
		bad = "bound";
	else if (!get_bool(o, "bind_address_no_port", &e->no_port))
		bad = "bind_address_no_port";
	if (bad) {
		problem(c, "expected well-typed %s got", bad);
		show_line(c, e->lineno, e->line);
		return -EINVAL;
	}
	return 0;
}

int parse_lines(struct checker *c)
{
	char *line, *save = NULL;
	int lineno = 0, n = 0, cap = 0;

	c->text = strdup(c->in->json ? c->in->json : "");
	if (!c->text)
		return -ENOMEM;
	for (line = strtok_r(c->text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct jev *e;
		json_object *o;
		const char *event;

		lineno++;
		if (n == cap) {
			json_object **objs;

			cap = cap ? cap * 2 : 256;
			e = realloc(c->evs, cap * sizeof(*e));
			if (!e)
				return -ENOMEM;
			c->evs = e;
			objs = realloc(c->objs, cap * sizeof(*objs));
			if (!objs)
				return -ENOMEM;
			c->objs = objs;
		}
		o = json_tokener_parse(line);
		if (!o || !json_object_is_type(o, json_type_object)) {
			problem(c, "expected a JSON object per line got");
			show_line(c, lineno, line);
			json_object_put(o);
			continue;
		}
		c->objs[n] = o;
		e = &c->evs[n++];
		memset(e, 0, sizeof(*e));
		e->lineno = lineno;
		e->line = line;
		c->nr_evs = n;
		if (!get_str(o, "event", &event) || !event) {
			problem(c, "expected a string \"event\" got");
			show_line(c, lineno, line);
			continue;
		}
		e->event = event;
		if (!strcmp(event, "summary")) {
			c->summary = o;
			c->summary_line = lineno;
			c->summary_text = line;
			continue;
		}
		if (!strcmp(event, "release") || !strcmp(event, "time_wait")) {
			/* not counted here: only their owner is checked (check_owners) */
			e->owned = !decode_event(c, o, e);
			continue;
		}
		if (!strcmp(event, "assign"))
			e->type = EXPECT_ASSIGN;
		else if (!strcmp(event, "fail"))
			e->type = EXPECT_FAIL;
		else if (!strcmp(event, "bound_connect"))
			e->type = EXPECT_BOUND_CONNECT;
		if (!e->type) {
			problem(c, "expected event %s got \"%s\"",
				"assign|fail|bound_connect|release|summary", event);
			show_line(c, lineno, line);
			continue;
		}
		if (decode_event(c, o, e))
			e->type = EXPECT_NONE;
	}
	return 0;
}
