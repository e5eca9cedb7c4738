// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of user/core/container.c: cgroup paths (docker, containerd, CRI-O and podman, pods,
 * nesting, the host) and /proc/PID/cgroup text into a container and a pod, and their short
 * names. The names from a node tree are test_container_names.c's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <string.h>

#include "container.h"
#include "container_fixture.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docker),	      cmocka_unit_test(test_containerd),
		cmocka_unit_test(test_crio_podman),   cmocka_unit_test(test_pods),
		cmocka_unit_test(test_nested),	      cmocka_unit_test(test_host),
		cmocka_unit_test(test_text),	      cmocka_unit_test(test_text_none),
		cmocka_unit_test(test_text_too_long), cmocka_unit_test(test_short),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
