// SPDX-License-Identifier: GPL-2.0
/* Checks shared by the fuzz targets, written apart from the code they check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

void fuzz_fail(const char *why, const void *bytes, size_t n)
{
	const unsigned char *p = bytes;
	size_t i;

	fprintf(stderr, "fuzz: %s\n  bytes (%zu): \"", why, n);
	for (i = 0; p && i < n && i < 4096; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\')
			fputc(p[i], stderr);
		else
			fprintf(stderr, "\\x%02x", p[i]);
	}
	fprintf(stderr, "\"%s\n", n > 4096 ? "..." : "");
	abort();
}

size_t fuzz_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
	uint32_t v, min;
	size_t len, i;

	if (!n)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2, v = s[0] & 0x1f, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3, v = s[0] & 0x0f, min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4, v = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

bool fuzz_utf8_valid(const char *s, size_t n)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0, len;
	uint32_t cp;

	while (i < n) {
		len = fuzz_utf8_decode(p + i, n - i, &cp);
		if (!len)
			return false;
		i += len;
	}
	return true;
}

/* ---- a strict JSON reader that keeps nothing ---- */

struct jr {
	const uint8_t *s;
	size_t n, i;
	int depth;
};

static int peek(const struct jr *r)
{
	return r->i < r->n ? r->s[r->i] : -1;
}

static void skip_ws(struct jr *r)
{
	while (peek(r) == ' ' || peek(r) == '\t' || peek(r) == '\n' || peek(r) == '\r')
		r->i++;
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool literal(struct jr *r, const char *lit)
{
	size_t len = strlen(lit);

	if (r->n - r->i < len || memcmp(r->s + r->i, lit, len))
		return false;
	r->i += len;
	return true;
}

static bool digits(struct jr *r)
{
	if (!is_digit(peek(r)))
		return false;
	while (is_digit(peek(r)))
		r->i++;
	return true;
}

static bool number(struct jr *r)
{
	if (peek(r) == '-')
		r->i++;
	if (peek(r) == '0')
		r->i++;
	else if (!digits(r))
		return false;
	if (peek(r) == '.') {
		r->i++;
		if (!digits(r))
			return false;
	}
	if (peek(r) == 'e' || peek(r) == 'E') {
		r->i++;
		if (peek(r) == '+' || peek(r) == '-')
			r->i++;
		if (!digits(r))
			return false;
	}
	return true;
}

static bool string(struct jr *r)
{
	uint32_t cp;
	size_t len;
	int k;

	r->i++; /* '"' */
	for (;;) {
		int c = peek(r);

		if (c < 0x20) /* end of input, or a raw control byte */
			return false;
		if (c == '"') {
			r->i++;
			return true;
		}
		if (c == '\\') {
			r->i++;
			c = peek(r);
			if (c < 0 || !strchr("\"\\/bfnrtu", c))
				return false;
			r->i++;
			for (k = 0; c == 'u' && k < 4; k++, r->i++)
				if (peek(r) < 0 || !strchr("0123456789abcdefABCDEF", peek(r)))
					return false;
			continue;
		}
		len = fuzz_utf8_decode(r->s + r->i, r->n - r->i, &cp);
		if (!len)
			return false;
		r->i += len;
	}
}

static bool value(struct jr *r);

/* The members of an object ('{') or the elements of an array ('['). */
static bool container(struct jr *r, int close)
{
	bool ok = false;

	if (++r->depth > 64)
		return false;
	r->i++;
	skip_ws(r);
	if (peek(r) == close) {
		r->i++;
		r->depth--;
		return true;
	}
	for (;;) {
		skip_ws(r);
		if (close == '}') {
			if (peek(r) != '"' || !string(r))
				break;
			skip_ws(r);
			if (peek(r) != ':')
				break;
			r->i++;
		}
		if (!value(r))
			break;
		skip_ws(r);
		if (peek(r) == ',') {
			r->i++;
			continue;
		}
		ok = peek(r) == close;
		r->i++;
		break;
	}
	r->depth--;
	return ok;
}

static bool value(struct jr *r)
{
	skip_ws(r);
	switch (peek(r)) {
	case '{':
		return container(r, '}');
	case '[':
		return container(r, ']');
	case '"':
		return string(r);
	case 't':
		return literal(r, "true");
	case 'f':
		return literal(r, "false");
	case 'n':
		return literal(r, "null");
	default:
		return number(r);
	}
}

bool fuzz_json_valid(const char *s, size_t n)
{
	struct jr r = { .s = (const uint8_t *)s, .n = n };

	if (!value(&r))
		return false;
	skip_ws(&r);
	return r.i == r.n;
}
