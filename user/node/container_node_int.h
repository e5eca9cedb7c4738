/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the node's name resolver shares between its files (container_node.c: the cache and the
 * object; container_names.c: what the node's files say). Not for other modules: they use
 * container.h.
 */
#ifndef EPH_CONTAINER_NODE_INT_H
#define EPH_CONTAINER_NODE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "container.h"
#include "table.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum runtime_code {
	RT_NONE,
	RT_DOCKER,
	RT_CONTAINERD,
	RT_CRIO,
	RT_PODMAN,
};

static const char *const runtimes[] = {
	[RT_NONE] = "",	     [RT_DOCKER] = "docker", [RT_CONTAINERD] = "containerd",
	[RT_CRIO] = "cri-o", [RT_PODMAN] = "podman",
};

struct eph_containers {
	struct eph_tab tab;
	char *root; /* without a trailing '/': "" is the real node */
	char *proc_root;
	uint32_t head, tail; /* most and least recently used: record index + 1, 0 for none */
	size_t blob_bytes;
};

/* The path printf would give, into buf; false if it does not fit. */
bool join(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* c's names from the node's files; whether they are final (container_names.c). */
bool lookup_names(const struct eph_containers *cs, struct eph_container *c);

#endif
