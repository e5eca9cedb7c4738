// SPDX-License-Identifier: GPL-2.0
/* Failures counted by errno (errs.h). */
#include <inttypes.h>
#include <string.h>

#include "errs.h"
#include "event.h"

#define ERRNAME_LEN 24

bool eph_errs__add(struct eph_errs *e, int32_t err, uint64_t count)
{
	uint32_t i;

	for (i = 0; i < e->n && e->v[i].err <= err; i++) {
		if (e->v[i].err == err) {
			e->v[i].count += count;
			return true;
		}
	}
	if (e->n == EPH_ERRS_MAX)
		return false;
	memmove(&e->v[i + 1], &e->v[i], (e->n - i) * sizeof(e->v[0]));
	e->v[i].err = err;
	e->v[i].count = count;
	e->n++;
	return true;
}

void eph_errs__count(struct eph_errs *e, int32_t err)
{
	if (!eph_errs__add(e, err, 1))
		e->other++;
}

uint64_t eph_errs__total(const struct eph_errs *e)
{
	uint64_t n = e->other;
	uint32_t i;

	for (i = 0; i < e->n; i++)
		n += e->v[i].count;
	return n;
}

void eph_errs__json(struct jsonw *w, const char *key, const struct eph_errs *e)
{
	char name[ERRNAME_LEN];
	uint32_t i;

	jsonw_key(w, key);
	jsonw_raw(w, "{");
	for (i = 0; i < e->n; i++)
		jsonw_u64(w, eph_errno_name(e->v[i].err, name, sizeof(name)), e->v[i].count);
	if (e->other)
		jsonw_u64(w, EPH_ERRS_OTHER, e->other);
	jsonw_raw(w, "}");
}

int eph_errs__text(struct strbuf *sb, const struct eph_errs *e)
{
	char name[ERRNAME_LEN];
	uint32_t i;
	int err = 0;

	for (i = 0; !err && i < e->n; i++)
		err = sb_printf(sb, "%s%s=%" PRIu64, i ? " " : "",
				eph_errno_name(e->v[i].err, name, sizeof(name)), e->v[i].count);
	if (!err && e->other)
		err = sb_printf(sb, "%s" EPH_ERRS_OTHER "=%" PRIu64, e->n ? " " : "", e->other);
	if (!err && !e->n && !e->other)
		err = sb_putc(sb, '-');
	return err;
}
