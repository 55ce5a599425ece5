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
# containerd's shim v2 protocol, generated from the .proto files Debian ships
# (scripts/shim-protos.sh); nothing of it is in the tree.
SHIM_PROTOS = containerd/runtime/v2/task/shim containerd/api/types/mount containerd/api/types/task/task \
	containerd/api/events/task containerd/api/services/ttrpc/events/v1/events \
	containerd/pkg/runtimeoptions/v1/api cgroups/v2/stats/metrics
SHIM_GEN_C = $(patsubst %,$(BUILD)/gen/github.com/containerd/%.pb-c.c,$(SHIM_PROTOS)) \
	$(patsubst %,$(BUILD)/gen/google/protobuf/%.pb-c.c,any empty timestamp)
SHIM_GEN_H = $(SHIM_GEN_C:.c=.h)

# The layers, lowest first (docs/architecture.md): each may use only those
# before it, which scripts/check-layers.sh enforces. Each layer with sources
# becomes one static library per build flavour, build/lib/libveil-LAYER.a
# and so on; veil, the unit tests and the fuzzers link those.
LAYERS = proto lib attest hv cache runtime
HOST_LAYERS = $(foreach l,$(LAYERS),$(if $(wildcard src/$(l)/*.c),$(l)))
layer_src = $(wildcard src/$(1)/*.c)
reverse = $(if $(1),$(call reverse,$(wordlist 2,$(words $(1)),$(1))) $(firstword $(1)))

CLI_SRC = $(wildcard src/cli/*.c)
# containerd-shim-veil-v2: a front end on the runtime, as the CLI is.
SHIM_SRC = $(wildcard src/shim/*.c)
AGENT_SRC = $(wildcard src/agent/*.c)
# veil-kbs, the key broker: a front end on lib and attest only.
KBS_SRC = $(wildcard src/kbs/*.c)
KBS_LAYERS = lib attest
# A confidential guest's agent attests and fetches secrets itself: attest's
# KBS client, JOSE and init-data, with the lib parts they use (JSON, base64,
# TOML), over static OpenSSL, json-c and zlib.
AGENT_ATTEST_SRC = $(addprefix src/attest/,kbs_client.c kbs_proto.c jose.c snp_json.c snp.c pki.c evidence.c \
	initdata.c initdata_config.c tdx.c)
AGENT_OBJ = $(patsubst %.c,$(BUILD)/agent-obj/%.o,$(AGENT_SRC) src/proto/frame.c src/proto/rpc.c src/proto/tee.c \
	src/lib/error.c src/lib/fdpass.c src/lib/json.c src/lib/base64.c src/lib/toml.c $(AGENT_ATTEST_SRC)) \
	$(BUILD)/agent-obj/gen/agent.pb-c.o

HOST_LIBS = $(shell pkg-config --libs json-c libprotobuf-c libcrypto libseccomp) -lm
AGENT_LIBS = -l:libprotobuf-c.a -l:libseccomp.a -l:libjson-c.a -l:libcrypto.a -l:libz.a -lpthread -lm
# attest's init-data needs zlib; veil-kbs serves HTTP with libmicrohttpd.
ATTEST_LIBS = $(shell pkg-config --libs zlib)
KBS_LIBS = $(shell pkg-config --libs libmicrohttpd)

GUEST_DIR = $(BUILD)/guest
KERNEL = $(GUEST_DIR)/vmlinux
INITRD = $(GUEST_DIR)/initrd.img

.PHONY: all deps kernel initrd demo check layers unit asan-unit integration bench install clean fuzz fuzz-long
.DELETE_ON_ERROR:
# Objects are kept (not removed as intermediates): a test rebuild compiles only what changed.
.SECONDARY:

all: $(BUILD)/veil $(BUILD)/containerd-shim-veil-v2 $(BUILD)/veil-agent $(BUILD)/veil-kbs $(BUILD)/kbs-test-client $(INITRD) kernel $(BUILD)/configuration.toml

deps:
	@scripts/install-deps.sh

$(PROTO_GEN_C) $(PROTO_GEN_H) &: src/proto/agent.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=src/proto --c_out=$(BUILD)/gen $<

$(SHIM_GEN_C) $(SHIM_GEN_H) &: scripts/shim-protos.sh
	scripts/shim-protos.sh $(BUILD)/gen

# ---- build flavours ----
# One object per source and flavour, one library per layer and flavour:
#   host    build/obj, build/lib: veil and the unit tests
#   asan    build/asan-obj, build/asan-lib: the unit tests under ASan+UBSan
#   fuzz    build/fuzz-obj, build/fuzz-lib: libFuzzer targets (clang, coverage everywhere)
#   agent   build/agent-obj: the static guest agent (-DVEIL_GUEST), no libraries
SAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer-no-link,address,undefined
host_CC = $(CC)
host_CFLAGS = $(ALL_CFLAGS)
host_GEN_CFLAGS = $(GEN_CFLAGS)
asan_CC = $(CC)
asan_CFLAGS = $(ALL_CFLAGS) -U_FORTIFY_SOURCE -O1 $(SAN_FLAGS)
asan_GEN_CFLAGS = $(GEN_CFLAGS) -U_FORTIFY_SOURCE -O1 $(SAN_FLAGS)
fuzz_CC = clang
fuzz_CFLAGS = $(FUZZ_CFLAGS) -Isrc -I$(BUILD)/gen
fuzz_GEN_CFLAGS = $(FUZZ_CFLAGS) -I$(BUILD)/gen
agent_CC = $(CC)
agent_CFLAGS = $(ALL_CFLAGS) -DVEIL_GUEST
agent_GEN_CFLAGS = $(GEN_CFLAGS)

dir_prefix = $(if $(filter host,$(1)),,$(1)-)
obj_dir = $(BUILD)/$(call dir_prefix,$(1))obj
lib_dir = $(BUILD)/$(call dir_prefix,$(1))lib
objects = $(patsubst %.c,$(call obj_dir,$(1))/%.o,$(2))
# The libraries of flavour $(1) for layers $(2), and the order to link them
# in: highest first, so that each finds what it uses in those after it.
layer_libs = $(foreach l,$(2),$(call lib_dir,$(1))/libveil-$(l).a)
link_libs = $(call layer_libs,$(1),$(call reverse,$(2)))

define flavour_objects
$(call obj_dir,$(1))/%.o: %.c $(PROTO_GEN_H) $(SHIM_GEN_H)
	@mkdir -p $$(dir $$@)
	$$($(1)_CC) $$($(1)_CFLAGS) $$(VERSION_DEFS) -MMD -MP -c $$< -o $$@
$(call obj_dir,$(1))/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $$(dir $$@)
	$$($(1)_CC) $$($(1)_GEN_CFLAGS) -c $$< -o $$@
endef

# Besides the layers: the guest agent's and the key broker's code, which
# unit tests and fuzzers of theirs link, and the test doubles (tests/unit
# files not named test_*, such as the fake hypervisor).
define flavour_libs
$(foreach l,$(HOST_LAYERS),$(call lib_dir,$(1))/libveil-$(l).a: $(call objects,$(1),$(call layer_src,$(l)))
)
$(call lib_dir,$(1))/libveil-proto.a: $(call obj_dir,$(1))/gen/agent.pb-c.o
$(call lib_dir,$(1))/libveil-agent.a: $(call objects,$(1),$(filter-out src/agent/main.c,$(AGENT_SRC)))
$(call lib_dir,$(1))/libveil-kbs.a: $(call objects,$(1),$(filter-out src/kbs/main.c,$(KBS_SRC)))
$(call lib_dir,$(1))/libveil-shim.a: $(call objects,$(1),$(filter-out src/shim/main.c,$(SHIM_SRC)))
$(call lib_dir,$(1))/libveil-shimproto.a: $(patsubst $(BUILD)/gen/%.c,$(call obj_dir,$(1))/gen/%.o,$(SHIM_GEN_C))
$(call lib_dir,$(1))/libveil-testsupport.a: $(call objects,$(1),$(filter-out tests/unit/test_%,$(wildcard tests/unit/*.c)))
$(call lib_dir,$(1))/%.a:
	@mkdir -p $$(dir $$@)
	rm -f $$@ && $$(AR) rcs $$@ $$^
endef

$(foreach f,host asan fuzz agent,$(eval $(call flavour_objects,$(f))))
$(foreach f,host asan fuzz,$(eval $(call flavour_libs,$(f))))

$(BUILD)/veil: $(call objects,host,$(CLI_SRC)) $(call layer_libs,host,$(HOST_LAYERS))
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(call link_libs,host,$(HOST_LAYERS)) $(HOST_LIBS) $(ATTEST_LIBS)

SHIM_LAYERS = $(HOST_LAYERS) shimproto shim
$(BUILD)/containerd-shim-veil-v2: $(call objects,host,src/shim/main.c) $(call layer_libs,host,$(SHIM_LAYERS))
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(call link_libs,host,$(SHIM_LAYERS)) $(HOST_LIBS) $(ATTEST_LIBS)

$(BUILD)/veil-kbs: $(call objects,host,$(KBS_SRC)) $(call layer_libs,host,$(KBS_LAYERS))
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(call link_libs,host,$(KBS_LAYERS)) $(HOST_LIBS) $(ATTEST_LIBS) $(KBS_LIBS) -lpthread
# A guest stand-in with the emulated chip, for tests/integration/kbs.t and bench/kbs.sh.
$(BUILD)/kbs-test-client: $(call objects,host,tests/kbs/kbs_test_client.c) $(call layer_libs,host,$(KBS_LAYERS))
	$(CC) $(ALL_CFLAGS) -o $@ $(filter %.o,$^) $(call link_libs,host,$(KBS_LAYERS)) $(HOST_LIBS) $(ATTEST_LIBS)

$(BUILD)/veil-agent: $(AGENT_OBJ)
	$(CC) $(ALL_CFLAGS) -static -o $@ $^ $(AGENT_LIBS)

# The factory's warm-up container runs this (docs/vm-cache.md); veil carries
# it in its binary (src/cli/warm_up.c), so it needs no path of its own.
WARM_UP_PROGRAM = $(BUILD)/veil-warm-up
$(WARM_UP_PROGRAM): guest/warm-up/warm-up.c
	$(CC) $(ALL_CFLAGS) -static -s -o $@ $<
$(BUILD)/obj/src/cli/warm_up.o: $(WARM_UP_PROGRAM)
$(BUILD)/obj/src/cli/warm_up.o: VERSION_DEFS += -DVEIL_WARM_UP_PROGRAM=\"$(WARM_UP_PROGRAM)\"

initrd: $(INITRD)
$(INITRD): $(BUILD)/veil-agent guest/initrd/build.sh
	guest/initrd/build.sh $(BUILD)/veil-agent $@

kernel:
	@guest/kernel/build.sh $(GUEST_DIR) >/dev/null

$(BUILD)/configuration.toml: config/configuration.toml.in
	sed -e 's|@KERNEL@|$(abspath $(KERNEL))|' -e 's|@INITRD@|$(abspath $(INITRD))|' $< > $@

# ---- tests ----
# Unit tests and fuzzers link the layers' libraries of their flavour, plus
# the guest agent's code and the test doubles.
TEST_LAYERS = $(HOST_LAYERS) shimproto shim agent kbs testsupport
TEST_LIBS = $(HOST_LIBS) $(ATTEST_LIBS) $(KBS_LIBS)
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
ASAN_UNIT_BINS = $(patsubst tests/unit/%.c,$(BUILD)/tests-asan/%,$(UNIT_SRC))

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(call layer_libs,host,$(TEST_LAYERS))
	@mkdir -p $(dir $@)
	$(CC) $(host_CFLAGS) -o $@ $< $(call link_libs,host,$(TEST_LAYERS)) $(TEST_LIBS)

$(BUILD)/tests-asan/%: $(BUILD)/asan-obj/tests/unit/%.o $(call layer_libs,asan,$(TEST_LAYERS))
	@mkdir -p $(dir $@)
	$(CC) $(asan_CFLAGS) -o $@ $< $(call link_libs,asan,$(TEST_LAYERS)) $(TEST_LIBS)

# Programs the integration tests drive the guest with (not TAP producers).
TEST_TOOLS = $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(wildcard tests/tools/*.c))
$(BUILD)/tests/tools/%: $(BUILD)/obj/tests/tools/%.o $(call layer_libs,host,$(HOST_LAYERS))
	@mkdir -p $(dir $@)
	$(CC) $(host_CFLAGS) -o $@ $< $(call link_libs,host,$(HOST_LAYERS)) $(TEST_LIBS)

unit: $(UNIT_BINS) $(TEST_TOOLS)
asan-unit: $(ASAN_UNIT_BINS)

# Each layer includes only the layers below it (docs/architecture.md).
layers:
	scripts/check-layers.sh src

check: deps layers
	$(MAKE) all unit asan-unit
	tests/run-tests.sh $(BUILD)

demo: deps
	$(MAKE) all
	scripts/demo.sh $(BUILD)

bench: all
	bench/cold-start.sh $(BUILD)
	bench/template.sh $(BUILD)
	bench/kbs.sh $(BUILD)
	bench/confidential.sh $(BUILD)
	bench/volumes.sh $(BUILD)
	bench/shim.sh $(BUILD)

FUZZ_TARGETS = $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
$(BUILD)/fuzz/%: $(BUILD)/fuzz-obj/tests/fuzz/%.o $(call layer_libs,fuzz,$(TEST_LAYERS))
	@mkdir -p $(dir $@)
	$(fuzz_CC) -fsanitize=fuzzer,address,undefined -o $@ $< $(call link_libs,fuzz,$(TEST_LAYERS)) $(TEST_LIBS)
fuzz: $(FUZZ_TARGETS)

# Every fuzz target for 10 minutes from its seeds; long, so not in check.
fuzz-long: $(FUZZ_TARGETS)
	tests/fuzz/run-long.sh $(BUILD) 600

install: all
	install -D -m 0755 $(BUILD)/veil $(DESTDIR)$(PREFIX)/bin/veil
	install -D -m 0755 $(BUILD)/containerd-shim-veil-v2 $(DESTDIR)$(PREFIX)/bin/containerd-shim-veil-v2
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

-include $(shell find $(BUILD)/obj $(BUILD)/asan-obj $(BUILD)/fuzz-obj $(BUILD)/agent-obj -name '*.d' 2>/dev/null)
