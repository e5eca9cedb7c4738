// SPDX-License-Identifier: GPL-2.0
/*
 * Cgroup paths into a container id, its runtime and a Kubernetes pod UID. See container.h.
 * Pure: no system calls (the resolver that reads the node is container_node.c and
 * container_names.c).
 *
 * A path is read component by component, outermost first; what a later component names wins:
 *
 *   docker-<id>[.scope]           docker (systemd driver; also cri-dockerd under kubepods)
 *   cri-containerd-<id>[.scope]   containerd (Kubernetes, systemd driver)
 *   crio-<id>[.scope]             CRI-O ("crio-conmon-<id>" is its monitor: not a container)
 *   libpod-<id>[.scope]           podman ("libpod-conmon-<id>" likewise)
 *   nerdctl-<id>[.scope]          containerd (nerdctl, systemd driver)
 *   docker/<id>                   docker (cgroupfs driver)
 *   default/<id>                  containerd outside Kubernetes (ctr, nerdctl: the "default"
 *                                 namespace, cgroupfs driver); ids that are not 64 hex digits,
 *                                 as `ctr run IMAGE NAME` allows, are not recognised
 *   pod<uid>/<id>                 Kubernetes, cgroupfs driver: the runtime is not in the path
 *   *kubepods*-pod<uid>.slice     a Kubernetes pod, systemd driver (the UID's dashes are
 *                                 underscores there); kind's "kubelet-kubepods-..." as well
 *   pod<uid> below "kubepods"     a Kubernetes pod, cgroupfs driver
 *
 * <id> is 64 lower-case hex digits; <uid> a UUID, or the 32 hex digits of a static pod's UID
 * (the kubelet's hash of its manifest). A pod clears a container found above it: that one
 * encloses the whole node (kind, docker-in-docker), and the innermost thing the process is in
 * is the pod. Components that match nothing (init.scope, a nested systemd's slices) change
 * nothing, so a process in a sub-cgroup of its container is still in that container.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "container.h"

#define ID_HEX 64
#define UUID_LEN 36
#define STATIC_UID_LEN 32 /* a static pod's UID: an MD5 in hex */

struct prefix {
	const char *text;
	const char *runtime;
};

/* The scope (or cgroupfs directory) prefixes of a container's own cgroup. */
static const struct prefix scopes[] = {
	{ "docker-", "docker" }, { "cri-containerd-", "containerd" }, { "crio-", "cri-o" },
	{ "libpod-", "podman" }, { "nerdctl-", "containerd" },
};

/* What the component before a bare <id> was: it names the runtime. */
enum parent {
	PARENT_OTHER,
	PARENT_DOCKER,	/* "docker": docker's cgroupfs driver */
	PARENT_DEFAULT, /* "default": containerd's default namespace */
	PARENT_POD,	/* a pod's cgroup (cgroupfs driver) */
};

struct walk {
	const char *runtime;
	const char *id; /* ID_HEX digits in the path, or NULL */
	char uid[EPH_CT_UID_LEN];
	enum parent parent;
	bool kubepods; /* a "kubepods" component seen (cgroupfs driver) */
};

static bool is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool is_id(const char *s, size_t n)
{
	return n == ID_HEX && is_hex(s, n);
}

static bool has_prefix(const char *s, size_t n, const char *prefix)
{
	size_t len = strlen(prefix);

	return n >= len && !memcmp(s, prefix, len);
}

static bool has_suffix(const char *s, size_t n, const char *suffix)
{
	size_t len = strlen(suffix);

	return n >= len && !memcmp(s + n - len, suffix, len);
}

static bool is_word(const char *s, size_t n, const char *word)
{
	return n == strlen(word) && !memcmp(s, word, n);
}

/*
 * A pod UID of n characters at s into out (with dashes): a UUID with dashes (cgroupfs) or
 * underscores (systemd), or a static pod's 32 hex digits. Returns whether it was one (out
 * untouched if not).
 */
static bool parse_uid(const char *s, size_t n, char *out)
{
	size_t i;
	char sep;

	if (n == STATIC_UID_LEN && is_hex(s, n)) {
		memcpy(out, s, n);
		out[n] = '\0';
		return true;
	}
	if (n != UUID_LEN || (s[8] != '-' && s[8] != '_'))
		return false;
	sep = s[8];
	for (i = 0; i < n; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != sep : !is_hex(s + i, 1))
			return false;
	for (i = 0; i < n; i++)
		out[i] = s[i] == sep ? '-' : s[i];
	out[n] = '\0';
	return true;
}

/* "kubepods-besteffort-pod<uid>.slice", "kubelet-kubepods-pod<uid>.slice"... */
static bool parse_pod_slice(const char *s, size_t n, char *uid)
{
	static const size_t lens[] = { UUID_LEN, STATIC_UID_LEN };
	static const char tail[] = ".slice";
	size_t i, body;

	if (!has_suffix(s, n, tail) || !memmem(s, n, "kubepods", strlen("kubepods")))
		return false;
	body = n - strlen(tail);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		if (body < lens[i] + strlen("-pod"))
			continue;
		if (memcmp(s + body - lens[i] - strlen("-pod"), "-pod", strlen("-pod")))
			continue;
		if (parse_uid(s + body - lens[i], lens[i], uid))
			return true;
	}
	return false;
}

