// SPDX-License-Identifier: GPL-2.0
/*
 * Prometheus exposition: the syntax of the two formats (text 0.0.4 and OpenMetrics 1.0), the
 * writer the families of metrics.c and metrics_rows.c are written with, and which format an
 * Accept header asks for. See metrics_int.h.
 *
 * The two formats differ in little: OpenMetrics names a counter's family without "_total"
 * (its samples keep it), has UNIT lines, an "info" type, and ends with "# EOF". Both escape
 * label values the same way. A family's HELP/TYPE lines are written before its first sample,
 * so a family without samples leaves no trace.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "metrics_int.h"

void put(struct writer *w, const char *s)
{
	if (!w->err)
		w->err = sb_puts(w->sb, s);
}

static void put_u64(struct writer *w, uint64_t v)
{
	if (!w->err)
		w->err = sb_printf(w->sb, "%" PRIu64, v);
}

/* HELP text: backslash and newline escaped (and double quote in OpenMetrics). */
static void put_help(struct writer *w, const char *s)
{
	for (; *s && !w->err; s++) {
		if (*s == '\\')
			put(w, "\\\\");
		else if (*s == '\n')
			put(w, "\\n");
		else if (*s == '"' && w->om)
			put(w, "\\\"");
		else
			w->err = sb_putc(w->sb, *s);
	}
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if there is none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0; /* continuation byte, overlong lead (c0 c1) or beyond U+10FFFF */
	if (s[0] == 0xe0)
		lo = 0xa0; /* overlong */
	else if (s[0] == 0xed)
		hi = 0x9f; /* surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90; /* overlong */
	else if (s[0] == 0xf4)
		hi = 0x8f; /* above U+10FFFF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* U+2400 + c for a C0 control byte, U+2421 for DEL: visible, and safe for readers that also
 * split lines at '\r' or choke on control bytes. */
static int control_picture(struct strbuf *sb, unsigned char c)
{
	unsigned int cp = c == 0x7f ? 0x2421 : 0x2400 + c;
	char u[3] = { (char)(0xe0 | cp >> 12), (char)(0x80 | ((cp >> 6) & 0x3f)),
		      (char)(0x80 | (cp & 0x3f)) };

	return sb_append(sb, u, 3);
}

int eph_metrics_label_value(struct strbuf *sb, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t old = sb->len, i = 0;
	int err;

	n = s ? strnlen(s, n) : 0;
	err = sb_putc(sb, '"');
	while (!err && i < n) {
		size_t len = utf8_len(p + i, n - i);

		if (p[i] == '\\')
			err = sb_append(sb, "\\\\", 2);
		else if (p[i] == '"')
			err = sb_append(sb, "\\\"", 2);
		else if (p[i] == '\n')
			err = sb_append(sb, "\\n", 2);
		else if (p[i] < 0x20 || p[i] == 0x7f)
			err = control_picture(sb, p[i]);
		else if (!len)
			err = sb_append(sb, "\xef\xbf\xbd", 3); /* U+FFFD for the stray byte */
		else
			err = sb_append(sb, s + i, len);
		i += len ? len : 1;
	}
	err = err ?: sb_putc(sb, '"');
	if (err)
		sb_truncate(sb, old);
	return err;
}

/* Go's strconv.FormatFloat(v, 'g', -1, 64) into buf (at least 32 bytes). */
static void format_float(char *buf, size_t len, double v)
{
	int prec, exp;

	if (isnan(v)) {
		snprintf(buf, len, "NaN");
		return;
	}
	if (isinf(v) || v == 0) {
		snprintf(buf, len, "%s",
			 isinf(v) ? (v > 0 ? "+Inf" : "-Inf") : (signbit(v) ? "-0" : "0"));
		return;
	}
	/* The fewest significant digits that read back as the same double. */
	for (prec = 0; prec < 17; prec++) {
		snprintf(buf, len, "%.*e", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	exp = atoi(strchr(buf, 'e') + 1);
	if (exp < -4 || exp >= 6) /* Go's rule for the shortest form: %e outside [1e-4, 1e6) */
		return;
	snprintf(buf, len, "%.*f", prec - exp > 0 ? prec - exp : 0, v);
}

int eph_metrics_float(struct strbuf *sb, double v)
{
	char buf[40];

	format_float(buf, sizeof(buf), v);
	return sb_puts(sb, buf);
}

/* Integer nanoseconds as exact decimal seconds: 1500000000 -> "1.5", 12 -> "0.000000012". */
static void put_ns_as_seconds(struct writer *w, uint64_t ns)
{
	char frac[16];
	int i;

	if (w->err)
		return;
	snprintf(frac, sizeof(frac), "%09" PRIu64, ns % 1000000000);
	for (i = 8; i >= 0 && frac[i] == '0'; i--)
		frac[i] = '\0';
	w->err = sb_printf(w->sb, "%" PRIu64 "%s%s", ns / 1000000000, frac[0] ? "." : "", frac);
}

static void header(struct writer *w, const struct family *f)
{
	const char *type = "counter", *suffix = "";

	switch (f->type) {
	case M_COUNTER:
		suffix = w->om ? "" : "_total";
		break;
	case M_GAUGE:
		type = "gauge";
		break;
	case M_HISTOGRAM:
		type = "histogram";
		break;
	case M_INFO: /* text 0.0.4 has no info type: a gauge named ..._info, always 1 */
		type = w->om ? "info" : "gauge";
		suffix = w->om ? "" : "_info";
		break;
	}
	put(w, "# HELP ");
	put(w, f->name);
	put(w, suffix);
	put(w, " ");
	put_help(w, f->help);
	put(w, "\n# TYPE ");
	put(w, f->name);
	put(w, suffix);
	put(w, " ");
	put(w, type);
	put(w, "\n");
	if (w->om && f->unit) {
		put(w, "# UNIT ");
		put(w, f->name);
		put(w, " ");
		put(w, f->unit);
		put(w, "\n");
	}
}

void family(struct writer *w, const struct family *f)
{
	w->pending = f;
	w->name = f->name;
}

/* Start a sample of the current family: its name plus suffix ("_total", "_bucket", ...). */
void sample(struct writer *w, const char *suffix)
{
	if (w->pending) {
		header(w, w->pending);
		w->pending = NULL;
	}
	put(w, w->name);
	put(w, suffix);
	w->nlabels = 0;
}

void label(struct writer *w, const char *name, const char *value, size_t n)
{
	put(w, w->nlabels++ ? "," : "{");
	put(w, name);
	put(w, "=");
	if (!w->err)
		w->err = eph_metrics_label_value(w->sb, value, n);
}

void label_str(struct writer *w, const char *name, const char *value)
{
	label(w, name, value, strlen(value));
}

void label_u64(struct writer *w, const char *name, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	label_str(w, name, buf);
}

void label_float(struct writer *w, const char *name, double v)
{
	char buf[40];

	format_float(buf, sizeof(buf), v);
	label_str(w, name, buf);
}

/* End the labels, then " value\n". */
static void value_begin(struct writer *w)
{
	put(w, w->nlabels ? "} " : " ");
}

void value_u64(struct writer *w, uint64_t v)
{
	value_begin(w);
	put_u64(w, v);
	put(w, "\n");
}

void value_float(struct writer *w, double v)
{
	value_begin(w);
	if (!w->err)
		w->err = eph_metrics_float(w->sb, v);
	put(w, "\n");
}

void value_seconds(struct writer *w, uint64_t ns)
{
	value_begin(w);
	put_ns_as_seconds(w, ns);
	put(w, "\n");
}

const char *or_number(const char *name, unsigned int v, struct name_buf *b)
{
	if (name)
		return name;
	snprintf(b->s, sizeof(b->s), "%u", v);
	return b->s;
}

void label_errno(struct writer *w, const char *name, int err)
{
	char buf[16];

	label_str(w, name, eph_errno_name(err, buf, sizeof(buf)));
}

/* ---- content negotiation ---- */

static const char *skip_ws(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return s;
}

static const char *trim_end(const char *s, const char *end)
{
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return end;
}

static bool token_is(const char *s, const char *end, const char *token)
{
	size_t n = strlen(token);

	return (size_t)(end - s) == n && !strncasecmp(s, token, n);
}

/* The q parameter of one media range (1 when absent, 0 when malformed). */
static double media_q(const char *params, const char *end)
{
	while (params < end) {
		const char *semi = memchr(params, ';', end - params), *p;

		semi = semi ? semi : end;
		p = skip_ws(params, semi);
		if (semi - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
			char buf[16] = "";
			size_t n = trim_end(p + 2, semi) - (p + 2);
			char *e;
			double q;

			if (!n || n >= sizeof(buf))
				return 0;
			memcpy(buf, p + 2, n);
			q = strtod(buf, &e);
			if (*e || isnan(q) || q < 0)
				return 0;
			return q > 1 ? 1 : q;
		}
		params = semi < end ? semi + 1 : end;
	}
	return 1;
}

bool eph_metrics_wants_openmetrics(const char *accept)
{
	double q_om = 0, q_text = 0;
	const char *s = accept;

	if (!s)
		return false;
	while (*s) {
		const char *end = strchr(s, ','), *semi, *type_end;
		double q;

		end = end ? end : s + strlen(s);
		semi = memchr(s, ';', end - s);
		type_end = semi ? semi : end;
		s = skip_ws(s, type_end);
		type_end = trim_end(s, type_end);
		q = media_q(semi ? semi + 1 : end, end);
		if (token_is(s, type_end, "application/openmetrics-text"))
			q_om = q > q_om ? q : q_om;
		else if (token_is(s, type_end, "text/plain") || token_is(s, type_end, "text/*") ||
			 token_is(s, type_end, "*/*"))
			q_text = q > q_text ? q : q_text;
		s = *end ? end + 1 : end;
	}
	return q_om > 0 && q_om >= q_text;
}
