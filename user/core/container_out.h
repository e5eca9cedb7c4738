/* SPDX-License-Identifier: GPL-2.0 */
/* A container in the outputs: its JSON fields and the --container/--pod filters. No libbpf,
 * no system calls. */
#ifndef EPH_CONTAINER_OUT_H
#define EPH_CONTAINER_OUT_H

#include <stdbool.h>

#include "container.h"
#include "jsonw.h"

/* "container_id","container_runtime","pod","pod_namespace","pod_uid","container", each null
 * when not known (c NULL: all null). */
void eph_container__json(struct jsonw *w, const struct eph_container *c);

/* For a terminal: "pod NAMESPACE/POD[/CONTAINER]" (words) or "POD/CONTAINER", "RUNTIME:ID12"
 * (the id's first 12 digits), "pod uid UID" when only that is known. Returns out. */
#define EPH_CT_TEXT_LEN (EPH_CT_POD_LEN + 2 * EPH_CT_NAME_LEN + 16)
const char *eph_container__text(const struct eph_container *c, bool words, char *out, size_t len);

/* What --container and --pod ask for ("" = any). */
struct eph_ct_filter {
	char id[EPH_CT_ID_LEN];			    /* a prefix of the id, lower-case hex */
	char pod[EPH_CT_POD_LEN + EPH_CT_NAME_LEN]; /* "POD" or "NAMESPACE/POD" */
};

static inline bool eph_ct_filter__any(const struct eph_ct_filter *f)
{
	return !f->id[0] && !f->pod[0];
}

/* Set f->id from --container ARG (hex, 1 to 64 digits, upper case taken) or f->pod from --pod
 * ARG. 0 or -EINVAL. */
int eph_ct_filter__set_id(struct eph_ct_filter *f, const char *arg);
int eph_ct_filter__set_pod(struct eph_ct_filter *f, const char *arg);

/* c (NULL: a host process) is what f asks for. */
bool eph_ct_filter__match(const struct eph_ct_filter *f, const struct eph_container *c);

#endif
