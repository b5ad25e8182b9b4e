# The two commands a newcomer needs are `make run` and `make test`; the rest are
# one target away. Everything the targets need is installed here when missing.

SHELL       := /bin/bash
GO          ?= go
GOROOT      := $(shell $(GO) env GOROOT)
WASM_EXEC   := $(GOROOT)/lib/wasm
OUT         ?= build
FUZZTIME    ?= 30s
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
BIN         := $(CURDIR)/bin

# Packages that build only for the browser; they are tested under Node with
# Go's own wasm runner.
JS_PKGS     := ./wasm/... ./credential/... ./chip/... ./bridge/...

.PHONY: all build test test-native test-wasm node npm axe chromium postgres lint tidy-check stress-wasm fuzz run bench screenshots clean

all: build

## build: the browser module and wasm_exec.js (from the same Go) into $(OUT)/module,
## the server into $(BIN) (mitid-chip for production, mitid-chip-dev with dev mode), and the page with hashed, precompressed assets into $(OUT)/assets
build:
	@mkdir -p $(OUT)/module $(BIN)
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags="-s -w" -o $(OUT)/module/main.wasm ./wasm
	cp $(WASM_EXEC)/wasm_exec.js $(OUT)/module/wasm_exec.js
	$(GO) build -trimpath -o $(BIN)/mitid-chip ./server/cmd/mitid-chip
	$(GO) build -trimpath -o $(BIN)/mitid-chip-dev ./server/cmd/mitid-chip-dev
	$(BIN)/mitid-chip assets -out $(OUT)/assets web $(OUT)/module

## test: every test: native with -race, then the browser packages under GOOS=js
test: test-native test-wasm

test-native: build chromium axe postgres
	ASSETS_DIR=$(CURDIR)/$(OUT)/assets $(GO) test -race -count=1 -timeout=30m ./...

# The browser tests drive Debian's Chromium; it is installed here when missing, never
# downloaded by a test tool.
chromium:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null || \
	  { echo "make: could not install Chromium; run as root: apt-get update && apt-get install -y chromium chromium-driver"; exit 1; }; }

# The PostgreSQL store's tests start a throwaway cluster with Debian's initdb and
# pg_ctl (server/store/pgtest); the server package is installed here when missing.
PG_BIN = $(firstword $(patsubst %/initdb,%,$(wildcard /usr/lib/postgresql/*/bin/initdb)))
postgres:
	@if { command -v initdb && command -v pg_ctl; } >/dev/null || [ -n "$(PG_BIN)" ]; then :; else \
	  echo "installing Debian's postgresql for the PostgreSQL store's tests"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } || \
	  { echo "make: could not install PostgreSQL; run as root: apt-get update && apt-get install -y postgresql"; exit 1; }; \
	  ls /usr/lib/postgresql/*/bin/initdb /usr/lib/postgresql/*/bin/pg_ctl >/dev/null || \
	  { echo "make: postgresql is installed but initdb/pg_ctl are not in /usr/lib/postgresql/*/bin"; exit 1; }; fi

node:
	@command -v node >/dev/null || { \
	  echo "installing Node.js for the GOOS=js tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null || \
	  { echo "make: could not install Node.js; run as root: apt-get install -y nodejs"; exit 1; }; }

# Debian's nodejs comes without npm (NodeSource's has it); the accessibility tests
# need it once, to install axe-core.
npm: node
	@command -v npm >/dev/null || { \
	  echo "installing npm for axe-core"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null || \
	  { echo "make: could not install npm; run as root: apt-get install -y npm"; exit 1; }; }

## axe: axe-core for the accessibility tests, the version pinned in e2e/axe/package-lock.json
AXE := e2e/axe/node_modules/axe-core/axe.min.js
axe: $(AXE)

# Installed again when the pin changes; touched because npm keeps the package's own
# file times, which are older than the lock.
$(AXE): e2e/axe/package-lock.json | npm
	npm ci --prefix e2e/axe --no-audit --no-fund
	@touch $@

test-wasm: node
	PATH="$(WASM_EXEC):$$PATH" GOOS=js GOARCH=wasm $(GO) test -count=1 $(JS_PKGS)

## lint: gofmt, go vet (native and js/wasm), staticcheck (pinned)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' ; git ls-files --others --exclude-standard '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=js GOARCH=wasm $(GO) vet $(JS_PKGS)
	@test -x $(BIN)/staticcheck || GOBIN=$(BIN) $(GO) install $(STATICCHECK)
	$(BIN)/staticcheck ./...
	GOOS=js GOARCH=wasm $(BIN)/staticcheck $(JS_PKGS)

## tidy-check: fails when `go mod tidy` would change go.mod or go.sum (and shows how)
tidy-check:
	@$(GO) mod tidy -diff || { echo "make: go.mod/go.sum are not tidy: run go mod tidy and commit the result"; exit 1; }

## stress-wasm: the js/wasm tests RUNS times in a row (default 50) under two CPU-burning
## loops; stops at the first failure
RUNS ?= 50
stress-wasm: node
	scripts/stress-wasm.sh $(RUNS)

## fuzz: every fuzz target for FUZZTIME each (default 30s)
fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

## run: build everything and start the server in dev mode (SQLite in var/, virtual chips)
run: build
	ASSETS_DIR=$(CURDIR)/$(OUT)/assets $(BIN)/mitid-chip-dev serve -dev

## bench: in one run, the module's size (raw, gzip, brotli) against a minimal Go module
## and against one built from the brief's dependencies alone (argon2, ed25519, sha256, safejs),
## the page's median time to its password form against the same page with that module,
## the time until the person can type, until the rules respond and the bytes before that,
## against a plain HTML page of the same form, unthrottled and on a slow-4G phone (CPU x4),
## the longest main-thread task of a whole activation and the module's memory after it,
## the logon page's time until the user ID and password can be typed against a plain HTML
## logon form and its Continue-to-chip-step time against the activation's Next (both
## profiles), in headless Chromium (e2e/bench); and what sweeping 210k expired records costs the
## writes meanwhile, in batches against one transaction (server/store); and the server's
## logons per second against its ceiling (server/logon).
## Each figure is one line: bench: NAME VALUE UNIT (RATIO× REFERENCE).
## Measurements, not assertions: not part of make test.
bench: chromium
	$(GO) test -run='^$$' -bench=. -benchtime=1x -count=1 -timeout=30m ./e2e/bench/
	$(GO) test -run='^$$' -bench=SweepStall -benchtime=1x -count=1 ./server/store/
	$(GO) test -run='^$$' -bench=LogonThroughput -benchtime=1x -count=1 ./server/logon/

## screenshots: every step, in English and Danish, at a phone (390×844) and a desktop (1280×800) viewport into
## docs/screenshots, with the states of a browser that cannot connect and Borgerservice's console
## (TestScreenshots, TestDeviceStates, TestCounterStates; under make test the pictures are taken and checked, not kept)
screenshots: build chromium
	ASSETS_DIR=$(CURDIR)/$(OUT)/assets $(GO) test -count=1 -run '^(TestScreenshots|TestDeviceStates|TestCounterStates)$$' ./e2e/ -args -screenshots=$(CURDIR)/docs/screenshots

clean:
	rm -rf $(OUT) $(BIN)
