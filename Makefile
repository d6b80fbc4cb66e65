# cprof: one plain Makefile. `make` builds bin/; `make check` installs, builds and runs every
# test (normal build, then ASan+UBSan; the decoder fuzzer runs inside the suite); `make demo`
# shows the main job; `make fuzz` runs the decoder fuzzer on its own; `make bench` runs the benchmarks. SANITIZE=address,undefined instrumented
# builds go to build/san so they never mix with normal objects.

CC       ?= cc
PKGS     := rdkafka libprotobuf-c zlib libdeflate libpq libcurl libpcre2-8 libcrypto
SANITIZE ?=

ifeq ($(SANITIZE),)
  VARIANT := rel
  BIN     := bin
else
  VARIANT := san
  BIN     := build/san/bin
endif
BUILD := build/$(VARIANT)
GEN   := build/gen

WARN := -Wall -Wextra -Werror -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2 -Wvla -Wundef \
        -Wnull-dereference -Wdouble-promotion -Wimplicit-fallthrough
OPT  ?= -O2 -g
SAN_FLAGS := $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all)

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CPPFLAGS += -D_POSIX_C_SOURCE=200809L -Ilib -I$(GEN) $(PKG_CFLAGS)
CFLAGS   += -std=c11 -pthread $(OPT) $(WARN) $(SAN_FLAGS)
LDFLAGS  += -pthread $(SAN_FLAGS)
LDLIBS   += $(PKG_LIBS) -lm

PROTOS    := proto/profile.proto proto/cprof.proto
GEN_SRC   := $(PROTOS:proto/%.proto=$(GEN)/%.pb-c.c)
GEN_HDR   := $(GEN_SRC:.c=.h)
LIB_SRC   := $(wildcard lib/*.c)
LIB_OBJ   := $(LIB_SRC:lib/%.c=$(BUILD)/lib/%.o) $(GEN_SRC:$(GEN)/%.c=$(BUILD)/gen/%.o)
LIBCPROF  := $(BUILD)/libcprof.a

QUERY_SRC := $(wildcard query/*.c)
QUERY_OBJ := $(QUERY_SRC:query/%.c=$(BUILD)/query/%.o)

MIGRATIONS := $(sort $(wildcard sql/[0-9]*.sql))
WORKER_SRC := $(wildcard worker/*.c)
WORKER_OBJ := $(WORKER_SRC:worker/%.c=$(BUILD)/worker/%.o) $(BUILD)/gen/migrations.o
PUSH_SRC   := $(wildcard ingest/push*.c)
PUSH_OBJ   := $(PUSH_SRC:ingest/%.c=$(BUILD)/ingest/%.o)
AGENT_SRC  := $(wildcard ingest/agent*.c)
AGENT_OBJ  := $(AGENT_SRC:ingest/%.c=$(BUILD)/ingest/%.o)

UNIT_SRC  := $(wildcard tests/unit/*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRC  := $(wildcard tests/tools/*.c)
TOOL_BIN  := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

PROGRAMS  := $(BIN)/cprof-query $(BIN)/cprof-worker $(BIN)/cprof-devbroker $(BIN)/cprof-push $(BIN)/cprof-agent

.PHONY: all deps check demo fuzz bench bench-ingest clean pkgcheck
all: pkgcheck $(PROGRAMS) $(UNIT_BIN) $(TOOL_BIN) $(BENCH_BIN)

deps:
	@deploy/install-deps.sh

pkgcheck:
	@pkg-config --exists $(PKGS) || { echo "missing libraries: run 'make deps' (deploy/install-deps.sh)" >&2; \
	  pkg-config --print-errors --exists $(PKGS); exit 1; }
	@command -v protoc-c >/dev/null || { echo "protoc-c missing: run 'make deps'" >&2; exit 1; }

$(GEN)/%.pb-c.c $(GEN)/%.pb-c.h: proto/%.proto
	@mkdir -p $(GEN)
	protoc-c --proto_path=proto --c_out=$(GEN) $<

# Generated code is compiled without the picky warnings it was not written for.
$(BUILD)/gen/%.o: $(GEN)/%.c $(GEN_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=c11 $(OPT) -Wall -Werror $(SAN_FLAGS) -c $< -o $@

$(BUILD)/lib/%.o: lib/%.c $(GEN_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/query/%.o: query/%.c $(GEN_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/worker/%.o: worker/%.c $(GEN_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/ingest/%.o: ingest/%.c $(GEN_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# The SQL migrations travel inside cprof-worker, generated from sql/ at build time.
$(GEN)/migrations.c: $(MIGRATIONS) worker/embed-migrations.sh
	@mkdir -p $(GEN)
	worker/embed-migrations.sh $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/migrations.o: $(GEN)/migrations.c worker/migrations.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Iworker -std=c11 $(OPT) -Wall -Werror $(SAN_FLAGS) -c $< -o $@

$(LIBCPROF): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BIN)/cprof-query: $(QUERY_OBJ) $(LIBCPROF)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BIN)/cprof-worker: $(WORKER_OBJ) $(LIBCPROF)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BIN)/cprof-push: $(PUSH_OBJ) $(LIBCPROF)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BIN)/cprof-agent: $(AGENT_OBJ) $(LIBCPROF)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BIN)/cprof-devbroker: deploy/devbroker/cprof-devbroker.c $(LIBCPROF)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $< $(LIBCPROF) $(LDFLAGS) $(LDLIBS) -o $@

# the agent's pure modules, unit tested without its main
AGENT_UNIT_OBJ := $(BUILD)/ingest/agent_schedule.o $(BUILD)/ingest/agent_targets.o
$(BUILD)/tests/test_agent: tests/unit/test_agent.c $(AGENT_UNIT_OBJ) $(LIBCPROF) $(GEN_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests -Iingest $(CFLAGS) -MMD -MP $< $(AGENT_UNIT_OBJ) $(LIBCPROF) $(LDFLAGS) $(LDLIBS) -o $@

# the pprof writer of cprof-query export, unit tested without the command
$(BUILD)/tests/test_pprof_tree: tests/unit/test_pprof_tree.c $(BUILD)/query/pprof_tree.o $(LIBCPROF) $(GEN_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests -Iquery $(CFLAGS) -MMD -MP $< $(BUILD)/query/pprof_tree.o $(LIBCPROF) $(LDFLAGS) $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c $(LIBCPROF) $(GEN_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS) -MMD -MP $< $(LIBCPROF) $(LDFLAGS) $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/tools/%.c $(LIBCPROF) $(GEN_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS) -MMD -MP $< $(LIBCPROF) $(LDFLAGS) $(LDLIBS) -o $@

$(BUILD)/bench/%: bench/%.c $(LIBCPROF) $(GEN_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP $< $(LIBCPROF) $(LDFLAGS) $(LDLIBS) -o $@

-include $(wildcard $(BUILD)/*/*.d $(BUILD)/*.d)

# ---------------------------------------------------------------- tests, demo, fuzz, bench

FUZZ_SECONDS ?= 300

check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory SANITIZE=address,undefined all
	@$(MAKE) --no-print-directory browser
	@tests/check

# The browser tests' page (tests/browser, README there): its npm packages as package-lock.json pins
# them, then the page built by Vite into tests/browser/dist. Needs Node.js >= 20.19 with npm.
BROWSER     := tests/browser
BROWSER_SRC := $(BROWSER)/index.html $(BROWSER)/vite.config.js $(wildcard $(BROWSER)/src/*.jsx $(BROWSER)/src/*/*.js)
.PHONY: browser
browser: $(BROWSER)/dist/index.html

