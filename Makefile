# `make run` and `make test` are the two commands a newcomer needs; each installs and builds first.
NPM ?= npm
NODE_MODULES_STAMP := node_modules/.package-lock.json

.PHONY: install proto lint-proto build run test bench clean
PROTO_FILES := $(wildcard proto/strata/v1/*.proto)

$(NODE_MODULES_STAMP): package.json package-lock.json
	$(NPM) ci --no-audit --no-fund
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

build: install proto
	npx tsc -p tsconfig.json

# The server's V8 flags (why: src/cli/server-node-flags.ts; bin/strata.js's shebang has the same).
SERVER_NODE_FLAGS := --min-semi-space-size=16 --max-semi-space-size=32 --initial-heap-size=128

run: build
	node $(SERVER_NODE_FLAGS) bin/strata.js serve --data-dir data --host 127.0.0.1 --port 7070

test: build lint-proto
	npx vitest run

# Benchmarks (not tests): each prints its environment, command and ratios; see bench/RESULTS.md.
bench: build
	node dist/bench/storage-bench.js
	node dist/bench/grpc-bench.js
	node dist/bench/groups-bench.js
	node dist/bench/groups-cascade-bench.js

clean:
	rm -rf dist src/generated
