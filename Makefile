# Assent — see README.md. `make run` and `make test` set up a fresh Debian/Ubuntu machine.
GO        ?= go
BIN       ?= bin
LANG      := en_US.UTF-8
export LANG
FUZZTIME  ?= 10s
PKGS      := ./...

.PHONY: all deps deps-build build run server test vet fmt-check unit fuzz e2e bench package clean

all: build

deps:
	@scripts/deps.sh test

deps-build:
	@scripts/deps.sh run

build: deps-build
	$(GO) build -o $(BIN)/assent .
	CGO_ENABLED=0 $(GO) build -o $(BIN)/assentd ./cmd/assentd

run: build
	scripts/run.sh $(BIN)/assent

server:
	CGO_ENABLED=0 $(GO) build -o $(BIN)/assentd ./cmd/assentd
	$(BIN)/assentd serve

test: deps
	scripts/test.sh

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

unit:
	scripts/with-real-parts.sh $(GO) test -race -count=1 $(PKGS)

fuzz:
	scripts/fuzz.sh $(FUZZTIME)

e2e: deps build
	scripts/with-real-parts.sh scripts/e2e.sh

bench: deps build
	scripts/with-real-parts.sh scripts/bench.sh

package: deps-build
	@cp FyneApp.toml /tmp/FyneApp.toml.assent-bak
	$(GO) tool fyne package --os linux --release; rc=$$?; cp /tmp/FyneApp.toml.assent-bak FyneApp.toml; exit $$rc

clean:
	rm -rf $(BIN) *.tar.xz
