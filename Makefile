# SPDX-License-Identifier: GPL-2.0
# ephtrace build. Everything generated goes to $(OUTPUT). V=1 shows full command lines.
CLANG ?= clang
BPFTOOL ?= bpftool
CC ?= cc

# The target architecture, spelled as the kernel and BPF's __TARGET_ARCH_ spell it (x86, arm64;
# uname -m's x86_64 and aarch64 are taken too). Another one than this host's cross-builds
# (README): `make ARCH=arm64` compiles with $(CROSS_COMPILE)gcc (aarch64-linux-gnu-gcc, unless
# CC or CROSS_COMPILE is given) against the :arm64 libraries that `make deps ARCH=arm64`
# installs, into OUTPUT=.output/arm64, ephtrace included (not ./ephtrace), and `all` builds the
# test driver too. clang and bpftool run on the host whatever ARCH is.
arch_name = $(patsubst x86_64,x86,$(patsubst aarch64,arm64,$(1)))
HOST_ARCH := $(call arch_name,$(shell uname -m))
ARCH ?= $(HOST_ARCH)
override ARCH := $(call arch_name,$(ARCH))
NPROC := $(shell nproc 2>/dev/null || echo 1)
ifeq ($(ARCH),$(HOST_ARCH))
OUTPUT ?= .output
EPHTRACE := ephtrace
else
CROSS_COMPILE_arm64 := aarch64-linux-gnu-
CROSS_COMPILE_x86 := x86_64-linux-gnu-
CROSS_COMPILE ?= $(CROSS_COMPILE_$(ARCH))
ifeq ($(origin CC),default)
CC := $(CROSS_COMPILE)gcc
endif
OUTPUT ?= .output/$(ARCH)
EPHTRACE := $(OUTPUT)/ephtrace
HOST_ONLY := run test test-build test-unit test-bpf test-host test-host-busy test-host-rest test-cli fuzz fuzz-smoke bench
ifneq ($(filter $(HOST_ONLY),$(MAKECMDGOALS)),)
$(error ARCH=$(ARCH) cross-builds for the test VMs; '$(filter $(HOST_ONLY),$(MAKECMDGOALS))' runs \
	here: build it without ARCH, or run the $(ARCH) cells with make test-vm ARCH=$(ARCH))
