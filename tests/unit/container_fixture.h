/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the containers' unit tests share (test_container.c, test_container_names.c): container
 * and pod ids, a kubepods cgroup path, and a /proc/PID/cgroup text of this machine's shape.
 */
#ifndef EPH_TEST_CONTAINER_FIXTURE_H
#define EPH_TEST_CONTAINER_FIXTURE_H

#define ID_A "915a31bb1a5126a672db32977a1e0438bb5f6a3602ace28987e924b2cc135e3f"
#define ID_B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID_C "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"
#define UID "6f1c2c0e-3a4b-4d5e-8f90-a1b2c3d4e5f6"
#define UID_US "6f1c2c0e_3a4b_4d5e_8f90_a1b2c3d4e5f6" /* the systemd driver's spelling */
#define STATIC_UID "4b5d3c2a1f0e9d8c7b6a59483726150f" /* a static pod's: an MD5 */

#define K8S_SD "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_US ".slice"

/* This machine's shape (cgroup v1): the container on every hierarchy, "/" on the v2 one. */
static const char v1_docker[] = "12:rdma:/docker/" ID_A "\n"
				"11:hugetlb:/docker/" ID_A "\n"
				"9:name=systemd:/docker/" ID_A "\n"
				"4:cpu,cpuacct:/docker/" ID_A "\n"
				"1:cpuset:/docker/" ID_A "\n"
				"0::/\n";

#endif /* EPH_TEST_CONTAINER_FIXTURE_H */
