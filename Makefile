# The two commands of the README: `make serve` and `make test`. Everything else here is
# what they are made of.
SHELL := /bin/bash
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS ?= 2
VISOR_SHARED_DIR ?= $(abspath ../shared)
PORT ?= 8080
export VISOR_SHARED_DIR

.PHONY: setup build web serve test test-servers test-unit test-asan test-tsan test-web test-fuzz fuzz bench format clean cluster-up cluster-down

setup:
	@./scripts/timed.sh setup ./scripts/setup.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: setup $(BUILD)/CMakeCache.txt
	@scripts/timed.sh build cmake --build $(BUILD) -j$(JOBS)

web: setup
	@if [ -f web/package.json ]; then scripts/timed.sh web-build npm --prefix web run build --silent; fi

# Runs Visor with embedded backends and the test models on http://localhost:$(PORT)/.
serve: build web
	VISOR_MODELS=$${VISOR_MODELS:-$(VISOR_SHARED_DIR)/models} ./$(BUILD)/src/cli/visor serve --port $(PORT)

# Loads the Grocery Store data set's 81 products (iconic photo, description, category) into
# the Visor running on http://localhost:$(PORT)/ (`make serve` in another terminal) with
# `visor import`; search finds them as soon as they are indexed, about a minute later.
.PHONY: demo
demo:
	@test -x ./$(BUILD)/src/cli/visor || { echo "make demo: build first (make build)"; exit 2; }
	@python3 scripts/grocery_catalogue.py $(VISOR_SHARED_DIR)/datasets/grocery $(BUILD)/demo-grocery.csv
	./$(BUILD)/src/cli/visor import $(BUILD)/demo-grocery.csv --url http://localhost:$(PORT)

# The real servers the contract and end-to-end tests run against (PostgreSQL, Redis, S3,
# Chroma: each one this checkout has a scripts/servers/ script for), installed if missing
# and started on 127.0.0.1.
test-servers:
	@scripts/timed.sh servers scripts/cluster.sh up

# Each suite gets fresh databases / prefixes on those servers (scripts/test-env.sh).
test-unit: build test-servers
	@eval "$$(scripts/test-env.sh unit)" && cd $(BUILD) && \
	  ../scripts/timed.sh unit ctest --output-on-failure -j$(JOBS) --timeout 900

test-asan: setup test-servers
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DVISOR_SANITIZE=ON -DVISOR_BENCH=OFF >/dev/null
	@scripts/timed.sh asan-build cmake --build $(ASAN_BUILD) -j$(JOBS)
	@eval "$$(scripts/test-env.sh asan)" && cd $(ASAN_BUILD) && \
	  ../scripts/timed.sh asan ctest --output-on-failure -j$(JOBS) --timeout 1800 -LE no_sanitizer

# The concurrent parts that run no third-party inference code (TSan cannot see into it).
TSAN_TESTS := test_hnsw_concurrency test_vector_contract_hnsw test_http_server test_http_limits test_http_framing test_queue_contract test_worker
test-tsan: setup test-servers
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DVISOR_TSAN=ON -DVISOR_BENCH=OFF >/dev/null
	@scripts/timed.sh tsan-build cmake --build $(TSAN_BUILD) -j$(JOBS) --target $(TSAN_TESTS)
	@eval "$$(scripts/test-env.sh tsan)" && cd $(TSAN_BUILD) && \
	  ../scripts/timed.sh tsan ctest --output-on-failure --timeout 1800 -R '^($(subst $(eval) ,|,$(TSAN_TESTS)))$$'

test-web: build web
	@if [ -f web/package.json ]; then \
	  scripts/timed.sh web-unit npm --prefix web run test:unit --silent && \
	  VISOR_BIN=$(abspath $(BUILD))/src/cli/visor scripts/timed.sh web-e2e npm --prefix web run test:e2e --silent; fi

# The whole test suite: unit, contract, HTTP, ML, pipeline and browser tests, then the
# same C tests under AddressSanitizer + UBSan and the concurrent ones under TSan.
# libFuzzer harnesses (tests/fuzz, clang + ASan/UBSan in build-fuzz): a short run of each
# in the test suite, a long one with `make fuzz` (docs/SECURITY.md).
FUZZ_SECONDS ?= 30
test-fuzz: setup
	@scripts/timed.sh fuzz scripts/fuzz.sh $(FUZZ_SECONDS)
fuzz: setup
	scripts/fuzz.sh $${FUZZ_LONG_SECONDS:-3600}

test: test-unit test-web test-asan test-tsan test-fuzz
	@scripts/cluster.sh down
	@echo "make test: all suites passed"

# A local cluster for development: the servers, plus visor ml + api + workers over them.
cluster-up: build web
	scripts/cluster.sh up --visor
cluster-down:
	scripts/cluster.sh down

bench: build
	@echo "benchmarks: see docs/BENCHMARKS.md for the commands"

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) build-fuzz web/dist
