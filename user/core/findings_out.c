// SPDX-License-Identifier: GPL-2.0
/* Findings as JSON and as text for a terminal: see findings.h. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "findings.h"
#include "container_out.h"
#include "jsonw.h"

#define TEXT_COLS 79
#define TEXT_INDENT "     "

static void json_one(struct jsonw *w, const struct eph_finding *f)
{
	jsonw_raw(w, "{");
	jsonw_str(w, "kind", eph_find_kind_name(f->kind), 64);
	jsonw_str(w, "severity", eph_find_severity_name(f->severity), 16);
	jsonw_u64(w, "netns", f->netns);
	jsonw_double(w, "pid", f->who.pid ? f->who.pid : NAN);
	jsonw_str(w, "comm", f->who.pid ? f->who.comm : NULL, sizeof(f->who.comm));
	jsonw_str(w, "cgroup", f->who.cgroup[0] ? f->who.cgroup : NULL, sizeof(f->who.cgroup));
	eph_container__json(w, &f->who.ct);
	if (f->has_dest) {
		jsonw_str(w, "proto", eph_proto_name(f->dest.proto), 8);
		jsonw_addr(w, "saddr", f->dest.family, f->dest.saddr);
		jsonw_addr(w, "daddr", f->dest.family, f->dest.daddr);
		jsonw_u64(w, "dport", f->dest.dport);
	}
	if (f->kind == EPH_FIND_FIXED_PORT_CONFLICT) {
		jsonw_str(w, "proto", eph_proto_name(f->proto), 8);
		jsonw_u64(w, "port", f->port);
	}
	jsonw_double(w, "ports_left", f->ports_left);
	jsonw_double(w, "usable", f->usable);
	jsonw_str(w, "evidence", f->evidence, sizeof(f->evidence));
	jsonw_str(w, "advice", f->advice, sizeof(f->advice));
	jsonw_raw(w, "}");
}

int eph_finding__json(const struct eph_finding *f, struct strbuf *sb)
{
	struct jsonw w = { .sb = sb };
	size_t start = sb->len;

	json_one(&w, f);
	return jsonw_end(&w, start);
}

int eph_findings__json(const struct eph_findings *fs, struct strbuf *sb)
{
	struct jsonw w = { .sb = sb };
	size_t i, start = sb->len;

	jsonw_raw(&w, "[");
	for (i = 0; i < fs->n; i++) {
		jsonw_elem(&w);
		json_one(&w, &fs->f[i]);
	}
	jsonw_raw(&w, "]");
	return jsonw_end(&w, start);
}

/* text after prefix, wrapped at TEXT_COLS on spaces, each further line indented. */
static int wrap(struct strbuf *sb, const char *prefix, const char *text)
{
	size_t width = TEXT_COLS - strlen(TEXT_INDENT), len, cut;
	const char *lead = prefix;
	int err = 0;

	while (*text && !err) {
		size_t room = width - (lead == prefix ? strlen(prefix) - strlen(TEXT_INDENT) : 0);

		len = strlen(text);
		cut = len;
		if (len > room) {
			for (cut = room; cut > 0 && text[cut] != ' '; cut--)
				;
			if (!cut)
				cut = room; /* one word longer than a line */
		}
		err = sb_printf(sb, "%s%.*s\n", lead, (int)cut, text);
		text += cut;
		while (*text == ' ')
			text++;
		lead = TEXT_INDENT;
	}
	return err;
}

static void who_text(const struct eph_finding *f, char *buf, size_t len)
{
	char place[80] = "";

	if (f->has_dest) {
		char a[64];

		if (eph_addr_str(f->dest.family, f->dest.daddr, a, sizeof(a)))
			snprintf(a, sizeof(a), "?");
		snprintf(place, sizeof(place),
			 f->dest.family == AF_INET6 ? " -> [%s]:%u" : " -> %s:%u", a,
			 f->dest.dport);
	} else if (f->kind == EPH_FIND_FIXED_PORT_CONFLICT) {
		snprintf(place, sizeof(place), " %s port %u", eph_proto_name(f->proto), f->port);
	}
	if (f->who.pid) {
		char comm[EPH_COMM_LEN];
		size_t i;

		/* a comm can hold any byte: a terminal gets printable ones */
		for (i = 0; i < sizeof(comm) - 1 && f->who.comm[i]; i++)
			comm[i] = f->who.comm[i] >= 0x20 && f->who.comm[i] < 0x7f ? f->who.comm[i] :
										    '?';
		comm[i] = '\0';
		snprintf(buf, len, "pid %u %s%s", f->who.pid, comm, place);
	} else
		snprintf(buf, len, "netns %u%s", f->netns, place);
}

int eph_findings__text(const struct eph_findings *fs, struct strbuf *sb, unsigned int limit)
{
	static const char *const sev[] = { "INFO", "WARN", "CRIT" };
	size_t i, n = limit && limit < fs->n ? limit : fs->n;
	int err = 0;

	if (!fs->n)
		return 0;
	err = sb_puts(sb, "\nFINDINGS\n");
	for (i = 0; i < n && !err; i++) {
		const struct eph_finding *f = &fs->f[i];
		char who[120], fix[240];

		who_text(f, who, sizeof(who));
		err = sb_printf(sb, "%-4s %-19s %.55s\n", sev[f->severity],
				eph_find_kind_name(f->kind), who);
		if (!err && !eph_container__none(&f->who.ct)) {
			char ct[EPH_CT_TEXT_LEN];

			err = sb_printf(sb, TEXT_INDENT "in %.70s\n",
					eph_container__text(&f->who.ct, true, ct, sizeof(ct)));
		}
		if (!err)
			err = wrap(sb, TEXT_INDENT, f->evidence);
		snprintf(fix, sizeof(fix), "fix: %s", f->advice);
		if (!err)
			err = wrap(sb, TEXT_INDENT, fix);
	}
	if (!err && n < fs->n)
		err = sb_printf(sb, "... %zu more (--json has all)\n", fs->n - n);
	return err;
}
