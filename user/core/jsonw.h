/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A JSON writer over a strbuf: keys and values appended in order, the first error kept (every
 * call after it does nothing), so that a writer checks once at the end (jsonw_end()). Numbers
 * that are not finite, and values not known, are written null. The one JSON writer of user/:
 * every command's JSON goes through it. No libbpf.
 */
#ifndef EPH_JSONW_H
#define EPH_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

struct jsonw {
	struct strbuf *sb;
	int err; /* the first error (-ENOMEM), 0 if none */
};

/* Raw text: braces, brackets, literals. */
void jsonw_raw(struct jsonw *w, const char *s);
/* ",\"name\":", without the comma right after '{' or '[' (or at the start); name NULL: only
 * the comma (a value in an array). */
void jsonw_key(struct jsonw *w, const char *name);
void jsonw_u64(struct jsonw *w, const char *name, uint64_t v);
/* v, or null when not known: all 64 bits of an id or count that a record may lack
 * (jsonw_double() with NAN would round it above 2^53). */
void jsonw_u64_or_null(struct jsonw *w, const char *name, uint64_t v, bool known);
/* A signed integer, all of int64_t (INT64_MIN too). */
void jsonw_i64(struct jsonw *w, const char *name, int64_t v);
/* Integral values below 1e15 without a fraction, others with 6 significant digits. */
void jsonw_double(struct jsonw *w, const char *name, double v);
void jsonw_bool(struct jsonw *w, const char *name, int v);
/* The literal null. */
void jsonw_null(struct jsonw *w, const char *name);
/* A string of at most n bytes (to the first NUL), NULL: null. */
void jsonw_str(struct jsonw *w, const char *name, const char *s, size_t n);
/* An address as text (eph_addr_str), null when it cannot be written or addr is NULL (not
 * known). */
void jsonw_addr(struct jsonw *w, const char *name, uint8_t family, const uint8_t *addr);
/* A time as a string, RFC 3339 UTC with nanoseconds as eph_format_time() writes it:
 * "2026-11-24T05:18:08.123456789Z". */
void jsonw_time(struct jsonw *w, const char *name, uint64_t wall_ns);
/* Before an element of an array: a comma unless it is the first. */
void jsonw_elem(struct jsonw *w);
/* The end of a writer's output: returns its error, and on one cuts the buffer back to start
 * (its length before the first call), so that a failed writer leaves nothing behind. */
int jsonw_end(struct jsonw *w, size_t start);

#endif
