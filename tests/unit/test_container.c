// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of user/core/container.c (cgroup paths and /proc/PID/cgroup text into a container
 * and a pod) and user/node/container_node.c and container_names.c (the names from a node tree
 * laid out in a temporary directory, the cache and its bounds).
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

#define ID_A "915a31bb1a5126a672db32977a1e0438bb5f6a3602ace28987e924b2cc135e3f"
#define ID_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID_C "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"
#define UID "6f1c2c0e-3a4b-4d5e-8f90-a1b2c3d4e5f6"
#define UID_US "6f1c2c0e_3a4b_4d5e_8f90_a1b2c3d4e5f6" /* the systemd driver's spelling */
#define STATIC_UID "4b5d3c2a1f0e9d8c7b6a59483726150f" /* a static pod's: an MD5 */

#define K8S_SD "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_US ".slice"

/* path gives err, runtime, id and pod_uid (names always empty). */
static void expect_path(const char *path, int err, const char *runtime, const char *id,
			const char *uid)
{
	struct eph_container c;

	memset(&c, 0x5a, sizeof(c));
	if (eph_container__parse_path(path, &c) != err)
		fail_msg("%s: not %d", path, err);
	assert_string_equal(c.runtime, runtime);
	assert_string_equal(c.id, id);
	assert_string_equal(c.pod_uid, uid);
	assert_string_equal(c.pod, "");
	assert_string_equal(c.pod_namespace, "");
	assert_string_equal(c.container, "");
}

static void test_docker(void **state)
{
	(void)state;
	expect_path("/docker/" ID_A, 0, "docker", ID_A, "");
	expect_path("/system.slice/docker-" ID_A ".scope", 0, "docker", ID_A, "");
	/* rootless docker (cgroup v2, systemd) */
	expect_path("/user.slice/user-1000.slice/user@1000.service/user.slice/docker-" ID_A
		    ".scope",
		    0, "docker", ID_A, "");
	/* docker-in-docker: the innermost */
	expect_path("/docker/" ID_A "/docker/" ID_B, 0, "docker", ID_B, "");
	expect_path("/system.slice/docker-" ID_A ".scope/docker/" ID_B, 0, "docker", ID_B, "");
	/* cri-dockerd on Kubernetes, systemd driver */
	expect_path(K8S_SD "/docker-" ID_A ".scope", 0, "docker", ID_A, UID);
}

static void test_containerd(void **state)
{
	(void)state;
	expect_path(K8S_SD "/cri-containerd-" ID_A ".scope", 0, "containerd", ID_A, UID);
	expect_path("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_US
		    ".slice/cri-containerd-" ID_A ".scope",
		    0, "containerd", ID_A, UID);
	/* guaranteed: no QoS level */
	expect_path("/kubepods.slice/kubepods-pod" UID_US ".slice/cri-containerd-" ID_A ".scope", 0,
		    "containerd", ID_A, UID);
	/* cgroupfs driver: the runtime is not in the path */
	expect_path("/kubepods/besteffort/pod" UID "/" ID_A, 0, "", ID_A, UID);
	expect_path("/kubepods/burstable/pod" UID "/" ID_A, 0, "", ID_A, UID);
	expect_path("/kubepods/pod" UID "/" ID_A, 0, "", ID_A, UID);
	/* ctr and nerdctl outside Kubernetes: the default namespace; nerdctl's systemd scope */
	expect_path("/default/" ID_A, 0, "containerd", ID_A, "");
	expect_path("/system.slice/nerdctl-" ID_A ".scope", 0, "containerd", ID_A, "");
	expect_path("/default/redis", -ENOENT, "", "", ""); /* `ctr run IMAGE redis` */
}

static void test_crio_podman(void **state)
{
	(void)state;
	expect_path("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_US
		    ".slice/crio-" ID_A ".scope",
		    0, "cri-o", ID_A, UID);
	expect_path("/kubepods/burstable/pod" UID "/crio-" ID_A, 0, "cri-o", ID_A, UID);
	/* conmon: the monitor, not the container; the pod still */
	expect_path(K8S_SD "/crio-conmon-" ID_A ".scope", 0, "", "", UID);
	expect_path("/kubepods/pod" UID "/crio-conmon-" ID_A, 0, "", "", UID);

	expect_path("/machine.slice/libpod-" ID_A ".scope", 0, "podman", ID_A, "");
	expect_path("/libpod_parent/libpod-" ID_A, 0, "podman", ID_A, "");
	expect_path("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID_A
		    ".scope/container",
		    0, "podman", ID_A, "");
	expect_path("/machine.slice/machine-libpod_pod_" ID_B ".slice/libpod-" ID_A ".scope", 0,
		    "podman", ID_A, "");
	expect_path("/machine.slice/libpod-conmon-" ID_A ".scope", -ENOENT, "", "", "");
}

