# grove: `make demo` and `make test` set everything up on a fresh Debian 12 machine.
BUILD ?= build
JOBS ?= 2
BUILD_TYPE ?= Release
CMAKE_FLAGS ?=

.PHONY: all deps configure build test test-large demo install clean fuzz test-asan test-asan-io \
	test-tsan

all: build

deps:
	@scripts/install-deps

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

configure: deps $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Larger than RAM: a ~4 GB volume predicted under --ram-mb 1024 (minutes; ~9 GB of disk).
test-large: build
	GROVE_BIN=$(BUILD)/bin/grove /usr/bin/python3 -m pytest -q -s -p no:cacheprovider tests/large

demo: build
	@scripts/demo $(BUILD)

# Robustness (fuzz/README.md). `make fuzz` builds the libFuzzer targets with clang and runs each
# for FUZZ_SECONDS (all targets, or those in FUZZ_TARGETS, e.g. "tiff png").
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
fuzz: deps
	JOBS=$(JOBS) scripts/fuzz $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# The unit tests (and the fuzz corpus replays) under AddressSanitizer + UndefinedBehaviorSanitizer,
# and the tests of the threaded layers (TSAN_LAYERS) under ThreadSanitizer.
# SANITIZER_TESTS narrows the run (a ctest -R regex; CI runs a subset, see .ci/run).
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
SANITIZER_TESTS ?= .
SANITIZER_CMAKE = -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGROVE_BUILD_BENCH=OFF $(CMAKE_FLAGS)
ASAN_ENV = ASAN_OPTIONS=detect_leaks=$$leaks:abort_on_error=1:strict_string_checks=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/fuzz/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
TSAN_ENV = TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

SANITIZER_TARGETS ?= unit_tests

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DGROVE_SANITIZE=address,undefined $(SANITIZER_CMAKE)
	cmake --build $(ASAN_BUILD) -j $(JOBS) --target $(SANITIZER_TARGETS)
	@# LeakSanitizer stops the process's threads with ptrace: where that is not allowed (some
	@# containers) it cannot run, and the run goes on without leak checks, saying so.
	cd $(ASAN_BUILD) && leaks=1; \
	ASAN_OPTIONS=detect_leaks=1 bin/core_tests --gtest_filter=-* > lsan-probe.log 2>&1; \
	if grep -q "LeakSanitizer has encountered a fatal error" lsan-probe.log; then \
		echo "test-asan: LeakSanitizer cannot run on this machine (see $(ASAN_BUILD)/lsan-probe.log): leaks are not checked"; \
		leaks=0; \
	fi; \
	$(ASAN_ENV) ctest -L unit -R '$(SANITIZER_TESTS)' --output-on-failure -j $(JOBS)

# CI's subset (.ci/run; the whole of test-asan would double CI's time): the core and io unit
# tests and the replays of the readers' fuzz corpora, which build without the upper layers.
IO_FUZZ = tiff png jpeg npy hdf5 zarr n5 codec
test-asan-io:
	$(MAKE) test-asan SANITIZER_TARGETS="core_tests io_tests $(IO_FUZZ:%=%_fuzz_replay)" \
		SANITIZER_TESTS='^(core_tests|io_tests|fuzz_replay_($(shell echo $(IO_FUZZ) | tr ' ' '|')))$$'

# The layers that run work on threads: core (the thread pool), engine (block-parallel compute),
# filters (features computed by the engine), learn (forest training and prediction on the pool),
# workflows and project (training and prediction of whole pipelines) and the server (request
# threads beside the engine's). io and segment start no threads.
TSAN_LAYERS ?= core engine filters learn workflows project server
test-tsan: deps
	cmake -S . -B $(TSAN_BUILD) -DGROVE_SANITIZE=thread $(SANITIZER_CMAKE)
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target $(TSAN_LAYERS:%=%_tests)
	cd $(TSAN_BUILD) && $(TSAN_ENV) ctest -R '^($(shell echo $(TSAN_LAYERS) | tr ' ' '|'))_tests$$' \
		--output-on-failure -j $(JOBS)

# Installs what CMake's install rules name (the grove Python package, into
# /usr/local/lib/python3.11/dist-packages unless CMAKE_INSTALL_PREFIX says otherwise; docs/python.md).
install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD)
