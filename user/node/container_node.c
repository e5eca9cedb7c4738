// SPDX-License-Identifier: GPL-2.0
/*
 * Containers' and pods' names from the node's files, cached per cgroup path. See container.h;
 * the look-up in the node's files is container_names.c.
 *
 * The cache is a table (table.h) of small fixed records keyed by a 64-bit hash of the cgroup
 * path, each pointing to one allocation with the path (compared on every hit) and the names
 * found; a list through the records keeps them in order of use, and the least recently used
 * goes when the table is full. The container id, runtime and pod UID are not stored: parsing
 * the path again gives them.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "container.h"
#include "container_node_int.h"
#include "table.h"

#define CT_CGROUP_TEXT_MAX 16384 /* bytes of /proc/PID/cgroup read at most */
#define CT_NEVER UINT64_MAX	 /* retry_ns of names that are final */

/* One cached cgroup path: a record of the table. */
struct ct_rec {
	uint64_t key;	     /* hash of the path, never 0 (the table's key) */
	char *blob;	     /* "path\0pod\0namespace\0container\0uid\0" (uid: see rec_store) */
	uint64_t retry_ns;   /* look the names up again from then on; CT_NEVER: final */
	uint32_t prev, next; /* the list in order of use: record index + 1, 0 for none */
	uint32_t blob_len;
	uint8_t runtime; /* enum runtime_code, as resolved */
	uint8_t pad[3];
};

/* ---- the cache ---------------------------------------------------------------------------- */

/* A 64-bit hash of the n bytes at s (with the table's mixing), never 0. */
static uint64_t path_hash(const char *s, size_t n)
{
	uint64_t h = EPH_TAB_K2 ^ n;
	uint8_t tail[16] = { 0 };

	for (; n >= 16; n -= 16, s += 16)
		h = eph_tab__mix(h, eph_tab__load64((const uint8_t *)s),
				 eph_tab__load64((const uint8_t *)s + 8));
	memcpy(tail, s, n);
	h = eph_tab__mix(h, eph_tab__load64(tail), eph_tab__load64(tail + 8));
	h = eph_tab__mul(h ^ EPH_TAB_K2, EPH_TAB_K1);
	return h ? h : 1;
}

static uint32_t key_hash(uint64_t key)
{
	return eph_tab__hash(&key, sizeof(key));
}

static struct ct_rec *rec_at(const struct eph_containers *cs, uint32_t i)
{
	return eph_tab__rec(&cs->tab, i);
}

static void lru_unlink(struct eph_containers *cs, uint32_t i)
{
	struct ct_rec *r = rec_at(cs, i);

	if (r->prev)
		rec_at(cs, r->prev - 1)->next = r->next;
	else
		cs->head = r->next;
	if (r->next)
		rec_at(cs, r->next - 1)->prev = r->prev;
	else
		cs->tail = r->prev;
	r->prev = 0;
	r->next = 0;
}

static void lru_push(struct eph_containers *cs, uint32_t i)
{
	struct ct_rec *r = rec_at(cs, i);

	r->prev = 0;
	r->next = cs->head;
	if (cs->head)
		rec_at(cs, cs->head - 1)->prev = i + 1;
	else
		cs->tail = i + 1;
	cs->head = i + 1;
}

/* Record i out of the list and the table, its allocation freed. */
static void rec_drop(struct eph_containers *cs, uint32_t i)
{
	struct ct_rec *r = rec_at(cs, i);
	uint32_t h = key_hash(r->key);

	lru_unlink(cs, i);
	cs->blob_bytes -= r->blob_len;
	free(r->blob);
	eph_tab__del(&cs->tab, i, &h);
}

static enum runtime_code runtime_code(const char *runtime)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(runtimes); i++)
		if (!strcmp(runtime, runtimes[i]))
			return i;
	return RT_NONE;
}

/*
 * Record i's path (key), c's names and runtime, and c's pod UID when the path did not give it
 * (own_uid: it came from a bundle); the names final or to be looked up again from
 * EPH_CT_RETRY_NS after now_ns. Returns 0 or -ENOMEM (the record as it was).
 */
static int rec_store(struct eph_containers *cs, uint32_t i, const char *key,
		     const struct eph_container *c, bool own_uid, bool final, uint64_t now_ns)
{
	const char *parts[] = { key, c->pod, c->pod_namespace, c->container,
				own_uid ? c->pod_uid : "" };
	struct ct_rec *r = rec_at(cs, i);
	size_t len[ARRAY_SIZE(parts)], total = 0, k;
	char *blob, *p;

	for (k = 0; k < ARRAY_SIZE(parts); k++) {
		len[k] = strlen(parts[k]) + 1;
		total += len[k];
	}
	if (total > UINT32_MAX)
		return -ENOMEM;
	blob = malloc(total);
	if (!blob)
		return -ENOMEM;
	for (p = blob, k = 0; k < ARRAY_SIZE(parts); p += len[k], k++)
		memcpy(p, parts[k], len[k]);
	cs->blob_bytes -= r->blob_len;
	cs->blob_bytes += total;
	free(r->blob);
	r->blob = blob;
	r->blob_len = (uint32_t)total;
	r->runtime = runtime_code(c->runtime);
	if (final)
		r->retry_ns = CT_NEVER;
	else
		r->retry_ns = now_ns < CT_NEVER - 1 - EPH_CT_RETRY_NS ? now_ns + EPH_CT_RETRY_NS :
									CT_NEVER - 1;
	return 0;
}

/* The string at s into dst (it fits: it was validated before it was stored); the next one. */
static const char *take(char *dst, size_t size, const char *s)
{
	size_t n = strlen(s);

	if (n < size)
		memcpy(dst, s, n + 1);
	return s + n + 1;
}

