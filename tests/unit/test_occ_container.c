// SPDX-License-Identifier: GPL-2.0
/* Unit tests of containers in the core: the occupancy's processes and namespace owners, their
 * JSON and text, rows, the --container/--pod filters (container_out.c, occ_view.c, filter.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "container_out.h"
#include "filter.h"
#include "format.h"
#include "occupancy.h"
#include "strbuf.h"

#define SEC 1000000000ull
#define NS1 4026532001u
#define NS2 4026532002u
#define ID_A "3f2a9c0d1e4b5a6978877665544332211f0e0d0c0b0a09080706050403020100"
#define ID_B "915a31bb1a5126a672db32977a1e0438bb5f6a3602ace28987e924b2cc135e3f"
#define ID_C "aaaa31bb1a5126a672db32977a1e0438bb5f6a3602ace28987e924b2cc135e3f"
#define UID1 "0c6d9f6e-3b1a-4c55-9e0f-2a7b8c9d0e1f"

static const struct eph_container pod_a = {
	.runtime = "containerd",
	.id = ID_A,
	.pod_uid = UID1,
	.pod = "cart-7d9f8b6c5-x2k4q",
	.pod_namespace = "shop",
	.container = "cart",
};
static const struct eph_container pod_a2 = {
	/* another container of the same pod */
	.runtime = "containerd", .id = ID_C,
	.pod_uid = UID1,	 .pod = "cart-7d9f8b6c5-x2k4q",
	.pod_namespace = "shop", .container = "envoy",
};
static const struct eph_container docker_b = { .runtime = "docker", .id = ID_B };

static struct eph_occ *new_occ(void)
{
	struct eph_occ_opts o = { .window_ms = 10000 };
	struct eph_occ *occ = eph_occ__new(&o);
	static uint8_t none[8192];

	assert_non_null(occ);
	assert_int_equal(eph_occ__set_range(occ, NS1, 40000, 40099, none), 0);
	assert_int_equal(eph_occ__set_range(occ, NS2, 40000, 40099, none), 0);
	return occ;
}

static struct eph_rec connect_ev(uint32_t netns, uint32_t pid, uint64_t sock_id, uint16_t sport)
{
	struct eph_rec r;

	memset(&r, 0, sizeof(r));
	r.ev.ts_ns = SEC;
	r.ev.type = EPH_ASSIGN;
	r.ev.op = EPH_OP_CONNECT;
	r.ev.proto = IPPROTO_TCP;
	r.ev.family = AF_INET;
	r.ev.netns = netns;
	r.ev.pid = pid;
	r.ev.tid = pid;
	r.ev.sock_id = sock_id;
	r.ev.sport = sport;
	r.ev.dport = 5000;
	r.ev.flags = EPH_F_DEST | EPH_F_SADDR | EPH_F_EPHEMERAL;
	inet_pton(AF_INET, "127.0.0.1", r.ev.saddr);
	inet_pton(AF_INET, "127.0.0.1", r.ev.daddr);
	snprintf(r.ev.comm, sizeof(r.ev.comm), "proc%u", pid);
	return r;
}

/* Three processes: 10 in pod_a (NS1), 20 in docker_b (NS2), 30 on the host (NS1 too). */
static struct eph_occ *three(void)
{
	struct eph_occ *occ = new_occ();
	struct eph_rec r;

	eph_occ__start(occ, 0);
	r = connect_ev(NS1, 10, 1, 40001);
	assert_int_equal(eph_occ__event(occ, &r), 0);
	r = connect_ev(NS2, 20, 2, 40002);
	assert_int_equal(eph_occ__event(occ, &r), 0);
	r = connect_ev(NS1, 30, 3, 40003);
	assert_int_equal(eph_occ__event(occ, &r), 0);
	assert_int_equal(eph_occ__set_container(occ, 10, &pod_a), 0);
	assert_int_equal(eph_occ__claim_netns(occ, NS1, &pod_a), 0);
	assert_int_equal(eph_occ__set_container(occ, 20, &docker_b), 0);
	assert_int_equal(eph_occ__claim_netns(occ, NS2, &docker_b), 0);
	assert_int_equal(eph_occ__set_container(occ, 30, NULL), 0);
	return occ;
}

