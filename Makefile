# `make run` and `make test` are the two commands a newcomer needs; each installs and builds first.
NPM ?= npm
NODE_MODULES_STAMP := node_modules/.package-lock.json

.PHONY: install build run test bench clean

$(NODE_MODULES_STAMP): package.json package-lock.json
	$(NPM) ci --no-audit --no-fund
	@touch $(NODE_MODULES_STAMP)

install: $(NODE_MODULES_STAMP)

build: install
	npx tsc -p tsconfig.json

run: build
	node bin/strata.js serve --data-dir data --host 127.0.0.1 --port 7070

test: build
	npx vitest run

bench: build
	node dist/bench/storage-bench.js

clean:
	rm -rf dist
