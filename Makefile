# Thin wrapper around CMake. The README's two commands are `make run` and `make test`.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_ARGS ?= --output-on-failure

.PHONY: all deps test-deps build asan run test test-release test-asan bench fuzz clean

all: build

deps:
	@bash contrib/install-deps.sh build

test-deps:
	@bash contrib/install-deps.sh test

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DZTNA_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

# Builds and starts the appliance on its embedded defaults:
# data in ./ztna-data/, HTTP on 127.0.0.1:8080, MagicDNS on 127.0.0.1:5353.
run: build
	@mkdir -p ztna-data
	exec $(BUILD)/server/ztna-server --data-dir ./ztna-data

# Every test, twice: the release build and the ASan+UBSan build.
test: test-deps
	@$(MAKE) --no-print-directory test-release test-asan

test-release: build
	cd $(BUILD) && ctest $(CTEST_ARGS)

test-asan: asan
	cd $(ASAN_BUILD) && ctest $(CTEST_ARGS) -LE no-asan

bench: build
	@bench/run-all.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