static void test_set_and_get(void **state)
{
	struct eph_occ *occ = three();
	struct eph_container none = { 0 };

	(void)state;
	assert_memory_equal(eph_occ__container(occ, 10), &pod_a, sizeof(pod_a));
	assert_memory_equal(eph_occ__container(occ, 20), &docker_b, sizeof(docker_b));
	assert_null(eph_occ__container(occ, 30));
	assert_null(eph_occ__container(occ, 99));
	assert_memory_equal(eph_occ__netns_owner(occ, NS1), &pod_a, sizeof(pod_a));
	assert_memory_equal(eph_occ__netns_owner(occ, NS2), &docker_b, sizeof(docker_b));
	/* a container that is none clears; claiming with none is refused */
	assert_int_equal(eph_occ__set_container(occ, 20, &none), 0);
	assert_null(eph_occ__container(occ, 20));
	assert_int_equal(eph_occ__claim_netns(occ, NS2, &none), -EINVAL);
	eph_occ__free(occ);
}

static void test_claim_rules(void **state)
{
	struct eph_occ *occ = three();
	const struct eph_container *o;

	(void)state;
	/* another pod's or a docker container in NS1: the first owner stays */
	assert_int_equal(eph_occ__claim_netns(occ, NS1, &docker_b), 0);
	assert_memory_equal(eph_occ__netns_owner(occ, NS1), &pod_a, sizeof(pod_a));
	/* the same container again: unchanged */
	assert_int_equal(eph_occ__claim_netns(occ, NS1, &pod_a), 0);
	assert_memory_equal(eph_occ__netns_owner(occ, NS1), &pod_a, sizeof(pod_a));
	/* a second container of the same pod: the pod owns it, no container */
	assert_int_equal(eph_occ__claim_netns(occ, NS1, &pod_a2), 0);
	o = eph_occ__netns_owner(occ, NS1);
	assert_non_null(o);
	assert_string_equal(o->pod, "cart-7d9f8b6c5-x2k4q");
	assert_string_equal(o->pod_namespace, "shop");
	assert_string_equal(o->pod_uid, UID1);
	assert_string_equal(o->id, "");
	assert_string_equal(o->container, "");
	/* a docker namespace shared by two docker containers (--network container:X) keeps the
	 * first: no pod to fall back to */
	assert_int_equal(
		eph_occ__claim_netns(occ, NS2,
				     &(struct eph_container){ .runtime = "docker", .id = ID_C }),
		0);
	assert_string_equal(eph_occ__netns_owner(occ, NS2)->id, ID_B);
	eph_occ__free(occ);
}

static char *snapshot(struct eph_occ *occ, bool json)
{
	struct strbuf sb = STRBUF_INIT;

	if (json)
		assert_int_equal(eph_occ__json(occ, &sb, 2 * SEC, 2 * SEC, 0), 0);
	else
		assert_int_equal(eph_occ__text(occ, &sb, 2 * SEC, 2 * SEC, 0, 0), 0);
	return sb.buf;
}

static void test_json_fields(void **state)
{
	struct eph_occ *occ = three();
	char *s = snapshot(occ, true);

	(void)state;
	/* a namespace row, the pod's process, the docker process and the host's */
	assert_non_null(
		strstr(s, "\"bound_only_listed\":true,\"resync_released\":0,\"container_id\":\"" ID_A "\","
			  "\"container_runtime\":\"containerd\",\"pod\":\"cart-7d9f8b6c5-x2k4q\","
			  "\"pod_namespace\":\"shop\",\"pod_uid\":\"" UID1 "\","
			  "\"container\":\"cart\"}"));
	assert_non_null(strstr(s, "\"pid\":10,\"comm\":\"proc10\",\"cgroup\":null,"
				  "\"container_id\":\"" ID_A "\""));
	assert_non_null(strstr(s, "\"pid\":20,\"comm\":\"proc20\",\"cgroup\":null,"
				  "\"container_id\":\"" ID_B "\",\"container_runtime\":\"docker\","
				  "\"pod\":null,\"pod_namespace\":null,\"pod_uid\":null,"
				  "\"container\":null,"));
	assert_non_null(strstr(s, "\"pid\":30,\"comm\":\"proc30\",\"cgroup\":null,"
				  "\"container_id\":null,\"container_runtime\":null,\"pod\":null,"
				  "\"pod_namespace\":null,\"pod_uid\":null,\"container\":null,"));
	free(s);
	eph_occ__free(occ);
}

