// SPDX-License-Identifier: GPL-2.0
/* The hook plan: one style per hooked kernel function (see hookplan.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ephtrace.h"
#include "event.h"
#include "hookplan.h"

static const struct {
	const char *prefix;
	int style;
} sections[] = {
	{ "fentry/", EPH_BACKEND_FENTRY },
	{ "fexit/", EPH_BACKEND_FENTRY },
	{ "kprobe/", EPH_BACKEND_KPROBE },
	{ "kretprobe/", EPH_BACKEND_KPROBE },
};

int eph_hook_section(const char *sec, const char **fn)
{
	size_t i, n;

	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		n = strlen(sections[i].prefix);
		if (!strncmp(sec, sections[i].prefix, n) && sec[n]) {
			*fn = sec + n;
			return sections[i].style;
		}
	}
	return 0;
}

/* The hook groups (include/ephtrace.h, EPH_STANDIN_*): bpf/tracepoint.bpf.h stands in for each
 * as a whole. */
static const struct {
	const char *fn;
	unsigned int group;
} groups[] = {
	{ "inet_hash_connect", EPH_STANDIN_TCP_CONNECT },
	{ "inet6_hash_connect", EPH_STANDIN_TCP_CONNECT },
	{ "inet_csk_get_port", EPH_STANDIN_TCP_BIND },
	{ "udp_lib_get_port", EPH_STANDIN_UDP_PORT },
	{ "inet_autobind", EPH_STANDIN_UDP_PORT },
	{ "inet_dgram_connect", EPH_STANDIN_UDP_PORT },
	{ "inet_put_port", EPH_STANDIN_TCP_RELEASE },
	{ "inet_twsk_hashdance", EPH_STANDIN_TCP_RELEASE },
	{ "inet_twsk_hashdance_schedule", EPH_STANDIN_TCP_RELEASE },
	{ "inet_twsk_bind_unhash", EPH_STANDIN_TCP_RELEASE },
	{ "udp_lib_unhash", EPH_STANDIN_UDP_RELEASE },
};

unsigned int eph_hook_group(const char *fn)
{
	size_t i;

	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (!strcmp(groups[i].fn, fn))
			return groups[i].group;
	return 0;
}

void eph_hookplan_init(struct eph_hookplan *p, int style, bool mix)
{
	memset(p, 0, sizeof(*p));
	p->style = style;
	p->mix = mix && (style == EPH_BACKEND_FENTRY || style == EPH_BACKEND_KPROBE);
}

struct eph_hook *eph_hookplan_find(struct eph_hookplan *p, const char *fn)
{
	int i;

	for (i = 0; i < p->n; i++)
		if (!strcmp(p->hooks[i].fn, fn))
			return &p->hooks[i];
	return NULL;
}

/* The const twin, for the read-only queries. */
static const struct eph_hook *hook_of(const struct eph_hookplan *p, const char *fn)
{
	return eph_hookplan_find((struct eph_hookplan *)p, fn);
}

int eph_hookplan_add(struct eph_hookplan *p, const char *sec)
{
	const char *fn;
	struct eph_hook *h;

	if (!eph_hook_section(sec, &fn) || strlen(fn) >= sizeof(h->fn))
		return -EINVAL;
	if (eph_hookplan_find(p, fn))
		return 0;
	if (p->n == EPH_MAX_HOOKS)
		return -E2BIG;
	h = &p->hooks[p->n++];
	strcpy(h->fn, fn);
	h->style = p->style;
	h->why[0] = '\0';
	return 0;
}

bool eph_hookplan_wants(const struct eph_hookplan *p, const char *sec)
{
	const struct eph_hook *h;
	const char *fn;
	int style = eph_hook_section(sec, &fn);

	if (!style)
		return false;
	h = hook_of(p, fn);
	return h && h->style == style;
}

void eph_hookplan_leave_out(struct eph_hookplan *p, const char *fn, const char *why)
{
	struct eph_hook *h = eph_hookplan_find(p, fn);

	if (!h)
		return;
	h->style = 0;
	snprintf(h->why, sizeof(h->why), "%s", why);
}

