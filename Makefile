# teamgw — make targets. `make demo` and `make test` work on a fresh
# Debian 12 machine as root with nothing preinstalled but Go.

GO        ?= go
BIN       := bin
HUGEPAGES ?= 1024
PKGS      := libdpdk-dev libsystemd-dev dpdk-dev pkg-config iproute2 iputils-ping procps util-linux ethtool openvswitch-switch tshark iperf3
GOTEST    ?= $(GO) test
# DPDK is linked from its static archives (the default; DPDK_LINK=shared
# links the .so files): a PMD in a shared object pays a TLS lookup on each
# mbuf free and a PLT call for each DPDK function (dataplane/dpdk/dpdk.go).
DPDK_LINK ?= static
ifeq ($(DPDK_LINK),static)
export PKG_CONFIG        := $(CURDIR)/dataplane/dpdk/pkg-config-static
export CGO_LDFLAGS_ALLOW := -Wl,--(no-)?whole-archive|-l:.*
export GOFLAGS           := $(strip $(GOFLAGS) -tags=dpdkstatic)
endif
FUZZTIME  ?= 30s
# Microbenchmarks: packages, time per benchmark and repetitions (benchstat
# wants several runs of each).
MICROPKGS  := ./dataplane ./dataplane/classify ./dataplane/frame ./dataplane/vnet ./lacp ./slb
MICROTIME  ?= 200ms
MICROCOUNT ?= 5

.PHONY: all deps hugepages build test lint fuzz demo bench bench-suite bench-tx bench-rx bench-dist bench-micro bench-kernel plots soak pgo clean

all: build

## deps: install the Debian packages teamgw needs and reserve hugepages.
deps:
	@missing=""; for p in $(PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@$(MAKE) --no-print-directory hugepages

## hugepages: make sure $(HUGEPAGES) 2 MiB hugepages are reserved.
hugepages:
	@cur=$$(cat /proc/sys/vm/nr_hugepages); \
	if [ "$$cur" -lt "$(HUGEPAGES)" ]; then \
		echo $(HUGEPAGES) > /proc/sys/vm/nr_hugepages; \
		echo "hugepages: $$(cat /proc/sys/vm/nr_hugepages) x 2 MiB reserved"; \
	fi

## build: build teamgw, teamctl and the lab tools into bin/.
build: deps
	$(GO) build -o $(BIN)/ ./cmd/... ./perf/cmd/...

## test: unit, DPDK in-process and netns lab tests (root). Every fuzz target's
## seed corpus and its committed regression seeds (testdata/fuzz) run as a smoke.
## One package at a time (-p 1): the lab tests measure loss and timeliness
## under their own load, not under another package's traffic on two cores.
test: build
	$(GOTEST) -count=1 -p 1 -timeout 14m ./...

## lint: gofmt and go vet.
lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## fuzz: run every fuzz target (go test -list '^Fuzz' in each package that has
## one) for $(FUZZTIME); crashers land in the package's testdata/fuzz.
fuzz:
	@for pkg in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

## demo: bring up the netns lab and a live team with traffic, failover and the operator view.
demo: build
	$(BIN)/teamlab demo -teamgw $(BIN)/teamgw -teamctl $(BIN)/teamctl

## soak: a long run (3 minutes of disturbances under traffic) that checks for leaks and lost frames.
soak: build
	$(BIN)/teamlab soak -teamgw $(BIN)/teamgw -teamctl $(BIN)/teamctl -duration 3m -out perf/results

## bench-kernel: iperf3 through the team's TAP against the no-team kernel path (netns lab).
bench-kernel: build
	$(BIN)/teamlab kernelpath -teamgw $(BIN)/teamgw -out perf/results

## bench-tx: teamgw's outbound path against DPDK net_bonding (l34, rr) and dpdk-testpmd
## (txonly on net_bonding) over net_null members, and over 1 and 2 worker lcores.
bench-tx: build
	$(BIN)/txbench -members 2,4,8 -workers 1,2 -rounds 7 -steps 10000 -out perf/results | tee perf/results/txbench.txt

## bench-rx: teamgw's receive path against dpdk-testpmd io forwarding on net_null ports.
bench-rx: build
	$(BIN)/rxbench -members 1,2,4 -rounds 7 -steps 10000 -out perf/results | tee perf/results/rxbench.txt

## bench-dist: how evenly flows spread over members, static and rebalanced, over time (simulation).
bench-dist: build
	$(BIN)/distbench -out perf/results

## bench-micro: Go microbenchmarks (Mpps, allocations) in benchstat's format: perf/results/micro.txt.
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(MICROTIME) -count $(MICROCOUNT) $(MICROPKGS) | tee perf/results/micro.txt

## plots: PNG figures from the newest JSON report of each kind in perf/results.
plots:
	$(GO) run ./perf/cmd/plots -dir perf/results

## pgo: refresh the profile the Go compiler optimises the data path with
## (default.pgo of teamgw, txbench and rxbench), from the outbound benchmark.
pgo: build
	$(BIN)/txbench -sections outbound -members 2 -rounds 3 -steps 60000 -only trunk -out "" -cpuprofile cmd/teamgw/default.pgo
	cp cmd/teamgw/default.pgo perf/cmd/txbench/default.pgo
	cp cmd/teamgw/default.pgo perf/cmd/rxbench/default.pgo
# (A profile merged from the outbound and the receive benchmark, rxbench
# -cpuprofile, took 20 instructions a packet off the receive path but put
# 20 on the outbound one: the outbound profile stays.)

## bench: the whole suite, unattended (under 15 minutes on the 2-core VM): JSON, Markdown
## and PNG files in perf/results/; the run's duration in perf/results/bench-duration.txt.
bench: build
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory bench-suite || exit 1; \
	echo "make bench: $$(( $$(date +%s) - start )) s" | tee perf/results/bench-duration.txt

bench-suite: bench-tx bench-rx bench-dist bench-micro bench-kernel
	$(GO) test -run '^$$' -bench BurstLoopRatio -benchtime 10x -count 5 ./dataplane/dpdk | tee perf/results/burstloop.txt
	$(BIN)/teamlab failover -teamgw $(BIN)/teamgw -cuts 20 -out perf/results
	$(BIN)/teamlab lacp -teamgw $(BIN)/teamgw -runs 5 -out perf/results
	$(BIN)/plots -dir perf/results

clean:
	rm -rf $(BIN)
