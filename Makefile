# grove: `make demo` and `make test` set everything up on a fresh Debian 12 machine.
BUILD ?= build
JOBS ?= 2
BUILD_TYPE ?= Release
CMAKE_FLAGS ?=

.PHONY: all deps configure build test test-large demo install clean

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

# Installs what CMake's install rules name (the grove Python package, into
# /usr/local/lib/python3.11/dist-packages unless CMAKE_INSTALL_PREFIX says otherwise; docs/python.md).
install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD)
