# fibd build. `make` builds the C fast path with meson, then the Go
# binaries; `make test`, `make bench` and `make lab` do what they say and
# install the Debian packages they need first (as root; see `make deps`).

BUILD    ?= build
BIN      ?= bin
GO       ?= $(shell command -v go || echo /usr/local/go/bin/go)
MESONOPT ?=
FUZZTIME ?= 30s

FP_LIB   := $(BUILD)/cgo/dp/libfibdp.a
GO_SRC   := $(shell find cgo cmd conf kni lpm ports router test -name '*.go' 2>/dev/null)
C_SRC    := $(wildcard cgo/dp/*.c cgo/dp/*.h cgo/dp/test/*.c) meson.build cgo/dp/meson.build meson_options.txt

.PHONY: all deps test test-c test-go fuzz bench lab clean install-deps-check

all: $(BIN)/fibd

# Debian packages: DPDK 22.11, pcap tools for labs and tests.
deps:
	@./.ci/deps.sh

$(BUILD)/build.ninja: meson.build meson_options.txt cgo/dp/meson.build
	meson setup $(BUILD) $(MESONOPT) --reconfigure 2>/dev/null || meson setup $(BUILD) $(MESONOPT)

$(FP_LIB): $(BUILD)/build.ninja $(C_SRC)
	ninja -C $(BUILD)

$(BIN)/fibd: $(FP_LIB) $(GO_SRC) go.mod go.sum
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/fibd ./cmd/fibd

# Every test: C unit tests, Go tests (root-only ones skip without root),
# and the packet-path fuzz target for a bounded time.
test: deps all test-c test-go fuzz

test-c: $(FP_LIB)
	meson test -C $(BUILD) --print-errorlogs

test-go: $(BIN)/fibd
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

fuzz: $(FP_LIB)
	$(GO) test -run '^$$' -fuzz '^FuzzPacketPath$$' -fuzztime $(FUZZTIME) -parallel 1 ./test/fastpath/

# Benchmarks: FIB build/memory/lookup on a synthetic full view, and Mpps of
# one worker next to DPDK's l3fwd (built here from the dpdk-doc sources).
bench: deps all
	$(GO) run ./test/bench -bin $(BIN)/fibd -build $(BUILD)/bench

# The lab: forwards test/lab/input.pcap through the static routes of
# test/lab into one capture per port, then prints the counters.
lab: deps all
	./test/lab/run.sh $(BIN)/fibd

clean:
	rm -rf $(BUILD) $(BIN)
