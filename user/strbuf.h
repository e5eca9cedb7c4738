/* SPDX-License-Identifier: GPL-2.0 */
/* A growable byte buffer for building output lines. */
#ifndef EPH_STRBUF_H
#define EPH_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
	char *buf; /* always NUL-terminated when len > 0 or after the first append */
	size_t len;
	size_t cap;
};

#define STRBUF_INIT { NULL, 0, 0 }

/* Each returns 0 or -ENOMEM (the buffer is left as it was). */
int sb_append(struct strbuf *sb, const char *s, size_t n);
int sb_puts(struct strbuf *sb, const char *s);
int sb_putc(struct strbuf *sb, char c);
int sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_reset(struct strbuf *sb); /* len = 0, keeps the memory */
void sb_free(struct strbuf *sb);  /* NULL-safe, leaves an empty buffer */

/* JSON string literal with quotes. Bytes that are not valid UTF-8 become \u00XX of the byte;
 * control bytes, '"' and '\\' are escaped. Reads at most n bytes and stops at a NUL. */
int sb_json_str(struct strbuf *sb, const char *s, size_t n);

#endif