$(BROWSER)/node_modules/.stamp: $(BROWSER)/package-lock.json $(BROWSER)/package.json
	@v=$$(node -p 'process.versions.node.split(".").map(Number).reduce((a, b) => a * 1000 + b)' 2>/dev/null); \
	  command -v npm >/dev/null && [ "$${v:-0}" -ge 20019000 ] || \
	  { echo "the browser tests need Node.js >= 20.19 with npm: install them (e.g. from nodejs.org)" >&2; exit 1; }
	cd $(BROWSER) && npm ci --no-audit --no-fund
	@touch $@

$(BROWSER)/dist/index.html: $(BROWSER)/node_modules/.stamp $(BROWSER_SRC)
	cd $(BROWSER) && npm run --silent build

demo: deps
	@$(MAKE) --no-print-directory all
	deploy/demo.sh

FUZZ_BIN := build/fuzz/fuzz_pprof
$(FUZZ_BIN): tests/fuzz/fuzz_pprof.c $(LIB_SRC) $(GEN_SRC) $(GEN_HDR)
	@mkdir -p $(dir $@)
	clang $(CPPFLAGS) -std=c11 -pthread -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	  tests/fuzz/fuzz_pprof.c $(LIB_SRC) $(GEN_SRC) $(PKG_LIBS) -o $@

fuzz: $(FUZZ_BIN)
	tests/fuzz/run-fuzz $(FUZZ_BIN) $(FUZZ_SECONDS)

bench: deps
	@$(MAKE) --no-print-directory all
	bench/run

bench-ingest: all
	bench/ingest

# bench/agent: what cprof-agent costs per profile, beside curl's bare fetch.
.PHONY: bench-agent
bench-agent: all
	bench/agent

# bench/history: the fleet-query benchmark (issue 4); bench/history/README.md.
.PHONY: bench-history
-include $(wildcard $(BUILD)/bench/history/*.d)
bench-history: all $(BUILD)/bench/history/pprof_regress
	bench/history/run

clean:
	rm -rf build bin
