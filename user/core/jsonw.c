// SPDX-License-Identifier: GPL-2.0
/* A JSON writer over a strbuf: see jsonw.h. */
#include <inttypes.h>
#include <math.h>

#include "event.h"
#include "jsonw.h"

void jsonw_raw(struct jsonw *w, const char *s)
{
	if (!w->err)
		w->err = sb_puts(w->sb, s);
}

static char last_char(const struct jsonw *w)
{
	return w->sb->len ? w->sb->buf[w->sb->len - 1] : 0;
}

void jsonw_elem(struct jsonw *w)
{
	char c = last_char(w);

	if (!w->err && c && c != '[' && c != '{')
		w->err = sb_putc(w->sb, ',');
}

void jsonw_key(struct jsonw *w, const char *name)
{
	jsonw_elem(w);
	/* no printf: a record's container members come here for every event */
	if (!w->err && name)
		w->err = sb_putc(w->sb, '"') ?: sb_puts(w->sb, name) ?: sb_append(w->sb, "\":", 2);
}

void jsonw_u64(struct jsonw *w, const char *name, uint64_t v)
{
	jsonw_key(w, name);
	if (!w->err)
		w->err = sb_u64(w->sb, v);
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
