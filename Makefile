# Tenantmesh developer commands. `make run` and `make test` are the two that matter;
# both create the project virtualenv on first use.

PYTHON_BOOTSTRAP ?= $(shell command -v python3.11 || command -v python3)
VENV      := .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
BUF       := node_modules/.bin/buf
REDOCLY   := node_modules/.bin/redocly
OPENAPI   := gen/openapi/tenantmesh.openapi.json
SDK_TS    := sdk/typescript
SDK_TS_TOOLS := $(SDK_TS)/node_modules/.bin/tsc
FORM_ENGINE := packages/form-engine
FORM_ENGINE_BUILT := $(FORM_ENGINE)/dist/.built
WEB       := web
WEB_TOOLS := $(WEB)/node_modules/.bin/next
WEB_BUILT := $(WEB)/out/.built
SDK_TS_BUILT := $(SDK_TS)/dist/.built
WEB_SRC   := $(shell find $(WEB)/app $(WEB)/src $(WEB)/public $(WEB)/sw -type f 2>/dev/null | sort)
PROTO_SRC := $(shell find protos/tenantmesh -name '*.proto' | sort)

.PHONY: help venv gen gen-check lint breaking fmt run test test-faults test-unit migrate-tenants deploy-files \
        bench-tenants bench-edge bench-auth bench-registry bench-forms bench-forms-engine bench-menus bench-sdk bench-accounts soak \
        bench-observability bench-mesh-tls bench-rate-limit wrk form-engine \
        sdk sdk-python sdk-typescript console test-console bench-console browser clean

help:
	@echo "make run          start the whole mesh behind Envoy (SQLite, no servers needed)"
	@echo "make form-engine  install and build the browser forms module (packages/form-engine)"
	@echo "make console      build the web console (web/, Node >= 20) that make run serves"
	@echo "make test-console the console's unit tests and browser tests (Chromium)"
	@echo "make test         run the test suite"
	@echo "make test-faults  the fault suite in full: load, one fault at a time, every acknowledged write checked (docs/resilience.md)"
	@echo "make gen          regenerate gen/ from protos/"
	@echo "make lint         buf lint, ruff, mypy"
	@echo "make breaking     buf breaking against main"
	@echo "make migrate-tenants   migrate every tenant database (mesh must be running)"
	@echo "make deploy-files   render deploy/ from the service manifest (services/manifest.py)"
	@echo "make sdk          build the Python wheel and the npm tarball of the SDKs into dist/"
	@echo "make soak         30 min at half capacity across 200 tenants, processes on MariaDB + Redis (SOAK_MINUTES=5 for less)"
	@echo "make bench-tenants / bench-edge / bench-auth / bench-registry / bench-forms / bench-forms-engine / bench-menus / bench-sdk / bench-accounts / bench-console / bench-observability / bench-mesh-tls / bench-rate-limit   benchmarks (print numbers)"

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

$(BUF): package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	@touch $(BUF)

# The browser forms module: installed from its own lock and built with tsc. The conformance tests
# run it under Node against the Python engine, so `make test` builds it first.
form-engine: $(FORM_ENGINE_BUILT)