static const char *style_name(int style)
{
	if (style != EPH_BACKEND_FENTRY && style != EPH_BACKEND_KPROBE &&
	    style != EPH_BACKEND_TRACEPOINT)
		return "left out";
	return eph_backend_name(style);
}

/* Add "; what" to a hook's reasons (or start them). */
static void add_why(struct eph_hook *h, const char *what)
{
	size_t n = strlen(h->why);

	snprintf(h->why + n, sizeof(h->why) - n, "%s%s", n ? "; " : "", what);
}

int eph_hookplan_fall_back(struct eph_hookplan *p, const char *sec, const char *why)
{
	struct eph_hook *h;
	unsigned int group;
	const char *fn;
	char msg[sizeof(h->why)];
	int i, style;

	style = eph_hook_section(sec, &fn);
	if (!style || !(h = eph_hookplan_find(p, fn)))
		return -EINVAL;
	if (!p->mix)
		return -EPERM;
	/* the other half of a pair that has fallen back already (fexit failed, then fentry) */
	if (h->style && style != h->style)
		return 0;
	group = eph_hook_group(fn);
	if (h->style != EPH_BACKEND_FENTRY && (h->style != EPH_BACKEND_KPROBE || !group))
		return -ENOENT;
	snprintf(msg, sizeof(msg), "%s: %s", style_name(h->style), why);
	add_why(h, msg);
	if (h->style == EPH_BACKEND_FENTRY) {
		h->style = EPH_BACKEND_KPROBE;
		return 0;
	}
	/* the whole group to its stand-in, the hooks left out aside */
	snprintf(msg, sizeof(msg), "with %s", fn);
	for (i = 0; i < p->n; i++) {
		struct eph_hook *o = &p->hooks[i];

		if (eph_hook_group(o->fn) != group || !o->style)
			continue;
		if (o != h)
			add_why(o, msg);
		o->style = EPH_BACKEND_TRACEPOINT;
	}
	return 0;
}

unsigned int eph_hookplan_standin(const struct eph_hookplan *p)
{
	unsigned int bits = 0;
	int i;

	for (i = 0; i < p->n; i++)
		if (p->hooks[i].style == EPH_BACKEND_TRACEPOINT)
			bits |= eph_hook_group(p->hooks[i].fn);
	return bits;
}

bool eph_hookplan_mixed(const struct eph_hookplan *p)
{
	int i;

	for (i = 0; i < p->n; i++)
		if (p->hooks[i].style && p->hooks[i].style != p->style)
			return true;
	return false;
}

int eph_hookplan_count(const struct eph_hookplan *p, int style)
{
	int i, n = 0;

	for (i = 0; i < p->n; i++)
		n += p->hooks[i].style == style;
	return n;
}

int eph_hookplan_backend(const struct eph_hookplan *p)
{
	if (eph_hookplan_count(p, EPH_BACKEND_FENTRY))
		return EPH_BACKEND_FENTRY;
	if (eph_hookplan_count(p, EPH_BACKEND_KPROBE))
		return EPH_BACKEND_KPROBE;
	return EPH_BACKEND_TRACEPOINT;
}

size_t eph_hookplan_describe(const struct eph_hookplan *p, char *buf, size_t len)
{
	size_t used = 0;
	int i, n;

	if (len)
		buf[0] = '\0';
	for (i = 0; i < p->n; i++) {
		const struct eph_hook *h = &p->hooks[i];

		n = snprintf(used < len ? buf + used : NULL, used < len ? len - used : 0, "%s%s %s",
			     i ? ", " : "", h->fn, style_name(h->style));
		used += n > 0 ? (size_t)n : 0;
		if (!h->why[0])
			continue;
		/* fell back: why each style before did not do; left out: why */
		n = snprintf(used < len ? buf + used : NULL, used < len ? len - used : 0, " (%s)",
			     h->why);
		used += n > 0 ? (size_t)n : 0;
	}
	return used;
}