static void test_pods(void **state)
{
	(void)state;
	/* the pod's own cgroup (the sandbox's processes, or none) */
	expect_path(K8S_SD, 0, "", "", UID);
	expect_path("/kubepods/besteffort/pod" UID, 0, "", "", UID);
	expect_path("/kubepods.slice/kubepods-pod" UID_US ".slice", 0, "", "", UID);
	/* a static pod (kube-apiserver, etcd): its UID is 32 hex digits */
	expect_path("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" STATIC_UID
		    ".slice/cri-containerd-" ID_A ".scope",
		    0, "containerd", ID_A, STATIC_UID);
	expect_path("/kubepods/burstable/pod" STATIC_UID "/" ID_A, 0, "", ID_A, STATIC_UID);
	/* not a pod: no "kubepods", a broken UID */
	expect_path("/pod" UID "/" ID_A, -ENOENT, "", "", "");
	expect_path("/system.slice/foo-pod" UID_US ".slice", -ENOENT, "", "", "");
	expect_path("/kubepods/pod6f1c2c0e-3a4b_4d5e-8f90-a1b2c3d4e5f6", -ENOENT, "", "", "");
	expect_path("/kubepods/pod6f1c2c0e-3a4b-4d5e-8f90-a1b2c3d4e5fg", -ENOENT, "", "", "");
	expect_path("/kubepods/pod6f1c2c0e-3a4b-4d5e-8f90-a1b2c3d4e5f", -ENOENT, "", "", "");
}

static void test_nested(void **state)
{
	(void)state;
	/* kind (cgroupfs): the node is a docker container, the pod's container inside wins */
	expect_path("/docker/" ID_A "/kubepods/besteffort/pod" UID "/" ID_B, 0, "", ID_B, UID);
	/* kind (systemd, its kubelet's cgroup root "/kubelet") */
	expect_path("/system.slice/docker-" ID_A ".scope/kubelet.slice/kubelet-kubepods.slice/"
		    "kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" UID_US
		    ".slice/cri-containerd-" ID_B ".scope",
		    0, "containerd", ID_B, UID);
	/* a pod's own cgroup under kind: the node's container is not the process's */
	expect_path("/docker/" ID_A "/kubepods/besteffort/pod" UID, 0, "", "", UID);
	expect_path("/system.slice/docker-" ID_A ".scope/kubelet.slice/kubelet-kubepods.slice/"
		    "kubelet-kubepods-pod" UID_US ".slice/crio-conmon-" ID_B ".scope",
		    0, "", "", UID);
	/* sub-cgroups below the container (a systemd inside it, cgroup v2 leaf rules) */
	expect_path("/system.slice/docker-" ID_A ".scope/init.scope", 0, "docker", ID_A, "");
	expect_path(K8S_SD "/cri-containerd-" ID_A ".scope/system.slice/nginx.service", 0,
		    "containerd", ID_A, UID);
	expect_path("/kubepods/besteffort/pod" UID "/" ID_A "/app", 0, "", ID_A, UID);
}

static void test_host(void **state)
{
	(void)state;
	expect_path("/", -ENOENT, "", "", "");
	expect_path("", -ENOENT, "", "", "");
	expect_path("/user.slice/user-1000.slice/session-3.scope", -ENOENT, "", "", "");
	expect_path("/system.slice/ssh.service", -ENOENT, "", "", "");
	expect_path("/system.slice/docker.service", -ENOENT, "", "", "");
	expect_path("/process_api/eebbbb3d2c6fc9a8ed3355a2184b30d8", -ENOENT, "", "", "");
	expect_path("/docker", -ENOENT, "", "", "");
	expect_path("/kubepods.slice/kubepods-besteffort.slice", -ENOENT, "", "", "");
	/* not 64 lower-case hex digits, or under no runtime's directory */
	expect_path("/docker/" ID_A "0", -ENOENT, "", "", "");
	expect_path("/docker/915a31bb1a5126a672db32977a1e0438bb5f6a3602ace28987e924b2cc135e3",
		    -ENOENT, "", "", "");
	expect_path("/docker/915A31BB1A5126A672DB32977A1E0438BB5F6A3602ACE28987E924B2CC135E3F",
		    -ENOENT, "", "", "");
	expect_path("/actions_job/" ID_A, -ENOENT, "", "", "");
	expect_path("/system.slice/docker-" ID_A ".scope.old", -ENOENT, "", "", "");
	expect_path("/system.slice/docker-" ID_A ".service", -ENOENT, "", "", "");
}

/* ---- /proc/PID/cgroup text --------------------------------------------------------------- */

/* This machine's shape (cgroup v1): the container on every hierarchy, "/" on the v2 one. */
static const char v1_docker[] = "12:rdma:/docker/" ID_A "\n"
				"11:hugetlb:/docker/" ID_A "\n"
				"9:name=systemd:/docker/" ID_A "\n"
				"4:cpu,cpuacct:/docker/" ID_A "\n"
				"1:cpuset:/docker/" ID_A "\n"
				"0::/\n";