$(FORM_ENGINE_BUILT): $(FORM_ENGINE)/package.json $(FORM_ENGINE)/package-lock.json $(FORM_ENGINE)/tsconfig.json \
                      $(wildcard $(FORM_ENGINE)/src/*.ts $(FORM_ENGINE)/tools/*.ts)
	cd $(FORM_ENGINE) && npm ci --silent --no-audit --no-fund && npm run --silent build
	@touch $(FORM_ENGINE_BUILT)

# Stubs for Python (+ .pyi), the descriptor set Envoy transcodes with, and the OpenAPI 3.1
# document of the REST surface (services/openapi, a protoc plugin; it reads the option
# extensions through the stubs generated just before it).
# google/api and google/rpc Python modules come from googleapis-common-protos;
# buf/validate is generated here because no wheel ships it for google.protobuf; so is Envoy's rate
# limit service API (vendored, trimmed), whose stubs the rate limit service serves: never transcoded,
# so not in the descriptor set.
gen: $(STAMP)
	rm -rf gen/python gen/descriptor.binpb gen/openapi
	mkdir -p gen/python gen/openapi
	$(PY) -m grpc_tools.protoc -Iprotos -Iprotos/vendor \
	  --python_out=gen/python --pyi_out=gen/python \
	  --grpc_python_out=gen/python --mypy_grpc_out=gen/python \
	  --plugin=protoc-gen-mypy_grpc=$(VENV)/bin/protoc-gen-mypy_grpc \
	  $(PROTO_SRC)
	$(PY) -m grpc_tools.protoc -Iprotos/vendor --python_out=gen/python --pyi_out=gen/python \
	  buf/validate/validate.proto
	$(PY) -m grpc_tools.protoc -Iprotos/vendor --python_out=gen/python --pyi_out=gen/python \
	  --grpc_python_out=gen/python --mypy_grpc_out=gen/python \
	  --plugin=protoc-gen-mypy_grpc=$(VENV)/bin/protoc-gen-mypy_grpc \
	  envoyapi/service/ratelimit/v3/rls.proto
	$(PY) -m grpc_tools.protoc -Iprotos -Iprotos/vendor --include_imports \
	  --descriptor_set_out=gen/descriptor.binpb \
	  $(PROTO_SRC) google/rpc/status.proto google/rpc/error_details.proto
	find gen/python -mindepth 1 -type d -exec touch {}/__init__.py \;
	$(PY) -m grpc_tools.protoc -Iprotos -Iprotos/vendor \
	  --plugin=protoc-gen-openapi=$(VENV)/bin/protoc-gen-openapi --openapi_out=gen/openapi \
	  $(PROTO_SRC) google/rpc/status.proto google/rpc/error_details.proto

gen-check: gen
	@git diff --exit-code --stat -- gen || (echo "gen/ is stale: run 'make gen' and commit" && exit 1)
	@test -z "$$(git status --porcelain -- gen)" || (git status --porcelain -- gen; echo "untracked files in gen/" && exit 1)

lint: $(STAMP) $(BUF) $(FORM_ENGINE_BUILT) $(SDK_TS_TOOLS) $(WEB_TOOLS)
	$(BUF) lint
	$(REDOCLY) lint --format=summary $(OPENAPI)
	cd $(FORM_ENGINE) && npm run --silent lint
	cd $(SDK_TS) && npm run --silent lint
	cd $(WEB) && npm run --silent lint
	$(VENV)/bin/ruff check services tests sdk/python
	$(VENV)/bin/ruff format --check services tests sdk/python
	$(VENV)/bin/mypy

fmt: $(STAMP)
	$(VENV)/bin/ruff check --fix services tests sdk/python
	$(VENV)/bin/ruff format services tests sdk/python

breaking: $(BUF)
	$(BUF) breaking --against '.git#branch=main'

run: $(STAMP) $(BUF) $(WEB_BUILT)
	$(PY) -m services.mesh run

# Two parts: most tests on two workers (pytest-xdist; each worker takes its own Redis database,
# the one TEST_REDIS_URL names and the one below it), then the tests marked serial on their own
# (fault scenarios timing a recovery, the browser tests with two browsers of their own). Both
# parts always run; the target fails if either did.
TEST_WORKERS ?= 2

test: $(STAMP) $(FORM_ENGINE_BUILT) $(WEB_BUILT) browser
	@parallel=0; serial=0; \
	$(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal -m "not serial" tests || parallel=$$?; \
	$(PY) -m pytest -m serial tests || serial=$$?; \
	test $$parallel -eq 0 -a $$serial -eq 0

# The fault scenarios at full length (make test runs them shorter); needs TEST_MYSQL_URL and
# TEST_REDIS_URL, and prints the resilience table at the end.
test-faults: $(STAMP)
	FAULT_SUITE=full $(PY) -m pytest tests/faults -v

# The web console: a static export of web/ (Next.js), served by `make run` behind Envoy. It uses
# the TypeScript SDK and the form engine of this repository, built first.
console: $(WEB_BUILT)

$(SDK_TS_BUILT): $(SDK_TS_TOOLS) $(OPENAPI) $(wildcard $(SDK_TS)/src/*.ts)
	cd $(SDK_TS) && npm run --silent build
	@touch $@

$(WEB_TOOLS): $(WEB)/package.json $(WEB)/package-lock.json $(FORM_ENGINE_BUILT) $(SDK_TS_BUILT)
	cd $(WEB) && npm ci --silent --no-audit --no-fund
	@touch $@

$(WEB_BUILT): $(WEB_TOOLS) $(WEB_SRC) $(WEB)/next.config.ts $(WEB)/serwist.config.js $(FORM_ENGINE_BUILT) $(SDK_TS_BUILT)
	cd $(WEB) && NEXT_TELEMETRY_DISABLED=1 npm run --silent build
	@touch $@

# Debian's Chromium for the browser tests (Playwright drives it; it downloads no browser).
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-liberation)

# The console's unit tests (Vitest) and its browser tests (Playwright + axe against a mesh).
test-console: $(STAMP) $(WEB_BUILT) browser
	cd $(WEB) && npm run --silent test
	$(PY) -m pytest tests/web -x -q

bench-console: $(STAMP) $(WEB_BUILT) browser
	$(PY) -m tests.bench.bench_console

migrate-tenants: $(STAMP)
	$(VENV)/bin/tenantctl migrate

deploy-files: $(STAMP)
	$(PY) -m services.mesh.deploy

# The HTTP load generator of the benchmarks through Envoy (Debian's package).
wrk:
	@command -v wrk >/dev/null || (apt-get update && apt-get install -y wrk)

bench-tenants: $(STAMP)
	$(PY) -m tests.bench.bench_tenants

bench-edge: $(STAMP) wrk
	$(PY) -m tests.bench.bench_edge

bench-auth: $(STAMP) wrk
	$(PY) -m tests.bench.bench_auth

bench-mesh-tls: $(STAMP) wrk
	$(PY) -m tests.bench.bench_mesh_tls

bench-accounts: $(STAMP)
	$(PY) -m tests.bench.bench_accounts

bench-registry: $(STAMP) wrk
	$(PY) -m tests.bench.bench_registry

# The forms service on MariaDB through Envoy (TEST_MYSQL_URL, or --mysql-url; see the module docstring).
bench-forms: $(STAMP) wrk
	$(PY) -m tests.bench.bench_forms

bench-observability: $(STAMP) wrk
	$(PY) -m tests.bench.bench_observability

# The global rate limit on vs off through Envoy, on Redis (TEST_REDIS_URL, else the local server's DB 1).
bench-rate-limit: $(STAMP) wrk
	$(PY) -m tests.bench.bench_rate_limit

bench-forms-engine: $(STAMP)
	$(PY) -m tests.bench.bench_forms_engine

# On MariaDB and Redis (TEST_MYSQL_URL / TEST_REDIS_URL, else the local servers' defaults).
soak: $(STAMP)
	$(PY) -m tests.bench.soak

bench-menus: $(STAMP) wrk
	$(PY) -m tests.bench.bench_menus

# The SDKs, built into dist/: the Python wheel (sdk/python's core + a copy of gen/python) and
# the npm tarball of sdk/typescript (its client types generated from gen/openapi).
SDK_PY_BUILD := build/sdk-python

sdk: sdk-python sdk-typescript

sdk-python: $(STAMP)
	rm -rf $(SDK_PY_BUILD) && mkdir -p $(SDK_PY_BUILD) dist
	cp -r sdk/python/pyproject.toml sdk/python/README.md sdk/python/src $(SDK_PY_BUILD)/
	cp -r gen/python/tenantmesh gen/python/buf $(SDK_PY_BUILD)/src/
	touch $(SDK_PY_BUILD)/src/tenantmesh/py.typed $(SDK_PY_BUILD)/src/buf/py.typed
	find $(SDK_PY_BUILD) -name __pycache__ -prune -exec rm -rf {} +
	$(PY) -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir dist $(SDK_PY_BUILD)

$(SDK_TS_TOOLS): $(SDK_TS)/package.json $(SDK_TS)/package-lock.json
	cd $(SDK_TS) && npm ci --silent --no-audit --no-fund
	@touch $@

sdk-typescript: $(SDK_TS_TOOLS)
	mkdir -p dist
	cd $(SDK_TS) && npm run --silent build && npm pack --silent --pack-destination ../../dist

bench-sdk: $(STAMP) $(BUF) $(SDK_TS_TOOLS)
	cd $(SDK_TS) && npm run --silent build
	$(PY) -m tests.bench.bench_sdk

clean:
	rm -rf .data .mypy_cache .ruff_cache .pytest_cache
