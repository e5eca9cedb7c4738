# SPDX-License-Identifier: GPL-2.0
# libFuzzer targets (tests/fuzz/fuzz_*.c) and the command-line test (tests/host/cli.sh).
# Included by the main Makefile, which defines OUTPUT, CLANG, WARN, INCLUDES, VERSION, CORE,
# APP, LIBS, Q and msg.
#   make fuzz         each target for FUZZ_SECONDS (default 60), corpus in $(OUTPUT)/fuzz/
#   make fuzz-smoke   the regressions, then each target for FUZZ_SMOKE_SECONDS (default 10)
#   make test-cli     every command's bad usage: one line on stderr, exit 2
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_NAMES := options decode metrics
FUZZ_BINS := $(patsubst %,$(OUTPUT)/fuzz/fuzz_%,$(FUZZ_NAMES))
FUZZ_CFLAGS := -g -O1 $(WARN) -std=gnu11 -D_GNU_SOURCE -DEPH_VERSION='"$(VERSION)"' \
	$(INCLUDES) -Itests/fuzz -fno-omit-frame-pointer -fno-sanitize-recover=all -MMD -MP
FUZZ_SAN := -fsanitize=address,undefined
FUZZ_CORE_OBJS := $(patsubst %,$(OUTPUT)/fuzz/obj/%.o,$(CORE) fuzz_util)
# option parsing runs the commands themselves (eph_parse_only): everything but main()
FUZZ_APP_OBJS := $(patsubst %,$(OUTPUT)/fuzz/obj/%.o,$(filter-out main,$(APP)))

.PHONY: fuzz fuzz-smoke fuzz-build test-cli
.SECONDARY: $(FUZZ_CORE_OBJS) $(patsubst %,$(OUTPUT)/fuzz/obj/fuzz_%.o,$(FUZZ_NAMES))

$(OUTPUT)/fuzz/obj:
	$(Q)mkdir -p $@

$(OUTPUT)/fuzz/obj/%.o: user/core/%.c | $(OUTPUT)/fuzz/obj
	$(call msg,CC-FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@

$(OUTPUT)/fuzz/obj/%.o: user/node/%.c | $(OUTPUT)/fuzz/obj
	$(call msg,CC-FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@

$(OUTPUT)/fuzz/obj/%.o: user/cmd/%.c | $(OUTPUT)/fuzz/obj
	$(call msg,CC-FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@

$(OUTPUT)/fuzz/obj/%.o: tests/fuzz/%.c | $(OUTPUT)/fuzz/obj
	$(call msg,CC-FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@

$(OUTPUT)/fuzz/fuzz_options: $(FUZZ_APP_OBJS)
$(OUTPUT)/fuzz/fuzz_options: FUZZ_LIBS := $(LIBS)

$(OUTPUT)/fuzz/fuzz_%: $(OUTPUT)/fuzz/obj/fuzz_%.o $(FUZZ_CORE_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CLANG) $(FUZZ_SAN) -fsanitize=fuzzer $^ $(FUZZ_LIBS) -lm -o $@

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	$(Q)OUTPUT=$(OUTPUT) ./tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_NAMES)

fuzz-smoke: fuzz-build
	$(Q)OUTPUT=$(OUTPUT) ./tests/fuzz/run.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_NAMES)

test-cli: ephtrace
	$(Q)./tests/host/cli.sh ./ephtrace

-include $(wildcard $(OUTPUT)/fuzz/obj/*.d)
