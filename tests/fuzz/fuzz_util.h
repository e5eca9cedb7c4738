/* SPDX-License-Identifier: GPL-2.0 */
/* What the fuzz targets share: the way they fail, and checks of the text they are given. */
#ifndef EPH_FUZZ_UTIL_H
#define EPH_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A broken promise: print why (and the bytes concerned, escaped) and abort(), which libFuzzer
 * reports as a crash with the input that caused it. */
void fuzz_fail(const char *why, const void *bytes, size_t n) __attribute__((noreturn));
#define FUZZ_ASSERT(cond, bytes, n)                                                      \
	do {                                                                             \
		if (!(cond))                                                             \
			fuzz_fail(__FILE__ ":" FUZZ_STR(__LINE__) ": " #cond, bytes, n); \
	} while (0)
#define FUZZ_STR(x) FUZZ_STR2(x)
#define FUZZ_STR2(x) #x

/* Decode one UTF-8 sequence at s (at most n bytes): its length and *cp, or 0 when it is not
 * valid UTF-8 (overlong, surrogate, above U+10FFFF, cut short, stray continuation byte). */
size_t fuzz_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);
bool fuzz_utf8_valid(const char *s, size_t n);

/* One JSON value (RFC 8259), exactly, with nothing after it; strings must be valid UTF-8
 * and have no raw control bytes. */
bool fuzz_json_valid(const char *s, size_t n);

#endif
