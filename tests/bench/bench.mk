# SPDX-License-Identifier: GPL-2.0
# ephbench, the benchmark driver of `make bench` (tests/bench/ephbench.h). Included by the main
# Makefile, which defines OUTPUT, CC, CFLAGS, ALL_CFLAGS, BPF_HDRS, Q and msg, and the rules of
# BPF objects and skeletons (%.bpf.o, %.skel.h). The same binary runs on the host and in the test
# VM; it links the aggregation core (no libbpf) for its replay.
EPHBENCH := $(OUTPUT)/bench/ephbench
EPHBENCH_SRCS := $(wildcard tests/bench/*.c)
EPHBENCH_OBJS := $(patsubst tests/bench/%.c,$(OUTPUT)/bench/obj/%.o,$(EPHBENCH_SRCS))
# the whole core (user/core/: no libbpf, no system calls), as the unit tests link it: a list of
# its files here went stale when the core grew one
EPHBENCH_CORE = $(CORE_OBJS)

.PHONY: bench

# ephtrace-hooks: ephtrace whose BPF programs all return at once (-DEPH_HOOKS_ONLY), the
# reference of `ephbench overhead --hooks`: what the attach points cost with nothing done there.
EPH_HOOKS := $(OUTPUT)/bench/ephtrace-hooks
HOOKS_DIR := $(OUTPUT)/bench/hooks

$(HOOKS_DIR):
	$(Q)mkdir -p $@

# its BPF object and skeleton: the main Makefile's rules (%.bpf.o, %.skel.h), with its flag
$(HOOKS_DIR)/ephtrace.bpf.o: BPF_DEFS := -DEPH_HOOKS_ONLY
$(HOOKS_DIR)/ephtrace.bpf.o: bpf/ephtrace.bpf.c $(BPF_HDRS) | $(HOOKS_DIR)

# the loader alone differs (the two files that include the skeleton): it embeds that object
# (its skeleton is found first)
HOOKS_SKEL_OBJS := loader.o loader_read.o
$(addprefix $(HOOKS_DIR)/,$(HOOKS_SKEL_OBJS)): $(HOOKS_DIR)/%.o: user/node/%.c \
	$(HOOKS_DIR)/ephtrace.skel.h
	$(call msg,CC,$@)
	$(Q)$(CC) -I$(HOOKS_DIR) $(ALL_CFLAGS) -c $< -o $@

$(EPH_HOOKS): $(filter-out $(addprefix $(OUTPUT)/,$(HOOKS_SKEL_OBJS)),$(APP_OBJS)) \
	$(addprefix $(HOOKS_DIR)/,$(HOOKS_SKEL_OBJS)) $(CORE_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LIBS) -o $@

$(OUTPUT)/bench/obj:
	$(Q)mkdir -p $@

$(OUTPUT)/bench/obj/%.o: tests/bench/%.c | $(OUTPUT)/bench/obj
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/bench -c $< -o $@

$(EPHBENCH): $(EPHBENCH_OBJS) $(EPHBENCH_CORE)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -lpthread -lm -o $@

-include $(wildcard $(OUTPUT)/bench/obj/*.d) $(wildcard $(HOOKS_DIR)/*.d)
