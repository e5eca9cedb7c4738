/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which container, and which Kubernetes pod, a process runs in: from the text of
 * /proc/PID/cgroup (cgroup v1 and v2, systemd and cgroupfs drivers) and from the container
 * runtime's state on the node, never from an API server.
 *
 * - eph_container__parse() is pure (no system calls): a cgroup path names the runtime and the
 *   container id (docker "docker-<id>.scope" and "/docker/<id>", containerd
 *   "cri-containerd-<id>.scope", CRI-O "crio-<id>.scope", podman "libpod-<id>.scope") and, on a
 *   Kubernetes node, the pod UID ("kubepods-<qos>-pod<uid>.slice", "kubepods/<qos>/pod<uid>").
 *   container.c lists every form it knows.
 * - struct eph_containers adds the names (pod, pod namespace, container) read from the node:
 *   the OCI bundle's config.json annotations (containerd io.kubernetes.cri.*, CRI-O
 *   io.kubernetes.pod.* / io.kubernetes.container.name), else the kubelet's log directories
 *   (/var/log/pods/<namespace>_<pod>_<uid>/<container>/, /var/log/containers/
 *   <pod>_<namespace>_<container>-<id>.log). Cached per cgroup path, bounded; a path whose
 *   names were not found yet is looked up again after EPH_CT_RETRY_NS.
 */
#ifndef EPH_CONTAINER_H
#define EPH_CONTAINER_H

#include <stddef.h>
#include <stdint.h>

#define EPH_CT_ID_LEN 65	       /* 64 hex digits and a NUL */
#define EPH_CT_UID_LEN 37	       /* a UUID with dashes (or 32 hex digits) and a NUL */
#define EPH_CT_RUNTIME_LEN 16	       /* "docker", "containerd", "cri-o", "podman" */
#define EPH_CT_POD_LEN 254	       /* a DNS subdomain (253) and a NUL */
#define EPH_CT_NAME_LEN 64	       /* a DNS label (63) and a NUL: pod namespace, container */
#define EPH_CT_RETRY_NS 10000000000ull /* names not found: look again after 10 s */
#define EPH_CT_DEFAULT_MAX 4096	       /* cgroup paths cached */

struct eph_container {
	char runtime[EPH_CT_RUNTIME_LEN];    /* "" when the path names none */
	char id[EPH_CT_ID_LEN];		     /* lower-case hex; "" when not in a container */
	char pod_uid[EPH_CT_UID_LEN];	     /* with dashes (static pod: 32 hex); "" when no pod */
	char pod[EPH_CT_POD_LEN];	     /* "" when not known */
	char pod_namespace[EPH_CT_NAME_LEN]; /* "" when not known */
	char container[EPH_CT_NAME_LEN];     /* the container's name in its pod; "" unknown */
};

/* Nothing: a host process (or a process that is gone). */
static inline int eph_container__none(const struct eph_container *c)
{
	return !c->id[0] && !c->pod_uid[0];
}

/*
 * One cgroup path ("/kubepods/besteffort/pod<uid>/<id>", "/system.slice/docker-<id>.scope"...)
 * into c (zeroed first): runtime, id and pod_uid; names stay "". The innermost container wins
 * (docker-in-docker, kind), and a pod clears a container found above it (the node's, under
 * kind). runtime is "" when the path does not say (Kubernetes with the cgroupfs driver:
 * "pod<uid>/<id>"). Returns 0 when the path names a container or a pod, -ENOENT when it names
 * neither.
 */
int eph_container__parse_path(const char *path, struct eph_container *c);

/*
 * The text of /proc/PID/cgroup ("0::/path" on v2, "N:controllers:/path" on v1) into c, and the
 * path it came from into key (for the cache): the v2 line if it names a container or pod, else
 * the first v1 line that does (a removed cgroup's " (deleted)" is not part of the path).
 * Returns 0, -ENOENT (a host process: c zeroed, key "") or -ENAMETOOLONG (key too short for
 * the path: c filled all the same, key "").
 */
int eph_container__parse(const char *text, struct eph_container *c, char *key, size_t keylen);

struct eph_containers;

/*
 * A resolver that reads the node under root ("" or "/" for the real one; a directory where
 * the node's /var/log and /run are mounted, for a DaemonSet or a test) and /proc under
 * proc_root (NULL: "/proc"). At most max cgroup paths are cached (0: EPH_CT_DEFAULT_MAX);
 * when full, the least recently used goes. Returns NULL on -ENOMEM (errno set). Not
 * thread-safe: one resolver per thread.
 */
struct eph_containers *eph_containers__new(const char *root, const char *proc_root, size_t max);
void eph_containers__free(struct eph_containers *cs); /* NULL-safe */

/*
 * The container of the cgroup text (as eph_container__parse) with its names looked up (cached
 * by the path; now_ns is CLOCK_MONOTONIC, for the retry). The names are looked up when the path
 * is first seen, and again from EPH_CT_RETRY_NS after a look-up that did not find them all.
 * Returns 0 (out filled), -ENOENT (a host process: out zeroed; nothing is cached) or -ENOMEM
 * (the path could not be cached: out filled all the same). A path longer than PATH_MAX gives
 * its container without names, uncached.
 */
int eph_containers__resolve(struct eph_containers *cs, const char *cgroup_text, uint64_t now_ns,
			    struct eph_container *out);

/* The text of the file at path (a /proc file) into buf, NUL-terminated, at most size - 1
 * bytes: cut after its last whole line when longer. Returns 0 or -errno. */
int eph_read_text(const char *path, char *buf, size_t size);

/* The same from /proc/PID/cgroup. -ENOENT also when the process is gone; another -errno (out
 * zeroed) when the file cannot be read. */
int eph_containers__pid(struct eph_containers *cs, uint32_t pid, uint64_t now_ns,
			struct eph_container *out);

/* Cached paths now, and the bytes the cache holds: its table and the paths and names it
 * allocated, without the allocator's own overhead (for the bounded-memory tests). */
size_t eph_containers__count(const struct eph_containers *cs);
size_t eph_containers__bytes(const struct eph_containers *cs);

/* A short form for 80-column tables: "pod/container", "pod", else the first 12 digits of the
 * id, else "". Returns out. */
const char *eph_container__short(const struct eph_container *c, char *out, size_t len);

#endif
