# `make run` and `make test` are the two commands a newcomer needs; each installs and builds first.
NPM ?= npm
NODE_MODULES_STAMP := node_modules/.package-lock.json

.PHONY: install proto lint-proto python-deps test-deps bench-deps build run test bench clean console browser-deps bench-quota
PROTO_FILES := $(wildcard proto/strata/v1/*.proto)

$(NODE_MODULES_STAMP): package.json package-lock.json
	$(NPM) ci --no-audit --no-fund --ignore-scripts
	@touch $(NODE_MODULES_STAMP)

install: $(NODE_MODULES_STAMP)

# TypeScript types for the protocol, generated (never hand-written) into src/generated/. The sed adds
# the .js extensions that ESM (NodeNext) resolution wants on relative imports.
src/generated/.stamp: $(PROTO_FILES) $(NODE_MODULES_STAMP)
	rm -rf src/generated
	npx proto-loader-gen-types --longs=Number --enums=String --defaults --oneofs --includeComments \
	  --grpcLib=@grpc/grpc-js -O src/generated $(PROTO_FILES:proto/%=%) -I proto
	find src/generated -name '*.ts' -exec sed -i -E "s#(from '\.{1,2}/[^']*)';#\1.js';#" {} +
	@touch $@

proto: src/generated/.stamp

lint-proto: install
	npx buf lint proto

# Compiled only when a TypeScript source (tsconfig.json's include), the config, the generated types or
# the dependencies changed since the last build: `make run` on an unchanged tree starts at once.
TS_SOURCES := $(shell find src test bench -name '*.ts' -not -path 'src/generated/*' 2>/dev/null)
BUILD_STAMP := dist/.build-stamp
$(BUILD_STAMP): $(TS_SOURCES) tsconfig.json src/generated/.stamp $(NODE_MODULES_STAMP)
	npx tsc -p tsconfig.json
	@touch $@

build: install proto $(BUILD_STAMP) console

# The web console's front end (console/: Preact + htm, uPlot), bundled by esbuild into dist/console/,
# which the broker serves at / on its HTTP port.
console: install
	node console/build.mjs

# The server's V8 flags (why: src/cli/server-node-flags.ts; bin/strata.js's shebang has the same).
SERVER_NODE_FLAGS := --min-semi-space-size=16 --max-semi-space-size=32 --initial-heap-size=128

run: build
	node $(SERVER_NODE_FLAGS) bin/strata.js serve --data-dir data --host 127.0.0.1 --port 7070

# test/polyglot/ runs a Python client written from docs/protocol.md against a server, with Debian's gRPC
# for Python (/usr/bin/python3: a pyenv python3 earlier on PATH lacks Debian's modules). Installed only
# when they are not importable, so the test never has to skip.
PYTHON_DEPS := python3-grpcio python3-grpc-tools python3-protobuf
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
python-deps:
	@/usr/bin/python3 -c 'import grpc, grpc_tools.protoc, google.protobuf' 2>/dev/null || \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(PYTHON_DEPS); }

# test/server/http/console/ drives Debian's Chromium with playwright-core (never a browser download):
# installed when /usr/bin/chromium is missing.
browser-deps:
	@test -x /usr/bin/chromium || \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; }

# Debian packages the tests run (never skipped under CI), each installed only when missing: promtool
# (package prometheus) checks the /metrics exposition and the alert rules in deploy/prometheus/;
# openssl makes the certificates of the TLS tests.
test-deps:
	@command -v promtool >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends prometheus; }
	@command -v openssl >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends openssl; }

test: build lint-proto python-deps test-deps browser-deps
	npx vitest run

# The gRPC bench measures Redis Streams beside Strata in the same run: Debian's redis-server,
# installed when it is missing (the bench itself only says SKIP without it). The queue bench also runs
# Debian's rabbitmq-server, started by the bench itself (its own ports and temp dirs; the package's
# system service is not used).
bench-deps:
	@command -v redis-server >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq redis-server; }
	@test -x /usr/lib/rabbitmq/bin/rabbitmq-server || \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq rabbitmq-server; }

# Benchmarks (not tests): each prints its environment, command and ratios; see bench/RESULTS.md.
bench: build bench-deps
	node dist/bench/storage-bench.js
	node dist/bench/grpc-bench.js
	node dist/bench/groups-bench.js
	node dist/bench/groups-cascade-bench.js
	node dist/bench/queue-bench.js
	node dist/bench/dedupe-bench.js
	node dist/bench/metrics-bench.js
	node dist/bench/schema-validation-bench.js
	node dist/bench/security-bench.js
	node dist/bench/quota-bench.js

# Rate quotas alone (bench/RESULTS.md, "Rate quotas").
bench-quota: build
	node dist/bench/quota-bench.js

clean:
	rm -rf dist src/generated