static void test_text_columns(void **state)
{
	struct eph_occ *occ = three();
	char *s = snapshot(occ, false), *line;

	(void)state;
	assert_non_null(strstr(s, "CONTAINER|CGROUP\n"));
	assert_non_null(strstr(s, "owner pod shop/cart-7d9f8b6c5-x2k4q/cart\n"));
	assert_non_null(strstr(s, "owner docker:915a31bb1a51\n"));
	assert_non_null(strstr(s, " cart-7d9f8b6c5-x2k4q/cart\n"));
	assert_non_null(strstr(s, " docker:915a31bb1a51\n"));
	for (line = s; *line; line = strchr(line, '\n') + 1)
		assert_true(strchr(line, '\n') - line <= 79);
	free(s);
	eph_occ__free(occ);
}

static void test_rows_share_containers(void **state)
{
	struct eph_occ *occ = three();
	struct eph_occ_rows rows;
	size_t i, seen = 0;

	(void)state;
	assert_int_equal(eph_occ__rows(occ, 2 * SEC, &rows), 0);
	assert_int_equal(rows.ncts, 2); /* pod_a and docker_b, each once */
	for (i = 0; i < rows.ndests; i++) {
		const struct eph_container *c = rows.dests[i].ct;

		assert_non_null(c);
		assert_string_equal(c->id, rows.dests[i].key.netns == NS1 ? ID_A : ID_B);
		seen++;
	}
	assert_int_equal(seen, 2);
	for (i = 0; i < rows.nnetns; i++)
		assert_string_equal(rows.netns[i].ct->id, rows.netns[i].netns == NS1 ? ID_A : ID_B);
	assert_ptr_equal(eph_occ_rows__container(&rows, 10), eph_occ_rows__container(&rows, 10));
	assert_string_equal(eph_occ_rows__container(&rows, 10)->pod, "cart-7d9f8b6c5-x2k4q");
	assert_string_equal(eph_occ_rows__container(&rows, 20)->id, ID_B);
	assert_null(eph_occ_rows__container(&rows, 30));
	eph_occ_rows__free(&rows);
	eph_occ__free(occ);
}

static void test_view_filter(void **state)
{
	struct eph_occ *occ = three();
	struct eph_ct_filter f = { 0 };
	struct eph_occ_rows rows;

	(void)state;
	assert_int_equal(eph_ct_filter__set_id(&f, "915A31"), 0); /* docker_b, upper case too */
	eph_occ__set_ct_filter(occ, &f);
	assert_int_equal(eph_occ__rows(occ, 2 * SEC, &rows), 0);
	assert_int_equal(rows.nprocs, 1);
	assert_int_equal(rows.procs[0].pid, 20);
	assert_int_equal(rows.nnetns, 1);
	assert_int_equal(rows.netns[0].netns, NS2);
	assert_int_equal(rows.ndests, 1);
	assert_int_equal(rows.dests[0].key.netns, NS2);
	eph_occ_rows__free(&rows);

	memset(&f, 0, sizeof(f));
	assert_int_equal(eph_ct_filter__set_pod(&f, "shop/cart-7d9f8b6c5-x2k4q"), 0);
	eph_occ__set_ct_filter(occ, &f);
	assert_int_equal(eph_occ__rows(occ, 2 * SEC, &rows), 0);
	assert_int_equal(rows.nprocs, 1); /* not the host's process 30 in the same namespace */
	assert_int_equal(rows.procs[0].pid, 10);
	assert_int_equal(rows.nnetns, 1);
	assert_int_equal(rows.netns[0].netns, NS1);
	assert_int_equal(rows.ndests, 1);
	eph_occ_rows__free(&rows);
	eph_occ__free(occ);
}