static void test_text(void **state)
{
	struct eph_container c;
	char key[PATH_MAX];

	(void)state;
	assert_int_equal(eph_container__parse(v1_docker, &c, key, sizeof(key)), 0);
	assert_string_equal(key, "/docker/" ID_A);
	assert_string_equal(c.runtime, "docker");
	assert_string_equal(c.id, ID_A);

	/* v2 only, no newline at the end */
	assert_int_equal(eph_container__parse("0::" K8S_SD "/cri-containerd-" ID_A ".scope", &c,
					      key, sizeof(key)),
			 0);
	assert_string_equal(key, K8S_SD "/cri-containerd-" ID_A ".scope");
	assert_string_equal(c.runtime, "containerd");
	assert_string_equal(c.pod_uid, UID);

	/* hybrid: the v2 line wins over v1 lines naming something else */
	assert_int_equal(eph_container__parse("4:memory:/docker/" ID_A "\n"
					      "1:name=systemd:/docker/" ID_A "\n"
					      "0::/system.slice/docker-" ID_B ".scope\n",
					      &c, key, sizeof(key)),
			 0);
	assert_string_equal(key, "/system.slice/docker-" ID_B ".scope");
	assert_string_equal(c.id, ID_B);

	/* else the first v1 line that names one, even a pod without its container */
	assert_int_equal(
		eph_container__parse("5:pids:/\n"
				     "4:memory:/process_api/eebbbb3d2c6fc9a8ed3355a2184b30d8\n"
				     "3:cpu:/kubepods/besteffort/pod" UID "\n"
				     "2:name=systemd:/kubepods/besteffort/pod" UID "/" ID_A "\n"
				     "0::/\n",
				     &c, key, sizeof(key)),
		0);
	assert_string_equal(key, "/kubepods/besteffort/pod" UID);
	assert_string_equal(c.id, "");
	assert_string_equal(c.pod_uid, UID);

	/* a removed cgroup (v2) */
	assert_int_equal(eph_container__parse("0::/system.slice/docker-" ID_A ".scope (deleted)\n",
					      &c, key, sizeof(key)),
			 0);
	assert_string_equal(key, "/system.slice/docker-" ID_A ".scope");
	assert_string_equal(c.id, ID_A);

	/* malformed lines are skipped */
	assert_int_equal(eph_container__parse("garbage\n1:cpu\n:/docker/" ID_B "\n2:x:docker/" ID_B
					      "\n\n3:cpu:/docker/" ID_A "\n",
					      &c, key, sizeof(key)),
			 0);
	assert_string_equal(key, "/docker/" ID_A);
}

static void test_text_none(void **state)
{
	struct eph_container c;
	char key[PATH_MAX];

	(void)state;
	/* a host process here: "/" everywhere, the sandbox's memory cgroup */
	memset(&c, 0x5a, sizeof(c));
	strcpy(key, "x");
	assert_int_equal(
		eph_container__parse("9:name=systemd:/\n8:pids:/\n"
				     "4:memory:/process_api/eebbbb3d2c6fc9a8ed3355a2184b30d8\n"
				     "0::/\n",
				     &c, key, sizeof(key)),
		-ENOENT);
	assert_string_equal(key, "");
	assert_true(eph_container__none(&c));
	assert_string_equal(c.runtime, "");
	assert_int_equal(eph_container__parse("", &c, key, sizeof(key)), -ENOENT);
	assert_int_equal(eph_container__parse("0::/user.slice/user-1000.slice/session-1.scope\n",
					      &c, key, sizeof(key)),
			 -ENOENT);
}

static void test_text_too_long(void **state)
{
	struct eph_container c;
	char key[32] = "x";

	(void)state;
	/* the key does not fit: the container is told all the same */
	assert_int_equal(eph_container__parse(v1_docker, &c, key, sizeof(key)), -ENAMETOOLONG);
	assert_string_equal(key, "");
	assert_string_equal(c.id, ID_A);
	assert_int_equal(eph_container__parse(v1_docker, &c, key, 0), -ENAMETOOLONG);
}

static void test_short(void **state)
{
	struct eph_container c = { 0 };
	char out[32];

	(void)state;
	strcpy(out, "x");
	assert_string_equal(eph_container__short(&c, out, sizeof(out)), "");
	strcpy(c.id, ID_A);
	assert_string_equal(eph_container__short(&c, out, sizeof(out)), "915a31bb1a51");
	strcpy(c.pod, "web-7d9f8c6b5-x2x4z");
	assert_string_equal(eph_container__short(&c, out, sizeof(out)), "web-7d9f8c6b5-x2x4z");
	strcpy(c.container, "nginx");
	assert_string_equal(eph_container__short(&c, out, sizeof(out)),
			    "web-7d9f8c6b5-x2x4z/nginx");
	assert_string_equal(eph_container__short(&c, out, 8), "web-7d9");
	out[0] = 'q';
	assert_ptr_equal(eph_container__short(&c, out, 0), out);
	assert_int_equal(out[0], 'q');
}

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
		cmocka_unit_test(test_docker),
		cmocka_unit_test(test_containerd),
		cmocka_unit_test(test_crio_podman),
		cmocka_unit_test(test_pods),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_text_none),
		cmocka_unit_test(test_text_too_long),
		cmocka_unit_test(test_short),
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
