# SPDX-License-Identifier: GPL-2.0
# ephtest, the integration test driver (tests/ephtest/ephtest.h). Included by the main Makefile,
# which defines OUTPUT, CC, ALL_CFLAGS, Q and msg. Self-contained C: the same binary runs on the
# host and inside the test VMs' busybox initramfs.
EPHTEST_SRCS := $(wildcard tests/ephtest/*.c)
EPHTEST_OBJS := $(patsubst tests/ephtest/%.c,$(OUTPUT)/tests/ephtest-obj/%.o,$(EPHTEST_SRCS))

$(OUTPUT)/tests/ephtest-obj:
	$(Q)mkdir -p $@

$(OUTPUT)/tests/ephtest-obj/%.o: tests/ephtest/%.c | $(OUTPUT)/tests/ephtest-obj
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Wall -Wextra -Werror -Itests/ephtest -Iuser/node -c $< -o $@

# user/node/preempt.c: whether the kernel can preempt fentry programs (check_in.preempted);
# user/core/hookplan.c (with event.c): the hook groups of --stand-in's functions
$(OUTPUT)/tests/ephtest: $(EPHTEST_OBJS) $(OUTPUT)/preempt.o $(OUTPUT)/hookplan.o $(OUTPUT)/event.o \
		| $(OUTPUT)/tests
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -pthread $^ -ljson-c -o $@

-include $(wildcard $(OUTPUT)/tests/ephtest-obj/*.d)