static void test_filter_match(void **state)
{
	struct eph_ct_filter f = { 0 };

	(void)state;
	assert_true(eph_ct_filter__match(&f, NULL)); /* no filter: everything */
	assert_int_equal(eph_ct_filter__set_id(&f, ""), -EINVAL);
	assert_int_equal(eph_ct_filter__set_id(&f, "xyz"), -EINVAL);
	assert_int_equal(eph_ct_filter__set_id(&f, ID_A "0"), -EINVAL); /* 65 digits */
	assert_int_equal(eph_ct_filter__set_id(&f, ID_A), 0);
	assert_true(eph_ct_filter__match(&f, &pod_a));
	assert_false(eph_ct_filter__match(&f, &pod_a2));
	assert_false(eph_ct_filter__match(&f, NULL));
	assert_int_equal(eph_ct_filter__set_id(&f, "3f"), 0);
	assert_true(eph_ct_filter__match(&f, &pod_a));
	assert_false(eph_ct_filter__match(&f, &docker_b));

	memset(&f, 0, sizeof(f));
	assert_int_equal(eph_ct_filter__set_pod(&f, "/x"), -EINVAL);
	assert_int_equal(eph_ct_filter__set_pod(&f, "x/"), -EINVAL);
	assert_int_equal(eph_ct_filter__set_pod(&f, "a/b/c"), -EINVAL);
	assert_int_equal(eph_ct_filter__set_pod(&f, "cart-7d9f8b6c5-x2k4q"), 0);
	assert_true(eph_ct_filter__match(&f, &pod_a));
	assert_true(eph_ct_filter__match(&f, &pod_a2));
	assert_false(eph_ct_filter__match(&f, &docker_b));
	assert_int_equal(eph_ct_filter__set_pod(&f, "other/cart-7d9f8b6c5-x2k4q"), 0);
	assert_false(eph_ct_filter__match(&f, &pod_a));
	assert_int_equal(eph_ct_filter__set_pod(&f, "shop/cart-7d9f8b6c5-x2k4q"), 0);
	assert_true(eph_ct_filter__match(&f, &pod_a));
	assert_int_equal(eph_ct_filter__set_pod(&f, "sho/cart-7d9f8b6c5-x2k4q"), 0);
	assert_false(eph_ct_filter__match(&f, &pod_a));
}

static void test_event_json_and_filter(void **state)
{
	struct eph_rec r = connect_ev(NS1, 10, 1, 40001);
	struct strbuf sb = STRBUF_INIT;
	struct eph_filter f = { 0 };

	(void)state;
	assert_int_equal(eph_format_json(&sb, &r, "tracepoint"), 0);
	assert_non_null(strstr(sb.buf,
			       "\"backend\":\"tracepoint\",\"container_id\":null,"
			       "\"container_runtime\":null,\"pod\":null,\"pod_namespace\":null,"
			       "\"pod_uid\":null,\"container\":null}"));
	sb_reset(&sb);
	r.ct = &pod_a;
	assert_int_equal(eph_format_json(&sb, &r, "tracepoint"), 0);
	assert_non_null(strstr(sb.buf, "\"container_id\":\"" ID_A "\",\"container_runtime\":"
				       "\"containerd\",\"pod\":\"cart-7d9f8b6c5-x2k4q\","
				       "\"pod_namespace\":\"shop\",\"pod_uid\":\"" UID1 "\","
				       "\"container\":\"cart\"}"));
	sb_free(&sb);

	assert_true(eph_filter_scope(&f, &r));
	assert_int_equal(eph_ct_filter__set_pod(&f.ct, "cart-7d9f8b6c5-x2k4q"), 0);
	assert_true(eph_filter_scope(&f, &r));
	r.ct = &docker_b;
	assert_false(eph_filter_scope(&f, &r));
	r.ct = NULL;
	assert_false(eph_filter_scope(&f, &r));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_and_get),
		cmocka_unit_test(test_claim_rules),
		cmocka_unit_test(test_json_fields),
		cmocka_unit_test(test_text_columns),
		cmocka_unit_test(test_rows_share_containers),
		cmocka_unit_test(test_view_filter),
		cmocka_unit_test(test_filter_match),
		cmocka_unit_test(test_event_json_and_filter),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
