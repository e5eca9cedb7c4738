# SPDX-License-Identifier: GPL-2.0
# ephbench, the benchmark driver of `make bench` (tests/bench/ephbench.h). Included by the main
# Makefile, which defines OUTPUT, CC, CFLAGS, ALL_CFLAGS, Q and msg. The same binary runs on the
# host and in the test VM; it links the aggregation core (no libbpf) for its replay.
EPHBENCH := $(OUTPUT)/bench/ephbench
EPHBENCH_SRCS := $(wildcard tests/bench/*.c)
EPHBENCH_OBJS := $(patsubst tests/bench/%.c,$(OUTPUT)/bench/obj/%.o,$(EPHBENCH_SRCS))
EPHBENCH_CORE := $(patsubst %,$(OUTPUT)/%.o,event strbuf format summary table occupancy)

.PHONY: bench

$(OUTPUT)/bench/obj:
	$(Q)mkdir -p $@

$(OUTPUT)/bench/obj/%.o: tests/bench/%.c | $(OUTPUT)/bench/obj
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/bench -c $< -o $@

$(EPHBENCH): $(EPHBENCH_OBJS) $(EPHBENCH_CORE)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ -lpthread -o $@

-include $(wildcard $(OUTPUT)/bench/obj/*.d)
