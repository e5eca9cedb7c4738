/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A JSON writer over a strbuf: keys and values appended in order, the first error kept (every
 * call after it does nothing), so that a writer checks once at the end. Numbers that are not
 * finite are written null. No libbpf.
 */
#ifndef EPH_JSONW_H
#define EPH_JSONW_H

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
/* Integral values below 1e15 without a fraction, others with 6 significant digits. */
void jsonw_double(struct jsonw *w, const char *name, double v);
void jsonw_bool(struct jsonw *w, const char *name, int v);
/* A string of at most n bytes (to the first NUL), NULL: null. */
void jsonw_str(struct jsonw *w, const char *name, const char *s, size_t n);
/* An address as text (eph_addr_str), null when it cannot be written. */
void jsonw_addr(struct jsonw *w, const char *name, uint8_t family, const uint8_t *addr);
/* Before an element of an array: a comma unless it is the first. */
void jsonw_elem(struct jsonw *w);

#endif
