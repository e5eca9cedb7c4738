// SPDX-License-Identifier: GPL-2.0
/*
 * Containers' and pods' names from the node's files. See container.h; the cache of what was
 * found is container_node.c's.
 *
 * The names come from the container's OCI bundle (containerd's or CRI-O's config.json, whose
 * annotations the runtime wrote when it created the container: final, so a bundle found is
 * never read again), else from the kubelet's log directories. Nothing read is trusted: files
 * are read to a bound, and a name that is not what Kubernetes allows (a DNS label or
 * subdomain) is unknown, never cut short.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container.h"
#include "container_node_int.h"

#define CT_JSON_MAX (1 << 20) /* bytes of a config.json read at most */
#define CT_JSON_CHUNK 16384   /* and fed to the parser this many at a time */

#define POD_LOGS "/var/log/pods"
#define CONTAINER_LOGS "/var/log/containers"

/* Where a runtime keeps a Kubernetes container's bundle, and its annotations' names. */
struct bundle {
	enum runtime_code runtime;
	const char *dir;  /* under root, then the id */
	const char *file; /* under that */
	const char *container, *pod, *pod_namespace, *pod_uid;
};

static const struct bundle bundles[] = {
	{ RT_CONTAINERD, "/run/containerd/io.containerd.runtime.v2.task/k8s.io", "config.json",
	  "io.kubernetes.cri.container-name", "io.kubernetes.cri.sandbox-name",
	  "io.kubernetes.cri.sandbox-namespace", "io.kubernetes.cri.sandbox-uid" },
	{ RT_CRIO, "/run/containers/storage/overlay-containers", "userdata/config.json",
	  "io.kubernetes.container.name", "io.kubernetes.pod.name", "io.kubernetes.pod.namespace",
	  "io.kubernetes.pod.uid" },
};

/* ---- what the node's files say ---------------------------------------------------------- */

bool join(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < size;
}

/* A name as Kubernetes allows it, n bytes at s: lower-case letters, digits and '-' (also '.'
 * in a DNS subdomain: dots), at most max bytes. */
static bool valid_name(const char *s, size_t n, size_t max, bool dots)
{
	size_t i;

	if (!n || n > max)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      (dots && s[i] == '.')))
			return false;
	return true;
}

/* The name at s (n bytes) into dst (size bytes) if it is valid there; true if it was. */
static bool set_name(char *dst, size_t size, const char *s, size_t n, bool dots)
{
	if (!s || !valid_name(s, n, size - 1, dots))
		return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

#define set_pod(c, s, n) set_name((c)->pod, sizeof((c)->pod), s, n, true)
#define set_label(dst, s, n) set_name(dst, sizeof(dst), s, n, false)

/* A pod UID as the API server writes it: a UUID with dashes, or a static pod's 32 hex digits. */
static bool valid_uid(const char *s, size_t n)
{
	size_t i;

	if (n != 36 && n != 32)
		return false;
	for (i = 0; i < n; i++) {
		if (n == 36 && (i == 8 || i == 13 || i == 18 || i == 23)) {
			if (s[i] != '-')
				return false;
		} else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
			return false;
		}
	}
	return true;
}

/*
 * The JSON object in the regular file at path, fed to the parser a piece at a time, at most
 * CT_JSON_MAX bytes. NULL when missing, not a regular file, larger, not JSON or not an object;
 * else json_object_put() it.
 */
static json_object *read_json(const char *path)
{
	json_object *obj = NULL;
	char buf[CT_JSON_CHUNK];
	json_tokener *tok;
	size_t total = 0;
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > CT_JSON_MAX)
		goto out_close;
	tok = json_tokener_new();
	if (!tok)
		goto out_close;
	while (!obj) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (total += n) > CT_JSON_MAX)
			break; /* the end before the object's, an error, or grown past the bound */
		obj = json_tokener_parse_ex(tok, buf, (int)n);
		if (!obj && json_tokener_get_error(tok) != json_tokener_continue)
			break;
	}
	json_tokener_free(tok);
	if (obj && !json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		obj = NULL;
	}
out_close:
	close(fd);
	return obj;
}

