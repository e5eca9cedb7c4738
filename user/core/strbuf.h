/* SPDX-License-Identifier: GPL-2.0 */
/* A growable byte buffer for building output lines. */
#ifndef EPH_STRBUF_H
#define EPH_STRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct strbuf {
	char *buf; /* always NUL-terminated when len > 0 or after the first append */
	size_t len;
	size_t cap;
};

/* clang-format off */
#define STRBUF_INIT { NULL, 0, 0 }
/* clang-format on */

/* Each returns 0 or -ENOMEM (the buffer is left as it was). */
int sb_append_slow(struct strbuf *sb, const char *s, size_t n);
int sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sb_u64(struct strbuf *sb, uint64_t v); /* decimal digits, without printf */
/* Room for extra more bytes and the NUL (sb->buf then holds at least len + extra + 1), for a
 * writer that fills sb->buf + sb->len itself, then sets len and the NUL. */
int sb_reserve(struct strbuf *sb, size_t extra);

/* Inline for short pieces while there is room: `events --json` appends a few hundred per
 * record. */
#define SB_INLINE_MAX 64

static inline int sb_append(struct strbuf *sb, const char *s, size_t n)
{
	/* room for n bytes and the NUL */
	if (n && n <= SB_INLINE_MAX && n < sb->cap && sb->len < sb->cap - n) {
		memcpy(sb->buf + sb->len, s, n);
		sb->len += n;
		sb->buf[sb->len] = '\0';
		return 0;
	}
	return sb_append_slow(sb, s, n);
}

static inline int sb_puts(struct strbuf *sb, const char *s)
{
	return sb_append(sb, s, strlen(s));
}

static inline int sb_putc(struct strbuf *sb, char c)
{
	return sb_append(sb, &c, 1);
}
/* Cut the buffer back to len bytes (len <= sb->len), keeping the memory: how a writer that
 * failed part-way leaves nothing behind. */
void sb_truncate(struct strbuf *sb, size_t len);
void sb_reset(struct strbuf *sb); /* sb_truncate(sb, 0) */
void sb_free(struct strbuf *sb);  /* NULL-safe, leaves an empty buffer */

/* JSON string literal with quotes. Bytes that are not valid UTF-8 (stray continuation bytes,
 * overlong forms, surrogates, above U+10FFFF, sequences cut short) become \u00xx of the byte;
 * '"' '\\' \n \t \r \b \f get their short escapes, other control bytes and DEL \u00xx (hex in
 * lower case). Valid UTF-8 is copied as is. Reads at most n bytes and stops at a NUL; s NULL
 * gives "". On -ENOMEM nothing is appended. */
int sb_json_str(struct strbuf *sb, const char *s, size_t n);

/* Room in array *v (capacity *cap elements of size bytes) for element n: doubles it (from 256)
 * when n has reached the capacity. Returns 0 or -ENOMEM (*v is then left as it was). */
int eph_grow(void **v, size_t *cap, size_t n, size_t size);

#endif
