# grove: `make demo` and `make test` set everything up on a fresh Debian 12 machine.
BUILD ?= build
JOBS ?= 2
BUILD_TYPE ?= Release
CMAKE_FLAGS ?=

.PHONY: all deps configure build test demo install clean

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

demo: build
	@scripts/demo $(BUILD)

# Installs what CMake's install rules name (the grove Python package, into
# /usr/local/lib/python3.11/dist-packages unless CMAKE_INSTALL_PREFIX says otherwise; docs/python.md).
install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD)