endif
endif
VMLINUX_DIR := vmlinux/$(ARCH)
ifeq ($(wildcard $(VMLINUX_DIR)/vmlinux.h),)
$(error no vmlinux.h for architecture '$(ARCH)' (have: $(notdir $(wildcard vmlinux/*))); see vmlinux/README.md)
endif

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
# user/core/ sees only include/ and itself (a core file that includes a node or command header
# does not compile); everything else sees all of user/.
INCLUDES := -Iinclude -Iuser/core -Iuser/node -Iuser/cmd -I$(OUTPUT)
CORE_INCLUDES := -Iinclude -Iuser/core
CFLAGS ?= -g -O2
WARN := -Wall -Wextra -Werror
BASE_CFLAGS := $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -DEPH_VERSION='"$(VERSION)"'
ALL_CFLAGS := $(BASE_CFLAGS) $(INCLUDES) -MMD -MP
CORE_CFLAGS := $(BASE_CFLAGS) $(CORE_INCLUDES) -MMD -MP
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Iinclude -Ibpf -I$(VMLINUX_DIR)
BPF_HDRS := $(wildcard bpf/*.bpf.h)
LIBS := -lbpf -lelf -lz -lmicrohttpd -lm -lmnl -ljson-c

# The modules are the folders (ARCHITECTURE.md): objects stay flat in $(OUTPUT), as the names are
# unique across user/ (make check-layout says so).
# user/core/: no libbpf, no system calls (unit-tested, fuzzed, benchmarked alone).
CORE := $(sort $(basename $(notdir $(wildcard user/core/*.c))))
# user/node/ (the kernel and the node: BPF, netlink, /proc, namespaces, mounts) and user/cmd/ (the
# commands and serve's HTTP): what drives the kernel side.
APP := $(sort $(basename $(notdir $(wildcard user/node/*.c user/cmd/*.c))))

CORE_OBJS := $(patsubst %,$(OUTPUT)/%.o,$(CORE))
APP_OBJS := $(patsubst %,$(OUTPUT)/%.o,$(APP))
UNIT_TESTS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(wildcard tests/unit/test_*.c))
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

.DELETE_ON_ERROR:
.PHONY: all deps run test test-build test-host-busy test-host-rest check-kernels check-layout test-unit test-host test-vm test-vm-arm64 test-bpf readme-matrix clean FORCE

all: ephtrace
ifneq ($(EPHTRACE),ephtrace)
# a cross-build is for the test VMs: ephtrace and the driver they run (make test-vm-$(ARCH))
all: $(OUTPUT)/tests/ephtest
ephtrace: $(EPHTRACE)
.PHONY: ephtrace
endif

$(OUTPUT) $(OUTPUT)/san $(OUTPUT)/tests:
	$(Q)mkdir -p $@

# Every BPF object comes from this one rule: DIR/NAME.bpf.o from the bpf/NAME.bpf.c its own
# prerequisites name (below, and the hooks-only variant in tests/bench/bench.mk), with
# BPF_DEFS, which a variant sets for its target alone.
BPF_DEFS :=
%.bpf.o: include/ephtrace.h
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) $(BPF_DEFS) -c $(filter %.bpf.c,$^) -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp
	$(Q)rm -f $@.tmp

# and every skeleton from this one: DIR/NAME.skel.h, struct NAME_bpf, from DIR/NAME.bpf.o
%.skel.h: %.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(notdir $*)_bpf > $@

# ephtrace's programs (every backend), and the port iterator (iter/tcp) and the map reader
# (iter/bpf_map_elem), separate objects that only their own loaders embed.
$(OUTPUT)/ephtrace.bpf.o: bpf/ephtrace.bpf.c $(BPF_HDRS) | $(OUTPUT)
$(OUTPUT)/portiter.bpf.o: bpf/portiter.bpf.c bpf/core_fixes.bpf.h | $(OUTPUT)
$(OUTPUT)/mapdump.bpf.o: bpf/mapdump.bpf.c | $(OUTPUT)

# Only the objects that include a skeleton (grep '\.skel\.h' user/: loader.c, loader_read.c,
# portiter.c and mapdump.c) wait for it, in each build of them (plain, sanitized, fuzzed).
$(foreach o,loader.o loader_read.o,$(addsuffix /$(o),$(OUTPUT) $(OUTPUT)/san $(OUTPUT)/fuzz/obj)): \
	$(OUTPUT)/ephtrace.skel.h
$(addsuffix /portiter.o,$(OUTPUT) $(OUTPUT)/san $(OUTPUT)/fuzz/obj): $(OUTPUT)/portiter.skel.h
$(addsuffix /mapdump.o,$(OUTPUT) $(OUTPUT)/san $(OUTPUT)/fuzz/obj): $(OUTPUT)/mapdump.skel.h

# The version stamp: rewritten, and what prints the version rebuilt, when `git describe` changes.
$(OUTPUT)/version: FORCE | $(OUTPUT)
	$(Q)echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' > $@

$(OUTPUT)/main.o $(OUTPUT)/serve_metrics.o: $(OUTPUT)/version

FORCE:

$(OUTPUT)/%.o: user/core/%.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CORE_CFLAGS) -c $< -o $@

$(OUTPUT)/%.o: user/node/%.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(OUTPUT)/%.o: user/cmd/%.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(EPHTRACE): $(APP_OBJS) $(CORE_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LIBS) -o $@

# Unit tests: the core modules again, with ASan and UBSan.
$(OUTPUT)/san/%.o: user/core/%.c | $(OUTPUT)/san
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(CORE_CFLAGS) $(SAN) -c $< -o $@

# (the node and command modules some unit tests link besides the core: see below)
$(OUTPUT)/san/%.o: user/node/%.c | $(OUTPUT)/san
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN) -c $< -o $@

$(OUTPUT)/san/%.o: user/cmd/%.c | $(OUTPUT)/san
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN) -c $< -o $@

# stdout line-buffered in the test programs (tests/linebuf.c): make test reads it through a pipe
$(OUTPUT)/tests/linebuf.o: tests/linebuf.c | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

TEST_LIBS := -lcmocka -lm
$(OUTPUT)/tests/test_%: tests/unit/test_%.c $(patsubst %,$(OUTPUT)/san/%.o,$(CORE)) \
	$(OUTPUT)/tests/linebuf.o | $(OUTPUT)/tests
	$(call msg,TEST-CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN) $^ $(TEST_LIBS) -o $@

# what the unit tests of one module share (tests/unit/*_fixture.c), sanitized like them: the
# occupancy's five tests (holds, snapshot, resync, model, render), format.c's two (JSON, text), the
# metrics writer's three (writer, rows, golden files)
$(OUTPUT)/tests/%_fixture.o: tests/unit/%_fixture.c | $(OUTPUT)/tests
	$(call msg,CC-SAN,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN) -c $< -o $@

$(patsubst %,$(OUTPUT)/tests/test_occ_%,holds snapshot resync model render): $(OUTPUT)/tests/occ_fixture.o
$(OUTPUT)/tests/test_format $(OUTPUT)/tests/test_format_text: $(OUTPUT)/tests/format_fixture.o
$(OUTPUT)/tests/test_metrics $(OUTPUT)/tests/test_metrics_rows $(OUTPUT)/tests/test_metrics_golden: \
	$(OUTPUT)/tests/metrics_fixture.o

# the kernel's preemption model from its version string
$(OUTPUT)/tests/test_preempt: $(OUTPUT)/san/preempt.o

# run-time messages: the prefix, several lines, one longer than the printer's buffer
$(OUTPUT)/tests/test_msg: $(OUTPUT)/san/msg.o

# sock_diag parsing and the bind-bucket matching (the port iterator's reads are stubbed)
$(OUTPUT)/tests/test_sockdiag: $(patsubst %,$(OUTPUT)/san/%.o,sockdiag sockdiag_bucket sockdiag_snap \
	sockdiag_apply owners netns msg)
$(OUTPUT)/tests/test_sockdiag: TEST_LIBS += -lmnl

# socket owners over this machine's /proc: user/node/owners.c
$(OUTPUT)/tests/test_owners: $(OUTPUT)/san/owners.o

# the namespaces' list and their sysctls (setns() from a thread): user/node/netns.c
$(OUTPUT)/tests/test_netns: $(OUTPUT)/san/netns.o

# serve's connection limits (shutdown() on the losers): user/cmd/httplimit.c
$(OUTPUT)/tests/test_httplimit: $(OUTPUT)/san/httplimit.o

# the names resolver over a node tree laid out in a temporary directory (test_container.c: the
# cgroup paths, in the core)
$(OUTPUT)/tests/test_container_names: $(OUTPUT)/san/container_node.o $(OUTPUT)/san/container_names.o
$(OUTPUT)/tests/test_container_names: TEST_LIBS += -ljson-c

# the per-pid cache over this machine's /proc
$(OUTPUT)/tests/test_procinfo: $(OUTPUT)/san/procinfo.o $(OUTPUT)/san/container_node.o $(OUTPUT)/san/container_names.o
$(OUTPUT)/tests/test_procinfo: TEST_LIBS += -ljson-c

# Kernel-side tests (tests/bpf/, root): real sockets in a private network namespace.
BPF_TESTS := $(patsubst tests/bpf/%.c,$(OUTPUT)/tests/bpf-%,$(wildcard tests/bpf/*.c))

# records.c loads ephtrace's BPF side through the loader (and its mounts)
BPF_TEST_OBJS := $(patsubst %,$(OUTPUT)/%.o,portiter seeds sockdiag sockdiag_bucket sockdiag_snap \
	sockdiag_apply owners netns loader loader_read attach evbuf preempt mounts msg mapdump)
# (the headers the .d file adds to the prerequisites are not inputs: gcc would take one for a
# precompiled header and rewrite the .d file with its dependencies alone)
$(OUTPUT)/tests/bpf-%: tests/bpf/%.c $(BPF_TEST_OBJS) $(CORE_OBJS) $(OUTPUT)/tests/linebuf.o \
	| $(OUTPUT)/tests
	$(call msg,TEST-CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(filter-out %.h,$^) $(LIBS) -o $@

# (under make test, tests/counts.sh counts the RESULT lines; alone, it only runs the program)
# records.c once more with the perf buffer forced (EPH_TEST_PERFBUF=1: the path of kernels
# before 5.8), every record checked field by field through it, and once more with the raw
# tracepoints' *_nested twins doing their work (EPH_TEST_NESTED=1); portiter.c once more with
# the iterator program of kernels without bpf_loop (EPH_TEST_WITHOUT=bpf_loop)
test-bpf: $(BPF_TESTS)
	$(Q)for t in $(BPF_TESTS); do echo "== $$t"; \
		./tests/counts.sh run "bpf checks" results $$t || [ $$? = 77 ] || exit 1; done
	$(Q)echo "== $(OUTPUT)/tests/bpf-records, EPH_TEST_PERFBUF=1"; \
		EPH_TEST_PERFBUF=1 ./tests/counts.sh run "bpf checks" results \
		$(OUTPUT)/tests/bpf-records || [ $$? = 77 ] || exit 1
	$(Q)echo "== $(OUTPUT)/tests/bpf-records, EPH_TEST_NESTED=1"; \
		EPH_TEST_NESTED=1 ./tests/counts.sh run "bpf checks" results \
		$(OUTPUT)/tests/bpf-records || [ $$? = 77 ] || exit 1
	$(Q)echo "== $(OUTPUT)/tests/bpf-portiter, EPH_TEST_WITHOUT=bpf_loop"; \
		EPH_TEST_WITHOUT=bpf_loop ./tests/counts.sh run "bpf checks" results \
		$(OUTPUT)/tests/bpf-portiter || [ $$? = 77 ] || exit 1

include tests/ephtest/ephtest.mk
include tests/bench/bench.mk
include tests/fuzz/fuzz.mk

deps:
	$(Q)ARCH=$(ARCH) ./tests/deps.sh

# The main job: ephtrace with ARGS (see README).
run: deps
	$(Q)$(MAKE) --no-print-directory ephtrace
	./ephtrace $(ARGS)

# user/core/ holds to its rule (tests/check_layout.sh): no kernel- or library-facing header, no
# system call, nothing called outside the core but the C library.
check-layout: $(CORE_OBJS)
	$(Q)CC='$(CC)' CORE_CPPFLAGS='$(CORE_INCLUDES) -std=gnu11 -D_GNU_SOURCE' \
		./tests/check_layout.sh $(CORE_OBJS)

# (under make test, tests/counts.sh counts cmocka's tests; alone, it only runs the program)
test-unit: $(UNIT_TESTS)
	$(Q)set -e; for t in $(UNIT_TESTS); do echo "== $$t"; \
		./tests/counts.sh run "unit tests" cmocka $$t; done

test-host: ephtrace $(OUTPUT)/tests/ephtest
	$(Q)./tests/host/run.sh

# make test's host part in two (tests/host/run.sh, EPH_HOST_STEPS): the steps that keep the CPU
# busy, before the VM part starts; the rest, beside it
test-host-busy: ephtrace $(OUTPUT)/tests/ephtest
	$(Q)EPH_HOST_STEPS=busy ./tests/host/run.sh
test-host-rest: ephtrace $(OUTPUT)/tests/ephtest
	$(Q)EPH_HOST_STEPS=rest ./tests/host/run.sh

# make test's VM matrix (README, Tests): every scenario in the cells of the styles only a VM can
# run, on the kernels Debian ships for x86_64: 6.1 and 6.12 with fentry and kprobe, and 6.12-rt
# with auto (kprobe: what auto takes on an rt kernel); the core ones (ephtest --core) in the
# rest: 6.1 cloud (auto: fentry, with the *_nested twins doing the work of the hooks that have
# them: ephtest --nested), the other rt cells (6.1-rt fentry: the runs the kernel skips counted,
# 6.1-rt auto, 6.12-rt fentry), 6.12 cloud (auto), 6.1 with the perf buffer forced, the
# tracepoint and cgroup backends (every scenario runs on the host), auto on 6.12 with three hook
# groups unattachable in both styles, their tracepoint stand-ins doing their work (ephtest
# --stand-in: each ephtrace start loads three times), Debian 11's 5.10 (no bpf_loop,
# bpf_task_pt_regs, bpf_get_current_task_btf), and on arm64 (cross-built) 6.1's fentry refused,
# auto on 6.1 (kprobe) and 6.12 (fentry), 6.12's kprobe, 6.1's and 6.12's tracepoint (so fentry,
# kprobe and tracepoint each run there; all their scenarios: make test-vm-arm64, README for why
# not here). Four guests at a time, the x86 cells first, longest first, the arm64 ones in the
# slots the last x86 ones leave (EPH_VM_JOBS and EPH_VM_SLOTS, tests/vm/matrix.sh). Eleven cells
# ran every scenario until 2026-12-06, when a busy host took 52 minutes for make test (README,
# Tests); six then, five since 6.1-rt fentry's 730 s (the longest) kept make test over 40 minutes.
VM_CELLS := 6.1:fentry 6.12-rt:auto 6.12:fentry 6.1:kprobe 6.12:auto:standin+core 6.12:kprobe \
	5.10:tracepoint:core 6.1-cloud:auto:nested+core 6.1-rt:fentry:core 6.1:tracepoint:core \
	6.1-rt:auto:core 6.12-cloud:auto:core 6.12-rt:fentry:core 5.10:auto:core \
	6.1:fentry:perfbuf+core 6.1:cgroup:core 6.12:cgroup:core
VM_CELLS_ARM64 := 6.12:auto:core 6.1:auto:core 6.12:tracepoint:core 6.1:tracepoint:core \
	6.12:kprobe:core 6.1:fentry

# make test-vm: that matrix; one cell: make test-vm KERNEL=6.1 BACKEND=kprobe (either alone: all
# of the other). With ARCH=arm64 the arm64 cells (tests/vm/run.sh --arch arm64), cross-built.
ifneq ($(KERNEL)$(BACKEND)$(filter arm64,$(ARCH)),)
test-vm: $(EPHTRACE) $(OUTPUT)/tests/ephtest
	$(Q)OUTPUT=$(OUTPUT) EPH_VM_EPHTRACE=$(abspath $(EPHTRACE)) ./tests/vm/run.sh \
		$(if $(filter arm64,$(ARCH)),--arch arm64) \
		$(if $(KERNEL),--kernel $(KERNEL)) $(if $(BACKEND),--backend $(BACKEND))
else
test-vm: $(EPHTRACE) $(OUTPUT)/tests/ephtest
	$(Q)$(MAKE) --no-print-directory ARCH=arm64 deps
	$(Q)$(MAKE) --no-print-directory ARCH=arm64
	$(Q)OUTPUT=$(OUTPUT) EPH_VM_CELLS="$(VM_CELLS)" EPH_VM_CELLS_ARM64="$(VM_CELLS_ARM64)" \
		./tests/vm/matrix.sh run
endif

# Per test cell of the last make test-vm: the backend its kernel gave, each hook's style, the
# records' buffer and what it goes without (make test-vm prints it at its end too)
check-kernels:
	$(Q)OUTPUT=$(OUTPUT) ./tests/vm/matrix.sh kernels

# README's matrix from the last make test-vm (tests/vm/matrix.sh)
readme-matrix:
	$(Q)OUTPUT=$(OUTPUT) ./tests/vm/matrix.sh readme README.md

# The arm64 cells: Debian's arm64 6.1 and 6.12 with fentry (refused on 6.1), kprobe, tracepoint
# and auto. Not part of make test (README, Tests: their time).
test-vm-arm64:
	$(Q)$(MAKE) --no-print-directory ARCH=arm64 deps
	$(Q)$(MAKE) --no-print-directory ARCH=arm64 test-vm

# Each part prints its time, so that growth is seen; the first failure stops the run. Each part
# also writes what it ran to $(TEST_COUNTS)/PART (tests/counts.sh: the layout checks, cmocka's
# tests, the RESULT lines of tests/bpf/ and of the host's ephtest runs, the host's other steps,
# the VM cells, the cli cases, the fuzz targets), and the last line adds them up, also when a
# part failed. Everything any part builds is built first (test-build), one job per CPU. The VM
# part runs in the background (bg:test-vm, tests/parts.sh: nice 19) once the host steps that keep
# the CPU busy are done (test-host-busy: floods, signals under load, memory bounds, the soak),
# beside the rest: the unit, bpf, cli and fuzz parts, each on one core of two, and the host
# part's scenarios, which mostly wait. One after the other they took 47 minutes here (host
# 900 s, VM 1 792 s); the VM part beside the host part only, 44 (c1f9962: the VM part 2 041 s in
# the background, the full cells 15-30 % slower while the host scenarios ran). A first run this
# way failed 6.1 kprobe's resync-quiet: a UDP socket a resync dump saw between its autobind and
# connect()'s rehash got two holds (fixed since, c1f9962).
TEST_PARTS := check-layout test-host-busy bg:test-vm test-unit test-bpf test-cli fuzz-smoke \
	test-host-rest
TEST_COUNTS := $(OUTPUT)/test-counts

# what the parts build, built before any runs
test-build: $(CORE_OBJS) $(UNIT_TESTS) $(BPF_TESTS) $(OUTPUT)/tests/ephtest fuzz-build

# the builds one job per CPU (make test's parts run one make each)
test: deps
	$(Q)$(MAKE) -j$(NPROC) --no-print-directory ephtrace $(EPHBENCH) $(EPH_HOOKS) test-build # make bench's too: built, not run
	$(Q)$(MAKE) --no-print-directory ARCH=arm64 deps
	$(Q)$(MAKE) -j$(NPROC) --no-print-directory ARCH=arm64
	$(Q)./tests/counts.sh selftest >/dev/null || { ./tests/counts.sh selftest; exit 1; }
	$(Q)rm -rf $(TEST_COUNTS) && mkdir -p $(TEST_COUNTS)
	$(Q)MAKE=$(MAKE) ./tests/parts.sh $(TEST_COUNTS) $(TEST_PARTS)

# Benchmarks (tests/bench/run.sh): prints the table README keeps, also in $(OUTPUT)/bench/.
bench: deps
	$(Q)$(MAKE) --no-print-directory ephtrace $(EPHBENCH) $(EPH_HOOKS)
	$(Q)OUTPUT=$(OUTPUT) EPH_BENCH_DRIVER=$(EPHBENCH) EPH_BENCH_HOOKS=$(EPH_HOOKS) ./tests/bench/run.sh

clean:
	$(call msg,CLEAN,)
	$(Q)rm -rf $(OUTPUT) $(EPHTRACE)

-include $(wildcard $(OUTPUT)/*.d $(OUTPUT)/san/*.d $(OUTPUT)/tests/*.d)
