// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of user/node/container_node.c and container_names.c: the names of containers and
 * pods from a node tree laid out in a temporary directory (runtime bundles, kubelet logs,
 * retries of what was not there yet, host processes, long paths, a pid's cgroup), the cache
 * and its bounds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "container.h"
#include "container_fixture.h"

/* ---- a node tree ------------------------------------------------------------------------- */

static char root[] = "/tmp/ephtrace-ct.XXXXXX";

#define CONTAINERD "/run/containerd/io.containerd.runtime.v2.task/k8s.io/"
#define CRIO "/run/containers/storage/overlay-containers/"

static const char *at(const char *rel)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s%s", root, rel);
	return path;
}

/* mkdir -p of root + rel */
static void mkdirs(const char *rel)
{
	char path[PATH_MAX], *p;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	for (p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		assert_true(!mkdir(path, 0755) || errno == EEXIST);
		*p = '/';
	}
	assert_true(!mkdir(path, 0755) || errno == EEXIST);
}

/* root + rel with text (its directory made first) */
static void put(const char *rel, const char *text)
{
	char dir[PATH_MAX];
	FILE *f;

	snprintf(dir, sizeof(dir), "%s", rel);
	*strrchr(dir, '/') = '\0';
	mkdirs(dir);
	f = fopen(at(rel), "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_rf(const char *rel)
{
	nftw(at(rel), rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup_root(void **state)
{
	(void)state;
	strcpy(root, "/tmp/ephtrace-ct.XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown_root(void **state)
{
	(void)state;
	rm_rf("");
	return 0;
}

static const char containerd_cfg[] =
	"{\"ociVersion\":\"1.1.0\",\"process\":{\"args\":[\"nginx\",\"-g\",\"daemon off;\"]},"
	"\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\","
	"\"io.kubernetes.cri.container-name\":\"nginx\","
	"\"io.kubernetes.cri.sandbox-id\":\"" ID_C "\","
	"\"io.kubernetes.cri.sandbox-name\":\"web-7d9f8c6b5-x2x4z\","
	"\"io.kubernetes.cri.sandbox-namespace\":\"shop\","
	"\"io.kubernetes.cri.sandbox-uid\":\"" UID "\"},\"linux\":{}}\n";

static const char crio_cfg[] = "{\"annotations\":{\"io.kubernetes.container.name\":\"coredns\","
			       "\"io.kubernetes.pod.name\":\"coredns-5d78c9869d-8k2xq\","
			       "\"io.kubernetes.pod.namespace\":\"kube-system\","
			       "\"io.kubernetes.pod.uid\":\"" UID "\"}}";

static void expect_names(const struct eph_container *c, const char *runtime, const char *pod,
			 const char *ns, const char *container)
{
	assert_string_equal(c->runtime, runtime);
	assert_string_equal(c->pod, pod);
	assert_string_equal(c->pod_namespace, ns);
	assert_string_equal(c->container, container);
}

static void test_bundles(void **state)
{
	struct eph_containers *cs;
	struct eph_container c;
	char dir[PATH_MAX];

	(void)state;
	put(CONTAINERD ID_A "/config.json", containerd_cfg);
	put(CRIO ID_B "/userdata/config.json", crio_cfg);
	snprintf(dir, sizeof(dir), "%s/", root); /* a trailing '/' is fine */
	cs = eph_containers__new(dir, NULL, 0);
	assert_non_null(cs);

	assert_int_equal(
		eph_containers__resolve(cs, "0::" K8S_SD "/cri-containerd-" ID_A ".scope\n", 1, &c),
		0);
	expect_names(&c, "containerd", "web-7d9f8c6b5-x2x4z", "shop", "nginx");
	assert_string_equal(c.id, ID_A);
	assert_string_equal(c.pod_uid, UID);

	/* cgroupfs: the runtime from where the bundle was */
	assert_int_equal(
		eph_containers__resolve(cs, "3:cpu:/kubepods/besteffort/pod" UID "/" ID_A, 1, &c),
		0);
	expect_names(&c, "containerd", "web-7d9f8c6b5-x2x4z", "shop", "nginx");
	assert_int_equal(eph_containers__resolve(cs, "0::/kubepods/pod" UID "/" ID_B, 1, &c), 0);
	expect_names(&c, "cri-o", "coredns-5d78c9869d-8k2xq", "kube-system", "coredns");
	assert_int_equal(eph_containers__resolve(cs, "0::" K8S_SD "/crio-" ID_B ".scope", 1, &c),
			 0);
	expect_names(&c, "cri-o", "coredns-5d78c9869d-8k2xq", "kube-system", "coredns");
	assert_int_equal(eph_containers__count(cs), 4);

	/* a path's runtime is believed: CRI-O's bundle is not containerd's */
	assert_int_equal(
		eph_containers__resolve(cs, "0::" K8S_SD "/cri-containerd-" ID_B ".scope", 1, &c),
		0);
	expect_names(&c, "containerd", "", "", "");

	/* found once, kept: the bundles gone, the same names (a bundle's names are final) */
	rm_rf("/run");
	assert_int_equal(eph_containers__resolve(cs,
						 "0::" K8S_SD "/cri-containerd-" ID_A ".scope\n",
						 3 * EPH_CT_RETRY_NS, &c),
			 0);
	expect_names(&c, "containerd", "web-7d9f8c6b5-x2x4z", "shop", "nginx");
	assert_int_equal(eph_containers__resolve(cs, "0::/kubepods/pod" UID "/" ID_B,
						 3 * EPH_CT_RETRY_NS, &c),
			 0);
	expect_names(&c, "cri-o", "coredns-5d78c9869d-8k2xq", "kube-system", "coredns");
	eph_containers__free(cs);
}

/* containerd outside the k8s.io namespace's path, with the pod's UID only in the bundle */
static void test_bundle_uid(void **state)
{
	struct eph_containers *cs;
	struct eph_container c;

	(void)state;
	put(CONTAINERD ID_C "/config.json", containerd_cfg);
	cs = eph_containers__new(root, NULL, 0);
	assert_non_null(cs);
	assert_int_equal(eph_containers__resolve(cs, "0::/default/" ID_C, 1, &c), 0);
	expect_names(&c, "containerd", "web-7d9f8c6b5-x2x4z", "shop", "nginx");
	assert_string_equal(c.pod_uid, UID);
	/* again, from the cache */
	memset(&c, 0, sizeof(c));
	assert_int_equal(eph_containers__resolve(cs, "0::/default/" ID_C, 2, &c), 0);
	assert_string_equal(c.pod_uid, UID);
	assert_string_equal(c.container, "nginx");
	eph_containers__free(cs);
}

/* config.json that is not to be believed: each path is its own cache entry, looked up once */
static void test_bad_bundles(void **state)
{
	static const char *const ids[] = {
		"1111111111111111111111111111111111111111111111111111111111111111",
		"2222222222222222222222222222222222222222222222222222222222222222",
		"3333333333333333333333333333333333333333333333333333333333333333",
		"4444444444444444444444444444444444444444444444444444444444444444",
		"5555555555555555555555555555555555555555555555555555555555555555",
		"6666666666666666666666666666666666666666666666666666666666666666",
		"7777777777777777777777777777777777777777777777777777777777777777",
		"8888888888888888888888888888888888888888888888888888888888888888",
	};
	char text[PATH_MAX], link[PATH_MAX], *big;
	struct eph_containers *cs;
	struct eph_container c;
	size_t i, n = 2u << 20;

	(void)state;
	put(CONTAINERD
	    "1111111111111111111111111111111111111111111111111111111111111111/config.json",
	    "{not json");
	put(CONTAINERD
	    "2222222222222222222222222222222222222222222222222222222222222222/config.json",
	    "[1, 2, 3]");
	put(CONTAINERD
	    "3333333333333333333333333333333333333333333333333333333333333333/config.json",
	    "{\"annotations\": [\"io.kubernetes.cri.container-name\"]}");
	/* names Kubernetes would not allow: unknown, not cut short; the valid one kept */
	put(CONTAINERD
	    "4444444444444444444444444444444444444444444444444444444444444444/config.json",
	    "{\"annotations\":{\"io.kubernetes.cri.container-name\":\"Bad_Name\","
	    "\"io.kubernetes.cri.sandbox-name\":\"a\\u0000b\","
	    "\"io.kubernetes.cri.sandbox-namespace\":"
	    "\"a123456789b123456789c123456789d123456789e123456789f123456789abcd\","
	    "\"io.kubernetes.cri.sandbox-uid\":\"not-a-uid\"}}");
	put(CONTAINERD
	    "5555555555555555555555555555555555555555555555555555555555555555/config.json",
	    "{\"annotations\":{\"io.kubernetes.cri.container-name\":\"\\u001b[31mred\","
	    "\"io.kubernetes.cri.sandbox-name\":\"ok.pod-1\","
	    "\"io.kubernetes.cri.sandbox-namespace\":\"ns\"}}");
	/* larger than the bound (valid JSON all the same) */
	big = malloc(n + 1);
	assert_non_null(big);
	memset(big, ' ', n);
	memcpy(big, containerd_cfg, strlen(containerd_cfg));
	big[n] = '\0';
	put(CONTAINERD
	    "6666666666666666666666666666666666666666666666666666666666666666/config.json",
	    big);
	free(big);
	/* a FIFO, a symbolic link to a good one */
	mkdirs(CONTAINERD "7777777777777777777777777777777777777777777777777777777777777777");
	assert_int_equal(mkfifo(at(CONTAINERD "7777777777777777777777777777777777777777777777777777"
					      "777777777777/config.json"),
				0600),
			 0);
	put(CONTAINERD "good.json", containerd_cfg);
	mkdirs(CONTAINERD "8888888888888888888888888888888888888888888888888888888888888888");
	snprintf(link, sizeof(link), "%s", at(CONTAINERD "good.json"));
	assert_int_equal(
		symlink(link, at(CONTAINERD "8888888888888888888888888888888888888888888888"
					    "888888888888888888/config.json")),
		0);

	cs = eph_containers__new(root, NULL, 16);
	assert_non_null(cs);
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		snprintf(text, sizeof(text), "0::/system.slice/nerdctl-%s.scope", ids[i]);
		assert_int_equal(eph_containers__resolve(cs, text, 1, &c), 0);
		assert_string_equal(c.id, ids[i]);
		assert_string_equal(c.runtime, "containerd");
		assert_string_equal(c.pod_uid, "");
		assert_string_equal(c.container, "");
		assert_string_equal(c.pod, i == 4 ? "ok.pod-1" : "");
		assert_string_equal(c.pod_namespace, i == 4 ? "ns" : "");
	}
	assert_int_equal(eph_containers__count(cs), 8);
	eph_containers__free(cs);
}

#define LOGS_UID "0b9e8c1a-2d3f-4e5a-9b8c-7d6e5f4a3b2c"

static void test_kubelet_logs(void **state)
{
	struct eph_containers *cs;
	struct eph_container c;

	(void)state;
	/* a pod with two containers, each with its log link */
	mkdirs("/var/log/pods/shop_web-7d9f8c6b5-x2x4z_" LOGS_UID "/nginx");
	mkdirs("/var/log/pods/shop_web-7d9f8c6b5-x2x4z_" LOGS_UID "/sidecar");
	put("/var/log/pods/shop_web-7d9f8c6b5-x2x4z_" LOGS_UID "/nginx/0.log", "");
	put("/var/log/containers/web-7d9f8c6b5-x2x4z_shop_nginx-" ID_A ".log", "");
	put("/var/log/containers/web-7d9f8c6b5-x2x4z_shop_sidecar-" ID_B ".log", "");
	/* another pod's log for the same id: the prefix must be this pod's */
	put("/var/log/containers/other_shop_wrong-" ID_C ".log", "");
	/* a static pod with one container and no log link */
	mkdirs("/var/log/pods/kube-system_etcd-node1_" STATIC_UID "/etcd");
	put("/var/log/pods/kube-system_etcd-node1_" STATIC_UID "/README", "");

	cs = eph_containers__new(root, NULL, 0);
	assert_non_null(cs);
	assert_int_equal(
		eph_containers__resolve(cs, "0::/kubepods/burstable/pod" LOGS_UID "/" ID_A, 1, &c),
		0);
	expect_names(&c, "", "web-7d9f8c6b5-x2x4z", "shop", "nginx");
	assert_int_equal(
		eph_containers__resolve(cs, "0::/kubepods/burstable/pod" LOGS_UID "/" ID_B, 1, &c),
		0);
	expect_names(&c, "", "web-7d9f8c6b5-x2x4z", "shop", "sidecar");
	/* two containers and no log for this id: the pod, no container */
	assert_int_equal(
		eph_containers__resolve(cs, "0::/kubepods/burstable/pod" LOGS_UID "/" ID_C, 1, &c),
		0);
	expect_names(&c, "", "web-7d9f8c6b5-x2x4z", "shop", "");
	/* the only container directory */
	assert_int_equal(eph_containers__resolve(cs,
						 "0::/kubepods.slice/kubepods-burstable.slice/"
						 "kubepods-burstable-pod" STATIC_UID
						 ".slice/cri-containerd-" ID_A ".scope",
						 1, &c),
			 0);
	expect_names(&c, "containerd", "etcd-node1", "kube-system", "etcd");
	/* cri-dockerd: docker in the path, the names from the logs */
	assert_int_equal(eph_containers__resolve(cs,
						 "0::/kubepods.slice/kubepods-pod" STATIC_UID
						 ".slice/docker-" ID_B ".scope",
						 1, &c),
			 0);
	expect_names(&c, "docker", "etcd-node1", "kube-system", "etcd");
	eph_containers__free(cs);
}

#define LATE_UID "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
#define LATE_TEXT "0::/kubepods/besteffort/pod" LATE_UID "/" ID_B "\n"

/* Not found, then found: looked up again after EPH_CT_RETRY_NS, not before. */
static void test_retry(void **state)
{
	const uint64_t t0 = 5000000000ull;
	struct eph_containers *cs;
	struct eph_container c;
	size_t bytes;

	(void)state;
	cs = eph_containers__new(root, NULL, 0);
	assert_non_null(cs);
	assert_int_equal(eph_containers__resolve(cs, LATE_TEXT, t0, &c), 0);
	assert_string_equal(c.id, ID_B);
	assert_string_equal(c.pod_uid, LATE_UID);
	expect_names(&c, "", "", "", "");
	assert_int_equal(eph_containers__count(cs), 1);
	bytes = eph_containers__bytes(cs);

	/* the kubelet writes the pod's directories now */
	mkdirs("/var/log/pods/batch_job-x7k2p_" LATE_UID "/worker");
	put("/var/log/containers/job-x7k2p_batch_worker-" ID_B ".log", "");
	assert_int_equal(eph_containers__resolve(cs, LATE_TEXT, t0 + 1, &c), 0);
	expect_names(&c, "", "", "", "");
	assert_int_equal(eph_containers__resolve(cs, LATE_TEXT, t0 + EPH_CT_RETRY_NS - 1, &c), 0);
	expect_names(&c, "", "", "", "");
	assert_int_equal(eph_containers__resolve(cs, LATE_TEXT, t0 + EPH_CT_RETRY_NS, &c), 0);
	expect_names(&c, "", "job-x7k2p", "batch", "worker");
	assert_string_equal(c.id, ID_B);
	assert_int_equal(eph_containers__count(cs), 1);
	assert_true(eph_containers__bytes(cs) > bytes); /* the names */

	/* found: final, the directories may go */
	rm_rf("/var/log");
	assert_int_equal(eph_containers__resolve(cs, LATE_TEXT, t0 + 5 * EPH_CT_RETRY_NS, &c), 0);
	expect_names(&c, "", "job-x7k2p", "batch", "worker");
	eph_containers__free(cs);
}

static void test_host_process(void **state)
{
	struct eph_containers *cs;
	struct eph_container c;
	size_t bytes;

	(void)state;
	cs = eph_containers__new(root, NULL, 0);
	assert_non_null(cs);
	bytes = eph_containers__bytes(cs);
	memset(&c, 0x5a, sizeof(c));
	assert_int_equal(eph_containers__resolve(
				 cs, "0::/user.slice/user-1000.slice/session-2.scope", 1, &c),
			 -ENOENT);
	assert_true(eph_container__none(&c));
	assert_string_equal(c.pod, "");
	assert_int_equal(eph_containers__resolve(cs, "", 1, &c), -ENOENT);
	assert_int_equal(eph_containers__count(cs), 0);
	assert_int_equal(eph_containers__bytes(cs), bytes);
	eph_containers__free(cs);
	eph_containers__free(NULL);
}

/* A path longer than PATH_MAX: the container, no names, not cached. */
static void test_long_path(void **state)
{
	struct eph_containers *cs;
	struct eph_container c;
	size_t n = 3 + 6000 + strlen("/docker/" ID_A) + 1, i;
	char *text;

	(void)state;
	text = malloc(n);
	assert_non_null(text);
	strcpy(text, "0::");
	for (i = 0; i < 3000; i++)
		memcpy(text + 3 + 2 * i, "/a", 2);
	strcpy(text + 3 + 6000, "/docker/" ID_A);
	cs = eph_containers__new(root, NULL, 0);
	assert_non_null(cs);
	assert_int_equal(eph_containers__resolve(cs, text, 1, &c), 0);
	assert_string_equal(c.id, ID_A);
	assert_string_equal(c.runtime, "docker");
	assert_int_equal(eph_containers__count(cs), 0);
	eph_containers__free(cs);
	free(text);
}

static void test_pid(void **state)
{
	struct eph_containers *cs;
	struct eph_container c;
	char proc[PATH_MAX];
	int err;

	(void)state;
	put(CONTAINERD ID_A "/config.json", containerd_cfg);
	put("/proc/100/cgroup", "0::" K8S_SD "/cri-containerd-" ID_A ".scope\n");
	put("/proc/200/cgroup", v1_docker);
	put("/proc/300/cgroup", "9:name=systemd:/user.slice\n0::/\n");
	put("/proc/400/cgroup", ""); /* a zombie's */
	snprintf(proc, sizeof(proc), "%s/proc", root);
	cs = eph_containers__new(root, proc, 0);
	assert_non_null(cs);

	assert_int_equal(eph_containers__pid(cs, 100, 1, &c), 0);
	expect_names(&c, "containerd", "web-7d9f8c6b5-x2x4z", "shop", "nginx");
	assert_string_equal(c.pod_uid, UID);
	assert_int_equal(eph_containers__pid(cs, 200, 1, &c), 0);
	expect_names(&c, "docker", "", "", "");
	assert_string_equal(c.id, ID_A);
	memset(&c, 0x5a, sizeof(c));
	assert_int_equal(eph_containers__pid(cs, 300, 1, &c), -ENOENT);
	assert_true(eph_container__none(&c));
	assert_int_equal(eph_containers__pid(cs, 400, 1, &c), -ENOENT);
	memset(&c, 0x5a, sizeof(c));
	assert_int_equal(eph_containers__pid(cs, 500, 1, &c), -ENOENT); /* gone */
	assert_true(eph_container__none(&c));
	assert_string_equal(c.container, "");
	assert_int_equal(eph_containers__count(cs), 2);
	eph_containers__free(cs);

	/* the real /proc: this process is somewhere, a pid that cannot be is gone */
	cs = eph_containers__new("", NULL, 0);
	assert_non_null(cs);
	assert_int_equal(eph_containers__pid(cs, UINT32_MAX, 1, &c), -ENOENT);
	err = eph_containers__pid(cs, getpid(), 1, &c);
	assert_true(err == 0 || err == -ENOENT);
	eph_containers__free(cs);
}

/* n distinct container paths: pod i, container i */
static void bounded_text(char *text, size_t len, unsigned int i)
{
	snprintf(text, len,
		 "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%08x_0000_4000_"
		 "8000_%012x.slice/cri-containerd-%056x%08x.scope\n",
		 i, i, 0, i);
}

static void test_bounded(void **state)
{
	const unsigned int paths = 10000, max = 4096;
	/* per path: its record and in-use byte, its share of the index (at most a quarter full,
	 * grown by doubling: up to 8 slots of 8 bytes), its path and names (256); and 64 KiB */
	const size_t bound = 64 * 1024 + max * (40 + 1 + 8 * 8 + 256);
	char text[512], rel[PATH_MAX], key[PATH_MAX];
	struct eph_containers *cs;
	struct eph_container c;
	size_t bytes, most = 0;
	unsigned int i;

	(void)state;
	/* bundles for the first two: 0 kept in use, 1 not */
	for (i = 0; i < 2; i++) {
		bounded_text(text, sizeof(text), i);
		assert_int_equal(eph_container__parse(text, &c, key, sizeof(key)), 0);
		snprintf(rel, sizeof(rel), CONTAINERD "%s/config.json", c.id);
		put(rel, containerd_cfg);
	}
	cs = eph_containers__new(root, NULL, max);
	assert_non_null(cs);
	for (i = 0; i < paths; i++) {
		bounded_text(text, sizeof(text), i);
		assert_int_equal(eph_containers__resolve(cs, text, 1 + i, &c), 0);
		if (i % 1000 == 0) {
			bounded_text(text, sizeof(text), 0);
			assert_int_equal(eph_containers__resolve(cs, text, 1 + i, &c), 0);
			assert_string_equal(c.container, "nginx");
		}
		assert_true(eph_containers__count(cs) <= max);
		bytes = eph_containers__bytes(cs);
		most = bytes > most ? bytes : most;
	}
	assert_int_equal(eph_containers__count(cs), max);
	print_message("    %u paths, %u cached: %zu bytes now, %zu at most (bound %zu)\n", paths,
		      max, bytes, most, bound);
	assert_true(most < bound);

	/* 0, used lately, is still there: its names without its bundle; 1 went and is new */
	rm_rf("/run");
	bounded_text(text, sizeof(text), 0);
	assert_int_equal(eph_containers__resolve(cs, text, paths + 1, &c), 0);
	expect_names(&c, "containerd", "web-7d9f8c6b5-x2x4z", "shop", "nginx");
	bounded_text(text, sizeof(text), 1);
	assert_int_equal(eph_containers__resolve(cs, text, paths + 1, &c), 0);
	expect_names(&c, "containerd", "", "", "");
	assert_string_equal(c.pod_uid, "00000001-0000-4000-8000-000000000001");
	assert_int_equal(eph_containers__count(cs), max);
	eph_containers__free(cs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bundles, setup_root, teardown_root),
		cmocka_unit_test_setup_teardown(test_bundle_uid, setup_root, teardown_root),
		cmocka_unit_test_setup_teardown(test_bad_bundles, setup_root, teardown_root),
		cmocka_unit_test_setup_teardown(test_kubelet_logs, setup_root, teardown_root),
		cmocka_unit_test_setup_teardown(test_retry, setup_root, teardown_root),
		cmocka_unit_test_setup_teardown(test_host_process, setup_root, teardown_root),
		cmocka_unit_test_setup_teardown(test_long_path, setup_root, teardown_root),
		cmocka_unit_test_setup_teardown(test_pid, setup_root, teardown_root),
		cmocka_unit_test_setup_teardown(test_bounded, setup_root, teardown_root),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
