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
JS_PKGS     := ./wasm/... ./chip/...

.PHONY: all build test test-native test-wasm lint fuzz run bench clean

all: build

## build: the browser module (and wasm_exec.js from the same Go) into $(OUT)/
build:
	@mkdir -p $(OUT)
	GOOS=js GOARCH=wasm $(GO) build -trimpath -ldflags="-s -w" -o $(OUT)/main.wasm ./wasm
	cp $(WASM_EXEC)/wasm_exec.js $(OUT)/wasm_exec.js

## test: every test: native with -race, then the browser packages under GOOS=js
test: test-native test-wasm

test-native:
	$(GO) test -race -count=1 ./...

test-wasm:
	@command -v node >/dev/null || { echo "make test: Node.js is needed for GOOS=js tests: apt-get install -y nodejs"; exit 1; }
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

## fuzz: every fuzz target for FUZZTIME each (default 30s)
fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

## run: build everything and start the server in dev mode
run: build
	@echo "make run: the server does not exist yet; the module was built into $(OUT)/"

clean:
	rm -rf $(OUT) $(BIN)
