# The README's commands. Everything else lives in CMake.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
# make run LISTEN=HOST:PORT DATA=DIR; unset, meetd itself decides: from
# MEETD_LISTEN and MEETD_DATA (docs/configuration.md), else 127.0.0.1:8080
# and ./var. A flag here would override the variables.
LISTEN     ?=
DATA       ?=

.PHONY: all deps build run cluster test test-plain test-asan clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/meetd serve$(if $(LISTEN), --listen $(LISTEN))$(if $(DATA), --data $(DATA))

# Two nodes sharing a throw-away PostgreSQL, in the foreground until Ctrl-C
# (scripts/cluster.sh, docs/cluster.md); CLUSTER_DIR holds each node's files.
CLUSTER_DIR ?= var-cluster
cluster: build
	@scripts/cluster.sh $(CLUSTER_DIR)

# Every fuzz target for a short bounded run (fuzz-smoke, below), then the
# whole suite on a normal build and again on an ASan+UBSan build, each under
# a banner, then a summary of the three that repeats CTest's closing lines
# (scripts/test.sh). Exit status 0 only when all three passed.
test:
	@MAKE="$(MAKE)" scripts/test.sh

test-plain: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The two-node run of the e2e suite (e2e-2n.*) is left to the plain phase:
# it takes 4.5 minutes there with -j2, more under ASan (tests/e2e/README.md).
test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMEETD_SANITIZE=ON \
	  -DMEETD_TEST_E2E_CLUSTER=OFF >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

# Fuzzing (docs/fuzzing.md): clang libFuzzer + ASan/UBSan targets under
# fuzz/, each run FUZZ_SECONDS on a scratch copy of its corpus; fails if any
# target crashes. fuzz-smoke is the short bounded run for CI.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= auth router json sse webhook text
FUZZ_JOBS    ?= 1

.PHONY: fuzz fuzz-smoke
fuzz:
	@MEETD_DEPS_FUZZ=1 scripts/deps.sh
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
	  -DMEETD_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	@FUZZ_JOBS=$(FUZZ_JOBS) fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

# Benchmarks (bench/README.md): nginx on loopback as the anchor, then meetd's
# scenarios with the same client settings; BENCH_SECONDS per run (default 10).
# bench-scale: kickout latency as meetings grow, 10,000 event streams.
# bench-cluster: the kickout step on SQLite, PostgreSQL, two PostgreSQL nodes.
.PHONY: bench bench-scale bench-cluster bench-build
bench-build:
	@MEETD_DEPS_BENCH=1 scripts/deps.sh
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target meetd meetbench mhd-static

bench: bench-build
	@bench/run.sh $(BUILD)

bench-scale: bench-build
	@bench/scale.sh $(BUILD)

bench-cluster: bench-build
	@bench/cluster.sh $(BUILD)
