# veil: OCI containers in confidential microVMs.
#   make            build veil, veil-agent, the initrd and (once, cached) the guest kernel
#   make demo       install what is missing, then run a busybox container in a microVM
#   make check      install what is missing, then run every test
#   make install    PREFIX=/usr/local

PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
CC ?= gcc

# Paths baked into the default configuration that `make install` writes.
DATADIR = $(PREFIX)/share/veil
DEFAULTS_DIR = /usr/share/defaults/veil

WARN = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla -Wno-missing-field-initializers
BASE_CFLAGS = -std=c17 -D_GNU_SOURCE -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2
CFLAGS ?=
ALL_CFLAGS = $(BASE_CFLAGS) $(WARN) $(CFLAGS) -Isrc -I$(BUILD)/gen
GEN_CFLAGS = $(BASE_CFLAGS) $(CFLAGS) -I$(BUILD)/gen

VERSION := $(shell cat VERSION)
COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
VERSION_DEFS = -DVEIL_VERSION=\"$(VERSION)\" -DVEIL_COMMIT=\"$(COMMIT)\"

PROTO_GEN_C = $(BUILD)/gen/agent.pb-c.c
PROTO_GEN_H = $(BUILD)/gen/agent.pb-c.h
PROTO_SRC = src/proto/frame.c src/proto/rpc.c