/* "docker-<id>.scope", "crio-<id>", ...: the runtime, or NULL. */
static const char *parse_scope(const char *s, size_t n, const char **id)
{
	size_t i, len;

	if (has_suffix(s, n, ".scope"))
		n -= strlen(".scope");
	for (i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		len = strlen(scopes[i].text);
		if (has_prefix(s, n, scopes[i].text) && is_id(s + len, n - len)) {
			*id = s + len;
			return scopes[i].runtime;
		}
	}
	return NULL;
}

/* One component (not empty) of a path. */
static void walk_component(struct walk *w, const char *s, size_t n)
{
	static const char *const bare_runtime[] = {
		[PARENT_DOCKER] = "docker",
		[PARENT_DEFAULT] = "containerd",
		[PARENT_POD] = "",
	};
	enum parent parent = w->parent;
	const char *runtime;

	w->parent = PARENT_OTHER;
	if (parent != PARENT_OTHER && is_id(s, n)) {
		w->runtime = bare_runtime[parent];
		w->id = s;
	} else if ((runtime = parse_scope(s, n, &w->id))) {
		w->runtime = runtime;
	} else if (parse_pod_slice(s, n, w->uid) ||
		   (w->kubepods && has_prefix(s, n, "pod") &&
		    parse_uid(s + strlen("pod"), n - strlen("pod"), w->uid))) {
		/* a container above the pod is the node's, not the process's */
		w->runtime = NULL;
		w->id = NULL;
		w->parent = PARENT_POD;
	} else if (is_word(s, n, "docker")) {
		w->parent = PARENT_DOCKER;
	} else if (is_word(s, n, "default")) {
		w->parent = PARENT_DEFAULT;
	} else if (is_word(s, n, "kubepods")) {
		w->kubepods = true;
	}
}

/* The path of n bytes at path (no NUL needed) into c (zeroed first). */
static int parse_span(const char *path, size_t n, struct eph_container *c)
{
	const char *end = path + n, *s, *e;
	struct walk w = { 0 };

	memset(c, 0, sizeof(*c));
	for (s = path; s < end; s = e + 1) {
		e = memchr(s, '/', end - s);
		if (!e)
			e = end;
		if (e > s)
			walk_component(&w, s, e - s);
	}
	if (!w.id && !w.uid[0])
		return -ENOENT;
	if (w.id) {
		snprintf(c->runtime, sizeof(c->runtime), "%s", w.runtime);
		memcpy(c->id, w.id, ID_HEX);
		c->id[ID_HEX] = '\0';
	}
	memcpy(c->pod_uid, w.uid, sizeof(c->pod_uid));
	return 0;
}

int eph_container__parse_path(const char *path, struct eph_container *c)
{
	return parse_span(path, strlen(path), c);
}

/* The cgroup path of one line of /proc/PID/cgroup, "N:controllers:/path": its start and
 * length, and whether the line is cgroup v2's ("0::"). Returns false for a malformed line. */
static bool line_path(const char *line, size_t n, const char **path, size_t *len, bool *v2)
{
	static const char deleted[] = " (deleted)"; /* a removed cgroup v2 */
	const char *c1, *c2, *end = line + n;

	c1 = memchr(line, ':', n);
	if (!c1 || c1 == line)
		return false;
	c2 = memchr(c1 + 1, ':', end - c1 - 1);
	if (!c2 || c2 + 1 == end || c2[1] != '/')
		return false;
	*v2 = c1 - line == 1 && line[0] == '0' && c2 == c1 + 1;
	*path = c2 + 1;
	*len = end - *path;
	if (has_suffix(*path, *len, deleted))
		*len -= strlen(deleted);
	return true;
}

int eph_container__parse(const char *text, struct eph_container *c, char *key, size_t keylen)
{
	const char *s, *e, *path, *best = NULL;
	struct eph_container tmp;
	size_t n, best_len = 0;
	bool v2, best_v2 = false;

	for (s = text; *s; s = *e ? e + 1 : e) {
		e = strchrnul(s, '\n');
		if (!line_path(s, e - s, &path, &n, &v2) || parse_span(path, n, &tmp))
			continue;
		/* the v2 line wins; else the first v1 line */
		if (!best || (v2 && !best_v2)) {
			best = path;
			best_len = n;
			best_v2 = v2;
		}
	}
	if (keylen)
		key[0] = '\0';
	if (!best) {
		memset(c, 0, sizeof(*c));
		return -ENOENT;
	}
	parse_span(best, best_len, c);
	if (best_len >= keylen)
		return -ENAMETOOLONG;
	memcpy(key, best, best_len);
	key[best_len] = '\0';
	return 0;
}

const char *eph_container__short(const struct eph_container *c, char *out, size_t len)
{
	if (!len)
		return out;
	if (c->pod[0] && c->container[0])
		snprintf(out, len, "%s/%s", c->pod, c->container);
	else if (c->pod[0])
		snprintf(out, len, "%s", c->pod);
	else if (c->id[0])
		snprintf(out, len, "%.12s", c->id);
	else
		out[0] = '\0';
	return out;
}
