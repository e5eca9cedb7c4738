// SPDX-License-Identifier: GPL-2.0
/* A container's fields in JSON: one form for events, processes, namespaces and findings. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "container_out.h"

static const char *or_null(const char *s)
{
	return s && s[0] ? s : NULL;
}

void eph_container__json(struct jsonw *w, const struct eph_container *c)
{
	const struct eph_container none = { 0 };

	if (!c)
		c = &none;
	jsonw_str(w, "container_id", or_null(c->id), sizeof(c->id));
	jsonw_str(w, "container_runtime", or_null(c->runtime), sizeof(c->runtime));
	jsonw_str(w, "pod", or_null(c->pod), sizeof(c->pod));
	jsonw_str(w, "pod_namespace", or_null(c->pod_namespace), sizeof(c->pod_namespace));
	jsonw_str(w, "pod_uid", or_null(c->pod_uid), sizeof(c->pod_uid));
	jsonw_str(w, "container", or_null(c->container), sizeof(c->container));
}

const char *eph_container__text(const struct eph_container *c, bool words, char *out, size_t len)
{
	if (c->pod[0] && words)
		snprintf(out, len, "pod %s/%s%s%s", c->pod_namespace[0] ? c->pod_namespace : "?",
			 c->pod, c->container[0] ? "/" : "", c->container);
	else if (c->pod[0])
		eph_container__short(c, out, len);
	else if (c->id[0])
		snprintf(out, len, "%s%s%.12s", c->runtime, c->runtime[0] ? ":" : "", c->id);
	else
		snprintf(out, len, "pod uid %s", c->pod_uid);
	return out;
}

int eph_ct_filter__set_id(struct eph_ct_filter *f, const char *arg)
{
	size_t i, n = strlen(arg);

	if (!n || n >= sizeof(f->id))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		char ch = arg[i];

		if (ch >= 'A' && ch <= 'F')
			ch += 'a' - 'A';
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return -EINVAL;
		f->id[i] = ch;
	}
	f->id[n] = '\0';
	return 0;
}

int eph_ct_filter__set_pod(struct eph_ct_filter *f, const char *arg)
{
	const char *slash = strchr(arg, '/');
	size_t n = strlen(arg);

	if (!n || n >= sizeof(f->pod) ||
	    (slash && (slash == arg || !slash[1] || strchr(slash + 1, '/') ||
		       (size_t)(slash - arg) >= EPH_CT_NAME_LEN)))
		return -EINVAL;
	memcpy(f->pod, arg, n + 1);
	return 0;
}

bool eph_ct_filter__match(const struct eph_ct_filter *f, const struct eph_container *c)
{
	const char *slash;

	if (eph_ct_filter__any(f))
		return true;
	if (!c)
		return false;
	if (f->id[0] && strncmp(c->id, f->id, strlen(f->id)))
		return false;
	if (!f->pod[0])
		return true;
	slash = strchr(f->pod, '/');
	if (!slash)
		return c->pod[0] && !strcmp(c->pod, f->pod);
	return c->pod[0] && !strcmp(c->pod, slash + 1) &&
	       strlen(c->pod_namespace) == (size_t)(slash - f->pod) &&
	       !strncmp(c->pod_namespace, f->pod, slash - f->pod);
}
