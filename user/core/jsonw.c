// SPDX-License-Identifier: GPL-2.0
/* A JSON writer over a strbuf: see jsonw.h. */
#include <inttypes.h>
#include <math.h>

#include "event.h"
#include "format.h"
#include "jsonw.h"

void jsonw_raw(struct jsonw *w, const char *s)
{
	if (!w->err)
		w->err = sb_puts(w->sb, s);
}

/* A comma goes first: something other than '{' or '[' ends the buffer. */
static bool needs_comma(const struct jsonw *w)
{
	char c = w->sb->len ? w->sb->buf[w->sb->len - 1] : 0;

	return c && c != '[' && c != '{';
}

void jsonw_elem(struct jsonw *w)
{
	if (!w->err && needs_comma(w))
		w->err = sb_putc(w->sb, ',');
}

void jsonw_key(struct jsonw *w, const char *name)
{
	struct strbuf *sb = w->sb;
	size_t n;
	char *p;

	if (w->err)
		return;
	if (!name) {
		jsonw_elem(w);
		return;
	}
	/* ,"name": written in place after one check of the room: every member of every
	 * events --json line comes here */
	n = strlen(name);
	w->err = sb_reserve(sb, n + 4);
	if (w->err)
		return;
	p = sb->buf + sb->len;
	if (needs_comma(w))
		*p++ = ',';
	*p++ = '"';
	memcpy(p, name, n);
	p += n;
	*p++ = '"';
	*p++ = ':';
	*p = '\0';
	sb->len = (size_t)(p - sb->buf);
}

void jsonw_u64(struct jsonw *w, const char *name, uint64_t v)
{
	jsonw_key(w, name);
	if (!w->err)
		w->err = sb_u64(w->sb, v);
}

void jsonw_u64_or_null(struct jsonw *w, const char *name, uint64_t v, bool known)
{
	if (known)
		jsonw_u64(w, name, v);
	else
		jsonw_null(w, name);
}

void jsonw_i64(struct jsonw *w, const char *name, int64_t v)
{
	jsonw_key(w, name);
	if (!w->err && v < 0)
		w->err = sb_putc(w->sb, '-');
	if (!w->err)
		w->err = sb_u64(w->sb, v < 0 ? -(uint64_t)v : (uint64_t)v);
}

void jsonw_double(struct jsonw *w, const char *name, double v)
{
	jsonw_key(w, name);
	if (w->err)
		return;
	if (isnan(v) || isinf(v))
		w->err = sb_puts(w->sb, "null");
	else if (v == floor(v) && fabs(v) < 1e15)
		w->err = sb_printf(w->sb, "%.0f", v);
	else
		w->err = sb_printf(w->sb, "%.6g", v);
}

void jsonw_bool(struct jsonw *w, const char *name, int v)
{
	jsonw_key(w, name);
	jsonw_raw(w, v ? "true" : "false");
}

void jsonw_null(struct jsonw *w, const char *name)
{
	jsonw_key(w, name);
	jsonw_raw(w, "null");
}

void jsonw_str(struct jsonw *w, const char *name, const char *s, size_t n)
{
	jsonw_key(w, name);
	if (!w->err)
		w->err = s ? sb_json_str(w->sb, s, n) : sb_puts(w->sb, "null");
}

void jsonw_addr(struct jsonw *w, const char *name, uint8_t family, const uint8_t *addr)
{
	char buf[64];

	if (eph_addr_str(family, addr, buf, sizeof(buf)))
		jsonw_str(w, name, NULL, 0);
	else
		jsonw_str(w, name, buf, sizeof(buf));
}

void jsonw_time(struct jsonw *w, const char *name, uint64_t wall_ns)
{
	jsonw_key(w, name);
	jsonw_raw(w, "\"");
	if (!w->err)
		w->err = eph_format_time(w->sb, wall_ns);
	jsonw_raw(w, "\"");
}

int jsonw_end(struct jsonw *w, size_t start)
{
	if (w->err && w->sb->len > start)
		sb_truncate(w->sb, start);
	return w->err;
}