LIB_SRC = $(wildcard src/lib/*.c) $(wildcard src/cache/*.c) $(wildcard src/runtime/*.c)
HV_SRC = $(wildcard src/hv/*.c)
CLI_SRC = $(wildcard src/cli/*.c)
AGENT_SRC = $(wildcard src/agent/*.c)
# attest (issue 11): evidence verifiers, SNP launch measurement, emulated chip.
# Host and unit/fuzz builds only; libcrypto is already in HOST_LIBS.
ATTEST_SRC = $(wildcard src/attest/*.c)
# ---- kbs: veil-kbs (links lib and attest); attest's init-data needs zlib ----
KBS_SRC = $(wildcard src/kbs/*.c)
ATTEST_LIBS = $(shell pkg-config --libs zlib)
KBS_LIBS = $(shell pkg-config --libs libmicrohttpd)
# ---- end kbs ----

HOST_OBJ = $(patsubst %.c,$(BUILD)/obj/%.o,$(CLI_SRC) $(LIB_SRC) $(HV_SRC) $(PROTO_SRC) $(ATTEST_SRC)) $(BUILD)/obj/gen/agent.pb-c.o
AGENT_OBJ = $(patsubst %.c,$(BUILD)/agent-obj/%.o,$(AGENT_SRC) $(PROTO_SRC) src/lib/error.c) $(BUILD)/agent-obj/gen/agent.pb-c.o

HOST_LIBS = $(shell pkg-config --libs json-c libprotobuf-c libcrypto)
AGENT_LIBS = -l:libprotobuf-c.a

GUEST_DIR = $(BUILD)/guest
KERNEL = $(GUEST_DIR)/vmlinux
INITRD = $(GUEST_DIR)/initrd.img

.PHONY: all deps kernel initrd demo check unit asan-unit integration bench install clean fuzz
.DELETE_ON_ERROR:

all: $(BUILD)/veil $(BUILD)/veil-agent $(BUILD)/veil-kbs $(BUILD)/kbs-test-client $(INITRD) kernel $(BUILD)/configuration.toml

deps:
	@scripts/install-deps.sh

$(PROTO_GEN_C) $(PROTO_GEN_H) &: src/proto/agent.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=src/proto --c_out=$(BUILD)/gen $<

$(BUILD)/obj/gen/agent.pb-c.o $(BUILD)/agent-obj/gen/agent.pb-c.o: $(PROTO_GEN_C)
	@mkdir -p $(dir $@)
	$(CC) $(GEN_CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.c $(PROTO_GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(VERSION_DEFS) -MMD -MP -c $< -o $@

$(BUILD)/agent-obj/%.o: %.c $(PROTO_GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(VERSION_DEFS) -DVEIL_GUEST -MMD -MP -c $< -o $@

$(BUILD)/veil: $(HOST_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(HOST_LIBS) $(ATTEST_LIBS)

# ---- kbs: the key broker ----
# the runtime library's self-contained parts that the broker needs
KBS_LIB_SRC = $(addprefix src/lib/,error.c log.c fsutil.c toml.c json.c base64.c spawn.c strv.c)
KBS_OBJ = $(patsubst %.c,$(BUILD)/obj/%.o,$(KBS_SRC) $(ATTEST_SRC) $(KBS_LIB_SRC))
$(BUILD)/veil-kbs: $(KBS_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(HOST_LIBS) $(ATTEST_LIBS) $(KBS_LIBS) -lpthread
# A guest stand-in with the emulated chip, for tests/integration/kbs.t and bench/kbs.sh.
$(BUILD)/kbs-test-client: tests/kbs/kbs_test_client.c $(patsubst %.c,$(BUILD)/obj/%.o,$(ATTEST_SRC) $(KBS_LIB_SRC))
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(HOST_LIBS) $(ATTEST_LIBS)
# ---- end kbs ----

$(BUILD)/veil-agent: $(AGENT_OBJ)
	$(CC) $(ALL_CFLAGS) -static -o $@ $^ $(AGENT_LIBS)

initrd: $(INITRD)
$(INITRD): $(BUILD)/veil-agent guest/initrd/build.sh
	guest/initrd/build.sh $(BUILD)/veil-agent $@

kernel:
	@guest/kernel/build.sh $(GUEST_DIR) >/dev/null

$(BUILD)/configuration.toml: config/configuration.toml.in
	sed -e 's|@KERNEL@|$(abspath $(KERNEL))|' -e 's|@INITRD@|$(abspath $(INITRD))|' $< > $@

# ---- tests ----
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_LIB_SRC = $(filter-out src/cli/main.c,$(LIB_SRC) $(HV_SRC) $(PROTO_SRC) $(ATTEST_SRC)) $(filter-out src/agent/main.c,$(AGENT_SRC)) \
	$(filter-out src/kbs/main.c,$(KBS_SRC))
UNIT_BINS = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
ASAN_UNIT_BINS = $(patsubst tests/unit/%.c,$(BUILD)/tests-asan/%,$(UNIT_SRC))
SAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

$(BUILD)/tests/%: tests/unit/%.c $(UNIT_LIB_SRC) $(PROTO_GEN_C) tests/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(VERSION_DEFS) -Itests/unit -o $@ $< $(UNIT_LIB_SRC) $(PROTO_GEN_C) $(HOST_LIBS) $(ATTEST_LIBS) $(KBS_LIBS)

$(BUILD)/tests-asan/%: tests/unit/%.c $(UNIT_LIB_SRC) $(PROTO_GEN_C) tests/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -U_FORTIFY_SOURCE -O1 $(SAN_FLAGS) $(VERSION_DEFS) -Itests/unit -o $@ $< $(UNIT_LIB_SRC) $(PROTO_GEN_C) $(HOST_LIBS) $(ATTEST_LIBS) $(KBS_LIBS)

# Programs the integration tests drive the guest with (not TAP producers).
TEST_TOOLS = $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(wildcard tests/tools/*.c))
$(BUILD)/tests/tools/%: tests/tools/%.c $(UNIT_LIB_SRC) $(PROTO_GEN_C)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(VERSION_DEFS) -o $@ $< $(UNIT_LIB_SRC) $(PROTO_GEN_C) $(HOST_LIBS) $(ATTEST_LIBS) $(KBS_LIBS)

unit: $(UNIT_BINS) $(TEST_TOOLS)
asan-unit: $(ASAN_UNIT_BINS)

check: deps
	$(MAKE) all unit asan-unit
	tests/run-tests.sh $(BUILD)

demo: deps
	$(MAKE) all
	scripts/demo.sh $(BUILD)

bench: all
	bench/cold-start.sh $(BUILD)
	bench/template.sh $(BUILD)
	bench/kbs.sh $(BUILD)

FUZZ_TARGETS = $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
$(BUILD)/fuzz/%: tests/fuzz/%.c $(UNIT_LIB_SRC) $(PROTO_GEN_C)
	@mkdir -p $(dir $@)
	clang -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Isrc -I$(BUILD)/gen $(VERSION_DEFS) \
		-o $@ $< $(UNIT_LIB_SRC) $(PROTO_GEN_C) $(HOST_LIBS) $(ATTEST_LIBS) $(KBS_LIBS)
fuzz: $(FUZZ_TARGETS)

install: all
	install -D -m 0755 $(BUILD)/veil $(DESTDIR)$(PREFIX)/bin/veil
	install -D -m 0644 $(KERNEL) $(DESTDIR)$(DATADIR)/vmlinux
	install -D -m 0644 $(INITRD) $(DESTDIR)$(DATADIR)/initrd.img
	install -D -m 0644 config/veil-factory.service $(DESTDIR)/lib/systemd/system/veil-factory.service
	install -D -m 0755 $(BUILD)/veil-kbs $(DESTDIR)$(PREFIX)/bin/veil-kbs
	install -D -m 0644 config/veil-kbs.service $(DESTDIR)/lib/systemd/system/veil-kbs.service
	install -D -m 0644 config/kbs.toml $(DESTDIR)/usr/share/doc/veil/kbs.toml.example
	sed -e 's|@KERNEL@|$(DATADIR)/vmlinux|' -e 's|@INITRD@|$(DATADIR)/initrd.img|' config/configuration.toml.in \
		| install -D -m 0644 /dev/stdin $(DESTDIR)$(DEFAULTS_DIR)/configuration.toml

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj $(BUILD)/agent-obj -name '*.d' 2>/dev/null)
