/* SPDX-License-Identifier: GPL-2.0 */
/* Strict parsing of command-line values. No libbpf. */
#ifndef EPH_CLI_H
#define EPH_CLI_H

#include <stdint.h>

/* Each returns 0, -EINVAL (not of the form) or -ERANGE (of the form, out of range); the result
 * is written only on success. */

/* A decimal integer in [min, max], nothing else (no sign, no spaces, no suffix). */
int eph_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* A size in bytes with an optional K, M or G suffix (powers of 1024), in [min, max]. */
int eph_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* A duration in seconds, decimal with an optional fraction ("0.5", cut to milliseconds), in
 * (0, max_s]; max_s above UINT64_MAX / 1000 counts as that. In ms. */
int eph_parse_seconds(const char *s, uint64_t max_s, uint64_t *out_ms);

#endif
