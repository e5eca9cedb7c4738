// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>

#include "cli.h"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Digits of s up to end or a non-digit; *rest is where it stopped. -ERANGE when they do not fit
 * in 64 bits: the caller looks at what follows first ("99999999999999999999x" is -EINVAL). */
static int parse_digits(const char *s, uint64_t *out, const char **rest)
{
	uint64_t v = 0;
	int err = 0;

	if (!s || !is_digit(*s))
		return -EINVAL;
	for (; is_digit(*s); s++) {
		unsigned d = *s - '0';

		if (err || v > (UINT64_MAX - d) / 10)
			err = -ERANGE;
		else
			v = v * 10 + d;
	}
	*out = v;
	*rest = s;
	return err;
}

int eph_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *rest;
	uint64_t v;
	int err = parse_digits(s, &v, &rest);

	if (err == -EINVAL || *rest)
		return -EINVAL;
	if (err)
		return err;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int eph_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *rest;
	uint64_t v, mult = 1;
	int err = parse_digits(s, &v, &rest);

	if (err == -EINVAL)
		return err;
	switch (*rest) {
	case '\0':
		break;
	case 'k':
	case 'K':
		mult = 1ull << 10;
		break;
	case 'm':
	case 'M':
		mult = 1ull << 20;
		break;
	case 'g':
	case 'G':
		mult = 1ull << 30;
		break;
	default:
		return -EINVAL;
	}
	if (*rest && rest[1])
		return -EINVAL;
	if (err || v > UINT64_MAX / mult)
		return -ERANGE;
	v *= mult;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int eph_parse_seconds(const char *s, uint64_t max_s, uint64_t *out_ms)
{
	const char *rest;
	uint64_t whole, ms = 0, scale = 100;
	int err = parse_digits(s, &whole, &rest);

	if (err == -EINVAL)
		return err;
	if (*rest == '.') {
		rest++;
		if (!is_digit(*rest))
			return -EINVAL;
		for (; is_digit(*rest); rest++, scale /= 10)
			ms += (*rest - '0') * scale;
	}
	if (*rest)
		return -EINVAL;
	if (max_s > UINT64_MAX / 1000)
		max_s = UINT64_MAX / 1000; /* the result is in ms */
	if (err || whole > max_s || (whole == max_s && ms) || (whole == 0 && ms == 0))
		return -ERANGE;
	*out_ms = whole * 1000 + ms;
	return 0;
}
