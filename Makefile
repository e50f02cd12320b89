# Assent — see README.md. `make run` and `make test` set up a fresh Debian/Ubuntu machine.
GO        ?= go
BIN       ?= bin
LANG      := en_US.UTF-8
export LANG
FUZZTIME  ?= 10s
PKGS      := ./...

.PHONY: all deps deps-build build run server test vet fmt-check unit fuzz e2e bench package clean
.PHONY: windows windows-smoke package-windows darwin-check darwin

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

# Windows x86-64 from Debian (docs/platforms.md): mingw-w64 + static C
# libraries from Debian's source packages (cached in build/windows), then a
# smoke run under Wine.
windows:
	scripts/windows/build.sh

windows-smoke:
	scripts/windows/smoke.sh

package-windows: windows
	scripts/windows/package.sh

# macOS: the pure-Go packages compile here; the app needs cgo with Apple's
# SDK and is built on a Mac (`make build` there).
darwin-check:
	scripts/darwin/check.sh

darwin:
	@if [ "$$(uname -s)" != Darwin ]; then \
	  echo "make darwin: the macOS app needs cgo against Apple's SDK (Cocoa and OpenGL for Fyne, Core Audio for PortAudio, libopus): build it on a Mac with the Xcode command line tools, 'brew install portaudio opus opusfile pkg-config', then 'make build'. Here, 'make darwin-check' compiles the pure-Go parts. See docs/platforms.md." >&2; exit 1; fi
	$(GO) build -o $(BIN)/assent .

clean:
	rm -rf $(BIN) *.tar.xz
