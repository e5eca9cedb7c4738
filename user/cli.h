/* SPDX-License-Identifier: GPL-2.0 */
/* Strict parsing of command-line values. No libbpf. */
#ifndef EPH_CLI_H
#define EPH_CLI_H

#include <stdint.h>

/* A decimal integer in [min, max], nothing else (no sign, no spaces, no suffix).
 * Returns 0 or -EINVAL / -ERANGE. */
int eph_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* A size in bytes with an optional K, M or G suffix (powers of 1024), in [min, max]. */
int eph_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* A duration in seconds, decimal with an optional fraction ("0.5"), in (0, max]. In ms. */
int eph_parse_seconds(const char *s, uint64_t max_s, uint64_t *out_ms);

#endif
