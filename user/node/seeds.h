/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel side's "seeds" map (bpf/maps.bpf.h): the cookies of the sockets a snapshot found
 * holding a port whose taking no program saw (there before ephtrace started, or an assignment
 * the ring buffer dropped). The programs follow a socket by its pointer from its assignment on
 * (the "holds" map); these they find by cookie when their port goes back or moves into
 * TIME_WAIT, and send that with EPH_F_SEEDED, so that top, serve and events' summary let the
 * port go at once instead of at their next reconciliation with sock_diag.
 */
#ifndef EPH_SEEDS_H
#define EPH_SEEDS_H

#include <stddef.h>
#include <stdint.h>

struct eph_seeds;

/* map_fd: the loaded object's "seeds" map (eph_loader__seeds_fd), kept open by the loader;
 * mapped (NULL and errno when it cannot be). */
struct eph_seeds *eph_seeds__new(int map_fd);
void eph_seeds__free(struct eph_seeds *s); /* NULL-safe; the map's entries stay */

/*
 * The map to hold these cookies (v sorted in place, duplicates dropped), through its mapping:
 * the table not in use is filled with them, then put in use. A cookie the table in use marked
 * done (its socket reported: the programs' mark, include/ephtrace.h) stays marked; one the
 * table has no room for (half of its slots taken, or EPH_SEED_PROBES taken from its place)
 * is counted (eph_seeds__full), its socket left to the reconciliation. 0 or -ENOMEM.
 */
int eph_seeds__sync(struct eph_seeds *s, uint64_t *v, size_t n);
size_t eph_seeds__count(const struct eph_seeds *s); /* cookies in the map after the last sync */
size_t eph_seeds__full(const struct eph_seeds *s);  /* left out of the last sync: no room */

#endif
