// SPDX-License-Identifier: GPL-2.0
/* A growable byte buffer for building output lines. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

#define SB_MIN_CAP 128

/* Make room for extra more bytes plus the terminating NUL. */
int sb_reserve(struct strbuf *sb, size_t extra)
{
	size_t need, cap;
	char *buf;

	if (extra > SIZE_MAX - 1 - sb->len)
		return -ENOMEM;
	need = sb->len + extra + 1;
	if (need <= sb->cap)
		return 0;
	cap = sb->cap ? sb->cap : SB_MIN_CAP;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	buf = realloc(sb->buf, cap);
	if (!buf)
		return -ENOMEM;
	sb->buf = buf;
	sb->cap = cap;
	return 0;
}

int sb_append_slow(struct strbuf *sb, const char *s, size_t n)
{
	int err;

	err = sb_reserve(sb, n);
	if (err)
		return err;
	if (n)
		memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
	return 0;
}

/* Two digits a division, right to left: a record of events --json has a dozen numbers. */
int sb_u64(struct strbuf *sb, uint64_t v)
{
	static const char pairs[201] =
		"0001020304050607080910111213141516171819"
		"2021222324252627282930313233343536373839"
		"4041424344454647484950515253545556575859"
		"6061626364656667686970717273747576777879"
		"8081828384858687888990919293949596979899";
	char tmp[20];
	size_t i = sizeof(tmp);
	unsigned int d;

	while (v >= 100) {
		d = (unsigned int)(v % 100) * 2;
		v /= 100;
		tmp[--i] = pairs[d + 1];
		tmp[--i] = pairs[d];
	}
	if (v >= 10) {
		d = (unsigned int)v * 2;
		tmp[--i] = pairs[d + 1];
		tmp[--i] = pairs[d];
	} else {
		tmp[--i] = (char)('0' + v);
	}
	return sb_append(sb, tmp + i, sizeof(tmp) - i);
}

int sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n, err;

	/* Make sure there is a buffer, so that the first try can already succeed. */
	err = sb_reserve(sb, 0);
	if (err)
		return err;
	room = sb->cap - sb->len;
	va_start(ap, fmt);
	n = vsnprintf(sb->buf + sb->len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		goto out_restore;
	if ((size_t)n >= room) {
		err = sb_reserve(sb, (size_t)n);
		if (err)
			goto out_restore;
		va_start(ap, fmt);
		n = vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			goto out_restore;
	}
	sb->len += (size_t)n;
	return 0;

out_restore:
	/* vsnprintf may have written past len: put the terminator back. */
	sb->buf[sb->len] = '\0';
	return err ? err : -EINVAL;
}

void sb_truncate(struct strbuf *sb, size_t len)
{
	sb->len = len;
	if (sb->buf)
		sb->buf[len] = '\0';
}

void sb_reset(struct strbuf *sb)
{
	sb_truncate(sb, 0);
}

void sb_free(struct strbuf *sb)
{
	if (!sb)
		return;
	free(sb->buf);
	sb->buf = NULL;
	sb->len = 0;
	sb->cap = 0;
}

/*
 * Length of the well-formed UTF-8 sequence at s (at most n bytes), or 0 if s does not start
 * one. Follows the table of well-formed byte sequences in the Unicode standard (3.9, D92):
 * no overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF.
 */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		if (s[0] == 0xe0)
			lo = 0xa0; /* overlong below U+0800 */
		else if (s[0] == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		if (s[0] == 0xf0)
			lo = 0x90; /* overlong below U+10000 */
		else if (s[0] == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0; /* continuation byte, 0xc0/0xc1 (overlong) or 0xf5.. */
	}
	if (len > n)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return len;
}

/* JSON's two-character escapes (a backslash, then this), by byte; 0: \u00XX instead. */
static const char json_short_escapes[0x80] = {
	['"'] = '"',  ['\\'] = '\\', ['\n'] = 'n', ['\t'] = 't',
	['\r'] = 'r', ['\b'] = 'b',  ['\f'] = 'f',
};

static int json_escape_byte(struct strbuf *sb, unsigned char c)
{
	const char esc[2] = { '\\', c < 0x80 ? json_short_escapes[c] : 0 };

	if (esc[1])
		return sb_append(sb, esc, 2);
	return sb_printf(sb, "\\u%04x", c);
}

static bool json_needs_escape(unsigned char c)
{
	return c < 0x20 || c == 0x7f || c == '"' || c == '\\';
}

int sb_json_str(struct strbuf *sb, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t old_len = sb->len, i = 0, run;
	int err;

	if (!s)
		n = 0;
	err = sb_putc(sb, '"');
	if (err)
		return err;
	while (i < n && p[i]) {
		/* Copy the longest run that needs no escaping in one go. */
		run = 0;
		while (i + run < n && p[i + run]) {
			unsigned char c = p[i + run];
			size_t len = c < 0x80 ? (json_needs_escape(c) ? 0 : 1) :
						utf8_seq_len(p + i + run, n - i - run);

			if (!len)
				break;
			run += len;
		}
		if (run) {
			err = sb_append(sb, s + i, run);
			if (err)
				goto out_restore;
			i += run;
			continue;
		}
		err = json_escape_byte(sb, p[i]);
		if (err)
			goto out_restore;
		i++;
	}
	err = sb_putc(sb, '"');
	if (err)
		goto out_restore;
	return 0;

out_restore:
	sb_truncate(sb, old_len);
	return err;
}

int eph_grow(void **v, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? *cap * 2 : 256;
	void *p;

	if (n < *cap)
		return 0;
	p = reallocarray(*v, c, size);
	if (!p)
		return -ENOMEM;
	*v = p;
	*cap = c;
	return 0;
}
