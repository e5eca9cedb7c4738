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

void eph_hookplan_init(struct eph_hookplan *p, int style, bool mix)
{
	memset(p, 0, sizeof(*p));
	p->style = style;
	p->mix = mix && style == EPH_BACKEND_FENTRY;
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

int eph_hookplan_fall_back(struct eph_hookplan *p, const char *sec, const char *why)
{
	struct eph_hook *h;
	const char *fn;

	if (!eph_hook_section(sec, &fn) || !(h = eph_hookplan_find(p, fn)))
		return -EINVAL;
	if (!p->mix)
		return -EPERM;
	if (h->style != EPH_BACKEND_FENTRY)
		return -ENOENT;
	h->style = EPH_BACKEND_KPROBE;
	snprintf(h->why, sizeof(h->why), "%s", why);
	return 0;
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
	return eph_hookplan_count(p, EPH_BACKEND_FENTRY) ? EPH_BACKEND_FENTRY : EPH_BACKEND_KPROBE;
}

static const char *style_name(int style)
{
	if (style != EPH_BACKEND_FENTRY && style != EPH_BACKEND_KPROBE)
		return "left out";
	return eph_backend_name(style);
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
		if (h->style) /* fell back: why the first style did not do */
			n = snprintf(used < len ? buf + used : NULL, used < len ? len - used : 0,
				     " (%s: %s)", style_name(p->style), h->why);
		else
			n = snprintf(used < len ? buf + used : NULL, used < len ? len - used : 0,
				     " (%s)", h->why);
		used += n > 0 ? (size_t)n : 0;
	}
	return used;
}