/* The string annotation key of ann, and its length; NULL if none. */
static const char *annotation(json_object *ann, const char *key, size_t *len)
{
	json_object *v;

	if (!json_object_object_get_ex(ann, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

static void bundle_annotations(const struct bundle *b, json_object *cfg, struct eph_container *c)
{
	const char *s;
	json_object *ann;
	size_t n = 0;

	if (!json_object_object_get_ex(cfg, "annotations", &ann) ||
	    !json_object_is_type(ann, json_type_object))
		return;
	s = annotation(ann, b->container, &n);
	set_label(c->container, s, n);
	s = annotation(ann, b->pod, &n);
	set_pod(c, s, n);
	s = annotation(ann, b->pod_namespace, &n);
	set_label(c->pod_namespace, s, n);
	s = annotation(ann, b->pod_uid, &n);
	if (!c->pod_uid[0] && s && valid_uid(s, n)) {
		memcpy(c->pod_uid, s, n);
		c->pod_uid[n] = '\0';
	}
}

/*
 * The names in the bundle of c's container, of its runtime's (every runtime's when the path
 * did not say). Returns whether there was one (c's runtime is then that one).
 */
static bool bundle_names(const struct eph_containers *cs, struct eph_container *c)
{
	char path[PATH_MAX];
	json_object *cfg;
	size_t i;

	if (!c->id[0])
		return false;
	for (i = 0; i < ARRAY_SIZE(bundles); i++) {
		const struct bundle *b = &bundles[i];

		if (c->runtime[0] && strcmp(c->runtime, runtimes[b->runtime]))
			continue;
		if (!join(path, sizeof(path), "%s%s/%s/%s", cs->root, b->dir, c->id, b->file))
			continue;
		cfg = read_json(path);
		if (!cfg)
			continue;
		snprintf(c->runtime, sizeof(c->runtime), "%s", runtimes[b->runtime]);
		bundle_annotations(b, cfg, c);
		json_object_put(cfg);
		return true;
	}
	return false;
}

/* /var/log/pods/<namespace>_<pod>_<uid> of c's pod: its namespace and name into c, and the
 * directory's name into dir. Returns whether there was one (with valid names). */
static bool pod_dir(const struct eph_containers *cs, struct eph_container *c, char *dir)
{
	size_t ulen = strlen(c->pod_uid), n;
	const char *name, *sep;
	char path[PATH_MAX];
	struct dirent *d;
	bool found = false;
	DIR *dp;

	if (!join(path, sizeof(path), "%s" POD_LOGS, cs->root))
		return false;
	dp = opendir(path);
	if (!dp)
		return false;
	while (!found && (d = readdir(dp))) {
		name = d->d_name;
		n = strlen(name);
		if (n < ulen + 4 || name[n - ulen - 1] != '_' ||
		    strcmp(name + n - ulen, c->pod_uid))
			continue;
		/* neither a namespace nor a pod name has a '_' */
		sep = memchr(name, '_', n - ulen - 1);
		if (!sep || !set_label(c->pod_namespace, name, sep - name))
			continue;
		found = set_pod(c, sep + 1, name + n - ulen - 1 - (sep + 1));
		if (found)
			memcpy(dir, name, n + 1);
		else
			c->pod_namespace[0] = '\0';
	}
	closedir(dp);
	return found;
}

/* /var/log/containers/<pod>_<namespace>_<container>-<id>.log: the container's name. */
static void container_log(const struct eph_containers *cs, struct eph_container *c)
{
	char path[PATH_MAX], prefix[EPH_CT_POD_LEN + EPH_CT_NAME_LEN + 2];
	char suffix[EPH_CT_ID_LEN + sizeof("-.log")];
	size_t plen, slen, n;
	struct dirent *d;
	DIR *dp;

	plen = snprintf(prefix, sizeof(prefix), "%s_%s_", c->pod, c->pod_namespace);
	slen = snprintf(suffix, sizeof(suffix), "-%s.log", c->id);
	if (!join(path, sizeof(path), "%s" CONTAINER_LOGS, cs->root))
		return;
	dp = opendir(path);
	if (!dp)
		return;
	while ((d = readdir(dp))) {
		n = strlen(d->d_name);
		if (n <= plen + slen || memcmp(d->d_name, prefix, plen) ||
		    strcmp(d->d_name + n - slen, suffix))
			continue;
		if (set_label(c->container, d->d_name + plen, n - plen - slen))
			break;
	}
	closedir(dp);
}

/* /var/log/pods/<dir>/<container>/: the container's name, when the pod has only the one. */
static void single_container(const struct eph_containers *cs, struct eph_container *c,
			     const char *dir)
{
	char path[PATH_MAX], name[NAME_MAX + 1] = "";
	unsigned int dirs = 0;
	struct dirent *d;
	struct stat st;
	DIR *dp;

	if (!join(path, sizeof(path), "%s" POD_LOGS "/%s", cs->root, dir))
		return;
	dp = opendir(path);
	if (!dp)
		return;
	while (dirs < 2 && (d = readdir(dp))) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (d->d_type != DT_DIR &&
		    (d->d_type != DT_UNKNOWN ||
		     fstatat(dirfd(dp), d->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		     !S_ISDIR(st.st_mode)))
			continue;
		if (!dirs++)
			snprintf(name, sizeof(name), "%s", d->d_name);
	}
	closedir(dp);
	if (dirs == 1)
		set_label(c->container, name, strlen(name));
}

/* The kubelet's log directories: the pod's, and the container's log link. */
static void log_names(const struct eph_containers *cs, struct eph_container *c)
{
	char dir[NAME_MAX + 1];

	if (!c->pod_uid[0] || !pod_dir(cs, c, dir))
		return;
	if (c->id[0])
		container_log(cs, c);
	if (!c->container[0])
		single_container(cs, c, dir);
}

/*
 * c's names (c as parsed: its names empty) from the node. Returns whether they are final: a
 * bundle was found (what the runtime wrote at creation does not change), or the logs gave the
 * pod and the container (when there is one). Else the caller looks again later.
 */
bool lookup_names(const struct eph_containers *cs, struct eph_container *c)
{
	if (bundle_names(cs, c))
		return true;
	log_names(cs, c);
	return c->pod[0] && (c->container[0] || !c->id[0]);
}