/* Record r's names (and runtime, and pod UID if it has one) into c, as parsed from its path. */
static void rec_fill(const struct ct_rec *r, struct eph_container *c)
{
	const char *s = r->blob + strlen(r->blob) + 1;

	s = take(c->pod, sizeof(c->pod), s);
	s = take(c->pod_namespace, sizeof(c->pod_namespace), s);
	s = take(c->container, sizeof(c->container), s);
	if (*s)
		take(c->pod_uid, sizeof(c->pod_uid), s);
	snprintf(c->runtime, sizeof(c->runtime), "%s", runtimes[r->runtime]);
}

/* A new record for the path key (hash h) with c's names; the least recently used one goes
 * first when the table is full. Returns 0 or -ENOMEM. */
static int rec_insert(struct eph_containers *cs, const char *key, uint64_t h,
		      const struct eph_container *c, bool own_uid, bool final, uint64_t now_ns)
{
	uint32_t hash = key_hash(h);
	int64_t i;

	if (cs->tab.len >= cs->tab.max && cs->tail)
		rec_drop(cs, cs->tail - 1);
	i = eph_tab__alloc(&cs->tab);
	if (i < 0)
		return -ENOMEM;
	rec_at(cs, i)->key = h;
	if (rec_store(cs, i, key, c, own_uid, final, now_ns)) {
		eph_tab__del(&cs->tab, i, &hash);
		return -ENOMEM;
	}
	eph_tab__link(&cs->tab, i, &hash);
	lru_push(cs, i);
	return 0;
}

int eph_containers__resolve(struct eph_containers *cs, const char *cgroup_text, uint64_t now_ns,
			    struct eph_container *out)
{
	char key[PATH_MAX];
	bool had_uid, final;
	struct ct_rec *r;
	uint64_t h;
	int64_t i;
	int err;

	err = eph_container__parse(cgroup_text, out, key, sizeof(key));
	if (err == -ENAMETOOLONG)
		return 0; /* no cgroup path is that long: not worth a look-up, nor a record */
	if (err)
		return err;
	h = path_hash(key, strlen(key));
	i = eph_tab__find(&cs->tab, 0, &h, key_hash(h));
	if (i >= 0 && strcmp(rec_at(cs, i)->blob, key)) {
		rec_drop(cs, i); /* another path with the same hash: this one takes its place */
		i = -1;
	}
	if (i >= 0) {
		lru_unlink(cs, i);
		lru_push(cs, i);
		r = rec_at(cs, i);
		if (now_ns < r->retry_ns) {
			rec_fill(r, out);
			return 0;
		}
	}
	had_uid = out->pod_uid[0];
	final = lookup_names(cs, out);
	if (i >= 0)
		return rec_store(cs, i, key, out, !had_uid, final, now_ns);
	return rec_insert(cs, key, h, out, !had_uid, final, now_ns);
}

int eph_read_text(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	char *nl;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	while (len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			err = -errno;
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	if (len == size - 1 && (nl = strrchr(buf, '\n')))
		nl[1] = '\0';
	return err;
}

int eph_containers__pid(struct eph_containers *cs, uint32_t pid, uint64_t now_ns,
			struct eph_container *out)
{
	char path[PATH_MAX], text[CT_CGROUP_TEXT_MAX];
	int err;

	memset(out, 0, sizeof(*out));
	if (!join(path, sizeof(path), "%s/%u/cgroup", cs->proc_root, pid))
		return -ENAMETOOLONG;
	err = eph_read_text(path, text, sizeof(text));
	if (err)
		return err == -ESRCH ? -ENOENT : err; /* ESRCH: gone between open and read */
	return eph_containers__resolve(cs, text, now_ns, out);
}

/* ---- the object ----------------------------------------------------------------------------- */

struct eph_containers *eph_containers__new(const char *root, const char *proc_root, size_t max)
{
	const struct eph_tab_key key = { .off = offsetof(struct ct_rec, key),
					 .len = sizeof(uint64_t) };
	struct eph_containers *cs;
	size_t n;

	cs = calloc(1, sizeof(*cs));
	if (!cs)
		goto out_enomem;
	root = root ? root : "";
	for (n = strlen(root); n && root[n - 1] == '/'; n--)
		;
	cs->root = strndup(root, n);
	cs->proc_root = strdup(proc_root ? proc_root : "/proc");
	if (!cs->root || !cs->proc_root)
		goto out_free;
	if (!max)
		max = EPH_CT_DEFAULT_MAX;
	if (eph_tab__init(&cs->tab, sizeof(struct ct_rec), &key, 1,
			  max < EPH_TAB_MAX_RECS ? (uint32_t)max : EPH_TAB_MAX_RECS))
		goto out_free;
	return cs;

out_free:
	eph_containers__free(cs);
out_enomem:
	errno = ENOMEM;
	return NULL;
}

void eph_containers__free(struct eph_containers *cs)
{
	uint32_t i;

	if (!cs)
		return;
	for (i = cs->head; i; i = rec_at(cs, i - 1)->next)
		free(rec_at(cs, i - 1)->blob);
	eph_tab__fini(&cs->tab);
	free(cs->root);
	free(cs->proc_root);
	free(cs);
}

size_t eph_containers__count(const struct eph_containers *cs)
{
	return cs->tab.len;
}

size_t eph_containers__bytes(const struct eph_containers *cs)
{
	const struct eph_tab *t = &cs->tab;

	return sizeof(*cs) + strlen(cs->root) + 1 + strlen(cs->proc_root) + 1 +
	       (size_t)t->cap * (t->size + 1) + t->nchunks * sizeof(*t->chunks) +
	       (size_t)t->nkeys * t->nslots * sizeof(struct eph_tab_slot) + cs->blob_bytes;
}
