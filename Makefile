# skytile — top-level build.  See README.md.
#
#   make            build build/skytile, build/libskytile.a, build/libskytile.so
#   make test       install deps + test peers, build, run all tests
#   make test-asan  the same suite against an AddressSanitizer+UBSan build
#   make demo       install deps, build, run the demo
#   make bench      benchmarks vs peers (results -> BENCHMARKS.md)
#   make fuzz       build and run the libFuzzer targets for a short while
#   make deps       install the Debian packages (idempotent)
#
# BUILD=dir selects the build directory (default build/), SAN=1 adds sanitizers.

BUILD ?= build
CC ?= cc
ifeq ($(CC),cc)
CC := gcc
endif
OPT ?= -O2
SAN ?=
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -fPIC -pthread -g $(OPT) \
  -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wstrict-prototypes \
  -fno-strict-aliasing -fvisibility=hidden
ifeq ($(SAN),1)
CFLAGS_BASE += -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
LDSAN := -fsanitize=address,undefined
endif
CPPFLAGS := -Iinclude -Isrc -I/usr/include/cairo
LIBS := -lcairo -lcfitsio -lzstd -lsnappy -llz4 -lz -lbrotlidec -lbrotlienc -lm -lpthread
PYTHON ?= python3
VENV := .venv
JOBS ?= $(shell nproc)

LIB_SRC := $(sort $(shell find src -name '*.c'))
CLI_SRC := $(sort $(wildcard cli/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(BUILD)/obj/%.o)

.PHONY: all deps venv test test-asan test-unit demo bench fuzz clean check-deps-graph

all: $(BUILD)/skytile $(BUILD)/libskytile.a $(BUILD)/libskytile.so $(BUILD)/unit_tests

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS_BASE) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libskytile.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libskytile.so: $(LIB_OBJ)
	$(CC) -shared $(LDSAN) -o $@ $^ $(LIBS)

$(BUILD)/skytile: $(CLI_OBJ) $(BUILD)/libskytile.a
	$(CC) $(LDSAN) -o $@ $(CLI_OBJ) $(BUILD)/libskytile.a $(LIBS)

$(BUILD)/unit_tests: $(UNIT_OBJ) $(BUILD)/libskytile.a
	$(CC) $(LDSAN) -o $@ $(UNIT_OBJ) $(BUILD)/libskytile.a $(LIBS)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(UNIT_OBJ:.o=.d)

deps:
	@sh scripts/install-deps.sh

# Test/benchmark peers (pyarrow, duckdb, healpy, ...) in a project-local venv.
$(VENV)/.stamp: tests/requirements.txt
	@sh scripts/make-venv.sh $(VENV) tests/requirements.txt
	@touch $@
venv: deps $(VENV)/.stamp

test: deps venv
	$(MAKE) -j$(JOBS) all
	$(MAKE) check-deps-graph
	SKYTILE_BUILD=$(BUILD) $(VENV)/bin/python -m pytest -q -p no:cacheprovider -n $(JOBS) tests

test-asan: deps venv
	$(MAKE) -j$(JOBS) all BUILD=build-asan SAN=1 OPT=-O1
	SKYTILE_BUILD=build-asan SKYTILE_SAN=1 $(VENV)/bin/python -m pytest -q -p no:cacheprovider -n $(JOBS) tests

test-unit: all
	$(BUILD)/unit_tests

check-deps-graph:
	@sh scripts/check-deps-graph.sh

demo: deps
	$(MAKE) -j$(JOBS) all
	sh scripts/demo.sh $(BUILD)

bench: deps venv
	$(MAKE) -j$(JOBS) all
	$(VENV)/bin/python bench/run.py

fuzz: deps
	sh tests/fuzz/run.sh

clean:
	rm -rf build build-*
