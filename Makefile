# teamgw — make targets. `make demo` and `make test` work on a fresh
# Debian 12 machine as root with nothing preinstalled but Go.

GO        ?= go
BIN       := bin
HUGEPAGES ?= 1024
PKGS      := libdpdk-dev dpdk-dev pkg-config iproute2 iputils-ping procps util-linux ethtool openvswitch-switch tshark iperf3
GOTEST    ?= $(GO) test
FUZZTIME  ?= 30s

.PHONY: all deps hugepages build test lint fuzz demo bench bench-tx bench-kernel soak pgo clean

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

## bench-tx: teamgw's outbound path against DPDK net_bonding (l34, rr) over net_null members.
bench-tx: build
	$(BIN)/txbench -members 2,4,8 -rounds 5 -steps 20000 -out perf/results | tee perf/results/txbench.txt

## pgo: refresh the profile the Go compiler optimises the data path with
## (default.pgo of teamgw and txbench), from the outbound benchmark.
pgo: build
	$(BIN)/txbench -members 2 -rounds 3 -steps 60000 -only trunk -out "" -cpuprofile cmd/teamgw/default.pgo
	cp cmd/teamgw/default.pgo perf/cmd/txbench/default.pgo

## bench: burst-loop, outbound and failover benchmarks; results in perf/results/.
bench: build bench-tx bench-kernel
	$(GO) test -run '^$$' -bench BurstLoopRatio -benchtime 10x -count 5 ./dataplane/dpdk | tee perf/results/burstloop.txt
	$(BIN)/teamlab failover -teamgw $(BIN)/teamgw -cuts 20 -out perf/results
	$(BIN)/teamlab lacp -teamgw $(BIN)/teamgw -runs 5 -out perf/results

clean:
	rm -rf $(BIN)
