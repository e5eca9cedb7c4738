// SPDX-License-Identifier: GPL-2.0
/*
 * The findings scenarios (findings.c): what one snapshot of top, or status, says in the
 * "findings" array about the scenario's namespace, against what must be there.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "findings_scn.h"

static bool is(json_object *o, const char *key, const char *want)
{
	const char *s = jstr(o, key);

	return s && !strcmp(s, want);
}

static bool num_is(json_object *o, const char *key, double want)
{
	double v;

	return jnum(o, key, &v) == 1 && v == want;
}

/* W_* of the finding's pid; 0 for a pid of none of ours. */
static unsigned int who_of(const struct fd_run *r, json_object *f)
{
	double pid;
	int k = jnum(f, "pid", &pid), i;

	if (k == 0)
		return W_NULL;
	if (k != 1)
		return 0;
	if (pid == r->d.w.pid)
		return W_MAIN;
	for (i = 0; i < r->nroles; i++)
		if (pid == r->role[i].pid)
			return W_B << i;
	return 0;
}

const char *fd_who_text(const struct fd_run *r, unsigned int mask, char *buf, size_t len)
{
	size_t n = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < W_ALL && n < len; i++) {
		if (!(mask & 1u << i))
			continue;
		if (1u << i == W_NULL)
			n += snprintf(buf + n, len - n, "%spid null", n ? " and " : "");
		else
			n += snprintf(buf + n, len - n, "%spid %d", n ? " and " : "",
				      (int)(1u << i == W_MAIN ? r->d.w.pid : r->role[i - 2].pid));
	}
	return buf;
}

static bool place_ok(const struct fd_spec *sp, json_object *f)
{
	if (sp->dest)
		return is(f, "proto", "tcp") && is(f, "daddr", "127.0.0.1") &&
		       num_is(f, "dport", sp->dport);
	if (sp->fixed)
		return is(f, "proto", "tcp") && num_is(f, "port", sp->dport);
	return true;
}

/* The findings of our namespace, as a JSON array (malloc), for a report. */
static char *ours_json(const struct fd_run *r, json_object *fs)
{
	json_object *ours = json_object_new_array(), *f;
	size_t i, n = json_object_array_length(fs);
	char *s;

	for (i = 0; i < n; i++) {
		f = json_object_array_get_idx(fs, i);
		if (num_is(f, "netns", (double)r->d.w.o->netns))
			json_object_array_add(ours, json_object_get(f));
	}
	s = strdup(json_object_to_json_string_ext(ours, JSON_C_TO_STRING_PLAIN));
	json_object_put(ours);
	return s;
}

void fd_snap_problem(struct fd_run *r, json_object *fs, const char *where, const char *what)
{
	char *ours = fs ? ours_json(r, fs) : NULL;

	drv_problem(&r->d, "%s: %s", where, what);
	buf_printf(&r->d.report, "    findings of netns %llu: %s\n",
		   (unsigned long long)r->d.w.o->netns, ours ? ours : "(none: no array)");
	free(ours);
}

static void note_info(struct fd_run *r, const char *kind, const char *where)
{
	char tag[64];
	size_t len = strlen(r->info_seen);

	snprintf(tag, sizeof(tag), "%s (%.*s)", kind ? kind : "?", (int)strcspn(where, " "), where);
	if (!strstr(r->info_seen, tag))
		snprintf(r->info_seen + len, sizeof(r->info_seen) - len, "%s%s", len ? ", " : "",
			 tag);
}

/* "kind severity pid P, left L/U" (first) or "and pid P", then the first words of the
 * evidence. */
static size_t saw(char *buf, size_t len, json_object *f, bool first, int words)
{
	double pid, left, usable;
	char who[32] = "pid null", lt[32] = "null";

	if (jnum(f, "pid", &pid) == 1)
		snprintf(who, sizeof(who), "pid %.0f", pid);
	if (jnum(f, "ports_left", &left) == 1)
		snprintf(lt, sizeof(lt), "%.0f", left);
	jnum(f, "usable", &usable);
	if (!first)
		return snprintf(buf, len, " and %s%s%.*s%s", who, words ? ": \"" : "", words,
				words ? jstr(f, "evidence") : "", words ? "\"" : "");
	return snprintf(buf, len, "%s %s %s, left %s/%.0f%s%.*s%s", jstr(f, "kind"),
			jstr(f, "severity"), who, lt, usable, words ? ": \"" : "", words,
			words ? jstr(f, "evidence") : "", words ? "\"" : "");
}

void fd_saw_all(char *out, size_t len, json_object *const hit[W_ALL], int words)
{
	size_t n = 0;
	int i;

	out[0] = '\0';
	for (i = 0; i < W_ALL && n < len; i++)
		if (hit[i])
			n += saw(out + n, len - n, hit[i], !n, n ? words / 2 : words);
}

unsigned int fd_check_snap(struct fd_run *r, json_object *snap, const char *where,
			   unsigned int need, bool show, int *bad, json_object *hit[W_ALL])
{
	const struct fd_spec *sp = r->sp;
	json_object *fs = jarr(snap, "findings"), *f;
	size_t i, n = fs ? json_object_array_length(fs) : 0;
	unsigned int found = 0, w;
	char what[512], wt[64];

	memset(hit, 0, W_ALL * sizeof(*hit));
	if (!fs) {
		if (show)
			fd_snap_problem(r, NULL, where, "expected a \"findings\" array got none");
		(*bad)++;
		return 0;
	}
	for (i = 0; i < n; i++) {
		f = json_object_array_get_idx(fs, i);
		if (!num_is(f, "netns", (double)r->d.w.o->netns))
			continue;
		w = who_of(r, f);
		if (sp->kind && is(f, "kind", sp->kind) && (w & need) && place_ok(sp, f)) {
			found |= w;
			hit[__builtin_ctz(w)] = f;
			continue;
		}
		if (!sp->kind && is(f, "severity", "info")) { /* find-plain: allowed */
			note_info(r, jstr(f, "kind"), where);
			continue;
		}
		if (need && is(f, "kind", sp->kind))
			snprintf(what, sizeof(what), "expected %s only with %s%s got %s", sp->kind,
				 fd_who_text(r, need, wt, sizeof(wt)),
				 sp->dest  ? " to 127.0.0.1" :
				 sp->fixed ? " on tcp port" :
					     "",
				 json_object_to_json_string_ext(f, JSON_C_TO_STRING_PLAIN));
		else
			snprintf(what, sizeof(what), "expected no %s finding got %s",
				 sp->kind ? "other" : "warning or critical",
				 json_object_to_json_string_ext(f, JSON_C_TO_STRING_PLAIN));
		if (show)
			fd_snap_problem(r, fs, where, what);
		(*bad)++;
	}
	return found;
}
